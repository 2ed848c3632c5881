"""A supervised reference: gradient boosting on architecture descriptors, cross-validated.

This *uses the labels*: it is not a zero-cost proxy and is never reported as one. It answers
"how well can the labels be ranked from the architecture description alone, by a model fitted
on other records of the same benchmark?", the bar that says how much of a benchmark's ranking
is plain architecture size and shape.

Method: scikit-learn's ``GradientBoostingRegressor`` (defaults, ``random_state`` fixed) on a
set of features of the record's config, 5-fold cross-validation (``KFold``, shuffled, seeded);
each record's prediction comes from the model fitted on the other folds (out-of-fold), the
predictions of the folds are concatenated, and Kendall tau-b and Spearman rho are computed
between them and :attr:`~lpzero_gp.benchmarks.Record.quality` (higher is better).

Feature sets (:data:`FEATURE_SETS`):

- gpt2: ``(n_layer, d_model)``; ``(n_layer, d_model, d_embed, div_val)``.
- flexibert: ``(layers, hidden)``; every architecture feature: layers, hidden size and, per
  layer slot (up to the deepest record, zeros past a record's depth), the operation one-hot
  (SA-SDP, SA-WMA, LT-DFT, LT-DCT, DSC-5, DSC-9), the head count, the FFN width and the FFN
  depth.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..benchmarks import Record
from ..metrics import correlations

N_SPLITS = 5
SEED = 0
SPREAD_SEEDS = tuple(range(10))  # the figures depend on the folds: their range over seeds
FLEXIBERT_OPERATIONS = (("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"),
                        ("DSC", "5"), ("DSC", "9"))
NOTE = "supervised reference (uses labels): not a zero-cost proxy"


def _gpt2_small(records: Sequence[Record]) -> tuple[np.ndarray, list[str]]:
    x = [[r.config.n_layer, r.config.d_model] for r in records]
    return np.array(x, dtype=np.float64), ["n_layer", "d_model"]


def _gpt2_embed(records: Sequence[Record]) -> tuple[np.ndarray, list[str]]:
    x = [[r.config.n_layer, r.config.d_model, r.config.d_embed, r.config.div_val]
         for r in records]
    return np.array(x, dtype=np.float64), ["n_layer", "d_model", "d_embed", "div_val"]


def _flexibert_small(records: Sequence[Record]) -> tuple[np.ndarray, list[str]]:
    x = [[r.config.n_layers, r.config.hidden_size] for r in records]
    return np.array(x, dtype=np.float64), ["layers", "hidden"]


def _flexibert_all(records: Sequence[Record]) -> tuple[np.ndarray, list[str]]:
    slots = max(r.config.n_layers for r in records)
    names = ["layers", "hidden"]
    for i in range(slots):
        names += [f"l{i}_{t}_{p}" for t, p in FLEXIBERT_OPERATIONS]
        names += [f"l{i}_heads", f"l{i}_ffn_dim", f"l{i}_num_ffn"]
    rows = []
    for r in records:
        row = [r.config.n_layers, r.config.hidden_size]
        for i in range(slots):
            if i < r.config.n_layers:
                lay = r.config.layers[i]
                op = (lay.operation_type, str(lay.operation_parameter))
                if op not in FLEXIBERT_OPERATIONS:
                    raise ValueError(f"record {r.id}: layer {i} operation {op} is not one of "
                                     f"{FLEXIBERT_OPERATIONS}")
                row += [float(op == o) for o in FLEXIBERT_OPERATIONS]
                row += [lay.num_heads, lay.ffn_dim, lay.num_ffn]
            else:
                row += [0.0] * (len(FLEXIBERT_OPERATIONS) + 3)
        rows.append(row)
    return np.array(rows, dtype=np.float64), names


FEATURE_SETS: dict[str, dict[str, Callable]] = {
    "gpt2": {"n_layer, d_model": _gpt2_small,
             "n_layer, d_model, d_embed, div_val": _gpt2_embed},
    "flexibert": {"layers, hidden": _flexibert_small,
                  "all architecture features": _flexibert_all},
}


def out_of_fold_predictions(x: np.ndarray, y: np.ndarray, n_splits: int = N_SPLITS,
                            seed: int = SEED) -> np.ndarray:
    """Each row's prediction by a ``GradientBoostingRegressor(random_state=seed)`` fitted on
    the other folds of a shuffled ``KFold(n_splits, random_state=seed)``; shape (n,)."""
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.model_selection import KFold
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"features {x.shape} and labels {y.shape} do not match")
    if x.shape[0] < n_splits:
        raise ValueError(f"{x.shape[0]} records cannot be split into {n_splits} folds")
    pred = np.full(y.shape, np.nan)
    for train, test in KFold(n_splits, shuffle=True, random_state=seed).split(x):
        model = GradientBoostingRegressor(random_state=seed).fit(x[train], y[train])
        pred[test] = model.predict(x[test])
    return pred


@dataclass
class SupervisedReference:
    """The cross-validated fit of each feature set on one benchmark."""

    space: str
    label: str
    higher_is_better: bool
    n_splits: int
    seed: int
    record_ids: list[str]
    rows: list[dict] = field(default_factory=list)
    spread_seeds: tuple[int, ...] = ()

    def to_markdown(self) -> str:
        oriented = self.label if self.higher_is_better else f"−{self.label}"
        lines = [f"Supervised reference (uses labels; not a proxy): GradientBoostingRegressor, "
                 f"{self.n_splits}-fold cross-validation (shuffled, seed {self.seed}), "
                 f"out-of-fold predictions against {oriented}, {len(self.record_ids)} records.",
                 "", "| features | Kendall τ-b | Spearman ρ | n | τ-b, seeds "
                 f"{_seeds(self.spread_seeds)} | ρ, seeds {_seeds(self.spread_seeds)} |",
                 "|---|---:|---:|---:|---:|---:|"]
        for r in self.rows:
            sp = r.get("seed_spread") or {}
            tau = sp.get("kendall_tau", {})
            rho = sp.get("spearman_rho", {})
            lines.append(f"| {r['features']} | {r['kendall_tau']:.3f} | "
                         f"{r['spearman_rho']:.3f} | {r['n']} | {_range(tau)} | "
                         f"{_range(rho)} |")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict:
        return {"note": NOTE, "space": self.space, "label": self.label,
                "higher_is_better": self.higher_is_better,
                "model": "sklearn.ensemble.GradientBoostingRegressor (defaults, "
                         f"random_state={self.seed})",
                "cross_validation": f"KFold(n_splits={self.n_splits}, shuffle=True, "
                                    f"random_state={self.seed}), out-of-fold predictions",
                "spread_seeds": list(self.spread_seeds),
                "record_ids": self.record_ids, "results": self.rows}

    def write(self, path) -> Path:
        path = Path(path)
        from ..fileio import write_text  # atomic: nothing half-written
        return write_text(path, json.dumps(self.as_dict(), indent=1))


def _seeds(seeds) -> str:
    seeds = list(seeds)
    if not seeds:
        return "—"
    return f"{seeds[0]}–{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) \
        else ",".join(map(str, seeds))


def _range(spread: dict) -> str:
    if not spread:
        return "—"
    return f"{spread['mean']:.3f} [{spread['min']:.3f}, {spread['max']:.3f}]"


def supervised_reference(space_name: str, bench, n_splits: int = N_SPLITS, seed: int = SEED,
                         spread_seeds: Sequence[int] = SPREAD_SEEDS) -> SupervisedReference:
    """Every feature set of ``space_name`` (:data:`FEATURE_SETS`) on ``bench``'s records.

    The reported figures use ``seed`` (folds and model); ``spread_seeds`` (default 0-9, empty
    for none) gives, per feature set, the mean, min and max of each statistic over those seeds,
    since a single split's figure moves by about +-0.01 with the folds."""
    if space_name not in FEATURE_SETS:
        raise ValueError(f"no supervised feature sets for space {space_name!r}; known: "
                         f"{sorted(FEATURE_SETS)}")
    records = list(bench.records)
    y = np.array([r.quality for r in records], dtype=np.float64)
    out = SupervisedReference(space_name, bench.label_name, bench.higher_is_better, n_splits,
                              seed, [r.id for r in records], spread_seeds=tuple(spread_seeds))
    for label, make in FEATURE_SETS[space_name].items():
        x, names = make(records)
        pred = out_of_fold_predictions(x, y, n_splits, seed)
        corr = correlations(pred, y)
        row = {"features": label, "feature_names": names, "n": corr.n,
               "kendall_tau": corr.kendall_tau, "spearman_rho": corr.spearman_rho,
               "predictions": pred.tolist(), "kind": NOTE}
        if spread_seeds:
            got = [correlations(out_of_fold_predictions(x, y, n_splits, s), y)
                   for s in spread_seeds]
            row["seed_spread"] = {
                stat: {"mean": float(np.mean(v)), "min": float(np.min(v)),
                       "max": float(np.max(v))}
                for stat, v in (("kendall_tau", [c.kendall_tau for c in got]),
                                ("spearman_rho", [c.spearman_rho for c in got]))}
        out.rows.append(row)
    return out


__all__ = ["FEATURE_SETS", "NOTE", "SupervisedReference", "out_of_fold_predictions",
           "supervised_reference"]
