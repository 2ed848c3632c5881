"""Primitive sets (languages) read from TOML files, and what they can do with trees.

A primitive-set file names the inputs and operations of a language with their sampling weights
and the size limits of its trees. Two shapes exist:

``shape = "free"`` (default): any well-typed tree whose root is a ``Scalar``::

    name = "default"
    description = "..."
    inputs = { A = 1.0, H = 1.0 }        # or a list ["A", "H"] (weight 1 each)
    [operations]                         # or a list of names (registry default weights)
    t_mean = 1.0
    layer_mean = 1.0
    [limits]
    min_depth = 3         # generated trees reach at least this height when the types allow
    init_max_depth = 6    # generated trees aim at a height in [min_depth, init_max_depth]
    max_depth = 8         # no tree higher than this (height: a lone input has height 0)
    max_nodes = 25

A free-form language may also name hand-designed proxies as terminals of type ``Scalar``
(one value per architecture; :mod:`.hand`), and build on another language's file::

    extends = "default"                  # a built-in name or a path (relative to this file)
    hand_designed = { synflow = 0.2, snip = 0.2 }   # or a list of names (weight 1 each)
    hand_designed_layers = { snip = 0.2 }           # per-layer values: terminal l_snip

``extends`` reads the other file first; a key of this file replaces the base's, except that
the tables ``inputs``, ``operations``, ``limits``, ``hand_designed`` and
``hand_designed_layers`` are merged entry by entry (this file's entries win). ``name`` and
``description`` are never inherited.

``shape = "lpzero"``: LPZero's fixed template. Two inputs, each through two unary operations
(an operation that reduces to a per-layer scalar makes the next one act on that scalar, via the
primitive's ``scalar_form``), each branch reduced by ``template.reduction`` if still a tensor,
joined per layer by a binary operation, aggregated over layers by ``template.aggregation``::

    name = "lpzero"
    shape = "lpzero"
    inputs = ["A", "G", "H", "S", "W", "J"]
    [unary]               # the unary operations, named at the tensor level, with weights
    [binary]              # per-layer-scalar binary operations with weights
    [template]
    reduction = "t_mean"
    aggregation = "layer_mean"

Any problem in a file raises :class:`~lpzero_gp.errors.ConfigError` naming the file and key.
"""
from __future__ import annotations

import os
import random
import sys
from typing import Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib
from dataclasses import dataclass
from pathlib import Path

from deap import gp

from ..bank import GROUP_LEVEL, INPUT_NAMES, INPUTS
from ..errors import ConfigError, FormulaError
from ..locations import primitives_dir
from .generate import TypedGenerator, random_tree
from .hand import HAND_LAYER_TYPE, HAND_TYPE, hand_registry, layer_terminal
from .registry import REGISTRY, Primitive
from .text import parse_nodes
from .types import (TENSOR_TYPES, TYPES, Each, Pooled, Scalar, ScalarL, Tensor, concrete,
                    describe)

SHAPES = ("free", "lpzero")
_TOP_KEYS = {"free": {"name", "description", "shape", "inputs", "operations", "limits",
                      "hand_designed", "hand_designed_layers", "extends"},
             "lpzero": {"name", "description", "shape", "inputs", "unary", "binary",
                        "template"}}


@dataclass(frozen=True)
class Limits:
    """Tree-size limits. Heights count edges: a lone input has height 0."""

    min_depth: int
    max_depth: int
    max_nodes: int
    init_max_depth: int


@dataclass(frozen=True)
class Template:
    """LPZero's template: slot operations (tensor-level names) and how branches are joined."""

    unary: dict[str, float]
    binary: dict[str, float]
    reduction: str
    pooling: str
    aggregation: str


@dataclass(frozen=True)
class TemplateGenes:
    """One LPZero proxy as its genes (the public code's genotype).

    ``inputs``: the two input names; ``unary``: per branch the two unary operations, innermost
    first, named at the tensor level (``t_fro``, ``logsoftmax``) whatever level they act on;
    ``binary``: the per-layer binary operation.
    """

    inputs: tuple[str, str]
    unary: tuple[tuple[str, str], tuple[str, str]]
    binary: str


class Language:
    """A primitive set: inputs, operations, weights, limits, and the DEAP ``pset``.

    ``pset``: DEAP ``PrimitiveSetTyped`` returning :class:`Scalar`, inputs as terminals.
    ``primitives``: the registry entries in the set. ``weights``: sampling weight per input,
    hand-designed terminal and operation name (for a template, per unary slot, binary
    operation and input). ``inputs``: the captured inputs; ``hand``: the hand-designed
    terminals (:mod:`.hand`): proxies read as ``Scalar`` terminals, then per-layer values
    read as ``ScalarL`` terminals (``l_snip``, also in ``hand_layers``); ``terminals``: both.
    """

    def __init__(self, name: str, path: Path | None, inputs: dict[str, float],
                 operations: dict[str, float], limits: Limits, template: Template | None = None,
                 description: str = "", hand: dict[str, float] | None = None,
                 hand_layers: dict[str, float] | None = None):
        self.name, self.path, self.description = name, path, description
        self.inputs: tuple[str, ...] = tuple(inputs)
        hand_layers = {layer_terminal(n): w for n, w in (hand_layers or {}).items()}
        hand = {**(hand or {}), **hand_layers}
        self.hand: tuple[str, ...] = tuple(hand)
        self.hand_layers: tuple[str, ...] = tuple(hand_layers)
        self.terminals: tuple[str, ...] = self.inputs + self.hand
        self.groups: tuple[str, ...] = tuple(dict.fromkeys(INPUTS[n].group for n in inputs))
        self.limits = limits
        self.template_spec = template
        self.template: str | None = "lpzero" if template is not None else None
        if template is None:
            used = dict(operations)
        else:
            used = {**{s: 0.0 for s in template.unary}, template.reduction: 0.0,
                    template.pooling: 0.0, template.aggregation: 0.0}
            for slot in template.unary:
                used[REGISTRY[slot].scalar_form] = 0.0
            used.update(template.binary)
        self.primitives: dict[str, Primitive] = {n: REGISTRY[n] for n in used}
        self.weights: dict[str, float] = {**inputs, **hand,
                                          **(operations if template is None else
                                             {**template.unary, **template.binary})}
        self.pset = gp.PrimitiveSetTyped(name, [], Scalar)
        self.variants: dict[str, list] = {}
        group_weight = {g: sum(w for n, w in inputs.items() if INPUTS[n].group == g)
                        for g in self.groups}
        mean_weight = sum(group_weight.values()) / max(len(group_weight), 1)
        layer_weight = sum(w for g, w in group_weight.items() if GROUP_LEVEL[g] == "layer")
        weighted: list[tuple[object, float]] = []
        for n, prim in self.primitives.items():
            for group in (self.groups if prim.generic else (None,)):
                args = [concrete(t, group) if group else t for t in prim.args]
                ret = concrete(prim.ret, group) if group else prim.ret
                self.pset.addPrimitive(prim.fn, args, ret, name=n)
                node = self.pset.primitives[ret][-1]
                self.variants.setdefault(n, []).append(node)
                # a group is chosen where its values are pooled: inside a layer, in proportion
                # to its inputs' weight; at the root (model level) against the layer
                # aggregations, in proportion to its weight against the layer inputs' weight
                if not group:
                    share = 1.0
                elif ret is Scalar:
                    share = group_weight[group] / (layer_weight or mean_weight)
                else:
                    share = group_weight[group] / mean_weight
                weighted.append((node, used[n] * share if template is None else 0.0))
        for n in self.inputs:
            self.pset.addTerminal(n, TENSOR_TYPES[INPUTS[n].group], name=n)
            weighted.append((self.pset.mapping[n], inputs[n]))
        for n in self.hand:
            self.pset.addTerminal(n, HAND_LAYER_TYPE if n in hand_layers else HAND_TYPE,
                                  name=n)
            weighted.append((self.pset.mapping[n], hand[n]))
        self._generator = TypedGenerator(weighted, limits.max_depth, limits.max_nodes) \
            if template is None else None
        if template is not None:
            self._slot_of = {REGISTRY[s].scalar_form: s for s in template.unary}

    def variant(self, name: str, args: Sequence[type]) -> "gp.Primitive | None":
        """The DEAP primitive ``name`` taking argument types ``args`` (None if there is none)."""
        for node in self.variants.get(name, ()):
            if list(node.args) == list(args):
                return node
        return None

    def node_for(self, name: str, group: str) -> "gp.Primitive":
        """The variant of ``name`` for alignment group ``group`` (or its only variant)."""
        nodes = self.variants[name]
        for node in nodes:
            if any(getattr(t, "group", None) == group for t in (*node.args, node.ret)):
                return node
        return nodes[0]

    def __repr__(self) -> str:
        return f"Language({self.name!r}, {len(self.primitives)} operations, inputs {self.inputs})"

    # -- generation ---------------------------------------------------------------------------
    def generate(self, rng: random.Random) -> gp.PrimitiveTree:
        """A random well-typed tree within the limits (the template's shape for a template)."""
        if self.template_spec is not None:
            return self.from_genes(self.random_genes(rng))
        lim = self.limits
        return random_tree(self._generator, rng, Scalar, lim.min_depth, lim.init_max_depth)

    def generate_subtree(self, rng: random.Random, ret: type, max_depth: int,
                         max_nodes: int | None = None, min_depth: int = 0) -> list:
        """Prefix nodes of a random subtree of type ``ret`` (for subtree mutation).

        ``max_depth``/``max_nodes`` bound the subtree itself. Free-form languages only.
        """
        if self._generator is None:
            raise ValueError(f"language {self.name!r} follows a template; vary its genes")
        max_nodes = self.limits.max_nodes if max_nodes is None else max_nodes
        target = rng.randint(min(min_depth, max_depth), max_depth)
        return self._generator.generate(rng, ret, min_depth, target,
                                        rng.choice(("grow", "full")), max_depth, max_nodes)

    def can_generate(self, ret: type, max_depth: int, max_nodes: int) -> bool:
        """Whether a subtree of type ``ret`` fits ``max_depth`` and ``max_nodes``."""
        return self._generator is not None and self._generator.can_make(ret, max_depth,
                                                                         max_nodes)

    # -- template genes -----------------------------------------------------------------------
    def random_genes(self, rng: random.Random) -> TemplateGenes:
        spec = self._spec()
        names, weights = list(self.inputs), [self.weights[n] for n in self.inputs]
        slots, slot_w = list(spec.unary), list(spec.unary.values())
        pick = lambda pool, w: rng.choices(pool, weights=w)[0]  # noqa: E731
        inputs = (pick(names, weights), pick(names, weights))
        unary = tuple((pick(slots, slot_w), pick(slots, slot_w)) for _ in range(2))
        binary = pick(list(spec.binary), list(spec.binary.values()))
        return TemplateGenes(inputs, unary, binary)  # type: ignore[arg-type]

    def from_genes(self, genes: TemplateGenes) -> gp.PrimitiveTree:
        """The template tree of ``genes``."""
        spec = self._spec()
        branches = []
        for inp, chain in zip(genes.inputs, genes.unary):
            if inp not in self.inputs:
                raise ValueError(f"input {inp!r} is not in language {self.name!r}")
            group = INPUTS[inp].group
            nodes, reduced = [self.pset.mapping[inp]], False
            for slot in chain:
                if slot not in spec.unary:
                    raise ValueError(f"{slot!r} is not a unary operation of {self.name!r}")
                prim = REGISTRY[slot] if not reduced else REGISTRY[REGISTRY[slot].scalar_form]
                nodes.insert(0, self.node_for(prim.name, group))
                reduced = reduced or prim.ret is Each
            if not reduced:
                nodes.insert(0, self.node_for(spec.reduction, group))
            nodes.insert(0, self.node_for(spec.pooling, group))
            branches.append(nodes)
        if genes.binary not in spec.binary:
            raise ValueError(f"{genes.binary!r} is not a binary operation of {self.name!r}")
        return gp.PrimitiveTree([self.pset.mapping[spec.aggregation],
                                 self.pset.mapping[genes.binary], *branches[0], *branches[1]])

    def genes(self, tree) -> TemplateGenes:
        """The genes of a template tree; ``ValueError`` saying why when it does not fit."""
        spec = self._spec()
        names = [node.name for node in tree]
        if len(names) < 4 or names[0] != spec.aggregation or names[1] not in spec.binary:
            raise ValueError(f"it does not start with {spec.aggregation}(<binary>(...")
        pos, inputs, unary = 2, [], []
        for _ in range(2):
            if pos >= len(names) or names[pos] != spec.pooling:
                raise ValueError(f"a branch does not start with {spec.pooling}")
            pos += 1
            chain = []
            while pos < len(names) and names[pos] not in self.inputs:
                chain.append(names[pos])
                pos += 1
            if pos >= len(names):
                raise ValueError("a branch has no input")
            inputs.append(names[pos])
            pos += 1
            prims = [REGISTRY[n] for n in chain]
            reduced = (len(prims) == 3 and prims[0].name == spec.reduction
                       and prims[1].ret is Tensor)
            if reduced:
                prims = prims[1:]
            if len(prims) != 2 or any(p.arity != 1 for p in prims):
                raise ValueError(f"a branch is not two unary operations "
                                 f"(+ {spec.reduction})")
            outer, inner = prims
            if inner.args != (Tensor,) or inner.name not in spec.unary:
                raise ValueError(f"{inner.name} is not a unary operation on a tensor of "
                                 f"{self.name!r}")
            if inner.ret is Tensor:
                if outer.name not in spec.unary or outer.args != (Tensor,):
                    raise ValueError(f"{outer.name} cannot follow {inner.name} in {self.name!r}")
                if outer.ret is Tensor and not reduced:
                    raise ValueError(f"branch {outer.name}({inner.name}(...)) is not reduced")
                outer_slot = outer.name
            else:
                if outer.name not in self._slot_of:
                    raise ValueError(f"{outer.name} cannot follow {inner.name} in {self.name!r}")
                outer_slot = self._slot_of[outer.name]
            unary.append((inner.name, outer_slot))
        if pos != len(names):
            raise ValueError("it has nodes beyond the template")
        return TemplateGenes(tuple(inputs), tuple(unary), names[1])  # type: ignore[arg-type]

    def _spec(self) -> Template:
        if self.template_spec is None:
            raise ValueError(f"language {self.name!r} has no template")
        return self.template_spec

    # -- checks and text ------------------------------------------------------------------------
    def parse(self, text: str) -> gp.PrimitiveTree:
        """The tree of ``text``; :class:`FormulaError` pointing at the offending token if not.

        Any length and any nesting up to :data:`MAX_FORMULA_DEPTH` levels is read (the parser
        recurses once per level: the recursion limit is raised for the parse as needed)."""
        depth = nesting_depth(text) if isinstance(text, str) else 0
        if depth > MAX_FORMULA_DEPTH:
            raise FormulaError(f"the formula nests {depth} levels deep; at most "
                               f"{MAX_FORMULA_DEPTH} are read")
        try:
            with recursion_room(depth):
                nodes = parse_nodes(text, self)
        except RecursionError:
            raise FormulaError(f"the formula nests too deeply to be read ({depth} levels)") \
                from None
        tree = gp.PrimitiveTree(nodes)
        if self.template_spec is not None:
            try:
                self.genes(tree)
            except ValueError as exc:
                raise FormulaError(f"formula {text!r} does not follow the template of language "
                                   f"{self.name!r}: {exc}") from None
        return tree

    def is_well_typed(self, tree) -> bool:
        """Every node is of this language and gets the types it needs; the root is Scalar."""
        expected = [Scalar]
        for node in tree:
            if not expected:
                return False
            if isinstance(node, gp.Terminal):
                mine = self.pset.mapping.get(node.name) if node.name in self.terminals \
                    else None
            else:
                mine = self.variant(node.name, node.args)
            if mine is None or mine.ret is not node.ret or node.ret is not expected.pop():
                return False
            expected.extend(reversed(getattr(node, "args", [])))
        if expected:
            return False
        if self.template_spec is not None:
            try:
                self.genes(tree)
            except ValueError:
                return False
        return True

    def within_limits(self, tree) -> bool:
        return len(tree) <= self.limits.max_nodes and tree.height <= self.limits.max_depth


#: the deepest nesting of parentheses :meth:`Language.parse` reads
MAX_FORMULA_DEPTH = 10_000


def nesting_depth(text: str) -> int:
    """The deepest nesting of parentheses in ``text`` (0 for none)."""
    depth = deepest = 0
    for char in text:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(0, depth - 1)
    return deepest


class recursion_room:
    """A context in which ``levels`` more levels of Python recursion fit: the recursion limit
    is raised for its duration when it is too low, and restored after."""

    def __init__(self, levels: int):
        self.levels = int(levels)
        self.previous = None

    def __enter__(self):
        wanted = 2 * self.levels + 1000
        current = sys.getrecursionlimit()
        if wanted > current:
            self.previous = current
            sys.setrecursionlimit(wanted + current)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            sys.setrecursionlimit(self.previous)
        return False


# -- loading ---------------------------------------------------------------------------------

_CACHE: dict[tuple[str, float], Language] = {}


def load_language(name_or_path: "str | os.PathLike | Language") -> Language:
    """The language of a built-in name (``"lpzero"``, ``"default"``) or a TOML file path.

    Cached per resolved path (and modification time).
    """
    if isinstance(name_or_path, Language):
        return name_or_path
    text = os.fspath(name_or_path)
    if os.sep not in text and "/" not in text and not text.endswith(".toml"):
        path = primitives_dir() / f"{text}.toml"
        if not path.is_file():
            known = sorted(p.stem for p in primitives_dir().glob("*.toml"))
            raise ConfigError(f"unknown language {text!r}: no {path}; built-in languages: "
                              f"{', '.join(known) or 'none'}")
    else:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: primitive-set file not found")
    path = path.resolve()
    # a file another ``extends`` may have changed too: the key holds every candidate base
    folders = {path.parent, primitives_dir().resolve()}
    key = (str(path), tuple(sorted((str(p), p.stat().st_mtime_ns)
                                   for folder in folders for p in folder.glob("*.toml"))))
    if key not in _CACHE:
        _CACHE[key] = _read(path)
    return _CACHE[key]


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: malformed TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None


# tables that ``extends`` merges entry by entry
_MERGED = ("inputs", "operations", "limits", "hand_designed", "hand_designed_layers")


def _extended(data: dict, path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """``data`` with the file it ``extends`` read first (see the module docstring)."""
    base_ref = data.get("extends")
    if base_ref is None:
        return data
    if not isinstance(base_ref, str) or not base_ref:
        raise ConfigError(f"{path}: extends: must name a language (a built-in name or a path)")
    if "/" in base_ref or os.sep in base_ref or base_ref.endswith(".toml"):
        base = (path.parent / base_ref).expanduser().resolve()
    else:
        base = (primitives_dir() / f"{base_ref}.toml").resolve()
    if not base.is_file():
        raise ConfigError(f"{path}: extends: no language file {base}")
    if base in seen or base == path:
        raise ConfigError(f"{path}: extends: {base} extends this file again (a cycle)")
    parent = _extended(_toml(base), base, seen + (path,))
    if parent.get("shape", "free") != "free" or data.get("shape", "free") != "free":
        raise ConfigError(f"{path}: extends: only free-form languages extend one another")
    out = {k: v for k, v in parent.items() if k not in ("name", "description", "extends")}
    for key, value in data.items():
        if key == "extends":
            continue
        if key in _MERGED and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _read(path: Path) -> Language:
    data = _toml(path)
    where = lambda key: f"{path}: {key}"  # noqa: E731
    data = _extended(data, path)
    shape = data.get("shape", "free")
    if shape not in SHAPES:
        raise ConfigError(f"{where('shape')}: {shape!r} is not one of {', '.join(SHAPES)}")
    extra = set(data) - _TOP_KEYS[shape]
    if extra:
        raise ConfigError(f"{where(sorted(extra)[0])}: unknown key for shape {shape!r} "
                          f"(allowed: {', '.join(sorted(_TOP_KEYS[shape]))})")
    name = data.get("name", path.stem)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where('name')}: must be a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ConfigError(f"{where('description')}: must be a string")
    inputs = _weights(data, "inputs", where, allowed=INPUT_NAMES, what="input")
    if shape == "lpzero":
        return _read_template(data, name, path, inputs, description, where)
    operations = _weights(data, "operations", where, allowed=REGISTRY, what="operation",
                          default=lambda n: REGISTRY[n].weight)
    limits = _limits(data, where)
    hand = _hand(data, where, "hand_designed") if "hand_designed" in data else {}
    layers = (_hand(data, where, "hand_designed_layers") if "hand_designed_layers" in data
              else {})
    language = Language(name, path, inputs, operations, limits, description=description,
                        hand=hand, hand_layers=layers)
    _check_free(language, operations, where)
    return language


def _weights(data: dict, key: str, where, allowed, what: str, default=lambda n: 1.0):
    if key not in data:
        raise ConfigError(f"{where(key)}: missing")
    raw = data[key]
    if isinstance(raw, list):
        if not all(isinstance(n, str) for n in raw):
            raise ConfigError(f"{where(key)}: a list of names is expected")
        raw = {n: default(n) if n in allowed else 1.0 for n in raw}  # unknown: refused below
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where(key)}: expected a non-empty table of name = weight, or a "
                          f"list of names")
    out = {}
    for n, w in raw.items():
        if n not in allowed:
            raise ConfigError(f"{where(f'{key}.{n}')}: unknown {what} {n!r}")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not w >= 0 \
                or w == float("inf"):
            raise ConfigError(f"{where(f'{key}.{n}')}: weight must be a finite number >= 0, "
                              f"got {w!r}")
        out[n] = float(w)
    if not any(w > 0 for w in out.values()):
        raise ConfigError(f"{where(key)}: every weight is 0")
    return out


def _hand(data: dict, where, key: str) -> dict[str, float]:
    """The hand-designed proxies of ``data[key]`` (names of the registry of
    :mod:`lpzero_gp.baselines.hand_designed`; for ``hand_designed_layers``, proxies with
    per-layer values), none whose terminal is the name of an input or operation."""
    per_layer = key == "hand_designed_layers"
    known = {n: h for n, h in hand_registry().items() if h.layers or not per_layer}
    what = "hand-designed proxy with per-layer values" if per_layer else "hand-designed proxy"
    raw = data[key]
    for n in (raw if isinstance(raw, (list, dict)) else ()):
        if isinstance(n, str) and n not in known:
            raise ConfigError(f"{where(f'{key}.{n}')}: unknown {what} {n!r}; known: "
                              f"{', '.join(known)}")
    hand = _weights(data, key, where, allowed=known, what=what)
    for n in hand:
        term = layer_terminal(n) if per_layer else n
        if term in REGISTRY or term in INPUT_NAMES:
            raise ConfigError(f"{where(f'{key}.{n}')}: {term!r} is also the name of an "
                              f"{'operation' if term in REGISTRY else 'input'}")
    return hand


def _limits(data: dict, where) -> Limits:
    raw = data.get("limits")
    if not isinstance(raw, dict):
        raise ConfigError(f"{where('limits')}: missing table [limits]")
    fields = ("min_depth", "max_depth", "max_nodes", "init_max_depth")
    for k in raw:
        if k not in fields:
            raise ConfigError(f"{where(f'limits.{k}')}: unknown limit (allowed: "
                              f"{', '.join(fields)})")
    vals = {}
    for k in fields:
        v = raw.get(k, raw.get("max_depth") if k == "init_max_depth" else None)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(f"{where(f'limits.{k}')}: a non-negative integer is required, "
                              f"got {v!r}")
        vals[k] = v
    if not vals["min_depth"] <= vals["init_max_depth"] <= vals["max_depth"]:
        raise ConfigError(f"{where('limits')}: need min_depth <= init_max_depth <= max_depth")
    if vals["max_nodes"] < 1:
        raise ConfigError(f"{where('limits.max_nodes')}: must be positive")
    return Limits(**vals)


def _check_free(language: Language, operations: dict[str, float], where) -> None:
    gen = language._generator
    lim = language.limits
    for n in language.primitives:
        for node in language.variants[n]:
            if all(gen.smallest_height(t) != float("inf") for t in node.args):
                break
        else:
            raise ConfigError(f"{where(f'operations.{n}')}: needs "
                              f"{', '.join(describe(t) for t in language.variants[n][0].args)}, "
                              f"which no input or operation of positive weight in this set "
                              f"produces")
    if gen.smallest_height(Scalar) == float("inf"):
        raise ConfigError(f"{where('operations')}: no operation of positive weight returns a "
                          f"Scalar (the root of every formula)")
    if not gen.can_make(Scalar):
        raise ConfigError(f"{where('limits')}: no Scalar-valued tree of these operations fits "
                          f"max_depth {lim.max_depth} and max_nodes {lim.max_nodes}")


def _read_template(data, name, path, inputs, description, where) -> Language:
    unary = _weights(data, "unary", where, allowed=REGISTRY, what="operation")
    binary = _weights(data, "binary", where, allowed=REGISTRY, what="operation")
    tpl = data.get("template")
    if not isinstance(tpl, dict):
        raise ConfigError(f"{where('template')}: missing table [template]")
    for k in tpl:
        if k not in ("reduction", "pooling", "aggregation"):
            raise ConfigError(f"{where(f'template.{k}')}: unknown key (allowed: reduction, "
                              f"pooling, aggregation)")
    for n in unary:
        p = REGISTRY[n]
        if p.args != (Tensor,) or p.ret not in (Tensor, Each) or p.scalar_form is None:
            raise ConfigError(f"{where(f'unary.{n}')}: not a unary operation on a per-layer "
                              f"tensor with a per-layer-scalar form")
    for n in binary:
        p = REGISTRY[n]
        if p.args != (ScalarL, ScalarL) or p.ret is not ScalarL:
            raise ConfigError(f"{where(f'binary.{n}')}: not a binary operation on per-layer "
                              f"scalars (ScalarL, ScalarL) -> ScalarL")
    tpl = {"pooling": "pool_mean", **tpl}
    checks = {"reduction": ((Tensor,), Each), "pooling": ((Each,), Pooled),
              "aggregation": ((ScalarL,), Scalar)}
    chosen = {}
    for k, (args, ret) in checks.items():
        n = tpl.get(k)
        if not isinstance(n, str) or n not in REGISTRY:
            raise ConfigError(f"{where(f'template.{k}')}: unknown operation {n!r}")
        if REGISTRY[n].args != args or REGISTRY[n].ret is not ret:
            raise ConfigError(f"{where(f'template.{k}')}: {n} is not "
                              f"{'/'.join(a.__name__ for a in args)} -> {ret.__name__}")
        chosen[k] = n
    model_level = [n for n in inputs if INPUTS[n].level != "layer"]
    if model_level:
        raise ConfigError(f"{where(f'inputs.{model_level[0]}')}: LPZero's template pairs layers; "
                          f"a model-level input has none")
    limits = Limits(min_depth=5, max_depth=6, max_nodes=14, init_max_depth=6)
    return Language(name, path, inputs, {}, limits,
                    Template(unary, binary, chosen["reduction"], chosen["pooling"],
                             chosen["aggregation"]),
                    description)


__all__ = ["Language", "Limits", "Template", "TemplateGenes", "load_language",
           "primitives_dir", "TYPES"]
