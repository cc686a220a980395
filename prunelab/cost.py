"""Theoretical cost of a network of Dense layers: FLOPs and nonzero parameters.

One multiply-add counts as 2 FLOPs; bias additions and activations are not
counted. The unpruned 784-1000-1000-500-200-10 network costs 2 x 2,386,000 =
4,772,000 FLOPs per image.
"""

import numpy as np


def dense_flops(kernels):
    """Return FLOPs per image of dense matrix products with these kernels.

    This is the cost of the masked form, whose zeros are still multiplied.
    """
    return sum(2 * int(np.asarray(kernel).size) for kernel in kernels)


def nonzero_flops(kernels):
    """Return FLOPs per image when only nonzero kernel entries are multiplied.

    This is the ideal cost of a pruned network, reached by a sparse product
    or, for unit pruning, by the compact model.
    """
    return sum(2 * int(np.count_nonzero(kernel)) for kernel in kernels)


def nonzero_parameters(arrays):
    """Return the count of nonzero entries over kernels and biases."""
    return sum(int(np.count_nonzero(array)) for array in arrays)
