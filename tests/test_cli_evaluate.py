"""`lpzero-gp evaluate` and `lpzero-gp show` on real records."""
from __future__ import annotations

import json

import numpy as np
from scipy import stats

from lpzero_gp.benchmarks import nasbench_bert
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.cli import main
from lpzero_gp.collect import collect_inputs
from lpzero_gp.language import LPZERO_FLEXIBERT_PROXY, Proxy
from lpzero_gp.spaces import get_space

SMALL = ["--batch-size", "2", "--seq-len", "32", "--max-elements", "128"]
N_RECORDS = 8


def _run_json(capsys, *args, code=0):
    assert main(["evaluate", *args, "--json"]) == code
    return json.loads(capsys.readouterr().out)


def test_evaluate_json_matches_scipy(tmp_path, capsys):
    formula = "layer_sum(pool_sum(t_fro(W)))"
    out = _run_json(capsys, "--space", "flexibert", "--proxy", formula, "--limit",
                    str(N_RECORDS), "--cache-dir", str(tmp_path), *SMALL)
    assert {"kendall_tau", "spearman_rho", "n"} <= set(out)
    assert out["n"] == N_RECORDS and out["n_invalid"] == 0 and out["valid"]
    space = get_space("flexibert")
    records = space.load_benchmark().records[:N_RECORDS]
    bank = collect_inputs(space, records, CaptureSettings(batch_size=2, seq_len=32,
                                                          max_elements=128),
                          cache=tmp_path, progress=False)
    scores = Proxy.parse(formula).evaluate(bank).scores
    glue = np.array([r.label for r in records])
    assert out["kendall_tau"] == stats.kendalltau(scores, glue).statistic
    assert out["spearman_rho"] == stats.spearmanr(scores, glue).statistic
    # the Frobenius norm of all weights grows with depth and width: a sane, positive figure
    assert out["spearman_rho"] > 0


def test_evaluate_text_output_and_published_lpzero_proxy(tmp_path, capsys):
    code = main(["evaluate", "--proxy", LPZERO_FLEXIBERT_PROXY, "--language", "lpzero",
                 "--limit", "6", "--variant", "reference", "--cache-dir", str(tmp_path),
                 *SMALL])
    out = capsys.readouterr().out
    assert code == 0
    assert "records  6 of" in out and "higher is better" in out
    assert "invalid  0" in out and "Kendall tau" in out and "Spearman rho" in out


def test_evaluate_any_file_in_published_format(tmp_path, capsys, data_dir):
    raw = json.loads((data_dir / nasbench_bert.DEFAULT_FILE).read_text())
    subset = tmp_path / "mine.json"
    subset.write_text(json.dumps(raw[10:15]))
    out = _run_json(capsys, "--benchmark", str(subset), "--proxy", "layer_sum(pool_sum(t_fro(W)))",
                    "--cache-dir", str(tmp_path / "cache"), *SMALL)
    assert out["n_records"] == 5 and out["benchmark"] == str(subset)


def test_invalid_records_are_counted_not_scored(tmp_path, capsys):
    # log of a signed tensor is NaN: every record is invalid, and no figure is made up
    out = _run_json(capsys, "--proxy", "layer_mean(pool_mean(t_mean(log(J))))", "--limit", "4",
                    "--cache-dir", str(tmp_path), *SMALL, code=1)
    assert out["valid"] is False and out["n_invalid"] == 4
    assert out["kendall_tau"] is None and "non-finite" in out["reason"]
    assert set(out["scores"].values()) == {None} and len(out["scores"]) == 4


def test_published_lpzero_names_the_space_proxy(tmp_path, capsys):
    out = _run_json(capsys, "--space", "flexibert", "--proxy", "published:lpzero",
                    "--variant", "reference", "--limit", "5", "--cache-dir", str(tmp_path),
                    *SMALL)
    assert out["formula"] == LPZERO_FLEXIBERT_PROXY and out["language"] == "lpzero"
    assert {"kendall_tau", "spearman_rho", "n", "scores"} <= set(out)
    assert out["n"] == 5 and all(isinstance(v, float) for v in out["scores"].values())
    assert main(["evaluate", "--proxy", "published:nope", "--limit", "3"]) == 2
    assert "unknown published proxy 'nope'" in capsys.readouterr().err


def test_typo_points_at_the_token(tmp_path, capsys):
    code = main(["evaluate", "--proxy", "layer_mean(pool_mean(t_mean(squre(H))))", "--limit", "3",
                 "--cache-dir", str(tmp_path), *SMALL])
    err = capsys.readouterr().err
    assert code == 3  # a formula error (lpzero_gp.errors)
    assert "squre" in err and "did you mean 'square'" in err
    # one line, pointing at the token
    assert err.count("\n") == 1 and "at character 29: layer_mean(pool_mean(t_mean(>>squre<<(H))))" in err


def test_show_prints_formula_sympy_and_latex(capsys):
    assert main(["show", "--proxy", LPZERO_FLEXIBERT_PROXY, "--language", "lpzero",
                 "--simplify", "--latex"]) == 0
    out = capsys.readouterr().out
    assert LPZERO_FLEXIBERT_PROXY in out
    assert (r"\frac{1}{L}\sum_{l=1}^{L} \operatorname{mean}_{m} "
            r"\operatorname{mean}\left(H_{l,m}^{2}\right)") in out


def test_show_reads_json_file(tmp_path, capsys):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(Proxy.parse("layer_sum(pool_sum(t_fro(W)))").to_json()))
    assert main(["show", "--proxy", str(path), "--latex"]) == 0
    assert r"\sum_{l=1}^{L} \sum_{m} \left\lVert W_{l,m} \right\rVert_F" in \
        capsys.readouterr().out
    assert main(["show", "--proxy", str(tmp_path / "absent.json")]) == 5
    assert "does not exist" in capsys.readouterr().err
