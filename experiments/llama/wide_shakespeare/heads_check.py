"""What the found proxy of this benchmark reads, against the architecture's attention heads:
`python experiments/llama/wide_shakespeare/heads_check.py` (from the checkout's root; the data
folder must hold the Shakespeare corpus, as for run.py).

Prints, on each split of found.json's search, Spearman's rho against the labels of: the found
proxy, the number of heads in the first layer (the layer the proxy reads), the mean number of
heads over the layers, the number of layers and the hidden size. A descriptor checked after
the search (not one of the space's declared descriptors, which no search here chose among).
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
    print(f"proxy: {proxy}")
    print(f"{'split':>10} {'n':>4} {'proxy':>7} {'heads[0]':>9} {'mean heads':>11} "
          f"{'layers':>7} {'hidden':>7}")
    for split in ("search", "validation", "test"):
        records = bench.subset(ids=prov["splits"][split]).records
        quality = np.array([r.quality for r in records])
        bank = collect_inputs(space, records, settings, progress=False)
        columns = [proxy.evaluate(bank).scores,
                   [-r.config.heads[0] for r in records],
                   [-float(np.mean(r.config.heads)) for r in records],
                   [len(r.config.heads) for r in records],
                   [r.config.hidden_size for r in records]]
        rhos = [spearmanr(c, quality)[0] for c in columns]
        print(f"{split:>10} {len(records):>4} " + " ".join(
            f"{r:>{w}.3f}" for r, w in zip(rhos, (7, 9, 11, 7, 7))))
    print("heads columns are negated: fewer heads, higher score")
    return 0


if __name__ == "__main__":
    sys.exit(main())
