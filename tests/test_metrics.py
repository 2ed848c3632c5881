"""Rank correlations, bootstrap intervals and structure-aware views (lpzero_gp.metrics)."""
from __future__ import annotations


import numpy as np
import pytest
from scipy import stats

from lpzero_gp import metrics as m



# ------------------------------------------------------------------ agreement with scipy


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("tied", [False, True])
def test_statistics_match_scipy(seed, tied):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=60)
    y = 0.5 * x + rng.normal(size=60)
    if tied:
        x, y = np.round(x), np.round(y * 2) / 2
    assert m.kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert m.spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)
    c = m.correlations(x, y)
    assert c.as_dict() == {"kendall_tau": m.kendall_tau(x, y),
                           "spearman_rho": m.spearman_rho(x, y), "n": 60}


@pytest.mark.parametrize("stat", ["kendall", "spearman"])
def test_vectorised_resample_statistics_match_scipy(bert, stat):
    quality, layers, hidden = bert
    score = layers * 1000 + hidden
    idx = m._resample_indices(quality.size, 20, seed=3)
    rows = m._ROW_FUNCS[stat](score, quality, idx)
    ref = stats.kendalltau if stat == "kendall" else stats.spearmanr
    expected = [ref(score[i], quality[i]).statistic for i in idx]
    np.testing.assert_allclose(rows, expected, rtol=0, atol=1e-12)


def test_small_examples_by_hand():
    # 6 pairs: 5 concordant, 1 discordant -> tau = 4/6; d = (0, 1, -1, 0) -> rho = 1 - 12/60
    assert m.kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6, abs=1e-12)
    assert m.spearman_rho([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8, abs=1e-12)
    # one pair tied in x, five concordant: tau-b = 5 / sqrt(5 * 6)
    assert m.kendall_tau([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / np.sqrt(30), abs=1e-12)
    assert m.kendall_tau([3, 2, 1], [1, 2, 3]) == pytest.approx(-1.0, abs=1e-12)


def test_descriptor_figures_on_the_350_records(bert):
    """The spec gives 0.682/0.834 and 0.801/0.925 on all 500 records; these are the subset's."""
    quality, layers, hidden = bert
    assert quality.size == 350
    layers_only = m.correlations(layers, quality)
    assert layers_only.kendall_tau == pytest.approx(0.680696, abs=1e-6)
    assert layers_only.spearman_rho == pytest.approx(0.832456, abs=1e-6)
    layers_then_hidden = m.correlations(layers * 1000 + hidden, quality)
    assert layers_then_hidden.kendall_tau == pytest.approx(0.801527, abs=1e-6)
    assert layers_then_hidden.spearman_rho == pytest.approx(0.925365, abs=1e-6)


# ------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize("func", [m.kendall_tau, m.spearman_rho, m.correlations, m.fitness])
def test_bad_input_raises_value_error_naming_the_problem(func):
    with pytest.raises(ValueError, match="scores has 4 values but quality has 3"):
        func([1, 2, 3, 4], [1, 2, 3])
    with pytest.raises(ValueError, match="at least 3 points, got 2"):
        func([1, 2], [1, 2])
    with pytest.raises(ValueError, match=r"scores has 1 non-finite.*index 2"):
        func([1, 2, np.nan, 4], [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"quality has 2 non-finite.*index 0"):
        func([1, 2, 3, 4], [np.inf, 2, -np.inf, 4])
    with pytest.raises(m.UndefinedCorrelationError, match="scores are all equal"):
        func([5, 5, 5, 5], [1, 2, 3, 4])
    with pytest.raises(ValueError, match="one-dimensional"):
        func([[1, 2], [3, 4]], [1, 2, 3, 4])


def test_bad_options_raise():
    x, y = np.arange(10.0), np.arange(10.0)
    with pytest.raises(ValueError, match="stat must be one of"):
        m.bootstrap_ci(x, y, stat="pearson")
    with pytest.raises(ValueError, match="n_boot must be a positive integer"):
        m.bootstrap_ci(x, y, n_boot=0)
    with pytest.raises(ValueError, match="level must lie strictly between 0 and 1"):
        m.bootstrap_ci(x, y, level=95)
    with pytest.raises(ValueError, match=r"fraction 0.2 of 10 records keeps 2"):
        m.top_k_tau(x, y, fractions=(0.2,))


# ------------------------------------------------------------------------------ bootstrap


def _noisy_monotone(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=n)
    return x, np.exp(x) + rng.normal(scale=0.5, size=n)


@pytest.mark.parametrize("stat", ["kendall", "spearman"])
def test_bootstrap_interval_contains_estimate_and_shrinks_with_more_records(stat):
    small = m.bootstrap_ci(*_noisy_monotone(30, 0), stat=stat, n_boot=500, seed=0)
    large = m.bootstrap_ci(*_noisy_monotone(300, 0), stat=stat, n_boot=500, seed=0)
    for iv in (small, large):
        assert iv.low <= iv.estimate <= iv.high
        assert iv.n_boot == 500 and iv.n_undefined == 0 and iv.stat == stat
    x, y = _noisy_monotone(300, 0)
    assert large.estimate == m.statistic(x, y, stat)
    assert (large.high - large.low) < 0.6 * (small.high - small.low)


def test_bootstrap_is_deterministic_for_a_seed(bert):
    quality, layers, _ = bert
    a = m.bootstrap_ci(layers, quality, stat="kendall", n_boot=200, seed=7)
    b = m.bootstrap_ci(layers, quality, stat="kendall", n_boot=200, seed=7)
    c = m.bootstrap_ci(layers, quality, stat="kendall", n_boot=200, seed=8)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)


def test_bootstrap_counts_undefined_resamples():
    # with 3 records, resamples drawing one record three times are constant
    iv = m.bootstrap_ci([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], stat="spearman", n_boot=300, seed=0)
    assert 0 < iv.n_undefined < 300
    assert -1.0 <= iv.low <= iv.high <= 1.0


def test_paired_bootstrap_of_a_proxy_against_itself_says_no_difference(bert):
    quality, layers, hidden = bert
    score = layers * 1000 + hidden
    for stat in ("kendall", "spearman"):
        test = m.paired_bootstrap(score, score, quality, stat=stat, n_boot=200, seed=0)
        assert (test.diff, test.low, test.high, test.p_value) == (0.0, 0.0, 0.0, 1.0)
        assert not test.significant and test.verdict == "no difference"


def test_paired_bootstrap_sees_that_hidden_size_breaks_ties_usefully(bert):
    quality, layers, hidden = bert
    test = m.paired_bootstrap(layers * 1000 + hidden, layers, quality, stat="kendall",
                              n_boot=300, seed=0)
    assert test.diff == pytest.approx(0.801527 - 0.680696, abs=1e-5)
    assert 0.0 < test.low <= test.diff <= test.high
    assert test.p_value < 0.01 and test.verdict == "A higher"
    reverse = m.paired_bootstrap(layers, layers * 1000 + hidden, quality, stat="kendall",
                                 n_boot=300, seed=0)
    assert reverse.diff == pytest.approx(-test.diff, abs=1e-12)
    assert reverse.verdict == "B higher"


# ---------------------------------------------------------------------------- group views


def test_within_groups_of_a_layer_count_is_undefined(bert):
    quality, layers, _ = bert
    result = m.within_groups(layers, quality, layers.astype(int))
    assert result.mean is None and not result.defined and result.reason
    assert result.per_group == {}
    assert result.sizes == {2: 167, 4: 183}
    assert result.skipped == {2: "scores are constant in this group",
                              4: "scores are constant in this group"}


def test_within_groups_of_layer_count_plus_noise_is_near_zero(bert):
    quality, layers, hidden = bert
    noisy = layers + np.random.default_rng(0).normal(scale=0.1, size=layers.size)
    result = m.within_groups(noisy, quality, layers.astype(int))
    assert set(result.per_group) == {2, 4} and result.skipped == {}
    assert abs(result.mean) < 0.15
    assert m.spearman_rho(noisy, quality) > 0.7  # the pooled figure is carried by depth
    # hidden size still ranks architectures of equal depth
    informed = m.within_groups(layers * 1000 + hidden, quality, layers.astype(int))
    expected = (167 * informed.per_group[2] + 183 * informed.per_group[4]) / 350
    assert informed.mean == pytest.approx(expected, abs=1e-12)
    assert informed.mean > 0.5


def test_within_groups_skips_small_groups():
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    y = [1.0, 2.0, 3.0, 4.0, 6.0, 5.0]
    result = m.within_groups(x, y, ["a", "a", "a", "a", "b", "b"])
    assert result.per_group == {"a": pytest.approx(1.0)}
    assert result.skipped == {"b": "only 2 member(s), need 3"}
    assert result.mean == pytest.approx(1.0)


def test_top_k_tau():
    quality = np.arange(10.0)
    scores = np.array([9, 8, 7, 6, 5, 4, 0, 1, 2, 3], dtype=float)
    # top 3 and 4 by quality (indices 6..9) are ranked right; widening to 10 adds reversals
    result = m.top_k_tau(scores, quality, fractions=(0.3, 0.4, 1.0))
    assert result[0.3] == pytest.approx(1.0) and result[0.4] == pytest.approx(1.0)
    assert result[1.0] == pytest.approx(stats.kendalltau(scores, quality).statistic, abs=1e-12)


def test_top_k_tau_is_undefined_where_a_descriptor_is_constant(bert):
    quality, layers, _ = bert
    result = m.top_k_tau(layers, quality)
    assert result[0.1] is None  # the best 35 architectures all have 4 layers
    order = np.argsort(-quality, kind="stable")[:175]
    assert result[0.5] == pytest.approx(m.kendall_tau(layers[order], quality[order]), abs=1e-12)


def test_fitness_and_min_over_subsets(bert):
    quality, layers, hidden = bert
    score = layers * 1000 + hidden
    assert m.fitness(score, quality) == m.spearman_rho(score, quality)
    assert m.fitness(-score, quality, stat="kendall", absolute=True) == \
        pytest.approx(m.kendall_tau(score, quality), abs=1e-12)
    halves = [np.arange(0, 175), np.arange(175, 350)]
    expected = min(m.spearman_rho(score[h], quality[h]) for h in halves)
    assert m.min_over_subsets(score, quality, halves) == expected
    by_depth = [np.flatnonzero(layers == 2), np.flatnonzero(layers == 4)]
    with pytest.raises(m.UndefinedCorrelationError, match="subset 0 .167 records.*all equal"):
        m.min_over_subsets(layers, quality, by_depth)


def test_kendall_resamples_of_many_records_fall_back_to_scipy(bert, monkeypatch):
    quality, layers, hidden = bert
    score = layers * 1000 + hidden
    idx = m._resample_indices(quality.size, 10, seed=5)
    vectorised = m._kendall_rows(score, quality, idx)
    monkeypatch.setattr(m, "_MAX_PAIR_MATRIX", 100)
    np.testing.assert_allclose(m._kendall_rows(score, quality, idx), vectorised,
                               rtol=0, atol=1e-12)
