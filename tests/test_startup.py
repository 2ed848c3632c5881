"""``lpzero-gp --help`` and ``lpzero-gp show`` start without torch, scipy or the search: what a
fresh process has imported when the command returns (the start-up time itself is measured by
``bench/bench_startup.py``, never asserted here)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lpzero_gp.language import LPZERO_GPT2_PROXY

SRC = Path(__file__).resolve().parents[1] / "src"

# run the command line in-process, then report every imported module on stderr's last line
_PROBE = """
import json, sys
from lpzero_gp.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exc:
    status = exc.code
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""

HEAVY = ("torch", "scipy", "sklearn", "transformers", "lpzero_gp.search.api",
         "lpzero_gp.search.loop", "lpzero_gp.baselines.hand_designed", "lpzero_gp.capture",
         "ray")


def _imported(*args: str) -> tuple[int, list[str], str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["status"], report["modules"], done.stdout


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


@pytest.mark.parametrize("args", [
    ["--help"],
    ["show", "--help"],
    ["show", "--proxy", "layer_mean(pool_mean(t_mean(square(W))))"],
    ["show", "--proxy", "layer_mean(pool_mean(t_mean(square(W))))", "--simplify", "--latex"],
    ["show", "--proxy", LPZERO_GPT2_PROXY, "--language", "lpzero", "--latex"],
], ids=["help", "show-help", "show", "show-simplify-latex", "show-lpzero"])
def test_command_starts_without_torch_scipy_or_the_search(args):
    status, modules, out = _imported(*args)
    assert status in (0, None), out
    assert "lpzero_gp.cli" in modules
    assert _heavy(modules) == []
    if args[0] == "show" and "--help" not in args:
        assert out.startswith("formula:")
        assert "lpzero_gp.language.registry" in modules


def test_a_bad_formula_in_show_still_needs_no_torch():
    status, modules, _ = _imported("show", "--proxy", "layer_mean(nope(W))")
    assert status == 3  # a formula error (see lpzero_gp.errors)
    assert _heavy(modules) == []
