"""The three strong types of the proxy language, and the value a per-layer tensor carries.

- :class:`TensorL`: one tensor per layer, as ``K`` sampled elements plus the element count of
  the full tensor. Runtime value: :class:`TensorValue` (``values`` (N, L, K), ``numel`` (N, L)).
- :class:`ScalarL`: one number per layer. Runtime value: float64 tensor (N, L).
- :class:`Scalar`: one number per architecture. Runtime value: float64 tensor (N,).

The classes are plain markers: DEAP's typed primitive set matches argument and return types by
identity, and nothing is ever instantiated.
"""
from __future__ import annotations

from typing import NamedTuple

import torch


class TensorL:
    """Per-layer tensor (N, L, K) together with its full element count (N, L)."""


class ScalarL:
    """Per-layer scalar, (N, L)."""


class Scalar:
    """One value per architecture, (N,)."""


TYPES = {"TensorL": TensorL, "ScalarL": ScalarL, "Scalar": Scalar}

TENSOR_DTYPE = torch.float32  # per-layer tensors are computed in float32 (the bank's dtype)
SCALAR_DTYPE = torch.float64  # per-layer and per-architecture scalars in float64


class TensorValue(NamedTuple):
    """A :class:`TensorL` value: ``values`` (N, L, K) float32 samples, ``numel`` (N, L) float64."""

    values: torch.Tensor
    numel: torch.Tensor


def type_name(t: type) -> str:
    return t.__name__
