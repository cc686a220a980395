"""Sparsity values K and their canonical form in file names.

A K value is written with exactly four decimals ("0.5000", "1.0000"), so file
names sort in K order and read back to the same float. A K that four decimals
cannot represent exactly, or two K values that share a name, are rejected.
"""

import math
import numbers

K_DECIMALS = 4
K_PATTERN = r"0\.\d{4}|1\.0000"


def format_k(k):
    """Format a sparsity K for a file name, with four decimals.

    Raises:
        ValueError: if k is not a finite number in [0, 1], or if four
            decimals do not read back to exactly the same float.
    """
    k = _check_k(k)
    label = f"{k:.{K_DECIMALS}f}"
    if float(label) != k:
        raise ValueError(
            f"K={k!r} has more than {K_DECIMALS} decimals, so it cannot be written "
            f"exactly in a file name; round it, for example to {label}"
        )
    return label


def parse_k(label):
    """Return the float K of a file-name label written by `format_k`."""
    k = float(label)
    if format_k(k) != label:
        raise ValueError(
            f"K label {label!r} is not canonical; expected {format_k(k)!r}"
        )
    return k


def check_k_list(values, key="k_values"):
    """Validate a list of K values and return them as floats, in order.

    Args:
        values: the list from the config.
        key: the config key, named in error messages.

    Raises:
        ValueError: on an empty list, a value that is not a number in
            [0, 1], a value that needs more than four decimals, or two values
            that map to the same file name.
    """
    if not isinstance(values, (list, tuple)) or len(values) == 0:
        raise ValueError(
            f"{key} must be a non-empty list of numbers in [0, 1], received {values!r}"
        )
    seen = {}
    result = []
    for value in values:
        try:
            k = _check_k(value)
            label = format_k(k)
        except (TypeError, ValueError) as error:
            raise ValueError(f"invalid value in {key}: {error}") from None
        if label in seen:
            raise ValueError(
                f"{key} contains {seen[label]!r} and {value!r}, which map to the same "
                f"file name k{label}; remove one of them"
            )
        seen[label] = value
        result.append(k)
    return result


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, numbers.Real):
        raise TypeError(
            f"K must be a number in [0, 1], received {k!r} of type {type(k).__name__}"
        )
    k = float(k)
    if not math.isfinite(k) or not 0.0 <= k <= 1.0:
        raise ValueError(f"K must be a number in [0, 1], received {k!r}")
    return k
