"""The settings of one search, from defaults, a TOML/JSON file, a dict and keyword overrides.

A config file has up to three tables (every key optional)::

    [search]            # fields of SearchConfig: generations, population, seed, language, ...
    [capture]           # fields of lpzero_gp.cache.CaptureSettings: batch_size, seq_len, ...
    [records]           # benchmark = "path", limit = N  or  ids = ["0", "1", ...]

A search over several spaces (``spaces = ["flexibert", "gpt2"]`` in [search]) may give a
space its own capture settings or records in a sub-table named after it, e.g.
``[capture.gpt2]`` or ``[records.gpt2]``: its keys replace those of the shared [capture] /
[records] table for that space only; a space without one gets the shared table, resolved by
``CaptureSettings.resolved(space)`` (the space's own sequence length, objective, variant).

Unknown tables or keys raise :class:`~lpzero_gp.errors.ConfigError` naming the file and the key.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..cache import CaptureSettings
from ..errors import ConfigError
from .fitness_names import (AGGREGATES, DEFAULT_AGGREGATE, FITNESSES, NEEDS_DESCRIPTOR, PLAIN,
                            SELECTIONS, SIZE_OBJECTIVE)
from .variation import CROSSOVER_OPERATORS, MUTATION_OPERATORS

try:
    import tomllib as _toml
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as _toml
    except ModuleNotFoundError:
        _toml = None

# operator names: the keys of the variation module's tables (an operator is added there only)
CROSSOVERS = tuple(CROSSOVER_OPERATORS)
MUTATIONS = tuple(MUTATION_OPERATORS)
STATISTICS = ("spearman", "kendall")
DEFAULT_OBJECTIVES = ("spearman", "partial", SIZE_OBJECTIVE)
DEFAULT_SPLIT_FRACTIONS = (0.4, 0.3, 0.3)

# keys of earlier versions, refused with what to write instead
RETIRED_KEYS = {
    "search_fraction": "search_fraction is no longer read: the records are now split three "
                       "ways; write split_fractions = [search, validation, test] instead, e.g. "
                       "[0.4, 0.3, 0.3] (the test split is only reported, never searched or "
                       "chosen on)",
}


@dataclass
class SearchConfig:
    """Everything that decides the course of a search (and nothing that does not).

    Budget: ``population`` individuals per generation for ``generations`` generations after
    the initial one; each generation keeps ``elitism`` best individuals and breeds the rest.
    An offspring comes from crossover with probability ``crossover_prob``, else from mutation
    with probability ``mutation_prob``, else it is a copy of a tournament winner. Operators are
    drawn with the relative weights of ``crossovers`` / ``mutations``.

    Fitness: ``fitness`` (one of :data:`~.fitness.FITNESSES`: ``spearman``, ``kendall``,
    ``partial``, ``within-depth``, ``lexicographic-tiebreak``; see :mod:`.fitness`) of the
    scores against quality on the search split, or, when ``subsets`` > 0, the minimum over
    that many random subsets holding ``subset_fraction`` of the search split. With
    ``absolute`` the sign is dropped. ``statistic`` is the older name of ``spearman`` /
    ``kendall`` (kept: a config giving only ``statistic`` means that fitness; giving both, they
    must agree) and the rank statistic inside each depth of ``within-depth``. ``descriptor``:
    the descriptor ``partial`` and ``lexicographic-tiebreak`` condition on (default: the
    space's ``size_descriptor``).

    Selection: ``tournament`` (one fitness, elitism, a hall of fame) or ``nsga2`` (DEAP's
    NSGA-II on ``objectives``, fitness options and ``size``, the formula's node count,
    minimised; the Pareto front of every formula evaluated is the result, and the member with
    the best ``choose_on`` (a fitness option, default the first objective) on the validation
    split is the found proxy; see :mod:`.pareto`). NSGA-II reads neither ``elitism``,
    ``tournament_size`` nor ``hall_of_fame`` (its parents come from binary tournaments on
    front rank and crowding distance).

    Splits: ``split_fractions`` = [search, validation, test], the share of each depth in each
    split (three numbers > 0 summing to 1), drawn with ``split_seed`` (default: ``seed``). The
    validation split chooses the final proxy from the hall of fame; the test split is only
    reported.

    ``exact``: the hall of fame's figures on every split, hence the choice of the final
    proxy on the validation split and the reported test figures, come from the full tensors
    (each record captured whole, one at a time, after the search: :mod:`lpzero_gp.exact`);
    the fitness during the search still reads the sketch. A formula that scores well only
    through the sketch's sampling error is then not chosen, or shows it.

    Several spaces: ``spaces`` (two or more distinct space names; ``space`` is then not read)
    makes one search whose fitness is the ``aggregate`` (``mean`` or ``min``) over the spaces
    of the fitness on each space's own search split (each space split with the same seed and
    fractions); see :mod:`.multi`. Only with ``selection = "tournament"``.
    """

    space: str = "flexibert"
    language: str = "default"
    generations: int = 20
    population: int = 50
    seed: int = 0
    tournament_size: int = 3
    elitism: int = 2
    hall_of_fame: int = 10
    crossover_prob: float = 0.6
    mutation_prob: float = 0.35
    crossovers: dict = field(default_factory=lambda: {"subtree": 0.6, "branch": 0.4})
    mutations: dict = field(default_factory=lambda: {"point": 0.4, "subtree": 0.4,
                                                     "shrink": 0.2})
    variation_retries: int = 10
    unique_offspring: bool = True
    fitness: str | None = None
    statistic: str | None = None
    descriptor: str | None = None
    selection: str = "tournament"
    objectives: list | None = None
    choose_on: str | None = None
    absolute: bool = False
    exact: bool = False
    subsets: int = 0
    subset_fraction: float = 0.5
    split_fractions: list = field(default_factory=lambda: list(DEFAULT_SPLIT_FRACTIONS))
    split_seed: int | None = None
    rps: bool = True
    probes: int = 3
    eval_threads: int = 1
    workers: int = 1
    engine: str = "local"  # where formulas are evaluated: local or ray (lpzero_gp.engine)
    address: str | None = None  # the Ray cluster to join (ray only)
    spaces: list | None = None
    aggregate: str | None = None

    # fields that may change between a run and its resumption
    RESUMABLE_CHANGES = ("generations", "workers", "engine", "address")

    def __post_init__(self) -> None:
        self.validate()
        self.split_fractions = [float(f) for f in self.split_fractions]
        # one spelling once read: fitness and statistic both set, consistently; with NSGA-II
        # the fitness is the first objective other than size
        if self.selection == "nsga2":
            self.objectives = list(self.objectives or DEFAULT_OBJECTIVES)
            primary = next(o for o in self.objectives if o != SIZE_OBJECTIVE)
            given = self.fitness or (self.statistic if primary in PLAIN else None)
            if given is not None and given != primary:
                raise ConfigError(f"search config: fitness = {given!r}: with selection = "
                                  f"\"nsga2\" the fitness is the first objective "
                                  f"({primary!r}); leave fitness out or list it first")
            self.fitness = primary
            if self.choose_on is None:
                self.choose_on = primary
        if self.fitness is None:
            self.fitness = self.statistic or "spearman"
        if self.statistic is None:
            self.statistic = self.fitness if self.fitness in PLAIN else "spearman"
        if self.spaces is not None:
            self.spaces = list(self.spaces)
            if self.aggregate is None:
                self.aggregate = DEFAULT_AGGREGATE

    @property
    def needs_descriptor(self) -> bool:
        """Whether the fitness (or an objective, or the choice) conditions on a descriptor."""
        names = [self.fitness, self.choose_on, *(self.objectives or [])]
        return any(n in NEEDS_DESCRIPTOR for n in names)

    def validate(self, where: str = "search config") -> None:
        def bad(key, why):
            raise ConfigError(f"{where}: {key} = {getattr(self, key)!r}: {why}")
        from ..spaces import SPACE_NAMES
        for key in ("space", "language", "selection"):
            if not isinstance(getattr(self, key), str):
                bad(key, "must be text")
        for key in ("fitness", "statistic", "descriptor", "choose_on"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), str):
                bad(key, "must be text")
        from ..engine import ENGINES
        if self.engine not in ENGINES:
            bad("engine", f"unknown engine; choose one of {', '.join(ENGINES)}")
        if self.address is not None and (not isinstance(self.address, str)
                                         or self.engine != "ray"):
            bad("address", "must be the text of a Ray cluster's address, with engine = \"ray\"")
        if self.space not in SPACE_NAMES:
            bad("space", f"unknown space; known spaces: {', '.join(SPACE_NAMES)}")
        if not self.language:
            bad("language", "must name a primitive set: default, lpzero, or a TOML file")
        for key in ("generations", "population", "seed", "tournament_size", "elitism",
                    "hall_of_fame", "variation_retries", "subsets", "probes", "eval_threads",
                    "workers", "split_seed"):
            value = getattr(self, key)
            if key == "split_seed" and value is None:
                continue
            if not _is_int(value):
                bad(key, "must be a whole number")
        for key in ("generations", "elitism", "subsets", "variation_retries", "seed"):
            if getattr(self, key) < 0:
                bad(key, "must be >= 0")
        if self.split_seed is not None and self.split_seed < 0:
            bad("split_seed", "must be >= 0")
        for key in ("seed", "split_seed"):
            if (getattr(self, key) or 0) >= 2**63:
                bad(key, "must be < 2**63")
        for key in ("population", "tournament_size", "hall_of_fame", "probes", "eval_threads",
                    "workers"):
            if getattr(self, key) < 1:
                bad(key, "must be >= 1")
        if self.population < 2:
            bad("population", "must be >= 2")
        if self.elitism >= self.population:
            bad("elitism", "must be smaller than the population")
        for key in ("unique_offspring", "absolute", "rps", "exact"):
            if not isinstance(getattr(self, key), bool):
                bad(key, "must be true or false")
        for key in ("crossover_prob", "mutation_prob", "subset_fraction"):
            if not _is_number(getattr(self, key)):
                bad(key, "must be a number")
        for key in ("crossover_prob", "mutation_prob"):
            if not 0.0 <= float(getattr(self, key)) <= 1.0:
                bad(key, "must be a probability")
        if self.crossover_prob + self.mutation_prob > 1.0 + 1e-12:
            bad("mutation_prob", "crossover_prob + mutation_prob must be <= 1")
        why = split_fractions_problem(self.split_fractions)
        if why:
            bad("split_fractions", why)
        if not 0.0 < self.subset_fraction <= 1.0:
            bad("subset_fraction", "must be in (0, 1]")
        self._validate_fitness(bad)
        self._validate_spaces(bad)
        for key, known in (("crossovers", CROSSOVERS), ("mutations", MUTATIONS)):
            weights = getattr(self, key)
            if not isinstance(weights, Mapping) or not weights:
                bad(key, "must be a non-empty table of operator = weight")
            for name, w in weights.items():
                if name not in known:
                    bad(key, f"unknown operator {name!r}; known: {', '.join(known)}")
                if not _is_number(w) or not w >= 0.0:
                    bad(key, f"weight of {name!r} must be a finite number >= 0")
            if sum(float(w) for w in weights.values()) <= 0.0:
                bad(key, "weights must not all be 0")

    def _validate_fitness(self, bad) -> None:
        if self.statistic is not None and self.statistic not in STATISTICS:
            bad("statistic", f"must be one of {', '.join(STATISTICS)}")
        if self.fitness is not None and self.fitness not in FITNESSES:
            bad("fitness", f"unknown fitness; known: {', '.join(FITNESSES)}")
        if self.statistic is not None and self.fitness is not None:
            if self.fitness in PLAIN and self.statistic != self.fitness:
                bad("statistic", f"conflicts with fitness = {self.fitness!r}; statistic is the "
                                 f"older name of the spearman/kendall fitness: give one of them")
            if self.fitness in NEEDS_DESCRIPTOR and self.statistic != "spearman":
                bad("statistic", f"is not read by fitness = {self.fitness!r}; leave it out")
        if self.descriptor is not None and not self.descriptor:
            bad("descriptor", "must name a descriptor of the space")
        if self.selection not in SELECTIONS:
            bad("selection", f"unknown selection; known: {', '.join(SELECTIONS)}")
        if self.selection != "nsga2":
            for key in ("objectives", "choose_on"):
                if getattr(self, key) is not None:
                    bad(key, 'is read only with selection = "nsga2"')
            return
        objectives = self.objectives
        if objectives is not None:
            if isinstance(objectives, (str, bytes, Mapping)) or not isinstance(
                    objectives, (list, tuple)) or len(objectives) < 2:
                bad("objectives", f"must be a list of two or more of: "
                                  f"{', '.join(FITNESSES + (SIZE_OBJECTIVE,))}")
            for name in objectives:
                if not isinstance(name, str) or name not in FITNESSES + (SIZE_OBJECTIVE,):
                    bad("objectives", f"unknown objective {name!r}; known: "
                                      f"{', '.join(FITNESSES + (SIZE_OBJECTIVE,))}")
            if all(name == SIZE_OBJECTIVE for name in objectives):
                bad("objectives", "needs a fitness option besides size")
            if len(set(objectives)) != len(objectives):
                bad("objectives", "names an objective twice")
        if self.choose_on is not None and self.choose_on not in FITNESSES:
            bad("choose_on", f"unknown fitness; known: {', '.join(FITNESSES)}")

    def _validate_spaces(self, bad) -> None:
        from ..spaces import SPACE_NAMES
        if self.spaces is None:
            if self.aggregate is not None:
                bad("aggregate", "is read only with several spaces (spaces = [...])")
            return
        spaces = self.spaces
        if isinstance(spaces, (str, bytes, Mapping)) or not isinstance(spaces, (list, tuple)) \
                or len(spaces) < 2:
            bad("spaces", "must be a list of two or more space names")
        for name in spaces:
            if not isinstance(name, str) or name not in SPACE_NAMES:
                bad("spaces", f"unknown space {name!r}; known spaces: {', '.join(SPACE_NAMES)}")
        repeated = [n for i, n in enumerate(spaces) if n in spaces[:i]]
        if repeated:
            bad("spaces", f"names the space {repeated[0]!r} twice")
        if self.aggregate is not None and self.aggregate not in AGGREGATES:
            bad("aggregate", f"unknown aggregate; known: {', '.join(AGGREGATES)}")
        if self.selection != "tournament":
            bad("selection", "a search over several spaces supports only selection = "
                             "\"tournament\"")
        if self.exact:
            bad("exact", "a search over several spaces does not offer exact figures yet; "
                         "check its proxy with lpzero-gp evaluate --exact on each space")

    @property
    def multi(self) -> bool:
        """Whether this search reads several spaces (``spaces`` is given)."""
        return self.spaces is not None

    @property
    def effective_split_seed(self) -> int:
        return self.seed if self.split_seed is None else int(self.split_seed)

    def as_dict(self) -> dict:
        """Every field; ``spaces`` and ``aggregate`` only in a search over several spaces (a
        single-space search writes the same files as before they existed)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if self.spaces is None:
            del out["spaces"], out["aggregate"]
        return out

    def differences(self, other: "SearchConfig") -> list[str]:
        """Fields (other than those a resumption may change) whose values differ."""
        mine, theirs = self.as_dict(), other.as_dict()
        keys = list(mine) + [k for k in theirs if k not in mine]
        return [k for k in keys if k not in self.RESUMABLE_CHANGES
                and mine.get(k) != theirs.get(k)]


def _is_int(value) -> bool:
    """A whole number given as one (not ``True``, not ``6.7``, not ``"6"``)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    """A finite real number (not ``True``, not text)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def split_fractions_problem(fractions) -> str | None:
    """Why ``fractions`` is not a valid [search, validation, test] (``None`` when it is)."""
    if (isinstance(fractions, (str, bytes, Mapping))
            or not isinstance(fractions, (list, tuple)) or len(fractions) != 3):
        return "must be three numbers [search, validation, test]"
    if not all(_is_number(f) for f in fractions):
        return "must be three finite numbers [search, validation, test]"
    if not all(math.isfinite(f) and f > 0 for f in fractions):
        return "each fraction must be > 0: every split must hold records"
    if abs(math.fsum(fractions) - 1.0) > 1e-9:
        return f"must sum to 1 (they sum to {math.fsum(fractions)!r})"
    return None


@dataclass
class RecordSelection:
    """Which benchmark records a search reads: a file (``None``: the space's default), then
    either explicit ``ids`` or the first ``limit`` records (``None``: all)."""

    benchmark: str | None = None
    ids: list[str] | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.benchmark is not None and (not isinstance(self.benchmark, str)
                                           or not self.benchmark):
            raise ConfigError(f"benchmark = {self.benchmark!r}: must be the path of a "
                              f"benchmark file or folder")
        if self.limit is not None and (not _is_int(self.limit) or self.limit < 1):
            raise ConfigError(f"limit = {self.limit!r}: must be a whole number >= 1")
        if self.ids is not None:
            if isinstance(self.ids, (str, bytes, Mapping)) or not isinstance(
                    self.ids, (list, tuple)) or not self.ids:
                raise ConfigError(f"ids = {self.ids!r}: must be a non-empty list of record ids")
            seen = set()
            for rid in self.ids:
                if isinstance(rid, bool) or not isinstance(rid, (str, numbers.Integral)):
                    raise ConfigError(f"ids: {rid!r} is not a record id (text or a number)")
                if str(rid) in seen:
                    raise ConfigError(f"ids: record id {str(rid)!r} is given twice")
                seen.add(str(rid))

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class RunSpec:
    """A full description of a search: GP settings, capture settings, records.

    ``per_space``: in a search over several spaces, ``{"capture": {space: {key: value}},
    "records": {space: {key: value}}}``, the sub-tables ``[capture.<space>]`` /
    ``[records.<space>]`` (see :meth:`space_capture`, :meth:`space_records`)."""

    search: SearchConfig
    capture: CaptureSettings
    records: RecordSelection
    per_space: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"search": self.search.as_dict(), "capture": self.capture.as_dict(),
               "records": self.records.as_dict()}
        for table, spaces in self.per_space.items():
            for space, values in spaces.items():
                out[table][space] = dict(values)
        return out

    def space_capture(self, space: str, where: str = "search config") -> CaptureSettings:
        """The capture settings of ``space``: the shared [capture] table with
        ``[capture.<space>]`` on top (not yet resolved against the space)."""
        values = {**self.capture.as_dict(), **self.per_space.get("capture", {}).get(space, {})}
        return _build(CaptureSettings, values, f"{where} [capture.{space}]")

    def space_records(self, space: str, where: str = "search config") -> RecordSelection:
        """The records of ``space``: ``[records.<space>]`` where given (whole: its keys
        replace the shared table's), else the shared [records] table."""
        own = self.per_space.get("records", {}).get(space)
        if own is None:
            return dataclasses.replace(self.records)
        return _build(RecordSelection, dict(own), f"{where} [records.{space}]")


_TABLES = {"search": SearchConfig, "capture": CaptureSettings, "records": RecordSelection}


def read_config_file(path: str | os.PathLike) -> dict:
    """A config file (TOML, or JSON by its suffix) as a dict of tables."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(f"config file {path} is a folder; give a TOML (or JSON) file")
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text; give a TOML (or JSON) "
                          f"file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read ({exc.strerror})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    else:
        if _toml is None:
            raise ConfigError(f"{path}: reading TOML needs Python >= 3.11 or the tomli package")
        try:
            data = _toml.loads(text)
        except (_toml.TOMLDecodeError, RecursionError) as exc:
            raise ConfigError(f"{path}: not valid TOML: {' '.join(str(exc).split())}") \
                from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: must hold tables [search], [capture], [records], not "
                          f"{type(data).__name__}")
    return data


def _build(cls, values: Mapping[str, Any], where: str):
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if cls is SearchConfig and key in RETIRED_KEYS:
            raise ConfigError(f"{where}: {RETIRED_KEYS[key]}")
        if key not in known:
            raise ConfigError(f"{where}: unknown key {key!r}; known keys: "
                              f"{', '.join(sorted(known))}")
    try:
        return cls(**values)
    except ConfigError as exc:
        if str(exc).startswith(where):
            raise
        text = str(exc).removeprefix("search config: ")
        raise ConfigError(f"{where}: {text}") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_spec(config: str | os.PathLike | Mapping | RunSpec | None = None,
              overrides: Mapping[str, Mapping[str, Any]] | None = None) -> RunSpec:
    """A :class:`RunSpec` from a file path, a dict of tables (or a flat dict of search keys),
    or ``None`` (defaults), with ``overrides`` ({table: {key: value}}, ``None`` values ignored)
    applied on top."""
    where = "search config"
    if isinstance(config, RunSpec):
        tables = config.as_dict()
    elif config is None:
        tables = {}
    elif isinstance(config, Mapping):
        tables = dict(config)
        if tables and not set(tables) <= set(_TABLES):  # a flat dict of search keys
            tables = {"search": tables}
    else:
        where = str(config)
        tables = read_config_file(config)
    for name in tables:
        if name not in _TABLES:
            raise ConfigError(f"{where}: unknown table [{name}]; known tables: "
                              f"{', '.join(_TABLES)}")
        if tables[name] is not None and not isinstance(tables[name], Mapping):
            raise ConfigError(f"{where}: [{name}] must be a table of key = value, not "
                              f"{tables[name]!r}")
    merged = {name: dict(tables.get(name) or {}) for name in _TABLES}
    per_space = _per_space_tables(merged, where)
    given = (overrides or {}).get("search") or {}
    if given.get("fitness") not in (None, "within-depth") and given.get("statistic") is None:
        # a fitness given on top replaces the config's statistic, the older name of
        # spearman / kendall (kept only as within-depth's inner statistic)
        merged["search"].pop("statistic", None)
        merged["search"].pop("fitness", None)
    for name, values in (overrides or {}).items():
        merged[name].update({k: v for k, v in values.items() if v is not None})
    spec = RunSpec(*(_build(cls, merged[name], f"{where} [{name}]")
                     for name, cls in _TABLES.items()))
    if per_space:
        spaces = spec.search.spaces or []
        for table, by_space in per_space.items():
            for space in by_space:
                if space not in spaces:
                    raise ConfigError(f"{where}: [{table}.{space}]: {space!r} is not one of "
                                      f"the search's spaces (spaces = {spaces!r})")
        spec.per_space = per_space
        for space in spaces:  # a wrong key fails here, before any capture
            spec.space_capture(space, where)
            spec.space_records(space, where)
    return spec


def _per_space_tables(merged: dict, where: str) -> dict:
    """Take the sub-tables named after a space out of ``merged``'s capture and records
    tables: ``{"capture": {space: {...}}, "records": {space: {...}}}`` (tables without any
    left out)."""
    from ..spaces import SPACE_NAMES
    out: dict = {}
    for table in ("capture", "records"):
        for key in [k for k, v in merged[table].items() if isinstance(v, Mapping)]:
            if key not in SPACE_NAMES:
                raise ConfigError(f"{where}: [{table}.{key}]: unknown space {key!r}; known "
                                  f"spaces: {', '.join(SPACE_NAMES)}")
            out.setdefault(table, {})[key] = dict(merged[table].pop(key))
    return out


# -- the settings a caller of search() may give as keywords ---------------------------------

# a [capture] key whose keyword differs (the search has a seed of its own)
CAPTURE_KEYWORDS = {"seed": "capture_seed"}


def setting_keywords() -> dict[str, tuple[str, str]]:
    """keyword -> (table, key) for every setting :func:`~lpzero_gp.search.api.search` takes
    as a keyword, derived from the tables' dataclasses: each key of :class:`SearchConfig`, each
    key of :class:`~lpzero_gp.cache.CaptureSettings` (``seed`` as ``capture_seed``), and of
    :class:`RecordSelection` ``benchmark`` and ``records`` (an int N: the first N records; a
    list: those ids), plus ``capture`` (a whole CaptureSettings or dict)."""
    out = {f.name: ("search", f.name) for f in dataclasses.fields(SearchConfig)}
    out.update({CAPTURE_KEYWORDS.get(f.name, f.name): ("capture", f.name)
                for f in dataclasses.fields(CaptureSettings)})
    out.update(benchmark=("records", "benchmark"), records=("records", "records"),
               capture=("capture", "*"))
    return out


def spec_with(config: str | os.PathLike | Mapping | RunSpec | None,
              settings: Mapping[str, Any]) -> RunSpec:
    """:func:`load_spec` of ``config`` with the keyword ``settings`` of
    :func:`~lpzero_gp.search.api.search` (see :func:`setting_keywords`; ``None``: keep the
    config's value) on top. An unknown keyword is a :class:`TypeError`, as in a call."""
    known = setting_keywords()
    unknown = [k for k in settings if k not in known]
    if unknown:
        raise TypeError(f"unknown search setting {unknown[0]!r}; known: "
                        f"{', '.join(sorted(known))}")
    tables: dict[str, dict] = {"search": {}, "capture": {}, "records": {}}
    capture = settings.get("capture")
    if capture is not None:
        tables["capture"] = (dataclasses.asdict(capture) if isinstance(capture, CaptureSettings)
                             else dict(capture))
    records = settings.get("records")
    for keyword, value in settings.items():
        table, key = known[keyword]
        if value is not None and keyword not in ("capture", "records"):
            tables[table][key] = value
    if isinstance(records, numbers.Integral) and not isinstance(records, bool):
        tables["records"].update(limit=records, ids=None)
    elif records is not None:
        tables["records"].update(ids=[str(r) for r in records], limit=None)
    spec = load_spec(config, tables)
    if records is not None:  # an explicit choice replaces the config's other one
        spec.records.limit = tables["records"].get("limit")
        spec.records.ids = tables["records"].get("ids")
    return spec
