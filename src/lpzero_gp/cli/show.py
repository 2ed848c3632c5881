"""``lpzero-gp show``: a proxy, its SymPy form and its LaTeX (imports no torch)."""
from __future__ import annotations

from ..spaces import space_names
from .proxies import load_proxy


def cmd_show(args) -> int:
    from ..language import show_text
    proxy = load_proxy(args.proxy, args.language, getattr(args, "space", None))
    print(show_text(proxy, simplify=args.simplify, latex=args.latex))
    return 0


def add_command(sub) -> None:
    p = sub.add_parser("show", help="print a proxy, its SymPy form and its LaTeX")
    p.add_argument("--proxy", required=True)
    p.add_argument("--language")
    p.add_argument("--space", choices=space_names(),
                   help="the space of a published:lpzero proxy")
    p.add_argument("--simplify", action="store_true")
    p.add_argument("--latex", action="store_true")
    p.set_defaults(func=cmd_show)
