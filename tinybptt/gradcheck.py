"""gradcheck: the tape's gradients against central finite differences in float64.

>>> import tinybptt as tb
>>> x = tb.randn(3, 4, dtype=tb.float64, requires_grad=True)
>>> tb.gradcheck(lambda x: (x * x).tanh(), (x,))
True
"""
import numpy as np

from . import autograd
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Raised by ``gradcheck`` when analytic and numeric gradients disagree."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check the gradients of ``fn(*inputs)`` against central finite differences.

    Every floating-point input that requires grad is checked (as a float64
    copy).  Outputs may be non-scalar: the function checked is the scalar
    ``L = sum_k <v_k, out_k>`` with fixed random cotangents ``v_k``, so the
    analytic side is one backward pass with ``gradient=v_k`` and the numeric
    side is ``(L(x + eps e_i) - L(x - eps e_i)) / (2 eps)`` for each element.

    Returns True, or raises ``GradcheckError`` naming the input, the worst
    element and both values when ``|analytic - numeric| > atol + rtol * |numeric|``
    (returns False instead when ``raise_exception=False``).
    """
    try:
        return _gradcheck(fn, inputs, eps, atol, rtol, seed)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def _gradcheck(fn, inputs, eps, atol, rtol, seed):
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [isinstance(x, Tensor) and x.requires_grad and x.dtype.kind == "f" for x in inputs]
    if not any(checked):
        raise GradcheckError("gradcheck: no input is a floating-point tensor with requires_grad=True")
    # fresh float64 leaves, so the caller's tensors and their .grad stay untouched
    args = [Tensor(np.array(x._data, np.float64), requires_grad=True) if c else x
            for x, c in zip(inputs, checked)]

    rng = np.random.default_rng(seed)
    outs = _outputs(fn(*args))
    cotangents = [rng.standard_normal(o.shape) for o in outs]

    def scalar():  # L = sum_k <v_k, out_k>, evaluated without recording
        with autograd.no_grad():
            return sum(float(np.sum(np.asarray(o._data, np.float64) * v))
                       for o, v in zip(_outputs(fn(*args)), cotangents))

    roots = [(o, v.astype(o.dtype)) for o, v in zip(outs, cotangents) if o.requires_grad]
    if roots:
        autograd.run_backward([r for r, _ in roots], [v for _, v in roots])

    for i, (x, c) in enumerate(zip(args, checked)):
        if not c:
            continue
        analytic = np.zeros(x.shape) if x.grad is None else x.grad._data
        numeric = np.zeros(x.shape)
        flat, num = x._data.reshape(-1), numeric.reshape(-1)  # views: perturb in place
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = scalar()
            flat[j] = orig - eps
            minus = scalar()
            flat[j] = orig
            num[j] = (plus - minus) / (2 * eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size and (excess.max() > 0 or not np.isfinite(analytic).all()):
            bad = np.where(np.isfinite(analytic), excess, np.inf)
            k = np.unravel_index(int(np.argmax(bad)), x.shape)
            raise GradcheckError(
                f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at element {tuple(map(int, k))}: "
                f"analytic {analytic[k]!r} vs numeric {numeric[k]!r} "
                f"(atol={atol}, rtol={rtol}; max |analytic - numeric| = {np.abs(analytic - numeric).max():.3g})")
    return True


def _outputs(out):
    """The floating-point tensors among fn's outputs (a tensor or a tuple/list of them)."""
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]
