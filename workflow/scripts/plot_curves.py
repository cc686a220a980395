"""Snakemake adapter: draw test loss, accuracy and inference time against K."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

from pathlib import Path

import pandas as pd

from prunelab.fileio import read_json
from prunelab.logs import log_to_file
from prunelab.plots import plot_metric, plot_sizes, plot_times, timing_rows

logger = log_to_file(snakemake.log[0])
params = snakemake.params

summary = pd.read_csv(snakemake.input.csv)
dense = [read_json(path) for path in snakemake.input.train_metrics]
references = {
    "test_loss": sum(d["test_loss"] for d in dense) / len(dense),
    "test_accuracy": sum(d["test_accuracy"] for d in dense) / len(dense),
}


def figure_paths(name):
    return [path for path in snakemake.output.figures
            if Path(path).name.startswith(f"{name}_vs_k.")]


untuned = timing_rows(summary)
for metric in params.metrics:
    paths = figure_paths(metric)
    if metric == "inference_ms":
        plot_times(untuned, paths, dpi=params.dpi)
    elif metric == "size_bytes":
        plot_sizes(untuned, paths, dpi=params.dpi)
    else:
        plot_metric(summary, metric, references[metric], paths, dpi=params.dpi)
    logger.info("wrote %s", ", ".join(paths))
