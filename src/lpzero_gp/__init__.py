"""lpzero-gp: genetic-programming search for zero-cost proxies of language-model architectures.

The Python API in one screen::

    from lpzero_gp import get_space, CaptureSettings, collect_inputs, Proxy
    space = get_space("flexibert")
    bench = space.load_benchmark()                     # NAS-Bench-BERT records
    bank = collect_inputs(space, bench.records[:20], CaptureSettings(batch_size=4))
    proxy = Proxy.parse("layer_mean(pool_mean(t_mean(square(H))))", "default")
    proxy.evaluate(bank)                               # scores, validity, reason
    result = lpzero_gp.run_search(space="flexibert", generations=5, population=20)

``lpzero_gp.run_search`` is :func:`lpzero_gp.search.search` (the package
:mod:`lpzero_gp.search` holds the search's modules).
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "get_space", "CaptureSettings", "collect_inputs", "Proxy",
           "load_language", "run_search"]


def __getattr__(name):
    # Lazy: importing lpzero_gp must not import torch-heavy modules it does not need.
    if name == "get_space":
        from .spaces import get_space
        return get_space
    if name == "CaptureSettings":
        from .cache import CaptureSettings
        return CaptureSettings
    if name == "collect_inputs":
        from .collect import collect_inputs
        return collect_inputs
    if name == "run_search":
        from .search.api import search
        return search
    if name in ("Proxy", "load_language"):
        from . import language
        return getattr(language, name)
    raise AttributeError(f"module 'lpzero_gp' has no attribute {name!r}")

