"""The llama space: transformers' LLaMA code with per-layer widths, capture, sub-network views,
LoNAS's 7B preset on the meta device, and evaluate / baselines on a benchmark built by training."""
from __future__ import annotations

import json

import pytest
import torch
from transformers.models.llama.modeling_llama import LlamaAttention, LlamaMLP

from lpzero_gp.bank import INPUT_NAMES
from lpzero_gp.capture import TensorCapture, capture_inputs
from lpzero_gp.errors import ConfigError, RecordError
from lpzero_gp.spaces import get_space
from lpzero_gp.spaces.llama import (LONAS_7B_FFN, LONAS_7B_HEURISTIC, ElasticLinear, LlamaArch,
                                    build_scratch, build_supernet, lonas_7b, materialise,
                                    parameter_count)

SPACE = get_space("llama")
ARCH = LlamaArch(64, (2, 4, 1), (128, 96, 160), head_dim=16)
SUPER = LlamaArch(64, (4, 4, 4), (160, 160, 160), head_dim=16,
                  lora_attn=(8, 8, 8), lora_ffn=(8, 8, 8), lora_down=(8, 8, 8))
SUB = LlamaArch(64, (2, 4, 1), (96, 160, 32), head_dim=16,
                lora_attn=(4, 8, 2), lora_ffn=(8, 4, 6), lora_down=(8, 8, 8))


def _state(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_per_layer_modules_are_transformers_own():
    model = build_scratch(ARCH, seed=0)
    for layer, heads, ffn in zip(model.model.layers, ARCH.heads, ARCH.ffn):
        assert type(layer.self_attn) is LlamaAttention and type(layer.mlp) is LlamaMLP
        assert layer.self_attn.q_proj.out_features == heads * 16
        assert layer.mlp.up_proj.out_features == ffn
    assert model.config._attn_implementation == "eager"
    assert sum(p.numel() for p in model.parameters()) == parameter_count(ARCH)["total"]


def test_initialisation_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b, c = (build_scratch(ARCH, seed=s) for s in (0, 0, 1))
    assert torch.equal(torch.get_rng_state(), before)
    for (name, p), q, r in zip(a.named_parameters(), b.parameters(), c.parameters()):
        assert torch.equal(p, q), name
        if "norm" not in name:
            assert not torch.equal(p, r), name
    w = a.model.layers[0].self_attn.q_proj.weight
    assert abs(float(w.detach().std()) - 0.02) < 0.002
    assert torch.equal(a.model.norm.weight, torch.ones(64))


def test_capture_one_entry_per_decoder_layer_hooks_removed_model_untouched():
    model = build_scratch(ARCH, seed=0)
    before = _state(model)
    batch = SPACE.make_batch(2, 16, seed=0)
    with TensorCapture(model, max_elements=None) as cap:
        cap.backward(model.objective(batch, "clm"))
    inputs = cap.inputs()
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
        assert not m._backward_hooks
    assert all(p.grad is None for p in model.parameters())
    after = _state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    t = inputs.tensors
    for kind in ("A", "H", "J"):
        assert [s.layer for s in t[kind]] == [0, 1, 2]
    # A is the SwiGLU product entering down_proj; H the q_proj output (heads * head_dim)
    assert [s.rows.shape for s in t["A"]] == [(32, f) for f in ARCH.ffn]
    assert [s.rows.shape for s in t["H"]] == [(32, h * 16) for h in ARCH.heads]
    # S: one tensor per head, rows are causal attention distributions over 16 keys
    assert [s.layer for s in t["S"]] == [0, 0, 1, 1, 1, 1, 2]
    for s in t["S"]:
        assert s.rows.shape == (32, 16)
        assert torch.allclose(s.rows.sum(1), torch.ones(32), atol=1e-5)
        assert float(s.rows.reshape(2, 16, 16).triu(1).abs().max()) == 0.0
    names = [s.name for s in t["W"] if s.layer == 0]
    assert names == [f"self_attn.{p}_proj.weight" for p in "qkvo"] + [
        f"mlp.{p}_proj.weight" for p in ("gate", "up", "down")]
    assert [s.name for s in t["WE"]] == ["model.embed_tokens.weight", "lm_head.weight"]
    # W / G are paired by module name and G is the gradient of the objective
    model.zero_grad()
    model.objective(batch, "clm").backward()
    for w, g in zip(t["W"], t["G"]):
        assert w.name == g.name
        param = dict(model.named_parameters())[f"model.layers.{w.layer}.{w.name}"]
        assert torch.equal(w.rows, param.detach()) and torch.allclose(g.rows, param.grad,
                                                                     atol=1e-7)


def _with_lora(net):
    with torch.no_grad():
        gen = torch.Generator().manual_seed(5)
        for m in net.modules():
            if isinstance(m, ElasticLinear) and m.lora_B is not None:
                m.lora_B.normal_(0, 0.02, generator=gen)
    return net


def test_subnetwork_view_equals_materialised_subnetwork():
    net = _with_lora(build_supernet(SUPER, seed=1))
    ids = SPACE.make_batch(2, 16, seed=3)["input_ids"]
    full = net(input_ids=ids).logits
    view = net.activate(SUB)
    mat = materialise(view)
    assert sum(p.numel() for p in mat.parameters()) == parameter_count(SUB)["total"]
    assert torch.allclose(view(input_ids=ids).logits, mat(input_ids=ids).logits, atol=1e-6)
    assert not torch.allclose(view(input_ids=ids).logits, full, atol=1e-3)
    # no weight was copied: the view's weights are the super-network's
    assert view.model.layers[0].mlp.up_proj.weight.shape == (160, 64)
    # W and G of the view are those of the materialised sub-network
    batch = {"input_ids": ids}
    got = capture_inputs(view, batch, "clm", max_elements=None).tensors
    want = capture_inputs(mat, batch, "clm", max_elements=None).tensors
    for kind in INPUT_NAMES:
        assert len(got[kind]) == len(want[kind]), kind
        for a, b in zip(got[kind], want[kind]):
            assert a.name == b.name and a.rows.shape == b.rows.shape, (kind, a.name)
            assert torch.allclose(a.rows, b.rows, atol=1e-5, rtol=1e-4), (kind, a.name)
    # back to the whole network
    assert torch.allclose(net.activate(SUPER)(input_ids=ids).logits, full)
    with pytest.raises(ConfigError, match="not a sub-network"):
        net.activate(LlamaArch(64, (8, 4, 4), (160, 160, 160), head_dim=16))


def test_subnet_variant_reads_the_supernet_from_the_record_or_option():
    view = SPACE.build(ARCH, "subnet", seed=0, supernet=SUPER.to_dict())
    assert view.arch == ARCH and view.supernet_arch == SUPER
    assert SPACE.build(ARCH, "subnet", seed=0, supernet=SUPER) is view  # one super-network
    with pytest.raises(ConfigError, match="super-network"):
        SPACE.build(ARCH, "subnet", seed=0)
    standalone = view.standalone()
    assert sum(p.numel() for p in standalone.parameters()) == parameter_count(ARCH)["total"]


def test_lonas_7b_parameter_counts_on_the_meta_device():
    # specs/llama.md: uniform FFN choices give 6.738, 6.197, 5.656, 5.115, 4.574 B
    published = (6.738, 6.197, 5.656, 5.115, 4.574)
    for ffn, billions in zip(LONAS_7B_FFN, published):
        arch = lonas_7b(ffn, lora=False)
        meta = build_scratch(arch, device="meta")
        count = sum(p.numel() for p in meta.parameters())
        assert count == parameter_count(arch)["total"]
        assert round(count / 1e9, 3) == billions
    assert parameter_count(lonas_7b(11008))["lora"] == 32 * 2_236_416  # 2.24 M per layer
    assert round(parameter_count(LONAS_7B_HEURISTIC, lora=False)["total"] / 1e9, 3) == 5.656
    sup = build_supernet(lonas_7b(11008), device="meta")
    view = sup.activate(LONAS_7B_HEURISTIC)
    assert view.model.layers[31].mlp.down_proj.active_in == 8256


def test_architecture_json_errors_name_the_problem():
    assert LlamaArch.from_dict(ARCH.to_dict()) == ARCH
    with pytest.raises(ConfigError, match="unknown key"):
        LlamaArch.from_dict({"hidden_size": 64, "heads": [2], "ffn": [64], "layers": 2})
    with pytest.raises(ConfigError, match="one entry per layer"):
        LlamaArch(64, (2, 2), (64,))
    with pytest.raises(ConfigError, match="even"):
        LlamaArch(64, (2,), (64,), head_dim=15)


# -- a benchmark built by training, evaluate and baselines on it --------------------------

ARCHS = [dict(hidden_size=h, heads=[2] * n, ffn=[2 * h] * n, head_dim=16)
         for h, n in ((32, 1), (64, 1), (32, 2), (64, 2))]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from lpzero_gp.benchmarks.builder import BuildPlan, TrainSettings, build
    settings = TrainSettings(steps=6, batch_size=4, seq_len=32, val_batches=1, warmup=2)
    path = tmp_path_factory.mktemp("llama") / "bench.jsonl"
    build(BuildPlan("llama", ARCHS[:3], seeds=(0,), settings=settings), path, progress=False)
    lines = path.read_text().splitlines()
    # resumable: a second run with one more architecture trains only that one
    build(BuildPlan("llama", ARCHS, seeds=(0,), settings=settings), path, progress=False)
    assert path.read_text().splitlines()[:3] == lines and len(path.read_text().splitlines()) == 4
    return path


def test_built_benchmark_records(built):
    bench = SPACE.load_benchmark(built)
    assert len(bench) == 4 and not bench.higher_is_better
    line = json.loads(built.read_text().splitlines()[0])
    assert set(line) >= {"arch", "seed", "val_loss", "params", "wall_s", "versions",
                         "corpus_sha256"}
    assert list(line["val_loss"]) == ["1", "3", "4", "6"]
    r = bench[0]
    assert r.label == line["val_loss"]["6"] and r.quality == -r.label
    assert r.config == LlamaArch.from_dict(ARCHS[0])


def test_built_benchmark_bad_lines(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"arch": {"hidden_size": 32, "heads": [1], "ffn": [64]}, "seed": 0}\n')
    with pytest.raises(RecordError, match=r"bad.jsonl:1: missing key\(s\) \['val_loss'\]"):
        SPACE.load_benchmark(path)
    path.write_text('{"arch": {"hidden_size": 32, "heads": [1], "ffn": [64], "x": 1}, '
                    '"seed": 0, "val_loss": {"4": 5.0}}\n')
    with pytest.raises(RecordError, match="bad.jsonl:1: unknown key"):
        SPACE.load_benchmark(path)
    with pytest.raises(ConfigError, match="--benchmark"):
        SPACE.load_benchmark()


def test_evaluate_and_baselines_on_llama(built, tmp_path, capsys):
    from scipy.stats import spearmanr

    from lpzero_gp.cli import main
    formula = "layer_mean(pool_mean(t_fro(G)))"
    assert main(["evaluate", "--space", "llama", "--benchmark", str(built), "--proxy", formula,
                 "--batch-size", "2", "--seq-len", "16", "--json",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    out = json.loads(capsys.readouterr().out)
    bench = SPACE.load_benchmark(built)
    scores = [out["scores"][r.id] for r in bench]
    assert out["n"] == 4
    assert out["spearman_rho"] == pytest.approx(spearmanr(scores, bench.quality())[0])
    assert main(["baselines", "--space", "llama", "--benchmark", str(built), "--batch-size", "2",
                 "--seq-len", "16", "--out", str(tmp_path / "bl"), "--n-boot", "50",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    details = json.loads((tmp_path / "bl" / "details.json").read_text())
    rows = {r["key"]: r for r in details["statistics"]}
    text = (tmp_path / "bl" / "table.md").read_text()
    assert "SNIP" in text and "n_layer * hidden^2" in text
    assert rows["hand:snip"]["n"] == 4 and rows["hand:synflow"]["n"] == 4
    assert rows["descriptor:n_params_nonembedding"]["n"] == 4
    # the position-table proxy is declared not applicable under RoPE, not silently wrong
    assert rows["hand:jacobian_score"]["n"] == 0
    assert "no position-embedding table" in json.dumps(details)
    assert "published:lpzero" not in rows  # LPZero published no LLaMA formula


def test_supernet_from_a_local_checkpoint(tmp_path):
    source = _with_lora(build_supernet(SUPER, seed=4))
    source.save_pretrained(tmp_path / "ckpt")
    loaded = build_supernet(SUPER, seed=99, checkpoint=tmp_path / "ckpt")
    for (name, a), b in zip(source.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ConfigError, match="no safetensors checkpoint"):
        build_supernet(SUPER, checkpoint=tmp_path / "missing")
    other = LlamaArch(64, (4, 4), (160, 160), head_dim=16)
    with pytest.raises(ConfigError, match="does not match"):
        build_supernet(other, checkpoint=tmp_path / "ckpt")
