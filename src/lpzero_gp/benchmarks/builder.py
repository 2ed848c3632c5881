"""Build a benchmark: train architectures briefly on real text, several seeds each.

For any space with a language-modelling objective (``Space.lm_objective``). Each
(architecture, seed) is trained for ``steps`` steps (AdamW, linear warm-up then cosine decay to
0, gradient clipping) on windows of the run's text, and its validation loss (the mean loss of
``val_batches`` fixed windows of the held-out tail of the text) is recorded at several steps.
One JSONL line per (architecture, seed) is appended and flushed as soon as it is trained (the
format :mod:`lpzero_gp.benchmarks.built` reads), so a killed build continues where it stopped:
lines already written are skipped, nothing is trained twice or lost.

Seeds set initialisation and the order of training windows; validation windows are the same
for every run. Text: the first 90 % of the token stream trains, the last 10 % validates.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import torch

from .built import arch_id, read_lines

VAL_FRACTION = 0.1


@dataclass(frozen=True)
class TrainSettings:
    """How one (architecture, seed) is trained (defaults: ``specs/llama.md``'s protocol)."""

    steps: int = 400
    batch_size: int = 16
    seq_len: int = 128
    lr: float = 3e-3
    warmup: int = 20
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)
    clip: float = 1.0
    val_batches: int = 8
    eval_at: tuple[int, ...] = ()  # default: a quarter, half, three quarters and the end
    text_path: str | None = None

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.seq_len < 2 or self.val_batches < 1:
            raise ValueError(f"invalid training settings {self}")
        if not self.eval_at:
            points = sorted({max(1, self.steps * k // 4) for k in (1, 2, 3, 4)})
            object.__setattr__(self, "eval_at", tuple(points))
        if any(s < 1 or s > self.steps for s in self.eval_at):
            raise ValueError(f"eval_at {self.eval_at} must lie in [1, {self.steps}]")

    def lr_at(self, step: int) -> float:
        """Learning rate of step ``step`` (0-based): linear warm-up, cosine to 0 at the end."""
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        progress = (step - self.warmup) / max(1, self.steps - self.warmup)
        return 0.5 * self.lr * (1 + math.cos(math.pi * min(1.0, progress)))


def corpus_sha256(text_path: str | os.PathLike | None, data_dir=None) -> str:
    from ..corpus import english_text
    return hashlib.sha256(english_text(text_path, data_dir).encode()).hexdigest()


def _streams(space, settings: TrainSettings, data_dir, tokenizer: str | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    from ..corpus import _token_stream
    stream = _token_stream(tokenizer or space.tokenizer,
                           None if data_dir is None else str(data_dir), settings.text_path)
    cut = int(stream.numel() * (1 - VAL_FRACTION))
    train, val = stream[:cut], stream[cut:]
    if min(train.numel(), val.numel()) <= settings.seq_len + 1:
        raise ValueError(f"the text {settings.text_path or 'pydoc_data.topics'} is too short "
                         f"for windows of {settings.seq_len} tokens")
    return train, val


def epochs(space, settings: TrainSettings, data_dir=None, tokenizer: str | None = None
           ) -> tuple[int, float]:
    """(training tokens of the text, passes over them that ``settings`` make). Above one pass
    the labels measure how a model overfits a small text (larger models then look worse).
    ``tokenizer``: default the space's."""
    train_stream, _ = _streams(space, settings, data_dir, tokenizer)
    seen = settings.steps * settings.batch_size * settings.seq_len
    return int(train_stream.numel()), seen / train_stream.numel()


def _windows(stream: torch.Tensor, n: int, seq_len: int, gen: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, stream.numel() - seq_len, (n,), generator=gen)
    return torch.stack([stream[s:s + seq_len] for s in starts.tolist()])


def val_windows(val_stream: torch.Tensor, settings: TrainSettings, device="cpu"
                ) -> list[torch.Tensor]:
    """The validation batches: ``val_batches`` tensors (batch_size, seq_len) of windows of the
    held-out stream, the same for every run (drawn from seed 12345)."""
    gen = torch.Generator().manual_seed(12345)
    return [_windows(val_stream, settings.batch_size, settings.seq_len, gen).to(device)
            for _ in range(settings.val_batches)]


def mean_loss(model, batches: list[torch.Tensor], objective: str) -> float:
    """The mean of ``model.objective`` over ``batches`` (no gradients; eval mode, restored)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        value = sum(float(model.objective({"input_ids": b}, objective)) for b in batches)
    model.train(was_training)
    return value / len(batches)


def fit(model, params: list, settings: TrainSettings, train_stream: torch.Tensor,
        val: list[torch.Tensor], objective: str, seed: int, device="cpu",
        before_step=None) -> dict:
    """Train ``params`` of ``model`` for ``settings.steps`` steps: AdamW (weight decay on the
    matrices only), warm-up then cosine, clipping; training windows drawn from ``seed`` + 1.
    ``before_step(step)``, if given, runs before each step's forward pass (e.g. to activate
    a sub-network). Returns ``{"val_loss": {step: mean loss on val}, "train_loss": last}``
    (``val`` empty: no evaluation)."""
    decay = [p for p in params if p.ndim >= 2]
    other = [p for p in params if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                             {"params": other, "weight_decay": 0.0}],
                            lr=settings.lr, betas=settings.betas)
    gen = torch.Generator().manual_seed(int(seed) + 1)
    losses, last = {}, math.nan
    model.train()
    for step in range(settings.steps):
        for group in opt.param_groups:
            group["lr"] = settings.lr_at(step)
        ids = _windows(train_stream, settings.batch_size, settings.seq_len, gen).to(device)
        if before_step is not None:
            before_step(step)
        loss = model.objective({"input_ids": ids}, objective)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, settings.clip)
        opt.step()
        last = float(loss.detach())
        if not math.isfinite(last):
            raise FloatingPointError(f"training loss became {last} at step {step + 1}")
        if val and step + 1 in settings.eval_at:
            losses[step + 1] = mean_loss(model, val, objective)
    opt.zero_grad(set_to_none=True)
    return {"val_loss": losses, "train_loss": last}


def train(space, arch, seed: int, settings: TrainSettings = TrainSettings(),
          data_dir=None, device: str | torch.device = "cpu") -> dict:
    """Train ``arch`` from initialisation ``seed``; returns ``{"val_loss": {step: loss},
    "train_loss": last training loss, "wall_s": seconds}``."""
    if space.lm_objective is None:
        raise ValueError(f"space {space.name!r} has no language-modelling objective to train")
    start = time.perf_counter()
    train_stream, val_stream = _streams(space, settings, data_dir, space.tokenizer_of([arch]))
    val = val_windows(val_stream, settings, device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        model = space.build(arch, seed=int(seed)).to(device).train()
        result = fit(model, list(model.parameters()), settings, train_stream, val,
                     space.lm_objective, seed, device)
    return {**result, "wall_s": time.perf_counter() - start}


@dataclass
class BuildPlan:
    """What to build: architectures (JSON objects), seeds, training settings."""

    space: str
    archs: list[dict]
    seeds: Sequence[int] = (0, 1)
    settings: TrainSettings = field(default_factory=TrainSettings)
    extra: dict = field(default_factory=dict)  # written into every line (preset, sample seed)


def _done(path: Path) -> set[tuple[str, str]]:
    if not path.is_file() or path.stat().st_size == 0:
        return set()
    return {(str(line.get("arch_id") or arch_id(line["arch"])), str(line["seed"]))
            for line in read_lines(path)}


def _canonical(space, arch: dict) -> dict:
    return space.arch_to_dict(space.arch_from_dict(arch))


def versions() -> dict:
    """Versions of python, torch and transformers (recorded with every result)."""
    import transformers
    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__}


def build(plan: BuildPlan, out: str | os.PathLike, data_dir=None, device="cpu",
          progress: bool = True, workers: int | None = 1, engine=None,
          address: str | None = None, threads: int = 1) -> Path:
    """Train every (architecture, seed) of ``plan`` not yet in ``out`` (a JSONL file), appending
    one line each as it finishes; returns the path. Safe to rerun after an interruption.
    ``engine``: where the runs train (an :class:`~lpzero_gp.engine.Engine`, or ``local``, the
    default, or ``ray`` with ``address`` and ``workers``: see
    :func:`~lpzero_gp.engine.make_engine`); each run is one
    task declaring ``threads`` CPUs (torch runs with that many threads) and, on a CUDA
    ``device``, one GPU. A run's result depends only on its architecture, seed, settings and
    ``threads``, not on the engine or the worker that ran it; this process alone writes."""
    from tqdm import tqdm

    from ..engine import Engine, Resources, make_engine
    from ..spaces import get_space
    space = get_space(plan.space)
    # one canonical JSON per architecture, so ids do not depend on how a user spelled it
    plan.archs = [_canonical(space, a) for a in plan.archs]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _done(out)
    todo = [(a, s) for a in plan.archs for s in plan.seeds
            if (arch_id(a), str(s)) not in done]
    corpus = corpus_sha256(plan.settings.text_path, data_dir)
    tokenizer = space.tokenizer_of([space.arch_from_dict(a) for a in plan.archs])
    train_tokens, passes = epochs(space, plan.settings, data_dir, tokenizer)
    if passes > 1:
        import warnings
        warnings.warn(f"{plan.settings.steps} steps of {plan.settings.batch_size} x "
                      f"{plan.settings.seq_len} tokens make {passes:.1f} passes over the text's "
                      f"{train_tokens} training tokens: the labels will reward models that "
                      f"overfit least (name a larger --text, or train fewer steps)",
                      stacklevel=2)
    settings = {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in asdict(plan.settings).items()}
    common = {"settings": settings, "corpus_sha256": corpus, "tokenizer": tokenizer,
              "device": str(device),
              "train_tokens": train_tokens, "epochs": round(passes, 3),
              "versions": versions(), **plan.extra}
    if not todo:
        return out
    bar = tqdm(total=len(todo), desc=f"build {plan.space}", unit="run", disable=not progress)
    jobs = [(plan.space, arch, seed, plan.settings, data_dir, str(device)) for arch, seed in todo]
    gpus = 1 if str(device).startswith("cuda") else 0
    runner = make_engine(engine, address, workers)
    try:
        for _, line in runner.as_completed(_train_job, jobs,
                                           resources=Resources(num_cpus=threads,
                                                               num_gpus=gpus)):
            # the driver alone writes, one whole line at a time
            with open(out, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({**line, **common}, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            bar.update(1)
    finally:
        bar.close()
        if not isinstance(engine, Engine):
            runner.close()
    return out


def _train_job(job) -> dict:
    space_name, arch, seed, settings, data_dir, device = job
    from ..spaces import get_space
    space = get_space(space_name)
    config = space.arch_from_dict(arch)
    result = train(space, config, seed, settings, data_dir, device)
    return {"arch_id": arch_id(arch), "arch": arch, "seed": seed,
            "val_loss": {str(k): v for k, v in result["val_loss"].items()},
            "train_loss": result["train_loss"], "wall_s": round(result["wall_s"], 3),
            "params": space.parameter_counts(config)}


def seed_agreement(records: Iterable) -> dict:
    """How reproducible the labels are: the ceiling any proxy figure on a built benchmark
    should be read against. Over the records that have every seed of the first record:
    Kendall tau and Spearman rho between the two first seeds (in seed order) (``kendall_tau``, ``spearman_rho``),
    their means over every pair of seeds (``pairs_*``), and with four or more seeds the
    split-half agreement of the mean of the first half of the seeds with that of the second
    (``split_half_*``: how well a label averaged over half the seeds is reproduced)."""
    import itertools

    import numpy as np
    from scipy.stats import kendalltau, spearmanr
    records = [r for r in records if len(r.extra.get("seed_losses", {})) >= 2]
    out = {"kendall_tau": None, "spearman_rho": None, "n": len(records), "n_seeds": 0}
    if len(records) < 3:
        return out
    seeds = sorted(records[0].extra["seed_losses"],
                   key=lambda s: (0, int(s)) if str(s).lstrip("-").isdigit() else (1, str(s)))
    records = [r for r in records if all(s in r.extra["seed_losses"] for s in seeds)]
    m = np.array([[r.extra["seed_losses"][s] for s in seeds] for r in records])
    out.update(n=len(records), n_seeds=len(seeds),
               kendall_tau=float(kendalltau(m[:, 0], m[:, 1])[0]),
               spearman_rho=float(spearmanr(m[:, 0], m[:, 1])[0]))
    pairs = list(itertools.combinations(range(len(seeds)), 2))
    out["pairs_kendall_tau"] = float(np.mean([kendalltau(m[:, a], m[:, b])[0]
                                              for a, b in pairs]))
    out["pairs_spearman_rho"] = float(np.mean([spearmanr(m[:, a], m[:, b])[0]
                                               for a, b in pairs]))
    if len(seeds) >= 4:
        half = len(seeds) // 2
        a, b = m[:, :half].mean(1), m[:, half:2 * half].mean(1)
        out["split_half_kendall_tau"] = float(kendalltau(a, b)[0])
        out["split_half_spearman_rho"] = float(spearmanr(a, b)[0])
    return out
