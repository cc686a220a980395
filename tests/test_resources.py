"""Memory and thread limits: the scheduler and every TensorFlow job keep to them.

One run of a tiny config, with one thread per job and a memory budget that
fits two pruning jobs, is watched from outside. The order of Snakemake's job
start and finish lines gives the jobs that ran at once. /proc gives the
threads of each job's process.
"""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from workflow_helpers import SNAKEFILE, tiny_config, write_config

pytestmark = pytest.mark.slow

MEMORY_MB = 2800
PRUNE_MEMORY_MB = 1400
SCRIPTS = ("train.py", "prune_evaluate.py", "plot_matrices.py")
# CPU time, in clock ticks, above which a thread counts as working: 0.05 s.
WORKING_TICKS = max(1, round(0.05 * os.sysconf("SC_CLK_TCK")))


def read_threads(pid):
    """Return {thread id: (name, CPU ticks)} of a process; {} once it has ended."""
    threads = {}
    try:
        tids = [entry.name for entry in Path(f"/proc/{pid}/task").iterdir()]
    except FileNotFoundError:
        return threads
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue
        fields = stat.rsplit(")", 1)[1].split()
        threads[tid] = (name, int(fields[11]) + int(fields[12]))
    return threads


def job_processes(directory):
    """Return {pid: (script name, script file)} of the workflow's running script processes.

    Snakemake copies each job's script to a file of its own, so the file
    distinguishes jobs even when a job shows under two process ids.
    """
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for word in command:
            text = word.decode(errors="replace")
            if str(directory) in text and ".snakemake/scripts" in text:
                script = next((name for name in SCRIPTS if text.endswith(name)), None)
                if script:
                    found[int(entry.name)] = (script, text.split()[-1])
    return found


@pytest.fixture(scope="module")
def watched_run(tmp_path_factory, mnist_npz):
    """Run the tiny config with a memory budget, sampling the threads of its jobs."""
    directory = tmp_path_factory.mktemp("resources")
    config = tiny_config(mnist_npz)
    config["threads"] = {"train": 1, "evaluate": 1}
    # A wider network, so each job runs long enough to be sampled.
    config["train"].update(hidden_units=[256, 128], epochs=2)
    write_config(directory, config)
    output = directory.parent / f"{directory.name}-snakemake.txt"
    with open(output, "w") as stream:
        run = subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--cores", "8", "--resources",
             f"mem_mb={MEMORY_MB}", "--snakefile", str(SNAKEFILE),
             "--directory", str(directory)],
            stdout=stream, stderr=subprocess.STDOUT,
        )
        samples = {}
        while run.poll() is None:
            for pid, (script, path) in job_processes(directory).items():
                threads = read_threads(pid)
                if threads:
                    seen = samples.setdefault(pid, {"script": script, "file": path,
                                                    "threads": {}})
                    seen["threads"].update(threads)
            time.sleep(0.05)
    text = output.read_text()
    assert run.returncode == 0, text[-4000:]
    return directory, text, samples


def job_events(text):
    """Return the (event, rule, mem_mb) of each job start and finish, in order."""
    events = []
    started = {}
    for block in re.split(r"\n(?=\S)", text):
        header = re.match(r"(?:local)?rule (\w+):", block)
        if header:
            jobid = re.search(r"jobid: (\d+)", block).group(1)
            memory = re.search(r"mem_mb=(\d+)", block)
            started[jobid] = (header.group(1), int(memory.group(1)) if memory else 0)
            events.append(("start", *started[jobid]))
        for jobid in re.findall(r"Finished jobid: (\d+)", block):
            events.append(("finish", *started[jobid]))
    return events


def test_memory_budget_limits_parallel_jobs(watched_run):
    _, text, _ = watched_run
    running_memory = 0
    running_prune = 0
    max_prune = 0
    prune_jobs = 0
    for event, rule, memory in job_events(text):
        step = 1 if event == "start" else -1
        running_memory += step * memory
        assert running_memory <= MEMORY_MB, f"{running_memory} MB of jobs running at once"
        if rule.startswith("prune_evaluate"):
            assert memory == PRUNE_MEMORY_MB
            running_prune += step
            prune_jobs += event == "start"
            max_prune = max(max_prune, running_prune)
    assert prune_jobs == 6
    # Eight cores would run all six at once; the memory budget fits two.
    assert max_prune == MEMORY_MB // PRUNE_MEMORY_MB


def test_jobs_log_one_thread(watched_run):
    directory, _, _ = watched_run
    logs = [directory / "logs/train/seed0.log",
            *sorted((directory / "logs/prune_evaluate").rglob("*.log"))]
    assert len(logs) == 7
    for log in logs:
        assert "TensorFlow" in log.read_text(), log
        assert "threads: intra-op 1, inter-op 1" in log.read_text(), log


def test_job_processes_keep_to_one_thread(watched_run):
    _, _, samples = watched_run
    jobs = {(sample["script"], sample["file"]) for sample in samples.values()}
    scripts = sorted(script for script, _ in jobs)
    assert scripts.count("train.py") == 1
    assert scripts.count("prune_evaluate.py") == 6
    for pid, sample in samples.items():
        working = [(name, ticks) for name, ticks in sample["threads"].values()
                   if ticks >= WORKING_TICKS]
        # TensorFlow starts and ends helper threads during a job (a 2-epoch
        # training showed 16 tf_Compute threads over its life), so only threads
        # that used CPU time are counted. With one thread per pool, the main
        # thread and one pool thread do the work.
        assert len(working) <= 2, (pid, sample["script"], working)


def test_peak_memory_within_mem_mb(watched_run):
    directory, text, _ = watched_run
    declared = {rule: memory for _, rule, memory in job_events(text)}
    benchmarks = sorted((directory / "benchmarks").rglob("*.tsv"))
    assert len(benchmarks) == 14
    for benchmark in benchmarks:
        parts = benchmark.relative_to(directory / "benchmarks").parts
        rule = parts[0].removesuffix(".tsv")
        # The fetch job's files are named after the dataset.
        if rule.startswith("fetch_"):
            rule = "fetch_data"
        if rule == "prune_evaluate":
            rule = f"prune_evaluate_{parts[2]}"
        header, values = benchmark.read_text().splitlines()[:2]
        peak = float(dict(zip(header.split("\t"), values.split("\t")))["max_rss"])
        assert peak <= declared[rule], (benchmark, peak, declared[rule])


def test_seeds_train_in_parallel(tmp_path, mnist_npz):
    config = tiny_config(mnist_npz)
    config["train"]["seeds"] = [0, 1]
    config["threads"] = {"train": 1, "evaluate": 1}
    write_config(tmp_path, config)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--snakefile", str(SNAKEFILE),
         "--directory", str(tmp_path), "results/train/seed0/metrics.json",
         "results/train/seed1/metrics.json"],
        capture_output=True, text=True, timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    events = [(event, rule) for event, rule, _ in job_events(result.stdout + result.stderr)
              if rule == "train"]
    # Both trainings start before either finishes.
    assert events[:2] == [("start", "train"), ("start", "train")]
