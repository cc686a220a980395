import numpy as np
import pytest

from prunelab.sparse import SparseNetwork


def test_sparse_network_matches_dense_numpy():
    rng = np.random.default_rng(0)
    first = rng.normal(size=(6, 4)).astype(np.float32)
    first[first < 0.3] = 0.0
    second = rng.normal(size=(4, 3)).astype(np.float32)
    b1 = rng.normal(size=4).astype(np.float32)
    b2 = rng.normal(size=3).astype(np.float32)
    network = SparseNetwork([(first, b1, "relu"), (second, b2, "linear")])
    x = rng.normal(size=(5, 6)).astype(np.float32)
    expected = np.maximum(x @ first + b1, 0) @ second + b2
    assert np.allclose(network.predict(x), expected, rtol=1e-6, atol=1e-6)


def test_sparse_network_stores_only_nonzeros():
    kernel = np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    network = SparseNetwork([(kernel, np.zeros(2), "linear")])
    assert network.nonzero_weights() == 2


def test_sparse_network_rejects_activation():
    with pytest.raises(ValueError, match="received 'tanh'"):
        SparseNetwork([(np.ones((2, 2)), np.zeros(2), "tanh")])


def test_sparse_network_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(5, 3)).astype(np.float32)
    kernel[:, 1] = 0.0
    network = SparseNetwork([(kernel, rng.normal(size=3), "relu")])
    path = tmp_path / "sparse.npz"
    network.save(path)
    loaded = SparseNetwork.load(path)
    x = rng.normal(size=(4, 5)).astype(np.float32)
    assert np.array_equal(loaded.predict(x), network.predict(x))


keras = pytest.importorskip("keras")

from prunelab import model as models  # noqa: E402


@pytest.fixture(scope="module")
def small_model():
    keras.utils.set_random_seed(7)
    return models.build_mlp(input_dim=30, hidden_units=[20, 10], num_classes=5)


@pytest.mark.parametrize("k", [0, 0.5, 0.9, 0.99, 1.0])
def test_sparse_form_matches_masked(small_model, k):
    masked, _ = models.prune_model(small_model, k, "weight")
    network = SparseNetwork.from_keras(masked)
    x = np.random.default_rng(2).random((50, 30)).astype(np.float32)
    expected = masked.predict_on_batch(x)
    result = network.predict(x)
    assert np.allclose(result, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(result.argmax(axis=1), expected.argmax(axis=1))


def test_sparse_form_nonzero_count(small_model):
    masked, _ = models.prune_model(small_model, 0.5, "weight")
    network = SparseNetwork.from_keras(masked)
    # floor(0.5 * 600) and floor(0.5 * 200) pruned; the 50 output weights stay.
    assert network.nonzero_weights() == 300 + 100 + 50


def test_sparse_network_chunks_match_whole_batch():
    from prunelab import sparse

    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(8, 4)).astype(np.float32)
    network = SparseNetwork([(kernel, np.ones(4), "relu")])
    x = rng.normal(size=(sparse.CHUNK_IMAGES * 2 + 7, 8)).astype(np.float32)
    expected = np.maximum(x @ kernel + 1, 0)
    result = network.predict(x)
    assert result.shape == expected.shape
    assert np.allclose(result, expected, rtol=1e-5, atol=1e-5)


def test_sparse_network_load_names_damaged_file(tmp_path):
    path = tmp_path / "sparse.npz"
    SparseNetwork([(np.ones((3, 2), np.float32), np.zeros(2), "relu")]).save(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match=f"cannot load the sparse model {path}"):
        SparseNetwork.load(path)


def test_sparse_network_load_rejects_other_npz(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ValueError, match="contains no layer arrays"):
        SparseNetwork.load(path)


def saved_arrays(tmp_path):
    path = tmp_path / "good.npz"
    layers = [(np.eye(3, 4, dtype=np.float32), np.zeros(4), "relu"),
              (np.ones((4, 2), np.float32), np.zeros(2), "linear")]
    SparseNetwork(layers).save(path)
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


@pytest.mark.parametrize("change, message", [
    (lambda a: a["layer0_indices"].__setitem__(0, 300), "indices"),
    (lambda a: a.update(layer0_bias=np.zeros(3, np.float32)), "bias of shape"),
    (lambda a: a.update(layer1_shape=np.array([2, 5])), "takes 5 inputs"),
    (lambda a: a["layer1_data"].__setitem__(0, np.nan), "NaN or infinite"),
])
def test_sparse_network_load_rejects_damage(tmp_path, change, message):
    arrays = saved_arrays(tmp_path)
    change(arrays)
    path = tmp_path / "damaged.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=message):
        SparseNetwork.load(path)


def test_sparse_network_load_random_bytes(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(ValueError, match="not an npz") as caught:
        SparseNetwork.load(path)
    assert "allow_pickle" not in str(caught.value)
