"""The strong types of the proxy language, and the runtime values they carry.

Tensors are typed by their **alignment group** (:data:`lpzero_gp.bank.INPUTS`): W and G share
one group (same tensors, same kept rows), every other input is a group of its own. A binary
operation on tensors, or on per-tensor values, takes two operands of one group; anything else
is a type error when the tree is built or parsed, never a silent pairing.

Per group ``g`` there are two DEAP types (classes made here, importable by name so trees pickle):

- ``Tensor_g``: the group's tensors. Runtime value :class:`TensorValue`: the dense blocks of
  kept rows (R_b, C_b) float32 and their :class:`~lpzero_gp.bank.Layout`.
- ``Each_g``: one number per tensor (a reduction's result). Runtime :class:`EachValue`: (T,)
  float64 and the layout.

And two shared ones:

- :class:`ScalarL`: one number per layer, (N, L) float64 (padding layers: anything, masked).
- :class:`Scalar`: one number per architecture, (N,) float64.

The registry declares primitives with the placeholders :class:`Tensor`, :class:`Each` and
:class:`Pooled` (``ScalarL`` for a layer group, ``Scalar`` for a model-level group); a language
instantiates them once per group it uses (:func:`concrete`).
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NamedTuple

from ..bank import GROUP_LEVEL, GROUPS, Layout

if TYPE_CHECKING:
    import torch


class Tensor:
    """Placeholder: the tensors of one alignment group."""


class Each:
    """Placeholder: one value per tensor, of the same group as the primitive's Tensor."""


class Pooled:
    """Placeholder: the pooling of per-tensor values: ScalarL (layer group) or Scalar (model)."""


class ScalarL:
    """Per-layer scalar, (N, L)."""


class Scalar:
    """One value per architecture, (N,)."""


class TensorType:
    """Base of the per-group tensor types; ``group`` and ``level`` say which."""

    group = ""
    level = "layer"


class EachType:
    """Base of the per-group per-tensor value types."""

    group = ""
    level = "layer"


TENSOR_TYPES: dict[str, type] = {}
EACH_TYPES: dict[str, type] = {}
_module = sys.modules[__name__]
for _g in GROUPS:
    for _base, _table, _prefix in ((TensorType, TENSOR_TYPES, "Tensor_"),
                                   (EachType, EACH_TYPES, "Each_")):
        _cls = type(_prefix + _g, (_base,), {"group": _g, "level": GROUP_LEVEL[_g],
                                              "__module__": __name__,
                                              "__doc__": f"{_prefix[:-1]} of group {_g}"})
        _table[_g] = _cls
        setattr(_module, _cls.__name__, _cls)

TYPES = {"ScalarL": ScalarL, "Scalar": Scalar, **{t.__name__: t for t in TENSOR_TYPES.values()},
         **{t.__name__: t for t in EACH_TYPES.values()}}
PLACEHOLDERS = (Tensor, Each, Pooled)

# TENSOR_DTYPE: tensors are computed in float32 (the bank's dtype); SCALAR_DTYPE: per-tensor,
# per-layer and per-architecture values in float64. Module attributes made on first use
# (PEP 562), so that the types import without torch.
_DTYPES = {"TENSOR_DTYPE": "float32", "SCALAR_DTYPE": "float64"}


def __getattr__(name: str):
    if name in _DTYPES:
        import torch
        return getattr(torch, _DTYPES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def concrete(t: type, group: str) -> type:
    """The concrete type of placeholder ``t`` for ``group`` (other types unchanged)."""
    if t is Tensor:
        return TENSOR_TYPES[group]
    if t is Each:
        return EACH_TYPES[group]
    if t is Pooled:
        return ScalarL if GROUP_LEVEL[group] == "layer" else Scalar
    return t


def is_tensor(t: type) -> bool:
    return isinstance(t, type) and issubclass(t, TensorType)


def is_each(t: type) -> bool:
    return isinstance(t, type) and issubclass(t, EachType)


def type_name(t: type) -> str:
    return t.__name__


def describe(t: type) -> str:
    """A type in words, for error messages."""
    if is_tensor(t):
        return f"a tensor of group {t.group}"
    if is_each(t):
        return f"per-tensor values of group {t.group}"
    return {"ScalarL": "a per-layer scalar", "Scalar": "a per-architecture scalar"}.get(
        t.__name__, t.__name__)


class TensorValue(NamedTuple):
    """A tensor-typed value: ``blocks`` (R_b, C_b) float32 rows and their ``layout``."""

    blocks: tuple[torch.Tensor, ...]
    layout: Layout


class EachValue(NamedTuple):
    """Per-tensor values: ``values`` (T,) float64 and the ``layout`` of their tensors."""

    values: torch.Tensor
    layout: Layout
