"""What ``lpzero-gp nas`` writes: every scored candidate (CSV, JSON), the picks, a plot."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from ..fileio import write_text


def _row(r: dict, space) -> dict:
    rec = r["record"]
    arch = space.arch_to_dict(rec.config)
    row = {"id": rec.id, "score": r["score"], "params": r["params"], "flops": r["flops"],
           "arch": arch}
    if rec.label == rec.label:  # a benchmark record: keep its label
        row["label"] = rec.label
    return row


def write_outputs(run, out: Path, top: int, proxy: str = "") -> dict:
    """Write ``candidates.csv``, ``candidates.json``, ``picks.json`` and ``nas.png`` under
    ``out``; returns the summary (``picks``: the chosen ids in order)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [_row(r, run.space) for r in run.ranked()]
    picks = rows[:top]
    summary = {"space": run.space.name, "proxy": proxy, "strategy": run.strategy,
               "budgets": [str(b) for b in run.budgets], "seed": run.seed,
               "preset": run.preset, "benchmark_pool": run.pool is not None,
               "scored": len(rows), "rejected_over_budget": run.rejected,
               "picks": [p["id"] for p in picks], "top": picks}
    write_text(out / "candidates.json", json.dumps(rows, indent=1))
    write_text(out / "picks.json", json.dumps(summary, indent=1))
    with open(out / "candidates.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rank", "id", "score", "params", "flops", "arch"])
        for i, r in enumerate(rows, 1):
            writer.writerow([i, r["id"], r["score"], r["params"], r["flops"],
                             json.dumps(r["arch"])])
    _plot(rows, picks, run, out / "nas.png")
    return summary


def _plot(rows, picks, run, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter([r["params"] for r in rows], [r["score"] for r in rows], s=12, alpha=0.6,
               label="scored candidates")
    ax.scatter([r["params"] for r in picks], [r["score"] for r in picks], s=40,
               facecolors="none", edgecolors="red", label=f"top {len(picks)}")
    for b in run.budgets:
        if b.metric == "params":
            ax.axvline(b.limit, color="grey", linestyle="--", label=f"budget {b}")
    ax.set_xlabel("parameters")
    ax.set_ylabel("proxy score (higher is better)")
    ax.set_title(f"{run.space.name}: {run.strategy} search")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
