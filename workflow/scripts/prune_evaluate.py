"""Snakemake adapter: prune the trained model at one (method, K), evaluate and time it."""

import fcntl
from pathlib import Path

from prunelab import data
from prunelab.fileio import write_json
from prunelab.kvalues import parse_k
from prunelab.logs import log_to_file
from prunelab.runtime import configure_tensorflow

logger = log_to_file(snakemake.log[0])
configure_tensorflow(snakemake.threads)

from prunelab import model as models  # noqa: E402 (after the thread set-up)
from prunelab.timing import time_inference  # noqa: E402

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

# Timing runs one job at a time across the workflow, so that two jobs do not
# time each other's load. NOTE: other jobs may still be loading or evaluating.
lock_path = Path("results/.timing.lock")
lock_path.parent.mkdir(parents=True, exist_ok=True)
with open(lock_path, "w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    timing = time_inference(pruned, x_test, repeats=params.timing_repeats)
logger.info("inference on %d images: median %.1f ms, IQR %.1f-%.1f ms, %d threads",
            len(x_test), timing["median_ms"], timing["q1_ms"], timing["q3_ms"],
            snakemake.threads)

nonzero, total = models.count_nonzero_parameters(pruned)
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
    "test_loss": scores["loss"],
    "test_accuracy": scores["accuracy"],
    "inference_images": len(x_test),
    "inference_ms": timing["median_ms"],
    "inference_ms_q1": timing["q1_ms"],
    "inference_ms_q3": timing["q3_ms"],
    "inference_repeats": timing["repeats"],
    "inference_samples_ms": timing["samples_ms"],
    "threads": snakemake.threads,
})
logger.info("wrote %s", snakemake.output.json)
