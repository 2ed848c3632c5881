"""Hand-designed zero-cost proxies from the literature, one decorated function each.

Adding a proxy is one function in one module (a family module below, or a module of your own
imported before use)::

    from lpzero_gp.baselines.hand_designed import hand_designed
    from lpzero_gp.baselines.hand_designed.passes import GradientPass

    @hand_designed("my_proxy", label="My proxy", source="me 2025", needs="gradient")
    def my_proxy(p: GradientPass) -> float:
        return float(sum(p.grad(w).abs().sum() for ws in p.weights for w in ws))

A proxy that is a sum over the layers may also declare its per-layer values, one more function
reading the same pass and returning one float per proxy layer (``@hand_designed_layers(
"my_proxy")``; :func:`compute_hand_designed` with ``per_layer=True``); a hybrid language reads
them as the per-layer terminal ``l_my_proxy`` (:mod:`lpzero_gp.language.hand`). snip,
grad_norm, fisher, synaptic_saliency and synaptic_diversity have them.

``needs`` names the pass it reads (:data:`~.passes.PASSES`: ``"gradient"``, ``"synflow"``,
``"grasp"``, ``"static"``); :func:`compute_hand_designed` runs each pass once per model for
all the proxies that need it; tables and ``lpzero-gp baselines --proxies`` list it. Families:
:mod:`.size` (parameter counts), :mod:`.saliency` (synflow, logsynflow, snip, grasp, fisher,
grad_norm), :mod:`.jacobian`, :mod:`.synaptic`, :mod:`.activation`, :mod:`.attention`
(head_* and attention_confidence); their import order below is the proxies' order.

Every proxy is a function ``(model, batch, objective) -> float`` on a proxy model
(:mod:`lpzero_gp.spaces.base`) at initialisation. ``objective`` names the scalar whose
gradient is taken (``model.objective(batch, objective)``; ``"sum"`` backpropagates ones from
the last hidden state, as the NAS-Bench-BERT reference code did; beware that when the last
hidden state is a LayerNorm output with weight 1 and bias 0, as in FlexiBERT and GPT-2 at
initialisation, its sum is 0 whatever the input, so every gradient of ``"sum"`` is float
rounding noise: use ``"mlm"`` / ``"clm"``). The model passed in is never
changed: gradients are taken with :func:`torch.autograd.grad` (no ``.grad`` field is written),
proxies that change weights (synflow) work on a deep copy, and every hook is removed.
A proxy that is undefined on a model raises :class:`ProxyUndefinedError` with the reason;
:func:`compute_hand_designed` turns that into a NaN value with its reason.

Which weights: unless said otherwise, "the weights" are the capture's ``W``: every parameter
with ``ndim >= 2`` of the model's ``proxy_layers()`` (see :func:`lpzero_gp.capture.layer_weights`)
— the encoder/decoder blocks, not the embeddings or the output head, as in the proxy language.
The parts of a layer (token mixer, feed-forward stack, head projections, attention maps) are
found from its taps (:mod:`lpzero_gp.baselines.structure`); "linear modules" are ``nn.Linear``
and GPT-2's ``Conv1D``.

Definitions follow the public code of NAS-Bench-BERT (Serianni & Kalita 2023,
github.com/aaronserianni/training-free-nas, ``BERT_metrics.ipynb``) and of LPZero / the
zero-cost-proxies package (Abdelfattah et al. 2021), with the differences said per proxy.
Notation: W a weight tensor, G = dL/dW, L the objective.

===================== ===================================================================
n_params              every parameter of the model
n_params_nonembedding parameters of the proxy layers plus LayerNorms that are direct
                      children of the model or of a container holding the proxy layers
                      (a final norm); no embedding, projection or output-head parameter
synflow               Tanaka et al. 2020: on a double-precision copy with every parameter
                      replaced by its absolute value, every LayerNorm by its affine part
                      (see :func:`synflow_pass`) and the hidden states entering the first
                      layer replaced by ones, R = sum of the last hidden state;
                      sum |W * dR/dW| over the weights, reported as its natural log (the
                      value itself overflows float64 in deep models; ranks are the same)
logsynflow            Cavagnero et al. 2022 (FreeREA): as synflow, sum |W| * log(1 + |dR/dW|)
snip                  Lee et al. 2019: sum |W * G| over the weights
grasp                 Wang et al. 2020: sum -W * (H G) over the weights, H the Hessian of L
                      (one forward pass, a double backward)
fisher                Turner et al. 2020 as in zero-cost-proxies: for every linear module of
                      the proxy layers, with z its output (tokens, channels) and dz = dL/dz,
                      sum over channels of 0.5 * mean over tokens of (z * dz)^2, times the
                      fan-in (zero-cost-proxies sums the channel value once per weight)
grad_norm             sum over the weights of ||G||_2 (one norm per tensor)
jacobian_cov          Mellor et al. 2021 (v1): J = dL/dx for the hidden states x entering
                      the first layer, one row per sample (B, S*h); C = corrcoef of the rows;
                      -sum_i log(v_i + 1e-5) + 1 / (v_i + 1e-5) over C's eigenvalues v
jacobian_score        NAS-Bench-BERT's "Jacobian Score": the same statistic on the gradient
                      of the position-embedding table, rows 0..S-1 (the positions used),
                      correlations between embedding features (E, E)
synaptic_diversity    NAS-Bench-BERT: sum over the linear modules of the token mixers of
                      ||W||_* ||G||_* (nuclear norms)
synaptic_saliency     NAS-Bench-BERT: sum |W * G| over the linear modules of the
                      feed-forward stacks
activation_distance   NAS-Bench-BERT: for every FFN activation a (one per GELU, (B, S, I)),
                      with x = [a > 0] of one sample (S, I): sum of x x^T + (1-x)(1-x)^T; the
                      reference used sample 0 only, here the mean over the batch's samples
head_importance       NAS-Bench-BERT: sum |W * G| over the head projections
head_confidence       NAS-Bench-BERT: sum over the head-projection outputs (B, S, w) of
                      mean(max over the sequence axis)
head_softmax_confidence  NAS-Bench-BERT: sum over the attention maps (B, heads, S, S) of
                      mean(max over the head axis); an LT layer's mixing map (no softmax)
                      counts as softmax over each head's features of its 2-D transform,
                      (B, heads, S, d), as in the reference code
attention_confidence  Voita et al. 2019: mean over attention maps, heads and queries of the
                      largest attention weight (max over keys); undefined without attention
===================== ===================================================================
"""
from __future__ import annotations

from .registry import (HAND_DESIGNED, HandDesigned, LayerValues, ProxyUndefinedError,
                       ProxyValue, _guard, compute_hand_designed, hand_designed,
                       hand_designed_layers, single, unregister)
from .passes import (DEFAULT_NORM_TYPES, PASSES, GradientPass, GraspPass, StaticPass,
                     SynflowPass, position_embedding, synflow_pass)
from .passes.synflow import SYNFLOW_LEVEL, SYNFLOW_NOISE
# the families, in the order of the proxies
from .size import n_params, n_params_nonembedding
from .saliency import _grasp_value
from . import saliency, jacobian, synaptic, activation, attention  # noqa: E402,F401
from .jacobian import JACOBIAN_EPS

__all__ = ["DEFAULT_NORM_TYPES", "GradientPass", "GraspPass", "HAND_DESIGNED",
           "HAND_DESIGNED_NAMES", "HandDesigned", "JACOBIAN_EPS", "LayerValues", "PASSES",
           "ProxyUndefinedError", "ProxyValue", "SYNFLOW_LEVEL", "SYNFLOW_NOISE", "StaticPass",
           "SynflowPass", "compute_hand_designed", "hand_designed", "hand_designed_layers",
           "n_params",
           "n_params_nonembedding", "position_embedding", "single", "synflow_pass",
           "unregister", *(n for n in HAND_DESIGNED if not n.startswith("n_params"))]


def __getattr__(name: str):
    """``HAND_DESIGNED_NAMES`` (the registered names now) and every registered proxy as a
    function of one model (``snip(model, batch, objective)``, :func:`~.registry.single`)."""
    if name == "HAND_DESIGNED_NAMES":
        return tuple(HAND_DESIGNED)
    if name in HAND_DESIGNED:
        return single(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
