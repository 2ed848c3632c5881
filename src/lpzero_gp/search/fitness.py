"""The search's fitness options: what a formula's scores are worth against the labels.

Every function takes ``scores`` (N,) and ``quality`` (N,) (finite, higher is better); the
options that look at what a proxy adds to a descriptor also take ``descriptor`` (N,), the
values of the configured descriptor (``SearchConfig.descriptor``, default the space's
``size_descriptor``), and ``within-depth`` takes ``groups`` (N,), the depth of each record.

==========================  ===================================================================
``spearman``, ``kendall``   Spearman's ρ / Kendall's τ-b of scores with quality.
``partial``                 :func:`partial_rank_correlation`: the correlation of the proxy's and
                            the label's ranks after removing from each the best monotone
                            function of the descriptor's ranks (isotonic regression, ties of the
                            descriptor fitted as one point). A proxy scores only for what the
                            descriptor does not know.
``within-depth``            :func:`lpzero_gp.metrics.within_groups`: the ``statistic`` inside
                            each group of equal depth, their size-weighted mean.
``lexicographic-tiebreak``  :func:`tiebreak_tau`: Kendall's τ-b over the pairs of records tied in
                            the descriptor. Ranking by (descriptor, proxy) lexicographically
                            orders every untied pair as the descriptor does, so this is the
                            whole of what the proxy changes in that ranking's τ.
==========================  ===================================================================

A proxy that is a function of the descriptor (constant inside each descriptor value after the
fit) adds nothing: ``partial`` and ``lexicographic-tiebreak`` give it 0.0. A label side that the
descriptor determines makes them undefined (:class:`~lpzero_gp.metrics.UndefinedCorrelationError`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as _stats
from scipy.optimize import isotonic_regression

from ..metrics import (MetricInputError, UndefinedCorrelationError, min_over_subsets, statistic,
                       within_groups)

from .fitness_names import FITNESSES, NEEDS_DESCRIPTOR, NEEDS_GROUPS, PLAIN, SIZE_OBJECTIVE
# a residual spread below this (in rank units) is a proxy the descriptor determines
_RESIDUAL_TOLERANCE = 1e-9


def _vector(values, name: str, n: int, where: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != (n,):
        raise MetricInputError(f"{where}: {name} has shape {arr.shape}, expected ({n},)")
    if not np.isfinite(arr).all():
        raise MetricInputError(f"{where}: {name} has non-finite values")
    return arr


def monotone_residuals(values: np.ndarray, descriptor: np.ndarray) -> np.ndarray:
    """``values`` (N,) minus their least-squares monotone fit on ``descriptor`` (N,).

    The records of one descriptor value are one point (their mean, weighted by their count);
    the fit is increasing when Spearman's ρ of values and descriptor is >= 0, else decreasing
    (as scikit-learn's ``increasing="auto"``).
    """
    levels, inverse, counts = np.unique(descriptor, return_inverse=True, return_counts=True)
    means = np.bincount(inverse, weights=values) / counts
    if levels.size == 1:
        return values - means[0]
    increasing = True
    if values.min() < values.max():
        rho = _stats.spearmanr(values, descriptor).statistic
        increasing = not (np.isfinite(rho) and rho < 0)
    fit = isotonic_regression(means, weights=counts.astype(np.float64),
                              increasing=increasing).x
    return values - fit[inverse]


def partial_rank_correlation(scores, quality, descriptor) -> float:
    """The rank correlation of ``scores`` and ``quality`` given ``descriptor`` (all (N,)).

    Each of the three is ranked (average ranks); the proxy's and the label's ranks each lose
    their monotone fit on the descriptor's ranks (:func:`monotone_residuals`); the result is
    the Pearson correlation of the two residuals (with a linear fit instead of the monotone
    one this is the classical partial Spearman correlation). 0.0 when the proxy's residual is
    zero (the descriptor determines its ranking).
    """
    where = "partial_rank_correlation"
    x = _vector(scores, "scores", np.size(scores), where)
    y = _vector(quality, "quality", x.size, where)
    d = _vector(descriptor, "descriptor", x.size, where)
    if x.size < 3:
        raise MetricInputError(f"{where}: needs at least 3 records, got {x.size}")
    rd = _stats.rankdata(d)
    ex = monotone_residuals(_stats.rankdata(x), rd)
    ey = monotone_residuals(_stats.rankdata(y), rd)
    ex -= ex.mean()
    ey -= ey.mean()
    if np.abs(ey).max() <= _RESIDUAL_TOLERANCE:
        raise UndefinedCorrelationError(f"{where}: the descriptor determines the quality's "
                                        f"ranking; nothing is left to correlate")
    if np.abs(ex).max() <= _RESIDUAL_TOLERANCE:
        return 0.0
    return float(np.clip(ex @ ey / np.sqrt((ex @ ex) * (ey @ ey)), -1.0, 1.0))


def tiebreak_tau(scores, quality, descriptor) -> float:
    """Kendall's τ-b of ``scores`` with ``quality`` over the pairs tied in ``descriptor``.

    Over the P pairs (i < j) with equal descriptor: (concordant − discordant) /
    sqrt((P − pairs tied in scores) (P − pairs tied in quality)). 0.0 when the scores are
    constant inside every descriptor value (the proxy breaks no tie).
    """
    where = "tiebreak_tau"
    x = _vector(scores, "scores", np.size(scores), where)
    y = _vector(quality, "quality", x.size, where)
    d = _vector(descriptor, "descriptor", x.size, where)
    s = untied_x = untied_y = 0.0
    for level in np.unique(d):
        idx = np.flatnonzero(d == level)
        if idx.size < 2:
            continue
        sx = np.sign(x[idx, None] - x[None, idx])
        sy = np.sign(y[idx, None] - y[None, idx])
        s += (sx * sy).sum() / 2.0
        untied_x += np.abs(sx).sum() / 2.0
        untied_y += np.abs(sy).sum() / 2.0
    if untied_y == 0:
        raise UndefinedCorrelationError(f"{where}: no pair tied in the descriptor differs in "
                                        f"quality (the descriptor has no ties to break)")
    if untied_x == 0:
        return 0.0
    return float(s / np.sqrt(untied_x * untied_y))


@dataclass(frozen=True)
class Fitness:
    """One fitness option (see the module docstring) with what it needs.

    ``name``: one of :data:`FITNESSES`; ``statistic``: the rank statistic of ``spearman`` /
    ``kendall`` (the name itself) and of ``within-depth`` (inside each group); ``absolute``:
    the sign is dropped; ``descriptor`` (N,) and ``groups`` (N,): per-record values, indexed
    alongside the scores (``None`` where the option does not need them).
    """

    name: str
    statistic: str = "spearman"
    absolute: bool = False
    descriptor: np.ndarray | None = None
    groups: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.name not in FITNESSES:
            raise MetricInputError(f"unknown fitness {self.name!r}; known: "
                                   f"{', '.join(FITNESSES)}")
        if self.name in NEEDS_DESCRIPTOR and self.descriptor is None:
            raise MetricInputError(f"fitness {self.name!r} needs the descriptor's values")
        if self.name in NEEDS_GROUPS and self.groups is None:
            raise MetricInputError(f"fitness {self.name!r} needs each record's depth")

    def on(self, positions: Sequence[int]) -> "Fitness":
        """The same fitness on a subset of the records (``positions`` into the arrays)."""
        idx = np.asarray(list(positions), dtype=np.int64)
        return Fitness(self.name, self.statistic, self.absolute,
                       None if self.descriptor is None else np.asarray(self.descriptor)[idx],
                       None if self.groups is None else np.asarray(self.groups)[idx])

    def signed(self, scores, quality) -> float:
        """The value before ``absolute`` is applied."""
        if self.name in PLAIN:
            return statistic(scores, quality, self.name)
        if self.name == "partial":
            return partial_rank_correlation(scores, quality, self.descriptor)
        if self.name == "lexicographic-tiebreak":
            return tiebreak_tau(scores, quality, self.descriptor)
        got = within_groups(scores, quality, self.groups, self.statistic)
        if got.mean is None:
            raise UndefinedCorrelationError(f"within-depth: {got.reason}")
        return got.mean

    def __call__(self, scores, quality, subsets: tuple = ()) -> float:
        """The fitness of ``scores`` (N,) against ``quality`` (N,); with ``subsets`` (index
        arrays), the minimum over them (with ``absolute``, the sign fixed once on all N).
        Raises :class:`~lpzero_gp.metrics.MetricInputError` when undefined."""
        if not subsets:
            value = self.signed(scores, quality)
            return abs(value) if self.absolute else value
        sign = -1.0 if self.absolute and self.signed(scores, quality) < 0 else 1.0
        scores = sign * np.asarray(scores, dtype=np.float64)
        if self.name in PLAIN:
            return min_over_subsets(scores, quality, [np.asarray(s) for s in subsets],
                                    self.name)
        quality = np.asarray(quality, dtype=np.float64)
        values = []
        for k, subset in enumerate(subsets):
            idx = np.asarray(subset, dtype=np.int64)
            try:
                values.append(self.on(idx).signed(scores[idx], quality[idx]))
            except MetricInputError as exc:
                raise type(exc)(f"subset {k} ({idx.size} records): {exc}") from None
        return float(min(values))


def descriptor_name(config, space) -> str:
    """The descriptor ``partial`` and ``lexicographic-tiebreak`` condition on: the config's
    ``descriptor``, else the space's ``size_descriptor``."""
    return config.descriptor or space.size_descriptor


def record_arrays(config, space, records, record_ids: Sequence[str]
                  ) -> tuple[np.ndarray | None, np.ndarray]:
    """``(descriptor (N,) or None, depth (N,))`` of the records in the order of
    ``record_ids`` (the bank's): the descriptor's values when the config's fitness,
    objectives or choice read it (or ``descriptor`` is given), and each record's depth.
    An unknown descriptor is a :class:`~lpzero_gp.errors.ConfigError` naming the known ones."""
    from ..errors import ConfigError
    by_id = {str(r.id): r for r in records}
    rows = [space.descriptors(by_id[str(rid)]) for rid in record_ids]
    depth = np.array([int(row["n_layers"]) for row in rows], dtype=np.int64)
    if not (config.needs_descriptor or config.descriptor is not None):
        return None, depth
    name = descriptor_name(config, space)
    if not rows or name not in rows[0]:
        known = ", ".join(rows[0]) if rows else "none"
        raise ConfigError(f"search config: descriptor = {name!r}: not a descriptor of the "
                          f"{space.name} space; known: {known}")
    return np.array([float(row[name]) for row in rows], dtype=np.float64), depth


def config_fitness(config, name: str, descriptor: np.ndarray | None,
                   depth: np.ndarray | None) -> Fitness:
    """The :class:`Fitness` ``name`` with the config's statistic and ``absolute``."""
    return Fitness(name, config.statistic, config.absolute, descriptor, depth)
