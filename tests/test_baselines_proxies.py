"""Hand-designed proxies and descriptors on real records: finite, deterministic, the model left
as it was, closed forms exact, and the proxy-language versions agreeing with the direct ones."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from lpzero_gp.baselines import hand_designed
from lpzero_gp.baselines.descriptors import descriptor_scores
from lpzero_gp.baselines.in_language import (IN_LANGUAGE, evaluate_in_language,
                                             layer_weight_count, published_proxy)
from lpzero_gp.baselines.reproduce import read_published
from lpzero_gp.baselines.structure import ForwardRecorder
from lpzero_gp.baselines.hand_designed import (HAND_DESIGNED, HAND_DESIGNED_NAMES,
                                               ProxyUndefinedError, compute_hand_designed)
from lpzero_gp.baselines.hand_designed.passes import synflow as synflow_module
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import collect_inputs, make_space_batch
from lpzero_gp.spaces import get_space
from lpzero_gp.spaces.flexibert import reference_parameter_count

SMALL = dict(batch_size=2, seq_len=32)


@pytest.fixture(scope="module")
def flexibert(data_dir):
    space = get_space("flexibert")
    return space, space.load_benchmark(data_dir=data_dir)


@pytest.fixture(scope="module")
def gpt2(data_dir):
    space = get_space("gpt2")
    return space, space.load_benchmark(data_dir=data_dir)


def _state(model: torch.nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in model.modules())


def _check_all_proxies(space, record, variant, objective):
    batch = space.make_batch(seed=0, objective=objective, **SMALL)
    model = space.build(record, variant, seed=0)
    before, hooks, training = _state(model), _hooks(model), model.training
    first = compute_hand_designed(model, batch, objective)
    again = compute_hand_designed(space.build(record, variant, seed=0), batch, objective)
    assert list(first) == list(HAND_DESIGNED_NAMES)
    for name, value in first.items():
        assert value.valid, f"{name} on record {record.id}: {value.reason}"
        assert value.value == again[name].value, f"{name} is not deterministic"
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before), "a proxy changed the model"
    assert _hooks(model) == hooks and model.training == training
    assert all(p.grad is None for p in model.parameters()), "a proxy wrote .grad"
    return first


def test_every_proxy_on_a_flexibert_record_with_all_operations(flexibert):
    space, bench = flexibert
    record = bench.by_id("2")  # SA, LT and DSC layers
    assert {lay.operation_type for lay in record.config.layers} == {"SA", "LT", "DSC"}
    values = _check_all_proxies(space, record, "space", "mlm")
    assert values["n_params"].value == space.descriptors(record)["n_params_space"]


def test_every_proxy_on_a_gpt2_record(gpt2):
    space, bench = gpt2
    record = bench.by_id("config_11_j5")  # 2 layers, d_model 64
    values = _check_all_proxies(space, record, "lts", "clm")
    counts = record.extra["params"]
    assert values["n_params"].value == counts["total"]
    assert values["n_params_nonembedding"].value == counts["nonembedding"]


def test_single_proxy_functions_match_the_shared_computation(flexibert):
    space, bench = flexibert
    record = bench.by_id("70")  # 2 SA layers
    batch = space.make_batch(seed=1, objective="mlm", **SMALL)
    model = space.build(record, "trained", seed=1)
    shared = compute_hand_designed(model, batch, "mlm", ["snip", "head_importance", "synflow"])
    assert hand_designed.snip(model, batch, "mlm") == shared["snip"].value
    assert hand_designed.head_importance(model, batch, "mlm") == shared["head_importance"].value
    assert hand_designed.synflow(model, batch) == shared["synflow"].value
    other_seed = compute_hand_designed(space.build(record, "trained", seed=2), batch, "mlm",
                                       ["snip"])["snip"].value
    assert other_seed != shared["snip"].value  # the seed matters, so determinism means something


def test_attention_confidence_is_undefined_without_attention(flexibert):
    space, bench = flexibert
    record = bench.by_id("47")  # every layer LT
    assert all(lay.operation_type == "LT" for lay in record.config.layers)
    batch = space.make_batch(seed=0, objective="mlm", **SMALL)
    model = space.build(record, "space", seed=0)
    values = compute_hand_designed(model, batch, "mlm",
                                   ["attention_confidence", "head_softmax_confidence"])
    assert math.isnan(values["attention_confidence"].value)
    assert "attention" in values["attention_confidence"].reason
    assert values["head_softmax_confidence"].valid  # LT mixing maps count, as in the reference
    with pytest.raises(ProxyUndefinedError, match="attention"):
        hand_designed.attention_confidence(model, batch, "mlm")


def test_structure_finds_the_reference_modules(flexibert):
    """The parts found from the taps are the modules the NAS-Bench-BERT notebook used."""
    space, bench = flexibert
    record = bench.by_id("1")  # LT-DFT, SA-SDP, DSC-9, DSC-5
    model = space.build(record, "reference", seed=0)
    batch = space.make_batch(seed=0, objective="sum", **SMALL)
    with ForwardRecorder(model) as rec:
        model.objective(batch, "sum")
        records = rec.finish()
    layers = model.proxy_layers()
    heads = [[c.module for c in r.head_calls] for r in records]
    assert heads[0] == [layers[0].mixer.input]
    assert heads[1] == [layers[1].mixer.query, layers[1].mixer.key, layers[1].mixer.value]
    dsc = layers[2].mixer
    assert set(map(id, heads[2])) == set(map(id, [dsc.query, dsc.key, dsc.value,
                                                  dsc.conv_value]))
    # synaptic diversity's and saliency's modules: the published per-record counts 17 and 12
    assert sum(len(r.mixer_linears) for r in records) == 17
    assert sum(len(r.ffn_linears) for r in records) == 12
    assert [len(r.attention_maps) for r in records] == [0, 1, 1, 1]
    assert [len(r.mixing_maps) for r in records] == [1, 0, 0, 0]
    assert _hooks(model) == 0


def test_synflow_rescaling_is_exact_on_a_homogeneous_model(flexibert, monkeypatch):
    """SA-only models are positively homogeneous on synflow's input: the level each layer is
    rescaled to must not change log synflow."""
    space, bench = flexibert
    record = bench.by_id("70")
    model = space.build(record, "trained", seed=0)
    batch = space.make_batch(seed=0, objective="sum", **SMALL)
    low = hand_designed.synflow_pass(model, batch)
    monkeypatch.setattr(synflow_module, "SYNFLOW_LEVEL", synflow_module.SYNFLOW_LEVEL / 3)
    high = hand_designed.synflow_pass(model, batch)
    assert low.log_scale != high.log_scale
    assert low.log_synflow() == pytest.approx(high.log_synflow(), rel=1e-7)
    assert low.logsynflow() == pytest.approx(high.logsynflow(), rel=1e-7)


def test_parameter_counts_equal_the_published_and_closed_forms(flexibert, gpt2, data_dir):
    space, bench = flexibert
    published = read_published(data_dir=data_dir)
    records = [r for r in bench.records[:40] if r.id in published]
    for record in records:
        meta = space.build(record, "reference", device="meta")
        expected = published[record.id]["Number of Parameters"]
        assert hand_designed.n_params(meta) == expected == reference_parameter_count(record)
    descriptors = descriptor_scores(space, records)
    assert list(descriptors["n_params_reference"]) == [
        published[r.id]["Number of Parameters"] for r in records]
    assert list(descriptors["n_layers"]) == [r.config.n_layers for r in records]
    assert list(descriptors["layers_then_hidden"]) == [
        r.config.n_layers * 10000 + r.config.hidden_size for r in records]

    gspace, gbench = gpt2
    grecords = list(gbench.records[:20])
    gdesc = descriptor_scores(gspace, grecords)
    for i, record in enumerate(grecords):
        meta = gspace.build(record, device="meta")
        assert hand_designed.n_params_nonembedding(meta) == record.extra["params"]["nonembedding"]
        assert hand_designed.n_params(meta) == record.extra["params"]["total"]
        assert gdesc["n_params_nonembedding"][i] == record.extra["params"]["nonembedding"]
        assert gdesc["layers_x_dmodel2"][i] == record.config.n_layer * record.config.d_model ** 2


def test_in_language_versions_agree_with_the_direct_ones(flexibert):
    space, bench = flexibert
    records = [bench.by_id(i) for i in ("0", "3", "70", "2", "47")]
    settings = CaptureSettings(batch_size=2, seq_len=32, max_elements=16384, variant="space",
                               objective="mlm").resolved(space)
    bank = collect_inputs(space, records, settings, cache=False, progress=False)
    lang = evaluate_in_language(bank)
    batch = make_space_batch(space, settings)
    direct = {"snip": [], "grad_norm": [], "layer_weight_count": []}
    for record in records:
        model = space.build(record, "space", seed=0)
        values = compute_hand_designed(model, batch, "mlm", ["snip", "grad_norm"])
        direct["snip"].append(values["snip"].value)
        direct["grad_norm"].append(values["grad_norm"].value)
        direct["layer_weight_count"].append(layer_weight_count(model))
    for name, proxy in IN_LANGUAGE.items():
        ours = lang[name].scores
        theirs = np.array(direct[proxy.counterpart])
        assert lang[name].valid, lang[name].reason
        rho = stats.spearmanr(ours, theirs).statistic
        # "rank": per-layer vs per-tensor norms, one adjacent swap in 5 records allowed
        least = 0.9 if proxy.agreement == "value" else 0.7
        assert rho >= least, f"{name}: rank agreement {rho:.3f} with {proxy.counterpart}"
        if proxy.agreement == "value":
            np.testing.assert_allclose(ours, theirs, rtol=0.2, err_msg=name)
    np.testing.assert_array_equal(lang["layer_weights"].scores, direct["layer_weight_count"])
    published = evaluate_in_language(bank, [published_proxy("flexibert")])["lpzero_published"]
    assert published.valid and np.isfinite(published.scores).all()


def test_a_proxy_is_one_decorated_function_and_each_pass_runs_once(gpt2, monkeypatch):
    """Registering a proxy with ``@hand_designed`` is all it takes for compute_hand_designed
    (and the tables, and ``--proxies``) to compute it; a pass runs once for all its proxies."""
    from lpzero_gp.baselines.hand_designed import hand_designed as register, passes, unregister
    space, bench = gpt2
    record = bench.by_id("config_11_j5")
    batch = space.make_batch(seed=0, objective="clm", **SMALL)
    model = space.build(record, "lts", seed=0)
    runs = []
    real = passes.PASSES["gradient"]
    monkeypatch.setitem(passes.PASSES, "gradient",
                        lambda *args: runs.append(1) or real(*args))

    @register("toy_grad_sum", label="Toy", source="this test", needs="gradient")
    def toy_grad_sum(p: passes.GradientPass) -> float:
        return float(sum(p.grad(w).double().abs().sum() for ws in p.weights for w in ws))

    @register("toy_depth", label="Toy depth", source="this test", needs="static")
    def toy_depth(p: passes.StaticPass) -> float:
        return float(len(p.model.proxy_layers()))

    try:
        assert "toy_grad_sum" in HAND_DESIGNED and "toy_depth" in hand_designed.HAND_DESIGNED_NAMES
        values = compute_hand_designed(model, batch, "clm", ["toy_grad_sum", "snip", "toy_depth"])
        assert runs == [1]  # one gradient pass for the toy proxy and snip
        assert list(values) == ["toy_grad_sum", "snip", "toy_depth"]
        assert values["toy_grad_sum"].valid and values["toy_grad_sum"].value > 0
        assert values["toy_depth"].value == len(model.proxy_layers())
        assert values["snip"].value == compute_hand_designed(model, batch, "clm",
                                                             ["snip"])["snip"].value
        assert toy_depth(model, batch, "clm") == values["toy_depth"].value  # one-model function
        with pytest.raises(ValueError, match="already registered"):
            register("toy_depth", label="again", source="", needs="static")(lambda p: 0.0)
    finally:
        unregister("toy_grad_sum")
        unregister("toy_depth")
    assert "toy_grad_sum" not in HAND_DESIGNED
    with pytest.raises(ValueError, match="unknown hand-designed"):
        compute_hand_designed(model, batch, "clm", ["toy_depth"])
    with pytest.raises(ValueError, match="unknown pass"):
        register("toy_bad", label="", source="", needs="hessian")
