"""`lpzero-gp capture`: fills the cache, reloads on a second run, clear errors."""
from __future__ import annotations

import subprocess
import sys

from lpzero_gp.cli import main

SMALL = ["--batch-size", "2", "--seq-len", "32", "--max-elements", "64", "--quiet"]


def test_capture_fills_then_reloads(tmp_path, capsys):
    args = ["capture", "--space", "flexibert", "--limit", "2", "--cache-dir", str(tmp_path),
            *SMALL]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 records" in out and "2 captured" in out and "0 reloaded" in out
    assert main(args) == 0
    assert "0 captured" in capsys.readouterr().out
    assert main([*args[:3], "--records", "1", "0", *args[5:]]) == 0
    assert "2 reloaded" in capsys.readouterr().out


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    code = main(["capture", "--space", "flexibert", "--data-dir", str(tmp_path / "empty"),
                 "--limit", "1", *SMALL])
    err = capsys.readouterr().err
    assert code == 5  # a data error
    assert "nas-bench-bert/BERT_benchmark.json" in err and str(tmp_path / "empty") in err


def test_unknown_record_id(tmp_path, capsys):
    code = main(["capture", "--records", "no-such-record", "--cache-dir", str(tmp_path),
                 *SMALL])
    assert code == 5
    assert "no-such-record" in capsys.readouterr().err


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "lpzero_gp.cli", "--help"],
                          capture_output=True, text=True, check=True)
    assert "capture" in proc.stdout and "evaluate" in proc.stdout
