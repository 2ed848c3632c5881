"""One proxy for several spaces: a small real search over FlexiBERT and GPT-2 records, its
aggregate fitness against scipy on each space's search split, its held-out figures against a
direct recomputation, worker independence, and the config's errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from lpzero_gp import cli
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import collect_inputs
from lpzero_gp.errors import ConfigError
from lpzero_gp.language import Proxy
from lpzero_gp.search import load_spec, search
from lpzero_gp.search.evaluate import EvaluatorSpec, MultiEvaluator, MultiEvaluatorSpec
from lpzero_gp.search.multi import held_out_markdown
from lpzero_gp.spaces import get_space

REPO = Path(__file__).resolve().parents[1]
SETTINGS = dict(batch_size=2, seq_len=32, max_elements=512)
# the first 12 FlexiBERT records (as tests/test_search.py, so the session's cache serves
# both); 12 shallow GPT-2 records: 3 of depth 2, 3 of depth 4, 6 of depth 6
GPT2_IDS = ["config_1_j6", "config_2_j2", "config_2_j4", "config_0_j3", "config_3_j0",
            "config_4_j6", "config_1_j7", "config_1_j9", "config_2_j7", "config_3_j6",
            "config_4_j7", "config_4_j8"]
CONFIG = {"search": {"spaces": ["flexibert", "gpt2"], "aggregate": "min"},
          "records": {"flexibert": {"limit": 12}, "gpt2": {"ids": GPT2_IDS}}}


def run(out: Path, **kw):
    args = {**SETTINGS, "generations": 2, "population": 10, "seed": 3, "progress": False,
            "config": CONFIG, **kw}
    return search(out=out, **args)


@pytest.fixture(scope="module")
def multi(tmp_path_factory):
    return run(tmp_path_factory.mktemp("multi") / "run")


def read(out: Path, name: str):
    return json.loads((out / name).read_text())


def split_bank(space_name: str, ids):
    """The records ``ids`` of ``space_name`` and their captured inputs, in that order."""
    space = get_space(space_name)
    records = space.load_benchmark().subset(ids=list(ids)).records
    bank = collect_inputs(space, records, CaptureSettings(**SETTINGS), progress=False)
    assert [str(r) for r in bank.record_ids] == [str(i) for i in ids]
    return space, records, bank


def test_aggregate_fitness_is_the_min_of_scipy_spearman_per_space(multi):
    split = read(multi.out, "split.json")
    assert set(split) == {"flexibert", "gpt2"}
    banks = {name: split_bank(name, split[name]["search"])[2] for name in split}
    hof = read(multi.out, "hall_of_fame.json")
    assert (hof["spaces"], hof["aggregate"], hof["fitness"]) == (["flexibert", "gpt2"], "min",
                                                                "spearman")
    for entry in hof["entries"][:4]:
        proxy = Proxy.parse(entry["formula"], entry["language"])
        direct = {name: stats.spearmanr(proxy.evaluate(bank).scores, bank.quality).statistic
                  for name, bank in banks.items()}
        assert entry["search_fitness_per_space"] == pytest.approx(direct, abs=1e-9)
        assert entry["search_fitness"] == pytest.approx(min(direct.values()), abs=1e-9)
        for name in banks:
            assert entry["per_space"][name]["search"]["fitness"] == pytest.approx(direct[name])
        assert entry["figures"]["search"]["fitness"] == pytest.approx(min(direct.values()))
    # an invalid formula names the space; the mean aggregate is the mean of scipy's values
    specs = {name: EvaluatorSpec(language="default", bank=bank, rps=False)
             for name, bank in banks.items()}
    mean = MultiEvaluator(MultiEvaluatorSpec(specs, "mean"))
    formula = hof["entries"][0]["formula"]
    got = mean(formula)
    direct = [stats.spearmanr(Proxy.parse(formula).evaluate(b).scores, b.quality).statistic
              for b in banks.values()]
    assert got["status"] == "valid" and got["fitness"] == pytest.approx(np.mean(direct))
    constant = mean("layer_mean(pool_sum(t_fro(sub(W, W))))")
    assert constant["status"] == "invalid" and constant["reason"].startswith("flexibert: ")


def test_multi_search_end_to_end_held_out_figures_equal_recomputation(multi):
    out = multi.out
    found = read(out, "found.json")
    assert found["spaces"] == ["flexibert", "gpt2"] and found["aggregate"] == "min"
    assert found["selected_on"] == "validation"
    assert found["provenance"]["config"]["spaces"] == ["flexibert", "gpt2"]
    proxy = Proxy.from_json(out / "found.json")
    assert str(proxy) == multi.formula
    hof = read(out, "hall_of_fame.json")
    val = [e["figures"]["validation"]["fitness"] for e in hof["entries"]]
    assert hof["entries"][hof["chosen"] - 1]["figures"]["validation"]["fitness"] == max(
        v for v in val if v is not None)
    split = read(out, "split.json")
    for name, block in found["per_space"].items():
        ids = block["record_ids"]
        assert ids == {part: split[name][part] for part in ("search", "validation", "test")}
        assert sum(map(len, ids.values())) == len(set().union(*map(set, ids.values()))) == 12
        space, records, bank = split_bank(name, ids["test"])
        scores = proxy.evaluate(bank).scores
        held = block["held_out"]
        assert held["proxy"]["n"] == len(ids["test"]) >= 3
        assert held["proxy"]["spearman_rho"] == pytest.approx(
            stats.spearmanr(scores, bank.quality).statistic, abs=1e-12)
        assert held["proxy"]["kendall_tau"] == pytest.approx(
            stats.kendalltau(scores, bank.quality).statistic, abs=1e-12)
        assert block["split_figures"]["test"]["spearman_rho"] == held["proxy"]["spearman_rho"]
        assert set(held["descriptors"]) == set(space.headline_descriptors)
        for desc, figs in held["descriptors"].items():
            values = [space.descriptors(r)[desc] for r in records]
            assert figs["spearman_rho"] == pytest.approx(
                stats.spearmanr(values, bank.quality).statistic, abs=1e-12)
        assert block["capture"]["batch_size"] == 2
        assert block["capture"]["objective"] == space.default_objective
    assert found["split_figures"]["test"]["spearman_rho"] == pytest.approx(min(
        b["held_out"]["proxy"]["spearman_rho"] for b in found["per_space"].values()))
    table = held_out_markdown(found)
    for name, block in found["per_space"].items():
        rho = block["held_out"]["proxy"]["spearman_rho"]
        assert f"| {name} | found proxy | {len(block['record_ids']['test'])} |" in table
        assert f"{rho:.3f} |" in table
    text = multi.summary()
    assert "gpt2" in text and "flexibert" in text and multi.formula in text
    assert (out / "found_scatter_gpt2.png").read_bytes()[:4] == b"\x89PNG"


def test_multi_search_same_result_with_two_workers(multi, tmp_path):
    two = run(tmp_path / "two", workers=2)
    for name in ("split.json", "hall_of_fame.json"):
        assert read(two.out, name) == read(multi.out, name), name
    memo = [sorted((d["canonical"], d["status"], d["fitness"], d["reason"])
                   for d in map(json.loads, (o / "evaluations.jsonl").read_text().splitlines()))
            for o in (multi.out, two.out)]
    assert memo[0] == memo[1]


def test_single_space_config_files_are_unchanged():
    spec = load_spec(REPO / "experiments" / "flexibert" / "config.toml")
    assert "spaces" not in spec.as_dict()["search"] and spec.per_space == {}
    assert "aggregate" not in spec.as_dict()["search"]


def test_multi_config_errors_are_one_line_and_name_the_problem(tmp_path):
    bad = [({"spaces": ["flexibert", "nospace"]}, r"spaces.*unknown space 'nospace'"),
           ({"spaces": ["gpt2", "gpt2"]}, r"spaces.*names the space 'gpt2' twice"),
           ({"spaces": ["gpt2"]}, r"spaces.*two or more"),
           ({"spaces": ["gpt2", "flexibert"], "aggregate": "max"}, r"aggregate.*unknown"),
           ({"aggregate": "min"}, r"aggregate.*only with several spaces"),
           ({"spaces": ["gpt2", "flexibert"], "selection": "nsga2"}, r"selection.*tournament")]
    for search_table, pattern in bad:
        with pytest.raises(ConfigError, match=pattern) as info:
            load_spec({"search": search_table})
        assert "\n" not in str(info.value)
    path = tmp_path / "multi.toml"
    path.write_text('[search]\nspaces = ["flexibert", "gpt2"]\n[capture.llama]\nbatch_size = 2\n')
    with pytest.raises(ConfigError, match=r"multi\.toml.*\[capture\.llama\].*not one of"):
        load_spec(path)
    path.write_text('[search]\nspaces = ["flexibert", "gpt2"]\n[capture.gpt2]\nbatch = 2\n')
    with pytest.raises(ConfigError, match=r"multi\.toml.*\[capture\.gpt2\].*unknown key 'batch'"):
        load_spec(path)
    path.write_text('[search]\nspaces = ["flexibert", "gpt2"]\n[records.bert]\nlimit = 2\n')
    with pytest.raises(ConfigError, match=r"\[records\.bert\].*unknown space 'bert'"):
        load_spec(path)
    # a capture setting a space does not support names the space
    with pytest.raises(Exception, match=r"objective 'mlm'.*space 'gpt2'"):
        search(config=CONFIG, out=tmp_path / "obj", objective="mlm", progress=False,
               generations=0, population=4, **SETTINGS)


def test_experiment_multi_config_parses():
    spec = load_spec(REPO / "experiments" / "multi" / "config.toml")
    assert spec.search.spaces == ["flexibert", "gpt2"] and spec.search.aggregate == "min"
    for name in spec.search.spaces:
        own = load_spec(REPO / "experiments" / name / "config.toml").capture
        assert spec.space_capture(name) == own


def test_cli_spaces_and_aggregate(tmp_path, capsys, multi):
    records = tmp_path / "records.toml"
    records.write_text("[records.flexibert]\nlimit = 12\n[records.gpt2]\nids = ["
                       + ", ".join(f'"{i}"' for i in GPT2_IDS) + "]\n")
    args = ["search", "--spaces", "flexibert", "gpt2", "--aggregate", "mean", "--config",
            str(records), "--batch-size", "2", "--seq-len", "32", "--max-elements", "512",
            "--generations", "0", "--population", "4", "--quiet", "--out",
            str(tmp_path / "cli")]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "the mean over the spaces" in printed and "gpt2" in printed
    assert read(tmp_path / "cli", "found.json")["aggregate"] == "mean"
    assert cli.main(["search", "--spaces", "gpt2", "gpt2", "--out", str(tmp_path / "x")]) != 0
    assert "twice" in capsys.readouterr().err


def test_multi_search_resumed_equals_uninterrupted(multi, tmp_path):
    out = tmp_path / "resumed"
    run(out, generations=1)
    (out / "found.json").unlink()  # as if killed after generation 1's checkpoint
    for name in ("hall_of_fame.json", "baselines.json", "rps.json", "log.jsonl", "log.csv",
                 "evaluations.jsonl", "fitness.png", "found_scatter_flexibert.png",
                 "found_scatter_gpt2.png"):
        (out / name).unlink(missing_ok=True)
    with pytest.raises(ConfigError, match=r"capture\.gpt2\.batch_size"):
        search(out=out, resume=True, config={**CONFIG, "capture": {"gpt2": {"batch_size": 4}}},
               generations=2, progress=False, **{k: v for k, v in SETTINGS.items()
                                                 if k != "batch_size"}, batch_size=2)
    resumed = run(out, generations=2, resume=True)
    for name in ("split.json", "hall_of_fame.json"):
        assert read(resumed.out, name) == read(multi.out, name), name
    assert read(resumed.out, "found.json")["per_space"] == read(multi.out,
                                                                 "found.json")["per_space"]


def test_a_language_must_read_only_inputs_every_space_captures():
    from lpzero_gp.bank import InputBank, Inputs
    from lpzero_gp.language import load_language
    from lpzero_gp.search.multi import language_problem
    default = load_language("default")
    assert "AE" in default.inputs
    _, records, bank = split_bank("gpt2", GPT2_IDS[:3])
    assert language_problem(default, bank, "gpt2") is None
    # the same real captures without the embedding side (as a capture before AE existed)
    without = InputBank.from_inputs(
        [Inputs({k: v for k, v in i.tensors.items() if k != "AE"}, i.n_layers, i.meta)
         for i in bank.inputs], bank.record_ids, bank.quality)
    why = language_problem(default, without, "gpt2")
    assert "'AE'" in why and "gpt2 space does not capture" in why and "\n" not in why
