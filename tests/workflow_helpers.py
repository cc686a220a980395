"""Run the workflow in a directory of its own and read its dry-run job lists."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WRITE_AUDIT = Path(__file__).resolve().parent / "write_audit"
SNAKEFILE = REPO / "Snakefile"


def tiny_config(data_path):
    """Return a config that runs the whole workflow in about a minute on 2 cores."""
    return {
        "data": {"sources": [{"local": str(data_path)}], "timeout_s": 5},
        "k_values": [0, 0.5, 0.9],
        "methods": ["weight", "unit"],
        "train": {
            "seeds": [0],
            "hidden_units": [24, 12],
            "epochs": 1,
            "batch_size": 512,
            "learning_rate": 0.003,
            "lr_schedule": "constant",
            "validation_fraction": 0.1,
        },
        "evaluate": {"batch_size": 2000, "timing_repeats": 5, "single_image_calls": 5},
        "threads": {"train": 2, "evaluate": 1},
        "plots": {"matrices_k": 0.5, "formats": ["png", "svg"], "dpi": 60},
    }


def write_config(directory, config, name="config.yaml"):
    path = Path(directory) / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(directory, *arguments, config="config.yaml", check=True, timeout=900, env=None):
    """Run Snakemake on the repository's Snakefile in `directory`.

    `config` names the config file inside `directory`; `env`, if given, is
    the environment of the run.
    """
    # Options with several values (--configfile, --quiet) take every word up
    # to the next option, so targets and other arguments come first.
    command = [
        sys.executable, "-m", "snakemake", *arguments, "--snakefile", str(SNAKEFILE),
        "--directory", str(directory), "--configfile", str(Path(directory) / config),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(arguments)} failed with exit code {result.returncode}:\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def planned_jobs(directory, *arguments, config="config.yaml"):
    """Return {rule: job count} that a dry-run plans; {} when nothing is to be done."""
    result = snakemake(directory, *arguments, "--dry-run", "--quiet", "rules", config=config)
    output = result.stdout + result.stderr
    if "Nothing to be done" in output:
        return {}
    table = re.search(r"Job stats:\n(.*?)\ntotal\s+\d+", output, re.DOTALL)
    if table is None:
        raise AssertionError(f"no job table in the dry-run output:\n{output[-3000:]}")
    jobs = {}
    for line in table.group(1).splitlines():
        match = re.fullmatch(r"(\w+)\s+(\d+)", line.strip())
        if match:
            jobs[match.group(1)] = int(match.group(2))
    return jobs


def audited_environment(log_path):
    """Return an environment in which every Python process logs its writes to `log_path`.

    See tests/write_audit/sitecustomize.py.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(WRITE_AUDIT), env.get("PYTHONPATH")]))
    env["PRUNELAB_WRITE_LOG"] = str(log_path)
    return env
