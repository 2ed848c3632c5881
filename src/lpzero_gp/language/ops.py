"""Torch implementations of the primitives, vectorised over architectures and layers.

Shapes: a per-layer tensor is a :class:`TensorValue` (``values`` (N, L, K) float32, ``numel``
(N, L) float64); a per-layer scalar is (N, L) float64; an architecture scalar is (N,) float64.
Padding layers (``mask`` False) may hold anything, NaN included: only the aggregations over
layers read the mask, and they select with :func:`torch.where`, never multiply by 0.

No operation is protected: a value outside an operation's domain gives NaN or inf, which makes
the formula invalid. The two guards below are part of the operations' definitions (as in
LPZero): abs-log is log|x| and sqrt acts on the positive part max(x, 0). Every function is
out of place: inputs are never modified.
"""
from __future__ import annotations

import math

import torch

from .types import SCALAR_DTYPE, TensorValue

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


ELEMENTWISE = {
    "log": log, "abslog": abslog, "abs": abs_, "square": square, "exp": exp, "relu": relu,
    "inverse": inverse, "sigmoid": sigmoid, "sqrtpos": sqrtpos, "neg": neg,
    "identity": identity, "tanh": tanh, "log1pabs": log1pabs,
}


def lift_tensor(fn):
    """``fn`` applied to a per-layer tensor's values; the element count is kept."""
    def on_tensor(t: TensorValue) -> TensorValue:
        return TensorValue(fn(t.values), t.numel)
    on_tensor.__name__ = f"tensor_{fn.__name__}"
    return on_tensor


# -- per-tensor normalisations along K -------------------------------------------------------


def znorm(t: TensorValue) -> TensorValue:
    """(x - mean) / std over the tensor's elements (sample estimates, std with K - 1)."""
    std, mean = torch.std_mean(t.values, dim=-1, correction=1, keepdim=True)
    return TensorValue((t.values - mean) / std, t.numel)


def minmax(t: TensorValue) -> TensorValue:
    """(x - min) / (max - min) over the tensor's elements (sample estimates)."""
    lo = torch.amin(t.values, dim=-1, keepdim=True)
    hi = torch.amax(t.values, dim=-1, keepdim=True)
    return TensorValue((t.values - lo) / (hi - lo), t.numel)


def _numel_like(t: TensorValue) -> torch.Tensor:
    return t.numel.to(t.values.dtype).unsqueeze(-1)


def softmax(t: TensorValue) -> TensorValue:
    """Softmax over all ``numel`` elements of the full tensor, estimated from the sample.

    p_i = exp(x_i - m) / sum_j exp(x_j - m) with the sum over the full tensor estimated as
    ``numel * mean_K(exp(x - m))``; exact when the sample is the whole tensor. The estimate
    is unbiased for the normaliser but noisy when a few large elements dominate it (heavy
    tails, values spread over many units), and m is the sample's maximum, not the tensor's.
    """
    m = torch.amax(t.values, dim=-1, keepdim=True)
    e = torch.exp(t.values - m)
    return TensorValue(e / (e.mean(dim=-1, keepdim=True) * _numel_like(t)), t.numel)


def logsoftmax(t: TensorValue) -> TensorValue:
    """log of :func:`softmax`, computed stably: x - m - log(mean_K exp(x - m)) - log(numel)."""
    m = torch.amax(t.values, dim=-1, keepdim=True)
    shifted = t.values - m
    lse = torch.log(torch.exp(shifted).mean(dim=-1, keepdim=True)) + torch.log(_numel_like(t))
    return TensorValue(shifted - lse, t.numel)


def ranknorm(t: TensorValue) -> TensorValue:
    """Average rank of each element among the tensor's K samples, scaled to [0, 1].

    Ties share their average rank; a NaN element makes its whole tensor NaN. One sort, then
    the first and last position of each run of equal values by running max/min.
    """
    x = t.values
    k = x.shape[-1]
    if k < 2:
        return TensorValue(torch.full_like(x, math.nan), t.numel)
    s, order = torch.sort(x, dim=-1)
    pos = torch.arange(k, dtype=x.dtype).expand_as(s)   # exact in float32 up to 2**24
    starts = torch.ones_like(s, dtype=torch.bool)
    starts[..., 1:] = s[..., 1:] != s[..., :-1]
    ends = torch.ones_like(starts)
    ends[..., :-1] = starts[..., 1:]
    first = torch.where(starts, pos, torch.zeros_like(pos)).cummax(dim=-1).values
    last = torch.where(ends, pos, torch.full_like(pos, k - 1)).flip(-1).cummin(dim=-1).values \
        .flip(-1)
    ranks = torch.empty_like(x).scatter_(-1, order, (first + last) / (2.0 * (k - 1)))
    bad = torch.isnan(x).any(dim=-1, keepdim=True)
    return TensorValue(torch.where(bad, torch.full_like(ranks, math.nan), ranks), t.numel)


# -- reductions TensorL -> ScalarL -----------------------------------------------------------


def _f64(x: torch.Tensor) -> torch.Tensor:
    return x.to(SCALAR_DTYPE)


def t_mean(t: TensorValue) -> torch.Tensor:
    return _f64(t.values.mean(dim=-1))


def t_std(t: TensorValue) -> torch.Tensor:
    return _f64(torch.std(t.values, dim=-1, correction=1))


def t_meanabs(t: TensorValue) -> torch.Tensor:
    return _f64(t.values.abs().mean(dim=-1))


def t_max(t: TensorValue) -> torch.Tensor:
    return _f64(torch.amax(t.values, dim=-1))


def t_min(t: TensorValue) -> torch.Tensor:
    return _f64(torch.amin(t.values, dim=-1))


def t_sum(t: TensorValue) -> torch.Tensor:
    """Sum over the full tensor: mean of the sample times numel."""
    return t_mean(t) * t.numel


def t_fro(t: TensorValue) -> torch.Tensor:
    """Frobenius norm of the full tensor: sqrt(mean(x^2) * numel)."""
    return torch.sqrt(_f64((t.values * t.values).mean(dim=-1)) * t.numel)


def t_l1(t: TensorValue) -> torch.Tensor:
    """L1 norm of the full tensor: mean|x| * numel."""
    return t_meanabs(t) * t.numel


# -- the same unary operations on a single per-layer value (LPZero's chains) -----------------


def one_value_softmax(x):
    """softmax of a one-element set: 1 for a finite value, NaN otherwise (exp(x - x))."""
    return torch.where(torch.isfinite(x), torch.ones_like(x), torch.full_like(x, math.nan))


def one_value_logsoftmax(x):
    """log-softmax of a one-element set: 0 for a finite value, NaN otherwise."""
    return torch.where(torch.isfinite(x), torch.zeros_like(x), torch.full_like(x, math.nan))


def one_value_undefined(x):
    """z-normalisation, min-max normalisation and std (with K - 1) of one value: 0/0, NaN."""
    return torch.full_like(x, math.nan)


# -- binary operations -----------------------------------------------------------------------


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


def lift_tensor_binary(fn):
    """``fn`` on two per-layer tensors, elementwise; numel = the larger of the two counts."""
    def on_tensors(a: TensorValue, b: TensorValue) -> TensorValue:
        return TensorValue(fn(a.values, b.values), torch.maximum(a.numel, b.numel))
    on_tensors.__name__ = f"tensor_{fn.__name__}"
    return on_tensors


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
