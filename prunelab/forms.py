"""The fast execution form of a pruned model, next to its masked form.

The masked form is the pruned Keras model itself: dense kernels that hold
zeros, which cost as much time as the unpruned model. The fast form stores
and multiplies only what pruning left:

- unit pruning: the compact Keras model (`prunelab.compact`), saved as .keras;
- weight pruning: CSR kernels (`prunelab.sparse`), saved as .npz.
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from prunelab import cost
from prunelab import model as models


@dataclass
class FastForm:
    """A pruned model in its fast form, with its theoretical cost.

    `suffix` is the file suffix that `save` needs. `prepare` converts a numpy batch to the input type that `predict` runs on
    natively, so that a timing can leave that conversion out.
    """

    name: str
    suffix: str
    predict: Callable
    prepare: Callable
    save: Callable
    flops_per_image: int
    params: int
    description: str


def fast_form(pruned, method):
    """Build the fast form of a model pruned with `method` ("weight" or "unit")."""
    if method == "unit":
        from prunelab.compact import compact_model

        compact, units = compact_model(pruned)
        compact_predict = models.compiled_predict(compact)
        return FastForm(
            name="compact",
            suffix=".keras",
            # The compact model takes flat rows, like the sparse form.
            predict=lambda x: compact_predict(_rows(x)),
            prepare=lambda x: models.as_model_input(_rows(np.asarray(x))),
            save=compact.save,
            flops_per_image=cost.dense_flops(models.kernels_of(compact)),
            params=models.count_nonzero_parameters(compact)[1],
            description=f"compact model with units {units}",
        )
    if method == "weight":
        from prunelab.sparse import SparseNetwork

        sparse = SparseNetwork.from_keras(pruned)
        return FastForm(
            name="sparse",
            suffix=".npz",
            predict=sparse.predict,
            prepare=np.asarray,
            save=sparse.save,
            flops_per_image=cost.nonzero_flops(models.kernels_of(pruned)),
            params=sparse.nonzero_weights() + sum(bias.size for bias in sparse.biases),
            description=f"CSR kernels with {sparse.nonzero_weights()} stored weights",
        )
    raise ValueError(f"method must be 'weight' or 'unit', received {method!r}")


def _rows(x):
    """Return a batch with each sample flattened to one row; 2-D batches as they are."""
    if len(x.shape) == 2:
        return x
    if isinstance(x, np.ndarray):
        return x.reshape(len(x), -1)
    import tensorflow as tf

    return tf.reshape(x, (tf.shape(x)[0], -1))
