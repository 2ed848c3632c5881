"""Taps: identity modules that mark where a proxy input lives inside a model.

A model of a search space places ``Tap("A")`` after each FFN activation, ``Tap("H")`` on each
head projection, ``Tap("S")`` on each softmax / mixing map. A tap is an ``nn.Identity``: it has no
parameters and returns its input unchanged, so models behave (and count parameters) exactly as
without it. :mod:`lpzero_gp.capture` finds the taps inside each layer and hooks them.

``axes`` names the axes of the tapped tensor, the last one being the *row* axis along which
the language's row operations act (a softmax map's keys, a token's channels); an axis named
``h`` holds heads, and each head becomes a tensor of its own. ``"b t c"`` (batch, tokens,
channels) is the default; attention probabilities are ``"b h q k"``.

A model built on a library's module code (``llama``) cannot place modules inside it; its
``proxy_taps(index)`` declares :class:`TapPoint` s instead: a module and what of it to read (its
output, one element of an output tuple, or its first input).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

TAP_KINDS = ("A", "H", "S")
_OUTPUT_ITEM = re.compile(r"^output\[(\d+)\]$")


def check_axes(axes: str) -> tuple[str, ...]:
    """The axis names of ``axes`` ("b t c"), checked: distinct, the last one the row axis."""
    names = axes.split()
    if len(set(names)) != len(names) or names.count("h") > 1 or len(names) < 2 \
            or names[-1] == "h":
        raise ValueError(f"tap axes {axes!r}: distinct names, the last one the row axis "
                         f"(not 'h'), at most one head axis 'h'")
    return tuple(names)


class Tap(nn.Identity):
    """Marks a tensor of kind ``"A"``, ``"H"`` or ``"S"``; forwards it unchanged."""

    def __init__(self, kind: str, axes: str = "b t c"):
        super().__init__()
        if kind not in TAP_KINDS:
            raise ValueError(f"tap kind must be one of {TAP_KINDS}, got {kind!r}")
        self.kind = kind
        self.axes = check_axes(axes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x

    def extra_repr(self) -> str:
        return f"{self.kind!r}, axes={' '.join(self.axes)!r}"


@dataclass(frozen=True, eq=False)
class TapPoint:
    """Where one tensor of kind A, H or S is read: ``module``'s ``read`` (``"output"``,
    ``"output[i]"`` for element i of an output tuple, or ``"input"``, the first positional
    argument), with axes ``axes``; ``name`` is its name inside the layer."""

    kind: str
    module: nn.Module
    axes: tuple[str, ...]
    name: str
    read: str = "output"

    def __post_init__(self):
        if self.kind not in TAP_KINDS:
            raise ValueError(f"tap kind must be one of {TAP_KINDS}, got {self.kind!r}")
        object.__setattr__(self, "axes", check_axes(" ".join(self.axes)
                                                    if not isinstance(self.axes, str)
                                                    else self.axes))
        if self.read not in ("output", "input") and not _OUTPUT_ITEM.match(self.read):
            raise ValueError(f"tap read must be 'output', 'output[i]' or 'input', got "
                             f"{self.read!r}")

    @property
    def on_input(self) -> bool:
        return self.read == "input"

    def tensor(self, args: tuple, output=None) -> torch.Tensor:
        """The tapped tensor, from a hook's ``args`` (and ``output``)."""
        if self.read == "input":
            return args[0]
        if self.read == "output":
            return output
        return output[int(_OUTPUT_ITEM.match(self.read).group(1))]
