"""The FlexiBERT proxy search: run it, then keep its chosen proxy as found.json next to this.

    python experiments/flexibert/run.py [--out runs/flexibert] [--workers 2] [--resume]
                                        [--generations N] [--population N] [--limit N]
                                        [--no-copy]

Reads config.toml (this folder), writes every result file to --out, prints the found formula
with its figures next to LPZero's and the descriptor baselines, and copies the run's
found.json to experiments/flexibert/found.json (unless --no-copy).
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/flexibert", help="results folder")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--generations", type=int)
    parser.add_argument("--population", type=int)
    parser.add_argument("--limit", type=int, help="only the first N records (a quick try)")
    parser.add_argument("--resume", action="store_true", help="continue a killed run")
    parser.add_argument("--no-copy", action="store_true",
                        help="do not copy found.json into experiments/flexibert/")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    from lpzero_gp.search import search
    result = search(config=HERE / "config.toml", out=args.out, workers=args.workers,
                    generations=args.generations, population=args.population,
                    records=args.limit, resume=args.resume, progress=not args.quiet)
    print(result.summary())
    if not args.no_copy:
        shutil.copyfile(result.out / "found.json", HERE / "found.json")
        print(f"copied {result.out / 'found.json'} to {HERE / 'found.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
