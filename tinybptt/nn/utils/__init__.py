"""nn.utils: gradient clipping and state detaching for BPTT, and `rnn` (packing), with PyTorch's semantics."""
import math
import types
import warnings

import numpy as np

from ...tensor import Tensor
from . import rnn  # noqa: F401  (nn.utils.rnn, as torch.nn.utils.rnn)
from . import parametrize, parametrizations  # noqa: F401  (as torch.nn.utils.parametrize / .parametrizations)
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401  (the old hook forms, as in torch)
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401


def _as_list(tensors):
    """A single tensor becomes [tensor]; any iterable (a generator too) becomes a list."""
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(x, p):
    """||x||_p of a flat float64 array, as torch.linalg.vector_norm defines it for every p."""
    a = np.abs(x)
    if p == math.inf:
        return a.max()
    if p == -math.inf:
        return a.min()
    if p == 0:
        return float(np.count_nonzero(a))
    if p == 1:
        return a.sum()
    if p == 2:
        return math.sqrt(np.dot(a, a))
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The p-norm of all ``tensors`` seen as one vector, returned as a 0-d tensor.

    As in PyTorch it is the norm of the vector of per-tensor norms, so for p = 2
    it is sqrt(sum_i ||t_i||^2) and for p = inf it is max_i max|t_i|.  Its dtype
    is the promoted dtype of the tensors; an empty list gives tensor(0.).
    ``foreach`` is accepted for compatibility and has no effect.
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(np.asarray(0.0, np.float32))
    norms = []
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise RuntimeError(f"get_total_norm: Tensors of the first list of nested Tensor lists are supposed to "
                               f"be defined but the {i}-th Tensor is not (got {type(t).__name__})")
        a = t._data.astype(np.float64, copy=False).reshape(-1)
        if a.size == 0 and math.isinf(norm_type):  # torch's messages for +inf and -inf
            where, what = ("_foreach_norm", "infinity") if norm_type > 0 else ("linalg.vector_norm", "-inf")
            raise RuntimeError(f"{where} cannot compute the {what} norm on an empty tensor because the "
                               "operation does not have an identity")
        # each per-tensor norm is rounded to the tensor's own dtype, as torch computes it in that dtype
        norms.append(t.dtype.type(_vector_norm(a, norm_type)) if a.size else t.dtype.type(0.0))
    dtype = np.result_type(*[t.dtype for t in tensors])
    total = np.asarray(_vector_norm(np.asarray(norms, np.float64), norm_type), dtype)
    if error_if_nonfinite and not np.isfinite(total):  # PyTorch's exact wording
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient in place by min(1, max_norm / (total_norm + 1e-6)).

    The coefficient is computed in ``total_norm``'s dtype and always applied by
    multiplication (so a NaN total turns every gradient into NaN, as in PyTorch).
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = np.asarray(total_norm._data if isinstance(total_norm, Tensor) else total_norm)
    if total.dtype.kind != "f":
        total = total.astype(np.float32)
    one = total.dtype.type
    coef = np.minimum(one(float(max_norm)) / (total + one(1e-6)), one(1.0))
    with np.errstate(invalid="ignore"):  # inf * 0 -> nan, as in torch
        for g in grads:
            g._data *= coef.astype(g.dtype)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Clip the gradients of ``parameters`` so their joint norm is at most ``max_norm``.

    ``total = ||(g_1, ..., g_n)||_p`` over all gradients as one vector, then every
    gradient is multiplied in place by ``min(1, max_norm / (total + 1e-6))``.
    Returns ``total`` (a 0-d tensor, before clipping).  ``parameters`` may be one
    tensor or an iterable; parameters without ``.grad`` are skipped; ``norm_type``
    may be ``inf`` (or ``'inf'``).  ``foreach`` is accepted and ignored.

    >>> import tinybptt as tb
    >>> w = tb.zeros(2, requires_grad=True); w.grad = tb.tensor([3.0, 4.0])
    >>> tb.nn.utils.clip_grad_norm_([w], 1.0)
    tensor(5.)
    """
    if not isinstance(parameters, Tensor):
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=2)
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of :func:`clip_grad_norm_` (as in PyTorch)."""
    warnings.warn("`clip_grad_norm` is deprecated in favor of `clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value] in place; returns None.

    >>> import tinybptt as tb
    >>> w = tb.zeros(3, requires_grad=True); w.grad = tb.tensor([-2.0, 0.5, 3.0])
    >>> tb.nn.utils.clip_grad_value_(w, 1.0); w.grad
    tensor([-1.0000,  0.5000,  1.0000])
    """
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        g = p.grad
        if g is not None:
            # clamp(min=-c, max=c) = min(max(g, -c), c): with c < 0 everything becomes c, as in torch
            np.minimum(np.maximum(g._data, -clip_value), clip_value, out=g._data)


def detach_state(state):
    """Detach a recurrent state: a tensor, or a tuple/list/dict (nested) of tensors.

    Used between truncated-BPTT windows so the next window starts from the same
    values with no history.  Anything that is not a tensor (None, ints) passes through.

    >>> import tinybptt as tb
    >>> h = tb.ones(2, requires_grad=True) * 2
    >>> h2, c2 = tb.nn.utils.detach_state((h, h))
    >>> h2.requires_grad, h2.grad_fn is None
    (False, True)
    """
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # a namedtuple
        return type(state)(*(detach_state(s) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    if isinstance(state, dict):
        return type(state)((k, detach_state(v)) for k, v in state.items())
    return state


def parameters_to_vector(parameters):
    """Concatenate the parameters into one flat tensor."""
    from ...ops import cat
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the flat tensor ``vec`` into the parameters (the inverse of parameters_to_vector).

    As in PyTorch ``vec`` must be a Tensor (TypeError otherwise), and a slice that does not
    fill a parameter raises RuntimeError naming the parameter's shape and the slice's size.
    """
    if not isinstance(vec, Tensor):
        kind = type(vec)
        name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        raise TypeError(f"expected torch.Tensor, but got: {name}")
    data, start = vec._data, 0
    for p in parameters:
        piece = data[start:start + p.numel()]
        if piece.size != p.numel():
            raise RuntimeError(f"vector_to_parameters: shape '{list(p.shape)}' is invalid for input of size {piece.size}")
        p._data[...] = piece.reshape(p.shape)
        p._bump_version()
        start += p.numel()
