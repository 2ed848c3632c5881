"""The flexibert proxy search in the hybrid language (hand-designed proxies as terminals):
`python experiments/flexibert/run_hybrid.py [--out DIR] [--workers N] [--resume]`.

Runs config_hybrid.toml (this folder) and copies the chosen proxy to found_hybrid.json here;
see :mod:`lpzero_gp.search.experiment` for every option.
"""
import sys
from pathlib import Path

from lpzero_gp.search.experiment import main

if __name__ == "__main__":
    sys.exit(main(Path(__file__).resolve().parent / "config_hybrid.toml", sys.argv[1:],
                  found_name="found_hybrid.json"))
