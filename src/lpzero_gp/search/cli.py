"""``lpzero-gp search`` and ``lpzero-gp ablate-rps`` (registered by :func:`add_commands`)."""
from __future__ import annotations

import argparse

from ..errors import UsageError, at_least, nonnegative_int, positive_int
from .fitness_names import AGGREGATES, FITNESSES, SELECTIONS


def _add_search_options(p: argparse.ArgumentParser, add_capture_options) -> None:
    add_capture_options(p)
    # None means "not given": the config file's value, else the default, applies
    p.set_defaults(space=None, batch_size=None)
    p.add_argument("--seed", type=nonnegative_int, default=None,
                   help="search seed: population, variation, split (default: the config's, "
                        "else 0)")
    p.add_argument("--capture-seed", type=nonnegative_int, default=None,
                   help="seed of model initialisation and batch (default: the config's, else 0)")
    p.add_argument("--config", help="a TOML (or JSON) file with [search], [capture] and "
                   "[records] tables")
    p.add_argument("--generations", type=nonnegative_int,
                   help="generations after the initial population")
    p.add_argument("--population", type=at_least(2), help="individuals per generation")
    p.add_argument("--workers", type=positive_int,
                   help="tasks run at once, for capture and evaluation (local: processes; ray: "
                        "tasks in flight); results do not depend on it")
    from ..cli.options import add_engine_options
    add_engine_options(p, workers=False)
    p.add_argument("--out", help="results folder (default: runs/<space>-<language>-seed<seed>)")
    p.add_argument("--language", help="primitive set: default, lpzero, hybrid (default with "
                   "the hand-designed proxies as terminals), or a TOML file")
    p.add_argument("--split-fractions", type=float, nargs=3,
                   metavar=("SEARCH", "VALIDATION", "TEST"),
                   help="shares of each depth in the search (fitness), validation (choice of "
                        "the final proxy) and test (reported only) splits; three numbers > 0 "
                        "summing to 1 (default: the config's, else 0.4 0.3 0.3)")
    p.add_argument("--statistic", choices=("spearman", "kendall"),
                   help="rank statistic: the fitness itself (older spelling of --fitness "
                        "spearman/kendall), or inside each depth for --fitness within-depth")
    p.add_argument("--fitness", choices=FITNESSES,
                   help="fitness on the search split (default: the config's, else spearman); "
                        "partial and lexicographic-tiebreak score what a proxy adds to "
                        "--descriptor")
    p.add_argument("--descriptor", help="the descriptor partial / lexicographic-tiebreak "
                   "condition on (default: the space's size descriptor)")
    p.add_argument("--selection", choices=SELECTIONS,
                   help="tournament (one fitness) or nsga2 (the config's objectives; default "
                        "spearman, partial, size)")
    p.add_argument("--exact", action="store_const", const=True, default=None,
                   help="take the hall of fame's figures on every split (so the choice on "
                        "validation and the test figures) from the full tensors, each record "
                        "captured whole after the search (the fitness still reads the "
                        "sketch; default: the config's, else off)")
    p.add_argument("--spaces", nargs="+", metavar="SPACE",
                   help="search one proxy for several spaces at once (two or more; --space "
                        "is then not read): its fitness is --aggregate over the spaces of the "
                        "fitness on each space's search split")
    p.add_argument("--aggregate", choices=AGGREGATES,
                   help="with --spaces: the mean or the minimum over the spaces (default: the "
                        "config's, else mean)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _search_kwargs(args) -> dict:
    if args.split_fractions is not None:
        from .config import split_fractions_problem
        why = split_fractions_problem(list(args.split_fractions))
        if why:
            raise UsageError(f"--split-fractions {' '.join(map(str, args.split_fractions))}: "
                             f"{why}")
    records = None
    if args.records:
        records = list(args.records)[:args.limit] if args.limit else list(args.records)
    elif args.limit:
        records = int(args.limit)
    cache = False if args.no_cache else args.cache_dir
    return dict(space=args.space, config=args.config, generations=args.generations,
                population=args.population, seed=args.seed, workers=args.workers,
                engine=args.engine, address=args.address,
                records=records, benchmark=args.benchmark, language=args.language,
                split_fractions=args.split_fractions, statistic=args.statistic,
                fitness=args.fitness, descriptor=args.descriptor, selection=args.selection,
                exact=getattr(args, "exact", None),
                spaces=getattr(args, "spaces", None), aggregate=getattr(args, "aggregate", None),
                batch_size=args.batch_size, seq_len=args.seq_len,
                max_elements=args.max_elements, objective=args.objective, variant=args.variant,
                capture_seed=args.capture_seed, text_path=args.text,
                storage_dtype="float16" if args.float16 else None, cache=cache,
                data_dir=args.data_dir, progress=not args.quiet)


def cmd_search(args) -> int:
    from .api import search
    result = search(out=args.out, resume=args.resume, **_search_kwargs(args))
    print(result.summary())
    return 0


def cmd_ablate_rps(args) -> int:
    from .ablation import ablate_rps
    ablation = ablate_rps(out=args.out, **_search_kwargs(args))
    print(ablation.table())
    print(f"\nresults in {ablation.out}")
    return 0


def add_commands(subparsers, add_capture_options) -> None:
    """Register ``search`` and ``ablate-rps`` on the ``lpzero-gp`` parser's subparsers;
    ``add_capture_options(parser)`` adds the shared record, capture and data options."""
    p = subparsers.add_parser(
        "search", conflict_handler="resolve",
        help="search proxy formulas by genetic programming",
        description="Search the proxy language for the formula whose scores rank the space's "
                    "architectures most like their trained quality; print it with its figures "
                    "on the held-out test split (which no part of the search reads), on the "
                    "search and validation splits and on all records, next to LPZero's "
                    "published figures and the descriptor baselines.")
    _add_search_options(p, add_capture_options)
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint")
    p.set_defaults(func=cmd_search)

    p = subparsers.add_parser(
        "ablate-rps", conflict_handler="resolve",
        help="the same search with and without the Rule-based Pruning Strategy",
        description="Run the same search (seed, budget, records) with and without RPS and "
                    "compare invalid evaluations, time and best fitness.")
    _add_search_options(p, add_capture_options)
    p.set_defaults(func=cmd_ablate_rps)
