"""``lpzero-gp evaluate``: a proxy's rank correlation against the labels, and for a proxy found
by a search its figures on each split of that search, recomputed."""
from __future__ import annotations

import dataclasses
import json

from .options import add_capture_options, records_from_args, settings_from_args
from .proxies import load_found_file, load_proxy


def evaluation_summary(proxy, result, record_ids, quality) -> dict:
    """``proxy``'s ``result`` (a ProxyResult on ``record_ids``) against ``quality`` (N,)."""
    from ..metrics import correlations
    import numpy as np
    quality = np.asarray(quality, dtype=np.float64)
    out = {"formula": str(proxy), "language": proxy.language.name,
           "n_records": len(record_ids), "n_invalid": len(result.invalid_records),
           "valid": result.valid, "reason": result.reason,
           "scores": {rid: (float(v) if np.isfinite(v) else None)
                      for rid, v in zip(record_ids, result.scores)}}
    finite = np.isfinite(result.scores)
    if finite.sum() >= 3 and np.ptp(result.scores[finite]) > 0:
        corr = correlations(result.scores[finite], quality[finite])
        out.update(kendall_tau=corr.kendall_tau, spearman_rho=corr.spearman_rho,
                   n=int(finite.sum()))
    else:
        out.update(kendall_tau=None, spearman_rho=None, n=int(finite.sum()))
    return out


# capture options `evaluate` takes from a found proxy's provenance when not given
_FOUND_CAPTURE_ARGS = (("batch_size", "batch_size"), ("seq_len", "seq_len"), ("seed", "seed"),
                       ("objective", "objective"), ("variant", "variant"),
                       ("max_elements", "max_elements"), ("text_path", "text"))


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


def split_summary(found, result, record_ids, quality, bench) -> dict:
    """The proxy's figures on each split of its search, recomputed from ``result`` (its
    ProxyResult on ``record_ids``, against ``quality`` (N,)), with the stored figures and
    whether they match (:mod:`lpzero_gp.search.found`)."""
    import numpy as np
    from ..search.found import differences, recompute_split_figures, split_positions
    positions = split_positions(found.splits, list(record_ids), bench.source)
    scores = np.asarray(result.scores, dtype=np.float64)
    figures = recompute_split_figures(found, scores, np.asarray(quality, dtype=np.float64),
                                      positions)
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
    from ..search.found import split_positions
    split_positions(found.splits, [r.id for r in bench.records], bench.source)
    wanted = {rid for ids in found.splits.values() for rid in ids}
    return bench.subset(ids=[r.id for r in bench.records if r.id in wanted])


def cmd_evaluate(args) -> int:
    from ..collect import collect_inputs
    found = load_found_file(args.proxy)
    note = _plan_splits(args, found)
    proxy = found.proxy if found is not None else load_proxy(args.proxy, args.language,
                                                             args.space)
    recompute = found is not None and found.splits is not None and note is None
    space, bench = records_from_args(args)
    if recompute:
        bench = _records_of_splits(found, bench)
    settings = settings_from_args(args)
    record_ids = [str(r.id) for r in bench.records]
    quality = [r.quality for r in bench.records]
    if args.exact:
        from ..exact import exact_results
        result = exact_results([proxy], space, bench.records, settings, args.data_dir,
                               progress=not args.json)[0]
        settings = dataclasses.replace(settings, max_elements=None)
    else:
        from ..hand_bank import hand_names
        bank = collect_inputs(space, bench.records, settings,
                              cache=False if args.no_cache else args.cache_dir,
                              data_dir=args.data_dir, progress=not args.json,
                              hand_designed=hand_names(proxy))
        result = proxy.evaluate(bank)
    out = evaluation_summary(proxy, result, record_ids, quality)
    out.update(space=space.name, benchmark=bench.source, label=bench.label_name,
               exact=bool(args.exact))
    if found is not None and found.splits is not None:
        out.update(splits=None, splits_note=note)
    if recompute:
        out.update(split_summary(found, result, record_ids, quality, bench),
                   capture_differences=_capture_differences(found, settings.resolved(space)))
    if args.json:
        print(json.dumps(out, indent=2))
        return 0 if out["kendall_tau"] is not None else 1
    print(f"proxy    {out['formula']}")
    print(f"records  {out['n_records']} of {bench.source} ({bench.label_name}, "
          f"{'higher' if bench.higher_is_better else 'lower'} is better; figures use the "
          f"label oriented so that a proxy ranking correctly is positive)")
    if out["exact"]:
        print("tensors  full (--exact): every record captured whole, one at a time")
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
    elif out.get("exact"):
        print(f"stored   the search's figures, on its sketch: "
              f"{'; '.join(out['splits_differences'])}")
    else:
        print(f"stored   DIFFER: {'; '.join(out['splits_differences'])}")


def add_command(sub) -> None:
    p = sub.add_parser("evaluate", help="rank correlation of a proxy against the labels")
    add_capture_options(p)
    p.add_argument("--proxy", required=True, help="a formula, published:lpzero (LPZero's "
                   "published proxy of the space), or a JSON file written by search (a "
                   "found.json with splits: figures per split, recomputed on the records and "
                   "capture settings of its search unless --records, --limit or capture "
                   "options say otherwise)")
    p.add_argument("--language", help="primitive set of a formula string (default: default)")
    p.add_argument("--exact", action="store_true",
                   help="evaluate on the full tensors instead of the sketch: each record "
                        "captured whole and let go before the next (no cache; one capture "
                        "per record); a found.json's splits are recomputed exactly")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    # None means "not given": a found.json's own space and capture settings, else the defaults
    p.set_defaults(func=cmd_evaluate, space=None, batch_size=None, seed=None)
