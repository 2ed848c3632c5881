"""Multi-objective search: DEAP's NSGA-II on several fitness options and the formula's size.

With ``selection = "nsga2"`` each formula gets one value per objective of
``SearchConfig.objectives`` (fitness options of :mod:`.fitness`, maximised, and ``size``, the
node count, minimised). Generation 0 is the random population, as in :mod:`.loop`; each later
generation breeds ``population`` offspring (crossover, mutation or a copy, as in the
single-objective loop) from parents chosen by binary tournaments on (non-domination rank,
crowding distance), drawn from the search's own generator, and keeps the ``population`` best of
parents and offspring by ``tools.selNSGA2`` (deterministic: fronts by ``sortNondominated``,
the last front cut by crowding distance, stable sorts). Outcomes are memoised as in the
single-objective loop, so results do not depend on the number of workers, and the checkpoint
written after every generation resumes the run exactly.

An invalid formula, and an objective undefined for a valid one, take :data:`WORST_VALUE`
(below every correlation); an invalid formula's size is :data:`INVALID_SIZE`, so every valid
formula dominates it.

The result is the Pareto front of every valid formula evaluated (:func:`pareto_front`); the
found proxy is the member with the best ``choose_on`` fitness on the validation split
(:func:`choose_on_validation`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from deap import base, creator, gp, tools

from .evaluate import Outcome
from .fitness import SIZE_OBJECTIVE
from .loop import Evolution, canonical

WORST_VALUE = -2.0
INVALID_SIZE = 1e9


def objective_weights(objectives: Sequence[str]) -> tuple[float, ...]:
    """DEAP weights: +1 for a fitness option, -1 for ``size``."""
    return tuple(-1.0 if name == SIZE_OBJECTIVE else 1.0 for name in objectives)


def individual_class(objectives: Sequence[str]):
    """The DEAP individual class (a ``PrimitiveTree``) whose fitness has the weights of
    ``objectives``; made once per weight pattern (``creator`` is global state)."""
    weights = objective_weights(objectives)
    code = "".join("m" if w < 0 else "M" for w in weights)
    fitness_name, individual_name = f"LpzeroParetoFitness_{code}", f"LpzeroParetoIndividual_{code}"
    if not hasattr(creator, fitness_name):
        creator.create(fitness_name, base.Fitness, weights=weights)
    if not hasattr(creator, individual_name):
        creator.create(individual_name, gp.PrimitiveTree,
                       fitness=getattr(creator, fitness_name))
    return getattr(creator, individual_name)


def objective_values(outcome: Outcome, size: int, objectives: Sequence[str]
                     ) -> tuple[float, ...]:
    """The objective vector of a formula of ``size`` nodes with ``outcome``."""
    if not outcome.valid:
        return tuple(INVALID_SIZE if n == SIZE_OBJECTIVE else WORST_VALUE for n in objectives)
    values = outcome.objectives or {}
    out = []
    for name in objectives:
        if name == SIZE_OBJECTIVE:
            out.append(float(size))
        else:
            v = values.get(name)
            out.append(WORST_VALUE if v is None else float(v))
    return tuple(out)


def select_nsga2_tournament(individuals, k: int, rng) -> list:
    """``k`` winners of binary tournaments (drawn with replacement from ``rng``): the lower
    non-domination rank wins, then the larger crowding distance, then the first drawn."""
    chosen = []
    for _ in range(k):
        a, b = rng.choice(individuals), rng.choice(individuals)
        key_a = (-a.front_rank, a.fitness.crowding_dist)
        key_b = (-b.front_rank, b.fitness.crowding_dist)
        chosen.append(b if key_b > key_a else a)
    return chosen


def rank_population(population) -> None:
    """Set ``front_rank`` (0: non-dominated) and ``fitness.crowding_dist`` on each
    individual."""
    fronts = tools.sortNondominated(population, len(population))
    for rank, front in enumerate(fronts):
        tools.emo.assignCrowdingDist(front)
        for ind in front:
            ind.front_rank = rank


class ParetoEvolution(Evolution):
    """The NSGA-II loop (see the module docstring); the interface of :class:`.loop.Evolution`."""

    def __init__(self, config, *args, **kwargs):
        self.objectives = tuple(config.objectives)
        self.individual_class = individual_class(self.objectives)
        super().__init__(config, *args, **kwargs)
        self.toolbox.register("select", select_nsga2_tournament, rng=self.selection_rng)

    def _individual(self, tree):
        return self.individual_class(list(tree))

    def _assign(self, ind, outcome: Outcome) -> None:
        ind.fitness.values = objective_values(outcome, len(ind), self.objectives)

    def _outcome(self, ind) -> Outcome:
        return self.memo[canonical(ind, self.language)]

    def _offspring(self) -> list:
        rank_population(self.population)
        return self._fill([], {canonical(ind, self.language) for ind in self.population})

    def _record(self, counts: dict, seconds: float) -> dict:
        valid = [ind for ind in self.population if self._outcome(ind).valid]
        fits = [self._outcome(ind).fitness for ind in valid]
        front = tools.sortNondominated(self.population, len(self.population),
                                       first_front_only=True)[0] if valid else []
        best = max(valid, key=lambda ind: (self._outcome(ind).fitness, -len(ind),
                                           str(ind))) if valid else None
        return self._log_row(fits, float(np.median(fits)) if fits else None,
                             str(best) if best is not None else None, counts, seconds,
                             front_size=len(front))

    def _generation(self) -> dict:
        """The initial population, or: breed, evaluate the offspring, keep the best of parents
        and offspring by NSGA-II; return the evaluation counts."""
        if self.generation == 0:
            self.population = self._initial_population()
            return self._evaluate(self.population)
        offspring = self._offspring()
        counts = self._evaluate(offspring)
        self.population = tools.selNSGA2(self.population + offspring, self.config.population)
        return counts

    def front(self) -> list:
        """The Pareto front of every valid formula evaluated: individuals (objective values
        set), sorted by the first fitness objective (best first), then size, then text."""
        members = []
        for key, outcome in sorted(self.memo.items()):
            if outcome.valid:
                ind = self._individual(self.language.parse(outcome.formula))
                self._assign(ind, outcome)
                members.append(ind)
        if not members:
            return []
        weighted = np.array([ind.fitness.wvalues for ind in members])
        keep = []
        for i, w in enumerate(weighted):
            dominated = np.any(np.all(weighted >= w, axis=1) & np.any(weighted > w, axis=1))
            if not dominated:
                keep.append(members[i])
        first = next(i for i, n in enumerate(self.objectives) if n != SIZE_OBJECTIVE)
        keep.sort(key=lambda ind: (-ind.fitness.values[first], len(ind), str(ind)))
        return keep


def choose_on_validation(entries: Sequence[dict], choose_on: str) -> int:
    """Index of the front member chosen as the found proxy: the best ``choose_on`` value on
    the validation split (members undefined there, or with a non-finite score there, rank
    last), ties to the smaller formula, then the front's order. The test split is not read."""
    if not entries:
        raise ValueError("the Pareto front is empty: no valid formula was found")

    def key(i):
        f = entries[i]["figures"]["validation"]
        value = (f.get("objectives") or {}).get(choose_on)
        ok = value is not None and f["n_invalid"] == 0
        return (0 if ok else 1, -(value if ok else 0.0), entries[i]["size"], i)
    return min(range(len(entries)), key=key)


__all__ = ["ParetoEvolution", "choose_on_validation", "objective_values", "individual_class",
           "select_nsga2_tournament", "rank_population", "WORST_VALUE", "INVALID_SIZE"]
