"""Size on disk of a model in each form."""

import gzip
import os
import shutil
import tempfile
from pathlib import Path


def file_bytes(path):
    """Return the size of a file in bytes."""
    return os.path.getsize(path)


def gzip_bytes(path, level=9):
    """Return the size in bytes of a file after gzip compression at `level`.

    Pruned kernels compress well because their zeros repeat, which is what
    tfmot's documentation means by a model becoming smaller after gzip.
    """
    with tempfile.TemporaryFile() as compressed:
        with open(path, "rb") as source, gzip.GzipFile(
            fileobj=compressed, mode="wb", compresslevel=level, mtime=0
        ) as target:
            shutil.copyfileobj(source, target)
        return compressed.tell()


def saved_bytes(save, suffix):
    """Return (bytes, gzipped bytes) of the file that `save(path)` writes.

    The file goes to a temporary directory, named with `suffix` (".keras",
    ".npz"), because some writers choose the format from it.
    """
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / f"model{suffix}"
        save(path)
        return file_bytes(path), gzip_bytes(path)


def keras_model_bytes(model):
    """Return (bytes, gzipped bytes) of a Keras model saved as a .keras file."""
    return saved_bytes(model.save, ".keras")
