"""Formula text -> typed DEAP tree, with errors that point at the offending token.

The text form is DEAP's prefix form, ``layer_mean(l_add(pool_mean(t_mean(square(H))),
pool_mean(t_std(W))))``: operation names, input names, parentheses and commas; whitespace is
free. Operation names are polymorphic over alignment groups (``square`` squares a tensor of any
input); the parser infers each node's types bottom-up and picks the group's variant, so a
binary operation on two unaligned inputs (``mul(A, H)``) is a type error that says why.
"""
from __future__ import annotations

import difflib
import re
import sys

from ..errors import FormulaError
from ..bank import INPUT_NAMES, INPUTS

# the inputs that share tensors and kept rows, in words: "W and G, WE and GE, ..."
_ALIGNED = ", ".join(" and ".join(n for n, s in INPUTS.items() if s.group == g)
                     for g in dict.fromkeys(s.group for s in INPUTS.values())
                     if sum(s.group == g for s in INPUTS.values()) > 1)
from .registry import REGISTRY
from .types import Scalar, describe, is_each

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),])|(?P<bad>\S))")


def _hand_registered() -> dict:
    """The hand-designed proxies registered so far (none until a hybrid language is loaded:
    a formula error never imports torch)."""
    module = sys.modules.get("lpzero_gp.baselines.hand_designed.registry")
    return getattr(module, "HAND_DESIGNED", {})


def formula_error(text: str, start: int, length: int, message: str) -> FormulaError:
    caret = " " * start + "^" * max(1, length)
    return FormulaError(f"{message}\n  {text}\n  {caret}")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:  # only trailing whitespace is left
            break
        kind = m.lastgroup
        if kind == "bad":
            raise formula_error(text, m.start(kind), 1,
                                f"unexpected character {m.group(kind)!r}")
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str, language):
        self.text, self.language = text, language
        self.toks = _tokens(text)
        self.i = 0

    def error(self, tok, message: str) -> FormulaError:
        if tok is None:
            return formula_error(self.text, len(self.text), 1, message)
        return formula_error(self.text, tok[2], len(tok[1]), message)

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str, context: str):
        tok = self.peek()
        if tok is None or tok[1] != value:
            found = "the end of the formula" if tok is None else repr(tok[1])
            raise self.error(tok, f"expected {value!r} {context}, found {found}")
        self.i += 1

    def unknown(self, tok) -> FormulaError:
        name = tok[1]
        if name in REGISTRY:
            return self.error(tok, f"{name!r} is not an operation of language "
                                   f"{self.language.name!r}")
        if name in INPUT_NAMES:
            return self.error(tok, f"input {name!r} is not in language {self.language.name!r}")
        if name in _hand_registered():
            return self.error(tok, f"hand-designed proxy {name!r} is not a terminal of language "
                                   f"{self.language.name!r} (a hybrid language names it under "
                                   f"hand_designed)")
        known = list(self.language.variants) + list(self.language.terminals)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        return self.error(tok, f"unknown name {name!r} in language {self.language.name!r}"
                               f"{hint}")

    def node(self, parent: str) -> tuple[list, type]:
        """Prefix nodes and type of the subtree at the cursor (types inferred bottom-up)."""
        tok = self.peek()
        if tok is None or tok[0] != "name":
            found = "the end of the formula" if tok is None else repr(tok[1])
            raise self.error(tok, f"expected an input or an operation as {parent}, found "
                                  f"{found}")
        name = tok[1]
        self.i += 1
        if name in self.language.terminals:
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                what = "input" if name in self.language.inputs else "hand-designed proxy"
                raise self.error(nxt, f"{what} {name} takes no arguments")
            terminal = self.language.pset.mapping[name]
            return [terminal], terminal.ret
        if name not in self.language.variants:
            raise self.unknown(tok)
        arity = self.language.variants[name][0].arity
        self.take("(", f"after {name}")
        children, types = [], []
        for k in range(arity):
            nxt = self.peek()
            if nxt is not None and nxt[1] == ")":
                raise self.error(nxt, f"{name} takes {arity} argument(s), got {k}")
            nodes, t = self.node(f"argument {k + 1} of {name}")
            children.append(nodes)
            types.append(t)
            if k < arity - 1:
                nxt = self.peek()
                if nxt is not None and nxt[1] == ")":
                    raise self.error(nxt, f"{name} takes {arity} arguments, got {k + 1}")
                self.take(",", f"between the arguments of {name}")
        nxt = self.peek()
        if nxt is not None and nxt[1] == ",":
            raise self.error(nxt, f"{name} takes {arity} argument(s), got more")
        self.take(")", f"to close {name}")
        node = self.language.variant(name, types)
        if node is None:
            raise self.error(tok, self.mismatch(name, types))
        return [node] + [n for c in children for n in c], node.ret

    def mismatch(self, name: str, types: list) -> str:
        got = " and ".join(describe(t) for t in types)
        groups = {getattr(t, "group", None) for t in types} - {None}
        if len(types) == 2 and len(groups) == 2:
            pairs, first, arg, base = "elements of two tensors", "reduce", "t_mean(.)", name
            if name.startswith("v_"):  # per-tensor values: already reduced, pool them instead
                pairs, first, arg, base = "the values of two inputs tensor by tensor", "pool", \
                    ".", name[2:]
            return (f"type error: {name} pairs {pairs}, but it got {got}: "
                    f"different inputs are not aligned (only {_ALIGNED} share tensors and "
                    f"rows); {first} each first, e.g. l_{base}(pool_mean({arg}), "
                    f"pool_mean({arg}))")
        wanted = " or ".join(
            "(" + ", ".join(describe(t) for t in v.args) + ")"
            for v in self.language.variants[name][:3])
        hint = ""
        if any(is_each(t) for t in types) and not any(
                is_each(t) for v in self.language.variants[name] for t in v.args):
            hint = ("; pool the layer's tensors first (pool_mean, pool_wmean, pool_sum, "
                    "pool_max, pool_min), or use a v_ operation on per-tensor values")
        return f"type error: {name} takes {wanted}, got {got}{hint}"

    def parse(self) -> list:
        if not self.toks:
            raise FormulaError(f"empty formula {self.text!r}")
        tok = self.peek()
        nodes, t = self.node("the root")
        if t is not Scalar:
            raise self.error(tok, f"type mismatch: the formula gives {describe(t)}, but a proxy "
                                  f"must give one number per architecture (aggregate with "
                                  f"layer_mean(...) or pool_mean(...))")
        tok = self.peek()
        if tok is not None:
            raise self.error(tok, f"unexpected {tok[1]!r} after the end of the formula")
        return nodes


def parse_nodes(text: str, language) -> list:
    """Prefix node list of ``text`` in ``language`` (a Scalar-valued tree); FormulaError if
    not."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    return _Parser(text, language).parse()
