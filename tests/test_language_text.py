"""Text, SymPy, LaTeX and JSON forms of proxies; parse errors that point at the typo."""
from __future__ import annotations

import json

import pytest
import sympy as sp

from lpzero_gp.errors import FormulaError
from lpzero_gp.language import (LPZERO_FLEXIBERT_PROXY, LPZERO_GPT2_PROXY, Proxy, latex_row,
                                load_language, show_text)


def test_published_lpzero_proxies_in_the_lpzero_language():
    flexi = Proxy.parse(LPZERO_FLEXIBERT_PROXY, "lpzero")
    assert str(flexi) == "layer_mean(l_add(t_mean(square(neg(H))), l_logsoftmax(t_fro(A))))"
    assert str(flexi.sympy()) == "layer_mean(logsoftmax(fro(A_l)) + mean((-H_l)**2))"
    # the log-softmax of one value is 0: what is left is the mean squared query projection
    assert str(flexi.sympy(simplify=True)) == "layer_mean(mean(H_l**2))"
    assert flexi.latex() == r"\frac{1}{L}\sum_{l=1}^{L} \operatorname{mean}\left(H_{l}^{2}\right)"
    gpt2 = Proxy.parse(LPZERO_GPT2_PROXY, "lpzero")
    assert str(gpt2) == "layer_mean(l_add(t_meanabs(square(W)), t_mean(square(softmax(G)))))"
    assert str(gpt2.sympy()) == "layer_mean(mean(softmax(G_l)**2) + meanabs(W_l**2))"
    assert str(gpt2.sympy(simplify=True)) == "layer_mean(mean(W_l**2) + mean(softmax(G_l)**2))"
    assert gpt2.latex() == (
        r"\frac{1}{L}\sum_{l=1}^{L} \left(\operatorname{mean}\left(W_{l}^{2}\right) + "
        r"\operatorname{mean}\left(\left(\operatorname{softmax}\left(G_{l}\right)\right)^{2}"
        r"\right)\right)")


@pytest.mark.parametrize("formula, raw, simplified", [
    ("layer_mean(t_mean(log(exp(W))))", "layer_mean(mean(log(exp(W_l))))",
     "layer_mean(mean(W_l))"),
    ("layer_mean(t_fro(neg(neg(W))))", "layer_mean(fro(-(-W_l)))", "layer_mean(fro(W_l))"),
    ("layer_mean(t_std(neg(H)))", "layer_mean(std(-H_l))", "layer_mean(std(H_l))"),
    ("layer_max(l_add(t_mean(relu(relu(W))), t_mean(inverse(inverse(H)))))",
     "layer_max(mean(1/(1/H_l)) + mean(Max(0, Max(0, W_l))))",
     "layer_max(mean(H_l) + mean(Max(0, W_l)))"),
    ("s_inverse(layer_sum(l_div(t_sum(W), t_l1(mul(W, G)))))",
     "1/layer_sum(sum(W_l)/l1(G_l*W_l))", "1/layer_sum(sum(W_l)/l1(G_l*W_l))"),
    ("layer_min(t_l1(square(J)))", "layer_min(l1(J_l**2))", "layer_min(sum(J_l**2))"),
])
def test_sympy_forms(formula, raw, simplified):
    proxy = Proxy.parse(formula)
    assert str(proxy) == formula
    assert str(proxy.sympy()) == raw
    assert str(proxy.sympy(simplify=True)) == simplified


def test_latex_forms():
    p = Proxy.parse("layer_sum(l_div(t_fro(W), t_std(softmax(G))))")
    assert p.latex(simplify=False) == (
        r"\sum_{l=1}^{L} \frac{\left\lVert W_{l} \right\rVert_F}"
        r"{\operatorname{std}\left(\operatorname{softmax}\left(G_{l}\right)\right)}")
    p = Proxy.parse("layer_max(t_meanabs(znorm(A)))")
    assert p.latex() == \
        r"\max_{l} \operatorname{mean}\left|\operatorname{z}\left(A_{l}\right)\right|"
    p = Proxy.parse("s_log(layer_last(t_mean(log(exp(H)))))")
    assert p.latex(simplify=False) == (
        r"\log{\left(\left.\operatorname{mean}\left(\log{\left(e^{H_{l}} \right)}\right)"
        r"\right|_{l=L} \right)}")
    assert p.latex() == \
        r"\log{\left(\left.\operatorname{mean}\left(H_{l}\right)\right|_{l=L} \right)}"


def test_pretty_and_show_text():
    p = Proxy.parse(LPZERO_GPT2_PROXY, "lpzero")
    pretty = p.pretty()
    assert "layer_mean" in pretty and "softmax" in pretty and "W" in pretty
    assert pretty == sp.pretty(p.sympy(simplify=True), use_unicode=True)
    text = show_text(p, simplify=True, latex=True)
    lines = text.splitlines()
    assert lines[0] == f"formula:  {LPZERO_GPT2_PROXY}"
    assert lines[1] == "language: lpzero"
    assert "sympy (simplified):" in lines and lines[-2] == "latex:" and lines[-1] == p.latex()
    assert "latex:" not in show_text(p)


def test_latex_row():
    p = Proxy.parse("layer_mean(t_fro(W))")
    assert latex_row("Fro", p, {"tau": 0.5114, "rho": 0.74831, "n": 500}) == (
        r"Fro & $\frac{1}{L}\sum_{l=1}^{L} \left\lVert W_{l} \right\rVert_F$ & 0.511 & 0.748"
        r" & 500 \\")
    assert latex_row("Fro", p, [None, float("nan")]).endswith(r"& -- & -- \\")


def test_json_round_trip(tmp_path):
    p = Proxy.parse(LPZERO_FLEXIBERT_PROXY, "lpzero")
    p.figures = {"tau": 0.511, "rho": 0.748}
    data = p.to_json()
    assert data == {"formula": LPZERO_FLEXIBERT_PROXY, "language": "lpzero",
                    "sympy": "layer_mean(mean(H_l**2))", "latex": p.latex(),
                    "figures": {"tau": 0.511, "rho": 0.748}}
    back = Proxy.from_json(json.loads(json.dumps(data)))
    assert back == p and back.to_json() == data and back.language is load_language("lpzero")
    path = tmp_path / "found.json"
    path.write_text(json.dumps(data))
    assert Proxy.from_json(path).to_json() == data
    plain = Proxy.parse("layer_mean(t_mean(H))")
    assert "figures" not in plain.to_json() and Proxy.from_json(plain.to_json()) == plain
    with pytest.raises(FormulaError, match="no 'formula' key"):
        Proxy.from_json({"language": "default"})


def test_json_of_a_user_language_stores_its_path(tmp_path):
    src = load_language("default").path.read_text().replace('name = "default"',
                                                            'name = "mine"')
    path = tmp_path / "mine.toml"
    path.write_text(src)
    p = Proxy.parse("layer_mean(t_mean(H))", path)
    assert p.language.name == "mine" and p.to_json()["language"] == str(path.resolve())
    assert Proxy.from_json(p.to_json()).language is p.language


def test_canonical_sorts_commutative_arguments_only():
    a = Proxy.parse("layer_mean(l_add(t_mean(mul(W, G)), t_std(H)))")
    b = Proxy.parse("layer_mean(l_add(t_std(H), t_mean(mul(G, W))))")
    assert str(a) != str(b) and a.canonical() == b.canonical()
    assert a.canonical() == "layer_mean(l_add(t_mean(mul(G, W)), t_std(H)))"
    c = Proxy.parse("layer_mean(l_sub(t_std(H), t_mean(mul(G, W))))")
    d = Proxy.parse("layer_mean(l_sub(t_mean(mul(G, W)), t_std(H)))")
    assert c.canonical() != d.canonical()


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


def _find(text, token, nth):
    pos = -1
    for _ in range(nth + 1):
        pos = text.index(token, pos + 1)
    return pos


def test_typos_raise_formula_errors_pointing_at_the_token():
    f = "layer_mean(t_mena(H))"
    m = _error(f)
    assert "unknown name 't_mena'" in m and "did you mean 't_mean'" in m
    _caret_under(m, f, "t_mena")
    f = "layer_mean(l_add(t_mean(H)))"
    m = _error(f)
    assert "l_add takes 2 arguments, got 1" in m
    _caret_under(m, f, ")", 1)
    f = "layer_mean(log(H))"
    m = _error(f)
    assert "type mismatch: log gives TensorL but argument 1 of layer_mean needs a ScalarL" in m
    _caret_under(m, f, "log")
    f = "layer_mean(t_mean(H), t_mean(W))"
    m = _error(f)
    assert "layer_mean takes 1 argument(s), got more" in m
    _caret_under(m, f, ",")
    f = "layer_mean(t_mean(H)"
    assert "expected ')' to close layer_mean" in _error(f)
    f = "layer_mean(t_mean(H(W)))"
    m = _error(f)
    assert "input H takes no arguments" in m
    _caret_under(m, f, "(", 2)
    m = _error("layer_mean(t_mean(H$))")
    assert "unexpected character '$'" in m
    m = _error("layer_mean(l_logsoftmax(t_mean(H)))")
    assert "'l_logsoftmax' is not an operation of language 'default'" in m
    assert "type mismatch: t_mean gives ScalarL but the root needs a Scalar" in _error("t_mean(H)")
    m = _error("layer_mean(t_mean(square(H)))", "lpzero")
    assert "does not follow the template of language 'lpzero'" in m
    with pytest.raises(FormulaError, match="empty formula"):
        Proxy.parse("  ")


def test_an_input_left_out_of_a_language(tmp_path):
    src = load_language("default").path.read_text().replace(
        "inputs = { A = 1.0, H = 1.0, S = 1.0, W = 1.0, G = 1.0, J = 1.0 }",
        "inputs = { A = 1.0, H = 1.0 }")
    path = tmp_path / "two.toml"
    path.write_text(src)
    f = "layer_mean(t_mean(W))"
    with pytest.raises(FormulaError, match="input 'W' is not in language 'default'") as info:
        Proxy.parse(f, path)
    _caret_under(str(info.value), f, "W")
