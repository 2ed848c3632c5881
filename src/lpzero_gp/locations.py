"""Where lpzero-gp finds the files it reads at run time, in a checkout and in an installed copy.

- The primitive sets, ``primitives/*.toml`` at the repository's root: an installed copy carries
  them as package data in ``lpzero_gp/primitives/`` (``setup.py`` maps the folder into the
  package), found through :mod:`importlib.resources`; a checkout (or an editable install) reads
  the root folder itself.
- The committed experiment outputs, ``experiments/`` at the repository's root: only in a
  checkout; asking for them in an installed copy is a :class:`~lpzero_gp.errors.DataFileError`.
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import DataFileError

_PACKAGE = Path(__file__).resolve().parent


def checkout_root() -> Path | None:
    """The repository whose ``src/`` holds this package; ``None`` in an installed copy."""
    root = _PACKAGE.parents[1]
    if _PACKAGE.parent.name == "src" and (root / "setup.cfg").is_file():
        return root
    return None


def primitives_dir() -> Path:
    """The folder of the built-in primitive sets: ``$LPZERO_GP_PRIMITIVES`` when set, else the
    installed package data, else the checkout's ``primitives/``."""
    env = os.environ.get("LPZERO_GP_PRIMITIVES")
    if env:
        return Path(env)
    packaged = resources.files(__package__) / "primitives"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    root = checkout_root()
    if root is None:
        raise DataFileError(f"this installation of lpzero-gp lacks its primitive sets "
                            f"({_PACKAGE / 'primitives'}): reinstall it with `pip install .` "
                            f"from a checkout")
    return root / "primitives"


def experiments_dir() -> Path:
    """The checkout's ``experiments/`` folder (committed search results and tables)."""
    root = checkout_root()
    if root is None or not (root / "experiments").is_dir():
        raise DataFileError("the experiments/ folder (committed search results) exists only "
                            "in a checkout of the lpzero-gp repository, not in an installed "
                            "copy: run this from a checkout")
    return root / "experiments"
