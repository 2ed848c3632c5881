"""Where parallel work runs: this machine (``local``) or a Ray cluster (``ray``).

Capture, benchmark building, the proxy search's evaluation of a population and NAS scoring
all hand their tasks to an :class:`Engine`::

    with make_engine("ray", address="auto", workers=8) as engine:
        bank = engine.put(bank)                    # sent once; tasks receive a handle
        scores = engine.map(score, formulas, shared=bank)           # in the order given
        for i, line in engine.as_completed(train, jobs, resources=Resources(num_gpus=1)):
            write(line)                            # the driver alone writes

A task is a module-level function, ``fn(item)`` or ``fn(shared_value, item)``; it must draw
its randomness from its item (run seed + task), never from the process that runs it, so a
result is the same whatever the engine and the number of workers. Each task runs with
``Resources.num_cpus`` torch threads, wherever it runs, for the same reason.

This module imports neither torch nor Ray: ``ray`` is imported when a Ray engine is made.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import EngineError

ENGINES = ("local", "ray")
#: attempts after the first for a task whose worker process died (not for a task that raised)
DEFAULT_MAX_RETRIES = 3


@dataclass(frozen=True)
class Resources:
    """What one task needs: ``num_cpus`` CPU threads (torch runs with that many) and
    ``num_gpus`` GPUs (Ray places the task on a node that has them)."""

    num_cpus: int = 1
    num_gpus: float = 0.0

    def __post_init__(self):
        if int(self.num_cpus) < 1 or self.num_gpus < 0:
            raise ValueError(f"invalid task resources {self}")


@dataclass(frozen=True)
class Shared:
    """A handle to an object put once for many tasks (:meth:`Engine.put`). ``key`` names it
    in the workers' caches; ``ref`` is the engine's own reference to it."""

    key: str
    ref: Any


class Engine(ABC):
    """Runs tasks; see the module docstring. A context manager (:meth:`close` on exit)."""

    name = "engine"

    def __init__(self, workers: int | None = 1, max_retries: int = DEFAULT_MAX_RETRIES):
        if workers is not None and int(workers) < 1:
            raise EngineError(f"--workers must be at least 1, got {workers}")
        if int(max_retries) < 0:
            raise EngineError(f"max_retries must be >= 0, got {max_retries}")
        self.workers = None if workers is None else int(workers)
        self.max_retries = int(max_retries)

    @abstractmethod
    def put(self, obj) -> Shared:
        """Make ``obj`` available to tasks, once; pass the handle as ``shared=``."""

    @abstractmethod
    def _chunks(self, fn: Callable, chunks: list[list], shared: Shared | None,
                resources: Resources) -> Iterator[tuple[int, list]]:
        """Run ``fn`` over each chunk; yield ``(chunk index, results)`` as chunks finish."""

    def map(self, fn: Callable, items: Iterable, *, shared: Shared | None = None,
            resources: Resources = Resources(), chunksize: int | None = None) -> list:
        """``[fn(item) for item in items]`` (``fn(shared value, item)`` with ``shared``), in
        the order of ``items``. Default ``chunksize``: a quarter of a share per worker."""
        items = list(items)
        if not items:
            return []
        size = chunksize or max(1, math.ceil(len(items) / (4 * self.parallelism())))
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        done: dict[int, list] = {}
        for index, results in self._chunks(fn, chunks, shared, resources):
            done[index] = results
        return [r for index in range(len(chunks)) for r in done[index]]

    def as_completed(self, fn: Callable, items: Iterable, *, shared: Shared | None = None,
                     resources: Resources = Resources()) -> Iterator[tuple[int, Any]]:
        """``(index, fn(item))`` for every item, one task each, in the order they finish."""
        items = list(items)
        for index, results in self._chunks(fn, [[item] for item in items], shared, resources):
            yield index, results[0]

    def parallelism(self) -> int:
        """How many tasks run at once (at most)."""
        return self.workers or 1

    def describe(self) -> dict:
        """What ran the work, for a run's records."""
        return {"engine": self.name, "workers": self.workers}

    def close(self) -> None:
        """Release the workers (and a Ray instance this engine started)."""

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


def make_engine(engine: "str | Engine | None" = "local", address: str | None = None,
                workers: int | None = 1, *, max_retries: int = DEFAULT_MAX_RETRIES,
                start_method: str | None = None) -> Engine:
    """The engine named ``engine`` (``local``, the default, or ``ray``); an :class:`Engine`
    is returned as it is. ``address``: the Ray cluster to join (``auto``, ``HOST:PORT`` or
    ``ray://HOST:10001``; default: ``$RAY_ADDRESS``, else a Ray instance started on this
    machine). ``workers``: tasks run at once (local: processes, 1 = this process; Ray: tasks in
    flight, ``None`` = as many as the cluster's resources allow)."""
    if isinstance(engine, Engine):
        return engine
    name = engine or "local"
    if name == "local":
        if address is not None:
            raise EngineError(f"--address {address} is for --engine ray; the local engine "
                              f"runs on this machine")
        from .local import LocalEngine
        return LocalEngine(workers if workers is not None else 1, max_retries=max_retries,
                           start_method=start_method)
    if name == "ray":
        from .ray import RayEngine
        return RayEngine(workers, address=address, max_retries=max_retries)
    raise EngineError(f"unknown engine {name!r}: choose one of {', '.join(ENGINES)}")


def run_task(fn: Callable, value, has_shared: bool, items: Sequence, num_cpus: int) -> list:
    """Run ``fn`` over ``items`` in this process with ``num_cpus`` torch threads (what every
    engine's workers do with a chunk of tasks)."""
    import torch
    previous = torch.get_num_threads()
    if previous != num_cpus:
        torch.set_num_threads(int(num_cpus))
    try:
        return [fn(value, item) if has_shared else fn(item) for item in items]
    finally:
        if previous != num_cpus:
            torch.set_num_threads(previous)


__all__ = ["DEFAULT_MAX_RETRIES", "ENGINES", "Engine", "Resources", "Shared", "make_engine",
           "run_task"]
