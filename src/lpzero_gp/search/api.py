"""The Python entry point of a proxy search: :func:`search`.

Example (a small search on 12 records with small batches)::

    from lpzero_gp.search import search
    result = search("flexibert", generations=3, population=12, records=12, batch_size=2,
                    seq_len=32, max_elements=512, out="runs/demo")
    print(result.summary())
    result.found            # the chosen Proxy; result.figures: its figures per split
    result.held_out         # its figures on the test split, which the search never read
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from ..cache import CaptureCache
from ..errors import (ConfigError, LpzeroWarning, NoCheckpointError, NoResultError,
                      OutputError, ResultsExistError)
from ..fileio import remove_stale_temporaries
from ..language import Proxy, load_language
from ..seeding import seed_everything
from .checkpoint import CHECKPOINT_NAME, SearchState, load_checkpoint
from .config import RunSpec, SearchConfig, load_spec, setting_keywords, spec_with
from .evaluate import EvaluationPool, EvaluatorSpec
from .fitness import SIZE_OBJECTIVE, config_fitness, descriptor_name, record_arrays
from .loop import Evolution
from .provenance import git_commit, provenance
from .results import (HEADLINE_SPLIT, SPLITS, published_figures, SearchResult, choose_final,
                      descriptor_figures, evaluation_counts, flat_figures, proxy_scores,
                      split_figures, versions, write_json, write_run_logs)
from .split import Split, make_split


def default_out(config: SearchConfig) -> Path:
    """``runs/<space>-<language>-seed<seed>`` (several spaces: ``<space>+<space>...``): the same
    command finds its own run again."""
    space = "+".join(config.spaces) if config.spaces else config.space
    return Path("runs") / f"{space}-{Path(str(config.language)).stem}-seed{config.seed}"


def search(space: str | None = None, config: str | os.PathLike | Mapping | RunSpec | None = None,
           *, out: str | os.PathLike | None = None,
           cache: CaptureCache | str | os.PathLike | bool | None = None,
           data_dir: str | os.PathLike | None = None, resume: bool = False,
           progress: bool = True,
           on_checkpoint: Callable[[SearchState], None] | None = None,
           **settings) -> SearchResult:
    """Search the proxy language for the formula that ranks the space's architectures best.

    Settings come from ``config`` (a :class:`RunSpec`, a TOML/JSON file, a dict of
    ``search``/``capture``/``records`` tables, or a flat dict of search keys), then the keyword
    ``settings`` (``None``: keep the config's value): any key of
    :class:`~lpzero_gp.search.config.SearchConfig` (``generations``, ``population``, ``seed``,
    ``workers``, ``engine``, ``address``, ``language``, ``split_fractions``, ``statistic``,
    ``rps``, ...), any key of
    :class:`~lpzero_gp.cache.CaptureSettings` (``batch_size``, ``seq_len``, ``max_elements``,
    ``objective``, ``variant``, ``text_path``, ``storage_dtype``, ...; its ``seed`` is
    ``capture_seed``), ``capture`` (a whole :class:`CaptureSettings` or dict), ``benchmark``
    and ``records`` (the first N records, an int, or a list of ids; default: all); see
    :func:`~lpzero_gp.search.config.setting_keywords`. ``split_fractions``: [search,
    validation, test] shares of each depth. ``cache``: the capture cache (a folder, a
    :class:`CaptureCache`, ``None`` for the default, ``False`` for none). ``resume``: continue
    the run in ``out`` from its last checkpoint (generations, workers, engine and address may
    change; anything else must match). ``on_checkpoint(state)`` is called after each
    generation's checkpoint. ``spaces`` (a list of space names, with ``aggregate``: ``mean``
    or ``min``): one search over several spaces (:mod:`.multi`; ``space`` is not read).

    Returns a :class:`SearchResult` (several spaces: a :class:`.multi.MultiSearchResult`);
    every file is written to ``out`` (default :func:`default_out`).
    """
    overrides = dict(settings, space=space)
    spec = spec_with(config, overrides)
    if out is None:
        out = default_out(spec.search)
    out = Path(out)
    state = _check_out(out, resume)
    if state is not None:
        spec = _resumed_spec(out, state, spec if config is not None else None, overrides)
    cfg = spec.search
    seed_everything(cfg.seed)
    if cfg.multi:
        from .multi import search_spaces
        return search_spaces(spec, out, state, cache=cache, data_dir=data_dir,
                             progress=progress, on_checkpoint=on_checkpoint)

    lang = load_language(cfg.language)  # a wrong language fails before any capture
    if cfg.exact and lang.hand:
        raise ConfigError(f"exact = true: language {lang.name!r} reads hand-designed proxies, "
                          f"which have no full-tensor form; search without exact")
    from ..spaces import get_space
    space_obj = get_space(cfg.space)
    bench = space_obj.load_benchmark(spec.records.benchmark, data_dir=data_dir)
    bench = bench.subset(ids=spec.records.ids, limit=spec.records.limit)
    settings = spec.capture.resolved(space_obj)
    record_arrays(cfg, space_obj, bench.records, [r.id for r in bench.records])  # checked
    from ..engine import make_engine
    with make_engine(cfg.engine, cfg.address, cfg.workers) as engine:  # capture, evaluation
        return _search_with(engine, spec, cfg, out, state, lang, space_obj, bench, settings,
                            cache, data_dir, progress, on_checkpoint)


def _search_with(engine, spec, cfg, out, state, lang, space_obj, bench, settings, cache,
                 data_dir, progress, on_checkpoint) -> SearchResult:
    from ..collect import collect_inputs
    bank = collect_inputs(space_obj, bench.records, settings, cache=cache, data_dir=data_dir,
                          progress=progress, hand_designed=lang.hand, engine=engine)
    if state is not None and state.record_ids != list(bank.record_ids):
        raise ConfigError(f"{out}: the checkpoint was made on other records than these")
    split = make_split(bank, cfg.split_fractions, cfg.effective_split_seed, cfg.probes,
                       cfg.subsets, cfg.subset_fraction, sizes=weight_sizes(bank))

    spec_dict = spec.as_dict()
    spec_dict["capture"] = settings.as_dict()
    prov = provenance(spec_dict, split.record_ids(list(bank.record_ids)), space=cfg.space,
                      benchmark=str(bench.source), label=bench.label_name,
                      commit=git_commit())
    write_json(out / "config.json", {**spec_dict, "seed": cfg.seed, "space": cfg.space,
                                     "language": lang.name, "benchmark": bench.source,
                                     "label": bench.label_name, "n_records": len(bench),
                                     "provenance": prov})
    write_json(out / "versions.json", versions())
    write_json(out / "split.json", split.as_dict(list(bank.record_ids)))

    descriptor, depth = record_arrays(cfg, space_obj, bench.records, list(bank.record_ids))
    on_search = list(split.search)
    evaluator = EvaluatorSpec(language=str(cfg.language), bank=bank.subset(split.search),
                              probe_bank=bank.subset(split.probes) if cfg.rps else None,
                              statistic=cfg.statistic, absolute=cfg.absolute,
                              subsets=split.subsets, rps=cfg.rps,
                              eval_threads=cfg.eval_threads, fitness=cfg.fitness,
                              descriptor=None if descriptor is None else descriptor[on_search],
                              groups=depth[on_search],
                              objectives=tuple(cfg.objectives or ()))
    loop = Evolution
    if cfg.selection == "nsga2":
        from .pareto import ParetoEvolution as loop
    with EvaluationPool(evaluator, cfg.workers, engine=engine) as pool:
        evolution = loop(cfg, lang, pool, out, spec_dict, list(bank.record_ids), state,
                         on_checkpoint)
        evolution.run(cfg.generations, progress=progress)
    return finish(out, evolution, bank, split, space_obj, bench, cfg, prov,
                  exact_settings=(settings, data_dir, progress) if cfg.exact else None)


# what a search writes into its results folder: files made at its start, then its results
SETUP_FILES = ("config.json", "versions.json", "split.json")
RESULT_FILES = (CHECKPOINT_NAME, "found.json", "hall_of_fame.json", "baselines.json",
                "rps.json", "log.jsonl", "log.csv", "evaluations.jsonl", "fitness.png",
                "found_scatter.png", "pareto_front.json", "pareto_front.png")
# temporary files of interrupted writes (fileio.write_text, save_checkpoint) older than this
# (seconds) are removed at the start of a run
STALE_RESULTS_TEMPORARY = 600.0


def _check_out(out: Path, resume: bool) -> SearchState | None:
    """The checkpoint of the results folder ``out`` (``None``: start afresh), after making
    sure that the run will overwrite no results: without ``resume``, a folder holding any file
    a search writes is refused; with ``resume``, a folder holding results but no checkpoint is
    refused, and one holding neither starts afresh (said in a warning). Makes ``out`` and
    removes the temporary files interrupted writes left there."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"results folder {out} is a file; choose another --out")
    try:
        held = [name for name in SETUP_FILES + RESULT_FILES if (out / name).exists()]
    except OSError as exc:
        raise OutputError(f"results folder {out} cannot be read ({exc.strerror}); choose "
                          f"another --out") from None
    state = load_checkpoint(out)
    if state is not None and not resume:
        raise ResultsExistError(f"{out} already holds a search (checkpoint at generation "
                                f"{state.generation}); resume it (--resume / resume=True) or "
                                f"choose another output folder (--out)")
    if state is None and not resume and held:
        raise ResultsExistError(f"{out} already holds results ({', '.join(held[:4])}"
                                f"{', ...' if len(held) > 4 else ''}); choose another output "
                                f"folder (--out), or remove these files to run there again")
    if state is None and resume:
        results = [name for name in held if name in RESULT_FILES]
        if results:
            raise NoCheckpointError(f"{out} holds no checkpoint to resume from, but holds "
                                    f"results ({', '.join(results[:4])}); choose another "
                                    f"output folder (--out) to search again")
        warnings.warn(f"no checkpoint in {out} to resume: starting from generation 0",
                      LpzeroWarning, stacklevel=3)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot make the results folder {out} ({exc.strerror}); choose "
                          f"another --out") from None
    remove_stale_temporaries(out, [".checkpoint-*"] + [f".{name}-*" for name in
                                                       SETUP_FILES + RESULT_FILES],
                             older_than=STALE_RESULTS_TEMPORARY)
    return state


def weight_sizes(bank) -> np.ndarray | None:
    """Total weight count (N,) of each architecture, to spread the RPS probes over size, from
    the bank's ``tensor_numel("W")`` where the bank has that method and captured ``W``;
    ``None`` (probes spread over depth) otherwise."""
    tensor_numel = getattr(bank, "tensor_numel", None)
    if tensor_numel is None:
        return None
    try:
        return np.asarray(tensor_numel("W"), dtype=np.float64)
    except KeyError:
        return None


def _resumed_spec(out: Path, state: SearchState, given: RunSpec | None,
                  overrides: dict) -> RunSpec:
    """The settings of a resumed run: the checkpoint's, with a new ``generations`` and
    ``workers`` allowed. ``given`` (from a config file) and the explicit ``overrides`` must
    agree with the checkpoint on everything else."""
    try:
        saved = load_spec(state.spec)
    except ConfigError as exc:
        raise ConfigError(f"{out}: the checkpoint's settings cannot be resumed by this version "
                          f"of lpzero-gp: {exc}") from None
    candidate = given if given is not None else spec_with(saved, overrides)
    changed = saved.search.differences(candidate.search)
    changed += [f"capture.{k}" for k, v in saved.capture.as_dict().items()
                if candidate.capture.as_dict()[k] is not None
                and candidate.capture.as_dict()[k] != v]
    changed += [f"records.{k}" for k, v in saved.records.as_dict().items()
                if candidate.records.as_dict()[k] != v]
    for space in saved.search.spaces or []:
        own, given = saved.space_capture(space).as_dict(), candidate.space_capture(space)
        changed += [f"capture.{space}.{k}" for k, v in given.as_dict().items()
                    if v is not None and v != own[k] and f"capture.{k}" not in changed]
        if saved.space_records(space) != candidate.space_records(space):
            changed.append(f"records.{space}")
    if changed:
        raise ConfigError(f"{out}: cannot resume with other settings than the checkpoint's "
                          f"(changed: {', '.join(changed)}); only generations, workers, "
                          f"engine and address may change")
    for key in SearchConfig.RESUMABLE_CHANGES:
        setattr(saved.search, key, getattr(candidate.search, key))
    return saved


def finish(out: Path, evolution: Evolution, bank, split: Split, space, bench,
           cfg: SearchConfig, prov: dict | None = None,
           exact_settings: tuple | None = None) -> SearchResult:
    """Figures per split for the hall of fame, the chosen proxy, and every result file.
    ``prov``: the run's provenance block (:func:`.provenance.provenance`), completed here with
    the number of evaluations and written to ``found.json`` and ``config.json``.
    ``exact_settings``: ``(capture settings, data_dir, progress)`` to take every figure from
    the full tensors (``cfg.exact``, :func:`lpzero_gp.exact.exact_results`)."""
    from ..report import proxy_scatter
    lang = evolution.language
    quality = np.asarray(bank.quality, dtype=np.float64)
    descriptor, depth = record_arrays(cfg, space, bench.records, list(bank.record_ids))
    fit = config_fitness(cfg, cfg.fitness, descriptor, depth)
    pareto = cfg.selection == "nsga2"
    objective_names = [n for n in (cfg.objectives or []) if n != SIZE_OBJECTIVE]
    if pareto and cfg.choose_on not in objective_names:
        objective_names.append(cfg.choose_on)
    objectives = [config_fitness(cfg, n, descriptor, depth) for n in objective_names]
    members = evolution.front() if pareto else list(evolution.hall_of_fame)
    exact = None
    if exact_settings is not None and members:
        from ..exact import exact_results
        settings, data_dir, progress = exact_settings
        by_id = {str(r.id): r for r in bench.records}
        exact = exact_results([Proxy(ind, lang) for ind in members], space,
                              [by_id[rid] for rid in bank.record_ids], settings, data_dir,
                              progress)
    entries, proxies = [], []
    for rank, ind in enumerate(members, start=1):
        proxy = Proxy(ind, lang)
        scores = (proxy_scores(proxy, bank) if exact is None
                  else np.asarray(exact[rank - 1].scores, dtype=np.float64))
        figures = split_figures(scores, quality, split, fit, cfg.absolute, objectives)
        outcome = evolution.memo[proxy.canonical()]
        entries.append({"rank": rank, "formula": str(proxy), "canonical": proxy.canonical(),
                        "language": proxy.language_ref(), "size": len(ind),
                        "search_fitness": outcome.fitness,
                        **({"search_objectives": outcome.objectives} if pareto else {}),
                        "sympy": proxy.sympy_text(simplify=False),
                        "latex": proxy.latex(simplify=False), "figures": figures})
        proxies.append((proxy, scores))
    if not entries:
        raise NoResultError(f"the search in {out} found no valid formula in "
                          f"{len(evolution.memo)} evaluations; see {out / 'evaluations.jsonl'}")
    if pareto:
        from .pareto import choose_on_validation
        chosen = (choose_on_validation(entries, cfg.choose_on) if split.validation
                  else 0)
    else:
        chosen = choose_final(entries, has_validation=bool(split.validation))
    found, found_scores = proxies[chosen]
    figures = entries[chosen]["figures"]
    found.figures = flat_figures(figures)
    for i, entry in enumerate(entries):
        entry["chosen"] = i == chosen
    fitness_block = {"fitness": cfg.fitness, "statistic": cfg.statistic,
                     "absolute": cfg.absolute, "selection": cfg.selection,
                     "figures_on": "full tensors" if exact is not None else "sketch",
                     "descriptor": (descriptor_name(cfg, space) if descriptor is not None
                                    else None)}
    if pareto:
        fitness_block.update(objectives=list(cfg.objectives), choose_on=cfg.choose_on,
                             rule=f"the front member with the highest {cfg.choose_on} on the "
                                  f"validation split (ties: the smaller formula)")

    baselines = descriptor_figures(space, bench.records, split, cfg.statistic, cfg.absolute)
    published = published_figures(space)
    counts = evaluation_counts(list(evolution.memo.values()))
    prov = {**(prov or {}), "evaluations": counts}
    config = _load_config(out)
    write_json(out / "config.json", {**config, "provenance": prov})

    write_json(out / "hall_of_fame.json", {"chosen": chosen + 1, "statistic": cfg.statistic,
                                           **fitness_block,
                                           "selected_on": "validation" if split.validation
                                           else "search", "headline_split": HEADLINE_SPLIT,
                                           "entries": entries})
    if pareto:
        from ..report import pareto_plot
        write_json(out / "pareto_front.json", {**fitness_block, "chosen": chosen + 1,
                                               "selected_on": "validation" if split.validation
                                               else "search", "members": entries})
        pareto_plot(entries, [n for n in cfg.objectives if n != SIZE_OBJECTIVE], chosen,
                    out / "pareto_front.png", title=f"{cfg.space}: Pareto front "
                    f"({len(entries)} formulas), search split")
    write_json(out / "found.json", {**found.to_json(), "headline_split": HEADLINE_SPLIT,
                                    "statistic": cfg.statistic, **fitness_block,
                                    "split_figures": figures, "provenance": prov})
    write_json(out / "baselines.json", {"splits": list(SPLITS), "headline_split": HEADLINE_SPLIT,
                                        "descriptors": baselines, "published": published})
    write_run_logs(out, evolution, cfg, f"{cfg.space}: {cfg.fitness} on the search split")
    finite = np.isfinite(found_scores)
    proxy_scatter(found_scores[finite], quality[finite], out / "found_scatter.png",
                  title=f"{found} (all {int(finite.sum())} records)"[:110],
                  label_name=bench.label_name)
    return SearchResult(out=out, space=cfg.space, found=found, figures=figures,
                        hall_of_fame=entries, log=list(evolution.log),
                        rps_counts=dict(evolution.rps_counts), baselines=baselines,
                        published=published, config={**config, "provenance": prov},
                        seconds=evolution.elapsed, evaluations=counts, provenance=prov)


def _load_config(out: Path) -> dict:
    import json
    return json.loads((out / "config.json").read_text())


def _signature():
    """search()'s signature for help() and editors: its own parameters, then every setting
    keyword (:func:`~.config.setting_keywords`), keyword-only with default ``None``."""
    import inspect
    own = inspect.signature(search)
    params = [p for p in own.parameters.values() if p.kind is not p.VAR_KEYWORD]
    taken = {p.name for p in params}
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=None)
               for k in setting_keywords() if k not in taken]
    return own.replace(parameters=params)


search.__signature__ = _signature()

__all__ = ["search", "default_out", "finish"]
