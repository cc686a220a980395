"""Snakemake adapter: prune the trained model at one (method, K), evaluate and time it."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

import numpy as np

from prunelab import cost, data
from prunelab.fileio import atomic_path, write_json
from prunelab.kvalues import parse_k
from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow
from prunelab.sizes import file_bytes, gzip_bytes, keras_model_bytes
from prunelab.timing import TIMING_LOCK_PATH, TimingLock, time_workloads

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
from prunelab.finetune import finetune, pruning_masks  # noqa: E402
from prunelab.forms import fast_form  # noqa: E402

wildcards = snakemake.wildcards
params = snakemake.params
k = parse_k(wildcards.k)
method = params.method

model = models.load_model(snakemake.input.model)
arrays = data.load_fetched(snakemake.input.npz)
x_test = models.prepare_inputs(arrays["x_test"])
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
achieved = models.achieved_sparsity(layers)
for layer in layers:
    logger.info("layer %s %s: pruned %s, kernel sparsity %.4f", layer["name"],
                layer["kernel_shape"], layer["pruned"], layer["kernel_sparsity"])

# Measured before evaluate compiles the model, which would add its compile
# settings to the saved file.
masked_bytes, masked_gzip_bytes = keras_model_bytes(pruned)

scores = models.evaluate(pruned, x_test, y_test, batch_size=params.batch_size)
logger.info("method %s K=%s: test loss %.4f, accuracy %.4f, sparsity %.4f",
            method, wildcards.k, scores["loss"], scores["accuracy"], achieved)

# The fast form: the compact model for unit pruning, CSR kernels for weight pruning.
kernels = models.kernels_of(pruned)
form = fast_form(pruned, method)
with atomic_path(snakemake.output.form) as temporary:
    form.save(temporary)
logger.info("%s form: %s", form.name, form.description)

masked_predict = models.compiled_predict(pruned)
masked_outputs = masked_predict(x_test)
form_outputs = form.predict(x_test)
form_difference = float(np.max(np.abs(form_outputs - masked_outputs)))
same_classes = bool(np.array_equal(form_outputs.argmax(axis=1), masked_outputs.argmax(axis=1)))
logger.info("%s form: max abs difference %.2e to the masked outputs, same classes %s",
            form.name, form_difference, same_classes)

form_bytes = file_bytes(snakemake.output.form)
form_gzip_bytes = gzip_bytes(snakemake.output.form)

lock.exclusive()
timing_arguments = {"repeats": params.timing_repeats, "single_calls": params.single_image_calls}
# Each form runs on inputs already in its native type, as a deployed model would.
masked_times = time_workloads(masked_predict, models.as_model_input(x_test), **timing_arguments)
form_times = time_workloads(form.predict, form.prepare(x_test), **timing_arguments)
lock.release()
for name, times in (("masked", masked_times), (form.name, form_times)):
    logger.info("%s: %d images in %.1f ms (IQR %.1f-%.1f), one image in %.3f ms, %d threads",
                name, len(x_test), times["batch"]["median_ms"], times["batch"]["q1_ms"],
                times["batch"]["q3_ms"], times["single"]["median_ms"], threads)


def time_columns(prefix, times):
    columns = {}
    for workload in ("batch", "single"):
        result = times[workload]
        columns[f"{prefix}_{workload}_ms"] = result["median_ms"]
        columns[f"{prefix}_{workload}_ms_q1"] = result["q1_ms"]
        columns[f"{prefix}_{workload}_ms_q3"] = result["q3_ms"]
    return columns


nonzero, total = models.count_nonzero_parameters(pruned)
dense_flops = cost.dense_flops(kernels)
write_json(snakemake.output.json, {
    "seed": int(wildcards.seed),
    "method": method,
    "scope": wildcards.scope,
    "finetune_epochs": int(wildcards.finetune),
    "finetune_learning_rate": finetune_settings["learning_rate"] if finetune_settings else None,
    "finetune_val_accuracy": (finetune_history or {}).get("val_accuracy"),
    "k": k,
    "achieved_sparsity": achieved,
    "layers": layers,
    "nonzero_params": nonzero,
    "total_params": total,
    "flops_dense_per_image": dense_flops,
    "flops_nonzero_per_image": cost.nonzero_flops(kernels),
    "form": form.name,
    f"{form.name}_flops_per_image": form.flops_per_image,
    f"{form.name}_params": form.params,
    "ideal_time_ratio": form.flops_per_image / dense_flops,
    "test_loss": scores["loss"],
    "test_accuracy": scores["accuracy"],
    "form_max_abs_difference": form_difference,
    "form_same_classes": same_classes,
    "inference_images": len(x_test),
    "inference_ms": masked_times["batch"]["median_ms"],
    "inference_ms_q1": masked_times["batch"]["q1_ms"],
    "inference_ms_q3": masked_times["batch"]["q3_ms"],
    **time_columns("masked", masked_times),
    **time_columns(form.name, form_times),
    "inference_repeats": params.timing_repeats,
    "single_image_calls": params.single_image_calls,
    "masked_bytes": masked_bytes,
    "masked_gzip_bytes": masked_gzip_bytes,
    f"{form.name}_bytes": form_bytes,
    f"{form.name}_gzip_bytes": form_gzip_bytes,
    "threads": threads,
})
logger.info("wrote %s and %s", snakemake.output.json, snakemake.output.form)
