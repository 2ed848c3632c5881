"""The comparison: every descriptor, hand-designed, published and found proxy on one set of
records, with bootstrap intervals and structure-aware statistics.

One table per space and capture settings:

- descriptors (no model): :func:`lpzero_gp.baselines.descriptors.descriptor_scores`;
- hand-designed proxies computed directly, one model build per record, values cached in JSON
  (:mod:`lpzero_gp.baselines.score_cache`): :func:`hand_designed_scores`;
- hand-designed proxies written in the proxy language, LPZero's published proxy (``lpzero``
  language) and the found proxy of ``experiments/<space>/found.json``, all evaluated on the
  captured inputs (:func:`lpzero_gp.collect.collect_inputs`).

Statistics per score (records where it is finite): Kendall tau-b and Spearman rho against
quality with percentile-bootstrap 95% intervals; both inside groups of equal depth (a proxy
that only counts layers scores about 0 there); Kendall tau among the top 10/30/50% of
architectures by quality; a paired bootstrap of rho against the best descriptor. Signs are
against quality oriented higher-is-better, so a positive value ranks the better architectures
higher.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from ..benchmarks import Record
from ..errors import ConfigError
from ..locations import checkout_root
from ..metrics import (MetricInputError, bootstrap_ci, correlations, paired_bootstrap,
                       top_k_tau, within_groups)
from .descriptors import depth_groups, descriptor_label, descriptor_scores
from .in_language import IN_LANGUAGE, published_proxy
from .score_cache import SCORES_VERSION, ScoreCache, score_key
from .hand_designed import HAND_DESIGNED, ProxyValue, compute_hand_designed

TOP_FRACTIONS = (0.1, 0.3, 0.5)


@dataclass
class ScoreColumn:
    """One score on the records: ``scores`` (n,) float64, NaN where undefined (``reasons``
    maps record id -> why)."""

    key: str
    name: str
    kind: str  # descriptor | hand-designed | found | published
    scores: np.ndarray
    reasons: dict[str, str] = field(default_factory=dict)
    note: str = ""


# -- computing the scores -------------------------------------------------------------------

def hand_designed_scores(space, records: Sequence[Record], settings, names=None,
                         cache=None, data_dir=None, progress: bool = True,
                         reuse: str | None = None
                         ) -> dict[str, tuple[np.ndarray, dict[str, str]]]:
    """Hand-designed proxies on ``records``: name -> (scores (n,), {record id: reason}).

    One model build (``settings.variant``, ``settings.seed``) and one set of passes per record,
    on the batch of ``settings``. ``cache``: a folder, ``None`` for the default cache folder,
    or ``False`` for none.
    """
    from ..collect import make_space_batch
    from ..corpus import text_fingerprint
    settings = settings.resolved(space)
    names = list(HAND_DESIGNED if names is None else names)
    store = None if cache is False else ScoreCache(
        score_key(space.name, settings, text_fingerprint(settings.text_path)), cache)
    if reuse is not None and store is not None:
        from .score_cache import seed_from_details
        seed_from_details(store, reuse, settings)
    batch = None
    values: list[dict[str, ProxyValue]] = []
    bar = tqdm(records, desc=f"baselines {space.name}", unit="arch", disable=not progress)
    for record in bar:
        got = store.get(record.id, names) if store else None
        if got is None:
            if batch is None:
                batch = make_space_batch(space, settings, data_dir, records)
            start = time.perf_counter()
            model = space.build(record, settings.variant, settings.seed)
            got = compute_hand_designed(model, batch, settings.objective, names, space)
            if store:
                store.put(record.id, got, time.perf_counter() - start)
        values.append(got)
    out = {}
    for n in names:
        scores = np.array([v[n].value for v in values], dtype=np.float64)
        reasons = {r.id: v[n].reason for r, v in zip(records, values) if v[n].reason}
        out[n] = (scores, reasons)
    return out


def load_found(space_name: str, root: str | Path | None = None) -> list[tuple[str, object]]:
    """The found proxies of ``experiments/<space>/found.json`` and ``found_*.json`` (each one
    proxy JSON or a list), as (name, Proxy); empty when there is none. ``root``: the folder
    holding ``experiments/`` (default: the checkout's; an installed copy has none, hence no
    found proxies)."""
    if root is None:
        root = checkout_root()
        if root is None:
            return []
    folder = Path(root) / "experiments" / space_name
    paths = [folder / "found.json"] + sorted(folder.glob("found_*.json"))
    out = []
    for path in paths:
        if path.is_file():
            out += _load_found_file(path)
    return out


def _load_found_file(path: Path) -> list[tuple[str, object]]:
    from ..language import Proxy
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the found proxies ({exc})") from None
    entries = data if isinstance(data, list) else data.get("proxies", [data])
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: entry {i} is not a proxy JSON object")
        proxy = Proxy.from_json(entry)
        name = entry.get("name") or (f"Found ({proxy.language.name} language)"
                                     if len(entries) == 1 else f"Found #{i + 1}")
        out.append((name, proxy))
    return out


def _proxy_column(key, name, kind, result, record_ids, note="") -> ScoreColumn:
    reasons = {rid: (result.reason or "non-finite score") for rid in result.invalid_records}
    return ScoreColumn(key, name, kind, np.asarray(result.scores, dtype=np.float64), reasons,
                       note)


def collect_columns(space, bench, settings, hand_designed=None, in_language=None,
                    include_published: bool = True, include_found: bool = True,
                    cache=None, score_cache=None, data_dir=None, progress: bool = True,
                    found_root=None, reuse_scores=None) -> list[ScoreColumn]:
    """Every score column of the comparison on ``bench``'s records.

    ``hand_designed``: names (default all, ``[]`` for none); ``in_language``: names of
    :data:`~lpzero_gp.baselines.in_language.IN_LANGUAGE` (default all). ``cache``: the capture
    cache (as :func:`~lpzero_gp.collect.collect_inputs`), ``score_cache``: the hand-designed
    value cache folder (``False`` for none).
    """
    records = list(bench.records)
    ids = [r.id for r in records]
    columns = [ScoreColumn(f"descriptor:{n}", descriptor_label(n), "descriptor", s)
               for n, s in descriptor_scores(space, records).items()]
    hd = tuple(HAND_DESIGNED) if hand_designed is None else hand_designed
    if hd:
        for n, (scores, reasons) in hand_designed_scores(space, records, settings, hd,
                                                         score_cache, data_dir, progress,
                                                         reuse=reuse_scores).items():
            columns.append(ScoreColumn(f"hand:{n}", HAND_DESIGNED[n].label, "hand-designed",
                                       scores, reasons, HAND_DESIGNED[n].source))
    lang = [IN_LANGUAGE[n] for n in (IN_LANGUAGE if in_language is None else in_language)]
    pub = [published_proxy(space.name)] if include_published and space.published else []
    found = load_found(space.name, found_root) if include_found else []
    if lang or pub or found:
        from ..collect import collect_inputs
        from ..hand_bank import hand_names
        bank = collect_inputs(space, records, settings, cache=cache, data_dir=data_dir,
                              progress=progress,
                              hand_designed=hand_names(*(proxy for _, proxy in found)))
        for p in lang:
            columns.append(_proxy_column(f"language:{p.name}", p.label, "hand-designed",
                                         p.proxy().evaluate(bank), ids,
                                         f"proxy language: {p.formula}"))
        for p in pub:
            result = p.proxy().evaluate(bank)
            result.scores = p.oriented(result.scores)
            columns.append(_proxy_column("published:lpzero", p.label, "published", result, ids,
                                         f"lpzero language: {p.formula}"
                                         + ("; negated: lower is better, as LPZero's evaluation"
                                            if p.lower_is_better else "")))
        for i, (name, proxy) in enumerate(found):
            columns.append(_proxy_column(f"found:{i}", name, "found", proxy.evaluate(bank), ids,
                                         f"{proxy.language.name} language: {proxy}; searched "
                                         "on 70% of these records (held-out figures: "
                                         "held_out.md beside its found.json)"))
    return columns


# -- statistics -----------------------------------------------------------------------------

def _safe(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except MetricInputError:
        return None


def column_statistics(column: ScoreColumn, quality: np.ndarray, groups: np.ndarray,
                      n_boot: int = 1000, seed: int = 0) -> dict:
    """Every statistic of one column on its finite records (see the module docstring)."""
    valid = np.isfinite(column.scores)
    x, y, g = column.scores[valid], quality[valid], groups[valid]
    out = {"key": column.key, "name": column.name, "kind": column.kind, "n": int(valid.sum()),
           "n_invalid": int((~valid).sum()), "undefined": None}
    try:
        corr = correlations(x, y)
    except MetricInputError as exc:
        out["undefined"] = str(exc)
        return out
    out["kendall_tau"], out["spearman_rho"] = corr.kendall_tau, corr.spearman_rho
    for stat, low, high in (("kendall", "tau_low", "tau_high"),
                            ("spearman", "rho_low", "rho_high")):
        ci = _safe(bootstrap_ci, x, y, stat=stat, n_boot=n_boot, seed=seed)
        out[low], out[high] = (ci.low, ci.high) if ci else (None, None)
    for stat in ("kendall", "spearman"):
        wg = _safe(within_groups, x, y, g, stat=stat)
        out[f"within_depth_{stat}"] = wg.mean if wg else None
        out[f"within_depth_{stat}_per_group"] = (
            {str(k): v for k, v in wg.per_group.items()} if wg else {})
    top = {}
    for f in TOP_FRACTIONS:
        res = _safe(top_k_tau, x, y, (f,))
        top[f] = None if res is None else res[f]
    out["top_k_tau"] = {f"{int(f * 100)}%": v for f, v in top.items()}
    return out


def paired_against(column: ScoreColumn, reference: ScoreColumn, quality: np.ndarray,
                   n_boot: int = 1000, seed: int = 0) -> dict | None:
    """Paired bootstrap of Spearman rho, column minus reference, on records both score."""
    valid = np.isfinite(column.scores) & np.isfinite(reference.scores)
    test = _safe(paired_bootstrap, column.scores[valid], reference.scores[valid],
                 quality[valid], stat="spearman", n_boot=n_boot, seed=seed)
    return None if test is None else {"reference": reference.name, **test.as_dict()}


@dataclass
class BaselineTable:
    """The comparison of one space on one set of records."""

    space: str
    label_name: str
    higher_is_better: bool
    record_ids: list[str]
    quality: np.ndarray  # (n,) oriented higher-is-better
    settings: dict
    columns: list[ScoreColumn]
    stats: list[dict]
    best_descriptor: str | None
    n_boot: int

    @property
    def oriented_label(self) -> str:
        return self.label_name if self.higher_is_better else f"−{self.label_name}"

    @property
    def quality_note(self) -> str:
        direction = "higher" if self.higher_is_better else "lower"
        sign = "" if self.higher_is_better else f" (correlations against −{self.label_name})"
        return (f"{len(self.record_ids)} records; label {self.label_name} ({direction} is "
                f"better){sign}; {self.n_boot} bootstrap resamples")

    def rows(self) -> list[dict]:
        """Rows for :func:`lpzero_gp.report.comparison_table`."""
        rows = []
        for col, st in zip(self.columns, self.stats):
            notes = [col.note] if col.note else []
            if st["n_invalid"]:
                first = next(iter(col.reasons.values()), "non-finite")
                notes.append(f"{st['n_invalid']} undefined ({first})")
            if st["undefined"]:
                notes.append(st["undefined"])
            paired = st.get("paired")
            if paired:
                notes.append(f"rho minus {paired['reference']}'s: {paired['diff']:+.3f} "
                             f"[{paired['low']:+.3f}, {paired['high']:+.3f}]")
            rows.append({"name": col.name, "kind": col.kind, "kendall_tau": st.get("kendall_tau"),
                         "tau_low": st.get("tau_low"), "tau_high": st.get("tau_high"),
                         "spearman_rho": st.get("spearman_rho"), "rho_low": st.get("rho_low"),
                         "rho_high": st.get("rho_high"), "n": st["n"],
                         "note": "; ".join(notes)})
        return rows

    def table(self):
        from ..report import comparison_table
        return comparison_table(self.rows())

    def structure_markdown(self) -> str:
        """Within-depth correlations and top-k Kendall tau, one row per score."""
        head = ["Proxy", "within-depth τ", "within-depth ρ"] + \
               [f"top-{int(f * 100)}% τ" for f in TOP_FRACTIONS]
        lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for st in self.stats:
            cells = [st["name"], _fmt(st.get("within_depth_kendall")),
                     _fmt(st.get("within_depth_spearman"))]
            cells += [_fmt((st.get("top_k_tau") or {}).get(f"{int(f * 100)}%"))
                      for f in TOP_FRACTIONS]
            lines.append("| " + " | ".join(c.replace("|", r"\|") for c in cells) + " |")
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        return (f"## {self.space}: proxies against {self.label_name}\n\n{self.quality_note}. "
                "Any proxy worth using must beat the descriptors (no model at all). "
                + (f"Notes give each score's Spearman ρ minus that of the best descriptor, "
                   f"{self.best_descriptor}, with its paired-bootstrap 95% interval.\n\n"
                   if self.best_descriptor else "\n\n")
                + self.table().to_markdown()
                + "\n### Structure-aware statistics\n\n"
                  "Within-depth: size-weighted mean over groups of equal depth. Top-k: Kendall "
                  "τ among the best k% of architectures by the label.\n\n"
                + self.structure_markdown())

    def details(self) -> dict:
        return {"space": self.space, "label": self.label_name,
                "higher_is_better": self.higher_is_better, "records": self.record_ids,
                "settings": self.settings, "n_boot": self.n_boot,
                "scores_version": SCORES_VERSION,
                "best_descriptor": self.best_descriptor, "statistics": self.stats,
                "scores": {c.key: [None if not math.isfinite(v) else v for v in c.scores]
                           for c in self.columns},
                "undefined": {c.key: c.reasons for c in self.columns if c.reasons}}

    def write(self, out_dir) -> dict[str, Path]:
        """table.md/.csv/.tex, details.json, bars_spearman.png, bars_kendall.png, scatter.png."""
        from ..report import bar_chart, scatter_grid
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        table = self.table()
        paths = {"table.md": out / "table.md", "table.csv": out / "table.csv",
                 "table.tex": out / "table.tex", "details.json": out / "details.json"}
        from ..fileio import write_text  # atomic: nothing half-written
        write_text(paths["table.md"], self.to_markdown())
        write_text(paths["table.csv"], table.to_csv())
        write_text(paths["table.tex"], table.to_latex())
        write_text(paths["details.json"], json.dumps(self.details(), indent=1))
        rows = self.rows()
        for stat, name in (("spearman_rho", "bars_spearman.png"),
                           ("kendall_tau", "bars_kendall.png")):
            if any(r[stat] is not None for r in rows):
                paths[name] = bar_chart(_chart_rows(rows, stat), out / name, stat=stat,
                                        title=f"{self.space}: {stat.replace('_', ' ')} "
                                              f"against {self.label_name} (95% CI)")
        shown = {c.name: c.scores for c, st in zip(self.columns, self.stats)
                 if np.isfinite(c.scores).all() and st.get("spearman_rho") is not None}
        if shown:
            paths["scatter.png"] = scatter_grid(shown, self.quality, out / "scatter.png",
                                                label_name=self.oriented_label)
        return paths


def _chart_rows(rows: list[dict], stat: str) -> list[dict]:
    """Rows for a bar chart: an interval that does not contain its estimate (a percentile
    bootstrap interval on few records can miss it) is left out, since error bars cannot
    show it; the tables keep it."""
    low, high = {"spearman_rho": ("rho_low", "rho_high"),
                 "kendall_tau": ("tau_low", "tau_high")}[stat]
    out = []
    for r in rows:
        r = dict(r)
        if None not in (r[stat], r[low], r[high]) and not r[low] <= r[stat] <= r[high]:
            r[low] = r[high] = None
        out.append(r)
    return out


def _fmt(value) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.3f}"


def build_table(space, bench, columns: list[ScoreColumn], settings=None, n_boot: int = 1000,
                seed: int = 0) -> BaselineTable:
    """Statistics of every column against ``bench``'s quality; the paired test of each
    non-descriptor column against the descriptor with the highest Spearman rho."""
    records = list(bench.records)
    quality = np.array([r.quality for r in records], dtype=np.float64)
    groups = depth_groups(space, records)
    stats = [column_statistics(c, quality, groups, n_boot, seed) for c in columns]
    descriptor_stats = [(c, s) for c, s in zip(columns, stats)
                        if c.kind == "descriptor" and s.get("spearman_rho") is not None]
    best = max(descriptor_stats, key=lambda cs: cs[1]["spearman_rho"], default=None)
    if best is not None:
        for c, s in zip(columns, stats):
            if c is not best[0] and s.get("spearman_rho") is not None:
                s["paired"] = paired_against(c, best[0], quality, n_boot, seed)
    resolved = settings.resolved(space).as_dict() if settings is not None else {}
    return BaselineTable(space.name, bench.label_name, bench.higher_is_better,
                         [r.id for r in records], quality, resolved, columns, stats,
                         best[0].name if best else None, n_boot)


def baseline_table(space, bench, settings, n_boot: int = 1000, seed: int = 0,
                   **collect_options) -> BaselineTable:
    """Collect every column (:func:`collect_columns`) and compute the table."""
    columns = collect_columns(space, bench, settings, **collect_options)
    return build_table(space, bench, columns, settings, n_boot, seed)
