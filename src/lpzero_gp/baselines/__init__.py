"""Baselines: hand-designed zero-cost proxies, architecture descriptors, and the honest
comparison table (with bootstrap intervals and structure-aware statistics).

- :mod:`.hand_designed`: literature proxies, one function each registered with
  ``@hand_designed(name, needs=pass)`` in a module per family; :func:`compute_hand_designed`
  runs each pass once for all the proxies that need it. (:mod:`.zero_cost` is its old name.)
- :mod:`.descriptors`: scores read off the config, no model.
- :mod:`.in_language`: literature and published LPZero proxies as proxy-language formulas.
- :mod:`.table`: every score on a set of records, statistics, Markdown/CSV/LaTeX and plots.
- :mod:`.reproduce`: agreement with NAS-Bench-BERT's published values.
- :mod:`.cli`: ``lpzero-gp baselines``.
"""
import importlib

# name -> submodule; imported on first use, so that ``lpzero-gp --help`` (which reads .cli)
# needs no torch
_EXPORTS = {
    ".descriptors": ("descriptor_label", "descriptor_scores"),
    ".in_language": ("IN_LANGUAGE", "InLanguage", "evaluate_in_language", "layer_weight_count",
                     "published_proxy"),
    ".hand_designed": ("HAND_DESIGNED", "HAND_DESIGNED_NAMES", "HandDesigned",
                       "ProxyUndefinedError", "ProxyValue", "activation_distance",
                       "attention_confidence", "compute_hand_designed", "fisher", "grad_norm",
                       "grasp", "head_confidence", "head_importance",
                       "head_softmax_confidence", "jacobian_cov", "jacobian_score",
                       "logsynflow", "n_params", "n_params_nonembedding", "snip",
                       "synaptic_diversity", "synaptic_saliency", "synflow"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name], __name__), name)
    globals()[name] = value
    return value
