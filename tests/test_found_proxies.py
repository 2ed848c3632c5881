"""The committed found proxies load, print, and evaluate on real records of both spaces."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lpzero_gp.cli import main
from lpzero_gp.language import Proxy
from lpzero_gp.search.found import read_found

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
SMALL = ["--batch-size", "2", "--seq-len", "32", "--max-elements", "128"]
# the smallest records of each space keep this test fast
RECORDS = {"flexibert": ["3", "165", "0", "1", "2"],
           "gpt2": ["config_9_j3", "config_15_j5", "config_11_j5", "config_10_j6"]}


@pytest.mark.parametrize("space", ["flexibert", "gpt2"])
def test_found_json_evaluates_on_real_records(space, tmp_path, capsys):
    path = EXPERIMENTS / space / "found.json"
    found = json.loads(path.read_text())
    proxy = Proxy.from_json(path)
    assert str(proxy) == found["formula"]
    assert {"kendall_tau", "spearman_rho", "validation_spearman_rho"} <= set(found["figures"])
    stored = read_found(path)
    assert str(stored.proxy) == found["formula"]
    if "provenance" not in found:  # written before the three-way split
        assert stored.splits is None and stored.provenance is None
        assert stored.headline_split == "all"
    code = main(["evaluate", "--space", space, "--proxy", str(path), "--records",
                 *RECORDS[space], "--cache-dir", str(tmp_path), "--json", *SMALL])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["n_records"] == len(RECORDS[space])
    assert out["formula"] == found["formula"]
    assert out["kendall_tau"] is not None and -1 <= out["spearman_rho"] <= 1
    if stored.splits is None:
        assert "splits" not in out
    else:  # --records chose other records than the splits
        assert out["splits"] is None and "--records" in out["splits_note"]


@pytest.mark.parametrize("space", ["flexibert", "gpt2"])
def test_found_json_shows_as_latex(space, capsys):
    path = EXPERIMENTS / space / "found.json"
    assert main(["show", "--proxy", str(path), "--simplify", "--latex"]) == 0
    out = capsys.readouterr().out
    assert json.loads(path.read_text())["formula"] in out and "latex" in out
