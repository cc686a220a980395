"""End-to-end runs of the Snakemake workflow on a tiny config, and its rerun rules."""

import copy
import json
import re
import shutil

import pandas as pd
import pytest
import yaml

from workflow_helpers import (
    REPO, audited_environment, planned_jobs, snakemake, tiny_config, write_config,
)

pytestmark = pytest.mark.slow

PRUNE_JOBS = {"prune_evaluate_weight": 3, "prune_evaluate_unit": 3}
FULL_RUN = {
    "fetch_data": 1, "train": 1, **PRUNE_JOBS, "summarize": 1,
    "plot_curves": 1, "plot_matrices": 2, "record_config": 1, "describe_model": 1, "all": 1,
}
# Any config change rewrites results/config.yaml, the config shown in the report.
RECORD = {"record_config": 1}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mnist_npz):
    """A directory where the tiny config has run to completion."""
    directory = tmp_path_factory.mktemp("workflow")
    config = tiny_config(mnist_npz)
    write_config(directory, config)
    planned = planned_jobs(directory)
    # Every file opened for writing is logged, to check atomic outputs.
    result = snakemake(directory, "--cores", "2",
                       env=audited_environment(directory.parent / f"{directory.name}-writes.tsv"))
    (directory.parent / f"{directory.name}-output.txt").write_text(result.stdout + result.stderr)
    return directory, config, planned


def variant(directory, config, name, change):
    changed = copy.deepcopy(config)
    change(changed)
    write_config(directory, changed, name=name)
    return planned_jobs(directory, config=name)


def test_first_run_plans_every_job(finished_run):
    _, _, planned = finished_run
    assert planned == FULL_RUN


def test_summary_has_one_row_per_job(finished_run):
    directory, _, _ = finished_run
    summary = pd.read_csv(directory / "results/summary.csv")
    assert len(summary) == 6
    assert sorted(set(summary["method"])) == ["unit", "weight"]
    assert sorted(set(summary["k"])) == [0.0, 0.5, 0.9]
    for column in ("achieved_sparsity", "test_loss", "test_accuracy", "inference_ms"):
        assert summary[column].notna().all(), column


def test_achieved_sparsity_exact_floor_counts(finished_run):
    directory, _, _ = finished_run
    summary = pd.read_csv(directory / "results/summary.csv").set_index(["method", "k"])
    entries = 784 * 24 + 24 * 12
    # floor(0.9 * 18816) = 16934 and floor(0.9 * 288) = 259.
    assert summary.loc[("weight", 0.9), "achieved_sparsity"] == pytest.approx((16934 + 259) / entries, abs=1e-12)
    # floor(0.9 * 24) = 21 columns of 784 and floor(0.9 * 12) = 10 columns of 24.
    assert summary.loc[("unit", 0.9), "achieved_sparsity"] == pytest.approx((21 * 784 + 10 * 24) / entries, abs=1e-12)
    assert summary.loc[("weight", 0.0), "achieved_sparsity"] == 0.0


def test_flops_count_nonzero_entries(finished_run):
    directory, _, _ = finished_run
    summary = pd.read_csv(directory / "results/summary.csv").set_index(["method", "k"])
    dense = 2 * (784 * 24 + 24 * 12 + 12 * 10)
    assert (summary["flops_dense_per_image"] == dense).all()
    # The output layer's 120 entries stay; 21 columns of 784 and 10 of 24 go.
    expected = dense - 2 * (21 * 784 + 10 * 24)
    assert summary.loc[("unit", 0.9), "flops_nonzero_per_image"] == expected


def test_k_zero_matches_trained_model(finished_run):
    directory, _, _ = finished_run
    trained = json.loads((directory / "results/train/seed0/metrics.json").read_text())
    summary = pd.read_csv(directory / "results/summary.csv").set_index(["method", "k"])
    assert summary.loc[("weight", 0.0), "test_accuracy"] == trained["test_accuracy"]
    assert trained["test_accuracy"] > 0.9


def test_job_result_records_layers_and_timing(finished_run):
    directory, _, _ = finished_run
    result = json.loads(
        (directory / "results/prune/seed0/unit/layer/ft0/k0.5000.json").read_text()
    )
    assert [layer["pruned"] for layer in result["layers"]] == [True, True, False]
    assert [layer["kernel_sparsity"] for layer in result["layers"][:2]] == [0.5, 0.5]
    assert result["inference_repeats"] == 5
    assert result["inference_ms_q1"] <= result["inference_ms"] <= result["inference_ms_q3"]
    assert result["threads"] == 1
    assert result["form"] == "compact"
    assert result["compact_single_ms"] > 0
    assert result["form_same_classes"] is True


def test_fast_forms_saved_and_match(finished_run):
    directory, _, _ = finished_run
    prune = directory / "results/prune/seed0"
    summary = pd.read_csv(directory / "results/summary.csv")
    assert summary["form_same_classes"].all()
    assert (summary["form_max_abs_difference"] < 1e-4).all()
    for label in ("0.0000", "0.5000", "0.9000"):
        assert (prune / f"weight/layer/ft0/k{label}.sparse.npz").is_file()
        assert (prune / f"unit/layer/ft0/k{label}.compact.keras").is_file()


def test_compact_model_smaller_on_disk(finished_run):
    directory, _, _ = finished_run
    summary = pd.read_csv(directory / "results/summary.csv").set_index(["method", "k"])
    row = summary.loc[("unit", 0.9)]
    assert row["compact_bytes"] < row["masked_bytes"]
    # floor(0.9 * 24) = 21 and floor(0.9 * 12) = 10 units go: 3 and 2 remain.
    assert row["compact_flops_per_image"] == 2 * (784 * 3 + 3 * 2 + 2 * 10)


def test_every_figure_written(finished_run):
    directory, _, _ = finished_run
    for name in ("test_loss_vs_k", "test_accuracy_vs_k", "inference_ms_vs_k",
                 "size_bytes_vs_k", "matrices_weight", "matrices_unit"):
        for ext in ("png", "svg"):
            path = directory / "results/plots" / f"{name}.{ext}"
            assert path.stat().st_size > 1000, path


def test_data_provenance_written(finished_run):
    directory, _, _ = finished_run
    provenance = json.loads((directory / "resources/mnist.provenance.json").read_text())
    assert provenance["kind"] == "local"
    assert len(provenance["fetched_sha256"]) == 64


def test_training_log_shows_epochs_and_threads(finished_run):
    directory, _, _ = finished_run
    log = (directory / "logs/train/seed0.log").read_text()
    # Keras writes one line per epoch, such as "106/106 - 1s - ... - val_loss: 0.18".
    assert re.search(r"\d+/\d+ - .*val_accuracy", log)
    assert "intra-op 2, inter-op 2" in log


def test_no_temporary_files_left(finished_run):
    directory, _, _ = finished_run
    leftovers = [p for p in directory.rglob(".*tmp-*")] + list(directory.rglob(".fetch-*"))
    assert leftovers == []


def test_outputs_written_under_temporary_names(finished_run):
    directory, _, _ = finished_run
    writes = (directory.parent / f"{directory.name}-writes.tsv").read_text().splitlines()
    opened = {line.split("\t")[1] for line in writes}
    outputs = [path for path in opened
               if path.startswith((f"{directory}/results/", f"{directory}/resources/"))]
    # The scripts ran under the audit: at least the model and every result file.
    assert f"{directory}/results/train/seed0/.model.tmp-" in "\n".join(outputs)
    direct = [path for path in outputs
              if not any(part.startswith(".") for part in path[len(str(directory)):].split("/"))]
    assert direct == []


def test_second_run_does_nothing(finished_run):
    directory, _, _ = finished_run
    assert planned_jobs(directory) == {}


def test_one_output_path_builds_only_that(finished_run):
    directory, _, _ = finished_run
    target = "results/prune/seed0/weight/layer/ft0/k0.2500.json"
    assert planned_jobs(directory, target) == {"prune_evaluate_weight": 1}


def test_added_k_runs_only_new_jobs(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "added-k.yaml",
                      lambda c: c["k_values"].append(0.7))
    assert planned == {"prune_evaluate_weight": 1, "prune_evaluate_unit": 1, "summarize": 1,
                       "plot_curves": 1, **RECORD, "all": 1}


def test_plot_setting_reruns_only_plots(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "plot-dpi.yaml",
                      lambda c: c["plots"].update(dpi=72))
    assert planned == {"plot_curves": 1, "plot_matrices": 2, **RECORD, "all": 1}


def test_matrices_k_reruns_only_matrices(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "matrices-k.yaml",
                      lambda c: c["plots"].update(matrices_k=0.9))
    assert planned == {"plot_matrices": 2, **RECORD, "all": 1}


def test_training_setting_reruns_downstream(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "epochs.yaml",
                      lambda c: c["train"].update(epochs=2))
    assert planned == {key: value for key, value in FULL_RUN.items() if key != "fetch_data"}


def test_timing_setting_reruns_evaluation_only(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "repeats.yaml",
                      lambda c: c["evaluate"].update(timing_repeats=6))
    assert planned == {**PRUNE_JOBS, "summarize": 1, "plot_curves": 1, **RECORD, "all": 1}


def test_evaluate_batch_size_keeps_training(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "eval-batch.yaml",
                      lambda c: c["evaluate"].update(batch_size=500))
    assert planned == {**PRUNE_JOBS, "summarize": 1, "plot_curves": 1, **RECORD, "all": 1}


def test_output_layer_switch_reruns_weight_only(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "output-layer.yaml",
                      lambda c: c.setdefault("prune", {}).update(prune_output_layer=True))
    assert planned == {"prune_evaluate_weight": 3, "summarize": 1, "plot_curves": 1,
                       "plot_matrices": 1, "describe_model": 1, **RECORD, "all": 1}


def test_data_settings_do_not_refetch(finished_run):
    directory, config, _ = finished_run

    def change(changed):
        changed["data"]["timeout_s"] = 30
        changed["data"]["sources"].insert(0, {"url": "http://127.0.0.1:9/mnist.npz",
                                              "sha256": "0" * 64})

    assert variant(directory, config, "data.yaml", change) == {**RECORD, "all": 1}


def test_k_above_one_has_no_rule(finished_run):
    directory, _, _ = finished_run
    result = snakemake(directory, "results/prune/seed0/unit/layer/ft0/k1.5000.json",
                       "--dry-run", check=False)
    assert result.returncode != 0
    assert "MissingRuleException" in result.stdout + result.stderr


def test_dry_run_in_fresh_directory(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    planned = planned_jobs(tmp_path)
    assert planned == {
        "fetch_data": 1, "train": 1, "prune_evaluate_weight": 10,
        "prune_evaluate_unit": 10, "summarize": 1,
        "plot_curves": 1, "plot_matrices": 2, "record_config": 1, "describe_model": 1,
        "all": 1,
    }
    assert not (tmp_path / "resources").exists()


def test_lint_is_clean(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    result = snakemake(tmp_path, "--lint")
    assert "Congratulations, your workflow is in a good condition" in result.stdout + result.stderr


def test_default_config_matches_schema_defaults():
    from snakemake.utils import validate

    defaults = {}
    validate(defaults, str(REPO / "workflow/schemas/config.schema.yaml"))
    written = yaml.safe_load((REPO / "config.yaml").read_text())
    assert written == defaults


def test_command_line_values_same_jobs_as_file(finished_run):
    # Other values in the file, the finished run's values on the command line:
    # with the types YAML gives them, nothing is out of date.
    directory, config, _ = finished_run
    other = copy.deepcopy(config)
    other["k_values"] = [0.25]
    other["train"].update(epochs=3, hidden_units=[16], learning_rate=0.01, lr_schedule="cosine")
    other["evaluate"].update(timing_repeats=9)
    other["plots"].update(matrices_k=0.25, dpi=100)
    write_config(directory, other, name="other.yaml")
    train = config["train"]
    arguments = [
        "--config", "k_values=[0,0.5,0.9]",
        f"train={{epochs: {train['epochs']}, hidden_units: [24, 12], "
        f"learning_rate: {train['learning_rate']}, lr_schedule: constant}}",
        "evaluate={timing_repeats: 5}", "plots={matrices_k: 0.5, dpi: 60}",
    ]
    assert planned_jobs(directory, *arguments, config="other.yaml") == {}
    arguments[2] = arguments[2].replace("learning_rate: 0.003", "learning_rate: 0.004")
    assert planned_jobs(directory, *arguments, config="other.yaml")["train"] == 1


def test_end_of_run_names_outputs(finished_run):
    directory, _, _ = finished_run
    output = (directory.parent / f"{directory.name}-output.txt").read_text()
    assert "prunelab run finished in " in output
    assert "summary table: results/summary.csv" in output
    assert "figures (12): results/plots/" in output
    assert "snakemake --report results/report.html" in output
    assert re.search(r"weight pruning \(layer scope, 0 fine-tuning epochs\): (K = [\d.]+|none)",
                     output)


def test_gpu_resource_only_when_requested(finished_run):
    directory, config, _ = finished_run
    default = snakemake(directory, "--dry-run", "--forceall").stdout
    assert "gpu=" not in default
    with_gpu = copy.deepcopy(config)
    with_gpu["gpus"] = {"train": 1, "evaluate": 0}
    write_config(directory, with_gpu, name="gpu.yaml")
    output = snakemake(directory, "--dry-run", "--forceall", config="gpu.yaml").stdout
    blocks = {block.split(":")[0]: block for block in re.split(r"\n(?=rule )", output)}
    assert "gpu=1" in blocks["rule train"]
    assert "gpu=" not in blocks["rule prune_evaluate_weight"]
    # Resources are not a rerun trigger: asking for a GPU reruns only the
    # config record.
    assert planned_jobs(directory, config="gpu.yaml") == {**RECORD, "all": 1}


def test_added_finetune_count_runs_only_new_jobs(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "finetune.yaml",
                      lambda c: c.update(finetune={"epochs": [0, 2]}))
    assert planned == {**PRUNE_JOBS, "summarize": 1, "plot_curves": 1, **RECORD, "all": 1}


def test_finetune_rate_leaves_untuned_jobs(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "finetune-rate.yaml",
                      lambda c: c.update(finetune={"epochs": [0], "learning_rate": 0.01}))
    assert planned == {**RECORD, "all": 1}


def test_added_global_scope_runs_weight_jobs(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "global.yaml",
                      lambda c: c.update(prune={"scopes": ["layer", "global"]}))
    assert planned == {"prune_evaluate_weight": 3, "summarize": 1, "plot_curves": 1,
                       **RECORD, "all": 1}


def test_global_unit_target_rejected(finished_run):
    directory, _, _ = finished_run
    result = snakemake(directory, "results/prune/seed0/unit/global/ft0/k0.5000.json",
                       "--dry-run", check=False)
    assert result.returncode != 0
    assert "global unit pruning is not supported: the L2 norms of columns" in (
        result.stdout + result.stderr)


def test_global_job_prunes_exact_total(finished_run):
    directory, _, _ = finished_run
    target = "results/prune/seed0/weight/global/ft0/k0.5000.json"
    snakemake(directory, "--cores", "2", target)
    result = json.loads((directory / target).read_text())
    hidden = [layer for layer in result["layers"] if layer["pruned"]]
    # floor(0.5 * (784 * 24 + 24 * 12)) = 9552 zeros over both kernels together.
    assert sum(layer["kernel_zeros"] for layer in hidden) == 9552
    assert result["scope"] == "global"
    assert hidden[0]["kernel_sparsity"] != hidden[1]["kernel_sparsity"]


def test_added_seed_runs_only_its_jobs(finished_run):
    directory, config, _ = finished_run
    planned = variant(directory, config, "seeds.yaml",
                      lambda c: c["train"].update(seeds=[0, 1]))
    assert planned == {"train": 1, **PRUNE_JOBS, "summarize": 1, "plot_curves": 1,
                       **RECORD, "all": 1}
