"""nn.utils: gradient clipping and state detaching for BPTT."""
import math

import numpy as np

from ..tensor import Tensor


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their joint norm is at most ``max_norm``.

    total = ||(g_1, ..., g_n)||_p over all parameters as one vector, then
    g <- g * min(1, max_norm / (total + 1e-6)).  Returns ``total`` as a tensor.
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.asarray(0.0, np.float32))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = max(float(np.abs(g._data).max()) if g._data.size else 0.0 for g in grads)
    else:
        total = sum(float((np.abs(g._data.astype(np.float64)) ** norm_type).sum()) for g in grads) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
                           f"{total}; set error_if_nonfinite=False to clip anyway")
    coef = min(1.0, max_norm / (total + 1e-6))
    if coef < 1.0:
        for g in grads:
            g._data *= g.dtype.type(coef)
    return Tensor(np.asarray(total, grads[0].dtype))


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element into [-clip_value, clip_value] in place."""
    for g in _grads(parameters):
        np.clip(g._data, -clip_value, clip_value, out=g._data)


def detach_state(state):
    """Detach a tensor or a nested tuple/list of tensors (the carried state between BPTT windows)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    return type(state)(detach_state(s) for s in state)


def parameters_to_vector(parameters):
    """Concatenate the parameters into one flat tensor."""
    from ..ops import cat
    return cat([p.reshape(-1) for p in parameters])
