"""The primitive registry: every primitive passes its probe check; a wrong one is caught."""
from __future__ import annotations

import dataclasses

import pytest
import sympy as sp
import torch

from lpzero_gp.language import (REGISTRY, Primitive, Scalar, ScalarL, TensorL, check_registry,
                                load_language)
from lpzero_gp.language import ops
from lpzero_gp.language.types import TensorValue


def test_every_primitive_passes_the_probe_check():
    assert check_registry() == {}
    assert len(REGISTRY) >= 60
    for name, prim in REGISTRY.items():
        assert name == prim.name and name.isidentifier()
        assert all(t in (TensorL, ScalarL, Scalar) for t in (*prim.args, prim.ret))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_primitive_alone(name):
    assert check_registry({name: REGISTRY[name]}) == {}


def _broken(name, **changes):
    return {name: dataclasses.replace(REGISTRY[name], **changes)}


def test_an_in_place_primitive_is_caught():
    def log_in_place(t):
        t.values.clamp_(min=1.0)  # in place, as the public LPZero code did to live weights
        return TensorValue(torch.log(t.values), t.numel)
    with pytest.raises(RuntimeError, match="log: .*modifies its inputs"):
        check_registry(_broken("log", fn=log_in_place))


def test_a_wrong_shape_or_type_is_caught():
    with pytest.raises(RuntimeError, match="t_mean: .*expected shape"):
        check_registry(_broken("t_mean", fn=lambda t: t.values.mean()))
    with pytest.raises(RuntimeError, match="square: .*not a TensorValue"):
        check_registry(_broken("square", fn=lambda t: t.values ** 2))


def test_a_hidden_domain_problem_is_caught():
    # a log declared on the reals gives NaN on the probe's negatives
    with pytest.raises(RuntimeError, match="log: non-finite result on its domain"):
        check_registry(_broken("log", domain="real"))
    # an aggregation that lets a padding layer through is caught (padding holds NaN)
    with pytest.raises(RuntimeError, match="layer_mean: non-finite"):
        check_registry(_broken("layer_mean", fn=lambda mask, x: x.mean(dim=-1)))
    # an operation declared undefined must give NaN, not a guard value
    with pytest.raises(RuntimeError, match="l_znorm: declared undefined"):
        check_registry(_broken("l_znorm", fn=lambda x: torch.zeros_like(x)))


def test_bad_declarations_are_caught():
    with pytest.raises(RuntimeError, match="not a valid Python identifier"):
        check_registry({"bad name": dataclasses.replace(REGISTRY["abs"], name="bad name")})
    with pytest.raises(RuntimeError, match="unknown primitive 'nope'"):
        check_registry(_broken("exp", inverse_of="nope"))
    with pytest.raises(RuntimeError, match="commutative but not binary"):
        check_registry(_broken("abs", commutative=True))


def test_algebraic_properties():
    assert REGISTRY["neg"].involution and REGISTRY["inverse"].involution
    assert REGISTRY["abs"].idempotent and REGISTRY["relu"].idempotent
    assert REGISTRY["log"].inverse_of == "exp" and REGISTRY["exp"].inverse_of == "log"
    assert REGISTRY["l_log"].inverse_of == "l_exp"
    assert REGISTRY["add"].commutative and REGISTRY["l_mul"].commutative
    assert not REGISTRY["sub"].commutative and not REGISTRY["l_div"].commutative
    assert REGISTRY["neg"].monotone == "decreasing" and REGISTRY["exp"].monotone == "increasing"
    assert {p.kind for p in REGISTRY.values()} == {
        "elementwise", "normalisation", "reduction", "one_value", "binary", "aggregation"}
    assert REGISTRY["t_fro"].size_aware and not REGISTRY["t_mean"].size_aware
    assert REGISTRY["t_fro"].scalar_form == "l_fro" and REGISTRY["logsoftmax"].scalar_form \
        == "l_logsoftmax"


def test_the_same_math_at_every_level():
    x = torch.tensor([[0.5, -2.0, 3.0]], dtype=torch.float64)
    t = TensorValue(x.float().unsqueeze(-1), torch.ones(1, 3, dtype=torch.float64))
    for name in ("log1pabs", "tanh", "sqrtpos", "abslog", "sigmoid"):
        tensor_level = REGISTRY[name].fn(t).values.squeeze(-1).double()
        layer_level = REGISTRY["l_" + name].fn(x)
        arch_level = REGISTRY["s_" + name].fn(x[0])
        assert torch.allclose(tensor_level, layer_level, rtol=1e-6, equal_nan=True)
        assert torch.allclose(layer_level[0], arch_level, equal_nan=True)
    # no protection: log of a negative is NaN, not a guard value
    assert torch.isnan(ops.log(torch.tensor(-1.0)))


def test_one_value_forms_are_the_maths_of_one_value():
    x = torch.tensor([[0.3, -4.0]], dtype=torch.float64)
    assert torch.equal(REGISTRY["l_softmax"].fn(x), torch.ones_like(x))
    assert torch.equal(REGISTRY["l_logsoftmax"].fn(x), torch.zeros_like(x))
    assert torch.isnan(REGISTRY["l_znorm"].fn(x)).all()
    assert torch.isnan(REGISTRY["l_std"].fn(x)).all()
    assert torch.equal(REGISTRY["l_fro"].fn(x), x.abs())
    assert torch.equal(REGISTRY["l_mean"].fn(x), x)


def test_pset_is_derived_from_the_registry():
    for name in ("default", "lpzero"):
        lang = load_language(name)
        assert lang.pset.ret is Scalar
        for op_name, prim in lang.primitives.items():
            node = lang.pset.mapping[op_name]
            assert isinstance(prim, Primitive)
            assert list(node.args) == list(prim.args) and node.ret is prim.ret
        assert {n for n, node in lang.pset.mapping.items() if node.arity == 0} \
            == set(lang.inputs)


def test_sympy_and_latex_come_from_the_registry():
    h = sp.Symbol("H_l", real=True)
    assert sp.latex(REGISTRY["t_fro"].sympy(h)) == r"\left\lVert H_{l} \right\rVert_F"
    assert sp.latex(REGISTRY["t_mean"].sympy(h**2)) == r"\operatorname{mean}\left(H_{l}^{2}\right)"
    assert str(REGISTRY["layer_mean"].sympy(h)) == "layer_mean(H_l)"
