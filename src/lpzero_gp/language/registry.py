"""Every primitive of the proxy language, declared once.

A :class:`Primitive` carries its typed signature, torch implementation, SymPy counterpart, LaTeX
template, default sampling weight and the algebraic facts a pruning stage can use. DEAP primitive
sets, the interpreter, the SymPy converter and the LaTeX printer are all derived from
:data:`REGISTRY`.

Naming: per-layer tensor operations have plain names (``log``, ``softmax``, ``add``), reductions
to a per-layer scalar start with ``t_`` (``t_mean``, ``t_fro``), operations on per-layer scalars
with ``l_`` (``l_log``, ``l_add``), on architecture scalars with ``s_``, and aggregations over
layers with ``layer_`` (``layer_mean``).

At import :func:`check_registry` runs every primitive on probe values drawn from its declared
domain and raises if one gives the wrong type or shape, a non-finite value inside its domain,
lets a padding layer through, or modifies its inputs.
"""
from __future__ import annotations

import keyword
import math
from dataclasses import dataclass, field
from typing import Callable

import sympy as sp
import torch

from . import ops
from .symbolic import SYMBOLS, make_function
from .types import SCALAR_DTYPE, TENSOR_DTYPE, Scalar, ScalarL, TensorL, TensorValue

KINDS = ("elementwise", "normalisation", "reduction", "one_value", "binary", "aggregation")
DOMAINS = ("real", "positive", "nonzero", "empty")
MONOTONE = ("increasing", "decreasing", "none")


@dataclass(frozen=True)
class Primitive:
    """One operation of the language.

    ``args``/``ret``: types among :class:`TensorL`, :class:`ScalarL`, :class:`Scalar`.
    ``fn``: torch implementation on runtime values (aggregations take ``(mask, x)``).
    ``sympy``: builds the SymPy counterpart from the arguments' SymPy expressions.
    ``latex``: LaTeX template, ``{0}``, ``{1}`` the arguments (informative for operations SymPy
    prints itself). ``weight``: default sampling weight. ``domain``: where the probe draws
    its arguments: ``real``, ``positive``, ``nonzero``, or ``empty`` (undefined everywhere: the
    result is always NaN). Algebra: ``monotone`` (unary: increasing/decreasing/none),
    ``involution`` (f(f(x)) = x), ``idempotent`` (f(f(x)) = f(x); for binary f(x, x) = x),
    ``inverse_of`` (f(g(x)) = x on g's range), ``commutative``, ``size_aware`` (a reduction
    scaled by the full tensor's element count). ``scalar_form``: for a unary operation on a
    per-layer tensor, the primitive doing the same on a per-layer scalar (LPZero's chains).
    """

    name: str
    args: tuple[type, ...]
    ret: type
    fn: Callable
    sympy: Callable[..., sp.Basic]
    latex: str
    kind: str
    weight: float = 1.0
    domain: str = "real"
    monotone: str | None = None
    involution: bool = False
    idempotent: bool = False
    inverse_of: str | None = None
    commutative: bool = False
    size_aware: bool = False
    scalar_form: str | None = None
    doc: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def arity(self) -> int:
        return len(self.args)

    def __call__(self, *args):
        return self.fn(*args)


REGISTRY: dict[str, Primitive] = {}
FUNCTIONS: dict[str, type] = {}  # SymPy function classes by their printed name


def _declare(**kw) -> Primitive:
    prim = Primitive(**kw)
    if prim.name in REGISTRY:
        raise RuntimeError(f"primitive {prim.name!r} declared twice")
    REGISTRY[prim.name] = prim
    return prim


def _function(name: str, latex: str, kind: str, **kw) -> type:
    if name not in FUNCTIONS:
        FUNCTIONS[name] = make_function(name, latex, kind, **kw)
    return FUNCTIONS[name]


# -- elementwise operations, declared at the three levels ------------------------------------

def _negate(x):
    """-x; with SymPy's evaluation off, -(-x) keeps its parentheses."""
    if (not sp.core.parameters.global_parameters.evaluate and isinstance(x, sp.Mul)
            and x.args and x.args[0] == -1):
        x = sp.UnevaluatedExpr(x)
    return sp.Mul(-1, x)


_sigmoid = _function("sigmoid", r"\sigma\left({0}\right)", "elementwise", positive=True)

# name, torch, sympy, latex, domain, monotone, algebra, default weight, doc
_ELEMENTWISE = [
    ("log", ops.log, sp.log, r"\log\left({0}\right)", "positive", "increasing",
     {"inverse_of": "exp"}, 1.0, "natural logarithm; NaN for x < 0, -inf at 0"),
    ("abslog", ops.abslog, lambda x: sp.log(sp.Abs(x)), r"\log\left|{0}\right|", "nonzero",
     "none", {}, 1.0, "log|x| (LPZero's abs-log); -inf at 0"),
    ("abs", ops.abs_, sp.Abs, r"\left|{0}\right|", "real", "none", {"idempotent": True}, 1.0,
     "absolute value"),
    ("square", ops.square, lambda x: x**2, r"\left({0}\right)^{{2}}", "real", "none", {}, 1.0,
     "x^2"),
    ("exp", ops.exp, sp.exp, r"e^{{{0}}}", "real", "increasing", {"inverse_of": "log"}, 0.5,
     "exponential; overflows to inf above ~88 (float32 tensors)"),
    ("relu", ops.relu, lambda x: sp.Max(x, 0), r"\max\left(0, {0}\right)", "real",
     "increasing", {"idempotent": True}, 1.0, "max(x, 0)"),
    ("inverse", ops.inverse, lambda x: 1 / x, r"\frac{{1}}{{{0}}}", "nonzero", "none",
     {"involution": True}, 0.5, "1/x; inf at 0"),
    ("sigmoid", ops.sigmoid, _sigmoid, r"\sigma\left({0}\right)", "real", "increasing", {},
     1.0, "logistic sigmoid"),
    ("sqrtpos", ops.sqrtpos, lambda x: sp.sqrt(sp.Max(x, 0)),
     r"\sqrt{{\max\left(0, {0}\right)}}", "real", "increasing", {}, 1.0,
     "square root of the positive part (LPZero's sqrt)"),
    ("neg", ops.neg, _negate, r"-{0}", "real", "decreasing", {"involution": True}, 1.0,
     "-x"),
    ("identity", ops.identity, lambda x: x, r"{0}", "real", "increasing",
     {"involution": True, "idempotent": True}, 0.0, "x (LPZero's no-op)"),
    ("tanh", ops.tanh, sp.tanh, r"\tanh\left({0}\right)", "real", "increasing", {}, 1.0,
     "hyperbolic tangent"),
    ("log1pabs", ops.log1pabs, lambda x: sp.log(1 + sp.Abs(x)),
     r"\log\left(1 + \left|{0}\right|\right)", "real", "none", {}, 1.0, "log(1 + |x|)"),
]

_LEVELS = (("", TensorL), ("l_", ScalarL), ("s_", Scalar))

for _prefix, _type in _LEVELS:
    for (_name, _fn, _sym, _tex, _dom, _mono, _alg, _w, _doc) in _ELEMENTWISE:
        _alg = dict(_alg)
        if "inverse_of" in _alg:
            _alg["inverse_of"] = _prefix + _alg["inverse_of"]
        _declare(name=_prefix + _name, args=(_type,), ret=_type,
                 fn=ops.lift_tensor(_fn) if _type is TensorL else _fn,
                 sympy=_sym, latex=_tex, kind="elementwise", weight=_w, domain=_dom,
                 monotone=_mono, scalar_form=("l_" + _name) if _type is TensorL else None,
                 doc=_doc, **_alg)

# -- per-tensor normalisations along K, and their one-value forms ----------------------------

_NORMALISATIONS = [
    ("znorm", ops.znorm, r"\operatorname{{z}}\left({0}\right)", {"idempotent": True},
     lambda x: sp.nan, ops.one_value_undefined, "empty",
     "z-normalisation (x - mean) / std over the tensor's elements"),
    ("minmax", ops.minmax, r"\operatorname{{minmax}}\left({0}\right)", {"idempotent": True},
     lambda x: sp.nan, ops.one_value_undefined, "empty",
     "min-max normalisation over the tensor's elements"),
    ("softmax", ops.softmax, r"\operatorname{{softmax}}\left({0}\right)", {},
     lambda x: sp.S.One, ops.one_value_softmax, "real",
     "softmax over the full tensor's numel elements (estimated from the sample)"),
    ("logsoftmax", ops.logsoftmax, r"\operatorname{{logsoftmax}}\left({0}\right)", {},
     lambda x: sp.S.Zero, ops.one_value_logsoftmax, "real",
     "log-softmax over the full tensor's numel elements (estimated from the sample)"),
    ("ranknorm", ops.ranknorm, r"\operatorname{{rank}}\left({0}\right)", {"idempotent": True},
     None, None, None, "average rank among the tensor's samples, scaled to [0, 1]"),
]

for (_name, _fn, _tex, _alg, _one, _one_fn, _one_dom, _doc) in _NORMALISATIONS:
    _f = _function(_name, _tex, "normalisation", positive=_name == "softmax",
                   nonnegative=_name in ("minmax", "ranknorm"), one_value=_one)
    _declare(name=_name, args=(TensorL,), ret=TensorL, fn=_fn, sympy=_f, latex=_tex,
             kind="normalisation", monotone="increasing",
             scalar_form=("l_" + _name) if _one_fn else None, doc=_doc, **_alg)
    if _one_fn is not None:
        _declare(name="l_" + _name, args=(ScalarL,), ret=ScalarL, fn=_one_fn, sympy=_f,
                 latex=_tex, kind="one_value", weight=0.0, domain=_one_dom, monotone="none",
                 doc=f"{_name} of a one-value set (a per-layer scalar, LPZero's chains)")

# -- reductions TensorL -> ScalarL, and the one-value forms LPZero's chains need -------------

_REDUCTIONS = [
    # name, torch, sympy name, latex, monotone, size-aware, one value (sympy, torch, domain)
    ("t_mean", ops.t_mean, "mean", r"\operatorname{{mean}}\left({0}\right)", "increasing", False,
     (lambda x: x, ops.identity, "real"), "mean of the tensor's elements"),
    ("t_std", ops.t_std, "std", r"\operatorname{{std}}\left({0}\right)", "none", False,
     (lambda x: sp.nan, ops.one_value_undefined, "empty"),
     "standard deviation of the elements (K - 1 in the denominator)"),
    ("t_meanabs", ops.t_meanabs, "meanabs", r"\operatorname{{mean}}\left|{0}\right|", "none",
     False, (sp.Abs, ops.abs_, "real"), "mean of |x| (LPZero's l1_norm)"),
    ("t_max", ops.t_max, "max", r"\max\left({0}\right)", "increasing", False, None,
     "largest sampled element"),
    ("t_min", ops.t_min, "min", r"\min\left({0}\right)", "increasing", False, None,
     "smallest sampled element"),
    ("t_sum", ops.t_sum, "sum", r"\operatorname{{sum}}\left({0}\right)", "increasing", True, None,
     "sum over the full tensor: mean * numel"),
    ("t_fro", ops.t_fro, "fro", r"\left\lVert {0} \right\rVert_F", "none", True,
     (sp.Abs, ops.abs_, "real"), "Frobenius norm of the full tensor: sqrt(mean(x^2) * numel)"),
    ("t_l1", ops.t_l1, "l1", r"\left\lVert {0} \right\rVert_1", "none", True, None,
     "L1 norm of the full tensor: mean|x| * numel"),
]

for (_name, _fn, _sname, _tex, _mono, _size, _one, _doc) in _REDUCTIONS:
    _f = _function(_sname, _tex, "reduction",
                   nonnegative=_sname in ("std", "meanabs", "fro", "l1"),
                   one_value=_one[0] if _one else None)
    _short = _name[2:]
    _declare(name=_name, args=(TensorL,), ret=ScalarL, fn=_fn, sympy=_f, latex=_tex,
             kind="reduction", monotone=_mono, size_aware=_size,
             scalar_form=("l_" + _short) if _one else None, doc=_doc)
    if _one is not None:
        _declare(name="l_" + _short, args=(ScalarL,), ret=ScalarL, fn=_one[1], sympy=_f,
                 latex=_tex, kind="one_value", weight=0.0, domain=_one[2],
                 monotone="increasing" if _short == "mean" else "none",
                 doc=f"{_short} of a one-value set (a per-layer scalar, LPZero's chains)")

# -- binary operations -----------------------------------------------------------------------

_BINARY = [
    ("add", ops.add, lambda a, b: a + b, r"{0} + {1}", {"commutative": True}, "real", 1.0),
    ("sub", ops.sub, lambda a, b: a - b, r"{0} - {1}", {}, "real", 1.0),
    ("mul", ops.mul, lambda a, b: a * b, r"{0} \cdot {1}", {"commutative": True}, "real", 1.0),
    ("div", ops.div, lambda a, b: a / b, r"\frac{{{0}}}{{{1}}}", {}, "nonzero", 0.5),
    ("max", ops.maximum, sp.Max, r"\max\left({0}, {1}\right)",
     {"commutative": True, "idempotent": True}, "real", 0.5),
    ("min", ops.minimum, sp.Min, r"\min\left({0}, {1}\right)",
     {"commutative": True, "idempotent": True}, "real", 0.5),
]

for _prefix, _type in _LEVELS:
    for (_name, _fn, _sym, _tex, _alg, _dom, _w) in _BINARY:
        if _type is TensorL and _name not in ("add", "sub", "mul"):
            continue
        _declare(name=_prefix + _name, args=(_type, _type), ret=_type,
                 fn=ops.lift_tensor_binary(_fn) if _type is TensorL else _fn, sympy=_sym,
                 latex=_tex, kind="binary", weight=_w, domain=_dom,
                 doc=(f"elementwise {_name}; numel = the larger count" if _type is TensorL
                      else _name), **_alg)

# -- aggregations over valid layers ScalarL -> Scalar ----------------------------------------

_AGGREGATIONS = [
    ("layer_mean", ops.layer_mean, r"\frac{{1}}{{L}}\sum_{{l=1}}^{{L}} {0}", 1.0,
     "mean over the architecture's layers"),
    ("layer_sum", ops.layer_sum, r"\sum_{{l=1}}^{{L}} {0}", 1.0,
     "sum over the architecture's layers"),
    ("layer_max", ops.layer_max, r"\max_{{l}} {0}", 0.5, "largest layer value"),
    ("layer_min", ops.layer_min, r"\min_{{l}} {0}", 0.5, "smallest layer value"),
    ("layer_first", ops.layer_first, r"\left.{0}\right|_{{l=1}}", 0.25, "first layer's value"),
    ("layer_last", ops.layer_last, r"\left.{0}\right|_{{l=L}}", 0.25, "last layer's value"),
]

for (_name, _fn, _tex, _w, _doc) in _AGGREGATIONS:
    _f = _function(_name, _tex, "aggregation", wrap_argument=True)
    _declare(name=_name, args=(ScalarL,), ret=Scalar, fn=_fn, sympy=_f, latex=_tex,
             kind="aggregation", weight=_w, monotone="increasing", doc=_doc)


# -- the import-time check -------------------------------------------------------------------

_PROBE_N, _PROBE_L, _PROBE_K = 3, 3, 16
_PROBE_MASK = torch.tensor([[True, True, True], [True, True, False], [True, False, False]])


def _probe_values(domain: str, shape: tuple[int, ...], dtype, gen: torch.Generator):
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    if domain == "positive":
        x = x.abs() + 0.25
    elif domain == "nonzero":
        x = torch.where(x >= 0, x + 0.25, x - 0.25)
    return x.to(dtype)


def _probe_arg(t: type, domain: str, gen: torch.Generator):
    n, layers, k = _PROBE_N, _PROBE_L, _PROBE_K
    if t is TensorL:
        values = _probe_values(domain, (n, layers, k), TENSOR_DTYPE, gen)
        values = torch.where(_PROBE_MASK.unsqueeze(-1), values, torch.ones_like(values))
        numel = torch.tensor([[64.0, 1000.0, 16.0], [5e5, 32.0, 0.0], [100.0, 0.0, 0.0]],
                             dtype=SCALAR_DTYPE)
        return TensorValue(values, numel)
    if t is ScalarL:
        values = _probe_values(domain, (n, layers), SCALAR_DTYPE, gen)
        # padding layers hold NaN: an aggregation that lets them through fails the check
        return torch.where(_PROBE_MASK, values, torch.full_like(values, math.nan))
    return _probe_values(domain, (n,), SCALAR_DTYPE, gen)


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(
        ((a == b) | (torch.isnan(a) & torch.isnan(b))).all())


def _clone(v):
    return TensorValue(v.values.clone(), v.numel.clone()) if isinstance(v, TensorValue) \
        else v.clone()


def _unchanged(before, after) -> bool:
    if isinstance(before, TensorValue):
        return _same(before.values, after.values) and _same(before.numel, after.numel)
    return _same(before, after)


def _check_output(prim: Primitive, out) -> list[str]:
    n, layers, k = _PROBE_N, _PROBE_L, _PROBE_K
    problems = []
    if prim.ret is TensorL:
        if not isinstance(out, TensorValue):
            return [f"returns {type(out).__name__}, not a TensorValue"]
        if tuple(out.values.shape) != (n, layers, k) or tuple(out.numel.shape) != (n, layers):
            problems.append(f"returns shapes {tuple(out.values.shape)}/{tuple(out.numel.shape)}")
        if out.values.dtype != TENSOR_DTYPE or out.numel.dtype != SCALAR_DTYPE:
            problems.append(f"returns dtypes {out.values.dtype}/{out.numel.dtype}")
        valid = out.values[_PROBE_MASK]
    else:
        shape = (n, layers) if prim.ret is ScalarL else (n,)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
            return [f"returns {getattr(out, 'shape', type(out))}, expected shape {shape}"]
        if out.dtype != SCALAR_DTYPE:
            problems.append(f"returns dtype {out.dtype}, expected {SCALAR_DTYPE}")
        valid = out[_PROBE_MASK] if prim.ret is ScalarL else out
    if prim.domain == "empty":
        if not bool(torch.isnan(valid).all()):
            problems.append("declared undefined everywhere but returns numbers")
    elif not bool(torch.isfinite(valid).all()):
        problems.append(f"non-finite result on its domain ({prim.domain})")
    return problems


def _check_primitive(prim: Primitive, gen: torch.Generator) -> list[str]:
    problems = []
    if not prim.name.isidentifier() or keyword.iskeyword(prim.name):
        problems.append("name is not a valid Python identifier")
    if prim.kind not in KINDS or prim.domain not in DOMAINS:
        problems.append(f"kind {prim.kind!r} / domain {prim.domain!r} unknown")
    if prim.monotone is not None and prim.monotone not in MONOTONE:
        problems.append(f"monotone {prim.monotone!r} unknown")
    for ref in (prim.inverse_of, prim.scalar_form):
        if ref is not None and ref not in REGISTRY:
            problems.append(f"refers to unknown primitive {ref!r}")
    if prim.inverse_of in REGISTRY:
        other = REGISTRY[prim.inverse_of]
        if other.args != prim.args or other.ret != prim.ret:
            problems.append(f"inverse_of {other.name} has another signature")
    if prim.scalar_form in REGISTRY:
        other = REGISTRY[prim.scalar_form]
        if prim.args != (TensorL,) or other.args != (ScalarL,) or other.ret is not ScalarL:
            problems.append(f"scalar_form {other.name} is not a ScalarL -> ScalarL form")
    if prim.commutative and prim.arity != 2:
        problems.append("commutative but not binary")
    args = [_probe_arg(t, prim.domain, gen) for t in prim.args]
    saved = [_clone(a) for a in args]
    try:
        out = prim.fn(_PROBE_MASK, *args) if prim.kind == "aggregation" else prim.fn(*args)
    except Exception as exc:  # noqa: BLE001 - reported as a registry problem
        return problems + [f"raises {type(exc).__name__}: {exc}"]
    problems += _check_output(prim, out)
    if not all(_unchanged(b, a) for b, a in zip(saved, args)):
        problems.append("modifies its inputs")
    try:
        expr = prim.sympy(*[SYMBOLS[n] for n in ("H", "W")[:prim.arity]])
        if not isinstance(expr, sp.Basic):
            problems.append(f"SymPy counterpart returns {type(expr).__name__}")
        sp.latex(expr)
        prim.latex.format(*["x"] * prim.arity)
    except Exception as exc:  # noqa: BLE001 - reported as a registry problem
        problems.append(f"SymPy/LaTeX form fails: {type(exc).__name__}: {exc}")
    return problems


def check_registry(registry: dict[str, Primitive] | None = None) -> dict[str, list[str]]:
    """Probe every primitive; raise ``RuntimeError`` listing the wrong ones.

    Returns the (empty) problems per primitive name when all pass.
    """
    registry = REGISTRY if registry is None else registry
    gen = torch.Generator().manual_seed(1234)
    problems = {}
    for name, prim in registry.items():
        if name != prim.name:
            problems[name] = [f"registered under another name than {prim.name!r}"]
            continue
        found = _check_primitive(prim, gen)
        if found:
            problems[name] = found
    if problems:
        lines = [f"  {n}: {'; '.join(p)}" for n, p in problems.items()]
        raise RuntimeError("primitive registry check failed:\n" + "\n".join(lines))
    return problems


check_registry()
