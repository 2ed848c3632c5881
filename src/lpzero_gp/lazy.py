"""Modules imported on first use, so that ``lpzero-gp --help`` and ``show`` start without torch.

``torch = lazy_import("torch")`` at the top of a module gives a stand-in that imports torch the
first time one of its attributes is read (``torch.log``) and then keeps each attribute it has
read, so later look-ups cost what a module's do. Modules that only *name* torch functions at
import time (the operations of the proxy language, the input bank) stay importable without it.
"""
from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stand-in for the module ``name``, imported when an attribute is first read."""

    def __init__(self, name: str):
        self.__name = name

    def __getattr__(self, attr: str):
        # only called for attributes not yet copied onto the stand-in
        value = getattr(self.module(), attr)
        setattr(self, attr, value)
        return value

    def module(self) -> ModuleType:
        """The real module (imported now if it was not)."""
        return importlib.import_module(self.__name)

    def __repr__(self) -> str:
        return f"<lazily imported module {self.__name!r}>"


def lazy_import(name: str) -> LazyModule:
    """A :class:`LazyModule` for ``name``."""
    return LazyModule(name)
