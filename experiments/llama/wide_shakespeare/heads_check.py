"""What the found proxy of this benchmark reads, against the architecture's attention heads:
`python experiments/llama/wide_shakespeare/heads_check.py` (from the checkout's root; the data
folder must hold the Shakespeare corpus, as for run.py).

Prints, on each split of found.json's search, Spearman's rho against the labels of: the found
proxy on the sketch, the same proxy on the full tensors (exact.json: `lpzero-gp evaluate
--proxy experiments/llama/wide_shakespeare/found.json --benchmark
experiments/llama/wide_shakespeare --exact --json`), the number of heads in the first layer
(the layer the proxy reads), the mean number of heads over the layers, the number of layers and
the hidden size (heads: descriptors checked after the search, not among the space's declared
ones). Then, per number of heads in the first layer, the mean of the proxy on the sketch and
on the full tensors, and the sketch's mean relative error: the sketch's error is a function of
the head count (the rows a sketch keeps depend on the tensor's name, "head 0", "head 1", ...,
not on the architecture).
"""
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from lpzero_gp.cache import CaptureSettings
from lpzero_gp.collect import collect_inputs
from lpzero_gp.language import Proxy
from lpzero_gp.spaces import get_space

HERE = Path(__file__).resolve().parent


def main() -> int:
    found = json.loads((HERE / "found.json").read_text())
    prov = found["provenance"]
    space = get_space("llama")
    bench = space.load_benchmark(HERE)
    keys = set(CaptureSettings.__dataclass_fields__)
    settings = CaptureSettings(**{k: v for k, v in prov["capture"].items() if k in keys})
    proxy = Proxy.from_json(found)
    exact = json.loads((HERE / "exact.json").read_text())["scores"]
    print(f"proxy: {proxy}")
    print(f"{'split':>10} {'n':>4} {'sketch':>7} {'exact':>7} {'heads[0]':>9} "
          f"{'mean heads':>11} {'layers':>7} {'hidden':>7}")
    for split in ("search", "validation", "test"):
        records = bench.subset(ids=prov["splits"][split]).records
        quality = np.array([r.quality for r in records])
        bank = collect_inputs(space, records, settings, progress=False)
        columns = [proxy.evaluate(bank).scores,
                   [exact[str(r.id)] for r in records],
                   [-r.config.heads[0] for r in records],
                   [-float(np.mean(r.config.heads)) for r in records],
                   [len(r.config.heads) for r in records],
                   [r.config.hidden_size for r in records]]
        rhos = [spearmanr(c, quality)[0] for c in columns]
        print(f"{split:>10} {len(records):>4} " + " ".join(
            f"{r:>{w}.3f}" for r, w in zip(rhos, (7, 7, 9, 11, 7, 7))))
    print("heads columns are negated: fewer heads, higher score")
    records = bench.records
    bank = collect_inputs(space, records, settings, progress=False)
    sketch = proxy.evaluate(bank).scores
    full = np.array([exact[str(r.id)] for r in records])
    heads = np.array([r.config.heads[0] for r in records])
    print(f"all {len(records)} records: Spearman with heads[0]: sketch "
          f"{spearmanr(sketch, heads)[0]:+.3f}, exact {spearmanr(full, heads)[0]:+.3f}; "
          f"sketch vs exact {spearmanr(sketch, full)[0]:+.3f}; spread of the exact values "
          f"(std / mean) {full.std() / full.mean():.4f}")
    print(f"{'heads[0]':>8} {'n':>3} {'sketch mean':>12} {'exact mean':>11} {'rel. error':>10}")
    for h in sorted(set(heads.tolist())):
        m = heads == h
        print(f"{h:>8} {int(m.sum()):>3} {sketch[m].mean():>12.1f} {full[m].mean():>11.1f} "
              f"{float(np.mean((sketch[m] - full[m]) / full[m])):>+10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
