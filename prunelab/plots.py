"""Figures of a pruning sweep: metric curves against K and pruned matrices."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from prunelab.fileio import atomic_path  # noqa: E402

METRIC_LABELS = {
    "test_loss": "Test loss (cross-entropy, nats)",
    "test_accuracy": "Test accuracy (fraction correct)",
}
METRIC_TITLES = {
    "test_loss": "Test loss against sparsity K",
    "test_accuracy": "Test accuracy against sparsity K",
}
METHOD_STYLES = {
    "weight": {"color": "tab:blue", "marker": "o", "label": "weight pruning"},
    "unit": {"color": "tab:orange", "marker": "s", "label": "unit pruning"},
    "tfmot": {"color": "tab:green", "marker": "d", "label": "tfmot prune_low_magnitude"},
}


# Line style by (global scope, fine-tuned).
LINE_STYLES = {(False, False): "-", (False, True): "--", (True, False): "-.", (True, True): ":"}


def save_figure(figure, paths, dpi):
    """Save a figure to each path, atomically, and close it."""
    for path in paths:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=dpi, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])
    plt.close(figure)


def plot_metric(summary, metric, reference, paths, dpi=150):
    """Draw one metric against K, one line per method.

    With several scopes or fine-tuning epoch counts in `summary`, each
    combination gets its own line: solid for layer scope without
    fine-tuning, dashed when fine-tuned, dash-dotted for global scope, and
    dotted for global scope fine-tuned. With several seeds each line is the mean over seeds,
    with a band of ± one sample standard deviation, and the title says so.

    Args:
        summary: DataFrame with columns method, k and `metric`, and
            optionally scope and finetune_epochs.
        metric: a key of METRIC_LABELS.
        reference: the unpruned model's value, drawn as a dashed line, or None.
        paths: output files; the format follows each suffix.
    """
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    # Scope and fine-tuning get their own lines only when the sweep has several.
    varying = [column for column in ("scope", "finetune_epochs")
               if column in summary and summary[column].nunique() > 1]
    seeds = summary["seed"].nunique() if "seed" in summary else 1
    for key, rows in summary.groupby(["method", *varying], sort=False):
        key = key if isinstance(key, tuple) else (key,)
        points = rows.groupby("k")[metric].agg(["mean", "std"]).sort_index()
        style = dict(METHOD_STYLES.get(key[0], {"label": key[0]}))
        is_global = is_tuned = False
        for column, value in zip(varying, key[1:]):
            if column == "scope":
                style["label"] += f", {value} scope"
                is_global = value == "global"
            else:
                epochs = int(value)
                style["label"] += f", {epochs} fine-tuning epoch{'s' if epochs != 1 else ''}"
                is_tuned = epochs > 0
        style["linestyle"] = LINE_STYLES[(is_global, is_tuned)]
        if is_global:
            style["marker"] = {"o": "v", "s": "v"}.get(style.get("marker"), "v")
        if is_tuned:
            style["marker"] = {"o": "P", "s": "X", "v": "*", "d": "d"}.get(style.get("marker"), "x")
        line, = axes.plot(points.index, points["mean"], **style)
        if seeds > 1:
            # Loss cannot go below 0 nor accuracy above 1, so the band stops there.
            lower = (points["mean"] - points["std"]).clip(lower=0)
            upper = points["mean"] + points["std"]
            if metric == "test_accuracy":
                upper = upper.clip(upper=1)
            axes.fill_between(points.index, lower, upper, color=line.get_color(),
                              alpha=0.2, linewidth=0)
    if reference is not None:
        axes.axhline(reference, color="grey", linestyle="--", linewidth=1,
                     label=f"unpruned model ({reference:.4g})")
    if metric == "test_accuracy":
        axes.set_ylim(0, 1.02)
    axes.set_xlim(-0.02, 1.02)
    axes.set_xlabel("Sparsity K (fraction of weights or units pruned)")
    axes.set_ylabel(METRIC_LABELS[metric])
    title = METRIC_TITLES[metric]
    if seeds > 1:
        title += f"\nmean over {seeds} seeds, band: ± one standard deviation"
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend()
    save_figure(figure, paths, dpi)


FORM_STYLES = {
    ("weight", "masked"): {"color": "tab:blue", "marker": "o", "linestyle": "-",
                           "label": "weight pruning, masked"},
    ("weight", "sparse"): {"color": "tab:blue", "marker": "^", "linestyle": ":",
                           "label": "weight pruning, sparse (CSR)"},
    ("unit", "masked"): {"color": "tab:orange", "marker": "s", "linestyle": "-",
                         "label": "unit pruning, masked"},
    ("unit", "compact"): {"color": "tab:orange", "marker": "D", "linestyle": ":",
                          "label": "unit pruning, compact"},
    ("tfmot", "masked"): {"color": "tab:green", "marker": "d", "linestyle": "-",
                          "label": "tfmot, masked"},
    ("tfmot", "sparse"): {"color": "tab:green", "marker": "^", "linestyle": ":",
                          "label": "tfmot, sparse (CSR)"},
}
WORKLOAD_TITLES = {
    "batch": "{images} test images in one batch (throughput)",
    "single": "one image per call (latency)",
}


def _plain_log_ticks(axes):
    """Label a log-scale y axis with plain numbers (0.5, 20) instead of powers of ten.

    When the data spans less than a decade, the minor ticks are labelled too,
    since the axis would otherwise show one labelled tick or none.
    """
    plain = ticker.FuncFormatter(lambda value, _: f"{value:g}")
    axes.yaxis.set_major_formatter(plain)
    low, high = axes.get_ylim()
    axes.yaxis.set_minor_formatter(plain if high < 10 * low else ticker.NullFormatter())


def timing_rows(summary):
    """Return the rows of `summary` that the time and size figures draw.

    Fine-tuning and the scope change which weights are kept, not how many,
    so one sweep per method is enough: the one with the fewest fine-tuning
    epochs, in layer scope where the method has it.
    """
    chosen = []
    for _, method_rows in summary.groupby("method", sort=False):
        fewest = method_rows["finetune_epochs"].min()
        method_rows = method_rows[method_rows["finetune_epochs"] == fewest]
        scopes = set(method_rows["scope"])
        scope = "layer" if "layer" in scopes else sorted(scopes)[0]
        chosen.append(method_rows[method_rows["scope"] == scope])
    return pd.concat(chosen)


def plot_times(summary, paths, dpi=150):
    """Draw inference time against K for every form, one panel per workload.

    Times are medians, with the interquartile range as error bars. With
    several seeds, each point is the mean over seeds, and a band shows ± one
    sample standard deviation of the medians. The
    unpruned model (the K = 0 masked runs) is a grey line, and each method's
    FLOP-proportional ideal (that time scaled by the fast form's FLOPs over
    the dense FLOPs) is a dashed line.
    """
    figure, axes_pair = plt.subplots(1, 2, figsize=(12.8, 4.8), layout="constrained")
    for axes, workload in zip(axes_pair, ("batch", "single")):
        dense_rows = summary[summary["k"] == 0]
        dense_ms = dense_rows[f"masked_{workload}_ms"].mean() if len(dense_rows) else None
        for (method, form), style in FORM_STYLES.items():
            rows = summary[summary["method"] == method]
            column = f"{form}_{workload}_ms"
            if rows.empty or column not in rows or rows[column].isna().all():
                continue
            points = rows.groupby("k")[[column, f"{column}_q1", f"{column}_q3",
                                        "ideal_time_ratio"]].mean().sort_index()
            errors = np.vstack([points[column] - points[f"{column}_q1"],
                                points[f"{column}_q3"] - points[column]])
            axes.errorbar(points.index, points[column], yerr=errors, capsize=3, **style)
            _seed_band(axes, rows, column, style["color"])
            if form != "masked" and dense_ms is not None:
                axes.plot(points.index, dense_ms * points["ideal_time_ratio"],
                          color=style["color"], linestyle="--", linewidth=1,
                          label=f"{method} pruning, FLOP-proportional ideal")
        if dense_ms is not None:
            axes.axhline(dense_ms, color="grey", linewidth=1,
                         label=f"unpruned model ({dense_ms:.3g} ms)")
        axes.set_yscale("log")
        _plain_log_ticks(axes)
        axes.set_xlim(-0.02, 1.02)
        axes.set_xlabel("Sparsity K (fraction of weights or units pruned)")
        axes.set_ylabel("Inference time (ms, log scale)")
        axes.set_title(WORKLOAD_TITLES[workload].format(images=_test_image_count(summary)))
        axes.grid(True, which="both", alpha=0.3)
    axes_pair[0].legend(fontsize=8)
    figure.suptitle("Inference time against sparsity K: median of timed runs, IQR bars"
                    + _seeds_note(summary, "; "))
    save_figure(figure, paths, dpi)


def _test_image_count(summary):
    """Return the number of test images the batch timings ran on, as text."""
    if "inference_images" not in summary or summary["inference_images"].isna().all():
        return "all"
    return f"{int(summary['inference_images'].max()):,}"


def _seed_count(summary):
    return summary["seed"].nunique() if "seed" in summary else 1


def _seeds_note(summary, separator):
    """Return the title text that names the seed statistic, or "" for one seed."""
    seeds = _seed_count(summary)
    if seeds < 2:
        return ""
    return f"{separator}mean over {seeds} seeds, band: ± one standard deviation"


def _seed_band(axes, rows, column, color):
    """Shade mean ± one sample standard deviation over seeds of `column` against K."""
    if _seed_count(rows) < 2:
        return
    points = rows.groupby("k")[column].agg(["mean", "std"]).sort_index()
    axes.fill_between(points.index, points["mean"] - points["std"],
                      points["mean"] + points["std"], color=color, alpha=0.2, linewidth=0)


def plot_sizes(summary, paths, dpi=150):
    """Draw the bytes on disk of each form against K, on a log scale.

    With several seeds each line is the mean over seeds, with a band of ±
    one sample standard deviation.
    """
    figure, axes = plt.subplots(figsize=(6.4, 4.6), layout="constrained")
    series = [
        ("weight", "masked_bytes", {"color": "grey", "marker": "o",
                                    "label": "masked .keras (any method)"}),
        ("weight", "masked_gzip_bytes", {"color": "tab:blue", "marker": "o", "linestyle": "--",
                                         "label": "weight pruning, masked .keras gzipped"}),
        ("unit", "masked_gzip_bytes", {"color": "tab:orange", "marker": "s", "linestyle": "--",
                                       "label": "unit pruning, masked .keras gzipped"}),
        ("weight", "sparse_bytes", {"color": "tab:blue", "marker": "^", "linestyle": ":",
                                    "label": "weight pruning, sparse CSR .npz"}),
        ("unit", "compact_bytes", {"color": "tab:orange", "marker": "D", "linestyle": ":",
                                   "label": "unit pruning, compact .keras"}),
        ("tfmot", "masked_gzip_bytes", {"color": "tab:green", "marker": "d", "linestyle": "--",
                                        "label": "tfmot, masked .keras gzipped"}),
        ("tfmot", "sparse_bytes", {"color": "tab:green", "marker": "^", "linestyle": ":",
                                   "label": "tfmot, sparse CSR .npz"}),
    ]
    for method, column, style in series:
        rows = summary[summary["method"] == method]
        if rows.empty or column not in rows or rows[column].isna().all():
            continue
        points = rows.groupby("k")[column].mean().sort_index()
        axes.plot(points.index, points, **style)
        _seed_band(axes, rows, column, style["color"])
    axes.set_yscale("log")
    axes.set_xlim(-0.02, 1.02)
    axes.set_xlabel("Sparsity K (fraction of weights or units pruned)")
    axes.set_ylabel("Size on disk (bytes, log scale)")
    axes.set_title("Model size on disk against sparsity K" + _seeds_note(summary, "\n"))
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    save_figure(figure, paths, dpi)


def plot_matrices(kernels, method, k, paths, dpi=150):
    """Draw pruned kernels, one panel per layer, zeros in white.

    Args:
        kernels: list of (layer name, kernel array of shape (inputs, units)).
        method: the pruning method, for the title.
        k: the sparsity, for the title.
        paths: output files; the format follows each suffix.
    """
    widths = [max(kernel.shape[1], 200) for _, kernel in kernels]
    figure, axes_list = plt.subplots(
        1, len(kernels), figsize=(sum(widths) / 160 + 2.0, 5.6),
        gridspec_kw={"width_ratios": widths}, squeeze=False, layout="constrained",
    )
    colormap = matplotlib.colormaps["viridis"].copy()
    colormap.set_bad("white")
    nonzero = np.concatenate([np.abs(kernel[kernel != 0]) for _, kernel in kernels])
    # A few large weights would darken everything else: clip the colour scale.
    vmax = float(np.percentile(nonzero, 99)) if nonzero.size else 1.0
    image = None
    for position, (axes, (name, kernel)) in enumerate(zip(axes_list[0], kernels)):
        magnitude = np.ma.masked_equal(np.abs(kernel), 0)
        image = axes.imshow(magnitude, cmap=colormap, vmin=0, vmax=vmax,
                            aspect="auto", interpolation="nearest")
        zeros = kernel.size - np.count_nonzero(kernel)
        axes.set_title(f"{name} {kernel.shape[0]}×{kernel.shape[1]}\n"
                       f"sparsity {zeros / kernel.size:.3f}", fontsize=10)
        axes.set_xlabel("unit (column)")
        if position == 0:
            axes.set_ylabel("input (row)")
    figure.suptitle(f"{method.capitalize()} pruning at K = {k:g}: kernels of the pruned "
                    f"layers, zero weights in white")
    if image is not None:
        figure.colorbar(image, ax=axes_list[0].tolist(), label="|w| (scale clipped at the 99th percentile)",
                        shrink=0.85)
    save_figure(figure, paths, dpi)
