"""Proxies on the full tensors, one architecture at a time: what the sketch estimates, exactly.

The capture cache keeps a sketch of every tensor (:mod:`lpzero_gp.bank`); a search needs no
more. For a final figure, or to see what the sketch changes for one proxy, :func:`exact_results`
captures each record's full tensors (``max_elements=None``), evaluates the proxies on them and
lets them go before the next record: memory holds one architecture's tensors, nothing is
cached, and the cost is one capture per record. A proxy's value on one architecture does not
depend on the others in a bank (padding layers never influence a score: tested), so the scores
are those of one bank of every full capture.

    lpzero-gp evaluate --proxy experiments/gpt2/found.json --exact
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from .bank import InputBank
from .cache import CaptureSettings
from .collect import capture_record, make_space_batch
from .errors import CaptureError, LpzeroError, UsageError


def exact_results(proxies: Sequence, space, records: Sequence, settings: CaptureSettings,
                  data_dir=None, progress: bool = True) -> list:
    """One :class:`~lpzero_gp.language.proxy.ProxyResult` per proxy: its scores (N,) on the
    full tensors of ``records`` (captured with ``settings`` but ``max_elements=None``), in
    record order, with the status :meth:`Proxy.evaluate` gives."""
    from .hand_bank import hand_names
    from .language.interpret import interpret
    from .language.proxy import score_status
    for proxy in proxies:
        hand = hand_names(proxy)
        if hand:
            raise UsageError(f"proxy {proxy} reads hand-designed proxies ({', '.join(hand)}), "
                             f"which have no sketch to compare with; evaluate it without "
                             f"--exact")
    if not records:
        raise UsageError("no records to evaluate")
    settings = dataclasses.replace(settings, max_elements=None).resolved(space)
    batch = make_space_batch(space, settings, data_dir, records)
    raw = np.empty((len(proxies), len(records)), dtype=np.float64)
    for j, record in enumerate(tqdm(records, desc=f"exact {space.name}", unit="arch",
                                    disable=not progress)):
        try:
            inputs = capture_record(space, record, settings, batch)
        except LpzeroError:
            raise
        except Exception as exc:  # noqa: BLE001 - named with its record
            raise CaptureError(f"capturing record {record.id} of {record.benchmark} in full "
                               f"failed: {type(exc).__name__}: {exc}") from None
        bank = InputBank.from_inputs([inputs], [record.id], [record.quality])
        for i, proxy in enumerate(proxies):
            raw[i, j] = float(interpret(proxy.tree, proxy.language, bank)[0])
        del inputs, bank
    ids = [str(r.id) for r in records]
    return [score_status(row, ids) for row in raw]
