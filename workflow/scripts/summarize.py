"""Snakemake adapter: gather the per-(method, K) results into results/summary.csv."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

import pandas as pd

from prunelab.aggregate import over_seeds
from prunelab.fileio import atomic_path, read_json
from prunelab.logs import log_to_file
from prunelab.report_pages import summary_html

logger = log_to_file(snakemake.log[0])

COLUMNS = [
    "seed", "method", "scope", "finetune_epochs", "finetune_learning_rate", "k",
    "achieved_sparsity",
    "nonzero_params", "total_params", "flops_dense_per_image",
    "flops_nonzero_per_image", "test_loss", "test_accuracy",
    "inference_ms", "inference_ms_q1", "inference_ms_q3", "inference_images", "form",
    "ideal_time_ratio",
    "form_max_abs_difference", "form_same_classes",
    "compact_flops_per_image", "compact_params", "sparse_flops_per_image", "sparse_params",
]
for form in ("masked", "compact", "sparse"):
    for workload in ("batch", "single"):
        COLUMNS += [f"{form}_{workload}_ms", f"{form}_{workload}_ms_q1",
                    f"{form}_{workload}_ms_q3"]
for form in ("masked", "compact", "sparse"):
    COLUMNS += [f"{form}_bytes", f"{form}_gzip_bytes"]
COLUMNS += ["threads"]

rows = [read_json(path) for path in snakemake.input.results]
# A column that no job wrote, such as compact_* in a weight-only sweep, stays empty.
summary = pd.DataFrame(rows).reindex(columns=COLUMNS).sort_values(["seed", "method", "scope", "finetune_epochs", "k"])
with atomic_path(snakemake.output.csv) as temporary:
    summary.to_csv(temporary, index=False)
with atomic_path(snakemake.output.means) as temporary:
    over_seeds(summary).to_csv(temporary, index=False)
with atomic_path(snakemake.output.html) as temporary:
    temporary.write_text(summary_html(summary), encoding="utf-8")
logger.info("wrote %s and %s with %d rows from %d result files", snakemake.output.csv,
            snakemake.output.html, len(summary), len(rows))
