"""One forward and one backward pass per architecture give every input a proxy may read.

:class:`TensorCapture` is a context manager: on entry it hooks the taps and the layer inputs
of a proxy model (see :mod:`lpzero_gp.spaces.base`), on exit it removes every hook. Gradients
are taken with :func:`torch.autograd.grad`, so no ``.grad`` field is written: the model leaves
the capture exactly as it entered (parameters, buffers, hooks, training flag).

Per layer ``l`` (``model.proxy_layers()[l]``):

- ``A``, ``H``, ``S``: the outputs of the layer's ``Tap`` modules of that kind. When a layer has
  several taps of one kind (an FFN stack of 3 GELUs, a DSC layer's two softmax maps) their
  flattened tensors are concatenated in the order the taps run.
- ``W``: every parameter of the layer with ``ndim >= 2``, flattened and concatenated in
  ``named_parameters`` order; ``G``: the gradients of the objective with respect to them.
- ``J``: the gradient of the objective with respect to the hidden states entering the layer,
  shape (B, S, hidden) before flattening.

Each (input, layer) keeps ``max_elements`` elements drawn uniformly with replacement by a
generator seeded from (seed, input, layer); ``W`` and ``G`` use the same positions. See
:mod:`lpzero_gp.bank` for why, and how statistics stay size-aware.
"""
from __future__ import annotations

import functools
from typing import Iterable

import torch
from torch import nn

from .bank import INPUT_NAMES, Inputs
from .spaces.taps import Tap

DEFAULT_MAX_ELEMENTS = 16384
_STREAM = {name: i for i, name in enumerate(INPUT_NAMES)}


def sample_positions(numel: int, k: int, seed: int, stream: str, layer: int) -> torch.Tensor:
    """``k`` positions in ``[0, numel)``, uniform with replacement, fixed by the arguments."""
    gen = torch.Generator().manual_seed(
        (int(seed) * 1_000_003 + _STREAM[stream] * 10_007 + int(layer)) % (2**63 - 1))
    return torch.randint(0, numel, (k,), generator=gen)


def layer_weights(layer: nn.Module) -> list[nn.Parameter]:
    """The layer's W: parameters with ndim >= 2, in ``named_parameters`` order."""
    return [p for _, p in layer.named_parameters() if p.ndim >= 2]


class TensorCapture:
    """Hooks a proxy model for one forward + backward and collects the sampled inputs.

    Usage::

        with TensorCapture(model, max_elements=16384, seed=0) as cap:
            loss = model.objective(batch, "mlm")
            cap.backward(loss)
        inputs = cap.inputs()
    """

    def __init__(self, model: nn.Module, max_elements: int = DEFAULT_MAX_ELEMENTS,
                 seed: int = 0):
        if max_elements < 1:
            raise ValueError(f"max_elements must be positive, got {max_elements}")
        self.model = model
        self.layers: list[nn.Module] = list(model.proxy_layers())
        if not self.layers:
            raise ValueError(f"{type(model).__name__}.proxy_layers() returned no layers")
        self.k = int(max_elements)
        self.seed = int(seed)
        self._handles: list = []
        self._taps: list[dict[str, list[torch.Tensor]]] = []
        self._layer_inputs: list[torch.Tensor | None] = []
        self._grads: dict[str, list[torch.Tensor]] | None = None

    # -- hooks -------------------------------------------------------------------------------
    def __enter__(self) -> "TensorCapture":
        self._taps = [{"A": [], "H": [], "S": []} for _ in self.layers]
        self._layer_inputs = [None] * len(self.layers)
        self._grads = None
        try:
            for index, layer in enumerate(self.layers):
                self._handles.append(layer.register_forward_pre_hook(
                    functools.partial(self._on_layer_input, index)))
                for module in layer.modules():
                    if isinstance(module, Tap):
                        self._handles.append(module.register_forward_hook(
                            functools.partial(self._on_tap, index, module.kind)))
        except BaseException:
            self._remove_hooks()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._remove_hooks()

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def _on_layer_input(self, index: int, module, args) -> None:
        if self._layer_inputs[index] is None:
            self._layer_inputs[index] = args[0]

    def _on_tap(self, index: int, kind: str, module, args, output) -> None:
        self._taps[index][kind].append(output.detach())

    # -- backward ----------------------------------------------------------------------------
    def backward(self, loss: torch.Tensor) -> None:
        """Gradients of ``loss`` w.r.t. every layer's weights and input hidden states."""
        if loss.ndim != 0:
            raise ValueError(f"the objective must be a scalar, got shape {tuple(loss.shape)}")
        missing = [i for i, x in enumerate(self._layer_inputs) if x is None]
        if missing:
            raise RuntimeError(f"layers {missing} did not run in the forward pass")
        weights = [layer_weights(layer) for layer in self.layers]
        flat_w = [p for ws in weights for p in ws]
        targets = flat_w + list(self._layer_inputs)
        grads = torch.autograd.grad(loss, targets, allow_unused=True)
        grads = [torch.zeros_like(t) if g is None else g for t, g in zip(targets, grads)]
        per_layer_g, pos = [], 0
        for ws in weights:
            per_layer_g.append(grads[pos:pos + len(ws)])
            pos += len(ws)
        self._grads = {"G": per_layer_g, "J": grads[len(flat_w):]}
        self._weights = weights

    # -- result ------------------------------------------------------------------------------
    def inputs(self, meta: dict | None = None) -> Inputs:
        """The sampled inputs, (L, K) per name, with the full element counts."""
        if self._grads is None:
            raise RuntimeError("call backward(loss) inside the capture before inputs()")
        tensors = {name: [] for name in INPUT_NAMES}
        numel = {name: [] for name in INPUT_NAMES}
        for index in range(len(self.layers)):
            for kind in ("A", "H", "S"):
                parts = self._taps[index][kind]
                if not parts:
                    raise RuntimeError(f"layer {index} ({type(self.layers[index]).__name__}) "
                                       f"has no Tap({kind!r}) that ran in the forward pass")
                self._add(tensors, numel, kind, index, parts)
            w_flat = _flatten(p.detach() for p in self._weights[index])
            g_flat = _flatten(g.detach() for g in self._grads["G"][index])
            if w_flat.numel() == 0:
                raise RuntimeError(f"layer {index} has no weight with ndim >= 2")
            pos = sample_positions(w_flat.numel(), self.k, self.seed, "W", index)
            for name, flat in (("W", w_flat), ("G", g_flat)):
                tensors[name].append(flat[pos].float())
                numel[name].append(flat.numel())
            self._add(tensors, numel, "J", index, [self._grads["J"][index].detach()])
        return Inputs({n: torch.stack(v) for n, v in tensors.items()},
                      {n: torch.tensor(v, dtype=torch.int64) for n, v in numel.items()},
                      dict(meta or {}))

    def _add(self, tensors, numel, kind: str, index: int, parts: list[torch.Tensor]) -> None:
        flat = _flatten(parts)
        pos = sample_positions(flat.numel(), self.k, self.seed, kind, index)
        tensors[kind].append(flat[pos].float())
        numel[kind].append(flat.numel())


def _flatten(parts: Iterable[torch.Tensor]) -> torch.Tensor:
    parts = [p.reshape(-1) for p in parts]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def capture_inputs(model: nn.Module, batch: dict[str, torch.Tensor], objective: str,
                   max_elements: int = DEFAULT_MAX_ELEMENTS, seed: int = 0,
                   meta: dict | None = None) -> Inputs:
    """Run ``model.objective(batch, objective)`` forward and backward once; return its inputs."""
    with torch.enable_grad(), TensorCapture(model, max_elements, seed) as cap:
        loss = model.objective(batch, objective)
        cap.backward(loss)
    return cap.inputs(meta)
