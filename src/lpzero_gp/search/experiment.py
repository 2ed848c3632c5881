"""The body of ``experiments/<space>/run.py``: run the folder's config, keep its found.json.

    python experiments/<space>/run.py [--out runs/<space>] [--workers 2] [--resume]
                                      [--generations N] [--population N] [--limit N]
                                      [--no-copy] [--quiet]

Reads ``config.toml`` beside the script, writes every result file to ``--out``, prints the
found formula with its figures next to LPZero's and the descriptor baselines, and copies the
run's ``found.json`` next to the script (unless ``--no-copy``).
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path


def main(config: Path, argv: list[str] | None = None) -> int:
    folder = Path(config).resolve().parent
    parser = argparse.ArgumentParser(description=f"the {folder.name} proxy search")
    parser.add_argument("--out", default=f"runs/{folder.name}", help="results folder")
    parser.add_argument("--workers", type=int)
    parser.add_argument("--generations", type=int)
    parser.add_argument("--population", type=int)
    parser.add_argument("--limit", type=int, help="only the first N records (a quick try)")
    parser.add_argument("--resume", action="store_true", help="continue a killed run")
    parser.add_argument("--no-copy", action="store_true",
                        help=f"do not copy found.json into {folder}")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    from .api import search
    result = search(config=config, out=args.out, workers=args.workers,
                    generations=args.generations, population=args.population,
                    records=args.limit, resume=args.resume, progress=not args.quiet)
    print(result.summary())
    if not args.no_copy:
        shutil.copyfile(result.out / "found.json", folder / "found.json")
        print(f"copied {result.out / 'found.json'} to {folder / 'found.json'}")
    return 0
