"""The gpt2 proxy search in the columns language (every input also by columns: column statistics):
`python experiments/gpt2/run_columns.py [--out DIR] [--workers N] [--resume]`.

Runs config_columns.toml (this folder) and copies the chosen proxy to found_columns.json here;
see :mod:`lpzero_gp.search.experiment` for every option.
"""
import sys
from pathlib import Path

from lpzero_gp.search.experiment import main

if __name__ == "__main__":
    sys.exit(main(Path(__file__).resolve().parent / "config_columns.toml", sys.argv[1:],
                  found_name="found_columns.json"))
