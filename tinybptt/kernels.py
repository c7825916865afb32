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
from llvmlite import ir  # noqa: E402
from numba import njit, types  # noqa: E402
from numba.extending import intrinsic, overload  # noqa: E402


def tanh_(x):
    """tanh for use inside kernels (see the module docstring)."""
    return math.tanh(x)


@overload(tanh_)
def _tanh_impl(x):
    if x == types.float32:
        def rational_tanh(x):
            # odd rational minimax fit p(x)/q(x) on [-7.9, 7.9]; beyond that tanh is +-1 in float32
            # clamp with comparisons that are False for NaN, so NaN passes through
            x = np.float32(7.90531110763549805) if x > np.float32(7.90531110763549805) else x
            x = np.float32(-7.90531110763549805) if x < np.float32(-7.90531110763549805) else x
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


@intrinsic
def _float32_from_bits(typingctx, bits):
    """Reinterpret the low 32 bits of an integer as a float32 (an LLVM bitcast: free and vectorisable)."""
    def codegen(context, builder, signature, args):
        word = builder.trunc(args[0], ir.IntType(32)) if bits.bitwidth > 32 else args[0]
        return builder.bitcast(word, ir.FloatType())
    return types.float32(bits), codegen


def exp_(x):
    """exp for use inside kernels: libm's in float64; in float32 a vectorisable polynomial (< 2 ulp)."""
    return math.exp(x)


@overload(exp_)
def _exp_impl(x):
    if x == types.float32:
        def poly_exp(x):
            # exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2]
            # (ln 2 split in two parts so r stays exact); exp(r) by Cephes' degree-7 fit;
            # 2^n is built directly as float32 bits: exponent field n + 127, mantissa 0.
            t = max(np.float32(-126.0), min(np.float32(127.0), x * np.float32(1.44269504088896341)))
            n = np.floor(t + np.float32(0.5))
            r = x - n * np.float32(0.693359375) - n * np.float32(-2.12194440e-4)
            p = np.float32(1.9875691500e-4)
            p = p * r + np.float32(1.3981999507e-3)
            p = p * r + np.float32(8.3334519073e-3)
            p = p * r + np.float32(4.1665795894e-2)
            p = p * r + np.float32(1.6666665459e-1)
            p = p * r + np.float32(5.0000001201e-1)
            y = (p * r * r + r + np.float32(1.0)) * _float32_from_bits((np.int32(n) + 127) << 23)
            # below -87.3 the result is subnormal or 0 (and exp(-inf), a masked score, is exactly 0)
            y = np.float32(0.0) if x < np.float32(-87.33654) else y
            y = np.float32(np.inf) if x > np.float32(88.72283) else y
            return y if x == x else x  # NaN in, NaN out
        return poly_exp
    return lambda x: math.exp(x)


def sigmoid_(x):
    """Logistic function for use inside kernels: exact in float64, via the vectorisable exp_ in float32."""
    return 1.0 / (1.0 + math.exp(-x))


@overload(sigmoid_)
def _sigmoid_impl(x):
    if x == types.float32:
        # full relative precision for negative x too (0.5 tanh(x/2) + 0.5 cancels to 0 below about -9);
        # exp_(-x) = inf for x < -88.7 gives the right limit 0, never NaN
        return lambda x: np.float32(1.0) / (np.float32(1.0) + exp_(-x))

    def exact(x):  # never exp of a large positive number: no overflow, no NaN
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    return exact


# ---------------------------------------------------------------- elementwise
# error_model="numpy": no zero-division check on every division, so LLVM vectorises the loops
elementwise = njit(cache=True, error_model="numpy")


@elementwise
def sigmoid_forward(x, out):
    """out = 1 / (1 + exp(-x)), elementwise over flat arrays."""
    for i in range(x.size):
        out[i] = sigmoid_(x[i])


@elementwise
def scatter_add_rows(out, idx, rows):
    """out[idx[i]] += rows[i] for every i, in order (the embedding's backward)."""
    for i in range(idx.size):
        dst, src = out[idx[i]], rows[i]
        for j in range(src.size):
            dst[j] += src[j]


@elementwise
def fma_wide(a, b, c, out):
    """out = a * b + c for float32 flat arrays, computed in float64 (where a product of two float32
    numbers is exact) and rounded to float32 at the end; ``b`` of size 1 is one factor for all."""
    if b.size == 1:
        f = np.float64(b[0])
        for i in range(out.size):
            out[i] = np.float64(a[i]) * f + np.float64(c[i])
    else:
        for i in range(out.size):
            out[i] = np.float64(a[i]) * np.float64(b[i]) + np.float64(c[i])


@elementwise
def erf_forward(x, out):
    """out = erf(x), elementwise over flat arrays (libm's erf, in the input's precision)."""
    for i in range(x.size):
        out[i] = math.erf(x[i])


@elementwise
def tanh_forward(x, out):
    """out = tanh(x), elementwise over flat arrays."""
    for i in range(x.size):
        out[i] = tanh_(x[i])


@elementwise
def sigmoid_backward(g, y, out):
    """out = g * y * (1 - y) where y = sigmoid(x)."""
    for i in range(g.size):
        out[i] = g[i] * y[i] * (1 - y[i])


@elementwise
def tanh_backward(g, y, out):
    """out = g * (1 - y^2) where y = tanh(x)."""
    for i in range(g.size):
        out[i] = g[i] * (1 - y[i] * y[i])


# ---------------------------------------------------------------- row-wise (last axis)
# fastmath flags that let LLVM vectorise row sums (reassociation) while keeping inf/NaN checks intact
_ROW_FASTMATH = {"reassoc", "nsz", "contract"}


@njit(cache=True, fastmath=_ROW_FASTMATH)
def softmax_forward(x, out, log, zero_masked):
    """Softmax (or log-softmax when ``log``) of each row of a 2-D array.

    Rows are shifted by their max, so huge logits never overflow.  A row that is
    all -inf (fully masked) gives NaN, as PyTorch's softmax; with ``zero_masked``
    zeros instead, as PyTorch's scaled_dot_product_attention.  For the softmax,
    ``out`` may be ``x`` itself (computed in place).
    """
    n, m = x.shape
    if m == 0:
        return
    e = np.empty(m, x.dtype)  # exps of one row: a buffer apart from out keeps the loops vectorised in place
    for r in range(n):
        xr, o = x[r], out[r]
        mx = xr[0]
        for j in range(1, m):
            mx = max(mx, xr[j])
        if mx == -np.inf and zero_masked:
            o[:] = 0.0
            continue
        s = 0.0  # float64 accumulator even for float32 rows
        if log:
            for j in range(m):
                s += exp_(xr[j] - mx)
            lse = mx + math.log(s)
            for j in range(m):
                o[j] = xr[j] - lse
        else:
            for j in range(m):
                e[j] = exp_(xr[j] - mx)
            for j in range(m):
                s += e[j]
            inv = 1.0 / s
            for j in range(m):
                o[j] = e[j] * inv


@njit(cache=True, fastmath=_ROW_FASTMATH)
def softmax_backward(g, y, out, log):
    """Row-wise VJP: softmax dx = y * (g - sum(g*y)); log-softmax dx = g - exp(y) * sum(g).

    ``out`` may be ``g`` itself (computed in place).
    """
    n, m = g.shape
    for r in range(n):
        gr, yr, o = g[r], y[r], out[r]
        s = 0.0
        if log:
            for j in range(m):
                s += gr[j]
            for j in range(m):
                o[j] = gr[j] - exp_(yr[j]) * s
        else:
            for j in range(m):
                s += gr[j] * yr[j]
            for j in range(m):
                o[j] = yr[j] * (gr[j] - s)


@njit(cache=True)
def cross_entropy_forward(logits, target, weight, ignore_index, smoothing, logp, losses):
    """Per-row loss of softmax cross-entropy; fills ``logp`` (log-softmax) for backward.

    loss_r = -w[t_r] * ((1 - eps) * logp[r, t_r] + eps/C * sum_j logp[r, j] * w[j]/w[t_r])
    (``weight`` all ones when not given; rows whose target is ``ignore_index`` give 0).
    """
    n, c = logits.shape
    softmax_forward(logits, logp, True, False)
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
        t, o = target[r], out[r]
        if t == ignore_index:
            for j in range(c):
                o[j] = 0.0
            continue
        a = (1.0 - smoothing) * weight[t]          # weight on the one-hot target
        b = smoothing / c                          # weight of the uniform part (times w[j])
        total = a
        if smoothing > 0.0:
            for j in range(c):
                total += b * weight[j]
        lp, gr = logp[r], g[r]
        for j in range(c):  # no branch inside: the loop vectorises (exp_ is a polynomial in float32)
            o[j] = gr * (exp_(lp[j]) * total - b * weight[j])
        o[t] = gr * (exp_(lp[t]) * total - b * weight[t] - a)


# ---------------------------------------------------------------- ordered sums
@elementwise
def outer_running_sum(at, b, start, stop, step, acc):
    """acc[i, j] += at[k, i] * b[k, j] for k in range(start, stop, step), in that order and each product
    rounded before it is added (no fused multiply-add): a matrix product summed in a chosen order, for
    reproducing another library's rounding (``optim.muon``).  The j loop is independent per element, so
    it vectorises without changing any sum's order."""
    n, m = acc.shape
    for i in range(n):
        row = acc[i]
        for k in range(start, stop, step):
            a = at[k, i]
            bk = b[k]
            for j in range(m):
                row[j] += a * bk[j]

__all__ = [n for n in dir() if n.endswith(("_forward", "_backward"))] + ["numba", "outer_running_sum", "fma_wide"]
