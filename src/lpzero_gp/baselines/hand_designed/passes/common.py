"""Helpers shared by the passes and the proxies."""
from __future__ import annotations

import torch
from torch import nn

from ....capture import layer_weights


def weights(model: nn.Module) -> list[list[nn.Parameter]]:
    """The capture's W per proxy layer."""
    return [layer_weights(layer) for layer in model.proxy_layers()]


def double(x: torch.Tensor) -> torch.Tensor:
    return x.detach().to(torch.float64)
