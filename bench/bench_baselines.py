"""Cost of the hand-designed proxies per pass group, to size a full baselines run.

    python bench/bench_baselines.py [--space flexibert] [--records 3] [--batch-size 16]

For a few architectures spread over the range of sizes, prints the seconds of: one model build,
the shared gradient pass with its readers (SNIP, Fisher, grad-norm, Jacobians, NAS-Bench-BERT
proxies, confidences), synflow + logsynflow (one pass on a double copy), GraSP (a double
backward); and the total times the benchmark's record count: the hand-designed part of
``lpzero-gp baselines`` on this machine (a capture for the proxy-language rows comes on top).
"""
from __future__ import annotations

import argparse
import time

import torch

from lpzero_gp.baselines.hand_designed import HAND_DESIGNED, compute_hand_designed
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import make_space_batch
from lpzero_gp.spaces import get_space

GROUPS = ("gradient", "synflow", "grasp")


def pick_records(space, bench, n: int):
    """``n`` records spread over the range of sizes (by closed-form parameter count)."""
    def size(r):
        d = space.descriptors(r)
        return d.get("n_params", d.get("n_params_nonembedding", 0.0))
    ordered = sorted(bench.records, key=size)
    step = max(1, (len(ordered) - 1) // max(1, n - 1))
    return [ordered[min(i * step, len(ordered) - 1)] for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--space", default="flexibert")
    parser.add_argument("--records", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--variant")
    parser.add_argument("--objective")
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    torch.set_num_threads(1)
    space = get_space(args.space)
    bench = space.load_benchmark(data_dir=args.data_dir)
    settings = CaptureSettings(batch_size=args.batch_size, seq_len=args.seq_len,
                               variant=args.variant, objective=args.objective).resolved(space)
    batch = make_space_batch(space, settings, args.data_dir)
    print(f"{space.name}: {settings.variant} build, objective {settings.objective}, batch "
          f"{settings.batch_size} x {settings.seq_len}, one thread")
    print(f"{'record':>14s} {'build':>7s} " + " ".join(f"{g:>9s}" for g in GROUPS)
          + f" {'total':>7s}")
    totals = []
    for record in pick_records(space, bench, args.records):
        start = time.perf_counter()
        model = space.build(record, settings.variant, settings.seed)
        build = time.perf_counter() - start
        cells = []
        for group in GROUPS:
            names = [n for n, h in HAND_DESIGNED.items() if h.needs == group]
            start = time.perf_counter()
            compute_hand_designed(model, batch, settings.objective, names)
            cells.append(time.perf_counter() - start)
        total = build + sum(cells)
        totals.append(total)
        print(f"{record.id:>14s} {build:7.2f} " + " ".join(f"{c:9.2f}" for c in cells)
              + f" {total:7.2f}")
    mean = sum(totals) / len(totals)
    print(f"mean {mean:.1f} s per record; about {mean * len(bench) / 60:.0f} min for the "
          f"{len(bench)} records of {bench.source}")


if __name__ == "__main__":
    main()
