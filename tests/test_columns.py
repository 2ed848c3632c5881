"""Column statistics: every input by columns (XT, rows of XT = columns of X) in the ``columns``
language, on a real capture: what is kept, what is computed, what is printed, what is refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from lpzero_gp.bank import INPUTS, InputBank
from lpzero_gp.capture import capture_inputs, choose_rows, row_generator
from lpzero_gp.errors import FormulaError
from lpzero_gp.language import Proxy, load_language
from lpzero_gp.spaces import get_space


@pytest.fixture(scope="module")
def captured(data_dir):
    """Two of the smallest GPT-2 records (Conv1D layout, adaptive embeddings), full and
    sketched (max_elements 256) on one 2 x 16 batch."""
    space = get_space("gpt2")
    bench = space.load_benchmark()
    records = sorted(bench, key=lambda r: (r.config.d_model, r.config.n_layer, r.id))[:2]
    batch = space.make_batch(batch_size=2, seq_len=16, seed=0, objective="clm")
    full, sketch = [], []
    for r in records:
        model = space.build(r, space.default_variant, seed=0)
        full.append(capture_inputs(model, batch, "clm", max_elements=None, seed=0))
        sketch.append(capture_inputs(model, batch, "clm", max_elements=256, seed=0))
    ids = [r.id for r in records]
    return (InputBank.from_inputs(full, ids, [r.quality for r in records]),
            InputBank.from_inputs(sketch, ids, [r.quality for r in records]))


def test_transposed_inputs_are_declared_for_every_input():
    base = [n for n, s in INPUTS.items() if not s.transposes]
    assert [n for n, s in INPUTS.items() if s.transposes] == [n + "T" for n in base]
    for n in base:
        t = INPUTS[n + "T"]
        assert (t.transposes, t.group, t.level) == (n, INPUTS[n].group + "T", INPUTS[n].level)
    assert INPUTS["GT"].group == "WT" and INPUTS["GET"].group == "WET"
    assert INPUTS["WT"].latex == r"W^{\top}" and INPUTS["WET"].latex == r"W^{\mathrm{emb}\top}"
    language = load_language("columns")
    assert set(language.inputs) == set(INPUTS)
    assert not set(load_language("default").inputs) & {n + "T" for n in base}


def test_kept_columns_are_whole_columns_and_w_g_share_them(captured):
    full, sketch = captured
    for a in range(len(full)):
        for x in ("W", "A", "S"):
            for f, k, ft in zip(full.inputs[a].tensors[x], sketch.inputs[a].tensors[x + "T"],
                                full.inputs[a].tensors[x + "T"]):
                pos = choose_rows(f.row_len, f.n_rows, 256, 4,
                                  row_generator(0, x + "T", f.layer, f.name))
                cols = torch.arange(f.row_len) if pos is None else pos
                assert torch.equal(k.rows, f.rows[:, cols].t()), (x, f.name)
                assert k.n_rows == f.row_len and k.row_len == f.n_rows and ft.exact
        for w, g in zip(sketch.inputs[a].tensors["WT"], sketch.inputs[a].tensors["GT"]):
            fw = next(t for t in full.inputs[a].tensors["W"] if (t.name, t.layer) ==
                      (w.name, w.layer))
            fg = next(t for t in full.inputs[a].tensors["G"] if (t.name, t.layer) ==
                      (g.name, g.layer))
            pos = choose_rows(fw.row_len, fw.n_rows, 256, 4,
                              row_generator(0, "WT", fw.layer, fw.name))
            cols = torch.arange(fw.row_len) if pos is None else pos
            # the same kept columns: each weight beside its own gradient
            assert torch.equal(g.rows, fg.rows[:, cols].t()), g.name


def _per_layer_mean(inp, x: str, stat) -> float:
    """The oracle: per layer, the mean over X's tensors of ``stat`` of the full tensor (rows
    as captured), averaged over layers."""
    per_layer = [np.mean([stat(t.rows.double()) for t in inp.tensors[x] if t.layer == l])
                 for l in range(inp.n_layers)]
    return float(np.mean(per_layer))


COLUMN_STATS = {
    # formula on XT: column statistic of X, computed on X's full rows
    "layer_mean(pool_mean(t_rowmax(WT)))": ("W", lambda m: float(m.amax(0).mean())),
    "layer_mean(pool_mean(t_rownorm(GT)))": ("G", lambda m: float(m.norm(dim=0).mean())),
    "layer_mean(pool_mean(t_rowmin(softmax(ST))))":
        ("S", lambda m: float(torch.softmax(m, 0).amin(0).mean())),
    "layer_mean(pool_mean(t_mean(mul(WT, GT))))": ("WG", None),
}


@pytest.mark.parametrize("formula", list(COLUMN_STATS))
def test_column_statistics_on_the_full_capture_are_the_column_statistics(captured, formula):
    full, _ = captured
    x, stat = COLUMN_STATS[formula]
    got = Proxy.parse(formula, load_language("columns")).evaluate(full).scores
    want = []
    for inp in full.inputs:
        if stat is None:  # mul(WT, GT) pairs each weight with its own gradient
            per_layer = [np.mean([float((w.rows.double() * g.rows.double()).mean())
                                  for w, g in zip(inp.tensors["W"], inp.tensors["G"])
                                  if w.layer == l]) for l in range(inp.n_layers)]
            want.append(float(np.mean(per_layer)))
        else:
            want.append(_per_layer_mean(inp, x, stat))
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_column_statistics_on_the_sketch_are_exact_on_every_kept_column(captured):
    full, sketch = captured
    language = load_language("columns")
    got = Proxy.parse("layer_mean(pool_mean(t_rowmax(WT)))", language).evaluate(sketch).scores
    want = []
    for inp in full.inputs:
        per_layer = []
        for l in range(inp.n_layers):
            vals = []
            for t in (t for t in inp.tensors["W"] if t.layer == l):
                pos = choose_rows(t.row_len, t.n_rows, 256, 4,
                                  row_generator(0, "WT", t.layer, t.name))
                cols = torch.arange(t.row_len) if pos is None else pos
                vals.append(float(t.rows[:, cols].double().amax(0).mean()))
            per_layer.append(np.mean(vals))
        want.append(float(np.mean(per_layer)))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_columns_print_as_transposes():
    language = load_language("columns")
    p = Proxy.parse("layer_mean(pool_mean(t_rownorm(WT)))", language)
    assert p.latex() == (r"\frac{1}{L}\sum_{l=1}^{L} \operatorname{mean}_{m} "
                         r"\operatorname{mean}_{\mathrm{row}}\left\lVert W^{\top}_{l,m} "
                         r"\right\rVert_2")
    q = Proxy.parse("pool_mean(t_std(AET))", language)
    assert q.latex() == r"\operatorname{mean}_{m} \operatorname{std}\left(A^{\mathrm{emb}\top}_{m}\right)"


def test_rows_and_columns_are_never_paired():
    language = load_language("columns")
    with pytest.raises(FormulaError, match="a tensor of group W and a tensor of group WT"):
        Proxy.parse("layer_mean(pool_mean(t_mean(mul(W, WT))))", language)
    with pytest.raises(FormulaError, match="only W and G, WE and GE, WT and GT, WET and GET"):
        Proxy.parse("layer_mean(pool_mean(t_mean(add(AT, HT))))", language)
    with pytest.raises(FormulaError, match="WT"):  # the default language has no columns
        Proxy.parse("layer_mean(pool_mean(t_rownorm(WT)))", load_language("default"))
