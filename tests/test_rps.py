"""Rule-based Pruning Strategy: every rule on hand-made trees, probe rules on real records."""
from __future__ import annotations

import numpy as np
import pytest
from deap import gp

from lpzero_gp import rps
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import collect_inputs
from lpzero_gp.language import (LPZERO_FLEXIBERT_PROXY, LPZERO_GPT2_PROXY, ScalarL, TensorL,
                                load_language)
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
    assert facts("identity").noop and facts("l_identity").noop and facts("l_mean").noop
    assert not facts("neg").noop and not facts("abs").noop
    assert facts("l_softmax").constant and facts("l_logsoftmax").constant
    assert not facts("softmax").constant and not facts("t_mean").constant
    assert facts("sub").self_cancelling and facts("l_div").self_cancelling
    assert facts("s_sub").self_cancelling
    assert not facts("add").self_cancelling and not facts("l_mul").self_cancelling
    assert not facts("l_max").self_cancelling


# -- structural rules, one by one ----------------------------------------------------------------

def test_inverse_pair():
    assert structural(rps.InversePair, "layer_mean(t_mean(log(exp(A))))")
    assert structural(rps.InversePair, "layer_mean(t_mean(exp(log(A))))")
    assert structural(rps.InversePair, "layer_sum(l_exp(l_log(t_fro(W))))")
    assert structural(rps.InversePair, "layer_mean(t_mean(exp(A)))") is None
    assert structural(rps.InversePair, "layer_mean(t_mean(log(abs(exp(A)))))") is None
    assert fired("layer_mean(t_mean(log(exp(A))))") == "inverse_pair"


def test_measured_compositions():
    assert rps.composition("abslog", "exp") == "identity"
    assert rps.composition("log", "exp") == "identity"
    assert rps.composition("abs", "exp") == "absorbed"
    assert rps.composition("minmax", "ranknorm") == "absorbed"
    assert rps.composition("exp", "abslog") is None  # |x|, not x
    assert rps.composition("sqrtpos", "square") is None
    assert rps.composition("abs", "neg") is None
    assert rps.composition("t_mean", "abs") is None  # not one type in and out


def test_inverse_pair_measured_from_the_implementations():
    # the registry does not declare abslog the inverse of exp; measuring finds it
    assert structural(rps.InversePair, "layer_sum(t_fro(abslog(exp(A))))")
    assert fired("layer_sum(t_fro(abslog(exp(sigmoid(A)))))") == "inverse_pair"


def test_absorbed_operation():
    assert structural(rps.AbsorbedOperation, "layer_mean(t_mean(abs(exp(A))))")
    assert structural(rps.AbsorbedOperation, "layer_mean(t_mean(relu(square(A))))")
    assert structural(rps.AbsorbedOperation, "layer_mean(t_std(minmax(ranknorm(W))))")
    assert structural(rps.AbsorbedOperation, "layer_mean(l_abs(l_log1pabs(t_mean(A))))")
    assert structural(rps.AbsorbedOperation, "layer_mean(t_mean(abs(neg(A))))") is None
    assert structural(rps.AbsorbedOperation, "layer_mean(t_mean(exp(abs(A))))") is None
    assert fired("layer_mean(t_mean(abs(exp(A))))") == "absorbed_operation"


def test_involution_twice():
    assert structural(rps.InvolutionTwice, "layer_mean(t_mean(neg(neg(H))))")
    assert structural(rps.InvolutionTwice, "layer_mean(l_inverse(l_inverse(t_fro(W))))")
    assert structural(rps.InvolutionTwice, "layer_mean(t_mean(neg(abs(neg(H)))))") is None
    assert fired("layer_mean(t_mean(neg(neg(H))))") == "involution_twice"


def test_idempotent_twice():
    assert structural(rps.IdempotentTwice, "layer_mean(t_mean(abs(abs(H))))")
    assert structural(rps.IdempotentTwice, "layer_mean(t_std(znorm(znorm(W))))")
    assert structural(rps.IdempotentTwice, "layer_mean(t_mean(relu(H)))") is None
    assert fired("layer_mean(t_mean(relu(relu(H))))") == "idempotent_twice"


def test_idempotent_binary():
    assert structural(rps.IdempotentBinary, "layer_mean(l_max(t_mean(A), t_mean(A)))")
    assert structural(rps.IdempotentBinary, "s_min(layer_sum(t_fro(W)), layer_sum(t_fro(W)))")
    assert structural(rps.IdempotentBinary, "layer_mean(l_max(t_mean(A), t_mean(H)))") is None
    assert fired("layer_mean(l_max(t_mean(A), t_mean(A)))") == "idempotent_binary"


def test_self_cancelling_sees_through_commutative_order():
    assert structural(rps.SelfCancelling, "layer_mean(l_sub(t_mean(A), t_mean(A)))")
    assert structural(rps.SelfCancelling, "layer_mean(l_div(t_fro(W), t_fro(W)))")
    assert structural(rps.SelfCancelling,
                      "layer_mean(l_sub(t_mean(mul(A, H)), t_mean(mul(H, A))))")
    assert structural(rps.SelfCancelling, "layer_mean(t_sum(exp(sub(W, W))))")
    assert structural(rps.SelfCancelling, "layer_mean(l_sub(t_mean(A), t_mean(H)))") is None
    assert structural(rps.SelfCancelling, "layer_mean(l_add(t_mean(A), t_mean(A)))") is None
    assert fired("layer_mean(l_div(t_fro(W), t_fro(W)))") == "self_cancelling"


def test_constant_subtree_catches_lpzero_flexibert_proxy():
    # LPZero's FlexiBERT proxy adds the log-softmax of one number per layer: always 0
    assert structural(rps.ConstantSubtree, LPZERO_FLEXIBERT_PROXY, LPZERO)
    assert fired(LPZERO_FLEXIBERT_PROXY, LPZERO) == "constant_subtree"
    assert structural(rps.ConstantSubtree, LPZERO_GPT2_PROXY, LPZERO) is None
    assert structural(rps.ConstantSubtree, "layer_mean(t_sum(exp(sub(W, W))))")
    assert structural(rps.ConstantSubtree, "layer_mean(t_mean(softmax(W)))") is None


def test_no_input_on_a_hand_made_tree_with_a_constant():
    mapping = DEFAULT.pset.mapping
    constant = gp.Terminal(1.5, False, TensorL)
    tree = gp.PrimitiveTree([mapping["layer_mean"], mapping["t_mean"], mapping["exp"], constant])
    assert rps.NoInput().fires(rps.TreeView(tree, DEFAULT.inputs))
    mixed = gp.PrimitiveTree([mapping["layer_mean"], mapping["t_mean"], mapping["mul"],
                              mapping["W"], constant])
    assert rps.NoInput().fires(rps.TreeView(mixed, DEFAULT.inputs)) is None
    assert rps.NoInput().fires(rps.TreeView(DEFAULT.parse("layer_mean(t_mean(W))"),
                                            DEFAULT.inputs)) is None


def test_no_op_only_outside_templates():
    template_tree = "layer_mean(l_add(t_mean(identity(identity(S))), t_std(minmax(G))))"
    assert structural(rps.NoOperation, template_tree, LPZERO)
    assert not rps.NoOperation().applies_to(LPZERO)
    assert rps.NoOperation().applies_to(DEFAULT)
    assert fired(template_tree, LPZERO) is None  # identity is a legal gene of the template
    mapping = DEFAULT.pset.mapping
    # the default language has no identity; a hand-made tree with the mean of one value
    l_mean = gp.Primitive("l_mean", [ScalarL], ScalarL)
    tree = gp.PrimitiveTree([mapping["layer_mean"], l_mean, mapping["t_fro"], mapping["W"]])
    assert rps.NoOperation().fires(rps.TreeView(tree, DEFAULT.inputs))


def test_monotone_root():
    assert structural(rps.MonotoneRoot, "s_log(layer_mean(t_fro(W)))")
    assert structural(rps.MonotoneRoot, "s_sqrtpos(layer_sum(t_fro(W)))")
    assert structural(rps.MonotoneRoot, "s_neg(layer_mean(t_fro(W)))") is None
    assert structural(rps.MonotoneRoot, "s_neg(layer_mean(t_fro(W)))", absolute=True)
    assert structural(rps.MonotoneRoot, "s_square(layer_mean(t_mean(W)))") is None
    # below the root a monotone operation can change the ranking of a sum
    assert structural(rps.MonotoneRoot,
                      "s_add(s_log(layer_mean(t_fro(W))), layer_mean(t_fro(G)))") is None
    assert fired("s_log(layer_mean(t_fro(W)))") == "monotone_root"


def test_plain_formulas_pass_every_structural_rule():
    for text in ("layer_mean(t_fro(W))", "s_add(layer_sum(t_mean(A)), layer_max(t_std(G)))",
                 "layer_mean(l_mul(t_fro(W), t_meanabs(G)))"):
        assert fired(text) is None, text
    assert fired(LPZERO_GPT2_PROXY, LPZERO) is None


# -- probe rules on real architectures -------------------------------------------------------------

def test_probe_rules_on_real_records(probe_bank):
    assert fired("layer_mean(t_mean(log(neg(abs(W)))))", probe_bank=probe_bank) == "probe_nan"
    assert fired("layer_mean(l_log(t_max(relu(neg(abs(W))))))",
                 probe_bank=probe_bank) == "probe_inf"
    assert fired("layer_mean(t_min(ranknorm(W)))", probe_bank=probe_bank) == "probe_constant"
    assert fired("layer_sum(t_fro(W))", probe_bank=probe_bank) is None


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
    for text in ("layer_mean(t_mean(log(exp(A))))", "layer_mean(t_mean(exp(log(A))))",
                 "layer_mean(t_mean(neg(neg(H))))", "layer_mean(t_min(ranknorm(W)))",
                 "layer_sum(t_fro(W))"):
        pruning.check(DEFAULT.parse(text))
    assert pruning.counts == {"inverse_pair": 2, "involution_twice": 1, "probe_constant": 1}
    assert set(pruning.names) == set(rps.rule_names())
