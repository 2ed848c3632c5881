"""Genetic-programming search for zero-cost proxies (see :func:`lpzero_gp.search.api.search`).

The package itself is callable: ``lpzero_gp.search(...)`` is :func:`search`, while its
modules stay reachable as ``lpzero_gp.search.api``, ``lpzero_gp.search.loop`` and so on.
"""
from __future__ import annotations

import importlib
import sys
import types

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


class _CallableModule(types.ModuleType):
    """``lpzero_gp.search(...)`` calls :func:`search`."""

    def __call__(self, *args, **kwargs):
        from .api import search
        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
