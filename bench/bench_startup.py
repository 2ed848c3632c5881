"""Start-up time of ``lpzero-gp --help`` and ``lpzero-gp show`` against ``import torch``.

    python bench/bench_startup.py [--repeats 7]

Each command runs ``--repeats`` times as a fresh process (after one unmeasured run that warms
the file cache); prints the median and fastest wall time of each, and the ratio of its median
to that of ``python -c "import torch"``. ``lpzero-gp`` runs as ``python -m lpzero_gp.cli``,
the function the installed script calls. All figures are measured in this one run on this
machine. (That the two commands import neither torch nor scipy is asserted by
``tests/test_startup.py``; the times are only printed.)
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import lpzero_gp

FORMULA = "layer_mean(pool_mean(t_mean(square(W))))"
CLI = [sys.executable, "-m", "lpzero_gp.cli"]
COMMANDS = {
    'python -c "pass"': [sys.executable, "-c", "pass"],
    "lpzero-gp --help": [*CLI, "--help"],
    f"lpzero-gp show --proxy '{FORMULA}'": [*CLI, "show", "--proxy", FORMULA],
    f"lpzero-gp show --proxy '{FORMULA}' --latex": [*CLI, "show", "--proxy", FORMULA,
                                                     "--latex"],
    'python -c "import torch"': [sys.executable, "-c", "import torch"],
}
REFERENCE = 'python -c "import torch"'


def wall_times(argv: list[str], repeats: int, env: dict) -> list[float]:
    """Wall seconds of ``repeats`` runs of ``argv`` (after one unmeasured run)."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
        if i:
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    # the children import the same lpzero_gp as this process (a checkout or an installed copy)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [
        str(Path(lpzero_gp.__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    medians, fastest = {}, {}
    for name, argv in COMMANDS.items():
        times = wall_times(argv, args.repeats, env)
        medians[name], fastest[name] = statistics.median(times), min(times)
    import torch
    print(f"start-up wall time, {args.repeats} runs each: Python {platform.python_version()}, "
          f"torch {torch.__version__}, {os.cpu_count()} CPUs")
    width = max(map(len, COMMANDS))
    print(f"{'command':{width}s}  median s  fastest s  median / import torch")
    for name in COMMANDS:
        print(f"{name:{width}s}  {medians[name]:8.3f}  {fastest[name]:9.3f}  "
              f"{medians[name] / medians[REFERENCE]:21.2f}")


if __name__ == "__main__":
    main()
