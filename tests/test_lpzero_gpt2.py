"""LPZero's published GPT-2 proxy, evaluated on full tensors, equals its stored scores."""
from __future__ import annotations

import pytest

from lpzero_gp.baselines.lpzero_gpt2 import read_stored, score_full
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.errors import DataFileError
from lpzero_gp.language import LPZERO_GPT2_PROXY, Proxy
from lpzero_gp.spaces import get_space

# the smallest records (d_model 128 to 256), so that full tensors stay cheap
RECORDS = ("config_9_j3", "config_15_j5", "config_11_j5")


@pytest.fixture(scope="module")
def gpt2():
    space = get_space("gpt2")
    return space, space.load_benchmark()


def test_stored_scores_within_one_percent(gpt2):
    space, bench = gpt2
    stored = read_stored()
    assert len(stored) == len(bench) == 140
    # the score depends on the shapes (softmax over a fan-in of near-zero gradients is ~1/fan-in),
    # not on the batch: a 2 x 32 batch gives the stored 16 x 192 values
    settings = CaptureSettings(batch_size=2, seq_len=32).resolved(space)
    batch = space.make_batch(batch_size=2, seq_len=32, seed=0, objective="clm")
    proxy = Proxy.parse(LPZERO_GPT2_PROXY, "lpzero")
    for rid in RECORDS:
        ours = score_full(space, bench.by_id(rid), settings, batch, proxy)
        assert ours == pytest.approx(stored[rid], rel=0.01), rid


def test_a_malformed_score_file_names_file_and_record(tmp_path):
    bad = tmp_path / "scores.yaml"
    bad.write_text("config_0_j2: 0.0002\nconfig_0_j3: not-a-number\n")
    with pytest.raises(DataFileError, match=r"scores.yaml: record 'config_0_j3'"):
        read_stored(path=bad)
