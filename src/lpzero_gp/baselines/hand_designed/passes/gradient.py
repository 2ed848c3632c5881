"""The ``"gradient"`` pass: one forward pass of the objective and one backward pass, with the
layer records (:mod:`lpzero_gp.baselines.structure`) every gradient proxy reads."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...structure import ForwardRecorder, LayerRecord
from .common import weights as _weights


def position_embedding(model: nn.Module, space=None) -> nn.Embedding | None:
    """The model's learned position-embedding table as its space finds it
    (:meth:`~lpzero_gp.spaces.Space.position_embedding`; without a space, the default rule: the
    ``nn.Embedding`` whose name contains "position" or is ``wpe``); ``None`` if none (RoPE)."""
    if space is not None:
        return space.position_embedding(model)
    from ....spaces.base import named_position_table
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
