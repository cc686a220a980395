"""A user's own .keras model and data: pruned through the library and the workflow."""

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prunelab import model as models
from prunelab.model_files import ModelFileError, read_model_info
from workflow_helpers import planned_jobs, snakemake, tiny_config, write_config

keras = pytest.importorskip("keras")

CLASSES = 3


def functional_model(seed=0):
    """A functional model on 4x4 inputs with Flatten, Dropout and LayerNormalization between Dense layers."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(4, 4), name="pixels")
    values = keras.layers.Flatten(name="flat")(inputs)
    values = keras.layers.Dense(12, activation="relu", name="hidden_1")(values)
    values = keras.layers.Dropout(0.3, name="drop")(values)
    values = keras.layers.LayerNormalization(name="norm")(values)
    values = keras.layers.Dense(8, activation="relu", name="hidden_2")(values)
    outputs = keras.layers.Dense(CLASSES, name="logits")(values)
    model = keras.Model(inputs, outputs, name="own")
    # Non-trivial normalisation weights, so a change to them would show.
    norm = model.get_layer("norm")
    norm.set_weights([np.linspace(0.5, 1.5, 12, dtype=np.float32),
                      np.linspace(-0.2, 0.2, 12, dtype=np.float32)])
    return model


def weights_by_layer(model):
    return {layer.name: [np.array(w) for w in layer.get_weights()] for layer in model.layers}


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_functional_model_only_dense_kernels_change(method):
    model = functional_model()
    before = weights_by_layer(model)
    pruned, layers = models.prune_model(model, 0.5, method)
    after = weights_by_layer(pruned)
    # Layers without a Dense kernel keep every weight, the output layer too.
    for name in ("flat", "drop", "norm", "logits"):
        for old, new in zip(before[name], after[name]):
            assert np.array_equal(old, new), name
    for name in ("hidden_1", "hidden_2"):
        kernel, bias = after[name]
        if method == "weight":
            assert np.count_nonzero(kernel == 0) == kernel.size // 2
            assert np.array_equal(bias, before[name][1])
        else:
            removed = ~kernel.any(axis=0)
            assert removed.sum() == kernel.shape[1] // 2
            assert np.all(bias[removed] == 0)
            assert np.array_equal(bias[~removed], before[name][1][~removed])
        kept_entries = kernel != 0
        assert np.array_equal(kernel[kept_entries], before[name][0][kept_entries])
    assert [layer["name"] for layer in layers] == ["hidden_1", "hidden_2", "logits"]
    assert [layer["pruned"] for layer in layers] == [True, True, False]
    # The original is untouched and the copy still runs on 4x4 inputs.
    assert np.array_equal(weights_by_layer(model)["hidden_1"][0], before["hidden_1"][0])
    assert pruned(np.ones((2, 4, 4), np.float32)).shape == (2, CLASSES)


def test_describe_layers_names_what_is_pruned():
    described = {entry["name"]: entry for entry in models.describe_layers(functional_model())}
    assert described["hidden_1"]["kernel_shape"] == [16, 12]
    assert described["hidden_1"]["pruned_by"] == ["weight", "unit", "tfmot"]
    assert described["logits"]["output_layer"] is True
    assert described["logits"]["pruned_by"] == []
    assert described["norm"]["class"] == "LayerNormalization"
    assert "pruned_by" not in described["norm"]
    weight_only = {entry["name"]: entry for entry in
                   models.describe_layers(functional_model(), methods=["weight"])}
    assert weight_only["hidden_1"]["pruned_by"] == ["weight"]
    with_output = {entry["name"]: entry for entry in
                   models.describe_layers(functional_model(), prune_output_layer=True)}
    assert with_output["logits"]["pruned_by"] == ["weight", "tfmot"]


def test_prepare_inputs_takes_the_model_shape():
    rows = np.arange(2 * 16, dtype=np.uint8).reshape(2, 16)
    shaped = models.prepare_inputs(rows, (4, 4))
    assert shaped.shape == (2, 4, 4)
    assert shaped.dtype == np.float32
    assert shaped[0, 0, 1] == pytest.approx(1 / 255)
    features = np.full((3, 5), 7.5, np.float32)
    assert np.array_equal(models.prepare_inputs(features), features)
    with pytest.raises(ValueError, match=r"samples have shape \(5,\) \(5 values\) but the model "
                                         r"expects inputs of shape \(4, 4\)"):
        models.prepare_inputs(features, (4, 4))


def test_softmax_output_uses_probabilities():
    inputs = keras.Input(shape=(3,))
    outputs = keras.layers.Dense(2, activation="softmax")(inputs)
    assert models.outputs_probabilities(keras.Model(inputs, outputs))
    assert not models.outputs_probabilities(functional_model())


def save(model, path):
    model.save(path)
    return path


def test_model_info_of_functional_model(tmp_path):
    info = read_model_info(save(functional_model(), tmp_path / "own.keras"))
    assert info.classes() == ["InputLayer", "Flatten", "Dense", "Dropout",
                              "LayerNormalization", "Dense", "Dense"]
    assert info.dense_names() == ["hidden_1", "hidden_2", "logits"]
    assert info.is_chain()
    assert not info.has_fast_form()


def test_model_info_fast_form_for_dense_chain(tmp_path):
    model = keras.Sequential([keras.Input(shape=(4, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(6, activation="relu"),
                              keras.layers.Dropout(0.2), keras.layers.Dense(CLASSES)])
    assert read_model_info(save(model, tmp_path / "chain.keras")).has_fast_form()


def test_model_info_two_branches_not_a_chain(tmp_path):
    inputs = keras.Input(shape=(6,))
    left = keras.layers.Dense(4, name="left")(inputs)
    right = keras.layers.Dense(4, name="right")(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.Add()([left, right]))
    info = read_model_info(save(keras.Model(inputs, outputs), tmp_path / "branches.keras"))
    assert not info.is_chain()
    assert not info.has_fast_form()


def model_without_dense():
    inputs = keras.Input(shape=(4, 4))
    values = keras.layers.Conv1D(2, 2, name="conv")(inputs)
    return keras.Model(inputs, keras.layers.Flatten()(values))


def test_model_without_dense_rejected(tmp_path):
    path = save(model_without_dense(), tmp_path / "conv.keras")
    with pytest.raises(ModelFileError, match=r"has no Dense layer to prune: its layers are "
                                              r"\['InputLayer', 'Conv1D', 'Flatten'\]"):
        read_model_info(path)


def test_damaged_model_files_rejected(tmp_path):
    text = tmp_path / "notes.keras"
    text.write_text("not a model")
    with pytest.raises(ModelFileError, match=f"model file {text} is not a .keras file"):
        read_model_info(text)
    empty = tmp_path / "empty.keras"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(ModelFileError, match=f"model file {empty} has no config.json"):
        read_model_info(empty)
    with pytest.raises(ModelFileError, match="does not exist"):
        read_model_info(tmp_path / "absent.keras")


# --- Through the workflow ---------------------------------------------------


def custom_arrays(seed=0, train=600, test=300):
    """4x4 float32 samples of 3 classes, each class brightest in its own rows."""
    rng = np.random.default_rng(seed)

    def split(count):
        y = rng.integers(0, CLASSES, count)
        x = rng.normal(0, 0.3, (count, 4, 4)).astype(np.float32)
        for label in range(CLASSES):
            x[y == label, label, :] += 1.5
        return x, y.astype(np.int64)

    x_train, y_train = split(train)
    x_test, y_test = split(test)
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def trained_own_model(arrays, path, model=None):
    model = model or functional_model()
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(arrays["x_train"], arrays["y_train"], epochs=30, batch_size=64, verbose=0)
    model.save(path)
    return path


def own_config(directory, model_path, data_path, **changes):
    config = tiny_config(data_path)
    config["data"] = {"dataset": "custom", "sources": [{"local": str(data_path)}],
                      "timeout_s": 5}
    config["model"] = {"file": str(model_path)}
    config["k_values"] = [0, 0.5]
    config["plots"]["matrices_k"] = 0.5
    config.update(changes)
    write_config(directory, config)
    return config


@pytest.fixture(scope="module")
def own_files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("own_files")
    arrays = custom_arrays()
    np.savez(directory / "data.npz", **arrays)
    trained_own_model(arrays, directory / "own.keras")
    return directory


@pytest.fixture(scope="module")
def own_run(tmp_path_factory, own_files):
    directory = tmp_path_factory.mktemp("own_run")
    own_config(directory, own_files / "own.keras", own_files / "data.npz",
               finetune={"epochs": [0, 1]})
    planned = planned_jobs(directory)
    snakemake(directory, "--cores", "2")
    return directory, planned


@pytest.mark.slow
def test_own_model_replaces_training(own_run):
    directory, planned = own_run
    assert "train" not in planned
    assert planned["import_model"] == 1
    assert planned["describe_model"] == 1
    assert planned["fetch_data"] == 1
    # weight and unit, K 0 and 0.5, fine-tuning 0 and 1 epoch.
    assert planned["prune_evaluate_weight"] == 4
    assert planned["prune_evaluate_unit"] == 4
    summary = pd.read_csv(directory / "results/summary.csv")
    assert len(summary) == 8
    assert (summary[summary["k"] == 0]["test_accuracy"] > 0.9).all()


@pytest.mark.slow
def test_own_model_layers_written_and_logged(own_run):
    directory, _ = own_run
    described = json.loads((directory / "results/train/seed0/layers.json").read_text())
    by_name = {entry["name"]: entry for entry in described["layers"]}
    assert by_name["hidden_1"]["kernel_shape"] == [16, 12]
    # Only the methods of the run are listed.
    assert by_name["hidden_2"]["pruned_by"] == ["weight", "unit"]
    assert by_name["logits"]["pruned_by"] == []
    assert by_name["norm"]["class"] == "LayerNormalization"
    log = (directory / "logs/describe_model/seed0.log").read_text()
    assert "Dense hidden_1, kernel [16, 12]: pruned by weight, unit" in log
    assert "LayerNormalization norm: carried through unpruned" in log
    import_log = (directory / "logs/import_model/seed0.log").read_text()
    assert "LayerNormalization norm: weights [[12], [12]]" in import_log
    metrics = json.loads((directory / "results/train/seed0/metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.9


@pytest.mark.slow
def test_own_model_pruned_dense_kernels_only(own_run):
    directory, _ = own_run
    for method in ("weight", "unit"):
        for finetune in (0, 1):
            result = json.loads((directory / f"results/prune/seed0/{method}/layer/"
                                 f"ft{finetune}/k0.5000.json").read_text())
            layers = {layer["name"]: layer for layer in result["layers"]}
            assert set(layers) == {"hidden_1", "hidden_2", "logits"}
            assert layers["hidden_1"]["kernel_sparsity"] == pytest.approx(0.5)
            assert layers["hidden_2"]["kernel_sparsity"] == pytest.approx(0.5)
            assert layers["logits"]["pruned"] is False
            # LayerNormalization mixes units, so this model has no fast form.
            assert result["form"] is None
    assert not list((directory / "results/prune").rglob("*.npz"))
    assert (directory / "results/plots/matrices_weight.png").is_file()


@pytest.mark.slow
def test_own_model_masked_pruned_model_saved(own_run, own_files):
    directory, _ = own_run
    original = weights_by_layer(models.load_model(own_files / "own.keras"))
    path = directory / "results/prune/seed0/weight/layer/ft0/k0.5000.masked.keras"
    pruned = weights_by_layer(models.load_model(path))
    for name in ("norm", "logits"):
        for old, new in zip(original[name], pruned[name]):
            assert np.array_equal(old, new), name
    kernel = pruned["hidden_1"][0]
    assert np.count_nonzero(kernel == 0) == kernel.size // 2
    assert (directory / "results/prune/seed0/unit/layer/ft1/k0.5000.masked.keras").is_file()


@pytest.mark.slow
def test_own_dense_chain_gets_fast_forms(tmp_path, own_files):
    arrays = custom_arrays()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="relu"),
                              keras.layers.Dropout(0.2),
                              keras.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(arrays["x_train"], arrays["y_train"], epochs=5, batch_size=64, verbose=0)
    model.save(tmp_path / "chain.keras")
    own_config(tmp_path, tmp_path / "chain.keras", own_files / "data.npz")
    snakemake(tmp_path, "--cores", "2", "results/summary.csv")
    for method, form in (("weight", "sparse.npz"), ("unit", "compact.keras")):
        assert (tmp_path / f"results/prune/seed0/{method}/layer/ft0/k0.5000.{form}").is_file()
        assert not (tmp_path / f"results/prune/seed0/{method}/layer/ft0/"
                                f"k0.5000.masked.keras").exists()
        result = json.loads((tmp_path / f"results/prune/seed0/{method}/layer/ft0/"
                             f"k0.5000.json").read_text())
        assert result["form_same_classes"] is True
        assert result["form_max_abs_difference"] < 1e-4
    # At K = 0 the loss of a softmax model is the cross-entropy of the
    # probabilities it predicts.
    probabilities = model.predict(arrays["x_test"], verbose=0)
    expected = -np.mean(np.log(probabilities[np.arange(len(probabilities)), arrays["y_test"]]))
    dense = json.loads((tmp_path / "results/prune/seed0/weight/layer/ft0/k0.0000.json").read_text())
    assert dense["test_loss"] == pytest.approx(expected, rel=1e-4)


@pytest.mark.slow
def test_model_without_dense_stops_before_any_job(tmp_path, own_files):
    path = save(model_without_dense(), tmp_path / "conv.keras")
    own_config(tmp_path, path, own_files / "data.npz")
    result = snakemake(tmp_path, "--cores", "2", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"model.file: model file {path} has no Dense layer to prune" in output
    assert not (tmp_path / "results").exists()
    assert not (tmp_path / "resources").exists()


@pytest.mark.slow
def test_model_not_fitting_data_stops_before_pruning(tmp_path, own_files):
    model = keras.Sequential([keras.Input(shape=(5,)), keras.layers.Dense(CLASSES)])
    path = save(model, tmp_path / "five.keras")
    own_config(tmp_path, path, own_files / "data.npz")
    result = snakemake(tmp_path, "--cores", "2", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs/import_model/seed0.log").read_text()
    assert f"model file {path} does not fit the data in resources/custom.npz" in log
    assert "the model expects inputs of shape (5,)" in log
    assert not (tmp_path / "results/prune").exists()


@pytest.mark.slow
def test_model_with_too_few_outputs_stops(tmp_path, own_files):
    model = keras.Sequential([keras.Input(shape=(4, 4)), keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    path = save(model, tmp_path / "two.keras")
    own_config(tmp_path, path, own_files / "data.npz")
    result = snakemake(tmp_path, "--cores", "2", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs/import_model/seed0.log").read_text()
    assert "has 2 outputs, but the labels of resources/custom.npz go up to 2" in log


@pytest.mark.slow
def test_custom_data_with_mismatched_shapes_stops_fetch(tmp_path, own_files):
    arrays = custom_arrays()
    arrays["y_train"] = arrays["y_train"][:-10]
    np.savez(tmp_path / "bad.npz", **arrays)
    own_config(tmp_path, own_files / "own.keras", tmp_path / "bad.npz")
    result = snakemake(tmp_path, "--cores", "2", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs/fetch_custom.log").read_text()
    assert "y_train has 590 labels but x_train has 600 samples" in log
    assert not (tmp_path / "resources/custom.npz").exists()
    assert not (tmp_path / "results/prune").exists()


@pytest.mark.slow
def test_changed_custom_data_fetches_again(tmp_path, own_files):
    data_path = tmp_path / "data.npz"
    np.savez(data_path, **custom_arrays())
    own_config(tmp_path, own_files / "own.keras", data_path)
    snakemake(tmp_path, "--cores", "2", "resources/custom.npz")
    assert planned_jobs(tmp_path, "resources/custom.npz") == {}
    np.savez(data_path, **custom_arrays(seed=1))
    assert planned_jobs(tmp_path, "resources/custom.npz") == {"fetch_data": 1}


FASHION = Path(os.environ.get("PRUNELAB_FASHION_DIR", "/usr/share/datasets/fashion-mnist"))


@pytest.mark.slow
def test_fashion_mnist_from_debian_files(tmp_path):
    if not FASHION.is_dir():
        if os.environ.get("PRUNELAB_REQUIRE_FASHION") == "1":
            pytest.fail(f"{FASHION} is missing: apt-get install dataset-fashion-mnist")
        pytest.skip(f"{FASHION} is missing (apt-get install dataset-fashion-mnist)")
    config = tiny_config(FASHION)
    config["data"] = {"dataset": "fashion_mnist", "sources": [{"local": str(FASHION)}]}
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "1", "resources/fashion_mnist.npz")
    with np.load(tmp_path / "resources/fashion_mnist.npz") as archive:
        assert archive["x_train"].shape == (60000, 28, 28)
        assert np.bincount(archive["y_test"]).tolist() == [1000] * 10
    provenance = json.loads((tmp_path / "resources/fashion_mnist.provenance.json").read_text())
    assert provenance["dataset"] == "fashion_mnist"
