"""The search notebook runs top to bottom (so it never goes stale)."""
from __future__ import annotations

from notebook_run import execute


def test_search_notebook_executes(tmp_path):
    text, kinds = execute("search_flexibert.ipynb", tmp_path, timeout=300)
    assert "found proxy" in text and "LPZero (published)" in text
    assert {"text/latex", "image/png", "text/markdown"} <= kinds
