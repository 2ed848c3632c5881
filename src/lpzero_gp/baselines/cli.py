"""``lpzero-gp baselines``: the comparison table of a space, or the NAS-Bench-BERT reproduction.

::

    lpzero-gp baselines --space flexibert [--benchmark PATH] [--out DIR] [--limit N]
    lpzero-gp baselines --space flexibert --reproduce [--limit N]

The table command writes table.md, table.csv, table.tex, details.json, bars_spearman.png,
bars_kendall.png and scatter.png into ``--out`` and prints the Markdown. ``--reproduce``
computes the published NAS-Bench-BERT proxies on the ``reference`` build with the notebook's
objective (``sum``) unless ``--variant`` / ``--objective`` say otherwise, and LPZero's published
FlexiBERT proxy; it writes reproduction.md and reproduction.json into ``--out``.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from .zero_cost import HAND_DESIGNED_NAMES


def add_commands(subparsers, add_capture_options) -> None:
    """Register ``baselines`` on the ``lpzero-gp`` subparsers."""
    p = subparsers.add_parser("baselines", help="every descriptor and hand-designed proxy "
                              "against the labels, with intervals (or --reproduce)")
    add_capture_options(p)
    p.add_argument("--out", help="output folder (default: baselines-<space>)")
    p.add_argument("--proxies", nargs="+", choices=HAND_DESIGNED_NAMES, metavar="NAME",
                   help="hand-designed proxies to compute (default: all)")
    p.add_argument("--no-language", action="store_true",
                   help="leave out the proxies written in the proxy language, LPZero's "
                        "published proxy and the found proxies (no capture)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples")
    p.add_argument("--reuse-scores", metavar="DETAILS_JSON",
                   help="take the hand-designed values from a previous table's details.json "
                        "made with the same settings (same code: the values are equal), "
                        "instead of running every model again")
    p.add_argument("--reproduce", action="store_true",
                   help="compare with NAS-Bench-BERT's published proxy values (flexibert)")
    p.add_argument("--csv", help="the published BERT_results_activation.csv (default: the one "
                   "in the data folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_baselines)


def cmd_baselines(args) -> int:
    from ..cli import records_from_args, settings_from_args
    from ..errors import LpzeroError
    if args.reproduce:
        if args.space != "flexibert":
            raise LpzeroError("--reproduce compares with NAS-Bench-BERT's published values: "
                              "use --space flexibert")
        args.variant = args.variant or "reference"
        args.objective = args.objective or "sum"
    space, bench = records_from_args(args)
    settings = settings_from_args(args)
    cache = False if args.no_cache else args.cache_dir
    out = Path(args.out or f"baselines-{space.name}")
    if args.reproduce:
        from .reproduce import reproduce_published
        result = reproduce_published(space, bench, settings, args.csv, cache=cache,
                                     score_cache=cache, data_dir=args.data_dir,
                                     progress=not args.quiet, n_boot=args.n_boot)
        out.mkdir(parents=True, exist_ok=True)
        (out / "reproduction.md").write_text(result.to_markdown())
        (out / "reproduction.json").write_text(json.dumps(dataclasses.asdict(result), indent=1))
        print(result.to_markdown())
        return 0
    from .table import baseline_table
    lang = not args.no_language
    table = baseline_table(space, bench, settings, n_boot=args.n_boot, seed=args.seed,
                           hand_designed=args.proxies, in_language=None if lang else [],
                           include_published=lang, include_found=lang, cache=cache,
                           score_cache=cache, data_dir=args.data_dir, progress=not args.quiet,
                           reuse_scores=args.reuse_scores)
    paths = table.write(out)
    print(table.to_markdown())
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


__all__ = ["add_commands", "cmd_baselines"]
