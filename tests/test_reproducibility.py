"""Two runs of the same config in fresh directories give the same results."""

import pandas as pd
import pytest

from workflow_helpers import snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow

# Columns measured with a clock differ between runs. Every other column must
# repeat exactly, except the gzip sizes. Those change by a few bytes, because
# .keras and .npz files record when they were saved.
TIMING_SUFFIXES = ("_ms", "_ms_q1", "_ms_q3")
GZIP_SUFFIX = "_gzip_bytes"


def run_summary(directory, data_path):
    directory.mkdir()
    write_config(directory, tiny_config(data_path))
    snakemake(directory, "--cores", "2")
    return pd.read_csv(directory / "results/summary.csv")


def test_same_config_same_summary(tmp_path, mnist_npz):
    first = run_summary(tmp_path / "first", mnist_npz)
    second = run_summary(tmp_path / "second", mnist_npz)
    compared = [column for column in first.columns
                if not column.endswith(TIMING_SUFFIXES + (GZIP_SUFFIX,))]
    assert "test_loss" in compared
    assert "masked_bytes" in compared
    pd.testing.assert_frame_equal(first[compared], second[compared], check_exact=True)

    gzipped = [column for column in first.columns if column.endswith(GZIP_SUFFIX)]
    pd.testing.assert_frame_equal(first[gzipped], second[gzipped], check_exact=False,
                                  rtol=1e-3)
