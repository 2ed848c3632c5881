"""The engine setting (``--engine local|ray``): the same captures, search and benchmark lines on
a local Ray instance as on the local engine, bit for bit; a training run whose Ray worker is
killed is retried, and the build ends with every line once; without Ray, one line saying how
to install it."""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from lpzero_gp.benchmarks.builder import BuildPlan, TrainSettings, build
from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import CollectStats, collect_inputs
from lpzero_gp.engine import make_engine
from lpzero_gp.errors import EngineUnavailableError, EXIT_USAGE
from lpzero_gp.spaces import get_space

REPO = Path(__file__).resolve().parents[1]
LLAMA = get_space("llama")
LLAMA_BENCH = REPO / "experiments" / "llama" / "wide_pydoc"
CAPTURE = CaptureSettings(batch_size=2, seq_len=32, max_elements=512)
TRAIN = TrainSettings(steps=12, batch_size=4, seq_len=32, val_batches=1, warmup=2)
SEARCH = dict(records=12, batch_size=2, seq_len=32, max_elements=512, progress=False,
              generations=2, population=10, seed=3)


def _exit_once(marker_dir: str, item: int) -> int:
    """A task whose process dies the first time it runs item 1 (a marker file remembers)."""
    marker = Path(marker_dir) / "died"
    if item == 1 and not marker.exists():
        marker.write_text("once")
        os._exit(1)
    return item * item


def test_local_pool_resubmits_the_tasks_of_a_dead_worker(tmp_path):
    with make_engine("local", workers=2) as engine:
        shared = engine.put(str(tmp_path))
        assert engine.map(_exit_once, range(6), shared=shared, chunksize=1) == \
            [i * i for i in range(6)]
    assert (tmp_path / "died").exists()
    from lpzero_gp.errors import EngineError
    (tmp_path / "died").unlink()
    with make_engine("local", workers=2, max_retries=0) as engine:
        with pytest.raises(EngineError, match="died while running _exit_once after 0 restarts"):
            engine.map(_exit_once, range(6), shared=engine.put(str(tmp_path)), chunksize=1)


@pytest.fixture(scope="module")
def ray_instance():
    """A Ray instance of 2 CPUs on this machine, for this module's tests."""
    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install -e ".[ray]"')
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _archs(n: int, seed: int = 7) -> list[dict]:
    return [LLAMA.arch_to_dict(a) for a in LLAMA.sample("tiny", n, seed)]


def _lines(path: Path) -> list[str]:
    """The build's lines without their wall-clock time, in a fixed order (lines are appended as
    runs finish, so their order depends on the engine)."""
    out = []
    for text in path.read_text().splitlines():
        line = json.loads(text)
        del line["wall_s"]
        out.append(json.dumps(line, sort_keys=True))
    return sorted(out)


def test_capture_on_ray_equals_local(ray_instance):
    records = LLAMA.load_benchmark(LLAMA_BENCH).records[:3]
    local = collect_inputs(LLAMA, records, CAPTURE, cache=False, progress=False)
    stats = CollectStats()
    with make_engine("ray", workers=2) as engine:
        remote = collect_inputs(LLAMA, records, CAPTURE, cache=False, progress=False,
                                stats=stats, engine=engine)
    # a local pool beside a Ray driver spawns its workers (fork is unsafe there)
    with make_engine("local", workers=2) as engine:
        pooled = collect_inputs(LLAMA, records, CAPTURE, cache=False, progress=False,
                                engine=engine)
    assert stats.captured == 3
    for bank in (remote, pooled):
        assert bank.record_ids == local.record_ids
        assert all(a.equal(b) for a, b in zip(local.inputs, bank.inputs))
        assert all(a.meta == b.meta for a, b in zip(local.inputs, bank.inputs))


def test_search_on_ray_equals_local(ray_instance, tmp_path):
    from lpzero_gp.search import search
    from test_search import comparable
    local = search("flexibert", out=tmp_path / "local", workers=1, **SEARCH)
    remote = search("flexibert", out=tmp_path / "ray", workers=2, engine="ray", **SEARCH)
    assert read_config(remote.out)["search"]["engine"] == "ray"
    mine, theirs = comparable(local.out), comparable(remote.out)
    for found in (mine["found"], theirs["found"]):
        for key in ("engine", "address"):
            found["provenance"]["config"].pop(key, None)
    assert mine == theirs


def read_config(out: Path) -> dict:
    return json.loads((out / "config.json").read_text())


def test_build_on_ray_equals_local_with_one_and_two_workers(ray_instance, tmp_path):
    plan = lambda: BuildPlan("llama", _archs(2), seeds=(0,), settings=TRAIN)  # noqa: E731
    local = build(plan(), tmp_path / "local.jsonl", progress=False)
    one = build(plan(), tmp_path / "ray1.jsonl", progress=False, engine="ray", workers=1)
    two = build(plan(), tmp_path / "ray2.jsonl", progress=False, engine="ray", workers=2)
    assert len(_lines(local)) == 2
    assert _lines(local) == _lines(one) == _lines(two)


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (read from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [c for c, p in parents.items() if p in frontier]
        found += children
        frontier = children
    return found


def _kill_first_training_worker(stop: threading.Event, killed: list) -> None:
    """SIGKILL the first worker process of this test's Ray instance (a descendant of this
    process) seen running a task: Ray titles it ``ray::_ray_task``."""
    while not stop.is_set():
        for pid in _descendants(os.getpid()):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if title.startswith(b"ray::_ray_task"):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
        time.sleep(0.02)


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads processes from /proc")
def test_killed_ray_worker_is_retried_and_the_build_loses_nothing(ray_instance, tmp_path):
    archs = _archs(3, seed=11)
    local = build(BuildPlan("llama", archs, seeds=(0,), settings=TRAIN),
                  tmp_path / "local.jsonl", progress=False)
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_first_training_worker, args=(stop, killed))
    killer.start()
    try:
        remote = build(BuildPlan("llama", archs, seeds=(0,), settings=TRAIN),
                       tmp_path / "ray.jsonl", progress=False, engine="ray", workers=2)
    finally:
        stop.set()
        killer.join()
    assert killed, "no Ray worker was seen running a training task"
    assert len(remote.read_text().splitlines()) == 3  # none lost, none written twice
    assert _lines(remote) == _lines(local)


def test_ray_engine_without_ray_is_one_line_saying_how_to_install(monkeypatch, tmp_path,
                                                                  capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(EngineUnavailableError, match=r'pip install "lpzero-gp\[ray\]"'):
        make_engine("ray")
    from lpzero_gp.cli import main
    status = main(["build-benchmark", "--space", "llama", "--preset", "tiny", "--archs", "1",
                   "--seeds", "1", "--steps", "2", "--batch-size", "2", "--seq-len", "16",
                   "--out", str(tmp_path / "b"), "--no-progress", "--engine", "ray"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == EXIT_USAGE
    assert err[-1] == ('lpzero-gp: error: --engine ray needs Ray, which is not installed: '
                       'pip install "lpzero-gp[ray]"')
    assert not (tmp_path / "b" / "benchmark.jsonl").exists()


def test_local_engine_takes_no_address():
    from lpzero_gp.errors import EngineError
    with pytest.raises(EngineError, match="--address .* is for --engine ray"):
        make_engine("local", address="10.0.0.1:6379")


def test_an_address_where_no_cluster_answers_is_one_line():
    import socket
    from lpzero_gp.engine.ray import _check_reachable
    from lpzero_gp.errors import EngineError
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EngineError, match=rf"--address 127.0.0.1:{port}: no Ray cluster "
                                          rf"answers there"):
        _check_reachable(f"127.0.0.1:{port}")
