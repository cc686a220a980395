"""A second Snakemake run in a directory where one is running is refused."""

import subprocess
import sys
import time

import pytest

from workflow_helpers import SNAKEFILE, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


def test_second_run_refused_by_lock(tmp_path, mnist_npz):
    write_config(tmp_path, tiny_config(mnist_npz))
    first = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--snakefile", str(SNAKEFILE),
         "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        locks = tmp_path / ".snakemake" / "locks"
        deadline = time.monotonic() + 60
        while not (locks.is_dir() and any(locks.iterdir())):
            assert first.poll() is None, "the first run ended before it locked the directory"
            assert time.monotonic() < deadline, "the first run never locked the directory"
            time.sleep(0.2)

        second = snakemake(tmp_path, "--cores", "1", check=False)
        output = second.stdout + second.stderr
        assert second.returncode != 0
        assert "Directory cannot be locked" in output
        # The message names the way out once the other run has really stopped.
        assert "--unlock" in output
    finally:
        assert first.wait(timeout=600) == 0
    assert (tmp_path / "results/summary.csv").is_file()
