"""The primitive registry: every primitive passes its probe check; a wrong one is caught, a good
custom one is registered and works in a user language."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import sympy as sp
import torch

from lpzero_gp.bank import InputBank, Inputs, TensorSketch
from lpzero_gp.language import (REGISTRY, Each, Pooled, Primitive, Proxy, Scalar, ScalarL,
                                Tensor, check_registry, load_language, register_primitive)
from lpzero_gp.language import ops
from lpzero_gp.language.types import EachValue, TensorValue, concrete


def test_every_primitive_passes_the_probe_check():
    assert check_registry() == {}
    assert len(REGISTRY) >= 100
    for name, prim in REGISTRY.items():
        assert name == prim.name and name.isidentifier()
        assert all(t in (Tensor, Each, Pooled, ScalarL, Scalar) for t in (*prim.args, prim.ret))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_primitive_alone(name):
    assert check_registry({name: REGISTRY[name]}) == {}


def _broken(name, **changes):
    return {name: dataclasses.replace(REGISTRY[name], **changes)}


def _log_in_place(t):
    for b in t.blocks:
        b.clamp_(min=1.0)  # in place, as the public LPZero code did to live weights
    return TensorValue(tuple(torch.log(b) for b in t.blocks), t.layout)


def test_an_in_place_primitive_is_caught():
    with pytest.raises(RuntimeError, match="log: .*modifies its inputs"):
        check_registry(_broken("log", fn=_log_in_place))

    def mean_in_place(v):
        v.values.abs_()
        return v
    with pytest.raises(RuntimeError, match="v_abslog: .*modifies its inputs"):
        check_registry(_broken("v_abslog", fn=mean_in_place))


def test_a_wrong_shape_or_type_is_caught():
    # a reduction must give one value per tensor: not one per row, not one overall
    per_row = lambda t: EachValue(torch.cat([b.double().mean(-1) for b in t.blocks]),  # noqa
                                  t.layout)
    with pytest.raises(RuntimeError, match=r"t_mean: returns per-tensor values of shape "
                                           r"\(36,\), expected \(12,\)"):
        check_registry(_broken("t_mean", fn=per_row))
    with pytest.raises(RuntimeError, match="t_mean: returns Tensor, not float64 per-tensor"):
        check_registry(_broken("t_mean", fn=lambda t: t.blocks[0].double().mean()))
    with pytest.raises(RuntimeError, match="square: .*not a TensorValue"):
        check_registry(_broken("square", fn=lambda t: t.blocks[0] ** 2))
    # a row operation must keep every row whole
    first_half = lambda t: TensorValue(tuple(b[:, :2] for b in t.blocks), t.layout)  # noqa
    with pytest.raises(RuntimeError, match="softmax: changes the shape of the tensor's rows"):
        check_registry(_broken("softmax", fn=first_half))
    # a pooling gives (N, L), one value per layer: not one per architecture
    with pytest.raises(RuntimeError, match=r"pool_mean: returns torch.Size\(\[3\]\), "
                                           r"expected shape \(3, 3\)"):
        check_registry(_broken("pool_mean", fn=lambda v: ops.layer_mean(
            torch.ones(3, 3, dtype=torch.bool), ops.pool_mean(v))))


def test_a_hidden_domain_problem_is_caught():
    # a log declared on the reals gives NaN on the probe's negatives
    with pytest.raises(RuntimeError, match=r"log: non-finite result on its domain \(real\)"):
        check_registry(_broken("log", domain="real"))
    # an aggregation that lets a padding layer through is caught (padding holds NaN)
    with pytest.raises(RuntimeError, match="layer_mean: non-finite"):
        check_registry(_broken("layer_mean", fn=lambda mask, x: x.mean(dim=-1)))
    # an operation declared undefined must give NaN, not a guard value
    with pytest.raises(RuntimeError, match="v_znorm: declared undefined"):
        check_registry(_broken("v_znorm", fn=lambda v: EachValue(torch.zeros_like(v.values),
                                                                 v.layout)))


def test_bad_declarations_are_caught():
    with pytest.raises(RuntimeError, match="not a valid Python identifier"):
        check_registry({"bad name": dataclasses.replace(REGISTRY["abs"], name="bad name")})
    with pytest.raises(RuntimeError, match="unknown primitive 'nope'"):
        check_registry(_broken("exp", inverse_of="nope"))
    with pytest.raises(RuntimeError, match="commutative but not binary"):
        check_registry(_broken("abs", commutative=True))
    with pytest.raises(RuntimeError, match="scalar_form v_abs is not an Each -> Each form"):
        check_registry(_broken("t_mean", scalar_form="v_abs", args=(Each,)))


def test_the_builtins_are_probed_before_the_first_evaluation(monkeypatch):
    # parsing and printing need no torch: the built-ins are probed when a primitive first
    # runs; a wrong one stops every evaluator (the interpreter, the estimators, the RPS) then
    from lpzero_gp import estimators
    from lpzero_gp.search import rps
    from lpzero_gp.language import interpret, registry
    from lpzero_gp.language import primitive_set
    monkeypatch.setattr(registry, "_checked", False)
    # languages loaded meanwhile hold the broken log: a cache of their own, dropped on undo
    monkeypatch.setattr(primitive_set, "_CACHE", {})
    monkeypatch.setitem(REGISTRY, "log", _broken("log", fn=_log_in_place)["log"])
    tree = Proxy.parse("layer_mean(pool_mean(t_mean(log(abs(W)))))").tree
    bank = object()  # never read: the check comes first
    for run in (lambda: interpret(tree, load_language("default"), bank),
                lambda: estimators._raw_scores({}, bank, None),
                lambda: rps.composition.__wrapped__("log", "abs")):
        with pytest.raises(RuntimeError, match="log: .*modifies its inputs"):
            run()
        assert registry._checked is False
    monkeypatch.undo()  # the right log again
    registry.ensure_checked()
    assert registry._checked is True


# -- register_primitive: the public way to add one ---------------------------------------------


def _rowrange(t: TensorValue) -> EachValue:
    """Mean over the kept rows of each row's range (max - min)."""
    per_row = [(b.amax(dim=-1) - b.amin(dim=-1)).double() for b in t.blocks]
    return EachValue(t.layout.row_sums(per_row) / t.layout.tensor_rows, t.layout)


def _declaration(name, **changes):
    spec = dict(name=name, args=(Tensor,), ret=Each, fn=_rowrange,
                sympy=sp.Function(name, real=True),
                latex=r"\operatorname{{mean}}_{{\mathrm{{row}}}}\operatorname{{range}}"
                      r"\left({0}\right)", kind="reduction", monotone="none")
    spec.update(changes)
    return spec


@pytest.fixture
def registered():
    """Names registered by a test, taken out of the global registry afterwards."""
    names: list[str] = []
    yield names
    for n in names:
        REGISTRY.pop(n, None)


@pytest.mark.parametrize("changes, problem", [
    # one value per row instead of one per tensor
    ({"fn": lambda t: EachValue(torch.cat([b.double().amax(-1) for b in t.blocks]), t.layout)},
     r"returns per-tensor values of shape \(36,\), expected \(12,\)"),
    ({"args": (Tensor,), "ret": Tensor, "kind": "elementwise", "fn": lambda t: TensorValue(
        tuple(b.T.contiguous() for b in t.blocks), t.layout)},
     "changes the shape of the tensor's rows"),
    ({"args": (Tensor,), "ret": Tensor, "kind": "elementwise", "fn": _log_in_place,
      "domain": "positive"}, "modifies its inputs"),
    # a log of the range is -inf on a constant row, and NaN on no row: declared on the reals,
    # the probe's rows are drawn at random, so this one fails on a real problem instead
    ({"fn": lambda t: EachValue(torch.log(_rowrange(t).values - 10.0), t.layout)},
     r"non-finite result on its domain \(real\)"),
    ({"ret": Scalar}, r"returns .*expected shape \(3,\)"),
    ({"kind": "shrink"}, "kind 'shrink' / domain 'real' unknown"),
    ({"fn": lambda t: 1 / 0}, "raises ZeroDivisionError"),
])
def test_register_primitive_rejects_a_broken_one(registered, changes, problem):
    name = "t_rowrange_broken"
    registered.append(name)
    with pytest.raises(ValueError, match=rf"primitive '{name}' fails its checks: .*{problem}"):
        register_primitive(**_declaration(name, **changes))
    assert name not in REGISTRY


def test_register_primitive_refuses_a_taken_name():
    with pytest.raises(ValueError, match="primitive 't_mean' is already registered"):
        register_primitive(**_declaration("t_mean"))


def test_a_registered_primitive_works_in_a_user_language(registered, tmp_path):
    registered.append("t_rowrange")
    prim = register_primitive(**_declaration("t_rowrange", doc="mean row range"))
    assert REGISTRY["t_rowrange"] is prim and isinstance(prim, Primitive) and prim.generic
    assert check_registry() == {}
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\ninputs = ["W", "G", "S"]\n'
                    '[operations]\nt_rowrange = 1.0\nmul = 0.5\npool_max = 1.0\n'
                    'layer_sum = 1.0\n[limits]\nmin_depth = 3\nmax_depth = 5\nmax_nodes = 8\n')
    lang = load_language(path)
    assert [v.args[0].__name__ for v in lang.variants["t_rowrange"]] == ["Tensor_W", "Tensor_S"]
    p = Proxy.parse("layer_sum(pool_max(t_rowrange(mul(W, G))))", lang)
    assert str(p.sympy()) == "layer_sum(pool_max(t_rowrange(G_{l,m}*W_{l,m})))"
    # on a hand-built bank: architecture 0 has two layers, architecture 1 one
    g = torch.Generator().manual_seed(3)
    shapes = [[[(3, 4), (2, 5)], [(4, 4)]], [[(3, 6), (5, 2)]]]
    inputs, want = [], []
    for arch in shapes:
        tensors = {"W": [], "G": [], "S": []}
        total = 0.0
        for layer, mats in enumerate(arch):
            best = -math.inf
            for k, shape in enumerate(mats):
                w, gr = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
                tensors["W"].append(TensorSketch(f"m{k}", layer, w, shape[0]))
                tensors["G"].append(TensorSketch(f"m{k}", layer, gr, shape[0]))
                tensors["S"].append(TensorSketch(f"h{k}", layer, torch.rand(shape, generator=g),
                                                 shape[0]))
                prod = (w * gr).double()
                best = max(best, float((prod.amax(1) - prod.amin(1)).mean()))
            total += best
        inputs.append(Inputs(tensors, len(arch)))
        want.append(total)
    bank = InputBank.from_inputs(inputs, ["a", "b"])
    result = p.evaluate(bank)
    assert result.valid
    np.testing.assert_allclose(result.scores, want, rtol=1e-6)
    # generation uses it too
    import random
    rng = random.Random(0)
    assert any("t_rowrange" in str(lang.generate(rng)) for _ in range(50))


# -- algebra and levels ------------------------------------------------------------------------


def test_algebraic_properties():
    assert REGISTRY["neg"].involution and REGISTRY["inverse"].involution
    assert REGISTRY["abs"].idempotent and REGISTRY["relu"].idempotent
    assert REGISTRY["znorm"].idempotent and REGISTRY["minmax"].idempotent
    assert REGISTRY["log"].inverse_of == "exp" and REGISTRY["exp"].inverse_of == "log"
    assert REGISTRY["l_log"].inverse_of == "l_exp" and REGISTRY["v_log"].inverse_of == "v_exp"
    assert REGISTRY["add"].commutative and REGISTRY["l_mul"].commutative
    assert REGISTRY["v_mul"].commutative and not REGISTRY["v_div"].commutative
    assert not REGISTRY["sub"].commutative and not REGISTRY["l_div"].commutative
    assert REGISTRY["neg"].monotone == "decreasing" and REGISTRY["exp"].monotone == "increasing"
    assert {p.kind for p in REGISTRY.values()} == {
        "elementwise", "row", "binary", "reduction", "one_value", "pooling", "aggregation"}
    kinds = {n: p.kind for n, p in REGISTRY.items()}
    assert {n for n, k in kinds.items() if k == "row"} == {"softmax", "logsoftmax", "znorm",
                                                           "minmax"}
    assert {n for n, k in kinds.items() if k == "pooling"} == {
        "pool_mean", "pool_wmean", "pool_sum", "pool_max", "pool_min"}
    assert {n for n, k in kinds.items() if k == "reduction"} == {
        "t_mean", "t_std", "t_meanabs", "t_sum", "t_fro", "t_l1", "t_rowmax", "t_rowmin",
        "t_rownorm"}
    # size-aware: scaled by an element count, or counting tensors (pool_sum) or layers (layer_sum)
    assert {n for n, p in REGISTRY.items() if p.size_aware} == {"t_sum", "t_fro", "t_l1",
                                                                "pool_sum", "layer_sum"}
    assert REGISTRY["t_fro"].scalar_form == "v_fro"
    assert REGISTRY["logsoftmax"].scalar_form == "v_logsoftmax"
    assert REGISTRY["t_rowmax"].scalar_form is None  # the row maximum of one value: no form
    # tensor binary operations are the elementwise ones that keep the rows aligned
    assert {n for n, p in REGISTRY.items() if p.kind == "binary" and p.args == (Tensor, Tensor)} \
        == {"add", "sub", "mul"}
    for name, prim in REGISTRY.items():
        assert prim.generic == any(t in (Tensor, Each, Pooled) for t in (*prim.args, prim.ret))


def _one_tensor_bank(x: torch.Tensor) -> InputBank:
    """One architecture, one layer, one W tensor holding the rows ``x``, kept whole."""
    return InputBank.from_inputs([Inputs({"W": [TensorSketch("w", 0, x, x.shape[0])]}, 1)],
                                 ["r"])


def test_the_same_math_at_every_level():
    x = torch.tensor([[0.5, -2.0, 3.0]], dtype=torch.float64)
    t = TensorValue(*_one_tensor_bank(x.float()).stacked("W"))
    e = EachValue(x[0], t.layout)
    for name in ("log1pabs", "tanh", "sqrtpos", "abslog", "sigmoid", "square", "neg"):
        tensor_level = REGISTRY[name].fn(t).blocks[0][0].double()
        each_level = REGISTRY["v_" + name].fn(e).values
        layer_level = REGISTRY["l_" + name].fn(x)
        arch_level = REGISTRY["s_" + name].fn(x[0])
        assert torch.allclose(tensor_level, each_level, rtol=1e-6, equal_nan=True), name
        assert torch.equal(each_level, layer_level[0]) and torch.equal(each_level, arch_level)
        assert each_level.dtype == torch.float64 and REGISTRY[name].fn(t).blocks[0].dtype == \
            torch.float32
    # no protection: log of a negative is NaN, not a guard value
    assert torch.isnan(ops.log(torch.tensor(-1.0)))


def test_one_value_forms_are_the_maths_of_one_value():
    x = torch.tensor([0.3, -4.0, 2.5], dtype=torch.float64)
    v = EachValue(x, None)
    assert torch.equal(REGISTRY["v_softmax"].fn(v).values, torch.ones_like(x))
    assert torch.equal(REGISTRY["v_logsoftmax"].fn(v).values, torch.zeros_like(x))
    for undefined in ("v_znorm", "v_minmax", "v_std"):
        assert torch.isnan(REGISTRY[undefined].fn(v).values).all(), undefined
    assert torch.equal(REGISTRY["v_fro"].fn(v).values, x.abs())
    assert torch.equal(REGISTRY["v_meanabs"].fn(v).values, x.abs())
    assert torch.equal(REGISTRY["v_mean"].fn(v).values, x)
    # a non-finite value stays non-finite: softmax of inf is not 1
    bad = EachValue(torch.tensor([math.inf, math.nan], dtype=torch.float64), None)
    assert torch.isnan(REGISTRY["v_softmax"].fn(bad).values).all()
    assert torch.isnan(REGISTRY["v_logsoftmax"].fn(bad).values).all()


def test_pset_is_derived_from_the_registry():
    for name in ("default", "lpzero"):
        lang = load_language(name)
        assert lang.pset.ret is Scalar
        for op_name, prim in lang.primitives.items():
            assert isinstance(prim, Primitive)
            nodes = lang.variants[op_name]
            groups = lang.groups if prim.generic else (None,)
            assert len(nodes) == len(groups)
            for node, group in zip(nodes, groups):
                want = [concrete(t, group) if group else t for t in prim.args]
                assert list(node.args) == want
                assert node.ret is (concrete(prim.ret, group) if group else prim.ret)
                assert lang.variant(op_name, want) is node
        assert {n for n, node in lang.pset.mapping.items() if node.arity == 0} \
            == set(lang.inputs)


def test_sympy_and_latex_come_from_the_registry():
    h = sp.Symbol("H_{l,m}", real=True)
    assert sp.latex(REGISTRY["t_fro"].sympy(h)) == r"\left\lVert H_{l,m} \right\rVert_F"
    assert sp.latex(REGISTRY["t_mean"].sympy(h**2)) == \
        r"\operatorname{mean}\left(H_{l,m}^{2}\right)"
    assert sp.latex(REGISTRY["softmax"].sympy(h)) == \
        r"\operatorname{softmax}_{\mathrm{row}}\left(H_{l,m}\right)"
    assert sp.latex(REGISTRY["t_rowmax"].sympy(h)) == \
        r"\operatorname{mean}_{\mathrm{row}}\max\left(H_{l,m}\right)"
    assert sp.latex(REGISTRY["pool_mean"].sympy(h)) == r"\operatorname{mean}_{m} H_{l,m}"
    assert sp.latex(REGISTRY["pool_wmean"].sympy(h)) == r"\operatorname{mean}^{n}_{m} H_{l,m}"
    assert str(REGISTRY["layer_mean"].sympy(h)) == "layer_mean(H_{l,m})"
    # the row operation and its one-value form are one SymPy function
    assert REGISTRY["logsoftmax"].sympy is REGISTRY["v_logsoftmax"].sympy
