"""Tables and plots of proxy results. Pure functions of plain data (dicts, arrays).

Plots are drawn on a :class:`matplotlib.figure.Figure` with the Agg canvas, never through
pyplot, so importing this module changes no global matplotlib state and needs no display.

A table row is a dict with keys ``name``, ``kind`` (one of :data:`KINDS`), ``kendall_tau``,
``tau_low``, ``tau_high``, ``spearman_rho``, ``rho_low``, ``rho_high``, ``n`` and ``note``; any
key but ``name`` and ``kind`` may be missing or ``None`` (shown as "—", "---" in LaTeX).
"""
from __future__ import annotations

import textwrap

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .metrics import UndefinedCorrelationError, correlations

KINDS = ("descriptor", "hand-designed", "found", "published")
KIND_COLOURS = {"descriptor": "#7f7f7f", "hand-designed": "#1f77b4", "found": "#d62728",
                "published": "#2ca02c"}
ROW_KEYS = ("name", "kind", "kendall_tau", "tau_low", "tau_high", "spearman_rho", "rho_low",
            "rho_high", "n", "note")
MISSING = "—"
LATEX_MISSING = "---"
_INTERVALS = {"kendall_tau": ("tau_low", "tau_high"), "spearman_rho": ("rho_low", "rho_high")}
_STAT_LABELS = {"kendall_tau": "Kendall τ", "spearman_rho": "Spearman ρ"}


# ----------------------------------------------------------------------------------- tables


def _is_missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fmt(value) -> str:
    return MISSING if _is_missing(value) else f"{float(value):.3f}"


def _fmt_interval(low, high) -> str:
    if _is_missing(low) or _is_missing(high):
        return MISSING
    return f"[{float(low):.3f}, {float(high):.3f}]"


def _fmt_n(value) -> str:
    return MISSING if _is_missing(value) else str(int(value))


def _fmt_text(value) -> str:
    return MISSING if _is_missing(value) or value == "" else str(value)


_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                   "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                   "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped for text mode."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in str(text))


def _latex_cell(cell: str) -> str:
    """A formatted figure cell for LaTeX: em dash as ``---``, minus signs in math mode."""
    return LATEX_MISSING if cell == MISSING else cell.replace("-", "$-$")


def _validate_row(row: Mapping, position: int) -> dict:
    if not isinstance(row, Mapping):
        raise ValueError(f"comparison_table: row {position} is not a dict")
    unknown = set(row) - set(ROW_KEYS)
    if unknown:
        raise ValueError(f"comparison_table: row {position} ({row.get('name')!r}) has unknown "
                         f"key(s) {sorted(unknown)}; allowed: {ROW_KEYS}")
    if not row.get("name"):
        raise ValueError(f"comparison_table: row {position} has no name")
    if row.get("kind") not in KINDS:
        raise ValueError(f"comparison_table: row {position} ({row['name']!r}) has kind "
                         f"{row.get('kind')!r}; expected one of {KINDS}")
    return {key: row.get(key) for key in ROW_KEYS}


@dataclass(frozen=True)
class Table:
    """A comparison of proxies; rows in the order given. Render with ``to_*``."""

    rows: tuple[dict, ...]
    level: float = 0.95

    @property
    def header(self) -> list[str]:
        pct = f"{self.level * 100:g}%"
        return ["Proxy", "Kind", "Kendall τ", f"τ {pct} CI", "Spearman ρ", f"ρ {pct} CI", "n",
                "Note"]

    def cells(self) -> list[list[str]]:
        """Every row formatted: figures to 3 decimals, intervals as [low, high], "—" if absent."""
        return [[str(r["name"]), str(r["kind"]), _fmt(r["kendall_tau"]),
                 _fmt_interval(r["tau_low"], r["tau_high"]), _fmt(r["spearman_rho"]),
                 _fmt_interval(r["rho_low"], r["rho_high"]), _fmt_n(r["n"]),
                 _fmt_text(r["note"])] for r in self.rows]

    def to_markdown(self) -> str:
        esc = lambda s: s.replace("|", r"\|")  # noqa: E731
        lines = ["| " + " | ".join(self.header) + " |",
                 "|" + "|".join(["---", "---", "---:", "---:", "---:", "---:", "---:", "---"])
                 + "|"]
        lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in self.cells()]
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.cells())
        return buffer.getvalue()

    def to_latex(self) -> str:
        """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
        pct = f"{self.level * 100:g}\\%"
        header = ["Proxy", "Kind", r"Kendall $\tau$", rf"$\tau$ {pct} CI", r"Spearman $\rho$",
                  rf"$\rho$ {pct} CI", "$n$", "Note"]
        lines = [r"\begin{tabular}{llrrrrrl}", r"\toprule", " & ".join(header) + r" \\",
                 r"\midrule"]
        for row in self.cells():
            name, kind, *figures, note = row
            cells = [latex_escape(name), latex_escape(kind)]
            cells += [_latex_cell(c) for c in figures]
            cells.append(LATEX_MISSING if note == MISSING else latex_escape(note))
            lines.append(" & ".join(cells) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n"


def comparison_table(rows: Sequence[Mapping], level: float = 0.95) -> Table:
    """A :class:`Table` of proxies (rows as described in the module docstring).

    ``level`` only labels the interval columns; the intervals come from the rows.
    """
    return Table(tuple(_validate_row(r, i) for i, r in enumerate(rows)), float(level))


def latex_row(name: str, latex_formula: str, figures: Mapping) -> str:
    """One LaTeX table row ``name & $formula$ & tau & rho \\\\``.

    ``latex_formula`` is LaTeX math (not escaped); ``figures`` holds ``kendall_tau`` and
    ``spearman_rho`` (a missing one is shown as ``---``).
    """
    tau = _latex_cell(_fmt(figures.get("kendall_tau")))
    rho = _latex_cell(_fmt(figures.get("spearman_rho")))
    return f"{latex_escape(name)} & ${latex_formula}$ & {tau} & {rho} \\\\"


# ------------------------------------------------------------------------------------ plots


def _save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=120)
    return path


def _corr_text(scores, quality) -> str:
    """"τ = 0.681, ρ = 0.832", or the reason the correlation is undefined."""
    try:
        c = correlations(scores, quality)
    except UndefinedCorrelationError:
        return "τ, ρ undefined (constant values)"
    return f"τ = {c.kendall_tau:.3f}, ρ = {c.spearman_rho:.3f}"


def bar_chart(rows: Sequence[Mapping], path, stat: str = "spearman_rho",
              title: str | None = None) -> Path:
    """Horizontal bars of ``stat`` per row with bootstrap error bars, coloured by kind.

    Rows without a value for ``stat`` are left out; rows without an interval get no error bar.
    Returns the PNG path.
    """
    if stat not in _INTERVALS:
        raise ValueError(f"bar_chart: stat must be one of {tuple(_INTERVALS)}, got {stat!r}")
    table = comparison_table(rows)
    shown = [r for r in table.rows if not _is_missing(r[stat])]
    if not shown:
        raise ValueError(f"bar_chart: no row has a value for {stat!r}")
    low_key, high_key = _INTERVALS[stat]
    fig = Figure(figsize=(7.0, 0.9 + 0.38 * len(shown)))
    ax = fig.add_subplot()
    positions = np.arange(len(shown))[::-1]
    values = [float(r[stat]) for r in shown]
    ax.barh(positions, values, color=[KIND_COLOURS[r["kind"]] for r in shown])
    for pos, value, r in zip(positions, values, shown):
        if not (_is_missing(r[low_key]) or _is_missing(r[high_key])):
            err = [[max(0.0, value - float(r[low_key]))], [max(0.0, float(r[high_key]) - value)]]
            ax.errorbar(value, pos, xerr=err, fmt="none", ecolor="black", capsize=3, lw=1)
    ax.set_yticks(positions, [str(r["name"]) for r in shown])
    ax.axvline(0.0, color="black", lw=0.6)
    ax.set_xlabel(_STAT_LABELS[stat])
    kinds = [k for k in KINDS if any(r["kind"] == k for r in shown)]
    handles = [Patch(color=KIND_COLOURS[k], label=k) for k in kinds]
    ax.legend(handles=handles, loc="best", fontsize="small")
    ax.set_title(title or f"{_STAT_LABELS[stat]} against quality")
    fig.tight_layout()
    return _save(fig, path)


def scatter_grid(named_scores: Mapping[str, Sequence[float]], quality, path,
                 label_name: str = "quality") -> Path:
    """One scatter panel per proxy: scores (x) against ``quality`` (y, shape (n,)).

    Each panel's title gives the proxy's name, Kendall's tau and Spearman's rho.
    """
    if not named_scores:
        raise ValueError("scatter_grid: no proxies given")
    y = np.asarray(quality, dtype=np.float64)
    n_panels = len(named_scores)
    n_cols = min(3, n_panels)
    n_rows = math.ceil(n_panels / n_cols)
    fig = Figure(figsize=(4.0 * n_cols, 3.4 * n_rows))
    for k, (name, scores) in enumerate(named_scores.items()):
        x = np.asarray(scores, dtype=np.float64)
        if x.shape != y.shape:
            raise ValueError(f"scatter_grid: proxy {name!r} has {x.size} scores for "
                             f"{y.size} quality values")
        ax = fig.add_subplot(n_rows, n_cols, k + 1)
        ax.scatter(x, y, s=8, alpha=0.6)
        ax.set_title(f"{name}\n{_corr_text(x, y)}", fontsize="medium")
        ax.set_xlabel("score")
        ax.set_ylabel(label_name)
    fig.tight_layout()
    return _save(fig, path)


def fitness_plot(log_rows: Sequence[Mapping], path, title: str = "Search progress") -> Path:
    """Best and median fitness per generation (``log_rows``: dicts with generation, best,
    median)."""
    if not log_rows:
        raise ValueError("fitness_plot: the log is empty")
    for i, row in enumerate(log_rows):
        missing = {"generation", "best", "median"} - set(row)
        if missing:
            raise ValueError(f"fitness_plot: log row {i} lacks {sorted(missing)}")
    gens = [row["generation"] for row in log_rows]
    fig = Figure(figsize=(6.0, 3.8))
    ax = fig.add_subplot()
    ax.plot(gens, [row["best"] for row in log_rows], marker="o", ms=3, label="best")
    ax.plot(gens, [row["median"] for row in log_rows], marker="s", ms=3, label="median")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def proxy_scatter(scores, quality, path, title: str, label_name: str = "quality") -> Path:
    """One proxy's scores (x) against ``quality`` (y), both shape (n,); tau and rho in the
    title."""
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(quality, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"proxy_scatter: {x.size} scores for {y.size} quality values")
    fig = Figure(figsize=(5.0, 4.0))
    ax = fig.add_subplot()
    ax.scatter(x, y, s=10, alpha=0.6)
    ax.set_xlabel("score")
    ax.set_ylabel(label_name)
    ax.set_title("\n".join(textwrap.wrap(title, 60)) + f"\n{_corr_text(x, y)}", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def pareto_plot(members: Sequence[Mapping], objectives: Sequence[str], chosen: int, path,
                title: str = "Pareto front") -> Path:
    """The Pareto front of a multi-objective search on the search split: the first two
    fitness objectives of each member (``members``: entries with ``figures.search.objectives``
    and ``size``; one objective: it against size) as x and y, the size as colour, the chosen
    member circled."""
    if not members:
        raise ValueError("pareto_plot: the front is empty")

    def value(m, name):
        v = ((m["figures"]["search"].get("objectives") or {}).get(name))
        return np.nan if v is None else float(v)

    x_name = objectives[0]
    y_name = objectives[1] if len(objectives) > 1 else "size"
    xs = np.array([value(m, x_name) for m in members])
    ys = np.array([m["size"] if y_name == "size" else value(m, y_name) for m in members],
                  dtype=np.float64)
    sizes = np.array([m["size"] for m in members], dtype=np.float64)
    fig = Figure(figsize=(6.0, 4.4))
    ax = fig.add_subplot()
    points = ax.scatter(xs, ys, c=sizes, cmap="viridis", s=18)
    fig.colorbar(points, ax=ax, label="formula size (nodes)")
    ax.scatter([xs[chosen]], [ys[chosen]], s=120, facecolors="none", edgecolors="red",
               label="chosen on validation")
    ax.set_xlabel(f"{x_name} (search split)")
    ax.set_ylabel(f"{y_name} (search split)" if y_name != "size" else "size")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, path)
