"""lpzero-gp nas: budgets, closed-form costs against built models, strategies, resume."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from lpzero_gp.errors import UsageError
from lpzero_gp.nas.search import Budget, NasRun, costs
from lpzero_gp.spaces import get_space
from lpzero_gp.spaces.llama import build_scratch, flops_per_token, parameter_count, sample_archs

SPACE = get_space("llama")
BENCH = Path(__file__).resolve().parents[1] / "experiments" / "llama" / "wide_pydoc"


def _size_scorer(records):
    """A deterministic score of the architecture alone (search mechanics, no capture)."""
    return np.array([sum(r.config.ffn) / len(r.config.ffn) - 3 * r.config.n_layers
                     for r in records], dtype=float)


def test_budget_parsing():
    assert Budget.parse("params<=5e6") == Budget("params", 5e6)
    assert str(Budget.parse(" flops <= 1e9 ")) == "flops<=1e+09"
    for bad in ("params<5e6", "size<=3", "params<=-1", "params<=abc", "params<=inf"):
        with pytest.raises(UsageError, match="budget"):
            Budget.parse(bad)


def test_closed_form_costs_equal_the_built_models():
    for arch in sample_archs("wide", 4, 3):
        model = build_scratch(arch, seed=0)
        built = sum(p.numel() for p in model.parameters())
        assert built == parameter_count(arch)["total"] == costs(SPACE, arch, 16)["params"]
        ids = torch.zeros(1, 16, dtype=torch.long)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(input_ids=ids)
        # FlopCounterMode counts 2 FLOPs per multiply-accumulate of every matrix product
        assert counter.get_total_flops() == 2 * 16 * flops_per_token(arch, 16)


def test_random_strategy_respects_the_budget_and_is_seeded(tmp_path):
    budget = [Budget("params", 1.5e6), Budget("flops", 2e6)]
    runs = [NasRun(SPACE, _size_scorer, budget, samples=10, seed=s).run() for s in (0, 0, 1)]
    for run in runs:
        assert len(run.scored) == 10 and run.rejected > 0
        for row in run.scored.values():
            arch = row["record"].config
            assert parameter_count(arch)["total"] <= 1.5e6
            assert flops_per_token(arch, SPACE.default_seq_len) <= 2e6
    ids = [[r["record"].id for r in run.picks(5)] for run in runs]
    assert ids[0] == ids[1] and ids[0] != ids[2]


def test_benchmark_pool_with_the_label_as_proxy_returns_the_true_top_k():
    pool = list(SPACE.load_benchmark(BENCH).records)
    budget = [Budget("params", 2e6)]
    run = NasRun(SPACE, lambda recs: np.array([r.quality for r in recs]), budget,
                 pool=pool).run()
    eligible = [r for r in pool if parameter_count(r.config)["total"] <= 2e6]
    assert len(run.scored) == len(eligible) and run.rejected == len(pool) - len(eligible)
    best = sorted(eligible, key=lambda r: -r.quality)[:5]
    assert [p["record"].id for p in run.picks(5)] == [r.id for r in best]


def test_killed_evolution_resumes_to_the_same_result(tmp_path):
    args = dict(strategy="evolution", samples=24, population=6, seed=2)
    budget = [Budget("params", 3e6)]
    whole = NasRun(SPACE, _size_scorer, budget, out=tmp_path / "whole", **args).run()
    first = NasRun(SPACE, _size_scorer, budget, out=tmp_path / "killed", **args)
    first.run(max_generations=1)  # stops as a kill after the first generation would
    assert 6 < len(first.scored) < 24
    resumed = NasRun(SPACE, _size_scorer, budget, out=tmp_path / "killed", **args).run()
    assert resumed.generation == whole.generation
    assert set(resumed.scored) == set(whole.scored)
    assert [r["record"].id for r in resumed.picks(5)] == [r["record"].id
                                                         for r in whole.picks(5)]
    with pytest.raises(UsageError, match="another --out"):
        NasRun(SPACE, _size_scorer, budget, out=tmp_path / "killed",
               **{**args, "seed": 3}).run()


def test_nas_command_scores_with_a_real_proxy(tmp_path, capsys):
    from lpzero_gp.cli import main
    out = tmp_path / "nas"
    assert main(["nas", "--space", "llama", "--proxy", "layer_mean(pool_mean(t_fro(G)))",
                 "--budget", "params<=1e6", "--preset", "tiny", "--samples", "4", "--top", "2",
                 "--batch-size", "2", "--seq-len", "16", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["picks"]) == 2 and summary["scored"] == 4
    rows = json.loads((out / "candidates.json").read_text())
    assert [r["id"] for r in rows[:2]] == summary["picks"]
    assert all(r["params"] <= 1e6 for r in rows)
    assert rows[0]["score"] >= rows[1]["score"] >= rows[-1]["score"]
    assert (out / "nas.png").stat().st_size > 0 and (out / "candidates.csv").is_file()


def test_nas_over_subnetworks_of_a_supernet(tmp_path, capsys):
    from lpzero_gp.cli import main
    from lpzero_gp.spaces.llama import PRESETS, LlamaArch
    sup = PRESETS["lonas-mini"].supernet
    out = tmp_path / "nas"
    assert main(["nas", "--space", "llama", "--proxy", "layer_sum(pool_sum(t_fro(G)))",
                 "--preset", "lonas-mini", "--budget", "params<=4.8e6", "--samples", "3",
                 "--top", "2", "--batch-size", "2", "--seq-len", "16", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = json.loads((out / "candidates.json").read_text())
    assert summary["scored"] == 3 and len(rows) == 3
    for row in rows:
        arch = LlamaArch.from_dict(row["arch"])
        assert arch.is_subnet_of(sup) and arch.heads == sup.heads
        assert row["params"] == parameter_count(arch, lora=False)["total"] <= 4.8e6
        assert np.isfinite(row["score"])
    assert len({json.dumps(r["arch"]["ffn"]) for r in rows}) == 3
