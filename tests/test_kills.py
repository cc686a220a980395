"""Jobs killed with SIGKILL leave nothing that a later run takes as complete."""

import os
import signal
import subprocess
import sys
import time

import pytest

from workflow_helpers import SNAKEFILE, planned_jobs, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


def start_run(directory, *targets):
    return subprocess.Popen(
        [sys.executable, "-m", "snakemake", *targets, "--cores", "2",
         "--snakefile", str(SNAKEFILE), "--directory", str(directory),
         "--configfile", str(directory / "config.yaml")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )


def kill_when(process, condition, timeout_s=300):
    """SIGKILL the run and all its jobs as soon as `condition()` holds."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def log_contains(path, text):
    return path.is_file() and text in path.read_text(errors="replace")


@pytest.fixture
def slow_config(tmp_path, mnist_npz):
    config = tiny_config(mnist_npz)
    # Several epochs, so that a kill lands in the middle of training.
    config["train"].update(epochs=6, hidden_units=[128, 64])
    write_config(tmp_path, config)
    return tmp_path


def test_kill_during_training_reruns_training(slow_config):
    directory = slow_config
    run = start_run(directory, "results/train/seed0/metrics.json")
    kill_when(run, lambda: log_contains(directory / "logs/train/seed0.log", "Epoch 2/6"))

    train = directory / "results/train/seed0"
    assert not (train / "model.keras").exists()
    assert not (train / "metrics.json").exists()
    snakemake(directory, "--unlock")
    assert planned_jobs(directory, "results/train/seed0/metrics.json") == {"train": 1}
    snakemake(directory, "--cores", "2", "results/train/seed0/metrics.json")
    assert (train / "metrics.json").is_file()


def test_kill_during_pruning_reruns_that_job(slow_config):
    directory = slow_config
    target = "results/prune/seed0/unit/layer/ft0/k0.5000.json"
    snakemake(directory, "--cores", "2", "results/train/seed0/metrics.json")
    run = start_run(directory, target)
    log = directory / "logs/prune_evaluate/seed0/unit/layer/ft0/k0.5000.log"
    # The form file is written before the timing starts.
    kill_when(run, lambda: log_contains(log, "compact form: max abs difference"))

    assert not (directory / target).exists()
    snakemake(directory, "--unlock")
    # profiles/default turns on --rerun-incomplete, so no flag is needed.
    planned = planned_jobs(directory, target)
    assert planned == {"prune_evaluate_unit": 1}
    snakemake(directory, "--cores", "2", target)
    assert (directory / target).is_file()
