"""Snakemake adapter: fetch the dataset from the first source that validates."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

from prunelab import data
from prunelab.logs import log_to_file

logger = log_to_file(snakemake.log[0])
settings = snakemake.config["data"]

try:
    data.acquire(
        settings["sources"],
        snakemake.output.npz,
        snakemake.output.provenance,
        timeout_s=settings["timeout_s"],
        spec=data.spec_for(settings["dataset"]),
    )
except data.DataError as error:
    logger.error("%s", error)
    raise SystemExit(1)
