"""``lpzero-gp pick-quality``: regret of proxy picks under parameter budgets (test split)."""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import LpzeroError


def add_commands(subparsers) -> None:
    from ..spaces import space_names
    p = subparsers.add_parser("pick-quality", help="how good the architecture a proxy picks "
                              "under a parameter budget is, against descriptors (test split)")
    p.add_argument("--space", required=True, choices=space_names())
    p.add_argument("--found", help="folder of the found*.json (default: experiments/SPACE)")
    p.add_argument("--pool", type=int, default=50, help="records per candidate pool")
    p.add_argument("--draws", type=int, default=1000, help="pools per budget")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="output folder (default: the --found folder)")
    p.set_defaults(func=cmd_pick_quality)


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
