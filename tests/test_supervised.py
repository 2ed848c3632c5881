"""The supervised reference (gradient boosting on descriptors, cross-validated; uses labels)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from lpzero_gp.baselines.supervised import (FEATURE_SETS, NOTE, out_of_fold_predictions,
                                            supervised_reference)
from lpzero_gp.cli import main
from lpzero_gp.spaces import get_space


@pytest.fixture(scope="module")
def gpt2(data_dir):
    return get_space("gpt2").load_benchmark(data_dir=data_dir)


@pytest.fixture(scope="module")
def flexibert(data_dir):
    return get_space("flexibert").load_benchmark(data_dir=data_dir)


def test_gpt2_reference_is_deterministic_and_its_correlations_are_scipys(gpt2):
    a = supervised_reference("gpt2", gpt2, spread_seeds=(0, 1, 2))
    b = supervised_reference("gpt2", gpt2, spread_seeds=())
    assert [r["features"] for r in a.rows] == list(FEATURE_SETS["gpt2"])
    quality = np.array([r.quality for r in gpt2.records])
    assert np.all(quality < 0)  # -valid_ppl: higher is better
    for ra, rb in zip(a.rows, b.rows):
        assert ra["predictions"] == rb["predictions"]
        pred = np.array(ra["predictions"])
        assert ra["n"] == 140 and np.isfinite(pred).all()
        assert ra["kendall_tau"] == pytest.approx(stats.kendalltau(pred, quality).statistic)
        assert ra["spearman_rho"] == pytest.approx(stats.spearmanr(pred, quality).statistic)
        assert ra["kind"] == NOTE
    by = {r["features"]: r for r in a.rows}
    assert by["n_layer, d_model, d_embed, div_val"]["feature_names"] == [
        "n_layer", "d_model", "d_embed", "div_val"]
    # another seed changes the folds and the fit, so the figures are seed-specific; the
    # spread over seeds says by how much
    other = supervised_reference("gpt2", gpt2, seed=1, spread_seeds=())
    assert other.rows[0]["predictions"] != a.rows[0]["predictions"]
    for ra, ro in zip(a.rows, other.rows):
        spread = ra["seed_spread"]["kendall_tau"]
        assert spread["min"] <= ra["kendall_tau"] <= spread["max"]
        assert spread["min"] <= ro["kendall_tau"] <= spread["max"]
    assert "seed_spread" not in b.rows[0]


def test_predictions_are_out_of_fold():
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.model_selection import KFold
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3))
    y = x @ [1.0, -2.0, 0.5] + rng.normal(scale=0.1, size=40)
    pred = out_of_fold_predictions(x, y, n_splits=5, seed=3)
    train, test = next(iter(KFold(5, shuffle=True, random_state=3).split(x)))
    direct = GradientBoostingRegressor(random_state=3).fit(x[train], y[train]).predict(x[test])
    np.testing.assert_array_equal(pred[test], direct)
    with pytest.raises(ValueError, match="folds"):
        out_of_fold_predictions(x[:3], y[:3])


def test_flexibert_feature_sets(flexibert):
    x, names = FEATURE_SETS["flexibert"]["all architecture features"](flexibert.records)
    assert x.shape == (len(flexibert.records), len(names)) == (350, 2 + 4 * 9)
    two = [i for i, r in enumerate(flexibert.records) if r.config.n_layers == 2]
    assert np.all(x[two][:, 2 + 2 * 9:] == 0)  # slots past a record's depth are zeros
    ops = x[:, 2:8]
    assert np.all(ops.sum(1) == 1)  # one operation per present layer
    small, names_small = FEATURE_SETS["flexibert"]["layers, hidden"](flexibert.records)
    assert names_small == ["layers", "hidden"] and small.shape == (350, 2)


def test_supervised_command_writes_json(tmp_path, capsys):
    out = tmp_path / "ref.json"
    assert main(["baselines", "--space", "gpt2", "--supervised", "--out", str(out)]) == 0
    blob = json.loads(out.read_text())
    assert blob["note"] == NOTE and len(blob["results"]) == 2
    printed = capsys.readouterr().out
    assert "uses labels" in printed and "| n_layer, d_model |" in printed
