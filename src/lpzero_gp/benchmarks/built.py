"""Benchmarks built by training: one JSONL line per (architecture, seed).

Each line is an object with at least ``arch`` (the space's architecture JSON), ``seed`` and
``val_loss`` (an object from training step to validation loss in nats); optional keys are kept
in the record's ``extra`` (``arch_id``, parameter counts, wall time, versions, ``supernet``).
Lines of one architecture (the same ``arch``, compared as canonical JSON) form one record:

- ``id``: the lines' ``arch_id`` if given, else the first 12 hex digits of the sha256 of the
  canonical architecture JSON;
- ``label``: the mean over seeds of the validation loss at the last step every seed reached
  (lower is better: the direction is fixed here);
- ``extra["seed_losses"]``: that loss per seed (for the seed-vs-seed ceiling),
  ``extra["step"]``: the step, ``extra["lines"]``: the lines themselves.

A malformed line is a :class:`~lpzero_gp.errors.RecordError` naming the file and the line.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Callable

from . import Benchmark, Record
from ..errors import ConfigError, RecordError

LABEL = "val_loss"
FILE = "benchmark.jsonl"  # what build-benchmark writes in its --out folder


def built_file(path: str | os.PathLike) -> Path | None:
    """The JSONL file of a built benchmark named by ``path`` (the file itself, or a folder
    holding ``benchmark.jsonl``); ``None`` when ``path`` names something else (a published
    benchmark's folder)."""
    path = Path(path)
    if path.is_dir():
        return path / FILE if (path / FILE).is_file() else None
    return path if path.suffix == ".jsonl" else None


def arch_key(arch: dict) -> str:
    return json.dumps(arch, sort_keys=True)


def arch_id(arch: dict) -> str:
    return hashlib.sha256(arch_key(arch).encode()).hexdigest()[:12]


def _line_error(path: Path, number: int, message: str) -> RecordError:
    return RecordError(f"{path}:{number}: {message}")


def read_lines(path: str | os.PathLike) -> list[dict]:
    """The JSON objects of a JSONL file, each checked for ``arch``, ``seed`` and ``val_loss``
    (an object of finite numbers keyed by step)."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"{path}: no such benchmark file")
    out = []
    with open(path, encoding="utf-8") as fh:
        for number, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as exc:
                raise _line_error(path, number, f"not JSON ({exc.msg})") from None
            if not isinstance(line, dict):
                raise _line_error(path, number, "a line must be a JSON object")
            missing = [k for k in ("arch", "seed", "val_loss") if k not in line]
            if missing:
                raise _line_error(path, number, f"missing key(s) {missing}")
            losses = line["val_loss"]
            if not isinstance(losses, dict) or not losses:
                raise _line_error(path, number, "val_loss must be a non-empty object "
                                  "{step: loss}")
            if any(isinstance(v, bool) for v in losses.values()):
                raise _line_error(path, number, f"val_loss {losses!r} has a boolean value")
            try:
                line["val_loss"] = {int(k): float(v) for k, v in losses.items()}
            except (TypeError, ValueError):
                raise _line_error(path, number, f"val_loss {losses!r}: steps must be "
                                  f"integers and losses numbers") from None
            if not all(math.isfinite(v) for v in line["val_loss"].values()):
                raise _line_error(path, number, f"val_loss {losses!r} has a non-finite value")
            line["_line"] = number
            out.append(line)
    return out


def load(path: str | os.PathLike, space: str, arch_from_dict: Callable[[dict], object],
         name: str | None = None) -> Benchmark:
    """The records of a built benchmark (see the module docstring), in first-seen order."""
    path = Path(path)
    lines = read_lines(path)
    if not lines:
        raise RecordError(f"{path}: the benchmark has no records")
    groups: dict[str, list[dict]] = {}
    for line in lines:
        groups.setdefault(arch_key(line["arch"]), []).append(line)
    records = []
    for key, group in groups.items():
        first = group[0]
        seeds = [g["seed"] for g in group]
        if len(set(map(str, seeds))) != len(seeds):
            raise _line_error(path, group[-1]["_line"], f"seed {seeds[-1]!r} repeated for "
                              f"architecture {key}")
        step = min(max(g["val_loss"]) for g in group)
        lacking = [g["_line"] for g in group if step not in g["val_loss"]]
        if lacking:
            raise _line_error(path, lacking[0], f"no validation loss at step {step}, the last "
                              f"step every seed of this architecture reached")
        try:
            config = arch_from_dict(first["arch"])
        except (ConfigError, TypeError, ValueError) as exc:
            raise _line_error(path, first["_line"], str(exc)) from None
        losses = {str(g["seed"]): g["val_loss"][step] for g in group}
        rid = str(first.get("arch_id") or arch_id(first["arch"]))
        extra = {"seed_losses": losses, "step": step, "lines": group}
        if "supernet" in first:
            extra["supernet"] = first["supernet"]
        records.append(Record(name or f"{space}-built", rid, config,
                              sum(losses.values()) / len(losses), False, extra))
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise RecordError(f"{path}: record id {dup!r} names two different architectures")
    return Benchmark(name or f"{space}-built", str(path), LABEL, False, tuple(records))
