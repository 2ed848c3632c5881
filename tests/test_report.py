"""Tables and plots of proxy results (lpzero_gp.report)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lpzero_gp import metrics, report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

ROWS = [
    dict(name="layers, then hidden", kind="descriptor", kendall_tau=0.8015268899825563,
         tau_low=0.78047, tau_high=0.81989, spearman_rho=0.9253651182045535, rho_low=0.90882,
         rho_high=0.93786, n=350, note="beats LPZero"),
    dict(name="LPZero_{ref} & 50% #1|x", kind="published", kendall_tau=-0.5114,
         spearman_rho=0.748, n=500, note=None),
]


def assert_png(path: Path) -> None:
    data = Path(path).read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 5000


def test_markdown_table():
    assert report.comparison_table(ROWS).to_markdown() == (
        "| Proxy | Kind | Kendall τ | τ 95% CI | Spearman ρ | ρ 95% CI | n | Note |\n"
        "|---|---|---:|---:|---:|---:|---:|---|\n"
        "| layers, then hidden | descriptor | 0.802 | [0.780, 0.820] | 0.925 | [0.909, 0.938] "
        "| 350 | beats LPZero |\n"
        "| LPZero_{ref} & 50% #1\\|x | published | -0.511 | — | 0.748 | — | 500 | — |\n")


def test_csv_table():
    assert report.comparison_table(ROWS).to_csv() == (
        "Proxy,Kind,Kendall τ,τ 95% CI,Spearman ρ,ρ 95% CI,n,Note\n"
        '"layers, then hidden",descriptor,0.802,"[0.780, 0.820]",0.925,"[0.909, 0.938]",350,'
        "beats LPZero\n"
        "LPZero_{ref} & 50% #1|x,published,-0.511,—,0.748,—,500,—\n")


def test_latex_table():
    assert report.comparison_table(ROWS).to_latex() == (
        "\\begin{tabular}{llrrrrrl}\n"
        "\\toprule\n"
        "Proxy & Kind & Kendall $\\tau$ & $\\tau$ 95\\% CI & Spearman $\\rho$ & "
        "$\\rho$ 95\\% CI & $n$ & Note \\\\\n"
        "\\midrule\n"
        "layers, then hidden & descriptor & 0.802 & [0.780, 0.820] & 0.925 & [0.909, 0.938] & "
        "350 & beats LPZero \\\\\n"
        "LPZero\\_\\{ref\\} \\& 50\\% \\#1|x & published & $-$0.511 & --- & 0.748 & --- & 500 & "
        "--- \\\\\n"
        "\\bottomrule\n"
        "\\end{tabular}\n")


def test_table_level_labels_the_interval_columns():
    assert report.comparison_table(ROWS[:1], level=0.9).header[3] == "τ 90% CI"


def test_latex_row():
    row = report.latex_row("head_conf~2", r"\frac{\sum A}{\|W\|}",
                           {"kendall_tau": 0.478, "spearman_rho": -0.7164})
    assert row == ("head\\_conf\\textasciitilde{}2 & $\\frac{\\sum A}{\\|W\\|}$ & 0.478 & "
                   "$-$0.716 \\\\")
    assert report.latex_row("x", "x", {"kendall_tau": 0.5}) == "x & $x$ & 0.500 & --- \\\\"


def test_table_rejects_bad_rows():
    with pytest.raises(ValueError, match="kind 'baseline'"):
        report.comparison_table([dict(name="a", kind="baseline")])
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['tau'\]"):
        report.comparison_table([dict(name="a", kind="found", tau=0.3)])
    with pytest.raises(ValueError, match="row 0 has no name"):
        report.comparison_table([dict(kind="found")])


def test_bar_chart(tmp_path, bert):
    quality, layers, hidden = bert
    rows = []
    for name, kind, score in (("layers", "descriptor", layers),
                              ("layers, then hidden", "descriptor", layers * 1000 + hidden),
                              ("hidden", "hand-designed", hidden)):
        tau = metrics.bootstrap_ci(score, quality, stat="kendall", n_boot=100)
        rho = metrics.bootstrap_ci(score, quality, stat="spearman", n_boot=100)
        rows.append(dict(name=name, kind=kind, kendall_tau=tau.estimate, tau_low=tau.low,
                         tau_high=tau.high, spearman_rho=rho.estimate, rho_low=rho.low,
                         rho_high=rho.high, n=quality.size))
    rows.append(dict(name="LPZero (published, 500 records)", kind="published",
                     kendall_tau=0.511, spearman_rho=0.748, n=500))
    assert_png(report.bar_chart(rows, tmp_path / "sub" / "rho.png"))
    assert_png(report.bar_chart(rows, tmp_path / "tau.png", stat="kendall_tau", title="τ"))
    with pytest.raises(ValueError, match="stat must be one of"):
        report.bar_chart(rows, tmp_path / "x.png", stat="rho")
    with pytest.raises(ValueError, match="no row has a value"):
        report.bar_chart([dict(name="a", kind="found")], tmp_path / "x.png")


def test_scatter_grid_and_proxy_scatter(tmp_path, bert):
    quality, layers, hidden = bert
    named = {"layers": layers, "hidden": hidden, "layers, then hidden": layers * 1000 + hidden,
             "constant": np.ones_like(layers)}
    assert_png(report.scatter_grid(named, quality, tmp_path / "grid.png", "GLUE"))
    assert_png(report.proxy_scatter(layers * 1000 + hidden, quality, tmp_path / "best.png",
                                    "layers, then hidden", label_name="GLUE"))
    with pytest.raises(ValueError, match="proxy 'short' has 3 scores for 350"):
        report.scatter_grid({"short": [1, 2, 3]}, quality, tmp_path / "bad.png")


def test_correlation_text_in_titles(bert):
    quality, layers, _ = bert
    assert report._corr_text(layers, quality) == "τ = 0.681, ρ = 0.832"
    assert report._corr_text(np.ones(5), np.arange(5.0)) == "τ, ρ undefined (constant values)"


def test_fitness_plot(tmp_path):
    log = [dict(generation=g, best=0.5 + 0.01 * g, median=0.2 + 0.02 * g) for g in range(12)]
    assert_png(report.fitness_plot(log, tmp_path / "fitness.png"))
    with pytest.raises(ValueError, match=r"log row 1 lacks \['median'\]"):
        report.fitness_plot([log[0], dict(generation=1, best=0.6)], tmp_path / "bad.png")
