"""DEAP classes of the search, created once at import (``creator`` is global state).

An individual is a :class:`deap.gp.PrimitiveTree` with a three-part fitness compared
lexicographically (DEAP compares ``wvalues`` tuples):

1. ``valid``: 1 for a formula that was evaluated and has a defined fitness, 0 for one that was
   pruned by RPS or is invalid (NaN, infinite or constant scores). Every valid formula beats
   every invalid one, whatever the numbers behind.
2. ``fitness``: the rank correlation on the search split (higher is better). For an invalid
   formula this slot holds 0.0, a placeholder that never decides a comparison against a valid
   formula (the first slot already did); the reason is kept in the memo and the log.
3. ``size``: the number of nodes, with weight -1: between equally fit formulas the smaller wins
   (the parsimony tie-break against bloat).
"""
from __future__ import annotations

from deap import base, creator, gp

FITNESS_WEIGHTS = (1.0, 1.0, -1.0)
INVALID_PLACEHOLDER = 0.0

if not hasattr(creator, "LpzeroProxyFitness"):
    creator.create("LpzeroProxyFitness", base.Fitness, weights=FITNESS_WEIGHTS)
if not hasattr(creator, "LpzeroProxyIndividual"):
    creator.create("LpzeroProxyIndividual", gp.PrimitiveTree,
                   fitness=creator.LpzeroProxyFitness)

ProxyFitness = creator.LpzeroProxyFitness
ProxyIndividual = creator.LpzeroProxyIndividual


def make_individual(tree: gp.PrimitiveTree) -> ProxyIndividual:
    """A fresh individual (fitness not yet set) holding the nodes of ``tree``."""
    return ProxyIndividual(list(tree))


def fitness_values(valid: bool, fitness: float | None, size: int) -> tuple[float, float, float]:
    """The DEAP fitness tuple (valid, fitness, size) of a formula."""
    if valid:
        return (1.0, float(fitness), float(size))
    return (0.0, INVALID_PLACEHOLDER, float(size))


def is_valid(individual) -> bool:
    return individual.fitness.valid and individual.fitness.values[0] == 1.0


def sort_key(individual) -> tuple:
    """Best first when sorted ascending: DEAP's weighted values negated, then the formula text
    (a deterministic order between formulas of equal fitness and size)."""
    return tuple(-w for w in individual.fitness.wvalues) + (str(individual),)
