import subprocess
import sys
import time

import pytest

from prunelab.timing import TimingLock, time_call, time_workloads


def test_time_call_excludes_warmup():
    calls = []

    def function():
        # The first call is slow, as a traced or cold call would be.
        time.sleep(0.2 if not calls else 0.001)
        calls.append(1)

    result = time_call(function, repeats=5, warmup=1)
    assert len(calls) == 6
    assert max(result["samples_ms"]) < 100


def test_time_call_reports_quartiles():
    result = time_call(lambda: time.sleep(0.005), repeats=5)
    assert result["q1_ms"] <= result["median_ms"] <= result["q3_ms"]
    assert result["median_ms"] >= 5
    assert len(result["samples_ms"]) == 5


def test_time_call_statistics_on_fake_clock():
    durations_s = iter([0.010, 0.030, 0.020, 0.050, 0.040])
    now = [0.0]

    def clock():
        return now[0]

    def function():
        now[0] += next(durations_s, 0.0) if calls else 5.0
        calls.append(1)

    calls = []
    result = time_call(function, repeats=5, warmup=1, clock=clock)
    # The 5 s warm-up is excluded; samples are 10, 20, 30, 40 and 50 ms.
    assert result["samples_ms"] == pytest.approx([10, 30, 20, 50, 40])
    assert result["median_ms"] == pytest.approx(30)
    assert result["q1_ms"] == pytest.approx(20)
    assert result["q3_ms"] == pytest.approx(40)


def test_time_workloads_per_image_latency():
    import numpy as np

    seen = []
    result = time_workloads(lambda x: seen.append(len(x)), np.zeros((30, 2)), repeats=5,
                            single_calls=10)
    # One warm-up and 5 runs of the batch, then of 10 single images.
    assert seen[:6] == [30] * 6
    assert seen[6:] == [1] * 60
    assert set(result) == {"batch", "single"}


def test_timing_same_work_twice_agrees():
    import numpy as np

    matrix = np.random.default_rng(0).random((300, 300)).astype(np.float32)
    first = time_call(lambda: matrix @ matrix, repeats=9)
    second = time_call(lambda: matrix @ matrix, repeats=9)
    ratio = first["median_ms"] / second["median_ms"]
    assert 1 / 1.5 < ratio < 1.5


def test_time_call_rejects_few_repeats():
    with pytest.raises(ValueError, match="repeats must be at least 5, received 3"):
        time_call(lambda: None, repeats=3)


def test_time_call_rejects_no_warmup():
    with pytest.raises(ValueError, match="warmup must be at least 1"):
        time_call(lambda: None, warmup=0)


def start_lock_holder(path, mode, hold_s):
    """Start a process that holds the lock at `path` in `mode` for `hold_s` seconds."""
    holder = subprocess.Popen([
        sys.executable, "-c",
        "import sys, time\n"
        "from prunelab.timing import TimingLock\n"
        "lock = TimingLock(sys.argv[1]); getattr(lock, sys.argv[2])()\n"
        "print('held', flush=True); time.sleep(float(sys.argv[3])); lock.release()\n",
        str(path), mode, str(hold_s),
    ], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_timing_lock_exclusive_waits_for_shared(tmp_path):
    path = tmp_path / "timing.lock"
    holder = start_lock_holder(path, "shared", 1.0)
    lock = TimingLock(path)
    start = time.perf_counter()
    lock.exclusive()
    waited = time.perf_counter() - start
    lock.release()
    holder.wait(timeout=10)
    assert waited > 0.5


def test_timing_lock_freed_when_holder_killed(tmp_path):
    path = tmp_path / "timing.lock"
    holder = start_lock_holder(path, "exclusive", 60)
    holder.kill()
    holder.wait(timeout=10)
    lock = TimingLock(path)
    start = time.perf_counter()
    lock.exclusive()
    lock.release()
    assert time.perf_counter() - start < 5
