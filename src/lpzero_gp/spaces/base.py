"""What a search space provides, and what a model built from it must offer to be captured.

A *proxy model* is an ``nn.Module`` with

- ``proxy_layers() -> list[nn.Module]``: the encoder/decoder blocks, in order. Each block's
  ``forward`` takes the hidden states ``(batch, seq, hidden)`` as its first positional
  argument; the taps (:class:`~lpzero_gp.spaces.taps.Tap`) of layer ``l`` live inside block
  ``l``; its weights (parameters with ``ndim >= 2``) are the layer's ``W``.
- ``objective(batch: dict[str, Tensor], name: str) -> Tensor``: runs the forward pass on a
  batch and returns the scalar whose gradient the capture takes (``"sum"``: the sum of the last
  hidden state, i.e. backpropagating ones as the reference code did; ``"mlm"`` / ``"clm"``: a
  masked / causal language-modelling loss).

A *space* (one module under ``lpzero_gp.spaces``) provides a :class:`Space` object.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
from torch import nn

from ..benchmarks import Benchmark, Record


class ProxyModel(Protocol):
    def proxy_layers(self) -> list[nn.Module]: ...

    def objective(self, batch: dict[str, torch.Tensor], name: str) -> torch.Tensor: ...


@dataclass(frozen=True)
class Space:
    """A search space: how to load its benchmark, build its models and make its batches.

    - ``load_benchmark(path=None, data_dir=None) -> Benchmark``
    - ``build(record_or_config, variant: str, seed: int) -> nn.Module`` (a proxy model, eval
      mode, dropout off)
    - ``make_batch(batch_size, seq_len, seed, text_path=None, data_dir=None, objective=...) ->
      dict[str, Tensor]`` (``input_ids`` (B, S) and what the objective needs)
    - ``descriptors(record) -> dict[str, float]``: architecture descriptors needing no model
    - ``headline_descriptors``: the descriptors every proxy figure is shown beside
    """

    name: str
    benchmark: str
    variants: tuple[str, ...]
    default_variant: str
    objectives: tuple[str, ...]
    default_objective: str
    default_seq_len: int
    load_benchmark: Callable[..., Benchmark]
    build: Callable[..., nn.Module]
    make_batch: Callable[..., dict]
    descriptors: Callable[[Record], dict]
    headline_descriptors: tuple[str, ...] = ("n_layers", "layers_then_hidden")
