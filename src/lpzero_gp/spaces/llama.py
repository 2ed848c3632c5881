"""The LLaMA space: decoders of ``transformers``' own LLaMA code, per-layer heads and FFN widths.

An architecture (:class:`LlamaArch`, a JSON object) gives the hidden size, one head count and
one FFN width per decoder layer, the head size, the vocabulary and optional LoRA ranks. Models
are ``LlamaForCausalLM`` (RMSNorm, RoPE, SwiGLU as the library has them; eager attention, so
that the attention probabilities exist) whose layers get their own ``LlamaAttention`` /
``LlamaMLP`` built from a per-layer copy of the config (see ``specs/llama.md``).

Two variants over one architecture JSON:

- ``"scratch"`` (default): the architecture built and randomly initialised, LLaMA's
  initialisation (linear and embedding weights N(0, 0.02), RMSNorm weights 1) from an explicit
  generator seeded by ``seed``; the caller's random state is untouched.
- ``"subnet"``: a sub-network *view* of one super-network (:func:`build_supernet`): every dense
  module of the decoder layers is an :class:`ElasticLinear` whose forward uses the first ``k``
  rows / columns of the super-network's weight (the first heads, the first FFN channels, the
  first LoRA ranks), without copying, as NNCF does for LoNAS. W and G are read through the
  same slice. :func:`materialise` copies a view into a ``"scratch"``-shaped model with the same
  outputs (tested).

Inputs per decoder layer: A = the input of ``mlp.down_proj`` (the SwiGLU product, (B, T,
ffn)), H = the output of ``self_attn.q_proj`` (B, T, heads * head_dim), S = the attention
probabilities (B, heads, T, T), W / G per Linear of the layer (LoRA matrices as their own
entries, named by module), J. The embedding table and the LM head are the embedding / output
side (WE / GE).

Text: a byte-level BPE tokenizer trained on the run's text with ``tokenizers``
(deterministic), of the architectures' ``vocab_size`` (:data:`TOKENIZER_VOCAB` by default;
``build-benchmark --vocab V`` for others): tokenizer ``bpe-trained-<V>``.
"""
from __future__ import annotations

import dataclasses
import copy
import functools
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaAttention, LlamaMLP, LlamaRMSNorm

from ..benchmarks import Record
from ..errors import ConfigError
from ..corpus import register_tokenizer_family, token_batch
from . import register_space
from .base import Space
from .taps import TapPoint

VARIANTS = ("scratch", "subnet")
OBJECTIVES = ("clm", "sum")
TOKENIZER_VOCAB = 4096
TOKENIZER_FAMILY = "bpe-trained-"  # + the vocabulary size: "bpe-trained-4096"
MIN_VOCAB = 260  # the 256 byte tokens of byte-level BPE, and a few merges
INIT_STD = 0.02
ATTN_LORA = ("q_proj", "k_proj", "v_proj")
FFN_LORA = ("gate_proj", "up_proj")


# -- architectures ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LlamaArch:
    """One LLaMA architecture.

    ``heads``, ``ffn``: one entry per decoder layer; ``lora_attn`` / ``lora_ffn`` /
    ``lora_down``: per-layer LoRA ranks of the q/k/v, gate/up and down adapters (empty: no
    LoRA; LoNAS adapts q, k, v, gate, up and down, not o).
    """

    hidden_size: int
    heads: tuple[int, ...]
    ffn: tuple[int, ...]
    head_dim: int = 32
    vocab_size: int = TOKENIZER_VOCAB
    lora_attn: tuple[int, ...] = ()
    lora_ffn: tuple[int, ...] = ()
    lora_down: tuple[int, ...] = ()
    lora_alpha: float = 64.0
    rms_norm_eps: float = 1e-6
    max_position_embeddings: int = 2048
    rope_theta: float = 10000.0

    def __post_init__(self):
        for key in ("heads", "ffn", "lora_attn", "lora_ffn", "lora_down"):
            object.__setattr__(self, key, tuple(int(v) for v in getattr(self, key)))
        n = len(self.heads)
        problems = []
        if n < 1 or len(self.ffn) != n:
            problems.append(f"heads and ffn need one entry per layer (got {len(self.heads)} "
                            f"and {len(self.ffn)})")
        for key in ("lora_attn", "lora_ffn", "lora_down"):
            if getattr(self, key) and len(getattr(self, key)) != n:
                problems.append(f"{key} needs one entry per layer or none")
        ints = [self.hidden_size, self.head_dim, self.vocab_size, *self.heads, *self.ffn]
        if any(v < 1 for v in ints):
            problems.append("sizes must be positive")
        if any(v < 0 for v in self.lora_attn + self.lora_ffn + self.lora_down):
            problems.append("LoRA ranks must be >= 0")
        if self.head_dim % 2:
            problems.append(f"head_dim {self.head_dim} must be even (RoPE)")
        if problems:
            raise ConfigError(f"invalid llama architecture {self.to_json()}: "
                              + "; ".join(problems))

    @property
    def n_layers(self) -> int:
        return len(self.heads)

    @property
    def has_lora(self) -> bool:
        return bool(self.lora_attn or self.lora_ffn or self.lora_down)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "LlamaArch":
        if not isinstance(data, dict):
            raise ConfigError(f"a llama architecture is a JSON object, got {data!r}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown key(s) {unknown} in llama architecture {data}; "
                              f"known: {sorted(known)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"llama architecture {data}: {exc}") from None

    def is_subnet_of(self, supernet: "LlamaArch") -> bool:
        """True when this architecture is a view of ``supernet``: same hidden size, depth,
        head size and vocabulary; every width and rank at most the super-network's."""
        same = (self.hidden_size, self.n_layers, self.head_dim, self.vocab_size) == (
            supernet.hidden_size, supernet.n_layers, supernet.head_dim, supernet.vocab_size)
        if not same:
            return False
        pairs = [(self.heads, supernet.heads), (self.ffn, supernet.ffn)]
        for key in ("lora_attn", "lora_ffn", "lora_down"):
            mine, theirs = getattr(self, key), getattr(supernet, key)
            if mine and not theirs:
                return False
            pairs.append((mine or (0,) * self.n_layers, theirs or (0,) * self.n_layers))
        return all(a <= b for small, big in pairs for a, b in zip(small, big))


def uniform_arch(hidden_size: int, n_layers: int, heads: int, ffn: int, **kw) -> LlamaArch:
    """An architecture with the same heads and FFN width in every layer."""
    return LlamaArch(hidden_size, (heads,) * n_layers, (ffn,) * n_layers, **kw)


# LoNAS's LLaMA-7B space (specs/llama.md): hidden 4096, 32 layers, 32 heads of 128, FFN
# choices per layer, LoRA r 32 / 28 on q, k, v and on gate, up (down fixed at 32).
LONAS_7B_FFN = (11008, 9632, 8256, 6880, 5504)
LONAS_7B_RANKS = (32, 28)


def lonas_7b(ffn: int | tuple[int, ...] = 11008, rank_attn: int | tuple[int, ...] = 32,
             rank_ffn: int | tuple[int, ...] = 32, lora: bool = True) -> LlamaArch:
    """A sub-network of LoNAS's LLaMA-7B space (per layer, or one value for every layer)."""
    n = 32
    per = (lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * n)
    return LlamaArch(4096, (32,) * n, per(ffn), head_dim=128, vocab_size=32000,
                     lora_attn=per(rank_attn) if lora else (),
                     lora_ffn=per(rank_ffn) if lora else (),
                     lora_down=(32,) * n if lora else ())


LONAS_7B_HEURISTIC = lonas_7b(8256, 32, 32)  # the middle of each list (run_commonsense.py)


@dataclass(frozen=True)
class Preset:
    """Declared ranges to sample architectures from (``build-benchmark``, ``nas``): hidden
    sizes, depths, per-layer heads (of ``head_dim``; at most hidden / head_dim) and per-layer FFN
    widths as a multiple of hidden (rounded to ``ffn_multiple``)."""

    name: str
    hidden: tuple[int, ...]
    layers: tuple[int, int]
    ffn_ratio: tuple[float, float]
    head_dim: int = 32
    vocab_size: int = TOKENIZER_VOCAB
    ffn_multiple: int = 8

    def sample(self, rng) -> LlamaArch:
        """One architecture drawn with ``rng`` (a ``random.Random``)."""
        hidden = rng.choice(self.hidden)
        n = rng.randint(*self.layers)
        max_heads = max(1, hidden // self.head_dim)
        heads = tuple(rng.randint(1, max_heads) for _ in range(n))
        ffn = tuple(max(self.ffn_multiple, round(hidden * rng.uniform(*self.ffn_ratio)
                                                 / self.ffn_multiple) * self.ffn_multiple)
                    for _ in range(n))
        return LlamaArch(hidden, heads, ffn, head_dim=self.head_dim, vocab_size=self.vocab_size)


@dataclass(frozen=True)
class ElasticPreset:
    """Sub-networks of one super-network (LoNAS's elastic space): per layer an FFN width from
    ``ffn`` and LoRA ranks of the q/k/v and gate/up adapters from ``ranks``; everything else is
    the super-network's. Built with the ``subnet`` variant (views, no copy)."""

    name: str
    supernet: LlamaArch
    ffn: tuple[int, ...]
    ranks: tuple[int, ...]

    def sample(self, rng) -> LlamaArch:
        sup, n = self.supernet, self.supernet.n_layers
        pick = (lambda choices: tuple(rng.choice(choices) for _ in range(n)))
        return LlamaArch(**{**sup.to_dict(), "ffn": pick(self.ffn),
                            "lora_attn": pick(self.ranks) if sup.lora_attn else (),
                            "lora_ffn": pick(self.ranks) if sup.lora_ffn else ()})

    def middle(self) -> LlamaArch:
        """LoNAS's heuristic sub-network: the middle choice of every list (index
        ``(len - 1) // 2``: the FFN width of 75 %, rank 32 of (32, 28)) in every layer."""
        sup, n = self.supernet, self.supernet.n_layers
        ffn = self.ffn[(len(self.ffn) - 1) // 2]
        rank = self.ranks[(len(self.ranks) - 1) // 2]
        return LlamaArch(**{**sup.to_dict(), "ffn": (ffn,) * n,
                            "lora_attn": (rank,) * n if sup.lora_attn else (),
                            "lora_ffn": (rank,) * n if sup.lora_ffn else ()})


# LoNAS's FFN choices as fractions of the full width: 100, 87.5, 75, 62.5, 50 %
_LONAS_FRACTIONS = (1.0, 0.875, 0.75, 0.625, 0.5)
_MINI = LlamaArch(256, (8,) * 4, (704,) * 4, head_dim=32, lora_attn=(32,) * 4,
                  lora_ffn=(32,) * 4, lora_down=(32,) * 4)

PRESETS = {p.name: p for p in (
    # specs/llama.md's wide space: labels of two seeds agree at tau ~ 0.86 after 400 steps
    Preset("wide", hidden=(64, 128, 192, 256), layers=(1, 4), ffn_ratio=(1.4, 2.75)),
    # hidden fixed (LoNAS-shaped): labels at CPU budgets are seed noise (tau ~ 0.21)
    Preset("narrow", hidden=(256,), layers=(2, 4), ffn_ratio=(1.4, 2.75)),
    # CI-sized
    Preset("tiny", hidden=(32, 64), layers=(1, 2), ffn_ratio=(1.4, 2.75), head_dim=16),
    # LoNAS's LLaMA-7B elastic space, and its CPU-sized analogue (same fractions and ranks)
    ElasticPreset("lonas7b", lonas_7b(11008, 32, 32), LONAS_7B_FFN, LONAS_7B_RANKS),
    ElasticPreset("lonas-mini", _MINI, tuple(int(704 * f) for f in _LONAS_FRACTIONS),
                  LONAS_7B_RANKS),
)}


def sample_archs(preset: str, n: int, sample_seed: int) -> list[LlamaArch]:
    """``n`` distinct architectures of ``preset``, drawn from ``sample_seed``."""
    import random
    if preset not in PRESETS:
        raise ConfigError(f"unknown llama preset {preset!r}; known: {', '.join(PRESETS)}")
    rng = random.Random(int(sample_seed))
    out, seen, tries = [], set(), 0
    while len(out) < n:
        arch = PRESETS[preset].sample(rng)
        tries += 1
        if arch not in seen:
            seen.add(arch)
            out.append(arch)
        elif tries > 100 * n:
            raise ConfigError(f"preset {preset!r} has fewer than {n} distinct architectures")
    return out


def parameter_count(arch: LlamaArch, lora: bool = True) -> dict[str, int]:
    """Closed-form parameter counts: ``embedding`` (the token table), ``lm_head``,
    ``decoder`` (attention, MLP and the two RMSNorms of every layer, plus the final norm),
    ``lora`` (adapters), ``total`` (without LoRA unless ``lora``), ``nonembedding`` = decoder."""
    h, d = arch.hidden_size, arch.head_dim
    decoder = h  # final norm
    adapters = 0
    for i, (heads, ffn) in enumerate(zip(arch.heads, arch.ffn)):
        width = heads * d
        decoder += 4 * h * width + 3 * h * ffn + 2 * h
        if arch.lora_attn:
            adapters += 3 * arch.lora_attn[i] * (h + width)
        if arch.lora_ffn:
            adapters += 2 * arch.lora_ffn[i] * (h + ffn)
        if arch.lora_down:
            adapters += arch.lora_down[i] * (ffn + h)
    emb = arch.vocab_size * h
    out = {"embedding": emb, "lm_head": emb, "decoder": decoder, "lora": adapters,
           "nonembedding": decoder}
    out["total"] = emb * 2 + decoder + (adapters if lora else 0)
    return out


def flops_per_token(arch: LlamaArch, seq_len: int = 128) -> int:
    """Multiply-accumulates per token of a forward pass: every matrix product of the decoder
    and the LM head, plus attention's scores and weighted sum over ``seq_len`` keys."""
    h, d = arch.hidden_size, arch.head_dim
    macs = arch.vocab_size * h
    for heads, ffn in zip(arch.heads, arch.ffn):
        macs += 4 * h * heads * d + 3 * h * ffn + 2 * heads * d * seq_len
    return macs


# -- models ----------------------------------------------------------------------------------

class ElasticLinear(nn.Linear):
    """A Linear whose forward uses its weight's first ``active_out`` rows and ``active_in``
    columns (all by default), with an optional LoRA adapter of elastic rank.

    ``x (..., active_in) -> (..., active_out)``:
    ``x W[:o, :i]^T + b[:o] + (alpha / r) x A[:r, :i]^T B[:o, :r]^T`` with ``A`` (r_max, in)
    and ``B`` (out, r_max) (``lora_A``, ``lora_B``; B starts at 0 as in LoRA).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = False,
                 lora_rank: int = 0, lora_alpha: float = 64.0, device=None, dtype=None):
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.active_in, self.active_out = in_features, out_features
        self.lora_alpha = float(lora_alpha)
        self.active_rank = int(lora_rank)
        if lora_rank > 0:
            self.lora_A = nn.Parameter(torch.empty(lora_rank, in_features, device=device,
                                                   dtype=dtype))
            self.lora_B = nn.Parameter(torch.zeros(out_features, lora_rank, device=device,
                                                   dtype=dtype))
        else:
            self.register_parameter("lora_A", None)
            self.register_parameter("lora_B", None)

    def activate(self, n_in: int | None = None, n_out: int | None = None,
                 rank: int | None = None) -> None:
        """Use the first ``n_in`` inputs, ``n_out`` outputs and ``rank`` LoRA ranks."""
        n_in = self.in_features if n_in is None else int(n_in)
        n_out = self.out_features if n_out is None else int(n_out)
        max_rank = 0 if self.lora_A is None else self.lora_A.shape[0]
        rank = max_rank if rank is None else int(rank)
        if not (0 < n_in <= self.in_features and 0 < n_out <= self.out_features
                and 0 <= rank <= max_rank):
            raise ValueError(f"cannot activate ({n_in}, {n_out}, rank {rank}) of a "
                             f"({self.in_features}, {self.out_features}, rank {max_rank}) "
                             f"elastic linear")
        self.active_in, self.active_out, self.active_rank = n_in, n_out, rank

    def active_slice(self, param_name: str) -> tuple[slice, ...] | None:
        """The part of a parameter the forward pass uses (see :mod:`.base`)."""
        i, o, r = self.active_in, self.active_out, self.active_rank
        return {"weight": (slice(0, o), slice(0, i)), "bias": (slice(0, o),),
                "lora_A": (slice(0, r), slice(0, i)),
                "lora_B": (slice(0, o), slice(0, r))}.get(param_name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o, i, r = self.active_out, self.active_in, self.active_rank
        bias = None if self.bias is None else self.bias[:o]
        y = F.linear(x, self.weight[:o, :i], bias)
        if self.lora_A is not None and r > 0:
            y = y + F.linear(F.linear(x, self.lora_A[:r, :i]), self.lora_B[:o, :r]) * (
                self.lora_alpha / r)
        return y

    def extra_repr(self) -> str:
        lora = "" if self.lora_A is None else f", lora_rank={self.lora_A.shape[0]}"
        return (f"{super().extra_repr()}{lora}, active=({self.active_in}, {self.active_out}, "
                f"rank {self.active_rank})")


class ProxyLlamaForCausalLM(LlamaForCausalLM):
    """``LlamaForCausalLM`` as a proxy model (see :mod:`.base`): decoder layers, taps and
    objectives. ``arch`` is the architecture it was built for (for a super-network: the
    active sub-network)."""

    arch: LlamaArch

    def proxy_layers(self) -> list[nn.Module]:
        return list(self.model.layers)

    def proxy_taps(self, index: int) -> list[TapPoint]:
        layer = self.model.layers[index]
        return [TapPoint("A", layer.mlp.down_proj, "b t c", "mlp.down_proj", "input"),
                TapPoint("H", layer.self_attn.q_proj, "b t c", "self_attn.q_proj"),
                TapPoint("S", layer.self_attn, "b h q k", "self_attn", "output[1]")]

    def objective(self, batch: dict[str, torch.Tensor], name: str) -> torch.Tensor:
        """``"clm"``: mean next-token NLL (nats); ``"sum"``: sum of the last hidden state."""
        ids = batch["input_ids"]
        if name == "clm":
            return self(input_ids=ids, labels=ids, use_cache=False).loss
        if name == "sum":
            return self.model(input_ids=ids, use_cache=False).last_hidden_state.sum()
        raise ValueError(f"unknown objective {name!r} for the llama space; known: {OBJECTIVES}")

    # -- sub-network views ---------------------------------------------------------------
    def standalone(self) -> "ProxyLlamaForCausalLM":
        """This model, or its active sub-network as a network of its own (a super-network
        view materialised), for passes that read every parameter (hand-designed proxies)."""
        if getattr(self, "supernet_arch", None) is None or self.arch == self.supernet_arch:
            return self
        return materialise(self)

    def activate(self, arch: LlamaArch) -> "ProxyLlamaForCausalLM":
        """Make the forward pass use sub-network ``arch`` of this super-network (in place;
        one active sub-network at a time); returns self."""
        sup = self.supernet_arch
        if not arch.is_subnet_of(sup):
            raise ConfigError(f"architecture {arch.to_json()} is not a sub-network of the "
                              f"super-network {sup.to_json()}")
        d = arch.head_dim
        for i, layer in enumerate(self.model.layers):
            width, ffn = arch.heads[i] * d, arch.ffn[i]
            ra = arch.lora_attn[i] if arch.lora_attn else 0
            rf = arch.lora_ffn[i] if arch.lora_ffn else 0
            rd = arch.lora_down[i] if arch.lora_down else 0
            attn, mlp = layer.self_attn, layer.mlp
            for name in ATTN_LORA:
                getattr(attn, name).activate(n_out=width, rank=ra if sup.lora_attn else None)
            attn.o_proj.activate(n_in=width)
            for name in FFN_LORA:
                getattr(mlp, name).activate(n_out=ffn, rank=rf if sup.lora_ffn else None)
            mlp.down_proj.activate(n_in=ffn, rank=rd if sup.lora_down else None)
        self.arch = arch
        return self


def _config(arch: LlamaArch) -> LlamaConfig:
    # transformers checks hidden % heads when a config is built: one head here, the per-layer
    # head counts are set on per-layer copies
    return LlamaConfig(vocab_size=arch.vocab_size, hidden_size=arch.hidden_size,
                       num_hidden_layers=arch.n_layers, num_attention_heads=1,
                       num_key_value_heads=1, head_dim=arch.head_dim,
                       intermediate_size=max(arch.ffn), tie_word_embeddings=False,
                       rms_norm_eps=arch.rms_norm_eps,
                       max_position_embeddings=arch.max_position_embeddings,
                       rope_theta=arch.rope_theta, attention_dropout=0.0,
                       attn_implementation="eager", use_cache=False)


def _layer_config(base: LlamaConfig, heads: int, ffn: int) -> LlamaConfig:
    c = copy.deepcopy(base)
    c.num_attention_heads = c.num_key_value_heads = heads
    c.intermediate_size = ffn
    return c


def _elastic(linear: nn.Linear, rank: int, alpha: float) -> ElasticLinear:
    w = linear.weight
    return ElasticLinear(linear.in_features, linear.out_features, linear.bias is not None,
                         rank, alpha, device=w.device, dtype=w.dtype)


def _make(arch: LlamaArch, elastic: bool) -> ProxyLlamaForCausalLM:
    base = _config(arch)
    model = ProxyLlamaForCausalLM(base)
    for i, layer in enumerate(model.model.layers):
        c = _layer_config(base, arch.heads[i], arch.ffn[i])
        layer.self_attn = LlamaAttention(c, layer_idx=i)
        layer.mlp = LlamaMLP(c)
        if elastic:
            ranks = {n: (arch.lora_attn[i] if arch.lora_attn else 0) for n in ATTN_LORA}
            ranks.update({n: (arch.lora_ffn[i] if arch.lora_ffn else 0) for n in FFN_LORA})
            ranks["down_proj"] = arch.lora_down[i] if arch.lora_down else 0
            ranks["o_proj"] = 0
            for part in (layer.self_attn, layer.mlp):
                for name, child in list(part.named_children()):
                    if isinstance(child, nn.Linear):
                        setattr(part, name, _elastic(child, ranks[name], arch.lora_alpha))
    model.arch = arch
    return model


def _init_weights(model: nn.Module, gen: torch.Generator) -> None:
    """LLaMA's initialisation (``LlamaPreTrainedModel``): Linear and Embedding weights
    N(0, 0.02), biases 0, RMSNorm weights 1; LoRA A by PyTorch's Linear rule (Kaiming uniform,
    as peft), LoRA B 0."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, INIT_STD, generator=gen)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            elif isinstance(module, LlamaRMSNorm):
                module.weight.fill_(1.0)
            if isinstance(module, ElasticLinear) and module.lora_A is not None:
                bound = 1.0 / module.in_features ** 0.5
                module.lora_A.uniform_(-bound, bound, generator=gen)
                module.lora_B.zero_()


def _build(arch: LlamaArch, seed: int, elastic: bool, device=None, dtype=None
           ) -> ProxyLlamaForCausalLM:
    """Built and initialised on the CPU (bit-identical for a seed), then moved; on an
    accelerator it is built and initialised there (a 7B model would take minutes on a CPU),
    from a generator of that device: the same seed then gives other (equally distributed)
    weights than on the CPU."""
    where = torch.device("cpu" if device is None else device)
    if where.type == "meta":
        with torch.device("meta"):
            return _make(arch, elastic).eval()
    forked = [where] if where.type == "cuda" else []
    with torch.random.fork_rng(devices=forked), torch.device(where):
        model = _make(arch, elastic)
        _init_weights(model, torch.Generator(device=where).manual_seed(int(seed)))
    if dtype is not None:
        model = model.to(dtype=dtype)
    return model.eval()


def build_scratch(arch: LlamaArch, seed: int = 0, device=None, dtype=None) -> ProxyLlamaForCausalLM:
    """``arch`` built and randomly initialised from ``seed`` (eval mode); ``device="meta"``
    builds shapes only. LoRA adapters, if the architecture has ranks, are plain parameters
    (``ElasticLinear`` at full size)."""
    return _build(arch, seed, elastic=arch.has_lora, device=device, dtype=dtype)


def build_supernet(arch: LlamaArch, seed: int = 0, checkpoint: str | os.PathLike | None = None,
                   device=None, dtype=None) -> ProxyLlamaForCausalLM:
    """A super-network of elastic layers (the largest widths and ranks: ``arch``), randomly
    initialised from ``seed`` or loaded from a local checkpoint folder (``save_pretrained`` /
    safetensors; nothing is downloaded); the whole network is active."""
    model = _build(arch, seed, elastic=True, device=device, dtype=dtype)
    if checkpoint is not None:
        _load_checkpoint(model, Path(checkpoint))
    model.supernet_arch = arch
    return model.activate(arch)


def _load_checkpoint(model: nn.Module, folder: Path) -> None:
    from safetensors.torch import load_file
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else [folder]
    if not files or not all(f.is_file() for f in files):
        raise ConfigError(f"{folder}: no safetensors checkpoint found (nothing is downloaded; "
                          f"give a local folder written by save_pretrained)")
    state = {}
    for f in files:
        state.update(load_file(str(f)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if "lora_" not in k]
    if missing or unexpected:
        raise ConfigError(f"{folder}: checkpoint does not match the super-network: missing "
                          f"{missing[:5]}, unexpected {unexpected[:5]}")


def materialise(view: ProxyLlamaForCausalLM) -> ProxyLlamaForCausalLM:
    """The active sub-network of a super-network as a model of its own (weights copied)."""
    arch = view.arch
    model = _build(arch, 0, elastic=arch.has_lora)
    src = dict(view.named_modules())
    with torch.no_grad():
        for name, module in model.named_modules():
            other = src[name]
            for p_name, p in module.named_parameters(recurse=False):
                value = getattr(other, p_name)
                part = other.active_slice(p_name) if isinstance(other, ElasticLinear) else None
                p.copy_(value if part is None else value[part])
            if isinstance(module, ElasticLinear):
                module.lora_alpha = other.lora_alpha
    w = next(view.parameters())
    return model.to(device=w.device, dtype=w.dtype).eval()


# -- the space -------------------------------------------------------------------------------

def _train_tokenizer(text: str, vocab_size: int):
    from tokenizers import ByteLevelBPETokenizer
    tok = ByteLevelBPETokenizer()
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    tok.train_from_iterator(paragraphs, vocab_size=vocab_size, min_frequency=2,
                            show_progress=False, special_tokens=[])
    return tok


def _tokenizer_family(data_dir, text, vocab_size):
    return _train_tokenizer(text, vocab_size)


register_tokenizer_family(TOKENIZER_FAMILY, _tokenizer_family)


def _arch_of(record_or_arch) -> LlamaArch:
    arch = record_or_arch.config if isinstance(record_or_arch, Record) else record_or_arch
    if isinstance(arch, dict):
        arch = LlamaArch.from_dict(arch)
    if not isinstance(arch, LlamaArch):
        raise TypeError(f"expected a llama Record, LlamaArch or dict, got {type(arch).__name__}")
    return arch


@functools.lru_cache(maxsize=1)
def _cached_supernet(arch: LlamaArch, seed: int, checkpoint: str | None) -> ProxyLlamaForCausalLM:
    return build_supernet(arch, seed, checkpoint)


class LlamaSpace(Space):
    """LLaMA decoders from transformers' code; labels from a benchmark built by training
    (:mod:`lpzero_gp.benchmarks.built`), lower validation loss is better."""

    name = "llama"
    benchmark = "llama-built"
    variants = VARIANTS
    objectives = OBJECTIVES
    default_seq_len = 128
    lm_objective = "clm"
    headline_descriptors = ("n_layers", "n_params_nonembedding", "layers_x_hidden2")
    norm_types = (LlamaRMSNorm,)
    head_attributes = ()
    tokenizer = f"{TOKENIZER_FAMILY}{TOKENIZER_VOCAB}"

    def load_benchmark(self, path=None, data_dir=None):
        from ..benchmarks import built
        if path is None:
            raise ConfigError("the llama space has no published benchmark: give --benchmark "
                              "PATH (a JSONL file written by `lpzero-gp build-benchmark` or "
                              "experiments/llama/wide_pydoc)")
        return built.load(built.built_file(path) or Path(path), space=self.name,
                          arch_from_dict=LlamaArch.from_dict)

    def build(self, record_or_config, variant=None, seed=0, *, supernet=None,
              checkpoint=None, device=None, dtype=None, **options):
        """``"scratch"``: :func:`build_scratch`; ``"subnet"``: a view of the super-network
        ``supernet`` (an architecture; default: the record's ``extra["supernet"]``), the same
        super-network object for every record of a run (random init from ``seed``, or
        ``checkpoint``)."""
        variant = self.check_variant(variant)
        if options:
            raise TypeError(f"unknown build option(s) {sorted(options)} for the llama space")
        arch = _arch_of(record_or_config)
        if variant == "scratch":
            return build_scratch(arch, seed, device=device, dtype=dtype)
        if supernet is None and isinstance(record_or_config, Record):
            supernet = record_or_config.extra.get("supernet")
        if supernet is None:
            raise ConfigError(f"the subnet variant needs a super-network architecture "
                              f"(build option supernet=, or a record with extra['supernet']) "
                              f"for {arch.to_json()}")
        sup = _arch_of(supernet)
        if device is None and dtype is None:
            net = _cached_supernet(sup, int(seed), None if checkpoint is None
                                   else str(checkpoint))
        else:
            net = build_supernet(sup, seed, checkpoint, device=device, dtype=dtype)
        return net.activate(arch)

    def tokenizer_of(self, archs) -> str:
        """``bpe-trained-<V>`` for architectures of vocabulary V (one V per run)."""
        sizes = sorted({_arch_of(a).vocab_size for a in archs})
        if len(sizes) > 1:
            raise ConfigError(f"llama architectures of vocabularies {sizes} cannot share one "
                              f"batch; capture or build each vocabulary in its own run")
        return f"{TOKENIZER_FAMILY}{sizes[0]}" if sizes else self.tokenizer

    def with_vocab(self, arch, vocab_size: int) -> LlamaArch:
        if not isinstance(vocab_size, int) or vocab_size < MIN_VOCAB:
            raise ConfigError(f"vocabulary size {vocab_size!r} is too small: byte-level BPE "
                              f"needs at least {MIN_VOCAB} tokens")
        return dataclasses.replace(_arch_of(arch), vocab_size=vocab_size)

    def make_batch(self, batch_size, seq_len, seed=0, text_path=None, data_dir=None,
                   objective=None, tokenizer=None):
        """``tokenizer``: ``bpe-trained-<V>`` for architectures of vocabulary V (default:
        :attr:`tokenizer`, V = 4096), see :meth:`tokenizer_of`."""
        self.check_objective(objective)
        tokenizer = self.tokenizer if tokenizer is None else tokenizer
        if not tokenizer.startswith(TOKENIZER_FAMILY):
            raise ConfigError(f"the llama space trains its tokenizer ({TOKENIZER_FAMILY}<V>), "
                              f"not {tokenizer!r}")
        return {"input_ids": token_batch(tokenizer, batch_size, seq_len, seed,
                                         data_dir=data_dir, text_path=text_path)}

    def descriptors(self, record) -> dict[str, float]:
        arch = _arch_of(record)
        counts = parameter_count(arch, lora=False)
        return {
            "n_layers": float(arch.n_layers),
            "hidden_size": float(arch.hidden_size),
            "n_params_nonembedding": float(counts["nonembedding"]),
            "n_params_total": float(counts["total"]),
            "layers_x_hidden2": float(arch.n_layers * arch.hidden_size ** 2),
            "layers_then_hidden": float(arch.n_layers * 100000 + arch.hidden_size),
            "flops_per_token": float(flops_per_token(arch, self.default_seq_len)),
        }

    def position_embedding(self, model):
        return None  # rotary positions: no table

    def flops_per_token(self, arch, seq_len: int | None = None) -> int:
        return flops_per_token(_arch_of(arch), seq_len or self.default_seq_len)

    def example(self, data_dir=None) -> LlamaArch:
        return LlamaArch(64, (2, 4), (128, 96), head_dim=16)

    presets = tuple(PRESETS)

    def sample(self, preset: str, n: int, sample_seed: int) -> list[LlamaArch]:
        return sample_archs(preset, n, sample_seed)

    def supernet_of(self, preset: str) -> LlamaArch | None:
        """The super-network whose views ``preset``'s samples are (``None``: built from
        scratch)."""
        p = PRESETS.get(preset)
        return p.supernet if isinstance(p, ElasticPreset) else None

    def arch_from_dict(self, data: dict) -> LlamaArch:
        return LlamaArch.from_dict(data)

    def parameter_counts(self, arch) -> dict[str, int]:
        return parameter_count(_arch_of(arch))


SPACE = register_space(LlamaSpace())

__all__ = ["SPACE", "LlamaSpace", "LlamaArch", "ProxyLlamaForCausalLM", "ElasticLinear", "build_scratch",
           "build_supernet", "materialise", "parameter_count", "flops_per_token",
           "uniform_arch", "lonas_7b", "Preset", "PRESETS", "sample_archs", "LONAS_7B_HEURISTIC", "LONAS_7B_FFN", "LONAS_7B_RANKS"]
