"""What the end of a run prints: safe K per method, and the logs of failed jobs."""

import json

import pandas as pd

from prunelab.outcome import error_message, failed_jobs, highest_safe_k, success_message


def summary_of(points, seed=0, scope="layer", finetune=0):
    """Return summary rows from {method: [(K, accuracy), ...]}."""
    return pd.DataFrame([
        {"seed": seed, "method": method, "scope": scope, "finetune_epochs": finetune,
         "k": k, "test_accuracy": accuracy}
        for method, pairs in points.items() for k, accuracy in pairs
    ])


def test_safe_k_stops_at_first_drop():
    summary = summary_of({"weight": [(0.5, 0.98), (0.8, 0.975), (0.9, 0.95), (0.95, 0.979)]})
    assert highest_safe_k(summary, 0.98) == {("weight", "layer", 0): 0.8}


def test_safe_k_boundary_counts_as_within():
    # A drop of exactly one point (0.98 - 0.01 == 0.97 in floats too) is within.
    summary = summary_of({"unit": [(0.25, 0.9800), (0.5, 0.9700), (0.6, 0.9699)]})
    assert highest_safe_k(summary, 0.9800, tolerance=0.0100) == {("unit", "layer", 0): 0.5}


def test_safe_k_none_when_first_k_drops():
    summary = summary_of({"unit": [(0.9, 0.5)]})
    assert highest_safe_k(summary, 0.98) == {("unit", "layer", 0): None}


def test_safe_k_averages_seeds():
    first = summary_of({"weight": [(0.5, 0.99), (0.9, 0.975)]}, seed=0)
    second = summary_of({"weight": [(0.5, 0.97), (0.9, 0.96)]}, seed=1)
    summary = pd.concat([first, second])
    # Means: 0.98 at K = 0.5 and 0.9675 at K = 0.9, against a floor of 0.97.
    assert highest_safe_k(summary, 0.98) == {("weight", "layer", 0): 0.5}


def test_success_message_lists_outputs(tmp_path):
    (tmp_path / "results/plots").mkdir(parents=True)
    (tmp_path / "results/plots/test_accuracy_vs_k.png").write_bytes(b"png")
    summary_of({"weight": [(0.5, 0.98), (0.9, 0.90)], "unit": [(0.5, 0.90)]}).to_csv(
        tmp_path / "results/summary.csv", index=False)
    (tmp_path / "results/train/seed0").mkdir(parents=True)
    (tmp_path / "results/train/seed0/metrics.json").write_text(json.dumps({"test_accuracy": 0.985}))

    message = success_message(tmp_path)
    assert f"summary table: {tmp_path}/results/summary.csv" in message
    assert "figures (1)" in message
    assert "snakemake --report results/report.html" in message
    assert "model (0.9850)" in message
    assert "weight pruning (layer scope, 0 fine-tuning epochs): K = 0.5" in message
    assert "unit pruning (layer scope, 0 fine-tuning epochs): none of the swept K" in message


def test_success_message_without_summary(tmp_path):
    message = success_message(tmp_path)
    assert message.splitlines()[0] == (
        f"prunelab run finished in {tmp_path.resolve()}; paths below are relative to it.")
    assert "summary table" not in message


SNAKEMAKE_LOG = """\
Error in rule fetch_mnist:
    message: None
    jobid: 4
    output: resources/mnist.npz, resources/mnist.provenance.json
    log: logs/fetch_mnist.log (check log file(s) for error details)
Error in rule summarize:
    jobid: 9
    output: results/summary.csv
Shutting down, this might take some time.
"""


def test_failed_jobs_read_from_snakemake_log():
    assert failed_jobs(SNAKEMAKE_LOG) == [
        ("fetch_mnist", ["logs/fetch_mnist.log"]), ("summarize", [])]


def test_error_message_shows_log_end(tmp_path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs/fetch_mnist.log").write_text("line 1\nline 2\nERROR every data source failed\n")
    main_log = tmp_path / "main.log"
    main_log.write_text(SNAKEMAKE_LOG)

    message = error_message([str(main_log)], directory=tmp_path, tail_lines=2)
    assert "job of rule fetch_mnist failed; its log: logs/fetch_mnist.log" in message
    assert "    | ERROR every data source failed" in message
    assert "    | line 1" not in message
    assert "job of rule summarize failed; it has no log file" in message


def test_error_message_without_failed_job(tmp_path):
    main_log = tmp_path / "main.log"
    main_log.write_text("MissingInputException in rule train\n")
    assert error_message(str(main_log)) == f"prunelab run failed; see the Snakemake log {main_log}"


def test_success_message_flags_old_report(tmp_path):
    import os

    (tmp_path / "results").mkdir()
    report = tmp_path / "results/report.html"
    report.write_text("<html></html>")
    summary_of({"weight": [(0.5, 0.98)]}).to_csv(tmp_path / "results/summary.csv", index=False)
    os.utime(report, (1_000_000, 1_000_000))
    message = success_message(tmp_path)
    assert "is older than this run's results; run `snakemake --report" in message
    os.utime(report, None)
    assert f"  HTML report: {report}" in success_message(tmp_path).splitlines()


SLURM_LOG = """\
Error in rule fetch_mnist:
    message: SLURM-job submission failed.
sbatch: error: invalid partition specified: nosuchpart
    jobid: 4
    output: resources/mnist.npz, resources/mnist.provenance.json
    log: logs/fetch_mnist.log (check log file(s) for error details)
Error in rule fetch_mnist:
    jobid: 4
    log: logs/fetch_mnist.log (check log file(s) for error details)
"""


def test_failed_jobs_slurm_block_once():
    assert failed_jobs(SLURM_LOG) == [("fetch_mnist", ["logs/fetch_mnist.log"])]
