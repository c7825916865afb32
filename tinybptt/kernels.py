"""Fused numba kernels for the hot elementwise and row-wise paths.

This module imports numba, so it is itself imported lazily (``ops.kernels()``)
the first time a kernel is needed: ``import tinybptt`` stays fast.  Every
kernel is ``cache=True`` and compiled on its first call for the dtype it
sees (float32 and float64 each get their own machine code).

``tanh_`` is the one special function: in float64 it is libm's ``tanh``; in
float32 it is a branch-free rational approximation (error below 2 ulp) that
LLVM can vectorise, which libm calls are not.
"""
import math
import os
import tempfile

import numpy as np

if "NUMBA_CACHE_DIR" not in os.environ and not os.access(os.path.dirname(__file__), os.W_OK):
    # read-only install: keep the on-disk cache somewhere we may write
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(tempfile.gettempdir(), "tinybptt-numba-cache")

import numba  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.extending import overload  # noqa: E402


def tanh_(x):
    """tanh for use inside kernels (see the module docstring)."""
    return math.tanh(x)


@overload(tanh_)
def _tanh_impl(x):
    if x == types.float32:
        def rational_tanh(x):
            # odd rational minimax fit p(x)/q(x) on [-7.9, 7.9]; beyond that tanh is +-1 in float32
            x = max(np.float32(-7.90531110763549805), min(np.float32(7.90531110763549805), x))
            x2 = x * x
            p = np.float32(-2.76076847742355e-16)
            p = p * x2 + np.float32(2.00018790482477e-13)
            p = p * x2 + np.float32(-8.60467152213735e-11)
            p = p * x2 + np.float32(5.12229709037114e-08)
            p = p * x2 + np.float32(1.48572235717979e-05)
            p = p * x2 + np.float32(6.37261928875436e-04)
            p = p * x2 + np.float32(4.89352455891786e-03)
            q = np.float32(1.19825839466702e-06)
            q = q * x2 + np.float32(1.18534705686654e-04)
            q = q * x2 + np.float32(2.26843463243900e-03)
            q = q * x2 + np.float32(4.89352518554385e-03)
            return x * p / q
        return rational_tanh
    return lambda x: math.tanh(x)


def sigmoid_(x):
    """Logistic function for use inside kernels: exact in float64, via tanh_ in float32."""
    return 1.0 / (1.0 + math.exp(-x))


@overload(sigmoid_)
def _sigmoid_impl(x):
    if x == types.float32:
        return lambda x: np.float32(0.5) * tanh_(np.float32(0.5) * x) + np.float32(0.5)

    def exact(x):  # never exp of a large positive number: no overflow, no NaN
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    return exact


# ---------------------------------------------------------------- elementwise
@njit(cache=True)
def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(-x)), elementwise over flat arrays."""
    for i in range(x.size):
        out[i] = sigmoid_(x[i])


@njit(cache=True)
def tanh_forward(x, out):
    """out = tanh(x), elementwise over flat arrays."""
    for i in range(x.size):
        out[i] = tanh_(x[i])


@njit(cache=True)
def sigmoid_backward(g, y, out):
    """out = g * y * (1 - y) where y = sigmoid(x)."""
    for i in range(g.size):
        out[i] = g[i] * y[i] * (1 - y[i])


@njit(cache=True)
def tanh_backward(g, y, out):
    """out = g * (1 - y^2) where y = tanh(x)."""
    for i in range(g.size):
        out[i] = g[i] * (1 - y[i] * y[i])


# ---------------------------------------------------------------- row-wise (last axis)
@njit(cache=True)
def softmax_forward(x, out, log):
    """Softmax (or log-softmax when ``log``) of each row of a 2-D array.

    Rows are shifted by their max, so huge logits never overflow; a row that
    is all -inf (fully masked) gives zeros instead of NaN.
    """
    n, m = x.shape
    for r in range(n):
        mx = -np.inf
        for j in range(m):
            mx = max(mx, x[r, j])
        if mx == -np.inf:
            for j in range(m):
                out[r, j] = -np.inf if log else 0.0
            continue
        s = 0.0
        for j in range(m):
            e = math.exp(x[r, j] - mx)
            s += e
            if not log:
                out[r, j] = e
        if log:
            lse = mx + math.log(s)
            for j in range(m):
                out[r, j] = x[r, j] - lse
        else:
            inv = 1.0 / s
            for j in range(m):
                out[r, j] *= inv


@njit(cache=True)
def softmax_backward(g, y, out, log):
    """Row-wise VJP: softmax dx = y * (g - sum(g*y)); log-softmax dx = g - exp(y) * sum(g)."""
    n, m = g.shape
    for r in range(n):
        s = 0.0
        if log:
            for j in range(m):
                s += g[r, j]
            for j in range(m):
                out[r, j] = g[r, j] - math.exp(y[r, j]) * s
        else:
            for j in range(m):
                s += g[r, j] * y[r, j]
            for j in range(m):
                out[r, j] = y[r, j] * (g[r, j] - s)


@njit(cache=True)
def cross_entropy_forward(logits, target, weight, ignore_index, smoothing, logp, losses):
    """Per-row loss of softmax cross-entropy; fills ``logp`` (log-softmax) for backward.

    loss_r = -w[t_r] * ((1 - eps) * logp[r, t_r] + eps/C * sum_j logp[r, j] * w[j]/w[t_r])
    (``weight`` all ones when not given; rows whose target is ``ignore_index`` give 0).
    """
    n, c = logits.shape
    softmax_forward(logits, logp, True)
    for r in range(n):
        t = target[r]
        if t == ignore_index:
            losses[r] = 0.0
            continue
        loss = -(1.0 - smoothing) * weight[t] * logp[r, t]
        if smoothing > 0.0:
            s = 0.0
            for j in range(c):
                s += weight[j] * logp[r, j]
            loss -= smoothing / c * s
        losses[r] = loss


@njit(cache=True)
def cross_entropy_backward(g, logp, target, weight, ignore_index, smoothing, out):
    """d loss_r / d logits[r, :] scaled by g[r]: the softmax minus the (smoothed, weighted) target."""
    n, c = logp.shape
    for r in range(n):
        t = target[r]
        if t == ignore_index:
            for j in range(c):
                out[r, j] = 0.0
            continue
        a = (1.0 - smoothing) * weight[t]          # weight on the one-hot target
        b = smoothing / c                          # weight of the uniform part (times w[j])
        total = a
        if smoothing > 0.0:
            for j in range(c):
                total += b * weight[j]
        for j in range(c):
            d = math.exp(logp[r, j]) * total - b * weight[j]
            if j == t:
                d -= a
            out[r, j] = g[r] * d


__all__ = [n for n in dir() if n.endswith(("_forward", "_backward"))] + ["numba"]
