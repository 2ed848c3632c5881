"""The building blocks of FlexiBERT models: embeddings, token mixers, feed-forward stacks.

Shapes: B batch, S sequence, h hidden width, H heads of width d = h / H. Every block takes the
hidden states (B, S, h) first; token mixers also take ``attention_bias``, an additive mask of
shape (B, 1, 1, S) (0 where a token may be attended to, a large negative number on padding) or
``None``. Where a proxy input lives is marked by a :class:`~lpzero_gp.spaces.taps.Tap`:

- ``Tap("H")``: the query projection (B, S, width); the input projection U of an LT layer.
- ``Tap("S")``: every softmax map (SA: (B, H, S, S); DSC: attention (B, H', S, S) and dynamic
  convolution kernel (B, S, H', k)); an LT layer has no softmax, so its ``S`` is the token-mixing
  output, the real 2-D DFT / DCT of the heads, (B, S, h).
- ``Tap("A")``: after each GELU of the feed-forward stack.

Parameters are created here without any particular values; :func:`init_parameters` gives the
FlexiBERT initialisation from an explicit generator.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from .taps import Tap

VOCAB_SIZE = 30522
MAX_POSITIONS = 512
TYPE_VOCAB_SIZE = 2
EMBEDDING_SIZE = 128
PAD_TOKEN_ID = 0
LAYER_NORM_EPS = 1e-12
INIT_STD = 0.02


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, S, heads*d) -> (B, heads, S, d)."""
    b, s, w = x.shape
    return x.view(b, s, heads, w // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, heads, S, d) -> (B, S, heads*d)."""
    b, heads, s, d = x.shape
    return x.transpose(1, 2).reshape(b, s, heads * d)


def dct2_matrix(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Unnormalised DCT-II matrix C (n, n), C[k, m] = 2 cos(pi k (2m + 1) / (2n)).

    ``x @ C.T`` is scipy's ``dct(x, type=2)`` (norm None) along the last axis.
    """
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    m = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    return (2.0 * torch.cos(math.pi * k * (2 * m + 1) / (2 * n))).to(dtype=dtype, device=device)


def dct2_2d(x: torch.Tensor) -> torch.Tensor:
    """Unnormalised 2-D DCT-II over the last two axes of (..., S, d).

    Along the feature axis (last) first, then along the sequence axis, as scipy's
    ``dct(dct(x, type=2, axis=-1), type=2, axis=-2)``.
    """
    s, d = x.shape[-2], x.shape[-1]
    c_feat = dct2_matrix(d, x.dtype, x.device)
    c_seq = dct2_matrix(s, x.dtype, x.device)
    return torch.matmul(c_seq, torch.matmul(x, c_feat.T))


def dft2_real(x: torch.Tensor) -> torch.Tensor:
    """Real part of the 2-D DFT over the last two axes of (..., S, d)."""
    return torch.fft.fft2(x, dim=(-2, -1)).real


class Embeddings(nn.Module):
    """Word + position + token-type embeddings (width E = 128), LayerNorm, then E -> h.

    As in ELECTRA (the training code of the labels, and the reference PyTorch code), the E -> h
    projection exists only when h != E; for h = E = 128 the embeddings go straight in.
    Output (B, S, h).
    """

    def __init__(self, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.word_embeddings = nn.Embedding(VOCAB_SIZE, EMBEDDING_SIZE, padding_idx=PAD_TOKEN_ID)
        self.position_embeddings = nn.Embedding(MAX_POSITIONS, EMBEDDING_SIZE)
        self.token_type_embeddings = nn.Embedding(TYPE_VOCAB_SIZE, EMBEDDING_SIZE)
        self.LayerNorm = nn.LayerNorm(EMBEDDING_SIZE, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(dropout)
        self.project = nn.Linear(EMBEDDING_SIZE, hidden) if hidden != EMBEDDING_SIZE else None

    def forward(self, input_ids: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        seq = input_ids.shape[1]
        if seq > MAX_POSITIONS:
            raise ValueError(f"sequence length {seq} exceeds the {MAX_POSITIONS} positions "
                             "of FlexiBERT's position embeddings")
        positions = torch.arange(seq, device=input_ids.device).unsqueeze(0)
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = (self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
             + self.position_embeddings(positions))
        x = self.dropout(self.LayerNorm(x))
        return x if self.project is None else self.project(x)

    def output_projection(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(…, h) -> (…, E) with the transposed E -> h projection (the tied MLM head)."""
        if self.project is None:
            return hidden_states
        return hidden_states @ self.project.weight


class SelfOutput(nn.Module):
    """Y = LayerNorm(X + Linear h->h(context)), (B, S, h)."""

    def __init__(self, hidden: int, dropout: float = 0.0):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)

    def forward(self, context: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(residual + self.dropout(self.dense(context)))


class SelfAttention(nn.Module):
    """SA-SDP (``weighted=False``) or SA-WMA (``weighted=True``) with output, residual, LN.

    WMA multiplies the query by one more learned h x h matrix (no bias) before the scores; the
    ``H`` tap sits on the query projection output (before that matrix), (B, S, h).
    """

    def __init__(self, hidden: int, heads: int, weighted: bool = False, dropout: float = 0.0):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        self.heads = heads
        self.head_dim = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.query_weight = nn.Linear(hidden, hidden, bias=False) if weighted else None
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.tap_query = Tap("H")
        self.tap_probs = Tap("S", "b h q k")
        self.dropout = nn.Dropout(dropout)
        self.output = SelfOutput(hidden, dropout)

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor | None = None) -> torch.Tensor:
        q = self.tap_query(self.query(x))
        if self.query_weight is not None:
            q = self.query_weight(q)
        q, k, v = (split_heads(t, self.heads) for t in (q, self.key(x), self.value(x)))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if attention_bias is not None:
            scores = scores + attention_bias
        probs = self.tap_probs(torch.softmax(scores, dim=-1))
        context = merge_heads(torch.matmul(self.dropout(probs), v))
        return self.output(context, x)


class LinearTransform(nn.Module):
    """LT-DFT / LT-DCT: U = Linear h->h(X), per head a real 2-D transform over (S, d).

    ``residual_norm=False`` (the reference build): the output is the transform itself, with no
    output Linear, residual or LayerNorm. ``residual_norm=True`` (the space build, FNet-style):
    LayerNorm(X + transform). An LT layer has no attention, so ``attention_bias`` is ignored
    (padding tokens are mixed in, as in FNet).
    """

    def __init__(self, hidden: int, heads: int, transform: str, residual_norm: bool):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        if transform not in ("DFT", "DCT"):
            raise ValueError(f"LT transform must be 'DFT' or 'DCT', got {transform!r}")
        self.heads = heads
        self.transform = transform
        self.input = nn.Linear(hidden, hidden)
        self.tap_input = Tap("H")
        self.tap_mix = Tap("S")
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS) if residual_norm else None

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor | None = None) -> torch.Tensor:
        u = split_heads(self.tap_input(self.input(x)), self.heads)
        mixed = dft2_real(u) if self.transform == "DFT" else dct2_2d(u)
        mixed = self.tap_mix(merge_heads(mixed))
        return mixed if self.LayerNorm is None else self.LayerNorm(x + mixed)


class SeparableConv1d(nn.Module):
    """Depthwise Conv1d (h channels, kernel k, zero padding k//2, no bias), pointwise h -> A
    (no bias), plus a learned bias (A,). (B, S, h) -> (B, S, A)."""

    def __init__(self, hidden: int, out_width: int, kernel: int):
        super().__init__()
        self.depthwise = nn.Conv1d(hidden, hidden, kernel, groups=hidden, padding=kernel // 2,
                                   bias=False)
        self.pointwise = nn.Conv1d(hidden, out_width, 1, bias=False)
        self.bias = nn.Parameter(torch.empty(out_width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pointwise(self.depthwise(x.transpose(1, 2)))
        return y.transpose(1, 2) + self.bias


class ConvSelfAttention(nn.Module):
    """DSC: ConvBERT-style mixed attention with kernel k, then output, residual and LN.

    H' = max(1, H // 2) attention heads of width d = h / H, A = H'·d = h / 2.
    Q, K, V = Linear h->A. Ks = SeparableConv1d(X) (B, S, A); the dynamic-convolution kernel
    alpha = softmax over k of Linear A->H'k(Ks * Q), (B, S, H', k). Linear h->A(X), split in H'
    heads, is mixed over a window of k positions (zero padded) with alpha. The context is
    [self-attention over H' heads (A) ‖ dynamic convolution (A)] = (B, S, h).
    """

    def __init__(self, hidden: int, heads: int, kernel: int, dropout: float = 0.0):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"hidden size {hidden} is not divisible by {heads} heads")
        if kernel % 2 != 1:
            raise ValueError(f"DSC kernel must be odd, got {kernel}")
        self.heads = max(1, heads // 2)
        self.head_dim = hidden // heads
        self.kernel = kernel
        width = self.heads * self.head_dim
        self.query = nn.Linear(hidden, width)
        self.key = nn.Linear(hidden, width)
        self.value = nn.Linear(hidden, width)
        self.key_conv = SeparableConv1d(hidden, width, kernel)
        self.conv_kernel = nn.Linear(width, self.heads * kernel)
        self.conv_value = nn.Linear(hidden, width)
        self.tap_query = Tap("H")
        self.tap_attention = Tap("S", "b h q k")
        self.tap_conv_kernel = Tap("S", "b q h k")
        self.dropout = nn.Dropout(dropout)
        self.output = SelfOutput(hidden, dropout)
        if 2 * width != hidden:
            raise ValueError(f"DSC with hidden {hidden} and {heads} heads gives a context of "
                             f"{2 * width}, not {hidden}")

    def forward(self, x: torch.Tensor, attention_bias: torch.Tensor | None = None) -> torch.Tensor:
        b, s, _ = x.shape
        q = self.tap_query(self.query(x))                               # (B, S, A)
        # attention before convolution, so the two S taps run in module order
        qh, kh, vh = (split_heads(t, self.heads) for t in (q, self.key(x), self.value(x)))
        scores = torch.matmul(qh, kh.transpose(-1, -2)) / math.sqrt(self.head_dim)
        if attention_bias is not None:
            scores = scores + attention_bias
        probs = self.tap_attention(torch.softmax(scores, dim=-1))      # (B, H', S, S)
        attended = merge_heads(torch.matmul(self.dropout(probs), vh))  # (B, S, A)

        alpha = self.conv_kernel(self.key_conv(x) * q).view(b, s, self.heads, self.kernel)
        alpha = self.tap_conv_kernel(torch.softmax(alpha, dim=-1))      # (B, S, H', k)
        pad = self.kernel // 2
        windows = nn.functional.pad(self.conv_value(x), (0, 0, pad, pad)).unfold(1, self.kernel, 1)
        windows = windows.reshape(b, s, self.heads, self.head_dim, self.kernel)
        conv_out = torch.einsum("bshdk,bshk->bshd", windows, alpha).reshape(b, s, -1)
        return self.output(torch.cat([attended, conv_out], dim=-1), x)


class FeedForward(nn.Module):
    """GELU(Linear h->w1), then GELU(Linear w_{i-1}->w_i) for the next widths, then
    LayerNorm(Y + Linear w_n->h(·)). ``widths`` has one entry per GELU; (B, S, h) -> (B, S, h).
    """

    def __init__(self, hidden: int, widths: Sequence[int], dropout: float = 0.0):
        super().__init__()
        if not widths:
            raise ValueError("a feed-forward stack needs at least one width")
        dims = [hidden, *widths]
        self.dense = nn.ModuleList(nn.Linear(a, c) for a, c in zip(dims[:-1], dims[1:]))
        self.act = nn.GELU()
        self.taps = nn.ModuleList(Tap("A") for _ in widths)
        self.out = nn.Linear(dims[-1], hidden)
        self.dropout = nn.Dropout(dropout)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        z = y
        for dense, tap in zip(self.dense, self.taps):
            z = tap(self.act(dense(z)))
        return self.LayerNorm(y + self.dropout(self.out(z)))


class EncoderLayer(nn.Module):
    """One FlexiBERT encoder layer: a token mixer, then a feed-forward stack. (B, S, h)."""

    def __init__(self, mixer: nn.Module, ffn: FeedForward):
        super().__init__()
        self.mixer = mixer
        self.ffn = ffn

    def forward(self, hidden_states: torch.Tensor,
                attention_bias: torch.Tensor | None = None) -> torch.Tensor:
        return self.ffn(self.mixer(hidden_states, attention_bias))


@torch.no_grad()
def init_parameters(model: nn.Module, generator: torch.Generator) -> None:
    """FlexiBERT initialisation, drawn from ``generator`` only (the global RNG is untouched).

    Linear, Embedding and Conv1d weights N(0, 0.02); every bias 0 (the separable convolution's
    too); LayerNorm weight 1, bias 0; the padding row of an Embedding 0. Parameters are visited
    in ``named_parameters`` order, so one seed gives bit-identical models.
    """
    norm_params = {id(p): name for m in model.modules() if isinstance(m, nn.LayerNorm)
                   for name, p in m.named_parameters()}
    for name, p in model.named_parameters():
        if id(p) in norm_params:
            p.fill_(1.0 if norm_params[id(p)] == "weight" else 0.0)
        elif p.ndim >= 2:
            sample = torch.empty(p.shape, dtype=torch.float32)
            sample.normal_(0.0, INIT_STD, generator=generator)
            p.copy_(sample)
        else:
            p.zero_()
    for m in model.modules():
        if isinstance(m, nn.Embedding) and m.padding_idx is not None:
            m.weight[m.padding_idx].zero_()
