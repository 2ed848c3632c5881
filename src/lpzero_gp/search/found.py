"""Reading a search's ``found.json`` and recomputing its figures on the records of each split.

A ``found.json`` written since the three-way split carries, besides the proxy, its figures per
split (``split_figures``), the record ids of each split and the run's provenance
(``provenance``: settings, seeds, capture settings, version, git commit). Older files (the
committed ``experiments/*/found.json`` until a search rewrites them) hold the proxy and its
figures only, with the all-record figures unprefixed: they load with ``splits`` ``None`` and
``headline_split`` ``"all"``.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..errors import FormulaError, RecordError
from ..language import Proxy
from .results import figures_on
from .split import SPLIT_NAMES

MATCH_TOLERANCE = 1e-6
COMPARED = ("kendall_tau", "spearman_rho", "n")


@dataclass
class FoundProxy:
    """A found proxy with what its file says about the search that found it.

    ``splits``: record ids per split (``None`` in older files); ``split_figures``: the stored
    figures per split; ``provenance``: the run's provenance block (``None`` in older files);
    ``headline_split``: the split whose figures ``proxy.figures`` gives unprefixed.
    """

    path: Path
    proxy: Proxy
    splits: dict[str, list[str]] | None = None
    split_figures: dict | None = None
    provenance: dict | None = None
    statistic: str = "spearman"
    headline_split: str = "all"

    @property
    def space(self) -> str | None:
        return (self.provenance or {}).get("space")

    @property
    def capture(self) -> dict:
        return dict((self.provenance or {}).get("capture") or {})

    @property
    def absolute(self) -> bool:
        return bool(((self.provenance or {}).get("config") or {}).get("absolute", False))


def _splits_of(data: Mapping, source: str) -> dict[str, list[str]] | None:
    splits = (data.get("provenance") or {}).get("splits")
    if splits is None:
        return None
    if not isinstance(splits, Mapping) or set(splits) != set(SPLIT_NAMES) or not all(
            isinstance(ids, list) for ids in splits.values()):
        raise FormulaError(f"{source}: provenance.splits must map {', '.join(SPLIT_NAMES)} to "
                          f"lists of record ids")
    return {name: [str(i) for i in splits[name]] for name in SPLIT_NAMES}


def read_found(path: str | os.PathLike) -> FoundProxy:
    """The proxy of a ``found.json`` file (or any proxy JSON), with its splits and provenance
    when the file has them."""
    path = Path(path)
    proxy = Proxy.from_json(path)
    data = json.loads(path.read_text())
    provenance = data.get("provenance")
    if provenance is not None and not isinstance(provenance, Mapping):
        raise FormulaError(f"{path}: 'provenance' must be an object")
    return FoundProxy(path=path, proxy=proxy, splits=_splits_of(data, str(path)),
                      split_figures=data.get("split_figures"), provenance=provenance,
                      statistic=data.get("statistic", "spearman"),
                      headline_split=data.get("headline_split", "all"))


def split_positions(splits: Mapping[str, Sequence[str]], record_ids: Sequence[str],
                    source: str) -> dict[str, list[int]]:
    """Positions in ``record_ids`` of each split's records; an error naming every record of a
    split that ``record_ids`` (the records of ``source``) lacks."""
    where = {rid: i for i, rid in enumerate(record_ids)}
    missing = {name: [rid for rid in ids if rid not in where] for name, ids in splits.items()}
    missing = {name: ids for name, ids in missing.items() if ids}
    if missing:
        listed = "; ".join(f"{name}: {', '.join(ids)}" for name, ids in missing.items())
        count = sum(len(ids) for ids in missing.values())
        raise RecordError(f"{count} record(s) of the proxy's splits are not in {source} "
                          f"({listed}); evaluate it on the benchmark it was searched on")
    return {name: [where[rid] for rid in ids] for name, ids in splits.items()}


def recompute_split_figures(found: FoundProxy, scores: np.ndarray, quality: np.ndarray,
                            positions: Mapping[str, Sequence[int]]) -> dict:
    """Figures (kendall_tau, spearman_rho, fitness, n, n_invalid, reason) of ``scores`` (N,)
    against ``quality`` (N,) on each split's ``positions``."""
    return {name: figures_on(scores, quality, idx, found.statistic, found.absolute)
            for name, idx in positions.items()}


def differences(recomputed: Mapping[str, dict], stored: Mapping[str, dict] | None,
                tolerance: float = MATCH_TOLERANCE) -> list[str]:
    """Where ``recomputed`` figures differ from ``stored`` ones (tau and rho by more than
    ``tolerance``, n at all), one phrase per split; empty when they match."""
    out = []
    for name, mine in recomputed.items():
        theirs = (stored or {}).get(name)
        if theirs is None:
            out.append(f"{name} (no stored figures)")
            continue
        bad = [f"{key} {_fmt(mine.get(key))} vs {_fmt(theirs.get(key))} stored"
               for key in COMPARED if not _close(mine.get(key), theirs.get(key), tolerance)]
        if bad:
            out.append(f"{name} ({', '.join(bad)})")
    return out


def _close(a, b, tolerance: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= tolerance


def _fmt(value) -> str:
    if value is None:
        return "--"
    return str(value) if isinstance(value, int) else f"{value:+.6f}"
