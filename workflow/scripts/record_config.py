"""Snakemake adapter: write the config of the run, defaults filled in, as YAML and HTML."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

import yaml

from prunelab.fileio import atomic_path
from prunelab.logs import log_to_file
from prunelab.report_pages import config_html

logger = log_to_file(snakemake.log[0])

text = yaml.safe_dump(dict(snakemake.params.config), sort_keys=False)
with atomic_path(snakemake.output.yaml) as temporary:
    temporary.write_text(text, encoding="utf-8")
with atomic_path(snakemake.output.html) as temporary:
    temporary.write_text(config_html(text), encoding="utf-8")
logger.info("wrote %s and %s", snakemake.output.yaml, snakemake.output.html)
