"""Hand-designed proxies written as formulas of the proxy language, and LPZero's published ones.

Writing a literature proxy as a formula documents what the language can say and tests it: the
formula, evaluated on captured inputs (:class:`~lpzero_gp.bank.InputBank`), must agree with the
direct computation in :mod:`lpzero_gp.baselines.hand_designed` on the same model and batch.

- ``snip`` = ``layer_sum(pool_sum(t_sum(abs(mul(W, G)))))``: SNIP over each layer's weight
  matrices. The bank keeps whole rows of each (W, G) pair at the same positions and ``t_sum``
  scales their mean by the matrix's element count, so the formula is an unbiased estimate of
  the direct value (agreement in value, up to sampling).
- ``grad_norm`` = ``layer_sum(pool_sum(t_fro(G)))``: the sum of the Frobenius norms of the
  layers' weight gradients, one per matrix as the direct proxy (which also counts embeddings
  and biases: agreement in rank).
- ``layer_weights`` = ``layer_sum(pool_sum(t_sum(exp(sub(W, W)))))``: the number of weights of
  the proxy layers, exactly (every kept element is exp(0) = 1, scaled by the full count); its
  closed form is :func:`layer_weight_count`.
- LPZero's published proxies (:data:`lpzero_gp.language.LPZERO_FLEXIBERT_PROXY`,
  :data:`~lpzero_gp.language.LPZERO_GPT2_PROXY`) in the ``lpzero`` language.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from torch import nn

from ..bank import InputBank
from ..capture import layer_weights


@dataclass(frozen=True)
class InLanguage:
    """A proxy as a formula: ``counterpart`` names the direct proxy it must agree with, and
    ``agreement`` how ("value": equal up to the bank's sampling; "rank": same ordering)."""

    name: str
    label: str
    formula: str
    language: str = "default"
    counterpart: str | None = None
    agreement: str = "rank"
    lower_is_better: bool = False  # the proxy's own direction (LPZero's GPT-2 score)

    def oriented(self, scores):
        """``scores`` turned higher-is-better (negated when the proxy ranks lower-first)."""
        return -scores if self.lower_is_better else scores

    def proxy(self):
        from ..language import Proxy
        return Proxy.parse(self.formula, self.language)


IN_LANGUAGE: dict[str, InLanguage] = {p.name: p for p in (
    InLanguage("snip", "SNIP (proxy language)", "layer_sum(pool_sum(t_sum(abs(mul(W, G)))))",
               counterpart="snip", agreement="value"),
    InLanguage("grad_norm", "Grad-norm per layer (proxy language)", "layer_sum(pool_sum(t_fro(G)))",
               counterpart="grad_norm", agreement="rank"),
    InLanguage("layer_weights", "#Layer weights (proxy language)",
               "layer_sum(pool_sum(t_sum(exp(sub(W, W)))))", counterpart="layer_weight_count",
               agreement="value"),
)}
IN_LANGUAGE_NAMES = tuple(IN_LANGUAGE)


def published_proxy(space_name: str) -> InLanguage:
    """LPZero's published proxy for a space, as a formula of its language (from the space's
    :attr:`~lpzero_gp.spaces.Space.published`)."""
    from ..spaces import get_space
    try:
        p = get_space(space_name).published_proxy()
    except LookupError as exc:
        raise ValueError(str(exc)) from None
    return InLanguage("lpzero_published", "LPZero (published formula)", p.formula,
                      language=p.language, lower_is_better=p.lower_is_better)


def layer_weight_count(model: nn.Module) -> float:
    """Closed form of ``layer_weights``: the elements of every proxy layer's W."""
    return float(sum(p.numel() for layer in model.proxy_layers() for p in layer_weights(layer)))


def evaluate_in_language(bank: InputBank, proxies: Sequence[InLanguage] | None = None) -> dict:
    """Each proxy's :class:`~lpzero_gp.language.ProxyResult` on ``bank``, by name."""
    proxies = list(IN_LANGUAGE.values()) if proxies is None else list(proxies)
    return {p.name: p.proxy().evaluate(bank) for p in proxies}
