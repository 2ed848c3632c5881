"""Small real searches: result files, provenance, the held-out test split, reproducibility
across workers, resumption, CLI."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import lpzero_gp
from lpzero_gp import cli
from lpzero_gp.errors import ConfigError, LpzeroError
from lpzero_gp.language import Proxy
from lpzero_gp.search import ablate_rps, load_spec, search
from lpzero_gp.search import evaluate as evaluate_mod
from lpzero_gp.search.checkpoint import load_checkpoint
from lpzero_gp.search.found import read_found
from lpzero_gp.search.provenance import git_commit

REPO = Path(__file__).resolve().parents[1]
N_RECORDS = 12
SMALL = dict(records=N_RECORDS, batch_size=2, seq_len=32, max_elements=512, progress=False)
CAPTURE_ARGS = ["--limit", str(N_RECORDS), "--batch-size", "2", "--seq-len", "32",
                "--max-elements", "512"]
RESULT_FILES = ("config.json", "versions.json", "split.json", "log.jsonl", "log.csv",
                "evaluations.jsonl", "rps.json", "hall_of_fame.json", "found.json",
                "baselines.json", "fitness.png", "found_scatter.png", "checkpoint.pkl")


def run(tmp_path, name, **kw):
    # the default capture cache: a temporary folder for the test session (see conftest.py),
    # which the notebook test's kernel shares
    args = {**SMALL, "generations": 2, "population": 10, "seed": 3, **kw}
    return search("flexibert", out=tmp_path / name, **args)


def read(out: Path, name: str):
    return json.loads((out / name).read_text())


def comparable(out: Path) -> dict:
    """Everything a run decides (split, hall of fame, chosen proxy, log without timings, memo;
    the provenance but for the number of workers)."""
    log = [{k: v for k, v in json.loads(line).items() if k != "seconds"}
           for line in (out / "log.jsonl").read_text().splitlines()]
    memo = sorted((d["canonical"], d["status"], d["fitness"], d["rule"])
                  for d in map(json.loads, (out / "evaluations.jsonl").read_text().splitlines()))
    found = read(out, "found.json")
    del found["provenance"]["config"]["workers"]
    del found["provenance"]["commit"]  # the checkout's state, not the run's decision
    return {"split": read(out, "split.json"), "hof": read(out, "hall_of_fame.json"),
            "found": found, "log": log, "memo": memo,
            "population": load_checkpoint(out).population}


def test_small_search_writes_every_result_file(tmp_path):
    result = run(tmp_path, "run")
    out = result.out
    for name in RESULT_FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "fitness.png").read_bytes()[:4] == b"\x89PNG"

    found = Proxy.from_json(out / "found.json")
    assert str(found) == result.formula
    assert set(result.figures) == {"search", "validation", "test", "all"}
    assert found.figures["n"] == result.figures["test"]["n"] == result.held_out["n"] > 0
    assert found.figures["spearman_rho"] == found.figures["test_spearman_rho"]
    assert found.figures["all_n"] == N_RECORDS
    assert sum(result.figures[s]["n"] for s in ("search", "validation", "test")) == N_RECORDS
    assert -1.0 <= result.figures["all"]["spearman_rho"] <= 1.0

    # the held-out table of a run folder (not experiments/<space>): the found proxy's row is
    # the search's own test figure, and the table says the command that made it
    from lpzero_gp.search import held_out
    assert held_out.main(["--space", "flexibert", "--folder", str(out), "--n-boot", "20"]) == 0
    table = json.loads((out / "held_out.json").read_text())
    row = next(r for r in table["rows"] if r["kind"] == "found")
    assert row["spearman_rho"] == pytest.approx(result.held_out["spearman_rho"])
    assert row["n"] == result.held_out["n"]
    assert table["command"].endswith(f"--space flexibert --folder {out.resolve()}")

    hof = json.loads((out / "hall_of_fame.json").read_text())
    entries = hof["entries"]
    assert 1 <= len(entries) <= 10 and sum(e["chosen"] for e in entries) == 1
    fits = [e["search_fitness"] for e in entries]
    assert fits == sorted(fits, reverse=True)
    assert all(e["latex"] and e["sympy"] and e["language"] == "default" for e in entries)
    # the chosen proxy is the best of the hall of fame on validation
    val = [e["figures"]["validation"]["fitness"] for e in entries]
    assert entries[hof["chosen"] - 1]["figures"]["validation"]["fitness"] == max(
        v for v in val if v is not None)

    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["generation"] for r in log] == [0, 1, 2]
    assert all(r["errors"] == 0 for r in log)
    with open(out / "log.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and "rps_monotone_root" in rows[0] and "median" in rows[0]

    # memoised: no formula evaluated twice, every evaluation in the log
    memo = [json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines()]
    assert len({m["canonical"] for m in memo}) == len(memo)
    assert sum(r["new_evaluations"] for r in log) == len(memo)
    assert all(m["reason"] for m in memo if m["status"] != "valid")
    assert all(m["fitness"] is None for m in memo if m["status"] != "valid")
    rps_counts = json.loads((out / "rps.json").read_text())["counts"]
    assert sum(rps_counts.values()) == sum(m["status"] == "pruned" for m in memo)

    split = json.loads((out / "split.json").read_text())
    assert set(split["probes"]) <= set(split["search"])
    ids = [set(split[s]) for s in ("search", "validation", "test")]
    assert all(ids) and sum(map(len, ids)) == len(set.union(*ids)) == N_RECORDS
    config = json.loads((out / "config.json").read_text())
    assert config["search"]["seed"] == 3 and config["capture"]["batch_size"] == 2
    assert config["search"]["split_fractions"] == [0.4, 0.3, 0.3]
    assert set(json.loads((out / "versions.json").read_text())) >= {"python", "torch", "deap",
                                                                    "lpzero_gp"}
    baselines = json.loads((out / "baselines.json").read_text())
    assert set(baselines["descriptors"]) == {"n_layers", "layers_then_hidden", "n_params"}
    assert all(set(f) == {"search", "validation", "test", "all"}
               for f in baselines["descriptors"].values())
    assert baselines["headline_split"] == "test"
    assert baselines["published"]["spearman_rho"] == 0.748
    text = result.summary()
    assert result.formula in text and "0.748" in text and "n_layers" in text
    assert "held out: the test split" in text


def test_found_json_carries_provenance(tmp_path):
    result = run(tmp_path, "run", generations=1)
    out = result.out
    found, split, config = read(out, "found.json"), read(out, "split.json"), read(out,
                                                                                 "config.json")
    prov = found["provenance"]
    assert prov == config["provenance"] == result.provenance
    assert prov["config"] == config["search"] and prov["config"]["seed"] == 3
    assert prov["gp_seed"] == 3 and prov["split_seed"] == 3
    assert prov["split_fractions"] == [0.4, 0.3, 0.3]
    assert prov["capture"] == config["capture"]
    assert prov["capture"]["batch_size"] == 2 and prov["capture"]["max_elements"] == 512
    assert prov["lpzero_gp_version"] == lpzero_gp.__version__
    assert prov["commit"] == git_commit()
    memo = (out / "evaluations.jsonl").read_text().splitlines()
    assert prov["evaluations"]["total"] == len(memo) == result.evaluations["total"]
    assert prov["splits"] == {s: split[s] for s in ("search", "validation", "test")}
    assert found["headline_split"] == "test"
    assert set(found["split_figures"]) == {"search", "validation", "test", "all"}
    assert found["split_figures"] == result.figures
    reread = read_found(out / "found.json")
    assert reread.splits == prov["splits"] and reread.headline_split == "test"


def test_nothing_in_the_search_reads_the_test_split(tmp_path, monkeypatch):
    """The evaluator sees the search split only (probes and subsets included), and negating
    the labels of the test records changes the test figures and nothing else."""
    seen = []
    real_init = evaluate_mod.Evaluator.__init__

    def spy(self, spec):
        seen.append((list(spec.bank.record_ids), list(spec.probe_bank.record_ids),
                     spec.subsets))
        real_init(self, spec)
    monkeypatch.setattr(evaluate_mod.Evaluator, "__init__", spy)
    plain = run(tmp_path, "plain", config={"subsets": 2, "subset_fraction": 0.8})
    split = read(plain.out, "split.json")
    assert len(seen) == 1
    bank_ids, probe_ids, subsets = seen[0]
    assert bank_ids == split["search"] and set(probe_ids) <= set(split["search"])
    assert len(subsets) == 2 and all(max(s) < len(bank_ids) for s in subsets)

    import lpzero_gp.collect as collect
    real_collect = collect.collect_inputs

    def negated_test_labels(*args, **kwargs):
        bank = real_collect(*args, **kwargs)
        quality = np.array(bank.quality, dtype=np.float64)
        test = [i for i, rid in enumerate(bank.record_ids) if rid in set(split["test"])]
        quality[test] = -quality[test]
        bank.quality = quality
        return bank
    monkeypatch.setattr(collect, "collect_inputs", negated_test_labels)
    negated = run(tmp_path, "negated", config={"subsets": 2, "subset_fraction": 0.8})

    def without_test_and_all(out):
        data = comparable(out)
        for entry in data["hof"]["entries"]:
            del entry["figures"]["test"], entry["figures"]["all"]
        found = data["found"]
        found["figures"] = {k: v for k, v in found["figures"].items()
                            if k.startswith(("search_", "validation_"))}
        del found["split_figures"]["test"], found["split_figures"]["all"]
        return data
    assert without_test_and_all(plain.out) == without_test_and_all(negated.out)
    assert negated.held_out["kendall_tau"] == pytest.approx(-plain.held_out["kendall_tau"])
    assert negated.held_out["spearman_rho"] == pytest.approx(-plain.held_out["spearman_rho"])
    # every hall-of-fame entry's test figures flip (some nonzero, so the check means something)
    before = read(plain.out, "hall_of_fame.json")["entries"]
    after = read(negated.out, "hall_of_fame.json")["entries"]
    taus = [(b["figures"]["test"]["kendall_tau"], a["figures"]["test"]["kendall_tau"])
            for b, a in zip(before, after) if b["figures"]["test"]["kendall_tau"] is not None]
    assert any(b != 0.0 for b, _ in taus)
    assert all(a == pytest.approx(-b) for b, a in taus)


def test_same_seed_same_result_with_one_and_two_workers(tmp_path):
    one = run(tmp_path, "one", workers=1)
    two = run(tmp_path, "two", workers=2)
    assert comparable(one.out) == comparable(two.out)
    other = run(tmp_path, "other", seed=4)
    assert comparable(other.out)["memo"] != comparable(one.out)["memo"]


class Killed(Exception):
    pass


def test_killed_then_resumed_equals_uninterrupted(tmp_path):
    straight = run(tmp_path, "straight", generations=4)

    def kill_after_generation_2(state):
        if state.generation == 2:
            raise Killed()
    with pytest.raises(Killed):
        run(tmp_path, "killed", generations=4,
            on_checkpoint=kill_after_generation_2)
    assert load_checkpoint(tmp_path / "killed").generation == 2
    assert not (tmp_path / "killed" / "found.json").exists()
    resumed = run(tmp_path, "killed", generations=4, resume=True)
    assert comparable(resumed.out) == comparable(straight.out)

    # a finished 2-generation run extended to 4 generations ends the same way too; resuming
    # needs nothing but the folder: the checkpoint holds the settings
    run(tmp_path, "extended", generations=2)
    extended = search(out=tmp_path / "extended", generations=4, resume=True, progress=False)
    assert comparable(extended.out) == comparable(straight.out)


def test_resume_refuses_other_settings_and_runs_are_not_overwritten(tmp_path):
    run(tmp_path, "run", generations=0)
    with pytest.raises(LpzeroError, match="already holds a search"):
        run(tmp_path, "run", generations=0)
    with pytest.raises(ConfigError, match="population"):
        run(tmp_path, "run", generations=1, population=12, resume=True)
    with pytest.raises(ConfigError, match="capture.batch_size"):
        run(tmp_path, "run", generations=1, batch_size=4, resume=True)


def test_min_over_subsets_fitness(tmp_path):
    result = run(tmp_path, "subsets", generations=0, population=8,
                 config={"subsets": 3, "subset_fraction": 0.6,
                         "split_fractions": [0.6, 0.2, 0.2]})
    split = json.loads((result.out / "split.json").read_text())
    assert len(split["subsets"]) == 3
    from lpzero_gp.collect import collect_inputs
    from lpzero_gp.cache import CaptureSettings
    from lpzero_gp.metrics import spearman_rho
    from lpzero_gp.spaces import get_space
    space = get_space("flexibert")
    bench = space.load_benchmark().subset(ids=split["search"])
    bank = collect_inputs(space, bench.records, CaptureSettings(batch_size=2, seq_len=32,
                                                                max_elements=512),
                          progress=False)
    for entry in result.hall_of_fame:
        # the fitness is the smallest Spearman over the subsets of the search split
        scores = Proxy.parse(entry["formula"], entry["language"]).evaluate(bank).scores
        expected = min(spearman_rho(scores[list(sub)], bank.quality[list(sub)])
                       for sub in split["subsets"])
        assert entry["search_fitness"] == pytest.approx(expected, abs=1e-9)


def test_template_language_search_and_kendall_fitness(tmp_path):
    result = run(tmp_path, "lpzero", language="lpzero", statistic="kendall",
                 generations=1)
    assert result.found.language.name == "lpzero"
    hof = json.loads((result.out / "hall_of_fame.json").read_text())
    assert hof["statistic"] == "kendall"
    first = hof["entries"][0]
    assert first["search_fitness"] == pytest.approx(first["figures"]["search"]["kendall_tau"])


def test_rps_ablation(tmp_path):
    ablation = ablate_rps("flexibert", out=tmp_path / "ablation",
                          generations=1, population=10, seed=3, **SMALL)
    rows = {r["arm"]: r for r in ablation.rows}
    assert rows["without_rps"]["pruned"] == 0
    assert rows["with_rps"]["pruned"] == sum(rows["with_rps"]["rps_counts"].values())
    assert rows["with_rps"]["formulas"] == (rows["with_rps"]["full_evaluations"]
                                           + rows["with_rps"]["pruned"])
    assert (tmp_path / "ablation" / "ablation.json").is_file()
    assert "with_rps" in ablation.table() and "without_rps" in ablation.table()


def test_cli_search_then_evaluate_found_json(tmp_path, capsys):
    out = tmp_path / "cli"
    code = cli.main(["search", *CAPTURE_ARGS, "--generations", "1", "--population", "8",
                     "--seed", "5", "--split-fractions", "0.5", "0.25", "0.25", "--out",
                     str(out), "--quiet"])
    printed = capsys.readouterr().out
    assert code == 0
    found = json.loads((out / "found.json").read_text())
    assert found["provenance"]["split_fractions"] == [0.5, 0.25, 0.25]
    assert found["formula"] in printed and "latex" in printed
    assert "LPZero (published)" in printed and "layers_then_hidden" in printed

    # the records and capture settings of the search come from found.json
    code = cli.main(["evaluate", "--proxy", str(out / "found.json")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "Kendall tau" in printed and f"n = {N_RECORDS}" in printed
    assert f"{found['figures']['spearman_rho']:+.3f}" in printed
    assert "stored   match" in printed and "DIFFER" not in printed
    for name in ("search", "validation", "test"):
        f = found["split_figures"][name]
        assert f"  {name:11s} n = {f['n']:4d}   Kendall tau  {f['kendall_tau']:+.3f}" in printed

    code = cli.main(["evaluate", "--proxy", str(out / "found.json"), "--json"])
    recomputed = json.loads(capsys.readouterr().out)
    assert code == 0 and recomputed["splits_match"] is True
    for name in ("search", "validation", "test"):
        for key in ("kendall_tau", "spearman_rho"):
            assert recomputed["splits"][name][key] == pytest.approx(
                found["split_figures"][name][key], abs=1e-6)
        assert recomputed["splits"][name]["n"] == found["split_figures"][name]["n"]

    code = cli.main(["evaluate", "--proxy", str(out / "found.json"), *CAPTURE_ARGS])
    assert code == 0 and "splits   not recomputed: --records/--limit" in capsys.readouterr().out

    edited = dict(found, split_figures={**found["split_figures"],
                                        "test": {**found["split_figures"]["test"],
                                                 "kendall_tau": 0.123}})
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    assert cli.main(["evaluate", "--proxy", str(tmp_path / "edited.json")]) == 0
    assert "stored   DIFFER: test (kendall_tau" in capsys.readouterr().out

    moved = json.loads(json.dumps(found))
    moved["provenance"]["splits"]["test"] += ["no-such-record"]
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    assert cli.main(["evaluate", "--proxy", str(tmp_path / "moved.json")]) == 5
    err = capsys.readouterr().err
    assert "no-such-record" in err and "not in" in err


def test_experiment_config_parses():
    spec = load_spec(REPO / "experiments" / "flexibert" / "config.toml")
    assert spec.search.space == "flexibert"
    assert spec.search.population >= 10 and spec.search.generations >= 1
    assert spec.search.split_fractions == [0.4, 0.3, 0.3]


def test_config_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[search]\npopulaton = 10\n")
    with pytest.raises(ConfigError, match=r"bad\.toml.*populaton"):
        load_spec(bad)
    bad.write_text("[serch]\n")
    with pytest.raises(ConfigError, match="serch"):
        load_spec(bad)
    with pytest.raises(ConfigError, match="elitism"):
        load_spec({"population": 4, "elitism": 4})


# -- fitness options and NSGA-II on real records --------------------------------------------


def _search_records_bank(out: Path, part: str):
    """The records of one split of the run in ``out`` and their captured inputs (from the
    test session's cache), in the run's order."""
    from lpzero_gp.cache import CaptureSettings
    from lpzero_gp.collect import collect_inputs
    from lpzero_gp.spaces import get_space
    split = read(out, "split.json")
    space = get_space("flexibert")
    records = space.load_benchmark().subset(ids=split[part]).records
    bank = collect_inputs(space, records, CaptureSettings(batch_size=2, seq_len=32,
                                                          max_elements=512), progress=False)
    depth = np.array([r.config.n_layers for r in records], dtype=np.float64)
    return bank, depth


def test_partial_fitness_search_matches_the_direct_computation(tmp_path):
    from test_fitness import partial_direct
    result = run(tmp_path, "partial", fitness="partial", descriptor="n_layers",
                 generations=1)
    hof = read(result.out, "hall_of_fame.json")
    assert (hof["fitness"], hof["descriptor"], hof["selection"]) == ("partial", "n_layers",
                                                                      "tournament")
    found = read(result.out, "found.json")
    assert found["fitness"] == "partial" and found["provenance"]["config"]["fitness"] == \
        "partial"
    bank, depth = _search_records_bank(result.out, "search")
    for entry in hof["entries"][:4]:
        scores = Proxy.parse(entry["formula"], entry["language"]).evaluate(bank).scores
        assert entry["search_fitness"] == pytest.approx(
            partial_direct(scores, bank.quality, depth), abs=1e-9)
        assert entry["figures"]["search"]["fitness"] == pytest.approx(entry["search_fitness"])


def _dominates(a, b, weights) -> bool:
    wa = [x * w for x, w in zip(a, weights)]
    wb = [x * w for x, w in zip(b, weights)]
    return all(x >= y for x, y in zip(wa, wb)) and any(x > y for x, y in zip(wa, wb))


def test_nsga2_search_end_to_end(tmp_path):
    from test_fitness import partial_direct
    from scipy import stats
    result = run(tmp_path, "nsga", selection="nsga2", descriptor="n_layers",
                 config={"objectives": ["spearman", "partial", "size"],
                         "choose_on": "partial"})
    out = result.out
    assert (out / "pareto_front.png").read_bytes()[:4] == b"\x89PNG"
    front = read(out, "pareto_front.json")
    assert front["objectives"] == ["spearman", "partial", "size"]
    assert front["choose_on"] == "partial" and "validation" in front["rule"]
    members = front["members"]
    assert members and sum(m["chosen"] for m in members) == 1

    def vector(objectives, size):
        return [(-2.0 if objectives.get(n) is None else objectives[n]) if n != "size"
                else size for n in ("spearman", "partial", "size")]
    weights = (1.0, 1.0, -1.0)
    # the front: exactly the valid formulas evaluated that no other valid one dominates
    memo = [json.loads(line) for line in (out / "evaluations.jsonl").read_text().splitlines()]
    valid = [(m["formula"], vector(m["objectives"], m["size"])) for m in memo
             if m["status"] == "valid"]
    assert {m["formula"] for m in members} == {
        f for f, v in valid if not any(_dominates(w, v, weights) for _, w in valid)}
    assert all(m["search_objectives"] == next(e["objectives"] for e in memo
                                              if e["formula"] == m["formula"])
               for m in members)
    # each member's objectives, recomputed directly on the search split
    bank, depth = _search_records_bank(out, "search")
    for m in members:
        scores = Proxy.parse(m["formula"], m["language"]).evaluate(bank).scores
        assert m["search_objectives"]["spearman"] == pytest.approx(
            stats.spearmanr(scores, bank.quality).statistic, abs=1e-9)
        assert m["search_objectives"]["partial"] == pytest.approx(
            partial_direct(scores, bank.quality, depth), abs=1e-9)
    # the choice: the best partial on the validation split (ties: smaller formula)
    val = [(m["figures"]["validation"]["objectives"]["partial"], -m["size"], -i)
           for i, m in enumerate(members)
           if m["figures"]["validation"]["objectives"]["partial"] is not None]
    if val:
        assert members[-max(val)[2]]["chosen"]
    assert read(out, "found.json")["formula"] == next(m["formula"] for m in members
                                                      if m["chosen"])
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["generation"] for r in log] == [0, 1, 2] and all("front_size" in r for r in log)


def test_nsga2_same_result_with_two_workers_and_after_a_kill(tmp_path):
    kw = dict(selection="nsga2", descriptor="n_layers", generations=3)
    straight = run(tmp_path, "straight", **kw)
    two = run(tmp_path, "two", workers=2, **kw)
    assert comparable(two.out) == comparable(straight.out)
    assert read(two.out, "pareto_front.json") == read(straight.out, "pareto_front.json")

    def kill_after_generation_1(state):
        if state.generation == 1:
            raise Killed()
    with pytest.raises(Killed):
        run(tmp_path, "killed", on_checkpoint=kill_after_generation_1, **kw)
    resumed = run(tmp_path, "killed", resume=True, **kw)
    assert comparable(resumed.out) == comparable(straight.out)
    assert read(resumed.out, "pareto_front.json") == read(straight.out, "pareto_front.json")


def test_cli_fitness_options_and_their_errors(tmp_path, capsys):
    from lpzero_gp.errors import EXIT_CONFIG, EXIT_USAGE
    assert cli.main(["search", "--fitness", "pearson"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "--fitness" in err and "'pearson'" in err and "lexicographic-tiebreak" in err
    code = cli.main(["search", *CAPTURE_ARGS, "--fitness", "partial", "--descriptor", "width",
                     "--out", str(tmp_path / "bad"), "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_CONFIG and "descriptor = 'width'" in err and "layers_then_hidden" in err
    code = cli.main(["search", *CAPTURE_ARGS, "--generations", "0", "--population", "6",
                     "--fitness", "lexicographic-tiebreak", "--descriptor", "n_layers",
                     "--out", str(tmp_path / "tiebreak"), "--quiet"])
    assert code == 0
    found = read(tmp_path / "tiebreak", "found.json")
    assert found["fitness"] == "lexicographic-tiebreak" and found["descriptor"] == "n_layers"
