"""Curves of several seeds: mean lines with a band of one standard deviation."""

import matplotlib
import pandas as pd
import pytest

from prunelab import aggregate, plots


def fake_summary():
    rows = []
    for seed, shift in ((0, 0.00), (1, 0.02), (2, 0.04)):
        for method in ("weight", "unit"):
            for k in (0.0, 0.5, 0.9):
                rows.append({"seed": seed, "method": method, "scope": "layer",
                             "finetune_epochs": 0, "k": k,
                             "test_accuracy": 0.9 - k / 2 + shift, "test_loss": 0.1 + k + shift})
    return pd.DataFrame(rows)


@pytest.fixture
def drawn(monkeypatch, tmp_path):
    """Draw the accuracy curves of the fake summary and keep the figure."""
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, paths, dpi: figures.append(figure))
    plots.plot_metric(fake_summary(), "test_accuracy", 0.92, [tmp_path / "a.png"])
    return figures[0].axes[0]


def test_band_is_one_standard_deviation(drawn):
    bands = [child for child in drawn.collections
             if isinstance(child, matplotlib.collections.PolyCollection)]
    assert len(bands) == 2
    # Seeds shift accuracy by 0, 0.02 and 0.04: mean + 0.02, sample std 0.02.
    vertices = bands[0].get_paths()[0].vertices
    at_half = sorted(y for x, y in vertices if abs(x - 0.5) < 1e-12)
    assert at_half[0] == pytest.approx(0.65 + 0.02 - 0.02)
    assert at_half[-1] == pytest.approx(0.65 + 0.02 + 0.02)


def test_line_is_mean_over_seeds(drawn):
    weight = next(line for line in drawn.get_lines() if line.get_label() == "weight pruning")
    assert list(weight.get_xdata()) == [0.0, 0.5, 0.9]
    assert list(weight.get_ydata()) == pytest.approx([0.92, 0.67, 0.47])


def test_title_names_statistic(drawn):
    assert "mean over 3 seeds, band: ± one standard deviation" in drawn.get_title()


def test_one_seed_has_no_band(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, paths, dpi: figures.append(figure))
    single = fake_summary().query("seed == 0")
    plots.plot_metric(single, "test_accuracy", 0.92, [tmp_path / "a.png"])
    axes = figures[0].axes[0]
    assert not [child for child in axes.collections
                if isinstance(child, matplotlib.collections.PolyCollection)]
    assert "seeds" not in axes.get_title()


def test_aggregate_mean_and_std():
    table = aggregate.over_seeds(fake_summary())
    row = table.set_index(["method", "k"]).loc[("weight", 0.5)]
    assert row["seeds"] == 3
    assert row["test_accuracy_mean"] == pytest.approx(0.67)
    assert row["test_accuracy_std"] == pytest.approx(0.02)
    assert len(table) == 6


def timing_summary():
    rows = []
    for seed, shift in ((0, 0.0), (1, 2.0), (2, 4.0)):
        for method, form in (("weight", "sparse"), ("unit", "compact")):
            for k in (0.0, 0.5, 0.9):
                row = {"seed": seed, "method": method, "k": k, "ideal_time_ratio": 1 - k,
                       "masked_bytes": 1000.0, "masked_gzip_bytes": 900 - 500 * k + shift,
                       f"{form}_bytes": 1000 * (1 - k) + 10 * shift}
                for name in ("masked", form):
                    for workload in ("batch", "single"):
                        median = 10.0 + shift
                        row[f"{name}_{workload}_ms"] = median
                        row[f"{name}_{workload}_ms_q1"] = median - 1
                        row[f"{name}_{workload}_ms_q3"] = median + 1
                rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("draw", ["plot_times", "plot_sizes"])
def test_time_and_size_figures_have_bands(monkeypatch, tmp_path, draw):
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, paths, dpi: figures.append(figure))
    getattr(plots, draw)(timing_summary(), [tmp_path / "figure.png"])
    figure = figures[0]
    for axes in figure.axes:
        bands = [child for child in axes.collections
                 if isinstance(child, matplotlib.collections.PolyCollection)]
        assert len(bands) >= 2
    titles = " ".join([figure._suptitle.get_text() if figure._suptitle else ""]
                      + [axes.get_title() for axes in figure.axes])
    assert "mean over 3 seeds, band: ± one standard deviation" in titles


def sweep_variants():
    rows = []
    for scope in ("layer", "global"):
        for epochs in (0, 2):
            for k in (0.5, 0.9):
                rows.append({"seed": 0, "method": "weight", "scope": scope,
                             "finetune_epochs": epochs, "k": k, "test_accuracy": 0.9})
    rows.append({"seed": 0, "method": "unit", "scope": "layer", "finetune_epochs": 0,
                 "k": 0.5, "test_accuracy": 0.8})
    return pd.DataFrame(rows)


def test_every_sweep_has_own_line_style(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, paths, dpi: figures.append(figure))
    plots.plot_metric(sweep_variants(), "test_accuracy", None, [tmp_path / "a.png"])
    weight = [line for line in figures[0].axes[0].get_lines()
              if line.get_label().startswith("weight")]
    looks = {(line.get_linestyle(), line.get_marker()) for line in weight}
    assert len(weight) == 4
    assert len(looks) == 4


def test_timing_rows_prefer_layer_scope():
    rows = plots.timing_rows(sweep_variants())
    assert set(zip(rows["method"], rows["scope"], rows["finetune_epochs"])) == {
        ("weight", "layer", 0), ("unit", "layer", 0)}


def test_timing_rows_global_only():
    summary = sweep_variants().query("scope == 'global' or method == 'unit'")
    rows = plots.timing_rows(summary)
    assert set(zip(rows["method"], rows["scope"])) == {("weight", "global"), ("unit", "layer")}


def test_timing_rows_keep_tfmot():
    # tfmot jobs always fine-tune, so its sweep is kept beside weight's ft0.
    summary = pd.concat([sweep_variants(), pd.DataFrame([
        {"seed": 0, "method": "tfmot", "scope": "layer", "finetune_epochs": 2,
         "k": k, "test_accuracy": 0.9} for k in (0.5, 0.9)])])
    rows = plots.timing_rows(summary)
    assert set(zip(rows["method"], rows["finetune_epochs"])) == {
        ("weight", 0), ("unit", 0), ("tfmot", 2)}


def test_tfmot_line_labelled(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, paths, dpi: figures.append(figure))
    summary = pd.concat([sweep_variants(), pd.DataFrame([
        {"seed": 0, "method": "tfmot", "scope": "layer", "finetune_epochs": 2,
         "k": k, "test_accuracy": 0.95} for k in (0.5, 0.9)])])
    plots.plot_metric(summary, "test_accuracy", None, [tmp_path / "a.png"])
    labels = [line.get_label() for line in figures[0].axes[0].get_lines()]
    assert "tfmot prune_low_magnitude, layer scope, 2 fine-tuning epochs" in labels


def test_loss_band_stops_at_zero(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "save_figure", lambda figure, paths, dpi: figures.append(figure))
    summary = fake_summary()
    # Losses of 0.0, 0.1 and 0.5 at every point: mean 0.2, std 0.26.
    summary["test_loss"] = summary["seed"].map({0: 0.0, 1: 0.1, 2: 0.5})
    plots.plot_metric(summary, "test_loss", None, [tmp_path / "loss.png"])
    bands = [child for child in figures[0].axes[0].collections
             if isinstance(child, matplotlib.collections.PolyCollection)]
    lowest = min(band.get_paths()[0].vertices[:, 1].min() for band in bands)
    assert lowest == 0.0
