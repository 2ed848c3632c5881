"""RPS ablation: the same search (seed, budget, records, capture) with and without pruning.

For each arm it reports the formulas evaluated (new ones; a formula seen before costs nothing),
how many were fully evaluated, how many of those were invalid, how many RPS pruned, the search
time (evaluation and variation, not capture: both arms read the same cached inputs), the best
fitness on the search split and the chosen proxy's figures on validation and on the held-out
test split.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .api import search
from .config import setting_keywords, spec_with
from .results import SearchResult, write_json, write_text

ARMS = (("with_rps", True), ("without_rps", False))


@dataclass
class AblationResult:
    """Both arms' :class:`SearchResult` and the comparison rows (one dict per arm)."""

    out: Path
    results: dict[str, SearchResult]
    rows: list[dict]

    def table(self) -> str:
        header = (f"{'arm':12s}{'formulas':>9s}{'full evals':>11s}{'invalid':>8s}"
                  f"{'pruned':>7s}{'seconds':>9s}{'best fit':>9s}{'valid. rho':>11s}"
                  f"{'test rho':>9s}")
        lines = [header]
        def fmt(v):
            return "--" if v is None else format(v, ".4f")
        for r in self.rows:
            lines.append(f"{r['arm']:12s}{r['formulas']:9d}{r['full_evaluations']:11d}"
                         f"{r['invalid_evaluations']:8d}{r['pruned']:7d}{r['seconds']:9.2f}"
                         f"{r['best_search_fitness']:9.4f}"
                         f"{fmt(r['validation_spearman_rho']):>11s}"
                         f"{fmt(r['test_spearman_rho']):>9s}")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return f"```\n{self.table()}\n```"


def _row(arm: str, result: SearchResult) -> dict:
    log = result.log
    return {"arm": arm, "out": str(result.out),
            "formulas": sum(r["new_evaluations"] for r in log),
            "full_evaluations": sum(r["full_evaluations"] for r in log),
            "invalid_evaluations": sum(r["invalid_evaluations"] for r in log),
            "pruned": sum(r["pruned"] for r in log),
            "seconds": result.seconds,
            "best_search_fitness": max(e["search_fitness"] for e in result.hall_of_fame),
            "found": result.formula,
            "validation_spearman_rho": result.figures["validation"]["spearman_rho"],
            "test_spearman_rho": result.figures["test"]["spearman_rho"],
            "all_spearman_rho": result.figures["all"]["spearman_rho"],
            "rps_counts": result.rps_counts}


def ablate_rps(space: str | None = None, config=None, *, out: str | os.PathLike | None = None,
               progress: bool = True, **kwargs) -> AblationResult:
    """Run :func:`~lpzero_gp.search.api.search` twice, with ``rps=True`` and ``rps=False``
    and otherwise identical arguments (``kwargs`` as for ``search``; ``resume`` is not
    allowed), into ``out/with_rps`` and ``out/without_rps``; write ``out/ablation.json`` and
    ``out/ablation.txt``."""
    if "rps" in kwargs or "resume" in kwargs:
        raise TypeError("ablate_rps sets rps itself and does not resume")
    if out is None:
        known = setting_keywords()
        cfg = spec_with(config, {k: v for k, v in {**kwargs, "space": space}.items()
                                 if k in known}).search
        label = "+".join(cfg.spaces) if cfg.spaces else cfg.space
        out = Path("runs") / f"ablate-rps-{label}-seed{cfg.seed}"
    out = Path(out)
    results = {}
    for arm, enabled in ARMS:
        results[arm] = search(space, config, out=out / arm, rps=enabled, progress=progress,
                              **kwargs)
    ablation = AblationResult(out, results, [_row(arm, results[arm]) for arm, _ in ARMS])
    write_json(out / "ablation.json", {"rows": ablation.rows})
    write_text(out / "ablation.txt", ablation.table() + "\n")
    return ablation
