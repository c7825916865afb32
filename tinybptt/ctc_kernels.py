"""The numba kernel pair of the CTC loss: the forward (alpha) and backward (beta) recursions in log space.

Imported lazily (``nn.ctc._ctc_kernels()``) the first time a CTC loss runs, like ``kernels.py``,
so ``import tinybptt`` does not import numba.  Both kernels run in the dtype of ``lp`` (float32 or
float64: each gets its own cached machine code).

Notation and equation numbers from Graves et al., "Connectionist Temporal Classification", ICML
2006: for a sequence of the batch with input length T and target l of length L, the extended
target l' puts a blank before, between and after the labels, so l'_s is the blank for even s and
l_{(s-1)/2} for odd s, s = 0 .. 2L.  ``lp[t, b, c]`` is log y^t_c.  Everything is kept as
logarithms, and a sum of probabilities exp(a) + exp(b) + exp(c) as
m + log(exp(a - m) + exp(b - m) + exp(c - m)) with m the largest term (m = 0 when all terms are
-inf), the form PyTorch's CPU kernel evaluates (in the tests the numbers agree to the last bit).

``targets`` is the flat int64 array of labels and sequence b's labels start at ``offsets[b]``
(a padded (N, S) target is flattened, its offsets b * S).
"""
import math

import numpy as np

from .kernels import elementwise as kernel


@kernel
def _log_add3(a, b, c, zero, neginf):
    """log(exp(a) + exp(b) + exp(c)), scaled by the largest term (-inf when all three are -inf)."""
    m = a
    if b > m:
        m = b
    if c > m:
        m = c
    if m == neginf:
        m = zero
    return math.log(math.exp(a - m) + math.exp(b - m) + math.exp(c - m)) + m


@kernel
def _label(targets, offset, s, blank):
    """l'_s: the blank at even s, else the ((s - 1) / 2)-th label of the sequence."""
    return blank if s % 2 == 0 else targets[offset + s // 2]


@kernel
def _constants(lp):
    """0 and -inf in lp's dtype (so float32 arithmetic stays float32)."""
    buf = np.empty(2, lp.dtype)
    buf[0] = 0.0
    buf[1] = -np.inf
    return buf[0], buf[1]


@kernel
def ctc_alpha(lp, targets, offsets, input_lengths, target_lengths, blank, log_alpha, nll):
    """Fill ``log_alpha[b, t, s]`` = log alpha_t(s) and ``nll[b]`` = -log p(l | x) for each sequence b.

    alpha_0(0) = y^0_blank, alpha_0(1) = y^0_{l_1}, alpha_0(s) = 0 for s > 1             (Graves eq. 6)
    alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1) [+ alpha_{t-1}(s-2)]) y^t_{l'_s}     (eq. 7)
        the skip term only when l'_{s-2} != l'_s (never for a blank, nor between repeated labels)
    p(l | x) = alpha_{T-1}(2L) + alpha_{T-1}(2L-1)  (alpha_{T-1}(0) alone when L = 0)   (eq. 8)
    An empty input (T = 0) has p = 1 for an empty target, else 0.
    """
    zero, neginf = _constants(lp)
    for b in range(lp.shape[1]):
        T, L, off = input_lengths[b], target_lengths[b], offsets[b]
        S = 2 * L + 1
        la = log_alpha[b]
        if T == 0:
            nll[b] = -(zero if L == 0 else neginf)
            continue
        for s in range(S):
            la[0, s] = neginf
        la[0, 0] = lp[0, b, blank]
        if L > 0:
            la[0, 1] = lp[0, b, targets[off]]
        for t in range(1, T):
            for s in range(S):
                c = _label(targets, off, s, blank)
                a1 = la[t - 1, s]
                a2 = la[t - 1, s - 1] if s > 0 else neginf
                a3 = la[t - 1, s - 2] if s > 1 and _label(targets, off, s - 2, blank) != c else neginf
                la[t, s] = _log_add3(a1, a2, a3, zero, neginf) + lp[t, b, c]
        if L == 0:
            nll[b] = -la[T - 1, 0]
        else:
            nll[b] = -_log_add3(la[T - 1, S - 1], la[T - 1, S - 2], neginf, zero, neginf)


@kernel
def ctc_grad(lp, targets, offsets, input_lengths, target_lengths, blank, log_alpha, nll, grad_out,
             zero_infinity, log_beta, grad):
    """``grad[t, b, c]``: PyTorch's gradient of the CTC loss for log_probs, times ``grad_out[b]``.

    beta_{T-1}(2L) = y^{T-1}_blank, beta_{T-1}(2L-1) = y^{T-1}_{l_L}, else 0              (Graves eq. 9)
    beta_t(s) = (beta_{t+1}(s) + beta_{t+1}(s+1) [+ beta_{t+1}(s+2)]) y^t_{l'_s}         (eq. 10)
        the skip term only when l'_{s+2} != l'_s
    alpha_t(s) beta_t(s) / y^t_{l'_s} summed over the s with l'_s = c and divided by p(l | x) is
    the posterior that frame t emits c (eq. 14-15), so in logs gamma_t(c) = exp(lab_t(c) + nll - lp).
    The gradient returned is (exp(lp) - gamma) * grad_out (eq. 16): the gradient with respect to
    the unnormalised outputs u of lp = log_softmax(u), as PyTorch returns it whether or not lp is
    normalised (through a log_softmax it equals the true gradient, as gamma sums to 1 over c).
    Frames t >= T get 0; an infinite loss gives NaN (0 with ``zero_infinity``).
    ``log_beta`` is scratch of shape (>= max T, >= 2 max L + 1).
    """
    zero, neginf = _constants(lp)
    C = lp.shape[2]
    for b in range(lp.shape[1]):
        T, L, off = input_lengths[b], target_lengths[b], offsets[b]
        S = 2 * L + 1
        for t in range(lp.shape[0]):
            for c in range(C):
                grad[t, b, c] = zero
        if T == 0 or (zero_infinity and nll[b] == np.inf):
            continue
        la, lb, gb = log_alpha[b], log_beta, grad[:, b]
        for t in range(T):
            for c in range(C):
                gb[t, c] = neginf  # lab_t(c) = log sum_{s: l'_s = c} alpha_t(s) beta_t(s), accumulated below
        # the last frame: only s = 2L and 2L-1 have beta > 0.  PyTorch assigns their products rather
        # than adding them (they differ unless a label is the blank: then the last one is kept)
        for s in range(S):
            lb[T - 1, s] = neginf
        lb[T - 1, S - 1] = lp[T - 1, b, blank]
        gb[T - 1, blank] = la[T - 1, S - 1] + lb[T - 1, S - 1]
        if L > 0:
            c = targets[off + L - 1]
            lb[T - 1, S - 2] = lp[T - 1, b, c]
            gb[T - 1, c] = la[T - 1, S - 2] + lb[T - 1, S - 2]
        for t in range(T - 2, -1, -1):
            for s in range(S - 1, -1, -1):
                c = _label(targets, off, s, blank)
                b1 = lb[t + 1, s]
                b2 = lb[t + 1, s + 1] if s < S - 1 else neginf
                b3 = lb[t + 1, s + 2] if s < S - 2 and _label(targets, off, s + 2, blank) != c else neginf
                lb[t, s] = _log_add3(b1, b2, b3, zero, neginf) + lp[t, b, c]
                v = la[t, s] + lb[t, s]
                if gb[t, c] == neginf:
                    gb[t, c] = v
                else:
                    m = v if gb[t, c] < v else gb[t, c]
                    gb[t, c] = math.log(math.exp(gb[t, c] - m) + math.exp(v - m)) + m
        g, loss = grad_out[b], nll[b]
        for t in range(T):
            for c in range(C):
                x = lp[t, b, c]
                gb[t, c] = (math.exp(x) - math.exp(gb[t, c] + loss - x)) * g
