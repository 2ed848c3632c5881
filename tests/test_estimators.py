"""The whole-row sketch against the full tensors, for every depth-2 formula, on real captures.

8 FlexiBERT architectures (the ``space`` build, so that SA, LT and DSC layers really differ: the
``trained`` build makes every layer SA-SDP; both depths, both hidden sizes: the smallest record
of each kind of :data:`lpzero_gp.estimators.FLEXIBERT_KINDS`) and 4 of the smallest GPT-2 ones
(:func:`lpzero_gp.estimators.pick_gpt2`) are captured once in full on one 2 x 16 batch, then
sketched with the default settings (sketch seed 0 compared, seeds 1..4 measure the sampling
error). For every formula ``[layer_mean](pool_mean(r(p(X))))``:

(a) validity agrees between sketch and full, except for pinned, explained cases;
(b) where the tensors decide the ranking (rank SNR >= RANK_SNR), the sketch ranks the
    architectures as the full tensors do (Spearman >= 0.99, i.e. the same order here);
(c) row operations and row statistics are exact on the kept rows (every input, so column ones on
    the kept columns of XT; the weight and
    embedding tables on 3 FlexiBERT and 2 GPT-2 architectures, to save time);
(d) a sketch that keeps every row is the full capture: the same rows, blocks and layouts for
    every input and architecture, the same score for every formula on the small inputs of
    every architecture and on every input of the smallest GPT-2 architecture.

Every input is compared by rows (X) and by columns (XT, the ``columns`` language's): 18 inputs.
Cost: one evaluation of the 2,754 formulas on ~260 million full-tensor elements dominates
(mostly FlexiBERT's and GPT-2's embedding tables and their gradients, by rows and by columns).
"""
from __future__ import annotations

import collections
import math

import numpy as np
import pytest
import torch

from lpzero_gp import estimators as E
from lpzero_gp.bank import DEFAULT_MAX_ELEMENTS, DEFAULT_MIN_ROWS, INPUT_NAMES, INPUTS, InputBank
from lpzero_gp.capture import choose_rows, row_generator, sketch
from lpzero_gp.language import REGISTRY, Proxy, load_language
from lpzero_gp.language.proxy import CONSTANT_RTOL
from lpzero_gp.language.types import Each, Tensor, TensorValue
from lpzero_gp.spaces import get_space

BATCH, SEQ = 2, 16
NOISE_SEEDS = (1, 2, 3, 4)
# The rank SNR of a formula: over every pair of architectures, the gap between their full
# scores in units of the sketch's RMS error on that gap (measured on the 4 noise sketches),
# the smallest. A pair RANK_SNR units apart swaps with probability Phi(-10) ~ 1e-23 for
# Gaussian errors; the margin covers an error estimated from only 4 sketches (below half the
# true one with probability ~9%, below a third ~2%: then Phi(-3.3) ~ 5e-4) and tails heavier
# than Gaussian. Measured: no combination with a rank SNR >= 3 misranks, in either space.
# The brief's SNR (spread of the full scores over the sketch's RMS error) does not decide a
# ranking: scores with a large spread but two architectures tied to 1e-8 (same shapes, e.g.
# mean(softmax(G)) = mean of 1/row length) have SNR ~ 1e7 and still swap.
RANK_SNR = 10.0
# the smallest record (space build, parameters outside the embeddings) of each kind of
# E.FLEXIBERT_KINDS, as E.pick_flexibert(bench) finds them (pinned: that search builds 143
# models on the meta device)
FLEXIBERT_IDS = ("127", "88", "3", "321", "134", "303", "98", "193")

# (a) formulas whose validity differs, per space: {(input, op): count}, and why (see the test)
VALIDITY_DIFFERS = {
    # WE holds the word-embedding row of [PAD] (id 0), exactly zero: abslog / inverse / znorm /
    # minmax make it non-finite; the sketch keeps 16 of 30,522 rows and misses it.
    # By columns: t_std(znorm(XT)) is 1 on every kept column (constant on the sketch) while a
    # few full columns of A, H, J, AE are constant (z-normalised to 0, std 0); t_sum / t_l1 of
    # softmax(GET) is the tensor's row count (shapes only: equal for every architecture, and
    # constant on the full tensors), but a kept row of 30,522 float32 softmax weights sums to
    # 1 only to rounding, which the sketch's scaling to the full size lifts above the
    # constant tolerance.
    "flexibert": {("WE", "abslog"): 9, ("WE", "inverse"): 9, ("WE", "znorm"): 8,
                  ("WE", "minmax"): 7, ("AT", "znorm"): 1, ("HT", "znorm"): 1,
                  ("JT", "znorm"): 1, ("GET", "softmax"): 2, ("AET", "znorm"): 1},
    # mean(exp(G)), mean(sigmoid(G)) are 1 and 1/2 to within 1e-6 for every architecture
    # (constant on the full tensors), the sketch's noise is larger than that; rowmin(relu(WE))
    # and rowmin(sqrtpos(WE)) are 0 on every kept row (constant on the sketch) while the full
    # tables have a few rows with all entries positive.
    # By columns: rowmin(relu(AT)), rowmin(sqrtpos(AT)) are 0 on every kept column (a channel
    # negative on some token), t_std(znorm(AT)) as for FlexiBERT.
    "gpt2": {("G", "exp"): 2, ("G", "sigmoid"): 2, ("WE", "relu"): 1, ("WE", "sqrtpos"): 1,
             ("AT", "relu"): 1, ("AT", "sqrtpos"): 1, ("AT", "znorm"): 1},
}
# (b) combinations valid on both whose ranking the sketch's sampling decides (rank SNR <
# RANK_SNR), per space, and of them those with full scores nearly constant (std / mean < 1e-3)
EXCLUDED = {"flexibert": 1878, "gpt2": 1181}
EXCLUDED_NEAR_CONSTANT = {"flexibert": 133, "gpt2": 72}


class Case:
    """One space: full bank, sketch bank (seed 0), noise banks, formulas, comparison rows."""

    def __init__(self, name: str, full: InputBank, formulas: list, full_results: dict):
        self.name, self.full, self.formulas, self.full_results = name, full, formulas, \
            full_results
        self.sketch = E.sketch_bank(full, DEFAULT_MAX_ELEMENTS, 0, DEFAULT_MIN_ROWS)
        self.noise = [E.sketch_bank(full, DEFAULT_MAX_ELEMENTS, s, DEFAULT_MIN_ROWS)
                      for s in NOISE_SEEDS]
        self.rows = E.compare(full, self.sketch, formulas, self.noise,
                              full_results=full_results)
        self.by_formula = {r.formula: r for r in self.rows}


def _build(name: str) -> Case:
    space = get_space(name)
    bench = space.load_benchmark()
    if name == "flexibert":
        records = [bench.by_id(i) for i in FLEXIBERT_IDS]
        assert [E.flexibert_kind(r) for r in records] == list(E.FLEXIBERT_KINDS)
        variant = "space"
    else:
        records = E.pick_gpt2(bench)
        assert all(r.config.d_model == 64 and r.config.n_layer <= 4 for r in records)
        variant = None
    full = E.capture_full_bank(space, records, BATCH, SEQ, variant=variant)
    formulas = list(E.depth2_formulas(full))
    return Case(name, full, formulas, E.evaluate_formulas(formulas, full, arch_chunk=1))


@pytest.fixture(scope="session")
def cases(data_dir) -> dict[str, Case]:
    return {name: _build(name) for name in ("flexibert", "gpt2")}


def _stream(name: str) -> str:
    return INPUTS[name].group


def _kept(t, seed: int = 0, name: str = "", max_elements=DEFAULT_MAX_ELEMENTS):
    """Positions of the rows of full tensor ``t`` (of input ``name``) a sketch keeps."""
    return choose_rows(t.n_rows, t.row_len, max_elements, DEFAULT_MIN_ROWS,
                       row_generator(seed, _stream(name), t.layer, t.name))


def _kept_index(full_layout, sketch_layout, items, max_elements=DEFAULT_MAX_ELEMENTS,
                seed: int = 0, name: str = "") -> list[torch.Tensor]:
    """Per block: for each row of the sketch's block, its position in the full bank's block of
    the same row length (a tensor's rows are contiguous in a block, in tensor order)."""
    out = []
    for (c, f_owner), (c2, s_owner) in zip(full_layout.blocks, sketch_layout.blocks):
        assert c == c2
        tensors = torch.unique_consecutive(f_owner)
        assert torch.equal(tensors, torch.unique_consecutive(s_owner))
        counts = torch.bincount(f_owner, minlength=len(items))[tensors]
        starts = torch.cumsum(counts, 0) - counts
        parts = []
        for t, start in zip(tensors.tolist(), starts.tolist()):
            pos = _kept(items[t], seed, name, max_elements)
            parts.append(start + (torch.arange(items[t].n_rows) if pos is None else pos))
        out.append(torch.cat(parts))
    return out


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


# -- the formulas --------------------------------------------------------------------------


def test_depth2_formulas_cover_every_registered_unary_op_and_reduction():
    ops = [n for n, p in REGISTRY.items() if p.args == (Tensor,) and p.ret is Tensor]
    reds = [n for n, p in REGISTRY.items() if p.args == (Tensor,) and p.ret is Each]
    assert list(E.tensor_ops()) == ops and list(E.reductions()) == reds
    assert "identity" in ops and "softmax" in ops and "t_rownorm" in reds
    formulas = list(E.depth2_formulas())
    assert len(formulas) == len(INPUT_NAMES) * len(ops) * len(reds)
    assert len({f.text for f in formulas}) == len(formulas)
    assert str(next(iter(E.depth2_formulas(["W"])))) == \
        f"layer_mean(pool_mean({reds[0]}({ops[0]}(W))))"
    assert str(next(iter(E.depth2_formulas(["GE"])))) == f"pool_mean({reds[0]}({ops[0]}(GE)))"
    language = E.estimator_language()
    assert set(language.inputs) == set(load_language("columns").inputs) == set(INPUT_NAMES)
    assert "identity" not in load_language("default").primitives  # why a language of our own
    for f in formulas:
        assert language.is_well_typed(language.parse(f.text)), f.text


def test_evaluate_formulas_is_proxy_evaluate(cases):
    language = E.estimator_language()
    for case in cases.values():
        whole = E.evaluate_formulas(case.formulas, case.sketch)
        chunked = E.evaluate_formulas(case.formulas, case.sketch, arch_chunk=3)  # + dedup
        for f in case.formulas:
            # equal to float32 rounding: torch sums a long float32 row (a column of an
            # embedding table, WET: 30,522 elements) in a blocking that depends on how many
            # rows its block holds
            np.testing.assert_allclose(chunked[f.text].scores, whole[f.text].scores,
                                       rtol=1e-6, atol=0, err_msg=f.text)
            assert whole[f.text].valid == chunked[f.text].valid, f.text
        for f in case.formulas[::23]:
            ref = Proxy.parse(f.text, language).evaluate(case.sketch)
            got = whole[f.text]
            assert _same(ref.scores, got.scores) and (ref.valid, ref.reason) == \
                (got.valid, got.reason), f.text


# -- (a) validity ---------------------------------------------------------------------------


def _nonfinite_rows(case: Case, x: str, op: str) -> list[list[torch.Tensor]]:
    """Per architecture, per tensor of input x: the rows of the full tensor where op gives a
    non-finite value."""
    out = []
    for inp in case.full.inputs:
        per = []
        for t in inp.tensors[x]:
            v = REGISTRY[op].fn(TensorValue((t.rows,), None)).blocks[0]
            per.append(torch.nonzero(~torch.isfinite(v).all(dim=1)).flatten())
        out.append(per)
    return out


def test_validity_agrees_between_sketch_and_full_except_pinned_cases(cases):
    for name, case in cases.items():
        differ = [r for r in case.rows if not r.agree]
        found = collections.Counter((r.input, r.op) for r in differ)
        print(f"\n{name}: validity differs for {len(differ)} of {len(case.rows)}: {dict(found)}")
        assert dict(found) == VALIDITY_DIFFERS[name], name
        bad_rows = {}
        for r in differ:
            if not r.valid_full and r.reason_full.startswith("non-finite"):
                # the full tensors hold rows op makes non-finite, in every architecture the
                # full score is non-finite for; the sketch kept none of them
                assert r.valid_sketch, r.formula
                key = (r.input, r.op)
                if key not in bad_rows:
                    bad_rows[key] = _nonfinite_rows(case, r.input, r.op)
                for a, rid in enumerate(case.full.record_ids):
                    rows = bad_rows[key][a]
                    items = case.full.inputs[a].tensors[r.input]
                    if not math.isfinite(r.full_scores[a]):
                        assert any(len(p) for p in rows), (r.formula, rid)
                    for t, p in zip(items, rows):
                        kept = _kept(t, 0, r.input)
                        kept = torch.arange(t.n_rows) if kept is None else kept
                        assert not bool(torch.isin(p, kept).any()), (r.formula, rid, t.name)
            elif r.reason_full == "constant across architectures":
                # near-constant on the full tensors: the sketch's noise exceeds the spread
                assert r.valid_sketch and np.ptp(r.full_scores) <= \
                    CONSTANT_RTOL * np.abs(r.full_scores).max(), r.formula
                assert r.snr < 1, r.formula
            else:
                # constant on the sketch only: every kept row gives the same value; the full
                # score varies, but not beyond the sketch's noise
                assert r.valid_full and r.reason_sketch == "constant across architectures"
                assert np.ptp(r.sketch_scores) <= \
                    CONSTANT_RTOL * np.abs(r.sketch_scores).max(), r.formula
                assert r.snr < RANK_SNR and r.rank_snr < RANK_SNR, r.formula


# -- (b) ranks --------------------------------------------------------------------------------


def _why(r) -> str:
    if r.full_cv < 1e-3:
        return "near-constant full score (std / mean < 1e-3)"
    if r.snr < RANK_SNR:
        return f"sketch noise above spread / {RANK_SNR:g} (SNR < {RANK_SNR:g})"
    return "two architectures closer than the sketch can tell apart"


def test_sketch_ranks_like_the_full_tensors_where_the_tensors_decide(cases):
    for name, case in cases.items():
        both = [r for r in case.rows if r.valid_both]
        decided = [r for r in both if r.rank_snr >= RANK_SNR]
        excluded = [r for r in both if not r.rank_snr >= RANK_SNR]
        wrong = [(r.formula, r.spearman, r.rank_snr) for r in decided if not r.spearman >= 0.99]
        why = collections.Counter(_why(r) for r in excluded)
        print(f"\n{name}: {len(both)} combinations valid on both; {len(decided)} decided by "
              f"the tensors (rank SNR >= {RANK_SNR:g}), {len(excluded)} excluded: {dict(why)}")
        for r in sorted(excluded, key=lambda r: r.rank_snr)[:10]:
            print(f"  excluded {r.formula}: rank SNR {r.rank_snr:.3g}, SNR {r.snr:.3g}, "
                  f"std/mean {r.full_cv:.3g}, rho {r.spearman:.3f} ({_why(r)})")
        assert not wrong, wrong
        assert len(excluded) == EXCLUDED[name], (name, len(excluded))
        near_constant = [r for r in excluded if r.full_cv < 1e-3]
        assert len(near_constant) == EXCLUDED_NEAR_CONSTANT[name], (name, len(near_constant))


def test_rank_snr_counts_what_the_errors_share():
    full = np.array([1.0, 2.0, 2.0, 10.0])
    # architectures 1 and 2 tied and sharing their error exactly: resolved
    sketches = [full + np.array([0.1, 0.3, 0.3, -0.2]), full + np.array([-0.1, -0.3, -0.3, 0.2])]
    z = E._rank_snr(full, sketches)
    assert z == pytest.approx(1.0 / np.sqrt(np.mean([0.2 ** 2, 0.2 ** 2])))
    assert E._rank_snr(full, [full, full]) == math.inf
    assert math.isnan(E._rank_snr(full, [full * np.nan]))


# -- (c) rows ---------------------------------------------------------------------------------

ROW_STATS = {"t_rowmax": lambda b: b.amax(dim=-1), "t_rowmin": lambda b: b.amin(dim=-1),
             "t_rownorm": lambda b: torch.linalg.vector_norm(b, dim=-1)}


def test_row_operations_and_row_statistics_are_exact_on_kept_rows(cases):
    row_ops = [n for n in E.tensor_ops() if REGISTRY[n].kind == "row"]
    assert set(row_ops) == {"softmax", "logsoftmax", "znorm", "minmax"}
    assert sorted(n for n in E.reductions() if "exact per row" in REGISTRY[n].doc) == \
        sorted(ROW_STATS)
    exact = dict(rtol=0, atol=0, equal_nan=True)
    for name, case in cases.items():
        # inputs with many elements (weights, embedding tables) on a few architectures: both
        # FlexiBERT hidden sizes and depths, GPT-2's adaptive embeddings with div_val 4 and 2
        few = {"flexibert": [0, 3, 7], "gpt2": [1, 3]}[name]
        small_full, small_sketch = case.full.subset(few), case.sketch.subset(few)
        for x in case.full.names:
            heavy = case.full.tensor_numel(x).sum() >= 4e6
            full, sk = (small_full, small_sketch) if heavy else (case.full, case.sketch)
            full_tv = TensorValue(*full.stacked(x))
            sk_tv = TensorValue(*sk.stacked(x))
            items = [t for inp in full.inputs for t in inp.tensors[x]]
            index = _kept_index(full_tv.layout, sk_tv.layout, items, name=x)
            s_owner = [o for _, o in sk_tv.layout.blocks]
            f_owner = [o for _, o in full_tv.layout.blocks]
            n = len(items)
            for op in ("identity", *row_ops):
                fv, sv = REGISTRY[op].fn(full_tv), REGISTRY[op].fn(sk_tv)
                for b, idx in enumerate(index):
                    # the sketch's rows after op are the full tensor's rows after op
                    torch.testing.assert_close(sv.blocks[b], fv.blocks[b][idx], **exact,
                                               msg=f"{name} {x} {op} block {b}")
                for stat, oracle in ROW_STATS.items():
                    f_row = [oracle(blk).double() for blk in fv.blocks]
                    # sketch: the mean of the kept rows' statistics (the full rows' own);
                    # full: the mean over every row
                    s_want = _mean_per_tensor([r[i] for r, i in zip(f_row, index)], s_owner, n)
                    f_want = _mean_per_tensor(f_row, f_owner, n)
                    torch.testing.assert_close(REGISTRY[stat].fn(sv).values, s_want,
                                               rtol=1e-12, atol=0, equal_nan=True,
                                               msg=f"{name} {x} {stat}({op}) sketch")
                    torch.testing.assert_close(REGISTRY[stat].fn(fv).values, f_want,
                                               rtol=1e-12, atol=0, equal_nan=True,
                                               msg=f"{name} {x} {stat}({op}) full")


def _mean_per_tensor(values, owners, n: int) -> torch.Tensor:
    total = torch.zeros(n, dtype=torch.float64)
    count = torch.zeros(n, dtype=torch.float64)
    for v, o in zip(values, owners):
        total.index_add_(0, o, v)
        count.index_add_(0, o, torch.ones_like(v))
    return total / count


# -- (d) keeping every row ------------------------------------------------------------------


def test_a_sketch_keeping_every_row_is_the_full_capture(cases):
    for name, case in cases.items():
        every = max(t.numel for inp in case.full.inputs for ts in inp.tensors.values()
                    for t in ts)
        inputs = [sketch(inp, every, 0, DEFAULT_MIN_ROWS) for inp in case.full.inputs]
        assert all(a.equal(b) for a, b in zip(inputs, case.full.inputs))
        assert all(t.exact for inp in inputs for ts in inp.tensors.values() for t in ts)
        bank = InputBank.from_inputs(inputs, case.full.record_ids, case.full.quality)
        for x in case.full.names:
            (fb, fl), (sb, sl) = case.full.stacked(x), bank.stacked(x)
            assert len(fb) == len(sb) and all(torch.equal(a, b) for a, b in zip(fb, sb))
            for field in ("tensor_arch", "tensor_layer", "tensor_slot", "tensor_numel",
                          "tensor_kept", "tensor_rows"):
                assert torch.equal(getattr(fl, field), getattr(sl, field)), (x, field)
            assert torch.equal(sl.tensor_kept, sl.tensor_numel)
        # every formula on the inputs with few elements, for every architecture
        light = {x for x in case.full.names if case.full.tensor_numel(x).sum() < 4e6}
        got = E.evaluate_formulas([f for f in case.formulas if f.input in light], bank)
        for text, res in got.items():
            assert _same(res.scores, case.full_results[text].scores), (name, text)
            assert (res.valid, res.reason) == (case.full_results[text].valid,
                                               case.full_results[text].reason), (name, text)
        # and on every input for the architecture with the fewest elements (GPT-2: its
        # embedding tables have three row lengths)
        if name == "gpt2":
            small = min(range(len(bank)), key=lambda i: sum(
                t.numel for ts in bank.inputs[i].tensors.values() for t in ts))
            got = E.evaluate_formulas(case.formulas, bank.subset([small]))
            for f in case.formulas:
                assert _same(got[f.text].scores, case.full_results[f.text].scores[[small]]), \
                    (name, f.text)
