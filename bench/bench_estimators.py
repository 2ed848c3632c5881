"""How well the whole-row sketch estimates every depth-2 formula, on real captures.

    python bench/bench_estimators.py [--batch-size 2] [--seq-len 32] [--noise-seeds 4]
                                          [--out bench/estimators.md]

Captures 8 FlexiBERT architectures (``space`` build, so that SA / LT / DSC layers really differ
-- the ``trained`` build makes every layer SA-SDP --, MLM; the smallest record of each kind of
:data:`lpzero_gp.estimators.FLEXIBERT_KINDS`: both depths, both hidden sizes, every operation)
and 4 of the smallest GPT-2 ones (``lts`` build, CLM: :func:`lpzero_gp.estimators.pick_gpt2`)
once in full
(``max_elements=None``), sketches them with the default settings (``DEFAULT_MAX_ELEMENTS``,
``DEFAULT_MIN_ROWS``; sketch seed 0 is compared, seeds 1..``--noise-seeds`` measure the sampling
error independently), evaluates every depth-2 formula ``[layer_mean](pool_mean(r(p(X))))`` on
both, and prints / writes the per-primitive estimator table, the rank agreement against the
signal-to-noise ratios, the validity disagreements, the worst and the biased combinations.
"""
from __future__ import annotations

import argparse
import collections
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lpzero_gp import estimators as E
from lpzero_gp.bank import DEFAULT_MAX_ELEMENTS, DEFAULT_MIN_ROWS
from lpzero_gp.spaces import get_space

SNR_BINS = (0.0, 1.0, 3.0, 10.0, 30.0, 100.0, 1000.0, math.inf)
RANK_BINS = (0.0, 1.0, 3.0, 5.0, 10.0, 100.0, math.inf)


def describe_flexibert(r) -> str:
    c = r.config
    ops = "/".join(sorted({x.operation_type for x in c.layers}))
    return f"`{r.id}` ({c.n_layers} layers, hidden {c.hidden_size}, {ops})"


def describe_gpt2(r) -> str:
    c = r.config
    return (f"`{r.id}` ({c.n_layer} layers, d_model {c.d_model}, d_embed {c.d_embed}, "
            f"div_val {c.div_val})")


def run_space(name: str, records, args, describe, variant=None) -> tuple[list, dict]:
    space = get_space(name)
    variant = variant or space.default_variant
    t0 = time.perf_counter()
    full = E.capture_full_bank(space, records, args.batch_size, args.seq_len, variant=variant,
                               data_dir=args.data_dir)
    t1 = time.perf_counter()
    sketch = E.sketch_bank(full, args.max_elements, 0, args.min_rows)
    noise = [E.sketch_bank(full, args.max_elements, s, args.min_rows)
             for s in range(1, args.noise_seeds + 1)]
    reseeded = [E.capture_full_bank(space, records, args.batch_size, args.seq_len,
                                    variant=variant, data_dir=args.data_dir, model_seed=s)
                for s in range(1, args.model_seeds + 1)]
    rows = E.compare(full, sketch, noise_banks=noise, seed_banks=reseeded)
    t2 = time.perf_counter()
    numel = {k: int(full.tensor_numel(k).sum()) for k in full.names}
    kept = {k: int(sum(t.rows.numel() for i in sketch.inputs for t in i.tensors[k]))
            for k in full.names}
    info = {"space": name, "records": [describe(r) for r in records],
            "capture_s": t1 - t0, "compare_s": t2 - t1, "numel": numel, "kept": kept,
            "variant": variant, "objective": space.default_objective}
    print(f"{name}: {len(records)} records captured in full in {t1 - t0:.1f} s; "
          f"{len(rows)} formulas compared in {t2 - t1:.1f} s", flush=True)
    return rows, info


def snr_table(rows, attr: str, bins, threshold_rho: float = 0.99) -> str:
    ok = [r for r in rows if r.valid_both and not math.isnan(getattr(r, attr))]
    lines = ["| range | combinations | rho < 0.99 | min rho | median rel. error |",
             "|---|---:|---:|---:|---:|"]
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = [r for r in ok if lo <= getattr(r, attr) < hi]
        if not sel:
            continue
        bad = sum(r.spearman < threshold_rho for r in sel)
        lines.append(f"| [{E._g(lo)}, {E._g(hi)}) | {len(sel)} | {bad} | "
                     f"{E._g(min(r.spearman for r in sel), 3)} | "
                     f"{E._g(float(np.median([r.rel_err_median for r in sel])))} |")
    exact = [r for r in ok if math.isinf(getattr(r, attr))]
    if exact:
        lines.append(f"| inf (no sampling error) | {len(exact)} | "
                     f"{sum(r.spearman < threshold_rho for r in exact)} | "
                     f"{E._g(min(r.spearman for r in exact), 3)} | "
                     f"{E._g(float(np.median([r.rel_err_median for r in exact])))} |")
    return "\n".join(lines)


def seed_table(ok) -> str:
    """Sketch rho < 0.99 against the full tensors' own rank agreement across model seeds."""
    rows = [r for r in ok if not math.isnan(r.seed_rho)]
    lines = ["| full tensors, seed 0 vs other seeds | combinations | sketch rho < 0.99 | "
             "min sketch rho |", "|---|---:|---:|---:|"]
    for label, sel in (("seed rho >= 0.99 (the architectures decide)",
                        [r for r in rows if r.seed_rho >= 0.99]),
                       ("seed rho < 0.99 (the initialisation decides)",
                        [r for r in rows if r.seed_rho < 0.99])):
        if sel:
            lines.append(f"| {label} | {len(sel)} | {sum(r.spearman < 0.99 for r in sel)} | "
                         f"{E._g(min(r.spearman for r in sel), 3)} |")
    return "\n".join(lines)


def why_excluded(r, threshold: float) -> str:
    if r.full_cv < 1e-3:
        return "near-constant full score (std / mean < 1e-3)"
    if r.snr < threshold:
        return f"sketch noise above spread / {threshold:g}"
    return "two architectures closer than the sketch tells apart"


def section(rows, info, threshold: float) -> list[str]:
    out = [f"### {info['space']} ({info['variant']} build, {info['objective']} objective)", "",
           "Records: " + ", ".join(info["records"]) + ".", "",
           "| input | full elements | kept elements (seed 0) | kept share |",
           "|---|---:|---:|---:|"]
    for k, n in info["numel"].items():
        out.append(f"| {k} | {n:,} | {info['kept'][k]:,} | {info['kept'][k] / n:.3g} |")
    out += ["", "Per input (all its tensor operations and reductions):", "",
            E.markdown_table(E.estimator_table(rows, kinds=("input",))), "",
            "Rank agreement against the rank SNR (the smallest gap between two "
            "architectures' full scores in units of the sketch's RMS error on that gap; "
            "combinations valid on both):", "",
            snr_table(rows, "rank_snr", RANK_BINS), "",
            "Rank agreement against the SNR (spread of the full scores over the sketch's RMS "
            "error; combinations valid on both):", "",
            snr_table(rows, "snr", SNR_BINS), ""]
    ok = [r for r in rows if r.valid_both]
    decided = [r for r in ok if r.rank_snr >= threshold]
    excluded = [r for r in ok if not r.rank_snr >= threshold]
    why = collections.Counter(why_excluded(r, threshold) for r in excluded)
    out += [f"Rank SNR >= {E._g(threshold)} (the tensors decide the ranking): {len(decided)} "
            f"of {len(ok)} combinations valid on both, of which "
            f"{sum(r.spearman < 0.99 for r in decided)} with rho < 0.99. Below: "
            f"{len(excluded)}: " + "; ".join(f"{v} {k}" for k, v in why.most_common()) + ".",
            ""]
    if any(not math.isnan(r.seed_rho) for r in ok):
        out += ["Is the full tensors' ranking a property of the architectures? The same "
                "architectures' full tensors with models initialised from other seeds (same "
                "batch): *seed rho* is the smallest Spearman's rho between the full scores at "
                "seed 0 and at another seed (combinations valid on both, and at every seed):",
                "", seed_table(ok), ""]
    disagree = [r for r in rows if not r.agree]
    out.append(f"Validity differs between sketch and full: {len(disagree)} combination(s).")
    for r in disagree:
        out.append(f"- `{r.formula}`: full {'valid' if r.valid_full else r.reason_full}; "
                   f"sketch {'valid' if r.valid_sketch else r.reason_sketch}")
    out.append("")
    low = [r for r in ok if r.spearman < 0.99]
    out += [f"Combinations with rho < 0.99: {len(low)} of {len(ok)} valid on both; the 15 "
            "with the largest rank SNR:", ""]
    if low:
        out += [E.markdown_rows(sorted(low, key=lambda r: -r.rank_snr)[:15]), ""]
    worst = sorted((r for r in ok if not math.isnan(r.rel_err_median)),
                   key=lambda r: -r.rel_err_median)[:15]
    out += ["Largest median relative errors:", "", E.markdown_rows(worst), ""]
    biased = sorted((r for r in ok if not math.isnan(r.bias_t)),
                    key=lambda r: -abs(r.bias_t))[:15]
    out += ["Largest biases (mean relative error over the noise sketches and architectures, "
            "t statistic in parentheses):", "", E.markdown_rows(biased), ""]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--seq-len", type=int, default=32)
    parser.add_argument("--max-elements", type=int, default=DEFAULT_MAX_ELEMENTS)
    parser.add_argument("--min-rows", type=int, default=DEFAULT_MIN_ROWS)
    parser.add_argument("--noise-seeds", type=int, default=8)
    parser.add_argument("--model-seeds", type=int, default=2,
                        help="full captures with models from seeds 1..K: is a ranking a "
                             "property of the architectures or of one initialisation?")
    parser.add_argument("--rank-snr", type=float, default=10.0,
                        help="the rank SNR from which a ranking counts as decided by the "
                             "tensors (as in tests/test_estimators.py)")
    parser.add_argument("--gpt2-records", type=int, default=4)
    parser.add_argument("--flexibert-variant", default="space")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default=str(Path(__file__).with_name("estimators.md")))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    flexi = E.pick_flexibert(get_space("flexibert").load_benchmark(data_dir=args.data_dir),
                             variant=args.flexibert_variant)
    gpt2 = E.pick_gpt2(get_space("gpt2").load_benchmark(data_dir=args.data_dir),
                       args.gpt2_records)
    results = [run_space("flexibert", flexi, args, describe_flexibert, args.flexibert_variant),
               run_space("gpt2", gpt2, args, describe_gpt2)]
    rows = [r for rs, _ in results for r in rs]
    table = E.markdown_table(E.estimator_table(rows))
    print("\nEstimator table (both spaces):\n")
    print(table)
    ok = [r for r in rows if r.valid_both]
    worst = sorted((r for r in ok if not math.isnan(r.rel_err_median)),
                   key=lambda r: -r.rel_err_median)[:15]
    print("\nWorst combinations (median relative error):\n")
    print(E.markdown_rows(worst))
    low = sorted((r for r in ok if r.spearman < 0.99), key=lambda r: -r.rank_snr)
    print(f"\nrho < 0.99: {len(low)} of {len(ok)}; highest rank SNR among them:\n")
    print(E.markdown_rows(low[:15]))
    print("\nAgainst other model seeds (both spaces):\n")
    print(seed_table(ok))

    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]])
    doc = [
        "# Sketch estimators on real captures",
        "",
        "Every depth-2 formula `layer_mean(pool_mean(r(p(X))))` (layer-level X) or "
        "`pool_mean(r(p(X)))` (model-level X), for every input X, every registered unary "
        f"tensor operation p ({len(E.tensor_ops())}, `identity` included) and every "
        f"reduction r ({len(E.reductions())}), evaluated on the full tensors "
        "(`max_elements=None`) and on the whole-row sketch of the same tensors "
        "(`lpzero_gp.capture.sketch`: exactly the rows a sketch capture keeps).",
        "",
        "Made by `" + command + "` (`lpzero_gp.estimators`): FlexiBERT "
        f"`{args.flexibert_variant}` build (the `trained` build makes every layer SA-SDP, so "
        "SA / LT / DSC would not differ), MLM; GPT-2 `lts` build, CLM; batch "
        f"{args.batch_size} x {args.seq_len} of real text (seed 0), models built with seed 0 "
        f"(and, full tensors only, seeds 1..{args.model_seeds} for the seed rho), "
        f"sketch `max_elements={args.max_elements}`, `min_rows={args.min_rows}` (the defaults "
        "`DEFAULT_MAX_ELEMENTS`, `DEFAULT_MIN_ROWS`), sketch seed 0 compared with the full "
        f"tensors, seeds 1..{args.noise_seeds} measuring the sampling error; torch "
        f"{torch.__version__}, {args.threads} thread(s), Python {platform.python_version()}.",
        "",
        "Columns: *relative error* |sketch - full| / |full| per architecture (a formula's "
        "median and max over architectures; a primitive's median / 90th percentile over its "
        "combinations valid on both); *rho*: Spearman's rho across the architectures of one "
        "space between the sketch's and the full scores; *SNR*: the standard deviation of the "
        "full scores across architectures over the sketch's sampling error (RMS over "
        "architectures of sketch - full, on the independent noise sketches); *rank SNR*: over "
        "every pair of architectures, the gap between their full scores over the RMS (noise "
        "sketches) of the sketch's error on that gap, the smallest: the rows a sketch keeps "
        "depend on the tensor's input, layer, name and shape, not on the architecture, so the "
        "errors of two architectures are correlated and partly cancel in their gap; *bias*: "
        "mean over noise sketches and architectures of (sketch - full) / |full|, with its t "
        f"statistic; *biased*: combinations with |t| > {E.BIAS_T:g}. Every reduction but "
        "`t_std` and `t_fro` is a mean of per-row values over uniformly drawn rows, hence "
        "unbiased by construction: a large |t| there means a skewed sampling distribution "
        "(a few rows carry the mass: most draws fall short, rare ones overshoot), not a "
        "bias; `t_fro` (a square root of such a mean) and `t_std` are biased low (Jensen). "
        "A score is invalid when non-finite for some architecture or constant across "
        "architectures.",
        "",
        "## Estimator table (both spaces)",
        "",
        table,
        "",
        "## The sketch against another initialisation (both spaces)",
        "",
        "A ranking the sketch gets wrong may not be the architectures' to begin with: the full "
        "tensors of models initialised from other seeds (1.."
        f"{args.model_seeds}, same batch) rank the same architectures; *seed rho* is the "
        "smallest Spearman's rho between those full scores and the seed-0 ones.",
        "",
        seed_table(ok),
        "",
        "## Per space",
        "",
    ]
    for rs, info in results:
        doc += section(rs, info, args.rank_snr)
        doc.append(f"Capture {info['capture_s']:.0f} s, comparison {info['compare_s']:.0f} s "
                   "on this machine.")
        doc.append("")
    Path(args.out).write_text("\n".join(doc).rstrip() + "\n")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
