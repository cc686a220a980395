"""A damaged data file in a finished run is never trained or evaluated on."""

import pytest

from workflow_helpers import snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


def test_truncated_data_stops_training(tmp_path, mnist_npz):
    write_config(tmp_path, tiny_config(mnist_npz))
    snakemake(tmp_path, "--cores", "2", "resources/mnist.npz")
    data_path = tmp_path / "resources/mnist.npz"
    data_path.write_bytes(data_path.read_bytes()[: data_path.stat().st_size // 2])

    result = snakemake(tmp_path, "--cores", "2", "results/train/seed0/metrics.json",
                       check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs/train/seed0.log").read_text()
    assert "resources/mnist.npz: not an npz file" in log
    assert not (tmp_path / "results/train/seed0/model.keras").exists()
