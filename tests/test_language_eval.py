"""Evaluation: size-aware reductions, padding layers, invalid results as a status."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lpzero_gp.bank import InputBank, Inputs
from lpzero_gp.capture import sample_positions
from lpzero_gp.language import (MissingInputError, Proxy, interpret, load_language,
                                score_status)

from conftest import flexibert_bank


def _bank(tensors: dict[str, torch.Tensor], numel: dict[str, torch.Tensor],
          mask: torch.Tensor | None = None) -> InputBank:
    n, layers = next(iter(tensors.values())).shape[:2]
    mask = torch.ones(n, layers, dtype=torch.bool) if mask is None else mask
    return InputBank([f"r{i}" for i in range(n)], tensors, numel, mask)


def _scores(formula: str, bank: InputBank) -> np.ndarray:
    return interpret(Proxy.parse(formula).tree, load_language("default"), bank).numpy()


@pytest.fixture(scope="module")
def whole():
    """Samples that are the whole tensor: K = numel, so every estimate is exact."""
    g = torch.Generator().manual_seed(0)
    full = torch.randn(3, 2, 50, generator=g) * 2 + 0.5
    bank = _bank({"W": full}, {"W": torch.full((3, 2), 50.0, dtype=torch.float64)})
    return full.double(), bank


def test_size_aware_reductions_are_exact_on_whole_tensors(whole):
    full, bank = whole
    first = full[:, 0]
    np.testing.assert_allclose(_scores("layer_first(t_sum(W))", bank), first.sum(-1), rtol=1e-5)
    np.testing.assert_allclose(_scores("layer_first(t_fro(W))", bank),
                               torch.linalg.vector_norm(first, dim=-1), rtol=1e-5)
    np.testing.assert_allclose(_scores("layer_first(t_l1(W))", bank),
                               first.abs().sum(-1), rtol=1e-5)
    np.testing.assert_allclose(_scores("layer_sum(t_sum(W))", bank), full.sum((-1, -2)),
                               rtol=1e-5)
    soft = torch.softmax(first, dim=-1)
    np.testing.assert_allclose(_scores("layer_first(t_max(softmax(W)))", bank),
                               soft.max(-1).values, rtol=1e-5)
    np.testing.assert_allclose(_scores("layer_first(t_fro(softmax(W)))", bank),
                               torch.linalg.vector_norm(soft, dim=-1), rtol=1e-5)
    np.testing.assert_allclose(_scores("layer_last(t_min(logsoftmax(W)))", bank),
                               torch.log_softmax(full[:, 1], -1).min(-1).values, rtol=1e-5)
    np.testing.assert_allclose(_scores("layer_mean(t_sum(softmax(W)))", bank), 1.0, rtol=1e-5)
    np.testing.assert_allclose(_scores("layer_first(t_std(W))", bank), first.std(-1), rtol=1e-5)
    z = (first - first.mean(-1, keepdim=True)) / first.std(-1, keepdim=True)
    np.testing.assert_allclose(_scores("layer_first(t_max(znorm(W)))", bank),
                               z.max(-1).values, rtol=1e-5)


def test_size_aware_estimates_from_samples_are_close():
    g = torch.Generator().manual_seed(1)
    numel, k = 200_000, 16_384
    full = torch.randn(4, 2, numel, generator=g) * torch.tensor([0.5, 1.0, 2.0, 3.0]).view(
        4, 1, 1) + 1.0
    pos = torch.stack([torch.stack([sample_positions(numel, k, seed=0, stream="W", layer=l)
                                    for l in range(2)]) for _ in range(4)])
    sample = torch.gather(full, -1, pos)
    bank = _bank({"W": sample}, {"W": torch.full((4, 2), float(numel), dtype=torch.float64)})
    exact = full.double()
    checks = {
        "layer_sum(t_sum(W))": exact.sum((-1, -2)),
        "layer_sum(t_fro(W))": torch.linalg.vector_norm(exact, dim=-1).sum(-1),
        "layer_sum(t_l1(W))": exact.abs().sum((-1, -2)),
        "layer_mean(t_mean(logsoftmax(W)))": torch.log_softmax(exact, -1).mean((-1, -2)),
    }
    for formula, want in checks.items():
        got = _scores(formula, bank)
        np.testing.assert_allclose(got, want.numpy(), rtol=0.05, err_msg=formula)
    # softmax's normaliser sum(exp(x)) is estimated well while no few elements dominate it
    # (scales 0.5 and 1 here); with scale 3 the sample misses the dominating tail
    soft = _scores("layer_sum(t_fro(softmax(W)))", bank)
    want = torch.linalg.vector_norm(torch.softmax(exact, -1), dim=-1).sum(-1).numpy()
    np.testing.assert_allclose(soft[:2], want[:2], rtol=0.05)
    # ... and what a size-blind estimate would get wrong: the sum of the sample is K/numel off
    assert not np.allclose(sample.double().sum((-1, -2)).numpy(),
                           checks["layer_sum(t_sum(W))"].numpy(), rtol=0.5)


@pytest.fixture(scope="module")
def real_bank(data_dir) -> InputBank:
    """Four real FlexiBERT architectures of 2 and 4 layers, 2 x 32 tokens, K = 256."""
    return flexibert_bank(2)


@pytest.mark.parametrize("formula", [
    "layer_mean(t_mean(square(H)))",
    "layer_sum(l_log(t_fro(W)))",
    "layer_max(l_div(t_std(A), t_meanabs(J)))",
    "layer_min(t_max(softmax(S)))",
    "layer_last(l_abslog(t_sum(mul(W, G))))",
    # padding layers hold 1.0: log gives 0 and inverse inf there, which must never leak
    "layer_mean(t_mean(inverse(log(abs(W)))))",
    "layer_max(t_mean(znorm(H)))",
    "s_add(layer_mean(t_sum(logsoftmax(A))), layer_min(t_min(ranknorm(G))))",
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
    before = {n: t.clone() for n, t in real_bank.tensors.items()}
    raw = interpret(Proxy.parse("layer_mean(t_mean(log(W)))").tree, load_language("default"),
                    real_bank)
    assert raw.dtype == torch.float64 and raw.shape == (len(real_bank),)
    assert torch.isnan(raw).all()  # W has negative weights: log is not protected
    for n, t in real_bank.tensors.items():
        assert torch.equal(t, before[n])


def test_nan_scores_are_an_invalid_status(real_bank):
    r = Proxy.parse("layer_mean(t_mean(log(W)))").evaluate(real_bank)
    assert not r.valid and np.isnan(r.scores).all()
    first = real_bank.record_ids[0]
    assert r.reason == f"non-finite score for 4 of 4 records (first: record {first})"
    assert r.invalid_records == real_bank.record_ids and r.record_ids == real_bank.record_ids


def test_inf_for_some_records_is_an_invalid_status():
    w = torch.ones(3, 2, 4)
    w[1, 0, 2] = 0.0  # 1/0 = inf in record r1 only
    w[2] *= 3.0
    bank = _bank({"W": w}, {"W": torch.full((3, 2), 4.0, dtype=torch.float64)})
    r = Proxy.parse("layer_mean(t_max(inverse(W)))").evaluate(bank)
    assert not r.valid and r.invalid_records == ["r1"]
    assert r.reason == "non-finite score for 1 of 3 records (first: record r1)"
    assert np.isnan(r.scores[1]) and np.isfinite(r.scores[[0, 2]]).all()


def test_constant_scores_are_an_invalid_status(real_bank):
    # softmax sums to one in every layer, whatever the architecture
    r = Proxy.parse("layer_mean(t_sum(softmax(H)))").evaluate(real_bank)
    assert not r.valid and r.reason == "constant across architectures"
    assert np.isfinite(r.scores).all() and r.invalid_records == []
    ok = Proxy.parse("layer_sum(t_sum(softmax(H)))").evaluate(real_bank)  # counts layers
    assert ok.valid
    assert score_status(np.array([1.0, 2.0]), ["a", "b"]).valid
    assert score_status(np.array([5.0]), ["a"]).valid  # one record: nothing to compare


def test_an_input_the_bank_lacks_is_a_clear_error():
    bank = _bank({"W": torch.ones(2, 1, 3)}, {"W": torch.ones(2, 1, dtype=torch.float64)})
    with pytest.raises(MissingInputError, match=r"reads input\(s\) G, which the bank lacks "
                                                r"\(it holds W\)"):
        Proxy.parse("layer_mean(t_mean(mul(W, G)))").evaluate(bank)


def test_inputs_from_a_tiny_custom_bank_match_inputs_format():
    # banks built through Inputs (the capture format) evaluate like direct ones
    inp = [Inputs({"W": torch.tensor([[1.0, -2.0], [3.0, 4.0]])},
                  {"W": torch.tensor([10, 20])}),
           Inputs({"W": torch.tensor([[2.0, 2.0]])}, {"W": torch.tensor([5])})]
    bank = InputBank.from_inputs(inp, ["a", "b"])
    r = Proxy.parse("layer_sum(t_sum(W))").evaluate(bank)
    np.testing.assert_allclose(r.scores, [-0.5 * 10 + 3.5 * 20, 2.0 * 5])
