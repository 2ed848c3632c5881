"""The space contract, checked on every registered space; the registry and entry points."""
from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from lpzero_gp import introspect, spaces
from lpzero_gp.bank import INPUT_NAMES, INPUTS, MODEL_LAYER
from lpzero_gp.cache import code_fingerprint
from lpzero_gp.capture import capture_inputs
from lpzero_gp.spaces import Space, get_space, register_space, space_names
from lpzero_gp.corpus import _kind as tokenizer_kind

NAMES = space_names()


def test_builtin_spaces_are_registered():
    assert {"flexibert", "gpt2", "llama"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_declared_members(name):
    space = get_space(name)
    assert isinstance(space, Space) and space.name == name
    assert not inspect.isabstract(type(space))
    assert space.variants and space.default_variant == space.variants[0]
    assert space.objectives and "sum" in space.objectives
    assert space.lm_objective is None or space.lm_objective in space.objectives
    assert space.default_seq_len >= 4 and tokenizer_kind(space.tokenizer).name == space.tokenizer
    assert all(isinstance(t, type) and issubclass(t, nn.Module) for t in space.norm_types)
    files = space.source_files()
    assert files and all(f.is_file() for f in files) and len(code_fingerprint(name)) == 16
    for proxy in space.published:
        from lpzero_gp.language import Proxy
        Proxy.parse(proxy.formula, proxy.language)
    with pytest.raises(ValueError, match=name):
        space.check_variant("no-such-variant")
    with pytest.raises(ValueError, match="no-such-objective"):
        space.check_objective("no-such-objective")


@pytest.mark.parametrize("name", NAMES)
def test_built_model_honours_the_contract(name, data_dir):
    space = get_space(name)
    example = space.example(data_dir=data_dir)
    desc = space.descriptors(example)
    assert "n_layers" in desc and set(space.headline_descriptors) <= set(desc)
    assert all(isinstance(v, float) for v in desc.values())
    model = space.build(example, seed=0)
    layers = model.proxy_layers()
    assert len(layers) == int(desc["n_layers"])
    assert not model.training
    # the space's normalisation types are the model's normalisation modules
    assert any(isinstance(m, space.norm_types) for m in model.modules())
    meta = space.build(example, device="meta")
    assert sum(p.numel() for p in meta.parameters()) == sum(p.numel()
                                                            for p in model.parameters())
    batch = space.make_batch(batch_size=2, seq_len=16, seed=0)
    assert batch["input_ids"].shape == (2, 16) and batch["input_ids"].dtype == torch.long
    for objective in space.objectives:
        obj_batch = space.make_batch(batch_size=2, seq_len=16, seed=0, objective=objective)
        loss = model.objective(obj_batch, objective)
        assert loss.ndim == 0 and torch.isfinite(loss)
    inputs = capture_inputs(model, space.make_batch(2, 16, 0), space.default_objective,
                            max_elements=512)
    for kind in INPUT_NAMES:
        sketches = inputs.tensors[kind]
        assert sketches, f"{name}: no {kind}"
        layers_seen = {s.layer for s in sketches}
        if INPUTS[kind].level == "model":
            assert layers_seen == {MODEL_LAYER}
        else:
            assert layers_seen == set(range(len(layers)))
    # taps are found the same way by capture and by the hand-designed proxies' recorder
    for index, layer in enumerate(layers):
        kinds = {p.kind for p in introspect.tap_points(model, index, layer)}
        assert kinds == {"A", "H", "S"}
    pos = space.position_embedding(model)
    assert pos is None or isinstance(pos, nn.Embedding)


class _Toy(Space):
    name = "toy_space_for_tests"
    benchmark = "none"
    variants = ("only",)
    objectives = ("sum",)
    default_seq_len = 8

    def load_benchmark(self, path=None, data_dir=None):
        raise NotImplementedError

    def build(self, record_or_config, variant=None, seed=0, **options):
        raise NotImplementedError

    def make_batch(self, batch_size, seq_len, seed=0, text_path=None, data_dir=None,
                   objective=None):
        raise NotImplementedError

    def descriptors(self, record):
        return {"n_layers": 1.0}


def test_register_space_and_entry_points(monkeypatch):
    monkeypatch.setattr(spaces, "_REGISTRY", dict(spaces._REGISTRY))
    register_space(_Toy)
    assert get_space("toy_space_for_tests").name == "toy_space_for_tests"
    assert "toy_space_for_tests" in space_names()

    class Clash(_Toy):
        pass

    with pytest.raises(ValueError, match="already registered"):
        register_space(Clash())
    with pytest.raises(TypeError):
        register_space(object())

    class EntryPoint:
        name = "toy_from_entry_point"

        def load(self):
            class FromPlugin(_Toy):
                name = "toy_from_entry_point"
            return FromPlugin

    monkeypatch.setattr(spaces, "entry_points", lambda group: [EntryPoint()]
                        if group == spaces.ENTRY_POINT_GROUP else [])
    assert "toy_from_entry_point" in space_names()
    assert get_space("toy_from_entry_point").name == "toy_from_entry_point"
    with pytest.raises(ValueError, match="known spaces: .*llama"):
        get_space("resnet")


def test_cli_offers_every_registered_space(capsys):
    from lpzero_gp.cli import main
    try:
        main(["evaluate", "--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    for name in NAMES:
        assert name in out
    assert main(["spaces"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == list(NAMES)
    assert "presets wide, narrow, tiny" in lines[NAMES.index("llama")]
