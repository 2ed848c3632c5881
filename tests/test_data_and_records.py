"""The data folder setting, missing-file errors and NAS-Bench-BERT record loading."""
from __future__ import annotations

import json

import pytest

from lpzero_gp import data
from lpzero_gp.benchmarks import nasbench_bert
from lpzero_gp.errors import DataFileError, MissingFileError, RecordError


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("LPZERO_GP_DATA", str(tmp_path / "env"))
    assert data.data_dir() == tmp_path / "env"
    assert data.data_dir(tmp_path / "opt") == tmp_path / "opt"
    monkeypatch.delenv("LPZERO_GP_DATA")
    assert data.data_dir().name == "data" and "lpzero-gp" in str(data.data_dir())


def test_missing_file_offline_names_file_folder_and_source(tmp_path):
    with pytest.raises(DataFileError) as err:
        data.ensure_file("nas-bench-bert/BERT_benchmark.json", tmp_path, download=False)
    msg = str(err.value)
    assert "nas-bench-bert/BERT_benchmark.json" in msg and str(tmp_path) in msg
    assert "raw.githubusercontent.com/aaronserianni/training-free-nas" in msg
    assert "--data-dir" in msg


def test_unknown_file_has_no_source(tmp_path):
    with pytest.raises(DataFileError, match="no known public source"):
        data.ensure_file("nowhere/x.json", tmp_path, download=True)


def test_every_known_file_with_checksum_has_hex_sha256():
    for f in data.KNOWN_FILES.values():
        assert f.url.startswith("https://")
        assert f.sha256 is None or (len(f.sha256) == 64 and int(f.sha256, 16) >= 0)


def test_download_checks_sha256(monkeypatch, tmp_path):
    """A download whose checksum does not match is refused and leaves nothing behind."""
    src = tmp_path / "served.txt"
    src.write_text("not the vocabulary")
    fake = data.DataFile("tokenizers/bert-base-uncased/vocab.txt", src.as_uri(), "0" * 64)
    monkeypatch.setitem(data.KNOWN_FILES, fake.relpath, fake)
    with pytest.raises(DataFileError, match="sha256"):
        data.ensure_file(fake.relpath, tmp_path / "d", download=True)
    assert not (tmp_path / "d" / fake.relpath).exists()
    good = data.DataFile(fake.relpath, src.as_uri(), data.sha256_of(src))
    monkeypatch.setitem(data.KNOWN_FILES, fake.relpath, good)
    path = data.ensure_file(fake.relpath, tmp_path / "d", download=True)
    assert path.read_text() == "not the vocabulary"


def test_load_all_records(data_dir):
    bench = nasbench_bert.load(data_dir=data_dir)
    raw = json.loads((data_dir / nasbench_bert.DEFAULT_FILE).read_text())
    assert len(bench) == len(raw) == 350
    assert bench.higher_is_better and bench.label_name == "GLUE"
    first = bench[0]
    assert first.id == str(raw[0]["id"]) and first.label == raw[0]["scores"]["glue"]
    assert first.quality == first.label
    assert {r.config.n_layers for r in bench} == {2, 4}
    assert {r.config.hidden_size for r in bench} == {128, 256}
    ops = {(lay.operation_type, lay.operation_parameter) for r in bench for lay in r.config.layers}
    assert ops == {("SA", "SDP"), ("SA", "WMA"), ("LT", "DFT"), ("LT", "DCT"),
                   ("DSC", 5), ("DSC", 9)}


def _write(tmp_path, records):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(records))
    return path


@pytest.mark.parametrize("mutate, message", [
    (lambda r: r["hparams"]["model_hparam_overrides"].pop("hidden_size"), "hidden_size"),
    (lambda r: r["hparams"]["model_hparam_overrides"]["nas_config"]["encoder_layers"][1]
     .update(operation_type="XX"), "unknown operation_type 'XX'"),
    (lambda r: r["hparams"]["model_hparam_overrides"]["nas_config"]["encoder_layers"][0]
     .pop("num_feed_forward"), "lacks key 'num_feed_forward'"),
    (lambda r: r["scores"].pop("glue"), "lacks scores.glue"),
    (lambda r: r["scores"].update(glue="high"), "finite number"),
    (lambda r: r.pop("hparams"), "model_hparam_overrides"),
])
def test_malformed_record_names_file_and_id(data_dir, tmp_path, mutate, message):
    raw = json.loads((data_dir / nasbench_bert.DEFAULT_FILE).read_text())[:5]
    mutate(raw[3])
    path = _write(tmp_path, raw)
    with pytest.raises(RecordError) as err:
        nasbench_bert.load(path)
    assert str(path) in str(err.value)
    assert f"record id {raw[3]['id']!r}" in str(err.value)
    assert message in str(err.value)


def test_duplicate_ids_and_bad_json(data_dir, tmp_path):
    raw = json.loads((data_dir / nasbench_bert.DEFAULT_FILE).read_text())[:3]
    with pytest.raises(RecordError, match="duplicate record id"):
        nasbench_bert.load(_write(tmp_path, raw + raw[:1]))
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(RecordError, match="not valid JSON"):
        nasbench_bert.load(bad)
    with pytest.raises(MissingFileError, match="no such benchmark file"):
        nasbench_bert.load(tmp_path / "absent.json")


def test_subset_keeps_order(data_dir):
    bench = nasbench_bert.load(data_dir=data_dir)
    sub = bench.subset(ids=[bench[5].id, bench[2].id])
    assert sub.ids == [bench[5].id, bench[2].id]
    assert len(bench.subset(limit=7)) == 7
    with pytest.raises(RecordError, match="'no-such-id' is not in"):
        bench.subset(ids=["no-such-id"])
