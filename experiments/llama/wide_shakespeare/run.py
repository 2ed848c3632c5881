"""The llama proxy search on the Shakespeare benchmark:
`python experiments/llama/wide_shakespeare/run.py [--out DIR] [--workers N] [--resume]`.

Runs config.toml (this folder) on the built benchmark in this folder (its path is relative to
the checkout's root, where this script runs) and copies the chosen proxy to found.json here;
see :mod:`lpzero_gp.search.experiment` for every option.
"""
import os
import sys
from pathlib import Path

from lpzero_gp.search.experiment import main

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    os.chdir(here.parents[2])
    sys.exit(main(here / "config.toml", sys.argv[1:]))
