"""Baselines: hand-designed zero-cost proxies, architecture descriptors, and the honest
comparison table (with bootstrap intervals and structure-aware statistics).

- :mod:`.zero_cost`: literature proxies, each ``(model, batch, objective) -> float`` with its own
  documented pass; :func:`compute_hand_designed` computes several sharing passes.
- :mod:`.descriptors`: scores read off the config, no model.
- :mod:`.in_language`: literature and published LPZero proxies as proxy-language formulas.
- :mod:`.table`: every score on a set of records, statistics, Markdown/CSV/LaTeX and plots.
- :mod:`.reproduce`: agreement with NAS-Bench-BERT's published values.
- :mod:`.cli`: ``lpzero-gp baselines``.
"""
from .descriptors import descriptor_label, descriptor_scores
from .in_language import (IN_LANGUAGE, InLanguage, evaluate_in_language, layer_weight_count,
                          published_proxy)
from .zero_cost import (HAND_DESIGNED, HAND_DESIGNED_NAMES, HandDesigned, ProxyUndefinedError,
                        ProxyValue, activation_distance, attention_confidence,
                        compute_hand_designed, fisher, grad_norm, grasp, head_confidence,
                        head_importance, head_softmax_confidence, jacobian_cov, jacobian_score,
                        logsynflow, n_params, n_params_nonembedding, snip, synaptic_diversity,
                        synaptic_saliency, synflow)

__all__ = [
    "HAND_DESIGNED", "HAND_DESIGNED_NAMES", "HandDesigned", "ProxyUndefinedError", "ProxyValue",
    "compute_hand_designed", "n_params", "n_params_nonembedding", "synflow", "logsynflow",
    "snip", "grasp", "fisher", "grad_norm", "jacobian_cov", "jacobian_score",
    "synaptic_diversity", "synaptic_saliency", "activation_distance", "head_importance",
    "head_confidence", "head_softmax_confidence", "attention_confidence", "descriptor_label",
    "descriptor_scores", "IN_LANGUAGE", "InLanguage", "evaluate_in_language",
    "layer_weight_count", "published_proxy",
]
