"""How well the whole-row sketch estimates a formula's score: every depth-2 formula on the full
tensors against the same formula on sketches of them.

A *depth-2 formula* reads one input ``X``, applies one tensor -> tensor unary primitive ``p``
(``identity`` included), one reduction ``r`` (tensor -> one value per tensor), and pools::

    layer_mean(pool_mean(r(p(X))))     X a layer-level input (A, H, S, W, G, J)
    pool_mean(r(p(X)))                 X a model-level input (WE, GE, AE)

The primitives come from :data:`~lpzero_gp.language.registry.REGISTRY` (every primitive with
signature ``(Tensor,) -> Tensor``, resp. ``(Tensor,) -> Each``), so a primitive registered later
is covered without touching this module. The formulas are parsed in :func:`estimator_language`:
the ``default`` language's inputs with *every* registered primitive (``default`` itself leaves
out ``identity``, for one).

:func:`compare` evaluates each formula on a bank of full captures (``max_elements=None``) and on
a bank of sketches of the same tensors (:func:`sketch_bank`, i.e. :func:`lpzero_gp.capture.sketch`
per architecture) and gives, per formula, a :class:`ComparisonRow`:

- validity on each bank (and the reason when invalid);
- per architecture the relative error ``|sketch - full| / |full|``: its median and maximum;
- Spearman's rho across architectures between the sketch's and the full scores;
- the *signal-to-noise ratio* ``snr = spread / noise``: ``spread`` is the standard deviation of
  the full scores across architectures, ``noise`` the sketch's sampling error, the RMS over
  architectures of ``sketch - full`` measured on *independent* sketches (other sketch seeds,
  ``noise_banks``), so the figure that judges a ranking is not computed from the very sketch
  whose ranking it judges. Without ``noise_banks`` the compared sketch itself is used
  (``noise_source`` says which);
- the *rank SNR*: over every pair of architectures, the gap between their full scores over the
  sketch's RMS error on that gap (noise sketches), the smallest. This, not ``snr``, says whether
  the tensors decide the ranking: a score with a large spread can still hold two architectures
  tied to within rounding (the same shapes), which any error swaps;
- the *bias*: the mean over noise sketches and architectures of ``(sketch - full) / |full|``
  and its t statistic. Every reduction but ``t_std`` and ``t_fro`` is a mean of per-row values
  over uniformly drawn rows, unbiased by construction (a large t there reveals a skewed
  sampling distribution); ``t_fro`` and ``t_std`` take a square root and are biased low.

:func:`estimator_table` summarises the rows per primitive (the median over its combinations of
the per-formula median relative error): the *estimator table*; :func:`markdown_table` prints it.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from deap import gp

from .bank import (DEFAULT_MAX_ELEMENTS, DEFAULT_MIN_ROWS, INPUT_NAMES, INPUTS, InputBank,
                   Inputs)
from .capture import sketch
from .language.primitive_set import Language, Limits, load_language
from .language.proxy import ProxyResult, score_status
from .language.registry import REGISTRY, ensure_checked
from .language.types import Each, Tensor, TensorValue


def tensor_ops() -> tuple[str, ...]:
    """Every registered unary tensor -> tensor primitive (elementwise and row operations)."""
    return tuple(n for n, p in REGISTRY.items() if p.args == (Tensor,) and p.ret is Tensor)


def reductions() -> tuple[str, ...]:
    """Every registered reduction of a tensor to one value per tensor."""
    return tuple(n for n, p in REGISTRY.items() if p.args == (Tensor,) and p.ret is Each)


@functools.lru_cache(maxsize=None)
def _language(inputs: tuple[str, ...], names: tuple[str, ...]) -> Language:
    limits = Limits(min_depth=0, max_depth=9, max_nodes=25, init_max_depth=7)
    return Language("default+all", None, {n: 1.0 for n in inputs}, {n: 1.0 for n in names},
                    limits, description="the default language's inputs with every registered "
                                        "primitive (estimator tests)")


def estimator_language() -> Language:
    """Every input (by rows and by columns: the ``columns`` language's) with every registered
    primitive (weight 1 each).

    Built anew whenever the registry has grown (cached per registry content).
    """
    return _language(tuple(load_language("columns").inputs), tuple(REGISTRY))


@dataclass(frozen=True)
class Formula:
    """One depth-2 formula: ``input``, unary tensor operation ``op``, ``reduction``, ``text``."""

    input: str
    op: str
    reduction: str
    text: str

    @property
    def level(self) -> str:
        return INPUTS[self.input].level

    def __str__(self) -> str:
        return self.text


def formula_text(x: str, op: str, reduction: str) -> str:
    inner = f"pool_mean({reduction}({op}({x})))"
    return f"layer_mean({inner})" if INPUTS[x].level == "layer" else inner


def _input_names(inputs) -> tuple[str, ...]:
    if inputs is None:
        return INPUT_NAMES
    if isinstance(inputs, InputBank):
        return tuple(inputs.names)
    if isinstance(inputs, Inputs):
        return tuple(inputs.tensors)
    if isinstance(inputs, str):
        return (inputs,)
    return tuple(inputs)


def depth2_formulas(inputs: "Sequence[str] | InputBank | Inputs | None" = None
                    ) -> Iterator[Formula]:
    """Every depth-2 combination (input, tensor op, reduction), input-major then op-major (the
    order :func:`evaluate_formulas` reuses ``op(input)`` in). ``inputs``: input names, or a
    bank / captured inputs (their inputs); default every input."""
    for x in _input_names(inputs):
        if x not in INPUTS:
            raise ValueError(f"unknown input {x!r}; known: {', '.join(INPUT_NAMES)}")
        for op in tensor_ops():
            for r in reductions():
                yield Formula(x, op, r, formula_text(x, op, r))


# -- evaluation, sharing subtrees ------------------------------------------------------------


def _subtrees(tree) -> list[tuple[int, int]]:
    """(start, end) of every node's subtree in the prefix list."""
    out, ends = [], [0] * len(tree)
    for i in range(len(tree) - 1, -1, -1):
        j = i + 1
        for _ in range(tree[i].arity):
            j = ends[j]
        ends[i] = j
    for i in range(len(tree)):
        out.append((i, ends[i]))
    return out


def evaluate_formulas(formulas: Iterable, bank: InputBank, language: Language | None = None,
                      arch_chunk: int | None = None) -> dict[str, ProxyResult]:
    """``{text: ProxyResult}`` of every formula on ``bank``: the same computation as
    :meth:`Proxy.evaluate <lpzero_gp.language.proxy.Proxy.evaluate>` (the primitives' own
    functions on the bank's stacked blocks), sharing a subtree between consecutive formulas
    (``op(X)`` across the reductions) and keeping no more than one formula's subtrees.

    ``arch_chunk``: evaluate that many architectures at a time (every primitive acts within
    one architecture, so each architecture's score is the same; big full tensors then make
    smaller temporaries), and an architecture whose inputs read by a formula are identical,
    bit for bit, to an earlier one's (FlexiBERT's embedding tables, for one) takes that one's
    score. The status (non-finite, constant) is judged on all architectures together."""
    language = language or estimator_language()
    compiled = {}
    for f in formulas:
        text = str(f)
        if text not in compiled:
            compiled[text] = _compile(language, text)
    n = len(bank)
    if not arch_chunk or int(arch_chunk) >= n:
        raw = _raw_scores(compiled, bank, language)
    else:
        step = max(1, int(arch_chunk))
        by_inputs: dict[tuple[str, ...], list[str]] = {}
        for text, (tree, _, _) in compiled.items():
            reads = tuple(sorted({node.value for node in tree if isinstance(node, gp.Terminal)}))
            by_inputs.setdefault(reads, []).append(text)
        raw = {}
        for reads, texts in by_inputs.items():
            owner = _identical_archs(bank, reads)
            reps = sorted(set(owner))
            part = {t: np.full(n, np.nan) for t in texts}
            for i in range(0, len(reps), step):
                chunk = reps[i:i + step]
                got = _raw_scores({t: compiled[t] for t in texts}, bank.subset(chunk), language)
                for t in texts:
                    part[t][chunk] = got[t]
            for t in texts:
                raw[t] = part[t][owner]
    ids = list(bank.record_ids)
    return {t: score_status(raw[t], ids) for t in compiled}


_COMPILED: dict[tuple[int, str], tuple] = {}


def _compile(language: Language, text: str) -> tuple:
    """(tree, subtree spans, subtree texts) of a formula, cached per language and text."""
    key = (id(language), text)
    if key not in _COMPILED:
        tree = language.parse(text)
        spans = _subtrees(tree)
        _COMPILED[key] = (tree, spans, [str(gp.PrimitiveTree(tree[a:b])) for a, b in spans])
    return _COMPILED[key]


def _identical_archs(bank: InputBank, names: Sequence[str]) -> list[int]:
    """Per architecture, the first architecture whose inputs ``names`` are identical to its
    own (same tensors, names, full sizes and kept rows, bit for bit; same depth when one of
    them is a layer-level input)."""
    layered = any(INPUTS[x].level == "layer" for x in names)
    owner: list[int] = []
    for i, inp in enumerate(bank.inputs):
        found = i
        for j in sorted(set(owner)):
            other = bank.inputs[j]
            if (other.n_layers == inp.n_layers or not layered) and all(
                    _same_tensors(inp.tensors[x], other.tensors[x]) for x in names):
                found = j
                break
        owner.append(found)
    return owner


def _same_tensors(a, b) -> bool:
    return len(a) == len(b) and all(
        (x.name, x.layer, x.n_rows) == (y.name, y.layer, y.n_rows)
        and x.rows.shape == y.rows.shape and torch.equal(x.rows, y.rows) for x, y in zip(a, b))


def _raw_scores(compiled: dict, bank: InputBank, language: Language) -> dict[str, np.ndarray]:
    ensure_checked()
    mask = bank.layer_mask
    cache: dict[str, object] = {}
    out: dict[str, np.ndarray] = {}
    for text, (tree, spans, keys) in compiled.items():
        for k in [k for k in cache if k not in keys]:
            del cache[k]
        with torch.no_grad():
            for i in range(len(tree) - 1, -1, -1):
                if keys[i] in cache:
                    continue
                node = tree[i]
                if isinstance(node, gp.Terminal):
                    cache[keys[i]] = TensorValue(*bank.stacked(node.value))
                    continue
                prim = language.primitives[node.name]
                args, j = [], i + 1
                for _ in range(node.arity):
                    args.append(cache[keys[j]])
                    j = spans[j][1]
                cache[keys[i]] = (prim.fn(mask, *args) if prim.kind == "aggregation"
                                  else prim.fn(*args))
        out[text] = cache[keys[0]].to(torch.float64).numpy().copy()
    return out


# -- real architectures, captured in full ------------------------------------------------------

# FlexiBERT: (layers, hidden size, the operations its layers use): both depths, both hidden
# sizes, every operation alone at 2 layers and all three mixed at 4.
FLEXIBERT_KINDS = ((2, 128, ("SA",)), (2, 128, ("LT",)), (2, 128, ("DSC",)),
                   (2, 256, ("SA",)), (2, 256, ("LT",)), (2, 256, ("DSC",)),
                   (4, 128, ("DSC", "LT", "SA")), (4, 256, ("DSC", "LT", "SA")))


def flexibert_kind(record) -> tuple[int, int, tuple[str, ...]]:
    """(layers, hidden size, the sorted operations its layers use) of a FlexiBERT record."""
    c = record.config
    return c.n_layers, c.hidden_size, tuple(sorted({x.operation_type for x in c.layers}))


def flexibert_size(record, variant: str = "space") -> int:
    """Parameters of the record's model outside the embeddings (a meta-device build)."""
    from .spaces import get_space
    model = get_space("flexibert").build(record, variant, seed=0, device="meta")
    return sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)


def pick_flexibert(bench, kinds=FLEXIBERT_KINDS, smallest: bool = True,
                   variant: str = "space") -> list:
    """One record of each kind (layers, hidden size, operations): the one with the fewest
    parameters outside the embeddings in ``variant`` (``smallest``), else the first in
    benchmark order."""
    out = []
    for k in kinds:
        found = [r for r in bench if flexibert_kind(r) == k]
        if not found:
            raise LookupError(f"no FlexiBERT record with {k[0]} layers, hidden {k[1]}, "
                              f"operations {'/'.join(k[2])}")
        out.append(min(found, key=lambda r: flexibert_size(r, variant)) if smallest
                   else found[0])
    return out


def pick_gpt2(bench, n: int = 4) -> list:
    """``n`` of the smallest GPT-2 records: ordered by d_model, d_embed, n_layer, the first
    of each (n_layer, div_val) (different depths and adaptive-embedding kinds)."""
    ordered = sorted(bench, key=lambda r: (r.config.d_model, r.config.d_embed,
                                           r.config.n_layer, r.id))
    out, seen = [], set()
    for r in ordered:
        key = (r.config.n_layer, r.config.div_val)
        if key not in seen:
            seen.add(key)
            out.append(r)
        if len(out) == n:
            break
    return out


def capture_full_bank(space, records, batch_size: int, seq_len: int, seed: int = 0,
                      variant: str | None = None, objective: str | None = None,
                      data_dir=None, model_seed: int | None = None) -> InputBank:
    """Every record's full tensors (``max_elements=None``) on one real-text batch (drawn with
    ``seed``), the models initialised with ``model_seed`` (default ``seed``)."""
    from .capture import capture_inputs
    variant = variant or space.default_variant
    objective = objective or space.default_objective
    batch = space.make_batch(batch_size=batch_size, seq_len=seq_len, seed=seed,
                             objective=objective, data_dir=data_dir)
    model_seed = seed if model_seed is None else model_seed
    inputs = [capture_inputs(space.build(r, variant, seed=model_seed), batch, objective,
                             max_elements=None, seed=seed,
                             meta={"record": r.id, "variant": variant, "objective": objective,
                                   "batch": [batch_size, seq_len]}) for r in records]
    return InputBank.from_inputs(inputs, [r.id for r in records], [r.quality for r in records])


# -- sketches of a full bank -------------------------------------------------------------------


def sketch_bank(full: InputBank, max_elements: int | None = DEFAULT_MAX_ELEMENTS,
                seed: int = 0, min_rows: int = DEFAULT_MIN_ROWS) -> InputBank:
    """The bank a capture with ``max_elements``/``seed``/``min_rows`` would have given: every
    architecture's full tensors sketched (:func:`lpzero_gp.capture.sketch`)."""
    inputs = [sketch(i, max_elements, seed, min_rows) for i in full.inputs]
    return InputBank.from_inputs(inputs, full.record_ids, full.quality)


# -- comparison --------------------------------------------------------------------------------


@dataclass
class ComparisonRow:
    """One formula on the full tensors and on a sketch (see the module docstring)."""

    formula: str
    input: str
    op: str
    reduction: str
    valid_full: bool
    valid_sketch: bool
    reason_full: str | None
    reason_sketch: str | None
    rel_err_median: float      # over architectures, |sketch - full| / |full|
    rel_err_max: float
    spearman: float            # sketch vs full scores across architectures
    spread: float              # std of the full scores across architectures
    noise: float               # RMS of sketch - full (independent sketches when given)
    snr: float                 # spread / noise (inf when the sketch is exact)
    noise_source: str          # "independent sketches (n)" or "this sketch"
    bias: float                # mean over the noise sketches and architectures of
                               # (sketch - full) / |full|: a systematic error
    bias_t: float              # its t statistic (mean / standard error of the mean)
    rank_snr: float            # min over pairs of architectures of |full_a - full_b| over
                               # the sketch's RMS error on that difference (see _rank_snr)
    full_scores: np.ndarray
    sketch_scores: np.ndarray
    noise_scores: np.ndarray   # (K, N): the scores on the K noise sketches
    seed_rho: float = math.nan  # min over other model seeds of Spearman(full, full at that
                                # seed): how far the full tensors' own ranking is a property
                                # of the architectures rather than of one initialisation

    @property
    def valid_both(self) -> bool:
        return self.valid_full and self.valid_sketch

    @property
    def agree(self) -> bool:
        return self.valid_full == self.valid_sketch

    @property
    def full_cv(self) -> float:
        """Spread of the full scores relative to their size: std / mean|score|."""
        scale = float(np.mean(np.abs(self.full_scores)))
        return self.spread / scale if scale > 0 else math.nan


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    rx = _ranks(x)
    ry = _ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    for v in np.unique(x):
        tie = x == v
        if tie.sum() > 1:
            ranks[tie] = ranks[tie].mean()
    return ranks


def compare(full_bank: InputBank, sketch_bank: InputBank,
            formulas: Iterable | None = None, noise_banks: Sequence[InputBank] = (),
            full_results: dict[str, ProxyResult] | None = None,
            arch_chunk: int | None = 1,
            seed_banks: Sequence[InputBank] = ()) -> list[ComparisonRow]:
    """One :class:`ComparisonRow` per formula (default: every depth-2 formula of the bank's
    inputs) comparing ``sketch_bank`` with ``full_bank`` (same architectures, same order).

    ``noise_banks``: other sketches of the same tensors (other seeds) to measure the sampling
    error independently of ``sketch_bank``; ``full_results``: the full bank's results when
    already computed (:func:`evaluate_formulas`); ``arch_chunk``: architectures evaluated
    at a time on the full bank; ``seed_banks``: full banks of the same architectures with
    models initialised from other seeds (``seed_rho``)."""
    if list(full_bank.record_ids) != list(sketch_bank.record_ids):
        raise ValueError("the full and sketch banks hold other architectures")
    for nb in noise_banks:
        if list(nb.record_ids) != list(full_bank.record_ids):
            raise ValueError("a noise bank holds other architectures than the full bank")
    formulas = list(depth2_formulas(full_bank) if formulas is None else formulas)
    full = (full_results if full_results is not None
            else evaluate_formulas(formulas, full_bank, arch_chunk=arch_chunk))
    sk = evaluate_formulas(formulas, sketch_bank)
    others = [evaluate_formulas(formulas, nb) for nb in noise_banks]
    for sb in seed_banks:
        if list(sb.record_ids) != list(full_bank.record_ids):
            raise ValueError("a seed bank holds other architectures than the full bank")
    reseeded = [evaluate_formulas(formulas, sb, arch_chunk=arch_chunk) for sb in seed_banks]
    rows = []
    for f in formulas:
        text = str(f)
        x, op, r = _parts(f)
        a, b = full[text], sk[text]
        fs, ss = a.scores, b.scores
        both = np.isfinite(fs) & np.isfinite(ss)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(ss - fs)[both] / np.abs(fs)[both]
        rel = rel[~np.isnan(rel)]  # 0 / 0: both exactly zero
        spread = float(np.std(fs)) if np.isfinite(fs).all() else math.nan
        if others:
            errs = [o[text].scores - fs for o in others]
            source = f"independent sketches ({len(others)})"
        else:
            errs = [ss - fs]
            source = "this sketch"
        err = np.concatenate(errs)
        noise = float(np.sqrt(np.mean(err ** 2))) if np.isfinite(err).all() else math.nan
        bias, bias_t = _bias(errs, fs)
        noisy = np.stack([e + fs for e in errs])
        rank_snr = _rank_snr(fs, noisy)
        if math.isnan(noise) or math.isnan(spread):
            snr = math.nan
        elif noise == 0:
            snr = math.inf if spread > 0 else math.nan
        else:
            snr = spread / noise
        rho = _spearman(fs, ss) if both.all() else math.nan
        seed_rhos = [_spearman(fs, o[text].scores) for o in reseeded
                     if np.isfinite(fs).all() and np.isfinite(o[text].scores).all()]
        rows.append(ComparisonRow(
            text, x, op, r, a.valid, b.valid, a.reason, b.reason,
            float(np.median(rel)) if rel.size else math.nan,
            float(np.max(rel)) if rel.size else math.nan,
            rho, spread, noise, snr, source, bias, bias_t, rank_snr, fs, ss, noisy,
            float(np.min(seed_rhos)) if len(seed_rhos) == len(reseeded) and seed_rhos
            else math.nan))
    return rows


def _rank_snr(full: np.ndarray, sketches: Sequence[np.ndarray]) -> float:
    """min over pairs a < b of |full_a - full_b| / noise_ab, ``noise_ab`` the RMS over
    ``sketches`` of the error of the difference, ``(s_a - full_a) - (s_b - full_b)``: how far
    apart, in units of the sketch's error on their difference, the two closest architectures
    are. The error of the difference counts what the architectures' errors share: the rows a
    sketch keeps depend on the seed and the tensor's input, layer, name and shape, not on the
    architecture, so same-named tensors of two architectures keep the same rows (the same
    tokens of A, H, J, the same rows of the embedding tables). A pair with no such error
    (identical tensors, or tensors kept whole) is resolved (inf). NaN when a value is not
    finite or there is no sketch."""
    if len(full) < 2 or not len(sketches):
        return math.nan
    s = np.stack(list(sketches))
    if not (np.isfinite(full).all() and np.isfinite(s).all()):
        return math.nan
    err = s - full                                           # (K, N)
    diff = err[:, :, None] - err[:, None, :]                 # (K, N, N)
    noise = np.sqrt(np.mean(diff ** 2, axis=0))
    gap = np.abs(full[:, None] - full[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(noise > 0, gap / noise, math.inf)
    iu = np.triu_indices(len(full), 1)
    return float(z[iu].min())


def _bias(errs: list[np.ndarray], full: np.ndarray) -> tuple[float, float]:
    """Mean relative signed error and its t statistic (NaN when undefined)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.concatenate([e / np.abs(full) for e in errs])
    if rel.size < 2 or not np.isfinite(rel).all():
        return math.nan, math.nan
    mean, sd = float(rel.mean()), float(rel.std(ddof=1))
    if sd == 0:
        return mean, (0.0 if mean == 0 else math.copysign(math.inf, mean))
    return mean, mean / (sd / math.sqrt(rel.size))


def _parts(f) -> tuple[str, str, str]:
    if isinstance(f, Formula):
        return f.input, f.op, f.reduction
    names = str(f).replace("(", " ").replace(")", " ").split()
    if names[0] == "layer_mean":
        names = names[1:]
    # pool_mean, reduction, op, input
    return names[3], names[2], names[1]


# -- the estimator table -----------------------------------------------------------------------


@dataclass
class PrimitiveSummary:
    """The combinations of one primitive (as ``kind`` "op" or "reduction", or an "input")."""

    name: str
    kind: str
    combinations: int
    valid_both: int
    disagree: int              # valid on one bank only
    rel_err_median: float      # median over its valid combinations of their median rel. error
    rel_err_p90: float         # 90th percentile of the same
    rel_err_max: float         # largest per-architecture relative error seen
    rho_min: float             # smallest Spearman rho among its valid combinations
    snr_median: float
    bias_median: float         # median over its combinations of the mean relative bias
    biased: int                # combinations whose bias has |t| > BIAS_T


BIAS_T = 5.0  # a mean relative error this many standard errors from 0 is called a bias


def estimator_table(rows: Sequence[ComparisonRow], kinds: Sequence[str] = ("op", "reduction")
                    ) -> list[PrimitiveSummary]:
    """Per primitive (tensor operation, reduction; optionally ``"input"``) the summary of its
    combinations: the estimator table."""
    out = []
    for kind in kinds:
        attr = {"op": "op", "reduction": "reduction", "input": "input"}[kind]
        names = list(dict.fromkeys(getattr(r, attr) for r in rows))
        for name in names:
            mine = [r for r in rows if getattr(r, attr) == name]
            ok = [r for r in mine if r.valid_both]
            med = np.array([r.rel_err_median for r in ok if not math.isnan(r.rel_err_median)])
            mx = np.array([r.rel_err_max for r in ok if not math.isnan(r.rel_err_max)])
            rho = np.array([r.spearman for r in ok if not math.isnan(r.spearman)])
            snr = np.array([r.snr for r in ok if not math.isnan(r.snr)])
            bias = np.array([r.bias for r in ok if not math.isnan(r.bias)])
            out.append(PrimitiveSummary(
                name, kind, len(mine), len(ok), sum(not r.agree for r in mine),
                float(np.median(med)) if med.size else math.nan,
                float(np.quantile(med, 0.9)) if med.size else math.nan,
                float(np.max(mx)) if mx.size else math.nan,
                float(np.min(rho)) if rho.size else math.nan,
                float(np.median(snr)) if snr.size else math.nan,
                float(np.median(bias)) if bias.size else math.nan,
                sum(abs(r.bias_t) > BIAS_T for r in ok if not math.isnan(r.bias_t))))
    return out


def _g(x: float, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "--"
    if math.isinf(x):
        return "inf"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}" if abs(x) < 1e4 else f"{x:.1e}"


def markdown_table(summary: Sequence[PrimitiveSummary]) -> str:
    """The estimator table in Markdown."""
    lines = ["| primitive | kind | combinations | valid on both | validity differs | "
             "median rel. error | p90 rel. error | max rel. error | min rho | median SNR | "
             "median bias | biased |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for s in summary:
        lines.append(f"| `{s.name}` | {s.kind} | {s.combinations} | {s.valid_both} | "
                     f"{s.disagree} | {_g(s.rel_err_median)} | {_g(s.rel_err_p90)} | "
                     f"{_g(s.rel_err_max)} | {_g(s.rho_min, 3)} | {_g(s.snr_median)} | "
                     f"{_g(s.bias_median)} | {s.biased} |")
    return "\n".join(lines)


def markdown_rows(rows: Sequence[ComparisonRow]) -> str:
    """Formula rows in Markdown (for the worst combinations)."""
    lines = ["| formula | valid full / sketch | median rel. error | max rel. error | rho | "
             "spread (std) | noise (RMS) | SNR | rank SNR | bias (t) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| `{r.formula}` | {'yes' if r.valid_full else 'no'} / "
                     f"{'yes' if r.valid_sketch else 'no'} | {_g(r.rel_err_median)} | "
                     f"{_g(r.rel_err_max)} | {_g(r.spearman, 3)} | {_g(r.spread)} | "
                     f"{_g(r.noise)} | {_g(r.snr)} | {_g(r.rank_snr)} | "
                     f"{_g(r.bias)} ({_g(r.bias_t)}) |")
    return "\n".join(lines)


__all__ = ["FLEXIBERT_KINDS", "flexibert_kind", "flexibert_size", "pick_flexibert", "pick_gpt2",
           "capture_full_bank", "Formula", "ComparisonRow", "PrimitiveSummary", "tensor_ops",
           "reductions", "BIAS_T", "estimator_language", "depth2_formulas", "formula_text",
           "evaluate_formulas", "sketch_bank", "compare", "estimator_table", "markdown_table",
           "markdown_rows"]
