"""Score sub-networks of a LLaMA super-network with proxies: time per sub-network, peak memory.

    python bench/bench_llama_subnets.py --preset lonas7b --device cuda   # one GPU, bf16
    python bench/bench_llama_subnets.py --preset tiny                    # CPU smoke run

``lonas7b``: LoNAS's LLaMA-7B space (hidden 4096, 32 layers, 32 heads, FFN up to 11008, LoRA
r 32 on q/k/v, gate/up and down), randomly initialised on the device (no weights are
downloaded; ``--checkpoint DIR`` loads a local one). Six sub-networks are scored: the whole
network, LoNAS's heuristic (FFN 8256, ranks 32), the smallest (FFN 5504, ranks 28) and three
drawn per layer from the preset's choices. Each is one capture (forward + backward of the LM
loss on one batch of real text, W/G read through the view's slices, every tensor reduced to
its sketch rows as soon as it is read) and the proxies evaluated on the captured inputs.
Printed (and written to ``--out`` as JSON): build time, the weights' memory, per sub-network
the capture time, proxy time and peak memory, and the proxies' scores.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lpzero_gp.bank import InputBank  # noqa: E402
from lpzero_gp.capture import capture_inputs  # noqa: E402
from lpzero_gp.language import LPZERO_GPT2_PROXY, Proxy  # noqa: E402
from lpzero_gp.spaces import get_space  # noqa: E402
from lpzero_gp.spaces.llama import (LONAS_7B_FFN, LONAS_7B_RANKS, LlamaArch,  # noqa: E402
                                    build_supernet, lonas_7b, parameter_count)

PROXIES = {
    "lpzero_gpt2 (lpzero language)": (LPZERO_GPT2_PROXY, "lpzero"),
    "snip (proxy language)": ("layer_sum(pool_sum(t_sum(abs(mul(W, G)))))", "default"),
    "grad_norm (proxy language)": ("layer_sum(pool_sum(t_fro(G)))", "default"),
    "mean |A| (proxy language)": ("layer_mean(pool_mean(t_meanabs(A)))", "default"),
}


def tiny(ffn, rank_attn, rank_ffn) -> LlamaArch:
    n = 4
    per = (lambda v: tuple(v) if isinstance(v, (tuple, list)) else (v,) * n)
    return LlamaArch(128, (4,) * n, per(ffn), head_dim=32, lora_attn=per(rank_attn),
                     lora_ffn=per(rank_ffn), lora_down=(32,) * n)


def subnetworks(preset: str, seed: int) -> dict[str, LlamaArch]:
    make, ffns, n = (lonas_7b, LONAS_7B_FFN, 32) if preset == "lonas7b" else (
        tiny, (352, 320, 288, 256, 224), 4)
    rng = random.Random(seed)
    nets = {"max": make(ffns[0], 32, 32), "heuristic": make(ffns[2], 32, 32),
            "min": make(ffns[-1], 28, 28)}
    for i in range(3):
        nets[f"random{i}"] = make(tuple(rng.choice(ffns) for _ in range(n)),
                                  tuple(rng.choice(LONAS_7B_RANKS) for _ in range(n)),
                                  tuple(rng.choice(LONAS_7B_RANKS) for _ in range(n)))
    return nets


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=("lonas7b", "tiny"), default="tiny")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--dtype", choices=("bfloat16", "float32"), default=None)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--seq-len", type=int, default=256)
    p.add_argument("--max-elements", type=int, default=2048)
    p.add_argument("--checkpoint", help="a local safetensors folder of the super-network")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="write the figures here as JSON")
    args = p.parse_args(argv)
    dev = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("bfloat16" if dev.type == "cuda" else "float32"))
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    nets = subnetworks(args.preset, args.seed)
    supernet_arch = nets["max"]

    start = time.perf_counter()
    net = build_supernet(supernet_arch, seed=args.seed, checkpoint=args.checkpoint, device=dev,
                         dtype=dtype)
    sync()
    build_s = time.perf_counter() - start
    weights_gb = torch.cuda.memory_allocated(dev) / 1e9 if cuda else None
    ids = get_space("llama").make_batch(args.batch_size, args.seq_len, seed=args.seed)
    batch = {"input_ids": ids["input_ids"].to(dev)}
    print(f"super-network {args.preset}: {parameter_count(supernet_arch)['total'] / 1e9:.3f} B "
          f"parameters ({dtype}), built in {build_s:.1f} s on {dev}"
          + (f", weights {weights_gb:.1f} GB" if cuda else ""), flush=True)

    rows, captured = [], []
    for name, arch in nets.items():
        if cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        sync()
        t0 = time.perf_counter()
        net.activate(arch)
        inputs = capture_inputs(net, batch, "clm", max_elements=args.max_elements,
                                seed=args.seed)
        sync()
        capture_s = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated(dev) / 1e9 if cuda else None
        captured.append(inputs)
        rows.append({"name": name, "params_b": parameter_count(arch, lora=False)["total"] / 1e9,
                     "lora_m": parameter_count(arch)["lora"] / 1e6,
                     "capture_s": round(capture_s, 3),
                     "peak_gb": None if peak is None else round(peak, 2)})
        print(f"  {name:10s} {rows[-1]['params_b']:.3f} B  capture {capture_s:6.2f} s"
              + (f"  peak {peak:6.1f} GB" if cuda else ""), flush=True)

    bank = InputBank.from_inputs(captured, list(nets), [0.0] * len(nets))
    t0 = time.perf_counter()
    scores = {}
    for label, (formula, language) in PROXIES.items():
        scores[label] = Proxy.parse(formula, language).evaluate(bank).scores.tolist()
    proxy_s = (time.perf_counter() - t0) / len(nets)
    print(f"proxies: {len(PROXIES)} formulas on the captured inputs, {proxy_s * 1e3:.1f} ms per "
          f"sub-network")
    for label, values in scores.items():
        print(f"  {label}: " + ", ".join(f"{n}={v:.4g}" for n, v in zip(nets, values)))
    result = {"preset": args.preset, "device": str(dev),
              "device_name": torch.cuda.get_device_name(dev) if cuda else platform.processor(),
              "dtype": str(dtype), "batch": [args.batch_size, args.seq_len],
              "max_elements": args.max_elements, "build_s": round(build_s, 2),
              "weights_gb": weights_gb, "subnetworks": rows, "proxy_ms_per_subnetwork":
              round(proxy_s * 1e3, 2), "scores": scores,
              "archs": {n: a.to_dict() for n, a in nets.items()},
              "versions": {"torch": torch.__version__, "python": platform.python_version()}}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
