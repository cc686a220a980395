"""Benchmark what pruning buys in time and size, in each execution form.

For every K, the trained model is pruned by weight and by unit pruning and
run in three forms:

- masked: the pruned Keras model, dense kernels holding zeros;
- compact (unit pruning): a smaller Keras model with the removed units deleted;
- sparse (weight pruning): the kernels in CSR, run as sparse-times-dense products.

Each form is timed on the whole test set (throughput) and on single images
(latency), with prunelab.timing, and compared with the unpruned model and
with the FLOP-proportional ideal. The output is a markdown table.

Usage (after `snakemake --cores 8` has trained the model):

    python3 benchmarks/pruning_speed.py --threads 2
"""

import argparse
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prunelab import cost, data  # noqa: E402
from prunelab.runtime import configure_tensorflow  # noqa: E402
from prunelab.sizes import saved_bytes  # noqa: E402

DEFAULT_K = [0, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99]


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="results/train/seed0/model.keras",
                        help="trained .keras model (default: %(default)s)")
    parser.add_argument("--data", default="resources/mnist.npz",
                        help="MNIST npz in Keras layout (default: %(default)s)")
    parser.add_argument("--k", type=float, nargs="+", default=DEFAULT_K,
                        help="sparsities to measure")
    parser.add_argument("--threads", type=int, default=2,
                        help="TensorFlow intra-op and inter-op threads (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed runs per measurement, at least 5, after one warm-up "
                             "(default: %(default)s)")
    parser.add_argument("--single-calls", type=int, default=100,
                        help="single-image calls per timed run, at least 1 "
                             "(default: %(default)s)")
    arguments = parser.parse_args()
    for name in ("model", "data"):
        if not Path(getattr(arguments, name)).is_file():
            parser.error(f"--{name} {getattr(arguments, name)}: file not found")
    if arguments.repeats < 5:
        parser.error(f"--repeats must be at least 5, received {arguments.repeats}")
    if arguments.single_calls < 1:
        parser.error(f"--single-calls must be at least 1, received {arguments.single_calls}")
    return arguments


def cross_entropy(logits, labels):
    """Return the mean cross-entropy of logits against integer labels, in float64."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1))
    return float(np.mean(log_sum - shifted[np.arange(len(labels)), labels]))


def measure_form(name, predict, prepare, x, y, reference_outputs, timing_arguments):
    from prunelab.timing import time_workloads

    outputs = np.asarray(predict(x))
    # Each form is timed on inputs already in its native type.
    times = time_workloads(predict, prepare(x), **timing_arguments)
    return {
        "form": name,
        "batch_ms": times["batch"]["median_ms"],
        "batch_iqr_ms": times["batch"]["q3_ms"] - times["batch"]["q1_ms"],
        "single_ms": times["single"]["median_ms"],
        "max_abs_diff": float(np.max(np.abs(outputs - reference_outputs))),
        "loss_rel_diff": abs(cross_entropy(outputs, y) - cross_entropy(reference_outputs, y))
        / cross_entropy(reference_outputs, y),
        "same_classes": bool(np.array_equal(outputs.argmax(axis=1),
                                            reference_outputs.argmax(axis=1))),
    }


def main():
    arguments = parse_arguments()
    threads = configure_tensorflow(arguments.threads)

    from prunelab import model as models
    from prunelab.forms import fast_form

    model = models.load_model(arguments.model)
    arrays = data.load_npz(arguments.data)
    x = models.prepare_inputs(arrays["x_test"])
    y = np.asarray(arrays["y_test"], dtype=np.int64)
    timing_arguments = {"repeats": arguments.repeats, "single_calls": arguments.single_calls}

    dense_kernels = models.kernels_of(model)
    dense_flops = cost.dense_flops(dense_kernels)
    dense_predict = models.compiled_predict(model)
    dense_outputs = dense_predict(x)
    dense = measure_form("dense", dense_predict, models.as_model_input, x, y, dense_outputs,
                         timing_arguments)

    rows = []
    dense_size, dense_gzip = saved_bytes(model.save, ".keras")
    for k in arguments.k:
        for method in ("weight", "unit"):
            masked, _ = models.prune_model(model, k, method)
            masked_predict = models.compiled_predict(masked)
            masked_outputs = masked_predict(x)
            masked_size, masked_gzip = saved_bytes(masked.save, ".keras")
            forms = [(measure_form("masked", masked_predict, models.as_model_input, x, y,
                                   masked_outputs, timing_arguments),
                      masked_size, masked_gzip)]
            form = fast_form(masked, method)
            ideal = form.flops_per_image / dense_flops
            size, gzipped = saved_bytes(form.save, form.suffix)
            forms.append((measure_form(form.name, form.predict, form.prepare, x, y,
                                       masked_outputs, timing_arguments), size, gzipped))
            for result, size, gzipped in forms:
                rows.append({**result, "method": method, "k": k, "ideal_ratio": ideal,
                             "bytes": size, "gzip_bytes": gzipped})
            print(f"measured {method} K={k}", file=sys.stderr, flush=True)

    print(f"Machine: {platform.machine()}, {platform.processor() or 'unknown CPU'}, "
          f"TensorFlow threads {threads}; Python {platform.python_version()}.")
    print(f"Unpruned model: {dense['batch_ms']:.1f} ms for {len(x)} images, "
          f"{dense['single_ms'] * 1000:.0f} µs per single image, {dense_size:,} bytes "
          f"({dense_gzip:,} gzipped), {dense_flops:,} FLOPs per image.")
    print()
    print("| method | K | form | batch ms | batch / dense | FLOP ideal | batch / ideal "
          "| 1 image µs | 1 image / dense | bytes | gzip bytes | max abs diff | loss rel diff "
          "| same classes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        batch_ratio = row["batch_ms"] / dense["batch_ms"]
        print(
            f"| {row['method']} | {row['k']:g} | {row['form']} | {row['batch_ms']:.1f} "
            f"| {batch_ratio:.3f} | {row['ideal_ratio']:.3f} "
            f"| {batch_ratio / row['ideal_ratio'] if row['ideal_ratio'] else float('nan'):.2f} "
            f"| {row['single_ms'] * 1000:.0f} | {row['single_ms'] / dense['single_ms']:.3f} "
            f"| {row['bytes']:,} | {row['gzip_bytes']:,} | {row['max_abs_diff']:.1e} "
            f"| {row['loss_rel_diff']:.1e} "
            f"| {'yes' if row['same_classes'] else 'NO'} |"
        )


if __name__ == "__main__":
    main()
