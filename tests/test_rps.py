"""Rule-based Pruning Strategy: every rule on hand-made trees, probe rules on real records."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from deap import gp

from lpzero_gp.search import rps
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import collect_inputs
from lpzero_gp.language import (LPZERO_FLEXIBERT_PROXY, LPZERO_GPT2_PROXY, REGISTRY,
                                load_language)
from lpzero_gp.language.probe import PROBE_MASK, probe_value
from lpzero_gp.language.types import EACH_TYPES, TENSOR_TYPES, ScalarL
from lpzero_gp.spaces import get_space

DEFAULT = load_language("default")
LPZERO = load_language("lpzero")


def fired(text: str, language=DEFAULT, absolute: bool = False, probe_bank=None):
    """The name of the rule that rejects ``text`` (None if it passes)."""
    pruning = rps.RuleBasedPruning(language, probe_bank, absolute=absolute)
    firing = pruning.check(language.parse(text))
    if firing is not None:
        assert pruning.counts == {firing.rule: 1}
        assert firing.reason
    return None if firing is None else firing.rule


def structural(rule_cls, text: str, language=DEFAULT, **kw) -> str | None:
    """What one rule alone says about ``text``."""
    view = rps.TreeView(language.parse(text), language.inputs)
    return rule_cls(**kw).fires(view)


@pytest.fixture(scope="module")
def probe_bank(session_cache):
    space = get_space("flexibert")
    records = space.load_benchmark().records[:4]
    settings = CaptureSettings(batch_size=2, seq_len=32, max_elements=256)
    return collect_inputs(space, records, settings, cache=session_cache, progress=False)


# -- measured primitive facts ------------------------------------------------------------------

def test_primitive_facts_are_measured_from_the_implementations():
    facts = rps.primitive_facts
    # at every level: tensors, per-tensor values, per-layer scalars (whose probe values hold
    # NaN in their padding layers) and per-architecture scalars
    for name in ("identity", "v_identity", "l_identity", "s_identity", "v_mean"):
        assert facts(name).noop, name
    assert not facts("neg").noop and not facts("abs").noop and not facts("v_fro").noop
    assert facts("v_softmax").constant and facts("v_logsoftmax").constant
    assert not facts("softmax").constant and not facts("t_mean").constant
    assert not facts("v_znorm").constant  # NaN: undefined, not a constant
    for name in ("sub", "v_sub", "v_div", "l_sub", "l_div", "s_sub", "s_div"):
        assert facts(name).self_cancelling, name
    assert not facts("add").self_cancelling and not facts("l_mul").self_cancelling
    assert not facts("l_max").self_cancelling and not facts("v_mul").self_cancelling
    assert not facts("pool_mean").noop and not facts("layer_mean").noop
    assert {n for n in REGISTRY if facts(n).noop} == {
        "identity", "v_identity", "l_identity", "s_identity", "v_mean"}
    assert {n for n in REGISTRY if facts(n).constant} == {"v_softmax", "v_logsoftmax"}
    assert {n for n in REGISTRY if facts(n).self_cancelling} == {
        "sub", "v_sub", "v_div", "l_sub", "l_div", "s_sub", "s_div"}


def test_padding_layers_of_probe_values_are_left_out():
    # a per-layer probe holds NaN where PROBE_MASK is False; only valid layers are compared
    x = probe_value(ScalarL, "real", torch.Generator().manual_seed(0))
    assert torch.isnan(x[~PROBE_MASK]).all() and torch.isfinite(x[PROBE_MASK]).all()
    assert torch.equal(rps._values(x), x[PROBE_MASK])


# -- structural rules, one by one ----------------------------------------------------------------

def test_inverse_pair():
    assert structural(rps.InversePair, "layer_mean(pool_mean(t_mean(log(exp(A)))))")
    assert structural(rps.InversePair, "layer_mean(pool_mean(t_mean(exp(log(A)))))")
    assert structural(rps.InversePair, "layer_sum(l_exp(l_log(pool_mean(t_fro(W)))))")
    assert structural(rps.InversePair, "layer_mean(pool_mean(t_mean(exp(A))))") is None
    assert structural(rps.InversePair, "layer_mean(pool_mean(t_mean(log(abs(exp(A))))))") \
        is None
    assert fired("layer_mean(pool_mean(t_mean(log(exp(A)))))") == "inverse_pair"


def test_measured_compositions():
    assert rps.composition("abslog", "exp") == "identity"
    assert rps.composition("log", "exp") == "identity"
    assert rps.composition("abs", "exp") == "absorbed"
    assert rps.composition("relu", "softmax") == "absorbed"  # softmax rows are positive
    assert rps.composition("minmax", "minmax") == "absorbed"  # along the same rows
    assert rps.composition("l_abs", "l_log1pabs") == "absorbed"  # per-layer scalars too
    assert rps.composition("l_log", "l_exp") == "identity"
    assert rps.composition("softmax", "logsoftmax") is None
    assert rps.composition("minmax", "znorm") is None
    assert rps.composition("v_sqrtpos", "v_square") is None
    assert rps.composition("exp", "abslog") is None  # |x|, not x
    assert rps.composition("sqrtpos", "square") is None
    assert rps.composition("abs", "neg") is None
    assert rps.composition("t_mean", "abs") is None  # not one type in and out


def test_inverse_pair_measured_from_the_implementations():
    # the registry does not declare abslog the inverse of exp; measuring finds it
    assert structural(rps.InversePair, "layer_sum(pool_sum(t_fro(abslog(exp(A)))))")
    assert structural(rps.InversePair, "layer_sum(l_abslog(l_exp(pool_sum(t_fro(A)))))")
    assert fired("layer_sum(pool_sum(t_fro(abslog(exp(sigmoid(A))))))") == "inverse_pair"


def test_absorbed_operation():
    assert structural(rps.AbsorbedOperation, "layer_mean(pool_mean(t_mean(abs(exp(A)))))")
    assert structural(rps.AbsorbedOperation, "layer_mean(pool_mean(t_mean(relu(square(A)))))")
    assert structural(rps.AbsorbedOperation, "layer_mean(pool_mean(t_std(abs(softmax(W)))))")
    assert structural(rps.AbsorbedOperation,
                      "layer_mean(l_abs(l_log1pabs(pool_mean(t_mean(A)))))")
    assert structural(rps.AbsorbedOperation, "layer_mean(pool_mean(t_mean(abs(neg(A)))))") \
        is None
    assert structural(rps.AbsorbedOperation, "layer_mean(pool_mean(t_mean(exp(abs(A)))))") \
        is None
    assert fired("layer_mean(pool_mean(t_mean(abs(exp(A)))))") == "absorbed_operation"


def test_involution_twice():
    assert structural(rps.InvolutionTwice, "layer_mean(pool_mean(t_mean(neg(neg(H)))))")
    assert structural(rps.InvolutionTwice,
                      "layer_mean(l_inverse(l_inverse(pool_mean(t_fro(W)))))")
    assert structural(rps.InvolutionTwice, "layer_mean(pool_mean(t_mean(neg(abs(neg(H))))))") \
        is None
    assert fired("layer_mean(pool_mean(t_mean(neg(neg(H)))))") == "involution_twice"


def test_idempotent_twice():
    assert structural(rps.IdempotentTwice, "layer_mean(pool_mean(t_mean(abs(abs(H)))))")
    assert structural(rps.IdempotentTwice, "layer_mean(pool_mean(t_std(znorm(znorm(W)))))")
    assert structural(rps.IdempotentTwice, "layer_mean(pool_mean(t_mean(relu(H))))") is None
    assert fired("layer_mean(pool_mean(t_mean(relu(relu(H)))))") == "idempotent_twice"


def test_idempotent_binary():
    assert structural(rps.IdempotentBinary,
                      "layer_mean(l_max(pool_mean(t_mean(A)), pool_mean(t_mean(A))))")
    assert structural(rps.IdempotentBinary,
                      "s_min(layer_sum(pool_sum(t_fro(W))), layer_sum(pool_sum(t_fro(W))))")
    assert structural(rps.IdempotentBinary,
                      "layer_mean(l_max(pool_mean(t_mean(A)), pool_mean(t_mean(H))))") is None
    # the same reduction pooled two ways is two different values
    assert structural(rps.IdempotentBinary,
                      "layer_mean(l_max(pool_mean(t_mean(A)), pool_max(t_mean(A))))") is None
    assert fired("layer_mean(l_max(pool_mean(t_mean(A)), pool_mean(t_mean(A))))") == \
        "idempotent_binary"


def test_self_cancelling_sees_through_commutative_order():
    assert structural(rps.SelfCancelling,
                      "layer_mean(l_sub(pool_mean(t_mean(A)), pool_mean(t_mean(A))))")
    assert structural(rps.SelfCancelling,
                      "layer_mean(l_div(pool_sum(t_fro(W)), pool_sum(t_fro(W))))")
    assert structural(rps.SelfCancelling,
                      "layer_mean(l_sub(pool_mean(t_mean(mul(W, G))), "
                      "pool_mean(t_mean(mul(G, W)))))")
    assert structural(rps.SelfCancelling, "layer_mean(pool_sum(t_sum(exp(sub(W, W)))))")
    assert structural(rps.SelfCancelling, "layer_mean(pool_mean(v_div(t_fro(G), t_fro(G))))")
    assert structural(rps.SelfCancelling, "pool_max(v_sub(t_std(WE), t_std(WE)))")
    assert structural(rps.SelfCancelling,
                      "layer_mean(l_sub(pool_mean(t_mean(A)), pool_mean(t_mean(H))))") is None
    assert structural(rps.SelfCancelling, "layer_mean(pool_mean(v_div(t_fro(W), t_fro(G))))") \
        is None
    assert structural(rps.SelfCancelling,
                      "layer_mean(l_add(pool_mean(t_mean(A)), pool_mean(t_mean(A))))") is None
    assert fired("layer_mean(l_div(pool_sum(t_fro(W)), pool_sum(t_fro(W))))") == \
        "self_cancelling"


def test_constant_subtree_catches_lpzero_flexibert_proxy():
    # LPZero's FlexiBERT proxy adds the log-softmax of one number per layer: always 0
    assert structural(rps.ConstantSubtree, LPZERO_FLEXIBERT_PROXY, LPZERO)
    assert fired(LPZERO_FLEXIBERT_PROXY, LPZERO) == "constant_subtree"
    assert structural(rps.ConstantSubtree, LPZERO_GPT2_PROXY, LPZERO) is None
    # the element count of matrices of ones depends on the architecture: not constant
    assert structural(rps.ConstantSubtree, "layer_mean(pool_sum(t_sum(exp(sub(W, W)))))") is None
    # softmax of a whole row is not constant (its mean is 1 / row length); of one value it is
    assert structural(rps.ConstantSubtree, "layer_mean(pool_mean(t_mean(softmax(W))))") is None
    assert structural(rps.ConstantSubtree, "layer_mean(l_add(pool_mean(t_mean(abs(A))), "
                                           "pool_mean(v_softmax(t_std(W)))))", LPZERO)


def test_no_input_on_a_hand_made_tree_with_a_constant():
    node = lambda name: DEFAULT.node_for(name, "W")  # noqa: E731 - the group-W variant
    constant = gp.Terminal(1.5, False, TENSOR_TYPES["W"])
    tree = gp.PrimitiveTree([node("layer_mean"), node("pool_mean"), node("t_mean"), node("exp"),
                             constant])
    assert DEFAULT.is_well_typed(tree) is False  # a constant is not an input of the language
    assert rps.NoInput().fires(rps.TreeView(tree, DEFAULT.inputs))
    mixed = gp.PrimitiveTree([node("layer_mean"), node("pool_mean"), node("t_mean"),
                              node("mul"), DEFAULT.pset.mapping["W"], constant])
    assert rps.NoInput().fires(rps.TreeView(mixed, DEFAULT.inputs)) is None
    assert rps.NoInput().fires(rps.TreeView(DEFAULT.parse("layer_mean(pool_mean(t_mean(W)))"),
                                            DEFAULT.inputs)) is None


def test_no_op_only_outside_templates():
    template_tree = ("layer_mean(l_add(pool_mean(t_mean(identity(identity(S)))), "
                     "pool_mean(t_std(minmax(G)))))")
    assert structural(rps.NoOperation, template_tree, LPZERO)
    assert not rps.NoOperation().applies_to(LPZERO)
    assert rps.NoOperation().applies_to(DEFAULT)
    assert fired(template_tree, LPZERO) is None  # identity is a legal gene of the template
    # the default language has no identity; a hand-made tree with the mean of one value per
    # tensor, and one with the identity of a per-layer scalar
    v_mean = gp.Primitive("v_mean", [EACH_TYPES["W"]], EACH_TYPES["W"])
    tree = gp.PrimitiveTree([DEFAULT.pset.mapping["layer_mean"],
                             DEFAULT.node_for("pool_mean", "W"), v_mean,
                             DEFAULT.node_for("t_fro", "W"), DEFAULT.pset.mapping["W"]])
    assert rps.NoOperation().fires(rps.TreeView(tree, DEFAULT.inputs)) == "v_mean(x) is x"
    l_identity = gp.Primitive("l_identity", [ScalarL], ScalarL)
    tree = gp.PrimitiveTree([DEFAULT.pset.mapping["layer_mean"], l_identity,
                             DEFAULT.node_for("pool_mean", "W"), DEFAULT.node_for("t_fro", "W"),
                             DEFAULT.pset.mapping["W"]])
    assert rps.NoOperation().fires(rps.TreeView(tree, DEFAULT.inputs)) == "l_identity(x) is x"


def test_monotone_root():
    assert structural(rps.MonotoneRoot, "s_log(layer_mean(pool_mean(t_fro(W))))")
    assert structural(rps.MonotoneRoot, "s_sqrtpos(layer_sum(pool_sum(t_fro(W))))")
    assert structural(rps.MonotoneRoot, "s_log(pool_sum(t_fro(WE)))")
    assert structural(rps.MonotoneRoot, "s_neg(layer_mean(pool_mean(t_fro(W))))") is None
    assert structural(rps.MonotoneRoot, "s_neg(layer_mean(pool_mean(t_fro(W))))", absolute=True)
    assert structural(rps.MonotoneRoot, "s_square(layer_mean(pool_mean(t_mean(W))))") is None
    # below the root a monotone operation can change the ranking of a sum
    assert structural(rps.MonotoneRoot, "s_add(s_log(layer_mean(pool_mean(t_fro(W)))), "
                                        "layer_mean(pool_mean(t_fro(G))))") is None
    # the root of a plain formula is an aggregation or a pooling: not a unary operation
    assert structural(rps.MonotoneRoot, "layer_mean(pool_mean(t_fro(W)))") is None
    assert structural(rps.MonotoneRoot, "pool_mean(t_fro(WE))") is None
    assert fired("s_log(layer_mean(pool_mean(t_fro(W))))") == "monotone_root"


def test_plain_formulas_pass_every_structural_rule():
    for text in ("layer_mean(pool_mean(t_fro(W)))",
                 "s_add(layer_sum(pool_sum(t_mean(A))), layer_max(pool_max(t_std(G))))",
                 "layer_mean(l_mul(pool_mean(t_fro(W)), pool_wmean(t_meanabs(G))))",
                 "layer_mean(pool_mean(v_div(t_fro(W), t_fro(G))))",
                 "layer_mean(pool_mean(t_rowmax(softmax(S))))",
                 "s_div(pool_sum(t_l1(mul(WE, GE))), layer_sum(pool_sum(t_rownorm(J))))"):
        assert fired(text) is None, text
    assert fired(LPZERO_GPT2_PROXY, LPZERO) is None


# -- probe rules on real architectures -------------------------------------------------------------

def test_probe_rules_on_real_records(probe_bank):
    assert fired("layer_mean(pool_mean(t_mean(log(neg(abs(W))))))", probe_bank=probe_bank) \
        == "probe_nan"
    assert fired("layer_mean(l_log(pool_mean(t_rowmax(relu(neg(abs(W)))))))",
                 probe_bank=probe_bank) == "probe_inf"
    # every row's minimum after its min-max normalisation is 0, in every architecture
    assert fired("layer_mean(pool_mean(t_rowmin(minmax(W))))", probe_bank=probe_bank) == \
        "probe_constant"
    assert fired("layer_sum(pool_sum(t_fro(W)))", probe_bank=probe_bank) is None
    # the mean of a softmax row is 1 / its length: it varies with the number of keys / tokens
    assert fired("s_add(layer_mean(pool_mean(t_mean(softmax(S)))), pool_mean(t_fro(WE)))",
                 probe_bank=probe_bank) is None


def test_probe_rules_alone():
    assert rps.ProbeNaN().fires(np.array([1.0, np.nan, 2.0]))
    assert rps.ProbeNaN().fires(np.array([1.0, np.inf, 2.0])) is None
    assert rps.ProbeInfinite().fires(np.array([1.0, -np.inf, 2.0]))
    assert rps.ProbeConstant().fires(np.array([3.0, 3.0, 3.0]))
    assert rps.ProbeConstant().fires(np.array([0.0, 0.0, 0.0]))
    # the same tolerance as a full evaluation's "constant across architectures"
    close = 3.0 * (1 + rps.CONSTANT_RTOL / 10)
    apart = 3.0 * (1 + rps.CONSTANT_RTOL * 10)
    assert rps.ProbeConstant().fires(np.array([3.0, 3.0, close]))
    assert rps.ProbeConstant().fires(np.array([3.0, 3.0, apart])) is None


def test_counts_accumulate_per_rule(probe_bank):
    pruning = rps.RuleBasedPruning(DEFAULT, probe_bank)
    for text in ("layer_mean(pool_mean(t_mean(log(exp(A)))))",
                 "layer_mean(pool_mean(t_mean(exp(log(A)))))",
                 "layer_mean(pool_mean(t_mean(neg(neg(H)))))",
                 "layer_mean(pool_mean(t_rowmin(minmax(W))))",
                 "layer_sum(pool_sum(t_fro(W)))"):
        pruning.check(DEFAULT.parse(text))
    assert pruning.counts == {"inverse_pair": 2, "involution_twice": 1, "probe_constant": 1}
    assert set(pruning.names) == set(rps.rule_names())


def test_a_count_of_a_constant_is_not_pruned_as_constant():
    # t_sum of exp(W - W) is the element count of each matrix: it depends on the architecture
    from lpzero_gp.language import Proxy
    from lpzero_gp.search.rps import ConstantSubtree, TreeView
    proxy = Proxy.parse("layer_sum(pool_sum(t_sum(exp(sub(W, W)))))")
    assert ConstantSubtree().fires(TreeView(proxy.tree, proxy.language.inputs)) is None
    proxy = Proxy.parse("layer_mean(pool_mean(t_mean(exp(sub(W, W)))))")
    assert ConstantSubtree().fires(TreeView(proxy.tree, proxy.language.inputs)) is not None
