"""Fitness of formulas on the captured inputs, in this process or in a pool of workers.

Evaluation never runs a model: it interprets the formula on the search split of the input bank
(:mod:`lpzero_gp.bank`). Tasks of the run's engine (:mod:`lpzero_gp.engine`: local processes
or Ray) receive formula *texts* (never trees) and return plain dicts in order, so a run gives
the same results with any engine and number of workers; each worker builds its
:class:`Evaluator` (language, banks, pruning rules) once per run, and runs torch with
``eval_threads`` threads (1 by default: a reduction's result must not depend on how many
threads computed it).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from ..bank import InputBank
from ..language import Proxy, load_language
from ..metrics import MetricInputError
from .fitness import SIZE_OBJECTIVE, Fitness
from .rps import RuleBasedPruning

STATUSES = ("valid", "invalid", "pruned", "error")


@dataclass
class Outcome:
    """What evaluating one formula gave.

    ``status``: ``valid`` (``fitness`` is set), ``invalid`` (NaN, infinite or constant scores,
    or an undefined correlation: ``reason`` says which), ``pruned`` (an RPS rule fired:
    ``rule`` and ``reason``), ``error`` (the evaluation raised: ``reason`` holds the exception;
    a bug to report, counted in the log). ``seconds``: evaluation time. ``objectives``: with
    NSGA-II, the value of each fitness objective (``None`` where undefined; the outcome is
    valid when the first one is defined).
    """

    formula: str
    canonical: str
    status: str
    size: int
    fitness: float | None = None
    reason: str | None = None
    rule: str | None = None
    seconds: float = 0.0
    generation: int | None = None
    objectives: dict | None = None

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Outcome":
        return cls(**data)


@dataclass
class EvaluatorSpec:
    """Everything a worker needs to evaluate formulas (picklable).

    ``bank``: the search split; ``probe_bank``: the probe architectures (``None``: no probe
    rules); ``subsets``: index arrays into ``bank`` for the min-over-subsets fitness;
    ``fitness``: the fitness option (``None``: ``statistic``); ``descriptor`` (N,) and
    ``groups`` (N,): the search records' descriptor values and depths, for the options that
    read them; ``objectives``: the fitness options of an NSGA-II search (``size`` left out:
    the loop counts nodes itself).
    """

    language: str
    bank: InputBank
    probe_bank: InputBank | None = None
    statistic: str = "spearman"
    absolute: bool = False
    subsets: tuple = ()
    fitness: str | None = None
    descriptor: np.ndarray | None = None
    groups: np.ndarray | None = None
    objectives: tuple = ()
    rps: bool = True
    eval_threads: int = 1
    extra: dict = field(default_factory=dict)


class Evaluator:
    """Evaluates formula texts: RPS first (when enabled), then fitness on the search bank."""

    def __init__(self, spec: EvaluatorSpec):
        self.spec = spec
        self.language = load_language(spec.language)
        if spec.bank.quality is None:
            raise ValueError("the search bank has no quality labels")
        self.quality = np.asarray(spec.bank.quality, dtype=np.float64)
        self.rps = (RuleBasedPruning(self.language, spec.probe_bank, absolute=spec.absolute)
                    if spec.rps else None)
        self.fitness = self._fitness(spec.fitness or spec.statistic)
        self.objectives = [self._fitness(name) for name in spec.objectives
                           if name != SIZE_OBJECTIVE]

    def _fitness(self, name: str) -> Fitness:
        spec = self.spec
        return Fitness(name, spec.statistic, spec.absolute,
                       None if spec.descriptor is None else np.asarray(spec.descriptor),
                       None if spec.groups is None else np.asarray(spec.groups))

    def __call__(self, text: str) -> dict:
        start = time.perf_counter()
        tree = self.language.parse(text)
        proxy = Proxy(tree, self.language)
        out = Outcome(formula=text, canonical=proxy.canonical(), status="valid", size=len(tree))
        try:
            self._evaluate(tree, proxy, out)
        except Exception as exc:  # noqa: BLE001 - kept as status "error" with its message
            out.status, out.fitness, out.rule = "error", None, None
            out.reason = f"{type(exc).__name__}: {exc}"
        out.seconds = time.perf_counter() - start
        return out.as_dict()

    def _evaluate(self, tree, proxy: Proxy, out: Outcome) -> None:
        if self.rps is not None:
            firing = self.rps.check(tree)
            if firing is not None:
                out.status, out.rule, out.reason = "pruned", firing.rule, firing.reason
                return
        with torch.no_grad():
            result = proxy.evaluate(self.spec.bank)
        if not result.valid:
            out.status, out.reason = "invalid", result.reason
            return
        if self.objectives:
            out.objectives = {}
            for fit in self.objectives:
                try:
                    value = fit(result.scores, self.quality, self.spec.subsets)
                except MetricInputError:
                    value = None
                out.objectives[fit.name] = (float(value) if value is not None
                                            and math.isfinite(value) else None)
        try:
            value = self.fitness(result.scores, self.quality, self.spec.subsets)
        except MetricInputError as exc:
            out.status, out.reason = "invalid", str(exc)
            return
        if not math.isfinite(value):
            out.status, out.reason = "invalid", f"fitness is {value}"
            return
        out.fitness = float(value)


@dataclass
class MultiEvaluatorSpec:
    """What a worker needs to evaluate formulas on several spaces (picklable): one
    :class:`EvaluatorSpec` per space (in the search's order of spaces) and the ``aggregate``
    (``mean`` or ``min``) of their fitness values."""

    specs: dict
    aggregate: str = "mean"
    eval_threads: int = 1


AGGREGATE_FUNCTIONS = {"mean": lambda values: float(np.mean(values)),
                       "min": lambda values: float(np.min(values))}


class MultiEvaluator:
    """Evaluates formula texts on every space in turn: the first space on which the formula is
    not valid (pruned, invalid, error) decides the outcome, its ``reason`` prefixed with the
    space's name; otherwise ``fitness`` is the aggregate of the spaces' fitness values and
    ``objectives`` holds each (space -> value)."""

    def __init__(self, spec: MultiEvaluatorSpec):
        self.spec = spec
        self.evaluators = {name: Evaluator(s) for name, s in spec.specs.items()}
        self.combine = AGGREGATE_FUNCTIONS[spec.aggregate]

    def __call__(self, text: str) -> dict:
        start = time.perf_counter()
        per_space = {}
        out = None
        for name, evaluator in self.evaluators.items():
            got = Outcome.from_dict(evaluator(text))
            if out is None:
                out = Outcome(formula=text, canonical=got.canonical, status="valid",
                              size=got.size)
            if not got.valid:
                out.status, out.rule = got.status, got.rule
                out.reason = f"{name}: {got.reason}"
                break
            per_space[name] = got.fitness
        if out.valid:
            out.fitness = self.combine(list(per_space.values()))
            out.objectives = per_space
        out.seconds = time.perf_counter() - start
        return out.as_dict()


def make_evaluator(spec: "EvaluatorSpec | MultiEvaluatorSpec"):
    """The evaluator of ``spec``: an :class:`Evaluator`, or a :class:`MultiEvaluator`."""
    return MultiEvaluator(spec) if isinstance(spec, MultiEvaluatorSpec) else Evaluator(spec)


_EVALUATOR: Evaluator | MultiEvaluator | None = None


def _install(spec: EvaluatorSpec | MultiEvaluatorSpec) -> None:
    global _EVALUATOR
    _EVALUATOR = make_evaluator(spec)


def evaluate_formula(text: str) -> dict:
    """Evaluate one formula with this process's evaluator (see :class:`EvaluationPool`)."""
    if _EVALUATOR is None:
        raise RuntimeError("no evaluator installed in this process; use EvaluationPool")
    return _EVALUATOR(text)


def evaluate_with(spec: EvaluatorSpec, text: str) -> dict:
    """Evaluate one formula with ``spec`` (an engine task: ``spec`` is the shared object);
    the process builds its evaluator once per spec."""
    if _EVALUATOR is None or _EVALUATOR.spec is not spec:
        _install(spec)
    return _EVALUATOR(text)


class EvaluationPool:
    """Where formulas are evaluated: an engine (:mod:`lpzero_gp.engine`; local by default:
    this process when ``workers == 1``, else a process pool; or Ray).

    A context manager; ``map(evaluate_formula, texts)`` returns results in the order of
    ``texts`` (it is what ``toolbox.map`` is registered as). The spec (with the bank) is put
    once per run (Ray: into its object store); each task receives it by reference.
    """

    def __init__(self, spec: EvaluatorSpec | MultiEvaluatorSpec, workers: int = 1,
                 start_method: str | None = None, engine="local", address: str | None = None):
        self.spec = spec
        self.workers = max(1, int(workers))
        self.start_method = start_method
        self.engine, self.address = engine, address
        self._engine = self._shared = None

    def __enter__(self) -> "EvaluationPool":
        from ..engine import make_engine
        self._engine = make_engine(self.engine, self.address, self.workers,
                                   start_method=self.start_method)
        self._shared = self._engine.put(self.spec)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()

    def close(self) -> None:
        global _EVALUATOR
        if self._engine is not None and self._engine is not self.engine:
            self._engine.close()  # an engine given by the caller stays theirs to close
        self._engine = self._shared = None
        _EVALUATOR = None

    def map(self, func, texts) -> list:
        from ..engine import Resources
        if getattr(func, "func", func) is not evaluate_formula:  # DEAP's toolbox: a partial
            raise ValueError("EvaluationPool.map evaluates formulas: pass evaluate_formula")
        if self._engine is None:
            raise RuntimeError("EvaluationPool.map outside its `with` block")
        return self._engine.map(evaluate_with, texts, shared=self._shared,
                                resources=Resources(num_cpus=self.spec.eval_threads))
