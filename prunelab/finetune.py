"""Fine-tuning of a pruned model with its pruning masks held fixed.

After every optimizer step the pruned entries are set back to exactly 0.0,
so they never regrow: Adam's moment estimates would otherwise move them
away from zero on the next steps. For unit pruning the biases of removed
units are held at 0.0 too, so a removed unit stays removed.
"""

import logging

import numpy as np

from prunelab import model as models

logger = logging.getLogger(__name__)


def pruning_masks(pruned_model, layers, method):
    """Return the masks that keep a pruned model's pruned entries at zero.

    Args:
        pruned_model: a model returned by `prunelab.model.prune_model`.
        layers: the layer list returned with it.
        method: "weight" or "unit", the method it was pruned with.

    Returns:
        {layer name: (kernel mask, bias mask or None)} for each pruned
        layer, with 1.0 where an entry may change and 0.0 where it is
        pruned. Unit pruning also masks the bias of each removed unit.
    """
    pruned_names = {layer["name"] for layer in layers if layer["pruned"]}
    masks = {}
    for layer in models.dense_layers(pruned_model):
        if layer.name not in pruned_names:
            continue
        weights = layer.get_weights()
        kernel_mask = (weights[0] != 0).astype(weights[0].dtype)
        bias_mask = None
        if method == "unit" and layer.use_bias:
            kept_columns = np.any(weights[0] != 0, axis=0)
            bias_mask = kept_columns.astype(weights[1].dtype)
        masks[layer.name] = (kernel_mask, bias_mask)
    return masks


def apply_masks(model, masks):
    """Multiply the masked kernels and biases of `model` by their masks, in place."""
    for layer in models.dense_layers(model):
        if layer.name not in masks:
            continue
        kernel_mask, bias_mask = masks[layer.name]
        layer.kernel.assign(layer.kernel * kernel_mask)
        if bias_mask is not None:
            layer.bias.assign(layer.bias * bias_mask)


def mask_callback(masks):
    """Return a Keras callback that applies `masks` before training and after every step."""
    import keras

    class HoldMasks(keras.callbacks.Callback):
        """Callback that sets the pruned entries back to zero after each optimizer step."""

        def on_train_begin(self, logs=None):
            apply_masks(self.model, masks)

        def on_train_batch_end(self, batch, logs=None):
            apply_masks(self.model, masks)

    return HoldMasks()


def finetune(pruned_model, masks, arrays, epochs, batch_size, learning_rate,
             validation_fraction, seed, callbacks=()):
    """Retrain a pruned model in place for `epochs` epochs with its masks fixed.

    Uses Adam at a constant `learning_rate` on the training images, with the
    same validation split as `prunelab.model.train_model` for the same seed
    and fraction. The test images are not used.

    Args:
        callbacks: more Keras callbacks, run after the mask callback.

    Returns:
        The per-epoch history, {metric: [value per epoch]}.
    """
    if epochs < 1:
        raise ValueError(f"fine-tuning epochs must be at least 1, received {epochs!r}")
    fit, validation = models.training_split(arrays, validation_fraction, seed,
                                             models.input_shape_of(pruned_model))
    models.compile_model(pruned_model, learning_rate, "constant")
    logger.info("fine-tuning for %d epoch%s on %d images at learning rate %g, masks fixed",
                epochs, "" if epochs == 1 else "s", len(fit[0]), learning_rate)
    return models.fit_model(pruned_model, fit, validation, epochs, batch_size,
                            callbacks=[mask_callback(masks), *callbacks])
