"""The tfmot method through Snakemake: a tiny sweep beside weight pruning.

Skipped where the tfmot extra is missing, unless PRUNELAB_REQUIRE_TFMOT=1,
which turns the skip into a failure.
"""

import json
import os

import pandas as pd
import pytest

from prunelab.tfmot_prune import missing_requirements
from workflow_helpers import planned_jobs, snakemake, tiny_config, write_config

PROBLEMS = missing_requirements()
if PROBLEMS:
    if os.environ.get("PRUNELAB_REQUIRE_TFMOT") == "1":
        pytest.fail("PRUNELAB_REQUIRE_TFMOT=1 but tfmot cannot run: " + "; ".join(PROBLEMS),
                    pytrace=False)
    pytest.skip("tfmot cannot run: " + "; ".join(PROBLEMS), allow_module_level=True)

K_VALUES = [0, 0.5, 0.9]


def tfmot_config(data_path):
    config = tiny_config(data_path)
    config["methods"] = ["weight", "tfmot"]
    config["k_values"] = K_VALUES
    config["tfmot"] = {"epochs": 1}
    return config


@pytest.fixture(scope="module")
def tfmot_run(tmp_path_factory, mnist_npz):
    directory = tmp_path_factory.mktemp("tfmot_run")
    write_config(directory, tfmot_config(mnist_npz))
    planned = planned_jobs(directory)
    snakemake(directory, "--cores", "2")
    return directory, planned


@pytest.mark.slow
def test_tfmot_jobs_and_comparison_point(tfmot_run):
    _, planned = tfmot_run
    assert planned["prune_evaluate_tfmot"] == 3
    # Weight pruning without fine-tuning, and with tfmot's one epoch.
    assert planned["prune_evaluate_weight"] == 6
    # No matrices are drawn for tfmot.
    assert planned["plot_matrices"] == 1


@pytest.mark.slow
def test_tfmot_reaches_requested_sparsity(tfmot_run):
    directory, _ = tfmot_run
    for k in K_VALUES:
        result = json.loads((directory / f"results/prune/seed0/tfmot/layer/ft1/"
                             f"k{k:.4f}.json").read_text())
        pruned = [layer for layer in result["layers"] if layer["pruned"]]
        assert [layer["name"] for layer in pruned] == ["hidden_1", "hidden_2"]
        for layer in pruned:
            assert abs(layer["kernel_sparsity"] - k) <= 0.01, layer
        output = [layer for layer in result["layers"] if not layer["pruned"]]
        assert output[0]["kernel_sparsity"] < 0.01
        assert result["form"] == "sparse"
        assert result["form_same_classes"] is True


@pytest.mark.slow
def test_tfmot_rows_in_summary_and_figures(tfmot_run):
    directory, _ = tfmot_run
    summary = pd.read_csv(directory / "results/summary.csv")
    tfmot = summary[summary["method"] == "tfmot"].set_index("k")
    assert sorted(tfmot.index) == K_VALUES
    assert (tfmot["finetune_epochs"] == 1).all()
    weight = summary[(summary["method"] == "weight") & (summary["finetune_epochs"] == 1)]
    assert sorted(weight["k"]) == K_VALUES
    # At K = 0 nothing is pruned, so both fine-tune the same model with the
    # same seed, rate and batch size: the same budget gives the same result.
    weight_dense = weight.set_index("k").loc[0.0, "test_loss"]
    assert tfmot.loc[0.0, "test_loss"] == pytest.approx(weight_dense, abs=1e-3)
    for metric in ("test_accuracy", "inference_ms", "size_bytes"):
        assert (directory / f"results/plots/{metric}_vs_k.png").stat().st_size > 0


@pytest.mark.slow
def test_mismatched_tf_keras_stops_before_any_job(tmp_path, mnist_npz):
    # A tf_keras distribution of another minor version, found first on the path.
    fake = tmp_path / "site" / "tf_keras-2.15.0.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: tf_keras\nVersion: 2.15.0\n")
    run = tmp_path / "run"
    run.mkdir()
    write_config(run, tfmot_config(mnist_npz))
    environment = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    result = snakemake(run, "--cores", "2", check=False, env=environment)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "methods lists tfmot, which cannot run here" in output
    assert 'pip install -e ".[tfmot]"' in output
    assert not (run / "results").exists()
    assert not (run / "resources").exists()
