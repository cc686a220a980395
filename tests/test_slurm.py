"""The tiny workflow through a real one-node SLURM cluster on 127.0.0.1.

tests/slurm/local_cluster.sh starts munged, slurmctld and slurmd from
Debian's slurm-wlm and munge packages, and the run uses profiles/slurm
with Snakemake's SLURM executor. Without those packages, root or the
executor plugin the test is skipped, unless PRUNELAB_REQUIRE_SLURM=1 (set
by .ci/run), where it fails.
"""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workflow_helpers import REPO, SNAKEFILE, tiny_config, write_config

pytestmark = pytest.mark.slow

CLUSTER_SCRIPT = REPO / "tests/slurm/local_cluster.sh"
SLURM_PORTS = {6817, 6818}
MISSING = [name for name, present in [
    ("slurm-wlm", shutil.which("slurmctld") and shutil.which("slurmd")),
    ("munge", shutil.which("munged")),
    ("snakemake-executor-plugin-slurm",
     importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None),
    ("root", os.geteuid() == 0),
] if not present]
if MISSING and os.environ.get("PRUNELAB_REQUIRE_SLURM") != "1":
    pytest.skip(f"no {', '.join(MISSING)} for the local SLURM cluster", allow_module_level=True)


def listening_addresses(port):
    """Return the IPv4 and IPv6 addresses with a TCP socket listening on `port`."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                found.append(address)
    return found


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Start the local cluster; stop it, by the PIDs it saved, after the tests."""
    state = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", str(CLUSTER_SCRIPT), "start", str(state)],
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    pids = {name: int((state / f"{name}.pid").read_text()) for name in
            ("munged", "slurmctld", "slurmd")}
    try:
        yield state, pids
    finally:
        stopped = subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop", str(state)],
                                 capture_output=True, text=True, timeout=120)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory, mnist_npz):
    state, _ = cluster
    directory = tmp_path_factory.mktemp("slurm-run")
    write_config(directory, tiny_config(mnist_npz))
    env = dict(os.environ, SLURM_CONF=str(state / "slurm.conf"))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE),
         "--directory", str(directory), "--configfile", str(directory / "config.yaml"),
         "--profile", str(REPO / "profiles/slurm"),
         # No accounting database here: ask squeue, start asking after 2 s,
         # and keep the logs of jobs that succeeded.
         "--slurm-status-command", "squeue",
         "--slurm-init-seconds-before-status-checks", "2",
         "--slurm-keep-successful-logs"],
        capture_output=True, text=True, timeout=1200, env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    return directory, output


def test_daemons_listen_on_loopback_only(cluster):
    for port in SLURM_PORTS:
        addresses = listening_addresses(port)
        assert addresses, f"nothing listens on port {port}"
        # 0100007F is 127.0.0.1 in /proc's byte order.
        assert set(addresses) == {"0100007F"}, (port, addresses)


def test_every_job_ran_as_slurm_job(slurm_run):
    directory, output = slurm_run
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    # Every job but the local rule all: fetch, config, train, 6 pruning
    # jobs, summary, curves and 2 matrix figures.
    assert len(submitted) == 14
    log_folder = directory / ".snakemake/slurm_logs"
    logs = [path.relative_to(log_folder).parts[0] for path in log_folder.rglob("*.log")]
    assert logs.count("rule_prune_evaluate_weight") == 3
    assert logs.count("rule_train") == 1


def test_slurm_run_outputs_complete(slurm_run):
    directory, output = slurm_run
    summary = pd.read_csv(directory / "results/summary.csv")
    assert len(summary) == 6
    assert summary["test_accuracy"].notna().all()
    assert len(list((directory / "results/plots").glob("*.png"))) == 6
    assert "prunelab run finished in " in output


def test_job_resources_reach_slurm(cluster, slurm_run):
    state, _ = cluster
    _, output = slurm_run
    train_job = re.search(r"submitted with SLURM jobid (\d+) \(log: [^)]*rule_train/", output)
    assert train_job, "no SLURM job for rule train"
    # slurmctld keeps finished jobs for MinJobAge (300 s by default).
    job_details = subprocess.run(["scontrol", "show", "job", train_job.group(1)],
                           capture_output=True, text=True, check=True, timeout=30,
                           env=dict(os.environ, SLURM_CONF=str(state / "slurm.conf"))).stdout
    # The tiny config gives training 2 threads; the rule requests 2000 MB
    # and 60 minutes.
    assert "MinMemoryNode=2000M" in job_details
    assert "TimeLimit=01:00:00" in job_details
    assert re.search(r"MinCPUsNode=2\b", job_details)


def test_daemons_stopped_by_pid(cluster, slurm_run):
    state, pids = cluster
    subprocess.run(["bash", str(CLUSTER_SCRIPT), "stop", str(state)],
                   check=True, capture_output=True, timeout=120)
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists(), f"{name} (PID {pid}) still runs"
    assert not any(listening_addresses(port) for port in SLURM_PORTS)
    assert not Path("/etc/slurm/slurm.conf").is_symlink()
