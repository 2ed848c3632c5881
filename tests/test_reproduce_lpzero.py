"""LPZero's stored scores: the GPT-2 yaml loader and mapping, LPZero's definitions on our
models, and the FlexiBERT ``lpzero`` column's across/within-depth agreement."""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from scipy import stats

from lpzero_gp import data
from lpzero_gp.baselines.reproduce import (LPZERO_CSV_FILE, lpzero_column_agreement,
                                           lpzero_column_markdown, read_lpzero_column)
from lpzero_gp.baselines.reproduce_gpt2 import (OUR_NAMES, REFERENCE, STORED, STORED_NAMES,
                                                jacobian_cosine_statistic, lpzero_definitions,
                                                lpzero_grasp, read_lts_scores,
                                                residual_dropout, seeded, stored_scores)
from lpzero_gp.baselines.hand_designed import HAND_DESIGNED, compute_hand_designed
from lpzero_gp.baselines.hand_designed.saliency import _grasp_value
from lpzero_gp.benchmarks import lts
from lpzero_gp.errors import DataFileError
from lpzero_gp.spaces import get_space

LTS_ID = lts._ID


@pytest.fixture(scope="module")
def gpt2(data_dir):
    space = get_space("gpt2")
    return space, space.load_benchmark(data_dir=data_dir)


# -- the stored GPT-2 files -----------------------------------------------------------------

def test_every_stored_file_is_registered_with_its_source_and_checksum():
    for name in list(STORED) + [REFERENCE]:
        rel = data.lpzero_lts_scores_relpath(name)
        known = data.KNOWN_FILES[rel]
        assert known.url.startswith("https://raw.githubusercontent.com/pprp/LPZero/9faa34d")
        assert known.url.endswith(f"saved_logs/random_GPT2_wt103/{name}_scores_seed_1111.yaml")
        assert known.sha256 and len(known.sha256) == 64
    assert set(data.LPZERO_LTS_SCORES) == set(STORED) | {REFERENCE}
    csv = data.KNOWN_FILES[LPZERO_CSV_FILE]
    assert "pprp/LPZero/f4e4c94" in csv.url and len(csv.sha256) == 64


def test_loader_reads_ids_and_values(data_dir, gpt2):
    _, bench = gpt2
    path = data_dir / data.lpzero_lts_scores_relpath("snip")
    scores = read_lts_scores(path)
    assert len(scores) == 140
    assert all(LTS_ID.match(rid) for rid in scores)
    assert set(scores) == set(bench.ids)  # the same id format as the LTS records
    assert scores["config_0_j2"] == 17.652584075927734
    assert scores["config_0_j3"] == 2.8740289211273193
    # a file with trailing spaces after the values (jacobian_cosine) reads the same way
    jac = read_lts_scores(data_dir / data.lpzero_lts_scores_relpath("jacobian_cosine"))
    assert jac["config_0_j2"] == pytest.approx(0.5286567268543974)
    everything = stored_scores(data_dir=data_dir)
    assert set(everything) == set(data.LPZERO_LTS_SCORES)
    assert all(len(v) == 140 for v in everything.values())
    assert everything["num_parameters"]["config_0_j2"] == 46119758.0


@pytest.mark.parametrize("text, key", [
    ("config_0_j2: 1.5\nconfig_x_j3: 2.0\n", "config_x_j3"),
    ("config_0_j2: 1.5\nconfig_0_j3: high\n", "config_0_j3"),
    ("config_0_j2: 1.5\nconfig_0_j3: .nan\n", "config_0_j3"),
    ("config_0_j2: [1, 2]\n", "config_0_j2"),
])
def test_malformed_file_names_file_and_key(tmp_path, text, key):
    path = tmp_path / "snip_scores_seed_1111.yaml"
    path.write_text(text)
    with pytest.raises(DataFileError) as err:
        read_lts_scores(path)
    assert str(path) in str(err.value) and key in str(err.value)


def test_not_a_mapping_or_not_yaml_names_the_file(tmp_path):
    path = tmp_path / "grasp_scores_seed_1111.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(DataFileError, match="grasp_scores_seed_1111.yaml.*mapping"):
        read_lts_scores(path)
    path.write_text("config_0_j2: [1,\n")
    with pytest.raises(DataFileError, match="grasp_scores_seed_1111.yaml"):
        read_lts_scores(path)


def test_mapping_of_stored_files_to_our_proxies():
    assert set(STORED_NAMES) == set(data.LPZERO_LTS_SCORES) - {REFERENCE}
    for name, info in STORED.items():
        assert info.ours is None or info.ours in HAND_DESIGNED, name
        assert info.note
    assert STORED["eznas"].ours is None  # no counterpart
    assert STORED["num_parameters"].ours == "n_params"
    assert STORED["jacobian_cosine"].ours == "jacobian_score"
    assert STORED["attention_confidence"].ours == "attention_confidence"
    same_name = {n for n, s in STORED.items() if s.ours == n}
    assert same_name == set(STORED) - {"eznas", "num_parameters", "jacobian_cosine"}
    assert set(OUR_NAMES) == {s.ours for s in STORED.values() if s.ours}


# -- LPZero's definitions on our models -----------------------------------------------------

@pytest.fixture(scope="module")
def small_gpt2(gpt2):
    space, bench = gpt2
    record = bench.by_id("config_11_j5")  # 2 layers, d_model 64
    model = space.build(record, "lts", seed=0)
    batch = space.make_batch(batch_size=2, seq_len=24, seed=0)
    return model, batch


def test_cosine_statistic_matches_the_reference_code():
    from sklearn.metrics import pairwise_distances
    rng = np.random.default_rng(0)
    jacobs = torch.tensor(rng.normal(size=(12, 7)))
    jacob = jacobs.T.numpy()
    normed = jacob / np.linalg.norm(jacob, axis=1)[:, None]
    cosines = (-pairwise_distances(normed, metric="cosine") + 1) - np.identity(7)
    summed = np.sum(np.power(np.absolute(cosines.flatten()), 1.0 / 20)) / 2
    expected = 1 - (1 / (7 ** 2 - 7) * summed)
    assert jacobian_cosine_statistic(jacobs) == pytest.approx(expected, rel=1e-12)


def test_definitions_that_are_ours_agree_and_dropout_is_a_setting(small_gpt2):
    model, batch = small_gpt2
    defs = lpzero_definitions(model, batch, "clm")
    assert set(defs) == set(STORED_NAMES) and all(v.valid for v in defs.values())
    ours = compute_hand_designed(model, batch, "clm", ["snip", "grad_norm", "n_params",
                                                       "synaptic_saliency", "head_importance"])
    assert defs["snip"].value == pytest.approx(ours["snip"].value, rel=1e-9)
    assert defs["grad_norm"].value == pytest.approx(ours["grad_norm"].value, rel=1e-9)
    assert defs["num_parameters"].value == ours["n_params"].value
    # LPZero's synaptic saliency is SNIP over every Conv1D; ours is the MLP part of it
    assert defs["synaptic_saliency"].value == defs["snip"].value
    assert ours["synaptic_saliency"].value < defs["synaptic_saliency"].value
    # d_model = 64: only mlp.c_proj (d_inner >= 128 inputs) counts for LPZero's head importance
    assert 0 < defs["head_importance"].value < defs["snip"].value
    assert defs["attention_confidence"].value == defs["head_confidence"].value
    # GraSP: without dropout LPZero's two passes are our one
    assert lpzero_grasp(model, batch, "clm") == pytest.approx(
        _grasp_value(model, batch, "clm"), rel=1e-6)
    # dropout is a setting: seeded, reproducible, removed on exit
    with seeded(0), residual_dropout(model, 0.1):
        a = lpzero_definitions(model, batch, "clm", ["snip", "synflow"])
    with seeded(0), residual_dropout(model, 0.1):
        b = lpzero_definitions(model, batch, "clm", ["snip", "synflow"])
    assert a["snip"].value == b["snip"].value and a["synflow"].value == b["synflow"].value
    assert a["snip"].value != defs["snip"].value
    assert not any(block.attn._forward_hooks or block.mlp._forward_hooks for block in model.h)
    with residual_dropout(model, 0.0):
        c = lpzero_definitions(model, batch, "clm", ["snip"])
    assert c["snip"].value == defs["snip"].value


def test_synflow_quirk_attends_to_future_positions(small_gpt2):
    from lpzero_gp.baselines.reproduce_gpt2 import _attention_future_mask
    model, _ = small_gpt2
    attn = model.h[0].attn
    quirk = types.MethodType(_attention_future_mask, attn)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 5, model.config.d_model, generator=gen)
    later = x.clone()
    later[:, 3] += 1.0  # change a later position only
    with torch.no_grad():
        # ours is causal: position 0 does not see position 3
        assert torch.equal(attn(x)[:, 0], attn(later)[:, 0])
        # LPZero's synflow pass (masked_bias -1e4 made +1e4 by abs): position 0 attends to
        # the future positions, and the last position (no future) is causal as usual
        assert not torch.allclose(quirk(x)[:, 0], quirk(later)[:, 0])
        assert torch.allclose(quirk(x)[:, 4], attn(x)[:, 4], atol=1e-6)


def test_gpt2_reproduce_command_on_a_few_records(tmp_path, capsys):
    import json

    from lpzero_gp.cli import main
    ids = ["config_11_j5", "config_14_j2", "config_15_j7"]
    out = tmp_path / "out"
    code = main(["baselines", "--space", "gpt2", "--reproduce", "--records", *ids,
                 "--batch-size", "1", "--seq-len", "16", "--lpzero-dropout", "0", "--quiet",
                 "--cache-dir", str(tmp_path / "cache"), "--out", str(out)])
    assert code == 0
    blob = json.loads((out / "reproduction.json").read_text())
    assert blob["n_records"] == 3 and blob["record_ids"] == ids
    rows = {r["stored"]: r for r in blob["rows"]}
    assert set(rows) == set(STORED_NAMES)
    assert rows["num_parameters"]["rho_ours_stored"] == pytest.approx(1.0)
    assert rows["eznas"]["ours"] is None and rows["eznas"]["rho_ours_stored"] is None
    assert set(rows["snip"]["rho_def_stored"]) == {"0"}
    # GraSP without dropout is taken from ours (the same definition there)
    assert blob["scores"]["lpzero_def@0:grasp"] == blob["scores"]["ours:grasp"]
    assert blob["reference"]["n"] == 3
    text = (out / "reproduction.md").read_text()
    assert "| lpzero (reference" in text and "\\|W * G\\|" in text
    assert "Kendall τ-b" in capsys.readouterr().out


# -- FlexiBERT: LPZero's stored column ------------------------------------------------------

def _fake_bench(depths, glue):
    records = [types.SimpleNamespace(id=str(i), quality=float(q),
                                     config=types.SimpleNamespace(n_layers=d))
               for i, (d, q) in enumerate(zip(depths, glue))]
    return types.SimpleNamespace(records=records)


def test_within_depth_agreement_equals_scipy_on_a_hand_made_example():
    depths = [2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6]  # the 2 records of depth 6 are too few
    glue = [70.0, 71.5, 69.0, 72.0, 75.0, 74.0, 76.5, 73.0, 77.0, 78.0, 79.0]
    ours_v = [0.1, 0.3, 0.2, 0.4, 1.0, 0.8, 1.1, 0.9, 1.3, 2.0, 2.1]
    stored_v = [0.15, 0.2, 0.35, 0.3, 0.95, 1.05, 0.85, 1.2, 1.1, 2.2, 1.9]
    bench = _fake_bench(depths, glue)
    ours = {str(i): v for i, v in enumerate(ours_v)}
    stored = {str(i): v for i, v in enumerate(stored_v)}
    ours["99"] = 5.0  # not a record of the benchmark: ignored
    z = lpzero_column_agreement(ours, bench, stored)
    rho = lambda a, b: stats.spearmanr(a, b).statistic  # noqa: E731
    assert z["n"] == 11
    assert z["rho_ours_stored"] == pytest.approx(rho(ours_v, stored_v))
    assert z["rho_ours_layers"] == pytest.approx(rho(ours_v, depths))
    assert z["rho_stored_layers"] == pytest.approx(rho(stored_v, depths))
    assert z["rho_stored_glue"] == pytest.approx(rho(stored_v, glue))
    d = np.array(depths)
    o, s, g = np.array(ours_v), np.array(stored_v), np.array(glue)
    for depth in (2, 4):
        m = d == depth
        per = z["per_depth"][depth]
        assert per["n"] == m.sum()
        assert per["rho_ours_stored"] == pytest.approx(rho(o[m], s[m]))
        assert per["rho_stored_glue"] == pytest.approx(rho(s[m], g[m]))
        assert per["rho_ours_glue"] == pytest.approx(rho(o[m], g[m]))
    assert z["per_depth"][6]["n"] == 2 and z["per_depth"][6]["rho_ours_stored"] is None
    for key, (a, b) in {"rho_ours_stored": (o, s), "rho_stored_glue": (s, g),
                        "rho_ours_glue": (o, g)}.items():
        weighted = (4 * rho(a[d == 2], b[d == 2]) + 5 * rho(a[d == 4], b[d == 4])) / 9
        assert z["within_depth"][key] == pytest.approx(weighted)
    assert z["scores"] == {str(i): v for i, v in enumerate(ours_v)}
    text = lpzero_column_markdown(z)
    assert "| 4 layers | 5 |" in text and "within-depth (size-weighted mean)" in text


def test_lpzero_column_is_read_from_the_published_csv(data_dir):
    column = read_lpzero_column(data_dir=data_dir)
    assert len(column) == 350
    assert column["0"] == pytest.approx(0.07887979678343982)
    assert column["1"] == pytest.approx(0.07740743737667799)
