"""Muon (Jordan et al. 2024): momentum SGD on 2-D weights whose update is orthogonalised by a
Newton-Schulz iteration, as ``torch.optim.Muon``."""
import math

import numpy as np

from ..ops import kernels
from .optimizer import Optimizer, _arrays, _bump, _check_lr, _fma, _lerp_, _scalar, _state_tensor

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315  # the quintic of Keller Jordan's Muon post
DEFAULT_NS_STEPS = 5


def _bf16(x):
    """``x`` rounded to bfloat16 as torch's ``.bfloat16()`` rounds (to float32 first, then to nearest even
    on the top 16 bits), held in a float32 array."""
    x = np.ascontiguousarray(x, np.float32)
    bits = x.view(np.uint32)
    rounded = ((bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000))
    return np.where(np.isnan(x), x, rounded.view(np.float32))


def _running_sum(at, b, ks, init=None):
    """init (or 0) + the sum over k in ``ks`` (a range) of the outer products at[k] b[k] (exact for bfloat16
    numbers), added one by one in float32 (``at`` is a transposed, so that row k of both is contiguous)."""
    acc = np.zeros((at.shape[1], b.shape[1]), np.float32) if init is None else init
    kernels().outer_running_sum(at, b, ks.start, ks.stop, ks.step, acc)
    return acc


def _tree8(x):
    """x[0] + ... + x[7] in the order of an 8-lane vector reduction: halves, then quarters, then pairs."""
    return ((x[0] + x[4]) + (x[2] + x[6])) + ((x[1] + x[5]) + (x[3] + x[7]))


# a @ b of bfloat16 matrices (float32 arrays) summed in float32 in the order of one of torch's CPU kernels;
# which kernel runs depends on the operands' memory layout (see _zeropower_via_newtonschulz)
def _dot_sequential(at, b):
    """One running sum over k (torch's kernel when the left operand is a transposed view)."""
    return _running_sum(at, b, range(len(b)))


def _dot_ilp4(at, b):
    """Four running sums, of the k with the same k mod 4 (the leftover k go on in the first), added up
    at the end (torch's kernel for contiguous operands)."""
    k = len(b)
    k4 = k - k % 4
    parts = [_running_sum(at, b, range(q, k4, 4)) for q in range(4)]
    first = _running_sum(at, b, range(k4, k), init=parts[0])
    return ((first + parts[1]) + parts[2]) + parts[3]


def _dot_lanes(at, b):
    """torch's vectorised dot product (when the right operand is a transposed view): blocks of 64 k are
    summed in 8 registers of 8 lanes (k = 64 block + 8 register + lane), blocks of 16 of the rest in
    one register (k = 16 block + 8 half + lane), each reduced as a vector reduction, and the last
    k % 16 are added one by one."""
    k = len(b)
    k64, k16 = k - k % 64, k - k % 16
    main = _tree8([_tree8([_running_sum(at, b, range(8 * register + lane, k64, 64)) for register in range(8)])
                   for lane in range(8)])
    tail = _tree8([_running_sum(at, b, range(k64 + lane, k16, 8)) for lane in range(8)])
    return _running_sum(at, b, range(k16, k), init=main + tail)


def _bf16_addmm(dot, a, b, c=None, beta=0.0, alpha=1.0):
    """beta c + alpha (a @ b) as torch's CPU kernels compute it for bfloat16: the product summed in float32
    by ``dot``, then beta c added with one rounding (a fused multiply-add), and rounded to bfloat16."""
    out = dot(np.ascontiguousarray(a.T), np.ascontiguousarray(b))
    if alpha != 1:
        out = np.float32(alpha) * out
    if c is not None:
        out = (np.float64(np.float32(beta)) * c + out).astype(np.float32)  # exact product: one rounding
    return _bf16(out)


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """An approximate orthogonalisation U S' V^T of grad = U S V^T (S' roughly in [0.5, 1.5]) by ``ns_steps``
    steps of X <- a X + (b A + c A^2) X with A = X X^T, starting from X = grad / ||grad||_F (at most
    ``eps`` in the denominator), on the wide orientation of grad.  As in PyTorch every step runs in
    bfloat16, so the result is a bfloat16 matrix (held in float32); the sums follow torch's kernels, whose
    order depends on whether X is still the transposed view of a tall grad (the first step) or not."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    tall = grad.shape[0] > grad.shape[1]
    x = _bf16(grad.T if tall else grad)
    norm = _bf16(np.sqrt(np.sum(np.square(x, dtype=np.float64))))  # Frobenius norm, >= the spectral norm
    x = _bf16(x / _bf16(np.maximum(norm, np.float32(eps))))  # the clamped norm is a bfloat16 too
    transposed = tall
    for _ in range(ns_steps):
        gram = _bf16_addmm(_dot_sequential if transposed else _dot_lanes, x, x.T)
        gram_update = _bf16_addmm(_dot_ilp4, gram, gram, gram, beta=b, alpha=c)
        x = _bf16_addmm(_dot_lanes if transposed else _dot_ilp4, gram_update, x, x, beta=a)
        transposed = False
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn, shape):
    """The lr scaled for an A x B matrix: sqrt(max(1, A / B)) ('original', the default) or 0.2 sqrt(max(A, B))
    ('match_rms_adamw', an update RMS like AdamW's)."""
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1, rows / cols))
    if adjust_lr_fn == "match_rms_adamw":
        return lr * (0.2 * math.sqrt(max(rows, cols)))
    return lr


class Muon(Optimizer):
    """Muon, exactly as ``torch.optim.Muon`` (only 2-D parameters: optimise biases, embeddings and the
    like with another optimizer such as AdamW).

    With g the gradient: B = momentum B + (1 - momentum) g (a lerp), the update U = g + momentum (B - g)
    (``nesterov``, a lerp of g towards B) or U = B; O = Newton-Schulz(U) in bfloat16 (see
    ``_zeropower_via_newtonschulz``); then p *= 1 - lr weight_decay and p -= lr' O, with lr' = lr
    adjusted to the shape by ``adjust_lr_fn``.
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        _check_lr(lr, "Learning rate should be >= 0 but is: {}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{tuple(p.shape)}")

    def step(self, closure=None):
        """One Muon update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, wd, momentum = _scalar(group["lr"]), group["weight_decay"], group["momentum"]
            pairs = self._params_with_grad(group)
            for p, g in pairs:  # every buffer exists before any update, as in PyTorch
                if "momentum_buffer" not in self.state[p]:
                    self.state[p]["momentum_buffer"] = _state_tensor(np.zeros_like(g))
            for p, g in pairs:
                if g.ndim != 2:
                    raise ValueError("Param gradient must be a 2D matrix")
                buf, = _arrays(self.state[p], "momentum_buffer")
                _lerp_(buf, g, 1 - momentum)
                if group["nesterov"]:
                    update = np.array(g, copy=True)
                    _lerp_(update, buf, momentum)
                else:
                    update = buf
                update = _zeropower_via_newtonschulz(update, group["ns_coefficients"], group["ns_steps"],
                                                     group["eps"])
                adjusted_lr = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
                p._data *= 1 - lr * wd
                _fma(update.astype(p.dtype, copy=False), -adjusted_lr, p._data, out=p._data)
                _bump(p)
        return loss
