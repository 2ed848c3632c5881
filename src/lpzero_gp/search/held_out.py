"""Found proxies against the descriptors on the held-out test split, with paired intervals.

For a space, every ``experiments/<space>/found*.json`` written by a search carries the record
ids of its splits and its capture settings. This module evaluates each found proxy, LPZero's
published formula and every descriptor of the space on the **test** records of the first found
proxy's split (no part of the search read them), and gives for each score Kendall τ-b and
Spearman ρ with bootstrap intervals and the paired-bootstrap difference of ρ against the best
descriptor on the same records. When the found proxies come from searches with different
splits, each is also reported on its own test split.

    python -m lpzero_gp.search.held_out --space flexibert [--folder experiments/flexibert]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from ..baselines.descriptors import descriptor_label, descriptor_scores
from ..baselines.in_language import published_proxy
from ..cache import CaptureSettings
from ..collect import collect_inputs
from ..errors import LpzeroError
from ..hand_bank import hand_names
from ..locations import experiments_dir
from ..metrics import MetricInputError, bootstrap_ci, correlations, paired_bootstrap
from ..spaces import get_space, space_names


def _settings(capture: dict) -> CaptureSettings:
    keys = {f for f in CaptureSettings.__dataclass_fields__}
    return CaptureSettings(**{k: v for k, v in capture.items() if k in keys})


def folder_option(space_name: str, folder: Path | None) -> str:
    """`` --folder F`` when ``folder`` is not the space's experiment folder (relative to the
    checkout when inside it), else empty."""
    if folder is None:
        return ""
    default = experiments_dir() / space_name
    if Path(folder).resolve() == default.resolve():
        return ""
    root = experiments_dir().parent.resolve()
    path = Path(folder).resolve()
    return f" --folder {path.relative_to(root) if path.is_relative_to(root) else path}"


def test_split_scores(space_name: str, folder: Path | None = None, progress: bool = False
                      ) -> dict:
    """Every score on the test split of the space's found proxies: ``{"records", "quality"
    (n,), "scores": {label: (kind, values (n,))}, "test_ids", "provenance", "benchmark" (the
    whole benchmark), "bank" (the test records' captured inputs)}``; kinds are
    descriptor, published and found (each found proxy whose search used the same split)."""
    from ..language import Proxy
    folder = Path(folder or experiments_dir() / space_name)
    files = [p for p in [folder / "found.json", *sorted(folder.glob("found_*.json"))]
             if p.is_file()]
    found = [(p, json.loads(p.read_text())) for p in files]
    found = [(p, f) for p, f in found if (f.get("provenance") or {}).get("splits")]
    if not found:
        raise ValueError(f"{folder}: no found*.json with split record ids")
    space = get_space(space_name)
    prov = found[0][1]["provenance"]
    given = (prov.get("records") or {}).get("benchmark")  # a --benchmark of the search
    if given and not Path(given).exists() and (experiments_dir().parent / given).exists():
        given = experiments_dir().parent / given  # relative to the checkout
    bench = space.load_benchmark(given) if given else space.load_benchmark()
    test_ids = prov["splits"]["test"]
    records = bench.subset(ids=test_ids).records
    proxies = [Proxy.from_json(f) for _, f in found]
    bank = collect_inputs(space, records, _settings(prov["capture"]), progress=progress,
                          hand_designed=hand_names(*proxies))
    scores = {}
    for name, values in descriptor_scores(space, records).items():
        scores[f"descriptor: {descriptor_label(name)}"] = ("descriptor", values)
    if space.published:
        pub = published_proxy(space_name)
        label = pub.label + (" (negated: lower is better)" if pub.lower_is_better else "")
        scores[label] = ("published", pub.oriented(pub.proxy().evaluate(bank).scores))
    for (path, f), proxy in zip(found, proxies):
        if f["provenance"]["splits"]["test"] == test_ids:
            label = f"found ({proxy.language.name} language, {path.name})"
            scores[label] = ("found", proxy.evaluate(bank).scores)
    return {"records": records, "quality": np.asarray(bank.quality), "scores": scores,
            "test_ids": test_ids, "provenance": prov, "benchmark": bench, "bank": bank}


def held_out(space_name: str, folder: Path | None = None, n_boot: int = 1000,
             progress: bool = False) -> dict:
    got = test_split_scores(space_name, folder, progress)
    quality, scores, test_ids, prov = (got["quality"], got["scores"], got["test_ids"],
                                       got["provenance"])
    desc = {k: v for k, (kind, v) in scores.items() if kind == "descriptor"
            and _rho(v, quality) is not None}
    if not desc:
        raise MetricInputError(f"no descriptor of {space_name} varies on the {len(quality)} "
                               f"test records: nothing to compare the proxies with")
    best = max(desc, key=lambda k: _rho(desc[k], quality))
    rows = []
    for label, (kind, values) in scores.items():
        ok = np.isfinite(values)
        row = {"name": label, "kind": kind, "n": int(ok.sum())}
        try:
            corr = correlations(values[ok], quality[ok])
        except MetricInputError as exc:  # constant on these records: a row that says so
            rows.append({**row, "kendall_tau": None, "tau_ci": [None, None],
                         "spearman_rho": None, "rho_ci": [None, None], "reason": str(exc)})
            continue
        tau_ci = bootstrap_ci(values[ok], quality[ok], "kendall", n_boot)
        rho_ci = bootstrap_ci(values[ok], quality[ok], "spearman", n_boot)
        row.update({"kendall_tau": corr.kendall_tau, "tau_ci": [tau_ci.low, tau_ci.high],
                    "spearman_rho": corr.spearman_rho, "rho_ci": [rho_ci.low, rho_ci.high]})
        if label != best and ok.all():
            test = paired_bootstrap(values, desc[best], quality, "spearman", n_boot)
            row["rho_minus_best"] = {"difference": test.diff, "low": test.low,
                                     "high": test.high}
        rows.append(row)
    return {"space": space_name, "split": "test", "record_ids": test_ids,
            "capture": prov["capture"], "split_seed": prov.get("split_seed"),
            "best_descriptor": best, "n_boot": n_boot, "rows": rows,
            "command": f"python -m lpzero_gp.search.held_out --space {space_name}"
                       + folder_option(space_name, folder)}


def _rho(values: np.ndarray, quality: np.ndarray) -> float | None:
    """Spearman's rho on the finite values; None when undefined (constant values)."""
    ok = np.isfinite(values)
    try:
        return correlations(values[ok], quality[ok]).spearman_rho
    except MetricInputError:
        return None


def markdown(result: dict) -> str:
    f = lambda x: "--" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"  # noqa: E731
    lines = [f"Held-out test split of {result['space']}: {len(result['record_ids'])} records "
             f"that no part of the search read (`{result['command']}`; {result['n_boot']} "
             f"bootstrap resamples). ρ − best: paired bootstrap of Spearman ρ minus that of "
             f"the best descriptor ({result['best_descriptor']}) on the same records.", "",
             "| score | kind | τ [95% CI] | ρ [95% CI] | ρ − best [95% CI] |",
             "|---|---|---|---|---|"]
    for r in result["rows"]:
        d = r.get("rho_minus_best")
        diff = "—" if d is None else f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
        lines.append(f"| {r['name']} | {r['kind']} | {f(r['kendall_tau'])} [{f(r['tau_ci'][0])}, "
                     f"{f(r['tau_ci'][1])}] | {f(r['spearman_rho'])} [{f(r['rho_ci'][0])}, "
                     f"{f(r['rho_ci'][1])}] | {diff} |")
    return "\n".join(lines) + "\n"


def table_main(argv, description: str, name: str, make, markdown, add_arguments=None) -> int:
    """The command of a table on a space's test split: ``--space``, the options
    ``add_arguments(parser)`` adds, ``--folder`` (the experiment folder whose found*.json are
    read; default ``experiments/<space>``), ``--out`` (the folder for ``<name>.json`` /
    ``.md``, default ``--folder``) and ``--n-boot``; ``make(args)`` computes the result
    (``args.folder`` resolved), ``markdown(result)`` its table, which is written and printed.
    An :class:`LpzeroError` exits with status 2 and its message."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--space", required=True, choices=space_names())
    if add_arguments is not None:
        add_arguments(parser)
    parser.add_argument("--folder", help="the experiment folder whose found*.json are read "
                        "(default: experiments/<space> of the checkout; e.g. "
                        "experiments/llama/wide_shakespeare)")
    parser.add_argument("--out", help=f"folder for {name}.json / .md (default: --folder)")
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        args.folder = Path(args.folder) if args.folder else experiments_dir() / args.space
        out = Path(args.out or args.folder)
        result = make(args)
    except LpzeroError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    (out / f"{name}.md").write_text(markdown(result))
    print(markdown(result))
    return 0


def main(argv=None) -> int:
    return table_main(argv, __doc__.splitlines()[0], "held_out",
                      lambda args: held_out(args.space, args.folder, n_boot=args.n_boot),
                      markdown)


if __name__ == "__main__":
    raise SystemExit(main())
