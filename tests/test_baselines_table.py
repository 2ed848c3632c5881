"""The comparison table and the reproduction on a handful of real records."""
from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from lpzero_gp.baselines import table as table_mod
from lpzero_gp.baselines.reproduce import (PUBLISHED_COLUMNS, deduplicated_activation_distance,
                                           read_published, reproduce_published)
from lpzero_gp.baselines.table import (ScoreColumn, build_table, collect_columns,
                                       hand_designed_scores)
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.cli import main
from lpzero_gp.language import LPZERO_FLEXIBERT_PROXY, Proxy
from lpzero_gp.spaces import get_space

FAST = ["--batch-size", "2", "--seq-len", "32", "--max-elements", "512", "--n-boot", "50",
        "--quiet"]


@pytest.fixture(scope="module")
def flexibert(data_dir):
    space = get_space("flexibert")
    return space, space.load_benchmark(data_dir=data_dir)


def _small_settings(**kw):
    return CaptureSettings(batch_size=2, seq_len=32, max_elements=512, **kw)


def test_table_command_writes_its_files(tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["baselines", "--space", "flexibert", "--limit", "5", "--proxies", "n_params",
                 "snip", "head_confidence", "--out", str(out), "--cache-dir",
                 str(tmp_path / "cache"), *FAST])
    assert code == 0
    for name in ("table.md", "table.csv", "table.tex", "details.json", "bars_spearman.png",
                 "bars_kendall.png", "scatter.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    printed = capsys.readouterr().out
    assert "| #Layers | descriptor |" in printed and "LPZero (published formula)" in printed
    rows = list(csv.reader(io.StringIO((out / "table.csv").read_text())))
    names = [r[0] for r in rows[1:]]
    assert {"#Layers", "SNIP", "Head confidence", "SNIP (proxy language)",
            "LPZero (published formula)"} <= set(names)
    assert all(r[6] == "5" for r in rows[1:]), "every score is defined on the 5 records"
    assert "\\begin{tabular}" in (out / "table.tex").read_text()
    details = json.loads((out / "details.json").read_text())
    assert len(details["records"]) == 5 and details["best_descriptor"]
    # a rerun reads the hand-designed values from the JSON cache
    assert list((tmp_path / "cache" / "baselines").glob("flexibert-*.json"))


def test_gpt2_table_command(tmp_path, capsys):
    ids = ["config_11_j5", "config_14_j2", "config_15_j7", "config_9_j3"]
    code = main(["baselines", "--space", "gpt2", "--records", *ids, "--proxies", "n_params",
                 "n_params_nonembedding", "synflow", "--out", str(tmp_path / "out"),
                 "--cache-dir", str(tmp_path / "cache"), *FAST])
    assert code == 0
    text = (tmp_path / "out" / "table.md").read_text()
    assert "−valid_ppl" in text or "valid_ppl" in text
    assert "n_layer * d_model^2" in text and "| Synflow | hand-designed |" in text


def test_rerun_uses_the_score_cache(flexibert, tmp_path, monkeypatch):
    space, bench = flexibert
    records = list(bench.records[:3])
    settings = _small_settings(variant="trained", objective="mlm")
    first = hand_designed_scores(space, records, settings, ["snip", "n_params"],
                                 cache=tmp_path, progress=False)

    def no_compute(*args, **kw):
        raise AssertionError("recomputed a cached record")

    monkeypatch.setattr(table_mod, "compute_hand_designed", no_compute)
    again = hand_designed_scores(space, records, settings, ["snip", "n_params"],
                                 cache=tmp_path, progress=False)
    for name in first:
        np.testing.assert_array_equal(first[name][0], again[name][0])


def test_statistics_and_found_proxies(flexibert, tmp_path):
    space, bench = flexibert
    sub = bench.subset(limit=12)
    found = tmp_path / "experiments" / "flexibert"
    found.mkdir(parents=True)
    proxy = Proxy.parse("layer_sum(pool_mean(t_mean(square(H))))", "default")
    (found / "found.json").write_text(json.dumps(proxy.to_json()))
    template = Proxy.parse("layer_mean(l_add(pool_mean(t_mean(square(W))), "
                           "pool_mean(t_mean(abs(G)))))", "lpzero")
    (found / "found_lpzero.json").write_text(json.dumps(template.to_json()))
    settings = _small_settings(variant="reference", objective="mlm")
    columns = collect_columns(space, sub, settings, hand_designed=[], in_language=[],
                              cache=tmp_path / "cap", found_root=tmp_path, progress=False)
    kinds = {c.kind for c in columns}
    assert kinds == {"descriptor", "published", "found"}
    quality = np.array([r.quality for r in sub.records])
    # a score undefined on one record is left out of that column's statistics, and said
    broken = columns[0].scores.copy()
    broken[0] = np.nan
    columns.append(ScoreColumn("test:broken", "layers with a hole", "hand-designed", broken,
                               {sub.records[0].id: "made undefined by the test"}))
    result = build_table(space, sub, columns, settings, n_boot=100)
    by_name = {s["name"]: s for s in result.stats}
    layers = by_name["#Layers"]
    assert layers["within_depth_spearman"] is None  # constant inside every depth group
    assert layers["tau_low"] <= layers["kendall_tau"] <= layers["tau_high"]
    assert layers["rho_low"] <= layers["spearman_rho"] <= layers["rho_high"]
    assert by_name["layers with a hole"]["n"] == 11
    row = next(r for r in result.rows() if r["name"] == "layers with a hole")
    assert "1 undefined (made undefined by the test)" in row["note"]
    assert by_name["Found (default language)"]["kind"] == "found"
    assert by_name["Found (lpzero language)"]["kind"] == "found"
    best = max((s for s in result.stats if s["kind"] == "descriptor"),
               key=lambda s: s["spearman_rho"])
    assert result.best_descriptor == best["name"]
    assert by_name["LPZero (published formula)"]["paired"]["reference"] == best["name"]
    assert np.array_equal(result.quality, quality)


def test_reproduction_on_a_few_records(flexibert, data_dir, tmp_path):
    space, bench = flexibert
    published = read_published(data_dir=data_dir)
    sub = bench.subset(limit=6)
    settings = _small_settings(variant="reference", objective="sum")
    result = reproduce_published(space, sub, settings, cache=tmp_path, score_cache=tmp_path,
                                 progress=False, n_boot=50)
    columns = {c["column"]: c for c in result.columns}
    assert set(PUBLISHED_COLUMNS) <= set(columns)
    params = columns["Number of Parameters"]
    assert params["exact"] and params["rho_ours_published"] == pytest.approx(1.0)
    for c in result.columns:
        assert c["n"] == 6
    assert result.lpzero["formula"] == LPZERO_FLEXIBERT_PROXY and result.lpzero["n"] == 6
    assert "ρ(ours, published)" in result.to_markdown()
    # LPZero's stored column, with our per-record scores kept for a rerun in another language
    column = result.lpzero_column
    assert column["n"] == 6 and set(column["scores"]) == {r.id for r in sub.records}
    assert set(column["per_depth"]) == {r.config.n_layers for r in sub.records}
    assert "LPZero's stored FlexiBERT proxy, across and within depths" in result.to_markdown()
    # the published activation distance is the record's own value times a growing hook count
    record = sub.records[0]
    row = published[record.id]
    own = deduplicated_activation_distance(row, record)
    copies = row["Activation Distance"] / own
    assert copies == pytest.approx(round(copies)) and round(copies) > 1
