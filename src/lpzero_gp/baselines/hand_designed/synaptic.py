"""Synaptic proxies of NAS-Bench-BERT: weight-gradient products over the token mixers'
or the feed-forward stacks' linear modules, from the gradient pass."""
from __future__ import annotations

import torch

from .passes.common import double as _double
from .passes.gradient import GradientPass
from .registry import hand_designed, hand_designed_layers


@hand_designed("synaptic_diversity", label="Synaptic diversity", source="Serianni & Kalita 2023",
               needs="gradient",
               latex=r"\mathrm{SynDiv}")
def synaptic_diversity(p: GradientPass) -> float:
    total = 0.0
    for rec in p.records:
        for lin in rec.mixer_linears:
            w, g = _double(lin.weight), _double(p.grad(lin.weight))
            total += float(torch.linalg.matrix_norm(w, "nuc") * torch.linalg.matrix_norm(g, "nuc"))
    return total


@hand_designed_layers("synaptic_diversity")
def synaptic_diversity_layers(p: GradientPass) -> list[float]:
    out = []
    for rec in p.records:
        total = 0.0
        for lin in rec.mixer_linears:
            w, g = _double(lin.weight), _double(p.grad(lin.weight))
            total += float(torch.linalg.matrix_norm(w, "nuc") * torch.linalg.matrix_norm(g, "nuc"))
        out.append(total)
    return out


@hand_designed("synaptic_saliency", label="Synaptic saliency", source="Serianni & Kalita 2023",
               needs="gradient",
               latex=r"\mathrm{SynSal}")
def synaptic_saliency(p: GradientPass) -> float:
    return float(sum((_double(lin.weight) * _double(p.grad(lin.weight))).abs().sum()
                     for rec in p.records for lin in rec.ffn_linears))


@hand_designed_layers("synaptic_saliency")
def synaptic_saliency_layers(p: GradientPass) -> list[float]:
    return [float(sum((_double(lin.weight) * _double(p.grad(lin.weight))).abs().sum()
                      for lin in rec.ffn_linears)) for rec in p.records]
