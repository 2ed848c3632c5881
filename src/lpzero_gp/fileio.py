"""Atomic writes, and the removal of the temporary files an interrupted write leaves behind.

Every file lpzero-gp writes goes to a temporary file beside it, then ``os.replace`` puts it in
place: an interrupted run (Ctrl-C, a kill) never leaves a half-written file. A ``kill -9``
between the two steps leaves the temporary file; :func:`remove_stale_temporaries` removes such
files at the start of the next run.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Iterable

#: a temporary file older than this (seconds) belongs to no running write
STALE_AFTER = 3600.0


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (its folder is made if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes(path, text.encode("utf-8"))


def remove_stale_temporaries(folder: str | os.PathLike, patterns: Iterable[str],
                             older_than: float = STALE_AFTER) -> list[Path]:
    """Remove the files of ``folder`` matching ``patterns`` (globs) last modified more than
    ``older_than`` seconds ago; returns them. Never raises: a folder that cannot be read or a
    file that cannot be removed is left as it is."""
    removed = []
    now = time.time()
    try:
        candidates = [p for pattern in patterns for p in Path(folder).glob(pattern)]
    except OSError:
        return removed
    for path in candidates:
        try:
            if path.is_file() and now - path.stat().st_mtime >= older_than:
                path.unlink()
                removed.append(path)
        except OSError:
            continue
    return removed
