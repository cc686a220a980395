import numpy as np
import pytest

from prunelab import pruning
from prunelab.pruning import prune_kernel, pruned_count, unit_mask, weight_mask


def test_pruned_count_floors():
    assert pruned_count(0.5, 5) == 2


def test_pruned_count_decimal_product_exact():
    # In binary floating point 0.29 * 100 is 28.999999999999996.
    assert 0.29 * 100 < 29
    assert pruned_count(0.29, 100) == 29


@pytest.mark.parametrize("k", [0.7, 0.57, 0.29, 0.35, 0.99, 0.97])
def test_pruned_count_matches_decimal(k):
    for n in (100, 1000, 784000, 200):
        expected = int(round(k * 10000)) * n // 10000
        assert pruned_count(k, n) == expected, (k, n)


def test_pruned_count_rejects_k_above_one():
    with pytest.raises(ValueError, match="K must be in"):
        pruned_count(1.5, 10)


def test_pruned_count_rejects_non_number():
    with pytest.raises(TypeError, match="of type list"):
        pruned_count(["half"], 10)


def test_weight_pruning_zeroes_smallest_magnitudes():
    kernel = np.array([[0.5, -0.1], [0.3, -0.9]], dtype=np.float32)
    pruned, bias = prune_kernel(kernel, np.array([1.0, 2.0]), 0.5, "weight")
    expected = np.array([[0.5, 0.0], [0.0, -0.9]], dtype=np.float32)
    assert np.array_equal(pruned, expected)


def test_weight_pruning_keeps_biases():
    bias = np.array([0.0, -3.0], dtype=np.float32)
    _, pruned_bias = prune_kernel(np.ones((2, 2), np.float32), bias, 1.0, "weight")
    assert np.array_equal(pruned_bias, bias)


def test_weight_pruning_floor_count():
    kernel = np.arange(1, 8, dtype=np.float32).reshape(7, 1)
    mask = weight_mask(kernel, 0.5)
    # floor(0.5 * 7) = 3: the values 1, 2 and 3 go.
    assert np.array_equal(mask.ravel(), [False, False, False, True, True, True, True])


def test_weight_pruning_ties_lowest_flat_index_first():
    kernel = np.array([[2.0, 1.0], [-1.0, 1.0]], dtype=np.float32)
    mask = weight_mask(kernel, 0.5)
    # Three entries tie at |w| = 1 at flat indices 1, 2 and 3; two are pruned.
    assert np.array_equal(mask, [[True, False], [False, True]])


def test_weight_pruning_exact_count_with_many_ties():
    kernel = np.zeros((10, 10), dtype=np.float32) + 0.25
    mask = weight_mask(kernel, 0.37)
    assert np.count_nonzero(~mask) == 37


def test_weight_pruning_sign_ignored():
    kernel = np.array([[-5.0, 0.1, 4.0, -0.2]], dtype=np.float32)
    pruned, _ = prune_kernel(kernel, None, 0.5, "weight")
    assert np.array_equal(pruned, [[-5.0, 0.0, 4.0, 0.0]])


def test_unit_pruning_zeroes_whole_columns():
    # Column L2 norms: 5, 1, 13.
    kernel = np.array([[3.0, 1.0, 5.0], [4.0, 0.0, 12.0]], dtype=np.float32)
    bias = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    pruned, pruned_bias = prune_kernel(kernel, bias, 0.67, "unit")
    # floor(0.67 * 3) = 2 columns: norms 1 and 5.
    expected = np.array([[0.0, 0.0, 5.0], [0.0, 0.0, 12.0]], dtype=np.float32)
    assert np.array_equal(pruned, expected)
    assert np.array_equal(pruned_bias, [0.0, 0.0, 3.0])


def test_unit_pruning_uses_l2_not_l1():
    # L1 norms 7 and 6 would prune column 1; L2 norms 5 and 6 prune column 0.
    kernel = np.array([[3.0, 6.0], [4.0, 0.0]], dtype=np.float32)
    keep = unit_mask(kernel, 0.5)
    assert np.array_equal(keep, [False, True])


def test_unit_pruning_reduces_axis_zero():
    # A (1, 3) kernel has three units; rows are inputs, not units.
    kernel = np.array([[0.1, 0.3, 0.2]], dtype=np.float32)
    keep = unit_mask(kernel, 0.34)
    assert keep.shape == (3,)
    assert np.array_equal(keep, [False, True, True])


def test_unit_pruning_ties_lowest_column_first():
    kernel = np.array([[1.0, -1.0, 1.0, 2.0]], dtype=np.float32)
    keep = unit_mask(kernel, 0.5)
    assert np.array_equal(keep, [False, False, True, True])


def test_unit_pruning_floor_count():
    kernel = np.arange(1, 8, dtype=np.float32).reshape(1, 7)
    keep = unit_mask(kernel, 0.99)
    # floor(0.99 * 7) = 6.
    assert np.count_nonzero(~keep) == 6


def test_unit_pruning_rejects_bad_bias_shape():
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        prune_kernel(np.ones((2, 3), np.float32), np.ones(2, np.float32), 0.5, "unit")


def test_unit_pruning_rejects_1d_kernel():
    with pytest.raises(ValueError, match="2-D kernel"):
        unit_mask(np.ones(4), 0.5)


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_k_zero_returns_input_bit_for_bit(method):
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(5, 4)).astype(np.float32)
    kernel[0, 0] = -0.0
    bias = rng.normal(size=4).astype(np.float32)
    pruned, pruned_bias = prune_kernel(kernel, bias, 0, method)
    assert pruned.tobytes() == kernel.tobytes()
    assert pruned_bias.tobytes() == bias.tobytes()
    assert pruned.dtype == np.float32


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_k_one_zeroes_every_entry(method):
    kernel = np.ones((3, 4), np.float32)
    pruned, _ = prune_kernel(kernel, np.ones(4, np.float32), 1.0, method)
    assert np.count_nonzero(pruned) == 0


def test_unit_pruning_k_one_zeroes_biases():
    _, bias = prune_kernel(np.ones((3, 4), np.float32), np.ones(4, np.float32), 1, "unit")
    assert np.count_nonzero(bias) == 0


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_prune_kernel_leaves_inputs_unchanged(method):
    kernel = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    bias = np.array([1.0, 1.0], dtype=np.float32)
    prune_kernel(kernel, bias, 0.5, method)
    assert np.array_equal(kernel, [[1.0, 2.0], [3.0, 4.0]])
    assert np.array_equal(bias, [1.0, 1.0])


def test_prune_kernel_rejects_unknown_method():
    with pytest.raises(ValueError, match="method must be one of"):
        prune_kernel(np.ones((2, 2)), None, 0.5, "channel")


def test_sparsity_counts_exact_zeros():
    assert pruning.sparsity(np.array([0.0, 1e-30, -0.0, 2.0])) == 0.5


@pytest.mark.parametrize("k, n, expected", [
    (np.float64(0.5), 10, 5),
    (np.float32(0.7), 1000, 700),
    (np.int64(1), 7, 7),
])
def test_pruned_count_accepts_numpy_scalars(k, n, expected):
    assert pruned_count(k, n) == expected


@pytest.mark.parametrize("k", [float("nan"), float("inf"), "abc"])
def test_pruned_count_rejects_non_finite(k):
    with pytest.raises(ValueError, match="K must be a number in"):
        pruned_count(k, 10)


def test_global_prunes_exact_total_count():
    generator = np.random.default_rng(0)
    kernels = [generator.normal(size=(7, 5)), generator.normal(size=(5, 3))]
    masks = pruning.global_weight_masks(kernels, 0.3)
    # floor(0.3 * 50) = 15 entries of the 35 + 15.
    assert sum(int((~mask).sum()) for mask in masks) == 15
    assert [mask.shape for mask in masks] == [(7, 5), (5, 3)]


def test_global_uses_one_threshold():
    first = np.array([[0.1, 0.9], [0.8, 0.7]])
    second = np.array([[0.2, 0.3, 5.0]])
    masks = pruning.global_weight_masks([first, second], 0.43)
    # floor(0.43 * 7) = 3: the smallest magnitudes over both kernels, 0.1, 0.2 and 0.3.
    assert masks[0].tolist() == [[False, True], [True, True]]
    assert masks[1].tolist() == [[False, False, True]]


def test_global_ties_first_kernel_first():
    first = np.full((2, 2), 0.5)
    second = np.full((1, 2), 0.5)
    masks = pruning.global_weight_masks([first, second], 0.5)
    # 3 of 6 tied entries: the first kernel's flat indices 0, 1 and 2.
    assert masks[0].tolist() == [[False, False], [False, True]]
    assert masks[1].tolist() == [[True, True]]


def test_global_uneven_layer_sparsity():
    small = np.full((10, 10), 0.01)
    large = np.full((10, 10), 1.0)
    masks = pruning.global_weight_masks([small, large], 0.5)
    assert (~masks[0]).sum() == 100
    assert (~masks[1]).sum() == 0


def test_global_k_zero_and_one():
    kernels = [np.ones((3, 3)), np.ones((2, 2))]
    assert all(mask.all() for mask in pruning.global_weight_masks(kernels, 0))
    assert not any(mask.any() for mask in pruning.global_weight_masks(kernels, 1))
