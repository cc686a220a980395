"""Synthetic data in MNIST's exact layout, for tests that must not download.

The arrays have MNIST's shapes, dtypes and label counts, so they pass the
full MNIST validation, and each class lights a different stripe of pixels,
so a small network learns them in one epoch. Mostly zero pixels keep the
compressed npz small (about 1 MB).
"""

import gzip

import numpy as np

from prunelab.data import MNIST, IDX_FILES


def synthetic_labels(counts, seed):
    labels = np.repeat(np.arange(len(counts), dtype=np.uint8), counts)
    return np.random.default_rng(seed).permutation(labels)


def synthetic_images(labels, seed):
    rng = np.random.default_rng(seed)
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    rows = 2 * labels.astype(np.int64) + 4
    brightness = rng.integers(128, 256, size=len(labels), dtype=np.int64).astype(np.uint8)
    index = np.arange(len(labels))
    images[index, rows, 4:24] = brightness[:, np.newaxis]
    images[index, rows + 1, 4:24] = brightness[:, np.newaxis]
    return images


def synthetic_mnist(seed=0):
    """Return a dict of arrays in Keras MNIST layout that passes validation."""
    y_train = synthetic_labels(MNIST.train_label_counts, seed)
    y_test = synthetic_labels(MNIST.test_label_counts, seed + 1)
    return {
        "x_train": synthetic_images(y_train, seed + 2),
        "y_train": y_train,
        "x_test": synthetic_images(y_test, seed + 3),
        "y_test": y_test,
    }


def write_npz(path, arrays):
    np.savez_compressed(path, **arrays)
    return path


def write_idx_directory(directory, arrays):
    """Write the four gzipped IDX files of `arrays` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_FILES.items():
        array = arrays[key]
        header = bytes([0, 0, 0x08, array.ndim])
        header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        with gzip.open(directory / name, "wb") as handle:
            handle.write(header + array.astype(np.uint8).tobytes())
    return directory
