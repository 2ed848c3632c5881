"""LPZero's published GPT-2 proxy, recomputed on full tensors and compared with its stored scores.

The public code (``lpzero/runner/eval_rank_gpt2.py`` at commit 226bacd) scored each LTS
record with the genotype ``W -> x^2 -> mean|.|`` + ``G -> softmax(dim=0) -> x^2 -> mean`` per
Conv1D matrix (``attn.c_attn``, ``attn.c_proj``, ``mlp.c_fc``, ``mlp.c_proj`` of every block),
averaged without weights over the 4L matrices, on one 16 x 192 batch with the adaptive-softmax
NLL's mean as objective. In lpzero-gp that is :data:`lpzero_gp.language.LPZERO_GPT2_PROXY` in the
``lpzero`` language: a Conv1D (in, out) weight is captured as (out, in) rows, so its
``softmax(dim=0)`` is our row softmax.

The score is dominated by mean(W^2), whose differences between records of equal depth are a
fraction of a percent (the spec's closed form: 2e-4 + 1e-4/L + 3/(4 d^2) + ...), so a sketch's
sampling noise would reorder them: the reproduction evaluates on the *full* tensors
(``max_elements=None``), one record at a time, and stores the default sketch of the same capture
in the capture cache on the way (:func:`lpzero_gp.capture.sketch`: the rows a direct capture
keeps), so that a later search or table reuses it.

Differences from the public code that remain: the text (Python's documentation prose instead of
WikiText-103's first training batch), the random initialisation (our seed 0 per record instead of
one ``torch.manual_seed(1111)`` stream over all records), and dropout (the public code left
the model in train mode; Archai's GPT-2 has dropout 0.1... our builder has none). The stored
scores depend on the shapes almost only, so none of these moves the ranking much.
"""
from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np
import yaml

from ..bank import InputBank
from ..cache import CaptureCache, CaptureSettings, entry_key
from ..capture import capture_inputs, sketch
from ..collect import make_space_batch
from ..data import ensure_file
from ..errors import DataFileError
from ..metrics import correlations
from ..corpus import text_fingerprint

STORED = "lpzero-published/lts_scores/lpzero_scores_seed_1111.yaml"


def read_stored(data_dir=None, path=None) -> dict[str, float]:
    """LPZero's stored GPT-2 scores: record id -> score (lower is better, as stored)."""
    path = Path(path) if path is not None else ensure_file(STORED, data_dir)
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DataFileError(f"{path}: cannot be read as YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise DataFileError(f"{path}: expected a mapping of record id to score")
    out = {}
    for key, value in raw.items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            raise DataFileError(f"{path}: record {key!r}: {value!r} is not a number") from None
    return out


def score_full(space, record, settings: CaptureSettings, batch, proxy,
               cache: CaptureCache | None = None, text_fp: str = "") -> float:
    """The proxy on ``record``'s full tensors; the default sketch goes to ``cache``."""
    model = space.build(record, settings.variant, settings.seed)
    meta = {"record": record.id, "space": space.name, "variant": settings.variant,
            "seed": settings.seed, "objective": settings.objective,
            "batch_size": settings.batch_size, "seq_len": settings.seq_len}
    full = capture_inputs(model, batch, settings.objective, None, settings.seed, meta)
    value = float(proxy.evaluate(InputBank.from_inputs([full], [record.id])).scores[0])
    if cache is not None:
        key = entry_key(space.name, record, settings, text_fp)
        if cache.load(key) is None:
            cache.store(key, sketch(full, settings.max_elements, settings.seed,
                                    settings.min_rows))
    return value


def reproduce(space, records, out: Path, settings: CaptureSettings | None = None,
              cache: CaptureCache | None = None, data_dir=None, progress=True) -> dict:
    """Score every record (resumable: ``out/scores.json`` keeps what is done), then compare
    with the stored scores; writes ``out/reproduction.json`` and ``.md``."""
    from ..language import LPZERO_GPT2_PROXY, Proxy
    from tqdm.auto import tqdm
    settings = (settings or CaptureSettings()).resolved(space)
    out.mkdir(parents=True, exist_ok=True)
    done_path = out / "scores.json"
    done = json.loads(done_path.read_text()) if done_path.is_file() else {}
    proxy = Proxy.parse(LPZERO_GPT2_PROXY, "lpzero")
    batch = make_space_batch(space, settings, data_dir)
    fp = text_fingerprint(settings.text_path)
    for record in tqdm(records, desc="lpzero gpt2 (full tensors)", disable=not progress):
        if record.id in done:
            continue
        start = time.perf_counter()
        done[record.id] = score_full(space, record, settings, batch, proxy, cache, fp)
        tmp = done_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(done, indent=1))
        os.replace(tmp, done_path)
        if progress:
            tqdm.write(f"{record.id}: {done[record.id]:.6g} ({time.perf_counter() - start:.1f} s)")
    return compare(space, records, done, read_stored(data_dir), out, settings)


def compare(space, records, ours: dict, stored: dict, out: Path | None,
            settings: CaptureSettings) -> dict:
    ids = [r.id for r in records if r.id in ours and r.id in stored]
    a = np.array([ours[i] for i in ids])
    b = np.array([stored[i] for i in ids])
    quality = np.array([r.quality for r in records if r.id in ids])  # -ppl: higher is better
    rel = np.abs(a - b) / np.abs(b)
    vs = correlations(a, b)
    # lower score = better architecture: rank -score against -ppl
    mine, theirs = correlations(-a, quality), correlations(-b, quality)
    result = {
        "proxy": "LPZero's GPT-2 genotype (lpzero language): "
                 "layer_mean(l_add(pool_mean(t_meanabs(square(W))), "
                 "pool_mean(t_mean(square(softmax(G))))))",
        "n": len(ids), "settings": settings.as_dict(), "tensors": "full (max_elements=None)",
        "relative_error": {"max": float(rel.max()), "mean": float(rel.mean()),
                           "within_1pct": int((rel <= 0.01).sum())},
        "ours_vs_stored": {"spearman_rho": vs.spearman_rho, "kendall_tau": vs.kendall_tau},
        "ours_vs_ppl": {"kendall_tau": mine.kendall_tau, "spearman_rho": mine.spearman_rho},
        "stored_vs_ppl": {"kendall_tau": theirs.kendall_tau,
                          "spearman_rho": theirs.spearman_rho},
        "record_ids": ids, "ours": {i: ours[i] for i in ids},
    }
    if out is not None:
        (out / "reproduction.json").write_text(json.dumps(result, indent=1))
        (out / "reproduction.md").write_text(markdown(result))
    return result


def markdown(r: dict) -> str:
    f = lambda x: "--" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"  # noqa: E731
    return "\n".join([
        f"LPZero's GPT-2 proxy on {r['n']} LTS records, full tensors, against LPZero's stored "
        f"scores (`{STORED}`).", "",
        "| | value |", "|---|---:|",
        f"| relative error, max | {r['relative_error']['max']:.4f} |",
        f"| relative error, mean | {r['relative_error']['mean']:.4f} |",
        f"| records within 1% | {r['relative_error']['within_1pct']} of {r['n']} |",
        f"| Spearman ρ(ours, stored) | {f(r['ours_vs_stored']['spearman_rho'])} |",
        f"| τ / ρ (ours, −ppl) | {f(r['ours_vs_ppl']['kendall_tau'])} / "
        f"{f(r['ours_vs_ppl']['spearman_rho'])} |",
        f"| τ / ρ (stored, −ppl) | {f(r['stored_vs_ppl']['kendall_tau'])} / "
        f"{f(r['stored_vs_ppl']['spearman_rho'])} |", ""])
