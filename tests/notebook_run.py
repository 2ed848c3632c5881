"""Execute a notebook of ``notebooks/`` top to bottom (the notebook tests share this)."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

FOLDER = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, tmp_path: Path, timeout: int = 600) -> tuple[str, set[str]]:
    """Run ``notebooks/<name>`` in ``tmp_path``; assert no cell failed; return the text it
    printed and the MIME types it displayed."""
    nb = nbformat.read(FOLDER / name, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    kinds = {key for o in outputs if o.output_type == "display_data" for key in o.data}
    return text, kinds
