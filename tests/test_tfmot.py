"""Tests of prunelab.tfmot_prune: tfmot pruning of Keras 3 models through tf_keras.

The module is skipped where tf_keras or tensorflow-model-optimization is
missing, unless PRUNELAB_REQUIRE_TFMOT=1, which turns the skip into a failure.
"""

import importlib.metadata
import importlib.util
import math
import os
import warnings

import numpy as np
import pytest

from prunelab import pruning, tfmot_prune

_PROBLEMS = tfmot_prune.missing_requirements()
if _PROBLEMS:
    if os.environ.get("PRUNELAB_REQUIRE_TFMOT") == "1":
        pytest.fail("PRUNELAB_REQUIRE_TFMOT=1 but tfmot pruning cannot run: "
                    + "; ".join(_PROBLEMS), pytrace=False)
    pytest.skip("tfmot pruning cannot run: " + "; ".join(_PROBLEMS), allow_module_level=True)

import keras  # noqa: E402 (after the skip, which needs no TensorFlow)

FEATURES = 20
CLASSES = 3
SETTINGS = {"epochs": 2, "batch_size": 16, "learning_rate": 1e-2, "seed": 7}


@pytest.fixture(autouse=True, scope="module")
def restore_legacy_keras_variable():
    """Undo TF_USE_LEGACY_KERAS=1, which load_tfmot sets for the whole process, after this module."""
    saved = os.environ.get("TF_USE_LEGACY_KERAS")
    yield
    if saved is None:
        os.environ.pop("TF_USE_LEGACY_KERAS", None)
    else:
        os.environ["TF_USE_LEGACY_KERAS"] = saved


def mlp(softmax=False):
    """Return a Keras 3 MLP with kernels of 640, 512 and 48 entries."""
    return keras.Sequential([
        keras.Input(shape=(FEATURES,), name="features"),
        keras.layers.Dense(32, activation="relu", name="hidden_1"),
        keras.layers.Dense(16, activation="relu", name="hidden_2"),
        keras.layers.Dense(CLASSES, activation="softmax" if softmax else None, name="logits"),
    ], name="tiny_mlp")


def mlp_with_dropout_and_batch_norm():
    return keras.Sequential([
        keras.Input(shape=(FEATURES,)),
        keras.layers.Dense(32, activation="relu", name="hidden_1"),
        keras.layers.Dropout(0.2, name="dropout"),
        keras.layers.BatchNormalization(name="batch_norm"),
        keras.layers.Dense(16, activation="relu", name="hidden_2"),
        keras.layers.Dense(CLASSES, name="logits"),
    ], name="regularized_mlp")


def random_data(rows, seed=0):
    generator = np.random.default_rng(seed)
    x = generator.normal(size=(rows, FEATURES)).astype(np.float32)
    y = generator.integers(0, CLASSES, size=rows)
    return x, y


def prune(model, k, prune_output_layer=False, rows=64, validation=None, **overrides):
    settings = {**SETTINGS, **overrides}
    return tfmot_prune.prune_with_tfmot(model, k, prune_output_layer, random_data(rows),
                                        validation, **settings)


def by_name(layers):
    return {layer["name"]: layer for layer in layers}


@pytest.mark.parametrize("k", [0.5, 0.75, 0.9])
def test_prune_reaches_requested_sparsity(k):
    _, layers, _ = prune(mlp(), k)

    for name in ("hidden_1", "hidden_2"):
        assert by_name(layers)[name]["pruned"]
        assert abs(by_name(layers)[name]["kernel_sparsity"] - k) <= 0.01, name


def test_prune_returns_prune_model_layout():
    pruned_model, layers, history = prune(mlp(), 0.5)

    assert [layer["name"] for layer in layers] == ["hidden_1", "hidden_2", "logits"]
    assert layers[0]["kernel_shape"] == [FEATURES, 32]
    kernel = pruned_model.get_layer("hidden_1").get_weights()[0]
    assert layers[0]["kernel_zeros"] == int(np.sum(kernel == 0))
    assert layers[0]["kernel_sparsity"] == pruning.sparsity(kernel)
    assert set(history) == {"loss", "accuracy"}
    assert len(history["loss"]) == SETTINGS["epochs"]


def test_output_layer_kept_by_default():
    _, layers, _ = prune(mlp(), 0.5)

    assert not by_name(layers)["logits"]["pruned"]
    assert by_name(layers)["logits"]["kernel_zeros"] == 0


def test_output_layer_pruned_on_request():
    _, layers, _ = prune(mlp(), 0.5, prune_output_layer=True)

    assert by_name(layers)["logits"]["pruned"]
    assert by_name(layers)["logits"]["kernel_sparsity"] == 0.5


def test_zero_learning_rate_changes_only_dense_kernels():
    """With learning rate 0, pruning alone changes the trainable weights.

    Only the pruned kernels may differ from the input model, and they must
    equal magnitude pruning of the original kernels. BatchNormalization's
    moving mean and variance still change in training mode, so only its
    gamma and beta are compared.
    """
    model = mlp_with_dropout_and_batch_norm()
    k = 0.5

    pruned_model, _, _ = prune(model, k, learning_rate=0.0)

    for name in ("hidden_1", "hidden_2"):
        kernel, bias = model.get_layer(name).get_weights()
        expected_kernel, _ = pruning.prune_kernel(kernel, bias, k, "weight")
        new_kernel, new_bias = pruned_model.get_layer(name).get_weights()
        np.testing.assert_array_equal(new_kernel, expected_kernel, err_msg=name)
        np.testing.assert_array_equal(new_bias, bias, err_msg=name)
    for original, new in zip(model.get_layer("logits").get_weights(),
                             pruned_model.get_layer("logits").get_weights()):
        np.testing.assert_array_equal(new, original)
    gamma, beta = model.get_layer("batch_norm").get_weights()[:2]
    new_gamma, new_beta = pruned_model.get_layer("batch_norm").get_weights()[:2]
    np.testing.assert_array_equal(new_gamma, gamma)
    np.testing.assert_array_equal(new_beta, beta)


def test_chain_with_dropout_and_batch_norm_reaches_sparsity():
    _, layers, _ = prune(mlp_with_dropout_and_batch_norm(), 0.8)

    assert abs(by_name(layers)["hidden_1"]["kernel_sparsity"] - 0.8) <= 0.01
    assert abs(by_name(layers)["hidden_2"]["kernel_sparsity"] - 0.8) <= 0.01


def test_three_steps_reach_sparsity():
    """Three steps are far fewer than tfmot's default frequency of 100 steps."""
    rows, batch_size = 48, 16
    assert math.ceil(rows / batch_size) == 3

    _, layers, _ = prune(mlp(), 0.6, rows=rows, epochs=1, batch_size=batch_size)

    assert abs(by_name(layers)["hidden_1"]["kernel_sparsity"] - 0.6) <= 0.01
    assert abs(by_name(layers)["hidden_2"]["kernel_sparsity"] - 0.6) <= 0.01


@pytest.mark.parametrize("total_steps, frequency", [(1, 1), (3, 1), (25, 2), (1000, 100), (50000, 100)])
def test_pruning_frequency_follows_step_count(total_steps, frequency):
    assert tfmot_prune.pruning_frequency(total_steps) == frequency


def test_pruning_frequency_rejects_zero_steps():
    with pytest.raises(ValueError, match="total_steps"):
        tfmot_prune.pruning_frequency(0)


def test_zero_k_prunes_nothing_but_fine_tunes():
    model = mlp()

    pruned_model, layers, history = prune(model, 0.0)

    for layer in layers:
        assert layer["kernel_zeros"] == 0, layer["name"]
    assert by_name(layers)["hidden_1"]["pruned"]
    original = model.get_layer("hidden_1").get_weights()[0]
    assert not np.array_equal(pruned_model.get_layer("hidden_1").get_weights()[0], original)
    assert len(history["loss"]) == SETTINGS["epochs"]


def test_keras3_model_matches_stripped_model(monkeypatch):
    _, tfmot = tfmot_prune.load_tfmot()
    sparsity_api = tfmot.sparsity.keras
    stripped_models = []
    strip_pruning = sparsity_api.strip_pruning

    def recording_strip_pruning(model):
        stripped_models.append(strip_pruning(model))
        return stripped_models[-1]

    monkeypatch.setattr(sparsity_api, "strip_pruning", recording_strip_pruning)
    x, _ = random_data(32, seed=1)

    pruned_model, _, _ = prune(mlp_with_dropout_and_batch_norm(), 0.7)

    assert len(stripped_models) == 1
    expected = stripped_models[0].predict(x, verbose=0)
    np.testing.assert_allclose(pruned_model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_input_model_unchanged():
    model = mlp()
    before = [weights.copy() for weights in model.get_weights()]

    prune(model, 0.5)

    for original, after in zip(before, model.get_weights()):
        np.testing.assert_array_equal(after, original)


def test_same_seed_gives_same_weights():
    model = mlp_with_dropout_and_batch_norm()

    first, _, _ = prune(model, 0.5)
    second, _, _ = prune(model, 0.5)

    for weights_first, weights_second in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(weights_first, weights_second)


def test_validation_scored_each_epoch():
    _, _, history = prune(mlp(), 0.5, validation=random_data(16, seed=2))

    assert len(history["val_loss"]) == SETTINGS["epochs"]
    assert len(history["val_accuracy"]) == SETTINGS["epochs"]


def test_empty_validation_skipped():
    empty = (np.zeros((0, FEATURES), np.float32), np.zeros((0,), np.int64))

    _, _, history = prune(mlp(), 0.5, validation=empty)

    assert "val_loss" not in history


@pytest.mark.parametrize("softmax", [False, True])
def test_loss_matches_model_output(softmax):
    """Train on labels the model can learn: the argmax of the first three features.

    Given from_logits=True, tf_keras quietly takes the logits below a
    softmax layer, but it warns, so no warning may mention from_logits.
    Logits taken as probabilities fail to learn, because they are not
    normalized.
    """
    x, _ = random_data(64)
    learnable = (x, np.argmax(x[:, :CLASSES], axis=1))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, _, history = tfmot_prune.prune_with_tfmot(
            mlp(softmax=softmax), 0.5, False, learnable, None,
            epochs=30, batch_size=16, learning_rate=1e-2, seed=7,
        )

    assert not [str(warning.message) for warning in caught if "from_logits" in str(warning.message)]
    assert history["loss"][-1] < 0.5


def test_outputs_probabilities_detects_softmax():
    assert tfmot_prune.outputs_probabilities(mlp(softmax=True))
    assert not tfmot_prune.outputs_probabilities(mlp())


@pytest.mark.parametrize("k", [1, 1.0, -0.1, 1.5, True, "0.5", None])
def test_check_k_rejects(k):
    with pytest.raises(ValueError, match="k must be"):
        tfmot_prune.check_k(k)


@pytest.mark.parametrize("k", [0, 0.0, 0.5, 0.99])
def test_check_k_accepts(k):
    assert tfmot_prune.check_k(k) == float(k)


def test_prune_rejects_k_one():
    with pytest.raises(ValueError, match="k must be in"):
        prune(mlp(), 1.0)


def test_branching_model_rejected_naming_layer():
    inputs = keras.Input(shape=(FEATURES,), name="features")
    left = keras.layers.Dense(8, name="left")(inputs)
    right = keras.layers.Dense(8, name="right")(inputs)
    merged = keras.layers.Add(name="merge")([left, right])
    outputs = keras.layers.Dense(CLASSES, name="logits")(merged)
    model = keras.Model(inputs, outputs, name="two_branches")

    with pytest.raises(ValueError, match="'right'") as raised:
        tfmot_prune.to_tf_keras(model)

    assert "two_branches" in str(raised.value)
    assert "not a chain" in str(raised.value)


def test_unsupported_layer_class_rejected():
    model = keras.Sequential([
        keras.Input(shape=(FEATURES, 1)),
        keras.layers.Conv1D(4, 3, name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(CLASSES),
    ], name="convolutional")

    with pytest.raises(ValueError, match="'conv' of class Conv1D") as raised:
        tfmot_prune.to_tf_keras(model)

    assert "Dense" in str(raised.value)


def test_custom_activation_rejected():
    model = keras.Sequential([
        keras.Input(shape=(FEATURES,)),
        keras.layers.Dense(CLASSES, activation=lambda x: 2 * x, name="doubled"),
    ])

    with pytest.raises(ValueError, match="'doubled' has the custom activation"):
        tfmot_prune.to_tf_keras(model)


def test_functional_chain_converted():
    inputs = keras.Input(shape=(4, 5), name="grid")
    flat = keras.layers.Flatten(name="flatten")(inputs)
    hidden = keras.layers.Dense(6, name="hidden")(flat)
    normalized = keras.layers.LayerNormalization(name="norm")(hidden)
    activated = keras.layers.Activation("tanh", name="tanh")(normalized)
    reshaped = keras.layers.Reshape((2, 3), name="reshape")(activated)
    outputs = keras.layers.Flatten(name="flatten_out")(reshaped)
    model = keras.Model(inputs, outputs, name="chain")
    x = np.random.default_rng(3).normal(size=(7, 4, 5)).astype(np.float32)

    converted = tfmot_prune.to_tf_keras(model)

    assert [layer.name for layer in converted.layers] == [layer.name for layer in model.layers[1:]]
    np.testing.assert_allclose(converted.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_supports_tfmot_from_class_names():
    assert tfmot_prune.supports_tfmot(["InputLayer", "Dense", "Dropout", "Dense"])
    assert not tfmot_prune.supports_tfmot(["Dense", "Conv2D"])
    assert tfmot_prune.unsupported_layer_classes(["Conv2D", "Dense", "Add", "Conv2D"]) == ["Conv2D", "Add"]


def test_missing_requirements_reports_missing_package(monkeypatch):
    find_spec = importlib.util.find_spec

    def find_spec_without_tfmot(name, *args, **kwargs):
        if name == "tensorflow_model_optimization":
            return None
        return find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec_without_tfmot)

    problems = tfmot_prune.missing_requirements()

    assert len(problems) == 1
    assert "tensorflow-model-optimization is not installed" in problems[0]
    assert tfmot_prune.INSTALL_HINT in problems[0]
    with pytest.raises(tfmot_prune.TfmotUnavailable, match="tensorflow-model-optimization"):
        tfmot_prune.load_tfmot()


def test_missing_requirements_reports_version_mismatch(monkeypatch):
    version = importlib.metadata.version

    def version_with_old_tf_keras(name):
        if name in ("tf_keras", "tf-keras"):
            return "2.15.1"
        return version(name)

    monkeypatch.setattr(importlib.metadata, "version", version_with_old_tf_keras)

    problems = tfmot_prune.missing_requirements()

    assert len(problems) == 1
    assert "tf_keras 2.15.1 does not match tensorflow" in problems[0]
    assert tfmot_prune.INSTALL_HINT in problems[0]


def test_missing_requirements_empty_here():
    assert tfmot_prune.missing_requirements() == []
