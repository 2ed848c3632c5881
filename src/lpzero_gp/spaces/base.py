"""The space contract: what a search space provides, and what a model built from it offers.

A *space* is one subclass of :class:`Space` in one module (or package), registered with
:func:`lpzero_gp.spaces.register_space` or through the ``lpzero_gp.spaces`` entry-point group.
Everything else in lpzero-gp (the command line, capture, the baselines, the corpus module, the
cache) reads a space only through this class.

A *proxy model* (what :meth:`Space.build` returns) is an ``nn.Module`` with

- ``proxy_layers() -> list[nn.Module]``: the encoder/decoder blocks, in order. Each block's
  ``forward`` takes the hidden states ``(batch, seq, hidden)`` as its first positional
  argument; its weights (parameters with ``ndim >= 2``) are the layer's ``W``.
- ``objective(batch: dict[str, Tensor], name: str) -> Tensor``: runs the forward pass on a
  batch and returns the scalar whose gradient the capture takes (``"sum"``: the sum of the last
  hidden state, as the NAS-Bench-BERT reference code; ``"mlm"`` / ``"clm"``: a masked / causal
  language-modelling loss).
- optionally ``proxy_taps(index) -> list[TapPoint]``: where the layer's A, H and S tensors are
  (:class:`~lpzero_gp.spaces.taps.TapPoint`: a module, the input or output read, the axes).
  Without it, the :class:`~lpzero_gp.spaces.taps.Tap` modules inside the layer are the taps;
  a model built on a library's module code (``llama``) declares points instead of inserting
  modules.
- optionally, on a dense module, ``active_slice(param_name) -> tuple[slice, ...] | None``: the
  part of a parameter that the forward pass uses (a sub-network view); W and G are read through
  it; and on the model, ``standalone()``: the active sub-network as a network of its own, for
  passes that read every parameter (the hand-designed proxies).
"""
from __future__ import annotations

import abc
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol, Sequence

import torch
from torch import nn

from ..benchmarks import Benchmark, Record


class ProxyModel(Protocol):
    def proxy_layers(self) -> list[nn.Module]: ...

    def objective(self, batch: dict[str, torch.Tensor], name: str) -> torch.Tensor: ...


@dataclass(frozen=True)
class PublishedProxy:
    """A proxy a paper published for a space: its formula in one of our languages, and the
    figures the paper's own stored scores give (``None`` when there are none)."""

    name: str
    formula: str
    language: str = "lpzero"
    lower_is_better: bool = False
    kendall_tau: float | None = None
    spearman_rho: float | None = None
    n: int | None = None
    absolute: bool = False  # the figures are absolute values (the paper reports |tau|)
    source: str = ""


def named_position_table(model: nn.Module) -> nn.Embedding | None:
    """The ``nn.Embedding`` whose name contains "position" (FlexiBERT) or is ``wpe`` (GPT-2)."""
    for name, module in model.named_modules():
        last = name.rsplit(".", 1)[-1].lower()
        if isinstance(module, nn.Embedding) and ("position" in last or last == "wpe"):
            return module
    return None


class Space(abc.ABC):
    """A search space: how to load its benchmark, build its models and make their batches.

    Required (class attributes and the four abstract methods):

    - ``name``: the registry key, e.g. ``"gpt2"``; ``benchmark``: the benchmark's name.
    - ``variants``: build variants (the first is the default); ``objectives``: backward
      objectives (the first is the default; ``"sum"`` should be among them).
    - ``default_seq_len``: tokens per sequence of a capture batch.

    Optional, with defaults:

    - ``headline_descriptors``: descriptors every proxy figure is shown beside (``n_layers``
      is required among :meth:`descriptors`' keys by the contract).
    - ``size_descriptor``: the descriptor a parameter budget bounds (``n_params_total``).
    - ``lm_objective``: the objective that is a language-modelling loss (``None``: none).
    - ``norm_types``: the normalisation modules of its models (LayerNorm; RMSNorm for LLaMA),
      read by hand-designed proxies that linearise or count normalisation.
    - ``head_attributes``: attribute names that hold a mixer's head count.
    - ``published``: proxies a paper published for this space.
    - ``tokenizer``: the name of its tokenizer in :data:`lpzero_gp.corpus.TOKENIZERS`;
      :meth:`tokenizer_of` and :meth:`with_vocab`: spaces whose tokenizer is trained at a
      chosen vocabulary size (the architecture holds the size) name the tokenizer of a run's
      architectures, and their ``make_batch`` takes ``tokenizer=``.
    - :meth:`arch_from_dict` / :meth:`parameter_counts`: architectures as JSON objects (needed
      to build a benchmark by training, :mod:`lpzero_gp.benchmarks.builder`); ``presets`` and
      :meth:`sample`: declared ranges to draw architectures from.
    - :meth:`position_embedding`: the learned position table of a model, if any (proxies
      defined on it are "not applicable" where this returns ``None``, e.g. RoPE).
    """

    name: ClassVar[str]
    benchmark: ClassVar[str]
    variants: ClassVar[tuple[str, ...]]
    objectives: ClassVar[tuple[str, ...]]
    default_seq_len: ClassVar[int]
    headline_descriptors: ClassVar[tuple[str, ...]] = ("n_layers",)
    size_descriptor: ClassVar[str] = "n_params_total"  # what a parameter budget bounds
    lm_objective: ClassVar[str | None] = None
    norm_types: ClassVar[tuple[type[nn.Module], ...]] = (nn.LayerNorm,)
    head_attributes: ClassVar[tuple[str, ...]] = ("heads", "n_head", "num_heads")
    published: ClassVar[tuple[PublishedProxy, ...]] = ()
    tokenizer: ClassVar[str] = "bpe"
    presets: ClassVar[tuple[str, ...]] = ()

    @property
    def default_variant(self) -> str:
        return self.variants[0]

    @property
    def default_objective(self) -> str:
        return self.objectives[0]

    @abc.abstractmethod
    def load_benchmark(self, path: str | os.PathLike | None = None,
                       data_dir: str | os.PathLike | None = None) -> Benchmark:
        """The space's benchmark (``path``: a file or folder; default: from the data folder)."""

    @abc.abstractmethod
    def build(self, record_or_config, variant: str | None = None, seed: int = 0,
              **options) -> nn.Module:
        """A proxy model of a record (or architecture config), initialised from ``seed``,
        eval mode, dropout off; ``device="meta"`` builds shapes only."""

    @abc.abstractmethod
    def make_batch(self, batch_size: int, seq_len: int, seed: int = 0,
                   text_path: str | os.PathLike | None = None,
                   data_dir: str | os.PathLike | None = None,
                   objective: str | None = None) -> dict[str, torch.Tensor]:
        """``input_ids`` (B, S) of real text and whatever ``objective`` needs."""

    @abc.abstractmethod
    def descriptors(self, record: Record) -> dict[str, float]:
        """Architecture descriptors needing no trained model (``n_layers`` at least)."""

    def example(self, data_dir: str | os.PathLike | None = None):
        """A small record or architecture of the space (for tests, docs and smoke runs);
        default: the first record of its benchmark."""
        return self.load_benchmark(data_dir=data_dir)[0]

    def arch_from_dict(self, data: dict):
        """An architecture config from its JSON object (spaces that build benchmarks)."""
        raise NotImplementedError(f"the {self.name} space does not read architecture JSON")

    def sample(self, preset: str, n: int, sample_seed: int) -> list:
        """``n`` distinct architectures drawn from ``preset``'s ranges."""
        raise NotImplementedError(f"the {self.name} space declares no presets to sample from")

    def tokenizer_of(self, archs: Sequence) -> str:
        """The tokenizer of a run over ``archs`` (records or architectures), which all share
        one batch; default: :attr:`tokenizer`."""
        return self.tokenizer

    def with_vocab(self, arch, vocab_size: int):
        """``arch`` with a vocabulary of ``vocab_size`` (spaces with a trained tokenizer)."""
        from ..errors import ConfigError
        raise ConfigError(f"the {self.name} space's tokenizer ({self.tokenizer}) has a fixed "
                          f"vocabulary; --vocab is for spaces that train theirs (llama)")

    def supernet_of(self, preset: str):
        """The super-network whose sub-networks (``subnet`` variant) ``preset`` samples, or
        ``None`` when its samples are built from scratch."""
        return None

    def arch_to_dict(self, arch) -> dict:
        """An architecture config as a JSON object (the inverse of :meth:`arch_from_dict`)."""
        if hasattr(arch, "to_dict"):
            return arch.to_dict()
        import dataclasses
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(arch).items()}

    def parameter_counts(self, arch) -> dict[str, int]:
        """Parameter counts of an architecture (default: ``total`` of a meta-device build)."""
        model = self.build(arch, device="meta")
        return {"total": sum(p.numel() for p in model.parameters())}

    def position_embedding(self, model: nn.Module) -> nn.Embedding | None:
        """The model's learned position table (default: :func:`named_position_table`);
        ``None`` when positions are not a table (RoPE)."""
        return named_position_table(model)

    def published_proxy(self, name: str | None = None) -> PublishedProxy:
        """The published proxy called ``name`` (default: the first)."""
        if not self.published:
            raise LookupError(f"no published proxy for space {self.name!r}")
        if name is None:
            return self.published[0]
        for proxy in self.published:
            if proxy.name == name:
                return proxy
        raise LookupError(f"space {self.name!r} has no published proxy {name!r}; known: "
                          f"{', '.join(p.name for p in self.published)}")

    def source_files(self) -> list[Path]:
        """The files of the space's model code (part of every capture's cache key): its module
        and the sibling modules whose names start with the module's name."""
        module = Path(sys.modules[type(self).__module__].__file__).resolve()
        stem = module.stem
        return sorted(p for p in module.parent.glob("*.py") if p.stem.startswith(stem))

    def check_variant(self, variant: str | None) -> str:
        variant = self.default_variant if variant is None else variant
        if variant not in self.variants:
            raise ValueError(f"unknown {self.name} variant {variant!r}; known: "
                             f"{', '.join(self.variants)}")
        return variant

    def check_objective(self, objective: str | None) -> str:
        objective = self.default_objective if objective is None else objective
        if objective not in self.objectives:
            raise ValueError(f"unknown objective {objective!r} for the {self.name} space; "
                             f"known: {', '.join(self.objectives)}")
        return objective

    def __repr__(self) -> str:
        return f"<space {self.name!r}: {self.benchmark}>"
