"""The registry of hand-designed proxies and the computation that shares passes between them.

A proxy is one function decorated with :func:`hand_designed`, which names the pass it reads
(``needs``, a key of :data:`~.passes.PASSES`)::

    @hand_designed("snip", label="SNIP", source="Lee et al. 2019", needs="gradient")
    def snip(p: GradientPass) -> float:
        ...

:func:`compute_hand_designed` runs each pass that some requested proxy needs once per model, in
the order of :data:`~.passes.PASSES`, gives its result to every proxy that needs it, and drops
it before the next pass. A pass or a proxy that raises :class:`ProxyUndefinedError` gives NaN
with the reason (for every proxy of that pass, or for that proxy); any other failure is raised.

A proxy that is a sum over the model's layers may also declare its per-layer values, one more
decorated function reading the same pass (:func:`hand_designed_layers`); ``per_layer=True``
computes those (one value per proxy layer, whose sum is the proxy's value).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from ...errors import LpzeroError


class ProxyUndefinedError(LpzeroError):
    """A proxy has no value on this model (e.g. attention confidence without attention)."""


@dataclass(frozen=True)
class ProxyValue:
    """A proxy's value on one model, or NaN and the reason it is undefined."""

    value: float
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None and math.isfinite(self.value)


@dataclass(frozen=True)
class LayerValues:
    """A proxy's per-layer values on one model, (L,) one per proxy layer, or none and the
    reason they are undefined."""

    values: tuple[float, ...]
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None and all(math.isfinite(v) for v in self.values)


@dataclass(frozen=True)
class HandDesigned:
    """One hand-designed proxy: its key, display name, source, the pass it needs (a key of
    :data:`~.passes.PASSES`), ``read``, the function from that pass's result to the value, and
    ``latex``, its symbol in a formula of the proxy language (a hybrid language reads it as a
    terminal, :mod:`lpzero_gp.language.hand`)."""

    name: str
    label: str
    source: str
    needs: str
    read: Callable[..., float]
    latex: str = ""
    layers: Callable[..., Sequence[float]] | None = None

    def __post_init__(self):
        if not self.latex:
            object.__setattr__(self, "latex", default_latex(self.name))

    @property
    def group(self) -> str:
        """The former name of :attr:`needs`."""
        return self.needs


# name -> proxy, in registration order (the order of tables and of ``--proxies``' choices)
HAND_DESIGNED: dict[str, HandDesigned] = {}


def default_latex(name: str) -> str:
    r"""The LaTeX symbol of a proxy registered without one: ``\mathrm{name}``."""
    return r"\mathrm{" + name.replace("_", r"\_") + "}"


def hand_designed(name: str, *, label: str, source: str, needs: str, latex: str = ""
                  ) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Register the decorated function as the hand-designed proxy ``name``.

    The function takes the result of the pass ``needs`` (``"gradient"``: a
    :class:`~.passes.gradient.GradientPass`; ``"synflow"``: a
    :class:`~.passes.synflow.SynflowPass`; ``"grasp"``: a :class:`~.passes.grasp.GraspPass`;
    ``"static"``: a :class:`~.passes.static.StaticPass`, the model without a pass) and returns
    a float, or raises :class:`ProxyUndefinedError`. The decorator returns the proxy as a
    function of one model, ``(model, batch, objective="sum") -> float`` (:func:`single`),
    whose ``read`` attribute is the decorated function. ``latex``: its symbol in formulas
    (default ``\\mathrm{name}``).
    """
    from .passes import PASSES
    if needs not in PASSES:
        raise ValueError(f"hand-designed proxy {name!r}: unknown pass {needs!r}; known: "
                         f"{', '.join(PASSES)}")
    if not name or not name.isidentifier():
        raise ValueError(f"hand-designed proxy name {name!r} is not an identifier")

    def register(fn: Callable[..., float]) -> Callable[..., float]:
        if name in HAND_DESIGNED:
            raise ValueError(f"hand-designed proxy {name!r} is already registered")
        HAND_DESIGNED[name] = HandDesigned(name, label, source, needs, fn, latex)
        return single(name)
    return register


def hand_designed_layers(name: str) -> Callable[[Callable[..., Sequence[float]]],
                                                Callable[..., Sequence[float]]]:
    """Declare the decorated function as the per-layer values of the registered proxy
    ``name``: it reads the same pass and returns one value per proxy layer, whose sum is the
    proxy's value. Returns the function unchanged."""
    import dataclasses

    def register(fn: Callable[..., Sequence[float]]) -> Callable[..., Sequence[float]]:
        if name not in HAND_DESIGNED:
            raise ValueError(f"per-layer values of {name!r}: no such hand-designed proxy")
        HAND_DESIGNED[name] = dataclasses.replace(HAND_DESIGNED[name], layers=fn)
        return fn
    return register


def unregister(name: str) -> None:
    """Remove the hand-designed proxy ``name`` (for tests and interactive use)."""
    del HAND_DESIGNED[name]


def _checked(names: Iterable[str] | None) -> list[str]:
    names = list(HAND_DESIGNED if names is None else names)
    unknown = [n for n in names if n not in HAND_DESIGNED]
    if unknown:
        raise ValueError(f"unknown hand-designed proxies {unknown}; known: "
                         f"{', '.join(HAND_DESIGNED)}")
    return names


def _guard(fn: Callable[[], float], name: str) -> ProxyValue:
    try:
        value = float(fn())
    except ProxyUndefinedError as exc:
        return ProxyValue(math.nan, str(exc))
    if not math.isfinite(value):
        return ProxyValue(math.nan, f"{name}: the value is not finite ({value!r})")
    return ProxyValue(value)


def _guard_layers(fn: Callable[[], Sequence[float]], name: str) -> LayerValues:
    try:
        values = tuple(float(v) for v in fn())
    except ProxyUndefinedError as exc:
        return LayerValues((), str(exc))
    if not all(math.isfinite(v) for v in values):
        return LayerValues(values, f"{name}: a layer's value is not finite")
    return LayerValues(values)


def compute_hand_designed(model, batch: dict, objective: str,
                          names: Sequence[str] | None = None, space=None,
                          per_layer: bool = False) -> dict:
    """The hand-designed proxies ``names`` (default: all) of one model, sharing passes.

    Each pass some proxy needs runs once (:data:`~.passes.PASSES`, in its order): the proxies
    of ``"gradient"`` share one forward/backward pass, synflow and logsynflow one pass on a
    copy, GraSP has its own. Undefined values are NaN with a reason; any other failure is
    raised. ``space`` (the model's :class:`~lpzero_gp.spaces.Space`) says which modules
    normalise (LayerNorm, RMSNorm) and where a position table is; a sub-network view is first
    made a network of its own (``model.standalone()``), so that every proxy sees only the
    active weights.

    ``per_layer``: the proxies' per-layer values instead (:class:`LayerValues`; each name must
    have them, :func:`hand_designed_layers`).
    """
    from .passes import PASSES
    names = _checked(names)
    if per_layer:
        lacking = [n for n in names if HAND_DESIGNED[n].layers is None]
        if lacking:
            raise ValueError(f"hand-designed proxies {lacking} have no per-layer values; those "
                             f"with: {', '.join(n for n, h in HAND_DESIGNED.items() if h.layers)}")
    standalone = getattr(model, "standalone", None)
    if standalone is not None:
        model = standalone()
    out: dict[str, ProxyValue] = {}
    for pass_name, run in PASSES.items():
        users = [n for n in names if HAND_DESIGNED[n].needs == pass_name]
        if not users:
            continue
        try:
            result = run(model, batch, objective, space)
        except ProxyUndefinedError as exc:
            out.update({n: LayerValues((), str(exc)) if per_layer
                        else ProxyValue(math.nan, str(exc)) for n in users})
            continue
        for n in users:
            if per_layer:
                out[n] = _guard_layers(lambda n=n: HAND_DESIGNED[n].layers(result), n)
            else:
                out[n] = _guard(lambda n=n: HAND_DESIGNED[n].read(result), n)
        del result  # release the pass's tensors before the next pass
    return {n: out[n] for n in names}


def single(name: str) -> Callable[..., float]:
    """The proxy ``name`` as a function ``(model, batch, objective="sum") -> float`` of one
    model, raising :class:`ProxyUndefinedError` where it is undefined."""
    def proxy(model, batch: dict, objective: str = "sum") -> float:
        result = compute_hand_designed(model, batch, objective, [name])[name]
        if not result.valid:
            raise ProxyUndefinedError(result.reason)
        return result.value
    info = HAND_DESIGNED[name]
    proxy.__name__ = proxy.__qualname__ = name
    proxy.__module__ = getattr(info.read, "__module__", __name__)
    proxy.__doc__ = (f"{info.label} ({info.source}) of one model; see "
                     ":mod:`lpzero_gp.baselines.hand_designed` for the definition.")
    proxy.read = info.read
    return proxy
