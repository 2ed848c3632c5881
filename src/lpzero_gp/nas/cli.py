"""``lpzero-gp pick-quality``: regret of proxy picks under parameter budgets (test split)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import LpzeroError


def add_commands(subparsers) -> None:
    from ..spaces import space_names
    p = subparsers.add_parser("nas", help="pick architectures under a budget with a proxy")
    p.add_argument("--space", required=True, choices=space_names())
    p.add_argument("--proxy", required=True, help="a formula, a found.json, or "
                   "published:lpzero")
    p.add_argument("--language", help="primitive set of a formula string")
    p.add_argument("--budget", action="append", required=True, metavar="EXPR",
                   help="params<=N or flops<=N (repeatable)")
    p.add_argument("--strategy", choices=("random", "evolution"), default="random")
    p.add_argument("--samples", type=int, default=64, help="candidates to score")
    p.add_argument("--population", type=int, default=16, help="evolution's population")
    p.add_argument("--preset", help="the space's ranges to sample (default: its first)")
    p.add_argument("--benchmark", help="score this benchmark's records instead of samples "
                   "(nothing is trained)")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default: runs/nas-SPACE-seedN)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int)
    p.add_argument("--data-dir")
    p.add_argument("--cache-dir")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    from ..cli.options import add_engine_options
    add_engine_options(p)
    p.set_defaults(func=cmd_nas)
    p = subparsers.add_parser("pick-quality", help="how good the architecture a proxy picks "
                              "under a parameter budget is, against descriptors (test split)")
    p.add_argument("--space", required=True, choices=space_names())
    p.add_argument("--folder", "--found", dest="found",
                   help="the experiment folder whose found*.json are read (default: "
                        "experiments/SPACE; --found is the older name)")
    p.add_argument("--pool", type=int, default=50, help="records per candidate pool")
    p.add_argument("--draws", type=int, default=1000, help="pools per budget")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default: the --folder)")
    p.set_defaults(func=cmd_pick_quality)


def cmd_nas(args) -> int:
    from ..cache import CaptureSettings
    from ..cli import load_proxy
    from ..spaces import get_space
    from .report import write_outputs
    from .search import Budget, NasRun, proxy_scorer
    for name in ("samples", "top", "batch_size", "population"):
        if getattr(args, name) < 1:
            raise LpzeroError(f"--{name.replace('_', '-')} must be at least 1")
    space = get_space(args.space)
    budgets = [Budget.parse(b) for b in args.budget]
    proxy = load_proxy(args.proxy, args.language, args.space)
    lower = args.proxy.startswith("published:") and space.published_proxy().lower_is_better
    preset = args.preset or (space.presets[0] if space.presets else None)
    subnet = not args.benchmark and preset is not None and space.supernet_of(preset) is not None
    settings = CaptureSettings(batch_size=args.batch_size, seq_len=args.seq_len, seed=0,
                               variant="subnet" if subnet else None).resolved(space)
    pool = None
    if args.benchmark:
        pool = list(space.load_benchmark(args.benchmark, data_dir=args.data_dir).records)
    out = Path(args.out or f"runs/nas-{args.space}-seed{args.seed}")
    from ..cli.options import engine_from_args
    with engine_from_args(args) as engine:
        run = NasRun(space, proxy_scorer(space, proxy, settings, cache=args.cache_dir,
                                         data_dir=args.data_dir, progress=not args.json,
                                         lower_is_better=lower, engine=engine),
                     budgets, strategy=args.strategy, samples=args.samples,
                     population=args.population, seed=args.seed, preset=args.preset,
                     pool=pool, seq_len=settings.seq_len, out=out).run()
    summary = write_outputs(run, out, args.top, proxy=str(proxy))
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"{len(run.scored)} candidates scored within {', '.join(map(str, budgets))} "
              f"({run.rejected} rejected over budget before any model was built); top "
              f"{args.top} by the proxy:")
        for i, row in enumerate(summary["top"], 1):
            print(f"  {i}. {row['id']}  score {row['score']:.6g}  params {row['params']:.4g}  "
                  f"{json.dumps(row['arch'])}")
        print(f"wrote {out}/candidates.csv, candidates.json, picks.json, nas.png")
    return 0


def cmd_pick_quality(args) -> int:
    from ..locations import experiments_dir
    from .pick_quality import for_space, markdown, plot
    for name in ("pool", "draws", "top_k"):
        if getattr(args, name) < 1:
            raise LpzeroError(f"--{name.replace('_', '-')} must be at least 1")
    folder = Path(args.found) if args.found else experiments_dir() / args.space
    try:
        result = for_space(args.space, folder, args.pool, args.draws, args.top_k, args.seed)
    except ValueError as exc:
        raise LpzeroError(str(exc)) from None
    out = Path(args.out) if args.out else folder
    out.mkdir(parents=True, exist_ok=True)
    (out / "pick_quality.json").write_text(json.dumps(result, indent=1))
    text = (f"Pick quality on the held-out test split of {args.space} "
            f"({result['n_records']} records; `{result['command']}`; parameters = "
            f"{result['size_descriptor']}; label {result['label']}).\n\n" + markdown(result))
    (out / "pick_quality.md").write_text(text)
    plot(result, out / "pick_quality.png", f"{args.space}: regret of the top-1 pick")
    print(text)
    return 0
