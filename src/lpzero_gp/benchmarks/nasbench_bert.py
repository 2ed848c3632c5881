"""NAS-Bench-BERT (Serianni & Kalita, ACL 2023): FlexiBERT architectures with GLUE scores.

File format: a JSON list of records; the architecture is ``hparams.model_hparam_overrides``
(``hidden_size`` and ``nas_config.encoder_layers``), the label ``scores.glue`` (higher is better).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from ..data import ensure_file
from ..errors import DataFileError, MissingFileError, RecordError
from . import Benchmark, Record

NAME = "nas-bench-bert"
DEFAULT_FILE = "nas-bench-bert/BERT_benchmark.json"

OPERATIONS = {"SA": ("SDP", "WMA"), "LT": ("DFT", "DCT"), "DSC": (5, 9)}


@dataclass(frozen=True)
class FlexiLayer:
    """One FlexiBERT encoder layer: token mixing operation then a feed-forward stack."""

    operation_type: str        # "SA" | "LT" | "DSC"
    operation_parameter: object  # "SDP" | "WMA" | "DFT" | "DCT" | 5 | 9
    num_heads: int
    ffn_dim: int               # feed_forward_dimension
    num_ffn: int               # num_feed_forward


@dataclass(frozen=True)
class FlexiBertConfig:
    hidden_size: int
    layers: tuple[FlexiLayer, ...]

    @property
    def n_layers(self) -> int:
        return len(self.layers)


def parse_config(overrides: dict, where: str) -> FlexiBertConfig:
    """Typed config from ``model_hparam_overrides``; ``where`` names file and record for errors."""
    def fail(msg: str):
        raise RecordError(f"{where}: {msg}")

    if not isinstance(overrides, dict):
        fail("hparams.model_hparam_overrides is not an object")
    hidden = overrides.get("hidden_size")
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden <= 0:
        fail(f"hidden_size must be a positive integer, got {hidden!r}")
    layers_raw = (overrides.get("nas_config") or {}).get("encoder_layers")
    if not isinstance(layers_raw, list) or not layers_raw:
        fail("nas_config.encoder_layers must be a non-empty list")
    layers = []
    for i, lay in enumerate(layers_raw):
        if not isinstance(lay, dict):
            fail(f"encoder layer {i} is not an object")
        try:
            op, par = lay["operation_type"], lay["operation_parameter"]
            heads, ffd, nff = (lay["num_operation_heads"], lay["feed_forward_dimension"],
                               lay["num_feed_forward"])
        except KeyError as exc:
            fail(f"encoder layer {i} lacks key {exc.args[0]!r}")
        if op not in OPERATIONS:
            fail(f"encoder layer {i}: unknown operation_type {op!r}")
        if op == "DSC" and isinstance(par, str) and par.isdigit():
            par = int(par)
        if par not in OPERATIONS[op]:
            fail(f"encoder layer {i}: operation_parameter {par!r} is not one of "
                 f"{OPERATIONS[op]} for {op}")
        for key, val in (("num_operation_heads", heads), ("feed_forward_dimension", ffd),
                         ("num_feed_forward", nff)):
            if not isinstance(val, int) or isinstance(val, bool) or val <= 0:
                fail(f"encoder layer {i}: {key} must be a positive integer, got {val!r}")
        if hidden % heads:
            fail(f"encoder layer {i}: hidden_size {hidden} is not divisible by {heads} heads")
        layers.append(FlexiLayer(op, par, heads, ffd, nff))
    return FlexiBertConfig(hidden, tuple(layers))


def load(path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
         require_label: bool = True) -> Benchmark:
    """Load every record of a NAS-Bench-BERT JSON file (default: the one in the data folder).

    A malformed record raises :class:`RecordError` naming the file and the record id; no record
    is silently dropped.
    """
    path = Path(path) if path is not None else ensure_file(DEFAULT_FILE, data_dir)
    try:
        if Path(path).is_dir():
            raise DataFileError(f"{path} is a folder; give a NAS-Bench-BERT JSON file "
                                f"(--benchmark)")
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MissingFileError(f"{path}: no such benchmark file (--benchmark)") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path}: not a NAS-Bench-BERT JSON file (not UTF-8 text)") \
            from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise RecordError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        if isinstance(exc, DataFileError):
            raise
        raise DataFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if not isinstance(raw, list):
        raise RecordError(f"{path}: expected a JSON list of records, got {type(raw).__name__}")
    if not raw:
        raise RecordError(f"{path}: holds no records (an empty list); give a benchmark with "
                          f"records")
    records, seen = [], set()
    for pos, rec in enumerate(raw):
        rid = rec.get("id") if isinstance(rec, dict) else None
        where = f"{path}, record id {rid!r} (position {pos})"
        if not isinstance(rec, dict) or rid is None:
            raise RecordError(f"{where}: a record must be an object with an 'id'")
        if isinstance(rid, bool) or not isinstance(rid, (str, int)) or str(rid) == "":
            raise RecordError(f"{where}: a record id must be text or a whole number")
        if str(rid) in seen:
            raise RecordError(f"{where}: duplicate record id")
        seen.add(str(rid))
        try:
            overrides = rec["hparams"]["model_hparam_overrides"]
        except (KeyError, TypeError):
            raise RecordError(f"{where}: lacks hparams.model_hparam_overrides") from None
        config = parse_config(overrides, where)
        glue = (rec.get("scores") or {}).get("glue") if isinstance(rec.get("scores"), dict) \
            else None
        if glue is None and require_label:
            raise RecordError(f"{where}: lacks scores.glue")
        if glue is not None and (not isinstance(glue, (int, float)) or isinstance(glue, bool)
                                 or not math.isfinite(glue)):
            raise RecordError(f"{where}: scores.glue must be a finite number, got {glue!r}")
        records.append(Record(NAME, str(rid), config, float(glue) if glue is not None
                              else math.nan, True,
                              {"scores": rec.get("scores", {})}))
    return Benchmark(NAME, str(path), "GLUE", True, tuple(records))
