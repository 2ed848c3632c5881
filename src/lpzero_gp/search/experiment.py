"""The body of ``experiments/<space>/run.py``: run the folder's config, keep its found.json.

    python experiments/<space>/run.py [--out runs/<space>] [--workers 2] [--resume]
                                      [--engine local|ray] [--address ADDR]
                                      [--generations N] [--population N] [--limit N]
                                      [--no-copy] [--quiet]

Reads ``config.toml`` beside the script, writes every result file to ``--out``, prints the
found formula with its figures next to LPZero's and the descriptor baselines, and copies the
run's ``found.json`` next to the script (unless ``--no-copy``); a second experiment of a space
(``run_hybrid.py``: ``config_hybrid.toml``) copies it under its own name
(``found_hybrid.json``).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import (EXIT_STATUS_TEXT, OneLineParser, OutputError, nonnegative_int,
                      positive_int, run_command)
from ..fileio import write_bytes


def main(config: Path, argv: list[str] | None = None, found_name: str = "found.json") -> int:
    """Run the experiment of ``config`` with the command line ``argv``; returns the exit
    status. The chosen proxy is copied to ``found_name`` beside ``config``. Mistakes end in
    one line ``run.py: error: ...`` and the statuses of :mod:`lpzero_gp.errors`, as
    ``lpzero-gp`` does."""
    return run_command("run.py", _main, config, argv, found_name)


def _main(config: Path, argv: list[str] | None, found_name: str = "found.json") -> int:
    folder = Path(config).resolve().parent
    parser = OneLineParser(prog="run.py", description=f"the {folder.name} proxy search",
                           epilog=EXIT_STATUS_TEXT,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    stem = Path(found_name).stem.replace("found", "", 1)
    parser.add_argument("--out", default=f"runs/{folder.name}{stem.replace('_', '-')}",
                        help="results folder")
    parser.add_argument("--workers", type=positive_int)
    from ..cli.options import add_engine_options
    add_engine_options(parser, workers=False)
    parser.add_argument("--generations", type=nonnegative_int)
    parser.add_argument("--population", type=positive_int)
    parser.add_argument("--limit", type=positive_int,
                        help="only the first N records (a quick try)")
    parser.add_argument("--resume", action="store_true", help="continue a killed run")
    parser.add_argument("--no-copy", action="store_true",
                        help=f"do not copy found.json into {folder} (as {found_name})")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    from .api import search
    result = search(config=config, out=args.out, workers=args.workers,
                    engine=args.engine, address=args.address, generations=args.generations, population=args.population,
                    records=args.limit, resume=args.resume, progress=not args.quiet)
    print(result.summary())
    if not args.no_copy:
        try:
            write_bytes(folder / found_name, (result.out / "found.json").read_bytes())
        except OSError as exc:
            raise OutputError(f"cannot copy {result.out / 'found.json'} to {folder} "
                              f"({exc.strerror}); the results are in {result.out}") from None
        print(f"copied {result.out / 'found.json'} to {folder / found_name}")
    return 0
