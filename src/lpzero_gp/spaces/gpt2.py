"""The GPT-2 / LiteTransformerSearch space: Archai's ``hf_gpt2_flex`` decoders.

A model is a pre-LayerNorm GPT-2 decoder: adaptive input embedding (scaled by sqrt(d_model))
plus learned positions (``n_positions = tgt_len``), ``n_layer`` blocks
``x <- x + Attn(LN(x)); x <- x + MLP(LN(x))`` with per-layer heads and inner widths, a final
LayerNorm, and an adaptive softmax tied to the embedding (see :mod:`.gpt2_adaptive`).
GPT-2's ``Conv1D`` and tanh-GELU come from ``transformers``.

Taps per block: ``H`` the query part of the fused QKV projection (B, S, d_model), ``S`` the
causal softmax probabilities (B, heads, S, S), ``A`` the MLP's GELU output (B, S, d_inner).

Initialisation (Archai's ``_init_weights``): linear and embedding weights N(0, init_std),
biases 0, adaptive projections N(0, proj_init_std), softmax cluster weights N(0, init_std),
LayerNorm 1/0, and every attention / MLP output projection (``c_proj``) N(0,
init_std / sqrt(2 n_layer)) (drawn once at that std: the same distribution as Archai's
draw-then-redraw). Draws come from a CPU generator seeded by ``seed`` inside
``torch.random.fork_rng``, so the caller's random state is left as it was.
"""
from __future__ import annotations

import math
import os

import torch
import torch.nn.functional as F
from torch import nn
from transformers.activations import NewGELUActivation
from transformers.pytorch_utils import Conv1D

from ..benchmarks import Record
from ..benchmarks import lts
from ..benchmarks.lts import LtsConfig
from ..corpus import token_batch
from ..language.proxy import LPZERO_GPT2_PROXY
from . import register_space
from .base import PublishedProxy, Space
from .gpt2_adaptive import AdaptiveEmbedding, AdaptiveLogSoftmax
from .taps import Tap

VARIANTS = ("lts",)
OBJECTIVES = ("clm", "sum")


class GPT2Attention(nn.Module):
    """Causal multi-head self-attention with ``n_head`` heads of size d_model / n_head.

    (B, S, d_model) -> (B, S, d_model). ``c_attn``: fused QKV d_model -> 3 d_model;
    ``c_proj``: d_model -> d_model.
    """

    def __init__(self, d_model: int, n_head: int):
        super().__init__()
        self.d_model, self.n_head, self.d_head = d_model, n_head, d_model // n_head
        self.c_attn = Conv1D(3 * d_model, d_model)
        self.c_proj = Conv1D(d_model, d_model)
        self.tap_h = Tap("H")
        self.tap_s = Tap("S", "b h q k")

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, s, _ = x.shape
        return x.view(b, s, self.n_head, self.d_head).transpose(1, 2)  # (B, heads, S, d_head)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        b, s, _ = hidden_states.shape
        query, key, value = self.c_attn(hidden_states).split(self.d_model, dim=2)
        query = self.tap_h(query)
        q, k, v = self._heads(query), self._heads(key), self._heads(value)
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.d_head)
        causal = torch.ones(s, s, dtype=torch.bool, device=scores.device).tril()
        scores = scores.masked_fill(~causal, torch.finfo(scores.dtype).min)
        probs = self.tap_s(F.softmax(scores, dim=-1))
        out = (probs @ v).transpose(1, 2).reshape(b, s, self.d_model)
        return self.c_proj(out)


class GPT2MLP(nn.Module):
    """(B, S, d_model) -> Conv1D -> tanh-GELU (tapped "A", (B, S, d_inner)) -> Conv1D."""

    def __init__(self, d_model: int, d_inner: int):
        super().__init__()
        self.c_fc = Conv1D(d_inner, d_model)
        self.act = NewGELUActivation()
        self.tap_a = Tap("A")
        self.c_proj = Conv1D(d_model, d_inner)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.tap_a(self.act(self.c_fc(hidden_states))))


class GPT2Block(nn.Module):
    """Pre-LN decoder block: (B, S, d_model) -> (B, S, d_model)."""

    def __init__(self, d_model: int, n_head: int, d_inner: int, eps: float):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, eps=eps)
        self.attn = GPT2Attention(d_model, n_head)
        self.ln_2 = nn.LayerNorm(d_model, eps=eps)
        self.mlp = GPT2MLP(d_model, d_inner)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = hidden_states + self.attn(self.ln_1(hidden_states))
        return hidden_states + self.mlp(self.ln_2(hidden_states))


class LtsGPT2(nn.Module):
    """An ``hf_gpt2_flex`` decoder with its adaptive softmax; a proxy model (see ``base``).

    ``forward(input_ids (B, S)) -> last hidden state (B, S, d_model)``, S <= tgt_len.
    """

    def __init__(self, config: LtsConfig):
        super().__init__()
        self.config = config
        self.wte = AdaptiveEmbedding(config)
        self.wpe = nn.Embedding(config.tgt_len, config.d_model)
        self.h = nn.ModuleList(
            GPT2Block(config.d_model, n_head, d_inner, config.layer_norm_epsilon)
            for n_head, d_inner in zip(config.n_head, config.d_inner))
        self.ln_f = nn.LayerNorm(config.d_model, eps=config.layer_norm_epsilon)
        self.crit = AdaptiveLogSoftmax(config)

    def proxy_layers(self) -> list[nn.Module]:
        return list(self.h)

    def _check_ids(self, input_ids: torch.Tensor) -> None:
        if input_ids.ndim != 2:
            raise ValueError(f"input_ids must be (batch, seq), got shape {tuple(input_ids.shape)}")
        if input_ids.shape[1] > self.config.tgt_len:
            raise ValueError(f"sequence length {input_ids.shape[1]} exceeds the model's "
                             f"n_positions = tgt_len = {self.config.tgt_len}")
        if input_ids.device.type != "meta" and input_ids.numel() and (
                int(input_ids.min()) < 0 or int(input_ids.max()) >= self.config.n_token):
            raise ValueError(f"token ids must lie in [0, {self.config.n_token}), got "
                             f"[{int(input_ids.min())}, {int(input_ids.max())}]")

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        self._check_ids(input_ids)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        hidden = self.wte(input_ids) + self.wpe(positions)
        for block in self.h:
            hidden = block(hidden)
        return self.ln_f(hidden)

    def lm_loss(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Mean next-token negative log-likelihood (nats) of ``input_ids`` (B, S), S >= 2."""
        if input_ids.shape[1] < 2:
            raise ValueError("a causal LM loss needs sequences of at least 2 tokens")
        hidden = self(input_ids)[:, :-1]
        target = input_ids[:, 1:].reshape(-1)
        return self.crit(hidden.reshape(-1, self.config.d_model), target, self.wte).mean()

    def objective(self, batch: dict[str, torch.Tensor], name: str) -> torch.Tensor:
        """``"clm"``: :meth:`lm_loss`; ``"sum"``: the sum of the last hidden state."""
        if name == "clm":
            return self.lm_loss(batch["input_ids"])
        if name == "sum":
            return self(batch["input_ids"]).sum()
        raise ValueError(f"unknown objective {name!r} for the gpt2 space; known: {OBJECTIVES}")


# -- initialisation ------------------------------------------------------------------------

def _init_weights(model: LtsGPT2, gen: torch.Generator) -> None:
    cfg = model.config
    std, proj_std = cfg.init_std, cfg.proj_init_std
    out_std = std / math.sqrt(2 * cfg.n_layer)

    def normal(p: torch.Tensor, s: float) -> None:
        nn.init.normal_(p, 0.0, s, generator=gen)

    with torch.no_grad():
        for table in model.wte.tables:
            normal(table.weight, std)
        for proj in model.wte.projs:
            normal(proj, proj_std)
        normal(model.wpe.weight, std)
        for block in model.h:
            for conv, s in ((block.attn.c_attn, std), (block.attn.c_proj, out_std),
                            (block.mlp.c_fc, std), (block.mlp.c_proj, out_std)):
                normal(conv.weight, s)
                conv.bias.zero_()
        for ln in [m for m in model.modules() if isinstance(m, nn.LayerNorm)]:
            ln.weight.fill_(1.0)
            ln.bias.zero_()
        crit = model.crit
        if crit.cluster_weight is not None:
            normal(crit.cluster_weight, std)
            crit.cluster_bias.zero_()
        for bias in crit.biases:
            bias.zero_()
        for table in crit.tables:
            normal(table, std)
        for proj in crit.projs.values():
            normal(proj, proj_std)


def _config_of(record_or_config: Record | LtsConfig) -> LtsConfig:
    config = record_or_config.config if isinstance(record_or_config, Record) else record_or_config
    if not isinstance(config, LtsConfig):
        raise TypeError(f"expected an lts Record or LtsConfig, got {type(config).__name__}")
    return config


def build(record_or_config: Record | LtsConfig, variant: str = "lts", seed: int = 0,
          device: str | torch.device | None = None) -> LtsGPT2:
    """The decoder of a record, initialised from ``seed``, in eval mode (no dropout exists).

    ``device="meta"`` builds shapes only (no initialisation; for parameter counts). Otherwise
    the model is built and initialised on the CPU, then moved to ``device``.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown gpt2 variant {variant!r}; known: {VARIANTS}")
    config = _config_of(record_or_config)
    if device is not None and torch.device(device).type == "meta":
        with torch.device("meta"):
            return LtsGPT2(config).eval()
    with torch.random.fork_rng(devices=[]), torch.device("cpu"):
        # construction draws from the (forked) global CPU generator; our draws then replace them
        model = LtsGPT2(config)
        _init_weights(model, torch.Generator().manual_seed(int(seed)))
    if device is not None:
        model = model.to(device)
    return model.eval()


# -- parameter counts ----------------------------------------------------------------------

def _count(modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def parameter_counts(model: LtsGPT2) -> dict[str, int]:
    """Parameter counts by Archai's rules (the keys of ``params_summary.yaml`` and more).

    ``AdaEmb``: adaptive embedding + positions; ``Attn``: attention modules; ``FFN``: MLPs;
    ``LayerNorm``: every LayerNorm; ``nonembedding = Attn + FFN + LayerNorm``; ``Softmax``: the
    adaptive softmax's own (untied) parameters; ``total``: every distinct parameter.
    """
    counts = {
        "AdaEmb": _count([model.wte, model.wpe]),
        "Attn": _count(b.attn for b in model.h),
        "FFN": _count(b.mlp for b in model.h),
        "LayerNorm": _count(m for m in model.modules() if isinstance(m, nn.LayerNorm)),
        "Softmax": _count([model.crit]),
        "total": sum(p.numel() for p in model.parameters()),
    }
    counts["nonembedding"] = counts["Attn"] + counts["FFN"] + counts["LayerNorm"]
    return counts


# -- batches and descriptors ---------------------------------------------------------------

def make_batch(batch_size: int = 16, seq_len: int = 192, seed: int = 0,
               text_path: str | os.PathLike | None = None,
               data_dir: str | os.PathLike | None = None,
               objective: str = "clm") -> dict[str, torch.Tensor]:
    """``{"input_ids": (B, S)}``: windows of real English text in GPT-2's BPE (ids < 50,257).

    Both objectives need only the ids (``clm`` shifts them inside the model).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r} for the gpt2 space; "
                         f"known: {OBJECTIVES}")
    return {"input_ids": token_batch("bpe", batch_size, seq_len, seed, data_dir=data_dir,
                                     text_path=text_path)}


def descriptors(record: Record | LtsConfig) -> dict[str, float]:
    """Architecture descriptors; parameter counts come from a meta-device build."""
    config = _config_of(record)
    counts = parameter_counts(build(config, device="meta"))
    return {
        "n_layers": float(config.n_layer),
        "d_model": float(config.d_model),
        "n_params_nonembedding": float(counts["nonembedding"]),
        "n_params_total": float(counts["total"]),
        "layers_x_dmodel2": float(config.n_layer * config.d_model ** 2),
        "layers_then_hidden": float(config.n_layer * 10000 + config.d_model),
    }


class GPT2Space(Space):
    """LiteTransformerSearch's GPT-2 space (WikiText-103 validation perplexity, lower is
    better)."""

    name = "gpt2"
    benchmark = "lts-gpt2"
    variants = VARIANTS
    objectives = OBJECTIVES
    tokenizer = "bpe"
    default_seq_len = 192
    lm_objective = "clm"
    headline_descriptors = ("n_layers", "n_params_nonembedding", "layers_x_dmodel2")
    # LPZero's GPT-2 evaluation negates its score: a lower score is a better architecture
    published = (PublishedProxy(
        "lpzero", LPZERO_GPT2_PROXY, "lpzero", lower_is_better=True, kendall_tau=0.886,
        spearman_rho=0.980, n=200, absolute=True,
        source="LPZero's stored per-record scores"),)

    def load_benchmark(self, path=None, data_dir=None):
        """LTS's published folder (default), or a benchmark built by training (a JSONL file, or
        a folder holding ``benchmark.jsonl``)."""
        from ..benchmarks import built
        jsonl = None if path is None else built.built_file(path)
        if jsonl is not None:
            return built.load(jsonl, space=self.name, arch_from_dict=config_from_dict)
        return lts.load(path, data_dir=data_dir)

    def build(self, record_or_config, variant=None, seed=0, **options):
        return build(record_or_config, self.check_variant(variant), seed, **options)

    def make_batch(self, batch_size, seq_len, seed=0, text_path=None, data_dir=None,
                   objective=None):
        return make_batch(batch_size, seq_len, seed, text_path=text_path, data_dir=data_dir,
                          objective=self.check_objective(objective))

    def descriptors(self, record):
        return descriptors(record)

    presets = ("small",)  # see PRESETS

    def sample(self, preset, n, sample_seed):
        return sample_archs(preset, n, sample_seed)

    def arch_from_dict(self, data):
        return config_from_dict(data)

    def parameter_counts(self, arch):
        return parameter_counts(build(_config_of(arch), device="meta"))


# LTS's cutoffs (GPT-2's BPE: 50,264 tokens with Archai's padding) and a small CPU-sized range
LTS_CUTOFFS = (19997, 39997, 50264)
PRESETS = {"small": {"n_layer": (1, 4), "d_model": (64, 128, 192, 256), "n_head": (2, 4, 8),
                     "d_inner_ratio": (1.0, 4.0), "tgt_len": 192}}


def sample_archs(preset: str, n: int, sample_seed: int) -> list[LtsConfig]:
    """``n`` distinct ``hf_gpt2_flex`` architectures of ``preset`` (per-layer heads and inner
    widths; embedding width d_model, one vocabulary table with LTS's cutoffs, tied softmax)."""
    import random
    if preset not in PRESETS:
        raise ValueError(f"unknown gpt2 preset {preset!r}; known: {', '.join(PRESETS)}")
    p, rng, out = PRESETS[preset], random.Random(int(sample_seed)), []
    while len(out) < n:
        n_layer = rng.randint(*p["n_layer"])
        d_model = rng.choice(p["d_model"])
        heads = tuple(rng.choice([h for h in p["n_head"] if d_model % h == 0])
                      for _ in range(n_layer))
        inner = tuple(int(round(d_model * rng.uniform(*p["d_inner_ratio"]) / 8) * 8)
                      for _ in range(n_layer))
        config = LtsConfig(n_layer, d_model, heads, inner, d_model, 1, LTS_CUTOFFS,
                           LTS_CUTOFFS[-1], p["tgt_len"], True, (True,) * len(LTS_CUTOFFS))
        if config not in out:
            out.append(config)
    return out


def config_from_dict(data: dict) -> LtsConfig:
    from ..errors import ConfigError
    known = set(LtsConfig.__dataclass_fields__)
    if not isinstance(data, dict) or set(data) - known:
        raise ConfigError(f"a gpt2 architecture is an object with keys {sorted(known)}, got "
                          f"{data!r}")
    try:
        return LtsConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    except TypeError as exc:
        raise ConfigError(f"gpt2 architecture {data}: {exc}") from None


SPACE = register_space(GPT2Space())

__all__ = ["SPACE", "GPT2Space", "LtsGPT2", "GPT2Block", "GPT2Attention", "GPT2MLP", "build",
                      "make_batch", "descriptors", "parameter_counts"]
