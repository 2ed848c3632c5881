"""Where the parts of a proxy model are, found from its taps and one forward pass.

Hand-designed proxies name parts of a transformer layer: "the attention's linear layers",
"the feed-forward linear layers", "the head projections", "the softmax maps". A proxy model
(:mod:`lpzero_gp.spaces.base`) only promises ``proxy_layers()`` and its taps, so the parts are
found from them, the same way for every space:

- the *token mixer* of a layer: its direct children holding a ``Tap("H")`` or ``Tap("S")``;
- the *feed-forward stack*: its direct children holding a ``Tap("A")``;
- the *dense modules*: ``nn.Linear`` and GPT-2's ``Conv1D``;
- the *head projections*: the dense modules of the mixer that read the mixer's
  projection input (the tensor the first linear of the mixer reads, i.e. the hidden states or
  their LayerNorm) or the tensor an ``H`` tap marks (WMA's extra query matrix): Q, K, V, the
  input projection of an LT layer, a fused QKV projection;
- *attention maps*: ``S`` tap outputs of shape (B, heads, S, S);
- *mixing maps*: ``S`` tap outputs of shape (B, S, width), an attention-free layer's token
  mixing (FlexiBERT's LT layers).

:class:`ForwardRecorder` hooks a model for one forward pass and records, per layer, the calls
of those modules; every hook is removed on exit.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import torch
from torch import nn

from transformers.pytorch_utils import Conv1D

from ..introspect import hooked, tap_hooks, tap_points
from ..spaces.taps import TapPoint

DENSE_TYPES = (nn.Linear, Conv1D)  # GPT-2's Conv1D is a linear layer with weight (in, out)


def _has_tap(module: nn.Module, points: list[TapPoint], kinds: tuple[str, ...]) -> bool:
    inside = {id(m) for m in module.modules()}
    return any(p.kind in kinds and id(p.module) in inside for p in points)


def mixer_children(layer: nn.Module, points: list[TapPoint]) -> list[nn.Module]:
    """The direct children of ``layer`` that hold an ``H`` or ``S`` tap (the token mixer)."""
    return [c for c in layer.children() if _has_tap(c, points, ("H", "S"))]


def ffn_children(layer: nn.Module, points: list[TapPoint]) -> list[nn.Module]:
    """The direct children of ``layer`` that hold an ``A`` tap (the feed-forward stack)."""
    return [c for c in layer.children() if _has_tap(c, points, ("A",))]


def linears_in(modules: list[nn.Module]) -> list[nn.Module]:
    """Every dense module (``nn.Linear`` or GPT-2's ``Conv1D``) inside ``modules``, in module
    order, each once."""
    seen, out = set(), []
    for root in modules:
        for m in root.modules():
            if isinstance(m, DENSE_TYPES) and id(m) not in seen:
                seen.add(id(m))
                out.append(m)
    return out


@dataclass
class LinearCall:
    """One call of a dense module: its input (…, in) and output (…, out), graph kept."""

    module: nn.Module
    input: torch.Tensor
    output: torch.Tensor


@dataclass
class LayerRecord:
    """What one proxy layer did in the forward pass.

    ``mixer_linears`` / ``ffn_linears``: the layer's linear modules by part; ``head_calls``:
    calls of the head projections (outputs (B, S, width)); ``ffn_calls``, ``mixer_calls``: all
    linear calls by part; ``activations``: ``A`` tap outputs (B, S, width), one per GELU;
    ``attention_maps``: (B, heads, S, S); ``mixing_maps``: (B, S, width) with ``heads`` the
    mixer's head count (or ``None``).
    """

    layer: nn.Module
    input: torch.Tensor | None = None
    mixer_linears: list[nn.Module] = field(default_factory=list)
    ffn_linears: list[nn.Module] = field(default_factory=list)
    mixer_calls: list[LinearCall] = field(default_factory=list)
    ffn_calls: list[LinearCall] = field(default_factory=list)
    head_calls: list[LinearCall] = field(default_factory=list)
    activations: list[torch.Tensor] = field(default_factory=list)
    attention_maps: list[torch.Tensor] = field(default_factory=list)
    mixing_maps: list[tuple[torch.Tensor, int | None]] = field(default_factory=list)
    h_outputs: list[torch.Tensor] = field(default_factory=list)


def _mixer_heads(layer: nn.Module, points: list[TapPoint]) -> int | None:
    for child in mixer_children(layer, points):
        for attr in ("heads", "n_head", "num_heads"):
            value = getattr(child, attr, None)
            if isinstance(value, int) and value > 0:
                return value
    return None


class ForwardRecorder:
    """Context manager: hooks every proxy layer's dense modules and taps for one forward pass.

    Tensors are kept with their graph (not detached), so gradients can be taken with respect
    to them afterwards. On exit every hook is removed; the model is not otherwise touched.
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.layers = list(model.proxy_layers())
        if not self.layers:
            raise ValueError(f"{type(model).__name__}.proxy_layers() returned no layers")
        self.records: list[LayerRecord] = []
        self._context = None

    def __enter__(self) -> "ForwardRecorder":
        self.records = []
        forward, pre = [], []
        self.points = []
        for index, layer in enumerate(self.layers):
            points = tap_points(self.model, index, layer)
            self.points.append(points)
            rec = LayerRecord(layer, mixer_linears=linears_in(mixer_children(layer, points)),
                              ffn_linears=linears_in(ffn_children(layer, points)))
            self.records.append(rec)
            pre.append((layer, functools.partial(self._on_layer, index)))
            parts = {id(m): "mixer" for m in rec.mixer_linears}
            parts.update({id(m): "ffn" for m in rec.ffn_linears})
            for module in layer.modules():
                if isinstance(module, DENSE_TYPES) and id(module) in parts:
                    forward.append((module, functools.partial(self._on_linear, index,
                                                              parts[id(module)])))
            f, p = tap_hooks(points, functools.partial(self._on_tap, index))
            forward += f
            pre += p
        self._context = hooked(forward=forward, pre=pre)
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
            self._context = None

    # -- hooks -------------------------------------------------------------------------------
    def _on_layer(self, index: int, module, args) -> None:
        if self.records[index].input is None:
            self.records[index].input = args[0]

    def _on_linear(self, index: int, part: str, module, args, output) -> None:
        call = LinearCall(module, args[0], output)
        rec = self.records[index]
        if part == "mixer":
            rec.mixer_calls.append(call)
        else:
            rec.ffn_calls.append(call)

    def _on_tap(self, index: int, point: TapPoint, output: torch.Tensor) -> None:
        kind = point.kind
        rec = self.records[index]
        if kind == "A":
            rec.activations.append(output)
        elif kind == "H":
            rec.h_outputs.append(output)
        elif output.ndim == 4 and output.shape[-1] == output.shape[-2]:
            rec.attention_maps.append(output)
        elif output.ndim == 3:
            rec.mixing_maps.append((output, _mixer_heads(rec.layer, self.points[index])))

    # -- after the forward pass ---------------------------------------------------------------
    def finish(self) -> list[LayerRecord]:
        """Classify the head projections of each layer (call after the forward pass)."""
        for rec in self.records:
            if not rec.mixer_calls:
                continue
            projection_input = rec.mixer_calls[0].input
            rec.head_calls = [c for c in rec.mixer_calls
                              if c.input is projection_input
                              or any(c.input is h for h in rec.h_outputs)]
        return self.records
