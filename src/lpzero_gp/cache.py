"""On-disk cache of captured inputs, one file per (space, record, capture settings).

The key holds everything a capture depends on: the space, the record id and its architecture
config, the build variant, the seed, the batch (size, length, text fingerprint), the objective,
the sketch's settings (elements per tensor, rows at least), the storage dtype, and a
*fingerprint* (:func:`code_fingerprint`): a hash of the source of the capture, the sketch, the
hook layer, the text batching and the space's model code, together with the torch version. A
change to any of them gives new keys by itself, so an entry can never go stale. Files are
written atomically, so an interrupted run never leaves a half-written entry and loses nothing
already stored.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import numbers
import os
import warnings
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from .bank import DEFAULT_MAX_ELEMENTS, DEFAULT_MIN_ROWS, Inputs
from .data import cache_dir
from .errors import LpzeroWarning, UsageError
from .fileio import remove_stale_temporaries

STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16}


@dataclass(frozen=True)
class CaptureSettings:
    """How inputs are captured. ``None`` fields take the space's defaults (see ``resolved``)."""

    batch_size: int = 16
    seq_len: int | None = None
    seed: int = 0
    objective: str | None = None
    variant: str | None = None
    max_elements: int | None = DEFAULT_MAX_ELEMENTS
    min_rows: int = DEFAULT_MIN_ROWS
    text_path: str | None = None
    storage_dtype: str = "float32"

    def __post_init__(self) -> None:
        # (option, least value, may be None) of each whole-number setting
        for key, option, low, optional in (
                ("batch_size", "--batch-size", 1, False), ("seq_len", "--seq-len", 4, True),
                ("seed", "--seed", 0, False), ("max_elements", "--max-elements", 1, True),
                ("min_rows", "min_rows", 1, False)):
            value = getattr(self, key)
            if value is None and optional:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise UsageError(f"capture setting {key} ({option}) must be a whole number >= "
                                 f"{low}, got {value!r}")
        for key in ("objective", "variant", "text_path"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value):
                raise UsageError(f"capture setting {key} must be text, got {value!r}")
        if self.storage_dtype not in STORAGE_DTYPES:
            raise UsageError(f"capture setting storage_dtype = {self.storage_dtype!r} is not "
                             f"one of {tuple(STORAGE_DTYPES)}")

    def resolved(self, space) -> "CaptureSettings":
        """Fill the defaults of ``space`` and validate against it."""
        s = dataclasses.replace(
            self,
            seq_len=self.seq_len or space.default_seq_len,
            objective=self.objective or space.default_objective,
            variant=self.variant or space.default_variant)
        if s.variant not in space.variants:
            raise UsageError(f"variant {s.variant!r} (--variant) is not one of "
                             f"{', '.join(space.variants)} for space {space.name!r}")
        if s.objective not in space.objectives:
            raise UsageError(f"objective {s.objective!r} (--objective) is not one of "
                             f"{', '.join(space.objectives)} for space {space.name!r}")
        return s

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


_CODE = ("bank.py", "capture.py", "introspect.py", "corpus.py", "spaces/base.py", "spaces/taps.py")


@functools.lru_cache(maxsize=None)
def code_fingerprint(space_name: str) -> str:
    """sha256 (16 hex digits) of the capture code, the space's model code
    (:meth:`~lpzero_gp.spaces.Space.source_files`) and torch's version."""
    from .spaces import get_space
    root = Path(__file__).resolve().parent
    files = [root / f for f in _CODE] + list(get_space(space_name).source_files())
    digest = hashlib.sha256(torch.__version__.encode())
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:16]


def entry_key(space_name: str, record, settings: CaptureSettings, text_fingerprint: str) -> dict:
    """Everything a captured entry depends on, as a JSON-able dict."""
    return {"code": code_fingerprint(space_name), "space": space_name, "record": record.id,
            "benchmark": record.benchmark, "config": repr(record.config),
            "text": text_fingerprint, **settings.as_dict(), "text_path": None}


class CaptureCache:
    """A folder of captured entries (default: ``$LPZERO_GP_CACHE`` or the user cache)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir()
        self._swept: set[str] = set()

    def remove_stale(self, space_name: str) -> None:
        """Remove the temporary files interrupted writes left in ``space_name``'s folder (an
        hour old or more: a running write of another process is never touched)."""
        if space_name not in self._swept:
            self._swept.add(space_name)
            folder = self.root / re.sub(r"[^A-Za-z0-9_-]", "_", space_name)
            remove_stale_temporaries(folder, ["part-*.tmp"])

    def path(self, key: dict) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(key["record"]))[:40]
        return self.root / re.sub(r"[^A-Za-z0-9_-]", "_", key["space"]) / f"{safe}-{digest}.pt"

    def load(self, key: dict) -> Inputs | None:
        path = self.path(key)
        try:
            if not path.is_file():
                return None
        except OSError:  # an unreadable cache folder holds nothing we can use
            return None
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a corrupt entry is recomputed, and said so
            warnings.warn(f"ignoring unreadable cache entry {path} (captured again): "
                          f"{' '.join(str(exc).split())[:200]}", LpzeroWarning)
            return None
        if not isinstance(blob, dict) or blob.get("key") != key:
            return None
        try:
            return Inputs.from_blob(blob["data"], blob.get("meta", {}))
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            warnings.warn(f"ignoring malformed cache entry {path} (captured again): "
                          f"{' '.join(str(exc).split())[:200]}", LpzeroWarning)
            return None

    def store(self, key: dict, inputs: Inputs) -> Path:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        dtype = STORAGE_DTYPES[key["storage_dtype"]]
        blob = {"key": key, "data": inputs.to_blob(dtype), "meta": inputs.meta}
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="part-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                torch.save(blob, out)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path
