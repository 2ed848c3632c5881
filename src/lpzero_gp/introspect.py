"""The one place that hooks models: forward hooks installed and removed by a context manager,
gradients without writing ``.grad``, and where a model's parts are.

:func:`hooked` installs forward and forward-pre hooks and removes every one of them on exit,
whatever happens inside; nothing else in lpzero-gp calls ``register_*hook``. :func:`gradients`
takes gradients with :func:`torch.autograd.grad`, so the model leaves a capture exactly as it
entered it (parameters, buffers, hooks, ``.grad`` fields, training flag).
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator, Sequence

import torch
from torch import nn

from .spaces.taps import Tap, TapPoint

Hook = Callable[..., None]


@contextlib.contextmanager
def hooked(forward: Iterable[tuple[nn.Module, Hook]] = (),
           pre: Iterable[tuple[nn.Module, Hook]] = ()) -> Iterator[None]:
    """Forward hooks ``hook(module, args, output)`` and pre-hooks ``hook(module, args)`` on the
    given modules for the duration of the block."""
    handles = []
    try:
        for module, hook in pre:
            handles.append(module.register_forward_pre_hook(hook))
        for module, hook in forward:
            handles.append(module.register_forward_hook(hook))
        yield
    finally:
        for handle in handles:
            handle.remove()


def gradients(loss: torch.Tensor, targets: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """d loss / d target for each target (zeros where unused); no ``.grad`` is written."""
    if loss.ndim != 0:
        raise ValueError(f"the objective must be a scalar, got shape {tuple(loss.shape)}")
    if not targets:
        return []
    grads = torch.autograd.grad(loss, list(targets), allow_unused=True)
    return [torch.zeros_like(t) if g is None else g for t, g in zip(targets, grads)]


def taps(module: nn.Module, kind: str | None = None) -> list[Tap]:
    """The :class:`Tap` modules inside ``module`` (of ``kind``), in module order."""
    return [m for m in module.modules() if isinstance(m, Tap) and (kind is None or
                                                                    m.kind == kind)]


def tap_points(model: nn.Module, index: int, layer: nn.Module) -> list[TapPoint]:
    """Where layer ``index``'s A, H and S tensors are: the model's ``proxy_taps(index)`` if it
    declares them, else every :class:`Tap` module inside ``layer`` (read at its output)."""
    declared = getattr(model, "proxy_taps", None)
    if declared is not None:
        return list(declared(index))
    return [TapPoint(m.kind, m, m.axes, name) for name, m in layer.named_modules()
            if isinstance(m, Tap)]


def tap_hooks(points: Iterable[TapPoint], callback: Callable[[TapPoint, torch.Tensor], None]
              ) -> tuple[list, list]:
    """``(forward, pre)`` hook lists for :func:`hooked` that call ``callback(point, tensor)``
    with each point's tensor as the forward pass produces it."""
    forward, pre = [], []
    for point in points:
        if point.on_input:
            pre.append((point.module, lambda m, args, p=point: callback(p, p.tensor(args))))
        else:
            forward.append((point.module,
                            lambda m, args, out, p=point: callback(p, p.tensor(args, out))))
    return forward, pre


def matrix_view(owner: nn.Module, tensor: torch.Tensor, name: str = "weight") -> torch.Tensor:
    """A weight (or its gradient) as (output units, fan-in): nn.Linear's (out, in) as is, GPT-2's
    Conv1D (in, out) transposed, a convolution (out, in, k) as (out, in * k), a table
    (rows, dim). ``name``: the parameter's name in ``owner``. A module of a sub-network view
    with ``active_slice(param_name)`` gives only the part its forward pass uses."""
    from transformers.pytorch_utils import Conv1D
    param_name = name.rsplit(".", 1)[-1]
    active = getattr(owner, "active_slice", None)
    if active is not None:
        part = active(param_name)
        if part is not None:
            tensor = tensor[part]
    if isinstance(owner, Conv1D) and param_name == "weight":
        return tensor.t()
    return tensor.reshape(tensor.shape[0], -1)


def layer_matrices(layer: nn.Module) -> list[tuple[str, nn.Module, nn.Parameter]]:
    """The layer's W: (qualified name, owning module, parameter) for every parameter with
    ndim >= 2, in module order."""
    out = []
    for mod_name, module in layer.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            if p.ndim >= 2:
                out.append((f"{mod_name}.{p_name}" if mod_name else p_name, module, p))
    return out


def outside_matrices(model: nn.Module, layers: Sequence[nn.Module]
                     ) -> list[tuple[str, nn.Module, nn.Parameter]]:
    """The embedding / output side's matrices: parameters with ndim >= 2 outside ``layers``,
    each shared (tied) parameter once, in module order."""
    inside = {id(p) for layer in layers for p in layer.parameters()}
    seen, out = set(), []
    for mod_name, module in model.named_modules():
        for p_name, p in module.named_parameters(recurse=False):
            if p.ndim >= 2 and id(p) not in inside and id(p) not in seen:
                seen.add(id(p))
                out.append((f"{mod_name}.{p_name}" if mod_name else p_name, module, p))
    return out
