"""Crossover and mutation keep trees well typed and within limits; fitness ordering."""
from __future__ import annotations

import random

import pytest

from lpzero_gp.language import load_language
from lpzero_gp.search import individual as ind_mod
from lpzero_gp.search import variation as V

DRAWS = 700


@pytest.mark.parametrize("name", ["default", "lpzero"])
def test_variation_keeps_trees_typed_and_within_limits(name):
    language = load_language(name)
    rng = random.Random(2024)
    changed = {op: 0 for op in [*V.CROSSOVER_OPERATORS, *V.MUTATION_OPERATORS]}
    for _ in range(DRAWS):
        a, b = language.generate(rng), language.generate(rng)
        sa, sb = str(a), str(b)
        for op_name, op in V.CROSSOVER_OPERATORS.items():
            c1, c2 = op(a, b, language, rng)
            for child in (c1, c2):
                assert language.is_well_typed(child), (op_name, str(child))
                assert language.within_limits(child), (op_name, str(child))
                assert str(language.parse(str(child))) == str(child)
            changed[op_name] += str(c1) != sa
        for op_name, op in V.MUTATION_OPERATORS.items():
            (child,) = op(a, language, rng)
            assert language.is_well_typed(child), (op_name, str(child))
            assert language.within_limits(child), (op_name, str(child))
            changed[op_name] += str(child) != sa
        assert (str(a), str(b)) == (sa, sb), "operators must not modify their arguments"
    # every operator actually varies trees most of the time (uniform exchange on free-form
    # trees only where node signatures line up, so less often)
    for op_name, count in changed.items():
        floor = 0.3 if op_name == "uniform" else 0.8
        assert count >= floor * DRAWS, (name, op_name, count)


def test_template_variation_exchanges_genes():
    language = load_language("lpzero")
    rng = random.Random(5)
    a = language.parse("layer_mean(l_add(t_mean(square(neg(H))), t_std(minmax(G))))")
    b = language.parse("layer_mean(l_mul(t_fro(abs(W)), t_mean(softmax(S))))")
    c1, c2 = V.template_branch_crossover(a, b, language, rng)
    genes = {g.inputs for g in (language.genes(c1), language.genes(c2))}
    assert genes in ({("W", "G"), ("H", "S")}, {("H", "W"), ("S", "G")})
    (m,) = V.template_point_mutation(a, language, rng)
    assert language.genes(m) != language.genes(a)


def test_subtree_mutation_respects_the_node_budget():
    language = load_language("default")
    rng = random.Random(9)
    for _ in range(300):
        tree = language.generate(rng)
        (child,) = V.subtree_mutation(tree, language, rng)
        assert len(child) <= language.limits.max_nodes
        assert child.height <= language.limits.max_depth


def test_shrink_makes_trees_smaller():
    language = load_language("default")
    rng = random.Random(3)
    tree = language.parse("layer_mean(l_abs(l_abslog(t_fro(W))))")
    sizes = {len(V.shrink_mutation(tree, language, rng)[0]) for _ in range(30)}
    assert sizes and max(sizes) < len(tree)


# -- fitness ordering ----------------------------------------------------------------------------

def _individual(text, valid, fitness):
    tree = load_language("default").parse(text)
    ind = ind_mod.make_individual(tree)
    ind.fitness.values = ind_mod.fitness_values(valid, fitness, len(tree))
    return ind


def test_invalid_loses_to_any_valid_and_parsimony_breaks_ties():
    bad = _individual("layer_mean(t_fro(W))", False, None)
    poor = _individual("layer_mean(l_abs(l_abslog(t_fro(W))))", True, -0.9)
    small = _individual("layer_mean(t_fro(W))", True, 0.5)
    big = _individual("layer_mean(l_abs(t_fro(W)))", True, 0.5)
    assert poor.fitness > bad.fitness
    assert small.fitness > big.fitness
    assert sorted([bad, big, poor, small], key=ind_mod.sort_key) == [small, big, poor, bad]
