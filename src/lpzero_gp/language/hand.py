"""Hand-designed proxies as terminals of the language (a *hybrid* language).

A language file may name hand-designed proxies (:mod:`lpzero_gp.baselines.hand_designed`,
one decorated function each) as terminals::

    hand_designed = { synflow = 0.2, snip = 0.2 }

Each is a terminal of type :class:`~.types.Scalar`: one value per architecture, the proxy's
value on the architecture's model (built and run with the capture's settings, once per
architecture, cached beside the captures: :mod:`lpzero_gp.hand_bank`). A proxy that is a sum
over layers and declares its per-layer values (``snip``, ``grad_norm``, ``fisher``,
``synaptic_saliency``, ``synaptic_diversity``) may also be read per layer::

    hand_designed_layers = { snip = 0.2 }

as the terminal ``l_snip`` of type :class:`~.types.ScalarL` (one value per layer, (N, L), the
prefix of the per-layer level), which the ``l_`` operations and the layer aggregations take:
``layer_sum(l_snip)`` is ``snip``. GP combines it with the
``s_`` operations, with other hand-designed terminals and with aggregated tensor statistics
(SR-TF-NAS, Phan & Luong 2025, arXiv 2505.15832). In text a terminal is the proxy's name
(``s_add(synflow, layer_mean(pool_mean(t_std(W))))``); in SymPy a real symbol of that name
(:class:`HandSymbol`); in LaTeX the proxy's declared symbol (``\\mathrm{SynFlow}``; per layer
``\\mathrm{SNIP}_{l}``).

The registry of hand-designed proxies imports torch; it is read only when a language names a
hand-designed terminal, so languages without one still parse and print without torch.
"""
from __future__ import annotations

import functools

import sympy as sp

from .types import Scalar, ScalarL

#: the type of a hand-designed terminal: one value per architecture
HAND_TYPE = Scalar
#: the type of a per-layer hand-designed terminal, and the prefix of its name
HAND_LAYER_TYPE = ScalarL
LAYER_PREFIX = "l_"


def layer_terminal(proxy: str) -> str:
    """The terminal name of proxy ``proxy``'s per-layer values (``l_snip``)."""
    return LAYER_PREFIX + proxy


def proxy_of(terminal: str, per_layer: bool) -> str:
    """The proxy a hand-designed terminal reads (``l_snip`` -> ``snip`` when per layer)."""
    return terminal[len(LAYER_PREFIX):] if per_layer else terminal


def hand_registry() -> dict:
    """The registered hand-designed proxies, name -> HandDesigned (imports their families)."""
    from ..baselines.hand_designed import HAND_DESIGNED
    return HAND_DESIGNED


class HandSymbol(sp.Symbol):
    """A hand-designed proxy's value in a SymPy expression: a real symbol named like the
    proxy, printed in LaTeX as the proxy's symbol and pretty-printed as its name."""

    def _latex(self, printer=None, **kwargs) -> str:
        registry = hand_registry()
        if self.name in registry:
            return registry[self.name].latex
        return registry[self.name[len(LAYER_PREFIX):]].latex + "_{l}"

    def _pretty(self, printer=None, **kwargs):
        from sympy.printing.pretty.stringpict import prettyForm
        return prettyForm(self.name)

    def _sympystr(self, printer=None, **kwargs) -> str:
        return self.name


@functools.lru_cache(maxsize=None)
def hand_symbol(name: str) -> HandSymbol:
    """The SymPy symbol of hand-designed proxy ``name``."""
    return HandSymbol(name, real=True)
