"""Snakemake adapter: write which layers of the model each method prunes, with their shapes."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

from prunelab.fileio import write_json
from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow

logger = log_to_file(snakemake.log[0])
configure_tensorflow(snakemake.threads)

from prunelab import model as models  # noqa: E402 (after the thread set-up)

params = snakemake.params
model = models.load_model(snakemake.input.model)
layers = models.describe_layers(model, params.prune_output_layer, params.methods)
for layer in layers:
    if "kernel_shape" in layer:
        pruned_by = ", ".join(layer["pruned_by"]) or "no method of this run"
        logger.info("Dense %s, kernel %s: pruned by %s", layer["name"],
                    layer["kernel_shape"], pruned_by)
    else:
        logger.info("%s %s: carried through unpruned", layer["class"], layer["name"])
write_json(snakemake.output.layers, {
    "model": snakemake.input.model,
    "methods": list(params.methods),
    "prune_output_layer": params.prune_output_layer,
    "layers": layers,
})
logger.info("wrote %s", snakemake.output.layers)
