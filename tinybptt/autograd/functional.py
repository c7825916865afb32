"""Function-level differentiation, as ``torch.autograd.functional``: ``vjp`` and ``jacobian`` (reverse mode,
one backward pass per output element), with PyTorch's argument checks and output structure.

tinybptt has no higher-order gradients (backward functions run on numpy arrays, not on recorded
tensors) and no forward-mode AD, so ``create_graph=True``, ``jvp``, ``hessian``, ``hvp``, ``vhp`` and
``jacobian(strategy='forward-mode')`` raise NotImplementedError.
"""
import numpy as np

from . import _no_create_graph, enable_grad, grad
from ..tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(inp, arg_name, fn_name):
    """(was it a tuple, the tensors as a tuple); anything but a Tensor or a tuple of Tensors is a TypeError."""
    is_tuple = isinstance(inp, tuple)
    inp = inp if is_tuple else (inp,)
    for i, el in enumerate(inp):
        if not isinstance(el, Tensor):
            where = f"the value at index {i} has type {type(el)}" if is_tuple else \
                f"the given {arg_name} has type {type(el)}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors but "
                            f"{where}.")
    return is_tuple, inp


def _tuple_postprocess(res, to_unpack):
    """Undo ``_as_tuple``: unwrap the outer (outputs) and/or inner (inputs) level that was not a tuple."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _call(func, inputs, strict, fn_name):
    """func, with grad enabled, on new leaves that share the inputs' data and require grad (func sees them,
    not the caller's tensors); inputs and outputs checked as torch checks them.  Returns (were the inputs a
    tuple, the leaves, were the outputs a tuple, the outputs as a tuple)."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
        inputs = tuple(x.detach().requires_grad_(True) for x in inputs)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    if strict:
        for i, out in enumerate(outputs):
            if not out.requires_grad:
                raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The "
                                   "outputs must be computed in a differentiable manner from the input when "
                                   "running in strict mode.")
    return is_inputs_tuple, inputs, is_outputs_tuple, outputs


def _grads(outputs, inputs, grad_outputs, retain_graph=False):
    """Gradients of the inputs (None where unreached) from the outputs that require grad."""
    used = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not used:
        return (None,) * len(inputs)
    return grad([o for o, _ in used], inputs, [g for _, g in used], retain_graph=retain_graph, allow_unused=True)


def _zeros_like(x):
    return Tensor._wrap(np.zeros(x.shape, x.dtype))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(*inputs), v^T J): the outputs and the vector-Jacobian product, as ``torch.autograd.functional.vjp``.

    ``inputs`` is a Tensor or a tuple of Tensors, and so is the product (shaped as the inputs); ``v``
    matches the outputs (it may be left out for a single one-element output).  An input the outputs
    do not depend on gets zeros, or an error with ``strict=True``.  Results are detached.
    """
    _no_create_graph("vjp", create_graph)
    is_inputs_tuple, inputs, is_outputs_tuple, outputs = _call(func, inputs, strict, "vjp")
    if v is not None:
        _, v = _as_tuple(v, "v", "vjp")
        v = tuple(t.detach() for t in v)
        _check_v(v, outputs, is_outputs_tuple)
    else:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single "
                               "Tensor with a single element.")
        v = (None,)
    products = []
    for i, (g, x) in enumerate(zip(_grads(outputs, inputs, v), inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                                   "not allowed in strict mode.")
            g = _zeros_like(x)
        products.append(g)
    outputs = tuple(o.detach() for o in outputs)
    return _tuple_postprocess(outputs, is_outputs_tuple), _tuple_postprocess(tuple(products), is_inputs_tuple)


def _check_v(v, outputs, is_outputs_tuple):
    if len(v) != len(outputs):
        if is_outputs_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(outputs)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (el, out) in enumerate(zip(v, outputs)):
        if el.shape != out.shape:
            prefix = f"Entry {i} in " if is_outputs_tuple else ""
            raise RuntimeError(f"{prefix}v has invalid size: should be {_size(out.shape)} but got {_size(el.shape)}.")


def _size(shape):
    return f"torch.Size({list(shape)})"  # as PyTorch prints shapes in these messages


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``, as ``torch.autograd.functional.jacobian``, by reverse mode: one
    backward pass per output element.

    For one output and one input (Tensors, not tuples) it is a Tensor of shape out.shape + in.shape;
    with a tuple of inputs a tuple over the inputs; with a tuple of outputs a tuple over the outputs
    (of tuples over the inputs when the inputs are a tuple).  An input an output does not depend on
    gets zeros, or an error with ``strict=True``.  ``vectorize=True`` gives the same values (the rows
    are computed one by one either way).
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        raise NotImplementedError("jacobian: strategy='forward-mode' is not supported: tinybptt has no forward-mode "
                                  "AD; strategy='reverse-mode' computes the same Jacobian")
    _no_create_graph("jacobian", create_graph)
    is_inputs_tuple, inputs, is_outputs_tuple, outputs = _call(func, inputs, strict, "jacobian")
    if vectorize and strict:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                           "supported together. Please either set `strict=False` or `vectorize=False`.")
    jac = []
    for i, out in enumerate(outputs):
        rows = [[] for _ in inputs]  # per input, the gradient of each output element in turn
        for j in range(out.numel()):
            seed = np.zeros(out.shape, out.dtype)
            seed.reshape(-1)[j] = 1
            for k, (g, x) in enumerate(zip(_grads((out,), inputs, (seed,), retain_graph=True), inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"Output {i} of the user-provided function is independent of input {k}. "
                                           "This is not allowed in strict mode.")
                    g = _zeros_like(x)
                rows[k].append(g._data)
        if out.numel() == 0:  # as PyTorch, which has no rows to stack
            raise RuntimeError(f"jacobian: output {i} of the user-provided function has no elements (shape "
                               f"{tuple(out.shape)}): stack expects a non-empty TensorList")
        jac.append(tuple(Tensor._wrap(np.stack(r).reshape(out.shape + x.shape)) for r, x in zip(rows, inputs)))
    return _tuple_postprocess(tuple(jac), (is_outputs_tuple, is_inputs_tuple))


def _no_higher_order(name):
    raise NotImplementedError(f"{name}: not supported: it needs forward-mode or double-backward gradients, and "
                              f"tinybptt's backward functions run on numpy arrays, not on recorded tensors "
                              f"(vjp and jacobian are available)")


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """Jacobian-vector product: not supported (PyTorch computes it by double backward); raises NotImplementedError."""
    _no_higher_order("jvp")


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """Hessian: not supported (needs double backward); raises NotImplementedError."""
    _no_higher_order("hessian")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """Vector-Hessian product: not supported (needs double backward); raises NotImplementedError."""
    _no_higher_order("vhp")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """Hessian-vector product: not supported (needs double backward); raises NotImplementedError."""
    _no_higher_order("hvp")
