"""The ``"synflow"`` pass: synflow's data-free pass (Tanaka et al. 2020) on a |W| copy in
double precision, every normalisation replaced by its affine part, each layer rescaled."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from ....introspect import hooked
from ..registry import ProxyUndefinedError
from .common import weights as _weights
from .static import DEFAULT_NORM_TYPES


class _OnesInput:
    """Forward pre-hook: the hidden states entering the first layer become ones."""

    def __call__(self, module, args):
        return (torch.ones_like(args[0]),) + tuple(args[1:])


class _AffineOnly(nn.Module):
    """A LayerNorm (or RMSNorm) without its normalisation: x * weight + bias (same
    parameters; an RMSNorm has no bias)."""

    def __init__(self, norm: nn.Module):
        super().__init__()
        self.weight = getattr(norm, "weight", None)
        self.bias = getattr(norm, "bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.weight is not None:
            x = x * self.weight
        return x if self.bias is None else x + self.bias


def _linearise_norms(net: nn.Module, norm_types=DEFAULT_NORM_TYPES) -> None:
    """Replace every normalisation module of ``net`` (a copy) by its affine part, in place."""
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, norm_types):
                setattr(parent, name, _AffineOnly(child))


# Mean |value| each layer's output is brought back to in synflow's pass: large enough for GELU
# to be the identity on the next layer's pre-activations, small enough that attention scores
# (which grow as its square) stay far from where float64 rounding makes a softmax of equal
# scores visibly non-uniform (its gradient is 0 in exact arithmetic).
SYNFLOW_LEVEL = 1e3
# Gradients below this fraction of the largest of their layer are float64 rounding noise (of
# query and key weights, whose gradient under uniform attention is 0) and are set to 0.
SYNFLOW_NOISE = 1e-6


class _Rescale:
    """Forward hook: scales a layer's output to mean |value| SYNFLOW_LEVEL, remembers the log
    of the factor divided out."""

    def __init__(self):
        self.log_scales: list[float] = []

    def __call__(self, module, args, output):
        scale = float(output.detach().abs().mean()) / SYNFLOW_LEVEL
        if not (math.isfinite(scale) and scale > 0):
            raise ProxyUndefinedError(f"synflow: a layer output has mean |value| "
                                      f"{scale * SYNFLOW_LEVEL!r}")
        self.log_scales.append(math.log(scale))
        return output / scale


@dataclass
class SynflowPass:
    """The result of :func:`synflow_pass`: weights |W| (double) and dR/dW up to one factor.

    The true gradients are ``grads * exp(log_scale)`` (too large for float64 in deep models).
    """

    weights: list[torch.Tensor]
    grads: list[torch.Tensor]
    log_scale: float

    def log_synflow(self) -> float:
        """log of sum |W * dR/dW|."""
        total = float(sum((w * g).abs().sum() for w, g in zip(self.weights, self.grads)))
        if not total > 0:
            raise ProxyUndefinedError(f"synflow: sum |W * dR/dW| is {total!r}")
        return math.log(total) + self.log_scale

    def logsynflow(self) -> float:
        """sum |W| * log(1 + |dR/dW|), computed as softplus(log|g| + log_scale)."""
        total = 0.0
        for w, g in zip(self.weights, self.grads):
            nonzero = g != 0
            log_g = torch.log(g.abs()[nonzero]) + self.log_scale
            total += float((w.abs()[nonzero] * torch.logaddexp(torch.zeros_like(log_g),
                                                               log_g)).sum())
        return total


def synflow_pass(model: nn.Module, batch: dict, norm_types=DEFAULT_NORM_TYPES) -> SynflowPass:
    """Synflow's data-free pass (Tanaka et al. 2020) on a double-precision copy.

    The copy has every parameter replaced by its absolute value and every LayerNorm by its
    affine part (what an eval-mode BatchNorm is at initialisation in Tanaka et al.'s
    networks; with normalisation the sum of a normalised output is identically 0, and so is
    its gradient). The hidden states entering the first layer are ones; R = sum of the last
    hidden state (objective ``"sum"``). With |W| and no normalisation, activations grow
    geometrically with depth and overflow float64 in deep models, so each layer's output is
    scaled back to mean |value| ``SYNFLOW_LEVEL`` (1000) and the logs of the factors are added
    back: the network is positively homogeneous here (biases are 0 at initialisation, every
    token sees the same input so attention is uniform, GELU is the identity on these large
    positive inputs), so R and every dR/dW scale by the product of the factors. After a
    FlexiBERT LT layer the tokens differ and later attention depends on the scale; the result
    then settles once the level is a few hundred (on the records we checked, log synflow and
    logsynflow are the same at levels 300 and 1000; from 1e4 up rounding noise of the attention
    softmax starts to show in logsynflow). Gradient entries below ``SYNFLOW_NOISE`` times the
    largest of their layer are rounding noise (query and key gradients are exactly 0 under
    uniform attention) and are set to 0; without this, logsynflow's log(1 + |g|) would count
    the noise times the huge rescaling factor.
    """
    net = copy.deepcopy(model).double()
    with torch.no_grad():
        for tensor in list(net.parameters()) + list(net.buffers()):
            if tensor.is_floating_point():
                tensor.abs_()
    _linearise_norms(net, norm_types)
    layers = list(net.proxy_layers())
    rescale = _Rescale()
    with hooked(forward=[(layer, rescale) for layer in layers],
                pre=[(layers[0], _OnesInput())]), torch.enable_grad():
        r = net.objective(batch, "sum")
        per_layer = _weights(net)
        flat = [w for ws in per_layer for w in ws]
        grads = torch.autograd.grad(r, flat, allow_unused=True)
    grads = [torch.zeros_like(w) if g is None else g.detach() for w, g in zip(flat, grads)]
    if not all(torch.isfinite(g).all() for g in grads):
        raise ProxyUndefinedError("synflow: the rescaled gradient is not finite")
    cleaned, pos = [], 0
    for ws in per_layer:
        layer_grads = grads[pos:pos + len(ws)]
        pos += len(ws)
        largest = max(float(g.abs().max()) for g in layer_grads)
        cleaned += [torch.where(g.abs() > SYNFLOW_NOISE * largest, g, torch.zeros_like(g))
                    for g in layer_grads]
    grads = cleaned
    return SynflowPass([w.detach() for w in flat], grads, float(sum(rescale.log_scales)))
