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


def configure_tensorflow(threads, seed=None, gpus=0):
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
        gpus: GPUs the job requested; a warning is logged when TensorFlow
            detects fewer.

    When TensorFlow detects a GPU, its memory growth is switched on, so that
    jobs running at once share the GPU instead of the first taking all of
    its memory.

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

    visible = enable_gpu_memory_growth(tf.config)
    if gpus > len(visible):
        logger.warning(
            "the job requested %d GPU(s) but TensorFlow detects %d, so it runs on %s. "
            "Check the CUDA libraries and CUDA_VISIBLE_DEVICES, or set gpus to 0 in the config",
            gpus, len(visible), "those" if visible else "the CPU",
        )

    if seed is not None:
        import keras

        keras.utils.set_random_seed(seed)
        tf.config.experimental.enable_op_determinism()
        logger.info("random seed %d, deterministic ops enabled", seed)
    return used


def enable_gpu_memory_growth(tf_config):
    """Let TensorFlow take GPU memory as it needs it, on every visible GPU.

    By default TensorFlow reserves almost all the memory of a GPU when it
    starts, so a second job on the same GPU fails to allocate. Call this
    before TensorFlow uses a GPU.

    Args:
        tf_config: the `tf.config` module (a parameter so that tests can
            pass a stand-in on machines without a GPU).

    Returns:
        The names of the GPUs, empty when there is none.
    """
    gpus = tf_config.list_physical_devices("GPU")
    for gpu in gpus:
        tf_config.experimental.set_memory_growth(gpu, True)
    names = [gpu.name for gpu in gpus]
    if names:
        logger.info("GPUs %s: memory growth on, so parallel jobs share them", ", ".join(names))
    else:
        logger.info("no GPU visible to TensorFlow; running on the CPU")
    return names
