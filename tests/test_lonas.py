"""The LoNAS pipeline (nas/lonas.py) run at a tiny scale: the invariants of its stages, and
that a rerun skips finished stages (and recomputes a missing one to the same figure)."""
import json
import math
import random
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lpzero_gp.errors import ConfigError, UsageError
from lpzero_gp.nas.lonas import PICKERS, LonasConfig, Pipeline, is_lora, pick
from lpzero_gp.spaces.llama import (LONAS_7B_HEURISTIC, PRESETS, LlamaArch, build_supernet,
                                    parameter_count)

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"pretrain": 3, "lora_tune": 5, "finetune": 2}


def tiny(text: str, **run) -> LonasConfig:
    return LonasConfig.from_dict({
        "run": {"text": text, "seeds": [0, 1], "pool": 3, "capture_batch_size": 2,
                "capture_seq_len": 16, "max_elements": 256, **run},
        **{stage: {"steps": n, "batch_size": 2, "seq_len": 16, "warmup": 1, "val_batches": 1}
           for stage, n in STEPS.items()}})


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lonas")
    from pydoc_data.topics import topics
    text = folder / "text.txt"  # real English, small enough to train the tokenizer fast
    text.write_text("\n\n".join(topics[k] for k in sorted(topics)[:60]), encoding="utf-8")
    config = tiny(str(text))
    pipeline = Pipeline(config, folder / "out", root=ROOT, progress=False)
    result = pipeline.run()
    return config, folder / "out", pipeline, result


def test_pretraining_trains_the_base_and_lora_tuning_only_the_adapters(done):
    config, out, _, _ = done
    init = build_supernet(PRESETS["lonas-mini"].supernet, config.pretrain_seed).state_dict()
    pre = load_file(str(out / "pretrain" / "supernet.safetensors"))
    tuned = load_file(str(out / "seed0" / "lora_tune" / "supernet.safetensors"))
    assert set(pre) == set(tuned) == set(init)
    base = [k for k in pre if not is_lora(k)]
    lora = [k for k in pre if is_lora(k)]
    assert base and lora
    assert all(torch.equal(pre[k], init[k]) for k in lora)  # frozen while pretraining
    assert not all(torch.equal(pre[k], init[k]) for k in base)
    assert all(torch.equal(tuned[k], pre[k]) for k in base)  # frozen while LoRA tuning
    changed = [k for k in lora if not torch.equal(tuned[k], pre[k])]
    assert any(k.endswith("lora_B") for k in changed)


def test_lora_tuning_activates_the_seeded_random_subnetwork_of_each_step(done):
    config, out, _, result = done
    preset = PRESETS["lonas-mini"]
    for seed in config.seeds:
        tune = json.loads((out / f"seed{seed}" / "lora_tune" / "result.json").read_text())
        rng = random.Random(seed)
        expected = [preset.sample(rng).to_dict() for _ in range(STEPS["lora_tune"])]
        assert tune["subnets"] == expected
        assert len({json.dumps(s, sort_keys=True) for s in tune["subnets"]}) > 1
        assert all(LlamaArch.from_dict(s).is_subnet_of(preset.supernet)
                   for s in tune["subnets"])
        assert result["seeds"][str(seed)]["lora_tune"]["steps"] == STEPS["lora_tune"]


def test_picks_respect_the_budget_and_follow_their_rule(done):
    config, out, pipeline, _ = done
    sup = parameter_count(PRESETS["lonas-mini"].supernet, lora=False)["total"]
    limit = math.floor(config.budget_fraction * sup)
    assert pipeline.budget_limit == limit
    for seed in config.seeds:
        data = json.loads((out / f"seed{seed}" / "picks.json").read_text())
        pool, picks = data["pool"], data["picks"]
        assert len(pool) == config.pool
        for row in pool:
            assert row["params"] == parameter_count(LlamaArch.from_dict(row["arch"]),
                                                    lora=False)["total"] <= limit
        for p in picks.values():
            assert p["params"] == parameter_count(LlamaArch.from_dict(p["arch"]),
                                                  lora=False)["total"] <= limit
        best = max(pool, key=lambda r: r["score"])
        assert picks["proxy"]["arch"] == best["arch"]
        assert picks["params"]["params"] == max(r["params"] for r in pool)
        assert picks["heuristic"]["arch"]["ffn"] == [528] * 4
        assert picks["random"]["arch"] in [r["arch"] for r in pool]


def test_results_have_every_picker_and_seed(done):
    config, out, _, result = done
    saved = json.loads((out / "results.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["complete"] and list(saved["seeds"]) == ["0", "1"]
    assert saved["config"]["seeds"] == [0, 1] and saved["versions"]["torch"]
    for picker in PICKERS:
        losses = [saved["seeds"][s]["picks"][picker]["val_loss"] for s in ("0", "1")]
        assert all(math.isfinite(v) for v in losses)
        summary = saved["summary"]["pickers"][picker]
        assert summary["mean"] == pytest.approx(sum(losses) / 2)
        assert summary["spread"] == pytest.approx(abs(losses[0] - losses[1]))
    assert saved["summary"]["verdict"] in ("too flat", "separated")
    table = (out / "results.md").read_text()
    assert all(f"| {picker} |" in table for picker in PICKERS)


def test_rerun_skips_finished_stages_and_recomputes_a_missing_one_alike(done):
    config, out, _, result = done
    again = Pipeline(config, out, root=ROOT, progress=False)
    assert again.run() == json.loads(json.dumps(result)) and again.ran == []
    proxy_pick = result["seeds"]["1"]["picks"]["proxy"]
    (out / "seed1" / "finetune" / f"{proxy_pick['arch_id']}.json").unlink()
    resumed = Pipeline(config, out, root=ROOT, progress=False)
    redone = resumed.run()
    assert resumed.ran == ["seed1/finetune/proxy"]
    assert redone["seeds"]["1"]["picks"]["proxy"]["val_loss"] == proxy_pick["val_loss"]


def test_an_out_folder_of_another_config_is_refused(done):
    config, out, _, _ = done
    other = tiny(config.text, pool=2)
    with pytest.raises(UsageError, match="another config"):
        Pipeline(other, out, root=ROOT, progress=False).run()


def test_middle_heuristic_and_picker_rules():
    assert PRESETS["lonas7b"].middle() == LONAS_7B_HEURISTIC
    preset = PRESETS["lonas-mini"]
    assert preset.middle().ffn == (528,) * 4 and preset.middle().lora_attn == (32,) * 4

    class R:
        def __init__(self, rid, config=None):
            self.id, self.config = rid, config
    pool = [{"record": R("b"), "score": 1.0, "params": 10},
            {"record": R("a"), "score": 0.5, "params": 10},
            {"record": R("c"), "score": 2.0, "params": 9}]
    assert pick("proxy", pool, preset, 0)["record"].id == "c"
    assert pick("params", pool, preset, 0)["record"].id == "a"  # tie broken by id
    assert pick("heuristic", pool, preset, 0) == {"record": None, "arch": preset.middle(),
                                                 "score": None}
    with pytest.raises(UsageError, match="unknown picker"):
        pick("best", pool, preset, 0)


def test_config_errors_name_the_table():
    with pytest.raises(ConfigError, match=r"\[lora_tune\]"):
        LonasConfig.from_dict({"lora_tune": {"stpes": 3}})
    with pytest.raises(ConfigError, match="budget_fraction"):
        LonasConfig.from_dict({"run": {"budget_fraction": 1.5}})
