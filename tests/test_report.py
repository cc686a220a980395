"""The HTML report of a finished run, rendered in headless Chromium.

The browser comes from Debian's chromium and chromium-driver packages and is
driven through Selenium. Without them the tests are skipped, unless
PRUNELAB_REQUIRE_BROWSER=1 (set by .ci/run), where they fail.
"""

import importlib.util
import io
import os
import shutil
import time

import pytest

from workflow_helpers import snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
MISSING = [name for name, present in [
    ("chromium", os.path.exists(CHROMIUM)),
    ("chromedriver", os.path.exists(CHROMEDRIVER)),
    ("selenium", importlib.util.find_spec("selenium") is not None),
] if not present]
if MISSING and os.environ.get("PRUNELAB_REQUIRE_BROWSER") != "1":
    pytest.skip(f"no {', '.join(MISSING)}: apt-get install chromium chromium-driver, "
                f"pip install -e '.[test]'", allow_module_level=True)

# Label in the report, and the file of the figure.
CURVES = {
    "inference time": "inference_ms_vs_k.png",
    "size on disk": "size_bytes_vs_k.png",
    "test accuracy": "test_accuracy_vs_k.png",
    "test loss": "test_loss_vs_k.png",
}


@pytest.fixture(scope="module")
def report_path(tmp_path_factory, mnist_npz):
    directory = tmp_path_factory.mktemp("report")
    write_config(directory, tiny_config(mnist_npz))
    snakemake(directory, "--cores", "2")
    snakemake(directory, "--report", "report.html")
    return directory / "report.html"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000",
                     # No name resolves, so the page can only show what it contains.
                     "--host-resolver-rules=MAP * ~NOTFOUND"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(condition, timeout_s=10):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "the report did not show it in time"
        time.sleep(0.1)


def click(element):
    """Click `element`, retrying while the menu's transition still covers it."""
    from selenium.common.exceptions import ElementClickInterceptedException

    def clicked():
        try:
            element.click()
        except ElementClickInterceptedException:
            return False
        return True

    wait_for(clicked)


def open_result(browser, report_path, category, label):
    """Load the report, open `category` and press the view button of `label`."""
    from selenium.webdriver.common.by import By

    from selenium.common.exceptions import (
        ElementClickInterceptedException, StaleElementReferenceException,
    )

    browser.get(report_path.as_uri())
    last_click = [0.0]

    def rows():
        """Return the row of `label`, clicking the category again every 2 s until it shows."""
        found = browser.find_elements(
            By.XPATH, f"//td[normalize-space()='{label}']/ancestor::tr[1]")
        if found:
            return found
        # On a loaded machine a click during the page's first rendering can
        # be lost, so the category is clicked again rather than waited on.
        spans = browser.find_elements(By.XPATH, f"//span[text()='{category}']")
        if spans and time.monotonic() - last_click[0] > 2:
            last_click[0] = time.monotonic()
            try:
                spans[0].click()
            except (ElementClickInterceptedException, StaleElementReferenceException):
                pass
        return None

    row = wait_for(rows, timeout_s=30)[0]
    click(row.find_element(By.CSS_SELECTOR, "a[iconname='eye']"))


def shown_image(browser):
    """Return the figure shown in the content area, once it is decoded."""
    from selenium.webdriver.common.by import By

    def decoded():
        for image in browser.find_elements(By.CSS_SELECTOR, "img[src^='data:image/png']"):
            if browser.execute_script("return arguments[0].naturalWidth", image) > 100:
                return image
        return None

    # A large figure can take a while to decode on a loaded machine.
    return wait_for(decoded, timeout_s=30)


def test_report_is_self_contained(report_path):
    text = report_path.read_text()
    assert "<script src=\"http" not in text
    assert "<link rel=\"stylesheet\" href=\"http" not in text


@pytest.mark.parametrize("label", CURVES)
def test_curve_visible(browser, report_path, label):
    open_result(browser, report_path, "Curves", label)
    image = shown_image(browser)
    assert image.is_displayed()
    assert image.size["width"] > 200
    assert f"filename={CURVES[label]};" in image.get_attribute("src")[:200]


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_matrix_figure_visible(browser, report_path, method):
    open_result(browser, report_path, "Pruned matrices", method)
    image = shown_image(browser)
    assert image.is_displayed()
    assert f"matrices_{method}.png" in image.get_attribute("src")[:200]


def test_summary_table_visible(browser, report_path):
    from selenium.webdriver.common.by import By

    open_result(browser, report_path, "Summary", "main columns")
    frame = wait_for(lambda: browser.find_elements(By.TAG_NAME, "iframe"))[0]
    assert frame.is_displayed()
    browser.switch_to.frame(frame)
    try:
        table = wait_for(lambda: browser.find_elements(By.ID, "summary"))[0]
        assert table.is_displayed()
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert len(rows) == 6
        assert "test accuracy" in table.find_element(By.TAG_NAME, "thead").text
    finally:
        browser.switch_to.default_content()


def test_config_visible(browser, report_path):
    from selenium.webdriver.common.by import By

    open_result(browser, report_path, "Config", "settings")
    frame = wait_for(lambda: browser.find_elements(By.TAG_NAME, "iframe"))[0]
    browser.switch_to.frame(frame)
    try:
        text = wait_for(lambda: browser.find_elements(By.ID, "config"))[0].text
        assert "k_values:" in text
        assert "hidden_units:" in text
    finally:
        browser.switch_to.default_content()


def test_caption_shown(browser, report_path):
    from selenium.webdriver.common.by import By

    browser.get(report_path.as_uri())
    click(wait_for(lambda: browser.find_elements(By.XPATH, "//span[text()='Curves']"))[0])
    row = wait_for(lambda: browser.find_elements(
        By.XPATH, "//td[normalize-space()='inference time']/ancestor::tr[1]"))[0]
    click(row.find_element(By.CSS_SELECTOR, "a[iconname='information-circle']"))
    wait_for(lambda: "masked pruning saves no time" in browser.find_element(By.TAG_NAME, "body").text)


def test_runtime_statistics_drawn(browser, report_path):
    from selenium.webdriver.common.by import By

    browser.get(report_path.as_uri())
    click(wait_for(lambda: browser.find_elements(By.XPATH, "//span[text()='Statistics']"))[0])
    # The statistics page draws its runtime charts on canvases; count the
    # pixels that are not white.
    canvases = wait_for(lambda: browser.find_elements(By.TAG_NAME, "canvas"))
    drawn = [browser.execute_script(
        "const c = arguments[0];"
        "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < d.length; i += 4) {"
        "  if (d[i + 3] > 0 && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++; }"
        "return n;", canvas) for canvas in canvases]
    assert len(drawn) >= 1
    assert max(drawn) > 500


def test_screenshot_shows_figure(browser, report_path, tmp_path):
    from PIL import Image

    open_result(browser, report_path, "Curves", "test accuracy")
    shown_image(browser)
    screenshot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    screenshot.save(tmp_path / "test_accuracy.png")
    # The content area right of the menu: a drawn figure has its blue and
    # orange lines, so many distinct colours, where an empty page has few.
    width, height = screenshot.size
    content = screenshot.crop((width // 3, 0, width, height))
    colours = content.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50
    blue_pixels = sum(count for count, (red, _, blue) in colours if blue > 150 and red < 80)
    assert blue_pixels > 100
