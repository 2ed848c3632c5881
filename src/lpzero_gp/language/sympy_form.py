"""A tree as a SymPy expression, simplified or not, and its LaTeX and pretty forms."""
from __future__ import annotations

import sympy as sp
from deap import gp

from . import symbolic
from .hand import hand_symbol
from .registry import FUNCTIONS, REGISTRY


def to_sympy(tree, simplify: bool = False) -> sp.Basic:
    """The SymPy expression of ``tree``.

    Unsimplified, the expression mirrors the tree (built with SymPy's evaluation off, so
    ``log(exp(W))`` stays as written); ``simplify=True`` evaluates, applies the language's
    one-value rules and :func:`sympy.simplify`.
    """
    if simplify:
        return symbolic.simplify(_build(tree), FUNCTIONS)
    with sp.evaluate(False):
        return _build(tree)


def _build(tree) -> sp.Basic:
    stack: list = []
    for node in reversed(tree):
        if isinstance(node, gp.Terminal):
            stack.append(symbolic.SYMBOLS[node.value] if node.value in symbolic.SYMBOLS
                         else hand_symbol(node.value))
        else:
            prim = REGISTRY[node.name]
            args = [stack.pop() for _ in range(prim.arity)]
            stack.append(prim.sympy(*args))
    return stack[0]


def to_latex(expr: sp.Basic) -> str:
    return symbolic.LanguageLatexPrinter().doprint(expr)


def to_pretty(expr: sp.Basic) -> str:
    return sp.pretty(expr, use_unicode=True)
