"""2,000+ generated trees of each built-in language: well typed, within limits, never pairing
two alignment groups, parse back from their text, and evaluate on real captured inputs to
scores or an invalid status."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from lpzero_gp.bank import INPUTS, InputBank
from lpzero_gp.language import (LPZERO_FLEXIBERT_PROXY, LPZERO_GPT2_PROXY, Proxy, Scalar,
                                ScalarL, load_language)
from lpzero_gp.language.types import EACH_TYPES, TENSOR_TYPES, is_each, is_tensor

from conftest import flexibert_bank

N_TREES = 2000


def groups_of(tree) -> list[str]:
    """Check, independently of the language, that every tensor or per-tensor subtree reads
    inputs of its own type's group only (nothing pairs two groups) and that pooling is the
    only way from per-tensor values to scalars; return the groups the tree reads."""
    seen = []
    for i, node in enumerate(tree):
        span = tree.searchSubtree(i)
        leaves = [n.value for n in tree[span] if n.arity == 0]
        if is_tensor(node.ret) or is_each(node.ret):
            assert {INPUTS[n].group for n in leaves} == {node.ret.group}, str(tree)
        if node.arity == 0:
            assert node.ret is TENSOR_TYPES[INPUTS[node.value].group]
            seen.append(INPUTS[node.value].group)
        elif any(is_each(a) for a in node.args) and not is_each(node.ret):
            assert node.name.startswith("pool_"), str(tree)
    return seen


@pytest.fixture(scope="module")
def bank(data_dir) -> InputBank:
    """Six real FlexiBERT architectures (2 and 4 layers) captured on 2 x 32 tokens."""
    return flexibert_bank(3)


@pytest.mark.parametrize("name", ["default", "lpzero"])
def test_generated_trees_are_typed_bounded_parseable_and_evaluable(name, bank):
    lang = load_language(name)
    rng = random.Random(2024)
    seen, statuses, groups = set(), {"valid": 0, "invalid": 0}, set()
    for _ in range(N_TREES):
        tree = lang.generate(rng)
        assert lang.is_well_typed(tree), str(tree)
        assert lang.within_limits(tree), str(tree)
        assert tree[0].ret is Scalar
        groups.update(groups_of(tree))
        text = str(tree)
        again = lang.parse(text)
        assert str(again) == text and [n.ret for n in again] == [n.ret for n in tree]
        result = Proxy(tree, lang).evaluate(bank)
        assert result.scores.shape == (len(bank),) and result.scores.dtype == np.float64
        if result.valid:
            assert np.isfinite(result.scores).all() and result.reason is None
            statuses["valid"] += 1
        else:
            assert isinstance(result.reason, str) and result.reason
            assert len(result.invalid_records) == int(np.isnan(result.scores).sum())
            statuses["invalid"] += 1
        seen.add(text)
    assert groups == set(lang.groups)          # every input group is used
    assert len(seen) > N_TREES // 2           # diverse
    assert statuses["valid"] > N_TREES // 2   # most random formulas are defined on real inputs
    assert statuses["invalid"] > 0            # and the language does not hide undefined ones


def test_default_trees_pair_aligned_inputs_and_reach_the_model_level():
    lang = load_language("default")
    rng = random.Random(17)
    pairs, model_level, per_tensor_binary = set(), 0, 0
    for _ in range(N_TREES):
        tree = lang.generate(rng)
        groups_of(tree)
        for i, node in enumerate(tree):
            if node.arity == 2 and is_tensor(node.args[0]):
                kids = [i + 1, tree.searchSubtree(i + 1).stop]
                pairs.add(tuple(sorted({n.value for k in kids
                                        for n in tree[tree.searchSubtree(k)] if n.arity == 0})))
            per_tensor_binary += node.arity == 2 and is_each(node.args[0])
            model_level += node.name.startswith("pool_") and node.ret is Scalar
    assert ("G", "W") in pairs and ("GE", "WE") in pairs   # the aligned pairs do occur
    assert all(len({INPUTS[n].group for n in p}) == 1 for p in pairs)
    assert model_level > 0 and per_tensor_binary > 0


def test_is_well_typed_rejects_a_tree_pairing_two_groups():
    lang = load_language("default")
    good = lang.parse("layer_mean(pool_mean(t_mean(mul(W, G))))")
    assert lang.is_well_typed(good)
    nodes = list(good)
    nodes[-1] = lang.pset.mapping["H"]  # mul(W, H): a Tensor_H where a Tensor_W is needed
    bad = type(good)(nodes)
    assert not lang.is_well_typed(bad)
    # a per-layer scalar where the root needs a per-architecture one
    assert not lang.is_well_typed(type(good)(list(good)[1:]))
    assert not load_language("lpzero").is_well_typed(good)  # not the template's shape


def test_generation_is_deterministic_given_the_rng():
    for name in ("default", "lpzero"):
        lang = load_language(name)
        a = [str(lang.generate(random.Random(7))) for _ in range(3)]
        rng1, rng2 = random.Random(11), random.Random(11)
        assert [str(lang.generate(rng1)) for _ in range(50)] == \
               [str(lang.generate(rng2)) for _ in range(50)]
        assert len(set(a)) == 1


def test_default_trees_use_the_room_they_are_given():
    lang = load_language("default")
    rng = random.Random(3)
    trees = [lang.generate(rng) for _ in range(500)]
    heights = [t.height for t in trees]
    assert lang.limits.max_depth == 9 and lang.limits.max_nodes == 25
    assert min(heights) >= lang.limits.min_depth
    assert max(heights) == lang.limits.max_depth or max(len(t) for t in trees) == \
        lang.limits.max_nodes


def test_subtrees_for_mutation_fit_their_type_and_bounds():
    lang = load_language("default")
    rng = random.Random(5)
    for ret in (TENSOR_TYPES["W"], TENSOR_TYPES["S"], EACH_TYPES["A"], EACH_TYPES["WE"],
                ScalarL, Scalar):
        for depth in (2, 3, 5):
            for _ in range(20):
                nodes = lang.generate_subtree(rng, ret, max_depth=depth, max_nodes=9)
                assert nodes[0].ret is ret and len(nodes) <= 9
                sub = type(lang.parse("layer_mean(pool_mean(t_mean(W)))"))(nodes)
                assert sub.height <= depth
                if is_tensor(ret) or is_each(ret):
                    assert {INPUTS[n.value].group for n in nodes if n.arity == 0} == {ret.group}
    # a per-layer scalar needs an input, a reduction and a pooling: height 2, three nodes
    assert not lang.can_generate(ScalarL, max_depth=1, max_nodes=5)
    assert not lang.can_generate(ScalarL, max_depth=2, max_nodes=2)
    assert lang.can_generate(ScalarL, max_depth=2, max_nodes=3)
    assert lang.can_generate(Scalar, max_depth=2, max_nodes=3)  # the model level: pool_*(t_*(WE))
    assert not lang.can_generate(Scalar, max_depth=1, max_nodes=9)


def test_lpzero_template_genes_round_trip():
    lang = load_language("lpzero")
    rng = random.Random(9)
    for _ in range(N_TREES):
        tree = lang.generate(rng)
        genes = lang.genes(tree)
        assert str(lang.from_genes(genes)) == str(tree)
        # each branch: pool_mean, two unary operations, t_mean if neither reduced, the input
        assert 10 <= len(tree) <= 12 and tree.height in (5, 6)
        names = [n.name for n in tree]
        assert names[:2] == ["layer_mean", genes.binary] and names.count("pool_mean") == 2
    # a reduction followed by an operation on the one value per tensor
    tree = lang.parse(LPZERO_FLEXIBERT_PROXY)
    genes = lang.genes(tree)
    assert genes.inputs == ("H", "A") and genes.binary == "l_add"
    assert genes.unary == (("neg", "square"), ("t_fro", "logsoftmax"))
    assert not load_language("default").is_well_typed(tree)  # v_logsoftmax is lpzero's only
    assert lang.genes(lang.parse(LPZERO_GPT2_PROXY)).unary == (("square", "t_meanabs"),
                                                                ("softmax", "square"))


def test_published_proxies_against_their_definition(bank):
    lpzero = Proxy.parse(LPZERO_FLEXIBERT_PROXY, "lpzero").evaluate(bank)
    plain = Proxy.parse("layer_mean(pool_mean(t_mean(square(H))))", "default").evaluate(bank)
    assert lpzero.valid and plain.valid
    np.testing.assert_allclose(lpzero.scores, plain.scores, rtol=1e-12)
    gpt2 = Proxy.parse(LPZERO_GPT2_PROXY, "lpzero").evaluate(bank)
    direct = Proxy.parse("layer_mean(l_add(pool_mean(t_mean(square(W))), "
                         "pool_mean(t_mean(square(softmax(G))))))", "default").evaluate(bank)
    assert gpt2.valid
    np.testing.assert_allclose(gpt2.scores, direct.scores, rtol=1e-6)
    assert all(math.isfinite(s) for s in gpt2.scores)
    # and by hand from the captured rows: per layer, the unweighted mean over its weight
    # matrices of mean(W^2), plus that of mean(softmax_row(G)^2); then the mean over layers
    want = []
    for inp in bank.inputs:
        per_layer = []
        for layer in range(inp.n_layers):
            ws = [t.rows.double() for t in inp.tensors["W"] if t.layer == layer]
            gs = [t.rows.double() for t in inp.tensors["G"] if t.layer == layer]
            per_layer.append(np.mean([float((w ** 2).mean()) for w in ws]) +
                             np.mean([float((torch.softmax(g, 1) ** 2).mean()) for g in gs]))
        want.append(np.mean(per_layer))
    np.testing.assert_allclose(gpt2.scores, want, rtol=1e-5)
