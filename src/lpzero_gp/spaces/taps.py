"""Taps: identity modules that mark where a proxy input lives inside a model.

A model of a search space places ``Tap("A")`` after each FFN activation, ``Tap("H")`` on each
head projection, ``Tap("S")`` on each softmax / mixing map. A tap is an ``nn.Identity``: it has no
parameters and returns its input unchanged, so models behave (and count parameters) exactly as
without it. :mod:`lpzero_gp.capture` finds the taps inside each layer and hooks them.
"""
from __future__ import annotations

import torch
from torch import nn

TAP_KINDS = ("A", "H", "S")


class Tap(nn.Identity):
    """Marks a tensor of kind ``"A"``, ``"H"`` or ``"S"``; forwards it unchanged."""

    def __init__(self, kind: str):
        super().__init__()
        if kind not in TAP_KINDS:
            raise ValueError(f"tap kind must be one of {TAP_KINDS}, got {kind!r}")
        self.kind = kind

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x

    def extra_repr(self) -> str:
        return repr(self.kind)
