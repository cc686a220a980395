"""Logging set-up for the workflow's scripts."""

import logging
import os
import sys


def log_to_file(path, name="prunelab"):
    """Send this process's logging, stdout and stderr to the file `path`.

    The file is line-buffered, so `tail -f` shows Keras' per-epoch lines as
    they come. File descriptors 1 and 2 are redirected too, so messages that
    TensorFlow's C++ runtime writes also land in the file.

    Returns:
        The logger `name`, at level INFO.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    stream = open(path, "a", buffering=1, encoding="utf-8")
    os.dup2(stream.fileno(), 1)
    os.dup2(stream.fileno(), 2)
    sys.stdout = stream
    sys.stderr = stream
    logging.basicConfig(
        stream=stream,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    return logging.getLogger(name)
