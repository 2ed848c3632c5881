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
