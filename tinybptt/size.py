"""tinybptt.Size: torch.Size, a tuple of ints naming a tensor's shape.

``Tensor.shape`` and ``Tensor.size()`` return plain tuples in tinybptt (they are read on every
operation and embedded in error messages); ``Size`` is for code that builds or compares shapes
(``x.shape == tinybptt.Size([2, 3])`` holds, as any tuple equal to it does).
"""
import operator


class Size(tuple):
    """A tuple of ints; slicing, ``+`` and ``*`` give a Size again, ``numel()`` is the product."""

    def __new__(cls, sizes=()):
        items = []
        for i, d in enumerate(sizes):
            try:
                if getattr(d, "ndim", 0) != 0:
                    raise TypeError  # as torch: a 0-d integer tensor is a size, a 1-element 1-d one is not
                items.append(operator.index(d))
            except TypeError:
                raise TypeError(f"tinybptt.Size() takes an iterable of 'int' (item {i} is "
                                f"'{type(d).__name__}')") from None
        return super().__new__(cls, items)

    def numel(self):
        """The number of elements a tensor of this shape holds (1 for the empty Size)."""
        n = 1
        for d in self:
            n *= d
        return n

    def __getitem__(self, index):
        item = super().__getitem__(index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        return Size(tuple(self) + tuple(other)) if isinstance(other, tuple) else NotImplemented

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self)) if isinstance(other, tuple) else NotImplemented

    def __mul__(self, n):
        return Size(tuple(self) * n)

    __rmul__ = __mul__

    def __repr__(self):
        return f"tinybptt.Size({list(self)})"

    __str__ = __repr__

    def __reduce__(self):
        return (Size, (tuple(self),))
