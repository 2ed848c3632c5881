"""Text, SymPy, LaTeX and JSON forms of proxies; parse errors that point at the typo; the type
errors of unaligned inputs."""
from __future__ import annotations

import json

import pytest
import sympy as sp

from lpzero_gp.errors import FormulaError
from lpzero_gp.language import (LPZERO_FLEXIBERT_PROXY, LPZERO_GPT2_PROXY, Proxy, latex_row,
                                load_language, show_text)


def test_published_lpzero_proxies_in_the_lpzero_language():
    flexi = Proxy.parse(LPZERO_FLEXIBERT_PROXY, "lpzero")
    assert str(flexi) == LPZERO_FLEXIBERT_PROXY == (
        "layer_mean(l_add(pool_mean(t_mean(square(neg(H)))), "
        "pool_mean(v_logsoftmax(t_fro(A)))))")
    assert str(flexi.sympy()) == ("layer_mean(pool_mean(logsoftmax(fro(A_{l,m}))) + "
                                  "pool_mean(mean((-H_{l,m})**2)))")
    # the log-softmax of one value (one Frobenius norm per tensor) is 0: what is left is the
    # mean over layers of the mean over the layer's H tensors of mean(H^2)
    assert str(flexi.sympy(simplify=True)) == "layer_mean(pool_mean(mean(H_{l,m}**2)))"
    assert flexi.latex() == (r"\frac{1}{L}\sum_{l=1}^{L} \operatorname{mean}_{m} "
                             r"\operatorname{mean}\left(H_{l,m}^{2}\right)")
    assert flexi.latex(simplify=False) == (
        r"\frac{1}{L}\sum_{l=1}^{L} \left(\operatorname{mean}_{m} "
        r"\operatorname{logsoftmax}_{\mathrm{row}}\left(\left\lVert A_{l,m} \right\rVert_F"
        r"\right) + \operatorname{mean}_{m} \operatorname{mean}\left(\left(- H_{l,m}\right)^{2}"
        r"\right)\right)")
    gpt2 = Proxy.parse(LPZERO_GPT2_PROXY, "lpzero")
    assert str(gpt2) == LPZERO_GPT2_PROXY == (
        "layer_mean(l_add(pool_mean(t_meanabs(square(W))), "
        "pool_mean(t_mean(square(softmax(G))))))")
    assert str(gpt2.sympy()) == ("layer_mean(pool_mean(mean(softmax(G_{l,m})**2)) + "
                                 "pool_mean(meanabs(W_{l,m}**2)))")
    # mean|W^2| is mean(W^2): the square is nonnegative
    assert str(gpt2.sympy(simplify=True)) == \
        "layer_mean(pool_mean(mean(W_{l,m}**2)) + pool_mean(mean(softmax(G_{l,m})**2)))"
    assert gpt2.latex() == (
        r"\frac{1}{L}\sum_{l=1}^{L} \left(\operatorname{mean}_{m} \operatorname{mean}"
        r"\left(W_{l,m}^{2}\right) + \operatorname{mean}_{m} \operatorname{mean}\left(\left("
        r"\operatorname{softmax}_{\mathrm{row}}\left(G_{l,m}\right)\right)^{2}\right)\right)")


@pytest.mark.parametrize("formula, raw, simplified", [
    ("layer_mean(pool_mean(t_mean(log(exp(W)))))",
     "layer_mean(pool_mean(mean(log(exp(W_{l,m})))))", "layer_mean(pool_mean(mean(W_{l,m})))"),
    ("layer_mean(pool_mean(t_fro(neg(neg(W)))))", "layer_mean(pool_mean(fro(-(-W_{l,m}))))",
     "layer_mean(pool_mean(fro(W_{l,m})))"),
    ("layer_mean(pool_wmean(t_std(neg(H))))", "layer_mean(pool_wmean(std(-H_{l,m})))",
     "layer_mean(pool_wmean(std(H_{l,m})))"),
    ("layer_max(l_add(pool_mean(t_mean(relu(relu(W)))), pool_max(t_mean(inverse(inverse(H))))))",
     "layer_max(pool_max(mean(1/(1/H_{l,m}))) + pool_mean(mean(Max(0, Max(0, W_{l,m})))))",
     "layer_max(pool_max(mean(H_{l,m})) + pool_mean(mean(Max(0, W_{l,m}))))"),
    ("s_inverse(layer_sum(l_div(pool_sum(t_sum(W)), pool_sum(t_l1(mul(W, G))))))",
     "1/layer_sum(pool_sum(sum(W_{l,m}))/pool_sum(l1(G_{l,m}*W_{l,m})))",
     "1/layer_sum(pool_sum(sum(W_{l,m}))/pool_sum(l1(G_{l,m}*W_{l,m})))"),
    # the L1 norm of a nonnegative tensor is its sum
    ("layer_min(pool_min(t_l1(square(J))))", "layer_min(pool_min(l1(J_{l,m}**2)))",
     "layer_min(pool_min(sum(J_{l,m}**2)))"),
    # per-tensor operations, paired tensor by tensor inside the pooling
    ("layer_mean(pool_mean(v_div(t_fro(W), t_fro(G))))",
     "layer_mean(pool_mean(fro(W_{l,m})/fro(G_{l,m})))",
     "layer_mean(pool_mean(fro(W_{l,m})/fro(G_{l,m})))"),
    ("layer_mean(pool_mean(v_sub(t_fro(W), t_fro(W))))",
     "layer_mean(pool_mean(-fro(W_{l,m}) + fro(W_{l,m})))", "0"),
    ("layer_sum(pool_mean(t_rowmax(softmax(S))))", "layer_sum(pool_mean(rowmax(softmax(S_{l,m}))))",
     "layer_sum(pool_mean(rowmax(softmax(S_{l,m}))))"),
    # the model level: no layer index, pooled straight to a per-architecture scalar
    ("s_add(layer_mean(pool_mean(t_rownorm(A))), pool_sum(t_l1(mul(WE, GE))))",
     "layer_mean(pool_mean(rownorm(A_{l,m}))) + pool_sum(l1(G^{\\mathrm{emb}}_{m}*"
     "W^{\\mathrm{emb}}_{m}))",
     "layer_mean(pool_mean(rownorm(A_{l,m}))) + pool_sum(l1(G^{\\mathrm{emb}}_{m}*"
     "W^{\\mathrm{emb}}_{m}))"),
])
def test_sympy_forms(formula, raw, simplified):
    proxy = Proxy.parse(formula)
    assert str(proxy) == formula
    assert str(proxy.sympy()) == raw
    assert str(proxy.sympy(simplify=True)) == simplified


def test_latex_forms():
    p = Proxy.parse("layer_sum(l_div(pool_mean(t_fro(W)), pool_mean(t_std(softmax(G)))))")
    assert p.latex(simplify=False) == (
        r"\sum_{l=1}^{L} \frac{\operatorname{mean}_{m} \left\lVert W_{l,m} \right\rVert_F}"
        r"{\operatorname{mean}_{m} \operatorname{std}\left(\operatorname{softmax}_{\mathrm{row}}"
        r"\left(G_{l,m}\right)\right)}")
    p = Proxy.parse("layer_max(pool_max(t_meanabs(znorm(A))))")
    assert p.latex() == (r"\max_{l} \max_{m} \operatorname{mean}\left|\operatorname{z}_{"
                         r"\mathrm{row}}\left(A_{l,m}\right)\right|")
    p = Proxy.parse("s_log(layer_last(pool_mean(t_mean(log(exp(H))))))")
    assert p.latex(simplify=False) == (
        r"\log{\left(\left.\operatorname{mean}_{m} \operatorname{mean}\left(\log{\left("
        r"e^{H_{l,m}} \right)}\right)\right|_{l=L} \right)}")
    assert p.latex() == (r"\log{\left(\left.\operatorname{mean}_{m} \operatorname{mean}\left("
                         r"H_{l,m}\right)\right|_{l=L} \right)}")
    # each pooling has its own sign: unweighted mean, element-weighted mean, sum, max, min
    p = Proxy.parse("layer_mean(l_add(l_add(pool_wmean(t_rownorm(logsoftmax(S))), "
                    "pool_sum(t_rowmin(H))), l_sub(pool_min(t_mean(J)), pool_max(t_std(A)))))")
    assert p.latex() == (
        r"\frac{1}{L}\sum_{l=1}^{L} \left(- \max_{m} \operatorname{std}\left(A_{l,m}\right) + "
        r"\min_{m} \operatorname{mean}\left(J_{l,m}\right) + \sum_{m} \operatorname{mean}_{"
        r"\mathrm{row}}\min\left(H_{l,m}\right) + \operatorname{mean}^{n}_{m} \operatorname{mean}"
        r"_{\mathrm{row}}\left\lVert \operatorname{logsoftmax}_{\mathrm{row}}\left(S_{l,m}"
        r"\right) \right\rVert_2\right)")
    # a sum of per-tensor values inside a pooling is bracketed: the pooling covers all of it
    p = Proxy.parse("layer_mean(pool_sum(v_add(t_mean(W), t_std(G))))")
    assert p.latex() == (r"\frac{1}{L}\sum_{l=1}^{L} \sum_{m} \left(\operatorname{mean}\left("
                         r"W_{l,m}\right) + \operatorname{std}\left(G_{l,m}\right)\right)")
    p = Proxy.parse("pool_mean(t_fro(WE))")
    assert p.latex() == r"\operatorname{mean}_{m} \left\lVert W^{\mathrm{emb}}_{m} \right\rVert_F"


def test_latex_brackets_an_open_operator_inside_a_product():
    # max_l x * max_l y printed as "\max_{l} x \max_{l} y" would read max_l (x max_l y): the
    # open-ended operator (no closing delimiter) is bracketed unless it is the last factor
    p = Proxy.parse("s_mul(layer_max(pool_mean(t_fro(W))), layer_max(pool_mean(t_std(G))))")
    assert p.latex() == (
        r"\left(\max_{l} \operatorname{mean}_{m} \left\lVert W_{l,m} \right\rVert_F\right) "
        r"\max_{l} \operatorname{mean}_{m} \operatorname{std}\left(G_{l,m}\right)")
    p = Proxy.parse("layer_mean(l_mul(pool_mean(t_fro(W)), pool_max(t_std(G))))")
    assert p.latex() == (
        r"\frac{1}{L}\sum_{l=1}^{L} \left(\max_{m} \operatorname{std}\left(G_{l,m}\right)"
        r"\right) \operatorname{mean}_{m} \left\lVert W_{l,m} \right\rVert_F")
    # a delimited one (the value at the first / last layer) needs no brackets
    p = Proxy.parse("s_mul(layer_first(pool_mean(t_fro(W))), layer_last(pool_mean(t_std(G))))")
    assert p.latex() == (
        r"\left.\operatorname{mean}_{m} \left\lVert W_{l,m} \right\rVert_F\right|_{l=1} "
        r"\left.\operatorname{mean}_{m} \operatorname{std}\left(G_{l,m}\right)\right|_{l=L}")


def test_pretty_and_show_text():
    p = Proxy.parse(LPZERO_GPT2_PROXY, "lpzero")
    pretty = p.pretty()
    assert "layer_mean" in pretty and "pool_mean" in pretty and "softmax" in pretty
    assert pretty == sp.pretty(p.sympy(simplify=True), use_unicode=True)
    text = show_text(p, simplify=True, latex=True)
    lines = text.splitlines()
    assert lines[0] == f"formula:  {LPZERO_GPT2_PROXY}"
    assert lines[1] == "language: lpzero"
    assert "sympy (simplified):" in lines and lines[-2] == "latex:" and lines[-1] == p.latex()
    assert "latex:" not in show_text(p)


def test_latex_row():
    p = Proxy.parse("layer_mean(pool_mean(t_fro(W)))")
    assert latex_row("Fro", p, {"tau": 0.5114, "rho": 0.74831, "n": 500}) == (
        r"Fro & $\frac{1}{L}\sum_{l=1}^{L} \operatorname{mean}_{m} \left\lVert W_{l,m} "
        r"\right\rVert_F$ & 0.511 & 0.748 & 500 \\")
    assert latex_row("Fro", p, [None, float("nan")]).endswith(r"& -- & -- \\")


@pytest.mark.parametrize("formula", [
    "layer_mean(pool_mean(t_fro(W)))",
    "layer_sum(l_div(pool_wmean(t_sum(mul(W, G))), pool_max(t_rowmax(softmax(S)))))",
    "layer_first(pool_min(v_sqrtpos(v_mul(t_meanabs(J), t_std(J)))))",
    "s_add(layer_mean(pool_mean(t_rownorm(znorm(H)))), pool_sum(t_l1(mul(WE, GE))))",
    "s_div(pool_wmean(t_rowmin(minmax(AE))), layer_last(pool_sum(t_mean(sub(G, W)))))",
])
def test_parse_and_str_round_trip(formula):
    lang = load_language("default")
    tree = lang.parse(formula)
    assert str(tree) == formula and lang.is_well_typed(tree)
    again = lang.parse(str(tree))
    assert [n.name for n in again] == [n.name for n in tree]
    assert [n.ret for n in again] == [n.ret for n in tree]  # the same group variants
    # whitespace is free
    assert str(lang.parse(formula.replace(",", " ,\n ").replace("(", " ( "))) == formula


def test_json_round_trip(tmp_path):
    p = Proxy.parse(LPZERO_FLEXIBERT_PROXY, "lpzero")
    p.figures = {"tau": 0.511, "rho": 0.748}
    data = p.to_json()
    assert data == {"formula": LPZERO_FLEXIBERT_PROXY, "language": "lpzero",
                    "sympy": "layer_mean(pool_mean(mean(H_{l,m}**2)))", "latex": p.latex(),
                    "figures": {"tau": 0.511, "rho": 0.748}}
    back = Proxy.from_json(json.loads(json.dumps(data)))
    assert back == p and back.to_json() == data and back.language is load_language("lpzero")
    path = tmp_path / "found.json"
    path.write_text(json.dumps(data))
    assert Proxy.from_json(path).to_json() == data
    plain = Proxy.parse("s_add(layer_mean(pool_mean(t_mean(H))), pool_sum(t_fro(WE)))")
    assert "figures" not in plain.to_json() and Proxy.from_json(plain.to_json()) == plain
    with pytest.raises(FormulaError, match="no 'formula' key"):
        Proxy.from_json({"language": "default"})


def test_json_of_a_user_language_stores_its_path(tmp_path):
    src = load_language("default").path.read_text().replace('name = "default"',
                                                            'name = "mine"')
    path = tmp_path / "mine.toml"
    path.write_text(src)
    p = Proxy.parse("layer_mean(pool_mean(t_mean(H)))", path)
    assert p.language.name == "mine" and p.to_json()["language"] == str(path.resolve())
    assert Proxy.from_json(p.to_json()).language is p.language


def test_canonical_sorts_commutative_arguments_only():
    a = Proxy.parse("layer_mean(l_add(pool_mean(t_mean(mul(W, G))), pool_mean(t_std(H))))")
    b = Proxy.parse("layer_mean(l_add(pool_mean(t_std(H)), pool_mean(t_mean(mul(G, W)))))")
    assert str(a) != str(b) and a.canonical() == b.canonical()
    assert a.canonical() == "layer_mean(l_add(pool_mean(t_mean(mul(G, W))), pool_mean(t_std(H))))"
    c = Proxy.parse("layer_mean(l_sub(pool_mean(t_std(H)), pool_mean(t_mean(mul(G, W)))))")
    d = Proxy.parse("layer_mean(l_sub(pool_mean(t_mean(mul(G, W))), pool_mean(t_std(H))))")
    assert c.canonical() != d.canonical()
    # per-tensor products are commutative too, per-tensor differences are not
    e = Proxy.parse("layer_mean(pool_mean(v_mul(t_std(W), t_fro(G))))")
    f = Proxy.parse("layer_mean(pool_mean(v_mul(t_fro(G), t_std(W))))")
    assert e.canonical() == f.canonical()
    g = Proxy.parse("layer_mean(pool_mean(v_sub(t_std(W), t_fro(G))))")
    h = Proxy.parse("layer_mean(pool_mean(v_sub(t_fro(G), t_std(W))))")
    assert g.canonical() != h.canonical()


def _error(formula, language="default") -> str:
    with pytest.raises(FormulaError) as info:
        Proxy.parse(formula, language)
    message = str(info.value)
    assert formula in message  # the message quotes the formula
    return message


def _caret_under(message: str, formula: str, token: str, nth: int = 0) -> None:
    lines = message.splitlines()
    row = next(i for i, line in enumerate(lines) if line.strip() == formula.strip())
    start = lines[row].index(formula) + _find(formula, token, nth)
    caret = lines[row + 1]
    assert caret[start:start + len(token)] == "^" * len(token), message
    assert caret[:start].strip() == ""
    assert caret[start + len(token):].strip() == ""


def _find(text, token, nth):
    pos = -1
    for _ in range(nth + 1):
        pos = text.index(token, pos + 1)
    return pos


def test_typos_raise_formula_errors_pointing_at_the_token():
    f = "layer_mean(pool_mean(t_mena(H)))"
    m = _error(f)
    assert "unknown name 't_mena'" in m and "did you mean 't_mean'" in m
    _caret_under(m, f, "t_mena")
    f = "layer_mean(l_add(pool_mean(t_mean(H))))"
    m = _error(f)
    assert "l_add takes 2 arguments, got 1" in m
    _caret_under(m, f, ")", 2)
    f = "layer_mean(pool_mean(t_mean(H)), pool_mean(t_mean(W)))"
    m = _error(f)
    assert "layer_mean takes 1 argument(s), got more" in m
    _caret_under(m, f, ",")
    f = "layer_mean(pool_mean(t_mean(H))"
    assert "expected ')' to close layer_mean" in _error(f)
    f = "layer_mean(pool_mean(t_mean(H(W))))"
    m = _error(f)
    assert "input H takes no arguments" in m
    _caret_under(m, f, "(", 3)
    m = _error("layer_mean(pool_mean(t_mean(H$)))")
    assert "unexpected character '$'" in m
    # LPZero's one-value forms are the template language's only
    f = "layer_mean(pool_mean(v_logsoftmax(t_fro(A))))"
    m = _error(f)
    assert "'v_logsoftmax' is not an operation of language 'default'" in m
    _caret_under(m, f, "v_logsoftmax")
    m = _error("layer_mean(pool_mean(t_mean(square(H))))", "lpzero")
    assert "does not follow the template of language 'lpzero'" in m
    with pytest.raises(FormulaError, match="empty formula"):
        Proxy.parse("  ")


def test_removed_operations_are_unknown_names():
    # t_max / t_min / ranknorm saw a sample of elements; the row forms replace them
    f = "layer_mean(pool_mean(t_max(A)))"
    m = _error(f)
    assert "unknown name 't_max'" in m and "'t_rowmax'" in m
    _caret_under(m, f, "t_max")
    assert "unknown name 'ranknorm'" in _error("layer_mean(pool_mean(t_mean(ranknorm(A))))")
    # LPZero's l_ one-value forms after a reduction are v_ forms now
    assert "unknown name 'l_logsoftmax'" in _error(
        "layer_mean(l_add(pool_mean(t_mean(H)), l_logsoftmax(pool_mean(t_fro(A)))))", "lpzero")


def test_type_errors_name_what_was_given_and_what_is_needed():
    # a reduction gives one value per tensor: a layer aggregation needs them pooled first
    f = "layer_mean(t_fro(W))"
    m = _error(f)
    assert ("type error: layer_mean takes (a per-layer scalar), got per-tensor values of "
            "group W; pool the layer's tensors first (pool_mean, pool_wmean, pool_sum, "
            "pool_max, pool_min)") in m
    _caret_under(m, f, "layer_mean")
    f = "layer_mean(log(H))"
    assert "layer_mean takes (a per-layer scalar), got a tensor of group H" in _error(f)
    # the model level pools straight to one value per architecture: no layers to aggregate
    f = "layer_mean(pool_mean(t_fro(WE)))"
    assert "layer_mean takes (a per-layer scalar), got a per-architecture scalar" in _error(f)
    f = "layer_mean(l_add(pool_mean(t_mean(A)), pool_mean(t_fro(WE))))"
    m = _error(f)
    assert "got a per-layer scalar and a per-architecture scalar" in m
    _caret_under(m, f, "l_add")
    m = _error("layer_mean(pool_mean(W))")
    assert "pool_mean takes (per-tensor values of group" in m and "got a tensor of group W" in m
    m = _error("pool_mean(t_mean(H))")
    assert ("type mismatch: the formula gives a per-layer scalar, but a proxy must give one "
            "number per architecture") in m
    assert "the formula gives per-tensor values of group H" in _error("t_mean(H)")


@pytest.mark.parametrize("formula, op, first, second", [
    ("layer_mean(pool_mean(t_mean(mul(A, H))))", "mul", "A", "H"),
    ("layer_mean(pool_mean(t_mean(add(S, J))))", "add", "S", "J"),
    ("layer_mean(pool_mean(t_mean(sub(W, J))))", "sub", "W", "J"),
    ("pool_mean(t_mean(mul(WE, AE)))", "mul", "WE", "AE"),
    ("pool_mean(t_mean(mul(GE, G)))", "mul", "WE", "W"),  # GE is of group WE, G of group W
])
def test_a_binary_operation_on_unaligned_inputs_is_a_type_error(formula, op, first, second):
    m = _error(formula)
    assert (f"type error: {op} pairs elements of two tensors, but it got a tensor of group "
            f"{first} and a tensor of group {second}: different inputs are not aligned") in m
    assert f"e.g. l_{op}(pool_mean(t_mean(.)), pool_mean(t_mean(.)))" in m
    _caret_under(m, formula, op)  # the caret is under the operation, and only there


def test_per_tensor_values_of_unaligned_inputs_are_not_paired():
    f = "layer_mean(pool_mean(v_add(t_mean(A), t_mean(H))))"
    m = _error(f)
    assert ("type error: v_add pairs the values of two inputs tensor by tensor, but it got "
            "per-tensor values of group A and per-tensor values of group H") in m
    # the hint names an operation that exists: pool each input, then add per layer
    assert "e.g. l_add(pool_mean(.), pool_mean(.))" in m
    Proxy.parse("layer_mean(l_add(pool_mean(t_mean(A)), pool_mean(t_mean(H))))")
    _caret_under(m, f, "v_add")


def test_aligned_inputs_pair():
    lang = load_language("default")
    # W and G share their tensors and kept rows, and so do WE and GE
    for formula in ("layer_mean(pool_mean(t_mean(mul(W, G))))",
                    "layer_mean(pool_mean(v_div(t_fro(G), t_fro(W))))",
                    "layer_mean(pool_mean(t_mean(sub(W, W))))",
                    "pool_sum(t_l1(mul(WE, GE)))", "pool_sum(t_sum(add(AE, AE)))"):
        tree = lang.parse(formula)
        assert lang.is_well_typed(tree), formula
    tree = lang.parse("layer_mean(pool_mean(t_mean(mul(W, G))))")
    assert tree[3].name == "mul" and [t.__name__ for t in tree[3].args] == ["Tensor_W"] * 2
    assert tree[1].ret.__name__ == "ScalarL" and tree[2].ret.__name__ == "Each_W"
    tree = lang.parse("pool_sum(t_l1(mul(WE, GE)))")
    assert tree[0].ret.__name__ == "Scalar" and tree[2].ret.__name__ == "Tensor_WE"


def test_an_input_left_out_of_a_language(tmp_path):
    text = load_language("default").path.read_text()
    line = next(x for x in text.splitlines() if x.startswith("inputs = "))
    path = tmp_path / "two.toml"
    path.write_text(text.replace(line, "inputs = { A = 1.0, H = 1.0 }"))
    f = "layer_mean(pool_mean(t_mean(W)))"
    with pytest.raises(FormulaError, match="input 'W' is not in language 'default'") as info:
        Proxy.parse(f, path)
    _caret_under(str(info.value), f, "W")
    assert load_language(path).groups == ("A", "H")
