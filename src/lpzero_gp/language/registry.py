"""Every primitive of the proxy language, declared once through :func:`register_primitive`.

A :class:`Primitive` carries its typed signature, torch implementation, SymPy counterpart, LaTeX
template, default sampling weight and the algebraic facts a pruning stage can use. DEAP primitive
sets, the interpreter, the SymPy converter and the LaTeX printer are all derived from
:data:`REGISTRY`. Signatures use the placeholders of :mod:`.types` (``Tensor``, ``Each``,
``Pooled``); a language instantiates a primitive once per alignment group it reads.

Naming: tensor operations have plain names (``log``, ``softmax``, ``add``); reductions of a
tensor to one value per tensor start with ``t_`` (``t_mean``, ``t_fro``); operations on
per-tensor values with ``v_``; poolings of a layer's tensors with ``pool_``; operations on
per-layer scalars with ``l_``; aggregations over layers with ``layer_``; operations on
architecture scalars with ``s_``.

Row operations (``softmax``, ``logsoftmax``, ``znorm``, ``minmax``, ``t_rowmax``...) act along
each row of a tensor: the fan-in of an output unit (W, G: LPZero's ``softmax(dim=0)`` of a
Conv1D (in, out) weight), a token's channels (A, H, J), a query's weights over the keys (S).

Every registration probes the primitive (:func:`check_primitive`) on values drawn from its
declared domain, and refuses one that gives the wrong type or shape, a non-finite value inside
its domain, lets a padding layer through, modifies its inputs, or has no SymPy / LaTeX form.
The built-in primitives are probed together (:func:`check_registry`) the first time any
primitive is run (:func:`ensure_checked`, called by every evaluator), not at import: parsing,
printing and generating formulas need no torch.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import sympy as sp

from . import ops
from .symbolic import SYMBOLS, make_function
from .types import PLACEHOLDERS, Each, EachValue, Pooled, Scalar, ScalarL, Tensor, TensorValue

if TYPE_CHECKING:
    import torch

KINDS = ("elementwise", "row", "binary", "reduction", "one_value", "pooling", "aggregation")
DOMAINS = ("real", "positive", "nonzero", "empty")
MONOTONE = ("increasing", "decreasing", "none")
_ARG_TYPES = (Tensor, Each, Pooled, ScalarL, Scalar)


@dataclass(frozen=True)
class Primitive:
    """One operation of the language (see :func:`register_primitive` for the fields)."""

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

    @property
    def arity(self) -> int:
        return len(self.args)

    @property
    def generic(self) -> bool:
        """Whether the signature has a placeholder (instantiated per alignment group)."""
        return any(t in PLACEHOLDERS for t in (*self.args, self.ret))

    def __call__(self, *args):
        return self.fn(*args)


REGISTRY: dict[str, Primitive] = {}
FUNCTIONS: dict[str, type] = {}  # SymPy function classes by their printed name


def register_primitive(*, name: str, args: tuple[type, ...], ret: type, fn: Callable,
                       sympy: Callable[..., sp.Basic], latex: str, kind: str,
                       weight: float = 1.0, domain: str = "real", monotone: str | None = None,
                       involution: bool = False, idempotent: bool = False,
                       inverse_of: str | None = None, commutative: bool = False,
                       size_aware: bool = False, scalar_form: str | None = None,
                       doc: str = "", check: bool = True) -> Primitive:
    """Declare a primitive, probe it, and add it to :data:`REGISTRY`; return it.

    - ``args``/``ret``: among ``Tensor``, ``Each``, ``Pooled`` (placeholders, one group),
      ``ScalarL``, ``Scalar``. ``kind``: one of :data:`KINDS`; aggregations take
      ``(mask, x)``.
    - ``fn``: torch implementation on runtime values (:mod:`.types`); out of place.
    - ``sympy``: builds the SymPy counterpart from the arguments' expressions; ``latex``: a
      template with ``{0}``, ``{1}`` (informative where SymPy prints the operation itself).
    - ``domain``: where probes draw arguments: ``real``, ``positive``, ``nonzero``, or
      ``empty`` (undefined everywhere: the result is always NaN).
    - Algebra, read by the Rule-based Pruning Strategy and the simplifier: ``monotone``
      (increasing / decreasing / none), ``involution`` (f(f(x)) = x), ``idempotent`` (f(f(x)) =
      f(x); binary: f(x, x) = x), ``inverse_of`` (f(g(x)) = x on g's range), ``commutative``,
      ``size_aware`` (scaled by the full tensor's element count, or counting tensors or layers:
      of a constant it is not constant), ``scalar_form`` (for a unary
      tensor operation, the primitive doing the same on one per-tensor value: LPZero's chains).
    - ``check``: probe it now (:func:`check_primitive`); a failure raises ``ValueError``.
    """
    prim = Primitive(name=name, args=tuple(args), ret=ret, fn=fn, sympy=sympy, latex=latex,
                     kind=kind, weight=float(weight), domain=domain, monotone=monotone,
                     involution=involution, idempotent=idempotent, inverse_of=inverse_of,
                     commutative=commutative, size_aware=size_aware, scalar_form=scalar_form,
                     doc=doc)
    if name in REGISTRY:
        raise ValueError(f"primitive {name!r} is already registered")
    if check:
        problems = check_primitive(prim, _probe_generator(), deferred=True)
        if problems:
            raise ValueError(f"primitive {name!r} fails its checks: {'; '.join(problems)}")
    REGISTRY[name] = prim
    return prim


def _function(name: str, latex: str, kind: str, **kw) -> type:
    if name not in FUNCTIONS:
        FUNCTIONS[name] = make_function(name, latex, kind, **kw)
    return FUNCTIONS[name]


def _negate(x):
    """-x; with SymPy's evaluation off, -(-x) keeps its parentheses."""
    if (not sp.core.parameters.global_parameters.evaluate and isinstance(x, sp.Mul)
            and x.args and x.args[0] == -1):
        x = sp.UnevaluatedExpr(x)
    return sp.Mul(-1, x)


_sigmoid = _function("sigmoid", r"\sigma\left({0}\right)", "elementwise", positive=True)

# -- elementwise operations, at the four levels ----------------------------------------------

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

# prefix, type, lift
_LEVELS = (("", Tensor, ops.on_tensor), ("v_", Each, ops.on_each), ("l_", ScalarL, None),
           ("s_", Scalar, None))

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
_BINARY_LIFT = {Tensor: ops.on_tensors, Each: ops.on_eaches}

# row normalisations: name, torch, latex, algebra, one-value (sympy, torch, domain), doc
_ROW = [
    ("znorm", ops.znorm, r"\operatorname{{z}}_{{\mathrm{{row}}}}\left({0}\right)",
     {"idempotent": True}, (lambda x: sp.nan, ops.one_value_undefined, "empty"),
     "z-normalisation (x - mean) / std along each row"),
    ("minmax", ops.minmax, r"\operatorname{{minmax}}_{{\mathrm{{row}}}}\left({0}\right)",
     {"idempotent": True}, (lambda x: sp.nan, ops.one_value_undefined, "empty"),
     "min-max normalisation along each row"),
    ("softmax", ops.softmax, r"\operatorname{{softmax}}_{{\mathrm{{row}}}}\left({0}\right)",
     {}, (lambda x: sp.S.One, ops.one_value_softmax, "real"),
     "softmax along each row (W, G: over an output unit's fan-in, LPZero's dim 0 of a "
     "Conv1D weight)"),
    ("logsoftmax", ops.logsoftmax,
     r"\operatorname{{logsoftmax}}_{{\mathrm{{row}}}}\left({0}\right)", {},
     (lambda x: sp.S.Zero, ops.one_value_logsoftmax, "real"), "log-softmax along each row"),
]

# reductions Tensor -> Each: name, torch, sympy name, latex, monotone, size-aware,
# one value (sympy, torch, domain) or None, doc
_REDUCTIONS = [
    ("t_mean", ops.t_mean, "mean", r"\operatorname{{mean}}\left({0}\right)", "increasing",
     False, (lambda x: x, ops.identity, "real"), "mean of the tensor's elements"),
    ("t_std", ops.t_std, "std", r"\operatorname{{std}}\left({0}\right)", "none", False,
     (lambda x: sp.nan, ops.one_value_undefined, "empty"),
     "standard deviation of the tensor's elements (n - 1 in the denominator)"),
    ("t_meanabs", ops.t_meanabs, "meanabs", r"\operatorname{{mean}}\left|{0}\right|", "none",
     False, (sp.Abs, ops.abs_, "real"), "mean of |x| (LPZero's l1_norm: sum|x| / numel)"),
    ("t_sum", ops.t_sum, "sum", r"\operatorname{{sum}}\left({0}\right)", "increasing", True,
     None, "sum over the full tensor: mean * numel"),
    ("t_fro", ops.t_fro, "fro", r"\left\lVert {0} \right\rVert_F", "none", True,
     (sp.Abs, ops.abs_, "real"), "Frobenius norm of the full tensor: sqrt(mean(x^2) * numel)"),
    ("t_l1", ops.t_l1, "l1", r"\left\lVert {0} \right\rVert_1", "none", True, None,
     "L1 norm of the full tensor: mean|x| * numel"),
    ("t_rowmax", ops.t_rowmax, "rowmax",
     r"\operatorname{{mean}}_{{\mathrm{{row}}}}\max\left({0}\right)", "increasing", False, None,
     "mean over the rows of each row's maximum (exact per row)"),
    ("t_rowmin", ops.t_rowmin, "rowmin",
     r"\operatorname{{mean}}_{{\mathrm{{row}}}}\min\left({0}\right)", "increasing", False, None,
     "mean over the rows of each row's minimum (exact per row)"),
    ("t_rownorm", ops.t_rownorm, "rownorm",
     r"\operatorname{{mean}}_{{\mathrm{{row}}}}\left\lVert {0} \right\rVert_2", "none", False,
     None, "mean over the rows of each row's L2 norm (exact per row)"),
]

_POOLINGS = [
    ("pool_mean", ops.pool_mean, r"\operatorname{{mean}}_{{m}} {0}", 1.0,
     "unweighted mean over the layer's tensors m (each matrix or head once, as LPZero)"),
    ("pool_wmean", ops.pool_wmean, r"\operatorname{{mean}}^{{n}}_{{m}} {0}", 1.0,
     "mean over the layer's tensors m weighted by their element counts n"),
    ("pool_sum", ops.pool_sum, r"\sum_{{m}} {0}", 1.0, "sum over the layer's tensors m"),
    ("pool_max", ops.pool_max, r"\max_{{m}} {0}", 0.5, "largest over the layer's tensors m"),
    ("pool_min", ops.pool_min, r"\min_{{m}} {0}", 0.5, "smallest over the layer's tensors m"),
]

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


def _register_builtins() -> None:
    for prefix, level, lift in _LEVELS:
        for (name, fn, sym, tex, dom, mono, alg, w, doc) in _ELEMENTWISE:
            alg = dict(alg)
            if "inverse_of" in alg:
                alg["inverse_of"] = prefix + alg["inverse_of"]
            register_primitive(
                name=prefix + name, args=(level,), ret=level,
                fn=lift(fn) if lift else fn, sympy=sym, latex=tex, kind="elementwise",
                weight=w, domain=dom, monotone=mono,
                scalar_form=("v_" + name) if level is Tensor else None, doc=doc, check=False,
                **alg)
        for (name, fn, sym, tex, alg, dom, w) in _BINARY:
            if level is Tensor and name not in ("add", "sub", "mul"):
                continue
            lifted = _BINARY_LIFT[level](fn) if level in _BINARY_LIFT else fn
            register_primitive(
                name=prefix + name, args=(level, level), ret=level, fn=lifted, sympy=sym,
                latex=tex, kind="binary", weight=w, domain=dom, check=False,
                doc=(f"elementwise {name} of two aligned tensors (one group)" if level is Tensor
                     else name), **alg)
    for (name, fn, tex, alg, one, doc) in _ROW:
        f = _function(name, tex, "row", positive=name == "softmax",
                      nonnegative=name == "minmax", one_value=one[0])
        register_primitive(name=name, args=(Tensor,), ret=Tensor, fn=fn, sympy=f, latex=tex,
                           kind="row", monotone="increasing", scalar_form="v_" + name,
                           doc=doc, check=False, **alg)
        register_primitive(name="v_" + name, args=(Each,), ret=Each, fn=ops.on_each(one[1]),
                           sympy=f, latex=tex, kind="one_value", weight=0.0, domain=one[2],
                           monotone="none", check=False,
                           doc=f"{name} of a one-value set (one value per tensor: LPZero's "
                               f"chains)")
    for (name, fn, sname, tex, mono, size, one, doc) in _REDUCTIONS:
        f = _function(sname, tex, "reduction",
                      nonnegative=sname in ("std", "meanabs", "fro", "l1", "rownorm"),
                      one_value=one[0] if one else None)
        short = name[2:]
        register_primitive(name=name, args=(Tensor,), ret=Each, fn=fn, sympy=f, latex=tex,
                           kind="reduction", monotone=mono, size_aware=size,
                           scalar_form=("v_" + short) if one else None, doc=doc, check=False)
        if one is not None:
            register_primitive(name="v_" + short, args=(Each,), ret=Each,
                               fn=ops.on_each(one[1]), sympy=f, latex=tex, kind="one_value",
                               weight=0.0, domain=one[2],
                               monotone="increasing" if short == "mean" else "none",
                               check=False,
                               doc=f"{short} of a one-value set (LPZero's chains)")
    for (name, fn, tex, w, doc) in _POOLINGS:
        f = _function(name, tex, "pooling", wrap_argument=True)
        register_primitive(name=name, args=(Each,), ret=Pooled, fn=fn, sympy=f, latex=tex,
                           kind="pooling", weight=w, size_aware=name == "pool_sum",
                           monotone="increasing",
                           doc=doc, check=False)
    for (name, fn, tex, w, doc) in _AGGREGATIONS:
        f = _function(name, tex, "aggregation", wrap_argument=True)
        register_primitive(name=name, args=(ScalarL,), ret=Scalar, fn=fn, sympy=f, latex=tex,
                           kind="aggregation", weight=w, monotone="increasing", doc=doc,
                           size_aware=name == "layer_sum", check=False)


# -- the checks ------------------------------------------------------------------------------
# (torch and the probe values are imported here, when a check runs)


def _probe_generator() -> torch.Generator:
    import torch
    return torch.Generator().manual_seed(1234)


def _check_output(prim: Primitive, out, args) -> list[str]:
    import torch

    from .probe import PROBE_LAYOUT, PROBE_MASK
    from .types import SCALAR_DTYPE
    ret = prim.ret
    if ret is Tensor:
        if not isinstance(out, TensorValue):
            return [f"returns {type(out).__name__}, not a TensorValue"]
        ref = next(a for a in args if isinstance(a, TensorValue))
        if [tuple(b.shape) for b in out.blocks] != [tuple(b.shape) for b in ref.blocks]:
            return ["changes the shape of the tensor's rows"]
        valid = torch.cat([b.reshape(-1).double() for b in out.blocks])
    elif ret is Each:
        if not isinstance(out, EachValue) or out.values.dtype != SCALAR_DTYPE:
            return [f"returns {type(out).__name__}, not float64 per-tensor values"]
        count = len(PROBE_LAYOUT.tensor_arch)
        if tuple(out.values.shape) != (count,):
            return [f"returns per-tensor values of shape {tuple(out.values.shape)}, expected "
                    f"({count},): one value per tensor"]
        valid = out.values
    else:
        n, layers = PROBE_MASK.shape
        shape = (n,) if ret is Scalar else (n, layers)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape:
            return [f"returns {getattr(out, 'shape', type(out))}, expected shape {shape}"]
        if out.dtype != SCALAR_DTYPE:
            return [f"returns dtype {out.dtype}, expected {SCALAR_DTYPE}"]
        valid = out if ret is Scalar else out[PROBE_MASK]
    if prim.domain == "empty":
        return [] if bool(torch.isnan(valid).all()) else [
            "declared undefined everywhere but returns numbers"]
    if not bool(torch.isfinite(valid).all()):
        return [f"non-finite result on its domain ({prim.domain})"]
    return []


def check_primitive(prim: Primitive, gen: torch.Generator, deferred: bool = False) -> list[str]:
    """Problems of ``prim`` found on probe values (empty when it passes).

    ``deferred``: references to other primitives (``inverse_of``, ``scalar_form``) may name
    primitives not registered yet (checked by :func:`check_registry`).
    """
    from .probe import PROBE_MASK, clone_value, probe_value, same_value
    problems = []
    if not prim.name.isidentifier() or keyword.iskeyword(prim.name):
        problems.append("name is not a valid Python identifier")
    if prim.kind not in KINDS or prim.domain not in DOMAINS:
        problems.append(f"kind {prim.kind!r} / domain {prim.domain!r} unknown")
    if prim.monotone is not None and prim.monotone not in MONOTONE:
        problems.append(f"monotone {prim.monotone!r} unknown")
    if any(t not in _ARG_TYPES for t in (*prim.args, prim.ret)):
        problems.append("a type is not one of Tensor, Each, Pooled, ScalarL, Scalar")
        return problems
    if prim.commutative and prim.arity != 2:
        problems.append("commutative but not binary")
    for ref in (prim.inverse_of, prim.scalar_form):
        if ref is not None and ref not in REGISTRY and not deferred:
            problems.append(f"refers to unknown primitive {ref!r}")
    if prim.inverse_of in REGISTRY:
        other = REGISTRY[prim.inverse_of]
        if other.args != prim.args or other.ret != prim.ret:
            problems.append(f"inverse_of {other.name} has another signature")
    if prim.scalar_form in REGISTRY:
        other = REGISTRY[prim.scalar_form]
        if prim.args != (Tensor,) or other.args != (Each,) or other.ret is not Each:
            problems.append(f"scalar_form {other.name} is not an Each -> Each form")
    args = [probe_value(t, prim.domain, gen) for t in prim.args]
    saved = [clone_value(a) for a in args]
    try:
        out = prim.fn(PROBE_MASK, *args) if prim.kind == "aggregation" else prim.fn(*args)
    except Exception as exc:  # noqa: BLE001 - reported as a registry problem
        return problems + [f"raises {type(exc).__name__}: {exc}"]
    problems += _check_output(prim, out, args)
    if not all(same_value(b, a) for b, a in zip(saved, args)):
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
    gen = _probe_generator()
    problems = {}
    for name, prim in registry.items():
        if name != prim.name:
            problems[name] = [f"registered under another name than {prim.name!r}"]
            continue
        found = check_primitive(prim, gen)
        if found:
            problems[name] = found
    if problems:
        lines = [f"  {n}: {'; '.join(p)}" for n, p in problems.items()]
        raise RuntimeError("primitive registry check failed:\n" + "\n".join(lines))
    return problems


_checked = False


def ensure_checked() -> None:
    """Probe every primitive (:func:`check_registry`) once per process, before the first one
    runs; every evaluator calls it. Raises ``RuntimeError`` on a wrong primitive, every time."""
    global _checked
    if not _checked:
        check_registry()
        _checked = True


_register_builtins()
