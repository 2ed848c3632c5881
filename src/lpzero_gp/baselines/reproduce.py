"""Reproducing NAS-Bench-BERT's published proxy values and LPZero's FlexiBERT figures.

``BERT_results_activation.csv`` (Serianni & Kalita 2023) holds, per record, the hand-designed
proxies computed by ``BERT_metrics.ipynb`` on the ``reference`` build: a batch of 128
OpenWebText documents padded to 512 tokens, dropout on (the model was never put in eval
mode), and the gradient of the *sum of the last hidden state*. We compute the same proxies on
the ``reference`` build with objective ``"sum"`` and compare ranks (Spearman between our values
and theirs, on the records of the file).

Known reasons for disagreement, found while reproducing:

- Every FlexiBERT layer ends with a LayerNorm whose weights are 1 and biases 0 at
  initialisation, and the sum over features of a normalised vector is 0 whatever the input:
  the gradient of "sum of the last hidden state" is 0 in exact arithmetic. The published
  gradient-based values (Synaptic Diversity, Synaptic Saliency, Head Importance, Jacobian
  Score) are float32 rounding noise (in float64 the same gradients are ~1e-18). Ours are the
  same kind of noise, from another batch and another machine: their ranks agree only as far
  as the noise's size follows the architecture.
- "Activation Distance": the notebook hooked ``intermediate_act_fn``, a GELU instance shared by
  every model that ``transformers``' ``ACT2FN`` handed out, and never removed its hooks. Each
  GELU call therefore appended its output once per hook ever registered, a count that grows
  with the record's position in the run (30 hooks at record 0, about 2,000 at the end). The
  published column is the record's own value times that count. "Activation Distance
  Normalized" (the mean per output) is unaffected, so ``Normalized * (number of GELU calls)``
  recovers the record's own value; we compare with both.
- Head confidence: the notebook hooked modules named query/key/value/input/weight, so a DSC
  layer's dynamic-convolution value projection is left out of Head Confidence but in Head
  Importance (selected by size); ours takes every head projection in both.
- Batch (real English from Python's documentation instead of OpenWebText, 512 padded tokens
  instead of our sequence length) and dropout (off here) differ.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats as _stats

from ..data import ensure_file
from ..errors import DataFileError
from ..metrics import MetricInputError, bootstrap_ci, correlations

CSV_FILE = "nas-bench-bert/BERT_results_activation.csv"

# published column -> our hand-designed proxy
PUBLISHED_COLUMNS = {
    "Synaptic Diversity": "synaptic_diversity",
    "Synaptic Saliency": "synaptic_saliency",
    "Activation Distance": "activation_distance",
    "Jacobian Score": "jacobian_score",
    "Number of Parameters": "n_params",
    "Head Importance": "head_importance",
    "Head Confidence": "head_confidence",
    "Head Softmax Confidence": "head_softmax_confidence",
}
CORRECTED_ACTIVATION = "Activation Distance (de-duplicated)"


def read_published(path=None, data_dir=None) -> dict[str, dict[str, float]]:
    """The published CSV: record id -> {column: value}."""
    path = Path(path) if path is not None else ensure_file(CSV_FILE, data_dir)
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise DataFileError(f"{path}: cannot be read ({exc})") from exc
    out = {}
    for i, row in enumerate(rows):
        try:
            out[str(row["ID"])] = {k: float(v) for k, v in row.items() if k != "ID"}
        except (KeyError, ValueError) as exc:
            raise DataFileError(f"{path}, row {i + 2}: not a number or no ID ({exc})") from None
    return out


def deduplicated_activation_distance(row: dict[str, float], record) -> float:
    """The record's own activation distance: the per-output mean times its GELU calls."""
    gelu_calls = sum(layer.num_ffn for layer in record.config.layers)
    return row["Activation Distance Normalized"] * gelu_calls


@dataclass
class ReproductionResult:
    """Per published column: Spearman between ours and theirs, and each against GLUE."""

    n_records: int
    settings: dict
    columns: list[dict] = field(default_factory=list)
    lpzero: dict | None = None

    def to_markdown(self) -> str:
        lines = [f"Reproduction on {self.n_records} NAS-Bench-BERT records (reference build, "
                 f"settings {self.settings}).", "",
                 "| published column | ours | ρ(ours, published) | ρ(ours, GLUE) | "
                 "ρ(published, GLUE) | n |", "|---|---|---:|---:|---:|---:|"]
        for c in self.columns:
            lines.append(f"| {c['column']} | {c['ours']} | {_f(c['rho_ours_published'])} | "
                         f"{_f(c['rho_ours_glue'])} | {_f(c['rho_published_glue'])} | "
                         f"{c['n']} |")
        if self.lpzero:
            z = self.lpzero
            lines += ["", f"LPZero's published FlexiBERT proxy `{z['formula']}` (lpzero "
                      f"language, reference build): τ {_f(z.get('kendall_tau'))} "
                      f"[{_f(z.get('tau_low'))}, {_f(z.get('tau_high'))}], ρ "
                      f"{_f(z.get('spearman_rho'))} [{_f(z.get('rho_low'))}, "
                      f"{_f(z.get('rho_high'))}] on n = {z.get('n')} (published: τ 0.511, "
                      "ρ 0.748 on all 500 records)."]
        return "\n".join(lines) + "\n"


def _f(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def _rho(a, b) -> float | None:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return None
    return float(_stats.spearmanr(a[ok], b[ok]).statistic)


def reproduce_published(space, bench, settings, csv_path=None, cache=None, score_cache=None,
                        data_dir=None, progress: bool = True, include_lpzero: bool = True,
                        n_boot: int = 1000) -> ReproductionResult:
    """Our values of the published proxies against the CSV's, on the records both have.

    ``settings`` should have ``variant="reference"`` and ``objective="sum"`` to compute what
    the notebook computed (other settings are allowed: then it measures how far they are).
    """
    from .in_language import published_proxy
    from .table import hand_designed_scores
    published = read_published(csv_path, data_dir)
    records = [r for r in bench.records if r.id in published]
    if len(records) < 3:
        raise DataFileError(f"only {len(records)} records of {bench.source} are in the "
                            "published CSV; need at least 3")
    names = sorted(set(PUBLISHED_COLUMNS.values()))
    ours = hand_designed_scores(space, records, settings, names, score_cache, data_dir, progress)
    glue = np.array([r.label for r in records], dtype=np.float64)
    result = ReproductionResult(len(records), settings.resolved(space).as_dict())
    pairs = list(PUBLISHED_COLUMNS.items()) + [(CORRECTED_ACTIVATION, "activation_distance")]
    for column, name in pairs:
        if column == CORRECTED_ACTIVATION:
            theirs = np.array([deduplicated_activation_distance(published[r.id], r)
                               for r in records])
        else:
            theirs = np.array([published[r.id][column] for r in records])
        mine = ours[name][0]
        result.columns.append({
            "column": column, "ours": name, "n": int(np.isfinite(mine).sum()),
            "rho_ours_published": _rho(mine, theirs), "rho_ours_glue": _rho(mine, glue),
            "rho_published_glue": _rho(theirs, glue),
            "exact": bool(np.array_equal(mine, theirs)),
        })
    if include_lpzero:
        from ..collect import collect_inputs
        bank = collect_inputs(space, records, settings, cache=cache, data_dir=data_dir,
                              progress=progress)
        proxy = published_proxy(space.name)
        scores = proxy.proxy().evaluate(bank).scores
        ok = np.isfinite(scores)
        entry = {"formula": proxy.formula, "n": int(ok.sum())}
        try:
            corr = correlations(scores[ok], glue[ok])
            entry.update(kendall_tau=corr.kendall_tau, spearman_rho=corr.spearman_rho)
            for stat, low, high in (("kendall", "tau_low", "tau_high"),
                                    ("spearman", "rho_low", "rho_high")):
                ci = bootstrap_ci(scores[ok], glue[ok], stat=stat, n_boot=n_boot)
                entry[low], entry[high] = ci.low, ci.high
        except MetricInputError as exc:
            entry["undefined"] = str(exc)
        result.lpzero = entry
    return result
