"""Hand-designed proxies as terminals of the language (a *hybrid* language).

A language file may name hand-designed proxies (:mod:`lpzero_gp.baselines.hand_designed`,
one decorated function each) as terminals::

    hand_designed = { synflow = 0.2, snip = 0.2 }

Each is a terminal of type :class:`~.types.Scalar`: one value per architecture, the proxy's
value on the architecture's model (built and run with the capture's settings, once per
architecture, cached beside the captures: :mod:`lpzero_gp.hand_bank`). GP combines it with the
``s_`` operations, with other hand-designed terminals and with aggregated tensor statistics
(SR-TF-NAS, Phan & Luong 2025, arXiv 2505.15832). In text a terminal is the proxy's name
(``s_add(synflow, layer_mean(pool_mean(t_std(W))))``); in SymPy a real symbol of that name
(:class:`HandSymbol`); in LaTeX the proxy's declared symbol (``\\mathrm{SynFlow}``).

The registry of hand-designed proxies imports torch; it is read only when a language names a
hand-designed terminal, so languages without one still parse and print without torch.
"""
from __future__ import annotations

import functools

import sympy as sp

from .types import Scalar

#: the type of a hand-designed terminal: one value per architecture
HAND_TYPE = Scalar


def hand_registry() -> dict:
    """The registered hand-designed proxies, name -> HandDesigned (imports their families)."""
    from ..baselines.hand_designed import HAND_DESIGNED
    return HAND_DESIGNED


class HandSymbol(sp.Symbol):
    """A hand-designed proxy's value in a SymPy expression: a real symbol named like the
    proxy, printed in LaTeX as the proxy's symbol and pretty-printed as its name."""

    def _latex(self, printer=None, **kwargs) -> str:
        return hand_registry()[self.name].latex

    def _pretty(self, printer=None, **kwargs):
        from sympy.printing.pretty.stringpict import prettyForm
        return prettyForm(self.name)

    def _sympystr(self, printer=None, **kwargs) -> str:
        return self.name


@functools.lru_cache(maxsize=None)
def hand_symbol(name: str) -> HandSymbol:
    """The SymPy symbol of hand-designed proxy ``name``."""
    return HandSymbol(name, real=True)
