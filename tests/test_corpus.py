"""Real English text and token batches."""
from __future__ import annotations

import pytest
import torch

from lpzero_gp import corpus


def test_default_text_is_real_english():
    prose = corpus.english_text()
    assert len(prose) > 400_000
    assert " the " in prose and "function" in prose


def test_wordpiece_batch_shape_specials_and_determinism(data_dir):
    batch = corpus.token_batch("wordpiece", 4, 32, seed=3, data_dir=data_dir)
    assert batch.shape == (4, 32) and batch.dtype == torch.long
    assert (batch[:, 0] == 101).all() and (batch[:, -1] == 102).all()
    assert int(batch.max()) < 30522 and int(batch.min()) >= 0
    assert torch.equal(batch, corpus.token_batch("wordpiece", 4, 32, seed=3, data_dir=data_dir))
    assert not torch.equal(batch, corpus.token_batch("wordpiece", 4, 32, seed=4,
                                                   data_dir=data_dir))
    decoded = corpus.wordpiece_tokenizer(str(data_dir)).decode(batch[0].tolist())
    assert sum(c.isalpha() for c in decoded) > 0.5 * len(decoded)


def test_bpe_batch(data_dir):
    batch = corpus.token_batch("bpe", 2, 48, seed=0, data_dir=data_dir)
    assert batch.shape == (2, 48) and int(batch.max()) < 50257


def test_user_text_file(tmp_path, data_dir):
    short = tmp_path / "short.txt"
    short.write_text("one two three")
    with pytest.raises(ValueError, match="fewer than one window"):
        corpus.token_batch("wordpiece", 2, 64, seed=0, data_dir=data_dir, text_path=short)
    long = tmp_path / "long.txt"
    long.write_text("The quick brown fox jumps over the lazy dog. " * 200)
    batch = corpus.token_batch("wordpiece", 2, 16, seed=0, data_dir=data_dir, text_path=long)
    assert batch.shape == (2, 16)
    assert corpus.text_fingerprint(long) != corpus.text_fingerprint(None)
