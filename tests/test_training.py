"""Training determinism and thread settings, each run in a fresh process."""

import subprocess
import sys

import numpy as np
import pytest

TRAIN_SCRIPT = """
import sys
import numpy as np
from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow

npz, output, log, seed, threads = sys.argv[1:6]
log_to_file(log)
configure_tensorflow(int(threads), seed=int(seed))
import tensorflow as tf
from prunelab import data, model as models

arrays = data.load_npz(npz)
model, history = models.train_model(
    arrays, hidden_units=[32, 16], epochs=2, batch_size=256, learning_rate=1e-3,
    schedule="cosine", validation_fraction=0.1, seed=int(seed),
)
np.savez(output, *model.get_weights())
print("threads", tf.config.threading.get_intra_op_parallelism_threads(),
      tf.config.threading.get_inter_op_parallelism_threads())
"""


def train_in_subprocess(npz, tmp_path, name, seed, threads=2):
    output = tmp_path / f"{name}.npz"
    log = tmp_path / f"{name}.log"
    subprocess.run(
        [sys.executable, "-c", TRAIN_SCRIPT, str(npz), str(output), str(log), str(seed),
         str(threads)],
        check=True, timeout=300,
    )
    with np.load(output) as archive:
        weights = [archive[key] for key in archive.files]
    return weights, log.read_text()


@pytest.mark.slow
def test_training_same_seed_bit_identical(mnist_npz, tmp_path):
    first, _ = train_in_subprocess(mnist_npz, tmp_path, "first", seed=3)
    second, _ = train_in_subprocess(mnist_npz, tmp_path, "second", seed=3)
    assert len(first) == len(second) == 6
    for a, b in zip(first, second):
        assert a.tobytes() == b.tobytes()


@pytest.mark.slow
def test_training_other_seed_differs(mnist_npz, tmp_path):
    first, _ = train_in_subprocess(mnist_npz, tmp_path, "first", seed=3)
    other, _ = train_in_subprocess(mnist_npz, tmp_path, "other", seed=4)
    assert first[0].tobytes() != other[0].tobytes()


@pytest.mark.slow
def test_training_logs_threads_and_epochs(mnist_npz, tmp_path):
    _, log = train_in_subprocess(mnist_npz, tmp_path, "run", seed=0, threads=1)
    assert "job threads 1" in log
    assert "intra-op 1, inter-op 1" in log
    assert "threads 1 1" in log
    assert "Epoch 2/2" in log
    assert "val_accuracy" in log


def test_configure_tensorflow_rejects_zero_threads():
    from prunelab.runtime import configure_tensorflow

    with pytest.raises(ValueError, match="threads must be a positive integer, received 0"):
        configure_tensorflow(0)


def test_configure_tensorflow_caps_at_available_cpus():
    script = (
        "import os\n"
        "os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})\n"
        "from prunelab.runtime import configure_tensorflow\n"
        "import tensorflow as tf\n"
        "print(configure_tensorflow(4), tf.config.threading.get_intra_op_parallelism_threads())\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.split() == ["1", "1"]


class FakeDevice:
    def __init__(self, name):
        self.name = name


class FakeConfig:
    """Stand-in for tf.config on a machine with the given GPUs."""

    def __init__(self, names):
        self.devices = [FakeDevice(name) for name in names]
        self.growth = {}
        self.experimental = self

    def list_physical_devices(self, kind):
        return self.devices if kind == "GPU" else []

    def set_memory_growth(self, device, enabled):
        self.growth[device.name] = enabled


def test_memory_growth_on_every_gpu(caplog):
    from prunelab.runtime import enable_gpu_memory_growth

    config = FakeConfig(["/physical_device:GPU:0", "/physical_device:GPU:1"])
    with caplog.at_level("INFO", logger="prunelab.runtime"):
        names = enable_gpu_memory_growth(config)
    assert names == ["/physical_device:GPU:0", "/physical_device:GPU:1"]
    assert config.growth == {"/physical_device:GPU:0": True, "/physical_device:GPU:1": True}
    assert "memory growth on" in caplog.text


def test_no_gpu_leaves_cpu_run_unchanged(caplog):
    from prunelab.runtime import enable_gpu_memory_growth

    config = FakeConfig([])
    with caplog.at_level("INFO", logger="prunelab.runtime"):
        assert enable_gpu_memory_growth(config) == []
    assert config.growth == {}
    assert "no GPU visible to TensorFlow; running on the CPU" in caplog.text


def test_requested_gpu_missing_warns():
    # This machine has no GPU that TensorFlow can use.
    script = (
        "import logging\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "from prunelab.runtime import configure_tensorflow\n"
        "import tensorflow as tf\n"
        "assert not tf.config.list_physical_devices('GPU')\n"
        "print(configure_tensorflow(1, gpus=1))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.split() == ["1"]
    assert "requested 1 GPU(s) but TensorFlow detects 0" in result.stderr
