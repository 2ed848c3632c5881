"""Honest selection: records split into a search set and a validation set.

The search set drives fitness; the validation set picks the final proxy from the hall of fame;
figures are reported on both and on all records. The split is seeded and stratified by depth
(the number of layers, read from the bank's layer mask), so both sets hold every depth in
about the same proportion. Probe architectures for the Rule-based Pruning Strategy and the
random subsets of the "minimum over subsets" fitness are drawn from the search set only.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from ..bank import InputBank
from ..errors import ConfigError


@dataclass(frozen=True)
class Split:
    """Positions into the bank: ``search`` and ``validation`` (disjoint, sorted, together all
    records), ``probes`` (a few positions of ``search``), ``subsets`` (index arrays into the
    *search* split, for the min-over-subsets fitness; empty when unused)."""

    search: tuple[int, ...]
    validation: tuple[int, ...]
    probes: tuple[int, ...]
    subsets: tuple[tuple[int, ...], ...] = ()

    def as_dict(self, record_ids: list[str]) -> dict:
        return {"search": [record_ids[i] for i in self.search],
                "validation": [record_ids[i] for i in self.validation],
                "probes": [record_ids[i] for i in self.probes],
                "subsets": [list(s) for s in self.subsets]}


def layer_counts(bank: InputBank) -> np.ndarray:
    """Number of layers of each architecture, shape (N,)."""
    return bank.layer_mask.sum(dim=1).numpy().astype(np.int64)


def stratified_split(strata: np.ndarray, fraction: float, seed: int
                     ) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Positions ``0..N-1`` split into (search, validation), ``fraction`` of each stratum in
    search (rounded; at least one on each side of a stratum of two or more when
    ``0 < fraction < 1``). Deterministic for a given ``seed``."""
    rng = random.Random(seed)
    search: list[int] = []
    for value in sorted(set(strata.tolist())):
        members = [i for i, s in enumerate(strata.tolist()) if s == value]
        rng.shuffle(members)
        if fraction >= 1.0:
            take = len(members)
        elif len(members) == 1:
            take = int(rng.random() < fraction)
        else:
            take = min(len(members) - 1, max(1, round(fraction * len(members))))
        search.extend(members[:take])
    chosen = set(search)
    return (tuple(sorted(chosen)),
            tuple(i for i in range(len(strata)) if i not in chosen))


def choose_probes(bank: InputBank, search: tuple[int, ...], count: int) -> tuple[int, ...]:
    """``count`` search-set architectures spread over size: the smallest, the largest and
    evenly spaced ones between, by total weight count (by depth when no ``W`` was captured)."""
    if not search:
        return ()
    if "W" in bank.names:
        size = bank.tensor_numel("W")
    else:
        size = layer_counts(bank).astype(np.float64)
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


def make_split(bank: InputBank, search_fraction: float, seed: int, probes: int = 3,
               subsets: int = 0, subset_fraction: float = 0.5) -> Split:
    """The split of ``bank``'s records for one search (see the module docstring)."""
    search, validation = stratified_split(layer_counts(bank), search_fraction, seed)
    if len(search) < 3:
        raise ConfigError(f"the search split holds {len(search)} records; a rank correlation "
                         f"needs at least 3 (records: {len(bank)}, search_fraction: "
                         f"{search_fraction})")
    return Split(search, validation, choose_probes(bank, search, probes),
                 random_subsets(len(search), subsets, subset_fraction, seed + 7919))
