"""Type-safe crossover and mutation of proxy trees, driven by an explicit ``random.Random``.

Every operator returns new trees (its arguments are left as they are) that are well typed and
within the language's size limits: a draw that would break either is retried up to ``retries``
times, after which the operator returns copies of its inputs unchanged.

Free-form languages (``language.template is None``):

- crossover ``subtree``: exchange two subtrees of the same type (never the roots);
- crossover ``branch``: exchange whole branches: the arguments, at the same position, of each
  tree's *join* (its first operation with two or more arguments, from the root);
- crossover ``uniform``: exchange, position by position with probability 1/2, nodes of the
  same signature;
- mutation ``point``: replace one node by another operation of the same signature, or
  another input;
- mutation ``subtree``: replace a subtree by a random one of the same type that fits the
  limits (``language.generate_subtree``, the language's own weights);
- mutation ``shrink``: replace an operation by one of its arguments of the same type.

Template languages (LPZero's fixed shape) vary the genes (:class:`TemplateGenes`: two inputs,
two unary operations per branch, one binary operation), so variation never leaves the
template: ``uniform`` exchanges each gene with probability 1/2 (LPZero's uniform crossover),
``branch`` and ``subtree`` exchange one whole branch (input and its two operations); ``point``
and ``shrink`` resample each gene with probability 1/2 (LPZero's mutation), ``subtree``
resamples a whole branch.
"""
from __future__ import annotations

import dataclasses
import inspect
import random
from typing import Callable

from deap import gp

from ..language import REGISTRY

GENE_PROB = 0.5


# -- tree helpers ----------------------------------------------------------------------------


def copy_tree(tree) -> gp.PrimitiveTree:
    return gp.PrimitiveTree(list(tree))


def signature(node) -> tuple:
    """What a node must keep to be replaced in place: arity, argument types, return type."""
    if isinstance(node, gp.Primitive):
        return ("p", tuple(node.args), node.ret)
    return ("t", (), node.ret)


def children(tree, index: int) -> list[int]:
    """Indices of the arguments of ``tree[index]``."""
    out, j = [], index + 1
    for _ in range(tree[index].arity):
        out.append(j)
        j = tree.searchSubtree(j).stop
    return out


def depths(tree) -> list[int]:
    """Depth of every node (the root has depth 0)."""
    out, stack = [], []
    for node in tree:
        depth = stack.pop() if stack else 0
        out.append(depth)
        stack.extend([depth + 1] * node.arity)
    return out


def join_index(tree) -> int | None:
    """Index of the first node (from the root, through one-argument operations) with two or
    more arguments: where the formula's branches meet. ``None`` for a chain."""
    i = 0
    while i < len(tree):
        arity = tree[i].arity
        if arity >= 2:
            return i
        if arity == 0:
            return None
        i += 1
    return None


def _replace(tree, slice_: slice, nodes) -> gp.PrimitiveTree:
    out = list(tree)
    out[slice_] = list(nodes)
    return gp.PrimitiveTree(out)


def _weight(language, name: str) -> float:
    weights = getattr(language, "weights", None) or {}
    if name in weights:
        return float(weights[name])
    prim = REGISTRY.get(name)
    return float(prim.weight) if prim is not None else 1.0


def _instantiate(term):
    """A terminal node from a pset entry (an ephemeral constant class is drawn)."""
    return term() if inspect.isclass(term) else term


def is_template(language) -> bool:
    return getattr(language, "template", None) is not None


def acceptable(tree, language) -> bool:
    """Well typed (for a template language: following the template) and within limits."""
    return language.is_well_typed(tree) and language.within_limits(tree)


def _retry(attempt: Callable[[], tuple | None], fallback: tuple, retries: int) -> tuple:
    for _ in range(max(1, retries)):
        result = attempt()
        if result is not None:
            return result
    return fallback


# -- template genes --------------------------------------------------------------------------


def _gene_list(genes) -> list:
    """Genes as a flat list: input0, input1, unary[0][0], unary[0][1], unary[1][0],
    unary[1][1], binary."""
    return [*genes.inputs, *genes.unary[0], *genes.unary[1], genes.binary]


def _from_gene_list(genes, values: list):
    return dataclasses.replace(genes, inputs=(values[0], values[1]),
                               unary=((values[2], values[3]), (values[4], values[5])),
                               binary=values[6])


def _swap_branch(ga, gb, k: int):
    """Genes with branch ``k`` (its input and unary operations) exchanged."""
    la, lb = _gene_list(ga), _gene_list(gb)
    for pos in (k, 2 + 2 * k, 3 + 2 * k):
        la[pos], lb[pos] = lb[pos], la[pos]
    return _from_gene_list(ga, la), _from_gene_list(gb, lb)


def _template_pair(a, b, language, rng, retries, vary):
    ga, gb = language.genes(a), language.genes(b)

    def attempt():
        na, nb = vary(ga, gb)
        c1, c2 = language.from_genes(na), language.from_genes(nb)
        return (c1, c2) if acceptable(c1, language) and acceptable(c2, language) else None
    return _retry(attempt, (copy_tree(a), copy_tree(b)), retries)


def _template_single(tree, language, rng, retries, vary):
    genes = language.genes(tree)

    def attempt():
        new = vary(genes)
        if new == genes:
            return None
        child = language.from_genes(new)
        return (child,) if acceptable(child, language) else None
    return _retry(attempt, (copy_tree(tree),), retries)


def template_uniform_crossover(a, b, language, rng: random.Random, retries: int = 10):
    def vary(ga, gb):
        la, lb = _gene_list(ga), _gene_list(gb)
        for pos in range(len(la)):
            if rng.random() < GENE_PROB:
                la[pos], lb[pos] = lb[pos], la[pos]
        return _from_gene_list(ga, la), _from_gene_list(gb, lb)
    return _template_pair(a, b, language, rng, retries, vary)


def template_branch_crossover(a, b, language, rng: random.Random, retries: int = 10):
    return _template_pair(a, b, language, rng, retries,
                          lambda ga, gb: _swap_branch(ga, gb, rng.randrange(2)))


def template_point_mutation(tree, language, rng: random.Random, retries: int = 10):
    def vary(genes):
        values, fresh = _gene_list(genes), _gene_list(language.random_genes(rng))
        chosen = [p for p in range(len(values)) if rng.random() < GENE_PROB] \
            or [rng.randrange(len(values))]
        for pos in chosen:
            values[pos] = fresh[pos]
        return _from_gene_list(genes, values)
    return _template_single(tree, language, rng, retries, vary)


def template_branch_mutation(tree, language, rng: random.Random, retries: int = 10):
    def vary(genes):
        new, _ = _swap_branch(genes, language.random_genes(rng), rng.randrange(2))
        return new
    return _template_single(tree, language, rng, retries, vary)


# -- crossover -------------------------------------------------------------------------------


def subtree_crossover(a, b, language, rng: random.Random, retries: int = 10):
    """Exchange a random non-root subtree of ``a`` with one of the same type in ``b``."""
    if is_template(language):
        return template_branch_crossover(a, b, language, rng, retries)

    def attempt():
        if len(a) < 2 or len(b) < 2:
            return None
        i = rng.randrange(1, len(a))
        candidates = [j for j in range(1, len(b)) if b[j].ret == a[i].ret]
        if not candidates:
            return None
        j = rng.choice(candidates)
        sa, sb = a.searchSubtree(i), b.searchSubtree(j)
        c1, c2 = _replace(a, sa, b[sb]), _replace(b, sb, a[sa])
        return (c1, c2) if acceptable(c1, language) and acceptable(c2, language) else None
    return _retry(attempt, (copy_tree(a), copy_tree(b)), retries)


def branch_crossover(a, b, language, rng: random.Random, retries: int = 10):
    """Exchange a whole branch: the argument at one position of each tree's join operation
    (see :func:`join_index`), when both have the same type. A tree without a join falls back to
    :func:`subtree_crossover`."""
    if is_template(language):
        return template_branch_crossover(a, b, language, rng, retries)
    ja, jb = join_index(a), join_index(b)
    if ja is None or jb is None:
        return subtree_crossover(a, b, language, rng, retries)
    ka, kb = children(a, ja), children(b, jb)
    positions = [p for p in range(min(len(ka), len(kb))) if a[ka[p]].ret == b[kb[p]].ret]
    if not positions:
        return subtree_crossover(a, b, language, rng, retries)

    def attempt():
        p = rng.choice(positions)
        sa, sb = a.searchSubtree(ka[p]), b.searchSubtree(kb[p])
        c1, c2 = _replace(a, sa, b[sb]), _replace(b, sb, a[sa])
        return (c1, c2) if acceptable(c1, language) and acceptable(c2, language) else None
    return _retry(attempt, (copy_tree(a), copy_tree(b)), retries)


def uniform_crossover(a, b, language, rng: random.Random, retries: int = 10):
    """Exchange, with probability 1/2 per position, nodes of the same signature."""
    if is_template(language):
        return template_uniform_crossover(a, b, language, rng, retries)

    def attempt():
        c1, c2 = list(a), list(b)
        for i in range(min(len(a), len(b))):
            if signature(a[i]) == signature(b[i]) and rng.random() < GENE_PROB:
                c1[i], c2[i] = b[i], a[i]
        c1, c2 = gp.PrimitiveTree(c1), gp.PrimitiveTree(c2)
        return (c1, c2) if acceptable(c1, language) and acceptable(c2, language) else None
    return _retry(attempt, (copy_tree(a), copy_tree(b)), retries)


# -- mutation --------------------------------------------------------------------------------


def _alternatives(node, language) -> tuple[list, list[float]]:
    """Other pset entries that can take ``node``'s place, with their sampling weights."""
    pset = language.pset
    if isinstance(node, gp.Primitive):
        options = [p for p in pset.primitives[node.ret]
                   if p.name != node.name and tuple(p.args) == tuple(node.args)]
    else:
        options = [t for t in pset.terminals[node.ret]
                   if getattr(t, "name", None) != node.name]
    weights = [_weight(language, getattr(o, "name", "")) for o in options]
    if sum(weights) <= 0:
        return [], []
    return options, weights


def point_mutation(tree, language, rng: random.Random, retries: int = 10):
    """Replace one node by another of the same signature (template: resample genes)."""
    if is_template(language):
        return template_point_mutation(tree, language, rng, retries)

    def attempt():
        i = rng.randrange(len(tree))
        options, weights = _alternatives(tree[i], language)
        if not options:
            return None
        out = list(tree)
        out[i] = _instantiate(rng.choices(options, weights=weights, k=1)[0])
        child = gp.PrimitiveTree(out)
        return (child,) if acceptable(child, language) else None
    return _retry(attempt, (copy_tree(tree),), retries)


def subtree_mutation(tree, language, rng: random.Random, retries: int = 10):
    """Replace a random subtree by a new random subtree of the same type, sized to keep the
    tree within the limits (template: resample one whole branch)."""
    if is_template(language):
        return template_branch_mutation(tree, language, rng, retries)
    limits = language.limits
    node_depth = depths(tree)

    def attempt():
        i = rng.randrange(len(tree))
        span = tree.searchSubtree(i)
        room_depth = limits.max_depth - node_depth[i]
        room_nodes = limits.max_nodes - (len(tree) - (span.stop - span.start))
        ret = tree[i].ret
        if not language.can_generate(ret, room_depth, room_nodes):
            return None
        min_depth = max(0, limits.min_depth - node_depth[i]) if i == 0 else 0
        nodes = language.generate_subtree(rng, ret, room_depth, room_nodes,
                                          min_depth=min(min_depth, room_depth))
        child = _replace(tree, span, nodes)
        return (child,) if acceptable(child, language) else None
    return _retry(attempt, (copy_tree(tree),), retries)


def shrink_mutation(tree, language, rng: random.Random, retries: int = 10):
    """Replace an operation by one of its arguments of the same type (the tree gets smaller).
    Template languages, whose shape is fixed, resample genes instead."""
    if is_template(language):
        return template_point_mutation(tree, language, rng, retries)
    candidates = [(i, c) for i in range(len(tree)) if tree[i].arity > 0
                  for c in children(tree, i) if tree[c].ret == tree[i].ret]

    def attempt():
        if not candidates:
            return None
        i, c = rng.choice(candidates)
        child = _replace(tree, tree.searchSubtree(i), tree[tree.searchSubtree(c)])
        return (child,) if acceptable(child, language) else None
    return _retry(attempt, (copy_tree(tree),), retries)


CROSSOVER_OPERATORS = {"subtree": subtree_crossover, "branch": branch_crossover,
                       "uniform": uniform_crossover}
MUTATION_OPERATORS = {"point": point_mutation, "subtree": subtree_mutation,
                      "shrink": shrink_mutation}
