"""nn.utils.rnn: packed variable-length batches, as ``torch.nn.utils.rnn``.

A ``PackedSequence`` keeps only the valid steps of a batch.  The batch is put in
order of decreasing length (``sorted_indices[j]`` is the original column of the
j-th longest sequence), and ``data`` holds step 0 of every sequence, then step 1
of those still running, and so on: ``batch_sizes[t]`` rows for step t.

Packing is one gather of rows from the padded tensor and padding is one scatter
back, each a single tape record, so gradients flow both ways.  ``nn.RNN``,
``nn.LSTM`` and ``nn.GRU`` take a ``PackedSequence`` as input.

>>> import tinybptt as tb
>>> from tinybptt.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
>>> x = tb.tensor([[1.0, 4.0], [2.0, 0.0], [3.0, 0.0]])      # (T=3, B=2), lengths 3 and 1
>>> p = pack_padded_sequence(x, [3, 1])
>>> p.data, p.batch_sizes
(tensor([1., 4., 2., 3.]), tensor([2, 1, 1]))
>>> pad_packed_sequence(p)[1]
tensor([3, 1])
"""
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from ...autograd import Function
from ...tensor import Tensor, _infer_array


def _array(x):
    return None if x is None else np.asarray(_infer_array(x))


def _int64(values):
    return Tensor(np.asarray(values, np.int64))


def invert_permutation(permutation):
    """The inverse of an index permutation (None stays None)."""
    if permutation is None:
        return None
    p = _array(permutation)
    inverse = np.empty_like(p)
    inverse[p] = np.arange(len(p))
    return _int64(inverse)


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Packed rows (``data``), rows per step (``batch_sizes``) and the batch's sort order.

    Made by :func:`pack_padded_sequence` or :func:`pack_sequence`.  As in PyTorch,
    ``PackedSequence(data, batch_sizes, sorted_indices)`` fills ``unsorted_indices``
    with the inverse permutation.
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes))
            data, batch_sizes = data
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """The same packing with ``data.to(...)``."""
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)

    def float(self):
        """The same packing with float32 data."""
        return self.to(np.float32)

    def double(self):
        """The same packing with float64 data."""
        return self.to(np.float64)

    def long(self):
        """The same packing with int64 data."""
        return self.to(np.int64)

    def int(self):
        """The same packing with int32 data."""
        return self.to(np.int32)

    def cpu(self):
        """Returns self (there is only the CPU)."""
        return self

    def cuda(self, *args, **kwargs):
        """Raises as ``Tensor.cuda`` does: tinybptt has no CUDA."""
        return self.data.cuda(*args, **kwargs)

    def is_pinned(self):
        """False: tinybptt does not pin memory."""
        return False

    is_cuda = False


# ---------------------------------------------------------------- the two ops
class PackRows(Function):
    """padded[index]: the packed rows, one gather; backward scatters them into zeros."""

    def forward(self, padded, index):
        """Gather the rows of ``padded`` at ``index``."""
        self.shape, self.index = padded.shape, index
        return padded[index]

    def backward(self, g):
        """Scatter the gradient rows back to their padded positions (zeros elsewhere)."""
        out = np.zeros(self.shape, g.dtype)
        out[self.index] = g  # every (t, b) appears once: no accumulation needed
        return out


class PadRows(Function):
    """The packed rows written at ``index`` of a ``shape`` array of padding; backward gathers."""

    def forward(self, data, index, shape, padding_value):
        """Write ``data``'s rows at ``index`` of a new ``shape`` array filled with ``padding_value``."""
        self.index = index
        out = np.full(shape, padding_value, data.dtype)
        out[index] = data
        return out

    def backward(self, g):
        """Gather the gradient at the rows that came from ``data``."""
        return g[self.index]


def _rows(batch_sizes, sorted_indices, batch_first):
    """The padded position of every packed row: (t, b), or (b, t) with batch_first."""
    sizes = _array(batch_sizes).astype(np.int64)
    t = np.repeat(np.arange(len(sizes)), sizes)
    j = np.arange(len(t)) - np.repeat(np.cumsum(sizes) - sizes, sizes)  # place in the sorted batch
    b = j if sorted_indices is None else _array(sorted_indices)[j]
    return (b, t) if batch_first else (t, b)


def _pack_like(padded, like, batch_first=False):
    """``padded`` packed with the steps and order of the PackedSequence ``like``."""
    order = invert_permutation(like.unsorted_indices) if like.sorted_indices is None else like.sorted_indices
    return like._replace(data=PackRows.apply(padded, index=_rows(like.batch_sizes, order, batch_first)))


# ---------------------------------------------------------------- sorting as torch does
def _sort_descending(lengths):
    """Indices putting ``lengths`` longest first, equal lengths in the order torch.sort gives.

    torch.sort(descending=True) runs C++'s std::sort (libstdc++'s introsort), which keeps
    ties in order for up to 16 elements but not beyond.  This replays its partitioning
    (median-of-three pivot, partition stopping on equal keys) down to blocks of 16, then
    finishes with a stable sort, as its final insertion sort does.  Not replayed: the
    heapsort C++ falls back to after too many lopsided partitions (seen with 1,000+
    lengths that rise, then fall), where equal lengths may come out in another order.
    """
    a = [(int(n), i) for i, n in enumerate(lengths)]

    def introsort(lo, hi, depth):
        while hi - lo > 16:
            if depth == 0:  # C++'s heapsort fallback; any sorted order will do here
                a[lo:hi] = sorted(a[lo:hi], key=lambda p: -p[0])
                return
            depth -= 1
            x, y, z = lo + 1, lo + (hi - lo) // 2, hi - 1
            kx, ky, kz = a[x][0], a[y][0], a[z][0]
            if kx > ky:
                m = y if ky > kz else z if kx > kz else x
            else:
                m = x if kx > kz else z if ky > kz else y
            a[lo], a[m] = a[m], a[lo]  # the median of three becomes the pivot at a[lo]
            pivot, i, j = a[lo][0], lo + 1, hi
            while True:
                while a[i][0] > pivot:
                    i += 1
                j -= 1
                while pivot > a[j][0]:
                    j -= 1
                if i >= j:
                    break
                a[i], a[j] = a[j], a[i]
                i += 1
            introsort(i, hi, depth)
            hi = i

    introsort(0, len(a), 2 * (len(a).bit_length() - 1))
    a.sort(key=lambda p: -p[0])
    return np.array([i for _, i in a], np.int64)


# ---------------------------------------------------------------- packing and padding
def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences of ``lengths``.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; otherwise the
    batch is sorted first and ``sorted_indices`` / ``unsorted_indices`` remember how.
    """
    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.ndim < 2:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    lens = _array(lengths).astype(np.int64)
    if lens.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lens.ndim}D cpu Long tensor")
    if x.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    batch, steps = x.shape[0], x.shape[1]
    if not batch_first:
        batch, steps = steps, batch
    if len(lens) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} "
                           f"(batch_size={batch})")
    order = None if enforce_sorted else _sort_descending(lens)
    if order is not None:
        lens = lens[order]
    if lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if (np.diff(lens) > 0).any():
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                           "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                           "sidestep this requirement if you do not need ONNX exportability.")
    if lens[0] > steps:  # torch 2.13 does not check this and packs rows that do not exist
        raise RuntimeError(f"Expected all lengths to be at most the padded sequence length ({steps}), "
                           f"but got a length of {lens[0]}")
    batch_sizes = (lens[None, :] > np.arange(lens[0])[:, None]).sum(1)
    data = PackRows.apply(x, index=_rows(batch_sizes, order, batch_first))
    return PackedSequence(data, _int64(batch_sizes), None if order is None else _int64(order))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo packing: returns (padded, lengths), both in the original batch order.

    padded is (T, B, *) ((B, T, *) with batch_first), T the longest length or
    ``total_length``; lengths is an int64 tensor.
    """
    sizes = _array(sequence.batch_sizes).astype(np.int64)
    steps = len(sizes)
    if total_length is not None:
        if isinstance(total_length, Tensor) and total_length.ndim == 0 and total_length.dtype.kind in "iu":
            total_length = int(total_length.item())  # PyTorch takes a 0-d integer tensor as an int
        if not isinstance(total_length, (int, np.integer)):
            raise TypeError("_pad_packed_sequence(): argument 'total_length' (position 5) must be int, not "
                            f"{type(total_length).__name__}")
        if total_length < steps:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
        steps = total_length
    order = _array(sequence.unsorted_indices)
    if order is not None:
        order = np.argsort(order)  # the sorted order, from its inverse (as torch unsorts with unsorted_indices)
    data = sequence.data
    batch = int(sizes[0])
    shape = ((batch, steps) if batch_first else (steps, batch)) + tuple(data.shape[1:])
    padded = PadRows.apply(data, index=_rows(sizes, order, batch_first), shape=shape, padding_value=padding_value)
    lengths = (sizes[None, :] > np.arange(batch)[:, None]).sum(1)  # of the sorted batch
    if order is not None:
        lengths = lengths[_array(sequence.unsorted_indices)]
    return padded, _int64(lengths)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into one (max L, B, *) ((B, max L, *) with batch_first).

    ``padding_side='left'`` puts the padding before each sequence.  The result has the
    first sequence's dtype and trailing shape (the others broadcast to it, as in PyTorch).
    """
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg of type: "
                           f"{type(sequences)}")
    seqs = [s if isinstance(s, Tensor) else Tensor(s) for s in sequences]
    if not seqs:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if any(s.ndim == 0 for s in seqs):
        raise RuntimeError("pad_sequence: expected every sequence to have at least 1 dimension (its length), "
                           "got a 0-d tensor")
    trailing = seqs[0].shape[1:]
    for s in seqs:
        _check_copy((len(s), *trailing), s.shape)
    seqs = [s.to(seqs[0].dtype) for s in seqs]
    return PadSequences.apply(*seqs, steps=max(len(s) for s in seqs), batch_first=batch_first,
                              padding_value=padding_value, left=padding_side == "left")


def _check_copy(dest, src):
    """PyTorch's errors for copying a ``src`` shaped tensor into a ``dest`` shaped slot."""
    for i in range(1, min(len(dest), len(src)) + 1):
        if dest[-i] != src[-i] and src[-i] != 1:
            raise RuntimeError(f"The size of tensor a ({dest[-i]}) must match the size of tensor b ({src[-i]}) "
                               f"at non-singleton dimension {max(len(dest), len(src)) - i}")
    if len(src) > len(dest):
        shape = list(np.broadcast_shapes(dest, src))
        raise RuntimeError(f"output with shape {list(dest)} doesn't match the broadcast shape {shape}")


class PadSequences(Function):
    """Sequences (L_i, *) written into one padded array; backward hands each its slice back."""

    def forward(self, *seqs, steps, batch_first, padding_value, left):
        """Write each sequence into its row of a padded array (at the end when ``left``)."""
        shape = (len(seqs), steps) if batch_first else (steps, len(seqs))
        out = np.full(shape + seqs[0].shape[1:], padding_value, seqs[0].dtype)
        self.at = []
        for i, s in enumerate(seqs):
            span = slice(steps - len(s), steps) if left else slice(0, len(s))
            self.at.append((i, span) if batch_first else (span, i))
            out[self.at[-1]] = s
        return out

    def backward(self, g):
        """Each sequence's slice of the gradient."""
        return tuple(g[at] for at in self.at)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into a list of tensors of ``lengths``."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [seq[:n] for seq, n in zip(x, _array(lengths).astype(np.int64).tolist(), strict=True)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *): ``pack_padded_sequence(pad_sequence(sequences), lengths)``."""
    seqs = list(sequences)
    return pack_padded_sequence(pad_sequence(seqs), [len(s) for s in seqs], enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """Unpack a PackedSequence into the list of its sequences, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
