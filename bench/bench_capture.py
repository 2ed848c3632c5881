"""Capture cost against one plain forward+backward of the same model, cache size, reload time.

    python bench/bench_capture.py [--space flexibert] [--repeats 3] [--batch-size 16]

For a few architectures of different sizes, prints the median over ``--repeats`` of: one
plain forward+backward (``loss.backward()``), one capture (forward with hooks, backward with
``autograd.grad``, sampling), their ratio (target: at most 1.3), the size of the cache entry,
and the time to reload it. All figures are measured in this one run on this machine.

``--exact-stats`` also times the alternative to a sketch for depth-2 formulas: every depth-2
statistic computed exactly on the full tensors at capture time (every unary tensor operation of
the registry on every tensor of every input by rows, then the per-row sums, absolute sums,
squares, extremes and norms every reduction is made of), and prints its cost beside the
forward+backward's.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from lpzero_gp.cache import CaptureCache, CaptureSettings, entry_key
from lpzero_gp.capture import capture_inputs
from lpzero_gp.collect import make_space_batch
from lpzero_gp.spaces import get_space
from lpzero_gp.corpus import text_fingerprint


def pick_records(space, bench, n: int):
    """``n`` records spread over the range of sizes (by parameter count)."""
    sized = sorted(bench.records, key=lambda r: space.descriptors(r).get(
        "n_params", space.descriptors(r).get("n_params_nonembedding", 0)))
    step = max(1, (len(sized) - 1) // max(1, n - 1))
    return [sized[min(i * step, len(sized) - 1)] for i in range(n)]


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def exact_depth2_stats(inputs) -> int:
    """Every depth-2 statistic of the full ``inputs`` (by rows); returns how many."""
    from lpzero_gp.bank import INPUTS
    from lpzero_gp.language import REGISTRY
    from lpzero_gp.language.types import Tensor, TensorValue
    ops = [n for n, p in REGISTRY.items() if p.args == (Tensor,) and p.ret is Tensor]
    count = 0
    for name, items in inputs.tensors.items():
        if INPUTS[name].transposes:
            continue
        for t in items:
            value = TensorValue((t.rows,), None)
            for op in ops:
                y = REGISTRY[op].fn(value).blocks[0]
                (y.sum(), y.abs().sum(), (y * y).sum(), y.amax(1).sum(), y.amin(1).sum(),
                 torch.linalg.vector_norm(y, dim=1).sum())
                count += 6
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--space", default="flexibert")
    parser.add_argument("--records", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--data-dir")
    parser.add_argument("--exact-stats", action="store_true",
                        help="also time exact depth-2 statistics of the full tensors")
    args = parser.parse_args()

    space = get_space(args.space)
    bench = space.load_benchmark(data_dir=args.data_dir)
    settings = CaptureSettings(batch_size=args.batch_size).resolved(space)
    batch = make_space_batch(space, settings, args.data_dir)
    cache = CaptureCache(tempfile.mkdtemp(prefix="bench-capture-"))
    print(f"space {space.name}, batch {settings.batch_size}x{settings.seq_len}, objective "
          f"{settings.objective}, variant {settings.variant}, K={settings.max_elements}, "
          f"torch threads {torch.get_num_threads()}, median of {args.repeats}")
    header = (f"{'record':>14} {'layers':>6} {'params':>10} {'fwd+bwd s':>10} {'capture s':>10}"
              f" {'ratio':>6} {'cache MB':>9} {'reload ms':>10}")
    print(header)
    ratios = []
    for record in pick_records(space, bench, args.records):
        model = space.build(record, settings.variant, settings.seed)
        n_params = sum(p.numel() for p in model.parameters())

        def plain():
            model.zero_grad(set_to_none=True)
            model.objective(batch, settings.objective).backward()

        def captured():
            return capture_inputs(model, batch, settings.objective, settings.max_elements,
                                  settings.seed)

        plain()  # warm-up, both paths
        captured()
        t_plain = timed(plain, args.repeats)
        t_capture = timed(captured, args.repeats)
        model.zero_grad(set_to_none=True)
        key = entry_key(space.name, record, settings, text_fingerprint(None))
        path = cache.store(key, captured())
        t_reload = timed(lambda: cache.load(key), args.repeats)
        ratio = t_capture / t_plain
        ratios.append(ratio)
        print(f"{record.id:>14} {len(model.proxy_layers()):>6} {n_params:>10,} "
              f"{t_plain:>10.3f} {t_capture:>10.3f} {ratio:>6.2f} "
              f"{path.stat().st_size / 2**20:>9.2f} {t_reload * 1e3:>10.1f}")
        if args.exact_stats:
            full = capture_inputs(model, batch, settings.objective, None, settings.seed)
            model.zero_grad(set_to_none=True)
            n_stats = exact_depth2_stats(full)
            t_exact = timed(lambda: exact_depth2_stats(full), args.repeats)
            print(f"{'':>14} exact depth-2 statistics of the full tensors: {n_stats:,} in "
                  f"{t_exact:.3f} s = {t_exact / t_plain:.2f} x the forward+backward")
    print(f"capture / plain forward+backward: median ratio {statistics.median(ratios):.2f} "
          f"(target <= 1.3)")


if __name__ == "__main__":
    main()
