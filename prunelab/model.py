"""Keras side of prunelab: build, train, load, evaluate and prune models.

Call `prunelab.runtime.configure_tensorflow` before these functions in a
process that must respect a thread count, because importing Keras starts
TensorFlow.
"""

import logging
import os
import zipfile

import numpy as np

from prunelab import cost, pruning

logger = logging.getLogger(__name__)

def prepare_inputs(x, input_shape=None):
    """Turn data arrays into the float32 inputs of a model.

    uint8 arrays are images: they are scaled to [0, 1] by dividing by 255.
    Other numeric arrays are converted to float32 as they are.

    Args:
        x: array of shape (samples, ...).
        input_shape: the model's input shape without the batch axis, as in
            `input_shape_of`; None flattens each sample to one row.

    Raises:
        ValueError: if the samples cannot take the model's input shape.
    """
    x = np.asarray(x)
    values = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if input_shape is None:
        return values.reshape(len(values), -1)
    shape = tuple(input_shape)
    sample = values.shape[1:]
    if sample == shape:
        return values
    if None not in shape and int(np.prod(sample)) == int(np.prod(shape)):
        return values.reshape(len(values), *shape)
    raise ValueError(
        f"the data's samples have shape {sample} ({int(np.prod(sample))} values) but the "
        f"model expects inputs of shape {shape}; use data whose samples hold as many "
        f"values as the model's input, or a model that matches the data"
    )


def input_shape_of(model):
    """Return the model's input shape without the batch axis, as a tuple."""
    return tuple(model.inputs[0].shape[1:])


def outputs_probabilities(model):
    """Return whether the model's last layer applies softmax, so that it outputs probabilities.

    prunelab's own models output logits; a user's model may end in softmax,
    and the loss must then be computed from probabilities.
    """
    last = model.layers[-1]
    if type(last).__name__ == "Softmax":
        return True
    return getattr(getattr(last, "activation", None), "__name__", "") == "softmax"


def split_validation(x, y, fraction, seed):
    """Hold out a random `fraction` of (x, y) for validation.

    Returns:
        ((x_fit, y_fit), (x_validation, y_validation)). With fraction 0 the
        validation pair is empty.
    """
    if not 0 <= fraction < 1:
        raise ValueError(f"validation fraction must be in [0, 1), received {fraction!r}")
    order = np.random.default_rng(seed).permutation(len(x))
    count = int(round(fraction * len(x)))
    validation_rows, fit_rows = order[:count], order[count:]
    return (x[fit_rows], y[fit_rows]), (x[validation_rows], y[validation_rows])


def build_mlp(input_dim, hidden_units, num_classes):
    """Build a fully connected ReLU network that outputs logits.

    Args:
        input_dim: number of input features (784 for MNIST).
        hidden_units: list of hidden layer widths, e.g. [1000, 1000, 500, 200].
        num_classes: width of the output (logits) layer.

    Returns:
        An uncompiled keras.Sequential model whose layers are named
        hidden_1 ... hidden_n and logits.
    """
    import keras

    layers = [keras.Input(shape=(input_dim,), name="pixels")]
    for index, units in enumerate(hidden_units, start=1):
        layers.append(keras.layers.Dense(units, activation="relu", name=f"hidden_{index}"))
    layers.append(keras.layers.Dense(num_classes, name="logits"))
    return keras.Sequential(layers, name="mlp")


def compile_model(model, learning_rate=1e-3, schedule="constant", decay_steps=None):
    """Compile a model with Adam, cross-entropy and accuracy.

    The cross-entropy reads logits, or probabilities when the model ends in
    softmax (`outputs_probabilities`).

    Args:
        schedule: "constant", or "cosine" for a cosine decay of the learning
            rate from `learning_rate` to 0 over `decay_steps` steps.
    """
    import keras

    if schedule == "cosine":
        if not decay_steps:
            raise ValueError("a cosine schedule needs decay_steps > 0")
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps)
    elif schedule == "constant":
        rate = learning_rate
    else:
        raise ValueError(f"schedule must be 'constant' or 'cosine', received {schedule!r}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=keras.losses.SparseCategoricalCrossentropy(
            from_logits=not outputs_probabilities(model)),
        metrics=["accuracy"],
    )
    return model


def train_model(arrays, hidden_units, epochs, batch_size, learning_rate,
                schedule, validation_fraction, seed):
    """Build and train the MLP on the training split of `arrays`.

    A `validation_fraction` of the training images, drawn with `seed`, is
    held out and scored after every epoch; the test images are not used.

    Returns:
        (model, history) where history maps each metric to its per-epoch list.
    """
    (x_fit, y_fit), validation = training_split(arrays, validation_fraction, seed)
    num_classes = int(max(y_fit.max(), validation[1].max(initial=0))) + 1
    logger.info(
        "training on %d images, validating on %d, %d classes",
        len(x_fit), len(validation[0]), num_classes,
    )

    model = build_mlp(x_fit.shape[1], hidden_units, num_classes)
    steps_per_epoch = -(-len(x_fit) // batch_size)
    compile_model(model, learning_rate, schedule, decay_steps=steps_per_epoch * epochs)
    history = fit_model(model, (x_fit, y_fit), validation, epochs, batch_size)
    return model, history


def training_split(arrays, validation_fraction, seed, input_shape=None):
    """Return ((x_fit, y_fit), (x_validation, y_validation)) of the training images.

    Inputs are prepared with `prepare_inputs` for `input_shape`; the split
    is the one of `split_validation`, so the same seed and fraction give the
    same split.
    """
    x = prepare_inputs(arrays["x_train"], input_shape)
    y = np.asarray(arrays["y_train"], dtype=np.int64)
    return split_validation(x, y, validation_fraction, seed)


def fit_model(model, fit, validation, epochs, batch_size, callbacks=()):
    """Train a compiled model on `fit`, scoring `validation` after each epoch if not empty.

    Returns:
        The per-epoch history, {metric: [value per epoch]}.
    """
    history = model.fit(
        *fit,
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        validation_data=validation if len(validation[0]) else None,
        callbacks=list(callbacks),
        verbose=2,
    )
    return history.history


def evaluate(model, x, y, batch_size=1000):
    """Return {"loss": ..., "accuracy": ...} of a model on (x, y).

    The model is compiled with the training loss first if it is not.
    """
    if not model.compiled:
        compile_model(model)
    loss, accuracy = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    return {"loss": float(loss), "accuracy": float(accuracy)}


def compiled_predict(model):
    """Return a function from a numpy batch to numpy outputs, running `model` as one graph.

    The model call is traced once into a TensorFlow function that accepts
    any batch size. Timings use it rather than `predict_on_batch`, whose
    per-call overhead (about 1 ms on a 2-core CPU) would hide the cost of a
    small model and of a single image. The batch may be a numpy array or,
    to leave the copy into TensorFlow out of a timing, a tensor made with
    `as_model_input`.
    """
    import tensorflow as tf

    signature = [tf.TensorSpec((None, *input_shape_of(model)), tf.float32)]

    @tf.function(input_signature=signature, autograph=False)
    def run(x):
        return model(x, training=False)

    def predict(x):
        return run(tf.convert_to_tensor(x, dtype=tf.float32)).numpy()

    return predict


def as_model_input(x):
    """Return `x` as a float32 TensorFlow tensor, the input that models run on."""
    import tensorflow as tf

    return tf.convert_to_tensor(x, dtype=tf.float32)


def load_model(path, advice="Delete the file and rerun the job that produced it."):
    """Load a saved .keras model, with an error that names the file.

    Args:
        advice: the last sentence of an error, saying how to fix it.

    Raises:
        ValueError: if the file is missing, damaged or not a Keras model.
    """
    import keras

    if not os.path.isfile(path):
        raise ValueError(f"Keras model file not found: {path}")
    # Keras reports a file that is not a zip archive as "File not found".
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"cannot load the Keras model {path}: not a .keras file (a .keras file is "
            f"a zip archive), so it is damaged or truncated. {advice}"
        )
    try:
        return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        reason = str(error).rstrip(".")
        raise ValueError(
            f"cannot load the Keras model {path}: {type(error).__name__}: {reason}. {advice}"
        ) from error


def dense_layers(model):
    """Return the model's Dense layers in order; the last is the output layer."""
    import keras

    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


SCOPES = ("layer", "global")


def prune_model(model, k, method, prune_output_layer=False, scope="layer"):
    """Return a pruned copy of a Keras model, leaving `model` untouched.

    In layer scope each hidden Dense layer is pruned on its own with
    `prunelab.pruning.prune_kernel`. In global scope, which only weight
    pruning allows, one threshold serves all pruned kernels together
    (`prunelab.pruning.global_weight_masks`), so layers end up with uneven
    sparsities. The output (logits) layer is kept unless
    `prune_output_layer` is true, which only weight pruning allows.

    Args:
        model: a Keras model whose prunable layers are Dense.
        k: sparsity in [0, 1].
        method: "weight" or "unit".
        prune_output_layer: also weight-prune the output layer's kernel.
        scope: "layer" or "global".

    Returns:
        (pruned_model, layers), where layers is a list with one dict per
        Dense layer: name, kernel_shape, pruned (bool), kernel_zeros (count
        of zero entries) and kernel_sparsity (their fraction).
    """
    import keras

    if method not in pruning.METHODS:
        raise ValueError(f"method must be one of {pruning.METHODS}, received {method!r}")
    if prune_output_layer and method == "unit":
        raise ValueError(
            "unit pruning of the output layer is not allowed: each output unit is a "
            "class, so removing one deletes that class; set prune_output_layer to false"
        )
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, received {scope!r}")
    if scope == "global" and method == "unit":
        raise ValueError(
            "global unit pruning is not supported: the L2 norms of columns with "
            "different fan-in are not comparable across layers; use scope 'layer' "
            "for unit pruning"
        )
    denses = dense_layers(model)
    if not denses:
        raise ValueError(f"model {model.name!r} has no Dense layer to prune")

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy_denses = dense_layers(copy)
    selected = [prune_output_layer or position < len(copy_denses) - 1
                for position in range(len(copy_denses))]
    global_masks = {}
    if scope == "global":
        chosen = [layer for layer, is_chosen in zip(copy_denses, selected) if is_chosen]
        masks = pruning.global_weight_masks([layer.get_weights()[0] for layer in chosen], k)
        global_masks = {layer.name: mask for layer, mask in zip(chosen, masks)}
    layers = []
    for layer, is_selected in zip(copy_denses, selected):
        weights = layer.get_weights()
        kernel = weights[0]
        bias = weights[1] if layer.use_bias else None
        if layer.name in global_masks:
            kernel = np.where(global_masks[layer.name], kernel, np.zeros_like(kernel))
            layer.set_weights([kernel] if bias is None else [kernel, bias])
        elif is_selected:
            kernel, bias = pruning.prune_kernel(kernel, bias, k, method)
            layer.set_weights([kernel] if bias is None else [kernel, bias])
        layers.append({
            "name": layer.name,
            "kernel_shape": list(kernel.shape),
            "pruned": is_selected,
            "kernel_zeros": int(kernel.size - np.count_nonzero(kernel)),
            "kernel_sparsity": pruning.sparsity(kernel),
        })
    return copy, layers


def describe_layers(model, prune_output_layer=False, methods=("weight", "unit", "tfmot")):
    """Describe, for every layer of a model, what pruning does to it.

    Args:
        prune_output_layer: whether weight pruning and tfmot also prune the
            output layer (the config key prune.prune_output_layer).
        methods: the methods that run; the others are left out of pruned_by.

    Returns:
        One dict per layer, in model order: name, class, weight_shapes, and
        for Dense layers kernel_shape, output_layer (the last Dense layer)
        and pruned_by, the methods among `methods` that prune its kernel.
        Weight pruning and tfmot prune every Dense kernel but the output
        layer's, which they prune only with `prune_output_layer`. Unit
        pruning never prunes the output layer. Other layers are carried
        through unpruned.
    """
    denses = dense_layers(model)
    output = denses[-1] if denses else None
    described = []
    for layer in model.layers:
        entry = {
            "name": layer.name,
            "class": type(layer).__name__,
            "weight_shapes": [list(weight.shape) for weight in layer.get_weights()],
        }
        if layer in denses:
            is_output = layer is output
            entry.update(
                kernel_shape=list(layer.get_weights()[0].shape),
                output_layer=is_output,
                pruned_by=[method for method in methods
                           if not is_output or (prune_output_layer and method != "unit")],
            )
        described.append(entry)
    return described


def count_kernel_zeros(model, layers):
    """Return `layers` (as from `prune_model`) with zero counts read again from `model`."""
    kernels = {layer.name: layer.get_weights()[0] for layer in dense_layers(model)}
    counted = []
    for layer in layers:
        kernel = kernels[layer["name"]]
        counted.append({
            **layer,
            "kernel_zeros": int(kernel.size - np.count_nonzero(kernel)),
            "kernel_sparsity": pruning.sparsity(kernel),
        })
    return counted


def achieved_sparsity(layers):
    """Return the fraction of zero entries over the pruned kernels of `layers`.

    `layers` is the list returned by `prune_model`. Without pruned layers the
    result is 0.0.
    """
    pruned = [layer for layer in layers if layer["pruned"]]
    entries = sum(int(np.prod(layer["kernel_shape"])) for layer in pruned)
    zeros = sum(layer["kernel_zeros"] for layer in pruned)
    return zeros / entries if entries else 0.0


def count_nonzero_parameters(model):
    """Return (nonzero, total) over all weights of a model, biases included."""
    arrays = model.get_weights()
    total = sum(int(array.size) for array in arrays)
    return cost.nonzero_parameters(arrays), total


def kernels_of(model):
    """Return the kernels of the model's Dense layers, input side first."""
    return [layer.get_weights()[0] for layer in dense_layers(model)]
