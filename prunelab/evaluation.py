"""Evaluation of one pruned model: scores, fast form, timings, sizes and costs.

Every pruning job, prunelab's own and tfmot's, ends here, so their results
are measured the same way and fill the same summary columns.
"""

import logging

import numpy as np

from prunelab import cost
from prunelab.fileio import atomic_path
from prunelab.sizes import file_bytes, gzip_bytes, keras_model_bytes
from prunelab.timing import time_workloads

logger = logging.getLogger(__name__)


def evaluate_pruned(pruned, layers, form_method, x_test, y_test, form_path, lock,
                    batch_size, timing_repeats, single_image_calls, masked_path=None):
    """Measure a pruned Keras model and return the result columns.

    Args:
        pruned: the pruned model, uncompiled, so that its saved size counts
            the weights only.
        layers: per-Dense-layer records as `prunelab.model.prune_model`
            returns them, with zero counts read from `pruned`.
        form_method: "weight" or "unit", the fast form to build
            (`prunelab.forms.fast_form`).
        x_test, y_test: test inputs, prepared for the model, and labels.
        form_path: where the fast form is saved; None builds no fast form,
            for a model that is not a chain of Dense layers.
        lock: the `prunelab.timing.TimingLock` of the run, held shared by
            the caller; it is taken exclusively for the timings only.
        batch_size, timing_repeats, single_image_calls: evaluation settings.
        masked_path: where the masked model is saved as a .keras file;
            None saves it nowhere. Jobs without a fast form save it, so that
            their pruned weights are kept.

    Returns:
        A dict of the result columns that do not name the job (method, K,
        seed and so on are the caller's).
    """
    from prunelab import model as models
    from prunelab.forms import fast_form

    achieved = models.achieved_sparsity(layers)
    for layer in layers:
        logger.info("layer %s %s: pruned %s, kernel sparsity %.4f", layer["name"],
                    layer["kernel_shape"], layer["pruned"], layer["kernel_sparsity"])
    # Measured before evaluate compiles the model, which would add its
    # compile settings to the saved file.
    masked_bytes, masked_gzip_bytes = keras_model_bytes(pruned)
    if masked_path is not None:
        with atomic_path(masked_path) as temporary:
            pruned.save(temporary)
    scores = models.evaluate(pruned, x_test, y_test, batch_size=batch_size)
    logger.info("test loss %.4f, accuracy %.4f, sparsity %.4f",
                scores["loss"], scores["accuracy"], achieved)

    kernels = models.kernels_of(pruned)
    dense_flops = cost.dense_flops(kernels)
    masked_predict = models.compiled_predict(pruned)
    timing_arguments = {"repeats": timing_repeats, "single_calls": single_image_calls}
    form = None
    form_columns = {"form": None}
    if form_path is not None:
        form = fast_form(pruned, form_method)
        with atomic_path(form_path) as temporary:
            form.save(temporary)
        logger.info("%s form: %s", form.name, form.description)
        masked_outputs = masked_predict(x_test)
        form_outputs = form.predict(x_test)
        difference = float(np.max(np.abs(form_outputs - masked_outputs)))
        same_classes = bool(np.array_equal(form_outputs.argmax(axis=1),
                                           masked_outputs.argmax(axis=1)))
        logger.info("%s form: max abs difference %.2e to the masked outputs, same classes %s",
                    form.name, difference, same_classes)
        form_columns = {
            "form": form.name,
            f"{form.name}_flops_per_image": form.flops_per_image,
            f"{form.name}_params": form.params,
            "ideal_time_ratio": form.flops_per_image / dense_flops,
            "form_max_abs_difference": difference,
            "form_same_classes": same_classes,
            f"{form.name}_bytes": file_bytes(form_path),
            f"{form.name}_gzip_bytes": gzip_bytes(form_path),
        }
    else:
        logger.info("no fast form: the model is not a chain of Dense layers")

    lock.exclusive()
    # Each form runs on inputs already in its native type, as a deployed model would.
    times = {"masked": time_workloads(masked_predict, models.as_model_input(x_test),
                                      **timing_arguments)}
    if form is not None:
        times[form.name] = time_workloads(form.predict, form.prepare(x_test), **timing_arguments)
    lock.release()
    for name, result in times.items():
        logger.info("%s: %d images in %.1f ms (IQR %.1f-%.1f), one image in %.3f ms",
                    name, len(x_test), result["batch"]["median_ms"], result["batch"]["q1_ms"],
                    result["batch"]["q3_ms"], result["single"]["median_ms"])

    nonzero, total = models.count_nonzero_parameters(pruned)
    columns = {
        "achieved_sparsity": achieved,
        "layers": layers,
        "nonzero_params": nonzero,
        "total_params": total,
        "flops_dense_per_image": dense_flops,
        "flops_nonzero_per_image": cost.nonzero_flops(kernels),
        "test_loss": scores["loss"],
        "test_accuracy": scores["accuracy"],
        "inference_images": len(x_test),
        "inference_ms": times["masked"]["batch"]["median_ms"],
        "inference_ms_q1": times["masked"]["batch"]["q1_ms"],
        "inference_ms_q3": times["masked"]["batch"]["q3_ms"],
        "inference_repeats": timing_repeats,
        "single_image_calls": single_image_calls,
        "masked_bytes": masked_bytes,
        "masked_gzip_bytes": masked_gzip_bytes,
        **form_columns,
    }
    for name, result in times.items():
        for workload in ("batch", "single"):
            columns[f"{name}_{workload}_ms"] = result[workload]["median_ms"]
            columns[f"{name}_{workload}_ms_q1"] = result[workload]["q1_ms"]
            columns[f"{name}_{workload}_ms_q3"] = result[workload]["q3_ms"]
    return columns
