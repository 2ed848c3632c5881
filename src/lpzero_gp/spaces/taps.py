"""Taps: identity modules that mark where a proxy input lives inside a model.

A model of a search space places ``Tap("A")`` after each FFN activation, ``Tap("H")`` on each
head projection, ``Tap("S")`` on each softmax / mixing map. A tap is an ``nn.Identity``: it has no
parameters and returns its input unchanged, so models behave (and count parameters) exactly as
without it. :mod:`lpzero_gp.capture` finds the taps inside each layer and hooks them.

``axes`` names the axes of the tapped tensor, the last one being the *row* axis along which
the language's row operations act (a softmax map's keys, a token's channels); an axis named
``h`` holds heads, and each head becomes a tensor of its own. ``"b t c"`` (batch, tokens,
channels) is the default; attention probabilities are ``"b h q k"``.
"""
from __future__ import annotations

import torch
from torch import nn

TAP_KINDS = ("A", "H", "S")


class Tap(nn.Identity):
    """Marks a tensor of kind ``"A"``, ``"H"`` or ``"S"``; forwards it unchanged."""

    def __init__(self, kind: str, axes: str = "b t c"):
        super().__init__()
        if kind not in TAP_KINDS:
            raise ValueError(f"tap kind must be one of {TAP_KINDS}, got {kind!r}")
        names = axes.split()
        if len(set(names)) != len(names) or names.count("h") > 1 or len(names) < 2 \
                or names[-1] == "h":
            raise ValueError(f"tap axes {axes!r}: distinct names, the last one the row axis "
                             f"(not 'h'), at most one head axis 'h'")
        self.kind = kind
        self.axes = tuple(names)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x

    def extra_repr(self) -> str:
        return f"{self.kind!r}, axes={' '.join(self.axes)!r}"
