import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import synthetic_mnist, write_npz  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_arrays():
    """Synthetic arrays in MNIST layout, shared by the session; do not modify."""
    return synthetic_mnist()


@pytest.fixture(scope="session")
def mnist_npz(tmp_path_factory, mnist_arrays):
    """Path of an npz file holding the synthetic MNIST arrays."""
    return write_npz(tmp_path_factory.mktemp("data") / "mnist.npz", mnist_arrays)
