"""Atomic file output: write to a temporary file beside the target, then rename."""

import contextlib
import json
import os
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path that is renamed to `path` when the block succeeds.

    The temporary file lies in the same directory, so the final rename is
    atomic, and it keeps the target's suffix, because some writers (numpy's
    savez, Keras' save) require or append one. If the block raises, the
    temporary file is deleted and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-1:])
    temporary = path.with_name(f".{path.stem}.tmp-{os.getpid()}{suffix}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


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
