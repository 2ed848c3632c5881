"""A proxy: a formula of a language, with its text, JSON, SymPy and LaTeX forms and its scores."""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import sympy as sp
from deap import gp

from ..errors import FormulaError
from .interpret import interpret
from .primitive_set import Language, load_language, primitives_dir
from .registry import REGISTRY
from .sympy_form import to_latex, to_pretty, to_sympy

# LPZero's published proxies (pprp/LPZero), in the "lpzero" language.
# FlexiBERT: INPUT (head, act), TREE (element_wise_revert | element_wise_pow | frobenius_norm |
# logsoftmax), BINARY element_wise_sum: mean((-H)^2) + logsoftmax(||A||_F), the second term
# being the log-softmax of one number, i.e. 0.
LPZERO_FLEXIBERT_PROXY = ("layer_mean(l_add(pool_mean(t_mean(square(neg(H)))), "
                          "pool_mean(v_logsoftmax(t_fro(A)))))")
# GPT-2: INPUT (weight, grad), TREE (element_wise_pow | l1_norm | softmax | element_wise_pow),
# BINARY element_wise_sum: per Conv1D matrix mean|W^2| + mean(softmax_dim0(G)^2), the softmax
# over each output unit's fan-in (a row here), the mean over the 4L matrices unweighted.
LPZERO_GPT2_PROXY = ("layer_mean(l_add(pool_mean(t_meanabs(square(W))), "
                     "pool_mean(t_mean(square(softmax(G))))))")

# scores whose spread is within float32 rounding of their size are constant across architectures
CONSTANT_RTOL = 1e-6


@dataclass
class ProxyResult:
    """Scores of one proxy on a bank. ``scores`` (N,) float64, NaN for invalid records.

    ``valid`` is False when any record's score is NaN/inf or the scores are constant across
    architectures; ``reason`` says which. ``invalid_records``: ids of the non-finite records.
    """

    scores: np.ndarray
    valid: bool
    reason: str | None
    invalid_records: list[str]
    record_ids: list[str]


@dataclass(eq=False)
class Proxy:
    """A formula (``tree``) of a :class:`Language`, plus optional figures (e.g. tau, rho)."""

    tree: gp.PrimitiveTree
    language: Language
    figures: dict = field(default_factory=dict)

    def __post_init__(self):
        self.language = load_language(self.language)
        if not isinstance(self.tree, gp.PrimitiveTree):
            self.tree = gp.PrimitiveTree(self.tree)

    def __eq__(self, other) -> bool:
        return (isinstance(other, Proxy) and str(self) == str(other)
                and self.language is other.language)

    def __hash__(self) -> int:
        return hash((str(self), self.language.name))

    # -- text and JSON ------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, language: "str | os.PathLike | Language" = "default") -> "Proxy":
        lang = load_language(language)
        return cls(lang.parse(text), lang)

    def __str__(self) -> str:
        return str(self.tree)

    def __repr__(self) -> str:
        return f"Proxy({str(self)!r}, language={self.language.name!r})"

    def language_ref(self) -> str:
        """The language as stored in JSON: its built-in name, else its file path."""
        path = self.language.path
        if path is not None and path.parent == primitives_dir().resolve():
            return path.stem
        return str(path) if path is not None else self.language.name

    def to_json(self) -> dict:
        out = {"formula": str(self), "language": self.language_ref(),
               "sympy": self.sympy_text(simplify=True), "latex": self.latex(simplify=True)}
        if self.figures:
            out["figures"] = dict(self.figures)
        return out

    @classmethod
    def from_json(cls, data: "Mapping | str | os.PathLike") -> "Proxy":
        """From a dict made by :meth:`to_json`, or a path to a JSON file holding one."""
        source = "proxy JSON"
        if not isinstance(data, Mapping):
            source = str(data)
            try:
                data = json.loads(Path(data).read_text(encoding="utf-8"))
            except UnicodeDecodeError:
                raise FormulaError(f"{source}: cannot read a proxy: not UTF-8 text") from None
            except (OSError, json.JSONDecodeError, RecursionError) as exc:
                raise FormulaError(f"{source}: cannot read a proxy: {exc}") from None
        if not isinstance(data, Mapping) or "formula" not in data:
            raise FormulaError(f"{source}: no 'formula' key")
        language = data.get("language", "default")
        if not isinstance(language, str) or not language:
            raise FormulaError(f"{source}: 'language' must name a primitive set (default, "
                               f"lpzero or a TOML file), got {language!r}")
        proxy = cls.parse(data["formula"], language)
        figures = data.get("figures") or {}
        if not isinstance(figures, Mapping):
            raise FormulaError(f"{source}: 'figures' must be an object")
        proxy.figures = dict(figures)
        return proxy

    def canonical(self) -> str:
        """Text with the arguments of commutative operations sorted (memoisation key)."""
        text, _ = _canonical(self.tree, 0)
        return text

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, bank) -> ProxyResult:
        """Scores on ``bank`` with their status. Where a hand-designed terminal the formula
        reads is undefined on a record, the reason says which and why."""
        raw = interpret(self.tree, self.language, bank).numpy().astype(np.float64)
        result = score_status(raw, list(bank.record_ids))
        hand = getattr(bank, "hand", None)
        read = [n.name for n in self.tree if n.arity == 0 and n.name in self.language.hand]
        if result.invalid_records and hand is not None and read:
            why = next((w for w in (hand.reason(r, read) for r in result.invalid_records)
                        if w), None)
            if why is not None:
                result.reason = f"{result.reason}; {why}"
        return result

    # -- symbolic forms -----------------------------------------------------------------------
    def sympy(self, simplify: bool = False) -> sp.Basic:
        return to_sympy(self.tree, simplify=simplify)

    def sympy_text(self, simplify: bool = False) -> str:
        """``str`` of :meth:`sympy`; the formula itself when SymPy recurses too deeply for it
        (a formula hundreds of levels deep)."""
        try:
            return str(self.sympy(simplify=simplify))
        except RecursionError:
            return str(self)

    def latex(self, simplify: bool = True) -> str:
        """LaTeX of :meth:`sympy`; the formula in ``\\texttt`` when SymPy recurses too deeply."""
        try:
            return to_latex(self.sympy(simplify=simplify))
        except RecursionError:
            return _texttt(str(self))

    def pretty(self, simplify: bool = True) -> str:
        """SymPy's pretty form; the formula itself when SymPy recurses too deeply."""
        try:
            return to_pretty(self.sympy(simplify=simplify))
        except RecursionError:
            return str(self)


def _texttt(text: str) -> str:
    return r"\texttt{" + text.replace("_", r"\_") + "}"


TOO_DEEP_NOTE = ("(SymPy recurses too deeply on this formula: the formula itself is shown "
                 "instead)")


def _canonical(tree, i: int) -> tuple[str, int]:
    """Canonical text of the subtree at ``i`` and the index after it (iterative: a formula of
    any depth)."""
    stack: list[tuple[object, list[str]]] = []
    j = i
    while True:
        node = tree[j]
        j += 1
        if node.arity:
            stack.append((node, []))
            continue
        text = node.name
        while stack:
            parent, parts = stack[-1]
            parts.append(text)
            if len(parts) < parent.arity:
                break
            stack.pop()
            if REGISTRY[parent.name].commutative:
                parts.sort()
            text = f"{parent.name}({', '.join(parts)})"
        else:
            return text, j


def score_status(raw: np.ndarray, record_ids: list[str]) -> ProxyResult:
    """Raw scores -> :class:`ProxyResult`: NaN for non-finite records, and the status."""
    scores = np.asarray(raw, dtype=np.float64).copy()
    bad = ~np.isfinite(scores)
    invalid = [record_ids[i] for i in np.flatnonzero(bad)]
    scores[bad] = math.nan
    n = len(scores)
    if invalid:
        reason = (f"non-finite score for {len(invalid)} of {n} records "
                  f"(first: record {invalid[0]})")
        return ProxyResult(scores, False, reason, invalid, record_ids)
    if n >= 2:
        spread = float(scores.max() - scores.min())
        if spread <= CONSTANT_RTOL * float(np.abs(scores).max()):
            return ProxyResult(scores, False, "constant across architectures", [], record_ids)
    return ProxyResult(scores, True, None, [], record_ids)


def show_text(proxy: Proxy, simplify: bool = False, latex: bool = False) -> str:
    """What ``lpzero-gp show`` prints: the formula, its SymPy form and optionally its LaTeX."""
    lines = [f"formula:  {proxy}", f"language: {proxy.language.name}"]
    try:
        expr = proxy.sympy(simplify=simplify)
        forms = [to_pretty(expr)] + ([to_latex(expr)] if latex else [])
        note = ""
    except RecursionError:
        forms = [str(proxy)] + ([_texttt(str(proxy))] if latex else [])
        note = " " + TOO_DEEP_NOTE
    lines += [f"sympy{' (simplified)' if simplify else ''}:{note}", forms[0]]
    if latex:
        lines += [f"latex:{note}", forms[1]]
    if proxy.figures:
        lines.append("figures:  " + ", ".join(f"{k} = {_fmt(v)}"
                                              for k, v in proxy.figures.items()))
    return "\n".join(lines)


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "--"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (float, np.floating)):
        return f"{value:.3f}"
    return str(value)


def latex_row(name: str, proxy: Proxy, figures: "Mapping | Sequence | None" = None,
              simplify: bool = True) -> str:
    r"""One LaTeX table row: ``name & $formula$ & fig1 & fig2 \\`` (floats to 3 decimals).

    ``figures``: values in column order, or a mapping (its values in order); defaults to the
    proxy's own figures.
    """
    figures = proxy.figures if figures is None else figures
    values = list(figures.values()) if isinstance(figures, Mapping) else list(figures)
    cells = [name, f"${proxy.latex(simplify=simplify)}$", *(_fmt(v) for v in values)]
    return " & ".join(cells) + r" \\"
