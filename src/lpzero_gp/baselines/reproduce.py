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

LPZero's own FlexiBERT column (``lpzero`` in LPZero's ``BERT_results_activation_3.csv``, its
published proxy per record) is compared with our evaluation of the same formula by
:func:`lpzero_column_agreement`, which takes our per-record scores as a plain mapping (record
id -> score), so any build of the formula can be checked the same way: Spearman between ours
and the stored column over all records, of each with the number of layers, and inside each
depth (ours vs stored, stored vs GLUE, ours vs GLUE) with the size-weighted mean over depths.
The public code seeded nothing and left dropout on, so inside one depth, where the formula's
size signal is constant, the stored values are mostly that noise.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats as _stats

from ..data import ensure_file
from ..errors import DataFileError
from ..metrics import MetricInputError, bootstrap_ci, correlations, within_groups

CSV_FILE = "nas-bench-bert/BERT_results_activation.csv"
LPZERO_CSV_FILE = "lpzero-published/BERT_results_activation_3.csv"
LPZERO_COLUMN = "lpzero"

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


def read_lpzero_column(path=None, data_dir=None) -> dict[str, float]:
    """LPZero's published FlexiBERT proxy per record: record id -> the ``lpzero`` column of
    ``BERT_results_activation_3.csv`` (a file without that column is a DataFileError)."""
    path = Path(path) if path is not None else ensure_file(LPZERO_CSV_FILE, data_dir)
    rows = read_published(path)
    missing = [rid for rid, row in rows.items() if LPZERO_COLUMN not in row]
    if missing:
        raise DataFileError(f"{path}: no {LPZERO_COLUMN!r} column (record {missing[0]!r})")
    return {rid: row[LPZERO_COLUMN] for rid, row in rows.items()}


def lpzero_column_agreement(ours: dict[str, float], bench, stored: dict[str, float] | None = None,
                            data_dir=None) -> dict:
    """Our per-record scores of LPZero's FlexiBERT formula against LPZero's stored column.

    ``ours``: record id -> score (any build: pass the scores of a new language the same way);
    ``stored``: record id -> LPZero's value (default: :func:`read_lpzero_column`); ``bench``:
    the benchmark, for GLUE (:attr:`Record.quality`) and the number of layers. On the records
    of ``bench`` that both score with finite values, returns

    - ``n``, ``rho_ours_stored``, ``rho_ours_glue``, ``rho_stored_glue`` (all records);
    - ``rho_ours_layers``, ``rho_stored_layers``: Spearman with the number of layers;
    - ``per_depth``: {depth: {n, rho_ours_stored, rho_stored_glue, rho_ours_glue}};
    - ``within_depth``: the size-weighted mean over depths of each of the three (groups of
      fewer than 3 records or with constant values are left out, as
      :func:`~lpzero_gp.metrics.within_groups`);
    - ``scores``: ``ours`` on those records (record id -> score).
    """
    stored = read_lpzero_column(data_dir=data_dir) if stored is None else stored
    records = [r for r in bench.records if r.id in ours and r.id in stored
               and np.isfinite(ours[r.id]) and np.isfinite(stored[r.id])]
    if len(records) < 3:
        raise MetricInputError(f"lpzero_column_agreement: only {len(records)} records have "
                               "both scores; need at least 3")
    mine = np.array([ours[r.id] for r in records], dtype=np.float64)
    theirs = np.array([stored[r.id] for r in records], dtype=np.float64)
    glue = np.array([r.quality for r in records], dtype=np.float64)
    depth = np.array([r.config.n_layers for r in records])
    out = {"n": len(records), "rho_ours_stored": _rho(mine, theirs),
           "rho_ours_glue": _rho(mine, glue), "rho_stored_glue": _rho(theirs, glue),
           "rho_ours_layers": _rho(mine, depth), "rho_stored_layers": _rho(theirs, depth),
           "per_depth": {}, "within_depth": {}}
    pairs = {"rho_ours_stored": (mine, theirs), "rho_stored_glue": (theirs, glue),
             "rho_ours_glue": (mine, glue)}
    for d in sorted(set(depth.tolist())):
        member = depth == d
        out["per_depth"][int(d)] = {"n": int(member.sum()),
                                    **{k: _rho(a[member], b[member])
                                       for k, (a, b) in pairs.items()}}
    for k, (a, b) in pairs.items():
        try:
            out["within_depth"][k] = within_groups(a, b, depth, stat="spearman").mean
        except MetricInputError:
            out["within_depth"][k] = None
    out["scores"] = {r.id: float(x) for r, x in zip(records, mine)}
    return out


def lpzero_column_markdown(z: dict) -> str:
    """The Markdown section of :func:`lpzero_column_agreement`'s result."""
    lines = [f"LPZero's stored `lpzero` column (`{LPZERO_CSV_FILE}`) against ours, "
             f"{z['n']} records: ρ(ours, stored) {_f(z['rho_ours_stored'])}; with the number "
             f"of layers ρ(ours, layers) {_f(z['rho_ours_layers'])}, ρ(stored, layers) "
             f"{_f(z['rho_stored_layers'])}; against GLUE ρ(ours, GLUE) "
             f"{_f(z['rho_ours_glue'])}, ρ(stored, GLUE) {_f(z['rho_stored_glue'])}.", "",
             "| depth | n | ρ(ours, stored) | ρ(stored, GLUE) | ρ(ours, GLUE) |",
             "|---|---:|---:|---:|---:|"]
    for d, g in z["per_depth"].items():
        lines.append(f"| {d} layers | {g['n']} | {_f(g['rho_ours_stored'])} | "
                     f"{_f(g['rho_stored_glue'])} | {_f(g['rho_ours_glue'])} |")
    w = z["within_depth"]
    lines.append(f"| within-depth (size-weighted mean) | {z['n']} | "
                 f"{_f(w.get('rho_ours_stored'))} | {_f(w.get('rho_stored_glue'))} | "
                 f"{_f(w.get('rho_ours_glue'))} |")
    return "\n".join(lines) + "\n"


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
    lpzero_column: dict | None = None  # lpzero_column_agreement(...), per-record scores inside

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
        if self.lpzero_column:
            lines += ["", "### LPZero's stored FlexiBERT proxy, across and within depths", "",
                      lpzero_column_markdown(self.lpzero_column).rstrip("\n")]
        return "\n".join(lines) + "\n"


def _f(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def finite_correlation(a, b, stat: str = "spearman") -> float | None:
    """Spearman's rho (or Kendall's tau-b) of ``a`` and ``b`` on the pairs where both are
    finite; ``None`` when fewer than 3 pairs remain or a side is constant."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return None
    fn = _stats.spearmanr if stat == "spearman" else _stats.kendalltau
    return float(fn(a[ok], b[ok]).statistic)


def _rho(a, b) -> float | None:
    return finite_correlation(a, b, "spearman")


def reproduce_published(space, bench, settings, csv_path=None, cache=None, score_cache=None,
                        data_dir=None, progress: bool = True, include_lpzero: bool = True,
                        n_boot: int = 1000, lpzero_csv_path=None) -> ReproductionResult:
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
        ours = {r.id: float(x) for r, x in zip(records, scores)}
        stored = read_lpzero_column(lpzero_csv_path, data_dir)
        try:
            result.lpzero_column = lpzero_column_agreement(ours, bench, stored)
        except MetricInputError as exc:
            result.lpzero_column = {"undefined": str(exc), "scores": ours}
    return result
