"""Activation proxies: the pattern of FFN activations over the tokens, from the gradient
pass's records."""
from __future__ import annotations

import torch

from .passes.gradient import GradientPass
from .registry import ProxyUndefinedError, hand_designed


@hand_designed("activation_distance", label="Activation distance", source="Serianni & Kalita 2023",
               needs="gradient",
               latex=r"\mathrm{ActDist}")
def activation_distance(p: GradientPass) -> float:
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
