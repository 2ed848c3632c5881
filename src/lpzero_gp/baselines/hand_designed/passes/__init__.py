"""The passes hand-designed proxies read, each run once per model for all proxies that need it.

:data:`PASSES` maps a pass name (a proxy's ``needs``) to its runner
``(model, batch, objective, space) -> result``; :func:`~..registry.compute_hand_designed` runs
them in this order. A runner may raise :class:`~..registry.ProxyUndefinedError`: every proxy
of that pass is then NaN with the reason.

- ``"gradient"`` (:mod:`.gradient`): one forward and one backward pass of the objective, with
  the layer records (:class:`GradientPass`).
- ``"synflow"`` (:mod:`.synflow`): synflow's data-free pass on a |W| double-precision copy.
- ``"grasp"`` (:mod:`.grasp`): a double backward for the Hessian-gradient product.
- ``"static"`` (:mod:`.static`): no pass, the model itself (parameter counts).
"""
from __future__ import annotations

from typing import Callable

from .gradient import GradientPass, position_embedding
from .grasp import GraspPass
from .static import DEFAULT_NORM_TYPES, StaticPass, norm_types_of
from .synflow import SynflowPass, synflow_pass


def _gradient(model, batch, objective, space):
    return GradientPass.run(model, batch, objective, space)


def _synflow(model, batch, objective, space):
    return synflow_pass(model, batch, norm_types_of(space))


def _grasp(model, batch, objective, space):
    return GraspPass.run(model, batch, objective)


def _static(model, batch, objective, space):
    return StaticPass(model, norm_types_of(space))


PASSES: dict[str, Callable] = {
    "gradient": _gradient,
    "synflow": _synflow,
    "grasp": _grasp,
    "static": _static,
}

__all__ = ["DEFAULT_NORM_TYPES", "GradientPass", "GraspPass", "PASSES", "StaticPass",
           "SynflowPass", "norm_types_of", "position_embedding", "synflow_pass"]
