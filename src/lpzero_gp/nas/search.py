"""Architecture search under a budget: a proxy picks architectures without training them.

Candidates are drawn from a space's declared ranges (``Space.sample``) or taken from a
benchmark's records; a candidate over budget is rejected from its closed-form cost before any
model is built. The rest are scored by the proxy (one capture each, cached like every capture).

- ``random``: ``samples`` candidates within budget, drawn from ``seed``.
- ``evolution``: a population of ``population`` random candidates, then generations of
  tournament selection (size 3, on the run's own generator) and mutation (a mutation redraws
  one layer's widths, or the whole architecture), children over budget
  redrawn, the best ``population`` of parents and children kept, until ``samples`` candidates
  are scored. The state is saved after every generation (``checkpoint.json``); a killed run
  resumes to the same result.

A preset of sub-networks (``llama``'s ``lonas7b``, ``lonas-mini``) samples views of one
super-network, built once and captured with the ``subnet`` variant.

Budgets are ``"params<=5e6"`` (parameters without LoRA adapters) or ``"flops<=1e9"``
(multiply-accumulates per token of a forward pass at the capture's sequence length).
"""
from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..benchmarks import Record
from ..errors import UsageError

_BUDGET = re.compile(r"^\s*(params|flops)\s*<=\s*([0-9.eE+]+)\s*$")


@dataclass(frozen=True)
class Budget:
    """``metric`` ("params" or "flops") at most ``limit``."""

    metric: str
    limit: float

    @classmethod
    def parse(cls, text: str) -> "Budget":
        m = _BUDGET.match(text)
        if not m:
            raise UsageError(f"budget {text!r}: write params<=NUMBER or flops<=NUMBER "
                             f"(e.g. params<=5e6)")
        try:
            limit = float(m.group(2))
        except ValueError:
            raise UsageError(f"budget {text!r}: {m.group(2)!r} is not a number") from None
        if not (limit > 0 and math.isfinite(limit)):
            raise UsageError(f"budget {text!r}: the limit must be a positive number")
        return cls(m.group(1), limit)

    def __str__(self) -> str:
        return f"{self.metric}<={self.limit:g}"


def costs(space, arch_or_record, seq_len: int) -> dict[str, float]:
    """Closed-form ``params`` and ``flops`` (NaN where the space has no formula)."""
    desc = space.descriptors(arch_or_record)
    out = {"params": float(desc.get(space.size_descriptor, math.nan)), "flops": math.nan}
    flops = getattr(space, "flops_per_token", None)
    if flops is not None:
        arch = arch_or_record.config if isinstance(arch_or_record, Record) else arch_or_record
        out["flops"] = float(flops(arch, seq_len))
    return out


def within(budgets: Sequence[Budget], cost: dict) -> bool:
    for b in budgets:
        value = cost[b.metric]
        if math.isnan(value):
            raise UsageError(f"budget {b}: this space has no closed-form {b.metric}")
        if value > b.limit:
            return False
    return True


def _record(space, arch, supernet=None) -> Record:
    """A label-less record of a candidate; a sub-network carries its super-network (and its
    id depends on it, so captures of views of different super-networks never mix)."""
    from ..benchmarks.built import arch_id
    data = space.arch_to_dict(arch)
    if supernet is None:
        return Record(f"{space.name}-nas", arch_id(data), arch, math.nan, True, {})
    sup = space.arch_to_dict(supernet)
    return Record(f"{space.name}-nas", arch_id({"arch": data, "supernet": sup}), arch,
                  math.nan, True, {"supernet": sup})


def proxy_scorer(space, proxy, settings, cache=None, data_dir=None, progress: bool = False,
                 lower_is_better: bool = False,
                 engine=None) -> Callable[[list[Record]], np.ndarray]:
    """Scores of ``proxy`` on records, one capture each, oriented so that higher is better
    (negated when ``lower_is_better``, as LPZero's GPT-2 proxy). ``engine``: where the
    captures run (:func:`~lpzero_gp.collect.collect_inputs`)."""
    from ..collect import collect_inputs

    def score(records: list[Record]) -> np.ndarray:
        from ..hand_bank import hand_names
        bank = collect_inputs(space, records, settings, cache=cache, data_dir=data_dir,
                              progress=progress, hand_designed=hand_names(proxy),
                              engine=engine)
        values = np.asarray(proxy.evaluate(bank).scores, dtype=np.float64)
        return -values if lower_is_better else values
    return score


class NasRun:
    """One search (see the module docstring); results and checkpoint under ``out``."""

    def __init__(self, space, scorer: Callable[[list[Record]], np.ndarray],
                 budgets: Sequence[Budget], *, strategy: str = "random", samples: int = 64,
                 population: int = 16, seed: int = 0, preset: str | None = None,
                 pool: Sequence[Record] | None = None, seq_len: int | None = None,
                 out: str | Path | None = None, max_tries: int = 10_000):
        if strategy not in ("random", "evolution"):
            raise UsageError(f"unknown strategy {strategy!r}: random or evolution")
        if samples < 1 or population < 2:
            raise UsageError("samples must be >= 1 and population >= 2")
        if pool is None and preset is None:
            preset = space.presets[0] if space.presets else None
            if preset is None:
                raise UsageError(f"space {space.name!r} declares no ranges to sample from; "
                                 f"give --benchmark to search its records")
        if pool is not None and strategy == "evolution":
            raise UsageError("--strategy evolution samples new architectures; with "
                             "--benchmark the pool is fixed: use --strategy random")
        self.space, self.scorer, self.budgets = space, scorer, list(budgets)
        self.strategy, self.samples, self.population = strategy, samples, population
        self.seed, self.preset, self.pool = seed, preset, pool
        self.seq_len = seq_len or space.default_seq_len
        self.out = None if out is None else Path(out)
        self.max_tries = max_tries
        self.rng = random.Random(seed)
        self.supernet = None if pool is not None else space.supernet_of(self.preset)
        self.scored: dict[str, dict] = {}  # id -> {"record", "score", "params", "flops"}
        self.rejected = 0
        self.generation = 0
        self.parents: list[str] = []

    # -- candidates ------------------------------------------------------------------------
    def _draw(self):
        for _ in range(self.max_tries):
            arch = self.space.sample(self.preset, 1, self.rng.getrandbits(32))[0]
            if within(self.budgets, costs(self.space, arch, self.seq_len)):
                return arch
            self.rejected += 1
        raise UsageError(f"no architecture of preset {self.preset!r} within "
                         f"{', '.join(map(str, self.budgets))} in {self.max_tries} draws")

    def _mutate(self, arch):
        other = self.space.sample(self.preset, 1, self.rng.getrandbits(32))[0]
        if (self.rng.random() < 0.3 or not hasattr(arch, "heads")
                or other.hidden_size != arch.hidden_size):
            return other
        heads, ffn = list(arch.heads), list(arch.ffn)
        i = self.rng.randrange(len(heads))
        j = self.rng.randrange(len(other.heads))
        heads[i], ffn[i] = other.heads[j], other.ffn[j]
        return type(arch)(**{**arch.to_dict(), "heads": heads, "ffn": ffn})

    def _child(self, parent):
        for _ in range(self.max_tries):
            child = self._mutate(parent)
            if within(self.budgets, costs(self.space, child, self.seq_len)):
                return child
            self.rejected += 1
        return self._draw()

    def _score(self, archs_or_records: list) -> list[str]:
        records = [a if isinstance(a, Record) else _record(self.space, a, self.supernet)
                   for a in archs_or_records]
        new = {r.id: r for r in records if r.id not in self.scored}
        if new:
            values = self.scorer(list(new.values()))
            for (rid, rec), value in zip(new.items(), values):
                cost = costs(self.space, rec, self.seq_len)
                self.scored[rid] = {"record": rec, "score": float(value), **cost}
        return [r.id for r in records]

    # -- strategies ------------------------------------------------------------------------
    def run(self, max_generations: int | None = None) -> "NasRun":
        """Run (or resume) until ``samples`` candidates are scored; ``max_generations`` stops
        an evolution early (as a kill would; rerun to resume)."""
        self._load()
        if self.pool is not None:
            eligible = [r for r in self.pool
                        if within(self.budgets, costs(self.space, r, self.seq_len))]
            self.rejected = len(self.pool) - len(eligible)
            if not eligible:
                raise UsageError(f"no record of the benchmark is within "
                                 f"{', '.join(map(str, self.budgets))}")
            self._score(eligible)
        elif self.strategy == "random":
            while len(self.scored) < self.samples:
                self._score([self._draw() for _ in range(self.samples - len(self.scored))])
        else:
            if not self.parents:
                size = min(self.population, self.samples)
                self.parents = self._score([self._draw() for _ in range(size)])
                self._save()
            while len(self.scored) < self.samples:
                if max_generations is not None and self.generation >= max_generations:
                    return self
                scores = [_finite(self.scored[p]["score"]) for p in self.parents]
                n = min(self.population, self.samples - len(self.scored))
                chosen = _tournament(scores, n, 3, self.rng)
                children = [self._child(self.scored[self.parents[i]]["record"].config)
                            for i in chosen]
                ids = self._score(children)
                everyone = list(dict.fromkeys(self.parents + ids))
                everyone.sort(key=lambda i: (-_finite(self.scored[i]["score"]), i))
                self.parents = everyone[:self.population]
                self.generation += 1
                self._save()
        self._save()
        return self

    # -- results ---------------------------------------------------------------------------
    def ranked(self) -> list[dict]:
        rows = sorted(self.scored.values(), key=lambda r: (-_finite(r["score"]), r["record"].id))
        return rows

    def picks(self, k: int) -> list[dict]:
        return self.ranked()[:k]

    def _state(self) -> dict:
        return {"space": self.space.name, "strategy": self.strategy, "samples": self.samples,
                "population": self.population, "seed": self.seed, "preset": self.preset,
                "budgets": [str(b) for b in self.budgets], "generation": self.generation,
                "rejected": self.rejected, "parents": self.parents,
                "rng": _rng_state(self.rng),
                "scored": [{"id": r["record"].id,
                            "arch": self.space.arch_to_dict(r["record"].config),
                            "score": r["score"], "params": r["params"], "flops": r["flops"]}
                           for r in self.scored.values()]}

    def _save(self) -> None:
        if self.out is None or self.pool is not None:
            return
        from ..fileio import write_text
        self.out.mkdir(parents=True, exist_ok=True)
        write_text(self.out / "checkpoint.json", json.dumps(self._state()))

    def _load(self) -> None:
        path = None if self.out is None else self.out / "checkpoint.json"
        if path is None or not path.is_file() or self.pool is not None:
            return
        state = json.loads(path.read_text())
        mine = self._state()
        for key in ("space", "strategy", "samples", "population", "seed", "preset", "budgets"):
            if state[key] != mine[key]:
                raise UsageError(f"{path} is a run with {key} = {state[key]!r}, not "
                                 f"{mine[key]!r}; use another --out")
        for row in state["scored"]:
            arch = self.space.arch_from_dict(row["arch"])
            rec = _record(self.space, arch, self.supernet)
            self.scored[row["id"]] = {"record": rec, "score": row["score"],
                                      "params": row["params"], "flops": row["flops"]}
        self.parents, self.generation = state["parents"], state["generation"]
        self.rejected = state["rejected"]
        self.rng.setstate(_rng_from(state["rng"]))


def _tournament(scores: list[float], k: int, size: int, rng: random.Random) -> list[int]:
    """``k`` tournament winners among ``size`` aspirants each, drawn from ``rng``."""
    return [max((rng.randrange(len(scores)) for _ in range(size)), key=lambda i: scores[i])
            for _ in range(k)]


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def _rng_state(rng: random.Random):
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def _rng_from(state):
    version, internal, gauss = state
    return (version, tuple(internal), gauss)
