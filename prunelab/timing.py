"""Wall-clock timing of a callable: warm-up excluded, median and quartiles."""

import time

import numpy as np


def time_call(function, repeats=7, warmup=1):
    """Time `function()` over several runs after discarded warm-up runs.

    Args:
        function: callable with no arguments.
        repeats: number of timed runs, at least 5.
        warmup: number of untimed runs first, at least 1, so that tracing,
            compilation and cache filling are not counted.

    Returns:
        dict with median_ms, q1_ms, q3_ms (first and third quartiles),
        repeats and samples_ms (every timed run, in order).
    """
    if repeats < 5:
        raise ValueError(f"repeats must be at least 5, received {repeats!r}")
    if warmup < 1:
        raise ValueError(f"warmup must be at least 1, received {warmup!r}")
    for _ in range(warmup):
        function()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000.0)
    q1, median, q3 = np.percentile(samples, [25, 50, 75])
    return {
        "median_ms": float(median),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "repeats": repeats,
        "samples_ms": [float(s) for s in samples],
    }


def time_inference(model, x, repeats=7, warmup=1):
    """Time one forward pass of a Keras model over the whole array `x`.

    All of `x` goes through the model as a single batch, with
    `predict_on_batch`.
    """
    return time_call(lambda: model.predict_on_batch(x), repeats=repeats, warmup=warmup)
