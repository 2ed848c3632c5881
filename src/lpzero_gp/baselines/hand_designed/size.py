"""Size proxies: parameter counts, read off the model without a pass (``needs="static"``)."""
from __future__ import annotations

from torch import nn

from .passes.static import DEFAULT_NORM_TYPES, StaticPass
from .registry import hand_designed


def n_params(model: nn.Module, batch: dict | None = None, objective: str | None = None) -> float:
    """Number of parameters of the model (no pass)."""
    return float(sum(p.numel() for p in model.parameters()))


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


@hand_designed("n_params", label="#Params", source="parameter count", needs="static",
               latex=r"\#\mathrm{Params}")
def _n_params(p: StaticPass) -> float:
    return n_params(p.model)


@hand_designed("n_params_nonembedding", label="#Params (non-embedding)",
               source="Javaheripi et al. 2022 (LTS)", needs="static",
               latex=r"\#\mathrm{Params}_{\mathrm{non\text{-}emb}}")
def _n_params_nonembedding(p: StaticPass) -> float:
    return n_params_nonembedding(p.model, norm_types=p.norm_types)
