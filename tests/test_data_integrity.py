"""Damaged data, stalled sources and damaged models, run through the workflow.

Each case runs Snakemake on a tiny config in its own directory; the HTTP
sources are servers that the tests start on 127.0.0.1.
"""

import hashlib

import pytest

from loopback_server import Route, loopback_server
from workflow_helpers import snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow

STALL_S = 20


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Keep urllib in the jobs from sending loopback requests to a proxy."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


@pytest.fixture
def stalling_server(mnist_npz):
    """Serve a transfer that stops after 100 bytes, and the whole file; yield the URL and its hash."""
    body = mnist_npz.read_bytes()
    routes = {
        "/stall.npz": Route(body[:100], len(body), STALL_S),
        "/mnist.npz": Route(body, len(body)),
    }
    with loopback_server(routes) as url:
        yield url, hashlib.sha256(body).hexdigest()


def test_stalled_and_wrong_hash_sources_stop_fetch(tmp_path, mnist_npz, stalling_server):
    url, sha256 = stalling_server
    config = tiny_config(mnist_npz)
    config["data"] = {"timeout_s": 1, "sources": [
        {"url": f"{url}/stall.npz", "sha256": sha256},
        {"url": f"{url}/mnist.npz", "sha256": "0" * 64},
    ]}
    write_config(tmp_path, config)

    result = snakemake(tmp_path, "--cores", "2", "results/train/seed0/metrics.json", check=False)
    assert result.returncode != 0
    log = (tmp_path / "logs/fetch_mnist.log").read_text()
    assert "timed out" in log
    assert "with 100 bytes received" in log
    assert "SHA-256 mismatch" in log
    # Hidden temporary files and folders match too: pathlib's * matches a leading dot.
    assert list(tmp_path.glob("resources/*")) == []
    assert not (tmp_path / "results/train").exists()


def test_stalled_source_falls_back_to_next(tmp_path, mnist_npz, stalling_server):
    url, sha256 = stalling_server
    config = tiny_config(mnist_npz)
    config["data"] = {"timeout_s": 1, "sources": [
        {"url": f"{url}/stall.npz", "sha256": sha256},
        {"local": str(mnist_npz)},
    ]}
    write_config(tmp_path, config)

    snakemake(tmp_path, "--cores", "2", "resources/mnist.npz")
    provenance = (tmp_path / "resources/mnist.provenance.json").read_text()
    assert '"kind": "local"' in provenance
    assert "timed out" in provenance
    assert sorted(path.name for path in (tmp_path / "resources").iterdir()) == [
        "mnist.npz", "mnist.provenance.json"]


@pytest.fixture
def trained(tmp_path, mnist_npz):
    """A directory where the tiny config's model is trained."""
    write_config(tmp_path, tiny_config(mnist_npz))
    snakemake(tmp_path, "--cores", "2", "results/train/seed0/metrics.json")
    return tmp_path


def test_truncated_data_stops_training(trained):
    data_path = trained / "resources/mnist.npz"
    data_path.write_bytes(data_path.read_bytes()[: data_path.stat().st_size // 2])
    (trained / "results/train/seed0/model.keras").unlink()

    result = snakemake(trained, "--cores", "2", "results/train/seed0/metrics.json",
                       check=False)
    assert result.returncode != 0
    log = (trained / "logs/train/seed0.log").read_text()
    assert "resources/mnist.npz: not an npz file" in log
    assert "Delete resources/mnist.npz and run snakemake again to fetch it anew" in log
    assert not (trained / "results/train/seed0/model.keras").exists()


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_damaged_model_stops_pruning_job(trained, damage):
    model = trained / "results/train/seed0/model.keras"
    if damage == "truncated":
        model.write_bytes(model.read_bytes()[: model.stat().st_size // 2])
    else:
        model.write_text("not a model\n")
    target = "results/prune/seed0/weight/layer/ft0/k0.5000.json"

    result = snakemake(trained, "--cores", "2", target, check=False)
    assert result.returncode != 0
    log = (trained / "logs/prune_evaluate/seed0/weight/layer/ft0/k0.5000.log").read_text()
    assert f"cannot load the Keras model {model.relative_to(trained)}: not a .keras file" in log
    assert "Delete the file and rerun the job that produced it" in log
    assert not (trained / target).exists()
    assert not list((trained / "results/prune").rglob("*.npz"))
