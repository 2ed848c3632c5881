"""Benchmarks: tabular records of trained architectures, each with a quality label.

A benchmark module turns a published file format into :class:`Record` objects. The direction
of the label (higher or lower is better) is fixed here, once: :attr:`Record.quality` is always
"higher is better", and every correlation in lpzero-gp is computed against it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import RecordError


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
        raise RecordError(f"record {rid!r} is not in {self.source}")

    def subset(self, ids: Sequence[str] | None = None, limit: int | None = None) -> "Benchmark":
        """The records with the given ids (in that order), or the first ``limit`` records."""
        recs = self.records
        if ids is not None:
            recs = tuple(self.by_id(str(i)) for i in ids)
        if limit is not None:
            recs = recs[:limit]
        return Benchmark(self.name, self.source, self.label_name, self.higher_is_better, recs)
