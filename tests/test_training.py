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
