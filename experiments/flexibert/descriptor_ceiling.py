"""How much of GLUE do architecture features explain? A least-squares fit, held out.

    python experiments/flexibert/descriptor_ceiling.py [--run runs/flexibert]

Fits GLUE on every architecture feature of a record (layers, hidden size, total heads, total
FFN width beyond the first matrix, total FFN depth) on the search half of a search run's split
(``split.json`` in the run folder) and prints Spearman/Kendall of the fit on the validation
half, next to "layers, then hidden size". No model is built: this is the ceiling of what plain
descriptors can rank on this benchmark.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lpzero_gp.metrics import correlations
from lpzero_gp.spaces import get_space


def features(record) -> list[float]:
    cfg = record.config
    return [cfg.n_layers, cfg.hidden_size, sum(x.num_heads for x in cfg.layers),
            sum(x.ffn_dim * (x.num_ffn > 1) for x in cfg.layers),
            sum(x.num_ffn for x in cfg.layers), 1.0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/flexibert", help="a flexibert search run folder")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    split = json.loads((Path(args.run) / "split.json").read_text())
    space = get_space("flexibert")
    bench = space.load_benchmark(data_dir=args.data_dir)
    search = bench.subset(ids=split["search"]).records
    validation = bench.subset(ids=split["validation"]).records
    x_s = np.array([features(r) for r in search])
    y_s = np.array([r.quality for r in search])
    coef, *_ = np.linalg.lstsq(x_s, y_s, rcond=None)
    x_v = np.array([features(r) for r in validation])
    y_v = np.array([r.quality for r in validation])
    fit = correlations(x_v @ coef, y_v)
    lth = correlations(np.array([space.descriptors(r)["layers_then_hidden"]
                                 for r in validation]), y_v)
    print(f"validation half ({len(validation)} records; fitted on {len(search)}):")
    print(f"  least-squares fit of all features  tau {fit.kendall_tau:.3f}  "
          f"rho {fit.spearman_rho:.3f}")
    print(f"  layers, then hidden size           tau {lth.kendall_tau:.3f}  "
          f"rho {lth.spearman_rho:.3f}")


if __name__ == "__main__":
    main()
