"""One proxy for several spaces: a search whose fitness reads several benchmarks at once.

With ``spaces = ["flexibert", "gpt2"]`` (and ``aggregate = "mean"`` or ``"min"``) in the
[search] table, or ``lpzero-gp search --spaces flexibert gpt2 --aggregate min``:

- every space loads its benchmark (the shared [records] table, or ``[records.<space>]``) and
  captures its inputs with the shared [capture] table, ``[capture.<space>]`` on top, resolved by
  ``CaptureSettings.resolved(space)`` (each space's own sequence length, objective, variant
  where the tables leave them out);
- every space gets its own depth-stratified split, drawn with the same seed and fractions;
- a formula's fitness is the aggregate over the spaces of its fitness option (default
  ``spearman``; ``partial`` and ``lexicographic-tiebreak`` condition on each space's own
  descriptor) on that space's search split. A formula pruned or invalid on any space is
  pruned / invalid there, its reason prefixed with the space's name;
- the final proxy is the hall-of-fame member with the best aggregate fitness on the
  validation splits (a member invalid on any validation split ranks last);
- ``found.json`` holds the aggregate figures per split, and under ``per_space`` each space's
  benchmark, capture settings, split record ids, the proxy's figures per split, the descriptor
  baselines per split and ``held_out``: the test-split figures of the proxy beside those of each
  headline descriptor (the test splits are read by no part of the search).

The language is one for all spaces; it must read only inputs every space captures.
Only tournament selection; the run resumes from its checkpoint like a single-space search.

The results folder holds the files of a single-space search (:mod:`.results`), except that
``split.json`` and ``baselines.json`` hold one entry per space, ``hall_of_fame.json`` gives each
member's aggregate ``figures`` and its ``per_space`` figures, ``evaluations.jsonl`` gives each
valid formula's fitness per space (``objectives``), and the scatter plot is
``found_scatter_<space>.png``, one per space. ``python -m lpzero_gp.search.multi found.json``
prints the held-out table (:func:`held_out_markdown`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError, NoResultError
from ..language import Proxy, load_language
from .checkpoint import SearchState
from .evaluate import (AGGREGATE_FUNCTIONS, EvaluationPool, EvaluatorSpec,
                       MultiEvaluatorSpec)
from .fitness import config_fitness, descriptor_name, record_arrays
from .loop import Evolution
from .provenance import git_commit, provenance
from .results import (HEADLINE_SPLIT, SPLITS, FoundText, choose_final, descriptor_figures,
                      evaluation_counts, flat_figures, proxy_scores, published_figures,
                      split_figures, versions, write_json, write_run_logs, write_text)
from .split import Split, make_split

# the figures of a proxy the aggregate summarises over spaces
AGGREGATED = ("fitness", "kendall_tau", "spearman_rho")
HELD_OUT_KEYS = ("kendall_tau", "spearman_rho", "n")


@dataclass
class SpaceData:
    """One space of a search over several: its records, captured bank, split and the per-record
    arrays its fitness reads (in the bank's order)."""

    name: str
    space: object
    bench: object
    settings: object
    bank: object
    split: Split
    descriptor: np.ndarray | None
    depth: np.ndarray

    @property
    def record_ids(self) -> list[str]:
        return [str(r) for r in self.bank.record_ids]

    @property
    def quality(self) -> np.ndarray:
        return np.asarray(self.bank.quality, dtype=np.float64)


def spaces_label(spaces) -> str:
    """``flexibert+gpt2``: the name of a search over these spaces."""
    return "+".join(spaces)


def language_problem(language, bank, space: str) -> str | None:
    """Why ``language`` cannot be searched on ``space``'s captured ``bank`` (an input it
    reads that the space does not capture), or ``None``."""
    missing = [name for name in language.inputs if name not in bank.names]
    if missing:
        return (f"language {language.name!r} reads the input {missing[0]!r}, which the "
                f"{space} space does not capture (it captures {', '.join(bank.names)})")
    return None


def prepare_space(name: str, spec, lang, cache, data_dir, progress, engine=None) -> SpaceData:
    """Load, capture and split one space of ``spec`` (a :class:`~.config.RunSpec` with
    ``spaces``)."""
    from ..collect import collect_inputs
    from ..spaces import get_space
    from .api import weight_sizes
    cfg = spec.search
    space = get_space(name)
    chosen = spec.space_records(name)
    bench = space.load_benchmark(chosen.benchmark, data_dir=data_dir)
    bench = bench.subset(ids=chosen.ids, limit=chosen.limit)
    settings = spec.space_capture(name).resolved(space)
    record_arrays(cfg, space, bench.records, [r.id for r in bench.records])  # checked
    bank = collect_inputs(space, bench.records, settings, cache=cache, data_dir=data_dir,
                          progress=progress, hand_designed=lang.hand, engine=engine)
    why = language_problem(lang, bank, name)
    if why:
        raise ConfigError(f"search config: {why}")
    try:
        split = make_split(bank, cfg.split_fractions, cfg.effective_split_seed, cfg.probes,
                           cfg.subsets, cfg.subset_fraction, sizes=weight_sizes(bank))
    except ConfigError as exc:
        raise ConfigError(f"space {name}: {exc}") from None
    descriptor, depth = record_arrays(cfg, space, bench.records, list(bank.record_ids))
    return SpaceData(name, space, bench, settings, bank, split, descriptor, depth)


def evaluator_spec(cfg, data: SpaceData) -> EvaluatorSpec:
    """What a worker needs to evaluate formulas on ``data``'s search split."""
    on_search = list(data.split.search)
    return EvaluatorSpec(language=str(cfg.language), bank=data.bank.subset(data.split.search),
                         probe_bank=data.bank.subset(data.split.probes) if cfg.rps else None,
                         statistic=cfg.statistic, absolute=cfg.absolute,
                         subsets=data.split.subsets, rps=cfg.rps,
                         eval_threads=cfg.eval_threads, fitness=cfg.fitness,
                         descriptor=(None if data.descriptor is None
                                     else data.descriptor[on_search]),
                         groups=data.depth[on_search])


def search_spaces(spec, out: Path, state: SearchState | None = None, *, cache=None,
                  data_dir=None, progress: bool = True,
                  on_checkpoint: Callable[[SearchState], None] | None = None
                  ) -> "MultiSearchResult":
    """Run the search over ``spec.search.spaces`` into ``out`` (checked and made by
    :func:`~.api.search`, which calls this); see the module docstring."""
    cfg = spec.search
    lang = load_language(cfg.language)
    from ..engine import make_engine
    with make_engine(cfg.engine, cfg.address, cfg.workers) as engine:  # capture, evaluation
        return _search_spaces_with(engine, spec, cfg, lang, out, state, cache, data_dir,
                                   progress, on_checkpoint)


def _search_spaces_with(engine, spec, cfg, lang, out, state, cache, data_dir, progress,
                        on_checkpoint) -> "MultiSearchResult":
    spaces = {name: prepare_space(name, spec, lang, cache, data_dir, progress, engine)
              for name in cfg.spaces}
    record_ids = [f"{name}:{rid}" for name, d in spaces.items() for rid in d.record_ids]
    if state is not None and state.record_ids != record_ids:
        raise ConfigError(f"{out}: the checkpoint was made on other records than these")

    spec_dict = spec.as_dict()
    spec_dict["capture"] = {**spec.capture.as_dict(),
                            **{name: d.settings.as_dict() for name, d in spaces.items()}}
    split_ids = {part: [f"{name}:{rid}" for name, d in spaces.items()
                        for rid in d.split.record_ids(d.record_ids)[part]]
                 for part in ("search", "validation", "test")}
    label = spaces_label(cfg.spaces)
    prov = provenance(spec_dict, split_ids, space=label,
                      benchmark=" + ".join(str(d.bench.source) for d in spaces.values()),
                      label=" / ".join(d.bench.label_name for d in spaces.values()),
                      commit=git_commit())
    write_json(out / "config.json", {
        **spec_dict, "seed": cfg.seed, "spaces": list(cfg.spaces), "aggregate": cfg.aggregate,
        "language": lang.name, "n_records": {n: len(d.bench) for n, d in spaces.items()},
        "benchmarks": {n: str(d.bench.source) for n, d in spaces.items()},
        "labels": {n: d.bench.label_name for n, d in spaces.items()}, "provenance": prov})
    write_json(out / "versions.json", versions())
    write_json(out / "split.json", {name: d.split.as_dict(d.record_ids)
                                    for name, d in spaces.items()})

    evaluator = MultiEvaluatorSpec({name: evaluator_spec(cfg, d) for name, d in spaces.items()},
                                   cfg.aggregate, cfg.eval_threads)
    with EvaluationPool(evaluator, cfg.workers, engine=engine) as pool:
        evolution = Evolution(cfg, lang, pool, out, spec_dict, record_ids, state,
                              on_checkpoint)
        evolution.run(cfg.generations, progress=progress)
    return finish_spaces(out, evolution, spaces, cfg, prov)


def aggregate_figures(per_space: dict, aggregate: str) -> dict:
    """Per split, the ``aggregate`` over spaces of each space's fitness, τ and ρ (``None``
    where any space's is), the summed ``n`` and ``n_invalid``, and the spaces' reasons.
    ``per_space``: space -> :func:`~.results.split_figures`."""
    combine = AGGREGATE_FUNCTIONS[aggregate]
    out = {}
    for part in SPLITS:
        rows = {name: figures[part] for name, figures in per_space.items()}
        got = {}
        for key in AGGREGATED:
            values = [row[key] for row in rows.values()]
            got[key] = None if any(v is None for v in values) else combine(values)
        reasons = [f"{name}: {row['reason']}" for name, row in rows.items() if row["reason"]]
        out[part] = {**got, "n": sum(row["n"] for row in rows.values()),
                     "n_invalid": sum(row["n_invalid"] for row in rows.values()),
                     "reason": "; ".join(reasons) or None}
    return out


def finish_spaces(out: Path, evolution: Evolution, spaces: dict, cfg, prov: dict
                  ) -> "MultiSearchResult":
    """Figures per space and split for the hall of fame, the choice on validation, and every
    result file (see the module docstring)."""
    from ..report import proxy_scatter
    lang = evolution.language
    fits = {name: config_fitness(cfg, cfg.fitness, d.descriptor, d.depth)
            for name, d in spaces.items()}
    entries, proxies = [], []
    for rank, ind in enumerate(evolution.hall_of_fame, start=1):
        proxy = Proxy(ind, lang)
        scores = {name: proxy_scores(proxy, d.bank) for name, d in spaces.items()}
        per_space = {name: split_figures(scores[name], d.quality, d.split, fits[name],
                                         cfg.absolute) for name, d in spaces.items()}
        outcome = evolution.memo[proxy.canonical()]
        entries.append({"rank": rank, "formula": str(proxy), "canonical": proxy.canonical(),
                        "language": proxy.language_ref(), "size": len(ind),
                        "search_fitness": outcome.fitness,
                        "search_fitness_per_space": outcome.objectives,
                        "sympy": proxy.sympy_text(simplify=False),
                        "latex": proxy.latex(simplify=False),
                        "figures": aggregate_figures(per_space, cfg.aggregate),
                        "per_space": per_space})
        proxies.append((proxy, scores))
    if not entries:
        raise NoResultError(f"the search in {out} found no valid formula in "
                            f"{len(evolution.memo)} evaluations; see "
                            f"{out / 'evaluations.jsonl'}")
    has_validation = all(d.split.validation for d in spaces.values())
    chosen = choose_final(entries, has_validation=has_validation)
    found, found_scores = proxies[chosen]
    figures = entries[chosen]["figures"]
    found.figures = flat_figures(figures)
    for i, entry in enumerate(entries):
        entry["chosen"] = i == chosen

    fitness_block = {"spaces": list(cfg.spaces), "aggregate": cfg.aggregate,
                     "fitness": cfg.fitness, "statistic": cfg.statistic,
                     "absolute": cfg.absolute, "selection": cfg.selection,
                     "descriptor": ({n: descriptor_name(cfg, d.space) for n, d in spaces.items()}
                                    if cfg.needs_descriptor or cfg.descriptor else None)}
    baselines = {name: descriptor_figures(d.space, d.bench.records, d.split, cfg.statistic,
                                          cfg.absolute) for name, d in spaces.items()}
    published = {name: published_figures(d.space) for name, d in spaces.items()}
    per_space_block = {}
    for name, d in spaces.items():
        mine = entries[chosen]["per_space"][name]
        per_space_block[name] = {
            "benchmark": str(d.bench.source), "label": d.bench.label_name,
            "capture": d.settings.as_dict(),
            "record_ids": d.split.record_ids(d.record_ids),
            "split_figures": mine,
            "held_out": {"split": HEADLINE_SPLIT,
                         "proxy": {k: mine[HEADLINE_SPLIT][k] for k in HELD_OUT_KEYS},
                         "descriptors": {desc: {k: figs[HEADLINE_SPLIT][k]
                                                for k in HELD_OUT_KEYS}
                                         for desc, figs in baselines[name].items()}},
            "descriptors": baselines[name]}
    counts = evaluation_counts(list(evolution.memo.values()))
    prov = {**prov, "evaluations": counts}
    from .api import _load_config
    config = _load_config(out)
    write_json(out / "config.json", {**config, "provenance": prov})
    selected_on = "validation" if has_validation else "search"
    write_json(out / "hall_of_fame.json", {"chosen": chosen + 1, **fitness_block,
                                           "selected_on": selected_on,
                                           "headline_split": HEADLINE_SPLIT,
                                           "entries": entries})
    write_json(out / "found.json", {**found.to_json(), "headline_split": HEADLINE_SPLIT,
                                    **fitness_block, "selected_on": selected_on,
                                    "split_figures": figures, "per_space": per_space_block,
                                    "provenance": prov})
    write_json(out / "baselines.json", {"splits": list(SPLITS), "headline_split": HEADLINE_SPLIT,
                                        "descriptors": baselines, "published": published})
    write_run_logs(out, evolution, cfg, f"{spaces_label(cfg.spaces)}: {cfg.aggregate} of "
                                        f"{cfg.fitness} over the spaces' search splits")
    for name, d in spaces.items():
        s = found_scores[name]
        finite = np.isfinite(s)
        proxy_scatter(s[finite], d.quality[finite], out / f"found_scatter_{name}.png",
                      title=f"{name}: {found} (all {int(finite.sum())} records)"[:110],
                      label_name=d.bench.label_name)
    return MultiSearchResult(out=out, spaces=list(cfg.spaces), aggregate=cfg.aggregate,
                             found=found, figures=figures,
                             per_space={n: entries[chosen]["per_space"][n] for n in spaces},
                             baselines=baselines, hall_of_fame=entries,
                             log=list(evolution.log), rps_counts=dict(evolution.rps_counts),
                             config={**config, "provenance": prov},
                             seconds=evolution.elapsed, evaluations=counts, provenance=prov)


@dataclass
class MultiSearchResult(FoundText):
    """A finished search over several spaces. ``figures``: the aggregate figures per split;
    ``per_space``: space -> the found proxy's figures per split; ``baselines``: space ->
    descriptor -> figures per split; the rest as in :class:`~.results.SearchResult`."""

    out: Path
    spaces: list
    aggregate: str
    found: Proxy
    figures: dict
    per_space: dict
    baselines: dict
    hall_of_fame: list
    log: list
    rps_counts: dict
    config: dict
    seconds: float
    evaluations: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    @property
    def held_out(self) -> dict:
        """space -> the found proxy's figures on that space's test split."""
        return {name: figures[HEADLINE_SPLIT] for name, figures in self.per_space.items()}

    def summary(self) -> str:
        """The text ``lpzero-gp search --spaces`` prints at the end."""
        lines = self._head_lines() + [
            f"spaces   {', '.join(self.spaces)}; fitness: the {self.aggregate} over the "
            f"spaces; {self._effort()}",
            "", f"held out: each space's {HEADLINE_SPLIT} split, read by no part of the search",
            f"{'':12s}{'':34s}{'split':>11s}{'n':>6s}{'tau':>8s}{'rho':>8s}"]
        for space in self.spaces:
            rows = [("found proxy", self.per_space[space])]
            rows += [(f"descriptor: {n}", f) for n, f in self.baselines[space].items()]
            lines += self._figure_lines(rows, lead=f"{space:12s}")
        lines.append(f"\nresults in {self.out}")
        return "\n".join(lines)


def held_out_markdown(found: dict) -> str:
    """A markdown table of a multi-space ``found.json`` (its dict): per space, the found proxy's
    figures on that space's test split beside each headline descriptor's on the same records,
    the best descriptor by ρ in bold (chosen on those records: the strictest bar)."""
    def cell(v):
        return "–" if v is None else f"{v:.3f}"

    lines = [f"Found on {' + '.join(found['spaces'])} (fitness: the {found['aggregate']} over "
             f"the spaces of {found['fitness']} on each space's search split; chosen by the "
             f"same {found['aggregate']} on the validation splits): `{found['formula']}`. "
             f"Figures on each space's test split, which no part of the search read.", "",
             "| space | scorer | n | τ | ρ |", "|---|---|---|---|---|"]
    for space, block in found["per_space"].items():
        held = block["held_out"]
        lines.append(f"| {space} | found proxy | {held['proxy']['n']} | "
                     f"{cell(held['proxy']['kendall_tau'])} | "
                     f"{cell(held['proxy']['spearman_rho'])} |")
        rhos = {n: f["spearman_rho"] for n, f in held["descriptors"].items()
                if f["spearman_rho"] is not None}
        best = max(rhos, key=rhos.get) if rhos else None
        for name, f in held["descriptors"].items():
            label = f"**descriptor: {name}**" if name == best else f"descriptor: {name}"
            lines.append(f"| {space} | {label} | {f['n']} | {cell(f['kendall_tau'])} | "
                         f"{cell(f['spearman_rho'])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m lpzero_gp.search.multi FOUND_JSON [--out FILE]``: :func:`held_out_markdown`
    of a multi-space ``found.json``, printed (and written to ``--out``)."""
    import json
    from ..errors import OneLineParser, run_command

    def run(args_list):
        parser = OneLineParser(prog="python -m lpzero_gp.search.multi",
                               description="the held-out table of a multi-space found.json")
        parser.add_argument("found")
        parser.add_argument("--out")
        args = parser.parse_args(args_list)
        try:
            found = json.loads(Path(args.found).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{args.found}: cannot read a found.json ({exc})") from None
        if "per_space" not in found:
            raise ConfigError(f"{args.found}: not the found.json of a search over several "
                              f"spaces (no per_space block)")
        text = held_out_markdown(found)
        print(text, end="")
        if args.out:
            write_text(Path(args.out), text)
        return 0
    return run_command("python -m lpzero_gp.search.multi", run, argv)


__all__ = ["search_spaces", "aggregate_figures", "MultiSearchResult", "language_problem",
           "held_out_markdown"]

if __name__ == "__main__":
    import sys
    sys.exit(main())
