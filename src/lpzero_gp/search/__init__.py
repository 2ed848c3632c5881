"""Genetic-programming search for zero-cost proxies: :func:`lpzero_gp.search.search` (also
``lpzero_gp.run_search``), defined in :mod:`.api`; the loop in :mod:`.loop`, variation in
:mod:`.variation`, the Rule-based Pruning Strategy in :mod:`.rps`, the fitness options
(Spearman, Kendall, partial given a descriptor, within-depth, lexicographic tie-break) in
:mod:`.fitness`, NSGA-II in :mod:`.pareto`; descriptor + proxy combinations on the test split
in :mod:`.combination`, the transfer table in :mod:`.transfer`.
"""
from __future__ import annotations

import importlib

__all__ = ["search", "SearchConfig", "RunSpec", "RecordSelection", "load_spec", "SearchResult",
           "ablate_rps"]

# imported on first use, so that ``lpzero-gp --help`` (which reads .cli) needs no torch
_LAZY = {"search": ".api", "SearchConfig": ".config", "RunSpec": ".config",
         "RecordSelection": ".config", "load_spec": ".config", "SearchResult": ".results"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value


def ablate_rps(*args, **kwargs):
    """See :func:`lpzero_gp.search.ablation.ablate_rps`."""
    from .ablation import ablate_rps as run
    return run(*args, **kwargs)
