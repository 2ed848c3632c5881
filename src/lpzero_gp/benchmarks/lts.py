"""LiteTransformerSearch (Javaheripi et al., NeurIPS 2022): GPT-2 decoders with WikiText-103
perplexities, as published by Archai (experiment ``random_GPT2_wt103``).

Folder layout (the published one)::

    ppl_summary.yaml              config_I_jJ: {valid_ppl, test_ppl, train_elapsed, ...}
    params_summary.yaml           config_I_jJ: {AdaEmb, Attn, FFN, nonembedding, total}
    config_I/jJ/model_config.yaml the architecture (Archai's ``hf_gpt2_flex`` arguments)

A record needs all three. The label is ``valid_ppl`` and lower is better: the direction is
fixed here, once (``higher_is_better=False``, so :attr:`Record.quality` is ``-valid_ppl``).

Which ids are records: the union of the ids of the two summaries and of the config folders.
With ``strict=True`` (the default) an id missing from any of the three is a
:class:`RecordError` naming the id and the file it lacks. With ``strict=False`` such ids are
left out and a :class:`UserWarning` lists each one with what it lacks; nothing is dropped
without saying. (The published folder is complete: 140 ids in all three.)
"""
from __future__ import annotations

import math
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..data import ensure_file
from ..errors import DataFileError, MissingFileError, RecordError
from . import Benchmark, Record

NAME = "lts-gpt2"
LABEL = "valid_ppl"
DEFAULT_FOLDER = "lts/random_GPT2_wt103"
PPL_FILE = "ppl_summary.yaml"
PARAMS_FILE = "params_summary.yaml"
CONFIG_FILE = "model_config.yaml"
PARAMS_KEYS = ("AdaEmb", "Attn", "FFN", "nonembedding", "total")
_ID = re.compile(r"^config_(\d+)_j(\d+)$")

try:  # the C loader reads the 140 configs several times faster
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class LtsConfig:
    """One ``hf_gpt2_flex`` architecture, cleaned the way Archai cleans it.

    - ``n_head``, ``d_inner``: one entry per layer (the yaml lists' first ``n_layer`` entries).
    - ``d_embed``: the embedding width (a yaml ``-1`` / null means ``d_model``).
    - ``cutoffs``: the cluster ends, strictly increasing, the last one ``n_token``; cluster 0
      starts at 0, cluster ``c > 0`` at ``cutoffs[c-1]`` (for this experiment
      ``(19997, 39997, 50264)``).
    - ``tie_projs``: one flag per cluster (the yaml list's first ``len(cutoffs)`` entries).
    - ``init_std``: std of linear and embedding weights; ``proj_init_std``: of the adaptive
      embedding / softmax projections.
    """

    n_layer: int
    d_model: int
    n_head: tuple[int, ...]
    d_inner: tuple[int, ...]
    d_embed: int
    div_val: int
    cutoffs: tuple[int, ...]
    n_token: int
    tgt_len: int
    tie_weight: bool
    tie_projs: tuple[bool, ...]
    init_std: float = 0.02
    proj_init_std: float = 0.01
    layer_norm_epsilon: float = 1e-5

    @property
    def n_layers(self) -> int:
        return self.n_layer

    @property
    def n_clusters(self) -> int:
        """Number of vocabulary clusters (head included)."""
        return len(self.cutoffs)

    def cluster_bounds(self, c: int) -> tuple[int, int]:
        """Token id range ``[lo, hi)`` of cluster ``c``."""
        return (0 if c == 0 else self.cutoffs[c - 1], self.cutoffs[c])

    def cluster_width(self, c: int) -> int:
        """Embedding width of cluster ``c``: ``d_embed // div_val**c``."""
        return self.d_embed // (self.div_val ** c)


def _positive_int(raw: dict, key: str, fail) -> int:
    val = raw.get(key)
    if not isinstance(val, int) or isinstance(val, bool) or val <= 0:
        fail(f"{key} must be a positive integer, got {val!r}")
    return val


def _per_layer(raw: dict, key: str, n_layer: int, fail) -> tuple[int, ...]:
    """The first ``n_layer`` entries of a per-layer list (a single integer means every layer)."""
    val = raw.get(key)
    if isinstance(val, int) and not isinstance(val, bool):
        val = [val] * n_layer
    if not isinstance(val, list) or len(val) < n_layer:
        fail(f"{key} must be a list of at least n_layer={n_layer} entries, got {val!r}")
    val = val[:n_layer]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in val):
        fail(f"{key} entries must be positive integers, got {val!r}")
    return tuple(val)


def clean_cutoffs(raw: Any, n_token: int, fail) -> tuple[int, ...]:
    """Archai's rule: keep the cutoffs before the first one ``>= n_token``, append ``n_token``.

    The published ``[19997, 39997, 199997, 50264]`` with ``n_token = 50264`` gives
    ``(19997, 39997, 50264)``: three clusters.
    """
    if raw is None:
        raw = []
    if not isinstance(raw, list) or not all(isinstance(c, int) and not isinstance(c, bool)
                                            for c in raw):
        fail(f"cutoffs must be a list of integers, got {raw!r}")
    kept = []
    for c in raw:
        if c >= n_token:
            break
        if c <= (kept[-1] if kept else 0):
            fail(f"cutoffs must be positive and strictly increasing below n_token, got {raw!r}")
        kept.append(c)
    return tuple(kept) + (n_token,)


def parse_config(raw: Any, where: str) -> LtsConfig:
    """Typed config from a ``model_config.yaml`` mapping; ``where`` names file and record."""
    def fail(msg: str):
        raise RecordError(f"{where}: {msg}")

    if not isinstance(raw, dict):
        fail(f"expected a mapping, got {type(raw).__name__}")
    unsupported = {"adaptive": True, "attn_type": 0, "primer_conv": False,
                   "primer_square": False, "weight_init_type": "normal"}
    for key, expected in unsupported.items():
        if key in raw and raw[key] != expected:
            fail(f"{key}={raw[key]!r} is not supported (the hf_gpt2_flex builder implements "
                 f"{key}={expected!r})")
    if raw.get("sample_softmax", -1) not in (-1, 0, None):
        fail(f"sample_softmax={raw['sample_softmax']!r} is not supported")
    n_layer = _positive_int(raw, "n_layer", fail)
    d_model = _positive_int(raw, "d_model", fail)
    n_token = _positive_int(raw, "n_token", fail)
    tgt_len = _positive_int(raw, "tgt_len", fail)
    div_val = _positive_int(raw, "div_val", fail)
    n_head = _per_layer(raw, "n_head", n_layer, fail)
    d_inner = _per_layer(raw, "d_inner", n_layer, fail)
    for i, h in enumerate(n_head):
        if d_model % h:
            fail(f"layer {i}: d_model {d_model} is not divisible by n_head {h}")
    d_embed = raw.get("d_embed")
    if d_embed in (None, -1):
        d_embed = d_model
    if not isinstance(d_embed, int) or isinstance(d_embed, bool) or d_embed <= 0:
        fail(f"d_embed must be a positive integer or -1, got {d_embed!r}")
    cutoffs = clean_cutoffs(raw.get("cutoffs"), n_token, fail)
    if d_embed // div_val ** (len(cutoffs) - 1) < 1:
        fail(f"d_embed {d_embed} / div_val {div_val}^{len(cutoffs) - 1} leaves a cluster "
             "without embedding width")
    tie_projs = raw.get("tie_projs")
    if not tie_projs:  # Archai's default: the head projection untied, the tails tied
        tie_projs = [False] + [True] * (len(cutoffs) - 1)
    if (not isinstance(tie_projs, list) or len(tie_projs) < len(cutoffs)
            or not all(isinstance(t, bool) for t in tie_projs)):
        fail(f"tie_projs must be a list of at least {len(cutoffs)} booleans (one per "
             f"cluster), got {tie_projs!r}")
    tie_weight = raw.get("tie_weight", True)
    if not isinstance(tie_weight, bool):
        fail(f"tie_weight must be a boolean, got {tie_weight!r}")
    stds = {}
    for key, default in (("weight_init_std", 0.02), ("proj_init_std", 0.01)):
        val = raw.get(key, default)
        if not isinstance(val, (int, float)) or isinstance(val, bool) or not val > 0:
            fail(f"{key} must be a positive number, got {val!r}")
        stds[key] = float(val)
    return LtsConfig(n_layer=n_layer, d_model=d_model, n_head=n_head, d_inner=d_inner,
                     d_embed=d_embed, div_val=div_val, cutoffs=cutoffs, n_token=n_token,
                     tgt_len=tgt_len, tie_weight=tie_weight,
                     tie_projs=tuple(tie_projs[:len(cutoffs)]),
                     init_std=stds["weight_init_std"], proj_init_std=stds["proj_init_std"])


def read_yaml(path: Path) -> Any:
    """Parsed yaml of ``path``; a missing or unparsable file is a :class:`DataFileError`."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataFileError(f"{path} is a folder, not a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"{path}: cannot be read ({exc})") from None
    try:
        return yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, RecursionError) as exc:
        raise DataFileError(f"{path}: not valid YAML ({' '.join(str(exc).split())})") \
            from None


def _summary(path: Path) -> dict:
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise DataFileError(f"{path}: expected a mapping of record ids, got "
                            f"{type(raw).__name__}")
    return {str(k): v for k, v in raw.items()}


def _id_key(rid: str, where: Path) -> tuple[int, int]:
    m = _ID.match(rid)
    if not m:
        raise RecordError(f"{where}: record id {rid!r} is not of the form config_I_jJ")
    return int(m.group(1)), int(m.group(2))


def _config_relpath(rid: str) -> str:
    i, j = _ID.match(rid).groups()
    return f"config_{i}/j{j}/{CONFIG_FILE}"


def _folder_ids(folder: Path) -> set[str]:
    return {f"{p.parent.parent.name}_{p.parent.name}"
            for p in folder.glob(f"config_*/j*/{CONFIG_FILE}")
            if _ID.match(f"{p.parent.parent.name}_{p.parent.name}")}


def load(path: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None,
         strict: bool = True) -> Benchmark:
    """The records of an LTS folder (default: ``lts/random_GPT2_wt103`` in the data folder).

    Records come in (I, J) order. ``strict``: see the module docstring. A missing or
    unparsable yaml file is a :class:`DataFileError`, a malformed entry a :class:`RecordError`;
    both name the file and the record.
    """
    if path is None:
        ppl_path = ensure_file(f"{DEFAULT_FOLDER}/{PPL_FILE}", data_dir)
        params_path = ensure_file(f"{DEFAULT_FOLDER}/{PARAMS_FILE}", data_dir)
        folder = ppl_path.parent
    else:
        folder = Path(path)
        if folder.exists() and not folder.is_dir():
            raise DataFileError(f"{folder} is a file; an LTS benchmark is a folder (with "
                                f"{PPL_FILE}, {PARAMS_FILE} and config_I/jJ/{CONFIG_FILE} "
                                f"inside)")
        if not folder.is_dir():
            raise MissingFileError(f"{folder}: no such benchmark folder (expected {PPL_FILE}, "
                                f"{PARAMS_FILE} and config_I/jJ/{CONFIG_FILE} inside)")
        ppl_path, params_path = folder / PPL_FILE, folder / PARAMS_FILE
    ppl, params = _summary(ppl_path), _summary(params_path)
    on_disk = _folder_ids(folder)
    if path is None:  # the default folder may still lack configs that ensure_file can fetch
        on_disk |= set(ppl)
    all_ids = set(ppl) | set(params) | on_disk
    for src, ids in ((ppl_path, ppl), (params_path, params)):
        for rid in ids:
            _id_key(rid, src)
    missing: dict[str, list[str]] = {}
    for rid in all_ids:
        lacks = [f"an entry in {src}" for src, ids in ((ppl_path, ppl), (params_path, params))
                 if rid not in ids]
        if rid not in on_disk:
            lacks.append(f"the file {folder / _config_relpath(rid)}")
        if lacks:
            missing[rid] = lacks
    if missing:
        lines = [f"record {rid!r} lacks {' and '.join(lacks)}"
                 for rid, lacks in sorted(missing.items())]
        if strict:
            raise RecordError(f"{folder}: {len(missing)} record(s) incomplete: "
                              + "; ".join(lines[:10])
                              + (" ..." if len(lines) > 10 else ""))
        warnings.warn(f"{folder}: leaving out {len(missing)} incomplete record(s): "
                      + "; ".join(lines), UserWarning, stacklevel=2)
    ids = sorted(all_ids - set(missing), key=lambda rid: _id_key(rid, folder))
    if not ids:
        raise RecordError(f"{folder}: holds no records; give a benchmark folder with records")
    records = []
    for rid in ids:
        rel = _config_relpath(rid)
        cfg_path = (ensure_file(f"{DEFAULT_FOLDER}/{rel}", data_dir) if path is None
                    else folder / rel)
        config = parse_config(read_yaml(cfg_path), f"{cfg_path}, record {rid!r}")
        label = _label(ppl[rid], f"{ppl_path}, record {rid!r}")
        counts = _params_entry(params[rid], f"{params_path}, record {rid!r}")
        records.append(Record(NAME, rid, config, label, False,
                              {"params": counts, "ppl": dict(ppl[rid])}))
    return Benchmark(NAME, str(folder), LABEL, False, tuple(records))


def _label(entry: Any, where: str) -> float:
    if not isinstance(entry, dict) or LABEL not in entry:
        raise RecordError(f"{where}: lacks {LABEL}")
    val = entry[LABEL]
    if (not isinstance(val, (int, float)) or isinstance(val, bool) or not math.isfinite(val)
            or val <= 0):
        raise RecordError(f"{where}: {LABEL} must be a finite positive number, got {val!r}")
    return float(val)


def _params_entry(entry: Any, where: str) -> dict[str, int]:
    if not isinstance(entry, dict):
        raise RecordError(f"{where}: expected a mapping of parameter counts")
    out = {}
    for key in PARAMS_KEYS:
        val = entry.get(key)
        if (not isinstance(val, (int, float)) or isinstance(val, bool) or not math.isfinite(val)
                or val < 0 or val != int(val)):
            raise RecordError(f"{where}: {key} must be a non-negative whole number, got {val!r}")
        out[key] = int(val)
    return out
