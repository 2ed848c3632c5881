"""Formula text -> typed DEAP tree, with errors that point at the offending token.

The text form is DEAP's prefix form, ``layer_mean(l_add(t_mean(square(H)), t_std(W)))``:
operation names, input names, parentheses and commas; whitespace is free.
"""
from __future__ import annotations

import difflib
import re

from deap import gp

from ..errors import FormulaError
from ..bank import INPUT_NAMES
from .registry import REGISTRY

_TOKEN = re.compile(r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<punct>[(),])|(?P<bad>\S))")


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
    def __init__(self, text: str, pset: gp.PrimitiveSetTyped, language_name: str):
        self.text, self.pset, self.language = text, pset, language_name
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
                                   f"{self.language!r}")
        if name in INPUT_NAMES:
            return self.error(tok, f"input {name!r} is not in language {self.language!r}")
        close = difflib.get_close_matches(name, list(self.pset.mapping), n=3)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        return self.error(tok, f"unknown name {name!r} in language {self.language!r}{hint}")

    def node(self, expected: type, parent: str) -> list:
        tok = self.peek()
        if tok is None or tok[0] != "name":
            found = "the end of the formula" if tok is None else repr(tok[1])
            raise self.error(tok, f"expected a {expected.__name__} as {parent}, found {found}")
        node = self.pset.mapping.get(tok[1])
        if node is None:
            raise self.unknown(tok)
        if node.ret is not expected:
            raise self.error(tok, f"type mismatch: {tok[1]} gives {node.ret.__name__} but "
                                  f"{parent} needs a {expected.__name__}")
        self.i += 1
        if isinstance(node, gp.Terminal):
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                raise self.error(nxt, f"input {tok[1]} takes no arguments")
            return [node]
        out = [node]
        self.take("(", f"after {tok[1]}")
        for k, arg_type in enumerate(node.args):
            nxt = self.peek()
            if nxt is not None and nxt[1] == ")":
                raise self.error(nxt, f"{tok[1]} takes {node.arity} argument(s), got {k}")
            out += self.node(arg_type, f"argument {k + 1} of {tok[1]}")
            if k < node.arity - 1:
                nxt = self.peek()
                if nxt is not None and nxt[1] == ")":
                    raise self.error(nxt, f"{tok[1]} takes {node.arity} arguments, got {k + 1}")
                self.take(",", f"between the arguments of {tok[1]}")
        nxt = self.peek()
        if nxt is not None and nxt[1] == ",":
            raise self.error(nxt, f"{tok[1]} takes {node.arity} argument(s), got more")
        self.take(")", f"to close {tok[1]}")
        return out

    def parse(self, ret: type) -> list:
        if not self.toks:
            raise FormulaError(f"empty formula {self.text!r}")
        nodes = self.node(ret, "the root")
        tok = self.peek()
        if tok is not None:
            raise self.error(tok, f"unexpected {tok[1]!r} after the end of the formula")
        return nodes


def parse_nodes(text: str, pset: gp.PrimitiveSetTyped, language_name: str) -> list:
    """Prefix node list of ``text`` in ``pset`` (root type ``pset.ret``); FormulaError if not."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    return _Parser(text, pset, language_name).parse(pset.ret)
