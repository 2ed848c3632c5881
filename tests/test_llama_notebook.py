"""The LLaMA benchmark notebook runs top to bottom at a tiny size (build, plot, search)."""
from __future__ import annotations

from notebook_run import execute


def test_llama_notebook_executes(tmp_path):
    text, kinds = execute("llama_benchmark.ipynb", tmp_path)
    assert "12 architectures" in text and "seed-vs-seed" in text and "found proxy" in text
    assert "image/png" in kinds
