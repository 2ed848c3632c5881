"""Jacobian proxies: the correlations of gradients with respect to the inputs (the hidden
states entering the first layer, or the position-embedding table), from the gradient pass."""
from __future__ import annotations

import numpy as np
import torch

from .passes.gradient import GradientPass
from .registry import ProxyUndefinedError, hand_designed

JACOBIAN_EPS = 1e-5


def _jacobian_statistic(rows: np.ndarray, what: str) -> float:
    """-sum log(v + eps) + 1/(v + eps) over the eigenvalues of corrcoef(rows)."""
    if rows.shape[0] < 2:
        raise ProxyUndefinedError(f"{what}: needs at least 2 rows, got {rows.shape[0]}")
    spread = rows.std(axis=1)
    if not np.all(spread > 0):
        raise ProxyUndefinedError(f"{what}: {int((spread == 0).sum())} row(s) are constant, "
                                  "their correlations are undefined")
    corr = np.corrcoef(rows)
    v = np.linalg.eigvalsh((corr + corr.T) / 2)
    return float(-np.sum(np.log(v + JACOBIAN_EPS) + 1.0 / (v + JACOBIAN_EPS)))


@hand_designed("jacobian_cov", label="Jacobian covariance", source="Mellor et al. 2021",
               needs="gradient",
               latex=r"\mathrm{JacobCov}")
def jacobian_cov(p: GradientPass) -> float:
    rows = p.input_grad.to(torch.float64).reshape(p.input_grad.shape[0], -1).numpy()
    return _jacobian_statistic(rows, "jacobian_cov (one row per sample)")


@hand_designed("jacobian_score", label="Jacobian score (position emb.)",
               source="Serianni & Kalita 2023",
               needs="gradient",
               latex=r"\mathrm{JacobScore}")
def jacobian_score(p: GradientPass) -> float:
    if p.position_grad is None:
        raise ProxyUndefinedError("jacobian_score: the model has no position-embedding table")
    used = p.position_grad[:p.seq_len].to(torch.float64)  # (S, E)
    return _jacobian_statistic(used.T.numpy(), "jacobian_score (position-embedding features)")
