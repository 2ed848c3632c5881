"""Saliency proxies: how much the objective (or synflow's R) depends on each weight.

Each decorated function reads its pass; the name it is bound to here is the proxy as a function
of one model (``snip(model, batch, objective)``; see :func:`~.registry.hand_designed`).

snip, grad_norm and fisher read the gradient pass; synflow and logsynflow the synflow pass;
grasp the GraSP pass (see :mod:`lpzero_gp.baselines.hand_designed` for the definitions).
"""
from __future__ import annotations

import torch
from torch import nn

from .passes.common import double as _double
from .passes.gradient import GradientPass
from .passes.grasp import GraspPass
from .passes.synflow import SynflowPass
from .registry import hand_designed, hand_designed_layers


@hand_designed("synflow", label="Synflow", source="Tanaka et al. 2020", needs="synflow",
               latex=r"\mathrm{SynFlow}")
def synflow(p: SynflowPass) -> float:
    return p.log_synflow()


@hand_designed("logsynflow", label="LogSynflow", source="Cavagnero et al. 2022",
               needs="synflow",
               latex=r"\mathrm{LogSynFlow}")
def logsynflow(p: SynflowPass) -> float:
    return p.logsynflow()


@hand_designed("snip", label="SNIP", source="Lee et al. 2019", needs="gradient",
               latex=r"\mathrm{SNIP}")
def snip(p: GradientPass) -> float:
    return float(sum((_double(w) * _double(p.grad(w))).abs().sum()
                     for ws in p.weights for w in ws))


@hand_designed_layers("snip")
def snip_layers(p: GradientPass) -> list[float]:
    return [float(sum((_double(w) * _double(p.grad(w))).abs().sum() for w in ws))
            for ws in p.weights]


@hand_designed("grasp", label="GraSP", source="Wang et al. 2020", needs="grasp",
               latex=r"\mathrm{GraSP}")
def grasp(p: GraspPass) -> float:
    return float(sum((-_double(w) * _double(h)).sum() for w, h in p.pairs))


def _grasp_value(model: nn.Module, batch: dict, objective: str) -> float:
    """GraSP of one model (its own pass; no standalone view, no NaN guard)."""
    return grasp.read(GraspPass.run(model, batch, objective))


@hand_designed("fisher", label="Fisher", source="Turner et al. 2020", needs="gradient",
               latex=r"\mathrm{Fisher}")
def fisher(p: GradientPass) -> float:
    total = 0.0
    for rec, grads in zip(p.records, p.linear_output_grads):
        for call, dz in zip(rec.mixer_calls + rec.ffn_calls, grads):
            z = _double(call.output)
            per_token = (z * _double(dz)).reshape(-1, z.shape[-1])
            fan_in = call.input.shape[-1]
            total += fan_in * float((0.5 * per_token.pow(2).mean(0)).sum())
    return total


@hand_designed_layers("fisher")
def fisher_layers(p: GradientPass) -> list[float]:
    out = []
    for rec, grads in zip(p.records, p.linear_output_grads):
        total = 0.0
        for call, dz in zip(rec.mixer_calls + rec.ffn_calls, grads):
            z = _double(call.output)
            per_token = (z * _double(dz)).reshape(-1, z.shape[-1])
            fan_in = call.input.shape[-1]
            total += fan_in * float((0.5 * per_token.pow(2).mean(0)).sum())
        out.append(total)
    return out


@hand_designed("grad_norm", label="Grad-norm", source="Abdelfattah et al. 2021", needs="gradient",
               latex=r"\mathrm{GradNorm}")
def grad_norm(p: GradientPass) -> float:
    return float(sum(torch.linalg.vector_norm(_double(p.grad(w)))
                     for ws in p.weights for w in ws))


@hand_designed_layers("grad_norm")
def grad_norm_layers(p: GradientPass) -> list[float]:
    return [float(sum(torch.linalg.vector_norm(_double(p.grad(w))) for w in ws))
            for ws in p.weights]
