"""Rule-based Pruning Strategy (RPS): named rules that reject a formula before it is evaluated.

Two kinds of rule:

- **structural** rules read the tree only. They reject formulas that are redundant (another,
  shorter formula of the language computes the same thing: ``log(exp(x))``, ``abs(abs(x))``,
  ``neg(neg(x))``, ``abs(exp(x))``, ``max(x, x)``, an identity operation), degenerate (a part
  of the formula that does not depend on any input: ``x - x``, ``x / x``, LPZero's log-softmax
  of a per-layer scalar, a subtree with no input at all), or equivalent for ranking (a
  monotone operation applied to the final per-architecture score cannot change the ranking).
- **probe** rules evaluate the formula on a few probe architectures (a handful of records of
  the search split, see :mod:`lpzero_gp.search.split`) and reject it when a score is NaN or
  infinite, or when every probe gets the same score.

Nothing is hard-coded by operation name: the algebraic facts come from the primitive registry
(``inverse_of``, ``involution``, ``idempotent``, ``monotone``) or are measured once per
primitive by running its torch implementation on probe values (:func:`primitive_facts`: does it
return its argument unchanged, a constant, or a constant on two equal arguments?) and once per
pair of chained operations (:func:`composition`: is ``f(g(x))`` just ``x``, or just ``g(x)``?).

:class:`RuleBasedPruning` applies the rules in order and counts, per rule, how often it fired
(the first rule that fires is the one counted).
"""
from __future__ import annotations

import abc

import functools
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from deap import gp

from ..bank import InputBank
from ..language import REGISTRY, Primitive, interpret
from ..language.registry import ensure_checked
from ..language.proxy import CONSTANT_RTOL
from ..language.probe import PROBE_MASK, probe_value, value_tensor


def _values(v) -> torch.Tensor:
    """Every number of a probe value, flattened; a per-layer scalar (N, L) without its padding
    layers (they hold NaN by design, and would make every comparison fail)."""
    if isinstance(v, torch.Tensor) and v.ndim == 2:
        return v[PROBE_MASK].double()
    return value_tensor(v)


# -- facts measured on each primitive's implementation ---------------------------------------


@dataclass(frozen=True)
class PrimitiveFacts:
    """What a primitive does, measured on probe values.

    ``noop``: unary, same type in and out, returns its argument unchanged (identity, the mean
    of a one-value set). ``constant``: unary, returns the same finite value whatever its
    argument (softmax / log-softmax of a one-value set). ``self_cancelling``: binary, returns
    the same finite value whatever ``x`` in ``f(x, x)`` (``x - x``, ``x / x``).
    """

    noop: bool = False
    constant: bool = False
    self_cancelling: bool = False


def _probe_value(t: type, domain: str, seed: int):
    return probe_value(t, domain, torch.Generator().manual_seed(seed))


def _is_constant(outputs: Sequence) -> bool:
    flat = torch.cat([_values(o).reshape(-1) for o in outputs])
    return bool(torch.isfinite(flat).all()) and bool((flat == flat[0]).all())


@functools.lru_cache(maxsize=None)
def primitive_facts(name: str) -> PrimitiveFacts:
    """The measured :class:`PrimitiveFacts` of ``REGISTRY[name]`` (cached)."""
    ensure_checked()
    prim = REGISTRY[name]
    if prim.kind == "aggregation":
        return PrimitiveFacts()
    probes = [_probe_value(prim.args[0], prim.domain, seed) for seed in (11, 12)]
    with torch.no_grad():
        if prim.arity == 1:
            outs = [prim.fn(x) for x in probes]
            noop = prim.args[0] is prim.ret and all(
                torch.equal(_values(o), _values(x)) for o, x in zip(outs, probes))
            return PrimitiveFacts(noop=noop, constant=_is_constant(outs))
        if prim.arity == 2 and prim.args[0] is prim.args[1]:
            outs = [prim.fn(x, x) for x in probes]
            return PrimitiveFacts(self_cancelling=_is_constant(outs))
    return PrimitiveFacts()


@functools.lru_cache(maxsize=None)
def composition(outer: str, inner: str) -> str | None:
    """What ``outer(inner(x))`` is, measured on probe values in ``inner``'s domain:
    ``"identity"`` (it is x: abslog(exp(x))), ``"absorbed"`` (it is inner(x): outer does
    nothing on inner's range: abs(exp(x)), minmax(ranknorm(x))) or ``None``. Both must be
    unary operations of one type."""
    ensure_checked()
    f, g = REGISTRY[outer], REGISTRY[inner]
    if not (f.arity == g.arity == 1 and f.args[0] is f.ret is g.ret is g.args[0]):
        return None
    probes = [_probe_value(g.args[0], g.domain, seed) for seed in (21, 22)]
    with torch.no_grad():
        inner_out = [g.fn(x) for x in probes]
        outer_out = [f.fn(y) for y in inner_out]
    if not all(bool(torch.isfinite(_values(o)).all()) for o in outer_out):
        return None
    for target, name in ((probes, "identity"), (inner_out, "absorbed")):
        if all(torch.allclose(_values(o), _values(t), rtol=1e-5, atol=1e-6)
               for o, t in zip(outer_out, target)):
            return name
    return None


# -- a tree with the structure the rules need ------------------------------------------------


class TreeView:
    """A DEAP tree with, per node ``i``: ``children[i]`` (indices), ``prim[i]`` (the registry
    entry, ``None`` for a terminal), ``key[i]`` (canonical text of the subtree: commutative
    arguments sorted) and ``has_input[i]`` / ``input_free[i]`` (whether the subtree reads an
    input at all / whether its value depends on none)."""

    def __init__(self, tree: gp.PrimitiveTree, inputs: Sequence[str]):
        self.tree = tree
        n = len(tree)
        self.children: list[list[int]] = [[] for _ in range(n)]
        self.prim: list[Primitive | None] = [None] * n
        self.key: list[str] = [""] * n
        self.has_input: list[bool] = [False] * n
        self.input_free: list[bool] = [False] * n
        inputs = set(inputs)
        for i in reversed(range(n)):
            node = tree[i]
            if isinstance(node, gp.Primitive):
                self.prim[i] = REGISTRY[node.name]
                j = i + 1
                for _ in range(node.arity):
                    self.children[i].append(j)
                    j = tree.searchSubtree(j).stop
                kids = self.children[i]
                keys = [self.key[c] for c in kids]
                if self.prim[i].commutative:
                    keys = sorted(keys)
                self.key[i] = f"{node.name}({', '.join(keys)})"
                self.has_input[i] = any(self.has_input[c] for c in kids)
                facts = primitive_facts(node.name)
                # a size-aware operation (t_sum, pool_sum, layer_sum, ...) of a constant counts
                # elements, tensors or layers: it still depends on the architecture
                self.input_free[i] = (
                    facts.constant
                    or (all(self.input_free[c] for c in kids) and not self.prim[i].size_aware)
                    or (facts.self_cancelling and len(kids) == 2 and keys[0] == keys[1]))
            else:
                self.key[i] = node.format()
                self.has_input[i] = node.name in inputs
                self.input_free[i] = not self.has_input[i]

    def name(self, i: int) -> str:
        return self.tree[i].name


# -- structural rules ------------------------------------------------------------------------


class StructuralRule(abc.ABC):
    """A rule on the tree alone. ``fires`` returns the reason it rejects the tree, or None."""

    name = "structural"
    kind = "structural"
    description = ""

    def applies_to(self, language) -> bool:
        return True

    @abc.abstractmethod
    def fires(self, view: TreeView) -> str | None:
        """The reason this rule rejects the tree, or None."""


class InversePair(StructuralRule):
    """f(g(x)) = x: the registry says f inverts g (``f.inverse_of == g``: log(exp(x))), or it
    is measured (:func:`composition`: abslog(exp(x))). No-op operations are left to
    :class:`NoOperation` (a template language needs identity(identity(x)))."""

    name = "inverse_pair"
    description = "an operation applied to its own inverse: log(exp(x)), abslog(exp(x))"

    def fires(self, view):
        for i, prim in enumerate(view.prim):
            if prim is not None and prim.arity == 1:
                inner = view.prim[view.children[i][0]]
                if inner is None or primitive_facts(prim.name).noop \
                        or primitive_facts(inner.name).noop:
                    continue  # identity(identity(x)): the no_op rule's business
                if (prim.inverse_of == inner.name
                        or composition(prim.name, inner.name) == "identity"):
                    return f"{prim.name}({inner.name}(x)) is x"
        return None


class AbsorbedOperation(StructuralRule):
    """f(g(x)) = g(x) for an f that is not a no-op: f changes nothing on g's range
    (measured, :func:`composition`): abs(exp(x)), relu(square(x)), minmax(ranknorm(x))."""

    name = "absorbed_operation"
    description = "an operation that changes nothing on its argument's range: abs(exp(x))"

    def fires(self, view):
        for i, prim in enumerate(view.prim):
            if prim is not None and prim.arity == 1 and not primitive_facts(prim.name).noop:
                inner = view.prim[view.children[i][0]]
                if inner is not None and composition(prim.name, inner.name) == "absorbed":
                    return f"{prim.name}({inner.name}(x)) is {inner.name}(x)"
        return None


class AppliedTwice(StructuralRule):
    """f(f(x)) for a unary f (not a no-op) with the registry flag ``flag``, which is
    ``same_as`` (``{f}``: f's name)."""

    flag = ""
    same_as = ""

    def fires(self, view):
        for i, prim in enumerate(view.prim):
            if (prim is not None and prim.arity == 1 and getattr(prim, self.flag)
                    and not primitive_facts(prim.name).noop):
                child = view.children[i][0]
                if view.prim[child] is not None and view.name(child) == prim.name:
                    f = prim.name
                    return f"{f}({f}(x)) is {self.same_as.format(f=f)}"
        return None


class InvolutionTwice(AppliedTwice):
    """f(f(x)) for an involution f (``f(f(x)) = x``): neg(neg(x)), inverse(inverse(x))."""

    name = "involution_twice"
    description = "an involution applied twice: neg(neg(x)), inverse(inverse(x))"
    flag, same_as = "involution", "x"


class IdempotentTwice(AppliedTwice):
    """f(f(x)) for an idempotent f (``f(f(x)) = f(x)``): abs(abs(x)), relu(relu(x))."""

    name = "idempotent_twice"
    description = "an idempotent operation applied twice: abs(abs(x)), znorm(znorm(x))"
    flag, same_as = "idempotent", "{f}(x)"


class IdempotentBinary(StructuralRule):
    """f(x, x) for a binary f with ``f(x, x) = x``: max(x, x), min(x, x)."""

    name = "idempotent_binary"
    description = "a binary operation that returns x on (x, x): max(x, x)"

    def fires(self, view):
        for i, prim in enumerate(view.prim):
            if prim is not None and prim.arity == 2 and prim.idempotent:
                a, b = view.children[i]
                if view.key[a] == view.key[b]:
                    return f"{prim.name}(x, x) is x for x = {view.key[a]}"
        return None


class SelfCancelling(StructuralRule):
    """f(x, x) that is a constant whatever x: x - x, x / x (measured, see primitive_facts)."""

    name = "self_cancelling"
    description = "a binary operation on two equal arguments giving a constant: x - x, x / x"

    def fires(self, view):
        for i, prim in enumerate(view.prim):
            if prim is not None and prim.arity == 2 and primitive_facts(prim.name).self_cancelling:
                a, b = view.children[i]
                if view.key[a] == view.key[b]:
                    return f"{prim.name}(x, x) is a constant for x = {view.key[a]}"
        return None


class NoOperation(StructuralRule):
    """An operation that returns its argument unchanged (identity; the mean of one value).

    Not applied to template languages, whose fixed shape needs the identity as a gene."""

    name = "no_op"
    description = "an operation that returns its argument: identity(x), mean of a scalar"

    def applies_to(self, language):
        return getattr(language, "template", None) is None

    def fires(self, view):
        for prim in view.prim:
            if prim is not None and primitive_facts(prim.name).noop:
                return f"{prim.name}(x) is x"
        return None


class NoInput(StructuralRule):
    """An operation whose subtree reads no input at all (only constants)."""

    name = "no_input"
    description = "a subtree with no input: an operation on constants only"

    def fires(self, view):
        for i, prim in enumerate(view.prim):
            if prim is not None and not view.has_input[i]:
                return f"{view.key[i]} reads no input"
        return None


class ConstantSubtree(StructuralRule):
    """An operation whose value does not depend on the inputs although it reads some: the
    softmax or log-softmax of a single per-layer value (1 and 0), or built on x - x."""

    name = "constant_subtree"
    description = "a subtree whose value does not depend on the inputs: logsoftmax of a scalar"

    def fires(self, view):
        parent = {c: i for i, kids in enumerate(view.children) for c in kids}
        for i, prim in enumerate(view.prim):
            if prim is None or not view.has_input[i] or not view.input_free[i]:
                continue
            # a constant under a size-aware parent (the element count of a matrix of ones)
            # still depends on the architecture
            if i in parent and view.input_free[parent[i]]:
                continue  # the largest constant subtree is the one to report
            up = view.prim[parent[i]] if i in parent else None
            if up is None or not up.size_aware:
                return f"{view.key[i]} does not depend on the inputs"
        return None


class MonotoneRoot(StructuralRule):
    """A monotone operation on the final score (the root, above the layer aggregation): it
    cannot change the ranking, so the formula without it ranks the same. A decreasing one
    reverses the ranking, which changes a signed fitness: it fires only with ``absolute``."""

    name = "monotone_root"
    description = "a monotone operation on the per-architecture score: s_log(x), s_exp(x)"

    def __init__(self, absolute: bool = False):
        self.absolute = absolute

    def fires(self, view):
        prim = view.prim[0]
        if prim is None or prim.arity != 1 or prim.args[0] is not prim.ret:
            return None
        allowed = ("increasing", "decreasing") if self.absolute else ("increasing",)
        if prim.monotone in allowed:
            return f"{prim.name} is {prim.monotone} on the final score: the ranking is unchanged"
        return None


def structural_rules(absolute: bool = False) -> list[StructuralRule]:
    """Every structural rule, in the order they are tried."""
    return [NoInput(), SelfCancelling(), ConstantSubtree(), InvolutionTwice(), IdempotentTwice(),
            InversePair(), AbsorbedOperation(), IdempotentBinary(), NoOperation(),
            MonotoneRoot(absolute)]


# -- probe rules -----------------------------------------------------------------------------


class ProbeRule(abc.ABC):
    """A rule on the scores of the probe architectures, shape (P,) float64 (``ids``: their
    record ids, for the reason)."""

    name = "probe"
    kind = "probe"
    description = ""

    @abc.abstractmethod
    def fires(self, scores: np.ndarray, ids: Sequence[str] | None = None) -> str | None:
        """The reason this rule rejects the probe scores, or None."""


def _which(mask: np.ndarray, ids: Sequence[str] | None) -> str:
    positions = np.flatnonzero(mask).tolist()
    names = [ids[i] for i in positions] if ids is not None else positions
    return "record" + ("s " if len(names) > 1 else " ") + ", ".join(map(str, names))


class ProbeNaN(ProbeRule):
    name = "probe_nan"
    description = "NaN on a probe architecture"

    def fires(self, scores, ids=None):
        bad = np.isnan(scores)
        return f"NaN on probe {_which(bad, ids)}" if bad.any() else None


class ProbeInfinite(ProbeRule):
    name = "probe_inf"
    description = "an infinite score on a probe architecture"

    def fires(self, scores, ids=None):
        bad = np.isinf(scores)
        return f"infinite on probe {_which(bad, ids)}" if bad.any() else None


class ProbeConstant(ProbeRule):
    name = "probe_constant"
    description = "the same score on every probe architecture"

    def fires(self, scores, ids=None):
        if scores.size < 2:
            return None
        # the same test as a full evaluation's (lpzero_gp.language.score_status)
        spread = float(np.max(scores) - np.min(scores))
        if spread <= CONSTANT_RTOL * float(np.max(np.abs(scores))):
            return f"the same score {float(scores[0]):.6g} on all {scores.size} probes"
        return None


def probe_rules() -> list[ProbeRule]:
    return [ProbeNaN(), ProbeInfinite(), ProbeConstant()]


def rule_names(absolute: bool = False) -> list[str]:
    """Names of every rule, structural first, in the order they are tried."""
    return [r.name for r in structural_rules(absolute)] + [r.name for r in probe_rules()]


# -- the strategy ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    """A rule rejected a formula: which one, and why."""

    rule: str
    reason: str


class RuleBasedPruning:
    """The rules of one search: structural rules on the tree, probe rules on ``probe_bank``
    (a bank of a few architectures; ``None`` disables the probe rules).

    ``check(tree)`` returns the first :class:`Firing`, or ``None`` when the formula passes;
    ``counts`` holds how often each rule fired.
    """

    def __init__(self, language, probe_bank: InputBank | None = None, absolute: bool = False,
                 structural: Sequence[StructuralRule] | None = None,
                 probes: Sequence[ProbeRule] | None = None):
        self.language = language
        self.probe_bank = probe_bank
        rules = structural_rules(absolute) if structural is None else list(structural)
        self.structural = [r for r in rules if r.applies_to(language)]
        self.probe = (probe_rules() if probes is None else list(probes)) \
            if probe_bank is not None else []
        self.counts: Counter = Counter()

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.structural] + [r.name for r in self.probe]

    def check_structure(self, tree: gp.PrimitiveTree) -> Firing | None:
        view = TreeView(tree, self.language.terminals)
        for rule in self.structural:
            reason = rule.fires(view)
            if reason is not None:
                return self._fired(rule.name, reason)
        return None

    def check_probes(self, tree: gp.PrimitiveTree) -> Firing | None:
        if not self.probe:
            return None
        with torch.no_grad():
            scores = interpret(tree, self.language, self.probe_bank)
        scores = np.asarray(scores.detach().double().numpy(), dtype=np.float64)
        for rule in self.probe:
            reason = rule.fires(scores, self.probe_bank.record_ids)
            if reason is not None:
                return self._fired(rule.name, reason)
        return None

    def check(self, tree: gp.PrimitiveTree) -> Firing | None:
        """Structural rules first (cheap), then probe rules."""
        return self.check_structure(tree) or self.check_probes(tree)

    def _fired(self, rule: str, reason: str) -> Firing:
        self.counts[rule] += 1
        return Firing(rule, reason)
