"""``lpzero-gp capture``: capture and cache the inputs of benchmark records."""
from __future__ import annotations

from .options import (add_capture_options, add_engine_options, engine_from_args,
                      records_from_args, settings_from_args)


def cmd_capture(args) -> int:
    from ..collect import CollectStats, collect_inputs
    space, bench = records_from_args(args)
    stats = CollectStats()
    cache = False if args.no_cache else args.cache_dir
    with engine_from_args(args) as engine:
        collect_inputs(space, bench.records, settings_from_args(args), cache=cache,
                       data_dir=args.data_dir, progress=not args.quiet, stats=stats,
                       engine=engine)
    print(f"{space.name}: {len(bench)} records from {bench.source}: {stats.captured} captured "
          f"in {stats.capture_seconds:.1f} s, {stats.reloaded} reloaded from the cache")
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("capture", help="capture and cache the inputs of benchmark records")
    add_capture_options(p)
    add_engine_options(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_capture)
