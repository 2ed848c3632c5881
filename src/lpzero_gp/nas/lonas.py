"""LoNAS on a CPU-sized super-network: does a proxy pick better sub-networks?

The stages of LoNAS (Muñoz et al., 2024) on an elastic preset of the ``llama`` space
(:class:`~lpzero_gp.spaces.llama.ElasticPreset`, e.g. ``lonas-mini``), with the training
protocol of :mod:`lpzero_gp.benchmarks.builder` (AdamW, warm-up then cosine, clipping; windows
of the run's text, the last 10 % of its tokens held out for validation):

1. :func:`pretrain`: the whole super-network's base weights trained (the LoRA adapters frozen;
   their B matrices are 0, so they add nothing). LoNAS starts from a pre-trained LLaMA.
2. :func:`lora_tune` (LoNAS's neural low-rank adapter search training): base weights frozen,
   only the LoRA adapters trained; every step activates a random sub-network of the preset
   (an FFN width and LoRA ranks per layer), as a view of the one super-network.
3. :func:`pick`: candidates under a parameter budget, sampled by
   :class:`~lpzero_gp.nas.search.NasRun` and scored by a proxy as views of the tuned
   super-network (:func:`view_scorer`); one pick per picker of :data:`PICKERS`.
4. :func:`finetune`: the pick's LoRA adapters (its active slices) trained on that sub-network
   alone; its validation loss is the pick's label.

:func:`run_pipeline` runs them for several seeds, each stage written to a file of the out
folder as it finishes, so a rerun skips what is done.
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..benchmarks import Record
from ..benchmarks.builder import TrainSettings, VAL_FRACTION, _windows, fit, mean_loss, \
    val_windows, versions
from ..errors import ConfigError, UsageError

PICKERS = ("proxy", "params", "heuristic", "random")
OBJECTIVE = "clm"


# -- trainable parameters --------------------------------------------------------------------

def is_lora(name: str) -> bool:
    """Whether the parameter called ``name`` belongs to a LoRA adapter."""
    return name.rsplit(".", 1)[-1] in ("lora_A", "lora_B")


def set_trainable(model, lora: bool | None) -> list[torch.nn.Parameter]:
    """Make the LoRA adapters (``lora=True``), the base weights (``False``) or everything
    (``None``) trainable, the rest frozen; returns the trainable parameters."""
    out = []
    for name, p in model.named_parameters():
        p.requires_grad_(lora is None or is_lora(name) == lora)
        if p.requires_grad:
            out.append(p)
    return out


# -- stages ----------------------------------------------------------------------------------

def pretrain(model, settings: TrainSettings, train_stream: torch.Tensor,
             val: list[torch.Tensor], seed: int) -> dict:
    """Train the base weights of the whole super-network ``model`` (LoRA frozen)."""
    model.activate(model.supernet_arch)
    result = fit(model, set_trainable(model, lora=False), settings, train_stream, val,
                 OBJECTIVE, seed)
    model.eval()
    return result


def lora_tune(model, preset, settings: TrainSettings, train_stream: torch.Tensor,
              val: list[torch.Tensor], seed: int) -> dict:
    """LoNAS's adapter training: LoRA adapters only, a sub-network of ``preset`` drawn from
    ``seed`` per step. Returns ``{"train_loss", "subnets": [architecture dict per step],
    "val_loss_full", "val_loss_middle"}`` (the whole super-network and the preset's middle
    sub-network on ``val`` after training); leaves the whole super-network active."""
    rng = random.Random(int(seed))
    subnets = []

    def activate_random(step: int) -> None:
        arch = preset.sample(rng)
        model.activate(arch)
        subnets.append(arch.to_dict())

    result = fit(model, set_trainable(model, lora=True), settings, train_stream, [],
                 OBJECTIVE, seed, before_step=activate_random)
    middle = mean_loss(model.activate(preset.middle()), val, OBJECTIVE)
    full = mean_loss(model.activate(model.supernet_arch), val, OBJECTIVE)
    model.eval()
    return {"train_loss": result["train_loss"], "subnets": subnets,
            "val_loss_full": full, "val_loss_middle": middle}


def finetune(model, arch, settings: TrainSettings, train_stream: torch.Tensor,
             val: list[torch.Tensor], seed: int) -> dict:
    """Train the LoRA adapters of sub-network ``arch`` of ``model`` (in place). Returns
    ``{"val_loss_before", "val_loss": at the last step, "curve": {step: loss}, "train_loss"}``."""
    model.activate(arch)
    before = mean_loss(model, val, OBJECTIVE)
    result = fit(model, set_trainable(model, lora=True), settings, train_stream, val,
                 OBJECTIVE, seed)
    model.eval()
    curve = result["val_loss"]
    if settings.steps not in curve:
        curve[settings.steps] = mean_loss(model, val, OBJECTIVE)
    return {"val_loss_before": before, "val_loss": curve[settings.steps],
            "curve": {str(k): v for k, v in curve.items()}, "train_loss": result["train_loss"]}


def view_scorer(model, proxy, batch: dict, max_elements: int | None, seed: int = 0,
                min_rows: int | None = None) -> Callable[[list[Record]], np.ndarray]:
    """Scores of ``proxy`` on records whose configs are sub-networks of ``model``, each
    captured as a view of ``model`` (its trained weights) on ``batch`` (input_ids (B, T));
    higher is better. Nothing is cached: the weights are the run's own."""
    from ..bank import DEFAULT_MIN_ROWS, InputBank
    from ..capture import capture_inputs

    def score(records: list[Record]) -> np.ndarray:
        active = model.arch
        set_trainable(model, None)
        collected = []
        for record in records:
            model.activate(record.config)
            collected.append(capture_inputs(model, batch, OBJECTIVE, max_elements, seed,
                                            {"record": record.id},
                                            DEFAULT_MIN_ROWS if min_rows is None else min_rows))
        model.activate(active)
        bank = InputBank.from_inputs(collected, [r.id for r in records])
        return np.asarray(proxy.evaluate(bank).scores, dtype=np.float64)
    return score


def pick(picker: str, pool: list[dict], preset, seed: int) -> dict:
    """The row of ``pool`` (``NasRun.ranked()`` rows: ``record``, ``score``, ``params``) that
    ``picker`` chooses: ``proxy``, the highest score; ``params``, the most parameters (ties:
    the smallest id, a hash of the architecture); ``random``, one drawn from ``seed``;
    ``heuristic``, the preset's middle sub-network (:meth:`ElasticPreset.middle`), wherever it
    is (``None`` score when not in the pool)."""
    if not pool:
        raise UsageError("no candidate within the budget to pick from")
    if picker == "proxy":
        return max(pool, key=lambda r: (_finite(r["score"]), r["record"].id))
    if picker == "params":  # ties (equal parameter counts) by id: blind to the proxy
        return min(pool, key=lambda r: (-r["params"], r["record"].id))
    if picker == "random":
        rows = sorted(pool, key=lambda r: r["record"].id)
        return rows[random.Random(int(seed)).randrange(len(rows))]
    if picker == "heuristic":
        arch = preset.middle()
        for row in pool:
            if row["record"].config == arch:
                return row
        return {"record": None, "arch": arch, "score": None}
    raise UsageError(f"unknown picker {picker!r}; known: {', '.join(PICKERS)}")


def _finite(x) -> float:
    return x if x is not None and math.isfinite(x) else -math.inf


# -- the pipeline ----------------------------------------------------------------------------

@dataclass(frozen=True)
class LonasConfig:
    """A run (``config.toml``: a ``[run]`` table of these fields and ``[pretrain]``,
    ``[lora_tune]``, ``[finetune]`` tables of :class:`TrainSettings` fields)."""

    preset: str = "lonas-mini"
    text: str | None = "shakespeare"  # a corpus name or a file (None: pydoc)
    pretrain_seed: int = 0
    seeds: tuple[int, ...] = (0, 1)
    budget_fraction: float = 0.9  # of the super-network's parameters without LoRA
    pool: int = 32
    proxy: str = "experiments/llama/found.json"
    capture_batch_size: int = 16
    capture_seq_len: int = 128
    capture_seed: int = 0
    max_elements: int = 2048
    threads: int = 1
    pretrain: TrainSettings = field(default_factory=TrainSettings)
    lora_tune: TrainSettings = field(default_factory=TrainSettings)
    finetune: TrainSettings = field(default_factory=TrainSettings)

    def __post_init__(self):
        object.__setattr__(self, "seeds", tuple(int(s) for s in self.seeds))
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds {self.seeds}: give distinct seeds, at least one")
        if not 0 < self.budget_fraction <= 1:
            raise ConfigError(f"budget_fraction {self.budget_fraction} must lie in (0, 1]")
        if self.pool < 1 or self.threads < 1:
            raise ConfigError("pool and threads must be at least 1")
        for name in ("pretrain", "lora_tune", "finetune"):
            s = getattr(self, name)
            if s.text_path != self.text:
                object.__setattr__(self, name, replace(s, text_path=self.text))

    @classmethod
    def from_toml(cls, path: str | Path) -> "LonasConfig":
        from ..search.config import read_config_file
        return cls.from_dict(read_config_file(path), str(path))

    @classmethod
    def from_dict(cls, data: dict, where: str = "config") -> "LonasConfig":
        tables = ("run", "pretrain", "lora_tune", "finetune")
        unknown = sorted(set(data) - set(tables))
        if unknown:
            raise ConfigError(f"{where}: unknown table(s) {unknown}; known: {list(tables)}")
        run = dict(data.get("run", {}))
        known = {f.name for f in fields(cls)} - {"pretrain", "lora_tune", "finetune"}
        bad = sorted(set(run) - known)
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {bad} in [run]; known: {sorted(known)}")
        kw = dict(run)
        train_keys = {f.name for f in fields(TrainSettings)} - {"text_path"}
        for name in ("pretrain", "lora_tune", "finetune"):
            table = dict(data.get(name, {}))
            bad = sorted(set(table) - train_keys)
            if bad:
                raise ConfigError(f"{where}: unknown key(s) {bad} in [{name}]; known: "
                                  f"{sorted(train_keys)}")
            for key in ("betas", "eval_at"):
                if key in table:
                    table[key] = tuple(table[key])
            try:
                kw[name] = TrainSettings(**table)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: [{name}]: {exc}") from None
        try:
            return cls(**kw)
        except TypeError as exc:
            raise ConfigError(f"{where}: [run]: {exc}") from None

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["seeds"] = list(self.seeds)
        for name in ("pretrain", "lora_tune", "finetune"):
            out[name] = _settings_dict(out[name])
        return out


def _settings_dict(s: TrainSettings) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(s).items()}


class Pipeline:
    """The stages of one run under ``out`` (see the module docstring); ``ran`` lists the
    stages computed by this process (a rerun after completion computes none)."""

    def __init__(self, config: LonasConfig, out: str | Path, data_dir=None, root=None,
                 progress: bool = True):
        from ..spaces import get_space
        from ..spaces.llama import ElasticPreset, PRESETS, parameter_count
        self.config, self.out = config, Path(out)
        self.data_dir = None if data_dir is None else str(data_dir)
        self.root = Path(root) if root is not None else Path.cwd()
        self.progress = progress
        self.space = get_space("llama")
        preset = PRESETS.get(config.preset)
        if not isinstance(preset, ElasticPreset):
            elastic = [n for n, p in PRESETS.items() if isinstance(p, ElasticPreset)]
            raise ConfigError(f"preset {config.preset!r} is not an elastic llama preset; "
                              f"known: {elastic}")
        self.preset = preset
        self.supernet_params = parameter_count(preset.supernet, lora=False)["total"]
        self.budget_limit = math.floor(config.budget_fraction * self.supernet_params)
        self.ran: list[str] = []
        self._streams = None
        self._model = None

    # -- helpers -----------------------------------------------------------------------------
    def streams(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._streams is None:
            from ..benchmarks.builder import _streams
            longest = max(self.config.pretrain, self.config.lora_tune, self.config.finetune,
                          key=lambda s: s.seq_len)
            self._streams = _streams(self.space, longest, self.data_dir)
        return self._streams

    def val(self, settings: TrainSettings) -> list[torch.Tensor]:
        return val_windows(self.streams()[1], settings)

    def _json(self, path: Path) -> dict | None:
        return json.loads(path.read_text()) if path.is_file() else None

    def _write(self, path: Path, data: dict) -> None:
        from ..fileio import write_text
        write_text(path, json.dumps(data, indent=1))

    def _save_model(self, model, path: Path) -> None:
        from safetensors.torch import save_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(tmp))
        tmp.replace(path)

    def _load_model(self, path: Path):
        """The super-network of checkpoint ``path``, whole network active; the model of the
        last call is reused (its weights reloaded, strictly), as a build takes a while."""
        from safetensors.torch import load_file

        from ..spaces.llama import build_supernet
        if self._model is None:
            self._model = build_supernet(self.preset.supernet, 0)
        model = self._model
        model.load_state_dict(load_file(str(path)), strict=True)
        return model.activate(model.supernet_arch).eval()

    def _train_from(self, checkpoint: Path, seed: int, train, settings: TrainSettings, what):
        """The super-network of ``checkpoint`` and ``train``'s result on it, run with torch's
        global generator seeded with ``seed`` (restored after)."""
        model = self._load_model(checkpoint)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return model, train(model, what, settings, self.streams()[0], self.val(settings),
                                seed)

    def _log(self, text: str) -> None:
        if self.progress:
            print(f"[lonas {time.strftime('%H:%M:%S')}] {text}", flush=True)

    def _check_config(self) -> None:
        path = self.out / "config.json"
        mine = self.config.to_dict()
        old = self._json(path)
        if old is not None and old["config"] != json.loads(json.dumps(mine)):
            raise UsageError(f"{path} records a run of another config; use another out folder "
                             f"or the same config")
        if old is None:
            from ..benchmarks.builder import corpus_sha256
            from ..search.provenance import git_commit
            self._write(path, {"config": mine, "commit": git_commit(), "versions": versions(),
                               "corpus_sha256": corpus_sha256(self.config.text, self.data_dir)})

    # -- stages ------------------------------------------------------------------------------
    def run(self, results_dir: str | Path | None = None) -> dict:
        """Run (or resume) every stage; write ``results.json`` and ``results.md`` into
        ``results_dir`` (default: the out folder) after each stage."""
        threads = torch.get_num_threads()
        torch.set_num_threads(self.config.threads)
        try:
            return self._run(results_dir)
        finally:
            torch.set_num_threads(threads)

    def _run(self, results_dir) -> dict:
        self._check_config()
        results_dir = Path(results_dir) if results_dir is not None else self.out

        def done(name: str) -> None:
            self.ran.append(name)
            self.write_results(results_dir)

        if self._stage_pretrain():
            done("pretrain")
        for seed in self.config.seeds:
            if self._stage_lora_tune(seed):
                done(f"seed{seed}/lora_tune")
            if self._stage_picks(seed):
                done(f"seed{seed}/picks")
            for picker in PICKERS:
                if self._stage_finetune(seed, picker):
                    done(f"seed{seed}/finetune/{picker}")
        return self.write_results(results_dir)

    def _stage_pretrain(self) -> bool:
        folder = self.out / "pretrain"
        if (folder / "result.json").is_file():
            return False
        from ..spaces.llama import build_supernet
        cfg = self.config
        self._log(f"pretrain: {cfg.pretrain.steps} steps of the whole super-network")
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.pretrain_seed)
            model = self._model = build_supernet(self.preset.supernet, cfg.pretrain_seed)
            result = pretrain(model, cfg.pretrain, self.streams()[0], self.val(cfg.pretrain),
                              cfg.pretrain_seed)
        self._save_model(model, folder / "supernet.safetensors")
        self._write(folder / "result.json", {
            "seed": cfg.pretrain_seed, "val_loss": {str(k): v for k, v in
                                                    result["val_loss"].items()},
            "train_loss": result["train_loss"], "wall_s": time.perf_counter() - start})
        return True

    def _stage_lora_tune(self, seed: int) -> bool:
        folder = self.out / f"seed{seed}" / "lora_tune"
        if (folder / "result.json").is_file():
            return False
        cfg = self.config
        self._log(f"seed {seed}: LoRA tuning, {cfg.lora_tune.steps} steps, a random "
                  f"sub-network per step")
        start = time.perf_counter()
        model, result = self._train_from(self.out / "pretrain" / "supernet.safetensors", seed,
                                         lora_tune, cfg.lora_tune, self.preset)
        self._save_model(model, folder / "supernet.safetensors")
        self._write(folder / "result.json", {"seed": seed, **result,
                                             "wall_s": time.perf_counter() - start})
        return True

    def _stage_picks(self, seed: int) -> bool:
        path = self.out / f"seed{seed}" / "picks.json"
        if path.is_file():
            return False
        from ..cli import load_proxy
        from ..spaces.llama import parameter_count
        from .search import Budget, NasRun
        cfg = self.config
        self._log(f"seed {seed}: scoring a pool of {cfg.pool} sub-networks within "
                  f"params<={self.budget_limit} with the proxy, and their validation loss")
        start = time.perf_counter()
        model = self._load_model(self.out / f"seed{seed}" / "lora_tune" / "supernet.safetensors")
        proxy_path = Path(cfg.proxy)
        proxy_path = proxy_path if proxy_path.is_absolute() else self.root / proxy_path
        proxy = load_proxy(str(proxy_path), None, "llama")
        gen = torch.Generator().manual_seed(cfg.capture_seed)
        batch = {"input_ids": _windows(self.streams()[0], cfg.capture_batch_size,
                                       cfg.capture_seq_len, gen)}
        scorer = view_scorer(model, proxy, batch, cfg.max_elements, cfg.capture_seed)
        budget = Budget("params", float(self.budget_limit))
        nas = NasRun(self.space, scorer, [budget], strategy="random", samples=cfg.pool,
                     seed=seed, preset=cfg.preset, seq_len=cfg.capture_seq_len,
                     out=self.out / f"seed{seed}" / "nas").run()
        pool = nas.ranked()
        val = self.val(cfg.finetune)
        rows = []
        for row in pool:
            loss = mean_loss(model.activate(row["record"].config), val, OBJECTIVE)
            rows.append({"id": row["record"].id, "arch": row["record"].config.to_dict(),
                         "score": row["score"], "params": int(row["params"]),
                         "val_loss": loss})
        picks = {}
        for picker in PICKERS:
            chosen = pick(picker, pool, self.preset, seed)
            arch = chosen["record"].config if chosen["record"] is not None else chosen["arch"]
            params = parameter_count(arch, lora=False)["total"]
            if params > self.budget_limit:
                raise ConfigError(f"the {picker} pick {arch.to_json()} has {params} parameters, "
                                  f"over the budget params<={self.budget_limit}: raise "
                                  f"budget_fraction")
            picks[picker] = {"arch": arch.to_dict(), "params": params,
                             "score": chosen["score"], "in_pool": chosen["record"] is not None}
        self._write(path, {"seed": seed, "budget": str(budget), "proxy": str(proxy),
                           "proxy_file": cfg.proxy, "rejected": nas.rejected, "pool": rows,
                           "picks": picks, "wall_s": time.perf_counter() - start})
        return True

    def _stage_finetune(self, seed: int, picker: str) -> bool:
        from ..benchmarks.built import arch_id
        from ..spaces.llama import LlamaArch
        picks = self._json(self.out / f"seed{seed}" / "picks.json")["picks"]
        arch = LlamaArch.from_dict(picks[picker]["arch"])
        path = self.out / f"seed{seed}" / "finetune" / f"{arch_id(arch.to_dict())}.json"
        if path.is_file():  # done, for this picker or another that chose the same sub-network
            return False
        cfg = self.config
        self._log(f"seed {seed}: fine-tuning the {picker} pick, FFN {list(arch.ffn)}, "
                  f"{cfg.finetune.steps} steps")
        start = time.perf_counter()
        _, result = self._train_from(self.out / f"seed{seed}" / "lora_tune" /
                                     "supernet.safetensors", seed, finetune, cfg.finetune, arch)
        self._write(path, {"seed": seed, "arch": arch.to_dict(), **result,
                           "wall_s": time.perf_counter() - start})
        return True

    # -- results -----------------------------------------------------------------------------
    def collect(self) -> dict:
        """Everything finished so far, summarised (see :func:`summarise`)."""
        from ..benchmarks.built import arch_id
        from ..spaces.llama import parameter_count
        meta = self._json(self.out / "config.json") or {}
        pre = self._json(self.out / "pretrain" / "result.json")
        seeds = {}
        for seed in self.config.seeds:
            entry = {}
            tune = self._json(self.out / f"seed{seed}" / "lora_tune" / "result.json")
            if tune is not None:
                distinct = {json.dumps(s, sort_keys=True) for s in tune["subnets"]}
                entry["lora_tune"] = {k: tune[k] for k in ("val_loss_full", "val_loss_middle",
                                                           "train_loss", "wall_s")}
                entry["lora_tune"]["distinct_subnets"] = len(distinct)
                entry["lora_tune"]["steps"] = len(tune["subnets"])
            picks = self._json(self.out / f"seed{seed}" / "picks.json")
            if picks is not None:
                entry["pool"] = _pool_summary(picks["pool"])
                entry["pool"]["rejected_over_budget"] = picks["rejected"]
                entry["pool"]["wall_s"] = picks["wall_s"]
                entry["picks"] = {}
                for picker, p in picks["picks"].items():
                    rid = arch_id(p["arch"])
                    ft = self._json(self.out / f"seed{seed}" / "finetune" / f"{rid}.json")
                    entry["picks"][picker] = {
                        "arch_id": rid, "ffn": p["arch"]["ffn"],
                        "lora_attn": p["arch"]["lora_attn"], "lora_ffn": p["arch"]["lora_ffn"],
                        "params": p["params"], "score": p["score"], "in_pool": p["in_pool"],
                        "val_loss_before": None if ft is None else ft["val_loss_before"],
                        "val_loss": None if ft is None else ft["val_loss"]}
            seeds[str(seed)] = entry
        out = {"what": "LoNAS-style sub-network picks on the llama space's "
                       f"{self.config.preset} super-network (nas/lonas.py)",
               "config": self.config.to_dict(), "commit": meta.get("commit"),
               "versions": meta.get("versions"), "corpus_sha256": meta.get("corpus_sha256"),
               "val_fraction": VAL_FRACTION,
               "supernet": {"arch": self.preset.supernet.to_dict(),
                            "params": self.supernet_params,
                            "params_nonembedding": parameter_count(self.preset.supernet)[
                                "nonembedding"]},
               "budget": f"params<={self.budget_limit}",
               "pretrain": pre, "seeds": seeds}
        out["summary"] = summarise(seeds)
        out["complete"] = all(
            all(s.get("picks", {}).get(p, {}).get("val_loss") is not None for p in PICKERS)
            for s in seeds.values())
        return out

    def write_results(self, folder: str | Path) -> dict:
        from ..fileio import write_text
        result = self.collect()
        folder = Path(folder)
        write_text(folder / "results.json", json.dumps(result, indent=1))
        write_text(folder / "results.md", markdown(result))
        return result


def _pool_summary(rows: list[dict]) -> dict:
    """How well the proxy and the parameter count order the pool's sub-networks by their
    validation loss after LoRA tuning (before any fine-tuning): Spearman rho of score and of
    params against -loss (positive: they agree)."""
    from ..metrics import spearman_rho
    loss = np.array([r["val_loss"] for r in rows])
    out = {"n": len(rows), "val_loss_min": float(loss.min()), "val_loss_max": float(loss.max()),
           "val_loss_median": float(np.median(loss)), "spearman_proxy": None,
           "spearman_params": None}
    if len(rows) >= 3:
        for key, name in (("score", "spearman_proxy"), ("params", "spearman_params")):
            x = np.array([r[key] for r in rows], dtype=float)
            if np.ptp(x) > 0 and np.ptp(loss) > 0:
                out[name] = spearman_rho(x, -loss)
    return out


def summarise(seeds: dict) -> dict:
    """Per picker: its fine-tuned validation loss per seed, mean and spread (max - min over
    seeds), the mean before fine-tuning; the paired differences to the best picker per seed; a verdict: ``"too flat"``
    when the pickers' means lie closer together than the typical seed spread, or when no
    picker beats every other in every seed."""
    per = {}
    for picker in PICKERS:
        losses = {s: e["picks"][picker]["val_loss"] for s, e in seeds.items()
                  if e.get("picks", {}).get(picker, {}).get("val_loss") is not None}
        if losses:
            v = np.array(list(losses.values()))
            before = [seeds[s]["picks"][picker]["val_loss_before"] for s in losses]
            per[picker] = {"val_loss": losses, "mean": float(v.mean()),
                           "spread": float(np.ptp(v)), "n_seeds": len(v),
                           "mean_before_finetuning": float(np.mean(before))}
    out = {"pickers": per}
    full = [p for p in PICKERS if p in per and per[p]["n_seeds"] == len(seeds)]
    if len(full) == len(PICKERS) and len(seeds) >= 2:
        means = {p: per[p]["mean"] for p in full}
        best = min(means, key=means.get)
        seed_spread = float(np.mean([per[p]["spread"] for p in full]))
        gap = max(means.values()) - min(means.values())
        wins = {p: all(per[best]["val_loss"][s] < per[p]["val_loss"][s] for s in seeds)
                for p in full if p != best}
        diffs = {p: {s: per[p]["val_loss"][s] - per[best]["val_loss"][s] for s in seeds}
                 for p in full if p != best}
        flat = gap < seed_spread or not all(wins.values())
        out.update(best=best, mean_seed_spread=seed_spread, range_of_means=gap,
                   paired_differences_to_best=diffs, best_wins_every_seed=wins,
                   verdict="too flat" if flat else "separated")
    return out


def markdown(result: dict) -> str:
    """The table of ``results.json``: picker, sub-network per seed, params, loss per seed,
    mean +- spread."""
    seeds = list(result["seeds"])
    lines = [f"Budget {result['budget']} (super-network: {result['supernet']['params']} "
             f"parameters without LoRA). Validation loss (mean next-token NLL, nats) of each "
             f"pick after fine-tuning; spread = max - min over seeds; before fine-tuning: the "
             f"same sub-network of the LoRA-tuned super-network (as LoNAS evaluates).", ""]
    head = ["picker", "sub-network FFN per layer (per seed)", "params"]
    head += [f"seed {s}" for s in seeds] + ["mean ± spread", "mean before fine-tuning"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    summary = result["summary"]["pickers"]
    for picker in PICKERS:
        ffns, params, cells = [], [], []
        for s in seeds:
            p = result["seeds"][s].get("picks", {}).get(picker)
            if p is None:
                ffns.append("–")
                cells.append("–")
                continue
            ffns.append("/".join(map(str, p["ffn"])))
            params.append(p["params"])
            cells.append("–" if p["val_loss"] is None else f"{p['val_loss']:.4f}")
        sizes = [f"{v / 1e6:.3f} M" for v in params]
        row = [picker, _per_seed(ffns), _per_seed(sizes) if sizes else "–", *cells]
        s = summary.get(picker)
        row.append("–" if s is None else f"{s['mean']:.4f} ± {s['spread']:.4f}")
        row.append("–" if s is None else f"{s['mean_before_finetuning']:.4f}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for s in seeds:
        pool = result["seeds"][s].get("pool")
        tune = result["seeds"][s].get("lora_tune")
        if tune:
            lines.append(f"- seed {s}: LoRA tuning over {tune['distinct_subnets']} distinct "
                         f"sub-networks in {tune['steps']} steps; validation loss after it: "
                         f"whole super-network {tune['val_loss_full']:.4f}, middle "
                         f"sub-network {tune['val_loss_middle']:.4f}.")
        if pool:
            fmt = (lambda v: "–" if v is None else f"{v:+.3f}")
            lines.append(f"- seed {s}: pool of {pool['n']} sub-networks within budget, "
                         f"validation loss before fine-tuning {pool['val_loss_min']:.4f} to "
                         f"{pool['val_loss_max']:.4f}; Spearman rho against -loss: proxy "
                         f"{fmt(pool['spearman_proxy'])}, params {fmt(pool['spearman_params'])}.")
    verdict = result["summary"].get("verdict")
    if verdict:
        sm = result["summary"]
        lines.append(f"- verdict: **{verdict}**: the pickers' means span "
                     f"{sm['range_of_means']:.4f} nats, the mean seed spread is "
                     f"{sm['mean_seed_spread']:.4f}; best mean: {sm['best']} (beats every "
                     f"other picker in every seed: "
                     f"{'yes' if all(sm['best_wins_every_seed'].values()) else 'no'}).")
    elif not result.get("complete"):
        lines.append("- (incomplete: stages still to run)")
    return "\n".join(lines) + "\n"


def _per_seed(cells: list[str]) -> str:
    """One value if every seed has it, else the seeds' values joined by "; " (seed order)."""
    return cells[0] if len(set(cells)) == 1 else "; ".join(cells)
