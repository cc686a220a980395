"""prunelab: magnitude pruning experiments on Keras models.

The pruning rules are pure numpy functions in `prunelab.pruning`; the Keras
side (build, train, evaluate, prune a model copy) is in `prunelab.model`.
"""

from prunelab.pruning import prune_kernel

__all__ = ["prune_kernel", "prune_model"]
__version__ = "0.1.0"


def prune_model(model, k, method, prune_output_layer=False, scope="layer"):
    """Return a pruned copy of a Keras model; see `prunelab.model.prune_model`."""
    from prunelab.model import prune_model as _prune_model

    return _prune_model(model, k, method, prune_output_layer, scope)
