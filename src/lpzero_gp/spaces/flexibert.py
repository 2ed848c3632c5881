"""FlexiBERT models of NAS-Bench-BERT records (see ``specs/flexibert.md``), in three variants.

- ``"space"``: the architecture as the FlexiBERT space defines it, with the record's widths:
  each layer's operation (SA-SDP, SA-WMA, LT-DFT, LT-DCT, DSC-5, DSC-9) and head count, hidden
  size h, feed-forward widths [4h, ffn_dim, …, ffn_dim] (the first width 4h, then
  ``ffn_dim`` for the ``num_ffn - 1`` following GELU layers, as in the training code; with one
  FFN layer ``ffn_dim`` is unused). LT layers are FNet-style: LayerNorm(X + transform(U)),
  no output Linear.
- ``"trained"`` (default): what the training code most likely built: every layer plain SA-SDP
  with the record's head count, the record's widths as in ``space``.
- ``"reference"``: what the public LPZero / NAS-Bench-BERT proxy code built: operations as the
  record says, h always 256, every FFN width 1024, LT layers with no output Linear, residual
  or LayerNorm. Its parameter count is the spec's closed form
  (:func:`reference_parameter_count`), equal to the published "Number of Parameters".

Embeddings: word (30,522, padding id 0) + position (512) + token type (2), width 128,
LayerNorm (eps 1e-12), then Linear 128 -> h when h != 128 (as ELECTRA; for h = 128 there is
no projection). The masked-LM head adds no parameter: logits =
(hidden @ projection.weight) @ word_embeddings.weight.T.

Models are returned in eval mode; dropout modules exist with p = ``dropout`` (0 by default),
so proxies are computed with dropout off. Initialisation uses an explicit generator seeded by
``seed``: the caller's global RNG is never touched and one seed gives bit-identical models.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from ..benchmarks import Record, nasbench_bert
from ..benchmarks.nasbench_bert import FlexiBertConfig, FlexiLayer
from ..corpus import token_batch
from ..language.proxy import LPZERO_FLEXIBERT_PROXY
from . import register_space
from .base import PublishedProxy, Space
from .flexibert_ops import (EMBEDDING_SIZE, MAX_POSITIONS, TYPE_VOCAB_SIZE, VOCAB_SIZE,
                            ConvSelfAttention, Embeddings, EncoderLayer, FeedForward,
                            LinearTransform, SelfAttention, init_parameters)

VARIANTS = ("trained", "space", "reference")
OBJECTIVES = ("mlm", "sum")
REFERENCE_HIDDEN = 256
REFERENCE_FFN_WIDTH = 1024
CLS_ID, SEP_ID, MASK_ID = 101, 102, 103
MASK_FRACTION = 0.15
IGNORE_INDEX = -100


# -- architecture per variant --------------------------------------------------------------

def _config_of(record_or_config) -> FlexiBertConfig:
    config = record_or_config.config if isinstance(record_or_config, Record) else record_or_config
    if not isinstance(config, FlexiBertConfig):
        raise TypeError("expected a NAS-Bench-BERT Record or a FlexiBertConfig, got "
                        f"{type(record_or_config).__name__}")
    return config


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown FlexiBERT variant {variant!r}; allowed: {', '.join(VARIANTS)}")


def hidden_size_of(config: FlexiBertConfig, variant: str) -> int:
    """The hidden width h a variant builds: 256 for ``reference``, else the record's."""
    _check_variant(variant)
    return REFERENCE_HIDDEN if variant == "reference" else config.hidden_size


def ffn_widths(layer: FlexiLayer, hidden: int, variant: str) -> list[int]:
    """The widths of the GELU layers of a feed-forward stack (one per GELU)."""
    _check_variant(variant)
    if variant == "reference":
        return [REFERENCE_FFN_WIDTH] * layer.num_ffn
    return [4 * hidden] + [layer.ffn_dim] * (layer.num_ffn - 1)


def _mixer(layer: FlexiLayer, hidden: int, variant: str, dropout: float) -> nn.Module:
    op, par, heads = layer.operation_type, layer.operation_parameter, layer.num_heads
    if variant == "trained" or (op == "SA" and par == "SDP"):
        return SelfAttention(hidden, heads, weighted=False, dropout=dropout)
    if op == "SA" and par == "WMA":
        return SelfAttention(hidden, heads, weighted=True, dropout=dropout)
    if op == "LT":
        return LinearTransform(hidden, heads, par, residual_norm=(variant == "space"))
    if op == "DSC":
        return ConvSelfAttention(hidden, heads, int(par), dropout=dropout)
    raise ValueError(f"unknown FlexiBERT operation {op}-{par}")


class FlexiBertModel(nn.Module):
    """A FlexiBERT encoder with the proxy-model protocol of :mod:`lpzero_gp.spaces.base`.

    ``forward(input_ids (B, S), attention_mask (B, S) or None) -> (B, S, h)``.
    """

    def __init__(self, config: FlexiBertConfig, variant: str = "trained", dropout: float = 0.0):
        super().__init__()
        _check_variant(variant)
        self.config = config
        self.variant = variant
        self.hidden_size = hidden_size_of(config, variant)
        h = self.hidden_size
        self.embeddings = Embeddings(h, dropout)
        self.layers = nn.ModuleList(
            EncoderLayer(_mixer(lay, h, variant, dropout),
                         FeedForward(h, ffn_widths(lay, h, variant), dropout))
            for lay in config.layers)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        x = self.embeddings(input_ids, token_type_ids)
        bias = None
        if attention_mask is not None:
            keep = attention_mask[:, None, None, :].to(x.dtype)
            bias = (1.0 - keep) * torch.finfo(x.dtype).min
        for layer in self.layers:
            x = layer(x, bias)
        return x

    def proxy_layers(self) -> list[nn.Module]:
        """The encoder layers, in order."""
        return list(self.layers)

    def mlm_logits(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """Tied masked-LM logits (…, h) -> (…, 30522); no parameter of its own."""
        return self.embeddings.output_projection(hidden_states) @ \
            self.embeddings.word_embeddings.weight.T

    def objective(self, batch: dict[str, torch.Tensor], name: str) -> torch.Tensor:
        """``"mlm"``: masked-LM cross-entropy on ``mlm_input_ids`` / ``mlm_labels`` (-100 =
        ignored); ``"sum"``: the sum of the last hidden state on ``input_ids``."""
        if name not in OBJECTIVES:
            raise ValueError(f"unknown objective {name!r} for FlexiBERT; allowed: "
                             f"{', '.join(OBJECTIVES)}")
        keys = ("mlm_input_ids", "mlm_labels") if name == "mlm" else ("input_ids",)
        missing = [k for k in keys if k not in batch]
        if missing:
            raise ValueError(f"objective {name!r} needs batch keys {missing}; make the batch "
                             f"with make_batch(objective={name!r})")
        mask = batch.get("attention_mask")
        if name == "sum":
            return self(batch["input_ids"], mask).sum()
        labels = batch["mlm_labels"]
        chosen = labels != IGNORE_INDEX
        if not bool(chosen.any()):
            raise ValueError("mlm_labels has no masked position (every label is -100)")
        hidden = self(batch["mlm_input_ids"], mask)
        return nn.functional.cross_entropy(self.mlm_logits(hidden[chosen]), labels[chosen])


def build(record_or_config, variant: str = "trained", seed: int = 0, *, dropout: float = 0.0,
          device: str | torch.device = "cpu") -> FlexiBertModel:
    """The FlexiBERT model of a record (or config) in eval mode, initialised from ``seed``.

    ``device="meta"`` gives an uninitialised model of the right shapes (fast parameter counts).
    """
    config = _config_of(record_or_config)
    _check_variant(variant)
    with torch.device("meta"):
        model = FlexiBertModel(config, variant, dropout)
    device = torch.device(device)
    if device.type != "meta":
        model.to_empty(device=torch.device("cpu"))
        init_parameters(model, torch.Generator().manual_seed(int(seed)))
        model.to(device)
    return model.eval()


# -- parameter counts ----------------------------------------------------------------------

def count_parameters(model: nn.Module) -> int:
    """Number of parameters of a model (meta models count too)."""
    return sum(p.numel() for p in model.parameters())


def _linear(n_in: int, n_out: int, bias: bool = True) -> int:
    return n_in * n_out + (n_out if bias else 0)


def _embedding_count(hidden: int) -> int:
    table = (VOCAB_SIZE + MAX_POSITIONS + TYPE_VOCAB_SIZE) * EMBEDDING_SIZE
    project = _linear(EMBEDDING_SIZE, hidden) if hidden != EMBEDDING_SIZE else 0
    return table + 2 * EMBEDDING_SIZE + project


def _ffn_count(hidden: int, widths: list[int]) -> int:
    dims = [hidden, *widths]
    return (sum(_linear(a, c) for a, c in zip(dims[:-1], dims[1:]))
            + _linear(dims[-1], hidden) + 2 * hidden)


def _mixer_count(layer: FlexiLayer, hidden: int, variant: str) -> int:
    op, par, heads = layer.operation_type, layer.operation_parameter, layer.num_heads
    h = hidden
    sdp = 4 * _linear(h, h) + 2 * h
    if variant == "trained" or (op == "SA" and par == "SDP"):
        return sdp
    if op == "SA":  # WMA
        return sdp + h * h
    if op == "LT":
        return _linear(h, h) + (2 * h if variant == "space" else 0)
    k, hp = int(par), max(1, heads // 2)
    a = hp * (h // heads)
    return (3 * _linear(h, a) + (h * k + h * a + a) + _linear(a, hp * k) + _linear(h, a)
            + _linear(h, h) + 2 * h)


def parameter_count(config: FlexiBertConfig, variant: str = "trained") -> int:
    """Closed-form parameter count of :func:`build` (checked against builds in the tests)."""
    config = _config_of(config)
    h = hidden_size_of(config, variant)
    return _embedding_count(h) + sum(
        _mixer_count(lay, h, variant) + _ffn_count(h, ffn_widths(lay, h, variant))
        for lay in config.layers)


def reference_parameter_count(config) -> int:
    """The spec's closed form for the ``reference`` build (h = 256, I = 1024, E = 128).

    total = 4,005,888 + sum over layers of (operation + FFN), with
    FFN = (hI + I) + (n-1)(I² + I) + (Ih + h) + 2h; SDP = 4(h² + h) + 2h; WMA = SDP + h²;
    DFT = DCT = h² + h; DSC = 3(hA + A) + (hk + hA + A) + (A·H'k + H'k) + (hA + A) + (h² + h)
    + 2h with H' = max(1, H // 2), A = H'·h/H.
    """
    config = _config_of(config)
    h, i = REFERENCE_HIDDEN, REFERENCE_FFN_WIDTH
    total = 4_005_888
    for lay in config.layers:
        n = lay.num_ffn
        total += (h * i + i) + (n - 1) * (i * i + i) + (i * h + h) + 2 * h
        op, par = lay.operation_type, lay.operation_parameter
        sdp = 4 * (h * h + h) + 2 * h
        if op == "SA":
            total += sdp + (h * h if par == "WMA" else 0)
        elif op == "LT":
            total += h * h + h
        else:
            k, hp = int(par), max(1, lay.num_heads // 2)
            a = hp * h // lay.num_heads
            total += (3 * (h * a + a) + (h * k + h * a + a) + (a * hp * k + hp * k)
                      + (h * a + a) + (h * h + h) + 2 * h)
    return total


def descriptors(record) -> dict[str, float]:
    """Architecture descriptors needing no model.

    ``n_params``: the ``trained`` build (the default variant), ``n_params_space``: the
    ``space`` build, ``n_params_reference``: the spec's closed form; ``layers_then_hidden`` =
    n_layers * 10000 + hidden_size orders by depth, ties broken by width.
    """
    config = _config_of(record)
    return {
        "n_layers": float(config.n_layers),
        "hidden_size": float(config.hidden_size),
        "n_params": float(parameter_count(config, "trained")),
        "n_params_space": float(parameter_count(config, "space")),
        "n_params_reference": float(reference_parameter_count(config)),
        "layers_then_hidden": float(config.n_layers * 10000 + config.hidden_size),
    }


# -- batches -------------------------------------------------------------------------------

def mask_tokens(input_ids: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT-style masking: in each row, 15% (rounded, at least 1) of the positions that are
    not [CLS] / [SEP], chosen by a generator seeded with ``seed``, become [MASK].

    Returns ``(mlm_input_ids, mlm_labels)``, both (B, S); labels are -100 where not masked.
    """
    candidates = (input_ids != CLS_ID) & (input_ids != SEP_ID)
    gen = torch.Generator().manual_seed(int(seed))
    scores = torch.rand(input_ids.shape, generator=gen)
    scores = scores.masked_fill(~candidates, -1.0)
    chosen = torch.zeros_like(candidates)
    for row in range(input_ids.shape[0]):
        n = int(candidates[row].sum())
        if n == 0:
            continue
        k = max(1, round(MASK_FRACTION * n))
        chosen[row, scores[row].topk(k).indices] = True
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    masked = torch.where(chosen, torch.full_like(input_ids, MASK_ID), input_ids)
    return masked, labels


def make_batch(batch_size: int = 16, seq_len: int = 128, seed: int = 0,
               text_path: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None,
               objective: str = "mlm") -> dict[str, torch.Tensor]:
    """A batch of real text: ``input_ids`` (B, S) of WordPiece windows ``[CLS] … [SEP]``;
    for ``"mlm"`` also ``mlm_input_ids`` and ``mlm_labels`` (see :func:`mask_tokens`)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r} for FlexiBERT; allowed: "
                         f"{', '.join(OBJECTIVES)}")
    if seq_len > MAX_POSITIONS:
        raise ValueError(f"seq_len {seq_len} exceeds FlexiBERT's {MAX_POSITIONS} positions")
    ids = token_batch("wordpiece", batch_size, seq_len, seed, data_dir=data_dir,
                      text_path=text_path)
    batch = {"input_ids": ids}
    if objective == "mlm":
        batch["mlm_input_ids"], batch["mlm_labels"] = mask_tokens(ids, seed)
    return batch


class FlexiBertSpace(Space):
    """NAS-Bench-BERT's FlexiBERT space (GLUE score, higher is better)."""

    name = "flexibert"
    benchmark = "nas-bench-bert"
    variants = VARIANTS
    objectives = OBJECTIVES
    tokenizer = "wordpiece"
    default_seq_len = 128
    lm_objective = "mlm"
    headline_descriptors = ("n_layers", "layers_then_hidden", "n_params")
    size_descriptor = "n_params"
    published = (PublishedProxy(
        "lpzero", LPZERO_FLEXIBERT_PROXY, "lpzero", lower_is_better=False, kendall_tau=0.511,
        spearman_rho=0.748, n=500, source="LPZero's stored per-record scores"),)

    def load_benchmark(self, path=None, data_dir=None):
        return nasbench_bert.load(path, data_dir=data_dir)

    def build(self, record_or_config, variant=None, seed=0, **options):
        return build(record_or_config, self.check_variant(variant), seed, **options)

    def make_batch(self, batch_size, seq_len, seed=0, text_path=None, data_dir=None,
                   objective=None):
        return make_batch(batch_size, seq_len, seed, text_path=text_path, data_dir=data_dir,
                          objective=self.check_objective(objective))

    def descriptors(self, record):
        return descriptors(record)


SPACE = register_space(FlexiBertSpace())
