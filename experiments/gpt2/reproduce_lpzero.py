"""LPZero's GPT-2 proxy on full tensors against its stored scores (resumable; see
``lpzero_gp.baselines.lpzero_gpt2``). Writes experiments/gpt2/reproduction/lpzero/
(scores.json, kept as it goes; reproduction.json and .md).

    python experiments/gpt2/reproduce_lpzero.py [--limit N]
"""
import argparse
from pathlib import Path

from lpzero_gp.baselines.lpzero_gpt2 import reproduce
from lpzero_gp.cache import CaptureCache
from lpzero_gp.spaces import get_space

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--limit", type=int, default=None)
parser.add_argument("--out", default=str(Path(__file__).parent / "reproduction" / "lpzero"))
args = parser.parse_args()
space = get_space("gpt2")
records = list(space.load_benchmark())[:args.limit]
result = reproduce(space, records, Path(args.out), cache=CaptureCache())
print({k: result[k] for k in ("n", "relative_error", "ours_vs_stored", "ours_vs_ppl",
                               "stored_vs_ppl")})
