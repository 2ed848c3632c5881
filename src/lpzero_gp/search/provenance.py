"""Where a found proxy comes from: settings, seeds, code version, records of each split.

Written into ``found.json`` and the run's ``config.json`` so a proxy can be traced back to the
run that found it and its figures recomputed (``lpzero-gp evaluate --proxy found.json``).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT_S = 10


def _git(args: list[str], folder: Path) -> str | None:
    """The stripped output of ``git args`` run in ``folder``; ``None`` when git is missing,
    fails, or takes too long."""
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                              timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_commit(folder: str | os.PathLike | None = None) -> str | None:
    """The commit checked out in the git working tree holding ``folder`` (default: this
    package's source), suffixed ``-dirty`` when ``git status --porcelain`` lists anything;
    ``None`` outside a git checkout, where git tracks nothing in ``folder`` (an installed
    copy inside some other repository's ignored folder), or without git. Never raises."""
    try:
        folder = Path(folder) if folder is not None else Path(__file__).resolve().parent
        if not folder.is_dir():
            return None
    except OSError:
        return None
    commit = _git(["rev-parse", "HEAD"], folder)
    if not commit or _git(["ls-files", "--error-unmatch", "."], folder) is None:
        return None
    status = _git(["status", "--porcelain"], folder)
    return f"{commit}-dirty" if status else commit


def package_version() -> str:
    from .. import __version__
    return __version__


def provenance(spec: dict, split_ids: dict[str, list[str]], *, space: str, benchmark: str,
               label: str, evaluations: dict | None = None,
               commit: str | None = None) -> dict:
    """The provenance block of a run: ``spec`` (the run spec's dict, capture settings
    resolved), the GP and split seeds, the package version, the git ``commit``, the number of
    formula evaluations (``None`` until the search has run) and the record ids of each split."""
    search = spec["search"]
    split_seed = search["seed"] if search.get("split_seed") is None else search["split_seed"]
    return {"space": space, "benchmark": benchmark, "label": label,
            "config": dict(search), "gp_seed": search["seed"], "split_seed": split_seed,
            "split_fractions": list(search["split_fractions"]),
            "capture": dict(spec["capture"]), "records": dict(spec["records"]),
            "lpzero_gp_version": package_version(), "commit": commit,
            "evaluations": evaluations,
            "splits": {name: list(ids) for name, ids in split_ids.items()}}
