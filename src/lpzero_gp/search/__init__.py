"""Genetic-programming search for zero-cost proxies (see :func:`lpzero_gp.search.api.search`).

The package itself is callable: ``lpzero_gp.search(...)`` is :func:`search`, while its
modules stay reachable as ``lpzero_gp.search.api``, ``lpzero_gp.search.loop`` and so on.
"""
from __future__ import annotations

import sys
import types

from .api import search
from .config import RecordSelection, RunSpec, SearchConfig, load_spec
from .results import SearchResult

__all__ = ["search", "SearchConfig", "RunSpec", "RecordSelection", "load_spec", "SearchResult",
           "ablate_rps"]


def ablate_rps(*args, **kwargs):
    """See :func:`lpzero_gp.search.ablation.ablate_rps`."""
    from .ablation import ablate_rps as run
    return run(*args, **kwargs)


class _CallableModule(types.ModuleType):
    """``lpzero_gp.search(...)`` calls :func:`search`."""

    def __call__(self, *args, **kwargs):
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
