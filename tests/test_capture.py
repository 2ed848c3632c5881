"""One-pass capture: whole rows of every tensor, hooks removed, model untouched, cache round trip."""
from __future__ import annotations

import copy

import pytest
import torch

from lpzero_gp import introspect
from lpzero_gp.bank import INPUT_NAMES, INPUTS, MODEL_LAYER, InputBank, kept_rows
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.capture import TensorCapture, capture_inputs, choose_rows, row_generator
from lpzero_gp.collect import CollectStats, collect_inputs
from lpzero_gp.errors import LpzeroError
from lpzero_gp.spaces import get_space

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
    assert set(inputs.tensors) == set(INPUT_NAMES) and inputs.n_layers == n_layers
    for name in INPUT_NAMES:
        items = inputs.tensors[name]
        layers = {t.layer for t in items}
        assert layers == (set(range(n_layers)) if INPUTS[name].level == "layer"
                          else {MODEL_LAYER}), name
        for t in items:
            assert torch.isfinite(t.rows).all() and not t.rows.requires_grad, name
            assert t.rows.shape[0] == kept_rows(t.n_rows, t.row_len, SMALL["max_elements"],
                                                4), (name, t.name)
    # W and G: one tensor per weight matrix of the layer, rows = output units, same rows kept
    for index, layer in enumerate(model.proxy_layers()):
        mats = introspect.layer_matrices(layer)
        w = [t for t in inputs.tensors["W"] if t.layer == index]
        g = [t for t in inputs.tensors["G"] if t.layer == index]
        assert [t.name for t in w] == [t.name for t in g] == [n for n, _, _ in mats]
        assert [t.numel for t in w] == [p.numel() for _, _, p in mats]
        for t, (pname, owner, p) in zip(w, mats):
            full = introspect.matrix_view(owner, p.detach(), pname)
            assert any(torch.equal(t.rows[0], row) for row in full)
    j = [t for t in inputs.tensors["J"]]
    assert [t.n_rows for t in j] == [2 * 32] * n_layers
    assert _hook_count(model) == hooks_before
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.training


def test_kept_rows_are_rows_of_the_full_tensors_and_w_g_share_them(space, bench):
    record = _record_with(bench, "SA")
    model = space.build(record, "trained", seed=0)
    batch = space.make_batch(batch_size=2, seq_len=32, seed=0, objective="mlm")
    full = capture_inputs(model, batch, "mlm", max_elements=None, seed=0)
    sketch = capture_inputs(model, batch, "mlm", max_elements=64, seed=0)
    for name in INPUT_NAMES:
        for f, s in zip(full.tensors[name], sketch.tensors[name]):
            assert f.exact and (f.name, f.layer, f.n_rows) == (s.name, s.layer, s.n_rows)
            pos = choose_rows(f.n_rows, f.row_len, 64, 4, row_generator(
                0, INPUTS[name].group, s.layer, s.name))
            expected = f.rows if pos is None else f.rows[pos]
            assert torch.equal(s.rows, expected), (name, s.name)
        if INPUTS[name].transposes:  # XT: the same tensors as X, by whole columns
            base = full.tensors[INPUTS[name].transposes]
            assert [(t.name, t.layer, t.numel) for t in base] == \
                [(t.name, t.layer, t.numel) for t in full.tensors[name]]
            for f, t in zip(base, full.tensors[name]):
                assert torch.equal(f.rows.t(), t.rows), (name, t.name)


def test_several_taps_of_one_kind_are_separate_tensors(space, bench):
    record = next(r for r in bench if r.config.layers[0].num_ffn == 3)
    model = space.build(record, "trained", seed=0)
    batch = space.make_batch(batch_size=2, seq_len=32, seed=0, objective="mlm")
    inputs = capture_inputs(model, batch, "mlm", max_elements=64, seed=0)
    first = model.proxy_layers()[0]
    widths = [m.out_features for m in first.modules()
              if isinstance(m, torch.nn.Linear)][-4:-1]  # the 3 FFN expansions before output
    a = [t for t in inputs.tensors["A"] if t.layer == 0]
    assert [t.row_len for t in a] == widths
    assert [t.n_rows for t in a] == [2 * 32] * 3
    # softmax maps: one tensor per head, each row a query's weights summing to 1
    heads = record.config.layers[0].num_heads
    s = [t for t in inputs.tensors["S"] if t.layer == 0]
    assert len(s) == heads and all(t.row_len == 32 and t.n_rows == 2 * 32 for t in s)
    assert torch.allclose(s[0].rows.sum(dim=1), torch.ones(s[0].rows.shape[0]), atol=1e-5)


def test_same_seed_same_capture_other_seed_differs(space, bench):
    record = bench[0]
    settings = CaptureSettings(seed=1, **SMALL)
    a = collect_inputs(space, [record], settings, cache=False, progress=False)
    b = collect_inputs(space, [record], settings, cache=False, progress=False)
    c = collect_inputs(space, [record], CaptureSettings(seed=2, **SMALL), cache=False,
                       progress=False)
    assert a.inputs[0].equal(b.inputs[0])
    assert not a.inputs[0].equal(c.inputs[0])


def test_worker_captures_arrive_whole_and_hold_no_shared_memory(space, bench):
    # a tensor sent back from a worker as such lives in shared memory with an open file per
    # tensor: a 350-record capture ran out of file descriptors; the inputs travel as bytes
    from lpzero_gp.engine import make_engine
    records = list(bench.records[:3])
    settings = CaptureSettings(seed=0, **SMALL)
    here = collect_inputs(space, records, settings, cache=False, progress=False)
    with make_engine("local", workers=2) as engine:
        there = collect_inputs(space, records, settings, cache=False, progress=False,
                               engine=engine)
    assert all(a.equal(b) for a, b in zip(here.inputs, there.inputs))
    assert [i.meta for i in here.inputs] == [i.meta for i in there.inputs]
    assert not any(t.rows.is_shared() for i in there.inputs for ts in i.tensors.values()
                   for t in ts)


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
    assert all(a.equal(b) for a, b in zip(fresh.inputs, again.inputs))
    assert torch.equal(fresh.layer_mask, again.layer_mask)
    assert list(fresh.quality) == [r.quality for r in records]
    # another variant is another cache entry
    stats = CollectStats()
    collect_inputs(space, records[:1], CaptureSettings(variant="reference", **SMALL),
                   cache=tmp_path, progress=False, stats=stats)
    assert stats.captured == 1


def test_cache_key_follows_the_code(space, bench, monkeypatch):
    from lpzero_gp import cache as cache_module
    key = cache_module.entry_key("flexibert", bench[0], CaptureSettings(**SMALL), "text")
    assert key["code"] == cache_module.code_fingerprint("flexibert")
    assert cache_module.code_fingerprint("flexibert") != cache_module.code_fingerprint("gpt2")
    monkeypatch.setattr(cache_module.torch, "__version__", "0.0.0")
    cache_module.code_fingerprint.cache_clear()
    try:
        assert cache_module.code_fingerprint("flexibert") != key["code"]
    finally:
        monkeypatch.undo()
        cache_module.code_fingerprint.cache_clear()


def test_cache_file_names_never_come_from_raw_ids(tmp_path):
    from lpzero_gp.cache import CaptureCache
    path = CaptureCache(tmp_path).path({"space": "x/../y", "record": "../../etc/passwd"})
    assert path.resolve().is_relative_to(tmp_path.resolve())


def test_float16_storage_is_the_same_cached_or_fresh(space, bench, tmp_path):
    settings = CaptureSettings(storage_dtype="float16", **SMALL)
    fresh = collect_inputs(space, [bench[0]], settings, cache=tmp_path, progress=False)
    again = collect_inputs(space, [bench[0]], settings, cache=tmp_path, progress=False)
    assert fresh.inputs[0].equal(again.inputs[0])
    full = collect_inputs(space, [bench[0]], CaptureSettings(**SMALL), cache=False,
                          progress=False)
    for a, b in zip(full.inputs[0].tensors["A"], fresh.inputs[0].tensors["A"]):
        assert torch.allclose(a.rows, b.rows, rtol=1e-3, atol=1e-4)
    entry = next((tmp_path / "flexibert").glob("*.pt"))
    blob = torch.load(entry, weights_only=True)
    assert blob["data"]["tensors"]["A"]["values"].dtype == torch.float16


def test_bank_masks_shallow_architectures(space, bench):
    two = next(r for r in bench if r.config.n_layers == 2)
    four = next(r for r in bench if r.config.n_layers == 4)
    bank = collect_inputs(space, [two, four], CaptureSettings(**SMALL), cache=False,
                          progress=False)
    assert isinstance(bank, InputBank)
    assert bank.layer_mask.tolist() == [[True, True, False, False], [True] * 4]
    blocks, layout = bank.stacked("W")
    assert set(layout.tensor_layer[layout.tensor_arch == 0].tolist()) == {0, 1}
    assert sum(b.shape[0] for b in blocks) == int(layout.tensor_rows.sum())
    sub = bank.subset([0])
    assert sub.layer_mask.shape == (1, 2) and sub.record_ids == [two.id]
    assert bank.tensor_numel("W")[0] < bank.tensor_numel("W")[1]


def test_capture_error_names_the_record(space, bench, tmp_path, monkeypatch):
    records = list(bench.records[:2])
    real_build = space.build

    def failing_build(record, variant, seed):
        if record.id == records[1].id:
            raise RuntimeError("out of memory")
        return real_build(record, variant, seed)

    broken = copy.copy(space)
    broken.build = failing_build
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
    with pytest.raises(ValueError, match="min_rows"):
        TensorCapture(model, 16, min_rows=0)


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
    cfg = record.config
    for name in INPUT_NAMES:
        assert all(torch.isfinite(t.rows).all() for t in inputs.tensors[name]), name
    # the four Conv1D matrices per block, as (out, in): rows are output units with the fan-in
    w = [t for t in inputs.tensors["W"] if t.layer == 0]
    assert [t.name for t in w] == ["attn.c_attn.weight", "attn.c_proj.weight",
                                   "mlp.c_fc.weight", "mlp.c_proj.weight"]
    assert [(t.n_rows, t.row_len) for t in w] == [
        (3 * cfg.d_model, cfg.d_model), (cfg.d_model, cfg.d_model),
        (cfg.d_inner[0], cfg.d_model), (cfg.d_model, cfg.d_inner[0])]
    # the causal-LM loss gives real gradients (the "sum" objective would give ~0)
    assert float(torch.cat([t.rows.reshape(-1) for t in inputs.tensors["G"]]).abs().mean()) \
        > 1e-6
    s = inputs.tensors["S"]
    assert [sum(t.layer == i for t in s) for i in range(cfg.n_layer)] == list(cfg.n_head)
    assert all((t.n_rows, t.row_len) == (2 * 32, 32) for t in s)
    assert [t.row_len for t in inputs.tensors["A"]] == list(cfg.d_inner)
    # the embedding side: tables and projections outside the blocks, each tied matrix once
    we = inputs.tensors["WE"]
    names = [t.name for t in we]
    assert len(names) == len(set(names)) and "wpe.weight" in names
    outside = introspect.outside_matrices(model, model.proxy_layers())
    assert sum(t.numel for t in we) == sum(p.numel() for _, _, p in outside)
    assert [t.name for t in inputs.tensors["GE"]] == names
    assert [t.row_len for t in inputs.tensors["AE"]] == [cfg.d_model]
    assert _hook_count(model) == hooks_before
    assert all(p.grad is None for p in model.parameters())
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
