"""The tape: recording of differentiable operations and the reverse walk.

Every differentiable operation run while recording is on leaves one record
(a ``Node``) holding the op (a ``Function`` instance with whatever its
backward needs saved on it), its input tensors, weak references to its
outputs, the current scope and its position on the tape.  Creation order is
a topological order, so ``backward`` runs the records that received a
gradient from the latest position to the earliest (a heap, no recursion, no
sort).  Records live as long as the tensors that point at them, so a graph
nobody holds is freed by Python like any other object.
"""
import functools
import heapq
import importlib
import inspect
import itertools
import operator
import re
import traceback
import warnings
import weakref

import numpy as np

Tensor = None  # set by tensor.py once the class exists (avoids an import cycle)

_state = {"grad": True, "anomaly": False, "check_nan": True,
          "partial": False}  # partial: inside autograd.grad() or backward(inputs=...)
_scopes = []
_scope_name = [""]  # "/".join(_scopes), kept up to date so recording an op needs no join
_tape_position = itertools.count()

# In PyTorch inf and nan arise quietly (log(0), x / 0, exp(1000)); numpy warns (a RuntimeWarning, an
# error under -W error).  Every op's forward therefore runs with numpy's floating-point errors ignored,
# and so does the backward walk.  numpy >= 2 keeps that state in a context variable, set here directly:
# np.errstate costs about 2 us per op, half the cost of recording a small one.
try:
    from numpy._core._ufunc_config import _extobj_contextvar, _make_extobj
    _IGNORE = _make_extobj(all="ignore")

    def _quiet_numpy():
        """Ignore numpy's floating-point errors until ``_loud_numpy(token)``."""
        return _extobj_contextvar.set(_IGNORE)

    def _loud_numpy(token):
        """Restore the error state ``_quiet_numpy`` replaced."""
        _extobj_contextvar.reset(token)
except ImportError:  # another numpy layout: the public (slower) way
    def _quiet_numpy():
        """Ignore numpy's floating-point errors until ``_loud_numpy(state)``."""
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def _loud_numpy(state):
        """Restore the error state ``_quiet_numpy`` replaced."""
        state.__exit__(None, None, None)


# ---------------------------------------------------------------- grad mode
class _GradMode:
    """Context manager and decorator that sets whether operations are recorded."""

    enabled = True

    def __new__(cls, fn=None):
        if callable(fn):  # used as a bare decorator: @no_grad
            return cls()(fn)
        return super().__new__(cls)

    def __enter__(self):
        self._prev = _state["grad"]
        _state["grad"] = self.enabled

    def __exit__(self, *exc):
        _state["grad"] = self._prev

    def __call__(self, fn):
        mode = self.enabled
        if inspect.isgeneratorfunction(fn):
            def gen_wrapper(*args, **kwargs):  # the mode holds while the generator body runs, as in PyTorch
                gen = fn(*args, **kwargs)
                resume, value = gen.send, None
                while True:
                    prev, _state["grad"] = _state["grad"], mode
                    try:
                        item = resume(value)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        _state["grad"] = prev
                    try:
                        value, resume = (yield item), gen.send
                    except GeneratorExit:
                        gen.close()
                        raise
                    except BaseException as e:  # thrown into the wrapper: pass it on to the generator
                        value, resume = e, gen.throw

            return functools.wraps(fn)(gen_wrapper)

        def wrapper(*args, **kwargs):
            prev, _state["grad"] = _state["grad"], mode
            try:
                return fn(*args, **kwargs)
            finally:
                _state["grad"] = prev

        return functools.wraps(fn)(wrapper)


class no_grad(_GradMode):
    """Turn recording off: results of operations inside have no history."""

    enabled = False


class inference_mode(_GradMode):
    """Like ``no_grad`` (``inference_mode(False)`` records as usual)."""

    def __init__(self, mode=True):
        self.enabled = not mode


class enable_grad(_GradMode):
    """Turn recording back on, e.g. inside a ``no_grad`` block."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Turn recording on or off (``set_grad_enabled(False)`` is ``no_grad()``)."""

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
                            f"{type(mode).__name__}")
        self.enabled = mode
        self._prev = _state["grad"]
        _state["grad"] = self.enabled  # also works as a plain function call

    def __enter__(self):
        pass

    def __call__(self, fn):
        _state["grad"] = self._prev  # as a decorator it only applies inside the call
        return super().__call__(fn)


def is_grad_enabled():
    """True when operations are being recorded on the tape."""
    return _state["grad"]


def _set_anomaly(enabled, check_nan):
    _state["anomaly"], _state["check_nan"] = bool(enabled), bool(check_nan)


class detect_anomaly:
    """Context manager for debugging backward passes, as ``torch.autograd.detect_anomaly``.

    Records made inside remember where their forward ran, and an error in their backward first
    warns with that traceback; with ``check_nan`` (the default) a backward that returns NaN for
    an input raises RuntimeError naming the function ("Function 'DivBackward0' returned nan values
    in its 1th output.").  Forward values are not checked, as in PyTorch.
    """

    def __init__(self, check_nan=True):
        self.prev, self.prev_check_nan = _state["anomaly"], _state["check_nan"]
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self):
        _set_anomaly(True, self.check_nan)

    def __exit__(self, *exc):
        _set_anomaly(self.prev, self.prev_check_nan)


class set_detect_anomaly:
    """Turn anomaly detection (see ``detect_anomaly``) on or off: as a function call, or as a context
    manager that restores the previous setting on exit."""

    def __init__(self, mode, check_nan=True):
        self.prev, self.prev_check_nan = _state["anomaly"], _state["check_nan"]
        _set_anomaly(mode, check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _set_anomaly(self.prev, self.prev_check_nan)


def is_anomaly_enabled():
    """True while anomaly detection is on."""
    return _state["anomaly"]


def is_anomaly_check_nan_enabled():
    """True when anomaly detection (if on) checks backward results for NaN."""
    return _state["check_nan"]


class scope:
    """Label every record made inside with ``name``; scopes nest with ``/``.

    >>> from tinybptt import scope, current_scope
    >>> with scope("lstm.l0.fwd"), scope("t=3"):
    ...     current_scope()  # every record made here gets this label
    'lstm.l0.fwd/t=3'
    """

    def __init__(self, name):
        self.name = str(name)

    def __enter__(self):
        _scopes.append(self.name)
        _scope_name[0] = "/".join(_scopes)
        return self

    def __exit__(self, *exc):
        _scopes.pop()
        _scope_name[0] = "/".join(_scopes)


def current_scope():
    """The scope string that new records get, '' at top level."""
    return _scope_name[0]


# ---------------------------------------------------------------- records
class Node:
    """One record on the tape: an op applied to inputs, producing outputs."""

    __slots__ = ("fn", "inputs", "versions", "outputs", "out_meta", "scope", "position", "freed", "watched",
                 "out_version", "__weakref__")

    def __init__(self, fn, inputs, versions, outputs):
        self.fn = fn
        self.inputs = inputs        # Tensor, or None for a non-tensor argument
        self.versions = versions    # each input's _version when recorded (to catch in-place changes)
        # out_meta: (shape, dtype) of each output, for a zero gradient of an unused output (and for viz)
        if len(outputs) == 1:  # the common case, without building tuples through map
            self.outputs, self.out_meta = (weakref.ref(outputs[0]),), (_shape_dtype(outputs[0]),)
        else:
            self.outputs, self.out_meta = tuple(map(weakref.ref, outputs)), tuple(map(_shape_dtype, outputs))
        self.scope = _scope_name[0]
        self.position = next(_tape_position)
        self.freed = False
        self.watched = False        # an output got a hook or retain_grad(), or was changed in place
        self.out_version = 0        # the outputs' _version when made (not 0 after an in-place op, see rebase)

    @property
    def sources(self):
        """The input tensors as this record used them: an input changed in place since (``rebase``)
        is replaced by the tensor that holds the value it had then."""
        return tuple(x if x is None or x._version == v else as_recorded(x, v) for x, v in zip(self.inputs, self.versions))

    @property
    def name(self):
        """The op's name, e.g. 'MatMul' or 'LSTMCell'."""
        return type(self.fn).__name__

    def release(self):
        """Drop the arrays saved for backward (called after a backward pass)."""
        saved = self.fn.__dict__
        for k in [k for k, v in saved.items() if isinstance(v, np.ndarray)]:
            del saved[k]
            self.freed = True

    def __repr__(self):
        return f"<{self.name}Backward0>"  # PyTorch's spelling, e.g. <MulBackward0>


class Function:
    """A differentiable primitive.  Subclasses define, side by side,

    ``forward(self, *arrays, **options) -> array or tuple of arrays`` and
    ``backward(self, *out_grads) -> one gradient (or None) per positional input``.

    Whatever backward needs is saved as attributes of ``self`` in forward.
    Gradients may have the broadcast shape: the walk sums them back.
    In backward, ``self.needs_input_grad[i]`` says whether input i wants a
    gradient (set when the op is recorded), so an op can skip work nobody uses.
    """

    needs_input_grad = (True,) * 64  # default when backward is called outside the walk
    is_view = False  # True for ops whose result may share its first input's array (reshape, permute, ...)

    @classmethod
    def apply(cls, *inputs, **options):
        """Run forward on the inputs' arrays and record the op when needed."""
        fn = cls()
        arrays, versions, needs, all_tensors = [], [], [], True
        for x in inputs:  # a plain loop: this is the hot path of every op
            if isinstance(x, Tensor):
                arrays.append(x._data)
                versions.append(x._version)
                needs.append(x._requires_grad)
            else:
                arrays.append(x)
                versions.append(None)
                needs.append(False)
                all_tensors = False
        quiet = _quiet_numpy()
        try:
            out = fn.forward(*arrays, **options)
        except (ValueError, IndexError, TypeError) as e:
            raise _input_error(cls.__name__, e, arrays) from None
        finally:
            _loud_numpy(quiet)
        record = _state["grad"] and True in needs
        multi = type(out) is tuple
        outs = tuple([Tensor._wrap(o, record) for o in out]) if multi else (Tensor._wrap(out, record),)
        if record:
            if _state["anomaly"]:  # where this record was made, for an error in its backward
                fn.anomaly_trace = "".join(traceback.format_stack()[:-1])
            fn.needs_input_grad = tuple(needs)
            tensors = inputs if all_tensors else tuple([x if isinstance(x, Tensor) else None for x in inputs])
            node = Node(fn, tensors, tuple(versions), outs)
            if fn.is_view and out.base is not None and np.may_share_memory(out, arrays[0]):
                inputs[0]._add_view(outs[0])  # an in-place change of the input changes this result too
            if multi:
                for i, o in enumerate(outs):
                    o.grad_fn, o._out_index = node, i
            else:
                outs[0].grad_fn = node  # its _out_index is already 0
        return outs if multi else outs[0]

    def backward(self, *grads):
        """Gradients of the inputs from the gradients of the outputs; every subclass defines it."""
        raise NotImplementedError

    def inner_grad(self, i, grads):
        """The part of d(loss)/d(output i) that flows inside this record, through another of its
        outputs computed from output i (the fused LSTM step's h_t = o * tanh(c_t)); None: no such
        part.  Hooks, retain_grad() and autograd.grad see output i's full gradient: the arrived
        gradient plus this."""
        return None


_shape_dtype = operator.attrgetter("_data.shape", "_data.dtype")


def _input_error(name, e, arrays):
    """Re-raise numpy's complaint about bad input naming the op and the shapes (same exception type)."""
    shapes = [tuple(np.shape(a)) for a in arrays if a is not None]
    msg = str(e)
    if "broadcast" in msg and len(shapes) >= 2:
        a, b = shapes[-2], shapes[-1]
        for i in range(1, min(len(a), len(b)) + 1):
            if a[-i] != b[-i] and 1 not in (a[-i], b[-i]):
                return RuntimeError(f"{name.lower()}: The size of tensor a ({a[-i]}) must match the size of "
                                    f"tensor b ({b[-i]}) at non-singleton dimension {max(len(a), len(b)) - i} "
                                    f"(shapes {a} and {b})")
    if msg.startswith(name.lower() + ":"):  # already our own clear message
        return e
    base = next(t for t in (IndexError, TypeError, ValueError) if isinstance(e, t))
    msg = re.sub(r"out of bounds for axis (\d+)", r"out of bounds for dimension \1", msg)  # PyTorch's words
    return base(f"{name.lower()}: {msg} (input shapes {', '.join(map(str, shapes))})")


def _saved_by(fn, array):
    return any(v is array for v in vars(fn).values())


def _anomaly_backward(node, grads):
    """``node.fn.backward(*grads)`` under anomaly detection: an error, or (with check_nan) a NaN in the
    gradient of an input that needs one, warns with the traceback of the record's forward, as PyTorch."""
    name = f"{node.name}Backward0"

    def warn_forward():
        trace = node.fn.__dict__.get("anomaly_trace")
        warnings.warn(f"Error detected in {name}. " + (
            f"Traceback of forward call that caused the error:\n{trace}" if trace else
            "No forward pass information available. Enable detect anomaly during forward pass for more "
            "information."), stacklevel=4)

    try:
        in_grads = node.fn.backward(*grads)
    except Exception:
        warn_forward()
        raise
    if type(in_grads) is not tuple:
        in_grads = (in_grads,)
    if _state["check_nan"]:
        for i, (g, needed) in enumerate(zip(in_grads, node.fn.needs_input_grad)):
            if needed and g is not None and np.asarray(g).dtype.kind == "f" and np.isnan(g).any():
                warn_forward()
                where = f" (scope '{node.scope}')" if node.scope else ""
                raise RuntimeError(f"Function '{name}' returned nan values in its {i}th output.{where}")
    return in_grads


def unbroadcast(grad, shape):
    """Sum a gradient of a broadcast result back to the input's ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes).reshape(shape)


# ---------------------------------------------------------------- the walk
def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """As ``torch.autograd.backward``: accumulate d(tensors)/d(leaf) into the leaves' ``.grad``.

    ``grad_tensors`` gives one gradient per tensor (None is allowed for a
    one-element tensor); with ``inputs`` only those tensors' ``.grad`` is
    accumulated.  ``create_graph=True`` is not supported (no higher-order gradients).
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray)):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    seeds = _seeds("backward", tensors, list(grad_tensors), "grad_tensors")
    _no_create_graph("backward", create_graph)
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        if not inputs:
            raise RuntimeError("backward: `inputs` argument to `backward()` cannot be empty.")
        for x, g in zip(inputs, _run_partial(tensors, seeds, bool(retain_graph), inputs)):
            if g is not None:
                x._accumulate(g)
        return
    run_backward(tensors, seeds, bool(retain_graph))


def _no_create_graph(name, create_graph):
    if create_graph:
        raise NotImplementedError(f"{name}: create_graph=True is not supported: tinybptt has no higher-order "
                                  f"gradients (backward functions run on numpy arrays, not on recorded tensors)")


def _seeds(name, outputs, grads, arg):
    """The starting gradient of each output as an array, checked as PyTorch checks it."""
    if len(grads) != len(outputs):
        raise RuntimeError(f"{name}: got {len(outputs)} tensors and {len(grads)} gradients")
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}: expected tensors, got {type(out).__name__} at position {i}")
        if not out.requires_grad:
            raise RuntimeError(f"{name}: element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(f"{name}: grad can be implicitly created only for scalar outputs; output {i} "
                                   f"has shape {out.shape}, pass {arg}=")
            seeds.append(np.ones(out.shape, out.dtype))
            continue
        if not isinstance(g, (Tensor, np.ndarray)):  # numpy arrays are accepted as tensors
            raise TypeError(f"{name}: gradients can be either Tensors or None, but got {type(g).__name__}")
        g = np.asarray(g._data if isinstance(g, Tensor) else g)
        if g.shape != out.shape:
            raise RuntimeError(f"{name}: Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                               f"output[{i}] has a shape of {out.shape}.")
        seeds.append(g.astype(out.dtype, copy=False))
    return seeds


@np.errstate(all="ignore")  # the walk too makes inf and nan quietly (see _quiet_numpy)
def run_backward(roots, root_grads, retain_graph=False, inputs=None):
    """Accumulate d(roots)/d(leaf) into every reachable leaf's ``.grad``.

    With ``inputs`` (a list of tensors) nothing is accumulated: the gradients
    reaching those tensors are returned instead (None for an unreached one),
    and only the records on a path from the roots to them run (as in PyTorch,
    so hooks and retained gradients elsewhere are left alone).

    A record is run once all gradients for its outputs have arrived: the walk
    takes waiting records latest-first from a heap keyed by tape position
    (creation order is a topological order), so it never recurses.
    """
    pending = {}      # node -> list of gradients, one per output, summed as they arrive
    waiting = []      # heap of (-position, node) for the nodes in ``pending``
    leaf_grads = {}   # id(leaf) -> [leaf, summed gradient]
    wanted = None if inputs is None else {id(t) for t in inputs}
    keep = None if inputs is None else _toward(roots, wanted)
    captured = {}     # id(tensor) -> gradient, for ``inputs``
    for root, g in zip(roots, root_grads):
        _send(root, g, pending, waiting, leaf_grads)

    while waiting:
        node = heapq.heappop(waiting)[1]
        grads = pending.pop(node)
        if keep is not None and node not in keep:
            continue  # no wanted tensor lies behind this record
        if len(grads) > 1 and any(g is None for g in grads):  # an output nobody used: its gradient is zero
            grads = [np.zeros(s, d) if g is None else g for g, (s, d) in zip(grads, node.out_meta)]
        if node.watched or wanted:
            for i, ref in enumerate(node.outputs):
                out = ref()
                if out is None or not (out._hooks or out._retains_grad or (wanted and id(out) in wanted)):
                    continue
                inner = node.fn.inner_grad(i, grads)
                full = grads[i] if inner is None else grads[i] + inner
                hooked = out._run_hooks(full) if out._hooks else full
                if out._retains_grad:
                    out._accumulate(hooked)
                if wanted and id(out) in wanted:
                    captured[id(out)] = hooked
                if hooked is not full:  # a hook changed it: backward adds the inner part itself
                    grads[i] = hooked if inner is None else hooked - inner
        if keep is not None and not keep[node]:
            continue  # only this record's outputs are wanted: nothing behind it is
        if node.freed:
            raise RuntimeError(
                "backward: Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed when you "
                "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward through "
                f"the graph a second time (the arrays saved by {node.name} in scope '{node.scope}' are gone).")
        _check_versions(node)
        fn = node.fn
        needs = fn.needs_input_grad
        if _state["anomaly"]:
            in_grads = _anomaly_backward(node, grads)
        else:
            in_grads = fn.backward(*grads)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
        for x, g, needed, v in zip(node.inputs, in_grads, needs, node.versions):
            if needed and g is not None:
                if x._version != v:  # changed in place since: the gradient is for the value it had then
                    x = as_recorded(x, v)
                _send(x, unbroadcast(np.asarray(g), x.shape), pending, waiting, leaf_grads)
        if not retain_graph:
            node.release()

    for leaf, g in leaf_grads.values():
        if wanted is None:
            leaf._accumulate(leaf._run_hooks(g))
        elif id(leaf) in wanted:
            captured[id(leaf)] = leaf._run_hooks(g)
    if wanted is not None:
        return [captured.get(id(t)) for t in inputs]


def _run_partial(roots, root_grads, retain_graph, inputs):
    """``run_backward`` with ``inputs`` for the user's grad() / backward(inputs=...), marked as such while it
    runs (the reentrant checkpoint refuses to run inside it, as PyTorch's)."""
    previous, _state["partial"] = _state["partial"], True
    try:
        return run_backward(roots, root_grads, retain_graph, inputs=inputs)
    finally:
        _state["partial"] = previous


def _toward(roots, wanted):
    """For a walk with ``inputs``: each record on a path from the roots to a wanted tensor, mapped to
    whether its backward must run (an input leads on to a wanted tensor) or only its outputs are wanted."""
    found, stack, seen = [], [r.grad_fn for r in roots if r.grad_fn is not None], set()
    while stack:  # every record reachable from the roots, without recursion
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            found.append(node)
            stack.extend(x.grad_fn for x in node.sources if x is not None and x.grad_fn is not None)
    keep = {}
    for node in sorted(found, key=operator.attrgetter("position")):  # inputs' records come first
        runs = any(x is not None and (id(x) in wanted or x.grad_fn in keep) for x in node.sources)
        if runs or any(id(ref()) in wanted for ref in node.outputs):
            keep[node] = runs
    return keep


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple (no ``.grad`` is touched).

    As ``torch.autograd.grad``, without ``create_graph`` and ``is_grads_batched``:
    ``grad_outputs`` is needed for non-scalar outputs; an input the outputs do
    not depend on is an error unless ``allow_unused=True`` (then its gradient
    is None) or ``materialize_grads=True`` (then it is zeros).
    """
    _no_create_graph("grad", create_graph)
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not inputs:
        raise RuntimeError("grad: `inputs` argument to `grad()` cannot be empty.")
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    seeds = _seeds("grad", outputs, list(grad_outputs), "grad_outputs")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"grad: One of the differentiated Tensors does not require grad (index {i})")
    grads = _run_partial(outputs, seeds, bool(retain_graph), inputs)
    for i, g in enumerate(grads):
        if g is None and not (allow_unused or materialize_grads):
            raise RuntimeError(f"grad: The differentiated Tensor at index {i} appears to not have been used in the "
                               f"graph. Set allow_unused=True if this is the desired behavior. (shape "
                               f"{inputs[i].shape})")
    return tuple((Tensor._wrap(np.zeros(x.shape, x.dtype)) if materialize_grads else None) if g is None
                 else Tensor._wrap(np.array(g, dtype=x.dtype)) for g, x in zip(grads, inputs))


def _check_versions(node):
    """Raise if a tensor whose array the op saved was changed in place after the op was recorded."""
    changed = [(x, v) for x, v in zip(node.inputs, node.versions) if x is not None and x._version != v]
    if changed:  # an input changed in a graph since (rebase) is checked as the value this record used
        changed = [(x, v) for x, v in ((as_recorded(x, v), v) for x, v in changed) if x._version != v]
    if node.watched:
        changed += [(x, node.out_version) for x in (ref() for ref in node.outputs)
                    if x is not None and x._version != node.out_version]
    for x, v in changed:
        if _saved_by(node.fn, x._data):
            raise RuntimeError(
                f"backward: one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: the tensor of shape {x.shape} saved by {node.name} (scope '{node.scope}') has been "
                f"modified by an in-place operation; it is at version {x._version}; expected version {v} instead.")


# ---------------------------------------------------------------- in-place ops in a graph
VIEW_OPS = {"GetItem", "Reshape", "Permute", "Expand"}  # ops whose result PyTorch makes a view of its input


def rebase(t, old, result, name, reshape=False):
    """Make tensor ``t`` stand for ``result``, the out-of-place form of in-place op ``name`` applied to ``old``.

    ``old`` is a new Tensor for t's value before the op (t's array and record); it becomes the output
    of the record that made t.  t takes the result's array and record, so later uses see the new
    value and its gradient flows back through the op to ``old``.  Records that used t before still
    hold t: the walk finds ``old`` for them from the version they recorded (``as_recorded``).  No
    array saved for backward is overwritten, so they stay correct without a copy (where PyTorch,
    which changes the memory, raises if one of them saved it).
    """
    node = t.grad_fn
    if reshape:  # t_(), squeeze_(), ...: PyTorch changes t's metadata only, so t stays a view only if it was one
        result.grad_fn.fn.in_place_view = made_as_view(t)
    else:
        check_rebase(t, name)
    if result.shape != t.shape and not reshape:  # only the in-place shape ops (t_, squeeze_, ...) reshape
        raise RuntimeError(f"{name}: output with shape {list(t.shape)} doesn't match the broadcast shape "
                           f"{list(result.shape)}")
    changed_before = t._version != (node.out_version if node is not None else 0)  # in memory, e.g. under no_grad
    if node is not None:
        node.outputs = tuple(weakref.ref(old) if r() is t else r for r in node.outputs)
    history = getattr(t, "_rebased", None) or []
    t._rebased = history + [(t._version, old)]
    new = result.grad_fn
    new.outputs = tuple(weakref.ref(t) if r() is result else r for r in new.outputs)
    t._version += 1
    new.out_version = t._version
    if not changed_before:
        # what backward needs of the old value its records saved themselves; the alias only routes
        # gradients, so it keeps the shape and dtype, not the array (which can be freed).  (After a
        # change in memory the array stays: backward checks records that saved it against it.)
        old._data = np.broadcast_to(np.zeros((), t._data.dtype), t._data.shape)
    # as in PyTorch: hooks registered before belong to the old value, retain_grad() moves to the new one
    old._hooks, t._hooks = t._hooks, None
    new.watched = t._retains_grad
    t._data, t.grad_fn, t._out_index, t._requires_grad = result._data, new, result._out_index, True


def check_rebase(t, name):
    """Raise where ``rebase`` would part from PyTorch: t is a view whose change PyTorch would pass on
    to the tensor it views (or shares memory with)."""
    if made_as_view(t):
        raise NotImplementedError(
            f"{name}: in-place change of a view (made by {t.grad_fn.name.lower()}) of a tensor that is part of a "
            f"graph is not supported: PyTorch would change the tensor it views too; call clone() on the view first "
            f"(shape {t.shape})")
    if t.grad_fn is None and (t._data.base is not None or getattr(t, "_base", None) is not None):
        raise NotImplementedError(
            f"{name}: writing a value that requires grad into a tensor that shares memory with another (a view or "
            f"a detach()) is not supported: PyTorch would change the other tensor too; write into the other tensor, "
            f"or clone() this one first (shape {t.shape})")


def made_as_view(t):
    """Whether t was made in the graph by an op whose result PyTorch makes a view of its input."""
    from ..ops import _basic_index  # here: ops imports this module
    node = t.grad_fn
    if node is None or node.name not in VIEW_OPS:
        return False
    if "in_place_view" in node.fn.__dict__:  # made by an in-place shape op (see ``rebase``)
        return node.fn.in_place_view
    if node.name != "GetItem":
        return True
    index = node.fn.__dict__.get("index", VIEW_OPS)  # basic indexing only (an index array is gone after backward)
    return index is not VIEW_OPS and _basic_index(index)


def view_of_leaf(t):
    """Whether t is a view (``made_as_view``, possibly of a view) of a leaf that requires grad."""
    base = t
    while made_as_view(base):
        base = base.grad_fn.inputs[0]
    return base is not t and base.grad_fn is None and base.requires_grad


def as_recorded(x, version):
    """Tensor x as it was at ``version``: x itself, or the tensor that kept its value when an
    in-place op changed x in a graph (``rebase``)."""
    for last, old in getattr(x, "_rebased", None) or ():
        if version <= last:
            return old
    return x


def _send(x, g, pending, waiting, leaf_grads):
    """Add gradient ``g`` for tensor ``x``: to its record's slot, or to the leaf's running sum."""
    if g.dtype != x._data.dtype:
        g = g.astype(x._data.dtype)
    node = x.grad_fn
    if node is None:
        if id(x) in leaf_grads:
            leaf_grads[id(x)][1] = leaf_grads[id(x)][1] + g
        else:
            leaf_grads[id(x)] = [x, g]
        return
    slots = pending.get(node)
    if slots is None:
        slots = pending[node] = [None] * len(node.outputs)
        heapq.heappush(waiting, (-node.position, node))
    i = x._out_index
    slots[i] = g if slots[i] is None else slots[i] + g


def __getattr__(name):
    """``tinybptt.autograd.functional`` (and the legacy ``Variable``) is imported on first use (it needs the Tensor class, which imports
    this module)."""
    if name == "functional":
        return importlib.import_module(f"{__name__}.functional")
    if name == "Variable":  # the legacy constructor (tinybptt/legacy.py needs the Tensor class too)
        return importlib.import_module("tinybptt.legacy").Variable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
