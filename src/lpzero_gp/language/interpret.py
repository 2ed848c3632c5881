"""Evaluating a tree on an :class:`~lpzero_gp.bank.InputBank`: all architectures at once.

A stack machine over the tree's prefix list (read right to left): an input pushes its
:class:`TensorValue` (the bank's blocks of kept rows and their layout), a hand-designed
terminal its (N,) float64 values (the bank's ``hand`` scores, :mod:`lpzero_gp.hand_bank`), a
primitive pops its arguments and pushes its result. The root leaves one (N,) float64 tensor:
the raw scores, NaN or inf where the formula is undefined for an architecture.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from deap import gp

from ..errors import FormulaError
from .registry import ensure_checked
from .types import TensorValue

if TYPE_CHECKING:
    import torch


class MissingInputError(FormulaError):
    """The formula reads an input the bank was not captured with."""


def interpret(tree, language, bank) -> torch.Tensor:
    """Raw scores (N,) float64 of ``tree`` (a formula of ``language``) on ``bank``."""
    import torch

    from .types import SCALAR_DTYPE
    ensure_checked()
    hand_names = set(getattr(language, "hand", ()))
    read = {n.value for n in tree if isinstance(n, gp.Terminal)}
    missing = sorted(read - hand_names - set(bank.names))
    if missing:
        raise MissingInputError(f"formula {tree} reads input(s) {', '.join(missing)}, which the "
                                f"bank lacks (it holds {', '.join(bank.names) or 'nothing'})")
    hand = getattr(bank, "hand", None)
    held = set(hand.terminals) if hand is not None else set()
    missing = sorted((read & hand_names) - held)
    if missing:
        raise MissingInputError(
            f"formula {tree} reads hand-designed proxies {', '.join(missing)}, which the bank "
            f"does not carry (it carries {', '.join(sorted(held)) or 'none'}); collect it with "
            f"collect_inputs(..., hand_designed=[...])")
    mask = bank.layer_mask
    stack: list = []
    with torch.no_grad():
        for node in reversed(tree):
            if isinstance(node, gp.Terminal):
                if node.value in hand_names:
                    stack.append(hand.column(node.value))
                else:
                    stack.append(TensorValue(*bank.stacked(node.value)))
                continue
            prim = language.primitives.get(node.name)
            if prim is None:
                raise FormulaError(f"formula {tree}: {node.name!r} is not an operation of "
                                   f"language {language.name!r}")
            args = [stack.pop() for _ in range(prim.arity)]
            stack.append(prim.fn(mask, *args) if prim.kind == "aggregation" else prim.fn(*args))
    if len(stack) != 1 or not isinstance(stack[0], torch.Tensor) or stack[0].ndim != 1:
        raise FormulaError(f"formula {tree} is not one Scalar-valued tree")
    return stack[0].to(SCALAR_DTYPE)
