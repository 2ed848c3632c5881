"""The multi-space proxy search (FlexiBERT and GPT-2 at once):
`python experiments/multi/run.py [--out DIR] [--workers N] [--resume]`.

Runs config.toml (this folder) and copies the chosen proxy to found.json here; see
:mod:`lpzero_gp.search.experiment` for every option.
"""
import sys
from pathlib import Path

from lpzero_gp.search.experiment import main

if __name__ == "__main__":
    sys.exit(main(Path(__file__).resolve().parent / "config.toml", sys.argv[1:]))
