"""``nn.EmbeddingBag`` and ``F.embedding_bag`` as torch 2.13 has them: the sum, mean or max of the embedding rows
of each bag of indices, without building the (indices, embedding_dim) lookup in the graph.

Bags are given as a 2-D input (one bag per row) or as a flat 1-D input cut at ``offsets``.  Indices equal to
``padding_idx`` are left out of their bag (and of its count for 'mean'); an empty bag gives zeros.  One Function
computes the reduction and its VJP for the weight (dense) and for ``per_sample_weights`` ('sum' only)."""
import numpy as np

from ..autograd import Function
from ..devices import check_device
from ..ops import kernels
from ..tensor import Tensor, _infer_array
from . import init
from .functional import _renorm_rows
from .layers import _empty
from .module import Module, Parameter

MODES = ("sum", "mean", "max")


def _scatter_rows(shape, idx, rows):
    """zeros(shape) with rows[i] added onto row idx[i] for every i."""
    out = np.zeros(shape, rows.dtype)
    if idx.size:
        kernels().scatter_add_rows(out, np.ascontiguousarray(idx), np.ascontiguousarray(rows))
    return out


def _freq_divisors(idx, n):
    """The divisor of each row's gradient under scale_grad_by_freq, as torch 2.13's CPU kernel computes it: the
    i-th smallest distinct index is divided by the frequency of the i-th entry of the sorted indices (which is its
    own frequency while no smaller index repeats; not the plain frequency that ``F.embedding`` uses)."""
    out = np.ones(n)
    if idx.size:
        uniq = np.unique(idx)
        out[uniq] = np.bincount(idx, minlength=n)[np.sort(idx)[:len(uniq)]]
    return out


class EmbeddingBagFn(Function):
    """Reduce weight[idx[t]] (times psw[t]) over the positions t of each bag; ``bag[t]`` is t's bag, ``keep[t]``
    False for padding positions."""

    def forward(self, weight, psw, idx, bag, keep, nbags, mode, scale_grad_by_freq):
        idx_k, bag_k = idx[keep], bag[keep]
        rows = weight[idx_k]
        if psw is not None:
            rows = rows * psw[keep][:, None]
        self.saved = (weight, psw, idx, bag, keep, nbags, mode, scale_grad_by_freq)
        counts = np.bincount(bag_k, minlength=nbags)
        if mode != "max":
            out = np.zeros((nbags, weight.shape[1]), weight.dtype)
            if bag_k.size:
                kernels().scatter_add_rows(out, np.ascontiguousarray(bag_k), np.ascontiguousarray(rows))
            if mode == "mean":  # divided by the number of non-padding indices in the bag
                self.counts = np.maximum(counts, 1).astype(weight.dtype)
                out /= self.counts[:, None]
            return out
        out = np.zeros((nbags, weight.shape[1]), weight.dtype)
        self.argmax = np.full((nbags, weight.shape[1]), -1)
        full = counts > 0
        if full.any():  # kept positions are in bag order: reduceat over the starts of the non-empty bags
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[full]
            out[full] = np.maximum.reduceat(rows, starts, axis=0)
            # the first position (in bag order) holding each maximum gets its gradient, as torch's
            pos = np.where(rows == out[bag_k], np.arange(len(rows))[:, None], len(rows))
            first = np.full(out.shape, len(rows))
            np.minimum.at(first, bag_k, pos)
            hit = first < len(rows)
            self.argmax[hit] = idx_k[first[hit]]
        return out

    def backward(self, g):
        weight, psw, idx, bag, keep, nbags, mode, by_freq = self.saved
        gw = gpsw = None
        if mode == "max":
            if self.needs_input_grad[0]:
                gw = np.zeros(weight.shape, g.dtype)
                hit = self.argmax >= 0
                np.add.at(gw, (self.argmax[hit], np.nonzero(hit)[1]), g[hit])
            return gw, None
        gb = g / self.counts[:, None] if mode == "mean" else g
        grows = gb[bag] * keep[:, None]  # (positions, D), zero at padding positions
        if self.needs_input_grad[0]:
            gw = _scatter_rows(weight.shape, idx, grows if psw is None else grows * psw[:, None])
            if by_freq:
                gw /= _freq_divisors(idx, weight.shape[0]).astype(gw.dtype)[:, None]
        if psw is not None and self.needs_input_grad[1]:
            gpsw = (grows * weight[idx]).sum(axis=1)
        return gw, gpsw


def _index_array(name, what, t):
    a = _infer_array(t)
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: Expected tensor for argument '{what}' to have one of the following scalar types: "
                           f"Long, Int; but got {a.dtype} instead")
    return a.astype(np.int64)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """The 'sum', 'mean' or 'max' of the rows of ``weight`` in each bag: ``input`` 2-D (B, bag_size), or 1-D with
    ``offsets`` (the start of each bag; with ``include_last_offset`` the last one ends the last bag).
    ``per_sample_weights`` (the shape of ``input``, mode 'sum' only) scale each row; ``padding_idx`` is left out of
    its bag.  Returns (B, embedding_dim).  Gradients are dense (``sparse`` is ignored)."""
    name = "embedding_bag"
    if not isinstance(weight, Tensor) or weight.ndim != 2:
        raise ValueError(f"{name}: weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{getattr(weight, 'ndim', None)}")
    ishape = tuple(np.shape(_infer_array(input)))
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != ishape:
        raise ValueError(f"{name}: If per_sample_weights ({list(per_sample_weights.shape)}) is not None, then it must "
                         f"have the same shape as the input ({list(ishape)})")
    if len(ishape) == 2:
        if offsets is not None:
            raise ValueError(f"{name}: if input is 2D, then offsets has to be None, as input is treated is a "
                             f"mini-batch of fixed length sequences. However, found offsets of type "
                             f"{type(offsets).__name__}")
        if ishape[1] == 0 and ishape[0]:
            raise RuntimeError(f"{name}: step must be nonzero (a 2-D input of shape {list(ishape)} has empty bags)")
        offsets_a = np.arange(0, ishape[0] * ishape[1], max(ishape[1], 1), dtype=np.int64)
    elif len(ishape) == 1:
        if offsets is None:
            raise ValueError(f"{name}: offsets has to be a 1D Tensor but got None")
        if np.ndim(_infer_array(offsets)) != 1:
            raise ValueError(f"{name}: offsets has to be a 1D Tensor")
        offsets_a = None
    else:
        raise ValueError(f"{name}: input has to be 1D or 2D Tensor, but got Tensor of dimension {len(ishape)}")
    if mode not in MODES:
        raise ValueError(f"{name}: mode has to be one of sum, mean or max (got {mode!r})")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError(f"{name}: max mode does not support scaling the gradient by the frequency")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"{name}: per_sample_weights was not None. per_sample_weights is only supported for "
                                  f"mode='sum' (got mode='{mode}'). Please open a feature request on GitHub.")
    idx = _index_array(name, "indices", input).reshape(-1)
    offs = offsets_a if offsets_a is not None else _index_array(name, "offsets", offsets)
    if weight.dtype.kind != "f":
        raise RuntimeError(f"{name}: Expected tensor for argument 'weight' to have a floating point type, but got "
                           f"{weight.dtype}")
    if per_sample_weights is not None and per_sample_weights.dtype != weight.dtype:
        raise RuntimeError(f"{name}: Expected per_sample_weights ({per_sample_weights.dtype}) to have the same type "
                           f"as weight ({weight.dtype})")
    n = weight.shape[0]
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise RuntimeError(f"{name}: padding_idx must be within the number of embeddings, {-n} through {n - 1}, "
                               f"but got {padding_idx}")
        padding_idx %= n
    if include_last_offset and offs.size == 0:
        raise RuntimeError(f"{name}: include_last_offset: number of offset should be at least 1")
    if offs.size and offs[0] != 0:
        raise RuntimeError(f"{name}: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                           f"from position 0. However, got {offs[0]}")
    if offs.size and offs[-1] > idx.size:
        raise RuntimeError(f"{name}: offsets[-1] can not be greater than input's length {idx.size} but got "
                           f"offsets[-1] of {offs[-1]}")
    if np.any(np.diff(offs) < 0):
        raise RuntimeError(f"{name}: offsets must be non-decreasing, got {offs.tolist()}")
    bad = np.nonzero((idx < 0) | (idx >= n))[0]
    if bad.size:
        raise RuntimeError(f"{name}: Index {bad[0]} of input takes value {idx[bad[0]]} which is not in the valid range "
                           f"[0, {n})")
    ends = np.append(offs[1:], idx.size) if offs.size and not include_last_offset else offs[1:]
    starts = offs[:len(ends)]
    nbags = len(ends)
    bag = np.repeat(np.arange(nbags), ends - starts)
    idx = idx[:bag.size]  # with include_last_offset, indices after the last offset belong to no bag
    if max_norm is not None and idx.size:
        _renorm_rows(weight, np.unique(idx), max_norm, norm_type)
    psw = None if per_sample_weights is None else per_sample_weights.reshape(-1)
    if psw is not None and psw.shape[0] != idx.size:
        psw = psw[:idx.size]
    keep = idx != padding_idx if padding_idx is not None else np.ones(idx.size, bool)
    return EmbeddingBagFn.apply(weight, psw, idx=idx, bag=bag, keep=keep, nbags=nbags, mode=mode,
                                scale_grad_by_freq=bool(scale_grad_by_freq))


class EmbeddingBag(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim`` (initialised N(0, 1), the ``padding_idx`` row
    zero) whose forward returns the sum, mean or max of the rows of each bag (see ``F.embedding_bag``)."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                 mode="mean", sparse=False, _weight=None, include_last_offset=False, padding_idx=None, device=None,
                 dtype=None):
        check_device("nn.EmbeddingBag", device)
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, scale_grad_by_freq
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError(f"padding_idx must be within num_embeddings (EmbeddingBag: padding_idx "
                                     f"{padding_idx}, num_embeddings {num_embeddings})")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = _empty(num_embeddings, embedding_dim, dtype=dtype)
            init.normal_(self.weight)
            if padding_idx is not None:
                self.weight._data[padding_idx] = 0
        else:
            w = np.asarray(_weight.detach() if hasattr(_weight, "detach") else _weight)
            if w.shape != (num_embeddings, embedding_dim):
                raise AssertionError(f"Shape of weight does not match num_embeddings and embedding_dim (EmbeddingBag: "
                                     f"{w.shape} vs ({num_embeddings}, {embedding_dim}))")
            self.weight = Parameter(w)
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
                        mode="mean", sparse=False, include_last_offset=False, padding_idx=None):
        """An EmbeddingBag holding (a copy of) the 2-D ``embeddings``; frozen (no grad) by default."""
        w = np.array(embeddings.detach() if hasattr(embeddings, "detach") else embeddings)
        if w.ndim != 2:
            raise AssertionError(f"Embeddings parameter is expected to be 2-dimensional (EmbeddingBag.from_pretrained "
                                 f"got shape {w.shape})")
        bag = cls(w.shape[0], w.shape[1], max_norm, norm_type, scale_grad_by_freq, mode, sparse, w,
                  include_last_offset, padding_idx)
        bag.weight.requires_grad = not freeze
        return bag

    def forward(self, input, offsets=None, per_sample_weights=None):
        """The reduction of each bag of ``input`` (2-D, or 1-D with ``offsets``): (B, embedding_dim)."""
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        """The constructor arguments shown inside repr(), as torch prints them."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        s += f", mode='{self.mode}'"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        return s
