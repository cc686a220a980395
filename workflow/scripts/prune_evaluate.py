"""Snakemake adapter: prune the trained model at one (method, K), evaluate and time it."""

import use_checkout  # noqa: F401 (puts this checkout's prunelab first)

from prunelab import cost, data
from prunelab.fileio import write_json
from prunelab.kvalues import parse_k
from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow
from prunelab.timing import TIMING_LOCK_PATH, TimingLock, time_inference

logger = log_to_file(snakemake.log[0])
lock = TimingLock(TIMING_LOCK_PATH)
lock.shared()
threads = configure_tensorflow(snakemake.threads)

from prunelab import model as models  # noqa: E402 (after the thread set-up)

wildcards = snakemake.wildcards
params = snakemake.params
k = parse_k(wildcards.k)
method = wildcards.method

model = models.load_model(snakemake.input.model)
arrays = data.load_npz(snakemake.input.npz)
x_test = models.prepare_inputs(arrays["x_test"])
y_test = arrays["y_test"]
logger.info("loaded %s and x_test %s", snakemake.input.model, x_test.shape)

pruned, layers = models.prune_model(model, k, method, params.prune_output_layer)
achieved = models.achieved_sparsity(layers)
for layer in layers:
    logger.info("layer %s %s: pruned %s, kernel sparsity %.4f", layer["name"],
                layer["kernel_shape"], layer["pruned"], layer["kernel_sparsity"])

scores = models.evaluate(pruned, x_test, y_test, batch_size=params.batch_size)
logger.info("method %s K=%s: test loss %.4f, accuracy %.4f, sparsity %.4f",
            method, wildcards.k, scores["loss"], scores["accuracy"], achieved)

lock.exclusive()
timing = time_inference(pruned, x_test, repeats=params.timing_repeats)
lock.release()
logger.info("inference on %d images: median %.1f ms, IQR %.1f-%.1f ms, %d threads",
            len(x_test), timing["median_ms"], timing["q1_ms"], timing["q3_ms"], threads)

nonzero, total = models.count_nonzero_parameters(pruned)
kernels = models.kernels_of(pruned)
write_json(snakemake.output.json, {
    "seed": int(wildcards.seed),
    "method": method,
    "scope": wildcards.scope,
    "finetune_epochs": int(wildcards.finetune),
    "k": k,
    "achieved_sparsity": achieved,
    "layers": layers,
    "nonzero_params": nonzero,
    "total_params": total,
    "flops_dense_per_image": cost.dense_flops(kernels),
    "flops_nonzero_per_image": cost.nonzero_flops(kernels),
    "test_loss": scores["loss"],
    "test_accuracy": scores["accuracy"],
    "inference_images": len(x_test),
    "inference_ms": timing["median_ms"],
    "inference_ms_q1": timing["q1_ms"],
    "inference_ms_q3": timing["q3_ms"],
    "inference_repeats": timing["repeats"],
    "inference_samples_ms": timing["samples_ms"],
    "threads": threads,
})
logger.info("wrote %s", snakemake.output.json)
