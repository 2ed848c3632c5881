"""Captured inputs that keep their shape: per architecture (:class:`Inputs`) and stacked for
many (:class:`InputBank`).

Every input is a *set of named tensors*, each seen as a matrix of **rows**; a row is one whole
slice of the tensor along the axis the language's row operations act on:

=====  ======  ============================================================================
input  level   tensors of a layer, and what one row is
=====  ======  ============================================================================
W      layer   every weight matrix of the layer (one tensor per parameter with ndim >= 2);
               a row is one output unit with its whole fan-in (nn.Linear layout (out, in);
               GPT-2's Conv1D (in, out) is transposed; a convolution (out, in, k) -> (out, in*k))
G      layer   the gradients of W: same tensors, same layout, **same kept rows**
A      layer   each FFN activation (after the nonlinearity); a row is one token's channels
H      layer   the head (query) projection; a row is one token's channels
S      layer   the softmax maps, one tensor per head; a row is one query's weights over the keys
               (an attention-free mixer's output: one tensor, a row is a token's channels)
J      layer   the gradient of the objective w.r.t. the layer's input hidden states; a row is a
               token's hidden vector
WE     model   the embedding / output side's weight matrices (everything outside the blocks:
               token and position tables, adaptive input projections, tied adaptive-softmax
               clusters, FlexiBERT's embedding projection), each tied matrix once
GE     model   their gradients (same tensors, same kept rows)
AE     model   the embedding output entering the first block; a row is one token
XT     as X    **the transpose of input X** (WT, GT, AT, HT, ST, JT, WET, GET, AET): the same
               tensors seen by columns; a row of XT is one whole column of X (an input
               unit's fan-out of W, a channel over every token of A, the weights a key
               receives from every query of S, ...), so row operations and row statistics
               on XT are column operations and column statistics of X
=====  ======  ============================================================================

**The sketch.** A tensor of ``n_rows`` rows of length ``C`` keeps ``r = min(n_rows,
max(min_rows, max_elements // C))`` rows drawn uniformly without replacement (a generator seeded
by the capture seed, the input, the layer and the tensor), each row whole. Hence:

- operations along a row (softmax, log-softmax, z- and min-max normalisation, a row's maximum)
  are exact on every kept row;
- a tensor's mean (of anything computed row by row) over the kept rows is an unbiased estimate
  of its mean over all rows, and sums and norms scale it by the full element count
  ``numel = n_rows * C``, so a proxy still sees how big a tensor is;
- W and G keep the same rows, so ``mul(W, G)`` pairs each weight with its own gradient; two
  inputs of different groups (A and H, S and J, W and WT) are never paired: the language types
  them apart. ``max_elements=None`` keeps every row (the full tensors, for estimator tests).
- a transposed input XT is sketched the same way, by whole columns of X (its own draw: WT and
  GT share theirs), so a column statistic is exact on every kept column, never estimated
  from a sample of rows; a column extreme is the column's own.

**Stacking.** :class:`InputBank` groups every kept row of one input, across all architectures,
layers and tensors, into dense *blocks* of equal row length, with for each row the tensor it
belongs to; per tensor it records its architecture, layer, element count and kept count. One
formula is evaluated on all architectures at once, block by block.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .lazy import lazy_import

if TYPE_CHECKING:
    import torch
else:  # the input vocabulary above the bank (INPUTS, GROUPS) is read without torch
    torch = lazy_import("torch")


@dataclass(frozen=True)
class InputSpec:
    """What an input is: its alignment ``group`` (inputs of one group share tensors and kept
    rows, so elementwise operations may pair them), its ``level`` (``"layer"``: tensors belong
    to blocks; ``"model"``: to the embedding / output side), and what a row holds."""

    name: str
    group: str
    level: str
    what: str
    row: str
    latex: str
    transposes: str = ""   # XT: the input X whose columns are its rows


def _transposed(s: InputSpec) -> InputSpec:
    latex = (s.latex[:-1] + r"\top}" if s.latex.endswith("}") and "^" in s.latex
             else s.latex + r"^{\top}")
    return InputSpec(s.name + "T", s.group + "T", s.level, f"{s.what}, by columns",
                     f"a column of {s.name}", latex, s.name)


_BASE_INPUTS: dict[str, InputSpec] = {s.name: s for s in (
    InputSpec("A", "A", "layer", "FFN activations", "a token's channels", "A"),
    InputSpec("H", "H", "layer", "head (query) projections", "a token's channels", "H"),
    InputSpec("S", "S", "layer", "softmax maps, one tensor per head", "a query's weights",
              "S"),
    InputSpec("W", "W", "layer", "weight matrices", "an output unit's fan-in", "W"),
    InputSpec("G", "W", "layer", "weight gradients", "an output unit's fan-in", "G"),
    InputSpec("J", "J", "layer", "gradients of the block inputs", "a token's hidden vector",
              "J"),
    InputSpec("WE", "WE", "model", "embedding / output weight matrices", "a table row or "
              "an output unit's fan-in", r"W^{\mathrm{emb}}"),
    InputSpec("GE", "WE", "model", "embedding / output weight gradients", "as WE",
              r"G^{\mathrm{emb}}"),
    InputSpec("AE", "AE", "model", "embedding output (first block's input)",
              "a token's hidden vector", r"A^{\mathrm{emb}}"),
)}
INPUTS: dict[str, InputSpec] = {**_BASE_INPUTS,
                                **{t.name: t for t in map(_transposed, _BASE_INPUTS.values())}}
INPUT_NAMES = tuple(INPUTS)
LAYER_INPUTS = tuple(n for n, s in INPUTS.items() if s.level == "layer")
MODEL_INPUTS = tuple(n for n, s in INPUTS.items() if s.level == "model")
GROUPS = tuple(dict.fromkeys(s.group for s in INPUTS.values()))
GROUP_LEVEL = {s.group: s.level for s in INPUTS.values()}
MODEL_LAYER = -1  # the layer index of a model-level tensor

DEFAULT_MAX_ELEMENTS = 2048
DEFAULT_MIN_ROWS = 4


@dataclass
class TensorSketch:
    """One captured tensor: ``rows`` (r, C) float32 kept whole rows, of ``n_rows`` in the full
    tensor; ``layer`` (``MODEL_LAYER`` for the model level); ``name`` says which tensor
    (``attn.c_attn.weight``, ``head 2``, ...)."""

    name: str
    layer: int
    rows: torch.Tensor
    n_rows: int

    @property
    def row_len(self) -> int:
        return int(self.rows.shape[1])

    @property
    def numel(self) -> int:
        return self.n_rows * self.row_len

    @property
    def exact(self) -> bool:
        return int(self.rows.shape[0]) == self.n_rows


def kept_rows(n_rows: int, row_len: int, max_elements: int | None, min_rows: int) -> int:
    """How many rows of a (n_rows, row_len) tensor the sketch keeps."""
    if max_elements is None:
        return n_rows
    return min(n_rows, max(min_rows, max_elements // max(row_len, 1)))


@dataclass
class Inputs:
    """The captured inputs of one architecture: ``tensors[name]`` lists its
    :class:`TensorSketch` es (layer tensors in layer order, then module order); ``n_layers``;
    ``meta``: how it was captured (record, variant, seed, batch, objective, versions)."""

    tensors: dict[str, list[TensorSketch]]
    n_layers: int
    meta: dict = field(default_factory=dict)

    def equal(self, other: "Inputs") -> bool:
        """Exact equality of every kept row and count (meta is not compared)."""
        if self.tensors.keys() != other.tensors.keys() or self.n_layers != other.n_layers:
            return False
        for name, mine in self.tensors.items():
            theirs = other.tensors[name]
            if len(mine) != len(theirs):
                return False
            for a, b in zip(mine, theirs):
                if (a.name, a.layer, a.n_rows) != (b.name, b.layer, b.n_rows) or \
                        not torch.equal(a.rows, b.rows):
                    return False
        return True

    def numel(self, name: str) -> int:
        """Elements of the full tensors of input ``name``."""
        return sum(t.numel for t in self.tensors[name])

    # -- storage: flat tensors, for torch.save(weights_only=True) ----------------------------
    def to_blob(self, dtype=None) -> dict:
        """The inputs as flat tensors of ``dtype`` (default float32)."""
        dtype = torch.float32 if dtype is None else dtype
        out = {}
        for name, items in self.tensors.items():
            out[name] = {
                "values": (torch.cat([t.rows.reshape(-1) for t in items]) if items
                           else torch.zeros(0)).to(dtype),
                "shape": torch.tensor([[t.layer, t.rows.shape[0], t.row_len, t.n_rows]
                                       for t in items], dtype=torch.int64).reshape(-1, 4),
                "names": [t.name for t in items]}
        return {"tensors": out, "n_layers": self.n_layers}

    def to_bytes(self) -> bytes:
        """The inputs (float32) and their meta as bytes, to send from a worker process: a
        tensor sent as such would travel by shared memory and hold one open file per tensor
        for as long as it lives (hundreds per architecture)."""
        import io
        buf = io.BytesIO()
        torch.save({"data": self.to_blob(), "meta": self.meta}, buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Inputs":
        import io
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        return cls.from_blob(blob["data"], blob["meta"])

    @classmethod
    def from_blob(cls, blob: dict, meta: dict | None = None) -> "Inputs":
        tensors = {}
        for name, item in blob["tensors"].items():
            values, pos, items = item["values"].float(), 0, []
            for (layer, kept, row_len, n_rows), tname in zip(item["shape"].tolist(),
                                                             item["names"]):
                size = kept * row_len
                items.append(TensorSketch(tname, layer, values[pos:pos + size].reshape(
                    kept, row_len), n_rows))
                pos += size
            tensors[name] = items
        return cls(tensors, int(blob["n_layers"]), dict(meta or {}))


@dataclass(eq=False)
class Layout:
    """Where the rows of one input sit in a bank.

    ``blocks``: per block, (``row_len``, ``row_tensor`` (R_b,) long: the tensor of each row).
    Per tensor (T,): ``tensor_arch`` long, ``tensor_layer`` long (``MODEL_LAYER`` at the model
    level), ``tensor_slot`` long (``arch * depth + layer``, or ``arch``), ``tensor_numel``
    float64 (full count), ``tensor_kept`` float64 (kept elements), ``tensor_rows`` float64
    (kept rows). ``n_arch``, ``depth``, ``level``.
    """

    group: str
    level: str
    blocks: tuple[tuple[int, torch.Tensor], ...]
    tensor_arch: torch.Tensor
    tensor_layer: torch.Tensor
    tensor_slot: torch.Tensor
    tensor_numel: torch.Tensor
    tensor_kept: torch.Tensor
    tensor_rows: torch.Tensor
    n_arch: int
    depth: int

    @property
    def n_slots(self) -> int:
        return self.n_arch * (self.depth if self.level == "layer" else 1)

    def row_sums(self, per_block: Sequence[torch.Tensor]) -> torch.Tensor:
        """Per tensor (T,) float64: the sum over its kept rows of per-row values."""
        out = torch.zeros(len(self.tensor_arch), dtype=torch.float64)
        for (_, owner), v in zip(self.blocks, per_block):
            out.index_add_(0, owner, v.to(torch.float64))
        return out


@dataclass(eq=False)
class InputBank:
    """Captured inputs of N architectures, stacked for vectorised evaluation.

    ``inputs``: the per-architecture :class:`Inputs`; ``layer_mask`` bool (N, L), L the largest
    depth; ``quality``: labels oriented higher-is-better (N,). ``stacked(name)`` gives
    ``(blocks, layout)``: the dense blocks (R_b, C_b) float32 of that input and their
    :class:`Layout`, built once.
    """

    record_ids: list[str]
    inputs: list[Inputs]
    layer_mask: torch.Tensor
    quality: np.ndarray | None = None
    _stacked: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.record_ids)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.inputs[0].tensors) if self.inputs else ()

    @property
    def depth(self) -> int:
        return int(self.layer_mask.shape[1])

    @classmethod
    def from_inputs(cls, inputs: Sequence[Inputs], record_ids: Sequence[str],
                    quality: Sequence[float] | None = None) -> "InputBank":
        if len(inputs) != len(record_ids) or not inputs:
            raise ValueError("need one Inputs per record id, and at least one")
        names = tuple(inputs[0].tensors)
        for rid, inp in zip(record_ids, inputs):
            if tuple(inp.tensors) != names:
                raise ValueError(f"record {rid}: captured with other inputs "
                                 f"({tuple(inp.tensors)}) than the first ({names})")
        depth = max(i.n_layers for i in inputs)
        mask = torch.zeros(len(inputs), depth, dtype=torch.bool)
        for i, inp in enumerate(inputs):
            mask[i, :inp.n_layers] = True
        q = None if quality is None else np.asarray(quality, dtype=np.float64)
        return cls(list(map(str, record_ids)), list(inputs), mask, q)

    def subset(self, index: Sequence[int]) -> "InputBank":
        """The architectures at positions ``index`` (in that order)."""
        index = [int(i) for i in index]
        inputs = [self.inputs[i] for i in index]
        depth = max((i.n_layers for i in inputs), default=0)
        return InputBank([self.record_ids[i] for i in index], inputs,
                         self.layer_mask[index, :depth] if index else
                         torch.zeros(0, 0, dtype=torch.bool),
                         None if self.quality is None else self.quality[index])

    def tensor_numel(self, name: str) -> np.ndarray:
        """Elements of the full tensors of input ``name`` per architecture, (N,) float64."""
        return np.array([float(i.numel(name)) for i in self.inputs])

    def stacked(self, name: str) -> tuple[tuple[torch.Tensor, ...], Layout]:
        if name not in self._stacked:
            self._stacked[name] = _stack(name, self.inputs, self.depth)
        return self._stacked[name]


def _stack(name: str, inputs: Sequence[Inputs], depth: int):
    spec = INPUTS[name]
    by_len: dict[int, tuple[list, list]] = {}
    arch, layer, numel, kept, rows = [], [], [], [], []
    t = 0
    for a, inp in enumerate(inputs):
        for sk in inp.tensors[name]:
            r, c = sk.rows.shape
            vals, owners = by_len.setdefault(int(c), ([], []))
            vals.append(sk.rows)
            owners.append(torch.full((r,), t, dtype=torch.long))
            arch.append(a)
            layer.append(sk.layer)
            numel.append(float(sk.numel))
            kept.append(float(r * c))
            rows.append(float(r))
            t += 1
    lengths = sorted(by_len)
    blocks = tuple(torch.cat(by_len[c][0]).float().contiguous() for c in lengths)
    owners = tuple((c, torch.cat(by_len[c][1])) for c in lengths)
    arch_t = torch.tensor(arch, dtype=torch.long)
    layer_t = torch.tensor(layer, dtype=torch.long)
    slot = arch_t * depth + layer_t if spec.level == "layer" else arch_t.clone()
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    layout = Layout(spec.group, spec.level, owners, arch_t, layer_t, slot, f64(numel),
                    f64(kept), f64(rows), len(inputs), depth)
    return blocks, layout
