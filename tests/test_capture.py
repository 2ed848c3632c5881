"""One-pass capture: one entry per layer, hooks removed, model untouched, cache round trip."""
from __future__ import annotations

import pytest
import torch

from lpzero_gp.bank import INPUT_NAMES, InputBank
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.capture import TensorCapture, capture_inputs, layer_weights
from lpzero_gp.collect import CollectStats, collect_inputs
from lpzero_gp.errors import LpzeroError
from lpzero_gp.spaces import get_space
from lpzero_gp.spaces.taps import Tap

SMALL = dict(batch_size=2, seq_len=32, max_elements=256)


@pytest.fixture(scope="module")
def space():
    return get_space("flexibert")


@pytest.fixture(scope="module")
def bench(space, data_dir):
    return space.load_benchmark(data_dir=data_dir)


def _record_with(bench, op, n_layers=None):
    for r in bench:
        if any(lay.operation_type == op for lay in r.config.layers) and (
                n_layers is None or r.config.n_layers == n_layers):
            return r
    raise LookupError(op)


def _hook_count(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               for m in model.modules())


@pytest.mark.parametrize("op", ["SA", "LT", "DSC"])
def test_one_entry_per_layer_and_model_untouched(space, bench, op):
    record = _record_with(bench, op)
    model = space.build(record, "space", seed=0)
    batch = space.make_batch(seed=0, objective="mlm", **{k: SMALL[k] for k in
                                                         ("batch_size", "seq_len")})
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks_before = _hook_count(model)
    inputs = capture_inputs(model, batch, "mlm", max_elements=SMALL["max_elements"], seed=0)
    n_layers = record.config.n_layers
    assert set(inputs.tensors) == set(INPUT_NAMES)
    for name in INPUT_NAMES:
        assert inputs.tensors[name].shape == (n_layers, SMALL["max_elements"])
        assert inputs.numel[name].shape == (n_layers,)
        assert torch.isfinite(inputs.tensors[name]).all(), name
        assert not inputs.tensors[name].requires_grad
    # W and G cover exactly the layer's matrices; J the hidden states entering each layer.
    for index, layer in enumerate(model.proxy_layers()):
        n_weights = sum(p.numel() for p in layer_weights(layer))
        assert inputs.numel["W"][index] == inputs.numel["G"][index] == n_weights
    assert (inputs.numel["J"] == 2 * 32 * model.proxy_layers()[0].hidden_size
            if hasattr(model.proxy_layers()[0], "hidden_size") else inputs.numel["J"] > 0).all()
    assert _hook_count(model) == hooks_before
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training


def test_several_taps_of_one_kind_are_concatenated(space, bench):
    record = next(r for r in bench if r.config.layers[0].num_ffn == 3)
    model = space.build(record, "trained", seed=0)
    batch = space.make_batch(batch_size=2, seq_len=32, seed=0, objective="mlm")
    inputs = capture_inputs(model, batch, "mlm", max_elements=64, seed=0)
    first = model.proxy_layers()[0]
    widths = [m.out_features for m in first.modules()
              if isinstance(m, torch.nn.Linear)][-4:-1]  # the 3 FFN expansions before output
    n_a_taps = sum(isinstance(m, Tap) and m.kind == "A" for m in first.modules())
    assert n_a_taps == 3
    assert int(inputs.numel["A"][0]) == 2 * 32 * sum(widths)


def test_same_seed_same_capture_other_seed_differs(space, bench):
    record = bench[0]
    settings = CaptureSettings(seed=1, **SMALL)
    a = collect_inputs(space, [record], settings, cache=False, progress=False)
    b = collect_inputs(space, [record], settings, cache=False, progress=False)
    c = collect_inputs(space, [record], CaptureSettings(seed=2, **SMALL), cache=False,
                       progress=False)
    for name in INPUT_NAMES:
        assert torch.equal(a.tensors[name], b.tensors[name])
    assert not torch.equal(a.tensors["W"], c.tensors["W"])


def test_cache_reload_equals_fresh_capture(space, bench, tmp_path):
    records = list(bench.records[:3])
    settings = CaptureSettings(seed=0, **SMALL)
    stats = CollectStats()
    fresh = collect_inputs(space, records, settings, cache=tmp_path, progress=False,
                           stats=stats)
    assert stats.captured == 3 and stats.reloaded == 0
    assert len(list((tmp_path / "flexibert").glob("*.pt"))) == 3
    stats = CollectStats()
    again = collect_inputs(space, records, settings, cache=tmp_path, progress=False,
                           stats=stats)
    assert stats.captured == 0 and stats.reloaded == 3
    for name in INPUT_NAMES:
        assert torch.equal(fresh.tensors[name], again.tensors[name])
        assert torch.equal(fresh.numel[name], again.numel[name])
    assert torch.equal(fresh.layer_mask, again.layer_mask)
    assert list(fresh.quality) == [r.quality for r in records]
    # another variant is another cache entry
    stats = CollectStats()
    collect_inputs(space, records[:1], CaptureSettings(variant="reference", **SMALL),
                   cache=tmp_path, progress=False, stats=stats)
    assert stats.captured == 1


def test_float16_storage_is_the_same_cached_or_fresh(space, bench, tmp_path):
    settings = CaptureSettings(storage_dtype="float16", **SMALL)
    fresh = collect_inputs(space, [bench[0]], settings, cache=tmp_path, progress=False)
    again = collect_inputs(space, [bench[0]], settings, cache=tmp_path, progress=False)
    assert torch.equal(fresh.tensors["A"], again.tensors["A"])
    full = collect_inputs(space, [bench[0]], CaptureSettings(**SMALL), cache=False,
                          progress=False)
    assert torch.allclose(full.tensors["A"], fresh.tensors["A"], rtol=1e-3, atol=1e-4)
    entry = next((tmp_path / "flexibert").glob("*.pt"))
    blob = torch.load(entry, weights_only=True)
    assert blob["tensors"]["A"].dtype == torch.float16


def test_bank_masks_shallow_architectures(space, bench):
    two = next(r for r in bench if r.config.n_layers == 2)
    four = next(r for r in bench if r.config.n_layers == 4)
    bank = collect_inputs(space, [two, four], CaptureSettings(**SMALL), cache=False,
                          progress=False)
    assert isinstance(bank, InputBank)
    assert bank.layer_mask.tolist() == [[True, True, False, False], [True] * 4]
    assert (bank.numel["W"][0, 2:] == 0).all()
    sub = bank.subset([0])
    assert sub.tensors["A"].shape == (1, 2, SMALL["max_elements"])


def test_capture_error_names_the_record(space, bench, tmp_path, monkeypatch):
    records = list(bench.records[:2])
    real_build = space.build

    def failing_build(record, variant, seed):
        if record.id == records[1].id:
            raise RuntimeError("out of memory")
        return real_build(record, variant, seed)

    broken = type(space)(**{**space.__dict__, "build": failing_build})
    with pytest.raises(LpzeroError, match=f"record {records[1].id} of nas-bench-bert"):
        collect_inputs(broken, records, CaptureSettings(**SMALL), cache=tmp_path,
                       progress=False)
    # what was captured before the failure is kept
    assert len(list((tmp_path / "flexibert").glob("*.pt"))) == 1


def test_capture_requires_backward_and_taps(space, bench):
    model = space.build(bench[0], "trained", seed=0)
    with TensorCapture(model, 16) as cap:
        pass
    with pytest.raises(RuntimeError, match="call backward"):
        cap.inputs()
    with pytest.raises(ValueError, match="max_elements"):
        TensorCapture(model, 0)


def test_settings_validate_against_space(space):
    with pytest.raises(ValueError, match="variant 'nope'"):
        CaptureSettings(variant="nope").resolved(space)
    with pytest.raises(ValueError, match="objective 'clm'"):
        CaptureSettings(objective="clm").resolved(space)
    s = CaptureSettings().resolved(space)
    assert (s.variant, s.objective, s.seq_len) == ("trained", "mlm", 128)


@pytest.mark.parametrize("rid", ["config_9_j3", "config_10_j6"])
def test_gpt2_capture_one_entry_per_layer_model_unchanged(rid):
    gpt2 = get_space("gpt2")
    record = gpt2.load_benchmark().by_id(rid)
    model = gpt2.build(record, "lts", seed=0)
    batch = gpt2.make_batch(batch_size=2, seq_len=32, seed=0, objective="clm")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    hooks_before = _hook_count(model)
    inputs = capture_inputs(model, batch, "clm", max_elements=128, seed=0)
    n_layer = record.config.n_layer
    for name in INPUT_NAMES:
        assert inputs.tensors[name].shape == (n_layer, 128), name
        assert torch.isfinite(inputs.tensors[name]).all(), name
    # the causal-LM loss gives real gradients (the "sum" objective would give ~0)
    assert float(inputs.tensors["G"].abs().mean()) > 1e-6
    heads = record.config.n_head
    assert inputs.numel["S"].tolist() == [2 * h * 32 * 32 for h in heads]
    assert inputs.numel["A"].tolist() == [2 * 32 * d for d in record.config.d_inner]
    assert _hook_count(model) == hooks_before
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
