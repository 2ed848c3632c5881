"""The benchmark builder: real training on real text, resumable after a kill, sampling seeds."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lpzero_gp.benchmarks.builder import TrainSettings, epochs, seed_agreement, train
from lpzero_gp.errors import RecordError
from lpzero_gp.spaces import get_space
from lpzero_gp.spaces.llama import LlamaArch, sample_archs

SPACE = get_space("llama")
# the CI-sized build: 3 architectures x 30 steps, hidden <= 64, vocabulary 512
ARGS = ["build-benchmark", "--space", "llama", "--preset", "tiny", "--archs", "3", "--seeds",
        "1", "--steps", "30", "--batch-size", "4", "--seq-len", "32", "--sample-seed", "7",
        "--vocab", "512", "--no-progress"]


def _cli(out: Path, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lpzero_gp.cli", *ARGS, "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def _lines(path: Path) -> dict:
    out = {}
    for text in path.read_text().splitlines():
        line = json.loads(text)
        out[(line["arch_id"], line["seed"])] = (line["arch"], line["val_loss"])
    return out


def test_validation_loss_falls_with_steps():
    settings = TrainSettings(steps=30, batch_size=4, seq_len=32, val_batches=1, warmup=3)
    result = train(SPACE, LlamaArch(64, (2,), (128,), head_dim=16), seed=0, settings=settings)
    losses = result["val_loss"]
    assert list(losses) == [7, 15, 22, 30]
    assert losses[30] < losses[7] - 0.3


def test_killed_build_resumes_to_the_same_records(tmp_path):
    whole = tmp_path / "whole"
    done = _cli(whole)
    assert done.wait(timeout=600) == 0, done.stderr.read()
    killed = tmp_path / "killed"
    proc = _cli(killed)
    path = killed / "benchmark.jsonl"
    deadline = time.time() + 600
    while not (path.is_file() and path.read_text().count("\n") >= 1):
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert path.read_text().count("\n") < 3
    resumed = _cli(killed)
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read()
    assert _lines(path) == _lines(whole / "benchmark.jsonl")
    assert path.read_text().count("\n") == 3  # nothing duplicated
    bench = SPACE.load_benchmark(killed)  # a folder loads like a file
    assert len(bench) == 3
    assert {r.config.vocab_size for r in bench} == {512}
    assert {json.loads(t)["tokenizer"] for t in path.read_text().splitlines()} == {
        "bpe-trained-512"}


def test_a_built_vocabulary_is_the_capture_batch_tokenizer(tmp_path):
    from lpzero_gp.collect import collect_inputs, make_space_batch
    from lpzero_gp.cache import CaptureSettings
    from lpzero_gp.corpus import tokenizer_for
    archs = [SPACE.with_vocab(a, 512) for a in sample_archs("tiny", 2, 3)]
    assert SPACE.tokenizer_of(archs) == "bpe-trained-512"
    assert tokenizer_for("bpe-trained-512", None, None).get_vocab_size() == 512
    from lpzero_gp.benchmarks.builder import BuildPlan, build
    settings = TrainSettings(steps=2, batch_size=2, seq_len=16, val_batches=1, warmup=1)
    path = build(BuildPlan("llama", [SPACE.arch_to_dict(a) for a in archs], seeds=(0,),
                           settings=settings), tmp_path / "b.jsonl", progress=False)
    records = SPACE.load_benchmark(path).records
    capture = CaptureSettings(batch_size=2, seq_len=16, max_elements=64)
    ids = make_space_batch(SPACE, capture.resolved(SPACE), records=records)["input_ids"]
    default = make_space_batch(SPACE, capture.resolved(SPACE))["input_ids"]
    assert ids.max() < 512 <= default.max() and ids.shape == default.shape
    bank = collect_inputs(SPACE, records, capture, cache=False, progress=False)
    assert len(bank) == 2


def test_vocabulary_errors_name_the_problem():
    from lpzero_gp.errors import ConfigError
    small = sample_archs("tiny", 2, 0)
    with pytest.raises(ConfigError, match="vocabularies \\[512, 4096\\] cannot share"):
        SPACE.tokenizer_of([SPACE.with_vocab(small[0], 512), small[1]])
    with pytest.raises(ConfigError, match="at least 260"):
        SPACE.with_vocab(small[0], 100)
    gpt2 = get_space("gpt2")
    with pytest.raises(ConfigError, match="fixed vocabulary"):
        gpt2.with_vocab(gpt2.sample("small", 1, 0)[0], 512)


def test_a_wrong_vocabulary_is_one_line_and_leaves_no_folder(tmp_path):
    out = tmp_path / "never"
    for space, vocab, message in (("gpt2", "512", "fixed vocabulary"),
                                  ("llama", "100", "at least 260")):
        preset = "small" if space == "gpt2" else "tiny"
        done = subprocess.run([sys.executable, "-m", "lpzero_gp.cli", "build-benchmark",
                               "--space", space, "--preset", preset, "--archs", "1",
                               "--vocab", vocab, "--out", str(out)],
                              capture_output=True, text=True)
        assert done.returncode != 0 and message in done.stderr
        assert "Traceback" not in done.stderr and not out.exists()


def test_sample_seeds_and_presets():
    a, b = sample_archs("wide", 5, 0), sample_archs("wide", 5, 1)
    assert a == sample_archs("wide", 5, 0) and a != b and len(set(a)) == 5
    for arch in a + b:
        assert arch.hidden_size in (64, 128, 192, 256) and 1 <= arch.n_layers <= 4
        assert all(1 <= h <= arch.hidden_size // 32 for h in arch.heads)
        assert all(1.4 * arch.hidden_size - 8 <= f <= 2.75 * arch.hidden_size + 8
                   for f in arch.ffn)


def test_default_text_is_overfitted_by_the_default_protocol():
    tokens, passes = epochs(SPACE, TrainSettings())
    assert tokens > 50_000 and passes > 1  # why build-benchmark warns on pydoc_data


def test_truncated_line_is_reported_with_file_and_line(tmp_path):
    good = {"arch": {"hidden_size": 32, "heads": [1], "ffn": [64], "head_dim": 16},
            "seed": 0, "val_loss": {"10": 7.5}}
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(good)[:30] + "\n")
    with pytest.raises(RecordError, match=r"b.jsonl:2: not JSON"):
        SPACE.load_benchmark(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(RecordError, match=r"b.jsonl:2: seed 0 repeated"):
        SPACE.load_benchmark(path)
    path.write_text(json.dumps({**good, "val_loss": {"10": True}}) + "\n")
    with pytest.raises(RecordError, match=r"b.jsonl:1: .*boolean"):
        SPACE.load_benchmark(path)


def test_committed_benchmark_loads_and_states_its_ceiling():
    folder = Path(__file__).resolve().parents[1] / "experiments" / "llama" / "wide_pydoc"
    bench = SPACE.load_benchmark(folder)
    assert len(bench) == 100
    assert all(len(r.extra["seed_losses"]) == 4 for r in bench)
    agree = seed_agreement(bench.records)
    assert agree["n"] == 100 and 0.3 < agree["kendall_tau"] < 0.9


def test_gpt2_builds_a_benchmark_too(tmp_path):
    from lpzero_gp.benchmarks.builder import BuildPlan, build
    gpt2 = get_space("gpt2")
    arch = gpt2.sample("small", 1, sample_seed=0)[0]
    data = gpt2.arch_to_dict(arch)
    assert gpt2.arch_from_dict(data) == arch
    settings = TrainSettings(steps=4, batch_size=2, seq_len=16, val_batches=1, warmup=1)
    path = build(BuildPlan("gpt2", [data], seeds=(0,), settings=settings),
                 tmp_path / "b.jsonl", progress=False)
    bench = gpt2.load_benchmark(path)
    line = json.loads(path.read_text())
    assert len(bench) == 1 and bench[0].config == arch and bench[0].label == line["val_loss"]["4"]
    assert line["params"]["total"] == sum(p.numel() for p in gpt2.build(arch).parameters())
