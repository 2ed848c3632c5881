"""Typed tree generation that never fails: free-form trees and LPZero's fixed template.

DEAP's ``genGrow``/``genHalfAndHalf`` stop with an error when a type has no terminal (here
``ScalarL`` and ``Scalar`` never do). :class:`TypedGenerator` instead knows, for every type, the
smallest height and node count a subtree of that type can have, and at each node only picks
candidates (inputs or operations, by weight) whose smallest completion still fits the depth and
node budget left. Every tree it returns is well typed and within the limits.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from deap import gp


@dataclass(frozen=True)
class Candidate:
    node: object          # gp.Primitive or gp.Terminal
    weight: float

    @property
    def arity(self) -> int:
        return getattr(self.node, "arity", 0)

    @property
    def args(self) -> list:
        return list(getattr(self.node, "args", []))


class TypedGenerator:
    """Random typed trees from weighted candidates, within ``max_depth`` and ``max_nodes``.

    ``nodes``: (node, weight) pairs, node a DEAP ``Primitive`` or ``Terminal`` (``.ret``, and
    ``.args`` for primitives). Candidates of weight 0 are never generated.

    ``cheapest[t][h]``: the fewest nodes of a tree of type ``t`` whose height is at most ``h``
    (inf when none exists); a candidate is feasible at a node when its cheapest completion fits
    both the height and the node budget left there.
    """

    def __init__(self, nodes: list[tuple[object, float]], max_depth: int, max_nodes: int):
        self.max_depth, self.max_nodes = max_depth, max_nodes
        self.candidates: dict[type, list[Candidate]] = {}
        for node, w in nodes:
            if w > 0:
                self.candidates.setdefault(node.ret, []).append(Candidate(node, w))
        types = set(self.candidates) | {a for cs in self.candidates.values()
                                         for c in cs for a in c.args}
        self.cheapest: dict[type, list[float]] = {t: [] for t in types}
        for h in range(max_depth + 1):
            for t in types:
                self.cheapest[t].append(min(
                    (self._cost(c, h) for c in self.candidates.get(t, [])), default=math.inf))
        # per type, aligned with self.candidates[t]: cost by room, and smallest height
        self._costs = {t: [[self._cost(c, h) for h in range(max_depth + 1)] for c in cs]
                       for t, cs in self.candidates.items()}
        self._lowest_of = {t: [self._lowest(c) for c in cs] for t, cs in self.candidates.items()}

    def _cost(self, c: Candidate, height: int) -> float:
        """Fewest nodes of a subtree rooted at ``c`` with height at most ``height``."""
        if not c.args:
            return 1
        if height == 0:
            return math.inf
        return 1 + sum(self.cheapest[a][height - 1] for a in c.args)

    def fewest_nodes(self, ret: type, height: int | None = None) -> float:
        height = self.max_depth if height is None else min(height, self.max_depth)
        return self.cheapest.get(ret, [math.inf] * (self.max_depth + 1))[height]

    def smallest_height(self, ret: type) -> float:
        row = self.cheapest.get(ret, [])
        return next((h for h, n in enumerate(row) if math.isfinite(n)), math.inf)

    def can_make(self, ret: type, max_depth: int | None = None,
                 max_nodes: int | None = None) -> bool:
        max_nodes = self.max_nodes if max_nodes is None else max_nodes
        return self.fewest_nodes(ret, max_depth) <= max_nodes

    def generate(self, rng: random.Random, ret: type, min_depth: int, target_depth: int,
                 method: str, max_depth: int | None = None,
                 max_nodes: int | None = None) -> list:
        """Prefix node list of a random tree of type ``ret``.

        ``method``: ``"grow"`` (any feasible candidate once ``min_depth`` is reached) or
        ``"full"`` (operations preferred until ``target_depth``). Beyond ``target_depth`` the
        generator closes the tree as fast as the types allow.
        """
        max_depth = self.max_depth if max_depth is None else min(max_depth, self.max_depth)
        max_nodes = self.max_nodes if max_nodes is None else max_nodes
        if not self.can_make(ret, max_depth, max_nodes):
            raise ValueError(f"no tree of type {ret.__name__} fits height {max_depth} and "
                             f"{max_nodes} nodes")
        out: list = []
        self._grow(rng, ret, 0, min_depth, target_depth, max_depth, max_nodes, method, out)
        return out

    def _grow(self, rng, ret, depth, min_depth, target, max_depth, budget, method, out):
        room = max_depth - depth
        costs, lows = self._costs[ret], self._lowest_of[ret]
        feasible = [i for i, c in enumerate(costs) if c[room] <= budget]
        cands = self.candidates[ret]
        if depth >= target:
            lowest = min(lows[i] for i in feasible)
            pool = [i for i in feasible if lows[i] == lowest]
        elif depth < min_depth or method == "full":
            pool = [i for i in feasible if cands[i].arity > 0] or feasible
        else:
            pool = feasible
        choice = cands[rng.choices(pool, weights=[cands[i].weight for i in pool])[0]]
        out.append(choice.node)
        left = budget - 1
        args = choice.args
        for i, arg in enumerate(args):
            reserve = sum(self.cheapest[a][room - 1] for a in args[i + 1:])
            start = len(out)
            self._grow(rng, arg, depth + 1, min_depth, target, max_depth, left - reserve,
                       method, out)
            left -= len(out) - start

    def _lowest(self, c: Candidate) -> float:
        return 0 if not c.args else 1 + max(self.smallest_height(a) for a in c.args)


def random_tree(generator: TypedGenerator, rng: random.Random, ret: type, min_depth: int,
                init_max_depth: int) -> gp.PrimitiveTree:
    """Half-and-half: a target depth in [min_depth, init_max_depth], grow or full at random."""
    target = rng.randint(min_depth, max(min_depth, init_max_depth))
    method = rng.choice(("grow", "full"))
    return gp.PrimitiveTree(generator.generate(rng, ret, min_depth, target, method))
