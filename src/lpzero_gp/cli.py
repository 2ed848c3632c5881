"""The ``lpzero-gp`` command line: capture, evaluate, show, search, ablate, baselines."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import LpzeroError


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data folder (default: $LPZERO_GP_DATA or the user cache)")
    p.add_argument("--cache-dir", help="capture cache folder (default: $LPZERO_GP_CACHE or the "
                   "user cache)")
    p.add_argument("--no-cache", action="store_true", help="capture afresh, store nothing")


def _add_capture_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="flexibert", choices=("flexibert", "gpt2"))
    p.add_argument("--benchmark", help="a benchmark file/folder in the published format "
                   "(default: the one in the data folder)")
    p.add_argument("--records", nargs="+", metavar="ID", help="record ids (default: all)")
    p.add_argument("--limit", type=int, help="only the first N records")
    p.add_argument("--variant", help="build variant (flexibert: trained, space, reference)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation and batch")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, help="tokens per row (default: the space's)")
    p.add_argument("--objective", help="backward objective (flexibert: mlm, sum; gpt2: clm, sum)")
    p.add_argument("--max-elements", type=int, help="elements kept per tensor, as whole rows "
                   "(default 2048; the rows of a tensor are sampled, each row kept whole)")
    p.add_argument("--text", help="a UTF-8 text file (default: pydoc_data.topics)")
    p.add_argument("--float16", action="store_true", help="store the cache in float16")
    _add_data_options(p)


def settings_from_args(args):
    from .bank import DEFAULT_MAX_ELEMENTS
    from .cache import CaptureSettings
    if args.max_elements is not None and args.max_elements < 1:
        raise LpzeroError(f"--max-elements must be a positive number of elements, got "
                          f"{args.max_elements}")
    return CaptureSettings(batch_size=args.batch_size, seq_len=args.seq_len, seed=args.seed,
                           objective=args.objective, variant=args.variant,
                           max_elements=args.max_elements or DEFAULT_MAX_ELEMENTS,
                           text_path=args.text,
                           storage_dtype="float16" if args.float16 else "float32")


def records_from_args(args):
    from .spaces import get_space
    space = get_space(args.space)
    bench = space.load_benchmark(args.benchmark, data_dir=args.data_dir)
    bench = bench.subset(ids=args.records, limit=args.limit)
    return space, bench


def bank_from_args(args, progress=True):
    from .collect import collect_inputs
    space, bench = records_from_args(args)
    cache = False if args.no_cache else args.cache_dir
    bank = collect_inputs(space, bench.records, settings_from_args(args), cache=cache,
                          data_dir=args.data_dir, progress=progress)
    return space, bench, bank


def cmd_capture(args) -> int:
    from .collect import CollectStats, collect_inputs
    space, bench = records_from_args(args)
    stats = CollectStats()
    cache = False if args.no_cache else args.cache_dir
    collect_inputs(space, bench.records, settings_from_args(args), cache=cache,
                   data_dir=args.data_dir, progress=not args.quiet, stats=stats)
    print(f"{space.name}: {len(bench)} records from {bench.source}: {stats.captured} captured "
          f"in {stats.capture_seconds:.1f} s, {stats.reloaded} reloaded from the cache")
    return 0


def load_proxy(text: str, language: str | None, space: str | None = None):
    """A proxy from a JSON file path, ``published:lpzero`` (LPZero's published proxy of
    ``space``) or a formula string."""
    from .language import Proxy
    if text.startswith("published:"):
        from .baselines.in_language import published_proxy
        name = text.split(":", 1)[1]
        if name != "lpzero":
            raise LpzeroError(f"unknown published proxy {name!r}: known: published:lpzero")
        if space is None:
            raise LpzeroError("published:lpzero needs a search space (--space)")
        try:
            return published_proxy(space).proxy()
        except ValueError as exc:
            raise LpzeroError(str(exc)) from None
    path = Path(text)
    if text.endswith(".json") or path.is_file():
        if not path.is_file():
            raise LpzeroError(f"proxy file {text} does not exist")
        return Proxy.from_json(path)
    return Proxy.parse(text, language or "default")


def evaluation_summary(proxy, bank) -> dict:
    from .metrics import correlations
    import numpy as np
    result = proxy.evaluate(bank)
    out = {"formula": str(proxy), "language": proxy.language.name, "n_records": len(bank),
           "n_invalid": len(result.invalid_records), "valid": result.valid,
           "reason": result.reason,
           "scores": {rid: (float(v) if np.isfinite(v) else None)
                      for rid, v in zip(bank.record_ids, result.scores)}}
    finite = np.isfinite(result.scores)
    if finite.sum() >= 3 and np.ptp(result.scores[finite]) > 0:
        corr = correlations(result.scores[finite], bank.quality[finite])
        out.update(kendall_tau=corr.kendall_tau, spearman_rho=corr.spearman_rho,
                   n=int(finite.sum()))
    else:
        out.update(kendall_tau=None, spearman_rho=None, n=int(finite.sum()))
    return out


def cmd_evaluate(args) -> int:
    proxy = load_proxy(args.proxy, args.language, args.space)
    space, bench, bank = bank_from_args(args, progress=not args.json)
    out = evaluation_summary(proxy, bank)
    out.update(space=space.name, benchmark=bench.source, label=bench.label_name)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0 if out["kendall_tau"] is not None else 1
    print(f"proxy    {out['formula']}")
    print(f"records  {out['n_records']} of {bench.source} ({bench.label_name}, "
          f"{'higher' if bench.higher_is_better else 'lower'} is better; figures use the "
          f"label oriented so that a proxy ranking correctly is positive)")
    print(f"invalid  {out['n_invalid']}" + (f" ({out['reason']})" if out["reason"] else ""))
    if out["kendall_tau"] is None:
        print("no correlation: fewer than 3 valid, distinct scores")
        return 1
    print(f"Kendall tau  {out['kendall_tau']:+.3f}   Spearman rho  {out['spearman_rho']:+.3f}"
          f"   (n = {out['n']})")
    return 0


def cmd_show(args) -> int:
    from .language import show_text
    proxy = load_proxy(args.proxy, args.language, getattr(args, "space", None))
    print(show_text(proxy, simplify=args.simplify, latex=args.latex))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lpzero-gp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("capture", help="capture and cache the inputs of benchmark records")
    _add_capture_options(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_capture)

    p = sub.add_parser("evaluate", help="rank correlation of a proxy against the labels")
    _add_capture_options(p)
    p.add_argument("--proxy", required=True, help="a formula, a JSON file written by search, or "
                   "published:lpzero (LPZero's published proxy of the space)")
    p.add_argument("--language", help="primitive set of a formula string (default: default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("show", help="print a proxy, its SymPy form and its LaTeX")
    p.add_argument("--proxy", required=True)
    p.add_argument("--language")
    p.add_argument("--space", choices=("flexibert", "gpt2"),
                   help="the space of a published:lpzero proxy")
    p.add_argument("--simplify", action="store_true")
    p.add_argument("--latex", action="store_true")
    p.set_defaults(func=cmd_show)

    from .search import cli as search_cli
    search_cli.add_commands(sub, _add_capture_options)
    from .baselines import cli as baselines_cli
    baselines_cli.add_commands(sub, _add_capture_options)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except LpzeroError as exc:
        print(f"lpzero-gp: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
