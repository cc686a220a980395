"""Figures of a pruning sweep: metric curves against K and pruned matrices."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from prunelab.fileio import atomic_path  # noqa: E402

METRIC_LABELS = {
    "test_loss": "Test loss (cross-entropy, nats)",
    "test_accuracy": "Test accuracy (fraction correct)",
    "inference_ms": "Inference time, 10,000 test images (ms)",
}
METRIC_TITLES = {
    "test_loss": "Test loss against sparsity K",
    "test_accuracy": "Test accuracy against sparsity K",
    "inference_ms": "Inference time against sparsity K (median, IQR bars)",
}
METHOD_STYLES = {
    "weight": {"color": "tab:blue", "marker": "o", "label": "weight pruning"},
    "unit": {"color": "tab:orange", "marker": "s", "label": "unit pruning"},
}


def save_figure(figure, paths, dpi):
    """Save a figure to each path, atomically, and close it."""
    for path in paths:
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=dpi, bbox_inches="tight", format=str(path).rsplit(".", 1)[-1])
    plt.close(figure)


def plot_metric(summary, metric, reference, paths, dpi=150):
    """Draw one metric against K, one line per method.

    Args:
        summary: DataFrame with columns method, k and `metric` (and
            inference_ms_q1/q3 for the time metric).
        metric: a key of METRIC_LABELS.
        reference: the unpruned model's value, drawn as a dashed line, or None.
        paths: output files; the format follows each suffix.
    """
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for method, rows in summary.groupby("method", sort=False):
        rows = rows.sort_values("k")
        style = METHOD_STYLES.get(method, {"label": method})
        if metric == "inference_ms":
            errors = np.vstack([rows[metric] - rows["inference_ms_q1"],
                                rows["inference_ms_q3"] - rows[metric]])
            axes.errorbar(rows["k"], rows[metric], yerr=errors, capsize=3, **style)
        else:
            axes.plot(rows["k"], rows[metric], **style)
    if reference is not None:
        unit = " ms" if metric == "inference_ms" else ""
        axes.axhline(reference, color="grey", linestyle="--", linewidth=1,
                     label=f"unpruned model ({reference:.4g}{unit})")
    if metric == "test_accuracy":
        axes.set_ylim(0, 1.02)
    if metric == "inference_ms":
        axes.set_ylim(bottom=0)
    axes.set_xlim(-0.02, 1.02)
    axes.set_xlabel("Sparsity K (fraction of weights or units pruned per layer)")
    axes.set_ylabel(METRIC_LABELS[metric])
    axes.set_title(METRIC_TITLES[metric])
    axes.grid(True, alpha=0.3)
    axes.legend()
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
