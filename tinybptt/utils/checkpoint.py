"""Activation checkpointing (torch.utils.checkpoint): trade compute for memory.

``checkpoint(function, *args)`` keeps no intermediate value of ``function`` for backward: only its
inputs and outputs.  When the backward walk reaches the checkpointed piece, the forward is run again
with recording on (from the same random state, so dropout draws the same masks) and the gradients of
the outputs are propagated through that recomputed graph.  Gradients equal those of a plain run.

Two variants, as PyTorch:

* ``use_reentrant=True`` (what ``None`` means, with PyTorch's warning): the forward runs under
  ``no_grad``; the recomputation runs a nested ``backward`` that accumulates into the ``.grad`` of
  parameters used inside and hands back the inputs' gradients.  As in PyTorch, only the returned
  tensor or the tensors directly in a returned tuple are differentiable (``lstm(x, (h, c))`` must be
  returned flat as ``y, h, c``), when no tensor argument requires grad the outputs do not either
  (parameters inside get no gradient), keyword arguments are refused, and ``autograd.grad`` or
  ``backward(inputs=...)`` through it is a RuntimeError.
* ``use_reentrant=False``: the forward is recorded and its graph dropped at once, keeping only the
  tensors from outside that it read (inputs, parameters, tensors captured by closures): these become
  the inputs of one record, so parameters get their gradient through the ordinary walk (also with
  ``autograd.grad``) and keyword arguments are passed on.
"""
import contextlib
import itertools
import warnings

import numpy as np

from .. import autograd
from ..autograd import Function, enable_grad, is_grad_enabled, no_grad, run_backward
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def _resolve_reentrant(name, use_reentrant):
    if use_reentrant is None:
        warnings.warn(f"torch.utils.checkpoint{name}: the use_reentrant parameter should be passed explicitly. "
                      "use_reentrant=False is recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more details on the "
                      "differences between the two variants.", stacklevel=3)
        return True
    return bool(use_reentrant)


def _tensors(obj):
    """The tensors in a (nested) tuple, list or dict, in order."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (tuple, list)):
        return list(itertools.chain.from_iterable(_tensors(o) for o in obj))
    if isinstance(obj, dict):
        return list(itertools.chain.from_iterable(_tensors(o) for o in obj.values()))
    return []


def _replace(obj, new):
    """``obj`` with each tensor t in the dict ``new`` (keyed by id) replaced by new[id(t)]."""
    if isinstance(obj, Tensor):
        return new.get(id(obj), obj)
    if isinstance(obj, (tuple, list)):
        items = [_replace(o, new) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)  # namedtuples too
    if isinstance(obj, dict):
        return type(obj)((k, _replace(v, new)) for k, v in obj.items())
    return obj


@contextlib.contextmanager
def _rng_state(state):
    """Run the block from the random state ``state`` (None: as is), then continue where the stream was."""
    if state is None:
        yield
        return
    current = get_rng_state()
    set_rng_state(state)
    try:
        yield
    finally:
        set_rng_state(current)


class Checkpoint(Function):
    """One record standing for a checkpointed piece: forward hands out the values computed already;
    backward recomputes the piece (``recompute``, a closure) and returns the inputs' gradients."""

    def forward(self, *arrays, results, recompute):
        self.recompute = recompute
        return tuple(results)

    def backward(self, *grads):
        return self.recompute(grads)


def _attach(out, routed, inputs, recompute):
    """``out`` with the tensors ``routed`` replaced by outputs of one Checkpoint record over ``inputs``."""
    made = Checkpoint.apply(*inputs, results=[t._data for t in routed], recompute=recompute)
    return _replace(out, {id(t): m for t, m in zip(routed, made)})


def _seeds(outs, grads):
    return [np.asarray(g, dtype=o.dtype) for o, g in zip(outs, grads)]


def _top_level(out):
    """The floating-point tensors the reentrant variant differentiates: ``out`` itself or the items of a
    returned tuple (as PyTorch's, tensors nested deeper come back without gradient)."""
    items = [out] if isinstance(out, Tensor) else list(out) if isinstance(out, tuple) else []
    return [t for t in items if isinstance(t, Tensor) and t.dtype.kind == "f"]


def _checkpoint_reentrant(function, args, state):
    inputs = [a for a in args if isinstance(a, Tensor)]
    with no_grad():
        out = function(*args)
    if not any(x.requires_grad for x in inputs) or not is_grad_enabled():
        return out
    routed = _top_level(out)
    if not routed:
        return out

    def recompute(grads):
        if autograd._state["partial"]:
            raise RuntimeError("torch.utils.checkpoint: with use_reentrant=True the checkpoint cannot be "
                               "differentiated by autograd.grad() or by backward(inputs=...) (its recomputation "
                               "runs a backward of its own into the .grad of all leaves); use use_reentrant=False, "
                               "or backward() without inputs")
        detached = [Tensor._wrap(a._data, a._requires_grad) if isinstance(a, Tensor) else a for a in args]
        with _rng_state(state), enable_grad():
            outs = _top_level(function(*detached))
        pairs = [(o, g) for o, g in zip(outs, grads) if o.requires_grad]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is not necessary")
        run_backward([o for o, _ in pairs], _seeds(*zip(*pairs)))
        return tuple(d.grad._data if d.grad is not None else None for d in detached if isinstance(d, Tensor))

    return _attach(out, routed, inputs, recompute)


def _made_inside(t, start):
    return t.grad_fn is not None and t.grad_fn.position > start


def _made_since(out, start):
    """The floating-point tensors in ``out`` that records made after tape position ``start`` produced."""
    return [t for t in _tensors(out) if t.dtype.kind == "f" and _made_inside(t, start)]


def _outside_inputs(routed, start):
    """The tensors requiring grad that the records made after tape position ``start`` read from outside
    them (in the order first met), found by walking back from ``routed``."""
    found, seen, stack = {}, set(), [t.grad_fn for t in routed]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for x in node.sources:
            if x is None or not x.requires_grad:
                continue
            if _made_inside(x, start):
                stack.append(x.grad_fn)
            else:
                found.setdefault(id(x), x)
    return list(found.values())


def _checkpoint_recorded(function, args, kwargs, state):
    start = next(autograd._tape_position)
    out = function(*args, **kwargs)
    routed = _made_since(out, start)
    if not routed:
        return out
    outside = _outside_inputs(routed, start)
    shapes = [t.shape for t in routed]  # not the tensors: they would keep the forward's graph alive

    def recompute(grads):
        # the outside tensors act as leaves of the recomputed graph, so the walk below stops at them
        kept = [(x.grad_fn, x._hooks) for x in outside]
        try:
            for x in outside:
                x.grad_fn, x._hooks = None, None
            begin = next(autograd._tape_position)
            with _rng_state(state), enable_grad():
                outs = _made_since(function(*args, **kwargs), begin)
            if [o.shape for o in outs] != shapes:
                raise RuntimeError("torch.utils.checkpoint: the recomputed forward gave outputs of shapes "
                                   f"{[o.shape for o in outs]}, the forward pass {shapes}")
            return tuple(run_backward(outs, _seeds(outs, grads), inputs=outside))
        finally:
            for x, (fn, hooks) in zip(outside, kept):
                x.grad_fn, x._hooks = fn, hooks

    return _attach(out, routed, outside, recompute)


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` keeping no intermediate value for backward: the forward is run again
    when backward needs it (see the module docstring for the two variants).  With ``preserve_rng_state``
    the recomputation starts from the random state the forward started from (same dropout masks)."""
    use_reentrant = _resolve_reentrant("", use_reentrant)
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if use_reentrant and not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
    if not is_grad_enabled():
        return function(*args, **kwargs)
    state = get_rng_state() if preserve_rng_state else None
    if use_reentrant:
        return _checkpoint_reentrant(function, args, state)
    return _checkpoint_recorded(function, args, kwargs, state)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run ``functions`` (an nn.Sequential or a list of callables) on ``input`` in ``segments`` pieces of
    len // segments functions each; every piece but the last is checkpointed."""
    use_reentrant = _resolve_reentrant(".checkpoint_sequential", use_reentrant)
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    from ..nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())

    def run(start, end):
        def forward(x):
            for f in functions[start:end + 1]:
                x = f(x)
            return x
        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, preserve_rng_state=preserve)
    return run(end + 1, len(functions) - 1)(input)
