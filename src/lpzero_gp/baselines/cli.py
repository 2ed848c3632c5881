"""``lpzero-gp baselines``: the comparison table of a space, or the NAS-Bench-BERT reproduction.

::

    lpzero-gp baselines --space flexibert [--benchmark PATH] [--out DIR] [--limit N]
    lpzero-gp baselines --space flexibert --reproduce [--limit N]
    lpzero-gp baselines --space gpt2 --reproduce [--lpzero-dropout P] [--no-definitions]
    lpzero-gp baselines --space flexibert|gpt2 --supervised [--out FILE]

The table command writes table.md, table.csv, table.tex, details.json, bars_spearman.png,
bars_kendall.png and scatter.png into ``--out`` and prints the Markdown. ``--reproduce`` on
flexibert computes the published NAS-Bench-BERT proxies on the ``reference`` build with the
notebook's objective (``sum``) unless ``--variant`` / ``--objective`` say otherwise, and
LPZero's published FlexiBERT proxy, compared with LPZero's stored ``lpzero`` column across and
within depths; on gpt2 it compares our hand-designed proxies (our capture settings) with
LPZero's stored GPT-2 scores (:mod:`.reproduce_gpt2`), and, unless ``--no-definitions``,
LPZero's definitions re-implemented on our models, with dropout off and in LPZero's setting
(residual dropout ``--lpzero-dropout``, train mode). Both write reproduction.md and
reproduction.json into ``--out`` (default ``baselines-<space>``; the committed outputs are in
``experiments/<space>/reproduction/``). ``--supervised`` fits the supervised reference (uses
the labels; :mod:`.supervised`) and writes its JSON to ``--out`` (default
``supervised_reference-<space>.json``; the committed ones are
``experiments/<space>/supervised_reference.json``).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path


from ..errors import OutputError, UsageError, positive_int


class _HandDesignedNames:
    """The choices of ``--proxies``: :data:`.hand_designed.HAND_DESIGNED`, imported (with
    torch) only when an argument is checked or the choices are listed, not to build the parser
    for ``lpzero-gp --help``."""

    @staticmethod
    def _names() -> tuple[str, ...]:
        from .hand_designed import HAND_DESIGNED
        return tuple(HAND_DESIGNED)

    def __contains__(self, name) -> bool:
        return name in self._names()

    def __iter__(self):
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def _probability(text: str) -> float:
    import argparse
    import math
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be a probability in [0, 1), got {text!r}")
    return value


def _out_folder(path: Path) -> Path:
    """``path`` made (with its parents) as the output folder; an :class:`OutputError` naming it
    when that is impossible (a file there, no permission)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {path}: cannot make the output folder ({exc.strerror}); "
                          f"choose another --out") from None
    return path


def _check_out(path: Path, folder: bool) -> None:
    """Before any work: an :class:`OutputError` when ``path`` cannot be the output (a file
    where a folder belongs, or the reverse)."""
    if folder and path.exists() and not path.is_dir():
        raise OutputError(f"--out {path} is a file, not a folder; choose another --out")
    if not folder and path.is_dir():
        raise OutputError(f"--out {path} is a folder; give a file name such as "
                          f"{path / 'supervised_reference.json'}")


def _write(path: Path, text: str) -> None:
    from ..fileio import write_text
    try:
        write_text(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write {path} ({exc.strerror}); choose another --out") \
            from None


def add_commands(subparsers, add_capture_options) -> None:
    """Register ``baselines`` on the ``lpzero-gp`` subparsers."""
    p = subparsers.add_parser("baselines", help="every descriptor and hand-designed proxy "
                              "against the labels, with intervals (or --reproduce)")
    add_capture_options(p)
    p.add_argument("--out", help="output folder (default: baselines-<space>)")
    p.add_argument("--proxies", nargs="+", choices=_HandDesignedNames(), metavar="NAME",
                   help="hand-designed proxies to compute (default: all)")
    p.add_argument("--no-language", action="store_true",
                   help="leave out the proxies written in the proxy language, LPZero's "
                        "published proxy and the found proxies (no capture)")
    p.add_argument("--n-boot", type=positive_int, default=1000, help="bootstrap resamples")
    p.add_argument("--reuse-scores", metavar="DETAILS_JSON",
                   help="take the hand-designed values from a previous table's details.json "
                        "made with the same settings (same code: the values are equal), "
                        "instead of running every model again")
    p.add_argument("--reproduce", action="store_true",
                   help="compare with published proxy values: NAS-Bench-BERT's and LPZero's "
                        "(flexibert), LPZero's stored GPT-2 scores (gpt2)")
    p.add_argument("--lpzero-dropout", type=_probability, default=None, metavar="P",
                   help="gpt2 --reproduce: LPZero's residual dropout, the second setting of "
                        "LPZero's definitions (default 0.1, the LTS configs' value; 0: none)")
    p.add_argument("--no-definitions", action="store_true",
                   help="gpt2 --reproduce: skip LPZero's definitions on our models")
    p.add_argument("--supervised", action="store_true",
                   help="the supervised reference: gradient boosting on architecture "
                        "descriptors, 5-fold cross-validated (uses the labels; not a proxy)")
    p.add_argument("--csv", help="the published BERT_results_activation.csv (default: the one "
                   "in the data folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_baselines)


def cmd_baselines(args) -> int:
    from ..cli.options import records_from_args, settings_from_args
    if args.reproduce and args.supervised:
        raise UsageError("--reproduce and --supervised are separate commands; give one")
    if args.supervised:
        return _cmd_supervised(args)
    _check_out(Path(args.out or f"baselines-{args.space}"), folder=True)
    if args.reproduce and args.space == "flexibert":
        args.variant = args.variant or "reference"
        args.objective = args.objective or "sum"
    space, bench = records_from_args(args)
    settings = settings_from_args(args)
    cache = False if args.no_cache else args.cache_dir
    if args.reproduce and space.name == "gpt2":
        from .reproduce_gpt2 import LPZERO_DROPOUT, reproduce_lpzero_gpt2
        p = LPZERO_DROPOUT if args.lpzero_dropout is None else args.lpzero_dropout
        result = reproduce_lpzero_gpt2(space, bench, settings, cache=cache,
                                       data_dir=args.data_dir,
                                       dropouts=(0.0, p) if p else (0.0,),
                                       progress=not args.quiet,
                                       with_definitions=not args.no_definitions)
        out = _out_folder(Path(args.out or f"baselines-{space.name}"))
        _write(out / "reproduction.md", result.to_markdown())
        _write(out / "reproduction.json", json.dumps(result.as_dict(), indent=1))
        print(result.to_markdown())
        return 0
    out = Path(args.out or f"baselines-{space.name}")
    if args.reproduce:
        from .reproduce import reproduce_published
        result = reproduce_published(space, bench, settings, args.csv, cache=cache,
                                     score_cache=cache, data_dir=args.data_dir,
                                     progress=not args.quiet, n_boot=args.n_boot)
        _out_folder(out)
        _write(out / "reproduction.md", result.to_markdown())
        _write(out / "reproduction.json", json.dumps(dataclasses.asdict(result), indent=1))
        print(result.to_markdown())
        return 0
    from .table import baseline_table
    lang = not args.no_language
    table = baseline_table(space, bench, settings, n_boot=args.n_boot, seed=args.seed,
                           hand_designed=args.proxies, in_language=None if lang else [],
                           include_published=lang, include_found=lang, cache=cache,
                           score_cache=cache, data_dir=args.data_dir, progress=not args.quiet,
                           reuse_scores=args.reuse_scores)
    _out_folder(out)
    try:
        paths = table.write(out)
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write the table ({exc}); choose another --out") \
            from None
    print(table.to_markdown())
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return 0


def _cmd_supervised(args) -> int:
    """``--supervised``: the cross-validated gradient-boosting reference (uses the labels)."""
    from ..cli.options import records_from_args
    from .supervised import supervised_reference
    target = Path(args.out or f"supervised_reference-{args.space}.json")
    _check_out(target, folder=False)
    space, bench = records_from_args(args)
    ref = supervised_reference(space.name, bench, seed=args.seed)
    try:
        path = ref.write(target)
    except OSError as exc:
        raise OutputError(f"--out {target}: cannot write ({exc.strerror}); choose another "
                          f"--out") from None
    print(ref.to_markdown())
    print(f"wrote {path}")
    return 0


__all__ = ["add_commands", "cmd_baselines"]
