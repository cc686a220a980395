"""The speed benchmark script runs and prints one table row per form."""

import subprocess
import sys

import pytest

from workflow_helpers import REPO

keras = pytest.importorskip("keras")


@pytest.mark.slow
def test_benchmark_prints_table(tmp_path, mnist_npz):
    from prunelab import model as models

    keras.utils.set_random_seed(0)
    model = models.build_mlp(input_dim=784, hidden_units=[32, 16], num_classes=10)
    model_path = tmp_path / "model.keras"
    model.save(model_path)

    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/pruning_speed.py"), "--model", str(model_path),
         "--data", str(mnist_npz), "--k", "0", "0.9", "--repeats", "5", "--single-calls", "2"],
        capture_output=True, text=True, timeout=300, check=True,
    )
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    # A header, then masked and sparse or compact for 2 methods at 2 K values.
    assert len(rows) == 1 + 8
    forms = [row.split("|")[3].strip() for row in rows[1:]]
    assert forms.count("sparse") == 2
    assert forms.count("compact") == 2
    assert all(row.rstrip().endswith("| yes |") for row in rows[1:])


def test_benchmark_rejects_missing_model(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks/pruning_speed.py"),
         "--model", str(tmp_path / "absent.keras"), "--data", str(tmp_path / "absent.npz")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "absent.keras: file not found" in result.stderr
