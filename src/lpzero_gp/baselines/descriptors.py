"""Architecture descriptors: scores read off a record's config, with no model at all.

A space's ``descriptors(record)`` gives them (number of layers, hidden size, parameter counts
in closed form, depth-then-width, n_layer * d_model^2 ...). They are the bar any zero-cost
proxy has to clear: a proxy that ranks architectures no better than their depth adds nothing.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..benchmarks import Record

LABELS = {
    "n_layers": "#Layers",
    "hidden_size": "Hidden size",
    "d_model": "d_model",
    "n_params": "#Params (closed form)",
    "n_params_space": "#Params (space build, closed form)",
    "n_params_reference": "#Params (reference build, closed form)",
    "n_params_nonembedding": "#Params non-embedding (closed form)",
    "n_params_total": "#Params total (closed form)",
    "layers_then_hidden": "Layers, then hidden (lexicographic)",
    "layers_x_dmodel2": "n_layer * d_model^2",
    "layers_x_hidden2": "n_layer * hidden^2",
    "flops_per_token": "MACs per token (closed form)",
}


def descriptor_label(name: str) -> str:
    """A display name for a descriptor key."""
    return LABELS.get(name, name)


def descriptor_scores(space, records: Sequence[Record]) -> dict[str, np.ndarray]:
    """Every descriptor of ``space`` on ``records``: name -> float64 array (n_records,).

    Raises ``ValueError`` naming the record if records disagree on which descriptors exist.
    """
    if not records:
        raise ValueError("descriptor_scores: no records given")
    rows = [space.descriptors(r) for r in records]
    names = list(rows[0])
    for record, row in zip(records, rows):
        if list(row) != names:
            raise ValueError(f"record {record.id}: descriptors {sorted(row)} differ from the "
                             f"first record's {sorted(names)}")
    return {n: np.array([float(row[n]) for row in rows], dtype=np.float64) for n in names}


def depth_groups(space, records: Sequence[Record]) -> np.ndarray:
    """The number of layers of each record (for within-depth correlations), (n_records,)."""
    return np.array([int(space.descriptors(r)["n_layers"]) for r in records])
