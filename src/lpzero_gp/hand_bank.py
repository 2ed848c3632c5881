"""Hand-designed proxy values carried beside the captured inputs, for hybrid languages.

A hybrid language (:mod:`lpzero_gp.language.hand`) reads hand-designed proxies as terminals:
one value per architecture (``snip``), or one per layer (``l_snip``, for the proxies that
declare per-layer values). :class:`HandScores` holds those values for the records of a bank,
in the bank's order; :class:`HybridBank` is an :class:`~lpzero_gp.bank.InputBank` that carries
them, so that every subset of the bank (search, validation and test splits, RPS probes,
fitness subsets) keeps each record's tensors and hand-designed values together.

The values are computed once per architecture, on the model and batch of the capture settings,
by :func:`~lpzero_gp.baselines.table.hand_designed_scores`, and cached in the cache folder of
the captures (``<cache>/baselines/``, :mod:`lpzero_gp.baselines.score_cache`): the same values
and the same cache as the baseline tables, so a table already made costs nothing here.
:func:`lpzero_gp.collect.collect_inputs` (``hand_designed=[...]``) returns a
:class:`HybridBank`.

A proxy undefined on a model (e.g. attention confidence without attention) has the value NaN
and a reason; a formula reading it is invalid on that record, and its reason says why.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from .bank import InputBank
from .lazy import lazy_import

torch = lazy_import("torch")


@dataclass(frozen=True, eq=False)
class HandScores:
    """Hand-designed values of N records: ``names`` (K,) per-architecture terminals,
    ``values`` (N, K) float64 (NaN where undefined), ``record_ids`` (N,), ``layers``:
    per-layer terminal name -> (N, L) float64 (NaN where undefined and beyond a record's
    depth), ``reasons``: {(record id, terminal name): why it is undefined}."""

    names: tuple[str, ...]
    values: np.ndarray
    record_ids: tuple[str, ...]
    reasons: dict = field(default_factory=dict)
    layers: dict = field(default_factory=dict)

    @property
    def terminals(self) -> tuple[str, ...]:
        """Every terminal these values answer: per architecture, then per layer."""
        return self.names + tuple(self.layers)

    def __post_init__(self):
        values = np.asarray(self.values, dtype=np.float64)
        if values.shape != (len(self.record_ids), len(self.names)):
            raise ValueError(f"hand-designed values of shape {values.shape}, expected "
                             f"({len(self.record_ids)}, {len(self.names)}): one row per record, "
                             f"one column per proxy")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "names", tuple(self.names))
        object.__setattr__(self, "record_ids", tuple(map(str, self.record_ids)))

    def column(self, name: str) -> "torch.Tensor":
        """The values of terminal ``name``: (N,) float64, or (N, L) for a per-layer one (a
        copy)."""
        if name in self.layers:
            return torch.tensor(self.layers[name], dtype=torch.float64)
        return torch.tensor(self.values[:, self.names.index(name)], dtype=torch.float64)

    def subset(self, index: Sequence[int], depth: int | None = None) -> "HandScores":
        """The records at positions ``index`` (in that order); per-layer values cut to
        ``depth`` layers (default: all)."""
        index = [int(i) for i in index]
        ids = tuple(self.record_ids[i] for i in index)
        keep = set(ids)
        return HandScores(self.names, self.values[index].reshape(len(index), len(self.names)),
                          ids, {k: v for k, v in self.reasons.items() if k[0] in keep},
                          {n: v[index, :depth] for n, v in self.layers.items()})

    def reason(self, record_id: str, names: Sequence[str]) -> str | None:
        """Why one of ``names`` is undefined on ``record_id`` (None when all are defined)."""
        row = self.record_ids.index(str(record_id))
        for n in names:
            if n in self.layers:
                bad = not np.isfinite(self.layers[n][row]).any()
                bad = bad or (str(record_id), n) in self.reasons
            else:
                bad = n in self.names and not np.isfinite(self.values[row, self.names.index(n)])
            if bad:
                why = self.reasons.get((str(record_id), n), "its value is not finite")
                return f"hand-designed proxy {n} is undefined on record {record_id}: {why}"
        return None


@dataclass(eq=False)
class HybridBank(InputBank):
    """An :class:`~lpzero_gp.bank.InputBank` with the hand-designed values ``hand`` of the same
    records, in the same order; :meth:`subset` keeps them aligned."""

    hand: HandScores | None = None

    def __post_init__(self):
        if self.hand is None:
            return
        if list(self.hand.record_ids) != list(self.record_ids):
            raise ValueError("the hand-designed values are not of the bank's records, in its "
                             "order")
        depths = self.layer_mask.sum(dim=1).tolist()
        for name, values in self.hand.layers.items():
            if values.shape != tuple(self.layer_mask.shape):
                raise ValueError(f"per-layer values of {name}: shape {values.shape}, the bank's "
                                 f"layers {tuple(self.layer_mask.shape)}")
            for rid, row, depth in zip(self.record_ids, values, depths):
                if (str(rid), name) not in self.hand.reasons and not (
                        np.isfinite(row[:depth]).all() and np.isnan(row[depth:]).all()):
                    raise ValueError(f"record {rid}: {name} has values for other layers "
                                     f"than the {depth} captured")

    def subset(self, index: Sequence[int]) -> "HybridBank":
        base = InputBank.subset(self, index)
        fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(InputBank)
                  if f.init}
        return HybridBank(**fields, hand=None if self.hand is None
                          else self.hand.subset(index, base.depth))


def with_hand_scores(bank: InputBank, hand: HandScores) -> HybridBank:
    """``bank`` carrying ``hand`` (the values of the same records, in the same order)."""
    fields = {f.name: getattr(bank, f.name) for f in dataclasses.fields(InputBank) if f.init}
    fields["_stacked"] = bank._stacked  # already stacked inputs are shared, not rebuilt
    return HybridBank(**fields, hand=hand)


def hand_scores(space, records, settings, names: Sequence[str], cache=None, data_dir=None,
                progress: bool = True, depth: int | None = None) -> HandScores:
    """The hand-designed terminals ``names`` of ``records`` (``snip``; ``l_snip`` for
    per-layer values, (N, ``depth``) NaN-padded): one model build and one set of passes per
    record not in the cache; ``cache``: a folder, ``None`` for the default one, ``False`` for
    none."""
    from .baselines.table import hand_designed_scores
    from .language.hand import LAYER_PREFIX, proxy_of
    scalar = [n for n in names if not n.startswith(LAYER_PREFIX)]
    per_layer = [n for n in names if n.startswith(LAYER_PREFIX)]
    got = hand_designed_scores(space, records, settings, scalar, cache, data_dir,
                               progress) if scalar else {}
    ids = [str(r.id) for r in records]
    values = np.stack([got[n][0] for n in scalar], axis=1) if scalar else \
        np.zeros((len(ids), 0))
    reasons = {(rid, n): why for n in scalar for rid, why in got[n][1].items()}
    layers = {}
    if per_layer:
        proxies = [proxy_of(n, True) for n in per_layer]
        rows = layer_scores(space, records, settings, proxies, cache, data_dir, progress)
        depth = depth or max((len(v.values) for row in rows for v in row.values()), default=0)
        for term, proxy in zip(per_layer, proxies):
            table = np.full((len(ids), depth), np.nan)
            for i, (rid, row) in enumerate(zip(ids, rows)):
                got_layers = row[proxy]
                table[i, :len(got_layers.values)] = got_layers.values
                if got_layers.reason:
                    reasons[(rid, term)] = got_layers.reason
            layers[term] = table
    return HandScores(tuple(scalar), values, tuple(ids), reasons, layers)


def layer_scores(space, records, settings, names: Sequence[str], cache=None, data_dir=None,
                 progress: bool = True) -> list[dict]:
    """Per record, proxy -> :class:`~lpzero_gp.baselines.hand_designed.LayerValues` (one
    model build and one set of passes per record not in the cache, as
    :func:`~lpzero_gp.baselines.table.hand_designed_scores`)."""
    from tqdm.auto import tqdm

    from .baselines.hand_designed import compute_hand_designed
    from .baselines.score_cache import ScoreCache, score_key
    from .collect import make_space_batch
    from .corpus import text_fingerprint
    settings = settings.resolved(space)
    store = None if cache is False else ScoreCache(
        score_key(space.name, settings, text_fingerprint(settings.text_path)), cache)
    batch, out = None, []
    bar = tqdm(records, desc=f"per-layer proxies {space.name}", unit="arch",
               disable=not progress)
    for record in bar:
        got = store.get_layers(record.id, names) if store else None
        if got is None:
            if batch is None:
                batch = make_space_batch(space, settings, data_dir)
            model = space.build(record, settings.variant, settings.seed)
            got = compute_hand_designed(model, batch, settings.objective, list(names), space,
                                        per_layer=True)
            if store:
                store.put_layers(record.id, got)
        out.append(got)
    return out


def hand_names(*proxies_or_languages) -> tuple[str, ...]:
    """The hand-designed terminals the given proxies read (for a language: all it may read),
    in order of first appearance."""
    out: dict[str, None] = {}
    for item in proxies_or_languages:
        language = getattr(item, "language", item)
        hand = getattr(language, "hand", ())
        tree = getattr(item, "tree", None)
        if tree is None:
            out.update(dict.fromkeys(hand))
        else:
            out.update(dict.fromkeys(n.name for n in tree if n.arity == 0 and n.name in hand))
    return tuple(out)
