"""Magnitude pruning of Dense kernels: weight pruning and unit pruning.

Weight pruning zeroes the floor(K * n) entries of smallest absolute value in
a kernel of n entries. Unit pruning zeroes the floor(K * m) columns of
smallest L2 norm among the m columns of a kernel, together with the bias of
each removed unit, so that the unit outputs exactly 0.

Conventions:

- A Keras Dense kernel has shape (inputs, outputs), so a unit is a column and
  its L2 norm is taken over axis 0.
- Pruning is layer-wise: each kernel is ranked on its own.
- The count floor(K * n) is computed from the decimal value of K (its
  shortest repr), not from the binary product, so 0.7 * 1000 counts 700,
  never 699.
- Ties are broken deterministically: among equal magnitudes (or equal column
  norms) the entry with the lower flat index (or the column with the lower
  index) is pruned first.
- Weight pruning leaves biases untouched.
- K = 0 returns the input arrays bit for bit; K = 1 zeroes every entry (or
  every unit).
- By default only the hidden Dense layers are pruned and the output (logits)
  layer is kept. Weight pruning of the output layer can be requested; unit
  pruning of it is rejected because each output unit is a class.

The functions on numpy arrays are pure: they return new arrays and never
modify their inputs. `prune_model` returns a pruned copy of a Keras model.
"""

import math
import numbers
from fractions import Fraction

import numpy as np

METHODS = ("weight", "unit")


def pruned_count(k, n):
    """Return floor(k * n), computed exactly from the decimal value of k.

    Args:
        k: sparsity in [0, 1], a float or a string such as "0.7".
        n: number of items (entries or columns), a non-negative integer.

    Returns:
        The number of items to prune, an int between 0 and n.
    """
    fraction = _as_fraction(k)
    if n < 0:
        raise ValueError(f"n must be a non-negative integer, received {n!r}")
    return math.floor(fraction * n)


def _as_fraction(k):
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (numbers.Real, str)):
        raise TypeError(
            f"K must be a number in [0, 1], received {k!r} of type {type(k).__name__}"
        )
    try:
        if isinstance(k, (numbers.Integral, Fraction, str)):
            fraction = Fraction(int(k) if isinstance(k, numbers.Integral) else k)
        else:
            # The shortest decimal that reads back to the float (in its own
            # precision, for numpy float32) is the value the user wrote.
            fraction = Fraction(np.format_float_positional(k, unique=True, trim="-"))
    except (ValueError, ZeroDivisionError) as error:
        raise ValueError(f"K must be a number in [0, 1], received {k!r}") from error
    if not 0 <= fraction <= 1:
        raise ValueError(f"K must be in [0, 1], received {k!r}")
    return fraction


def weight_mask(kernel, k):
    """Compute the keep-mask of weight pruning for one kernel.

    Args:
        kernel: array of any shape.
        k: sparsity in [0, 1].

    Returns:
        A boolean array of the kernel's shape, False where the entry is pruned.
        Exactly floor(k * kernel.size) entries are False.
    """
    kernel = np.asarray(kernel)
    count = pruned_count(k, kernel.size)
    mask = np.ones(kernel.size, dtype=bool)
    # A stable sort keeps equal magnitudes in flat-index order, so ties are
    # pruned from the lowest flat index up.
    order = np.argsort(np.abs(kernel).ravel(), kind="stable")
    mask[order[:count]] = False
    return mask.reshape(kernel.shape)


def global_weight_masks(kernels, k):
    """Compute the keep-masks of global weight pruning over several kernels.

    One threshold serves all kernels together: exactly floor(k * N) of their
    N entries in total are pruned, those of smallest absolute value. Ties
    are pruned from the first kernel up, and within a kernel from the lowest
    flat index up, so the result does not depend on anything but the inputs.

    Args:
        kernels: list of arrays.
        k: sparsity in [0, 1].

    Returns:
        A list of boolean arrays, one per kernel and of its shape, False
        where the entry is pruned.
    """
    kernels = [np.asarray(kernel) for kernel in kernels]
    if not kernels:
        raise ValueError("global pruning needs at least one kernel")
    magnitudes = np.concatenate([np.abs(kernel).ravel() for kernel in kernels])
    count = pruned_count(k, magnitudes.size)
    keep = np.ones(magnitudes.size, dtype=bool)
    # The concatenation lists kernels in order and each kernel in flat-index
    # order, so a stable sort breaks ties in that order.
    order = np.argsort(magnitudes, kind="stable")
    keep[order[:count]] = False
    masks = []
    start = 0
    for kernel in kernels:
        masks.append(keep[start:start + kernel.size].reshape(kernel.shape))
        start += kernel.size
    return masks


def unit_mask(kernel, k):
    """Compute the keep-mask of unit pruning for one kernel of shape (inputs, units).

    Args:
        kernel: 2-D array; column j contains the incoming weights of unit j.
        k: sparsity in [0, 1].

    Returns:
        A boolean vector of length units, False for each removed unit.
        Exactly floor(k * units) entries are False: the columns of smallest
        L2 norm, ties pruned from the lowest column index up.
    """
    kernel = np.asarray(kernel)
    if kernel.ndim != 2:
        raise ValueError(
            f"unit pruning needs a 2-D kernel of shape (inputs, units), "
            f"received shape {kernel.shape}"
        )
    units = kernel.shape[1]
    count = pruned_count(k, units)
    # float64 keeps the ranking of norms exact enough for float32 kernels.
    norms = np.sqrt(np.sum(np.square(kernel.astype(np.float64)), axis=0))
    order = np.argsort(norms, kind="stable")
    mask = np.ones(units, dtype=bool)
    mask[order[:count]] = False
    return mask


def prune_kernel(kernel, bias, k, method):
    """Prune one Dense layer's kernel (and, for unit pruning, its bias).

    Args:
        kernel: array of shape (inputs, units).
        bias: array of shape (units,), or None for a layer without bias.
        k: sparsity in [0, 1].
        method: "weight" (zero the smallest |w|) or "unit" (zero the columns
            of smallest L2 norm and their biases).

    Returns:
        A tuple (pruned_kernel, pruned_bias) of new arrays with the input
        dtypes. pruned_bias is None when bias is None. With k = 0 both are
        equal to the inputs bit for bit.
    """
    kernel = np.asarray(kernel)
    if method == "weight":
        mask = weight_mask(kernel, k)
        new_bias = None if bias is None else np.array(bias, copy=True)
        return np.where(mask, kernel, np.zeros_like(kernel)), new_bias
    if method == "unit":
        keep = unit_mask(kernel, k)
        new_kernel = np.where(keep[np.newaxis, :], kernel, np.zeros_like(kernel))
        if bias is None:
            return new_kernel, None
        bias = np.asarray(bias)
        if bias.shape != (kernel.shape[1],):
            raise ValueError(
                f"bias must have shape ({kernel.shape[1]},) to match the kernel's "
                f"units, received shape {bias.shape}"
            )
        return new_kernel, np.where(keep, bias, np.zeros_like(bias))
    raise ValueError(f"method must be one of {METHODS}, received {method!r}")


def sparsity(array):
    """Return the fraction of entries of an array that are exactly zero."""
    array = np.asarray(array)
    if array.size == 0:
        return 0.0
    return float(np.count_nonzero(array == 0) / array.size)
