"""Snakemake adapter: prune the trained model at one (method, K), evaluate and time it."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

from prunelab import data
from prunelab.fileio import write_json
from prunelab.kvalues import parse_k
from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow
from prunelab.timing import TIMING_LOCK_PATH, TimingLock

logger = log_to_file(snakemake.log[0])
lock = TimingLock(TIMING_LOCK_PATH)
lock.shared()
finetune_settings = snakemake.params.finetune
# Fine-tuning shuffles the training images: seed it like training.
threads = configure_tensorflow(
    snakemake.threads,
    seed=int(snakemake.wildcards.seed) if finetune_settings else None,
    gpus=getattr(snakemake.resources, "gpu", 0),
)

import keras  # noqa: E402 (after the thread set-up)

from prunelab import model as models  # noqa: E402
from prunelab.evaluation import evaluate_pruned  # noqa: E402
from prunelab.finetune import finetune, pruning_masks  # noqa: E402

wildcards = snakemake.wildcards
params = snakemake.params
k = parse_k(wildcards.k)
method = params.method

model = models.load_model(snakemake.input.model)
arrays = data.load_fetched(snakemake.input.npz, data.spec_for(snakemake.config["data"]["dataset"]))
x_test = models.prepare_inputs(arrays["x_test"], models.input_shape_of(model))
y_test = arrays["y_test"]
logger.info("loaded %s and x_test %s", snakemake.input.model, x_test.shape)

pruned, layers = models.prune_model(model, k, method, params.prune_output_layer,
                                    scope=params.scope)
finetune_history = None
if finetune_settings:
    masks = pruning_masks(pruned, layers, method)
    finetune_history = finetune(pruned, masks, arrays, seed=int(wildcards.seed),
                                **finetune_settings)
    # A copy without the optimizer state, which would count in the size: a
    # clone of the fine-tuned model comes back compiled, a clone of the
    # loaded (uncompiled) model does not.
    tuned = pruned
    pruned = keras.models.clone_model(model)
    pruned.set_weights(tuned.get_weights())
    layers = models.count_kernel_zeros(pruned, layers)
result = evaluate_pruned(
    pruned, layers, method, x_test, y_test,
    form_path=getattr(snakemake.output, "form", None),
    masked_path=getattr(snakemake.output, "masked", None),
    lock=lock,
    batch_size=params.batch_size,
    timing_repeats=params.timing_repeats,
    single_image_calls=params.single_image_calls,
)
write_json(snakemake.output.json, {
    "seed": int(wildcards.seed),
    "method": method,
    "scope": wildcards.scope,
    "finetune_epochs": int(wildcards.finetune),
    "finetune_learning_rate": finetune_settings["learning_rate"] if finetune_settings else None,
    "finetune_val_accuracy": (finetune_history or {}).get("val_accuracy"),
    "k": k,
    **result,
    "threads": threads,
})
logger.info("method %s K=%s: wrote %s", method, wildcards.k, snakemake.output.json)
