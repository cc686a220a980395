"""Wall-clock timing of a callable: warm-up excluded, median and quartiles."""

import os
import time

import numpy as np

# Relative to the workflow's working directory.
TIMING_LOCK_PATH = "results/.timing.lock"


def time_call(function, repeats=7, warmup=1, clock=time.perf_counter):
    """Time `function()` over several runs after discarded warm-up runs.

    Args:
        function: callable with no arguments.
        repeats: number of timed runs, at least 5.
        warmup: number of untimed runs first, at least 1, so that tracing,
            compilation and cache filling are not counted.
        clock: function returning seconds; tests pass a fake clock.

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
        start = clock()
        function()
        samples.append((clock() - start) * 1000.0)
    q1, median, q3 = np.percentile(samples, [25, 50, 75])
    return {
        "median_ms": float(median),
        "q1_ms": float(q1),
        "q3_ms": float(q3),
        "repeats": repeats,
        "samples_ms": [float(s) for s in samples],
    }


def time_workloads(predict, x, repeats=7, single_calls=100):
    """Time a prediction function on the whole batch and on single images.

    Args:
        predict: function from an input array of shape (n, features) to outputs.
        x: the batch, for example the 10,000 test images.
        repeats: timed runs of each workload, after one warm-up run.
        single_calls: single-image calls per timed run, so that one run lasts
            long enough for the clock. The latency is the run time divided by
            this count.

    Returns:
        {"batch": ..., "single": ...}, each a `time_call` result in ms. For
        "single" every value is per image.
    """
    batch = time_call(lambda: predict(x), repeats=repeats)
    images = [x[i:i + 1] for i in range(min(single_calls, len(x)))]

    def predict_each():
        for image in images:
            predict(image)

    single = time_call(predict_each, repeats=repeats)
    count = len(images)
    single = {
        "median_ms": single["median_ms"] / count,
        "q1_ms": single["q1_ms"] / count,
        "q3_ms": single["q3_ms"] / count,
        "repeats": single["repeats"],
        "samples_ms": [sample / count for sample in single["samples_ms"]],
    }
    return {"batch": batch, "single": single}


class TimingLock:
    """A lock file that keeps the workflow's other jobs off the CPU while one job times.

    Jobs hold the lock shared while they load, prune and evaluate, and
    exclusive while they time, so a timing runs only when no other job of
    the workflow is inside its shared section. The kernel releases the lock
    when a process dies, even by SIGKILL.

    NOTE: work outside these sections (TensorFlow's import, other programs on
    the machine) can still overlap a timing.
    """

    def __init__(self, path):
        import fcntl

        self._fcntl = fcntl
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._handle = open(path, "a")

    def shared(self):
        """Block until the lock is held shared."""
        self._fcntl.flock(self._handle, self._fcntl.LOCK_SH)

    def exclusive(self):
        """Block until the lock is held exclusive; a shared hold is given up first."""
        self._fcntl.flock(self._handle, self._fcntl.LOCK_EX)

    def release(self):
        """Release the lock and close its file."""
        self._fcntl.flock(self._handle, self._fcntl.LOCK_UN)
        self._handle.close()
