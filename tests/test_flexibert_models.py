"""FlexiBERT models built from real NAS-Bench-BERT records: counts, operations, seeding, taps."""
from __future__ import annotations

import csv
import dataclasses
import functools
import math
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import torch

from lpzero_gp.benchmarks.nasbench_bert import FlexiBertConfig
from lpzero_gp.spaces import flexibert as F
from lpzero_gp.spaces.flexibert_ops import ConvSelfAttention, dct2_2d, dft2_real
from lpzero_gp.spaces.taps import Tap
from lpzero_gp.corpus import wordpiece_tokenizer

DATA = Path(os.environ.get("LPZERO_GP_DATA",
                           Path(__file__).resolve().parents[2] / "shared" / "data"))
PUBLISHED_COUNTS = DATA / "nas-bench-bert" / "BERT_results_activation.csv"
OPERATIONS = [("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"), ("DSC", 5), ("DSC", 9)]

torch.set_num_threads(1)


@functools.lru_cache(maxsize=1)
def benchmark():
    return F.SPACE.load_benchmark(data_dir=DATA)


@functools.lru_cache(maxsize=1)
def batch():
    return F.make_batch(batch_size=2, seq_len=32, seed=0, data_dir=DATA)


def one_layer_config(op: str, par) -> FlexiBertConfig:
    """The first real record having an ``op``-``par`` layer, cut down to that layer."""
    for rec in benchmark():
        for lay in rec.config.layers:
            if (lay.operation_type, lay.operation_parameter) == (op, par):
                return dataclasses.replace(rec.config, layers=(lay,))
    raise AssertionError(f"no record of {benchmark().source} has a {op}-{par} layer")


def test_reference_count_equals_published_count_for_every_record():
    with open(PUBLISHED_COUNTS, newline="") as fh:
        published = {row["ID"]: int(row["Number of Parameters"]) for row in csv.DictReader(fh)}
    records = benchmark().records
    assert set(published) == {r.id for r in records} and len(records) == 350
    for rec in records:
        built = F.count_parameters(F.build(rec, "reference", device="meta"))
        assert built == published[rec.id], f"record {rec.id}: built {built}"
        assert F.reference_parameter_count(rec) == published[rec.id], f"record {rec.id}"


def test_closed_form_counts_match_space_and_trained_builds():
    records = benchmark().records[:40]
    assert {lay.operation_parameter for r in records for lay in r.config.layers} == \
        {"SDP", "WMA", "DFT", "DCT", 5, 9}
    assert {r.config.hidden_size for r in records} == {128, 256}
    for rec in records:
        for variant in ("space", "trained"):
            built = F.count_parameters(F.build(rec, variant, device="meta"))
            assert built == F.parameter_count(rec.config, variant), (rec.id, variant)
        desc = F.descriptors(rec)
        assert desc["n_params"] == F.parameter_count(rec.config, "trained")
        assert desc["n_params_space"] == F.parameter_count(rec.config, "space")
        assert desc["n_params_reference"] == F.reference_parameter_count(rec)
        assert desc["layers_then_hidden"] == rec.config.n_layers * 10000 + rec.config.hidden_size


def test_space_count_by_hand_and_width_changes():
    base = one_layer_config("LT", "DCT")
    lt = dataclasses.replace(base.layers[0], num_ffn=1, ffn_dim=512)
    wma = dataclasses.replace(one_layer_config("SA", "WMA").layers[0], num_ffn=3, ffn_dim=1024)
    config = FlexiBertConfig(128, (lt, wma))
    h = 128  # no embedding projection when h equals the embedding width 128
    by_hand = ((30522 + 512 + 2) * 128 + 2 * 128
               + (h * h + h) + 2 * h                                          # LT + LayerNorm
               + (h * 4 * h + 4 * h) + (4 * h * h + h) + 2 * h                # FFN [4h]
               + 4 * (h * h + h) + 2 * h + h * h                              # WMA
               + (h * 4 * h + 4 * h) + (4 * h * 1024 + 1024) + (1024 * 1024 + 1024)
               + (1024 * h + h) + 2 * h)                                      # FFN [4h,1024,1024]
    assert F.count_parameters(F.build(config, "space", device="meta")) == by_hand

    def space_count(cfg):
        return F.count_parameters(F.build(cfg, "space", device="meta"))

    narrower = FlexiBertConfig(128, (lt, dataclasses.replace(wma, ffn_dim=512)))
    assert space_count(config) - space_count(narrower) == \
        (4 * h * 512 + 512) + (1024 * 1024 - 512 * 512 + 512) + 512 * h
    one_ffn_wider = FlexiBertConfig(128, (dataclasses.replace(lt, ffn_dim=1024), wma))
    assert space_count(one_ffn_wider) == space_count(config)  # width unused with one FFN layer
    single = FlexiBertConfig(128, (lt,))
    wide = FlexiBertConfig(256, (lt,))
    h2 = 256
    assert space_count(wide) - space_count(single) == (
        (128 * h2 + h2)                                                  # projection appears
        + (h2 * h2 + 3 * h2) - (h * h + 3 * h)                           # LT + LayerNorm
        + (h2 * 4 * h2 + 4 * h2 + 4 * h2 * h2 + 3 * h2) - (h * 4 * h + 4 * h + 4 * h * h + 3 * h))


@pytest.mark.parametrize("op,par", OPERATIONS)
@pytest.mark.parametrize("variant", F.VARIANTS)
def test_every_operation_runs_forward_and_backward(op, par, variant):
    config = one_layer_config(op, par)
    model = F.build(config, variant, seed=0)
    assert not model.training
    hidden = F.hidden_size_of(config, variant)
    assert hidden == (256 if variant == "reference" else config.hidden_size)
    ids = batch()["input_ids"]
    out = model(ids)
    assert out.shape == (2, 32, hidden) and torch.isfinite(out).all()
    loss = model.objective(batch(), "mlm")
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    for (name, p), g in zip(params.items(), grads):
        assert g is not None, f"{name} gets no gradient"
        assert g.shape == p.shape and torch.isfinite(g).all(), name
    mixer_grads = [g for (name, _), g in zip(params.items(), grads)
                   if name.startswith("layers.0.mixer.") and g.ndim >= 2]
    assert mixer_grads and all(g.abs().sum() > 0 for g in mixer_grads)
    expected_mixer = {"trained": "SelfAttention", "space": None, "reference": None}[variant] or \
        {"SA": "SelfAttention", "LT": "LinearTransform", "DSC": "ConvSelfAttention"}[op]
    assert type(model.layers[0].mixer).__name__ == expected_mixer


def test_dct_matches_scipy_and_dft_matches_numpy():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 7, 5, generator=gen, dtype=torch.float64)
    want = scipy.fft.dct(scipy.fft.dct(x.numpy(), type=2, axis=-1), type=2, axis=-2)
    np.testing.assert_allclose(dct2_2d(x).numpy(), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dft2_real(x).numpy(), np.fft.fft2(x.numpy()).real,
                               rtol=1e-10, atol=1e-10)


def test_dsc_dynamic_convolution_matches_a_plain_loop():
    torch.manual_seed(0)
    layer = ConvSelfAttention(hidden=16, heads=4, kernel=5).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    seen = {}
    layer.tap_conv_kernel.register_forward_hook(lambda m, a, o: seen.__setitem__("alpha", o))
    out = layer(x)
    alpha = seen["alpha"]                                   # (B, S, H'=2, k=5)
    assert alpha.shape == (2, 9, 2, 5)
    v = layer.conv_value(x).view(2, 9, 2, 4)
    conv = torch.zeros(2, 9, 2, 4, dtype=torch.float64)
    for t in range(9):
        for i in range(5):
            src = t + i - 2
            if 0 <= src < 9:
                conv[:, t] += alpha[:, t, :, i, None] * v[:, src]
    q, k, val = (t.view(2, 9, 2, 4).transpose(1, 2)
                 for t in (layer.query(x), layer.key(x), layer.value(x)))
    attn = torch.softmax(q @ k.transpose(-1, -2) / 2.0, -1) @ val
    context = torch.cat([attn.transpose(1, 2).reshape(2, 9, 8), conv.reshape(2, 9, 8)], -1)
    want = layer.output.LayerNorm(x + layer.output.dense(context))
    torch.testing.assert_close(out, want)


def test_seeding_is_exact_and_leaves_the_global_rng_alone():
    rec = benchmark()[0]
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    a = F.build(rec, "space", seed=7)
    b = F.build(rec, "space", seed=7)
    c = F.build(rec, "space", seed=8)
    assert torch.equal(torch.get_rng_state(), state)
    pa, pb, pc = (dict(m.named_parameters()) for m in (a, b, c))
    assert all(torch.equal(pa[n], pb[n]) for n in pa)
    weights = [n for n in pa if pa[n].ndim >= 2]
    assert all(not torch.equal(pa[n], pc[n]) for n in weights)
    word = pa["embeddings.word_embeddings.weight"]
    assert torch.equal(word[0], torch.zeros(128))
    assert abs(word[1:].std().item() - 0.02) < 5e-4 and abs(word.mean().item()) < 5e-4
    for name, p in pa.items():
        if "LayerNorm" in name:
            assert torch.equal(p, torch.ones_like(p) if name.endswith("weight")
                               else torch.zeros_like(p)), name
        elif p.ndim == 1:
            assert torch.equal(p, torch.zeros_like(p)), name
    conv = dict(F.build(one_layer_config("DSC", 9), "space", seed=7).named_parameters())
    depthwise = conv["layers.0.mixer.key_conv.depthwise.weight"]
    assert depthwise.shape[-1] == 9 and abs(depthwise.std().item() - 0.02) < 4e-3


def test_mlm_objective_adds_no_parameters_and_starts_near_uniform():
    rec = benchmark()[0]
    model = F.build(rec, "trained", seed=0)
    n_before = F.count_parameters(model)
    assert n_before == F.parameter_count(rec.config, "trained")
    loss = model.objective(batch(), "mlm")
    assert F.count_parameters(model) == n_before
    assert torch.isfinite(loss) and abs(loss.item() - math.log(30522)) < 0.05
    total = model.objective(batch(), "sum")
    assert total.ndim == 0 and torch.isfinite(total)
    torch.testing.assert_close(total, model(batch()["input_ids"]).sum())
    with pytest.raises(ValueError, match="allowed: mlm, sum"):
        model.objective(batch(), "clm")
    with pytest.raises(ValueError, match="mlm_labels"):
        model.objective({"input_ids": batch()["input_ids"]}, "mlm")
    with pytest.raises(ValueError, match="trained, space, reference"):
        F.build(rec, "huggingface")
    with pytest.raises(TypeError):
        F.build({"hidden_size": 256}, "space")


def test_attention_mask_hides_padded_tokens_in_attention_layers():
    model = F.build(benchmark()[0], "trained", seed=0)
    ids = batch()["input_ids"].clone()
    mask = torch.ones_like(ids)
    mask[:, 20:] = 0
    torch.testing.assert_close(model(ids, torch.ones_like(ids)), model(ids))
    other = ids.clone()
    other[:, 20:] = 1000
    torch.testing.assert_close(model(ids, mask)[:, :20], model(other, mask)[:, :20])
    assert not torch.allclose(model(ids)[:, :20], model(other)[:, :20])


@pytest.mark.parametrize("op,par", OPERATIONS)
def test_taps_per_operation(op, par):
    config = one_layer_config(op, par)
    lay = config.layers[0]
    model = F.build(config, "space", seed=0)
    h = config.hidden_size
    shapes = {"A": [], "H": [], "S": []}
    layer = model.proxy_layers()[0]
    handles = [m.register_forward_hook(lambda m, a, o: shapes[m.kind].append(tuple(o.shape)))
               for m in layer.modules() if isinstance(m, Tap)]
    model(batch()["input_ids"])
    for handle in handles:
        handle.remove()
    b, s, heads = 2, 32, lay.num_heads
    widths = [4 * h] + [lay.ffn_dim] * (lay.num_ffn - 1)
    assert shapes["A"] == [(b, s, w) for w in widths]
    if op == "SA":
        assert shapes["H"] == [(b, s, h)] and shapes["S"] == [(b, heads, s, s)]
    elif op == "LT":
        assert shapes["H"] == [(b, s, h)] and shapes["S"] == [(b, s, h)]
    else:
        hp = max(1, heads // 2)
        assert shapes["H"] == [(b, s, h // 2)]
        assert shapes["S"] == [(b, hp, s, s), (b, s, hp, par)]
    assert len(model.proxy_layers()) == 1 and model.proxy_layers()[0] is model.layers[0]


def test_make_batch_masks_fifteen_percent_of_ordinary_tokens():
    tok = wordpiece_tokenizer(str(DATA))
    assert (tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]"), tok.token_to_id("[MASK]")) == \
        (F.CLS_ID, F.SEP_ID, F.MASK_ID)
    out = F.make_batch(batch_size=4, seq_len=40, seed=5, data_dir=DATA)
    ids, masked, labels = out["input_ids"], out["mlm_input_ids"], out["mlm_labels"]
    assert ids.shape == masked.shape == labels.shape == (4, 40)
    assert (ids[:, 0] == F.CLS_ID).all() and (ids[:, -1] == F.SEP_ID).all()
    chosen = labels != -100
    assert (chosen.sum(1) == round(0.15 * 38)).all()
    assert not chosen[:, 0].any() and not chosen[:, -1].any()
    assert (masked[chosen] == F.MASK_ID).all() and torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(masked[~chosen], ids[~chosen])
    again = F.make_batch(batch_size=4, seq_len=40, seed=5, data_dir=DATA)
    assert all(torch.equal(out[k], again[k]) for k in out)
    other = F.make_batch(batch_size=4, seq_len=40, seed=6, data_dir=DATA)
    assert not torch.equal(other["mlm_labels"], labels)
    assert set(F.make_batch(2, 16, 0, data_dir=DATA, objective="sum")) == {"input_ids"}
    with pytest.raises(ValueError, match="allowed: mlm, sum"):
        F.make_batch(2, 16, 0, data_dir=DATA, objective="clm")


def test_space_object_and_descriptors():
    space = F.SPACE
    assert (space.name, space.benchmark, space.variants, space.default_variant) == \
        ("flexibert", "nas-bench-bert", ("trained", "space", "reference"), "trained")
    assert (space.objectives, space.default_objective, space.default_seq_len) == \
        (("mlm", "sum"), "mlm", 128)
    rec = benchmark()[0]  # 4 layers, hidden 256
    desc = space.descriptors(rec)
    assert desc["n_layers"] == 4 and desc["hidden_size"] == 256
    assert desc["layers_then_hidden"] == 40256
    assert desc["n_params_reference"] == 13330176  # the published count of record 0
