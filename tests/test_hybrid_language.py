"""Hand-designed proxies as terminals (the "hybrid" language): text, SymPy and LaTeX forms,
values equal to the proxies computed directly on the models, alignment through subsets,
invalid records with their reason, RPS, and a small real search."""
from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest

from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import collect_inputs, make_space_batch
from lpzero_gp.errors import ConfigError, FormulaError
from lpzero_gp.hand_bank import HandScores, HybridBank, hand_names, with_hand_scores
from lpzero_gp.language import MissingInputError, Proxy, load_language
from lpzero_gp.metrics import correlations
from lpzero_gp.search import rps, search
from lpzero_gp.spaces import get_space

SETTINGS = CaptureSettings(batch_size=2, seq_len=32, max_elements=256)
NAMES = ["synflow", "snip", "n_params"]
LAYERED = ["snip", "grad_norm", "fisher", "synaptic_saliency", "synaptic_diversity"]
FORMULA = "s_add(s_log(snip), s_mul(synflow, layer_mean(pool_mean(t_std(W)))))"


@pytest.fixture(scope="module")
def flexibert():
    space = get_space("flexibert")
    records = list(space.load_benchmark().records)
    return space, ([r for r in records if r.config.n_layers == 2][:2]
                   + [r for r in records if r.config.n_layers == 4][:1])


@pytest.fixture(scope="module")
def banks(flexibert, tmp_path_factory):
    space, records = flexibert
    cache = tmp_path_factory.mktemp("hybrid-cache")
    hybrid = collect_inputs(space, records, SETTINGS, cache=cache, progress=False,
                            hand_designed=NAMES + [f"l_{n}" for n in LAYERED])
    plain = collect_inputs(space, records, SETTINGS, cache=cache, progress=False)
    return hybrid, plain, cache


def test_the_hybrid_language_extends_the_default_one():
    default, hybrid = load_language("default"), load_language("hybrid")
    assert hybrid.inputs == default.inputs
    assert hybrid.primitives.keys() == default.primitives.keys()
    assert hybrid.limits == dataclasses.replace(default.limits, min_depth=1)
    assert "synflow" in hybrid.hand and "n_params" in hybrid.hand and default.hand == ()
    assert hybrid.terminals == hybrid.inputs + hybrid.hand
    assert hybrid.weights["synflow"] == 0.2
    assert [t.name for t in hybrid.pset.terminals[hybrid.pset.ret]] == list(hybrid.hand)


def test_text_sympy_and_latex_of_a_formula_with_hand_designed_terminals():
    proxy = Proxy.parse(FORMULA, "hybrid")
    assert str(proxy) == FORMULA
    assert Proxy.from_json(proxy.to_json()) == proxy
    assert proxy.to_json()["language"] == "hybrid"
    assert proxy.sympy_text() == ("synflow*layer_mean(pool_mean(std(W_{l,m}))) + log(snip)")
    assert proxy.latex(simplify=False) == (
        r"\mathrm{SynFlow} \frac{1}{L}\sum_{l=1}^{L} \operatorname{mean}_{m} "
        r"\operatorname{std}\left(W_{l,m}\right) + \log{\left(\mathrm{SNIP} \right)}")
    assert Proxy.parse("s_div(n_params, grad_norm)", "hybrid").latex() == \
        r"\frac{\#\mathrm{Params}}{\mathrm{GradNorm}}"


def test_parse_errors_name_the_hand_designed_terminal():
    load_language("hybrid")  # registers the hand-designed proxies
    with pytest.raises(FormulaError, match="hand-designed proxy 'synflow' is not a terminal "
                                           "of language 'default'"):
        Proxy.parse("s_log(synflow)", "default")
    with pytest.raises(FormulaError, match="hand-designed proxy snip takes no arguments"):
        Proxy.parse("s_log(snip(W))", "hybrid")
    with pytest.raises(FormulaError, match="type error: t_mean takes"):
        Proxy.parse("layer_mean(pool_mean(t_mean(snip)))", "hybrid")


def test_language_files_with_hand_designed_terminals(tmp_path):
    good = tmp_path / "two.toml"
    good.write_text('extends = "hybrid.toml"\nname = "two"\n'
                    'hand_designed = { snip = 1.5 }\n[limits]\nmax_nodes = 11\n'.replace(
                        "hybrid.toml", str(load_language("hybrid").path)))
    lang = load_language(good)
    assert lang.name == "two" and lang.weights["snip"] == 1.5 and lang.limits.max_nodes == 11
    assert lang.weights["synflow"] == 0.2 and lang.limits.max_depth == 9
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "default"\nhand_designed = ["synflow", "sinp"]\n')
    with pytest.raises(ConfigError, match=r"bad.toml: hand_designed.sinp: unknown "
                                          r"hand-designed proxy 'sinp'; known: n_params"):
        load_language(bad)
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\n')
    with pytest.raises(ConfigError, match="a cycle"):
        load_language(loop)


def test_values_equal_the_proxies_computed_on_the_models(flexibert, banks):
    from lpzero_gp.baselines.hand_designed import compute_hand_designed
    space, records = flexibert
    hybrid, plain, _ = banks
    assert isinstance(hybrid, HybridBank) and not isinstance(plain, HybridBank)
    settings = SETTINGS.resolved(space)
    batch = make_space_batch(space, settings)
    direct = []
    for record in records:
        model = space.build(record, settings.variant, settings.seed)
        got = compute_hand_designed(model, batch, settings.objective, NAMES, space)
        direct.append([got[n].value for n in NAMES])
    direct = np.array(direct)
    assert hybrid.hand.names == tuple(NAMES)
    assert hybrid.hand.record_ids == tuple(r.id for r in records)
    np.testing.assert_array_equal(hybrid.hand.values, direct)

    scores = Proxy.parse(FORMULA, "hybrid").evaluate(hybrid)
    weights = Proxy.parse("layer_mean(pool_mean(t_std(W)))").evaluate(plain).scores
    expected = np.log(direct[:, 1]) + direct[:, 0] * weights
    assert scores.valid
    np.testing.assert_allclose(scores.scores, expected, rtol=1e-12)


def test_values_are_read_back_from_the_cache(flexibert, banks, monkeypatch):
    import lpzero_gp.baselines.table as table
    space, records = flexibert
    hybrid, _, cache = banks
    assert list((cache / "baselines").glob("flexibert-*.json"))

    def no_model(*args, **kwargs):
        raise AssertionError("a hand-designed proxy was computed again")
    monkeypatch.setattr(table, "compute_hand_designed", no_model)
    again = collect_inputs(space, records, SETTINGS, cache=cache, progress=False,
                           hand_designed=["snip", "synflow"])
    np.testing.assert_array_equal(again.hand.values, hybrid.hand.values[:, [1, 0]])


def test_subsets_keep_records_and_values_aligned(banks):
    hybrid, _, _ = banks
    assert hybrid.hand.layers["l_snip"].shape == (3, 4)
    assert hybrid.subset([0, 1]).hand.layers["l_snip"].shape == (2, 2)  # the depth of both
    order = [2, 0]
    sub = hybrid.subset(order)
    assert isinstance(sub, HybridBank)
    assert list(sub.hand.record_ids) == list(sub.record_ids) == [hybrid.record_ids[i]
                                                                 for i in order]
    np.testing.assert_array_equal(sub.hand.values, hybrid.hand.values[order])
    np.testing.assert_array_equal(sub.quality, hybrid.quality[order])
    proxy = Proxy.parse(FORMULA, "hybrid")
    np.testing.assert_array_equal(proxy.evaluate(sub).scores,
                                  proxy.evaluate(hybrid).scores[order])
    with pytest.raises(ValueError, match="not of the bank's records"):
        with_hand_scores(hybrid.subset([0, 1]), hybrid.hand)


def test_an_undefined_hand_designed_value_makes_the_formula_invalid_with_its_reason(banks):
    hybrid, plain, _ = banks
    values = hybrid.hand.values.copy()
    values[1, 0] = math.nan
    rid = hybrid.record_ids[1]
    hand = HandScores(hybrid.hand.names, values, hybrid.hand.record_ids,
                      {(rid, "synflow"): "synflow: the value is not finite (inf)"})
    bank = with_hand_scores(plain, hand)
    result = Proxy.parse(FORMULA, "hybrid").evaluate(bank)
    assert not result.valid and result.invalid_records == [rid]
    assert np.isnan(result.scores[1]) and np.isfinite(result.scores[[0, 2]]).all()
    assert result.reason == (f"non-finite score for 1 of 3 records (first: record {rid}); "
                             f"hand-designed proxy synflow is undefined on record {rid}: "
                             f"synflow: the value is not finite (inf)")
    # a formula that does not read it stays valid
    assert Proxy.parse("s_log(snip)", "hybrid").evaluate(bank).valid
    pruning = rps.RuleBasedPruning(load_language("hybrid"), bank)
    firing = pruning.check(Proxy.parse(FORMULA, "hybrid").tree)
    assert (firing.rule, firing.reason) == ("probe_nan", f"NaN on probe record {rid}")


def test_a_bank_without_the_values_is_refused(banks):
    _, plain, _ = banks
    with pytest.raises(MissingInputError, match="reads hand-designed proxies snip, synflow, "
                                                "which the bank does not carry"):
        Proxy.parse(FORMULA, "hybrid").evaluate(plain)
    assert hand_names(Proxy.parse(FORMULA, "hybrid")) == ("snip", "synflow")
    assert hand_names(Proxy.parse("layer_mean(pool_mean(t_std(W)))", "hybrid")) == ()


def test_rps_on_hand_designed_terminals(banks):
    hybrid, _, _ = banks
    pruning = rps.RuleBasedPruning(load_language("hybrid"), hybrid)

    def rule(text):
        firing = pruning.check(Proxy.parse(text, "hybrid").tree)
        return None if firing is None else firing.rule
    assert rule("s_log(synflow)") == "monotone_root"
    assert rule("s_add(s_sub(snip, snip), synflow)") == "self_cancelling"
    assert rule("s_neg(s_neg(snip))") == "involution_twice"
    assert rule("s_div(synflow, snip)") is None
    assert rule(FORMULA) is None


def test_a_small_search_with_the_hybrid_language(tmp_path):
    from lpzero_gp.search.held_out import test_split_scores
    result = search("flexibert", out=tmp_path / "run", language="hybrid", records=12,
                    batch_size=2, seq_len=32, max_elements=512, generations=2,
                    population=10, seed=3, progress=False)
    out = result.out
    found = json.loads((out / "found.json").read_text())
    assert found["language"] == "hybrid" and result.found.language.name == "hybrid"
    memo = [json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines()]
    hand = set(load_language("hybrid").hand)
    with_hand = [m for m in memo if m["status"] == "valid"
                 and hand_names(Proxy.parse(m["formula"], "hybrid"))]
    assert with_hand and all(m["status"] != "error" for m in memo)
    assert hand & {n.name for m in with_hand for n in Proxy.parse(m["formula"], "hybrid").tree}

    # the held-out machinery evaluates the found proxy on its test split with its values
    folder = tmp_path / "experiment"
    folder.mkdir()
    shutil.copy(out / "found.json", folder / "found_hybrid.json")
    got = test_split_scores("flexibert", folder)
    assert got["test_ids"] == found["provenance"]["splits"]["test"]
    kind, values = got["scores"]["found (hybrid language, found_hybrid.json)"]
    assert kind == "found" and len(values) == result.figures["test"]["n"]
    rho = correlations(values, got["quality"]).spearman_rho
    assert rho == pytest.approx(result.figures["test"]["spearman_rho"], abs=1e-12)


def test_cli_evaluate_collects_the_hand_designed_values(banks, capsys):
    from lpzero_gp.cli import main
    hybrid, _, cache = banks
    code = main(["evaluate", "--space", "flexibert", "--proxy", FORMULA, "--language", "hybrid",
                 "--records", *hybrid.record_ids, "--cache-dir", str(cache), "--json",
                 "--batch-size", "2", "--seq-len", "32", "--max-elements", "256"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n_records"] == 3 and out["formula"] == FORMULA
    expected = correlations(Proxy.parse(FORMULA, "hybrid").evaluate(hybrid).scores,
                            hybrid.quality)
    assert out["spearman_rho"] == pytest.approx(expected.spearman_rho, abs=1e-12)


def test_per_layer_values_are_the_proxies_per_layer_and_sum_to_them(flexibert, banks):
    from lpzero_gp.baselines.hand_designed import compute_hand_designed
    space, records = flexibert
    hybrid, _, _ = banks
    settings = SETTINGS.resolved(space)
    batch = make_space_batch(space, settings)
    language = load_language("hybrid_layers")
    assert language.hand_layers == tuple(f"l_{n}" for n in LAYERED)
    whole = {n: [] for n in LAYERED}
    for i, record in enumerate(records):
        model = space.build(record, settings.variant, settings.seed)
        got = compute_hand_designed(model, batch, settings.objective, LAYERED, space,
                                    per_layer=True)
        scalar = compute_hand_designed(model, batch, settings.objective, LAYERED, space)
        depth = record.config.n_layers
        for n in LAYERED:
            row = hybrid.hand.layers[f"l_{n}"][i]
            np.testing.assert_array_equal(row[:depth], got[n].values)
            assert len(got[n].values) == depth and np.isnan(row[depth:]).all()
            whole[n].append(scalar[n].value)
    for n in LAYERED:
        summed = Proxy.parse(f"layer_sum(l_{n})", language).evaluate(hybrid)
        assert summed.valid
        np.testing.assert_allclose(summed.scores, whole[n], rtol=1e-12)

    # a per-layer product with a tensor statistic, against the statistic taken directly
    proxy = Proxy.parse("layer_mean(l_mul(l_snip, pool_mean(t_std(W))))", language)
    assert proxy.latex(simplify=False) == (
        r"\frac{1}{L}\sum_{l=1}^{L} \mathrm{SNIP}_{l} \operatorname{mean}_{m} "
        r"\operatorname{std}\left(W_{l,m}\right)")
    assert proxy.sympy_text() == "layer_mean(l_snip*pool_mean(std(W_{l,m})))"
    expected = []
    for i, inputs in enumerate(hybrid.inputs):
        stds = [[float(t.rows.double().std()) for t in inputs.tensors["W"] if t.layer == layer]
                for layer in range(inputs.n_layers)]
        snip = hybrid.hand.layers["l_snip"][i]
        expected.append(np.mean([snip[l] * np.mean(s) for l, s in enumerate(stds)]))
    np.testing.assert_allclose(proxy.evaluate(hybrid).scores, expected, rtol=1e-6)


def test_per_layer_values_are_read_back_from_the_cache(flexibert, banks, monkeypatch):
    import lpzero_gp.baselines.hand_designed as hand_designed
    space, records = flexibert
    hybrid, _, cache = banks

    def no_model(*args, **kwargs):
        raise AssertionError("a hand-designed proxy was computed again")
    monkeypatch.setattr(hand_designed, "compute_hand_designed", no_model)
    again = collect_inputs(space, records, SETTINGS, cache=cache, progress=False,
                           hand_designed=["l_fisher"])
    np.testing.assert_array_equal(again.hand.layers["l_fisher"], hybrid.hand.layers["l_fisher"])


def test_rps_and_errors_on_per_layer_terminals(banks, tmp_path):
    hybrid, _, _ = banks
    language = load_language("hybrid_layers")
    pruning = rps.RuleBasedPruning(language, hybrid)

    def rule(text):
        firing = pruning.check(Proxy.parse(text, language).tree)
        return None if firing is None else firing.rule
    assert rule("layer_sum(l_sub(l_snip, l_snip))") == "self_cancelling"
    assert rule("layer_mean(l_div(l_snip, pool_mean(t_std(W))))") is None
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "hybrid"\nhand_designed_layers = ["synflow"]\n')
    with pytest.raises(ConfigError, match="unknown hand-designed proxy with per-layer values "
                                          "'synflow'; known: snip, fisher, grad_norm"):
        load_language(bad)


def test_an_extending_language_sees_a_change_of_its_base(tmp_path):
    import os
    base = tmp_path / "base.toml"
    base.write_text('extends = "default"\nname = "base"\ninputs = { A = 1.0 }\n')
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\nname = "child"\n')
    before = load_language(child)
    stamp = child.stat().st_mtime_ns
    base.write_text('extends = "default"\nname = "base"\ninputs = { A = 3.0 }\n')
    os.utime(base, ns=(stamp + 10**9, stamp + 10**9))
    os.utime(child, ns=(stamp, stamp))  # the child file itself unchanged
    after = load_language(child)
    assert before.weights["A"] == 1.0 and after.weights["A"] == 3.0
