"""Captured inputs for many records: build, capture (or reload from the cache), stack.

This is the one place where models are run. Everything downstream (proxies, search,
baselines written in the proxy language) reads the resulting :class:`~lpzero_gp.bank.InputBank`.
"""
from __future__ import annotations

import os
import platform
import time
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import torch
from tqdm.auto import tqdm

from .bank import InputBank, Inputs
from .benchmarks import Record
from .cache import CaptureCache, CaptureSettings, code_fingerprint, entry_key
from .capture import capture_inputs
from .errors import (CaptureError, DataFileError, LpzeroError, LpzeroWarning,
                     MissingFileError, UsageError)
from .corpus import text_fingerprint


@dataclass
class CollectStats:
    """What a collection did: how many entries were captured or reloaded, and how long it took."""

    captured: int = 0
    reloaded: int = 0
    capture_seconds: float = 0.0
    per_record_seconds: dict = field(default_factory=dict)


def make_space_batch(space, settings: CaptureSettings, data_dir=None,
                     records: Sequence[Record] = ()) -> dict:
    """The one batch every architecture of a run (``records``) sees, tokenized by
    ``space.tokenizer_of(records)``."""
    tokenizer = space.tokenizer_of(records) if records else space.tokenizer
    extra = {} if tokenizer == space.tokenizer else {"tokenizer": tokenizer}
    try:
        return space.make_batch(batch_size=settings.batch_size, seq_len=settings.seq_len,
                                seed=settings.seed, text_path=settings.text_path,
                                data_dir=None if data_dir is None else str(data_dir),
                                objective=settings.objective, **extra)
    except LpzeroError:
        raise
    except ValueError as exc:  # a batch the settings cannot make (text too short, seq_len)
        raise UsageError(f"cannot make the {space.name} batch: {exc} (see --seq-len, "
                         f"--batch-size, --text)") from None


def check_text_file(path: str | os.PathLike | None, data_dir=None) -> str:
    """The fingerprint of the batch text (:func:`~lpzero_gp.corpus.text_fingerprint`); a
    :class:`DataFileError` naming ``--text`` when the file is missing, a folder, unreadable
    or not UTF-8."""
    try:
        if path is not None and os.path.isdir(path):
            raise DataFileError(f"--text {path} is a folder; give a UTF-8 text file")
        return text_fingerprint(path, data_dir)
    except FileNotFoundError:
        raise MissingFileError(f"--text {path}: no such file; give a UTF-8 text file") from None
    except UnicodeDecodeError as exc:
        raise DataFileError(f"--text {path} is not UTF-8 text (byte {exc.start}); give a UTF-8 "
                            f"text file") from None
    except OSError as exc:
        if isinstance(exc, LpzeroError):
            raise
        raise DataFileError(f"--text {path} cannot be read ({exc.strerror})") from None


def capture_record(space, record: Record, settings: CaptureSettings, batch: dict) -> Inputs:
    """Build ``record``'s model at ``settings.seed`` and capture its inputs (no cache)."""
    model = space.build(record, settings.variant, settings.seed)
    meta = {"record": record.id, "space": space.name, "variant": settings.variant,
            "seed": settings.seed, "objective": settings.objective,
            "batch_size": settings.batch_size, "seq_len": settings.seq_len,
            "max_elements": settings.max_elements, "min_rows": settings.min_rows,
            "code": code_fingerprint(space.name),
            "torch": str(torch.__version__), "python": platform.python_version()}
    inputs = capture_inputs(model, batch, settings.objective, settings.max_elements,
                            settings.seed, meta, settings.min_rows)
    if settings.storage_dtype == "float16":  # the same values whether cached or fresh
        for items in inputs.tensors.values():
            for t in items:
                t.rows = t.rows.half().float()
    return inputs


def collect_inputs(space, records: Sequence[Record], settings: CaptureSettings | None = None,
                   cache: CaptureCache | str | os.PathLike | None | bool = None,
                   data_dir=None, progress: bool = True,
                   stats: CollectStats | None = None,
                   hand_designed: Sequence[str] = (), engine=None) -> InputBank:
    """Inputs of ``records`` stacked into one bank, each captured at most once.

    ``cache``: a :class:`CaptureCache`, a folder, ``None`` for the default folder, or
    ``False`` for no cache. Each record is stored (by this process alone) as soon as its
    capture arrives, so an error on one record (re-raised naming it) loses nothing already
    computed. ``engine``: where the captures run (an :class:`~lpzero_gp.engine.Engine` or
    its name; default: this process); the inputs do not depend on it.

    ``hand_designed``: names of hand-designed proxies a hybrid language reads; when given, the
    result is a :class:`~lpzero_gp.hand_bank.HybridBank` carrying their values (computed once
    per architecture with the same settings and batch, cached in the same folder under
    ``baselines/``, see :mod:`lpzero_gp.hand_bank`).
    """
    from .engine import Engine, Resources, make_engine
    settings = (settings or CaptureSettings()).resolved(space)
    if cache is not False and not isinstance(cache, CaptureCache):
        cache = CaptureCache(cache)
    score_root = False if cache is False else cache.root
    stats = stats if stats is not None else CollectStats()
    if not records:
        raise UsageError("no records to capture: the benchmark (or the --records / --limit "
                         "chosen) holds none")
    fingerprint = check_text_file(settings.text_path, data_dir)
    if cache:
        cache.remove_stale(space.name)
    collected: dict[int, Inputs] = {}
    keys = [entry_key(space.name, record, settings, fingerprint) for record in records]
    for index, key in enumerate(keys):
        inputs = cache.load(key) if cache else None
        if inputs is not None:
            stats.reloaded += 1
            collected[index] = inputs
    todo = [i for i in range(len(records)) if i not in collected]
    bar = tqdm(total=len(records), initial=len(collected), desc=f"capture {space.name}",
               unit="arch", disable=not progress)
    if todo:
        own = not isinstance(engine, Engine)
        runner = make_engine(engine or "local")
        try:
            batch = runner.put((space, settings, make_space_batch(space, settings, data_dir,
                                                                 records)))
            for index, (packed, elapsed, error) in runner.as_completed(
                    _capture_task, [records[i] for i in todo], shared=batch,
                    resources=Resources(num_cpus=1)):
                record = records[todo[index]]
                inputs = None if packed is None else Inputs.from_bytes(packed)
                if error is not None:
                    if isinstance(error, LpzeroError):
                        raise error
                    raise CaptureError(f"capturing record {record.id} of {record.benchmark} "
                                       f"({settings.variant} build) failed: {error}")
                stats.captured += 1
                stats.capture_seconds += elapsed
                stats.per_record_seconds[record.id] = elapsed
                if cache:
                    try:
                        cache.store(keys[todo[index]], inputs)
                    except OSError as exc:  # keep the work done: in memory, said once
                        warnings.warn(f"cannot write the capture cache {cache.root} "
                                      f"({exc.strerror or exc}); keeping the captures in "
                                      f"memory only (set --cache-dir / $LPZERO_GP_CACHE to a "
                                      f"writable folder, or --no-cache)", LpzeroWarning)
                        cache = False
                collected[todo[index]] = inputs
                bar.update(1)
        finally:
            bar.close()
            if own:
                runner.close()
    bar.close()
    bank = InputBank.from_inputs([collected[i] for i in range(len(records))],
                                 [r.id for r in records], [r.quality for r in records])
    if hand_designed:
        from .hand_bank import hand_scores, with_hand_scores
        bank = with_hand_scores(bank, hand_scores(space, records, settings, list(hand_designed),
                                                  score_root, data_dir, progress, bank.depth))
    return bank


def _capture_task(shared, record: Record):
    """One engine task: ``(inputs as bytes, seconds, None)`` (:meth:`Inputs.to_bytes`), or
    ``(None, 0, error)`` when the capture failed (the driver names the record)."""
    space, settings, batch = shared
    start = time.perf_counter()
    try:
        inputs = capture_record(space, record, settings, batch)
    except LpzeroError as exc:
        return None, 0.0, exc
    except Exception as exc:  # noqa: BLE001 - reported by the driver, naming the record
        return None, 0.0, f"{type(exc).__name__}: {exc}"
    return inputs.to_bytes(), time.perf_counter() - start, None
