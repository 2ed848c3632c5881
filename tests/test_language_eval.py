"""Evaluation on shape-faithful inputs: row operations exact on the kept rows, per-tensor
reductions (size-aware ones scaled to the full tensor), poolings over a layer's tensors, padding
layers, the model level, and invalid results as a status."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lpzero_gp.bank import MODEL_LAYER, InputBank, Inputs, TensorSketch, kept_rows
from lpzero_gp.capture import choose_rows, row_generator
from lpzero_gp.language import (REGISTRY, MissingInputError, Proxy, interpret, load_language,
                                score_status)
from lpzero_gp.language.types import EachValue, TensorValue

from conftest import flexibert_bank


def _scores(formula: str, bank: InputBank) -> np.ndarray:
    return interpret(Proxy.parse(formula).tree, load_language("default"), bank).numpy()


def _value(bank: InputBank, name: str) -> TensorValue:
    return TensorValue(*bank.stacked(name))


# -- a hand-built bank: whole tensors of several shapes ---------------------------------------

# per architecture, per layer, the (rows, row length) of each W tensor; G has the same shapes
SHAPES = [
    [[(3, 4), (5, 6), (2, 4)], [(4, 6)]],   # two layers: three tensors, then one
    [[(6, 3), (3, 4)]],                     # one layer: two tensors
    [[(2, 5)], [(3, 5), (4, 4)], [(5, 2)]],  # three layers
]


@pytest.fixture(scope="module")
def hand():
    """Three architectures (depths 2, 1, 3), every tensor kept whole, plus the model level:
    returns the bank and, per architecture, the list of (layer, W, G) full tensors."""
    g = torch.Generator().manual_seed(0)
    inputs, full = [], []
    for arch in SHAPES:
        tensors = {"W": [], "G": [], "WE": [], "GE": []}
        mine = []
        for layer, shapes in enumerate(arch):
            for k, (r, c) in enumerate(shapes):
                w = torch.randn(r, c, generator=g) * 2 + 0.5
                gr = torch.randn(r, c, generator=g)
                tensors["W"].append(TensorSketch(f"w{k}", layer, w, r))
                tensors["G"].append(TensorSketch(f"w{k}", layer, gr, r))
                mine.append((layer, w.double(), gr.double()))
        for k, (r, c) in enumerate([(7, 3), (2, 3)]):
            we = torch.randn(r, c, generator=g)
            tensors["WE"].append(TensorSketch(f"emb{k}", MODEL_LAYER, we, r))
            tensors["GE"].append(TensorSketch(f"emb{k}", MODEL_LAYER, we * 0.5, r))
        inputs.append(Inputs(tensors, len(arch)))
        full.append(mine)
    bank = InputBank.from_inputs(inputs, ["a", "b", "c"], [1.0, 2.0, 3.0])
    return bank, full


def test_the_bank_stacks_rows_by_length(hand):
    bank, full = hand
    assert bank.names == ("W", "G", "WE", "GE") and bank.depth == 3
    assert bank.layer_mask.tolist() == [[True, True, False], [True, False, False],
                                        [True, True, True]]
    blocks, layout = bank.stacked("W")
    assert [b.shape[1] for b in blocks] == sorted({c for a in SHAPES for l in a for _, c in l})
    assert layout.group == "W" and bank.stacked("G")[1].group == "W"
    assert layout.tensor_arch.tolist() == [0, 0, 0, 0, 1, 1, 2, 2, 2, 2]
    assert layout.tensor_layer.tolist() == [0, 0, 0, 1, 0, 0, 0, 1, 1, 2]
    assert layout.tensor_numel.tolist() == [12, 30, 8, 24, 18, 12, 10, 15, 16, 10]
    np.testing.assert_array_equal(bank.tensor_numel("W"), [74.0, 30.0, 51.0])
    assert bank.stacked("WE")[1].level == "model"


REDUCTIONS = {
    "t_mean": lambda x: x.mean(),
    "t_std": lambda x: x.reshape(-1).std(),
    "t_meanabs": lambda x: x.abs().mean(),
    "t_sum": lambda x: x.sum(),
    "t_fro": lambda x: torch.linalg.matrix_norm(x),
    "t_l1": lambda x: x.abs().sum(),
    "t_rowmax": lambda x: x.amax(dim=1).mean(),
    "t_rowmin": lambda x: x.amin(dim=1).mean(),
    "t_rownorm": lambda x: torch.linalg.vector_norm(x, dim=1).mean(),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_per_tensor_reductions_on_whole_tensors(hand, name):
    bank, full = hand
    assert set(REDUCTIONS) == {n for n, p in REGISTRY.items() if p.kind == "reduction"}
    got = REGISTRY[name].fn(_value(bank, "W"))
    assert isinstance(got, EachValue) and got.values.dtype == torch.float64
    want = torch.stack([REDUCTIONS[name](w) for arch in full for _, w, _ in arch])
    torch.testing.assert_close(got.values, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op, torch_op", [
    ("softmax", lambda x: torch.softmax(x, dim=1)),
    ("logsoftmax", lambda x: torch.log_softmax(x, dim=1)),
    ("znorm", lambda x: (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True)),
    ("minmax", lambda x: (x - x.amin(1, keepdim=True)) /
     (x.amax(1, keepdim=True) - x.amin(1, keepdim=True))),
])
def test_row_operations_act_along_each_row(hand, op, torch_op):
    bank, full = hand
    out = REGISTRY[op].fn(_value(bank, "W"))
    blocks, layout = bank.stacked("W")
    assert [b.shape for b in out.blocks] == [b.shape for b in blocks]
    for (c, owner), block, src in zip(layout.blocks, out.blocks, blocks):
        torch.testing.assert_close(block, torch_op(src.double()).float())
    # through a formula: every tensor's rows, row by row
    want = [sum(float(torch_op(w).amax(1).mean()) for layer, w, _ in arch if layer == 0)
            for arch in full]
    np.testing.assert_allclose(_scores(f"layer_first(pool_sum(t_rowmax({op}(W))))", bank), want,
                               rtol=1e-5)


def test_poolings_over_a_layers_tensors(hand):
    bank, full = hand
    for formula, pool in [
        ("pool_mean", lambda v, n: sum(v) / len(v)),
        ("pool_wmean", lambda v, n: sum(a * b for a, b in zip(v, n)) / sum(n)),
        ("pool_sum", lambda v, n: sum(v)),
        ("pool_max", lambda v, n: max(v)),
        ("pool_min", lambda v, n: min(v)),
    ]:
        want = []
        for arch in full:
            per_layer = []
            for layer in range(max(l for l, _, _ in arch) + 1):
                mats = [w for l, w, _ in arch if l == layer]
                per_layer.append(pool([float(torch.linalg.matrix_norm(w)) for w in mats],
                                      [w.numel() for w in mats]))
            want.append(sum(per_layer))
        np.testing.assert_allclose(_scores(f"layer_sum({formula}(t_fro(W)))", bank), want,
                                   rtol=1e-5, err_msg=formula)


def test_pool_mean_counts_each_tensor_once_pool_wmean_by_its_size():
    # one layer: a 1 x 2 tensor of ones and a 3 x 6 tensor of threes
    inp = Inputs({"W": [TensorSketch("small", 0, torch.ones(1, 2), 1),
                        TensorSketch("big", 0, torch.full((3, 6), 3.0), 3)]}, 1)
    bank = InputBank.from_inputs([inp], ["x"])
    assert _scores("layer_mean(pool_mean(t_mean(W)))", bank)[0] == pytest.approx(2.0)
    assert _scores("layer_mean(pool_wmean(t_mean(W)))", bank)[0] == \
        pytest.approx((2 * 1.0 + 18 * 3.0) / 20)
    # the weights are the full element counts, not the kept ones
    inp = Inputs({"W": [TensorSketch("small", 0, torch.ones(1, 2), 1),
                        TensorSketch("big", 0, torch.full((3, 6), 3.0), 300)]}, 1)
    bank = InputBank.from_inputs([inp], ["x"])
    assert _scores("layer_mean(pool_mean(t_mean(W)))", bank)[0] == pytest.approx(2.0)
    assert _scores("layer_mean(pool_wmean(t_mean(W)))", bank)[0] == \
        pytest.approx((2 * 1.0 + 1800 * 3.0) / 1802)


def test_w_and_g_pair_element_by_element(hand):
    bank, full = hand
    want = [sum(float((w * g).sum()) for _, w, g in arch) for arch in full]
    np.testing.assert_allclose(_scores("layer_sum(pool_sum(t_sum(mul(W, G))))", bank), want,
                               rtol=1e-5)
    # per-tensor values pair tensor by tensor: each weight matrix with its own gradient
    want = [sum(float(torch.linalg.matrix_norm(w) / torch.linalg.matrix_norm(g))
                for _, w, g in arch) for arch in full]
    np.testing.assert_allclose(_scores("layer_sum(pool_sum(v_div(t_fro(W), t_fro(G))))", bank),
                               want, rtol=1e-5)


def test_the_model_level_pools_to_one_value_per_architecture(hand):
    bank, _ = hand
    per_arch = []
    for inp in bank.inputs:
        we = [t.rows.double() for t in inp.tensors["WE"]]
        per_arch.append(sum(float(torch.linalg.matrix_norm(x)) for x in we) / len(we))
    np.testing.assert_allclose(_scores("pool_mean(t_fro(WE))", bank), per_arch, rtol=1e-5)
    # GE = WE / 2 by construction: the ratio of norms is 2 in every tensor
    np.testing.assert_allclose(_scores("pool_max(v_div(t_fro(WE), t_fro(GE)))", bank), 2.0,
                               rtol=1e-6)
    mixed = _scores("s_add(layer_mean(pool_mean(t_mean(W))), pool_sum(t_sum(mul(WE, GE))))",
                    bank)
    assert mixed.shape == (3,) and np.isfinite(mixed).all()


# -- sketched tensors: kept rows are whole rows --------------------------------------------------


def _sketched(full: torch.Tensor, max_elements: int, seed: int = 0) -> TensorSketch:
    pos = choose_rows(full.shape[0], full.shape[1], max_elements, 4,
                      row_generator(seed, "W", 0, "w"))
    rows = full if pos is None else full[pos]
    return TensorSketch("w", 0, rows.float().contiguous(), full.shape[0]), pos


def test_row_operations_are_exact_on_the_kept_rows():
    g = torch.Generator().manual_seed(4)
    full = torch.randn(500, 64, generator=g, dtype=torch.float64) * 3.0
    sk, pos = _sketched(full, 64 * 20)
    assert pos is not None and len(pos) == kept_rows(500, 64, 64 * 20, 4) == 20
    assert not sk.exact and sk.numel == full.numel()
    bank = InputBank.from_inputs([Inputs({"W": [sk]}, 1)], ["x"])
    for op, torch_op in [("softmax", torch.softmax), ("logsoftmax", torch.log_softmax)]:
        out = REGISTRY[op].fn(_value(bank, "W")).blocks[0]
        torch.testing.assert_close(out.double(), torch_op(full, dim=1)[pos], rtol=1e-5,
                                   atol=1e-7)
    # a row statistic of a row operation is the mean over the kept rows of the exact values
    got = _scores("layer_mean(pool_mean(t_rowmax(softmax(W))))", bank)[0]
    assert got == pytest.approx(float(torch.softmax(full, 1)[pos].amax(1).mean()), rel=1e-5)
    got = _scores("layer_mean(pool_mean(t_rowmin(znorm(W))))", bank)[0]
    z = (full - full.mean(1, keepdim=True)) / full.std(1, keepdim=True)
    assert got == pytest.approx(float(z[pos].amin(1).mean()), rel=1e-5)


def test_size_aware_reductions_scale_the_kept_rows_to_the_full_tensor():
    g = torch.Generator().manual_seed(1)
    full = torch.randn(40, 8, generator=g, dtype=torch.float64) + 0.5
    kept = full[[3, 10, 22, 31]]
    bank = InputBank.from_inputs([Inputs({"W": [TensorSketch("w", 0, kept.float(), 40)]}, 1)],
                                 ["x"])
    v = _value(bank, "W")
    ratio = full.numel() / kept.numel()  # 10: the full tensor has 10 times the kept elements
    checks = {
        "t_mean": kept.mean(), "t_meanabs": kept.abs().mean(), "t_std": kept.reshape(-1).std(),
        "t_sum": kept.sum() * ratio, "t_l1": kept.abs().sum() * ratio,
        "t_fro": torch.sqrt((kept ** 2).sum() * ratio),
        "t_rowmax": kept.amax(1).mean(), "t_rownorm": torch.linalg.vector_norm(kept, dim=1).mean(),
    }
    for name, want in checks.items():
        assert float(REGISTRY[name].fn(v).values[0]) == pytest.approx(float(want), rel=1e-5), name


def test_size_aware_estimates_from_kept_rows_are_close():
    g = torch.Generator().manual_seed(1)
    scales = torch.tensor([0.5, 1.0, 2.0, 3.0], dtype=torch.float64)
    inputs, fulls = [], []
    for a, scale in enumerate(scales):
        layers = []
        for layer in range(2):
            full = torch.randn(4000, 50, generator=g, dtype=torch.float64) * scale + 1.0
            pos = choose_rows(4000, 50, 20_000, 4, row_generator(0, "W", layer, "w"))
            assert len(pos) == 400
            layers.append(TensorSketch("w", layer, full[pos].float(), 4000))
            fulls.append((a, full))
        inputs.append(Inputs({"W": layers}, 2))
    bank = InputBank.from_inputs(inputs, list("abcd"))
    exact = lambda f: np.array([sum(float(f(x)) for b, x in fulls if b == a)  # noqa: E731
                                for a in range(4)])
    checks = {
        "layer_sum(pool_sum(t_sum(W)))": exact(lambda x: x.sum()),
        "layer_sum(pool_sum(t_fro(W)))": exact(lambda x: torch.linalg.matrix_norm(x)),
        "layer_sum(pool_sum(t_l1(W)))": exact(lambda x: x.abs().sum()),
        # row operations are exact per row whatever the scale: only the rows are sampled
        "layer_sum(pool_sum(t_mean(logsoftmax(W))))": exact(
            lambda x: torch.log_softmax(x, 1).mean()),
        "layer_sum(pool_sum(t_rowmax(softmax(W))))": exact(
            lambda x: torch.softmax(x, 1).amax(1).mean()),
        "layer_sum(pool_sum(t_rownorm(W)))": exact(
            lambda x: torch.linalg.vector_norm(x, dim=1).mean()),
    }
    for formula, want in checks.items():
        np.testing.assert_allclose(_scores(formula, bank), want, rtol=0.05, err_msg=formula)
    # what a size-blind estimate would get wrong: the sum of the kept rows is 10x too small
    kept_sum = np.array([sum(float(t.rows.double().sum()) for t in i.tensors["W"])
                         for i in inputs])
    np.testing.assert_allclose(kept_sum * 10, checks["layer_sum(pool_sum(t_sum(W)))"],
                               rtol=0.05)


# -- real captured inputs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_bank(data_dir) -> InputBank:
    """Four real FlexiBERT architectures of 2 and 4 layers, 2 x 32 tokens, 256 elements."""
    return flexibert_bank(2)


def test_real_row_operations_match_torch_on_the_captured_rows(real_bank):
    # the captured attention maps are softmax rows: they sum to one, exactly as captured
    blocks, layout = real_bank.stacked("S")
    for block in blocks:
        torch.testing.assert_close(block.sum(1), torch.ones(block.shape[0]), rtol=0, atol=1e-5)
    for name in ("S", "A", "W"):
        out = REGISTRY["logsoftmax"].fn(_value(real_bank, name))
        for got, src in zip(out.blocks, real_bank.stacked(name)[0]):
            torch.testing.assert_close(got, torch.log_softmax(src, dim=1))
    # per architecture, from the captured rows of each tensor directly
    want = []
    for inp in real_bank.inputs:
        per_layer = [np.mean([float(torch.softmax(t.rows.double(), 1).amax(1).mean())
                              for t in inp.tensors["H"] if t.layer == l])
                     for l in range(inp.n_layers)]
        want.append(np.mean(per_layer))
    np.testing.assert_allclose(_scores("layer_mean(pool_mean(t_rowmax(softmax(H))))",
                                       real_bank), want, rtol=1e-5)


@pytest.mark.parametrize("formula", [
    "layer_mean(pool_mean(t_mean(square(H))))",
    "layer_sum(l_log(pool_wmean(t_fro(W))))",
    "layer_max(l_div(pool_mean(t_std(A)), pool_sum(t_meanabs(J))))",
    "layer_min(pool_min(t_rowmax(softmax(S))))",
    "layer_last(l_abslog(pool_sum(t_sum(mul(W, G)))))",
    "layer_mean(pool_mean(t_mean(inverse(log(abs(W))))))",
    "layer_max(pool_max(t_mean(znorm(H))))",
    "s_add(layer_mean(pool_sum(t_sum(logsoftmax(A)))), layer_min(pool_mean(t_rownorm(G))))",
    "layer_first(pool_mean(v_div(t_fro(W), t_fro(G))))",
    "s_add(layer_mean(pool_mean(t_fro(W))), pool_wmean(t_l1(mul(WE, GE))))",
    "s_mul(pool_mean(t_rownorm(AE)), layer_sum(pool_max(t_rowmin(minmax(J)))))",
])
def test_padding_layers_never_influence_a_score(real_bank, formula):
    mask = real_bank.layer_mask
    assert not mask.all()  # the bank mixes depths
    together = Proxy.parse(formula).evaluate(real_bank)
    assert np.isfinite(together.scores).all(), together.reason
    for i in range(len(real_bank)):
        alone = Proxy.parse(formula).evaluate(real_bank.subset([i]))
        np.testing.assert_allclose(together.scores[i], alone.scores[0], rtol=1e-12)


def test_interpret_returns_raw_float64_and_leaves_the_bank_untouched(real_bank):
    before = {n: [b.clone() for b in real_bank.stacked(n)[0]] for n in real_bank.names}
    rows = [[t.rows.clone() for t in inp.tensors["W"]] for inp in real_bank.inputs]
    raw = interpret(Proxy.parse("layer_mean(pool_mean(t_mean(log(W))))").tree,
                    load_language("default"), real_bank)
    assert raw.dtype == torch.float64 and raw.shape == (len(real_bank),)
    assert torch.isnan(raw).all()  # W has negative weights: log is not protected
    for formula in ("layer_mean(pool_mean(t_mean(softmax(W))))",
                    "layer_mean(pool_mean(t_std(znorm(mul(W, G)))))",
                    "pool_sum(t_fro(minmax(GE)))"):
        Proxy.parse(formula).evaluate(real_bank)
    for n in real_bank.names:
        assert all(torch.equal(a, b) for a, b in zip(real_bank.stacked(n)[0], before[n]))
    assert all(torch.equal(t.rows, r) for inp, rs in zip(real_bank.inputs, rows)
               for t, r in zip(inp.tensors["W"], rs))


def test_nan_scores_are_an_invalid_status(real_bank):
    r = Proxy.parse("layer_mean(pool_mean(t_mean(log(W))))").evaluate(real_bank)
    assert not r.valid and np.isnan(r.scores).all()
    first = real_bank.record_ids[0]
    assert r.reason == f"non-finite score for 4 of 4 records (first: record {first})"
    assert r.invalid_records == real_bank.record_ids and r.record_ids == real_bank.record_ids


def test_inf_for_some_records_is_an_invalid_status():
    inputs = []
    for i in range(3):
        w = torch.ones(2, 4) * (3.0 if i == 2 else 1.0)
        if i == 1:
            w[0, 2] = 0.0  # 1/0 = inf in record r1 only
        inputs.append(Inputs({"W": [TensorSketch("w", l, w, 2) for l in range(2)]}, 2))
    bank = InputBank.from_inputs(inputs, ["r0", "r1", "r2"])
    r = Proxy.parse("layer_mean(pool_mean(t_rowmax(inverse(W))))").evaluate(bank)
    assert not r.valid and r.invalid_records == ["r1"]
    assert r.reason == "non-finite score for 1 of 3 records (first: record r1)"
    assert np.isnan(r.scores[1]) and np.isfinite(r.scores[[0, 2]]).all()
    np.testing.assert_allclose(r.scores[[0, 2]], [1.0, 1 / 3])


def test_constant_scores_are_an_invalid_status(real_bank):
    # every row's minimum after a min-max normalisation of the row is 0
    r = Proxy.parse("layer_mean(pool_max(t_rowmin(minmax(H))))").evaluate(real_bank)
    assert not r.valid and r.reason == "constant across architectures"
    assert np.isfinite(r.scores).all() and r.invalid_records == []
    np.testing.assert_array_equal(r.scores, 0.0)
    ok = Proxy.parse("layer_sum(pool_sum(t_rowmax(minmax(H))))").evaluate(real_bank)
    assert ok.valid  # counts the tensors of every layer
    assert score_status(np.array([1.0, 2.0]), ["a", "b"]).valid
    assert score_status(np.array([5.0]), ["a"]).valid  # one record: nothing to compare


def test_an_input_the_bank_lacks_is_a_clear_error():
    bank = InputBank.from_inputs([Inputs({"W": [TensorSketch("w", 0, torch.ones(1, 3), 1)]}, 1)],
                                 ["x"])
    with pytest.raises(MissingInputError, match=r"reads input\(s\) G, which the bank lacks "
                                                r"\(it holds W\)"):
        Proxy.parse("layer_mean(pool_mean(t_mean(mul(W, G))))").evaluate(bank)


def test_a_layer_without_tensors_of_an_input_pools_to_nan():
    # architecture x has no W tensor in its second layer: nothing to pool there
    inp = Inputs({"W": [TensorSketch("w", 0, torch.ones(2, 3), 2)]}, 2)
    bank = InputBank.from_inputs([inp], ["x"])
    assert math.isnan(_scores("layer_mean(pool_mean(t_mean(W)))", bank)[0])
    assert _scores("layer_first(pool_mean(t_mean(W)))", bank)[0] == 1.0
