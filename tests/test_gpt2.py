"""The LTS benchmark loader and the GPT-2 (hf_gpt2_flex) builder, on the published records."""
from __future__ import annotations

import dataclasses
import math
import shutil

import pytest
import torch
import yaml

from conftest import DATA
from lpzero_gp.benchmarks import lts
from lpzero_gp.errors import DataFileError, RecordError
from lpzero_gp.spaces import get_space
from lpzero_gp.spaces import gpt2
from lpzero_gp.spaces.taps import Tap

FOLDER = DATA / lts.DEFAULT_FOLDER
# the smallest records of each embedding kind: div_val 4, div_val 2, div_val 1 with a
# projection (d_embed 128 != d_model 64), div_val 1 without one (d_embed = d_model = 128)
SMALL = ("config_9_j3", "config_15_j5", "config_11_j5", "config_10_j6")


@pytest.fixture(scope="module")
def bench():
    return lts.load()


@pytest.fixture(scope="module")
def batch():
    return gpt2.make_batch(batch_size=2, seq_len=32, seed=0)


def _uniform_nll(config: lts.LtsConfig, targets: torch.Tensor) -> float:
    """Mean NLL of an adaptive softmax whose logits are all equal."""
    head = math.log(config.cutoffs[0] + config.n_clusters - 1)
    total = 0.0
    for t in targets.tolist():
        c = next(i for i in range(config.n_clusters) if t < config.cutoffs[i])
        lo, hi = config.cluster_bounds(c)
        total += head + (math.log(hi - lo) if c else 0.0)
    return total / targets.numel()


# -- loader ------------------------------------------------------------------------------

def test_loader_reads_every_record_lower_ppl_is_better(bench):
    ppl = yaml.safe_load((FOLDER / "ppl_summary.yaml").read_text())
    assert len(bench) == 140 == len(ppl)
    assert bench.higher_is_better is False and bench.label_name == "valid_ppl"
    for rec in bench:
        assert rec.label == ppl[rec.id]["valid_ppl"]
        assert rec.quality == -rec.label
        assert rec.extra["ppl"]["test_ppl"] == ppl[rec.id]["test_ppl"]
    keys = [tuple(int(x) for x in r.id[len("config_"):].split("_j")) for r in bench]
    assert keys == sorted(keys)
    best = max(bench, key=lambda r: r.quality)
    assert best.label == min(p["valid_ppl"] for p in ppl.values())


def test_config_is_cleaned_like_archai(bench):
    cfg = bench.by_id("config_0_j2").config
    assert (cfg.n_layer, cfg.d_model, cfg.d_embed, cfg.div_val) == (16, 512, 128, 1)
    assert cfg.cutoffs == (19997, 39997, 50264)  # published [19997, 39997, 199997, 50264]
    assert cfg.tie_projs == (False, True, True) and cfg.tie_weight
    assert cfg.n_head[:3] == (4, 8, 2) and len(cfg.n_head) == len(cfg.d_inner) == 16
    assert all(r.config.cutoffs == (19997, 39997, 50264) for r in bench)


@pytest.fixture()
def folder_copy(tmp_path):
    dest = tmp_path / "lts"
    shutil.copytree(FOLDER, dest)
    return dest


def test_malformed_yaml_names_the_file(folder_copy):
    (folder_copy / "params_summary.yaml").write_text("config_0_j2: {AdaEmb: [1,\n")
    with pytest.raises(DataFileError, match="params_summary.yaml"):
        lts.load(folder_copy)


def test_missing_summary_and_folder_are_named(folder_copy, tmp_path):
    (folder_copy / "ppl_summary.yaml").unlink()
    with pytest.raises(DataFileError, match="ppl_summary.yaml"):
        lts.load(folder_copy)
    with pytest.raises(DataFileError, match="nowhere"):
        lts.load(tmp_path / "nowhere")


def test_record_missing_from_one_file_names_file_and_record(folder_copy):
    ppl_path = folder_copy / "ppl_summary.yaml"
    ppl = yaml.safe_load(ppl_path.read_text())
    del ppl["config_3_j4"]
    ppl_path.write_text(yaml.safe_dump(ppl))
    with pytest.raises(RecordError, match=r"config_3_j4.*ppl_summary\.yaml"):
        lts.load(folder_copy)
    with pytest.warns(UserWarning, match=r"config_3_j4.*ppl_summary\.yaml"):
        loose = lts.load(folder_copy, strict=False)
    assert len(loose) == 139 and "config_3_j4" not in loose.ids


def test_missing_config_file_names_it(folder_copy):
    (folder_copy / "config_5" / "j1" / "model_config.yaml").unlink()
    with pytest.raises(RecordError, match=r"config_5_j1.*config_5/j1/model_config\.yaml"):
        lts.load(folder_copy)


def test_malformed_config_names_file_and_record(folder_copy):
    path = folder_copy / "config_0" / "j2" / "model_config.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["n_head"] = raw["n_head"][:3]  # shorter than n_layer = 16
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RecordError, match=r"config_0/j2/model_config\.yaml.*config_0_j2.*n_head"):
        lts.load(folder_copy)


def test_long_lists_are_cut_and_d_embed_minus_one_means_d_model(folder_copy):
    path = folder_copy / "config_0" / "j2" / "model_config.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["n_head"] = raw["n_head"] + [7, 7]
    raw["d_embed"] = -1
    path.write_text(yaml.safe_dump(raw))
    cfg = lts.load(folder_copy).by_id("config_0_j2").config
    assert cfg.n_head == tuple(raw["n_head"][:16]) and cfg.d_embed == 512


# -- parameter counts: exact, every record -----------------------------------------------

def test_parameter_counts_match_params_summary_for_every_record(bench):
    for rec in bench:
        counts = gpt2.parameter_counts(gpt2.build(rec, device="meta"))
        published = rec.extra["params"]
        for key in ("Attn", "FFN", "nonembedding", "AdaEmb", "total"):
            assert counts[key] == published[key], (rec.id, key, counts[key], published[key])


def test_descriptors(bench):
    rec = bench.by_id("config_0_j2")
    d = gpt2.descriptors(rec)
    assert d["n_params_nonembedding"] == rec.extra["params"]["nonembedding"]
    assert d["n_params_total"] == rec.extra["params"]["total"]
    assert d["layers_x_dmodel2"] == 16 * 512 ** 2
    assert d["layers_then_hidden"] == 16 * 10000 + 512
    assert (d["n_layers"], d["d_model"]) == (16, 512)


# -- real models ---------------------------------------------------------------------------

@pytest.mark.parametrize("rid", SMALL)
def test_clm_loss_at_init_and_finite_grads(bench, batch, rid):
    rec = bench.by_id(rid)
    model = gpt2.build(rec, seed=0)
    assert not model.training
    loss = model.objective(batch, "clm")
    ids = batch["input_ids"]
    with torch.no_grad():
        hidden = model(ids)[:, :-1].reshape(-1, rec.config.d_model)
        target, current = ids[:, 1:].reshape(-1), ids[:, :-1].reshape(-1)
        nll = model.crit(hidden, target, model.wte)
    torch.testing.assert_close(loss.detach(), nll.mean())
    assert abs(loss.item() - math.log(50264)) < 1.0
    # logits are near zero at init: where the next token differs from the current one, the
    # loss is that of a uniform adaptive softmax
    fresh = target != current
    assert abs(nll[fresh].mean().item() - _uniform_nll(rec.config, target[fresh])) < 0.1
    if rid == "config_10_j6":  # tied table, no projection: h ~ e(current) scores a repeat high
        assert nll[~fresh].max() < _uniform_nll(rec.config, target[~fresh]) - 1.0
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for block in model.proxy_layers():
        for name, p in block.named_parameters():
            assert p.grad.abs().sum() > 0, name
    hidden = model(ids)
    assert hidden.shape == (2, 32, rec.config.d_model)
    assert torch.isfinite(model.objective(batch, "sum"))


def test_taps_per_layer_and_shapes(bench, batch):
    rec = bench.by_id("config_16_j9")  # 10 layers, heterogeneous heads / widths
    model = gpt2.build(rec, seed=0)
    seen = []
    for index, block in enumerate(model.proxy_layers()):
        taps = [m for m in block.modules() if isinstance(m, Tap)]
        assert sorted(t.kind for t in taps) == ["A", "H", "S"]
        for tap in taps:
            tap.register_forward_hook(
                lambda mod, args, out, i=index: seen.append((i, mod.kind, out)))
        weights = [p for p in block.parameters() if p.ndim >= 2]
        assert len(weights) == 4  # c_attn, attn c_proj, c_fc, mlp c_proj
    with torch.no_grad():
        model(batch["input_ids"])
    cfg = rec.config
    assert len(seen) == 3 * cfg.n_layer
    for i, kind, out in seen:
        if kind == "H":
            assert out.shape == (2, 32, cfg.d_model)
        elif kind == "A":
            assert out.shape == (2, 32, cfg.d_inner[i])
        else:
            assert out.shape == (2, cfg.n_head[i], 32, 32)
            torch.testing.assert_close(out.sum(-1), torch.ones(2, cfg.n_head[i], 32))
            assert out.triu(diagonal=1).abs().max() == 0  # causal


def test_seeded_build_leaves_global_rng_alone(bench):
    rec = bench.by_id("config_15_j5")
    torch.manual_seed(1234)
    state = torch.get_rng_state()
    a, b = gpt2.build(rec, seed=3), gpt2.build(rec, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    c = gpt2.build(rec, seed=4)
    for (name, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb), name
        if pa.ndim >= 2:
            assert not torch.equal(pa, pc), name
    # the initialisation's scales
    cfg = rec.config
    w = a.h[0].mlp.c_proj.weight
    assert abs(w.std().item() - 0.02 / math.sqrt(2 * cfg.n_layer)) < 0.002
    assert abs(a.h[0].attn.c_attn.weight.std().item() - 0.02) < 0.002
    assert abs(a.wte.projs[0].std().item() - 0.01) < 0.001
    assert torch.all(a.crit.biases[0] == 0) and torch.all(a.h[0].ln_1.weight == 1)


def test_adaptive_softmax_is_a_distribution(bench):
    # a real record's model with its vocabulary shrunk, so every id can be scored
    for rid in ("config_9_j3", "config_11_j5"):
        cfg = dataclasses.replace(bench.by_id(rid).config, n_token=300, cutoffs=(100, 200, 300))
        model = gpt2.build(cfg, seed=0)
        with torch.no_grad():
            for p in model.crit.parameters():  # move away from the near-uniform init
                p.add_(torch.randn_like(p))
            hidden = torch.randn(3, cfg.d_model)
            targets = torch.arange(cfg.n_token)
            nll = model.crit(hidden.repeat_interleave(cfg.n_token, 0), targets.repeat(3), model.wte)
        total = torch.logsumexp(-nll.view(3, cfg.n_token), dim=1)
        torch.testing.assert_close(total, torch.zeros(3), atol=1e-4, rtol=0)


def test_tied_weights_are_shared_not_copied(bench):
    model = gpt2.build(bench.by_id("config_11_j5"), seed=0)  # div_val 1, tied projection
    table = model.wte.table_weight(1)
    w, _ = model.crit._weight_bias(1, model.wte)
    assert w.data_ptr() == table.data_ptr()
    assert model.crit._proj(1, model.wte) is model.wte.projs[0]
    assert model.crit._proj(0, model.wte) is model.crit.projs["0"]  # head projection untied


def test_space_and_batches(bench):
    space = get_space("gpt2")
    assert space is gpt2.SPACE and space.benchmark == "lts-gpt2"
    batch = space.make_batch(batch_size=3, seq_len=20, seed=1)
    assert batch["input_ids"].shape == (3, 20) and int(batch["input_ids"].max()) < 50257
    assert torch.equal(batch["input_ids"], space.make_batch(3, 20, seed=1)["input_ids"])
    model = space.build(bench.by_id("config_9_j3"), "lts", 0)
    with pytest.raises(ValueError, match="objective"):
        model.objective(batch, "mlm")
    with pytest.raises(ValueError, match="tgt_len"):
        model(torch.zeros(1, 193, dtype=torch.long))
    with pytest.raises(ValueError, match="variant"):
        space.build(bench.by_id("config_9_j3"), "bert", 0)
