"""What a search leaves behind: figures per split, the chosen proxy, files and plots.

Files of a run folder:

================== ==============================================================================
config.json        the full run spec (search, capture, records), seed, space and provenance
versions.json      python, torch, deap, numpy, lpzero_gp, platform
split.json         record ids of the search / validation / test splits, probe architectures,
                   subsets, the fractions and seed
log.jsonl, log.csv one row per generation (best and median fitness, invalid rate, new
                   evaluations, RPS firings, seconds)
evaluations.jsonl  every formula evaluated (the memo): status, fitness, reason, RPS rule
rps.json           firings per RPS rule
hall_of_fame.json  the best formulas (with NSGA-II: the Pareto front): text, language, SymPy,
                   LaTeX, figures per split; the fitness, its descriptor and the selection
found.json         the chosen proxy, in the JSON form ``Proxy.from_json`` reads, with its
                   figures per split and its provenance (see :mod:`.provenance`)
baselines.json     descriptor baselines on the same records and splits; LPZero's published
                   figures
fitness.png        best and median fitness per generation
found_scatter.png  the chosen proxy's scores against the labels (all records), tau and rho
checkpoint.pkl     the state after the last generation (for ``--resume``)
pareto_front.json  (``selection = "nsga2"``) every member of the Pareto front: objectives on
                   the search split, figures (with each objective) per split, the declared
                   rule of the final choice and which member it chose
pareto_front.png   (``selection = "nsga2"``) the front on the search split, the choice circled
================== ==============================================================================
"""
from __future__ import annotations

import csv
import io
import json
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..language import Proxy
from ..metrics import MetricInputError, correlations
from .fitness import Fitness

SPLITS = ("search", "validation", "test", "all")
HEADLINE_SPLIT = "test"
REPORT_ORDER = ("test", "search", "validation", "all")

def published_figures(space) -> dict | None:
    """The figures of a space's first published proxy (LPZero's, recomputed from its stored
    score files; see ../shared/specs/lpzero_reference.md), or ``None``."""
    if not space.published or space.published[0].kendall_tau is None:
        return None
    p = space.published[0]
    return {"name": "LPZero (published)", "kendall_tau": p.kendall_tau,
            "spearman_rho": p.spearman_rho, "n": p.n, "absolute": p.absolute}


# -- figures ---------------------------------------------------------------------------------


def _as_fitness(stat: "str | Fitness", absolute: bool) -> Fitness:
    return stat if isinstance(stat, Fitness) else Fitness(stat, absolute=absolute)


def correlation_figures(scores: np.ndarray, quality: np.ndarray,
                        stat: "str | Fitness" = "spearman", absolute: bool = False,
                        objectives: Sequence[Fitness] = ()) -> dict:
    """Kendall tau, Spearman rho and the search fitness (``stat``: ``spearman``, ``kendall``
    or a :class:`~.fitness.Fitness` whose per-record arrays pair with ``scores``) of
    ``scores`` against ``quality`` (both (n,)) on the finite scores; ``None`` with a
    ``reason`` when undefined. With ``objectives``, also ``"objectives"``: name -> value
    (``None`` where undefined)."""
    scores = np.asarray(scores, dtype=np.float64)
    quality = np.asarray(quality, dtype=np.float64)
    finite = np.isfinite(scores)
    kept = np.flatnonzero(finite)
    out = {"kendall_tau": None, "spearman_rho": None, "fitness": None,
           "n": int(finite.sum()), "n_invalid": int((~finite).sum()), "reason": None}
    if out["n_invalid"]:
        out["reason"] = f"non-finite score on {out['n_invalid']} of {scores.size} records"
    try:
        c = correlations(scores[finite], quality[finite])
        out["kendall_tau"], out["spearman_rho"] = c.kendall_tau, c.spearman_rho
        out["fitness"] = _as_fitness(stat, absolute).on(kept)(scores[finite], quality[finite])
    except MetricInputError as exc:
        out["reason"] = str(exc)
    if objectives:
        out["objectives"] = {}
        for fit in objectives:
            try:
                value = fit.on(kept)(scores[finite], quality[finite])
            except MetricInputError:
                value = None
            out["objectives"][fit.name] = value
    return out


def figures_on(scores: np.ndarray, quality: np.ndarray, positions: Sequence[int],
               stat: "str | Fitness" = "spearman", absolute: bool = False,
               objectives: Sequence[Fitness] = ()) -> dict:
    """:func:`correlation_figures` of ``scores`` (N,) on ``positions`` (an "empty split"
    reason when there are none); a :class:`~.fitness.Fitness` ``stat`` and the
    ``objectives`` hold arrays over the same N records."""
    idx = list(positions)
    if not idx:
        out = {"kendall_tau": None, "spearman_rho": None, "fitness": None, "n": 0,
               "n_invalid": 0, "reason": "empty split"}
        if objectives:
            out["objectives"] = {fit.name: None for fit in objectives}
        return out
    fit = _as_fitness(stat, absolute).on(idx)
    return correlation_figures(np.asarray(scores, dtype=np.float64)[idx],
                               np.asarray(quality, dtype=np.float64)[idx], fit, absolute,
                               [o.on(idx) for o in objectives])


def split_figures(scores: np.ndarray, quality: np.ndarray, split,
                  stat: "str | Fitness" = "spearman", absolute: bool = False,
                  objectives: Sequence[Fitness] = ()) -> dict:
    """``{"search": ..., "validation": ..., "test": ..., "all": ...}`` figures of ``scores``
    (N,) on the parts of ``split``."""
    parts = {**split.parts(), "all": range(len(scores))}
    return {name: figures_on(scores, quality, idx, stat, absolute, objectives)
            for name, idx in parts.items()}


def proxy_scores(proxy: Proxy, bank) -> np.ndarray:
    """Scores (N,) of ``proxy`` on ``bank``, NaN where invalid."""
    return np.asarray(proxy.evaluate(bank).scores, dtype=np.float64)


def descriptor_figures(space, records, split, stat: str = "spearman",
                       absolute: bool = False) -> dict:
    """Figures per split of the space's headline descriptors (``space.headline_descriptors``:
    number of layers, layers then hidden size, ...) on the same records."""
    quality = np.array([r.quality for r in records], dtype=np.float64)
    table = [space.descriptors(r) for r in records]
    out = {}
    for name in space.headline_descriptors:
        if not all(name in row for row in table):
            continue
        values = np.array([row[name] for row in table], dtype=np.float64)
        out[name] = split_figures(values, quality, split, stat, absolute)
    return out


def choose_final(entries: Sequence[dict], has_validation: bool) -> int:
    """Index of the hall-of-fame entry chosen as the found proxy: the best fitness on the
    validation split (entries invalid there rank last); ties keep the hall-of-fame order. Without
    a validation split, the first entry (best on search). The test figures are never read."""
    if not entries:
        raise ValueError("the hall of fame is empty: no valid formula was found")
    if not has_validation:
        return 0

    def key(i):
        f = entries[i]["figures"]["validation"]
        ok = f["fitness"] is not None and f["n_invalid"] == 0
        return (0 if ok else 1, -(f["fitness"] if ok else 0.0), i)
    return min(range(len(entries)), key=key)


def flat_figures(figures: Mapping[str, dict]) -> dict:
    """Figures for ``found.json``: the headline (test) tau/rho/n unprefixed, then every split's
    prefixed (``search_``, ``validation_``, ``test_``, ``all_``). Files written before the
    three-way split have the all-record figures unprefixed and no ``test_`` keys."""
    keys = ("kendall_tau", "spearman_rho", "n")
    out = {key: figures[HEADLINE_SPLIT][key] for key in keys}
    for split_name in SPLITS:
        out.update({f"{split_name}_{key}": figures[split_name][key] for key in keys})
    return out


# -- files -----------------------------------------------------------------------------------


def _json_ready(value):
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, (np.floating,)):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` atomically (:func:`lpzero_gp.fileio.write_text`)."""
    from ..fileio import write_text as _write
    return _write(path, text)


def write_json(path: Path, data) -> Path:
    return write_text(path, json.dumps(_json_ready(data), indent=2) + "\n")


def write_jsonl(path: Path, rows: Sequence[Mapping]) -> Path:
    return write_text(path, "".join(json.dumps(_json_ready(r)) + "\n" for r in rows))


def log_csv_text(rows: Sequence[Mapping], rule_names: Sequence[str]) -> str:
    """The generation log as CSV, one ``rps_<rule>`` column per rule."""
    scalar_keys = [k for k in (rows[0] if rows else {}) if k != "rps"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(scalar_keys + [f"rps_{r}" for r in rule_names])
    for row in rows:
        rps = row.get("rps") or {}
        writer.writerow([_csv_cell(row.get(k)) for k in scalar_keys]
                        + [rps.get(r, 0) for r in rule_names])
    return buffer.getvalue()


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, 6))
    return value


def evaluation_counts(outcomes: Sequence) -> dict:
    """How many of a search's evaluated formulas (its memo's outcomes) were pruned, invalid,
    errors and valid, and the total."""
    return {"total": len(outcomes), "pruned": sum(o.status == "pruned" for o in outcomes),
            "invalid": sum(o.status == "invalid" for o in outcomes),
            "errors": sum(o.status == "error" for o in outcomes),
            "valid": sum(o.status == "valid" for o in outcomes)}


def write_run_logs(out: Path, evolution, cfg, plot_title: str) -> None:
    """The files of a finished ``evolution``'s course: ``rps.json`` (firings per rule of
    ``cfg``'s RPS), ``log.jsonl`` and ``log.csv`` (one row per generation),
    ``evaluations.jsonl`` (the memo) and ``fitness.png`` (titled ``plot_title``)."""
    from ..report import fitness_plot
    from .rps import rule_names as rps_rule_names
    rule_names = rps_rule_names(cfg.absolute)
    write_json(out / "rps.json", {"enabled": cfg.rps, "rules": rule_names,
                                  "counts": {r: evolution.rps_counts.get(r, 0)
                                             for r in rule_names}})
    write_jsonl(out / "log.jsonl", evolution.log)
    write_text(out / "log.csv", log_csv_text(evolution.log, rule_names))
    write_jsonl(out / "evaluations.jsonl", [o.as_dict() for o in evolution.memo.values()])
    plot_rows = [{**r, "best": _nan(r["best"]), "median": _nan(r["median"])}
                 for r in evolution.log]
    fitness_plot(plot_rows, out / "fitness.png", title=plot_title)


def _nan(value):
    return float("nan") if value is None else value


def versions() -> dict:
    import deap
    import torch
    from .. import __version__ as lpzero_version
    return {"python": platform.python_version(), "torch": torch.__version__,
            "deap": getattr(deap, "__version__", "unknown"), "numpy": np.__version__,
            "lpzero_gp": lpzero_version, "platform": platform.platform()}


# -- the result ------------------------------------------------------------------------------


def _signed(value) -> str:
    return "   --" if value is None else f"{value:+.3f}"


class FoundText:
    """The text of a finished search's result (:class:`SearchResult`,
    :class:`.multi.MultiSearchResult`) about its ``found`` proxy, its ``evaluations``,
    ``seconds`` and ``out``."""

    @property
    def formula(self) -> str:
        return str(self.found)

    def latex(self) -> str:
        return self.found.latex(simplify=True)

    def _head_lines(self) -> list[str]:
        return [f"found    {self.found}", f"latex    {self.latex()}"]

    def _effort(self) -> str:
        return (f"evaluations: {self.evaluations.get('total', 0)} "
                f"({self.evaluations.get('pruned', 0)} pruned by RPS, "
                f"{self.evaluations.get('invalid', 0)} invalid); "
                f"{self.seconds:.1f} s of search")

    @staticmethod
    def _figure_lines(rows, lead: str = "") -> list[str]:
        """One line per (scorer name, figures per split) of ``rows`` and split, in
        :data:`REPORT_ORDER`, after ``lead``."""
        lines = []
        for name, per_split in rows:
            for split_name in REPORT_ORDER:
                f = per_split[split_name]
                lines.append(f"{lead}{name:34s}{split_name:>11s}{f['n']:6d}"
                             f"{_signed(f['kendall_tau']):>8s}{_signed(f['spearman_rho']):>8s}"
                             + (f"   ({f['reason']})" if f.get("reason") else ""))
        return lines

    def _repr_markdown_(self) -> str:
        return f"```\n{self.summary()}\n```"


@dataclass
class SearchResult(FoundText):
    """A finished search: where its files are, and what it found.

    ``found``: the chosen :class:`Proxy` (its ``figures`` set); ``figures``: the found proxy's
    figures per split (``search``, ``validation``, ``test``, ``all``: kendall_tau,
    spearman_rho, fitness, n, n_invalid, reason; ``test`` is the held-out headline);
    ``hall_of_fame``: entries as in ``hall_of_fame.json``; ``baselines``: descriptor figures per
    split; ``published``: LPZero's figures for the space; ``provenance``: as in ``found.json``.
    """

    out: Path
    space: str
    found: Proxy
    figures: dict
    hall_of_fame: list[dict]
    log: list[dict]
    rps_counts: dict
    baselines: dict
    published: dict | None
    config: dict
    seconds: float
    evaluations: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def held_out(self) -> dict:
        """The found proxy's figures on the test split, which no part of the search read."""
        return self.figures[HEADLINE_SPLIT]

    def summary(self) -> str:
        """The text ``lpzero-gp search`` prints at the end."""
        lines = self._head_lines() + [
            f"language {self.found.language.name}; hall of fame: {len(self.hall_of_fame)}; "
            f"{self._effort()}",
            "",
            f"held out: the {HEADLINE_SPLIT} split ({self.held_out['n']} records), "
            f"read by no part of the search",
            f"{'':34s}{'split':>11s}{'n':>6s}{'tau':>8s}{'rho':>8s}"]
        rows = [("found proxy", self.figures)]
        rows += [(f"descriptor: {name}", per_split) for name, per_split in self.baselines.items()]
        lines += self._figure_lines(rows)
        if self.published:
            p = self.published
            bars = "|.|" if p.get("absolute") else ""
            lines.append(f"{p['name'] + (' ' + bars if bars else ''):34s}{'(their set)':>11s}"
                         f"{p['n']:6d}{_signed(p['kendall_tau']):>8s}"
                         f"{_signed(p['spearman_rho']):>8s}")
        lines.append(f"\nresults in {self.out}")
        return "\n".join(lines)
