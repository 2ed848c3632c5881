"""The state of a search after a generation, written atomically so a kill never corrupts it.

A checkpoint holds formula *texts* (the population and the hall of fame, in order), the memo
of every formula evaluated so far (by canonical text), the log, the RPS counts and both random
generators' states (the search's own ``random.Random`` for tournament selection, in the field
``global_random``, named for where selection drew from before, and the one for variation). Resuming from it continues exactly as the uninterrupted
run would have.
"""
from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NoCheckpointError, OutputError

CHECKPOINT_NAME = "checkpoint.pkl"
CHECKPOINT_VERSION = 1


@dataclass
class SearchState:
    """Where a search stands after generation ``generation`` (0: the initial population)."""

    spec: dict
    generation: int
    population: list[str]
    hall_of_fame: list[str]
    memo: dict[str, dict]
    log: list[dict]
    rps_counts: dict[str, int]
    global_random: tuple  # tournament selection's generator (see the module docstring)
    variation_random: tuple
    elapsed: float
    record_ids: list[str] = field(default_factory=list)
    version: int = CHECKPOINT_VERSION


def save_checkpoint(state: SearchState, folder: str | os.PathLike) -> Path:
    """Pickle ``state`` to ``folder/checkpoint.pkl`` atomically (a temporary file, then an
    ``os.replace``)."""
    folder = Path(folder)
    path = folder / CHECKPOINT_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".checkpoint-")
    except OSError as exc:
        raise OutputError(f"cannot write the checkpoint {path} ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(state, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write the checkpoint {path} ({exc.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(folder: str | os.PathLike) -> SearchState | None:
    """The state saved in ``folder``, or ``None`` when there is no checkpoint."""
    path = Path(folder) / CHECKPOINT_NAME
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as fh:
            state = pickle.load(fh)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise NoCheckpointError(f"cannot read the checkpoint {path}: "
                                f"{' '.join(str(exc).split())[:200]}; remove it to start "
                                f"afresh, or choose another --out") from exc
    if not isinstance(state, SearchState) or getattr(state, "version", None) != \
            CHECKPOINT_VERSION:
        raise NoCheckpointError(f"{path} is not a checkpoint of this version of lpzero-gp; "
                                f"choose another --out")
    return state
