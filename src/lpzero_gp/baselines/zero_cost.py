"""Hand-designed zero-cost proxies from the literature, each with its own documented pass.

Every proxy is a function ``(model, batch, objective) -> float`` on a proxy model
(:mod:`lpzero_gp.spaces.base`) at initialisation. ``objective`` names the scalar whose
gradient is taken (``model.objective(batch, objective)``; ``"sum"`` backpropagates ones from
the last hidden state, as the NAS-Bench-BERT reference code did; beware that when the last
hidden state is a LayerNorm output with weight 1 and bias 0, as in FlexiBERT and GPT-2 at
initialisation, its sum is 0 whatever the input, so every gradient of ``"sum"`` is float
rounding noise: use ``"mlm"`` / ``"clm"``). The model passed in is never
changed: gradients are taken with :func:`torch.autograd.grad` (no ``.grad`` field is written),
proxies that change weights (synflow) work on a deep copy, and every hook is removed.
A proxy that is undefined on a model raises :class:`ProxyUndefinedError` with the reason;
:func:`compute_hand_designed` turns that into a NaN value with its reason.

Which weights: unless said otherwise, "the weights" are the capture's ``W``: every parameter
with ``ndim >= 2`` of the model's ``proxy_layers()`` (see :func:`lpzero_gp.capture.layer_weights`)
— the encoder/decoder blocks, not the embeddings or the output head, as in the proxy language.
The parts of a layer (token mixer, feed-forward stack, head projections, attention maps) are
found from its taps (:mod:`lpzero_gp.baselines.structure`); "linear modules" are ``nn.Linear``
and GPT-2's ``Conv1D``.

Definitions follow the public code of NAS-Bench-BERT (Serianni & Kalita 2023,
github.com/aaronserianni/training-free-nas, ``BERT_metrics.ipynb``) and of LPZero / the
zero-cost-proxies package (Abdelfattah et al. 2021), with the differences said per proxy.
Notation: W a weight tensor, G = dL/dW, L the objective.

===================== ===================================================================
n_params              every parameter of the model
n_params_nonembedding parameters of the proxy layers plus LayerNorms that are direct
                      children of the model or of a container holding the proxy layers
                      (a final norm); no embedding, projection or output-head parameter
synflow               Tanaka et al. 2020: on a double-precision copy with every parameter
                      replaced by its absolute value, every LayerNorm by its affine part
                      (see :func:`synflow_pass`) and the hidden states entering the first
                      layer replaced by ones, R = sum of the last hidden state;
                      sum |W * dR/dW| over the weights, reported as its natural log (the
                      value itself overflows float64 in deep models; ranks are the same)
logsynflow            Cavagnero et al. 2022 (FreeREA): as synflow, sum |W| * log(1 + |dR/dW|)
snip                  Lee et al. 2019: sum |W * G| over the weights
grasp                 Wang et al. 2020: sum -W * (H G) over the weights, H the Hessian of L
                      (one forward pass, a double backward)
fisher                Turner et al. 2020 as in zero-cost-proxies: for every linear module of
                      the proxy layers, with z its output (tokens, channels) and dz = dL/dz,
                      sum over channels of 0.5 * mean over tokens of (z * dz)^2, times the
                      fan-in (zero-cost-proxies sums the channel value once per weight)
grad_norm             sum over the weights of ||G||_2 (one norm per tensor)
jacobian_cov          Mellor et al. 2021 (v1): J = dL/dx for the hidden states x entering
                      the first layer, one row per sample (B, S*h); C = corrcoef of the rows;
                      -sum_i log(v_i + 1e-5) + 1 / (v_i + 1e-5) over C's eigenvalues v
jacobian_score        NAS-Bench-BERT's "Jacobian Score": the same statistic on the gradient
                      of the position-embedding table, rows 0..S-1 (the positions used),
                      correlations between embedding features (E, E)
synaptic_diversity    NAS-Bench-BERT: sum over the linear modules of the token mixers of
                      ||W||_* ||G||_* (nuclear norms)
synaptic_saliency     NAS-Bench-BERT: sum |W * G| over the linear modules of the
                      feed-forward stacks
activation_distance   NAS-Bench-BERT: for every FFN activation a (one per GELU, (B, S, I)),
                      with x = [a > 0] of one sample (S, I): sum of x x^T + (1-x)(1-x)^T; the
                      reference used sample 0 only, here the mean over the batch's samples
head_importance       NAS-Bench-BERT: sum |W * G| over the head projections
head_confidence       NAS-Bench-BERT: sum over the head-projection outputs (B, S, w) of
                      mean(max over the sequence axis)
head_softmax_confidence  NAS-Bench-BERT: sum over the attention maps (B, heads, S, S) of
                      mean(max over the head axis); an LT layer's mixing map (no softmax)
                      counts as softmax over each head's features of its 2-D transform,
                      (B, heads, S, d), as in the reference code
attention_confidence  Voita et al. 2019: mean over attention maps, heads and queries of the
                      largest attention weight (max over keys); undefined without attention
===================== ===================================================================
"""
from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from ..capture import layer_weights
from ..introspect import hooked
from ..errors import LpzeroError
from .structure import ForwardRecorder, LayerRecord

JACOBIAN_EPS = 1e-5


class ProxyUndefinedError(LpzeroError):
    """A proxy has no value on this model (e.g. attention confidence without attention)."""


@dataclass(frozen=True)
class ProxyValue:
    """A proxy's value on one model, or NaN and the reason it is undefined."""

    value: float
    reason: str | None = None

    @property
    def valid(self) -> bool:
        return self.reason is None and math.isfinite(self.value)


# -- passes ---------------------------------------------------------------------------------

def _weights(model: nn.Module) -> list[list[nn.Parameter]]:
    """The capture's W per proxy layer."""
    return [layer_weights(layer) for layer in model.proxy_layers()]


def position_embedding(model: nn.Module, space=None) -> nn.Embedding | None:
    """The model's learned position-embedding table as its space finds it
    (:meth:`~lpzero_gp.spaces.Space.position_embedding`; without a space, the default rule: the
    ``nn.Embedding`` whose name contains "position" or is ``wpe``); ``None`` if none (RoPE)."""
    if space is not None:
        return space.position_embedding(model)
    from ..spaces.base import named_position_table
    return named_position_table(model)


@dataclass
class GradientPass:
    """One forward pass of the objective and one backward pass, with what proxies read.

    ``records``: per proxy layer (:class:`~lpzero_gp.baselines.structure.LayerRecord`), tensors
    detached after the backward pass; ``weight_grads``: ``id(parameter) -> dL/dW``;
    ``linear_output_grads``: per layer, dL/dz for each linear call (mixer calls first, then FFN
    calls, as in the record); ``input_grad``: dL/dx (B, S, h) for the hidden states entering
    the first layer; ``position_grad``: dL/dP of the position-embedding table (P, E) or
    ``None``; ``seq_len``: S.
    """

    loss: float
    records: list[LayerRecord]
    weights: list[list[nn.Parameter]]
    weight_grads: dict[int, torch.Tensor]
    linear_output_grads: list[list[torch.Tensor]]
    input_grad: torch.Tensor
    position_grad: torch.Tensor | None
    seq_len: int

    @classmethod
    def run(cls, model: nn.Module, batch: dict, objective: str, space=None) -> "GradientPass":
        weights = _weights(model)
        pos = position_embedding(model, space)
        with torch.enable_grad(), ForwardRecorder(model) as rec:
            loss = model.objective(batch, objective)
            records = rec.finish()
        if loss.ndim != 0:
            raise ValueError(f"the objective {objective!r} must be a scalar, got shape "
                             f"{tuple(loss.shape)}")
        missing = [i for i, r in enumerate(records) if r.input is None]
        if missing:
            raise RuntimeError(f"layers {missing} did not run in the forward pass")
        flat_w = [p for ws in weights for p in ws]
        outputs = [c.output for r in records for c in (r.mixer_calls + r.ffn_calls)]
        targets = flat_w + outputs + [records[0].input] + ([pos.weight] if pos else [])
        grads = torch.autograd.grad(loss, targets, allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g.detach()
                 for t, g in zip(targets, grads)]
        weight_grads = {id(p): g for p, g in zip(flat_w, grads[:len(flat_w)])}
        out_grads, pos_i = [], len(flat_w)
        for r in records:
            n = len(r.mixer_calls) + len(r.ffn_calls)
            out_grads.append(grads[pos_i:pos_i + n])
            pos_i += n
        input_grad = grads[pos_i]
        position_grad = grads[pos_i + 1] if pos else None
        for r in records:  # keep values only; the graph is released with the loss
            r.input = r.input.detach()
            for call in r.mixer_calls + r.ffn_calls:
                call.input, call.output = call.input.detach(), call.output.detach()
            r.activations = [a.detach() for a in r.activations]
            r.attention_maps = [a.detach() for a in r.attention_maps]
            r.mixing_maps = [(m.detach(), h) for m, h in r.mixing_maps]
            r.h_outputs = [h.detach() for h in r.h_outputs]
        return cls(float(loss.detach()), records, weights, weight_grads, out_grads,
                   input_grad, position_grad, int(records[0].input.shape[1]))

    def grad(self, param: nn.Parameter) -> torch.Tensor:
        return self.weight_grads[id(param)]


def _double(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64)


# -- proxies read from the shared gradient pass ---------------------------------------------

def _snip(p: GradientPass) -> float:
    return float(sum((_double(w) * _double(p.grad(w))).abs().sum()
                     for ws in p.weights for w in ws))


def _grad_norm(p: GradientPass) -> float:
    return float(sum(torch.linalg.vector_norm(_double(p.grad(w)))
                     for ws in p.weights for w in ws))


def _fisher(p: GradientPass) -> float:
    total = 0.0
    for rec, grads in zip(p.records, p.linear_output_grads):
        for call, dz in zip(rec.mixer_calls + rec.ffn_calls, grads):
            z = _double(call.output)
            per_token = (z * _double(dz)).reshape(-1, z.shape[-1])
            fan_in = call.input.shape[-1]
            total += fan_in * float((0.5 * per_token.pow(2).mean(0)).sum())
    return total


def _jacobian_statistic(rows: np.ndarray, what: str) -> float:
    """-sum log(v + eps) + 1/(v + eps) over the eigenvalues of corrcoef(rows)."""
    if rows.shape[0] < 2:
        raise ProxyUndefinedError(f"{what}: needs at least 2 rows, got {rows.shape[0]}")
    spread = rows.std(axis=1)
    if not np.all(spread > 0):
        raise ProxyUndefinedError(f"{what}: {int((spread == 0).sum())} row(s) are constant, "
                                  "their correlations are undefined")
    corr = np.corrcoef(rows)
    v = np.linalg.eigvalsh((corr + corr.T) / 2)
    return float(-np.sum(np.log(v + JACOBIAN_EPS) + 1.0 / (v + JACOBIAN_EPS)))


def _jacobian_cov(p: GradientPass) -> float:
    rows = p.input_grad.to(torch.float64).reshape(p.input_grad.shape[0], -1).numpy()
    return _jacobian_statistic(rows, "jacobian_cov (one row per sample)")


def _jacobian_score(p: GradientPass) -> float:
    if p.position_grad is None:
        raise ProxyUndefinedError("jacobian_score: the model has no position-embedding table")
    used = p.position_grad[:p.seq_len].to(torch.float64)  # (S, E)
    return _jacobian_statistic(used.T.numpy(), "jacobian_score (position-embedding features)")


def _synaptic_diversity(p: GradientPass) -> float:
    total = 0.0
    for rec in p.records:
        for lin in rec.mixer_linears:
            w, g = _double(lin.weight), _double(p.grad(lin.weight))
            total += float(torch.linalg.matrix_norm(w, "nuc") * torch.linalg.matrix_norm(g, "nuc"))
    return total


def _synaptic_saliency(p: GradientPass) -> float:
    return float(sum((_double(lin.weight) * _double(p.grad(lin.weight))).abs().sum()
                     for rec in p.records for lin in rec.ffn_linears))


def _activation_distance(p: GradientPass) -> float:
    total = 0.0
    for rec in p.records:
        for a in rec.activations:
            on = (a > 0).to(torch.float64).reshape(a.shape[0], a.shape[1], -1)  # (B, S, I)
            n_on = on.sum(1)                                                     # (B, I)
            agree = n_on.pow(2) + (a.shape[1] - n_on).pow(2)
            total += float(agree.sum(1).mean())
    if not any(rec.activations for rec in p.records):
        raise ProxyUndefinedError("activation_distance: the model has no A tap")
    return total


def _unique_head_linears(p: GradientPass) -> list[nn.Linear]:
    seen, out = set(), []
    for rec in p.records:
        for call in rec.head_calls:
            if id(call.module) not in seen:
                seen.add(id(call.module))
                out.append(call.module)
    return out


def _head_importance(p: GradientPass) -> float:
    heads = _unique_head_linears(p)
    if not heads:
        raise ProxyUndefinedError("head_importance: no head projection found")
    return float(sum((_double(m.weight) * _double(p.grad(m.weight))).abs().sum() for m in heads))


def _head_confidence(p: GradientPass) -> float:
    calls = [c for rec in p.records for c in rec.head_calls]
    if not calls:
        raise ProxyUndefinedError("head_confidence: no head projection found")
    return float(sum(_double(c.output).amax(dim=1).mean() for c in calls))


def _softmax_of_mixing_map(mixing: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, S, w) -> softmax over each head's features, (B, heads, S, w / heads)."""
    b, s, w = mixing.shape
    return torch.softmax(_double(mixing).view(b, s, heads, w // heads).transpose(1, 2), dim=-1)


def _head_softmax_confidence(p: GradientPass) -> float:
    maps = [_double(m) for rec in p.records for m in rec.attention_maps]
    for rec in p.records:
        for mixing, heads in rec.mixing_maps:
            if heads is None or mixing.shape[-1] % heads:
                raise ProxyUndefinedError("head_softmax_confidence: a mixing map whose mixer "
                                          "declares no head count dividing its width")
            maps.append(_softmax_of_mixing_map(mixing, heads))
    if not maps:
        raise ProxyUndefinedError("head_softmax_confidence: no attention or mixing map")
    return float(sum(m.amax(dim=1).mean() for m in maps))


def _attention_confidence(p: GradientPass) -> float:
    maps = [_double(m) for rec in p.records for m in rec.attention_maps]
    if not maps:
        raise ProxyUndefinedError("attention_confidence: the model has no attention map "
                                  "(every layer is attention-free)")
    return float(np.mean([float(m.amax(dim=-1).mean()) for m in maps]))


# -- proxies with passes of their own -------------------------------------------------------

def n_params(model: nn.Module, batch: dict | None = None, objective: str | None = None) -> float:
    """Number of parameters of the model (no pass)."""
    return float(sum(p.numel() for p in model.parameters()))


DEFAULT_NORM_TYPES = (nn.LayerNorm,)


def _nonembedding_parameters(model: nn.Module, norm_types=DEFAULT_NORM_TYPES
                             ) -> list[nn.Parameter]:
    layers = list(model.proxy_layers())
    params = {id(p): p for layer in layers for p in layer.parameters()}
    layer_ids = {id(layer) for layer in layers}
    # the model and every module holding the layers (a final norm sits beside the layer list)
    containers = [m for m in model.modules()
                  if id(m) not in layer_ids and any(id(d) in layer_ids for d in m.modules())]
    for container in containers:
        for child in container.children():
            if isinstance(child, norm_types):
                params.update({id(p): p for p in child.parameters()})
    return list(params.values())


def n_params_nonembedding(model: nn.Module, batch: dict | None = None,
                          objective: str | None = None, norm_types=DEFAULT_NORM_TYPES) -> float:
    """Parameters of the proxy layers and of the final norm(s) (no pass)."""
    return float(sum(p.numel() for p in _nonembedding_parameters(model, norm_types)))


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


def _synflow_values(model: nn.Module, batch: dict, norm_types=DEFAULT_NORM_TYPES
                    ) -> dict[str, float]:
    result = synflow_pass(model, batch, norm_types)
    return {"synflow": result.log_synflow(), "logsynflow": result.logsynflow()}


def _grasp_value(model: nn.Module, batch: dict, objective: str) -> float:
    weights = [w for ws in _weights(model) for w in ws]
    with torch.enable_grad():
        loss = model.objective(batch, objective)
        grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
        pairs = [(w, g) for w, g in zip(weights, grads) if g is not None]
        z = sum((g.detach() * g).sum() for _, g in pairs)
        hg = torch.autograd.grad(z, [w for w, _ in pairs], allow_unused=True)
    return float(sum((-_double(w) * _double(h)).sum()
                     for (w, _), h in zip(pairs, hg) if h is not None))


# -- the registry ---------------------------------------------------------------------------

@dataclass(frozen=True)
class HandDesigned:
    """One hand-designed proxy: its key, display name, source and which pass it reads."""

    name: str
    label: str
    source: str
    group: str  # "static" | "gradient" | "synflow" | "grasp"
    read: Callable | None = None  # for "gradient": GradientPass -> float


HAND_DESIGNED: dict[str, HandDesigned] = {h.name: h for h in (
    HandDesigned("n_params", "#Params", "parameter count", "static"),
    HandDesigned("n_params_nonembedding", "#Params (non-embedding)",
                 "Javaheripi et al. 2022 (LTS)", "static"),
    HandDesigned("synflow", "Synflow", "Tanaka et al. 2020", "synflow"),
    HandDesigned("logsynflow", "LogSynflow", "Cavagnero et al. 2022", "synflow"),
    HandDesigned("snip", "SNIP", "Lee et al. 2019", "gradient", _snip),
    HandDesigned("grasp", "GraSP", "Wang et al. 2020", "grasp"),
    HandDesigned("fisher", "Fisher", "Turner et al. 2020", "gradient", _fisher),
    HandDesigned("grad_norm", "Grad-norm", "Abdelfattah et al. 2021", "gradient", _grad_norm),
    HandDesigned("jacobian_cov", "Jacobian covariance", "Mellor et al. 2021", "gradient",
                 _jacobian_cov),
    HandDesigned("jacobian_score", "Jacobian score (position emb.)", "Serianni & Kalita 2023",
                 "gradient", _jacobian_score),
    HandDesigned("synaptic_diversity", "Synaptic diversity", "Serianni & Kalita 2023",
                 "gradient", _synaptic_diversity),
    HandDesigned("synaptic_saliency", "Synaptic saliency", "Serianni & Kalita 2023",
                 "gradient", _synaptic_saliency),
    HandDesigned("activation_distance", "Activation distance", "Serianni & Kalita 2023",
                 "gradient", _activation_distance),
    HandDesigned("head_importance", "Head importance", "Serianni & Kalita 2023", "gradient",
                 _head_importance),
    HandDesigned("head_confidence", "Head confidence", "Serianni & Kalita 2023", "gradient",
                 _head_confidence),
    HandDesigned("head_softmax_confidence", "Head softmax confidence",
                 "Serianni & Kalita 2023", "gradient", _head_softmax_confidence),
    HandDesigned("attention_confidence", "Attention confidence", "Voita et al. 2019",
                 "gradient", _attention_confidence),
)}
HAND_DESIGNED_NAMES = tuple(HAND_DESIGNED)


def _checked(names: Iterable[str] | None) -> list[str]:
    names = list(HAND_DESIGNED_NAMES if names is None else names)
    unknown = [n for n in names if n not in HAND_DESIGNED]
    if unknown:
        raise ValueError(f"unknown hand-designed proxies {unknown}; known: "
                         f"{', '.join(HAND_DESIGNED_NAMES)}")
    return names


def _guard(fn: Callable[[], float], name: str) -> ProxyValue:
    try:
        value = float(fn())
    except ProxyUndefinedError as exc:
        return ProxyValue(math.nan, str(exc))
    if not math.isfinite(value):
        return ProxyValue(math.nan, f"{name}: the value is not finite ({value!r})")
    return ProxyValue(value)


def compute_hand_designed(model: nn.Module, batch: dict, objective: str,
                          names: Sequence[str] | None = None, space=None
                          ) -> dict[str, ProxyValue]:
    """The hand-designed proxies ``names`` (default: all) of one model, sharing passes.

    Proxies of the ``"gradient"`` group share one forward/backward pass; synflow and
    logsynflow share one pass on a copy; GraSP has its own. Undefined values are NaN with a
    reason; any other failure is raised. ``space`` (the model's
    :class:`~lpzero_gp.spaces.Space`) says which modules normalise (LayerNorm, RMSNorm) and
    where a position table is; a sub-network view is first made a network of its own
    (``model.standalone()``), so that every proxy sees only the active weights.
    """
    names = _checked(names)
    standalone = getattr(model, "standalone", None)
    if standalone is not None:
        model = standalone()
    norm_types = DEFAULT_NORM_TYPES if space is None else tuple(space.norm_types)
    out: dict[str, ProxyValue] = {}
    groups = {HAND_DESIGNED[n].group for n in names}
    if "gradient" in groups:
        gp = GradientPass.run(model, batch, objective, space)
        for n in names:
            if HAND_DESIGNED[n].group == "gradient":
                out[n] = _guard(lambda n=n: HAND_DESIGNED[n].read(gp), n)
        del gp
    if "synflow" in groups:
        try:
            values = _synflow_values(model, batch, norm_types)
            for n in names:
                if HAND_DESIGNED[n].group == "synflow":
                    out[n] = _guard(lambda n=n: values[n], n)
        except ProxyUndefinedError as exc:
            for n in names:
                if HAND_DESIGNED[n].group == "synflow":
                    out[n] = ProxyValue(math.nan, str(exc))
    if "grasp" in groups:
        out["grasp"] = _guard(lambda: _grasp_value(model, batch, objective), "grasp")
    static = {"n_params": n_params,
              "n_params_nonembedding": functools.partial(n_params_nonembedding,
                                                         norm_types=norm_types)}
    for n in names:
        if n in static:
            out[n] = _guard(lambda n=n: static[n](model), n)
    return {n: out[n] for n in names}


def _single(name: str) -> Callable[..., float]:
    def proxy(model: nn.Module, batch: dict, objective: str = "sum") -> float:
        result = compute_hand_designed(model, batch, objective, [name])[name]
        if not result.valid:
            raise ProxyUndefinedError(result.reason)
        return result.value
    proxy.__name__ = name
    proxy.__doc__ = (f"{HAND_DESIGNED[name].label} ({HAND_DESIGNED[name].source}) of one model; "
                     "see the module docstring for the definition.")
    return proxy


synflow = _single("synflow")
logsynflow = _single("logsynflow")
snip = _single("snip")
grasp = _single("grasp")
fisher = _single("fisher")
grad_norm = _single("grad_norm")
jacobian_cov = _single("jacobian_cov")
jacobian_score = _single("jacobian_score")
synaptic_diversity = _single("synaptic_diversity")
synaptic_saliency = _single("synaptic_saliency")
activation_distance = _single("activation_distance")
head_importance = _single("head_importance")
head_confidence = _single("head_confidence")
head_softmax_confidence = _single("head_softmax_confidence")
attention_confidence = _single("attention_confidence")
