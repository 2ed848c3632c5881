"""The Ray engine: tasks on a Ray cluster, or on a Ray instance started on this machine.

Shared objects go into Ray's object store once (``ray.put``); each task receives the
reference, and a worker process fetches the object the first time one of its tasks needs it
and keeps it for the next ones. Tasks declare ``num_cpus`` and ``num_gpus``, so a mixed
cluster places GPU work on GPU nodes; a task whose worker process dies is retried
``max_retries`` times by Ray (a task that raises is not retried: the error is the driver's).
At most ``workers`` tasks are in flight (``None``: as many as the cluster can place).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Iterator

from ..errors import EngineError, EngineUnavailableError
from . import Engine, Resources, Shared, run_task

INSTALL_HINT = 'pip install "lpzero-gp[ray]"'
_NOTHING = object()
# this worker process's shared objects, by key: fetched from the object store once
_CACHE: "OrderedDict[str, object]" = OrderedDict()
_CACHE_SIZE = 4
_REMOTE = None


def import_ray():
    """The ``ray`` module, or a one-line :class:`EngineUnavailableError` saying how to get it."""
    try:
        import ray
    except ImportError:
        raise EngineUnavailableError(f"--engine ray needs Ray, which is not installed: "
                                     f"{INSTALL_HINT}") from None
    return ray


def _ray_task(fn, shared, items, num_cpus):
    # ``shared`` is (key, [ObjectRef]): inside a list, so Ray does not fetch the object for
    # every task; this worker fetches it once and keeps it
    value = _NOTHING
    if shared is not None:
        key, box = shared
        if key in _CACHE:
            _CACHE.move_to_end(key)
            value = _CACHE[key]
        else:
            import ray
            value = _CACHE[key] = ray.get(box[0])
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return run_task(fn, value, shared is not None, items, num_cpus)


def _check_reachable(address: str | None, timeout: float = 10.0) -> None:
    """A one-line :class:`EngineError` when ``address`` is ``HOST:PORT`` and nothing answers
    there (``ray.init`` would wait for minutes)."""
    import socket
    if not address or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise EngineError(f"--address {address}: no Ray cluster answers there "
                          f"({exc.strerror or exc}); start one with `ray start --head` on that "
                          f"machine, or leave --address out to start Ray here") from None


def _remote(ray):
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = ray.remote(_ray_task)
    return _REMOTE


class RayEngine(Engine):
    """Ray: joins the cluster at ``address`` (or ``$RAY_ADDRESS``), or starts a local Ray
    instance (shut down by :meth:`close`); an already initialised Ray is used as it is."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 max_retries: int = 3):
        super().__init__(workers, max_retries)
        self.ray = import_ray()
        self.address = address
        self._started = False

    def _connect(self) -> None:
        """Join or start Ray, the first time the engine has work (not for a run whose work is
        all cached)."""
        address = self.address
        if not self.ray.is_initialized():
            _check_reachable(address)
            try:
                self.ray.init(address=address, include_dashboard=False, log_to_driver=False,
                              logging_level="ERROR")
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {address}" if address else "a local Ray instance"
                raise EngineError(f"cannot start or join {where}: "
                                  f"{' '.join(str(exc).split())}") from None
            self._started = True

    def put(self, obj) -> Shared:
        self._connect()
        ref = self.ray.put(obj)
        return Shared(ref.hex(), ref)

    def _chunks(self, fn, chunks, shared: Shared | None,
                resources: Resources) -> Iterator[tuple[int, list]]:
        self._connect()
        ray = self.ray
        task = _remote(ray).options(num_cpus=resources.num_cpus, num_gpus=resources.num_gpus,
                                    max_retries=self.max_retries, retry_exceptions=False)
        box = None if shared is None else (shared.key, [shared.ref])
        limit = self.workers or len(chunks)
        waiting = list(enumerate(chunks))[::-1]
        running: dict = {}
        try:
            while waiting or running:
                while waiting and len(running) < limit:
                    index, chunk = waiting.pop()
                    running[task.remote(fn, box, chunk, resources.num_cpus)] = index
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    index = running.pop(ref)
                    yield index, self._get(ref, fn)
        except BaseException:
            for ref in running:
                ray.cancel(ref, force=True)
            raise

    def _get(self, ref, fn):
        ray = self.ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:  # the task raised: its own error
            cause = getattr(exc, "cause", None)
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.RayError) as exc:
            raise EngineError(f"a Ray task of {getattr(fn, '__name__', fn)} failed after "
                              f"{self.max_retries} retries: "
                              f"{' '.join(str(exc).split())[:300]}") from None

    def parallelism(self) -> int:
        if self.workers:
            return self.workers
        self._connect()
        return max(1, int(self.ray.cluster_resources().get("CPU", 1)))

    def describe(self) -> dict:
        out = {"engine": self.name, "workers": self.workers, "address": self.address,
               "ray": self.ray.__version__}
        try:
            self._connect()
            out["cluster_resources"] = {k: v for k, v in
                                        self.ray.cluster_resources().items()
                                        if k in ("CPU", "GPU")}
        except Exception:  # noqa: BLE001 - a description, never a failure
            pass
        return out

    def close(self) -> None:
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
        self._started = False
