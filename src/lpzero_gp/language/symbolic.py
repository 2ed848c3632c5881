"""SymPy side of the language: input symbols and the functions SymPy has no name for.

Inputs are real symbols: ``W_{l,m}`` is tensor ``m`` of layer ``l`` of input W (an element, or
the whole tensor), ``W^{emb}_{m}`` a tensor of the embedding / output side. An elementwise operation is ordinary SymPy maths on them; per-tensor normalisations,
reductions and aggregations over layers are :class:`LanguageFunction` subclasses made by
:func:`make_function` from the registry, each printing LaTeX from its primitive's template.

Simplification (:func:`simplify`) first evaluates what the language defines on one value (a
reduction or normalisation of a per-layer scalar: softmax -> 1, log-softmax -> 0, mean -> x,
Frobenius norm -> |x|, z-normalisation -> nan, ...), then runs :func:`sympy.simplify`. SymPy
ignores domains: log(exp(x)) -> x is right, but exp(log(x)) -> x forgets that the formula is
invalid for x < 0.
"""
from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from ..bank import INPUTS

SYMBOLS: dict[str, sp.Symbol] = {
    n: sp.Symbol(f"{s.latex}_{{l,m}}" if s.level == "layer" else f"{s.latex}_{{m}}", real=True)
    for n, s in INPUTS.items()}


class LanguageFunction(sp.Function):
    """A named operation of the language. Subclasses set ``latex_template`` and ``kind``."""

    nargs = 1
    latex_template = r"\operatorname{{f}}\left({0}\right)"
    kind = "function"          # "reduction" | "row" | "pooling" | "aggregation" | "elementwise"
    wrap_argument = False      # parenthesise a sum/product argument (templates like \sum x)
    one_value = None           # what the operation gives on a one-value set (callable or None)

    def _latex(self, printer, exp=None):
        args = [printer.parenthesize(a, PRECEDENCE["Mul"], strict=True) if self.wrap_argument
                else printer._print(a) for a in self.args]
        text = self.latex_template.format(*args)
        return rf"\left({text}\right)^{{{exp}}}" if exp is not None else text

    def _eval_is_extended_real(self):
        return True

    def _pretty(self, printer):
        # the name as written (SymPy would typeset "layer_mean" as "layer" subscript "mean")
        from sympy.printing.pretty.stringpict import prettyForm, stringPict

        name = prettyForm(self.func.__name__)
        args = prettyForm(*printer._print(self.args[0]).parens())
        out = prettyForm(*stringPict.next(name, args), binding=prettyForm.FUNC)
        out.prettyFunc, out.prettyArgs = name, args
        return out


class LanguageLatexPrinter(LatexPrinter):
    r"""SymPy's LaTeX printer, bracketing an open-ended operator of the language (a template
    ending with its argument: ``\max_{l} x``, ``\sum_{m} x``) that is a factor of a product
    other than the last, as SymPy does for its own ``Sum``: ``\left(\max_{l} x\right)
    \max_{l} y``, not ``\max_{l} x \max_{l} y`` (which reads max_l (x max_l y))."""

    def _needs_mul_brackets(self, expr, first=False, last=False) -> bool:
        if (not last and isinstance(expr, LanguageFunction)
                and expr.latex_template.rstrip().endswith("{0}")):
            return True
        return super()._needs_mul_brackets(expr, first=first, last=last)


def make_function(name: str, latex: str, kind: str, *, wrap_argument: bool = False,
                  nonnegative: bool = False, positive: bool = False, one_value=None) -> type:
    """A :class:`LanguageFunction` subclass called ``name`` (its str() form)."""
    attrs = {"latex_template": latex, "kind": kind, "wrap_argument": wrap_argument,
             "one_value": staticmethod(one_value) if one_value is not None else None}
    if positive:
        attrs["_eval_is_extended_positive"] = lambda self: True
    if positive or nonnegative:
        attrs["_eval_is_extended_nonnegative"] = lambda self: True
    return type(name, (LanguageFunction,), attrs)


def _symbols_outside_reductions(expr: sp.Basic) -> bool:
    if isinstance(expr, LanguageFunction) and expr.kind in ("reduction", "pooling",
                                                            "aggregation"):
        return False
    if isinstance(expr, sp.Symbol):
        return True
    return any(_symbols_outside_reductions(a) for a in expr.args)


def is_layer_scalar(expr: sp.Basic) -> bool:
    """True when every input symbol of ``expr`` sits inside a reduction: a per-layer scalar."""
    return not _symbols_outside_reductions(expr)


_AVERAGES = ("pool_mean", "pool_wmean", "pool_max", "pool_min", "layer_mean", "layer_max",
             "layer_min", "layer_first", "layer_last")


def _rewrite(expr: sp.Basic, reductions: dict[str, type]) -> sp.Basic:
    if not expr.args:
        return expr
    expr = expr.func(*[_rewrite(a, reductions) for a in expr.args])
    if isinstance(expr, LanguageFunction):
        arg = expr.args[0]
        # a mean, maximum or minimum of one constant is that constant
        if expr.func.__name__ in _AVERAGES and not arg.free_symbols:
            return arg
        if expr.one_value is not None and is_layer_scalar(arg):
            return expr.one_value(arg)
        # even reductions: f(-x) = f(x)
        if expr.func.__name__ in ("fro", "meanabs", "l1", "std", "rownorm") and \
                arg.could_extract_minus_sign():
            return expr.func(-arg)
        # mean|x| of a nonnegative x is mean(x); likewise the L1 norm is the sum
        if expr.func.__name__ == "meanabs" and arg.is_nonnegative and "mean" in reductions:
            return reductions["mean"](arg)
        if expr.func.__name__ == "l1" and arg.is_nonnegative and "sum" in reductions:
            return reductions["sum"](arg)
    return expr


def simplify(expr: sp.Basic, functions: dict[str, type]) -> sp.Basic:
    """One-value rules of the language, then :func:`sympy.simplify`."""
    return sp.simplify(_rewrite(expr, functions))
