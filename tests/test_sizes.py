import gzip

import numpy as np
import pytest

from prunelab.sizes import file_bytes, gzip_bytes


def test_file_bytes_counts_content(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"x" * 1234)
    assert file_bytes(path) == 1234


def test_gzip_bytes_matches_gzip_module(tmp_path):
    path = tmp_path / "data.bin"
    content = np.random.default_rng(0).bytes(5000) + bytes(20000)
    path.write_bytes(content)
    assert gzip_bytes(path) == len(gzip.compress(content, compresslevel=9, mtime=0))


def test_gzip_bytes_shrinks_zeros(tmp_path):
    path = tmp_path / "zeros.bin"
    path.write_bytes(bytes(100_000))
    assert gzip_bytes(path) < 1000


keras = pytest.importorskip("keras")


def test_pruned_keras_model_gzips_smaller():
    from prunelab import model as models
    from prunelab.sizes import keras_model_bytes

    keras.utils.set_random_seed(0)
    model = models.build_mlp(input_dim=100, hidden_units=[200], num_classes=10)
    pruned, _ = models.prune_model(model, 0.9, "weight")
    dense_bytes, dense_gzip = keras_model_bytes(model)
    pruned_bytes, pruned_gzip = keras_model_bytes(pruned)
    # Zeros are still stored in the .keras file, so only gzip shrinks it.
    assert abs(pruned_bytes - dense_bytes) < 0.05 * dense_bytes
    assert pruned_gzip < 0.5 * dense_gzip
