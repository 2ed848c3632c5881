"""Benchmarks: tabular records of trained architectures, each with a quality label.

A benchmark module turns a published file format into :class:`Record` objects. The direction
of the label (higher or lower is better) is fixed here, once: :attr:`Record.quality` is always
"higher is better", and every correlation in lpzero-gp is computed against it.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import RecordError, UsageError


@dataclass(frozen=True)
class Record:
    """One trained architecture of a benchmark.

    ``config`` is the space's typed architecture config, ``label`` the published value as-is
    (GLUE score, validation perplexity), ``extra`` published side values (parameter counts...).
    """

    benchmark: str
    id: str
    config: Any
    label: float
    higher_is_better: bool
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def quality(self) -> float:
        """The label oriented so that higher is better (``-label`` for perplexity)."""
        return self.label if self.higher_is_better else -self.label


@dataclass(frozen=True)
class Benchmark:
    """An ordered collection of records from one file (or folder) of one benchmark."""

    name: str
    source: str
    label_name: str
    higher_is_better: bool
    records: tuple[Record, ...]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self):
        return iter(self.records)

    def __getitem__(self, i):
        return self.records[i]

    @property
    def ids(self) -> list[str]:
        return [r.id for r in self.records]

    def quality(self) -> np.ndarray:
        """Labels oriented higher-is-better, shape (n_records,)."""
        return np.array([r.quality for r in self.records], dtype=np.float64)

    def by_id(self, rid: str) -> Record:
        for r in self.records:
            if r.id == str(rid):
                return r
        raise RecordError(f"record {rid!r} is not in {self.source} (see --records)")

    def subset(self, ids: Sequence[str] | None = None, limit: int | None = None) -> "Benchmark":
        """The records with the given ids (in that order), or the first ``limit`` records."""
        recs = self.records
        if ids is not None:
            ids = [str(i) for i in ids]
            twice = sorted(i for i, n in Counter(ids).items() if n > 1)
            if twice:
                raise UsageError(f"record id(s) {', '.join(map(repr, twice))} given more than "
                                 f"once; give each record once")
            recs = tuple(self.by_id(i) for i in ids)
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise UsageError(f"limit must be a whole number >= 1 (the first N records), "
                                 f"got {limit!r}")
            recs = recs[:limit]
        return Benchmark(self.name, self.source, self.label_name, self.higher_is_better, recs)
