"""TensorFlow process set-up: thread counts and determinism."""

import logging
import os

logger = logging.getLogger(__name__)


def available_cpus():
    """Return the number of CPUs this process may run on (its affinity mask)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def configure_tensorflow(threads, seed=None):
    """Fix TensorFlow's thread pools and, with a seed, make it deterministic.

    Call this before TensorFlow runs any operation: thread counts cannot
    change once the runtime has started. Both the intra-op and the inter-op
    pool get `threads` threads, or fewer when the process may run on fewer
    CPUs (its affinity mask, which a cluster's CPU allocation sets), because
    more threads than CPUs slow TensorFlow down.

    Args:
        threads: positive int, the threads the job was given.
        seed: int, or None to leave random state alone. With a seed, Python,
            numpy and TensorFlow are seeded and TensorFlow's deterministic
            ops are enabled, so two CPU runs give bit-identical results.

    Returns:
        The number of threads given to each pool.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer, received {threads!r}")
    cpus = available_cpus()
    used = min(threads, cpus)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    os.environ["OMP_NUM_THREADS"] = str(used)

    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(used)
    tf.config.threading.set_inter_op_parallelism_threads(used)
    logger.info(
        "job threads %d, CPUs available %d; TensorFlow %s threads: intra-op %d, inter-op %d",
        threads,
        cpus,
        tf.__version__,
        tf.config.threading.get_intra_op_parallelism_threads(),
        tf.config.threading.get_inter_op_parallelism_threads(),
    )

    if seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        logger.info("random seed %d, deterministic ops enabled", seed)
    return used
