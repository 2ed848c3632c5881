"""The ``"grasp"`` pass: H G for the weights, by a double backward (Wang et al. 2020)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .common import weights as _weights


@dataclass
class GraspPass:
    """``pairs``: (W, H G) for every weight with a gradient and a Hessian-gradient product, H
    the Hessian of the objective L and G = dL/dW (one forward pass, a double backward)."""

    pairs: list[tuple[nn.Parameter, torch.Tensor]]

    @classmethod
    def run(cls, model: nn.Module, batch: dict, objective: str) -> "GraspPass":
        weights = [w for ws in _weights(model) for w in ws]
        with torch.enable_grad():
            loss = model.objective(batch, objective)
            grads = torch.autograd.grad(loss, weights, create_graph=True, allow_unused=True)
            pairs = [(w, g) for w, g in zip(weights, grads) if g is not None]
            z = sum((g.detach() * g).sum() for _, g in pairs)
            hg = torch.autograd.grad(z, [w for w, _ in pairs], allow_unused=True)
        return cls([(w, h) for (w, _), h in zip(pairs, hg) if h is not None])
