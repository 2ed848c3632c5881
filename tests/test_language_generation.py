"""2,000+ generated trees of each built-in language: well typed, within limits, parse back from
their text, and evaluate on real captured inputs to scores or an invalid status."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest

from lpzero_gp.bank import InputBank
from lpzero_gp.language import (LPZERO_FLEXIBERT_PROXY, LPZERO_GPT2_PROXY, Proxy, ScalarL,
                                TensorL, load_language)

from conftest import flexibert_bank

N_TREES = 2000


@pytest.fixture(scope="module")
def bank(data_dir) -> InputBank:
    """Six real FlexiBERT architectures (2 and 4 layers) captured on 2 x 32 tokens, K = 256."""
    return flexibert_bank(3)


@pytest.mark.parametrize("name", ["default", "lpzero"])
def test_generated_trees_are_typed_bounded_parseable_and_evaluable(name, bank):
    lang = load_language(name)
    rng = random.Random(2024)
    seen, statuses = set(), {"valid": 0, "invalid": 0}
    for _ in range(N_TREES):
        tree = lang.generate(rng)
        assert lang.is_well_typed(tree), str(tree)
        assert lang.within_limits(tree), str(tree)
        text = str(tree)
        assert str(lang.parse(text)) == text
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
    assert len(seen) > N_TREES // 2           # diverse
    assert statuses["valid"] > N_TREES // 2   # most random formulas are defined on real inputs
    assert statuses["invalid"] > 0            # and the language does not hide undefined ones


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
    assert min(heights) >= lang.limits.min_depth
    assert max(heights) == lang.limits.max_depth or max(len(t) for t in trees) == \
        lang.limits.max_nodes
    assert lang.limits.max_depth == 8 and lang.limits.max_nodes == 25


def test_subtrees_for_mutation_fit_their_type_and_bounds():
    lang = load_language("default")
    rng = random.Random(5)
    for ret in (TensorL, ScalarL):
        for depth in (1, 2, 4):
            nodes = lang.generate_subtree(rng, ret, max_depth=depth, max_nodes=9)
            assert nodes[0].ret is ret and len(nodes) <= 9
    assert not lang.can_generate(ScalarL, max_depth=0, max_nodes=5)  # needs a reduction


def test_lpzero_template_genes_round_trip():
    lang = load_language("lpzero")
    rng = random.Random(9)
    for _ in range(N_TREES):
        tree = lang.generate(rng)
        genes = lang.genes(tree)
        assert str(lang.from_genes(genes)) == str(tree)
        assert 8 <= len(tree) <= 10 and tree.height in (4, 5)
    # a reduction followed by an operation on the per-layer scalar
    tree = lang.parse(LPZERO_FLEXIBERT_PROXY)
    genes = lang.genes(tree)
    assert genes.inputs == ("H", "A") and genes.binary == "l_add"
    assert genes.unary == (("neg", "square"), ("t_fro", "logsoftmax"))
    assert not load_language("default").is_well_typed(tree)  # l_logsoftmax is lpzero's only


def test_published_flexibert_proxy_is_the_mean_squared_query_projection(bank):
    lpzero = Proxy.parse(LPZERO_FLEXIBERT_PROXY, "lpzero").evaluate(bank)
    plain = Proxy.parse("layer_mean(t_mean(square(H)))", "default").evaluate(bank)
    assert lpzero.valid and plain.valid
    np.testing.assert_allclose(lpzero.scores, plain.scores, rtol=1e-12)
    gpt2 = Proxy.parse(LPZERO_GPT2_PROXY, "lpzero").evaluate(bank)
    direct = Proxy.parse("layer_mean(l_add(t_mean(square(W)), t_mean(square(softmax(G)))))",
                         "default").evaluate(bank)
    assert gpt2.valid
    np.testing.assert_allclose(gpt2.scores, direct.scores, rtol=1e-6)
    assert all(math.isfinite(s) for s in gpt2.scores)
