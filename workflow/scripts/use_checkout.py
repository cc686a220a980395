"""Put this checkout's prunelab package first on sys.path.

Snakemake appends the script's directory to sys.path, so importing this
module works from every script, and the scripts then import the library of
the same checkout as the Snakefile, not another installed copy.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path[:1]:
    sys.path.insert(0, ROOT)
