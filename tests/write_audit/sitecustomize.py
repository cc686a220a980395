"""Record every file that a workflow script opens for writing.

Tests put this folder first on PYTHONPATH and name a log file in
PRUNELAB_WRITE_LOG; each Python process of the run then appends one line
per open for writing: the process id and the absolute path.
"""

import os
import sys

_LOG = os.environ.get("PRUNELAB_WRITE_LOG")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_busy = False


def _record(event, arguments):
    global _busy
    if event != "open" or _busy:
        return
    path, mode, flags = arguments
    if isinstance(mode, str):
        writing = any(letter in mode for letter in "wax+")
    else:
        writing = bool((flags or 0) & _WRITE_FLAGS)
    if not writing or not isinstance(path, (str, bytes, os.PathLike)):
        return
    _busy = True
    try:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{os.getpid()}\t{os.path.abspath(os.fsdecode(path))}\n")
    finally:
        _busy = False


if _LOG:
    sys.addaudithook(_record)
