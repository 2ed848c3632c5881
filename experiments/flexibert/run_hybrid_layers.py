"""The flexibert proxy search in the hybrid_layers language (hand-designed proxies and the per-layer values of
those that are sums over layers as terminals):
`python experiments/flexibert/run_hybrid_layers.py [--out DIR] [--workers N] [--resume]`.

Runs config_hybrid_layers.toml (this folder) and copies the chosen proxy to found_hybrid_layers.json here;
see :mod:`lpzero_gp.search.experiment` for every option.
"""
import sys
from pathlib import Path

from lpzero_gp.search.experiment import main

if __name__ == "__main__":
    sys.exit(main(Path(__file__).resolve().parent / "config_hybrid_layers.toml", sys.argv[1:],
                  found_name="found_hybrid_layers.json"))
