"""Snakemake adapter: train the MLP and save the model, history and test metrics."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

import pandas as pd

from prunelab import data
from prunelab.fileio import atomic_path, write_json
from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow

logger = log_to_file(snakemake.log[0])
seed = int(snakemake.wildcards.seed)
threads = configure_tensorflow(snakemake.threads, seed=seed, gpus=getattr(snakemake.resources, "gpu", 0))

from prunelab import model as models  # noqa: E402 (after the thread set-up)

params = snakemake.params
arrays = data.load_fetched(snakemake.input.npz, data.spec_for(snakemake.config["data"]["dataset"]))
logger.info("loaded %s: x_train %s, x_test %s", snakemake.input.npz,
            arrays["x_train"].shape, arrays["x_test"].shape)

model, history = models.train_model(
    arrays,
    hidden_units=params.hidden_units,
    epochs=params.epochs,
    batch_size=params.batch_size,
    learning_rate=params.learning_rate,
    schedule=params.lr_schedule,
    validation_fraction=params.validation_fraction,
    seed=seed,
)

x_test = models.prepare_inputs(arrays["x_test"])
test = models.evaluate(model, x_test, arrays["y_test"], batch_size=params.batch_size)
logger.info("test loss %.4f, test accuracy %.4f", test["loss"], test["accuracy"])

history_frame = pd.DataFrame(history)
history_frame.insert(0, "epoch", range(1, len(history_frame) + 1))
with atomic_path(snakemake.output.history) as temporary:
    history_frame.to_csv(temporary, index=False)
with atomic_path(snakemake.output.model) as temporary:
    model.save(temporary)
nonzero, total = models.count_nonzero_parameters(model)
write_json(snakemake.output.metrics, {
    "seed": seed,
    "test_loss": test["loss"],
    "test_accuracy": test["accuracy"],
    "total_params": total,
    "epochs": params.epochs,
    "threads": threads,
})
logger.info("wrote %s, %s and %s", snakemake.output.model,
            snakemake.output.history, snakemake.output.metrics)
