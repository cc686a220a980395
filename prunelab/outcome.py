"""The message printed at the end of a workflow run.

After a successful run: where the summary, the figures and the report are,
and how far each method prunes before the test accuracy drops by more than
one point. After a failed run: which jobs failed and where their logs are.
"""

import re
from pathlib import Path

import pandas as pd

# Allowed drop of test accuracy from the dense model: one percentage point.
ACCURACY_TOLERANCE = 0.01


def highest_safe_k(summary, dense_accuracy, tolerance=ACCURACY_TOLERANCE):
    """Return the highest K of each sweep whose accuracy stays within `tolerance`.

    A sweep is one (method, scope, fine-tuning epochs) group, averaged over
    seeds. Its safe K is the highest K such that the mean test accuracy at
    that K and at every smaller swept K is at least `dense_accuracy -
    tolerance`, so a lucky point after a drop does not count.

    Args:
        summary: DataFrame with the columns of results/summary.csv.
        dense_accuracy: test accuracy of the unpruned model (mean over seeds).
        tolerance: allowed drop, as a fraction (0.01 is one point).

    Returns:
        {(method, scope, finetune_epochs): K, or None when even the smallest
        swept K loses more than `tolerance`}, in sorted order.
    """
    floor = dense_accuracy - tolerance
    safe = {}
    keys = ["method", "scope", "finetune_epochs"]
    for group, rows in summary.groupby(keys, sort=True):
        accuracy = rows.groupby("k")["test_accuracy"].mean().sort_index()
        best = None
        for k, value in accuracy.items():
            if value < floor:
                break
            best = float(k)
        safe[tuple(group)] = best
    return safe


def success_message(directory=".", report="results/report.html"):
    """Return the lines printed after a successful run, naming what exists."""
    directory = Path(directory)
    lines = [f"prunelab run finished in {directory.resolve()}; paths below are relative to it."]
    summary_path = directory / "results/summary.csv"
    plots = sorted((directory / "results/plots").glob("*.*"))
    if summary_path.is_file():
        lines.append(f"  summary table: {summary_path}")
    if plots:
        lines.append(f"  figures ({len(plots)}): {directory / 'results/plots'}/")
    report_path = directory / report
    same_options = "with this run's --directory and --configfile, if any"
    if not report_path.is_file():
        lines.append(f"  HTML report: run `snakemake --report {report}` "
                     f"({same_options}) to write it")
    elif summary_path.is_file() and report_path.stat().st_mtime < summary_path.stat().st_mtime:
        lines.append(f"  HTML report: {report_path} is older than this run's results; "
                     f"run `snakemake --report {report}` ({same_options}) to update it")
    else:
        lines.append(f"  HTML report: {report_path}")
    if not summary_path.is_file():
        return "\n".join(lines)

    summary = pd.read_csv(summary_path)
    dense = []
    for seed in sorted(summary["seed"].unique()):
        metrics = directory / f"results/train/seed{seed}/metrics.json"
        if metrics.is_file():
            dense.append(pd.read_json(metrics, typ="series")["test_accuracy"])
    if not dense:
        return "\n".join(lines)
    dense_accuracy = sum(dense) / len(dense)
    seeds = f", means over {len(dense)} seeds" if len(dense) > 1 else ""
    lines.append(f"Highest K whose test accuracy stays within 1 point of the dense "
                 f"model ({dense_accuracy:.4f}{seeds}):")
    for (method, scope, finetune), k in highest_safe_k(summary, dense_accuracy).items():
        epochs = "epoch" if finetune == 1 else "epochs"
        where = f"{method} pruning ({scope} scope, {finetune} fine-tuning {epochs})"
        if k is None:
            lines.append(f"  {where}: none of the swept K")
        else:
            lines.append(f"  {where}: K = {k:g}")
    return "\n".join(lines)


def failed_jobs(log_text):
    """Return (rule, [log paths]) for each failed job named in a Snakemake log.

    The log: line is searched in the lines that follow "Error in rule", up
    to the next such line, since executors such as SLURM's can print
    unindented lines inside the block. A job reported several times (once
    per attempt, or by the executor and by Snakemake) is listed once.
    """
    failures = []
    lines = log_text.splitlines()
    for position, line in enumerate(lines):
        rule = re.match(r"Error in rule (\w+):", line)
        if rule is None:
            continue
        paths = []
        for following in lines[position + 1:position + 40]:
            if following.startswith("Error in rule "):
                break
            logs = re.match(r"\s+log: (.+?)(?: \(check log file\(s\) for error details\))?$",
                            following)
            if logs:
                paths = logs.group(1).split(", ")
                break
        failure = (rule.group(1), paths)
        if failure not in failures:
            failures.append(failure)
    return failures


def error_message(log_paths, directory=".", tail_lines=5):
    """Return the lines printed after a failed run: each failed job and its log's end.

    Args:
        log_paths: the Snakemake log of the run, a path or a list of paths
            (the `log` variable of an onerror handler).
        directory: the working directory of the run.
        tail_lines: lines shown from the end of each failed job's log.
    """
    directory = Path(directory)
    if isinstance(log_paths, (str, Path)):
        log_paths = [log_paths]
    text = ""
    for log_path in log_paths:
        try:
            text += Path(log_path).read_text(errors="replace")
        except OSError:
            pass
    failures = failed_jobs(text)
    if not failures:
        return f"prunelab run failed; see the Snakemake log {', '.join(map(str, log_paths))}"
    lines = ["prunelab run failed."]
    for rule, paths in failures:
        if not paths:
            lines.append(f"  job of rule {rule} failed; it has no log file, see the messages above")
            continue
        for path in paths:
            lines.append(f"  job of rule {rule} failed; its log: {path}")
            log_file = directory / path
            if log_file.is_file():
                last = log_file.read_text(errors="replace").rstrip().splitlines()[-tail_lines:]
                lines.extend(f"    | {line}" for line in last)
    return "\n".join(lines)
