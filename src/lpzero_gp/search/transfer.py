"""The transfer table: each space's found proxy scored on every other space's test split.

For every ordered pair (A, B) of spaces with a committed ``experiments/<space>/found.json``, the
proxy found on A is evaluated on B's held-out test records (B's capture settings, from B's
found file) and correlated with B's labels; B's own found proxy and B's best descriptor on the
same records are the reference. A proxy whose inputs B's captures lack, or whose scores are
not finite on every record, is reported with the reason instead of figures.

    python -m lpzero_gp.search.transfer [--spaces flexibert gpt2] [--out experiments]
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from ..errors import LpzeroError
from ..locations import experiments_dir
from ..metrics import MetricInputError, bootstrap_ci, correlations


def _figures(values: np.ndarray, quality: np.ndarray, n_boot: int) -> dict:
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        return {"reason": f"non-finite score on {int((~np.isfinite(values)).sum())} of "
                          f"{values.size} records"}
    try:
        corr = correlations(values, quality)
        ci = bootstrap_ci(values, quality, "spearman", n_boot)
    except MetricInputError as exc:
        return {"reason": str(exc)}
    return {"kendall_tau": corr.kendall_tau, "spearman_rho": corr.spearman_rho,
            "rho_ci": [ci.low, ci.high], "n": int(values.size)}


def transfer(spaces: list[str], folder: Path | None = None, n_boot: int = 1000,
             progress: bool = False) -> dict:
    """``{"rows": [{"found_on", "scored_on", figures or reason}], ...}`` for every ordered
    pair of ``spaces`` (A == B included: the diagonal is each proxy on its own test split)."""
    from ..language import Proxy
    from .held_out import test_split_scores
    folder = Path(folder or experiments_dir())
    proxies = {a: Proxy.from_json(folder / a / "found.json") for a in spaces}
    from .provenance import git_commit
    rows, references, test_ids = [], {}, {}
    for b in spaces:
        got = test_split_scores(b, folder / b, progress)
        quality, bank = got["quality"], got["bank"]
        test_ids[b] = got["test_ids"]
        desc = {k: v for k, (kind, v) in got["scores"].items() if kind == "descriptor"}
        best = max(desc, key=lambda k: correlations(desc[k], quality).spearman_rho)
        references[b] = {"n": int(quality.size), "best_descriptor": best,
                         **{f"descriptor_{k}": v for k, v in
                            _figures(desc[best], quality, n_boot).items()}}
        for a in spaces:
            row = {"found_on": a, "scored_on": b, "formula": str(proxies[a])}
            try:
                scores = proxies[a].evaluate(bank).scores
            except (LpzeroError, KeyError, ValueError) as exc:
                row["reason"] = f"{type(exc).__name__}: {exc}"
            else:
                row.update(_figures(scores, quality, n_boot))
            rows.append(row)
    return {"spaces": spaces, "split": "test", "n_boot": n_boot, "rows": rows,
            "references": references, "commit": git_commit(),
            "test_record_ids": test_ids,
            "command": "python -m lpzero_gp.search.transfer --spaces " + " ".join(spaces)}


def markdown(result: dict) -> str:
    f = lambda x: "--" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"  # noqa: E731
    lines = [f"Transfer: the proxy found on A (`experiments/A/found.json`) scored on B's "
             f"held-out test split (`{result['command']}`; {result['n_boot']} bootstrap "
             f"resamples). The diagonal is each proxy on its own test split; the last column "
             f"is B's best descriptor on the same records (chosen on them, as in held_out.md: "
             f"the strictest bar).", "",
             "| found on A | scored on B | n | τ | ρ [95% CI] | B's best descriptor ρ |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        ref = result["references"][r["scored_on"]]
        ref_text = f"{f(ref.get('descriptor_spearman_rho'))} ({ref['best_descriptor']})"
        if "reason" in r:
            lines.append(f"| {r['found_on']} | {r['scored_on']} | {ref['n']} | — | "
                         f"not scored: {r['reason']} | {ref_text} |")
            continue
        lines.append(f"| {r['found_on']} | {r['scored_on']} | {r['n']} | "
                     f"{f(r['kendall_tau'])} | {f(r['spearman_rho'])} [{f(r['rho_ci'][0])}, "
                     f"{f(r['rho_ci'][1])}] | {ref_text} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    from ..spaces import space_names
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["flexibert", "gpt2"],
                        choices=space_names())
    parser.add_argument("--out", help="folder for transfer.json / .md (default: experiments)")
    parser.add_argument("--n-boot", type=int, default=1000)
    args = parser.parse_args(argv)
    try:
        out = Path(args.out or experiments_dir())
        result = transfer(list(args.spaces), n_boot=args.n_boot)
    except LpzeroError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    out.mkdir(parents=True, exist_ok=True)
    (out / "transfer.json").write_text(json.dumps(result, indent=1))
    (out / "transfer.md").write_text(markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
