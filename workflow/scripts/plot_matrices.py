"""Snakemake adapter: draw the pruned weight matrices of one method at one K."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow
from prunelab.timing import TIMING_LOCK_PATH, TimingLock

logger = log_to_file(snakemake.log[0])
# Held shared, so no inference timing runs while this job loads and draws.
lock = TimingLock(TIMING_LOCK_PATH)
lock.shared()
configure_tensorflow(snakemake.threads)

from prunelab import model as models  # noqa: E402 (after the thread set-up)
from prunelab.plots import plot_matrices  # noqa: E402

params = snakemake.params
method = snakemake.wildcards.method

model = models.load_model(snakemake.input.model[0])
pruned, layers = models.prune_model(model, params.k, method, params.prune_output_layer)
kernels = [
    (layer.name, layer.get_weights()[0])
    for layer, record in zip(models.dense_layers(pruned), layers)
    if record["pruned"]
]
plot_matrices(kernels, method, params.k, snakemake.output.figures, dpi=params.dpi)
logger.info("wrote %s", ", ".join(snakemake.output.figures))
lock.release()
