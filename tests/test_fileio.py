"""Atomic outputs: temporary files beside the target, and leftovers of killed writers."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from prunelab.fileio import atomic_path, process_running, temporary_directory, write_json


def ended_pid():
    """Return the id of a process that has ended."""
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                             capture_output=True, text=True, check=True)
    pid = int(process.stdout)
    assert not process_running(pid)
    return pid


def test_atomic_path_renames_on_success(tmp_path):
    target = tmp_path / "out" / "result.json"
    write_json(target, {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert os.listdir(target.parent) == ["result.json"]


def test_atomic_path_keeps_target_on_error(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            temporary.write_text("half")
            raise RuntimeError("writer failed")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["result.json"]


def test_leftover_of_ended_process_removed(tmp_path):
    target = tmp_path / "model.keras"
    leftover = tmp_path / f".model.tmp-{ended_pid()}.keras"
    leftover.write_text("half")
    with atomic_path(target) as temporary:
        temporary.write_text("whole")
    assert not leftover.exists()
    assert target.read_text() == "whole"


def test_leftover_of_running_process_kept(tmp_path):
    target = tmp_path / "model.keras"
    live = tmp_path / f".model.tmp-{os.getppid()}.keras"
    live.write_text("being written")
    with atomic_path(target) as temporary:
        temporary.write_text("whole")
    assert live.read_text() == "being written"


def test_other_targets_leftovers_kept(tmp_path):
    pid = ended_pid()
    others = [tmp_path / f".model2.tmp-{pid}.keras", tmp_path / f".model.tmp-{pid}.json",
              tmp_path / ".model.tmp-abc.keras"]
    for other in others:
        other.write_text("x")
    with atomic_path(tmp_path / "model.keras") as temporary:
        temporary.write_text("whole")
    for other in others:
        assert other.exists(), other


def test_temporary_directory_removes_ended(tmp_path):
    leftover = tmp_path / f".fetch-{ended_pid()}"
    (leftover / "partial").mkdir(parents=True)
    (leftover / "partial" / "download.npz").write_bytes(b"12")
    with temporary_directory(tmp_path, ".fetch-") as folder:
        assert folder.name == f".fetch-{os.getpid()}"
        assert not leftover.exists()
    assert os.listdir(tmp_path) == []


WRITER = textwrap.dedent("""\
    import sys, time
    from prunelab.fileio import atomic_path
    with atomic_path(sys.argv[1]) as temporary:
        with open(temporary, "w") as stream:
            stream.write("half")
            stream.flush()
            print("writing", flush=True)
            time.sleep(60)
""")


def test_sigkilled_writer_leaves_nothing_complete(tmp_path):
    target = tmp_path / "metrics.json"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)],
                              stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    leftovers = sorted(path.name for path in tmp_path.iterdir())
    assert leftovers == [f".metrics.tmp-{writer.pid}.json"]

    # The next writer of the same target removes the killed writer's file.
    write_json(target, {"complete": True})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["metrics.json"]
