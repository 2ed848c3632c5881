"""Search spaces: architecture families whose models lpzero-gp builds from benchmark records."""
from __future__ import annotations

import importlib

from ..errors import UsageError
from .base import Space

_MODULES = {"flexibert": "lpzero_gp.spaces.flexibert", "gpt2": "lpzero_gp.spaces.gpt2"}
SPACE_NAMES = tuple(_MODULES)


def get_space(name: str) -> Space:
    """The :class:`Space` called ``name`` (``"flexibert"`` or ``"gpt2"``)."""
    if name not in _MODULES:
        raise UsageError(f"unknown space {name!r}; known spaces: {', '.join(_MODULES)}")
    return importlib.import_module(_MODULES[name]).SPACE
