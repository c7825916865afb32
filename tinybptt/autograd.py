"""The tape: recording of differentiable operations and the reverse walk.

Every differentiable operation run while recording is on leaves one record
(a ``Node``) holding the op (a ``Function`` instance with whatever its
backward needs saved on it), its input tensors, weak references to its
outputs, the current scope and its position on the tape.  Creation order is
a topological order, so ``backward`` only has to sort the records reachable
from the root by position and walk them from last to first.  Records live as
long as the tensors that point at them, so a graph nobody holds is freed by
Python like any other object.
"""
import itertools
import weakref

import numpy as np

Tensor = None  # set by tensor.py once the class exists (avoids an import cycle)

_state = {"grad": True, "anomaly": False}
_scopes = []
_tape_position = itertools.count()


# ---------------------------------------------------------------- grad mode
class _GradMode:
    """Context manager and decorator that sets whether operations are recorded."""

    enabled = True

    def __enter__(self):
        self._prev = _state["grad"]
        _state["grad"] = self.enabled

    def __exit__(self, *exc):
        _state["grad"] = self._prev

    def __call__(self, fn):
        mode = self.enabled

        def wrapper(*args, **kwargs):
            prev, _state["grad"] = _state["grad"], mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state["grad"] = prev

        wrapper.__name__, wrapper.__doc__ = fn.__name__, fn.__doc__
        return wrapper


class no_grad(_GradMode):
    """Turn recording off: results of operations inside have no history."""

    enabled = False


class enable_grad(_GradMode):
    """Turn recording back on, e.g. inside a ``no_grad`` block."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Turn recording on or off (``set_grad_enabled(False)`` is ``no_grad()``)."""

    def __init__(self, mode):
        self.enabled = bool(mode)
        self._prev = _state["grad"]
        _state["grad"] = self.enabled  # also works as a plain function call

    def __enter__(self):
        pass


def is_grad_enabled():
    """True when operations are being recorded on the tape."""
    return _state["grad"]


class detect_anomaly:
    """Context manager: the first op whose forward or backward gives NaN/inf raises.

    The error names the op and the scope it ran in.
    """

    def __enter__(self):
        self._prev = _state["anomaly"]
        _state["anomaly"] = True

    def __exit__(self, *exc):
        _state["anomaly"] = self._prev


class scope:
    """Label every record made inside with ``name``; scopes nest with ``/``.

    >>> with scope("lstm.l0.fwd"), scope("t=3"): ...   # records get "lstm.l0.fwd/t=3"
    """

    def __init__(self, name):
        self.name = str(name)

    def __enter__(self):
        _scopes.append(self.name)
        return self

    def __exit__(self, *exc):
        _scopes.pop()


def current_scope():
    """The scope string that new records get, '' at top level."""
    return "/".join(_scopes)


# ---------------------------------------------------------------- records
class Node:
    """One record on the tape: an op applied to inputs, producing outputs."""

    __slots__ = ("fn", "inputs", "outputs", "out_meta", "scope", "position", "freed", "__weakref__")

    def __init__(self, fn, inputs, outputs):
        self.fn = fn
        self.inputs = inputs
        self.outputs = tuple(weakref.ref(t) for t in outputs)
        self.out_meta = tuple((t.shape, t.dtype) for t in outputs)
        self.scope = "/".join(_scopes)
        self.position = next(_tape_position)
        self.freed = False

    @property
    def name(self):
        """The op's name, e.g. 'MatMul' or 'LSTMCell'."""
        return type(self.fn).__name__

    def release(self):
        """Drop the arrays saved for backward (called after a backward pass)."""
        saved = [k for k, v in vars(self.fn).items() if isinstance(v, np.ndarray)]
        for k in saved:
            delattr(self.fn, k)
        self.freed = self.freed or bool(saved)

    def __repr__(self):
        return f"<{self.name}Backward>"


class Function:
    """A differentiable primitive.  Subclasses define, side by side,

    ``forward(self, *arrays, **options) -> array or tuple of arrays`` and
    ``backward(self, *out_grads) -> one gradient (or None) per positional input``.

    Whatever backward needs is saved as attributes of ``self`` in forward.
    Gradients may have the broadcast shape: the walk sums them back.
    """

    @classmethod
    def apply(cls, *inputs, **options):
        """Run forward on the inputs' arrays and record the op when needed."""
        fn = cls()
        arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
        try:
            out = fn.forward(*arrays, **options)
        except (ValueError, IndexError, TypeError) as e:
            shapes = ", ".join(str(tuple(np.shape(a))) for a in arrays)
            raise RuntimeError(f"{cls.__name__}: {e} (input shapes {shapes})") from None
        record = _state["grad"] and any(isinstance(x, Tensor) and x.requires_grad for x in inputs)
        multi = isinstance(out, tuple)
        outs = tuple(Tensor._wrap(o, record) for o in (out if multi else (out,)))
        if _state["anomaly"]:
            _check_finite(cls.__name__, "forward", [o._data for o in outs])
        if record:
            node = Node(fn, tuple(x if isinstance(x, Tensor) else None for x in inputs), outs)
            for i, o in enumerate(outs):
                o.grad_fn, o._out_index = node, i
            # remember versions of saved tensors, to catch in-place changes before backward
            fn._versions = [(weakref.ref(x), x._version) for x in (*inputs, *outs)
                            if isinstance(x, Tensor) and _saved_by(fn, x._data)]
        return outs if multi else outs[0]

    def backward(self, *grads):
        raise NotImplementedError


def _saved_by(fn, array):
    return any(v is array for v in vars(fn).values())


def _check_finite(name, phase, arrays, where=""):
    for a in arrays:
        if a is not None and a.dtype.kind == "f" and not np.isfinite(a).all():
            raise RuntimeError(f"detect_anomaly: {name} produced NaN/inf in its {phase}{where}")


def unbroadcast(grad, shape):
    """Sum a gradient of a broadcast result back to the input's ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes).reshape(shape)


# ---------------------------------------------------------------- the walk
def backward(roots, root_grads, retain_graph=False):
    """Accumulate d(roots)/d(leaf) into every reachable leaf's ``.grad``."""
    nodes, stack = set(), [r.grad_fn for r in roots if r.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in nodes:
            continue
        nodes.add(node)
        stack.extend(x.grad_fn for x in node.inputs
                     if x is not None and x.grad_fn is not None and x.grad_fn not in nodes)

    pending = {}      # node -> list of gradients, one per output
    leaf_grads = {}   # id(leaf) -> [leaf, summed gradient]
    for root, g in zip(roots, root_grads):
        _send(root, g, pending, leaf_grads)

    for node in sorted(nodes, key=lambda n: n.position, reverse=True):
        grads = pending.pop(node, None)
        if grads is None:
            continue
        if node.freed:
            raise RuntimeError(
                f"backward: trying to backward through the graph a second time: the arrays saved by "
                f"{node.name} (scope '{node.scope}') were freed by the first backward(). "
                f"Pass retain_graph=True to the first backward() to keep them.")
        grads = [np.zeros(s, d) if g is None else g for g, (s, d) in zip(grads, node.out_meta)]
        for i, ref in enumerate(node.outputs):
            out = ref()
            if out is not None and (out._hooks or out._retains_grad):
                grads[i] = out._run_hooks(grads[i])
                if out._retains_grad:
                    out._accumulate(grads[i])
        for ref, v in node.fn._versions:
            x = ref()
            if x is not None and x._version != v:
                raise RuntimeError(
                    f"backward: a tensor of shape {x.shape} saved by {node.name} (scope '{node.scope}') "
                    f"was modified in place after it was saved (version {v} -> {x._version})")
        in_grads = node.fn.backward(*grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if _state["anomaly"]:
            _check_finite(node.name, "backward", in_grads, f" (scope '{node.scope}')")
        for x, g in zip(node.inputs, in_grads):
            if x is not None and g is not None and x.requires_grad:
                _send(x, unbroadcast(np.asarray(g), x.shape), pending, leaf_grads)
        if not retain_graph:
            node.release()

    for leaf, g in leaf_grads.values():
        leaf._accumulate(leaf._run_hooks(g))


def _send(x, g, pending, leaf_grads):
    if g.dtype != x.dtype:
        g = g.astype(x.dtype)
    if x.grad_fn is None:
        if id(x) in leaf_grads:
            leaf_grads[id(x)][1] = leaf_grads[id(x)][1] + g
        else:
            leaf_grads[id(x)] = [x, g]
        return
    slots = pending.setdefault(x.grad_fn, [None] * len(x.grad_fn.outputs))
    i = x._out_index
    slots[i] = g if slots[i] is None else slots[i] + g
