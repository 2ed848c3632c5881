"""The search notebook runs top to bottom (so it never goes stale)."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "search_flexibert.ipynb"


def test_search_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "found proxy" in text and "LPZero (published)" in text
    kinds = {key for o in outputs if o.output_type == "display_data" for key in o.data}
    assert {"text/latex", "image/png", "text/markdown"} <= kinds
