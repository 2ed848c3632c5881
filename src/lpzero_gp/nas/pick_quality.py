"""How good is a proxy's pick? Regret of the architecture a score picks from a pool, under a
parameter budget, against the pool's best, on a benchmark's held-out test split.

For each budget (a quantile of the test records' parameter counts), ``draws`` pools of
``pool`` records are drawn (seeded) from the records within the budget. In each pool every
scorer (the found proxies, LPZero's published proxy, every descriptor, each found proxy
breaking the ties of the descriptor of :mod:`lpzero_gp.search.combination` (kind
``combined``: rank by the descriptor, then by the proxy), and a random pick) picks its top-1
and its top-k; for a pick we report

- its **percentile** in the pool: the fraction of the pool's records whose true quality is at
  most the pick's (1 = the pool's best; the pick itself counts);
- its **regret**: the pool's best quality minus the pick's (label units: GLUE points, perplexity,
  nats; 0 is best), for top-k the best of the k picks (train k, keep the best);

and, per draw, the paired difference of regret between each proxy and the best descriptor at
that budget (the descriptor with the lowest mean regret, chosen after the fact: a conservative
bar for the proxy). Intervals are 2.5 / 97.5 percentiles over draws. Ties of a scorer (a
descriptor such as the number of layers has few values) are broken at random, with the same
random order for every scorer in a draw. A score that is NaN on a record never picks it.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

QUANTILES = (0.25, 0.5, 0.75, 1.0)


def pick(scores: np.ndarray, tiebreak: np.ndarray, k: int = 1) -> np.ndarray:
    """Indices of the ``k`` highest ``scores`` (NaN never; ties by higher ``tiebreak``)."""
    s = np.where(np.isfinite(scores), scores, -np.inf)
    order = np.lexsort((-tiebreak, -s))  # primary: score descending
    return order[:k]


def percentile(quality: np.ndarray, index: int) -> float:
    """Fraction of ``quality`` (the pool, (n,)) at most the quality of record ``index``."""
    return float(np.mean(quality <= quality[index]))


def regret(quality: np.ndarray, indices: Sequence[int]) -> float:
    """The pool's best quality minus the best quality among ``indices``."""
    return float(quality.max() - quality[list(indices)].max())


def pick_quality(quality: np.ndarray, sizes: np.ndarray, scorers: Mapping[str, tuple],
                 quantiles: Sequence[float] = QUANTILES, pool: int = 50, draws: int = 1000,
                 top_k: int = 5, seed: int = 0, min_pool: int = 5) -> dict:
    """The figures of the module docstring.

    ``quality`` (n,) higher is better; ``sizes`` (n,) parameter counts; ``scorers``: name ->
    (kind, scores (n,)) with kind ``found``, ``published``, ``combined`` or ``descriptor``; a
    ``random``
    scorer is added. Per budget the pool holds ``min(pool, max(min_pool, eligible // 2))``
    records, so that pools differ between draws, and top-k uses ``k = min(top_k, pool // 3)``.
    """
    quality = np.asarray(quality, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.float64)
    rng = np.random.default_rng(seed)
    names = list(scorers) + ["random"]
    kinds = {n: scorers[n][0] for n in scorers} | {"random": "random"}
    budgets = []
    for q in quantiles:
        budget = float(np.quantile(sizes, q))
        eligible = np.flatnonzero(sizes <= budget)
        size = min(pool, max(min_pool, len(eligible) // 2))
        if len(eligible) < size or size < 2:
            budgets.append({"quantile": q, "budget": budget, "eligible": int(len(eligible)),
                            "pool": None, "reason": "too few records within the budget"})
            continue
        k = min(top_k, max(1, size // 3))  # top-k of a pool barely larger than k says nothing
        top1 = {n: np.empty(draws) for n in names}
        topk = {n: np.empty(draws) for n in names}
        pct = {n: np.empty(draws) for n in names}
        for d in range(draws):
            idx = rng.choice(eligible, size=size, replace=False)
            qual = quality[idx]
            tiebreak = rng.random(size)
            for n in names:
                scores = rng.random(size) if n == "random" else np.asarray(scorers[n][1])[idx]
                chosen = pick(scores, tiebreak, k)
                top1[n][d] = regret(qual, chosen[:1])
                topk[n][d] = regret(qual, chosen)
                pct[n][d] = percentile(qual, int(chosen[0]))
        descriptors = [n for n in names if kinds[n] == "descriptor"]
        best = min(descriptors, key=lambda n: top1[n].mean()) if descriptors else None
        rows = []
        for n in names:
            row = {"name": n, "kind": kinds[n],
                   "regret": _summary(top1[n]), "regret_top_k": _summary(topk[n]),
                   "percentile": _summary(pct[n])}
            if best is not None and n != best and kinds[n] in ("found", "published",
                                                                "combined"):
                row["regret_minus_best_descriptor"] = _summary(top1[n] - top1[best])
            rows.append(row)
        budgets.append({"quantile": q, "budget": budget, "eligible": int(len(eligible)),
                        "pool": size, "top_k": k, "best_descriptor": best, "rows": rows})
    return {"n_records": int(len(quality)), "draws": draws, "top_k": top_k, "seed": seed,
            "budgets": budgets}


def _summary(values: np.ndarray) -> dict:
    return {"mean": float(values.mean()), "low": float(np.quantile(values, 0.025)),
            "high": float(np.quantile(values, 0.975))}


def markdown(result: dict, label_unit: str = "") -> str:
    """One table per budget: mean regret (top-1, top-k), mean percentile, proxy − best
    descriptor."""
    f = lambda s: f"{s['mean']:.3f} [{s['low']:.3f}, {s['high']:.3f}]"  # noqa: E731
    out = []
    for b in result["budgets"]:
        head = (f"Budget: parameters ≤ {b['budget']:.4g} (the {b['quantile']:.0%} quantile; "
                f"{b['eligible']} test records within it")
        if b["pool"] is None:
            out += [head + f"): {b['reason']}.", ""]
            continue
        out += [head + f"; pools of {b['pool']}, {result['draws']} draws; best descriptor "
                f"by regret: {b['best_descriptor']})", "",
                f"| scorer | kind | regret top-1{label_unit} | regret top-{b['top_k']} | "
                f"percentile top-1 | regret − best descriptor |", "|---|---|---|---|---|---|"]
        for r in b["rows"]:
            diff = r.get("regret_minus_best_descriptor")
            out.append(f"| {r['name']} | {r['kind']} | {f(r['regret'])} | "
                       f"{f(r['regret_top_k'])} | {r['percentile']['mean']:.3f} | "
                       f"{'—' if diff is None else f(diff)} |")
        out.append("")
    return "\n".join(out)


def plot(result: dict, path, title: str = "") -> None:
    """Mean top-1 regret against the budget quantile, one line per scorer kind's members."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    budgets = [b for b in result["budgets"] if b["pool"] is not None]
    names = [r["name"] for r in budgets[0]["rows"]] if budgets else []
    styles = {"found": "-", "published": "--", "descriptor": ":", "random": "-.",
              "combined": (0, (5, 1, 1, 1))}
    for n in names:
        rows = [next(r for r in b["rows"] if r["name"] == n) for b in budgets]
        ax.plot([b["quantile"] for b in budgets], [r["regret"]["mean"] for r in rows],
                linestyle=styles.get(rows[0]["kind"], "-"), marker="o", label=n)
    ax.set_xlabel("parameter budget (quantile of the test records)")
    ax.set_ylabel("mean regret of the top-1 pick (lower is better)")
    ax.set_title(title)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


DEFAULTS = {"pool": 50, "draws": 1000, "top-k": 5, "seed": 0}  # the command's defaults


def for_space(space_name: str, folder=None, pool: int = 50, draws: int = 1000, top_k: int = 5,
              seed: int = 0, progress: bool = False) -> dict:
    """Pick quality on the test split of the space's found proxies (see
    :func:`lpzero_gp.search.held_out.test_split_scores`)."""
    from pathlib import Path

    from ..baselines.descriptors import descriptor_label, descriptor_scores
    from ..locations import experiments_dir
    from ..search.combination import combination_descriptor, tiebreak_combination
    from ..search.held_out import folder_option, test_split_scores
    from ..search.provenance import git_commit
    from ..spaces import get_space
    space = get_space(space_name)
    folder = Path(folder or experiments_dir() / space_name)
    got = test_split_scores(space_name, folder, progress)
    sizes = np.array([space.descriptors(r)[space.size_descriptor] for r in got["records"]])
    scorers = {n: (kind, np.asarray(v, dtype=np.float64))
               for n, (kind, v) in got["scores"].items()}
    descriptor, why = combination_descriptor(space, folder, got)
    table = descriptor_scores(space, got["records"])
    for n, (kind, values) in list(scorers.items()):
        if kind == "found" and np.isfinite(values).all():  # a NaN would void every rank
            scorers[f"{descriptor_label(descriptor)}, ties broken by {n}"] = (
                "combined", tiebreak_combination(table[descriptor], values))
    result = pick_quality(got["quality"], sizes, scorers, pool=pool, draws=draws, top_k=top_k,
                          seed=seed)
    bench = got["records"][0]
    result.update({"space": space_name, "split": "test", "record_ids": got["test_ids"],
                   "size_descriptor": space.size_descriptor,
                   "combined_descriptor": descriptor, "combined_descriptor_rule": why,
                   "label": "higher is better" if bench.higher_is_better
                   else "lower is better (regret in label units)",
                   "command": f"lpzero-gp pick-quality --space {space_name}"
                              + folder_option(space_name, folder)
                              + "".join(f" --{k} {v}" for k, v in (("pool", pool),
                                        ("draws", draws), ("top-k", top_k), ("seed", seed))
                                        if v != DEFAULTS[k]),
                   "found_provenance": {k: got["provenance"].get(k) for k in
                                        ("commit", "split_seed", "capture")},
                   "commit": git_commit()})
    return result

