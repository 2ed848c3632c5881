"""The ``"static"`` pass: no pass at all, the model and its normalisation types."""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

DEFAULT_NORM_TYPES = (nn.LayerNorm,)


def norm_types_of(space) -> tuple[type, ...]:
    """The modules that normalise in ``space``'s models (LayerNorm without a space)."""
    return DEFAULT_NORM_TYPES if space is None else tuple(space.norm_types)


@dataclass
class StaticPass:
    """What a proxy without a pass reads: the model and which of its modules normalise."""

    model: nn.Module
    norm_types: tuple[type, ...] = DEFAULT_NORM_TYPES
