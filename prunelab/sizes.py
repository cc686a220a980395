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


def keras_model_bytes(model):
    """Return (bytes, gzipped bytes) of a Keras model saved as a .keras file."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.keras"
        model.save(path)
        return file_bytes(path), gzip_bytes(path)
