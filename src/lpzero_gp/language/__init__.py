"""The proxy language of lpzero-gp: typed formulas over captured inputs.

Exports:

- Types (:mod:`.types`): per alignment group ``Tensor_<g>`` and ``Each_<g>`` (one value per
  tensor), and ``ScalarL`` (N, L), ``Scalar`` (N,); placeholders ``Tensor``, ``Each``,
  ``Pooled`` in registry signatures. Every formula returns ``Scalar``.
- ``Primitive``; ``REGISTRY: dict[str, Primitive]`` (every primitive, declared once);
  ``register_primitive(*, name, args, ret, fn, sympy, latex, kind, ...)``;
  ``check_registry()`` (probe every primitive; raises ``RuntimeError`` on a wrong one; run
  once before the first evaluation, so that parsing and printing need no torch).
- ``Language`` (``name, path, inputs, pset, primitives, weights, limits, template``;
  ``generate(rng) -> gp.PrimitiveTree``, ``parse(text) -> gp.PrimitiveTree``,
  ``is_well_typed(tree) -> bool``, ``within_limits(tree) -> bool``; for free-form languages
  ``generate_subtree(rng, ret, max_depth, max_nodes=None)`` (subtree mutation); for template
  languages ``genes(tree) -> TemplateGenes``, ``from_genes(genes)``, ``random_genes(rng)``);
  ``Limits(min_depth, max_depth, max_nodes, init_max_depth)``.
- ``load_language(name_or_path) -> Language``: "lpzero", "default", "hybrid",
  "hybrid_layers" or a path to a TOML file; cached per path. Malformed files raise
  ``ConfigError`` naming file and key. A hybrid language (:mod:`.hand`) also reads
  hand-designed proxies as terminals (``Language.hand``: ``snip`` of type ``Scalar``,
  ``l_snip`` of type ``ScalarL``), whose values the bank carries
  (:class:`lpzero_gp.hand_bank.HybridBank`, from ``collect_inputs(..., hand_designed=...)``).
- ``interpret(tree, language, bank) -> torch.Tensor`` (N,) float64, raw (may hold NaN).
- ``ProxyResult(scores, valid, reason, invalid_records, record_ids)``; ``score_status``.
- ``Proxy(tree, language, figures={})``: ``Proxy.parse(text, language="default")``,
  ``str(proxy)``, ``to_json()``, ``Proxy.from_json(dict_or_path)``, ``evaluate(bank) ->
  ProxyResult``, ``sympy(simplify=False)``, ``latex(simplify=True)``, ``pretty(simplify=True)``,
  ``canonical()``.
- ``show_text(proxy, simplify=False, latex=False) -> str``; ``latex_row(name, proxy, figures)``.
- ``LPZERO_FLEXIBERT_PROXY``, ``LPZERO_GPT2_PROXY``: LPZero's published proxies as formulas in
  the "lpzero" language.

Parse errors raise :class:`lpzero_gp.errors.FormulaError` quoting the formula with a caret.
"""
from .interpret import MissingInputError, interpret
from .primitive_set import (Language, Limits, Template, TemplateGenes, load_language,
                            primitives_dir)
from .proxy import (LPZERO_FLEXIBERT_PROXY, LPZERO_GPT2_PROXY, Proxy, ProxyResult, latex_row,
                    score_status, show_text)
from .registry import REGISTRY, Primitive, check_registry, register_primitive
from .sympy_form import to_sympy
from .types import Each, EachValue, Pooled, Scalar, ScalarL, Tensor, TensorValue

__all__ = [
    "Tensor", "Each", "Pooled", "ScalarL", "Scalar", "TensorValue", "EachValue", "Primitive",
    "REGISTRY", "check_registry", "register_primitive",
    "Language", "Limits", "Template", "TemplateGenes", "load_language", "primitives_dir",
    "interpret", "MissingInputError", "ProxyResult", "Proxy", "score_status", "show_text",
    "latex_row", "to_sympy", "LPZERO_FLEXIBERT_PROXY", "LPZERO_GPT2_PROXY",
]
