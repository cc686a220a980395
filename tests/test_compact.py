import numpy as np
import pytest

from prunelab.compact import compact_arrays


def relu(values):
    return np.maximum(values, 0.0)


def forward(layers, x):
    for kernel, bias, activation in layers:
        x = activation(x @ kernel + bias)
    return x


def identity(values):
    return values


def test_compact_arrays_deletes_zero_column():
    hidden = (np.array([[1.0, 0.0, 2.0]]), np.array([0.5, 3.0, -1.0]), relu)
    output = (np.array([[1.0], [10.0], [100.0]]), np.array([0.25]), identity)
    (kernel, bias), (next_kernel, next_bias) = compact_arrays([hidden, output])
    assert np.array_equal(kernel, [[1.0, 2.0]])
    assert np.array_equal(bias, [0.5, -1.0])
    assert np.array_equal(next_kernel, [[1.0], [100.0]])
    # Unit 1 outputs relu(3) = 3 for every input, and 3 * 10 moves into the bias.
    assert np.array_equal(next_bias, [30.25])


def test_compact_arrays_negative_bias_folds_zero():
    hidden = (np.array([[1.0, 0.0]]), np.array([0.0, -4.0]), relu)
    output = (np.array([[2.0], [7.0]]), np.array([1.0]), identity)
    (_, _), (next_kernel, next_bias) = compact_arrays([hidden, output])
    assert next_kernel.shape == (1, 1)
    assert np.array_equal(next_bias, [1.0])


def test_compact_arrays_whole_layer_removed():
    hidden = (np.zeros((3, 2)), np.array([1.0, 2.0]), relu)
    output = (np.array([[1.0, -1.0], [3.0, 0.5]]), np.array([0.0, 1.0]), identity)
    (kernel, bias), (next_kernel, next_bias) = compact_arrays([hidden, output])
    assert kernel.shape == (3, 1)
    assert not kernel.any()
    assert not bias.any()
    assert not next_kernel.any()
    # relu(1) * [1, -1] + relu(2) * [3, 0.5] + [0, 1].
    assert np.array_equal(next_bias, [7.0, 1.0])


def test_compact_arrays_same_function():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(6, 5))
    first[:, [1, 3]] = 0.0
    second = rng.normal(size=(5, 4))
    second[:, [0]] = 0.0
    layers = [
        (first, rng.normal(size=5), relu),
        (second, rng.normal(size=4), relu),
        (rng.normal(size=(4, 3)), rng.normal(size=3), identity),
    ]
    compacted = compact_arrays(layers)
    assert [kernel.shape for kernel, _ in compacted] == [(6, 3), (3, 3), (3, 3)]
    x = rng.normal(size=(20, 6))
    expected = forward(layers, x)
    result = forward([(k, b, a) for (k, b), (_, _, a) in zip(compacted, layers)], x)
    assert np.allclose(result, expected, rtol=1e-12, atol=1e-12)


keras = pytest.importorskip("keras")

from prunelab import model as models  # noqa: E402
from prunelab.compact import compact_model  # noqa: E402


@pytest.fixture(scope="module")
def trained_like_model():
    keras.utils.set_random_seed(2)
    model = models.build_mlp(input_dim=20, hidden_units=[16, 12, 8], num_classes=4)
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        layer.set_weights([kernel, np.random.default_rng(3).normal(size=bias.shape).astype(np.float32)])
    return model


@pytest.mark.parametrize("k", [0, 0.5, 0.9, 0.99, 1.0])
def test_compact_model_matches_masked(trained_like_model, k):
    masked, _ = models.prune_model(trained_like_model, k, "unit")
    compact, units = compact_model(masked)
    x = np.random.default_rng(4).normal(size=(64, 20)).astype(np.float32)
    expected = masked.predict_on_batch(x)
    result = compact.predict_on_batch(x)
    assert np.allclose(result, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(result.argmax(axis=1), expected.argmax(axis=1))
    assert units[-1] == 4


def test_compact_model_unit_counts(trained_like_model):
    masked, _ = models.prune_model(trained_like_model, 0.5, "unit")
    _, units = compact_model(masked)
    # floor(0.5 * 16), floor(0.5 * 12), floor(0.5 * 8) units removed.
    assert units == [8, 6, 4, 4]


def test_compact_model_k_one_keeps_placeholders(trained_like_model):
    masked, _ = models.prune_model(trained_like_model, 1.0, "unit")
    compact, units = compact_model(masked)
    assert units == [1, 1, 1, 4]
    outputs = compact.predict_on_batch(np.random.default_rng(5).normal(size=(3, 20)).astype(np.float32))
    # Every input gives the same logits: the output layer's folded bias.
    assert np.allclose(outputs, outputs[0])


def test_compact_model_saves_and_loads(trained_like_model, tmp_path):
    masked, _ = models.prune_model(trained_like_model, 0.5, "unit")
    compact, _ = compact_model(masked)
    path = tmp_path / "compact.keras"
    compact.save(path)
    loaded = models.load_model(path)
    x = np.ones((2, 20), np.float32)
    assert np.array_equal(loaded.predict_on_batch(x), compact.predict_on_batch(x))


def test_compact_model_rejects_other_layers():
    inputs = keras.Input(shape=(4,))
    hidden = keras.layers.Dense(3)(inputs)
    outputs = keras.layers.Dense(2)(keras.layers.LayerNormalization()(hidden))
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="chain of Dense layers"):
        compact_model(model)


def test_compact_model_rejects_non_model():
    with pytest.raises(ValueError, match="received str"):
        compact_model("model.keras")
