"""pick-quality: picks, percentiles and regrets against a brute-force computation."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from lpzero_gp.nas.pick_quality import percentile, pick, pick_quality, regret


def test_pick_percentile_regret_by_hand():
    quality = np.array([0.1, 0.5, 0.3, 0.9, 0.2])
    scores = np.array([1.0, np.nan, 3.0, 2.0, 3.0])
    tiebreak = np.array([0.0, 0.0, 0.2, 0.0, 0.7])
    assert pick(scores, tiebreak, 3).tolist() == [4, 2, 3]  # tie 4 vs 2 by tiebreak; NaN never
    assert percentile(quality, 4) == pytest.approx(2 / 5)
    assert regret(quality, [4]) == pytest.approx(0.7)
    assert regret(quality, [4, 2, 3]) == pytest.approx(0.0)


def test_pick_quality_equals_brute_force_over_every_pool():
    rng = np.random.default_rng(3)
    n = 9
    quality = rng.normal(size=n)
    sizes = np.arange(1, n + 1, dtype=float)
    proxy = quality + rng.normal(scale=0.5, size=n)
    desc = sizes.copy()
    result = pick_quality(quality, sizes, {"proxy": ("found", proxy), "size": ("descriptor", desc)},
                          quantiles=(1.0,), pool=50, draws=4000, top_k=5, seed=0, min_pool=4)
    budget = result["budgets"][0]
    size = budget["pool"]
    assert size == 4 and budget["top_k"] == 1  # max(4, 9 // 2); k = min(5, 4 // 3)
    # brute force: the mean over every pool of 4 of the 9 records (all equally likely)
    exact = {"proxy": [], "size": []}
    for pool in itertools.combinations(range(n), size):
        pool = list(pool)
        q = quality[pool]
        for name, s in (("proxy", proxy), ("size", desc)):
            best = int(np.argmax(s[pool]))  # no ties here
            exact[name].append((q.max() - q[best], np.mean(q <= q[best])))
    rows = {r["name"]: r for r in budget["rows"]}
    for name in exact:
        reg, pct = np.mean(exact[name], axis=0)
        assert rows[name]["regret"]["mean"] == pytest.approx(reg, abs=0.03)
        assert rows[name]["percentile"]["mean"] == pytest.approx(pct, abs=0.02)
    assert budget["best_descriptor"] == "size"
    assert "regret_minus_best_descriptor" in rows["proxy"]
    # the label itself as a proxy has regret 0 and percentile 1
    perfect = pick_quality(quality, sizes, {"label": ("found", quality)}, quantiles=(0.5, 1.0),
                           draws=50, seed=1, min_pool=2)
    for b in perfect["budgets"]:
        row = next(r for r in b["rows"] if r["name"] == "label")
        assert row["regret"]["mean"] == 0.0 and row["percentile"]["mean"] == 1.0
        assert b["eligible"] == int((sizes <= b["budget"]).sum())


def test_pick_quality_is_seeded():
    q = np.linspace(0, 1, 20)
    args = (q, np.arange(20.0), {"p": ("found", q[::-1])})
    assert pick_quality(*args, draws=30, seed=4) == pick_quality(*args, draws=30, seed=4)
    assert pick_quality(*args, draws=30, seed=4) != pick_quality(*args, draws=30, seed=5)


def test_pick_quality_command_on_the_built_llama_benchmark(tmp_path, capsys):
    import json

    from lpzero_gp.cli import main
    assert main(["pick-quality", "--space", "llama", "--draws", "20",
                 "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "pick_quality.json").read_text())
    assert result["split"] == "test" and result["n_records"] == len(result["record_ids"])
    assert [b["quantile"] for b in result["budgets"]] == [0.25, 0.5, 0.75, 1.0]
    kinds = {r["kind"] for b in result["budgets"] if b["pool"] for r in b["rows"]}
    assert kinds == {"descriptor", "found", "combined", "random"}
    assert result["combined_descriptor"] == "n_layers"  # what the found files' fitness read
    assert (tmp_path / "pick_quality.png").stat().st_size > 0
    assert "regret − best descriptor" in (tmp_path / "pick_quality.md").read_text()
    # the table says the command that made it: options away from their defaults included
    assert result["command"] == "lpzero-gp pick-quality --space llama --draws 20"


def test_a_tie_break_picks_as_descriptor_then_proxy_in_every_pool():
    from lpzero_gp.search.combination import tiebreak_combination
    rng = np.random.default_rng(3)
    descriptor = rng.integers(0, 4, 60).astype(float)
    proxy = rng.normal(size=60)
    combined = tiebreak_combination(descriptor, proxy)
    for _ in range(50):  # lexicographic order survives any subset: a pool's pick is its own
        idx = rng.choice(60, size=12, replace=False)
        best = max(idx, key=lambda i: (descriptor[i], proxy[i]))
        assert idx[int(np.argmax(combined[idx]))] == best
