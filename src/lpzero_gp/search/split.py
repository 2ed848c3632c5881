"""Honest selection: records split three ways, into search, validation and test.

The search split drives fitness (and supplies the RPS probe architectures and the random
subsets of the "minimum over subsets" fitness); the validation split picks the final proxy from
the hall of fame; the test split is only reported: nothing in the search reads it, so its
figures are the held-out ones. The split is seeded and stratified by depth (the number of
layers, read from the bank's layer mask), so each split holds every depth in about the
configured proportion, and every depth with three or more architectures appears in all three.

Only ``layer_mask``, ``record_ids``, ``quality``, ``len`` and ``subset`` of the bank are read
here: the split depends on the records' depths and order, never on their captured tensors.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ConfigError

SPLIT_NAMES = ("search", "validation", "test")


@dataclass(frozen=True)
class Split:
    """Positions into the bank: ``search``, ``validation`` and ``test`` (disjoint, sorted,
    together all records), ``probes`` (a few positions of ``search``), ``subsets`` (index arrays
    into the *search* split, for the min-over-subsets fitness; empty when unused), and the
    ``fractions`` and ``seed`` that made it."""

    search: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...]
    probes: tuple[int, ...]
    subsets: tuple[tuple[int, ...], ...] = ()
    fractions: tuple[float, ...] = ()
    seed: int | None = None

    def parts(self) -> dict[str, tuple[int, ...]]:
        """``{"search": ..., "validation": ..., "test": ...}`` positions."""
        return {name: getattr(self, name) for name in SPLIT_NAMES}

    def record_ids(self, record_ids: Sequence[str]) -> dict[str, list[str]]:
        """The record ids of each of the three splits."""
        return {name: [record_ids[i] for i in idx] for name, idx in self.parts().items()}

    def as_dict(self, record_ids: Sequence[str]) -> dict:
        """What ``split.json`` holds: how the split was made and the record ids of each part."""
        return {"seed": self.seed, "fractions": list(self.fractions), "stratified_by": "depth",
                **self.record_ids(record_ids),
                "probes": [record_ids[i] for i in self.probes],
                "subsets": [list(s) for s in self.subsets]}


def layer_counts(bank) -> np.ndarray:
    """Number of layers of each architecture, shape (N,)."""
    return np.asarray(bank.layer_mask).sum(axis=1).astype(np.int64)


def apportion(size: int, fractions: Sequence[float], rng: random.Random) -> list[int]:
    """How many of a stratum of ``size`` members go to each split: the floor of each quota
    ``fraction * size``, the remaining members to splits drawn (without replacement) with the
    quotas' fractional parts as weights, so the expected count of each split is its quota.
    In a stratum of at least one member per split, a split left empty then takes one member
    from the split furthest above its quota among those holding two or more."""
    quotas = [f * size for f in fractions]
    counts = [math.floor(q) for q in quotas]
    weights = [q - c for q, c in zip(quotas, counts)]
    for _ in range(size - sum(counts)):
        open_ = [k for k, w in enumerate(weights) if w > 0] or list(range(len(counts)))
        k = rng.choices(open_, weights=[weights[j] or 1.0 for j in open_], k=1)[0]
        counts[k] += 1
        weights[k] = 0.0
    if size >= len(fractions):
        for empty in [k for k, c in enumerate(counts) if c == 0]:
            donors = [j for j, c in enumerate(counts) if c >= 2]
            donor = max(donors, key=lambda j: (counts[j] - quotas[j], -j))
            counts[donor] -= 1
            counts[empty] += 1
    return counts


def stratified_split(strata: np.ndarray, fractions: Sequence[float], seed: int
                     ) -> tuple[tuple[int, ...], ...]:
    """Positions ``0..N-1`` split into one sorted tuple per fraction (search, validation,
    test), each stratum apportioned by :func:`apportion` after a seeded shuffle.
    Deterministic for a given ``seed``."""
    rng = random.Random(seed)
    values = strata.tolist()
    parts: list[list[int]] = [[] for _ in fractions]
    for value in sorted(set(values)):
        members = [i for i, s in enumerate(values) if s == value]
        rng.shuffle(members)
        start = 0
        for part, count in zip(parts, apportion(len(members), fractions, rng)):
            part.extend(members[start:start + count])
            start += count
    return tuple(tuple(sorted(p)) for p in parts)


def choose_probes(bank, search: tuple[int, ...], count: int,
                  sizes: np.ndarray | None = None) -> tuple[int, ...]:
    """``count`` search-split architectures spread over size: the smallest, the largest and
    evenly spaced ones between, by ``sizes`` ((N,), e.g. total weight counts) when given,
    else by depth."""
    if not search:
        return ()
    size = (layer_counts(bank).astype(np.float64) if sizes is None
            else np.asarray(sizes, dtype=np.float64))
    if size.shape != (len(bank),):
        raise ValueError(f"sizes must have shape ({len(bank)},), not {size.shape}")
    ordered = sorted(search, key=lambda i: (float(size[i]), i))
    if count >= len(ordered):
        return tuple(sorted(ordered))
    if count == 1:
        return (ordered[len(ordered) // 2],)
    picks = {ordered[round(k * (len(ordered) - 1) / (count - 1))] for k in range(count)}
    return tuple(sorted(picks))


def random_subsets(n: int, count: int, fraction: float, seed: int
                   ) -> tuple[tuple[int, ...], ...]:
    """``count`` sorted index arrays into ``range(n)``, each of ``round(fraction * n)``
    distinct positions (at least 3), drawn with a generator seeded by ``seed``."""
    if count == 0:
        return ()
    size = min(n, max(3, round(fraction * n)))
    rng = np.random.default_rng(seed)
    return tuple(tuple(sorted(int(i) for i in rng.choice(n, size=size, replace=False)))
                 for _ in range(count))


def make_split(bank, fractions: Sequence[float], seed: int, probes: int = 3,
               subsets: int = 0, subset_fraction: float = 0.5,
               sizes: np.ndarray | None = None) -> Split:
    """The split of ``bank``'s records for one search (see the module docstring);
    ``fractions`` = (search, validation, test); ``sizes`` (N,) order the probe choice."""
    fractions = tuple(float(f) for f in fractions)
    search, validation, test = stratified_split(layer_counts(bank), fractions, seed)
    if len(search) < 3:
        raise ConfigError(f"the search split holds {len(search)} records; a rank correlation "
                          f"needs at least 3 (records: {len(bank)}, split_fractions: "
                          f"{list(fractions)})")
    return Split(search, validation, test, choose_probes(bank, search, probes, sizes),
                 random_subsets(len(search), subsets, subset_fraction, seed + 7919),
                 fractions, seed)
