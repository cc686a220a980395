"""Pruning with the TensorFlow Model Optimization Toolkit (tfmot), for comparison.

tfmot's magnitude pruning keeps, in each wrapped kernel, the entries of
largest absolute value and masks the rest, recomputing the mask every
`frequency` training steps while the model is fine-tuned. prunelab's own
pruning (`prunelab.model.prune_model` then `prunelab.finetune.finetune`)
computes the mask once and keeps it fixed, so running both on one trained
model compares the two recipes.

tfmot 0.8 works only with Keras 2 (the `tf_keras` package), while prunelab
models are Keras 3. Both can live in one process: `to_tf_keras` rebuilds a
Keras 3 model in tf_keras, `prune_with_tfmot` prunes and fine-tunes it
there and copies the weights back into a Keras 3 clone.

This module imports TensorFlow only inside the functions that need it, so
`missing_requirements`, `check_k` and `supports_tfmot` are safe to call
from a Snakefile before any job runs.
"""

import importlib.metadata
import importlib.util
import logging
import math
import os

import numpy as np

from prunelab import pruning

logger = logging.getLogger(__name__)

INSTALL_HINT = 'pip install -e ".[tfmot]"'

# Keras 3 layer classes that `to_tf_keras` can rebuild in tf_keras.
SUPPORTED_LAYER_CLASSES = (
    "InputLayer",
    "Dense",
    "Dropout",
    "Flatten",
    "Reshape",
    "Activation",
    "BatchNormalization",
    "LayerNormalization",
)

# ConstantSparsity rejects a target sparsity of 1.0 (tfmot 0.8.1 requires
# 0 <= sparsity < 1), and its mask always keeps at least one entry anyway.
TFMOT_MAX_K = 1.0

# tfmot's own default pruning frequency, in training steps.
DEFAULT_FREQUENCY = 100

# The frequency is lowered so that the mask is computed at least this many
# times during fine-tuning.
MIN_MASK_UPDATES = 10

# Allowed gap between the requested and the achieved sparsity of a kernel.
# The sparsity of a kernel of n entries is a multiple of 1 / n, so kernels
# of fewer than 100 entries are allowed 1 / n instead.
SPARSITY_TOLERANCE = 0.01


class TfmotUnavailable(ImportError):
    """tf_keras or tensorflow-model-optimization is missing or does not match TensorFlow."""


def missing_requirements():
    """Check, without importing TensorFlow, that tfmot pruning can run here.

    Returns:
        A list of problems in plain English, each naming its fix. The list
        is empty when tensorflow, tf_keras and tensorflow-model-optimization
        are installed and tf_keras has the same major.minor version as
        tensorflow.
    """
    problems = []
    packages = (
        ("tensorflow", "tensorflow"),
        ("tf_keras", "tf_keras"),
        ("tensorflow_model_optimization", "tensorflow-model-optimization"),
    )
    for module, distribution in packages:
        if importlib.util.find_spec(module) is None:
            problems.append(
                f"the Python package {distribution} is not installed; "
                f"install it with {INSTALL_HINT}"
            )
    if problems:
        return problems

    tensorflow_version = _distribution_version("tensorflow")
    tf_keras_version = _distribution_version("tf_keras")
    if tensorflow_version is None or tf_keras_version is None:
        # Found as modules but without package metadata (a source checkout,
        # say), so the versions cannot be compared.
        return problems
    if _major_minor(tf_keras_version) != _major_minor(tensorflow_version):
        problems.append(
            f"tf_keras {tf_keras_version} does not match tensorflow {tensorflow_version}: "
            f"tf_keras must have the same major.minor version; reinstall it with "
            f"{INSTALL_HINT}"
        )
    return problems


def _distribution_version(name):
    # tensorflow can be installed under other distribution names
    # (tensorflow-cpu, tf-nightly); those count as tensorflow too.
    candidates = {
        "tensorflow": ("tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tf-nightly"),
        "tf_keras": ("tf_keras", "tf-keras", "tf-keras-nightly"),
    }[name]
    for candidate in candidates:
        try:
            return importlib.metadata.version(candidate)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _major_minor(version):
    return tuple(version.split(".")[:2])


def load_tfmot():
    """Import tf_keras and tfmot, with tf_keras as the Keras of tfmot.

    Sets TF_USE_LEGACY_KERAS=1 in the environment, which is how TensorFlow
    and tfmot select Keras 2. Keras 3 (`import keras`) keeps working in the
    same process: only `tf.keras` depends on that variable. The variable
    does not need to be set before TensorFlow is imported, because tfmot
    0.8.1 itself falls back to tf_keras when `tf.keras` is Keras 3.

    Returns:
        (tf_keras, tensorflow_model_optimization), the two modules.

    Raises:
        TfmotUnavailable: if `missing_requirements()` lists a problem.
    """
    problems = missing_requirements()
    if problems:
        raise TfmotUnavailable("tfmot pruning cannot run: " + "; ".join(problems))
    os.environ["TF_USE_LEGACY_KERAS"] = "1"

    import tensorflow_model_optimization as tfmot
    import tf_keras

    return tf_keras, tfmot


def check_k(k):
    """Check that `k` is a sparsity that tfmot's ConstantSparsity accepts.

    Returns:
        k as a float.

    Raises:
        ValueError: if k is not a number in [0, 1). K = 1 (every weight
            pruned) is rejected because tfmot cannot reach it.
    """
    if isinstance(k, bool) or not isinstance(k, (int, float, np.floating, np.integer)):
        raise ValueError(f"k must be a number in [0, 1), received {k!r} of type {type(k).__name__}")
    k = float(k)
    if not 0 <= k < TFMOT_MAX_K:
        raise ValueError(
            f"k must be in [0, 1) for tfmot pruning, received {k!r}: tfmot's "
            f"ConstantSparsity rejects a sparsity of 1 and always keeps at least one "
            f"weight per kernel. Remove K = 1 from the tfmot runs."
        )
    return k


def unsupported_layer_classes(layer_classes):
    """Return the names in `layer_classes` that `to_tf_keras` cannot rebuild, in order, once each."""
    unsupported = []
    for name in layer_classes:
        if name not in SUPPORTED_LAYER_CLASSES and name not in unsupported:
            unsupported.append(name)
    return unsupported


def supports_tfmot(layer_classes):
    """Return whether a model made of these Keras layer class names can be pruned with tfmot.

    Only the class names are checked. `to_tf_keras` also requires the layers
    to form one chain and rejects some settings (regularizers, custom
    activations), which it can only see on a built model.
    """
    return not unsupported_layer_classes(layer_classes)


def pruning_frequency(total_steps):
    """Choose how many training steps apart tfmot recomputes the pruning mask.

    tfmot increments its step counter before it checks the schedule, so with
    begin_step 0 the first mask is computed at step `frequency`, not at step
    0. With tfmot's default of 100 and fewer than 100 training steps, the
    mask would never be computed and nothing would be pruned. The frequency
    is therefore at most total_steps / MIN_MASK_UPDATES, and at least 1. So
    the first mask comes within the first tenth of fine-tuning, and the mask
    is computed at least MIN_MASK_UPDATES times, or at every step when
    there are fewer steps than that.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be at least 1, received {total_steps!r}")
    return max(1, min(DEFAULT_FREQUENCY, total_steps // MIN_MASK_UPDATES))


def to_tf_keras(model):
    """Rebuild a Keras 3 model in tf_keras, with the same layers and weights.

    The model's layers must form one chain (a Sequential model, or a
    functional model in which each layer takes the previous layer's output)
    and belong to SUPPORTED_LAYER_CLASSES. Layer names and trainable flags
    are kept.

    Returns:
        A tf_keras.Sequential model, uncompiled.

    Raises:
        ValueError: for a model that is not built, not a chain, or has a layer
            of another class or with a setting that tf_keras would not
            reproduce (regularizers, constraints, LoRA, a dtype other than
            float32, a custom activation).
        TfmotUnavailable: if `missing_requirements()` lists a problem.
    """
    tf_keras, _ = load_tfmot()

    layers = _chain_layers(model)
    rebuilt = [tf_keras.Input(shape=tuple(model.inputs[0].shape[1:]), name=_input_name(model))]
    for layer in layers:
        copy = _tf_keras_layer(tf_keras, model, layer)
        copy.trainable = layer.trainable
        rebuilt.append(copy)
    tf_model = tf_keras.Sequential(rebuilt, name=model.name)
    for layer in layers:
        tf_model.get_layer(layer.name).set_weights(layer.get_weights())
    return tf_model


def _input_name(model):
    return model.inputs[0].name or "input"


def _chain_layers(model):
    """Return the model's layers other than InputLayer, checking that they form one chain."""
    import keras

    supported = ", ".join(SUPPORTED_LAYER_CLASSES)
    if not model.built or not getattr(model, "inputs", None):
        raise ValueError(
            f"model {model.name!r} is not built: build it with a keras.Input first, "
            f"so that its input shape is known"
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} "
            f"outputs; tfmot pruning supports only a chain of layers with one input and "
            f"one output"
        )
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if not layers:
        raise ValueError(f"model {model.name!r} has no layers besides its input")
    sequential = isinstance(model, keras.Sequential)
    previous_output = model.inputs[0]
    previous_name = "the model input"
    for layer in layers:
        class_name = type(layer).__name__
        if class_name not in SUPPORTED_LAYER_CLASSES:
            raise ValueError(
                f"model {model.name!r}: layer {layer.name!r} of class {class_name} is not "
                f"supported by tfmot pruning; supported layer classes: {supported}"
            )
        if not sequential and layer.input is not previous_output:
            raise ValueError(
                f"model {model.name!r} is not a chain: layer {layer.name!r} of class "
                f"{class_name} does not take the output of {previous_name} as its only "
                f"input; tfmot pruning supports only models whose layers "
                f"({supported}) each take the previous layer's output"
            )
        previous_output = layer.output
        previous_name = f"layer {layer.name!r}"
    if not sequential and model.outputs[0] is not previous_output:
        raise ValueError(
            f"model {model.name!r} is not a chain: its output is not the output of its "
            f"last layer {layers[-1].name!r}"
        )
    return layers


def _tf_keras_layer(tf_keras, model, layer):
    """Return a new tf_keras layer configured like the Keras 3 `layer`."""
    class_name = type(layer).__name__
    _check_layer_settings(model, layer)
    name = layer.name

    if class_name == "Dense":
        return tf_keras.layers.Dense(
            layer.units,
            activation=_activation_name(model, layer),
            use_bias=layer.use_bias,
            name=name,
        )

    if class_name == "Dropout":
        return tf_keras.layers.Dropout(
            layer.rate, noise_shape=layer.noise_shape, seed=layer.seed, name=name,
        )

    if class_name == "Flatten":
        return tf_keras.layers.Flatten(data_format=layer.data_format, name=name)

    if class_name == "Reshape":
        return tf_keras.layers.Reshape(tuple(layer.target_shape), name=name)

    if class_name == "Activation":
        return tf_keras.layers.Activation(_activation_name(model, layer), name=name)

    if class_name == "BatchNormalization":
        return tf_keras.layers.BatchNormalization(
            axis=layer.axis, momentum=layer.momentum, epsilon=layer.epsilon,
            center=layer.center, scale=layer.scale, name=name,
        )

    if class_name == "LayerNormalization":
        return tf_keras.layers.LayerNormalization(
            axis=layer.axis, epsilon=layer.epsilon,
            center=layer.center, scale=layer.scale, name=name,
        )

    raise ValueError(
        f"model {model.name!r}: layer {name!r} of class {class_name} is not supported "
        f"by tfmot pruning; supported layer classes: {', '.join(SUPPORTED_LAYER_CLASSES)}"
    )


def _check_layer_settings(model, layer):
    """Raise ValueError for settings of `layer` that the tf_keras copy would drop."""
    where = f"model {model.name!r}: layer {layer.name!r} of class {type(layer).__name__}"
    policy = layer.dtype_policy.name
    if policy != "float32":
        raise ValueError(f"{where} has dtype policy {policy!r}; tfmot pruning supports only float32")
    for attribute in ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                      "beta_regularizer", "gamma_regularizer",
                      "kernel_constraint", "bias_constraint",
                      "beta_constraint", "gamma_constraint"):
        if getattr(layer, attribute, None) is not None:
            raise ValueError(
                f"{where} has a {attribute}, which tfmot pruning does not copy; "
                f"remove it or prune this model with prunelab only"
            )
    if getattr(layer, "lora_enabled", False):
        raise ValueError(f"{where} has LoRA enabled, which tfmot pruning does not support")
    if getattr(layer, "rms_scaling", False):
        raise ValueError(f"{where} uses rms_scaling, which tf_keras's LayerNormalization lacks")


def _activation_name(model, layer):
    """Return the name of the layer's built-in Keras activation."""
    import keras

    name = getattr(layer.activation, "__name__", None)
    try:
        builtin = name is not None and keras.activations.get(name) is layer.activation
    except ValueError:
        builtin = False
    if not builtin:
        raise ValueError(
            f"model {model.name!r}: layer {layer.name!r} has the custom activation "
            f"{layer.activation!r}; tfmot pruning supports only built-in Keras activations"
        )
    return name


def outputs_probabilities(model):
    """Return whether a chain model ends in softmax, so it outputs probabilities rather than logits."""
    import keras

    last = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)][-1]
    activation = getattr(last, "activation", None)
    return getattr(activation, "__name__", None) == "softmax"


def prune_with_tfmot(model, k, prune_output_layer, fit, validation, epochs, batch_size,
                     learning_rate, seed):
    """Prune a Keras 3 model's Dense kernels with tfmot while fine-tuning it.

    Every Dense layer except the last (the output layer, unless
    `prune_output_layer`) is wrapped in tfmot's `prune_low_magnitude` with a
    ConstantSparsity schedule at sparsity `k`. The model is fine-tuned with
    Adam at a constant `learning_rate` and cross-entropy, from logits, or
    from probabilities when its last layer applies softmax. With k = 0
    nothing is pruned but the model is still fine-tuned the same way, so it
    serves as the baseline of a comparison. `model` itself is not changed.

    Args:
        model: a built Keras 3 model that `to_tf_keras` supports.
        k: sparsity in [0, 1) of each pruned kernel.
        prune_output_layer: also prune the last Dense layer.
        fit: (x, y) training arrays, x shaped as the model input and y the
            integer class labels.
        validation: (x, y) scored after each epoch; None or empty arrays
            for none.
        epochs: fine-tuning epochs, at least 1.
        batch_size: training batch size.
        learning_rate: Adam's learning rate.
        seed: seeds Python, numpy and TensorFlow before the model is copied
            and trained. Two calls with the same arguments gave the same
            weights on a 2-CPU machine, with and without TensorFlow's op
            determinism. Turn it on (`prunelab.runtime.configure_tensorflow`
            with a seed) to rule out nondeterministic kernels elsewhere.

    Returns:
        (pruned_model, layers, history). pruned_model is an uncompiled Keras
        3 clone of `model` with the fine-tuned weights. layers has one dict
        per Dense layer, as from `prunelab.model.prune_model`: name,
        kernel_shape, pruned (bool), kernel_zeros and kernel_sparsity.
        history is {metric: [value per epoch]}.

    Raises:
        ValueError: for an invalid argument or a model `to_tf_keras` rejects.
        RuntimeError: if a pruned kernel's sparsity ends more than
            SPARSITY_TOLERANCE away from k.
    """
    k = check_k(k)
    for argument, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{argument} must be a positive integer, received {value!r}")
    x_fit, y_fit = fit
    if len(x_fit) == 0 or len(x_fit) != len(y_fit):
        raise ValueError(
            f"fit must be two arrays (x, y) of equal, nonzero length, received lengths "
            f"{len(x_fit)} and {len(y_fit)}"
        )
    validation_data = validation if validation is not None and len(validation[0]) else None

    tf_keras, tfmot = load_tfmot()
    import keras

    sparsity_api = tfmot.sparsity.keras
    tf_keras.utils.set_random_seed(seed)
    dense_names = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense_names:
        raise ValueError(f"model {model.name!r} has no Dense layer to prune")
    selected = dense_names if prune_output_layer else dense_names[:-1]
    tf_model = to_tf_keras(model)

    # tfmot's default frequency of 100 steps would compute the mask too late
    # or never on a short fine-tuning, so it is chosen from the step count.
    steps_per_epoch = math.ceil(len(x_fit) / batch_size)
    total_steps = epochs * steps_per_epoch
    frequency = pruning_frequency(total_steps)
    schedule = sparsity_api.ConstantSparsity(k, begin_step=0, frequency=frequency)

    def wrap(layer):
        if layer.name in selected:
            return sparsity_api.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    # clone_function returns the layers of tf_model itself, not copies, so
    # the wrapped model starts from the weights copied into tf_model.
    wrapped = tf_keras.models.clone_model(tf_model, clone_function=wrap)
    logger.info("tfmot: wrapped %s in prune_low_magnitude at sparsity %g; not pruned: %s",
                ", ".join(selected) or "no layer", k,
                ", ".join(name for name in dense_names if name not in selected) or "none")
    logger.info("tfmot: %d steps (%d epoch%s of %d), mask recomputed every %d step%s from step %d",
                total_steps, epochs, "" if epochs == 1 else "s", steps_per_epoch, frequency,
                "" if frequency == 1 else "s", frequency)

    from_logits = not outputs_probabilities(model)
    wrapped.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate=learning_rate),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=["accuracy"],
    )
    # UpdatePruningStep is required because it starts each wrapper's step
    # counter, and without it fit fails on a tfmot assertion. It also masks
    # the kernels again at the end of every epoch, because the last
    # optimizer step can move pruned entries away from zero.
    result = wrapped.fit(
        x_fit, y_fit,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        validation_data=validation_data,
        callbacks=[sparsity_api.UpdatePruningStep()],
        verbose=2,
    )
    history = {metric: [float(value) for value in values]
               for metric, values in result.history.items()}

    # strip_pruning replaces each wrapper by its Dense layer. Weights are
    # read only after it, because a wrapper's weight list also contains its
    # mask, threshold and step counter, so it does not match a Keras 3 layer.
    stripped = sparsity_api.strip_pruning(wrapped)
    pruned_model = keras.models.clone_model(model)
    for layer in pruned_model.layers:
        if not isinstance(layer, keras.layers.InputLayer):
            layer.set_weights(stripped.get_layer(layer.name).get_weights())

    layers = _dense_layer_records(pruned_model, selected)
    for layer in layers:
        logger.info("tfmot: layer %s %s: pruned %s, kernel sparsity %.4f", layer["name"],
                    layer["kernel_shape"], layer["pruned"], layer["kernel_sparsity"])
    _check_sparsity(layers, k, total_steps, frequency)
    return pruned_model, layers, history


def _dense_layer_records(model, selected):
    """Return one dict per Dense layer, in the layout of `prunelab.model.prune_model`."""
    import keras

    records = []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.Dense):
            continue
        kernel = layer.get_weights()[0]
        records.append({
            "name": layer.name,
            "kernel_shape": list(kernel.shape),
            "pruned": layer.name in selected,
            "kernel_zeros": int(kernel.size - np.count_nonzero(kernel)),
            "kernel_sparsity": pruning.sparsity(kernel),
        })
    return records


def _check_sparsity(layers, k, total_steps, frequency):
    """Raise RuntimeError if a pruned kernel's sparsity is not within tolerance of k."""
    for layer in layers:
        if not layer["pruned"]:
            continue
        size = int(np.prod(layer["kernel_shape"]))
        tolerance = max(SPARSITY_TOLERANCE, 1 / size)
        if abs(layer["kernel_sparsity"] - k) > tolerance:
            raise RuntimeError(
                f"tfmot pruned layer {layer['name']!r} to sparsity "
                f"{layer['kernel_sparsity']:.4f}, but {k:g} was requested (tolerance "
                f"{tolerance:.4f}). The mask is computed every {frequency} of "
                f"{total_steps} steps, so it was computed too rarely, or the kernel has "
                f"many entries of equal magnitude (already zero, say), which tfmot keeps "
                f"together at the threshold."
            )
