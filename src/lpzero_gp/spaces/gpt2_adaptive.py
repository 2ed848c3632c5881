"""Adaptive input embedding and adaptive softmax (Baevski & Auli 2019) as Archai builds them.

The vocabulary is split into clusters ``[lo_c, hi_c)`` (see
:class:`~lpzero_gp.benchmarks.lts.LtsConfig`). Cluster ``c`` has a table of width
``d_c = d_embed // div_val**c`` and a projection ``(d_model, d_c)``.

- ``div_val == 1``: one table ``(n_token, d_embed)`` for all clusters and one projection,
  only when ``d_embed != d_model``.
- ``div_val > 1``: one table and one projection per cluster.

The softmax's tables are the embedding's own tables when ``tie_weight``; cluster ``c``'s
projection is the embedding's projection when ``tie_projs[c]`` (the single one for
``div_val == 1``), else a parameter of its own. Tied tensors are not registered twice: the
softmax reads them from the embedding passed to :meth:`AdaptiveLogSoftmax.forward`, so every
parameter belongs to exactly one module and the parameter counts follow Archai's.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..benchmarks.lts import LtsConfig


class AdaptiveEmbedding(nn.Module):
    """Token ids (B, S) -> embeddings (B, S, d_model), scaled by ``sqrt(d_model)``.

    ``tables[c]``: ``nn.Embedding`` of cluster ``c`` (a single one when ``div_val == 1``);
    ``projs[c]``: ``(d_model, d_c)``, applied as ``x @ projs[c].T`` (none when ``div_val == 1``
    and ``d_embed == d_model``).
    """

    def __init__(self, config: LtsConfig):
        super().__init__()
        self.config = config
        self.scale = math.sqrt(config.d_model)
        self.tables = nn.ModuleList()
        self.projs = nn.ParameterList()
        if config.div_val == 1:
            self.tables.append(nn.Embedding(config.n_token, config.d_embed))
            if config.d_embed != config.d_model:
                self.projs.append(nn.Parameter(torch.empty(config.d_model, config.d_embed)))
        else:
            for c in range(config.n_clusters):
                lo, hi = config.cluster_bounds(c)
                width = config.cluster_width(c)
                self.tables.append(nn.Embedding(hi - lo, width))
                self.projs.append(nn.Parameter(torch.empty(config.d_model, width)))

    def table_weight(self, c: int) -> torch.Tensor:
        """Cluster ``c``'s rows of the table(s), shape (hi_c - lo_c, d_c)."""
        if self.config.div_val == 1:
            lo, hi = self.config.cluster_bounds(c)
            return self.tables[0].weight[lo:hi]
        return self.tables[c].weight

    def proj(self, c: int) -> torch.Tensor | None:
        """Cluster ``c``'s projection (d_model, d_c), or None where there is none."""
        if self.config.div_val == 1:
            return self.projs[0] if len(self.projs) else None
        return self.projs[c]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        if cfg.div_val == 1:
            out = self.tables[0](input_ids)
            if len(self.projs):
                out = F.linear(out, self.projs[0])
            return out * self.scale
        flat = input_ids.reshape(-1)
        param = self.projs[0]
        out = torch.zeros(flat.numel(), cfg.d_model, dtype=param.dtype, device=param.device)
        for c in range(cfg.n_clusters):
            lo, hi = cfg.cluster_bounds(c)
            idx = ((flat >= lo) & (flat < hi)).nonzero(as_tuple=True)[0]
            if idx.numel() == 0:
                continue
            emb = F.linear(self.tables[c](flat[idx] - lo), self.projs[c])
            out = out.index_copy(0, idx, emb)
        return out.view(*input_ids.shape, cfg.d_model) * self.scale


class AdaptiveLogSoftmax(nn.Module):
    """Hidden states (N, d_model) and targets (N,) -> negative log-likelihoods (N,).

    The head scores the head cluster's tokens plus one logit per tail cluster; a tail token's
    log-probability is its cluster's head log-probability plus its log-probability within the
    cluster. Own parameters: ``cluster_weight`` (n_clusters - 1, d_embed), ``cluster_bias``,
    the per-cluster output ``biases``, the untied ``projs`` and, without ``tie_weight``, the
    ``tables``.
    """

    def __init__(self, config: LtsConfig):
        super().__init__()
        self.config = config
        n_tail = config.n_clusters - 1
        self.cluster_weight = nn.Parameter(torch.empty(n_tail, config.d_embed)) if n_tail else None
        self.cluster_bias = nn.Parameter(torch.zeros(n_tail)) if n_tail else None
        single = config.div_val == 1
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.zeros(config.n_token))] if single else
            [nn.Parameter(torch.zeros(hi - lo))
             for lo, hi in map(config.cluster_bounds, range(config.n_clusters))])
        self.tables = nn.ParameterList()
        if not config.tie_weight:
            if single:
                self.tables.append(nn.Parameter(torch.empty(config.n_token, config.d_embed)))
            else:
                for c in range(config.n_clusters):
                    lo, hi = config.cluster_bounds(c)
                    self.tables.append(nn.Parameter(torch.empty(hi - lo,
                                                                config.cluster_width(c))))
        # own projection of cluster c, keyed by str(c); absent where tied or not needed
        self.projs = nn.ParameterDict()
        for c in range(config.n_clusters):
            needs_proj = not single or config.d_embed != config.d_model
            if needs_proj and not config.tie_projs[c]:
                width = config.d_embed if single else config.cluster_width(c)
                self.projs[str(c)] = nn.Parameter(torch.empty(config.d_model, width))

    def _weight_bias(self, c: int, embedding: AdaptiveEmbedding):
        cfg = self.config
        lo, hi = cfg.cluster_bounds(c)
        if cfg.tie_weight:
            weight = embedding.table_weight(c)
        else:
            weight = self.tables[0][lo:hi] if cfg.div_val == 1 else self.tables[c]
        bias = self.biases[0][lo:hi] if cfg.div_val == 1 else self.biases[c]
        return weight, bias

    def _proj(self, c: int, embedding: AdaptiveEmbedding) -> torch.Tensor | None:
        if str(c) in self.projs:
            return self.projs[str(c)]
        if self.config.tie_projs[c]:
            return embedding.proj(c)
        return None

    @staticmethod
    def _logits(hidden, weight, bias, proj):
        if proj is not None:
            hidden = hidden @ proj  # (N, d_model) @ (d_model, d_c)
        return F.linear(hidden, weight, bias)

    def forward(self, hidden: torch.Tensor, target: torch.Tensor,
                embedding: AdaptiveEmbedding) -> torch.Tensor:
        cfg = self.config
        if hidden.shape[0] != target.shape[0]:
            raise ValueError(f"hidden {tuple(hidden.shape)} and target {tuple(target.shape)} "
                             "differ in length")
        weight, bias = self._weight_bias(0, embedding)
        if cfg.n_clusters > 1:
            weight = torch.cat([weight, self.cluster_weight], dim=0)
            bias = torch.cat([bias, self.cluster_bias], dim=0)
        head_logprob = F.log_softmax(self._logits(hidden, weight, bias, self._proj(0, embedding)),
                                     dim=-1)
        nll = torch.zeros(target.shape[0], dtype=hidden.dtype, device=hidden.device)
        for c in range(cfg.n_clusters):
            lo, hi = cfg.cluster_bounds(c)
            idx = ((target >= lo) & (target < hi)).nonzero(as_tuple=True)[0]
            if idx.numel() == 0:
                continue
            local = (target[idx] - lo).unsqueeze(1)
            if c == 0:
                nll_c = -head_logprob[idx].gather(1, local).squeeze(1)
            else:
                weight, bias = self._weight_bias(c, embedding)
                tail = F.log_softmax(self._logits(hidden[idx], weight, bias,
                                                  self._proj(c, embedding)), dim=-1)
                cluster_col = cfg.cutoffs[0] + c - 1
                nll_c = -(head_logprob[idx, cluster_col] + tail.gather(1, local).squeeze(1))
            nll = nll.index_copy(0, idx, nll_c)
        return nll
