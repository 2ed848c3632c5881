"""Search spaces: architecture families whose models lpzero-gp builds (see :mod:`.base`).

The registry maps a name to a :class:`Space`. Built-in spaces are imported on first use;
a space from another package registers itself by calling :func:`register_space` on import, or
is declared in that package's metadata under the ``lpzero_gp.spaces`` entry-point group
(``myspace = mypackage.spaces:SPACE``). Names are known without importing any model code, so
``lpzero-gp --help`` lists them cheaply.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the base imports torch; names are listed without it (lpzero-gp --help)
    from .base import Space

ENTRY_POINT_GROUP = "lpzero_gp.spaces"
_BUILTIN = {"flexibert": "lpzero_gp.spaces.flexibert", "gpt2": "lpzero_gp.spaces.gpt2",
            "llama": "lpzero_gp.spaces.llama"}
_REGISTRY: dict[str, Space] = {}


def register_space(space: Space | type[Space]) -> Space:
    """Register a space (an instance, or a class with no required arguments); returns it.

    Usable as a class decorator. A name registered twice by different classes is an error.
    """
    from .base import Space
    instance = space() if isinstance(space, type) else space
    if not isinstance(instance, Space):
        raise TypeError(f"register_space expects a Space, got {type(instance).__name__}")
    name = getattr(instance, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a space's name must be an identifier, got {name!r}")
    known = _REGISTRY.get(name)
    if known is not None and type(known) is not type(instance):
        raise ValueError(f"space name {name!r} is already registered by "
                         f"{type(known).__module__}.{type(known).__name__}")
    _REGISTRY[name] = instance
    return space


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def space_names() -> tuple[str, ...]:
    """Every known space: built-in, registered, and declared by entry points."""
    names = dict.fromkeys(_BUILTIN)
    names.update(dict.fromkeys(_REGISTRY))
    names.update(dict.fromkeys(_entry_points()))
    return tuple(names)


def get_space(name: str) -> Space:
    """The :class:`Space` called ``name``."""
    if name not in _REGISTRY:
        if name in _BUILTIN:
            importlib.import_module(_BUILTIN[name])
        else:
            ep = _entry_points().get(name)
            if ep is None:
                from ..errors import UsageError
                raise UsageError(f"unknown space {name!r}; known spaces: "
                                 f"{', '.join(space_names())}")
            register_space(ep.load())
        if name not in _REGISTRY:
            raise RuntimeError(f"importing the module of space {name!r} did not register it")
    return _REGISTRY[name]


def __getattr__(attr: str):
    if attr == "SPACE_NAMES":  # the names at the time of asking (entry points may add more)
        return space_names()
    if attr in ("Space", "ProxyModel", "PublishedProxy"):
        from . import base
        return getattr(base, attr)
    raise AttributeError(attr)


__all__ = ["Space", "ProxyModel", "PublishedProxy", "register_space", "get_space",
           "space_names", "ENTRY_POINT_GROUP"]
