"""Snakemake adapter: check the user's model against the data and put it in place of training."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

import shutil

import numpy as np

from prunelab import data
from prunelab.fileio import atomic_path, write_json
from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow

logger = log_to_file(snakemake.log[0])
seed = int(snakemake.wildcards.seed)
threads = configure_tensorflow(snakemake.threads, gpus=getattr(snakemake.resources, "gpu", 0))

from prunelab import model as models  # noqa: E402 (after the thread set-up)

source = snakemake.input.model_file
params = snakemake.params


def stop(message):
    logger.error("%s", message)
    raise SystemExit(1)


try:
    model = models.load_model(
        source, advice="Check that it was saved by Keras 3 with model.save('name.keras').")
except ValueError as error:
    stop(error)
if not models.dense_layers(model):
    stop(f"model file {source} has no Dense layer to prune; prunelab prunes Dense kernels only")
for layer in model.layers:
    logger.info("%s %s: weights %s", type(layer).__name__, layer.name,
                [list(weight.shape) for weight in layer.get_weights()])

arrays = data.load_fetched(snakemake.input.npz, data.spec_for(snakemake.config["data"]["dataset"]))
input_shape = models.input_shape_of(model)
try:
    x_test = models.prepare_inputs(arrays["x_test"], input_shape)
except ValueError as error:
    stop(f"model file {source} does not fit the data in {snakemake.input.npz}: {error}")
classes = int(model.outputs[0].shape[-1])
highest = int(max(np.max(arrays["y_train"]), np.max(arrays["y_test"])))
if highest >= classes:
    stop(f"model file {source} has {classes} outputs, but the labels of "
         f"{snakemake.input.npz} go up to {highest}; the model needs one output per class")

test = models.evaluate(model, x_test, arrays["y_test"], batch_size=params.batch_size)
logger.info("%s: input shape %s, %d outputs, test loss %.4f, test accuracy %.4f",
            source, input_shape, classes, test["loss"], test["accuracy"])

with atomic_path(snakemake.output.model) as temporary:
    shutil.copyfile(source, temporary)
nonzero, total = models.count_nonzero_parameters(model)
write_json(snakemake.output.metrics, {
    "seed": seed,
    "source": source,
    "source_sha256": data.sha256_file(source),
    "test_loss": test["loss"],
    "test_accuracy": test["accuracy"],
    "total_params": total,
    "epochs": None,
    "threads": threads,
})
logger.info("wrote %s and %s", snakemake.output.model, snakemake.output.metrics)
