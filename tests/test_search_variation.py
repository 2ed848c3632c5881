"""Crossover and mutation keep trees well typed and within limits; fitness ordering."""
from __future__ import annotations

import random

import pytest

from lpzero_gp.bank import INPUTS
from lpzero_gp.language import load_language
from lpzero_gp.language.types import is_each, is_tensor
from lpzero_gp.search import individual as ind_mod
from lpzero_gp.search import variation as V

DRAWS = 700


def assert_groups_apart(tree) -> None:
    """Every tensor or per-tensor subtree reads inputs of its own type's group only."""
    for i, node in enumerate(tree):
        if is_tensor(node.ret) or is_each(node.ret):
            leaves = [n.value for n in tree[tree.searchSubtree(i)] if n.arity == 0]
            assert {INPUTS[n].group for n in leaves} == {node.ret.group}, str(tree)


@pytest.mark.parametrize("name", ["default", "lpzero"])
def test_variation_keeps_trees_typed_and_within_limits(name):
    language = load_language(name)
    rng = random.Random(2024)
    crossed = {op: [0, 0] for op in V.CROSSOVER_OPERATORS}  # [changed, pairs], sharing a type
    mutated = {op: 0 for op in V.MUTATION_OPERATORS}
    apart = 0
    for _ in range(DRAWS):
        a, b = language.generate(rng), language.generate(rng)
        sa, sb = str(a), str(b)
        # below the root, two free-form trees may read different groups only (or one the
        # model level, the other the layers): then no subtree can move between them
        common = {n.ret for n in list(a)[1:]} & {n.ret for n in list(b)[1:]}
        apart += not common
        for op_name, op in V.CROSSOVER_OPERATORS.items():
            c1, c2 = op(a, b, language, rng)
            for child in (c1, c2):
                assert language.is_well_typed(child), (op_name, str(child))
                assert language.within_limits(child), (op_name, str(child))
                assert str(language.parse(str(child))) == str(child)
                assert_groups_apart(child)
            if common:
                crossed[op_name][0] += str(c1) != sa
                crossed[op_name][1] += 1
            else:
                assert (str(c1), str(c2)) == (sa, sb), (op_name, sa, sb)
        for op_name, op in V.MUTATION_OPERATORS.items():
            (child,) = op(a, language, rng)
            assert language.is_well_typed(child), (op_name, str(child))
            assert language.within_limits(child), (op_name, str(child))
            assert_groups_apart(child)
            mutated[op_name] += str(child) != sa
        assert (str(a), str(b)) == (sa, sb), "operators must not modify their arguments"
    if name == "lpzero":
        assert apart == 0  # every template tree has per-layer scalars to exchange
    else:
        assert 0 < apart < DRAWS / 2
    # every operator actually varies trees most of the time (uniform exchange on free-form
    # trees only where node signatures line up position by position, so less often)
    for op_name, (count, pairs) in crossed.items():
        floor = 0.2 if op_name == "uniform" and name == "default" else 0.75
        assert count >= floor * pairs, (name, op_name, count, pairs)
    for op_name, count in mutated.items():
        assert count >= 0.8 * DRAWS, (name, op_name, count)


def test_template_variation_exchanges_genes():
    language = load_language("lpzero")
    rng = random.Random(5)
    a = language.parse("layer_mean(l_add(pool_mean(t_mean(square(neg(H)))), "
                       "pool_mean(t_std(minmax(G)))))")
    b = language.parse("layer_mean(l_mul(pool_mean(t_fro(abs(W))), "
                       "pool_mean(t_mean(softmax(S)))))")
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
    tree = language.parse("layer_mean(l_abs(l_abslog(pool_mean(t_fro(abs(W))))))")
    children = {str(V.shrink_mutation(tree, language, rng)[0]) for _ in range(60)}
    assert children == {"layer_mean(l_abslog(pool_mean(t_fro(abs(W)))))",
                        "layer_mean(l_abs(pool_mean(t_fro(abs(W)))))",
                        "layer_mean(l_abs(l_abslog(pool_mean(t_fro(W)))))"}
    # nothing of the same type to shrink to: the pooling and the reduction change the type
    plain = language.parse("layer_mean(pool_mean(t_fro(W)))")
    assert str(V.shrink_mutation(plain, language, rng)[0]) == str(plain)


def test_crossover_exchanges_only_subtrees_of_one_type():
    language = load_language("default")
    rng = random.Random(11)
    a = language.parse("layer_mean(pool_mean(t_mean(mul(W, G))))")
    b = language.parse("layer_mean(pool_mean(t_std(square(H))))")
    for _ in range(50):
        for op in (V.subtree_crossover, V.branch_crossover, V.uniform_crossover):
            # a W tensor never lands where an H tensor was: only the per-layer scalars (or
            # the parts above them) can move between the two trees
            for child in op(a, b, language, rng):
                assert language.is_well_typed(child)
                assert_groups_apart(child)
                leaves = {n.value for n in child if n.arity == 0}
                assert leaves in ({"W", "G"}, {"H"}), str(child)


def test_point_mutation_keeps_the_group():
    language = load_language("default")
    rng = random.Random(13)
    tree = language.parse("layer_mean(pool_mean(t_mean(mul(W, G))))")
    inputs, ops = set(), set()
    for _ in range(200):
        (child,) = V.point_mutation(tree, language, rng)
        assert language.is_well_typed(child)
        inputs |= {n.value for n in child if n.arity == 0}
        ops.add(child[3].name)
    assert inputs == {"W", "G"}  # an input is only ever replaced by one of its group
    assert ops == {"mul", "add", "sub"}  # the tensor binary operations of the language


# -- fitness ordering ----------------------------------------------------------------------------

def _individual(text, valid, fitness):
    tree = load_language("default").parse(text)
    ind = ind_mod.make_individual(tree)
    ind.fitness.values = ind_mod.fitness_values(valid, fitness, len(tree))
    return ind


def test_invalid_loses_to_any_valid_and_parsimony_breaks_ties():
    bad = _individual("layer_mean(pool_mean(t_fro(W)))", False, None)
    poor = _individual("layer_mean(l_abs(l_abslog(pool_mean(t_fro(W)))))", True, -0.9)
    small = _individual("layer_mean(pool_mean(t_fro(W)))", True, 0.5)
    big = _individual("layer_mean(l_abs(pool_mean(t_fro(W))))", True, 0.5)
    assert poor.fitness > bad.fitness
    assert small.fitness > big.fitness
    assert sorted([bad, big, poor, small], key=ind_mod.sort_key) == [small, big, poor, bad]


def test_tournament_selection_draws_from_the_runs_generator_as_deap_did():
    """The run's own generator, seeded with the seed, gives DEAP's global-random tournaments,
    and the global ``random`` is left alone."""
    import types

    from deap import tools

    from lpzero_gp.search.loop import select_tournament
    population = [types.SimpleNamespace(fitness=f) for f in (0.3, 0.1, 0.9, 0.5, 0.7, 0.2)]
    random.seed(7)
    expected = tools.selTournament(population, 8, tournsize=3)
    random.seed(99)
    before = random.getstate()
    got = select_tournament(population, 8, 3, random.Random(7))
    assert [id(x) for x in got] == [id(x) for x in expected]
    assert random.getstate() == before
