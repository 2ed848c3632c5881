"""What a proxy search costs: evaluation from the cache against running models, throughput,
and the wall time of a paper-scale search.

    python bench/bench_search.py [--space flexibert] [--records 24] [--candidates 80]
                                      [--workers 2] [--batch-size 16] [--max-elements 2048]

Prints, all measured in this run on this machine (torch with one thread per process):

1. the evaluation cost of one candidate formula per architecture, read from the captured
   inputs, against one plain forward+backward of the same models (target: under 1%);
2. candidates evaluated per second with ``--workers`` processes on the search split of
   ``--records`` records (RPS on, as in a search);
3. the estimated wall time of a paper-scale search (population 80, 1,000 evaluations) on all
   the benchmark's records: capturing every record once plus 1,000 evaluations on the search
   split (the pool's wall time per candidate, measured on two bank sizes, fitted as
   a + b * architectures).

A smoke run: ``--records 8 --candidates 10 --batch-size 2 --seq-len 32 --max-elements 512``.
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

import torch

from lpzero_gp.cache import CaptureCache, CaptureSettings
from lpzero_gp.capture import DEFAULT_MAX_ELEMENTS
from lpzero_gp.collect import CollectStats, collect_inputs, make_space_batch
from lpzero_gp.language import Proxy, load_language
from lpzero_gp.search.evaluate import EvaluationPool, EvaluatorSpec, evaluate_formula
from lpzero_gp.search.split import make_split
from lpzero_gp.spaces import get_space

PAPER_EVALUATIONS = 1000
PAPER_POPULATION = 80


def pick_records(space, bench, n: int):
    """``n`` records spread over the range of sizes (by parameter count)."""
    sized = sorted(bench.records, key=lambda r: space.descriptors(r).get("n_params", 0.0))
    step = max(1, (len(sized) - 1) // max(1, n - 1))
    return [sized[min(i * step, len(sized) - 1)] for i in range(n)]


def forward_backward_seconds(space, records, settings, batch, repeats: int) -> float:
    """Median over records of the median over ``repeats`` of one plain forward+backward."""
    per_record = []
    for record in records:
        model = space.build(record, settings.variant, settings.seed)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            loss = model.objective(batch, settings.objective)
            loss.backward()
            times.append(time.perf_counter() - start)
            model.zero_grad(set_to_none=True)
        per_record.append(statistics.median(times))
    return statistics.median(per_record)


def serial_seconds(formulas, language, bank) -> float:
    """Median seconds to evaluate one of ``formulas`` on every architecture of ``bank``."""
    times = []
    with torch.no_grad():
        for text in formulas:
            proxy = Proxy(language.parse(text), language)
            start = time.perf_counter()
            proxy.evaluate(bank)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def pool_seconds(formulas, language: str, bank, probe_bank, workers: int) -> tuple[float, int]:
    """Wall seconds per candidate through an evaluation pool (RPS on), and how many of
    ``formulas`` RPS pruned."""
    spec = EvaluatorSpec(language=language, bank=bank, probe_bank=probe_bank, rps=True)
    with EvaluationPool(spec, workers) as pool:
        pool.map(evaluate_formula, formulas[:workers])  # start the workers up
        start = time.perf_counter()
        outcomes = pool.map(evaluate_formula, formulas)
        elapsed = time.perf_counter() - start
    return elapsed / len(formulas), sum(o["status"] == "pruned" for o in outcomes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="flexibert")
    parser.add_argument("--language", default="default")
    parser.add_argument("--records", type=int, default=24)
    parser.add_argument("--candidates", type=int, default=80)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--max-elements", type=int, default=DEFAULT_MAX_ELEMENTS)
    parser.add_argument("--split-fractions", type=float, nargs=3, default=[0.4, 0.3, 0.3],
                        metavar=("SEARCH", "VALIDATION", "TEST"))
    parser.add_argument("--fb-records", type=int, default=3,
                        help="records timed for forward+backward")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--cache-dir", help="capture cache (default: a new temporary folder)")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    torch.set_num_threads(1)

    space = get_space(args.space)
    bench = space.load_benchmark(data_dir=args.data_dir)
    records = pick_records(space, bench, min(args.records, len(bench)))
    settings = CaptureSettings(batch_size=args.batch_size, seq_len=args.seq_len,
                               max_elements=args.max_elements).resolved(space)
    cache = CaptureCache(args.cache_dir or tempfile.mkdtemp(prefix="bench-search-"))
    print(f"space {space.name}: {len(records)} of {len(bench)} records, batch "
          f"{settings.batch_size}x{settings.seq_len}, K={settings.max_elements}, language "
          f"{args.language}, torch threads 1 per process")

    stats = CollectStats()
    bank = collect_inputs(space, records, settings, cache=cache, data_dir=args.data_dir,
                          progress=False, stats=stats)
    capture_per_record = (stats.capture_seconds / stats.captured) if stats.captured else None

    batch = make_space_batch(space, settings, args.data_dir)
    fb = forward_backward_seconds(space, records[:: max(1, len(records) // args.fb_records)]
                                  [:args.fb_records], settings, batch, args.repeats)

    language = load_language(args.language)
    rng = random.Random(0)
    formulas = [str(language.generate(rng)) for _ in range(args.candidates)]
    # 1. one candidate on every architecture, serially, without RPS (the full cost)
    per_candidate = serial_seconds(formulas, language, bank)
    per_arch = per_candidate / len(bank)
    print(f"\n1. evaluation of one candidate from the cache: {per_arch * 1e3:.3f} ms per "
          f"architecture (median over {len(formulas)} random formulas on {len(bank)} "
          f"architectures)")
    print(f"   one forward+backward of the same models: {fb * 1e3:.1f} ms "
          f"(median over {args.fb_records} models)")
    print(f"   ratio: {per_arch / fb:.3%} (target: under 1%)")

    # 2. throughput with workers, RPS on, on the search split (and on the whole bank, to see
    # how the cost grows with the number of architectures)
    split = make_split(bank, args.split_fractions, seed=0)
    wall_search, pruned = pool_seconds(formulas, args.language, bank.subset(split.search),
                                       bank.subset(split.probes), args.workers)
    wall_all, _ = pool_seconds(formulas, args.language, bank, bank.subset(split.probes),
                               args.workers)
    print(f"\n2. {1 / wall_search:.1f} candidates per second with {args.workers} worker(s) on "
          f"{len(split.search)} search-split architectures ({pruned} of {len(formulas)} "
          f"pruned by RPS); {1 / wall_all:.1f} per second on all {len(bank)}")

    # 3. paper-scale estimate on all records: wall time per candidate fitted as a + b * N
    n_all = len(bench)
    n_search = round(args.split_fractions[0] * n_all)
    slope = max(0.0, (wall_all - wall_search) / max(1, len(bank) - len(split.search)))
    offset = max(0.0, wall_search - slope * len(split.search))
    per_candidate_all = offset + slope * n_search
    eval_seconds = PAPER_EVALUATIONS * per_candidate_all
    capture_note = ""
    if capture_per_record is None:
        capture_per_record = fb * 1.3
        capture_note = " (no record was captured in this run: estimated as 1.3 x fwd+bwd)"
    capture_seconds = capture_per_record * n_all
    print(f"\n3. paper-scale search (population {PAPER_POPULATION}, {PAPER_EVALUATIONS} "
          f"evaluations) on all {n_all} records, {n_search} in the search split:")
    print(f"   capture of every record once: {capture_seconds:7.1f} s "
          f"({capture_per_record:.2f} s per record){capture_note}")
    print(f"   {PAPER_EVALUATIONS} evaluations with {args.workers} worker(s): "
          f"{eval_seconds:7.1f} s ({per_candidate_all * 1e3:.1f} ms of wall time per candidate "
          f"on {n_search} architectures)")
    print(f"   total: {capture_seconds + eval_seconds:7.1f} s "
          f"({(capture_seconds + eval_seconds) / 60:.1f} min)")


if __name__ == "__main__":
    main()
