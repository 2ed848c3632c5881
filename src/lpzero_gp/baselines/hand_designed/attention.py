"""Attention proxies: head projections (importance, confidence) and attention or mixing maps
(softmax confidence, attention confidence), from the gradient pass's records."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .passes.common import double as _double
from .passes.gradient import GradientPass
from .registry import ProxyUndefinedError, hand_designed


def _unique_head_linears(p: GradientPass) -> list[nn.Linear]:
    seen, out = set(), []
    for rec in p.records:
        for call in rec.head_calls:
            if id(call.module) not in seen:
                seen.add(id(call.module))
                out.append(call.module)
    return out


@hand_designed("head_importance", label="Head importance", source="Serianni & Kalita 2023",
               needs="gradient",
               latex=r"\mathrm{HeadImp}")
def head_importance(p: GradientPass) -> float:
    heads = _unique_head_linears(p)
    if not heads:
        raise ProxyUndefinedError("head_importance: no head projection found")
    return float(sum((_double(m.weight) * _double(p.grad(m.weight))).abs().sum() for m in heads))


@hand_designed("head_confidence", label="Head confidence", source="Serianni & Kalita 2023",
               needs="gradient",
               latex=r"\mathrm{HeadConf}")
def head_confidence(p: GradientPass) -> float:
    calls = [c for rec in p.records for c in rec.head_calls]
    if not calls:
        raise ProxyUndefinedError("head_confidence: no head projection found")
    return float(sum(_double(c.output).amax(dim=1).mean() for c in calls))


def _softmax_of_mixing_map(mixing: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, S, w) -> softmax over each head's features, (B, heads, S, w / heads)."""
    b, s, w = mixing.shape
    return torch.softmax(_double(mixing).view(b, s, heads, w // heads).transpose(1, 2), dim=-1)


@hand_designed("head_softmax_confidence", label="Head softmax confidence",
               source="Serianni & Kalita 2023",
               needs="gradient",
               latex=r"\mathrm{HeadSoftConf}")
def head_softmax_confidence(p: GradientPass) -> float:
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


@hand_designed("attention_confidence", label="Attention confidence", source="Voita et al. 2019",
               needs="gradient",
               latex=r"\mathrm{AttnConf}")
def attention_confidence(p: GradientPass) -> float:
    maps = [_double(m) for rec in p.records for m in rec.attention_maps]
    if not maps:
        raise ProxyUndefinedError("attention_confidence: the model has no attention map "
                                  "(every layer is attention-free)")
    return float(np.mean([float(m.amax(dim=-1).mean()) for m in maps]))
