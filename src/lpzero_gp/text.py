"""Real English text and token batches.

The default text is the prose of Python's own documentation, shipped in the standard library
(``pydoc_data.topics``, about 465 K characters): real English, no download. A user may name
any UTF-8 text file instead. Tokenisers are read from the data folder with the ``tokenizers``
library: the 30,522-token uncased WordPiece vocabulary (FlexiBERT) and GPT-2's byte-level BPE.
"""
from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path

import torch

from .data import ensure_file

BERT_VOCAB = "tokenizers/bert-base-uncased/vocab.txt"
GPT2_ENCODER = "tokenizers/gpt2/encoder.json"
GPT2_MERGES = "tokenizers/gpt2/vocab.bpe"


def english_text(path: str | os.PathLike | None = None) -> str:
    """The text of ``path`` (UTF-8), or the standard library's documentation prose."""
    if path is not None:
        return Path(path).read_text(encoding="utf-8")
    from pydoc_data.topics import topics
    return "\n\n".join(topics[k] for k in sorted(topics))


def text_fingerprint(path: str | os.PathLike | None = None) -> str:
    """A short hash of the text, so caches keyed on it change when the text does."""
    return hashlib.sha256(english_text(path).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=4)
def wordpiece_tokenizer(data_dir: str | None = None):
    """The uncased WordPiece tokenizer of BERT / FlexiBERT (vocabulary of 30,522)."""
    from tokenizers import BertWordPieceTokenizer
    return BertWordPieceTokenizer(str(ensure_file(BERT_VOCAB, data_dir)), lowercase=True)


@functools.lru_cache(maxsize=4)
def bpe_tokenizer(data_dir: str | None = None):
    """GPT-2's byte-level BPE tokenizer (ids below 50,257)."""
    from tokenizers import ByteLevelBPETokenizer
    return ByteLevelBPETokenizer(str(ensure_file(GPT2_ENCODER, data_dir)),
                                 str(ensure_file(GPT2_MERGES, data_dir)))


@functools.lru_cache(maxsize=8)
def _token_stream(kind: str, data_dir: str | None, text_path: str | None) -> torch.Tensor:
    text = english_text(text_path)
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    tok = wordpiece_tokenizer(data_dir) if kind == "wordpiece" else bpe_tokenizer(data_dir)
    ids: list[int] = []
    for enc in tok.encode_batch(paragraphs, add_special_tokens=False):
        ids.extend(enc.ids)
    return torch.tensor(ids, dtype=torch.long)


def token_batch(kind: str, batch_size: int, seq_len: int, seed: int,
                data_dir: str | os.PathLike | None = None,
                text_path: str | os.PathLike | None = None) -> torch.Tensor:
    """``batch_size`` windows of ``seq_len`` consecutive tokens of real text, shape (B, S).

    ``kind`` is ``"wordpiece"`` (each row is ``[CLS] … [SEP]``) or ``"bpe"`` (plain windows).
    Window starts are drawn from ``seed``, so every architecture of a run sees the same batch.
    """
    if kind not in ("wordpiece", "bpe"):
        raise ValueError(f"unknown tokenizer kind {kind!r}")
    stream = _token_stream(kind, None if data_dir is None else str(data_dir),
                           None if text_path is None else str(text_path))
    body = seq_len - 2 if kind == "wordpiece" else seq_len
    if body <= 0:
        raise ValueError(f"seq_len {seq_len} is too short")
    if stream.numel() < body + 1:
        raise ValueError(f"the text {text_path or 'pydoc_data.topics'} has only "
                         f"{stream.numel()} tokens, fewer than one window of {body}")
    gen = torch.Generator().manual_seed(int(seed))
    starts = torch.randint(0, stream.numel() - body, (batch_size,), generator=gen)
    rows = torch.stack([stream[s:s + body] for s in starts.tolist()])
    if kind == "wordpiece":
        tok = wordpiece_tokenizer(None if data_dir is None else str(data_dir))
        cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        rows = torch.cat([torch.full((batch_size, 1), cls), rows,
                          torch.full((batch_size, 1), sep)], dim=1)
    return rows
