"""The local engine: this process (``workers == 1``) or a pool of worker processes.

Shared objects reach the workers through the pool's initializer: with ``fork`` (the default
where the platform has it) they are inherited, not copied; with ``spawn`` they are pickled
once per worker. A process connected to Ray (whose threads make ``fork`` unsafe) spawns. A pool whose worker process dies is restarted and its unfinished tasks are
resubmitted, up to ``max_retries`` times.
"""
from __future__ import annotations

import multiprocessing
import signal
import sys
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Iterator

from ..errors import EngineError
from . import Engine, Resources, Shared, run_task

_NOTHING = object()
# this worker process's shared objects, by key (installed by the pool's initializer)
_SHARED: dict[str, object] = {}


def _init_worker(shared: dict) -> None:
    # Ctrl-C reaches the whole process group: the driver alone handles it and ends the pool
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _SHARED.clear()
    _SHARED.update(shared)


def _pool_task(fn: Callable, key: str | None, items: list, num_cpus: int) -> list:
    value = _NOTHING if key is None else _SHARED[key]
    return run_task(fn, value, key is not None, items, num_cpus)


def _ray_connected() -> bool:
    ray = sys.modules.get("ray")
    return ray is not None and getattr(ray, "is_initialized", lambda: False)()


class LocalEngine(Engine):
    """This machine: ``workers`` processes (1: this process, no pool)."""

    name = "local"

    def __init__(self, workers: int = 1, max_retries: int = 3, start_method: str | None = None):
        super().__init__(workers, max_retries)
        methods = multiprocessing.get_all_start_methods()
        self.start_method = start_method or ("fork" if "fork" in methods else "spawn")
        self._shared: dict[str, object] = {}
        self._pool: ProcessPoolExecutor | None = None
        self._pool_keys: set[str] = set()

    def put(self, obj) -> Shared:
        key = uuid.uuid4().hex
        self._shared[key] = obj
        return Shared(key, obj)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is not None and set(self._shared) <= self._pool_keys:
            return self._pool
        self._stop_pool()
        method = self.start_method
        if method == "fork" and _ray_connected():
            method = "spawn"
        ctx = multiprocessing.get_context(method)
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx,
                                         initializer=_init_worker, initargs=(dict(self._shared),))
        self._pool_keys = set(self._shared)
        return self._pool

    def _chunks(self, fn, chunks, shared: Shared | None,
                resources: Resources) -> Iterator[tuple[int, list]]:
        if shared is not None and shared.key not in self._shared:
            raise EngineError("a shared object of another engine was passed to this one")
        if self.workers == 1:
            value = _NOTHING if shared is None else shared.ref
            for index, chunk in enumerate(chunks):
                yield index, run_task(fn, value, shared is not None, chunk, resources.num_cpus)
            return
        key = None if shared is None else shared.key
        pending = dict(enumerate(chunks))
        failures = 0
        while pending:
            pool = self._executor()
            futures = {pool.submit(_pool_task, fn, key, chunk, resources.num_cpus): index
                       for index, chunk in pending.items()}
            try:
                while futures:
                    done, _ = wait(futures, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = futures.pop(future)
                        results = future.result()
                        del pending[index]
                        yield index, results
            except BrokenProcessPool:
                failures += 1
                self._stop_pool()
                if failures > self.max_retries:
                    raise EngineError(f"a worker process died while running "
                                      f"{getattr(fn, '__name__', fn)} after {failures - 1} "
                                      f"restarts of the pool (max_retries {self.max_retries}); "
                                      f"{len(pending)} of {len(chunks)} chunks of tasks are "
                                      f"unfinished") from None
            except BaseException:  # interrupted, or a task raised: stop at once
                self._stop_pool(kill=True)
                raise

    def _stop_pool(self, kill: bool = False) -> None:
        if self._pool is not None:
            if kill:
                for process in list(getattr(self._pool, "_processes", {}).values()):
                    process.terminate()
            self._pool.shutdown(wait=not kill, cancel_futures=True)
            self._pool = None
            self._pool_keys = set()

    def close(self) -> None:
        self._stop_pool()
        self._shared.clear()

    def describe(self) -> dict:
        return {"engine": self.name, "workers": self.workers}
