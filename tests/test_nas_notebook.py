"""The NAS-under-a-budget notebook runs top to bottom at a tiny size."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "nas_under_budget.ipynb"


def test_nas_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "12 candidates within params<=1e+06" in text and "picks:" in text
    kinds = {key for o in outputs if o.output_type == "display_data" for key in o.data}
    assert {"image/png", "text/markdown"} <= kinds
