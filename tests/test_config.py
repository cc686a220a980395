"""Config errors are reported before any job runs."""

import copy

import pytest

from prunelab.config_checks import ConfigError, check_config
from workflow_helpers import snakemake, tiny_config, write_config


@pytest.fixture
def config(tmp_path):
    data = tmp_path / "mnist.npz"
    data.write_bytes(b"")
    return tiny_config(data)


def test_check_config_accepts_tiny(config):
    check_config(config)


def test_matrices_k_outside_sweep(config):
    config["plots"]["matrices_k"] = 0.25
    with pytest.raises(ConfigError, match=r"plots.matrices_k is 0.25, which is not in k_values"):
        check_config(config)


def test_duplicate_k_file_name(config):
    config["k_values"] = [0.5, 0.5000]
    with pytest.raises(ConfigError, match="same file name k0.5000"):
        check_config(config)


def test_k_with_five_decimals(config):
    config["k_values"] = [0.5, 0.12345]
    with pytest.raises(ConfigError, match="more than 4 decimals"):
        check_config(config)


def test_missing_local_data_file(config, tmp_path):
    config["data"]["sources"] = [{"local": str(tmp_path / "absent.npz")}]
    with pytest.raises(ConfigError, match=r"data.sources\[0\].local is .*absent.npz"):
        check_config(config)


@pytest.mark.slow
@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(k_values=[0.5, 1.5]), "1.5 is greater than the maximum of 1"),
    (lambda c: c.update(methods=["weight", "random"]), "'random' is not one of"),
    (lambda c: c["train"].update(epochs=0), "0 is less than the minimum of 1"),
    (lambda c: c["plots"].update(matrices_k=0.7), "plots.matrices_k is 0.7"),
    (lambda c: c["data"].update(sources=[{"url": "http://127.0.0.1:9/m.npz"}]),
     "'sha256' is a dependency of 'url'"),
])
def test_bad_config_fails_dry_run(config, tmp_path, change, message):
    bad = copy.deepcopy(config)
    change(bad)
    write_config(tmp_path, bad)
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
