"""Pages of the Snakemake report: the summary as a table, and the config of the run."""

import html

import pandas as pd

# Columns shown, with their headings; results/summary.csv keeps every column.
TABLE_COLUMNS = {
    "seed": "seed",
    "method": "method",
    "scope": "scope",
    "finetune_epochs": "fine-tuning epochs",
    "k": "K",
    "achieved_sparsity": "achieved sparsity",
    "test_accuracy": "test accuracy",
    "test_loss": "test loss",
    "masked_batch_ms": "masked, all test images (ms)",
    "compact_batch_ms": "compact, all test images (ms)",
    "sparse_batch_ms": "sparse, all test images (ms)",
    "masked_bytes": "masked .keras (bytes)",
    "compact_bytes": "compact .keras (bytes)",
    "sparse_bytes": "sparse .npz (bytes)",
}
FORMATS = {
    "k": "{:.4f}", "achieved_sparsity": "{:.4f}", "test_accuracy": "{:.4f}",
    "test_loss": "{:.4f}", "masked_batch_ms": "{:.1f}", "compact_batch_ms": "{:.1f}",
    "sparse_batch_ms": "{:.1f}", "masked_bytes": "{:,.0f}", "compact_bytes": "{:,.0f}",
    "sparse_bytes": "{:,.0f}",
}
STYLE = """
body { font-family: sans-serif; margin: 1em; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; }
td.text { text-align: left; }
pre { background: #f6f6f6; padding: 1em; }
"""


def page(title, body):
    """Return a self-contained HTML page with the report's style."""
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def config_html(config_yaml, title="prunelab config"):
    """Return a page that shows the YAML text of a config."""
    return page(title, (
        "<p>The config of this run, defaults filled in; results/config.yaml holds "
        "the same text.</p>\n"
        f"<pre id=\"config\">{html.escape(config_yaml)}</pre>"
    ))


def summary_html(summary, title="prunelab summary"):
    """Return a self-contained HTML page with the main columns of `summary`.

    Columns missing from `summary` are left out, and an empty cell (a form
    that does not apply to a method) stays empty.
    """
    columns = [column for column in TABLE_COLUMNS if column in summary]
    head = "".join(f"<th>{html.escape(TABLE_COLUMNS[column])}</th>" for column in columns)
    rows = []
    for _, row in summary.iterrows():
        cells = []
        for column in columns:
            value = row[column]
            if pd.isna(value):
                cells.append("<td></td>")
            elif column in FORMATS:
                cells.append(f"<td>{FORMATS[column].format(value)}</td>")
            else:
                cells.append(f'<td class="text">{html.escape(str(value))}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
    body = "\n".join(rows)
    return page(title, (
        f"<p>{len(summary)} rows. Times are medians; results/summary.csv has every column.</p>\n"
        f"<table id=\"summary\">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n"
        f"</table>"
    ))
