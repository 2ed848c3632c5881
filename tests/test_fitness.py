"""The search's fitness options, each against a direct computation (scipy / numpy loops), on
NAS-Bench-BERT's labels and descriptors, and the descriptor + proxy combinations."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from lpzero_gp.errors import ConfigError
from lpzero_gp.metrics import MetricInputError, UndefinedCorrelationError, paired_bootstrap
from lpzero_gp.search.combination import (combination_rows, rank_sum_combination,
                                          tiebreak_combination)
from lpzero_gp.search.config import load_spec
from lpzero_gp.search.fitness import (FITNESSES, Fitness, partial_rank_correlation,
                                      tiebreak_tau)


def isotonic_direct(values: np.ndarray, weights: np.ndarray, increasing: bool) -> np.ndarray:
    """The weighted least-squares monotone fit by the min-max formula:
    fit_i = max_{j<=i} min_{k>=i} (weighted mean of values[j..k])."""
    v = values if increasing else -values
    n = v.size
    fit = np.empty(n)
    for i in range(n):
        fit[i] = max(min(np.average(v[j:k + 1], weights=weights[j:k + 1])
                         for k in range(i, n)) for j in range(i + 1))
    return fit if increasing else -fit


def residuals_direct(values: np.ndarray, descriptor: np.ndarray) -> np.ndarray:
    levels = np.unique(descriptor)
    means = np.array([values[descriptor == lv].mean() for lv in levels])
    counts = np.array([(descriptor == lv).sum() for lv in levels], dtype=np.float64)
    increasing = stats.spearmanr(values, descriptor).statistic >= 0
    fit = isotonic_direct(means, counts, increasing)
    return values - fit[np.searchsorted(levels, descriptor)]


def partial_direct(x, y, d) -> float:
    rd = stats.rankdata(d)
    ex = residuals_direct(stats.rankdata(x), rd)
    ey = residuals_direct(stats.rankdata(y), rd)
    return stats.pearsonr(ex, ey).statistic


def tiebreak_direct(x, y, d) -> float:
    s = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        if d[i] != d[j]:
            continue
        a, b = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        s += a * b
        tx += a != 0
        ty += b != 0
    return s / np.sqrt(tx * ty)


@pytest.fixture(scope="module")
def sample(bert):
    """80 NAS-Bench-BERT records: GLUE, layers (4 values), hidden sizes, and a proxy-like
    score (hidden size plus noise, a real mix of descriptor and other information)."""
    quality, layers, hidden = bert
    rng = np.random.default_rng(0)
    idx = rng.choice(quality.size, 80, replace=False)
    proxy = hidden[idx] + rng.normal(0, 60, 80)
    return quality[idx], layers[idx], hidden[idx], proxy


def test_partial_matches_the_direct_computation(sample):
    quality, layers, hidden, proxy = sample
    for descriptor in (layers, layers * 10000 + hidden, hidden):
        got = partial_rank_correlation(proxy, quality, descriptor)
        assert got == pytest.approx(partial_direct(proxy, quality, descriptor), abs=1e-10)
    # a decreasing relation is removed as well as an increasing one
    assert partial_rank_correlation(proxy, quality, -layers) == pytest.approx(
        partial_rank_correlation(proxy, quality, layers), abs=1e-12)
    # with every descriptor value distinct and a linear relation of ranks, the monotone fit is
    # exact: nothing is left
    assert partial_rank_correlation(layers * 10000 + hidden, quality,
                                    layers * 10000 + hidden) == 0.0


def test_partial_gives_zero_to_a_function_of_the_descriptor_and_needs_label_residue(sample):
    quality, layers, hidden, _ = sample
    assert partial_rank_correlation(layers ** 2 + 3, quality, layers) == 0.0
    with pytest.raises(UndefinedCorrelationError, match="descriptor determines"):
        partial_rank_correlation(hidden, layers * 2.0, layers)


def test_tiebreak_tau_matches_pairs_tied_in_the_descriptor(sample):
    quality, layers, hidden, proxy = sample
    assert tiebreak_tau(proxy, quality, layers) == pytest.approx(
        tiebreak_direct(proxy, quality, layers), abs=1e-12)
    assert tiebreak_tau(np.round(proxy, -2), quality, layers) == pytest.approx(
        tiebreak_direct(np.round(proxy, -2), quality, layers), abs=1e-12)
    # a proxy constant inside every depth breaks no tie
    assert tiebreak_tau(layers * 3.0, quality, layers) == 0.0
    with pytest.raises(UndefinedCorrelationError, match="no ties"):
        tiebreak_tau(proxy, quality, np.arange(quality.size))


def test_tiebreak_tau_is_what_the_proxy_changes_in_the_lexicographic_ranking(sample):
    """Kendall's S of (descriptor, then proxy) = S of the descriptor on its untied pairs + S of
    the proxy on the descriptor's tied pairs."""
    quality, layers, _, proxy = sample
    combo = tiebreak_combination(layers, proxy)

    def s_stat(x, y, pairs):
        return sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j]) for i, j in pairs)
    pairs = list(itertools.combinations(range(quality.size), 2))
    tied = [(i, j) for i, j in pairs if layers[i] == layers[j]]
    untied = [(i, j) for i, j in pairs if layers[i] != layers[j]]
    assert s_stat(combo, quality, pairs) == s_stat(layers, quality, untied) + \
        s_stat(proxy, quality, tied)


def test_within_depth_spearman_kendall_and_subsets(sample):
    quality, layers, _, proxy = sample
    for stat, ref in (("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        values = [(ref(proxy[layers == g], quality[layers == g]).statistic,
                   (layers == g).sum()) for g in np.unique(layers) if (layers == g).sum() >= 3]
        direct = sum(v * n for v, n in values) / sum(n for _, n in values)
        fit = Fitness("within-depth", stat, groups=layers)
        assert fit(proxy, quality) == pytest.approx(direct, abs=1e-12)
        assert Fitness(stat)(proxy, quality) == pytest.approx(ref(proxy, quality).statistic,
                                                               abs=1e-12)
        assert Fitness(stat, absolute=True)(-proxy, quality) == pytest.approx(
            abs(ref(proxy, quality).statistic), abs=1e-12)
    subsets = (tuple(range(0, 40)), tuple(range(30, 80)))
    fit = Fitness("partial", descriptor=layers)
    assert fit(proxy, quality, subsets) == pytest.approx(min(
        partial_direct(proxy[list(s)], quality[list(s)], layers[list(s)]) for s in subsets),
        abs=1e-10)
    fit = Fitness("lexicographic-tiebreak", absolute=True, descriptor=layers)
    assert fit(-proxy, quality) == pytest.approx(abs(tiebreak_direct(proxy, quality, layers)))
    with pytest.raises(MetricInputError, match="needs the descriptor"):
        Fitness("partial")
    with pytest.raises(MetricInputError, match="unknown fitness 'pearson'.*within-depth"):
        Fitness("pearson")


def test_combinations_and_their_paired_figures(sample):
    quality, layers, hidden, proxy = sample
    combo = tiebreak_combination(layers, proxy)
    order = np.lexsort((proxy, layers))  # by layers, then proxy
    assert np.array_equal(stats.rankdata(combo[order]), np.arange(1, 81))
    assert np.array_equal(rank_sum_combination(layers, proxy),
                          stats.rankdata(layers) + stats.rankdata(proxy))
    rows = combination_rows(quality, layers, "n_layers", {"p": proxy}, n_boot=200)
    assert [r["kind"] for r in rows] == ["descriptor", "proxy alone", "tie-break", "rank-sum"]
    from lpzero_gp.search.combination import tie_counts
    ties = tie_counts(layers)
    assert ties["pairs"] == 80 * 79 // 2 and ties["distinct"] == np.unique(layers).size
    assert ties["tied_pairs"] == sum(layers[i] == layers[j]
                                     for i, j in itertools.combinations(range(80), 2))
    rows_depth = combination_rows(quality, layers, "n_layers", {"p": proxy}, n_boot=10,
                                  depth=layers)
    given = rows_depth[1]["given_descriptor"]
    assert given["partial"] == pytest.approx(partial_direct(proxy, quality, layers), abs=1e-10)
    assert given["lexicographic-tiebreak"] == pytest.approx(
        tiebreak_direct(proxy, quality, layers), abs=1e-12)
    assert given["within-depth"] == pytest.approx(np.average(
        [stats.spearmanr(proxy[layers == g], quality[layers == g]).statistic
         for g in np.unique(layers)], weights=[(layers == g).sum() for g in np.unique(layers)]))
    for row, values in zip(rows, [layers, proxy, combo, rank_sum_combination(layers, proxy)]):
        assert row["kendall_tau"] == pytest.approx(stats.kendalltau(values, quality).statistic)
        assert row["spearman_rho"] == pytest.approx(stats.spearmanr(values, quality).statistic)
        if row["kind"] != "descriptor":
            test = paired_bootstrap(values, layers, quality, "spearman", 200)
            assert row["rho_minus_descriptor"]["low"] == test.low
            assert row["rho_minus_descriptor"]["difference"] == pytest.approx(
                stats.spearmanr(values, quality).statistic
                - stats.spearmanr(layers, quality).statistic)
            beats = test.low > 0
            assert (row["verdict"] == "beats the descriptor on ρ") == beats


def test_config_fitness_options_and_errors():
    assert FITNESSES == ("spearman", "kendall", "partial", "within-depth",
                         "lexicographic-tiebreak")
    old = load_spec({"statistic": "kendall"}).search
    assert (old.fitness, old.statistic) == ("kendall", "kendall")
    new = load_spec({"fitness": "partial", "descriptor": "n_layers"}).search
    assert (new.fitness, new.statistic, new.needs_descriptor) == ("partial", "spearman", True)
    assert load_spec(new.as_dict()).search == new
    depth = load_spec({"fitness": "within-depth", "statistic": "kendall"}).search
    assert (depth.fitness, depth.statistic) == ("within-depth", "kendall")
    nsga = load_spec({"selection": "nsga2"}).search
    assert nsga.objectives == ["spearman", "partial", "size"] and nsga.choose_on == "spearman"
    # a fitness given on top of a config (the CLI's --fitness) replaces its statistic
    from pathlib import Path
    base = Path(__file__).resolve().parents[1] / "experiments" / "flexibert" / "config.toml"
    assert load_spec(base).search.statistic == "spearman"
    for fitness in ("kendall", "partial"):
        top = load_spec(base, {"search": {"fitness": fitness}}).search
        assert top.fitness == fitness and top.statistic == ("kendall" if fitness == "kendall"
                                                             else "spearman")
    with pytest.raises(ConfigError, match=r"fitness = 'pearson'.*known: spearman, kendall, "
                                          r"partial, within-depth, lexicographic-tiebreak"):
        load_spec({"fitness": "pearson"})
    with pytest.raises(ConfigError, match="statistic = 'kendall': conflicts with fitness"):
        load_spec({"fitness": "spearman", "statistic": "kendall"})
    with pytest.raises(ConfigError, match="statistic = 'kendall': is not read"):
        load_spec({"fitness": "partial", "statistic": "kendall"})
    with pytest.raises(ConfigError, match="objectives.*only with selection"):
        load_spec({"objectives": ["spearman", "size"]})
    with pytest.raises(ConfigError, match="unknown objective 'rho'.*size"):
        load_spec({"selection": "nsga2", "objectives": ["rho", "size"]})
    with pytest.raises(ConfigError, match="besides size"):
        load_spec({"selection": "nsga2", "objectives": ["size", "size"]})
    with pytest.raises(ConfigError, match="twice"):
        load_spec({"selection": "nsga2", "objectives": ["partial", "size", "partial"]})
    with pytest.raises(ConfigError, match="selection = 'nsga3'.*tournament, nsga2"):
        load_spec({"selection": "nsga3"})
    with pytest.raises(ConfigError, match="first objective"):
        load_spec({"selection": "nsga2", "fitness": "kendall"})
    with pytest.raises(ConfigError, match="choose_on = 'best'"):
        load_spec({"selection": "nsga2", "choose_on": "best"})


def test_the_combination_descriptor_is_the_best_on_validation_records():
    from lpzero_gp.search.combination import validation_descriptor
    from lpzero_gp.spaces import get_space
    space = get_space("flexibert")
    records = space.load_benchmark().records[:60]
    quality = np.array([r.quality for r in records])
    rhos = {name: stats.spearmanr([space.descriptors(r)[name] for r in records],
                                  quality).statistic for name in space.headline_descriptors}
    assert validation_descriptor(space, records) == max(rhos, key=rhos.get)


@pytest.mark.parametrize("space", ["flexibert", "gpt2"])
def test_experiment_configs_of_the_new_searches_parse(space):
    from pathlib import Path
    folder = Path(__file__).resolve().parents[1] / "experiments" / space
    partial = load_spec(folder / "config_partial.toml").search
    assert (partial.space, partial.fitness, partial.selection) == (space, "partial",
                                                                   "tournament")
    nsga = load_spec(folder / "config_nsga2.toml").search
    assert nsga.selection == "nsga2" and nsga.choose_on == "partial"
    assert nsga.objectives == ["spearman", "partial", "size"]
    assert partial.descriptor == nsga.descriptor and nsga.workers == 1
