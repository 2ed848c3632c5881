"""The NAS-under-a-budget notebook runs top to bottom at a tiny size."""
from __future__ import annotations

from notebook_run import execute


def test_nas_notebook_executes(tmp_path):
    text, kinds = execute("nas_under_budget.ipynb", tmp_path)
    assert "12 candidates within params<=1e+06" in text and "picks:" in text
    assert {"image/png", "text/markdown"} <= kinds
