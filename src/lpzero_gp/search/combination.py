"""Descriptor + proxy, as a user would apply them, scored on the held-out test split.

A user who already ranks architectures by a descriptor (parameter count, layers then hidden
size, ...) can use a found proxy in two ways:

- **tie-break** (:func:`tiebreak_combination`): rank by the descriptor, and by the proxy only
  among architectures with equal descriptor values (a lexicographic order);
- **rank-sum** (:func:`rank_sum_combination`): the sum of the descriptor's and the proxy's
  ranks (average ranks for ties).

For each found proxy of a space (``experiments/<space>/found*.json`` sharing the first one's
test split, as in :mod:`.held_out`) this module scores the descriptor alone, the proxy alone and
both combinations on the test records, with Kendall τ-b, Spearman ρ, their bootstrap intervals
and the paired bootstrap of each against the descriptor alone on the same resamples. The
descriptor is the found file's (``descriptor``, the one its fitness conditioned on), else the
best of the space's headline descriptors by Spearman ρ on the **validation** split (descriptors
need no capture; the test split chooses nothing).

    python -m lpzero_gp.search.combination --space flexibert [--descriptor NAME]
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from scipy import stats as _stats

from ..baselines.descriptors import descriptor_label, descriptor_scores
from ..errors import ConfigError
from ..locations import experiments_dir
from ..metrics import bootstrap_ci, correlations, paired_bootstrap, spearman_rho
from ..spaces import get_space
from .provenance import git_commit


def tiebreak_combination(descriptor, proxy) -> np.ndarray:
    """Scores (N,) ordering records by ``descriptor`` (N,), ties broken by ``proxy`` (N,):
    the descriptor's dense rank times (N + 1) plus the proxy's average rank."""
    d = np.asarray(descriptor, dtype=np.float64)
    p = np.asarray(proxy, dtype=np.float64)
    return _stats.rankdata(d, method="dense") * (d.size + 1) + _stats.rankdata(p)


def rank_sum_combination(descriptor, proxy) -> np.ndarray:
    """The descriptor's plus the proxy's average ranks, (N,)."""
    return _stats.rankdata(np.asarray(descriptor, dtype=np.float64)) + \
        _stats.rankdata(np.asarray(proxy, dtype=np.float64))


def score_row(label: str, kind: str, values: np.ndarray, quality: np.ndarray,
              reference: np.ndarray | None, n_boot: int, seed: int = 0) -> dict:
    """τ, ρ with bootstrap intervals of ``values`` (n,) against ``quality`` (n,), and, with a
    ``reference`` (n,), the paired bootstrap of τ and of ρ minus the reference's."""
    corr = correlations(values, quality)
    tau_ci = bootstrap_ci(values, quality, "kendall", n_boot, seed=seed)
    rho_ci = bootstrap_ci(values, quality, "spearman", n_boot, seed=seed)
    row = {"name": label, "kind": kind, "n": int(values.size),
           "kendall_tau": corr.kendall_tau, "tau_ci": [tau_ci.low, tau_ci.high],
           "spearman_rho": corr.spearman_rho, "rho_ci": [rho_ci.low, rho_ci.high]}
    if reference is not None:
        for stat, key in (("kendall", "tau_minus_descriptor"),
                          ("spearman", "rho_minus_descriptor")):
            test = paired_bootstrap(values, reference, quality, stat, n_boot, seed=seed)
            row[key] = {"difference": test.diff, "low": test.low, "high": test.high,
                        "p_value": test.p_value}
        row["verdict"] = verdict(row)
    return row


def verdict(row: dict) -> str:
    """Plain words: does this score beat the descriptor alone on ρ (paired interval)?"""
    d = row["rho_minus_descriptor"]
    if d["low"] > 0:
        return "beats the descriptor on ρ"
    if d["high"] < 0:
        return "worse than the descriptor on ρ"
    return "does not beat the descriptor on ρ (interval includes 0)"


def given_descriptor(scores, quality, descriptor, depth=None) -> dict:
    """What a proxy's scores (n,) add to ``descriptor`` (n,): the ``partial`` and
    ``lexicographic-tiebreak`` fitness values (and ``within-depth`` ρ with ``depth`` (n,));
    ``None`` where undefined."""
    from ..metrics import MetricInputError
    from .fitness import Fitness
    out = {}
    for name in ("partial", "lexicographic-tiebreak", "within-depth"):
        if name == "within-depth" and depth is None:
            continue
        try:
            out[name] = Fitness(name, descriptor=descriptor, groups=depth)(scores, quality)
        except MetricInputError:
            out[name] = None
    return out


def combination_rows(quality: np.ndarray, descriptor: np.ndarray, descriptor_name: str,
                     proxies: dict[str, np.ndarray], n_boot: int = 1000,
                     depth: np.ndarray | None = None) -> list[dict]:
    """The descriptor alone, then for each proxy (label -> scores (n,), finite) the proxy
    alone (with :func:`given_descriptor`), tie-break and rank-sum; each against the
    descriptor alone. ``depth`` (n,): the records' depths, for ``within-depth``."""
    rows = [score_row(f"descriptor: {descriptor_label(descriptor_name)}", "descriptor",
                      descriptor, quality, None, n_boot)]
    for label, scores in proxies.items():
        rows.append(score_row(label, "proxy alone", scores, quality, descriptor, n_boot))
        rows[-1]["given_descriptor"] = given_descriptor(scores, quality, descriptor, depth)
        rows.append(score_row(f"{label} breaking the descriptor's ties", "tie-break",
                              tiebreak_combination(descriptor, scores), quality, descriptor,
                              n_boot))
        rows.append(score_row(f"{label} + descriptor, rank-sum", "rank-sum",
                              rank_sum_combination(descriptor, scores), quality, descriptor,
                              n_boot))
    return rows


def tie_counts(descriptor) -> dict:
    """How many distinct values ``descriptor`` (n,) takes and how many of its n(n-1)/2 pairs
    it ties: the room a tie-breaking proxy has."""
    _, counts = np.unique(np.asarray(descriptor), return_counts=True)
    n = int(counts.sum())
    return {"distinct": int(counts.size), "tied_pairs": int((counts * (counts - 1) // 2).sum()),
            "pairs": n * (n - 1) // 2}


def validation_descriptor(space, records) -> str:
    """The headline descriptor with the highest Spearman ρ on ``records`` (validation)."""
    quality = np.array([r.quality for r in records], dtype=np.float64)
    table = descriptor_scores(space, records)
    names = [n for n in space.headline_descriptors if n in table]
    return max(names, key=lambda n: (spearman_rho(table[n], quality), -names.index(n)))


def found_files(folder: Path) -> list[Path]:
    return [p for p in [folder / "found.json", *sorted(folder.glob("found_*.json"))]
            if p.is_file()]


def combination_descriptor(space, folder: Path, got: dict) -> tuple[str, str]:
    """(descriptor, why): the one descriptor the found proxies' fitness declared, else the best
    headline descriptor by ρ on the validation split (``got``: :func:`test_split_scores`)."""
    declared = [json.loads(p.read_text()).get("descriptor") for p in found_files(folder)]
    declared = sorted({d for d in declared if d})
    if len(declared) == 1:
        return declared[0], "the descriptor the found proxies' fitness read"
    val = got["benchmark"].subset(ids=got["provenance"]["splits"]["validation"]).records
    return (validation_descriptor(space, val),
            "the best headline descriptor by ρ on the validation split")


def combination(space_name: str, folder: Path | None = None, descriptor: str | None = None,
                n_boot: int = 1000, progress: bool = False) -> dict:
    from .held_out import folder_option, test_split_scores
    folder = Path(folder or experiments_dir() / space_name)
    got = test_split_scores(space_name, folder, progress)
    space = get_space(space_name)
    prov = got["provenance"]
    files = found_files(folder)
    if descriptor is None:
        descriptor, rule = combination_descriptor(space, folder, got)
    else:
        rule = "given"
    table = descriptor_scores(space, got["records"])
    if descriptor not in table:
        raise ConfigError(f"descriptor {descriptor!r} is not a descriptor of the {space_name} "
                          f"space; known: {', '.join(table)}")
    quality = got["quality"]
    proxies = {}
    skipped = {}
    for label, (kind, values) in got["scores"].items():
        if kind != "found":
            continue
        if not np.isfinite(values).all():
            skipped[label] = f"non-finite score on {int((~np.isfinite(values)).sum())} records"
            continue
        proxies[label] = np.asarray(values, dtype=np.float64)
    rows = combination_rows(quality, table[descriptor], descriptor, proxies, n_boot,
                            depth=table["n_layers"])
    return {"space": space_name, "split": "test", "record_ids": got["test_ids"],
            "descriptor": descriptor, "descriptor_rule": rule, "n_boot": n_boot,
            "descriptor_ties": tie_counts(table[descriptor]),
            "rows": rows, "skipped": skipped, "found_files": [p.name for p in files],
            "capture": prov["capture"], "commit": git_commit(),
            "command": f"python -m lpzero_gp.search.combination --space {space_name}"
                       + folder_option(space_name, folder)}


def markdown(result: dict) -> str:
    f = lambda x: "--" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"  # noqa: E731

    def diff(d):
        return "—" if d is None else \
            f"{d['difference']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
    lines = [f"Descriptor + proxy on the held-out test split of {result['space']}: "
             f"{len(result['record_ids'])} records no part of the search read "
             f"(`{result['command']}`; {result['n_boot']} bootstrap resamples). Descriptor: "
             f"{descriptor_label(result['descriptor'])} ({result['descriptor_rule']}). "
             f"Tie-break: rank by the descriptor, the proxy orders only its ties; rank-sum: the "
             f"sum of both ranks. Δ: paired bootstrap against the descriptor alone on the same "
             f"resamples.", "",
             f"The descriptor takes {result['descriptor_ties']['distinct']} distinct values "
             f"here and ties {result['descriptor_ties']['tied_pairs']} of "
             f"{result['descriptor_ties']['pairs']} pairs.", "",
             "| score | kind | τ [95% CI] | ρ [95% CI] | Δτ [95% CI] | Δρ [95% CI] | verdict |",
             "|---|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['name']} | {r['kind']} | {f(r['kendall_tau'])} "
                     f"[{f(r['tau_ci'][0])}, {f(r['tau_ci'][1])}] | {f(r['spearman_rho'])} "
                     f"[{f(r['rho_ci'][0])}, {f(r['rho_ci'][1])}] | "
                     f"{diff(r.get('tau_minus_descriptor'))} | "
                     f"{diff(r.get('rho_minus_descriptor'))} | {r.get('verdict', '—')} |")
    given = [r for r in result["rows"] if "given_descriptor" in r]
    if given:
        lines += ["", "What each proxy adds to the descriptor on these records (the fitness "
                      "options of `lpzero_gp.search.fitness`): partial ρ given it, τ inside its "
                      "ties, mean ρ within depth.", "",
                  "| proxy | partial | lexicographic-tiebreak | within-depth |", "|---|---|---|---|"]
        for r in given:
            g = r["given_descriptor"]
            lines.append(f"| {r['name']} | {f(g.get('partial'))} | "
                         f"{f(g.get('lexicographic-tiebreak'))} | {f(g.get('within-depth'))} |")
    for label, why in result.get("skipped", {}).items():
        lines.append(f"\n{label}: left out ({why}).")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from .held_out import table_main

    def add_arguments(parser):
        parser.add_argument("--descriptor", help="the descriptor to combine with (default: the "
                            "found files' own, else the best on the validation split)")
    return table_main(argv, __doc__.splitlines()[0], "combination",
                      lambda args: combination(args.space, args.folder,
                                               descriptor=args.descriptor,
                                               n_boot=args.n_boot), markdown, add_arguments)


if __name__ == "__main__":
    raise SystemExit(main())
