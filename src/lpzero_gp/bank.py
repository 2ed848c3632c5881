"""Captured inputs: per architecture (:class:`Inputs`) and stacked for many (:class:`InputBank`).

A proxy reads six inputs, each with exactly one entry per layer:

====  =====================================================================================
A     FFN activations: the GELU outputs of the layer's feed-forward stack
H     head outputs: the query projection (the input projection of an LT layer)
S     softmax / mixing maps of the layer's token mixer
W     the layer's weights: every parameter with ndim >= 2, flattened and concatenated
G     the gradients of W, same order and same sampled positions as W
J     the gradient of the objective with respect to the layer's input hidden states
====  =====================================================================================

Tensors are not kept whole: each (input, layer) keeps ``K`` elements drawn uniformly (with
replacement, from a generator seeded by the capture seed, the input and the layer) together with
the element count ``numel`` of the full tensor. Mean-type statistics are then unbiased estimates
of the full tensor's, and size-type statistics (sums, Frobenius norms) are scaled by ``numel``,
so a proxy still sees how big a layer is. ``W`` and ``G`` share positions, so elementwise
products such as ``W * G`` pair each weight with its own gradient. Stacking the same ``K``
for every architecture lets one formula be evaluated on all architectures at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

INPUT_NAMES = ("A", "H", "S", "W", "G", "J")
PAD_VALUE = 1.0  # padding layers hold this value; they are masked out of every aggregation


@dataclass
class Inputs:
    """The captured inputs of one architecture.

    ``tensors[name]``: float32, shape (L, K) — K sampled elements per layer.
    ``numel[name]``: int64, shape (L,) — element count of the full per-layer tensor.
    ``meta``: what was captured how (record id, variant, seed, batch, objective, versions).
    """

    tensors: dict[str, torch.Tensor]
    numel: dict[str, torch.Tensor]
    meta: dict = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return next(iter(self.tensors.values())).shape[0]

    @property
    def k(self) -> int:
        return next(iter(self.tensors.values())).shape[1]

    def equal(self, other: "Inputs") -> bool:
        """Exact equality of every tensor and count (meta is not compared)."""
        return (self.tensors.keys() == other.tensors.keys()
                and all(torch.equal(self.tensors[n], other.tensors[n]) for n in self.tensors)
                and all(torch.equal(self.numel[n], other.numel[n]) for n in self.numel))


@dataclass
class InputBank:
    """Captured inputs of N architectures stacked for vectorised evaluation.

    ``tensors[name]``: float32, shape (N, L, K), L the largest depth; layers an architecture
    does not have hold :data:`PAD_VALUE`. ``numel[name]``: float64, shape (N, L), 0 on padding.
    ``layer_mask``: bool, shape (N, L). ``quality``: labels oriented higher-is-better, (N,).
    """

    record_ids: list[str]
    tensors: dict[str, torch.Tensor]
    numel: dict[str, torch.Tensor]
    layer_mask: torch.Tensor
    quality: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.record_ids)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.tensors)

    @classmethod
    def from_inputs(cls, inputs: Sequence[Inputs], record_ids: Sequence[str],
                    quality: Sequence[float] | None = None) -> "InputBank":
        if len(inputs) != len(record_ids) or not inputs:
            raise ValueError("need one Inputs per record id, and at least one")
        names = tuple(inputs[0].tensors)
        k = inputs[0].k
        for rid, inp in zip(record_ids, inputs):
            if tuple(inp.tensors) != names or inp.k != k:
                raise ValueError(f"record {rid}: captured with other inputs or K "
                                 f"({tuple(inp.tensors)}, K={inp.k}) than the first "
                                 f"({names}, K={k})")
        n, depth = len(inputs), max(i.n_layers for i in inputs)
        mask = torch.zeros(n, depth, dtype=torch.bool)
        tensors = {m: torch.full((n, depth, k), PAD_VALUE, dtype=torch.float32) for m in names}
        numel = {m: torch.zeros(n, depth, dtype=torch.float64) for m in names}
        for i, inp in enumerate(inputs):
            lay = inp.n_layers
            mask[i, :lay] = True
            for m in names:
                tensors[m][i, :lay] = inp.tensors[m].float()
                numel[m][i, :lay] = inp.numel[m].double()
        q = None if quality is None else np.asarray(quality, dtype=np.float64)
        return cls(list(map(str, record_ids)), tensors, numel, mask, q)

    def subset(self, index: Sequence[int]) -> "InputBank":
        """The architectures at positions ``index`` (in that order)."""
        idx = torch.as_tensor(list(index), dtype=torch.long)
        depth = int(self.layer_mask[idx].sum(1).max()) if len(idx) else 0
        return InputBank([self.record_ids[i] for i in idx.tolist()],
                         {m: t[idx, :depth] for m, t in self.tensors.items()},
                         {m: c[idx, :depth] for m, c in self.numel.items()},
                         self.layer_mask[idx, :depth],
                         None if self.quality is None else self.quality[idx.numpy()])
