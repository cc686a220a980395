import numpy as np

from prunelab.cost import dense_flops, nonzero_flops, nonzero_parameters


def test_dense_flops_default_network():
    shapes = [(784, 1000), (1000, 1000), (1000, 500), (500, 200), (200, 10)]
    kernels = [np.ones(shape, np.float32) for shape in shapes]
    assert dense_flops(kernels) == 4_772_000


def test_dense_flops_ignore_zeros():
    assert dense_flops([np.zeros((3, 4))]) == 24


def test_nonzero_flops_count_entries():
    kernel = np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    assert nonzero_flops([kernel, np.ones((2, 2))]) == 2 * 2 + 2 * 4


def test_nonzero_parameters_includes_biases():
    assert nonzero_parameters([np.array([[0.0, 1.0]]), np.array([0.0, -2.0, 3.0])]) == 3
