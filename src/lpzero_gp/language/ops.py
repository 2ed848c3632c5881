"""Torch implementations of the primitives, vectorised over architectures, layers and tensors.

Values (see :mod:`.types`): a tensor is a :class:`TensorValue` (dense blocks of kept rows
(R_b, C_b) float32, and their layout); per-tensor values are an :class:`EachValue` ((T,)
float64); a per-layer scalar is (N, L) float64; an architecture scalar is (N,) float64.
Padding layers (``mask`` False) may hold anything, NaN included: only the aggregations over
layers read the mask, and they select with :func:`torch.where`, never multiply by 0.

Row operations act along the last axis of each block, i.e. along one whole row of the tensor
(an output unit's fan-in, a token's channels, a query's attention weights): they are exact on
every kept row. Per-tensor reductions average over the kept rows (unbiased for the full
tensor's mean) and size-aware ones scale by the full element count.

No operation is protected: a value outside an operation's domain gives NaN or inf, which makes
the formula invalid. Two guards are part of the operations' definitions (as in LPZero): abs-log
is log|x| and sqrt acts on the positive part max(x, 0). Every function is out of place.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..lazy import lazy_import
from . import types as value_types
from .types import EachValue, TensorValue

if TYPE_CHECKING:
    import torch
else:  # the registry names these functions at import; torch is needed when one runs
    torch = lazy_import("torch")

# -- elementwise maths (the same on tensors and on scalars) ----------------------------------


def log(x):
    return torch.log(x)


def abslog(x):
    return torch.log(torch.abs(x))


def abs_(x):
    return torch.abs(x)


def square(x):
    return x * x


def exp(x):
    return torch.exp(x)


def relu(x):
    return torch.relu(x)


def inverse(x):
    return torch.reciprocal(x)


def sigmoid(x):
    return torch.sigmoid(x)


def sqrtpos(x):
    # clamp keeps NaN as NaN, so a problem upstream is never hidden
    return torch.sqrt(torch.clamp(x, min=0.0))


def neg(x):
    return torch.neg(x)


def identity(x):
    return x


def tanh(x):
    return torch.tanh(x)


def log1pabs(x):
    return torch.log1p(torch.abs(x))


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b


def div(a, b):
    return a / b


def maximum(a, b):
    return torch.maximum(a, b)


def minimum(a, b):
    return torch.minimum(a, b)


# -- lifting to the value types --------------------------------------------------------------


def on_tensor(fn):
    """``fn`` applied to every block of a tensor value."""
    def lifted(t: TensorValue) -> TensorValue:
        return TensorValue(tuple(fn(b) for b in t.blocks), t.layout)
    lifted.__name__ = f"tensor_{fn.__name__}"
    return lifted


def _aligned(a, b) -> None:
    if a.layout is not b.layout and a.layout.group != b.layout.group:
        raise TypeError(f"operands of groups {a.layout.group} and {b.layout.group} are not "
                        f"aligned")


def on_tensors(fn):
    """``fn`` elementwise on two aligned tensor values (one group: same tensors and rows)."""
    def lifted(a: TensorValue, b: TensorValue) -> TensorValue:
        _aligned(a, b)
        return TensorValue(tuple(fn(x, y) for x, y in zip(a.blocks, b.blocks)), a.layout)
    lifted.__name__ = f"tensor_{fn.__name__}"
    return lifted


def on_each(fn):
    """``fn`` on per-tensor values."""
    def lifted(v: EachValue) -> EachValue:
        return EachValue(fn(v.values), v.layout)
    lifted.__name__ = f"each_{fn.__name__}"
    return lifted


def on_eaches(fn):
    """``fn`` on two aligned per-tensor values (tensor by tensor)."""
    def lifted(a: EachValue, b: EachValue) -> EachValue:
        _aligned(a, b)
        return EachValue(fn(a.values, b.values), a.layout)
    lifted.__name__ = f"each_{fn.__name__}"
    return lifted


# -- row operations (along each kept row: exact) ---------------------------------------------


def _rows(fn):
    def lifted(t: TensorValue) -> TensorValue:
        return TensorValue(tuple(fn(b) for b in t.blocks), t.layout)
    lifted.__name__ = fn.__name__
    lifted.__doc__ = fn.__doc__
    return lifted


@_rows
def softmax(x: torch.Tensor) -> torch.Tensor:
    """softmax along each row."""
    return torch.softmax(x, dim=-1)


@_rows
def logsoftmax(x: torch.Tensor) -> torch.Tensor:
    """log-softmax along each row."""
    return torch.log_softmax(x, dim=-1)


@_rows
def znorm(x: torch.Tensor) -> torch.Tensor:
    """(x - mean) / std along each row (std with C - 1; NaN for a row of one element)."""
    std, mean = torch.std_mean(x, dim=-1, correction=1, keepdim=True)
    return (x - mean) / std


@_rows
def minmax(x: torch.Tensor) -> torch.Tensor:
    """(x - min) / (max - min) along each row."""
    lo = torch.amin(x, dim=-1, keepdim=True)
    hi = torch.amax(x, dim=-1, keepdim=True)
    return (x - lo) / (hi - lo)


# -- reductions: a tensor -> one value per tensor --------------------------------------------


def _per_tensor_mean(t: TensorValue, row_stat) -> torch.Tensor:
    """Mean over each tensor's kept elements of a row statistic that sums elements."""
    sums = t.layout.row_sums([row_stat(b) for b in t.blocks])
    return sums / t.layout.tensor_kept


def _per_row_mean(t: TensorValue, row_value) -> torch.Tensor:
    """Mean over each tensor's kept rows of one value per row."""
    sums = t.layout.row_sums([row_value(b) for b in t.blocks])
    return sums / t.layout.tensor_rows


def t_mean(t: TensorValue) -> EachValue:
    return EachValue(_per_tensor_mean(t, lambda b: b.sum(dim=-1)), t.layout)


def t_meanabs(t: TensorValue) -> EachValue:
    return EachValue(_per_tensor_mean(t, lambda b: b.abs().sum(dim=-1)), t.layout)


def t_std(t: TensorValue) -> EachValue:
    """Standard deviation of the tensor's elements (estimated from the kept rows, n - 1)."""
    mean = _per_tensor_mean(t, lambda b: b.sum(dim=-1))
    sq = _per_tensor_mean(t, lambda b: (b.double() * b.double()).sum(dim=-1))
    n = t.layout.tensor_kept
    var = (sq - mean * mean) * n / (n - 1)
    return EachValue(torch.sqrt(torch.clamp(var, min=0.0)), t.layout)


def t_sum(t: TensorValue) -> EachValue:
    """Sum over the full tensor: the kept mean times the element count."""
    return EachValue(t_mean(t).values * t.layout.tensor_numel, t.layout)


def t_fro(t: TensorValue) -> EachValue:
    """Frobenius norm of the full tensor: sqrt(mean(x^2) * numel)."""
    sq = _per_tensor_mean(t, lambda b: (b * b).sum(dim=-1))
    return EachValue(torch.sqrt(sq * t.layout.tensor_numel), t.layout)


def t_l1(t: TensorValue) -> EachValue:
    """L1 norm of the full tensor: mean|x| * numel."""
    return EachValue(t_meanabs(t).values * t.layout.tensor_numel, t.layout)


def t_rowmax(t: TensorValue) -> EachValue:
    """Mean over the tensor's rows of each row's maximum (exact per row)."""
    return EachValue(_per_row_mean(t, lambda b: b.amax(dim=-1)), t.layout)


def t_rowmin(t: TensorValue) -> EachValue:
    """Mean over the tensor's rows of each row's minimum (exact per row)."""
    return EachValue(_per_row_mean(t, lambda b: b.amin(dim=-1)), t.layout)


def t_rownorm(t: TensorValue) -> EachValue:
    """Mean over the tensor's rows of each row's L2 norm (exact per row)."""
    return EachValue(_per_row_mean(t, lambda b: torch.linalg.vector_norm(b, dim=-1)),
                     t.layout)


# -- one-value forms: a unary tensor operation applied to one per-tensor value (LPZero) -----


def one_value_softmax(x):
    """softmax of a one-element set: 1 for a finite value, NaN otherwise (exp(x - x))."""
    return torch.where(torch.isfinite(x), torch.ones_like(x), torch.full_like(x, math.nan))


def one_value_logsoftmax(x):
    """log-softmax of a one-element set: 0 for a finite value, NaN otherwise."""
    return torch.where(torch.isfinite(x), torch.zeros_like(x), torch.full_like(x, math.nan))


def one_value_undefined(x):
    """z-normalisation, min-max normalisation and std (with n - 1) of one value: 0/0, NaN."""
    return torch.full_like(x, math.nan)


# -- pooling: per-tensor values -> one value per layer (or per architecture) -----------------


def _pool(v: EachValue, values: torch.Tensor, reduce: str) -> torch.Tensor:
    lay = v.layout
    out = torch.zeros(lay.n_slots, dtype=value_types.SCALAR_DTYPE)
    if reduce == "sum":
        out.index_add_(0, lay.tensor_slot, values)
    else:
        out = out.scatter_reduce(0, lay.tensor_slot, values, reduce, include_self=False)
    count = torch.zeros(lay.n_slots, dtype=value_types.SCALAR_DTYPE).index_add_(
        0, lay.tensor_slot, torch.ones_like(values))
    out = torch.where(count > 0, out, torch.full_like(out, math.nan))
    return out.view(lay.n_arch, lay.depth) if lay.level == "layer" else out


def pool_mean(v: EachValue) -> torch.Tensor:
    """Unweighted mean over the layer's tensors (each matrix counts once: LPZero's)."""
    total = _pool(v, v.values, "sum")
    count = _pool(v, torch.ones_like(v.values), "sum")
    return total / count


def pool_wmean(v: EachValue) -> torch.Tensor:
    """Mean over the layer's tensors weighted by their element counts."""
    w = v.layout.tensor_numel
    return _pool(v, v.values * w, "sum") / _pool(v, w, "sum")


def pool_sum(v: EachValue) -> torch.Tensor:
    """Sum over the layer's tensors."""
    return _pool(v, v.values, "sum")


def pool_max(v: EachValue) -> torch.Tensor:
    """Largest value over the layer's tensors."""
    return _pool(v, v.values, "amax")


def pool_min(v: EachValue) -> torch.Tensor:
    """Smallest value over the layer's tensors."""
    return _pool(v, v.values, "amin")


# -- aggregations over the valid layers ScalarL -> Scalar ------------------------------------


def layer_mean(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    total = torch.where(mask, x, torch.zeros_like(x)).sum(dim=-1)
    return total / mask.sum(dim=-1).to(x.dtype)


def layer_sum(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, x, torch.zeros_like(x)).sum(dim=-1)


def layer_max(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, x, torch.full_like(x, -math.inf)).amax(dim=-1)


def layer_min(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, x, torch.full_like(x, math.inf)).amin(dim=-1)


def layer_first(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return x[:, 0]


def layer_last(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    last = (mask.sum(dim=-1) - 1).clamp(min=0).unsqueeze(-1)
    return x.gather(-1, last).squeeze(-1)
