"""The evolutionary loop on DEAP: generations of tournament selection, variation and elitism.

Generation 0 is a random population (distinct formulas where the language allows). Each later
generation keeps the ``elitism`` best individuals unchanged and breeds the rest: an offspring
comes from crossover (two tournament winners), mutation (one winner) or reproduction (a copy),
with the configured probabilities; with ``unique_offspring`` an offspring whose formula is
already in the new generation is mutated again (up to ``variation_retries`` times).

Fitness comes from the memo (by :meth:`Proxy.canonical`) or from one evaluation of each new
formula through ``toolbox.map`` (see :mod:`.evaluate`): an already-seen formula is never
evaluated twice. Randomness: the run draws only from its own generators, never from Python's
global ``random``: tournament selection (:func:`select_tournament`, DEAP's ``selTournament``
on an explicit generator, seeded with ``seed`` as DEAP's draws from the global one were) and
variation (a second ``random.Random``). Both states go into the checkpoint written after every
generation.
"""
from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from operator import attrgetter
from typing import Callable

from deap import base

from ..language import Proxy
from .checkpoint import SearchState, save_checkpoint
from .config import SearchConfig
from .evaluate import Outcome, evaluate_formula
from .individual import fitness_values, is_valid, make_individual, sort_key
from .variation import CROSSOVER_OPERATORS, MUTATION_OPERATORS

INIT_RETRIES = 50  # draws per initial individual to find a formula not yet in the population


def select_tournament(individuals, k: int, tournsize: int, rng: random.Random) -> list:
    """``k`` winners of tournaments among ``tournsize`` individuals drawn with replacement:
    DEAP's ``tools.selTournament``, drawing from ``rng`` instead of the global ``random``."""
    chosen = []
    for _ in range(k):
        aspirants = [rng.choice(individuals) for _ in range(tournsize)]
        chosen.append(max(aspirants, key=attrgetter("fitness")))
    return chosen


def canonical(tree, language) -> str:
    return Proxy(tree, language).canonical()


class HallOfFame:
    """The ``maxsize`` best valid formulas ever seen, distinct by canonical form, best first
    (ties in fitness and size ordered by formula text, so the order is deterministic)."""

    def __init__(self, maxsize: int, language):
        self.maxsize = maxsize
        self.language = language
        self.items: list = []
        self._keys: set[str] = set()

    def update(self, population) -> None:
        for ind in population:
            if not is_valid(ind):
                continue
            key = canonical(ind, self.language)
            if key in self._keys:
                continue
            self.items.append(ind)
            self._keys.add(key)
        self.items.sort(key=sort_key)
        for dropped in self.items[self.maxsize:]:
            self._keys.discard(canonical(dropped, self.language))
        del self.items[self.maxsize:]

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


class Evolution:
    """One search's loop. ``pool`` is an entered :class:`~.evaluate.EvaluationPool`;
    ``on_checkpoint(state)`` is called after each generation's checkpoint is written."""

    def __init__(self, config: SearchConfig, language, pool, out, spec_dict: dict,
                 record_ids: list[str], state: SearchState | None = None,
                 on_checkpoint: Callable[[SearchState], None] | None = None):
        self.config = config
        self.language = language
        self.out = out
        self.spec_dict = spec_dict
        self.record_ids = record_ids
        self.on_checkpoint = on_checkpoint
        self.toolbox = base.Toolbox()
        # selection's generator: the same stream as DEAP's global-random draws after
        # random.seed(seed), so runs from before this generator of their own are reproduced
        self.selection_rng = random.Random(config.seed)
        self.toolbox.register("select", select_tournament, tournsize=config.tournament_size,
                              rng=self.selection_rng)
        self.toolbox.register("evaluate", evaluate_formula)
        self.toolbox.register("map", pool.map)
        self.hall_of_fame = HallOfFame(config.hall_of_fame, language)
        self.memo: dict[str, Outcome] = {}
        self.log: list[dict] = []
        self.rps_counts: Counter = Counter()
        self.elapsed = 0.0
        self.generation = -1
        self.population: list = []
        self.rng = random.Random(f"lpzero-gp-variation:{config.seed}")
        if state is not None:
            self._restore(state)

    # -- state ---------------------------------------------------------------------------------
    def state(self) -> SearchState:
        return SearchState(
            spec=self.spec_dict, generation=self.generation,
            population=[str(ind) for ind in self.population],
            hall_of_fame=[str(ind) for ind in self.hall_of_fame],
            memo={k: o.as_dict() for k, o in self.memo.items()}, log=list(self.log),
            rps_counts=dict(self.rps_counts), global_random=self.selection_rng.getstate(),
            variation_random=self.rng.getstate(), elapsed=self.elapsed,
            record_ids=list(self.record_ids))

    def _restore(self, state: SearchState) -> None:
        self.memo = {k: Outcome.from_dict(v) for k, v in state.memo.items()}
        self.log = list(state.log)
        self.rps_counts = Counter(state.rps_counts)
        self.elapsed = state.elapsed
        self.generation = state.generation
        self.population = [self._known(self.language.parse(t)) for t in state.population]
        self.hall_of_fame.update([self._known(self.language.parse(t))
                                  for t in state.hall_of_fame])
        self.selection_rng.setstate(state.global_random)
        self.rng.setstate(state.variation_random)

    def _known(self, tree):
        ind = self._individual(tree)
        self._assign(ind, self.memo[canonical(ind, self.language)])
        return ind

    @staticmethod
    def _individual(tree):
        """A fresh individual of this loop's fitness class holding the nodes of ``tree``."""
        return make_individual(tree)

    # -- evaluation ----------------------------------------------------------------------------
    def _assign(self, ind, outcome: Outcome) -> None:
        ind.fitness.values = fitness_values(outcome.valid, outcome.fitness, len(ind))

    def _evaluate(self, individuals) -> dict:
        """Set the fitness of every individual without one; return counts for the log."""
        pending: dict[str, str] = {}
        hits = 0
        todo = [ind for ind in individuals if not ind.fitness.valid]
        keys = [canonical(ind, self.language) for ind in todo]
        for ind, key in zip(todo, keys):
            if key in self.memo:
                hits += 1
            elif key not in pending:
                pending[key] = str(ind)
        results = self.toolbox.map(self.toolbox.evaluate, list(pending.values()))
        new = Counter()
        rules = Counter()
        for key, data in zip(pending, results):
            outcome = Outcome.from_dict(data)
            outcome.generation = self.generation
            self.memo[key] = outcome
            new[outcome.status] += 1
            if outcome.rule:
                rules[outcome.rule] += 1
        self.rps_counts.update(rules)
        for ind, key in zip(todo, keys):
            self._assign(ind, self.memo[key])
        return {"new_evaluations": len(pending), "memo_hits": hits,
                "full_evaluations": len(pending) - new["pruned"], "pruned": new["pruned"],
                "invalid_evaluations": new["invalid"] + new["error"], "errors": new["error"],
                "rps": dict(sorted(rules.items()))}

    # -- variation -----------------------------------------------------------------------------
    def _pick(self, weights: dict, operators: dict):
        names = [n for n, w in weights.items() if w > 0]
        name = self.rng.choices(names, weights=[weights[n] for n in names], k=1)[0]
        return operators[name]

    def _vary_once(self, population) -> list:
        cfg, retries = self.config, self.config.variation_retries
        r = self.rng.random()
        if r < cfg.crossover_prob:
            a, b = self.toolbox.select(population, 2)
            op = self._pick(cfg.crossovers, CROSSOVER_OPERATORS)
            return [self._individual(t) for t in op(a, b, self.language, self.rng, retries)]
        if r < cfg.crossover_prob + cfg.mutation_prob:
            (a,) = self.toolbox.select(population, 1)
            op = self._pick(cfg.mutations, MUTATION_OPERATORS)
            return [self._individual(t) for t in op(a, self.language, self.rng, retries)]
        (a,) = self.toolbox.select(population, 1)
        copy = self._individual(a)
        copy.fitness.values = a.fitness.values
        return [copy]

    def _make_new(self, ind, seen: set[str]):
        """``ind``, or a mutation of it whose formula is not in ``seen`` (best effort)."""
        key = canonical(ind, self.language)
        tries = 0
        while key in seen and tries < self.config.variation_retries:
            op = self._pick(self.config.mutations, MUTATION_OPERATORS)
            (tree,) = op(ind, self.language, self.rng, self.config.variation_retries)
            ind = self._individual(tree)
            key = canonical(ind, self.language)
            tries += 1
        seen.add(key)
        return ind

    def _breed(self) -> list:
        cfg = self.config
        elites = sorted(self.population, key=sort_key)[:cfg.elitism]
        new = []
        for e in elites:
            copy = self._individual(e)
            copy.fitness.values = e.fitness.values
            new.append(copy)
        return self._fill(new, {canonical(ind, self.language) for ind in new})

    def _fill(self, new: list, seen: set[str]) -> list:
        """``new`` topped up to ``population`` individuals with offspring of the population
        (with ``unique_offspring``, none whose formula is in ``seen``, which grows)."""
        cfg = self.config
        while len(new) < cfg.population:
            for child in self._vary_once(self.population):
                if len(new) >= cfg.population:
                    break
                if cfg.unique_offspring:
                    child = self._make_new(child, seen)
                new.append(child)
        return new

    def _initial_population(self) -> list:
        population, seen = [], set()
        for _ in range(self.config.population):
            for _attempt in range(INIT_RETRIES):
                ind = self._individual(self.language.generate(self.rng))
                key = canonical(ind, self.language)
                if key not in seen:
                    break
            seen.add(key)
            population.append(ind)
        return population

    # -- the loop ------------------------------------------------------------------------------
    def _record(self, counts: dict, seconds: float) -> dict:
        valid = [ind.fitness.values[1] for ind in self.population if is_valid(ind)]
        best = min(self.population, key=sort_key)
        return self._log_row(valid, statistics.median(valid) if valid else None,
                             str(best) if valid else None, counts, seconds)

    def _log_row(self, fits: list, median, best_formula: str | None, counts: dict,
                 seconds: float, **extra) -> dict:
        """Append and return the log row of this generation: its valid formulas' fitness
        ``fits``, their ``median``, the best formula, the ``extra`` figures of the loop, the
        evaluation ``counts`` and its ``seconds``."""
        row = {"generation": self.generation,
               "best": max(fits) if fits else None,
               "median": median,
               "valid": len(fits),
               "invalid_rate": 1.0 - len(fits) / len(self.population),
               **extra,
               **counts,
               "seconds": round(seconds, 4),
               "best_formula": best_formula}
        self.log.append(row)
        return row

    def _generation(self) -> dict:
        """Make and evaluate generation ``self.generation``'s population (the initial one
        first); return the evaluation counts for the log."""
        if self.generation == 0:
            self.population = self._initial_population()
        else:
            self.population = self._breed()
        counts = self._evaluate(self.population)
        self.hall_of_fame.update(self.population)
        return counts

    def step(self) -> dict:
        """Run one generation (:meth:`_generation`); checkpoint; return its log row."""
        start = time.perf_counter()
        self.generation += 1
        counts = self._generation()
        seconds = time.perf_counter() - start
        self.elapsed += seconds
        row = self._record(counts, seconds)
        state = self.state()
        save_checkpoint(state, self.out)
        if self.on_checkpoint is not None:
            self.on_checkpoint(state)
        return row

    def run(self, generations: int, progress: bool = True) -> None:
        """Run until generation ``generations`` is done (the initial population is generation
        0, so ``generations + 1`` populations are evaluated in all)."""
        from tqdm.auto import tqdm
        remaining = max(0, generations - self.generation)
        with tqdm(total=generations + 1, initial=self.generation + 1, desc="search",
                  unit="gen", disable=not progress) as bar:
            for _ in range(remaining):
                row = self.step()
                bar.update(1)
                if row["best"] is not None:
                    bar.set_postfix(best=f"{row['best']:.4f}", valid=row["valid"])
