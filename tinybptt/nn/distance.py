"""``F.pdist``: the p-norm distances between every pair of rows of a matrix, with torch's gradient."""
import numpy as np

from ..autograd import Function


class PDist(Function):
    """Distances ||x_i - x_j||_p for the row pairs i < j of an (N, M) array, in torch's order (i, then j).

    Its backward is torch's pdist backward: sign(d) |d|^(p-1) / dist^(p-1) per coordinate of d = x_i - x_j
    (0 where d or the distance is 0), sign(d) for p = 1, and for p = inf the full gradient to every
    coordinate at the maximum (a norm's backward would share it between ties).
    """

    def forward(self, x, p):
        self.n, (self.i, self.j) = x.shape[0], np.triu_indices(x.shape[0], 1)
        self.diff, self.p = x[self.i] - x[self.j], p
        a = np.abs(self.diff)
        if p == 0:
            dist = (a != 0).sum(1)
        elif p == np.inf:
            dist = a.max(1, initial=0)
        elif p == 2:
            dist = np.sqrt((a * a).sum(1))
        else:
            dist = (a ** x.dtype.type(p)).sum(1) ** x.dtype.type(1 / p)
        self.dist = dist.astype(x.dtype)
        return self.dist

    def backward(self, g):
        diff, dist, p = self.diff, self.dist[:, None], self.p
        if p == 0:
            per_pair = np.zeros_like(diff)
        elif p == 1:
            per_pair = np.sign(diff)
        elif p == np.inf:
            per_pair = np.sign(diff) * (np.abs(diff) == dist)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.sign(diff) * (np.abs(diff) / dist) ** diff.dtype.type(p - 1)
            per_pair = np.where((diff == 0) | (dist == 0), 0, ratio)
        per_pair = per_pair * g[:, None]
        out = np.zeros((self.n, diff.shape[1]), diff.dtype)
        np.add.at(out, self.i, per_pair)
        np.add.at(out, self.j, -per_pair)
        return out, None


def pdist(input, p=2):
    """The ``p``-norm distance between each pair of rows of the (N, M) ``input``: N (N - 1) / 2 values, for rows
    (0, 1), (0, 2), ..., (1, 2), ... (the upper triangle of ``cdist(input, input)``, row by row)."""
    if input.dtype.kind != "f":
        raise RuntimeError("pdist only supports floating-point dtypes")
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise RuntimeError(f"pdist only supports non-negative p values (got p={p})")
    return PDist.apply(input, p)
