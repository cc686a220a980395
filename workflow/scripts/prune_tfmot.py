"""Snakemake adapter: prune the trained model with tfmot at one K, fine-tune, evaluate and time it."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

from prunelab import data, tfmot_prune
from prunelab.fileio import write_json
from prunelab.kvalues import parse_k
from prunelab.logs import log_to_file
from prunelab.timing import TIMING_LOCK_PATH, TimingLock

logger = log_to_file(snakemake.log[0])
wildcards = snakemake.wildcards
params = snakemake.params
settings = params.finetune


def stop(message):
    logger.error("%s", message)
    raise SystemExit(1)


# Checked before TensorFlow starts, so a missing extra fails in a second.
problems = tfmot_prune.missing_requirements()
if problems:
    stop("the tfmot method cannot run: " + "; ".join(problems))
if wildcards.scope != "layer":
    stop(f"tfmot prunes each layer on its own, so its scope is layer, not {wildcards.scope!r}")
if settings is None:
    stop("tfmot prunes while it fine-tunes, so its jobs need at least 1 fine-tuning epoch")
from prunelab.runtime import configure_tensorflow  # noqa: E402

lock = TimingLock(TIMING_LOCK_PATH)
lock.shared()
seed = int(wildcards.seed)
threads = configure_tensorflow(snakemake.threads, seed=seed,
                               gpus=getattr(snakemake.resources, "gpu", 0))
tfmot_prune.load_tfmot()

from prunelab import model as models  # noqa: E402
from prunelab.evaluation import evaluate_pruned  # noqa: E402

k = parse_k(wildcards.k)
model = models.load_model(snakemake.input.model)
arrays = data.load_fetched(snakemake.input.npz, data.spec_for(snakemake.config["data"]["dataset"]))
input_shape = models.input_shape_of(model)
x_test = models.prepare_inputs(arrays["x_test"], input_shape)
fit, validation = models.training_split(arrays, settings["validation_fraction"], seed, input_shape)
logger.info("loaded %s; fine-tuning on %d images, testing on %d", snakemake.input.model,
            len(fit[0]), len(x_test))

pruned, layers, history = tfmot_prune.prune_with_tfmot(
    model, k, params.prune_output_layer, fit, validation,
    epochs=settings["epochs"],
    batch_size=settings["batch_size"],
    learning_rate=settings["learning_rate"],
    seed=seed,
)
result = evaluate_pruned(
    pruned, layers, "weight", x_test, arrays["y_test"],
    form_path=getattr(snakemake.output, "form", None),
    masked_path=getattr(snakemake.output, "masked", None),
    lock=lock,
    batch_size=params.batch_size,
    timing_repeats=params.timing_repeats,
    single_image_calls=params.single_image_calls,
)
write_json(snakemake.output.json, {
    "seed": seed,
    "method": "tfmot",
    "scope": wildcards.scope,
    "finetune_epochs": int(wildcards.finetune),
    "finetune_learning_rate": settings["learning_rate"],
    "finetune_val_accuracy": history.get("val_accuracy"),
    "k": k,
    **result,
    "threads": threads,
})
logger.info("tfmot K=%s: wrote %s", wildcards.k, snakemake.output.json)
