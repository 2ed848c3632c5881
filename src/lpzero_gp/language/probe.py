"""Probe values of every type of the language, to check primitives on (registry, RPS).

Three architectures of depths 3, 2 and 1 (:data:`PROBE_MASK`); each valid layer holds two
tensors of one layer-level group, of 3 rows of length 4 and 3 rows of length 6, so a probe
tensor has two blocks and every pooling sees two tensors per layer.
"""
from __future__ import annotations

import math

import torch

from ..bank import Layout
from .types import (SCALAR_DTYPE, TENSOR_DTYPE, Each, EachValue, Scalar, ScalarL, Tensor,
                    TensorValue)

PROBE_MASK = torch.tensor([[True, True, True], [True, True, False], [True, False, False]])
_ROWS = 3
_LENGTHS = (4, 6)


def _layout() -> Layout:
    n, depth = PROBE_MASK.shape
    slots = [(a, l) for a in range(n) for l in range(depth) if PROBE_MASK[a, l]]
    arch = torch.tensor([a for a, _ in slots for _ in _LENGTHS], dtype=torch.long)
    layer = torch.tensor([l for _, l in slots for _ in _LENGTHS], dtype=torch.long)
    t = len(arch)
    blocks = tuple((c, torch.arange(i, t, len(_LENGTHS)).repeat_interleave(_ROWS))
                   for i, c in enumerate(_LENGTHS))
    kept = torch.tensor([float(_ROWS * c) for _ in slots for c in _LENGTHS],
                        dtype=torch.float64)
    numel = kept * torch.tensor([1.0, 10.0, 1000.0], dtype=torch.float64).repeat(t)[:t]
    return Layout("W", "layer", blocks, arch, layer, arch * depth + layer, numel, kept,
                  torch.full((t,), float(_ROWS), dtype=torch.float64), n, depth)


PROBE_LAYOUT = _layout()


def _draw(domain: str, shape, dtype, gen: torch.Generator) -> torch.Tensor:
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    if domain == "positive":
        x = x.abs() + 0.25
    elif domain == "nonzero":
        x = torch.where(x >= 0, x + 0.25, x - 0.25)
    return x.to(dtype)


def probe_value(t: type, domain: str, gen: torch.Generator):
    """A random value of placeholder/plain type ``t`` whose elements lie in ``domain``."""
    lay = PROBE_LAYOUT
    if t is Tensor:
        return TensorValue(tuple(_draw(domain, (len(owner), c), TENSOR_DTYPE, gen)
                                 for c, owner in lay.blocks), lay)
    if t is Each:
        return EachValue(_draw(domain, (len(lay.tensor_arch),), SCALAR_DTYPE, gen), lay)
    if t is ScalarL:
        values = _draw(domain, tuple(PROBE_MASK.shape), SCALAR_DTYPE, gen)
        # padding layers hold NaN: an aggregation that lets them through fails the check
        return torch.where(PROBE_MASK, values, torch.full_like(values, math.nan))
    if t is Scalar:
        return _draw(domain, (PROBE_MASK.shape[0],), SCALAR_DTYPE, gen)
    raise TypeError(f"no probe value for type {t.__name__}")


def value_tensor(v) -> torch.Tensor:
    """Every number of a value, flattened, float64."""
    if isinstance(v, TensorValue):
        return torch.cat([b.reshape(-1).double() for b in v.blocks])
    if isinstance(v, EachValue):
        return v.values.double()
    return v.double().reshape(-1)


def clone_value(v):
    if isinstance(v, TensorValue):
        return TensorValue(tuple(b.clone() for b in v.blocks), v.layout)
    if isinstance(v, EachValue):
        return EachValue(v.values.clone(), v.layout)
    return v.clone()


def same_value(a, b) -> bool:
    x, y = value_tensor(a), value_tensor(b)
    return x.shape == y.shape and bool(((x == y) | (torch.isnan(x) & torch.isnan(y))).all())
