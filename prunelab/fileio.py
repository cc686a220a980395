"""Atomic file output: write to a temporary file beside the target, then rename."""

import contextlib
import json
import os
import re
import shutil
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path that is renamed to `path` when the block succeeds.

    The temporary file lies in the same directory, so the final rename is
    atomic, and it keeps the target's suffix, because some writers (numpy's
    savez, Keras' save) require or append one. If the block raises, the
    temporary file is deleted and `path` is left as it was. Temporary files
    of `path` left by processes that no longer run (a job killed with
    SIGKILL) are deleted first.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-1:])
    temporary = path.with_name(f".{path.stem}.tmp-{os.getpid()}{suffix}")
    pattern = re.compile(rf"\.{re.escape(path.stem)}\.tmp-(\d+){re.escape(suffix)}")
    for leftover in path.parent.glob(f".{glob_escape(path.stem)}.tmp-*"):
        remove_if_orphaned(leftover, pattern)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


@contextlib.contextmanager
def temporary_directory(directory, prefix):
    """Yield a new folder `{prefix}{process id}` in `directory`, deleted on exit.

    Folders of the same prefix left by processes that no longer run are
    deleted first.
    """
    directory = Path(directory)
    pattern = re.compile(rf"{re.escape(prefix)}(\d+)")
    for leftover in directory.glob(f"{glob_escape(prefix)}*"):
        remove_if_orphaned(leftover, pattern)
    folder = directory / f"{prefix}{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_if_orphaned(path, pattern):
    """Delete `path` if its name matches `pattern` and names a process that has ended.

    The first group of `pattern` is the process id. A process id that is in
    use again, or one from another machine that shares the file system, keeps
    the file: that is safe, and the file is small.
    """
    match = pattern.fullmatch(path.name)
    if match is None or process_running(int(match.group(1))):
        return
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def process_running(pid):
    """Return whether a process with id `pid` exists on this machine."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def glob_escape(text):
    """Escape the characters that `Path.glob` would read as wildcards."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def write_json(path, data):
    """Write `data` as indented JSON to `path`, atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")


def read_json(path):
    """Return the parsed content of a JSON file."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
