"""The README's "Adding a primitive" example works as written (run in a fresh process)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_readme_primitive_example(tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Adding a primitive", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    lang = (REPO / "primitives" / "default.toml").read_text().replace(
        "[operations]\n", "[operations]\nsoftsign = 0.5\n", 1)
    (tmp_path / "mine.toml").write_text(lang.replace('name = "default"', 'name = "mine"'))
    script = code + f"""
from lpzero_gp.language import Proxy
p = Proxy.parse("layer_mean(pool_mean(t_mean(softsign(W))))", {str(tmp_path / 'mine.toml')!r})
print(p.latex())
print(p.sympy())
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr
    latex, sympy_form = out.stdout.splitlines()[-2:]
    assert latex == (r"\frac{1}{L}\sum_{l=1}^{L} \operatorname{mean}_{m} \operatorname{mean}"
                     r"\left(\frac{W_{l,m}}{\left|{W_{l,m}}\right| + 1}\right)")
    assert sympy_form == "layer_mean(pool_mean(mean(W_{l,m}/(Abs(W_{l,m}) + 1))))"


def test_readme_hand_designed_example():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Adding a hand-designed proxy", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    script = code + """
import torch
from lpzero_gp.baselines import compute_hand_designed
from lpzero_gp.capture import layer_weights
from lpzero_gp.spaces import get_space
space = get_space("llama")
model = space.build(space.example(), seed=0)
batch = space.make_batch(2, 16, seed=0)
got = compute_hand_designed(model, batch, "clm", ["my_proxy", "snip"], space)
weights = [w for layer in model.proxy_layers() for w in layer_weights(layer)]
grads = torch.autograd.grad(model.objective(batch, "clm"), weights)
print(got["my_proxy"].value, float(sum(g.abs().sum() for g in grads)), got["snip"].valid)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    mine, direct, snip_ok = out.stdout.split()[-3:]
    assert abs(float(mine) - float(direct)) <= 1e-5 * abs(float(direct))
    assert snip_ok == "True"
