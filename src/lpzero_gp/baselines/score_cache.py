"""A small JSON cache of hand-designed proxy values, one file per (space, settings).

Each file holds ``{"key": {...}, "records": {record_id: {"values": {proxy: float | null},
"reasons": {proxy: reason}, "seconds": float}}}``, and, for the proxies whose per-layer values
a hybrid language read, ``"layers": {proxy: [float | null, ...]}`` and ``"layer_reasons"``.
The key holds everything a value depends on (space, variant, seed, batch size and length,
objective, text fingerprint, and :data:`SCORES_VERSION`, bumped whenever a proxy's definition
changes). The file is rewritten
atomically after each record, so an interrupted run keeps what it computed.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

from ..data import cache_dir
from .hand_designed.registry import LayerValues, ProxyValue

SCORES_VERSION = 1


def score_key(space_name: str, settings, text_fingerprint: str) -> dict:
    """Everything a hand-designed value depends on (``settings``: resolved CaptureSettings)."""
    return {"scores_version": SCORES_VERSION, "space": space_name, "variant": settings.variant,
            "seed": settings.seed, "batch_size": settings.batch_size,
            "seq_len": settings.seq_len, "objective": settings.objective,
            "text": text_fingerprint}


class ScoreCache:
    """Hand-designed values of one (space, settings), stored in ``root/baselines/``."""

    def __init__(self, key: dict, root: str | os.PathLike | None = None):
        self.key = dict(key)
        base = Path(root) if root is not None else cache_dir()
        digest = hashlib.sha256(json.dumps(self.key, sort_keys=True).encode()).hexdigest()[:16]
        self.path = base / "baselines" / f"{key['space']}-{digest}.json"
        self.records: dict[str, dict] = {}
        if self.path.is_file():
            try:
                blob = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                import warnings
                warnings.warn(f"ignoring unreadable score cache {self.path}: {exc}")
                blob = {}
            if blob.get("key") == self.key:
                self.records = dict(blob.get("records", {}))

    def get(self, record_id: str, names) -> dict[str, ProxyValue] | None:
        """The cached values of ``names`` for a record, or ``None`` if any is missing."""
        entry = self.records.get(str(record_id))
        if entry is None or not all(n in entry["values"] for n in names):
            return None
        out = {}
        for n in names:
            value = entry["values"][n]
            reason = entry.get("reasons", {}).get(n)
            out[n] = ProxyValue(math.nan if value is None else float(value), reason)
        return out

    def put(self, record_id: str, values: dict[str, ProxyValue], seconds: float) -> None:
        entry = self.records.setdefault(str(record_id), {"values": {}, "reasons": {},
                                                         "seconds": 0.0})
        for n, v in values.items():
            entry["values"][n] = v.value if math.isfinite(v.value) else None
            if v.reason is not None:
                entry["reasons"][n] = v.reason
            else:
                entry["reasons"].pop(n, None)
        entry["seconds"] = float(entry.get("seconds", 0.0)) + float(seconds)
        self._write()

    def get_layers(self, record_id: str, names) -> dict[str, LayerValues] | None:
        """The cached per-layer values of ``names`` for a record, or ``None`` if any is
        missing."""
        entry = self.records.get(str(record_id))
        layers = (entry or {}).get("layers", {})
        if not all(n in layers for n in names):
            return None
        reasons = entry.get("layer_reasons", {})
        return {n: LayerValues(tuple(math.nan if v is None else float(v) for v in layers[n]),
                               reasons.get(n)) for n in names}

    def put_layers(self, record_id: str, values: dict[str, LayerValues]) -> None:
        entry = self.records.setdefault(str(record_id), {"values": {}, "reasons": {},
                                                         "seconds": 0.0})
        layers = entry.setdefault("layers", {})
        reasons = entry.setdefault("layer_reasons", {})
        for n, v in values.items():
            layers[n] = [x if math.isfinite(x) else None for x in v.values]
            if v.reason is not None:
                reasons[n] = v.reason
            else:
                reasons.pop(n, None)
        self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".part-")
        os.close(fd)
        try:
            Path(tmp).write_text(json.dumps({"key": self.key, "records": self.records},
                                            indent=1, sort_keys=True))
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


SETTING_KEYS = ("variant", "seed", "batch_size", "seq_len", "objective")


def seed_from_details(store: ScoreCache, details_path, settings) -> int:
    """Fill ``store`` with the hand-designed values of a previous table's ``details.json``
    (written by ``lpzero-gp baselines``) when it was made with the same capture settings
    (space, variant, seed, batch, objective, text) and the same :data:`SCORES_VERSION`; the
    values are the same computation, so a table need not rerun every model. Returns the number
    of records filled; raises ``ConfigError`` naming the setting that differs."""
    from ..errors import ConfigError
    path = Path(details_path)
    try:
        details = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: not UTF-8 or JSON
        raise ConfigError(f"{path}: cannot read a baseline table's details (--reuse-scores): "
                          f"{' '.join(str(exc).split())[:200]}") from None
    if not isinstance(details, dict) or not isinstance(details.get("settings", {}), dict):
        raise ConfigError(f"{path}: not a baseline table's details.json (--reuse-scores)")
    theirs = details.get("settings", {})
    if details.get("space") != store.key["space"]:
        raise ConfigError(f"{path}: made for space {details.get('space')!r}, not "
                          f"{store.key['space']!r}")
    for key in SETTING_KEYS:
        if theirs.get(key) != store.key[key]:
            raise ConfigError(f"{path}: made with {key} = {theirs.get(key)!r}, this table uses "
                              f"{store.key[key]!r}")
    if theirs.get("text_path") != settings.text_path or settings.text_path is not None:
        raise ConfigError(f"{path}: reusing values needs both tables on the default text "
                          f"(pydoc_data.topics)")
    if details.get("scores_version", SCORES_VERSION) != SCORES_VERSION:
        raise ConfigError(f"{path}: made by another version of the hand-designed proxies")
    records = details["records"]
    hand = {k.split(":", 1)[1]: v for k, v in details["scores"].items() if k.startswith("hand:")}
    undefined = details.get("undefined", {})
    for i, rid in enumerate(records):
        values = {}
        for name, column in hand.items():
            value = column[i]
            reason = (undefined.get(f"hand:{name}") or {}).get(rid) if value is None else None
            values[name] = ProxyValue(math.nan if value is None else float(value), reason)
        entry = store.records.setdefault(str(rid), {"values": {}, "reasons": {}, "seconds": 0.0})
        for n, v in values.items():
            if n not in entry["values"]:
                entry["values"][n] = v.value if math.isfinite(v.value) else None
                if v.reason:
                    entry["reasons"][n] = v.reason
    store._write()
    return len(records)
