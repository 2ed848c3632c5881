"""One forward and one backward pass per architecture give every input a proxy may read.

:class:`TensorCapture` is a context manager: on entry it hooks (through
:func:`lpzero_gp.introspect.hooked`) the taps and the layer inputs of a proxy model (see
:mod:`lpzero_gp.spaces.base`); on exit every hook is gone. Gradients come from
:func:`lpzero_gp.introspect.gradients`, so no ``.grad`` field is written: the model leaves the
capture exactly as it entered (parameters, buffers, hooks, training flag).

What is captured for each input, and the sketch that keeps whole rows, is described in
:mod:`lpzero_gp.bank`. Tensors are split into rows here: a tap's tensor by its declared axes
(heads apart, the last axis the row), a weight by :func:`~lpzero_gp.introspect.matrix_view`,
hidden states and their gradients as (tokens, hidden).
"""
from __future__ import annotations

import functools
import zlib
from typing import Sequence

import torch
from torch import nn

from . import introspect
from .bank import (DEFAULT_MAX_ELEMENTS, DEFAULT_MIN_ROWS, INPUT_NAMES, INPUTS, MODEL_LAYER,
                   Inputs, TensorSketch, kept_rows)


def row_generator(seed: int, *parts) -> torch.Generator:
    """A generator fixed by the capture seed and the tensor's identity (input, layer, name)."""
    key = zlib.crc32(repr(parts).encode())
    return torch.Generator().manual_seed((int(seed) * 1_000_003 + key) % (2**63 - 1))


def choose_rows(n_rows: int, row_len: int, max_elements: int | None, min_rows: int,
                gen: torch.Generator) -> torch.Tensor | None:
    """Sorted positions of the kept rows (uniform, without replacement); None for all."""
    r = kept_rows(n_rows, row_len, max_elements, min_rows)
    if r >= n_rows:
        return None
    return torch.randperm(n_rows, generator=gen)[:r].sort().values


def tap_rows(tensor: torch.Tensor, axes: Sequence[str]) -> list[tuple[str, torch.Tensor]]:
    """A tapped tensor as (suffix, (rows, row_len)) per head: the head axis ``h`` split off,
    the last axis the row."""
    if tensor.ndim != len(axes):
        raise RuntimeError(f"a tap declared axes {' '.join(axes)} but got a tensor of shape "
                           f"{tuple(tensor.shape)}")
    if "h" not in axes:
        return [("", tensor.reshape(-1, tensor.shape[-1]))]
    h = list(axes).index("h")
    moved = tensor.movedim(h, 0)
    return [(f"head {i}", moved[i].reshape(-1, tensor.shape[-1])) for i in range(moved.shape[0])]


class TensorCapture:
    """Hooks a proxy model for one forward + backward and collects the sketched inputs.

    Usage::

        with TensorCapture(model, max_elements=2048, seed=0) as cap:
            loss = model.objective(batch, "mlm")
            cap.backward(loss)
        inputs = cap.inputs()

    ``max_elements``: per tensor, the sketch keeps ``max(min_rows, max_elements // row_len)``
    whole rows (``None``: every row, the full tensors).
    """

    def __init__(self, model: nn.Module, max_elements: int | None = DEFAULT_MAX_ELEMENTS,
                 seed: int = 0, min_rows: int = DEFAULT_MIN_ROWS):
        if max_elements is not None and max_elements < 1:
            raise ValueError(f"max_elements must be positive (or None), got {max_elements}")
        if min_rows < 1:
            raise ValueError(f"min_rows must be positive, got {min_rows}")
        self.model = model
        self.layers: list[nn.Module] = list(model.proxy_layers())
        if not self.layers:
            raise ValueError(f"{type(model).__name__}.proxy_layers() returned no layers")
        self.max_elements, self.min_rows, self.seed = max_elements, int(min_rows), int(seed)
        self._context = None
        self._taps: list[dict[str, list[tuple[str, torch.Tensor]]]] = []
        self._layer_inputs: list[torch.Tensor | None] = []
        self._grads: dict | None = None

    # -- hooks -------------------------------------------------------------------------------
    def __enter__(self) -> "TensorCapture":
        self._taps = [{"A": [], "H": [], "S": []} for _ in self.layers]
        self._layer_inputs = [None] * len(self.layers)
        self._grads = None
        forward, pre = [], []
        for index, layer in enumerate(self.layers):
            pre.append((layer, functools.partial(self._on_layer_input, index)))
            f, p = introspect.tap_hooks(introspect.tap_points(self.model, index, layer),
                                        functools.partial(self._on_tap, index))
            forward += f
            pre += p
        self._context = introspect.hooked(forward=forward, pre=pre)
        self._context.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
            self._context = None

    def _on_layer_input(self, index: int, module, args) -> None:
        if self._layer_inputs[index] is None:
            self._layer_inputs[index] = args[0]

    def _on_tap(self, index: int, point, tensor: torch.Tensor) -> None:
        for suffix, rows in tap_rows(tensor.detach(), point.axes):
            self._taps[index][point.kind].append((f"{point.name} {suffix}".strip(), rows))

    # -- backward ----------------------------------------------------------------------------
    def backward(self, loss: torch.Tensor) -> None:
        """Gradients of ``loss`` w.r.t. every weight matrix and every layer's input."""
        missing = [i for i, x in enumerate(self._layer_inputs) if x is None]
        if missing:
            raise RuntimeError(f"layers {missing} did not run in the forward pass")
        self._matrices = [introspect.layer_matrices(layer) for layer in self.layers]
        self._outside = introspect.outside_matrices(self.model, self.layers)
        params = [p for ms in self._matrices for _, _, p in ms] + [p for _, _, p in self._outside]
        targets = params + list(self._layer_inputs)
        grads = introspect.gradients(loss, targets)
        self._grads = {id(p): g for p, g in zip(params, grads)}
        self._input_grads = grads[len(params):]

    # -- result ------------------------------------------------------------------------------
    def inputs(self, meta: dict | None = None) -> Inputs:
        """The sketched inputs (see :mod:`lpzero_gp.bank`)."""
        if self._grads is None:
            raise RuntimeError("call backward(loss) inside the capture before inputs()")
        out: dict[str, list[TensorSketch]] = {name: [] for name in INPUT_NAMES}
        for index, layer in enumerate(self.layers):
            for kind in ("A", "H", "S"):
                if not self._taps[index][kind]:
                    raise RuntimeError(f"layer {index} ({type(layer).__name__}) has no "
                                       f"Tap({kind!r}) that ran in the forward pass")
                for name, rows in self._taps[index][kind]:
                    self._add(out, (kind,), index, name, (rows,))
            if not self._matrices[index]:
                raise RuntimeError(f"layer {index} has no weight with ndim >= 2")
            self._add_matrices(out, ("W", "G"), index, self._matrices[index])
            hidden = self._layer_inputs[index]
            self._add(out, ("J",), index, "input",
                      (self._input_grads[index].detach().reshape(-1, hidden.shape[-1]),))
        self._add_matrices(out, ("WE", "GE"), MODEL_LAYER, self._outside)
        first = self._layer_inputs[0].detach()
        self._add(out, ("AE",), MODEL_LAYER, "embedding output",
                  (first.reshape(-1, first.shape[-1]),))
        return Inputs(out, len(self.layers), dict(meta or {}))

    def _add_matrices(self, out, keys: tuple[str, str], layer: int, matrices) -> None:
        for name, owner, param in matrices:
            self._add(out, keys, layer, name,
                      (introspect.matrix_view(owner, param.detach(), name),
                       introspect.matrix_view(owner, self._grads[id(param)].detach(), name)))

    def _add(self, out, keys: tuple[str, ...], layer: int, name: str,
             mats: tuple[torch.Tensor, ...]) -> None:
        """Sketch the aligned (rows, row_len) matrices ``mats`` of inputs ``keys`` (one group:
        the same kept rows) by rows, and their transposes (inputs ``key + "T"``) by columns."""
        n, c = mats[0].shape
        rows = choose_rows(n, c, self.max_elements, self.min_rows,
                           row_generator(self.seed, keys[0], layer, name))
        cols = choose_rows(c, n, self.max_elements, self.min_rows,
                           row_generator(self.seed, keys[0] + "T", layer, name))
        for key, full in zip(keys, mats):
            kept = full if rows is None else full[rows]
            out[key].append(_tensor(name, layer, kept, n))
            kept = (full if cols is None else full[:, cols]).t()
            out[key + "T"].append(_tensor(name, layer, kept, c))


def _tensor(name: str, layer: int, kept: torch.Tensor, n_rows: int) -> TensorSketch:
    return TensorSketch(name, layer, kept.float().cpu().contiguous().clone(), int(n_rows))


def sketch(full: Inputs, max_elements: int | None = DEFAULT_MAX_ELEMENTS, seed: int = 0,
           min_rows: int = DEFAULT_MIN_ROWS) -> Inputs:
    """The sketch of a full capture (``max_elements=None``): exactly what a capture with
    ``max_elements`` and ``seed`` keeps (the same rows, W and G alike)."""
    out = {}
    for name, items in full.tensors.items():
        stream = INPUTS[name].group
        kept = []
        for t in items:
            if not t.exact:
                raise ValueError(f"input {name}, tensor {t.name!r}: not a full capture")
            pos = choose_rows(t.n_rows, t.row_len, max_elements, min_rows,
                              row_generator(seed, stream, t.layer, t.name))
            rows = t.rows if pos is None else t.rows[pos]
            kept.append(TensorSketch(t.name, t.layer, rows.contiguous().clone(), t.n_rows))
        out[name] = kept
    return Inputs(out, full.n_layers, dict(full.meta))


def capture_inputs(model: nn.Module, batch: dict[str, torch.Tensor], objective: str,
                   max_elements: int | None = DEFAULT_MAX_ELEMENTS, seed: int = 0,
                   meta: dict | None = None, min_rows: int = DEFAULT_MIN_ROWS) -> Inputs:
    """Run ``model.objective(batch, objective)`` forward and backward once; return its inputs."""
    with torch.enable_grad(), TensorCapture(model, max_elements, seed, min_rows) as cap:
        loss = model.objective(batch, objective)
        cap.backward(loss)
    return cap.inputs(meta)


def layer_weights(layer: nn.Module) -> list[nn.Parameter]:
    """The layer's W: parameters with ndim >= 2, in module order."""
    return [p for _, _, p in introspect.layer_matrices(layer)]
