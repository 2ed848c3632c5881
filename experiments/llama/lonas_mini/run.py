"""LoNAS-style picks on lonas-mini.

`python experiments/llama/lonas_mini/run.py [--out DIR] [--config FILE] [--data-dir DIR]`

Runs config.toml (this folder) with :class:`lpzero_gp.nas.lonas.Pipeline` from the checkout's
root; every stage is written under --out (default: runs/lonas_mini of the checkout) as it
finishes, so a rerun skips finished stages. results.json and results.md go into this folder.
"""
import argparse
import os
import sys
from pathlib import Path

from lpzero_gp.nas.lonas import LonasConfig, Pipeline

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(here / "config.toml"))
    parser.add_argument("--out", default=str(here.parents[2] / "runs" / "lonas_mini"))
    parser.add_argument("--results", default=str(here), help="where results.json/.md go")
    parser.add_argument("--data-dir", help="the data folder (shakespeare is downloaded there)")
    args = parser.parse_args()
    config = LonasConfig.from_toml(args.config)
    out, results = Path(args.out).resolve(), Path(args.results).resolve()
    os.chdir(here.parents[2])  # the config's proxy path is relative to the checkout's root
    pipeline = Pipeline(config, out, data_dir=args.data_dir)
    result = pipeline.run(results)
    print(Path(results, "results.md").read_text())
    sys.exit(0 if result["complete"] else 1)
