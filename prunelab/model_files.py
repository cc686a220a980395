"""Architecture of a saved .keras model, read from its config.json without TensorFlow.

A .keras file is a zip archive with the model's architecture in
config.json and its weights in model.weights.h5. Reading only the
architecture lets the workflow check a user's model, and choose the jobs
it needs, before any job starts and without importing TensorFlow. The
weights are checked later, by the job that loads the model with Keras.
"""

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

# Layers that compute nothing at inference once the input is flattened, so
# the fast forms of a pruned model (prunelab.forms) can skip them.
PASS_THROUGH = ("InputLayer", "Dropout", "Flatten")


class ModelFileError(ValueError):
    """A model file that is missing, unreadable or not usable for pruning."""


@dataclass(frozen=True)
class LayerInfo:
    """One layer of a saved model: class, name and the layers it reads from."""

    class_name: str
    name: str
    inputs: tuple


@dataclass(frozen=True)
class ModelInfo:
    """The architecture of a saved model, in the order Keras lists its layers."""

    path: str
    class_name: str
    layers: tuple

    def classes(self):
        """Return the class name of each layer."""
        return [layer.class_name for layer in self.layers]

    def dense_names(self):
        """Return the names of the Dense layers; the last one is the output layer."""
        return [layer.name for layer in self.layers if layer.class_name == "Dense"]

    def is_chain(self):
        """Return whether each layer reads only the output of the layer before it."""
        if self.class_name == "Sequential":
            return True
        for previous, layer in zip(self.layers, self.layers[1:]):
            if layer.inputs != (previous.name,):
                return False
        return bool(self.layers) and self.layers[0].inputs == ()

    def has_fast_form(self):
        """Return whether the pruned model gets a fast form, which needs a chain of Dense layers.

        Dropout and Flatten are allowed between them, since at inference they
        change nothing in a flattened input.
        """
        return self.is_chain() and all(
            name in PASS_THROUGH or name == "Dense" for name in self.classes()
        )


def read_model_info(path):
    """Read the architecture of the .keras file at `path`.

    Raises:
        ModelFileError: naming the file and the reason, if it is missing,
            not a zip archive, has no readable config.json, is not a
            Sequential or functional model, or has no Dense layer.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist; give the path of a .keras file")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"model file {path} is not a .keras file (a .keras file is a zip archive); "
            f"save the model with model.save('name.keras') in Keras 3"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except KeyError:
        raise ModelFileError(
            f"model file {path} has no config.json, so it was not written by Keras 3's "
            f"model.save; save it again with model.save('name.keras')"
        ) from None
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFileError(
            f"model file {path} is damaged: cannot read its config.json ({error})"
        ) from error
    class_name = config.get("class_name") if isinstance(config, dict) else None
    if class_name not in ("Sequential", "Functional"):
        raise ModelFileError(
            f"model file {path} contains a {class_name!r} model; prunelab prunes Sequential "
            f"and functional models (a subclassed model has no saved architecture to read)"
        )
    layers = tuple(_layer_info(entry) for entry in config.get("config", {}).get("layers", []))
    info = ModelInfo(path=str(path), class_name=class_name, layers=layers)
    if not info.dense_names():
        raise ModelFileError(
            f"model file {path} has no Dense layer to prune: its layers are "
            f"{info.classes() or 'none'}; prunelab prunes Dense kernels only"
        )
    return info


def _layer_info(entry):
    config = entry.get("config", {})
    name = entry.get("name") or config.get("name", "")
    inputs = []
    for node in entry.get("inbound_nodes", []) or []:
        _collect_history(node, inputs)
    return LayerInfo(class_name=entry.get("class_name", ""), name=name, inputs=tuple(inputs))


def _collect_history(value, found):
    """Add to `found` the layer names of every Keras tensor within `value`."""
    if isinstance(value, dict):
        history = value.get("config", {}).get("keras_history") \
            if value.get("class_name") == "__keras_tensor__" else None
        if history:
            found.append(history[0])
            return
        for item in value.values():
            _collect_history(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_history(item, found)
