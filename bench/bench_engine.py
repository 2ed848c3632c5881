"""What the engine costs and gives: throughput of capture, formula evaluation and training on
the local engine and on Ray, with 1 and 2 workers; Ray's start-up and per-task overhead; and,
from these, the time of large runs on N machines.

    python bench/bench_engine.py [--captures 8] [--formulas 120] [--train-archs 2]
        [--steps 4] [--cores-per-machine 32] [--out bench/engine_cpu.json]

All in one run on this machine, with a Ray instance started here (``ray.init(num_cpus=2)``);
every task runs torch with one thread, whatever the engine. Workloads (all real):

- capture: ``--captures`` records of the committed LLaMA benchmark (experiments/llama/
  wide_pydoc), the space's default capture settings, no cache: architectures captured / s;
- evaluation: ``--formulas`` random formulas of the default language (seed 0) on the bank of
  those captures, RPS on (as in a search): formulas evaluated / s;
- training: ``--train-archs`` architectures of the llama ``wide`` preset (sample seed 0), one
  seed, ``--steps`` steps of 16 x 128 tokens (build-benchmark's defaults): training steps / s.

The estimates use the ray-1 capture time per architecture and a training run's time fitted as
fixed + per-step cost (from builds of ``--steps`` and ``--steps / 4`` steps), and assume
machines of ``--cores-per-machine`` cores, one task per core, each core as fast as one worker
here, and add Ray's measured per-task overhead to every task.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from lpzero_gp.benchmarks.builder import BuildPlan, TrainSettings, build  # noqa: E402
from lpzero_gp.cache import CaptureSettings  # noqa: E402
from lpzero_gp.collect import collect_inputs  # noqa: E402
from lpzero_gp.engine import make_engine  # noqa: E402
from lpzero_gp.language import load_language  # noqa: E402
from lpzero_gp.search.evaluate import EvaluationPool, EvaluatorSpec, evaluate_formula  # noqa
from lpzero_gp.spaces import get_space  # noqa: E402

CAPTURE_ARCHS, BUILD_ARCHS, BUILD_SEEDS, BUILD_STEPS = 10_000, 1_000, 2, 400


def measure(engine, space, records, formulas, plan, out_dir: Path) -> dict:
    settings = CaptureSettings().resolved(space)
    # warm-up, untimed: each worker imports torch and the space, loads the tokenizer
    collect_inputs(space, records[:max(2, engine.workers or 2)], settings, cache=False,
                   progress=False, engine=engine)
    start = time.perf_counter()
    bank = collect_inputs(space, records, settings, cache=False, progress=False, engine=engine)
    capture_s = time.perf_counter() - start
    probes = bank.subset(list(range(min(3, len(bank)))))
    spec = EvaluatorSpec(language="default", bank=bank, probe_bank=probes)
    with EvaluationPool(spec, engine.workers or 2, engine=engine) as pool:
        pool.map(evaluate_formula, formulas[:4])  # the workers build their evaluator
        start = time.perf_counter()
        outcomes = pool.map(evaluate_formula, formulas)
        eval_s = time.perf_counter() - start
    path = out_dir / f"{engine.name}-{engine.workers}.jsonl"
    start = time.perf_counter()
    build(plan, path, progress=False, engine=engine)
    train_s = time.perf_counter() - start
    steps = len(plan.archs) * len(plan.seeds) * plan.settings.steps
    return {"capture_archs_per_s": len(records) / capture_s,
            "capture_s_per_arch": capture_s / len(records),
            "formulas_per_s": len(formulas) / eval_s,
            "formulas_valid": sum(o["status"] == "valid" for o in outcomes),
            "train_steps_per_s": steps / train_s,
            "train_s_per_step": train_s / steps}


def ray_overheads(ray, tasks: int) -> dict:
    """Per-task overhead on this Ray instance: ``tasks`` no-op tasks at once (throughput), and
    one task at a time (round trip)."""
    with make_engine("ray", workers=None) as engine:
        list(engine.as_completed(abs, range(8)))  # workers up
        start = time.perf_counter()
        list(engine.as_completed(abs, range(tasks)))
        batch = (time.perf_counter() - start) / tasks
        trips = []
        for i in range(20):
            start = time.perf_counter()
            engine.map(abs, [i])
            trips.append(time.perf_counter() - start)
    with make_engine("local", workers=2) as engine:
        list(engine.as_completed(abs, range(8)))
        start = time.perf_counter()
        list(engine.as_completed(abs, range(tasks)))
        local = (time.perf_counter() - start) / tasks
    return {"ray_task_overhead_s": batch, "ray_round_trip_s": statistics.median(trips),
            "local_pool_task_overhead_s": local}


def run_cost(archs: list[dict], steps: int, out_dir: Path) -> dict:
    """Seconds of one training run, fitted as ``fixed + per_step * steps`` from builds of
    ``steps`` and ``steps // 4`` steps (local engine, one worker)."""
    times = {}
    for n in (max(1, steps // 4), steps):
        plan = BuildPlan("llama", archs, seeds=(0,), settings=TrainSettings(steps=n))
        start = time.perf_counter()
        build(plan, out_dir / f"fit-{n}.jsonl", progress=False)
        times[n] = (time.perf_counter() - start) / len(archs)
    (lo, t_lo), (hi, t_hi) = sorted(times.items())
    per_step = (t_hi - t_lo) / (hi - lo)
    return {"fixed_s": t_hi - per_step * hi, "per_step_s": per_step,
            "run_s_at_400_steps": t_hi + per_step * (BUILD_STEPS - hi)}


def estimates(results: dict, run: dict, overhead: float, startup: float, cores: int) -> dict:
    """Hours to capture ``CAPTURE_ARCHS`` architectures and to build a ``BUILD_ARCHS``
    benchmark (``BUILD_SEEDS`` seeds x ``BUILD_STEPS`` steps) on N machines."""
    capture_task = results["ray-1"]["capture_s_per_arch"] + overhead
    train_task = run["run_s_at_400_steps"] + overhead
    out = {}
    for n in (1, 4, 16, 64):
        slots = n * cores
        out[f"{n}_machines"] = {
            "capture_10000_h": (startup + CAPTURE_ARCHS * capture_task / slots) / 3600,
            "build_1000_h": (startup + BUILD_ARCHS * BUILD_SEEDS * train_task / slots) / 3600}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--captures", type=int, default=8)
    p.add_argument("--formulas", type=int, default=120)
    p.add_argument("--train-archs", type=int, default=2)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--tasks", type=int, default=400, help="no-op tasks for the overhead")
    p.add_argument("--cores-per-machine", type=int, default=32)
    p.add_argument("--out", help="also write the figures to this JSON file")
    args = p.parse_args()
    import ray

    torch.set_num_threads(1)
    space = get_space("llama")
    bench = space.load_benchmark(REPO / "experiments" / "llama" / "wide_pydoc")
    records = bench.records[:args.captures]
    language = load_language("default")
    rng = random.Random(0)
    formulas = [str(language.generate(rng)) for _ in range(args.formulas)]
    archs = [space.arch_to_dict(a) for a in space.sample("wide", args.train_archs, 0)]
    plan = lambda: BuildPlan("llama", archs, seeds=(0,),  # noqa: E731
                             settings=TrainSettings(steps=args.steps))

    load_start = os.getloadavg()[0]  # other work on this machine slows every figure
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    init_s = time.perf_counter() - start
    start = time.perf_counter()
    with make_engine("ray", workers=1) as engine:
        engine.map(abs, [0])
    first_task_s = time.perf_counter() - start

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("local", "ray"):
            for workers in (1, 2):
                with make_engine(name, workers=workers) as engine:
                    results[f"{name}-{workers}"] = measure(engine, space, records, formulas,
                                                           plan(), Path(tmp))
                print(f"{name}-{workers}: {json.dumps(results[f'{name}-{workers}'])}",
                      file=sys.stderr)
        run = run_cost(archs, args.steps, Path(tmp))
    over = ray_overheads(ray, args.tasks)
    start = time.perf_counter()
    ray.shutdown()
    shutdown_s = time.perf_counter() - start
    startup = init_s + first_task_s
    report = {
        "command": "python bench/bench_engine.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "torch": torch.__version__, "ray": ray.__version__,
                    "platform": platform.platform()},
        "workloads": {"captures": len(records), "capture_settings": "llama defaults "
                      "(no cache)", "formulas": len(formulas),
                      "train": f"{args.train_archs} wide archs x 1 seed x {args.steps} steps "
                               f"of 16 x 128 tokens"},
        "throughput": results,
        "ray": {"init_s": init_s, "first_task_s": first_task_s, "shutdown_s": shutdown_s,
                **over},
        "estimate_assumes": f"{args.cores_per_machine} cores per machine, one task per core "
                            f"as fast as one worker here, plus the Ray per-task overhead; "
                            f"build: {BUILD_SEEDS} seeds x {BUILD_STEPS} steps per arch",
        "training_run_cost": run,
        "estimate": estimates(results, run, over["ray_task_overhead_s"], startup,
                              args.cores_per_machine),
        "load_average_1min": [load_start, os.getloadavg()[0]],
    }
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
