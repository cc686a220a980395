"""Compact form of a unit-pruned network: removed units are deleted, not masked.

A hidden unit whose incoming weights are all zero outputs a constant,
activation(bias), whatever the input. Compaction deletes such a unit's
kernel column and bias. Its constant contribution to the next layer, the
constant times the unit's row of the next kernel, is added to the next
layer's bias, and then that row is deleted. The compact model therefore
computes the same function with smaller Dense layers.

If every unit of a layer is removed, one unit with zero weights and zero
bias is kept, because Keras has no zero-width Dense layer. Its row in the
next kernel is zero, so the next layer's output comes from its bias only.
"""

import numpy as np

from prunelab import model as models


def compact_arrays(layers):
    """Delete the removed hidden units of a chain of dense layers, on numpy arrays.

    Args:
        layers: list of (kernel, bias, activation) per layer, input side
            first. kernel has shape (inputs, units), bias shape (units,), and
            activation maps a float64 vector to the layer's outputs. The last
            layer is the output layer and keeps all its units.

    Returns:
        A list of (kernel, bias) float64 pairs, one per layer, with the
        removed units' columns, biases and next-layer rows deleted and their
        constant outputs added to the next layer's bias.
    """
    result = []
    kept_rows = None
    placeholder_row = False
    carried = None
    for position, (kernel, bias, activation) in enumerate(layers):
        kernel = np.array(kernel, dtype=np.float64)
        bias = np.array(bias, dtype=np.float64)
        if carried is not None:
            # carried is zero for kept units, so only removed units add here.
            bias = bias + carried @ kernel
            kernel = kernel[kept_rows]
            if placeholder_row:
                kernel[0] = 0.0

        if position == len(layers) - 1:
            result.append((kernel, bias))
            break

        removed = ~kernel.any(axis=0)
        carried = np.zeros(kernel.shape[1])
        if removed.any():
            carried[removed] = activation(bias[removed])
        kept_rows = np.flatnonzero(~removed)
        placeholder_row = kept_rows.size == 0
        if placeholder_row:
            kept_rows = np.array([0])

        new_kernel = kernel[:, kept_rows]
        new_bias = bias[kept_rows]
        if placeholder_row:
            new_kernel[:] = 0.0
            new_bias[:] = 0.0
        result.append((new_kernel, new_bias))
    return result


def compact_model(model):
    """Return a smaller copy of a unit-pruned model, with removed units deleted.

    A removed unit is a hidden unit whose kernel column is all zero, as unit
    pruning leaves it. The output layer keeps all its units. The copy has
    the same layer names and activations and can be saved as a .keras file.

    Args:
        model: a chain of Dense layers, for example one returned
            by `prunelab.model.prune_model(..., method="unit")`.

    Returns:
        (compact, units): the new keras.Sequential, and the unit count of
        each of its Dense layers.

    Raises:
        ValueError: if the model has layers other than Dense, Dropout and
            Flatten. The caller checks that the layers form a chain
            (`prunelab.model_files.ModelInfo.has_fast_form`).
    """
    import keras

    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(
            f"compaction needs a built Keras model, received {type(model).__name__}; "
            f"give the model an Input layer or call it once before compacting"
        )
    from prunelab.model_files import PASS_THROUGH

    denses = models.dense_layers(model)
    others = [
        type(layer).__name__ for layer in model.layers
        if type(layer).__name__ not in (*PASS_THROUGH, "Dense")
    ]
    if others or not denses:
        raise ValueError(
            f"compaction needs a chain of Dense layers (Dropout and Flatten allowed); "
            f"model {model.name!r} has {[type(layer).__name__ for layer in model.layers]}"
        )

    layers = []
    for layer in denses:
        weights = layer.get_weights()
        bias = weights[1] if layer.use_bias else np.zeros(weights[0].shape[1], np.float32)
        layers.append((weights[0], bias, _numpy_activation(layer)))
    compacted = compact_arrays(layers)

    input_dim = denses[0].get_weights()[0].shape[0]
    compact = keras.Sequential(name=f"{model.name}_compact")
    compact.add(keras.Input(shape=(input_dim,), name="inputs"))
    for layer, (kernel, bias) in zip(denses, compacted):
        config = layer.get_config()
        # Folded constants need a bias even where the original had none.
        config.update(units=kernel.shape[1], use_bias=True)
        compact.add(keras.layers.Dense.from_config(config))
        compact.layers[-1].set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return compact, [kernel.shape[1] for kernel, _ in compacted]


def _numpy_activation(layer):
    import keras

    def apply(values):
        tensor = keras.ops.convert_to_tensor(np.asarray(values, dtype=np.float32))
        return np.asarray(keras.ops.convert_to_numpy(layer.activation(tensor)), np.float64)

    return apply
