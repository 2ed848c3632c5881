"""Rank correlations between proxy scores and benchmark quality, with their uncertainty.

Every function takes ``scores`` (one proxy value per architecture, shape (n,)) and ``quality``
(the benchmark label oriented higher-is-better, :attr:`Record.quality`, shape (n,)). A positive
statistic means "a higher score predicts a better architecture".

Kendall's tau is tau-b (ties handled, as :func:`scipy.stats.kendalltau`); Spearman's rho is the
Pearson correlation of average ranks (as :func:`scipy.stats.spearmanr`). Bootstrap functions
resample records with replacement and are deterministic for a given ``seed``.

A correlation with a constant side is undefined: single statistics raise
:class:`UndefinedCorrelationError`; functions that report many statistics (:func:`within_groups`,
:func:`top_k_tau`) mark the undefined ones as ``None`` and say why.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Hashable, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats as _stats

from .errors import LpzeroError

STATS = ("spearman", "kendall")
MIN_POINTS = 3
# Above this many records the (n, n) pair matrices of the vectorised Kendall bootstrap would
# take too much memory; resamples are then evaluated one by one with scipy.
_MAX_PAIR_MATRIX = 4000


class MetricInputError(LpzeroError, ValueError):
    """Scores or qualities cannot be correlated: wrong length, too few points, NaN or inf."""


class UndefinedCorrelationError(MetricInputError):
    """A rank correlation is undefined because the scores or the qualities are all equal."""


# ----------------------------------------------------------------------------- validation


def _as_vector(values, name: str, where: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(f"{where}: {name} cannot be read as numbers ({exc})") from None
    if arr.ndim != 1:
        raise MetricInputError(f"{where}: {name} must be one-dimensional, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise MetricInputError(
            f"{where}: {name} has {int(bad.sum())} non-finite value(s) (NaN or inf); the first "
            f"is at index {first} ({arr[first]!r})")
    return arr


def _check_pair(scores, quality, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Validated float64 vectors of equal length >= 3."""
    x = _as_vector(scores, "scores", where)
    y = _as_vector(quality, "quality", where)
    if x.shape != y.shape:
        raise MetricInputError(
            f"{where}: scores has {x.size} values but quality has {y.size}; they must pair up "
            "one score per architecture")
    if x.size < MIN_POINTS:
        raise MetricInputError(
            f"{where}: a rank correlation needs at least {MIN_POINTS} points, got {x.size}")
    return x, y


def _check_not_constant(x: np.ndarray, y: np.ndarray, where: str) -> None:
    for name, arr in (("scores", x), ("quality", y)):
        if arr.min() == arr.max():
            raise UndefinedCorrelationError(
                f"{where}: {name} are all equal ({arr[0]!r} for {arr.size} architectures); "
                "a rank correlation is undefined")


def _check_stat(stat: str, where: str) -> str:
    if stat not in STATS:
        raise MetricInputError(f"{where}: stat must be one of {STATS}, got {stat!r}")
    return stat


# ------------------------------------------------------------------------ plain statistics


def kendall_tau(scores, quality) -> float:
    """Kendall's tau-b between ``scores`` and ``quality`` (both shape (n,), n >= 3)."""
    x, y = _check_pair(scores, quality, "kendall_tau")
    _check_not_constant(x, y, "kendall_tau")
    return float(_stats.kendalltau(x, y).statistic)


def spearman_rho(scores, quality) -> float:
    """Spearman's rho (average ranks for ties) between ``scores`` and ``quality``, shape (n,)."""
    x, y = _check_pair(scores, quality, "spearman_rho")
    _check_not_constant(x, y, "spearman_rho")
    return float(_stats.spearmanr(x, y).statistic)


_STAT_FUNCS = {"spearman": spearman_rho, "kendall": kendall_tau}


def statistic(scores, quality, stat: str = "spearman") -> float:
    """``spearman_rho`` or ``kendall_tau`` by name."""
    return _STAT_FUNCS[_check_stat(stat, "statistic")](scores, quality)


@dataclass(frozen=True)
class Correlation:
    """Both rank correlations of one proxy on ``n`` architectures."""

    kendall_tau: float
    spearman_rho: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def correlations(scores, quality) -> Correlation:
    """Kendall's tau-b and Spearman's rho of ``scores`` against ``quality`` (shape (n,))."""
    x, y = _check_pair(scores, quality, "correlations")
    return Correlation(kendall_tau(x, y), spearman_rho(x, y), int(x.size))


def fitness(scores, quality, stat: str = "spearman", absolute: bool = False) -> float:
    """The search objective: the rank correlation of a proxy's scores with quality.

    With ``absolute`` the sign is dropped (a proxy that ranks backwards is as informative).
    Constant scores raise :class:`UndefinedCorrelationError`: the caller records that proxy as
    invalid with that reason.
    """
    value = statistic(scores, quality, stat)
    return abs(value) if absolute else value


def min_over_subsets(scores, quality, subsets: Sequence[Sequence[int]],
                     stat: str = "spearman") -> float:
    """The smallest statistic over index subsets of the records (a robust fitness).

    ``subsets`` is a sequence of integer index arrays into ``scores``/``quality``. An undefined
    correlation on any subset raises :class:`UndefinedCorrelationError` naming the subset.
    """
    x, y = _check_pair(scores, quality, "min_over_subsets")
    _check_stat(stat, "min_over_subsets")
    if len(subsets) == 0:
        raise MetricInputError("min_over_subsets: no subsets given")
    values = []
    for k, subset in enumerate(subsets):
        idx = np.asarray(subset)
        if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise MetricInputError(
                f"min_over_subsets: subset {k} must be a 1-D array of integer indices")
        if idx.size and (idx.min() < -x.size or idx.max() >= x.size):
            raise MetricInputError(
                f"min_over_subsets: subset {k} indexes outside the {x.size} records")
        try:
            values.append(statistic(x[idx], y[idx], stat))
        except MetricInputError as exc:
            raise type(exc)(f"min_over_subsets: subset {k} ({idx.size} records): {exc}") \
                from None
    return float(min(values))


# ----------------------------------------------------------------- vectorised resampling


def _resample_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap record indices, shape (n_boot, n), drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _spearman_rows(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Spearman's rho of every resample: ``idx`` shape (B, n) -> shape (B,), NaN if constant."""
    rx = _stats.rankdata(x[idx], axis=1)
    ry = _stats.rankdata(y[idx], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    num = np.einsum("bi,bi->b", rx, ry)
    den = np.sqrt(np.einsum("bi,bi->b", rx, rx) * np.einsum("bi,bi->b", ry, ry))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = num / den
    rho[den == 0] = np.nan
    return np.clip(rho, -1.0, 1.0)


def _kendall_rows(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Kendall's tau-b of every resample: ``idx`` shape (B, n) -> shape (B,), NaN if constant.

    A resample is a vector of multiplicities c (shape (n,)) of the original records. With
    C[i, j] = sign(x_i - x_j) sign(y_i - y_j) the resample's concordant minus discordant pair
    count is c^T C c / 2, and its pairs untied in x (in y) are c^T Tx c / 2 (c^T Ty c / 2), with
    Tx[i, j] = [x_i != x_j]: tau-b = c^T C c / sqrt(c^T Tx c * c^T Ty c). Copies of one record
    are tied on both sides and drop out, as in tau-b. All sums are exact integers in float64.
    """
    n_boot, n = idx.shape
    if n > _MAX_PAIR_MATRIX:
        out = np.empty(n_boot)
        for b in range(n_boot):
            xs, ys = x[idx[b]], y[idx[b]]
            const = xs.min() == xs.max() or ys.min() == ys.max()
            out[b] = np.nan if const else _stats.kendalltau(xs, ys).statistic
        return out
    counts = np.bincount((np.arange(n_boot)[:, None] * n + idx).ravel(),
                         minlength=n_boot * n).reshape(n_boot, n).astype(np.float64)
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])

    def quad(matrix: np.ndarray) -> np.ndarray:
        return np.einsum("bi,bi->b", counts @ matrix, counts)

    num = quad(sx * sy)
    den = np.sqrt(quad(np.abs(sx)) * quad(np.abs(sy)))
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = num / den
    tau[den == 0] = np.nan
    return np.clip(tau, -1.0, 1.0)


_ROW_FUNCS = {"spearman": _spearman_rows, "kendall": _kendall_rows}


def _check_boot(n_boot: int, level: float, where: str) -> None:
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise MetricInputError(f"{where}: n_boot must be a positive integer, got {n_boot!r}")
    if not 0.0 < level < 1.0:
        raise MetricInputError(f"{where}: level must lie strictly between 0 and 1, got {level!r}")


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


@dataclass(frozen=True)
class Interval:
    """A statistic on the full sample and its percentile bootstrap interval.

    ``n_undefined`` counts resamples on which the statistic was undefined (a constant side);
    they are left out of the percentiles.
    """

    estimate: float
    low: float
    high: float
    n_boot: int
    level: float = 0.95
    stat: str = "spearman"
    n_undefined: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def bootstrap_ci(scores, quality, stat: str = "spearman", n_boot: int = 1000,
                 level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of a rank correlation, resampling records.

    ``scores``, ``quality``: shape (n,). The estimate is the full-sample statistic. Raises
    :class:`UndefinedCorrelationError` if the full sample or every resample is constant.
    """
    where = "bootstrap_ci"
    x, y = _check_pair(scores, quality, where)
    _check_stat(stat, where)
    _check_boot(n_boot, level, where)
    estimate = statistic(x, y, stat)
    values = _ROW_FUNCS[stat](x, y, _resample_indices(x.size, int(n_boot), seed))
    defined = values[np.isfinite(values)]
    if defined.size == 0:
        raise UndefinedCorrelationError(
            f"{where}: the {stat} statistic is undefined on every one of {n_boot} resamples")
    low, high = _percentiles(defined, level)
    return Interval(estimate, low, high, int(n_boot), float(level), stat,
                    int(values.size - defined.size))


@dataclass(frozen=True)
class PairedTest:
    """Proxy A minus proxy B on the same records: the difference, its interval, a p-value.

    ``p_value`` is two-sided, from the bootstrap distribution of the difference (the smallest
    level at which the percentile interval would exclude 0, with a +1 correction so it is never
    0). ``verdict`` is "no difference" when the interval contains 0.
    """

    diff: float
    low: float
    high: float
    p_value: float
    n_boot: int = 0
    level: float = 0.95
    stat: str = "spearman"
    n_undefined: int = 0

    @property
    def significant(self) -> bool:
        return not (self.low <= 0.0 <= self.high)

    @property
    def verdict(self) -> str:
        if not self.significant:
            return "no difference"
        return "A higher" if self.diff > 0 else "B higher"

    def as_dict(self) -> dict:
        return {**asdict(self), "significant": self.significant, "verdict": self.verdict}


def paired_bootstrap(scores_a, scores_b, quality, stat: str = "spearman", n_boot: int = 1000,
                     seed: int = 0, level: float = 0.95) -> PairedTest:
    """Bootstrap test of stat(A) - stat(B), both proxies scored on the same resampled records.

    ``scores_a``, ``scores_b``, ``quality``: shape (n,). Resamples on which either statistic is
    undefined are dropped and counted in ``n_undefined``.
    """
    where = "paired_bootstrap"
    xa, y = _check_pair(scores_a, quality, where + " (scores_a)")
    xb, _ = _check_pair(scores_b, quality, where + " (scores_b)")
    _check_stat(stat, where)
    _check_boot(n_boot, level, where)
    diff = statistic(xa, y, stat) - statistic(xb, y, stat)
    idx = _resample_indices(y.size, int(n_boot), seed)
    rows = _ROW_FUNCS[stat]
    diffs = rows(xa, y, idx) - rows(xb, y, idx)
    defined = diffs[np.isfinite(diffs)]
    if defined.size == 0:
        raise UndefinedCorrelationError(
            f"{where}: the {stat} difference is undefined on every one of {n_boot} resamples")
    low, high = _percentiles(defined, level)
    below = (np.count_nonzero(defined <= 0.0) + 1) / (defined.size + 1)
    above = (np.count_nonzero(defined >= 0.0) + 1) / (defined.size + 1)
    p_value = float(min(1.0, 2.0 * min(below, above)))
    return PairedTest(float(diff), low, high, p_value, int(n_boot), float(level), stat,
                      int(diffs.size - defined.size))


# ------------------------------------------------------------------- structure-aware views


@dataclass(frozen=True)
class GroupCorrelation:
    """A correlation computed inside groups (e.g. architectures of equal depth).

    ``mean`` is the group-size weighted mean over the groups where it is defined, ``None`` when
    no group qualifies (``reason`` says why). ``per_group`` maps group -> statistic, ``sizes``
    group -> member count, ``skipped`` group -> why it was left out.
    """

    mean: float | None
    per_group: Mapping[Hashable, float]
    sizes: Mapping[Hashable, int]
    skipped: Mapping[Hashable, str] = field(default_factory=dict)
    stat: str = "spearman"

    @property
    def defined(self) -> bool:
        return self.mean is not None

    @property
    def reason(self) -> str | None:
        if self.defined:
            return None
        return "no group has >= 3 members with varying scores and quality"

    def as_dict(self) -> dict:
        key = lambda g: g.item() if isinstance(g, np.generic) else g  # noqa: E731
        return {"mean": self.mean, "stat": self.stat,
                "per_group": {key(g): v for g, v in self.per_group.items()},
                "sizes": {key(g): v for g, v in self.sizes.items()},
                "skipped": {key(g): v for g, v in self.skipped.items()}}


def within_groups(scores, quality, groups, stat: str = "spearman") -> GroupCorrelation:
    """The statistic inside each group of records, and its size-weighted mean.

    ``groups``: shape (n,), one hashable label per record (e.g. the number of layers). A group
    with fewer than 3 members, or whose scores or qualities are all equal, is skipped and listed
    in ``skipped`` with the reason.
    """
    where = "within_groups"
    x, y = _check_pair(scores, quality, where)
    _check_stat(stat, where)
    labels = np.asarray(groups)
    if labels.shape != x.shape:
        raise MetricInputError(
            f"{where}: groups has shape {labels.shape} but scores has {x.shape}")
    per_group: dict = {}
    sizes: dict = {}
    skipped: dict = {}
    for g in np.unique(labels):
        member = labels == g
        key = g.item() if isinstance(g, np.generic) else g
        sizes[key] = int(member.sum())
        if sizes[key] < MIN_POINTS:
            skipped[key] = f"only {sizes[key]} member(s), need {MIN_POINTS}"
            continue
        xs, ys = x[member], y[member]
        if xs.min() == xs.max():
            skipped[key] = "scores are constant in this group"
            continue
        if ys.min() == ys.max():
            skipped[key] = "quality is constant in this group"
            continue
        per_group[key] = statistic(xs, ys, stat)
    if per_group:
        weights = np.array([sizes[g] for g in per_group], dtype=np.float64)
        mean = float(np.average(np.array(list(per_group.values())), weights=weights))
    else:
        mean = None
    return GroupCorrelation(mean, per_group, sizes, skipped, stat)


def top_k_tau(scores, quality, fractions: Iterable[float] = (0.1, 0.3, 0.5)
              ) -> dict[float, float | None]:
    """Kendall's tau-b among the top fraction of architectures by true quality.

    For each fraction f the ceil(f * n) records of highest quality are kept (ties in quality at
    the cut are broken by record order). The value is ``None`` where tau is undefined there
    (constant scores or quality among the kept records). Fewer than 3 kept records is an error.
    """
    where = "top_k_tau"
    x, y = _check_pair(scores, quality, where)
    order = np.argsort(-y, kind="stable")
    out: dict[float, float | None] = {}
    for f in fractions:
        f = float(f)
        if not 0.0 < f <= 1.0:
            raise MetricInputError(f"{where}: fraction {f!r} must lie in (0, 1]")
        k = int(math.ceil(f * x.size - 1e-9))
        if k < MIN_POINTS:
            raise MetricInputError(
                f"{where}: fraction {f} of {x.size} records keeps {k}, fewer than {MIN_POINTS}")
        top = order[:k]
        try:
            out[f] = kendall_tau(x[top], y[top])
        except UndefinedCorrelationError:
            out[f] = None
    return out
