"""Proxies on the full tensors, one record at a time (``lpzero_gp.exact``, ``evaluate --exact``):
the same scores as a bank of every full capture, and what the sketch changes."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import collect_inputs
from lpzero_gp.errors import UsageError
from lpzero_gp.exact import exact_results
from lpzero_gp.language import Proxy, load_language
from lpzero_gp.spaces import get_space

SMALL = dict(batch_size=2, seq_len=32)
FORMULAS = ("layer_mean(pool_mean(t_rowmax(softmax(S))))",
            "layer_sum(pool_sum(t_sum(abs(mul(W, G)))))",
            "s_add(layer_mean(pool_mean(t_fro(W))), pool_wmean(t_l1(mul(WE, GE))))")


@pytest.fixture(scope="module")
def records(data_dir):
    bench = get_space("flexibert").load_benchmark()
    depth = lambda n: [r for r in bench if r.config.n_layers == n]  # noqa: E731
    return depth(2)[:2] + depth(4)[:2]


def test_exact_scores_are_those_of_a_bank_of_full_captures(records):
    space = get_space("flexibert")
    proxies = [Proxy.parse(f) for f in FORMULAS]
    got = exact_results(proxies, space, records, CaptureSettings(**SMALL), progress=False)
    full = collect_inputs(space, records, CaptureSettings(max_elements=None, **SMALL),
                          cache=False, progress=False)
    sketch = collect_inputs(space, records, CaptureSettings(**SMALL), cache=False,
                            progress=False)
    for proxy, result in zip(proxies, got):
        want = proxy.evaluate(full)
        np.testing.assert_allclose(result.scores, want.scores, rtol=1e-12, err_msg=str(proxy))
        assert (result.valid, result.reason) == (want.valid, want.reason)
    # the sketch estimates them: exact where it keeps every row (S: 64 queries of 32 keys per
    # head at 2 x 32 tokens), not where it samples (W, G, WE, GE)
    same = [np.array_equal(p.evaluate(sketch).scores, r.scores) for p, r in zip(proxies, got)]
    assert same == [True, False, False]


def test_hand_designed_terminals_have_no_exact_form(records):
    proxy = Proxy.parse("s_add(snip, layer_mean(pool_mean(t_std(W))))", load_language("hybrid"))
    with pytest.raises(UsageError, match="reads hand-designed proxies \\(snip\\)"):
        exact_results([proxy], get_space("flexibert"), records, CaptureSettings(**SMALL),
                      progress=False)


def test_evaluate_exact_command(records, capsys):
    from lpzero_gp.cli import main
    ids = [r.id for r in records]
    argv = ["evaluate", "--space", "flexibert", "--proxy", FORMULAS[1], "--records", *ids,
            "--batch-size", "2", "--seq-len", "32", "--no-cache", "--json"]
    assert main([*argv, "--exact"]) == 0
    exact = json.loads(capsys.readouterr().out)
    assert exact["exact"] is True and exact["n_records"] == len(records)
    want = exact_results([Proxy.parse(FORMULAS[1])], get_space("flexibert"), records,
                         CaptureSettings(**SMALL), progress=False)[0]
    assert [exact["scores"][i] for i in ids] == pytest.approx(list(want.scores), rel=1e-12)
    assert main(argv) == 0
    sketched = json.loads(capsys.readouterr().out)
    assert sketched["exact"] is False and sketched["scores"] != exact["scores"]


def test_a_search_with_exact_figures_chooses_and_reports_on_the_full_tensors(tmp_path):
    from lpzero_gp.search import search
    from lpzero_gp.errors import ConfigError
    settings = dict(records=12, batch_size=2, seq_len=32, max_elements=512, progress=False,
                    generations=1, population=8, seed=3)
    sketched = search("flexibert", out=tmp_path / "sketch", **settings)
    exact = search("flexibert", out=tmp_path / "exact", exact=True, **settings)
    # the same search (the fitness reads the sketch): the same hall of fame
    hof = [json.loads((tmp_path / n / "hall_of_fame.json").read_text())
           for n in ("sketch", "exact")]
    assert [e["formula"] for e in hof[0]["entries"]] == [e["formula"] for e in hof[1]["entries"]]
    assert (hof[0]["figures_on"], hof[1]["figures_on"]) == ("sketch", "full tensors")
    # every figure of the exact run is the proxy's on the full tensors of its split's records
    space = get_space("flexibert")
    bench = space.load_benchmark()
    found = json.loads((tmp_path / "exact" / "found.json").read_text())
    assert found["figures_on"] == "full tensors"
    test_ids = found["provenance"]["splits"]["test"]
    records = [bench.by_id(i) for i in test_ids]
    want = exact_results([exact.found], space, records,
                         CaptureSettings(batch_size=2, seq_len=32), progress=False)[0]
    from lpzero_gp.metrics import correlations
    ok = np.isfinite(want.scores)
    corr = correlations(want.scores[ok], np.array([r.quality for r in records])[ok])
    assert exact.figures["test"]["spearman_rho"] == pytest.approx(corr.spearman_rho, abs=1e-12)
    assert sketched.figures["test"]["n"] == exact.figures["test"]["n"]
    with pytest.raises(ConfigError, match="exact"):
        search("flexibert", out=tmp_path / "hybrid", exact=True, language="hybrid", **settings)
