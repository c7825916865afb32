"""Tensor: an ``np.ndarray`` plus what autograd needs (grad, grad_fn, hooks)."""
import builtins
import collections
import numbers
import sys
import warnings
import weakref

import numpy as np

from . import autograd
from . import ops
from . import printing
from .devices import CPU, check_device, to_dtype
from .windows import Unfold

ReturnMinMax = collections.namedtuple("ReturnMinMax", ["values", "indices"])
_default_float = [np.dtype(np.float32)]  # set by tinybptt.set_default_dtype


def default_float():
    """The dtype that floating-point factories, Python floats and int-to-float results get (float32 unless
    ``tinybptt.set_default_dtype`` changed it)."""
    return _default_float[0]


def as_dtype(dtype):
    """Normalise a dtype given as tinybptt/numpy dtype, type or string ('float32')."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        dtype = dtype.replace("torch.", "")
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}: use tinybptt.float32, float64 or int64") from None


def _infer_array(data, dtype=None):
    """Convert data to an array the way PyTorch does: Python floats -> the default dtype (float32)."""
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, np.ndarray):
        return data.astype(dtype, copy=False) if dtype is not None else data
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    try:
        arr = np.asarray(data)
        if data is None:
            raise RuntimeError("tensor: Could not infer dtype of NoneType")
        if arr.dtype == object and arr.ndim == 0:
            raise TypeError(f"tensor: new(): invalid data type '{type(data).__name__}'")
        if arr.dtype == object:
            arr = np.asarray([np.asarray(_infer_array(x)) for x in data])
    except ValueError:
        raise ValueError(f"tensor: {_ragged(data) or 'data is not a (nested) sequence of numbers'}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor: new(): invalid data type '{type(data).__name__ if arr.ndim == 0 else arr.dtype}'")
    if dtype is None and arr.dtype == np.float64 and not _holds_float64(data):
        dtype = _default_float[0]
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def _ragged(data, dim=0):
    """PyTorch's message for nested sequences of unequal lengths, or None."""
    if not isinstance(data, (list, tuple)) or not data:
        return None
    lengths = [len(x) if isinstance(x, (list, tuple)) else None for x in data]
    for n in lengths[1:]:
        if n != lengths[0]:
            return f"expected sequence of length {lengths[0]} at dim {dim + 1} (got {n})"
    return next((m for m in (_ragged(x, dim + 1) for x in data) if m), None)


def _holds_float64(data):
    """True when nested lists hold a numpy float64 scalar or array (PyTorch then keeps float64)."""
    if isinstance(data, (np.float64, np.ndarray)):
        return data.dtype == np.float64
    if isinstance(data, (list, tuple)):
        return any(_holds_float64(x) for x in data)
    return False


def trunc_divide(a, b):
    """a / b rounded towards zero; exact for integers."""
    if a.dtype.kind in "iub" and b.dtype.kind in "iub":
        return np.floor_divide(np.abs(a), np.abs(b)) * (np.sign(a) * np.sign(b))
    return np.trunc(np.true_divide(a, b))


class Tensor:
    """An n-dimensional array that can record the operations applied to it."""

    __slots__ = ("_data", "_requires_grad", "_grad", "grad_fn", "_out_index", "_version",
                 "_hooks", "_retains_grad", "_base", "_rebased", "_post_hooks", "_views", "__weakref__")
    # _base, _rebased, _post_hooks and _views are set only by detach(), autograd.rebase,
    # register_post_accumulate_grad_hook and _add_view
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected op

    def __init__(self, data, dtype=None, requires_grad=False):
        self._data = _infer_array(data, dtype)
        self._grad, self.grad_fn, self._out_index, self._version = None, None, 0, 0
        self._hooks, self._retains_grad = None, False  # _hooks: a list once a hook is registered
        self._requires_grad = False
        if requires_grad:
            if self._data.dtype.kind != "f":
                raise RuntimeError(f"requires_grad_: only floating point tensors can require gradients, got dtype "
                                   f"{self._data.dtype} (Only Tensors of floating point and complex dtype can "
                                   f"require gradients)")
            self._requires_grad = True

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        t = cls.__new__(cls)
        t._data = array if isinstance(array, np.ndarray) else np.asarray(array)
        t._grad, t.grad_fn, t._out_index, t._version = None, None, 0, 0
        t._hooks, t._retains_grad, t._requires_grad = None, False, requires_grad
        return t

    # ------------------------------------------------------------ basic attributes
    shape = property(lambda self: self._data.shape, doc="Tuple of dimension sizes.")
    ndim = property(lambda self: self._data.ndim, doc="Number of dimensions.")
    dtype = property(lambda self: self._data.dtype, doc="The numpy dtype of the elements.")
    is_leaf = property(lambda self: self.grad_fn is None, doc="True when no recorded op made this tensor.")
    T = property(lambda self: self.permute(*reversed(range(self.ndim))), doc="Reversed dimensions.")
    mT = property(lambda self: self.transpose(-2, -1), doc="Last two dimensions swapped.")
    device = property(lambda self: CPU, doc="Always device('cpu').")
    is_cuda = property(lambda self: False, doc="Always False: tensors live on the CPU.")

    def is_floating_point(self):
        """True when the dtype is a floating-point one."""
        return self._data.dtype.kind == "f"

    def size(self, dim=None):
        """Shape, or the size of one dimension."""
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        """Number of dimensions."""
        return self.ndim

    def numel(self):
        """Number of elements."""
        return self._data.size

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    @property
    def data(self):
        """A tensor sharing this one's memory, without history (changes to it bypass autograd)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value):
        self._data = _infer_array(value)

    @property
    def grad(self):
        """Gradient accumulated by ``backward`` (a Tensor), or None.

        Reading it on a non-leaf tensor that does not retain its gradient warns, as PyTorch does.
        """
        if self._grad is None and self.grad_fn is not None and not self._retains_grad:
            warnings.warn(_NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value, dtype=self.dtype)
        if value is not None and value.shape != self.shape:
            raise RuntimeError(f"assigned grad has shape {value.shape}, tensor has shape {self.shape}: attempting "
                               f"to assign a gradient of size '{list(value.shape)}' to a tensor of size "
                               f"'{list(self.shape)}'. Please ensure that the gradient and the tensor are the same "
                               f"size")
        if value is not None and value.dtype != self.dtype:
            raise RuntimeError(f"attempting to assign a gradient with dtype '{value.dtype}' to a tensor with dtype "
                               f"'{self.dtype}'. The gradient must match the tensor's dtype")
        self._grad = value

    @property
    def requires_grad(self):
        """Whether operations on this tensor are recorded (set it only on leaves, as in PyTorch)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        self.requires_grad_(value)

    def numpy(self):
        """The underlying array (shares memory)."""
        if self._requires_grad:
            raise RuntimeError("numpy(): Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        return self._data if dtype is None else self._data.astype(dtype)

    def __dlpack__(self, **kwargs):
        """A DLPack capsule of the array (shares memory): ``torch.from_dlpack(t)``, ``torch.tensor(t)``."""
        if self._requires_grad:
            raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        """(device type, device id) for DLPack: the CPU."""
        return self._data.__dlpack_device__()

    def item(self):
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"item(): a tensor with {self._data.size} elements cannot be converted to a scalar "
                               f"(a Tensor with {self._data.size} elements cannot be converted to Scalar)")
        return self._data.item()

    def tolist(self):
        """Nested Python lists of the values."""
        return self._data.tolist()

    def __repr__(self):
        a, suffixes = self._data, []
        if a.size == 0 and a.ndim != 1:  # as torch: an empty tensor's shape is named
            suffixes.append(f"size={a.shape}")
        if a.dtype not in (_default_float[0], np.int64, np.bool_):  # as torch: the default dtype unnamed
            suffixes.append(f"dtype=tinybptt.{a.dtype}")
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return printing.tensor_repr(a, suffixes)

    def __format__(self, format_spec):
        """As PyTorch: a 0-d Tensor formats as its value (``f"{loss:.4f}"``), anything else as ``str``."""
        if self._data.ndim == 0 and type(self) is Tensor:
            return self._data.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"bool(): Boolean value of Tensor with more than one value is ambiguous "
                               f"(shape {self.shape})")
        return bool(self._data)

    def __hash__(self):
        return id(self)

    def _scalar(self):
        if self._data.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars, got shape {self.shape}")
        return self._data.item()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __index__(self):
        if self._data.size != 1 or self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self._data.item())

    # ------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad=True):
        """Set whether gradients are recorded for this leaf (in place)."""
        if requires_grad and self._data.dtype.kind != "f":
            raise RuntimeError(f"requires_grad_: only floating point tensors can require gradients, "
                               f"got dtype {self._data.dtype} (only Tensors of floating point dtype can require "
                               f"gradients)")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_: you can only change requires_grad flags of leaf variables. If you "
                               "want to use a computed variable in a subgraph that doesn't require differentiation "
                               "use var_no_grad = var.detach().")
        self._requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the ``.grad`` of every leaf it depends on
        (only into ``inputs``' ``.grad`` when given).  ``create_graph=True`` is not supported."""
        if not self._requires_grad:
            raise RuntimeError("backward: tensor does not require grad and has no grad_fn: element 0 of tensors "
                               "does not require grad and does not have a grad_fn (no input had "
                               "requires_grad=True, or it was made under no_grad)")
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs; "
                                   f"this tensor has shape {self.shape}, pass gradient=")
            gradient = np.array(1, self._data.dtype).reshape(self._data.shape)
        else:
            if not isinstance(gradient, (Tensor, np.ndarray)):  # numpy arrays are accepted as tensors
                raise TypeError(f"backward: gradients can be either Tensors or None, but got "
                                f"{type(gradient).__name__}")
            gradient = _infer_array(gradient, self.dtype)
            if gradient.shape != self.shape:
                raise RuntimeError(f"backward: Mismatch in shape: gradient has shape {gradient.shape}, tensor has "
                                   f"shape {self.shape}")
        if create_graph or inputs is not None:
            return autograd.backward(self, Tensor._wrap(gradient), retain_graph, create_graph, inputs)
        autograd.run_backward([self], [gradient], retain_graph=bool(retain_graph))

    def detach(self):
        """A tensor sharing this one's data, cut from the graph.

        As in PyTorch, an in-place change of the detached tensor counts as a
        change of this one too, so backward still catches it.
        """
        t = Tensor._wrap(self._data)
        t._base = weakref.ref(self)  # weak: a detached state must not keep the old graph alive
        return t

    def detach_(self):
        """Cut this tensor from the graph in place, making it a leaf.

        As in PyTorch a view made in the graph (indexing, reshape, squeeze, permute, expand)
        cannot be detached in place: use ``detach()``.
        """
        if autograd.made_as_view(self):
            raise RuntimeError(f"Can't detach views in-place. Use detach() instead. (detach_ of a tensor of shape "
                               f"{self.shape} made by {self.grad_fn.name.lower()} of another tensor of the graph)")
        self.grad_fn, self._requires_grad = None, False
        self._rebased = None  # the values it had before in-place ops (and their graphs) are no longer reachable
        return self

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self._retains_grad = self.grad_fn.watched = True

    @property
    def retains_grad(self):
        """True when ``retain_grad()`` was called on this non-leaf tensor."""
        return self._retains_grad

    def register_hook(self, hook):
        """Call ``hook(grad)`` when the gradient w.r.t. this tensor is computed.

        The hook may return a new gradient that replaces it.  Returns a handle
        with ``remove()``.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require gradient")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        if self.grad_fn is not None:
            self.grad_fn.watched = True
        hooks = self._hooks
        return _HookHandle(lambda: hook in hooks and hooks.remove(hook))

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after backward has accumulated this leaf's gradient into ``.grad``
        (``autograd.grad`` does not).  Returns a handle with ``remove()``."""
        if not self._requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        hooks = getattr(self, "_post_hooks", None)
        if hooks is None:
            hooks = self._post_hooks = []
        hooks.append(hook)
        return _HookHandle(lambda: hook in hooks and hooks.remove(hook))

    def _run_hooks(self, g):
        for hook in list(self._hooks or ()):
            out = hook(Tensor._wrap(g))
            if out is not None:
                new = _infer_array(out)
                name = getattr(hook, "__name__", type(hook).__name__)
                if new.shape != g.shape:
                    raise RuntimeError(f"hook '{name}' has changed the size of value: it returned shape "
                                       f"{new.shape} for a gradient of shape {g.shape}")
                if new.dtype != g.dtype:
                    raise RuntimeError(f"hook '{name}' has changed the type of value (was {g.dtype} got {new.dtype})")
                g = new
        return g

    def _accumulate(self, g):
        if self._grad is None:
            self._grad = Tensor._wrap(np.array(g, dtype=self.dtype, copy=True))
        else:
            self._grad._data += g
        for hook in list(getattr(self, "_post_hooks", None) or ()):
            hook(self)

    def zero_(self):
        """Fill with zeros in place."""
        return self.fill_(0)

    def fill_(self, value):
        """Fill with ``value`` (a number or a 0-d tensor) in place."""
        return self._assign("fill_", Ellipsis, value)

    def copy_(self, src):
        """Copy values of ``src`` into this tensor in place (broadcasting); in a graph the gradient flows to ``src``."""
        return self._assign("copy_", Ellipsis, src)

    def _bump_version(self, through_base=True):
        """Count an in-place change (backward checks saved tensors against it), in the recorded views of
        this tensor's array too: they changed with it (PyTorch's views share their base's counter)."""
        self._version += 1
        if self.grad_fn is not None:
            self.grad_fn.watched = True  # the walk must look at this output's version
        for view in tuple(getattr(self, "_views", None) or ()):
            view._bump_version(through_base=False)
        base = getattr(self, "_base", None)
        if through_base and base is not None and base() is not None:
            base()._bump_version()

    def _add_view(self, view):
        """Remember ``view``, a recorded op's result sharing this tensor's array (weakly: views come and go)."""
        views = getattr(self, "_views", None)
        if views is None:
            self._views = views = weakref.WeakSet()
        views.add(view)

    def _check_inplace(self, name, view=False):
        """PyTorch's refusal to change in place, while recording, a leaf that requires grad, or a view of one
        (``view``: the change goes through a basic index of this tensor, as ``x[0] = v``)."""
        if not autograd.is_grad_enabled():
            return
        leaf = self._requires_grad and self.grad_fn is None
        if leaf or autograd.view_of_leaf(self):
            what = "a view of a leaf Variable" if view or not leaf else "a leaf Variable"
            raise RuntimeError(f"{name}: {what} that requires grad is being used in an in-place operation. "
                               f"(Change a leaf tensor that requires grad only inside tinybptt.no_grad().)")

    def __setitem__(self, index, value):
        index = _index_array(index)
        self._assign("__setitem__", index, value, view=index is not Ellipsis and ops._basic_index(index))

    def _assign(self, name, index, value, view=False):
        """self[index] = value in place (``__setitem__``, ``copy_``, ``fill_``); recorded when in a graph
        (``view``: ``index`` is a basic index, so PyTorch writes through a view of this tensor)."""
        self._check_inplace(name, view)
        if autograd.is_grad_enabled() and (self._requires_grad or getattr(value, "_requires_grad", False)):
            autograd.check_rebase(self, name)  # before anything is written
            # no record saved this array and no view of it exists when it owns its memory and this
            # tensor holds the only reference: then the assignment writes into it (a decoder filling
            # outputs[t] stays O(T))
            sole = self._data.base is None and sys.getrefcount(self._data) == 2
            return self._inplace(name, lambda t: ops.SetItem.apply(t, value, index=index, inplace=sole))
        value = value._data if isinstance(value, Tensor) else _infer_array(value, self.dtype)
        try:
            self._data[index] = value
        except (IndexError, ValueError) as e:  # numpy's words, turned into the op's and the shapes
            raise autograd._input_error(name.strip("_"), e, [self._data, value]) from None
        self._bump_version()
        return self

    # ------------------------------------------------------------ conversions
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        """Convert to a dtype as PyTorch's ``to``: to(dtype), to(device, dtype), to(other_tensor),
        to(device=..., dtype=...); the device must be the CPU.  ``copy=True`` always returns a new tensor."""
        dtype = as_dtype(to_dtype("to", args, dtype, device))
        if copy and (dtype is None or dtype == self.dtype):
            return self.clone()
        if dtype is None or dtype == self.dtype:
            return self
        if dtype.kind != "f":  # an integer or bool result has no gradient (as in PyTorch)
            return Tensor._wrap(self._data.astype(dtype))
        return ops.Cast.apply(self, dtype=dtype)

    def type(self, dtype=None, non_blocking=False):
        """With no dtype, the tensor type's name as PyTorch gives it ('torch.FloatTensor'); else ``to(dtype)``."""
        if dtype is None:
            return f"torch.{_torch_type(self.dtype)}Tensor"
        return self.to(dtype)

    def float(self):
        """A float32 copy (self when already float32)."""
        return self.to(np.float32)

    def double(self):
        """A float64 copy (self when already float64)."""
        return self.to(np.float64)

    def long(self):
        """An int64 copy, without gradient (self when already int64)."""
        return self.to(np.int64)

    def int(self):
        """An int32 copy, without gradient (self when already int32)."""
        return self.to(np.int32)

    def bool(self):
        """A bool copy (self when already bool)."""
        return self.to(np.bool_)

    def short(self):
        """An int16 copy, without gradient (self when already int16)."""
        return self.to(np.int16)

    def char(self):
        """An int8 copy, without gradient (self when already int8)."""
        return self.to(np.int8)

    def byte(self):
        """A uint8 copy, without gradient (self when already uint8)."""
        return self.to(np.uint8)

    def cpu(self):
        """Returns self: tensors always live on the CPU."""
        return self

    def cuda(self, device=None, non_blocking=False):
        """Raises AssertionError: tinybptt has no CUDA (as PyTorch built without it)."""
        check_device("cuda", "cuda")

    def type_as(self, other):
        """This tensor converted to ``other``'s dtype."""
        return self.to(other.dtype)

    def new_zeros(self, *size, dtype=None):
        """Zeros of ``size`` with this tensor's dtype (unless ``dtype``)."""
        size = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        return Tensor._wrap(np.zeros(size, as_dtype(dtype) or self.dtype))

    def new_empty(self, *size, dtype=None):
        """A tensor of ``size`` with this tensor's dtype (unless ``dtype``); here its values are zeros."""
        return self.new_zeros(*size, dtype=dtype)

    def new_ones(self, *size, dtype=None):
        """Ones of ``size`` with this tensor's dtype (unless ``dtype``)."""
        size = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        return Tensor._wrap(np.ones(size, as_dtype(dtype) or self.dtype))

    def new_full(self, size, fill_value, dtype=None):
        """``fill_value`` everywhere in ``size``, with this tensor's dtype (unless ``dtype``)."""
        return Tensor._wrap(np.full(size, fill_value, as_dtype(dtype) or self.dtype))

    def new_tensor(self, data, dtype=None):
        """A new tensor from ``data`` with this tensor's dtype (unless ``dtype``)."""
        return Tensor(np.array(_infer_array(data), dtype=as_dtype(dtype) or self.dtype))

    def clone(self):
        """A copy with its own memory that stays in the graph."""
        return ops.Clone.apply(self)

    def is_contiguous(self):
        """True: as ``contiguous()`` says, every tensor here can be viewed and reshaped whatever its layout."""
        return True

    def contiguous(self):
        """This tensor itself (numpy-backed tensors need no copy to be contiguous)."""
        return self

    # ------------------------------------------------------------ arithmetic
    def _other(self, x):
        """Turn a Python/numpy operand into an array of a matching dtype."""
        if isinstance(x, Tensor):
            return x
        if isinstance(x, numbers.Number) and not isinstance(x, np.ndarray):
            kind = self.dtype.kind
            if kind == "f" or (kind in "iu" and isinstance(x, numbers.Integral)):
                return np.asarray(x, dtype=self.dtype)  # a Python scalar takes the tensor's dtype
            if isinstance(x, (bool, np.bool_)):
                return np.asarray(x)
            return np.asarray(x, dtype=np.int64 if isinstance(x, numbers.Integral) else _default_float[0])
        return _infer_array(x)

    def _pair(self, o):
        """(self, o) with o made an array and the dtypes resolved as PyTorch promotes them:
        a floating operand beats an integer one, and a dimensioned tensor beats a 0-d one of its kind."""
        if isinstance(o, Tensor) and o._data.dtype == self._data.dtype:  # the common case, first
            return self, o
        o = self._other(o)
        if o.dtype == self.dtype:
            return self, o
        rank = {"b": 0, "i": 1, "u": 1, "f": 2}
        ks, ko = rank.get(self.dtype.kind, 3), rank.get(o.dtype.kind, 3)
        if ks != ko:
            dtype = self.dtype if ks > ko else o.dtype
        elif (self.ndim == 0) != (o.ndim == 0):
            dtype = o.dtype if self.ndim == 0 else self.dtype
        else:
            dtype = np.result_type(self.dtype, o.dtype)
        return (self if self.dtype == dtype else self.to(dtype),
                o if o.dtype == dtype else o.to(dtype) if isinstance(o, Tensor) else o.astype(dtype))

    def __add__(self, o): return ops.Add.apply(*self._pair(o))
    def __radd__(self, o): return ops.Add.apply(*self._pair(o)[::-1])
    def __sub__(self, o): return ops.Sub.apply(*self._no_bool_sub(o)._pair(o))
    def __rsub__(self, o): return ops.Sub.apply(*self._no_bool_sub(o)._pair(o)[::-1])

    def _no_bool_sub(self, o):
        """Raise as PyTorch does for ``-`` with a bool operand; else return self."""
        bools = (self._data.dtype == np.bool_) + (isinstance(o, (bool, np.bool_)) or
                                                   getattr(o, "dtype", None) == np.bool_)
        if bools == 2:
            raise RuntimeError("sub: Subtraction, the `-` operator, with two bool tensors is not supported. "
                               "Use the `^` or `logical_xor()` operator instead.")
        if bools:
            raise RuntimeError("sub: Subtraction, the `-` operator, with a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.")
        return self
    def __mul__(self, o): return ops.Mul.apply(*self._pair(o))
    def __rmul__(self, o): return ops.Mul.apply(*self._pair(o)[::-1])
    def __truediv__(self, o): return ops.Div.apply(*self._pair(o))
    def __rtruediv__(self, o): return ops.Div.apply(*self._pair(o)[::-1])
    def __pow__(self, o): return ops.Pow.apply(*self._pair(o))
    def __rpow__(self, o): return ops.Pow.apply(*self._pair(o)[::-1])
    def __matmul__(self, o): return ops.MatMul.apply(self, _infer_array(o) if not isinstance(o, Tensor) else o)
    def __rmatmul__(self, o): return ops.MatMul.apply(_infer_array(o), self)
    def __neg__(self):
        if self._data.dtype == np.bool_:
            raise RuntimeError("neg: Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                               "to invert a mask, use the `~` or `logical_not()` operator instead.")
        return ops.Neg.apply(self)

    def __pos__(self): return self
    def __abs__(self): return ops.Abs.apply(self)

    def _no_grad_binary(self, o, f, reflected=False):
        """An elementwise op without gradient (floor division, remainder), with PyTorch's dtype promotion."""
        a, b = (np.asarray(x) for x in self._pair(o))
        ops._broadcast_check(f.__name__, a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            return Tensor._wrap(np.asarray(f(b, a) if reflected else f(a, b)))

    def __floordiv__(self, o): return self._no_grad_binary(o, np.floor_divide)
    def __rfloordiv__(self, o): return self._no_grad_binary(o, np.floor_divide, True)
    def __mod__(self, o): return self._no_grad_binary(o, np.remainder)
    def __rmod__(self, o): return self._no_grad_binary(o, np.remainder, True)

    def _inplace(self, name, compute):
        """In-place op ``name``, whose out-of-place form is ``compute(tensor) -> Tensor``.

        Outside a graph the result is written into this tensor's memory.  In a graph (this
        tensor or an argument requires grad, while recording) the op is recorded as
        ``compute`` and this tensor takes the result's place, as in PyTorch: later uses see
        the new value and its gradient flows back through the op, while records made before
        keep the old value (``autograd.rebase``)."""
        self._check_inplace(name)
        if not autograd.is_grad_enabled():
            result = compute(self)
            _check_cast(name, result.dtype, self.dtype)
        else:
            old = Tensor._wrap(self._data, self._requires_grad)
            old.grad_fn, old._out_index, old._version = self.grad_fn, self._out_index, self._version
            result = compute(old)
            _check_cast(name, result.dtype, self.dtype)
            if result._requires_grad:
                if result.dtype != self.dtype:
                    result = result.to(self.dtype)
                autograd.rebase(self, old, result, name)
                return self
        if result.shape != self.shape:
            raise RuntimeError(f"{name}: output with shape {list(self.shape)} doesn't match the broadcast shape "
                               f"{list(result.shape)}")
        self._data[...] = result._data
        self._bump_version()
        return self

    def __iadd__(self, o): return self.add_(o)
    def __isub__(self, o): return self.sub_(o)
    def __imul__(self, o): return self.mul_(o)
    def __itruediv__(self, o): return self.div_(o)

    def add_(self, o, alpha=1):
        """In place: self += alpha * o."""
        return self._inplace("add_", lambda t: t + (o if alpha == 1 else alpha * self._other(o)))

    def sub_(self, o, alpha=1):
        """In place: self -= alpha * o."""
        return self._inplace("sub_", lambda t: t - (o if alpha == 1 else alpha * self._other(o)))

    def addcmul_(self, tensor1, tensor2, value=1):
        """In place: self += value * tensor1 * tensor2."""
        return self._inplace("addcmul_", lambda t: t.addcmul(self._other(tensor1), self._other(tensor2), value=value))

    def addcdiv_(self, tensor1, tensor2, value=1):
        """In place: self += value * tensor1 / tensor2."""
        return self._inplace("addcdiv_", lambda t: t.addcdiv(self._other(tensor1), self._other(tensor2), value=value))

    def lerp(self, end, weight):
        """self + weight * (end - self): linear interpolation towards ``end`` (weight a number or a tensor)."""
        return self + weight * (end - self)

    def lerp_(self, end, weight):
        """In place: self += weight * (end - self), e.g. an exponential moving average of weights."""
        return self._inplace("lerp_", lambda t: t + self._other(weight) * (self._other(end) - t))

    def mul_(self, o):
        """In place: self *= o."""
        return self._inplace("mul_", lambda t: t * o)

    def div_(self, o):
        """In place: self /= o."""
        return self._inplace("div_", lambda t: t / o)

    def clamp_(self, min=None, max=None):
        """In place: clip every element to [min, max] (either bound may be None)."""
        return self._inplace("clamp_", lambda t: t.clamp(min, max))

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill in place with samples from U(a, b)."""
        from .random import rng
        return self._assign("uniform_", Ellipsis, rng(generator).uniform(a, b, self.shape))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill in place with samples from N(mean, std^2)."""
        from .random import rng
        return self._assign("normal_", Ellipsis, rng(generator).normal(mean, std, self.shape))

    # comparisons: boolean tensors, never recorded
    def _cmp(self, o, f):
        b = np.asarray(self._other(o))
        ops._broadcast_check(f.__name__, self._data, b)
        try:
            return Tensor._wrap(np.asarray(f(self._data, b)))
        except TypeError as e:
            raise TypeError(f"{f.__name__}: {e} (dtypes {self.dtype} and {b.dtype})") from None

    def __eq__(self, o):
        """Elementwise ==, a bool tensor (also ``eq``); comparing with None gives False."""
        return False if o is None else self._cmp(o, np.equal)

    def __ne__(self, o):
        """Elementwise !=, a bool tensor (also ``ne``); comparing with None gives True."""
        return True if o is None else self._cmp(o, np.not_equal)

    def __lt__(self, o):
        """Elementwise <, a bool tensor (also ``lt``)."""
        return self._cmp(o, np.less)

    def __le__(self, o):
        """Elementwise <=, a bool tensor (also ``le``)."""
        return self._cmp(o, np.less_equal)

    def __gt__(self, o):
        """Elementwise >, a bool tensor (also ``gt``)."""
        return self._cmp(o, np.greater)

    def __ge__(self, o):
        """Elementwise >=, a bool tensor (also ``ge``)."""
        return self._cmp(o, np.greater_equal)

    def __and__(self, o): return self._cmp(o, np.bitwise_and)  # bool: logical; int: bitwise (as PyTorch)
    def __or__(self, o): return self._cmp(o, np.bitwise_or)
    def __xor__(self, o): return self._cmp(o, np.bitwise_xor)
    def __invert__(self): return Tensor._wrap(~self._data)
    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def logical_xor(self, o):
        """Elementwise exclusive or of the truth values, a bool tensor."""
        return self._cmp(o, np.logical_xor)

    def logical_not(self):
        """Elementwise not of the truth values, a bool tensor."""
        return Tensor._wrap(np.logical_not(self._data))

    def logical_and(self, o):
        """Elementwise and of the truth values, a bool tensor."""
        return self._cmp(o, np.logical_and)

    def logical_or(self, o):
        """Elementwise or of the truth values, a bool tensor."""
        return self._cmp(o, np.logical_or)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # ------------------------------------------------------------ elementwise functions
    def exp(self):
        """Elementwise e**x (integer input gives float32, as PyTorch)."""
        return ops.Exp.apply(self._floating())

    def log(self):
        """Elementwise natural logarithm (integer input gives float32)."""
        return ops.Log.apply(self._floating())

    def sqrt(self):
        """Elementwise square root (integer input gives float32)."""
        return ops.Sqrt.apply(self._floating())

    def abs(self):
        """Elementwise absolute value."""
        return ops.Abs.apply(self)

    def tanh(self):
        """Elementwise hyperbolic tangent (integer input gives float32)."""
        return ops.Tanh.apply(self._floating())

    def sigmoid(self):
        """Elementwise logistic sigmoid, 1 / (1 + exp(-x)) (integer input gives float32)."""
        return ops.Sigmoid.apply(self._floating())

    def sin(self):
        """Elementwise sine (integer input gives float32)."""
        return ops.Sin.apply(self._floating())

    def cos(self):
        """Elementwise cosine (integer input gives float32)."""
        return ops.Cos.apply(self._floating())

    def erf(self):
        """Elementwise error function 2/sqrt(pi) * integral_0^x exp(-t^2) dt (integer input gives float32)."""
        return ops.Erf.apply(self._floating())

    def exp2(self):
        """Elementwise 2**x (integer input gives float32)."""
        x = self._floating()
        return ops.Pow.apply(np.asarray(2, x.dtype), x)

    def expm1(self):
        """Elementwise exp(x) - 1, accurate for small x (integer input gives float32)."""
        return ops.Expm1.apply(self._floating())

    def log2(self):
        """Elementwise base-2 logarithm (integer input gives float32)."""
        return ops.LogBase.apply(self._floating(), base=2)

    def log10(self):
        """Elementwise base-10 logarithm (integer input gives float32)."""
        return ops.LogBase.apply(self._floating(), base=10)

    def frac(self):
        """Elementwise fractional part x - trunc(x), with the sign of x (gradient 1; floats only, as PyTorch)."""
        if self.dtype.kind != "f":
            raise NotImplementedError(f'frac: "frac_cpu" not implemented for \'{_torch_type(self.dtype)}\'')
        return self - self.trunc()

    def nan_to_num(self, nan=0.0, posinf=None, neginf=None):
        """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default the dtype's largest
        and smallest finite values); integer and bool tensors are copied.  The replaced elements get no
        gradient."""
        for name, v in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
            if not (v is None or isinstance(v, (numbers.Real, Tensor)) and np.ndim(v) == 0):
                raise TypeError(f"nan_to_num(): argument '{name}' must be float, not {type(v).__name__}")
        if self.dtype.kind != "f":
            return self.clone()
        with np.errstate(over="ignore"):  # a posinf beyond the dtype's range becomes inf, as PyTorch
            filled = np.nan_to_num(self._data, nan=float(nan), posinf=None if posinf is None else float(posinf),
                                   neginf=None if neginf is None else float(neginf))
        return ops.Where.apply(np.isfinite(self._data), self, filled)

    def _floating(self):
        """This tensor, or for integer and bool dtypes a copy in the default dtype (float32; what PyTorch's
        float functions compute in)."""
        return self if self.dtype.kind == "f" else self.to(_default_float[0])

    def _no_integer_softmax(self, name):
        if self.dtype.kind != "f":
            raise NotImplementedError(f"{name}: not implemented for dtype {self.dtype}; convert first with "
                                      f".float() or pass dtype= to F.{name}")

    def relu(self):
        """Elementwise max(x, 0)."""
        return ops.Relu.apply(self)

    def pow(self, p):
        """Elementwise self ** p (``p`` a number or a tensor)."""
        return self ** p

    def add(self, o, alpha=1):
        """self + alpha * o."""
        return self + o if alpha == 1 else self + o * alpha

    def neg(self):
        """Elementwise negation, -self."""
        return -self

    def reciprocal(self):
        """Elementwise 1 / x (integer input gives float32)."""
        return 1.0 / self._floating()

    def rsqrt(self):
        """Elementwise 1 / sqrt(x)."""
        return 1.0 / self.sqrt()

    def mm(self, other):
        """Matrix product of two 2-D tensors (see ``tinybptt.mm``)."""
        from .functions import mm
        return mm(self, other)

    def bmm(self, other):
        """Batched matrix product of two 3-D tensors (see ``tinybptt.bmm``)."""
        from .functions import bmm
        return bmm(self, other)

    def square(self):
        """Elementwise self * self."""
        return self * self

    def sub(self, o, alpha=1):
        """self - alpha * o."""
        return self - o if alpha == 1 else self - o * alpha

    subtract = sub

    def mul(self, o):
        """Elementwise self * o."""
        return self * o

    multiply = mul

    def div(self, o, *, rounding_mode=None):
        """Elementwise self / o: true division (integers give floats), or rounded with ``rounding_mode``
        'trunc' (towards zero) or 'floor' (as ``//``; both have no gradient)."""
        if rounding_mode is None:
            return self / o
        if rounding_mode == "floor":
            return self._no_grad_binary(o, np.floor_divide)
        if rounding_mode == "trunc":
            return self._no_grad_binary(o, trunc_divide)
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
                           f"'{rounding_mode}'")

    divide = div

    def true_divide(self, o):
        """Elementwise true division self / o."""
        return self / o

    def floor_divide(self, o):
        """Elementwise floor(self / o), as ``//`` (no gradient)."""
        return self // o

    def remainder(self, o):
        """Elementwise self mod o with the sign of ``o``, as ``%`` (no gradient)."""
        return self % o

    def fmod(self, o):
        """Elementwise C-style remainder with the sign of ``self`` (no gradient)."""
        return self._no_grad_binary(o, np.fmod)

    def matmul(self, o):
        """Matrix product self @ o (batched, broadcasting leading dims)."""
        return self @ o

    def clamp(self, min=None, max=None):
        """Elementwise min(max(self, min), max); the bounds are numbers or tensors (broadcast)."""
        if min is None and max is None:
            raise RuntimeError("clamp: At least one of 'min' or 'max' must not be None")
        x = self
        for bound in (min, max):  # the result's dtype is promoted as an arithmetic op with each bound would
            if bound is not None:
                x = x._pair(bound)[0]
        lo = None if min is None else x._pair(min)[1]
        hi = None if max is None else x._pair(max)[1]
        return ops.Clamp.apply(x, lo, hi)

    clip = clamp

    def clamp_min(self, min):
        """Elementwise max(self, min)."""
        return self.clamp(min=min)

    def clamp_max(self, max):
        """Elementwise min(self, max)."""
        return self.clamp(max=max)

    def softmax(self, dim):
        """Softmax along ``dim`` (of a 0-d tensor: 1, as PyTorch)."""
        self._no_integer_softmax("softmax")
        if self.ndim == 0:
            ops._axes(dim, 0)
            return ops.Softmax.apply(self.reshape(1), dim=0).reshape(())
        return ops.Softmax.apply(self, dim=dim)

    def log_softmax(self, dim):
        """Log of softmax along ``dim``, computed stably (of a 0-d tensor: 0)."""
        self._no_integer_softmax("log_softmax")
        if self.ndim == 0:
            ops._axes(dim, 0)
            return ops.LogSoftmax.apply(self.reshape(1), dim=0).reshape(())
        return ops.LogSoftmax.apply(self, dim=dim)

    def masked_fill(self, mask, value):
        """Where the bool ``mask`` (broadcast against this tensor) is True take ``value`` (a number or 0-d tensor).

        A 0-d ``value`` tensor that requires grad gets the gradient summed over the masked positions.
        """
        m = _bool_mask(mask, self, value)
        if isinstance(value, Tensor) and value.requires_grad:
            return ops.Where.apply(m, value if value.dtype == self.dtype else value.to(self.dtype), self)
        # the number straight to this dtype (not through float32 first: 1e300 stays finite in float64)
        v = np.asarray(value._data if isinstance(value, Tensor) else value).astype(self.dtype)
        return ops.Where.apply(m, v, self)

    def masked_fill_(self, mask, value):
        """In-place ``masked_fill``."""
        return self._inplace("masked_fill_", lambda t: t.masked_fill(mask, value))

    # ------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None):
        """Sum over ``dim`` (int or tuple; all dims when None), in ``dtype`` if given."""
        return ops.Sum.apply(self if dtype is None else self.to(dtype), dim=dim, keepdim=keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        """Mean over ``dim`` (int or tuple; all dims when None), in ``dtype`` if given.

        Unlike PyTorch, an integer or bool tensor gives its float32 mean instead of raising.
        """
        return ops.Mean.apply(self if dtype is None else self.to(dtype), dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        """Largest value; with ``dim``, a (values, indices) pair like PyTorch."""
        return self._minmax(np.max, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """Smallest value; with ``dim``, a (values, indices) pair like PyTorch."""
        return self._minmax(np.min, dim, keepdim)

    def _minmax(self, f, dim, keepdim):
        if isinstance(dim, Tensor):  # torch.max(a, b): elementwise
            return ops.Extremum.apply(*self._pair(dim), largest=f is np.max)
        if dim is None:
            return ops.MinMax.apply(self, reduce=f, dim=None, keepdim=False)
        values = ops.MinMax.apply(self, reduce=f, dim=dim, keepdim=keepdim, indices=True)
        arg = np.argmax if f is np.max else np.argmin
        idx = arg(self._data, axis=dim)
        return ReturnMinMax(values, Tensor._wrap(np.expand_dims(idx, dim) if keepdim else idx))

    def maximum(self, other):
        """Elementwise larger of two tensors."""
        return ops.Extremum.apply(*self._pair(other), largest=True)

    def minimum(self, other):
        """Elementwise smaller of two tensors."""
        return ops.Extremum.apply(*self._pair(other), largest=False)

    def amax(self, dim=None, keepdim=False):
        """Largest values over ``dim`` (all elements when None), without indices."""
        return ops.MinMax.apply(self, reduce=np.max, dim=dim, keepdim=keepdim)

    def amin(self, dim=None, keepdim=False):
        """Smallest values over ``dim`` (all elements when None), without indices."""
        return ops.MinMax.apply(self, reduce=np.min, dim=dim, keepdim=keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Index of the largest value (over the flattened tensor when dim is None)."""
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """Index of the smallest value (over the flattened tensor when dim is None)."""
        return self._arg(np.argmin, dim, keepdim)

    def _arg(self, f, dim, keepdim):
        name = f.__name__
        if self._data.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
                               if dim is None else f"{name}(): Expected reduction dim {dim} to have non-zero size.")
        if dim is None:
            idx = np.asarray(f(self._data))
            return Tensor._wrap(idx.reshape((1,) * self.ndim) if keepdim else idx)
        try:
            axes = ops._axes(dim, self.ndim)
        except IndexError as e:
            raise IndexError(f"{name}: {e}") from None
        if axes is None:  # a 0-d tensor
            return Tensor._wrap(np.zeros((), np.int64))
        idx = f(self._data, axis=axes[0], keepdims=keepdim)
        return Tensor._wrap(np.asarray(idx))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The p-norm of all elements, or along ``dim`` (p: 'fro' (= 2), 'nuc' (matrices), a number > 0, inf, -inf
        or 0; None is 2)."""
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind != "f":
            raise RuntimeError(f"norm(): input dtype should be either floating point or complex. Got {x.dtype} "
                               f"instead.")
        if p == "fro" and isinstance(dim, (tuple, list)) and len(dim) > 2:
            from .linalg import matrix_norm
            return matrix_norm(x, "fro", dim, keepdim)  # refuses it, as torch.norm
        if p is None or p == "fro" or p == 2:
            return ops.Norm2.apply(x, dim=dim, keepdim=keepdim)
        if p == "nuc":  # the nuclear norm of the matrices over dim (all dims when None), as torch.norm
            from .linalg import matrix_norm
            dim = tuple(range(x.ndim)) if dim is None else (dim,) if isinstance(dim, int) else dim
            return matrix_norm(x, "nuc", dim, keepdim)
        if isinstance(p, str):
            raise RuntimeError(f"norm: p={p!r} is not supported (use 'fro', 'nuc' or a number)")
        if p == 0:  # a count, with a zero gradient (what cdist's p=0 needs; torch.norm's is None)
            return (x != 0).to(x.dtype).sum(dim, keepdim) + x.sum(dim, keepdim) * 0
        if p in (np.inf, -np.inf) or p < 0:  # linalg's: a finite gradient at zero entries for p < 0, as torch
            from .linalg import vector_norm
            return vector_norm(x, p, dim, keepdim)
        return ops.NormP.apply(x, p, dim=dim, keepdim=keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, correction=None):
        """Variance over ``dim``, dividing by n - correction (default 1, Bessel, like PyTorch; unbiased=False: 0).

        As in PyTorch, ``var(False)`` means ``unbiased=False`` and ``dim=()`` means all dims.
        """
        if isinstance(dim, bool):  # var(unbiased) form
            dim, unbiased = None, dim
        try:
            axes = ops._axes(dim, self.ndim)
        except (IndexError, RuntimeError) as e:
            raise type(e)(f"var: {e}") from None
        n = self._data.size if axes is None else int(np.prod([self.shape[a] for a in axes]))
        correction = (1 if unbiased else 0) if correction is None else correction
        d = self - self.mean(axes, keepdim=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # n <= correction: inf/nan as PyTorch
            return (d * d).sum(axes, keepdim=keepdim) / self.dtype.type(max(n - correction, 0))

    def std(self, dim=None, unbiased=True, keepdim=False, correction=None):
        """Standard deviation over ``dim`` (the square root of ``var``)."""
        return self.var(dim, unbiased, keepdim, correction).sqrt()

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(self))) over ``dim``, computed stably."""
        return ops.LogSumExp.apply(self, dim=dim, keepdim=keepdim)

    def prod(self, dim=None, keepdim=False, dtype=None):
        """Product of all elements, or over one ``dim``."""
        x = self if dtype is None else self.to(dtype)
        if isinstance(dim, (tuple, list)):
            raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
        if x.dtype.kind in "biu" and dtype is None:
            x = x.to(np.int64)  # as PyTorch: integer and bool products are int64
        return ops.Prod.apply(x, dim=dim, keepdim=keepdim)

    def gather(self, dim, index):
        """Values picked along ``dim`` by the int64 ``index`` (same number of dims as this tensor)."""
        idx = _infer_array(index)
        if idx.dtype.kind not in "iu":
            raise RuntimeError(f"gather(): Expected dtype int32/int64 for index, got {idx.dtype}")
        return ops.Gather.apply(self, idx, dim=dim)

    def cumsum(self, dim):
        """Running sums along ``dim``."""
        return ops.CumSum.apply(self, dim=dim)

    def cumprod(self, dim, dtype=None):
        """Running products along ``dim`` (integer and bool inputs give int64, as PyTorch); zeros in the
        input get their exact gradient."""
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind in "biu" and dtype is None:
            x = x.to(np.int64)
        try:
            return ops.CumProd.apply(x, dim=dim)
        except IndexError as e:
            raise IndexError(f"cumprod: {e}") from None

    def roll(self, shifts, dims=None):
        """Shift elements cyclically by ``shifts`` along ``dims`` (over the flattened tensor when dims is None)."""
        shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
        dims = () if dims is None else tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if not shifts:
            raise RuntimeError("roll: `shifts` required")
        if len(shifts) != len(dims) and not (len(shifts) == 1 and not dims):
            raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
        if not dims:
            return ops.Roll.apply(self.reshape(-1), shifts=int(shifts[0]), dims=0).reshape(self.shape)
        dims = tuple(_dim(d, self.ndim, "roll") for d in dims)
        return ops.Roll.apply(self, shifts=tuple(int(s) for s in shifts), dims=dims)

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Repeat each element ``repeats`` times (an int, or a 1-D int tensor giving one count per slice)
        along ``dim`` (the flattened tensor when dim is None)."""
        x = self.reshape(-1) if dim is None else self
        d = 0 if dim is None else _dim(dim, self.ndim, "repeat_interleave")
        n = x.shape[d] if x.ndim else 1
        if isinstance(repeats, Tensor):
            r = repeats._data
            if r.dtype.kind not in "iu":
                raise NotImplementedError(f'repeat_interleave: "repeat_interleave_cpu" not implemented for '
                                          f"'{_TORCH_TYPE.get(r.dtype.name, r.dtype.name)}'")
            if r.ndim > 1:
                raise RuntimeError(f"repeat_interleave: repeats must be 0-dim or 1-dim tensor (got shape {r.shape})")
            r = np.broadcast_to(r.reshape(-1), (n,)) if r.size == 1 else r
            if r.shape != (n,):
                raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim, but got "
                                   f"repeats.size(0) = {r.size} and input.size({d}) = {n}")
            if (r < 0).any():
                raise RuntimeError("repeat_interleave: repeats can not be negative")
        else:
            if int(repeats) < 0:
                raise RuntimeError(f"repeat_interleave: Repeats must be non-negative (got {repeats})")
            r = int(repeats)
        idx = np.repeat(np.arange(n), r)
        return x.index_select(d, idx) if x.ndim else x.reshape(1).index_select(0, idx)

    def diff(self, n=1, dim=-1, prepend=None, append=None):
        """The n-th forward difference along ``dim``, after joining ``prepend`` and ``append`` to the input
        (bool tensors: elementwise !=, as PyTorch)."""
        if self.ndim == 0:
            raise RuntimeError("diff: diff expects input to be at least one-dimensional")
        if n < 0:
            raise RuntimeError(f"diff: order must be non-negative but got {n}")
        d = _dim(dim, self.ndim, "diff")
        parts = []
        for extra in (prepend, self, append):
            if extra is not None:
                extra = extra if isinstance(extra, Tensor) else Tensor(extra)
                if extra.ndim != self.ndim:
                    raise RuntimeError(f"diff: diff expects prepend or append to be the same dimension as input "
                                       f"(input shape {self.shape}, got shape {extra.shape})")
                parts.append(extra)
        x = ops.cat(parts, d) if len(parts) > 1 else self
        for _ in range(min(n, x.shape[d])):
            m = x.shape[d]
            hi, lo = x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)
            x = hi.logical_xor(lo) if x.dtype == np.bool_ else hi - lo
        return x

    def count_nonzero(self, dim=None):
        """Number of nonzero elements (over ``dim``, an int or tuple; all when None), int64."""
        try:
            axes = ops._axes(dim, self.ndim)
        except (IndexError, RuntimeError) as e:
            raise type(e)(f"count_nonzero: {e}") from None
        return Tensor._wrap(np.asarray(np.count_nonzero(self._data, axis=axes), np.int64))

    def outer(self, vec2):
        """Outer product of two 1-D tensors: out[i, j] = self[i] * vec2[j]."""
        vec2 = vec2 if isinstance(vec2, Tensor) else Tensor(vec2)
        for name, v in (("self", self), ("vec2", vec2)):
            if v.ndim != 1:
                raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
        return self.reshape(-1, 1) * vec2

    ger = outer

    def _scatter_args(self, name, dim, index, src, value, reduce):
        """(index array, src) checked as torch checks them, src a Tensor or an array of this dtype."""
        if reduce is not None:
            raise NotImplementedError(f"{name}: reduce={reduce!r} is not supported (use scatter_add or index_add)")
        if (src is None) == (value is None):
            raise TypeError(f"{name}(): expected exactly one of src and value")
        idx = _infer_array(index)
        if value is not None or not isinstance(src, Tensor):
            v = value if value is not None else src
            if name.startswith("scatter_add"):
                raise TypeError(f"{name}(): argument 'src' (position 3) must be Tensor, not {type(v).__name__}")
            return idx, np.asarray(_infer_array(v), self.dtype)
        if src.dtype != self.dtype:
            raise RuntimeError(f"{name.rstrip('_')}(): Expected self.dtype to be equal to src.dtype "
                               f"(got {self.dtype} and {src.dtype})")
        return idx, src

    def _scatter(self, op, name, dim, index, src, value=None, reduce=None):
        idx, src = self._scatter_args(name, dim, index, src, value, reduce)
        if self.ndim == 0:  # a 0-d tensor scatters as a 1-element 1-d one
            src = src.reshape(1) if isinstance(src, Tensor) else src
            return op.apply(self.reshape(1), idx.reshape(1), src, dim=dim).reshape(())
        return op.apply(self, idx, src, dim=dim)

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """A copy with ``src[i][j]`` (or the number ``value``) written at position ``index[i][j]`` along
        ``dim``; ``src`` must have this tensor's dtype."""
        return self._scatter(ops.Scatter, "scatter", dim, index, src, value, reduce)

    def scatter_add(self, dim, index, src):
        """A copy with ``src[i][j]`` added at position ``index[i][j]`` along ``dim`` (repeats accumulate)."""
        return self._scatter(ops.ScatterAdd, "scatter_add", dim, index, src)

    def scatter_(self, dim, index, src=None, value=None, *, reduce=None):
        """In-place ``scatter``."""
        return self._inplace("scatter_", lambda t: t._scatter(ops.Scatter, "scatter_", dim, index, src, value, reduce))

    def scatter_add_(self, dim, index, src):
        """In-place ``scatter_add``."""
        return self._inplace("scatter_add_", lambda t: t._scatter(ops.ScatterAdd, "scatter_add_", dim, index, src))

    def index_add(self, dim, index, source, *, alpha=1):
        """A copy with ``alpha * source`` added along ``dim`` at the rows listed in the 1-D ``index``
        (repeated indices accumulate)."""
        name = "index_add_"
        idx = _infer_array(index)
        source = source if isinstance(source, Tensor) else Tensor(source)
        if idx.dtype.kind not in "iu":
            raise RuntimeError(f"{name}(): Expected dtype int32/int64 for index but got: "
                               f"{_TORCH_TYPE.get(idx.dtype.name, idx.dtype.name)}")
        if idx.ndim > 1:
            raise IndexError(f"{name}(): Index is supposed to be a vector, but got dim: {idx.ndim} with type: "
                             f"{_TORCH_TYPE.get(idx.dtype.name, idx.dtype.name)} and size: {list(idx.shape)}")
        d = _dim(dim, self.ndim, name)
        idx = idx.reshape(-1)
        shape, sshape = self.shape or (1,), source.shape or (1,)
        if len(sshape) != len(shape) or sshape[:d] + sshape[d + 1:] != shape[:d] + shape[d + 1:]:
            raise RuntimeError(f"{name}: source tensor shape must match self tensor shape, excluding the specified "
                               f"dimension. Got self.shape = {list(self.shape)} source.shape = {list(source.shape)}")
        if idx.size != sshape[d]:
            raise RuntimeError(f"{name}(): Number of indices ({idx.size}) should be equal to source.size(dim): "
                               f"({sshape[d]}), for dim: {d}")
        if source.dtype != self.dtype:
            raise RuntimeError(f"{name}(): self ({_TORCH_TYPE.get(self.dtype.name)}) and source "
                               f"({_TORCH_TYPE.get(source.dtype.name)}) must have the same scalar type")
        bad = idx[(idx < 0) | (idx >= shape[d])]
        if bad.size:
            raise RuntimeError(f"{name}: index {bad[0]} is out of bounds for dimension {d} with size {shape[d]}")
        return ops.IndexAdd.apply(self, idx, source, dim=d, alpha=alpha)

    def index_add_(self, dim, index, source, *, alpha=1):
        """In-place ``index_add``."""
        return self._inplace("index_add_", lambda t: t.index_add(dim, index, source, alpha=alpha))

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along ``dim`` (ties keep their order)."""
        if self.ndim == 0:
            _dim(dim, 0, "sort")
            return ReturnMinMax(self.clone(), Tensor._wrap(np.zeros((), np.int64)))
        dim = _dim(dim, self.ndim, "sort")
        if descending:  # stable ascending sort of the reversed data, reversed: ties keep their order, NaN first
            n = self.shape[dim]
            idx = n - 1 - np.flip(np.argsort(np.flip(self._data, dim), axis=dim, kind="stable"), dim)
        else:
            idx = np.argsort(self._data, axis=dim, kind="stable")
        return ReturnMinMax(self.gather(dim, idx), Tensor._wrap(idx))

    def median(self, dim=None, keepdim=False):
        """The lower median of all elements (NaN if any is NaN; its gradient is shared by the elements equal
        to it); with ``dim``, a (values, indices) pair along ``dim`` (gradient to the returned index)."""
        if self.dtype == np.bool_:
            raise NotImplementedError("median: \"median_cpu\" not implemented for 'Bool'")
        if dim is None:
            flat, a = self.reshape(-1), self._data.reshape(-1)
            if a.size == 0:
                return flat.sum() * np.nan  # NaN, in the graph
            nan = np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)
            if nan.any():  # every NaN shares the gradient, as PyTorch
                return flat[np.flatnonzero(nan)].mean()
            v = np.partition(a, (a.size - 1) // 2)[(a.size - 1) // 2]
            return flat[np.flatnonzero(a == v)].amax()  # the value itself; amax shares its gradient among ties
        x = self.reshape(1) if self.ndim == 0 else self
        d = _dim(dim, x.ndim, "median")
        if x.shape[d] == 0:
            raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size. (shape {self.shape})")
        a = x._data
        idx = np.take(np.argsort(a, axis=d, kind="stable"), [(a.shape[d] - 1) // 2], axis=d)
        if a.dtype.kind == "f":  # a slice holding NaN: its first NaN
            nan = np.isnan(a)
            idx = np.where(nan.any(d, keepdims=True), nan.argmax(d, keepdims=True), idx)
        values = x.gather(d, idx)
        if not keepdim or self.ndim == 0:
            values, idx = values.squeeze(d), idx.squeeze(d)
        return ReturnMinMax(values, Tensor._wrap(idx))

    def bernoulli(self, p=None, *, generator=None):
        """0/1 draws, 1 with probability ``self`` (each element in [0, 1]) or, given ``p``, with probability
        ``p``; the result has this tensor's dtype and shape and a zero gradient (numpy's draws, not PyTorch's)."""
        from .random import rng
        if p is not None:
            _bernoulli_check("bernoulli", p)
            return Tensor._wrap((rng(generator).random(self.shape) < p).astype(self.dtype))
        if self.dtype.kind != "f":
            raise NotImplementedError(f"bernoulli: \"bernoulli_tensor_cpu_p_\" not implemented for "
                                      f"'{_torch_type(self.dtype)}'")
        _bernoulli_check("bernoulli", self)
        u = rng(generator).random(self.shape)
        return ops.Piecewise.apply(self, f=lambda a: (u < a).astype(a.dtype))

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill in place with 0/1 draws, 1 with probability ``p`` (a number or a tensor of probabilities)."""
        from .random import rng
        self._check_inplace("bernoulli_")
        _bernoulli_check("bernoulli_", p)
        return self._assign("bernoulli_", Ellipsis, rng(generator).random(self.shape) < _infer_array(p))

    def take_along_dim(self, indices, dim=None):
        """Values picked along ``dim`` by the int64 ``indices`` (broadcast with this tensor in the other dims;
        negative indices count from the end); with dim None, from the flattened tensor."""
        idx = _infer_array(indices)
        if idx.dtype != np.int64:
            raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got "
                               f"{_torch_type(idx.dtype)}")
        if dim is None:
            x, idx, d = self.reshape(-1), idx.reshape(-1), 0
        else:
            if idx.ndim != self.ndim:
                raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of "
                                   f"dimensions, but got {self.ndim} dimensions for input, and {idx.ndim} dimensions "
                                   f"for indices")
            d = _dim(dim, self.ndim, "take_along_dim")
            x_sizes = self.shape[:d] + idx.shape[d:d + 1] + self.shape[d + 1:]
            ops._broadcast_check("take_along_dim", np.broadcast_to(0, x_sizes), idx)
            shape = np.broadcast_shapes(x_sizes, idx.shape)
            x, idx = self.expand(shape[:d] + self.shape[d:d + 1] + shape[d + 1:]), np.broadcast_to(idx, shape)
        n = x.shape[d]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx.max() if idx.max() >= n else idx.min()
            raise RuntimeError(f"take_along_dim: index {bad} is out of bounds for dimension {d} with size {n}")
        return x.gather(d, np.where(idx < 0, idx + n, idx))

    def dist(self, other, p=2):
        """The p-norm of ``self - other`` (broadcast), as ``(self - other).norm(p)``."""
        if not isinstance(p, numbers.Real):
            raise TypeError(f"dist(): argument 'p' must be Number, not {type(p).__name__}")
        a, b = self._pair(other)
        ops._broadcast_check("dist", a, b)
        if a.dtype.kind != "f":
            raise RuntimeError(f"dist: norm(): input dtype should be either floating point or complex. Got "
                               f"{_torch_type(a.dtype)} instead.")
        return (a - b).norm(p)

    def diag(self, diagonal=0):
        """A 1-D tensor as a square matrix with it on the ``diagonal`` (0: main, > 0 above, < 0 below), or
        a 2-D tensor's ``diagonal`` as a 1-D tensor."""
        k = diagonal
        if self.ndim == 2:
            n, m = self.shape
            i = np.arange(builtins.max(0, -k), builtins.max(0, builtins.min(n, m - k)))
            return self[i, i + k]
        if self.ndim != 1:
            raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {self.ndim}D (shape {self.shape})")
        n, i = self.shape[0] + abs(k), np.arange(self.shape[0])
        return ops.SetItem.apply(np.zeros((n, n), self.dtype), self, index=(i + builtins.max(0, -k),
                                                                             i + builtins.max(0, k)))

    def multinomial(self, num_samples, replacement=False, generator=None):
        """Category indices drawn from each row's weights (see ``tinybptt.multinomial``)."""
        from .functions import multinomial
        return multinomial(self, num_samples, replacement, generator)

    def nonzero(self, *, as_tuple=False):
        """(n, ndim) int64 indices of the nonzero elements, in row-major order; with ``as_tuple`` one
        (n,) index tensor per dimension, ready for ``x[mask.nonzero(as_tuple=True)]``."""
        if as_tuple:
            return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(self._data)))
        return Tensor._wrap(np.argwhere(self._data).astype(np.int64))

    def argwhere(self):
        """(n, ndim) int64 indices of the nonzero elements, as ``nonzero()``."""
        return self.nonzero()

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values in ascending order (always sorted, as torch on the CPU), or the distinct
        slices along ``dim``; optionally also each element's index into them and their counts."""
        axis = None if dim is None else _dim(dim, self.ndim, "unique")
        values, inverse, counts = np.unique(self._data, return_inverse=True, return_counts=True, axis=axis)
        out = [Tensor._wrap(values)]
        if return_inverse:
            out.append(Tensor._wrap(inverse.reshape(self.shape if axis is None else -1).astype(np.int64)))
        if return_counts:
            out.append(Tensor._wrap(counts.astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    def bincount(self, weights=None, minlength=0):
        """How often each value 0..max occurs in a 1-D non-negative integer tensor (at least ``minlength``
        bins), or the sum of ``weights`` per value."""
        x = self._data
        if x.ndim != 1 or x.dtype.kind not in "iub" or (x.size and x.min() < 0):
            raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs (got shape {self.shape} "
                               f"and dtype {x.dtype})")
        if weights is None:
            return Tensor._wrap(np.bincount(x, minlength=minlength).astype(np.int64))
        w = _infer_array(weights)
        if w.shape != x.shape:
            raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input (got {w.shape} "
                               f"for input {self.shape})")
        return Tensor._wrap(np.bincount(x, w, minlength).astype(w.dtype if w.dtype.kind == "f" else np.float64))

    def argsort(self, dim=-1, descending=False, stable=False):
        """Indices that sort the tensor along ``dim`` (the indices of ``sort``)."""
        return self.sort(dim, descending, stable)[1]

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """(values, indices) of the ``k`` largest (or smallest) elements along ``dim``."""
        dim = _dim(dim, self.ndim, "topk")
        if not 0 <= k <= (self.shape[dim] if self.ndim else 1):
            raise RuntimeError(f"topk: selected index k out of range: k ({k}) is out of range for dimension {dim} "
                               f"of size {self.shape[dim] if self.ndim else 1}")
        if self.ndim == 0:
            return ReturnMinMax(self.clone() if k else self.reshape(1)[:0].reshape(()),
                                Tensor._wrap(np.zeros((), np.int64)))
        key = -self._data if largest else self._data
        idx = np.take(np.argsort(key, axis=dim, kind="stable"), np.arange(k), axis=dim)
        return ReturnMinMax(self.gather(dim, idx), Tensor._wrap(idx))

    def log1p(self):
        """Elementwise log(1 + x) (computed as log(x + 1), so no extra precision for tiny x)."""
        return (self + 1).log()

    def _piecewise(self, f):
        if self._data.dtype == np.bool_:
            return Tensor._wrap(self._data.copy())
        if self._data.dtype.kind != "f":
            return Tensor._wrap(np.asarray(f(self._data)).astype(self.dtype, copy=False))
        return ops.Piecewise.apply(self, f=f)  # zero gradient, as PyTorch

    def sign(self):
        """Elementwise -1, 0 or 1 by sign, 0 for NaN as PyTorch (zero gradient)."""
        return self._piecewise(_sign)

    def floor(self):
        """Elementwise round down (zero gradient)."""
        return self._piecewise(np.floor)

    def ceil(self):
        """Elementwise round up (zero gradient)."""
        return self._piecewise(np.ceil)

    def trunc(self):
        """Elementwise round toward zero (zero gradient)."""
        return self._piecewise(np.trunc)

    def round(self, decimals=0):
        """Round to ``decimals`` places, halves to even (as PyTorch)."""
        return self._piecewise(np.round if not decimals else lambda a: np.round(a, decimals))

    def flip(self, *dims):
        """Reverse the order of elements along ``dims``."""
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        index = [slice(None)] * self.ndim
        for d in dims:
            index[_dim(d, self.ndim, "flip")] = slice(None, None, -1)
        return self[tuple(index)]

    def all(self, dim=None, keepdim=False):
        """True where every element (along ``dim``) is nonzero."""
        return Tensor._wrap(np.asarray(self._data.all(axis=dim, keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        """True where some element (along ``dim``) is nonzero."""
        return Tensor._wrap(np.asarray(self._data.any(axis=dim, keepdims=keepdim)))

    def tril(self, diagonal=0):
        """Lower triangle of the last two dims, the rest zero."""
        from .functions import tril
        return tril(self, diagonal)

    def triu(self, diagonal=0):
        """Upper triangle of the last two dims, the rest zero."""
        from .functions import triu
        return triu(self, diagonal)

    def isnan(self):
        """Bool tensor: True where an element is NaN."""
        return Tensor._wrap(np.isnan(self._data))

    def isinf(self):
        """Bool tensor: True where an element is +inf or -inf."""
        return Tensor._wrap(np.isinf(self._data))

    def isfinite(self):
        """Bool tensor: True where an element is neither inf nor NaN."""
        return Tensor._wrap(np.isfinite(self._data))

    def equal(self, other):
        """True when both tensors have the same shape and elements."""
        return self.shape == other.shape and bool(np.array_equal(self._data, np.asarray(other)))

    # ------------------------------------------------------------ linear algebra (tinybptt.linalg does the work)
    def det(self):
        """The determinant (of each matrix of a stack), as torch.det."""
        return _linalg_forms().det(self)

    def logdet(self):
        """log(det(self)): nan for a negative determinant, -inf for 0 (torch.logdet)."""
        return _linalg_forms().logdet(self)

    def slogdet(self):
        """(sign, logabsdet) of the determinant (torch.slogdet)."""
        return _linalg_forms().slogdet(self)

    def inverse(self):
        """The matrix inverse (torch.inverse)."""
        return _linalg_forms().inverse(self)

    def pinverse(self, rcond=1e-15):
        """The pseudo-inverse, singular values at or below rcond * the largest dropped (torch.pinverse)."""
        return _linalg_forms().pinverse(self, rcond)

    def cholesky(self, upper=False):
        """The Cholesky factor, lower or (``upper``) upper triangular (torch.cholesky)."""
        return _linalg_forms().cholesky(self, upper)

    def qr(self, some=True):
        """(Q, R), reduced or (``some=False``) complete (torch.qr)."""
        return _linalg_forms().qr(self, some)

    def svd(self, some=True, compute_uv=True):
        """(U, S, V) with self = U diag(S) V^T (torch.svd: V, not Vh)."""
        return _linalg_forms().svd(self, some, compute_uv)

    def matrix_power(self, n):
        """The matrix to the integer power n (torch.matrix_power)."""
        return _linalg_forms().matrix_power(self, n)

    def matrix_exp(self):
        """The matrix exponential (torch.matrix_exp)."""
        return _linalg_forms().matrix_exp(self)

    # ------------------------------------------------------------ shape
    def reshape(self, *shape):
        """Same data, new shape (one dimension may be -1)."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        shape = tuple(int(s) for s in shape)
        if shape.count(-1) > 1:
            raise RuntimeError(f"reshape: only one dimension can be inferred (shape {shape})")
        return ops.Reshape.apply(self, shape=shape)

    view = reshape

    def reshape_as(self, other):
        """This tensor reshaped to ``other``'s shape."""
        return self.reshape(other.shape)

    def view_as(self, other):
        """Reshape to ``other``'s shape."""
        return self.reshape(other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        """Merge dims ``start_dim..end_dim`` into one."""
        s = list(self.shape)
        start, end = _dim(start_dim, self.ndim, "flatten"), _dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        return self.reshape(*s[:start], -1, *s[end + 1:]) if self.ndim else self.reshape(1)

    def permute(self, *dims):
        """Reorder dimensions."""
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return ops.Permute.apply(self, dims=tuple(dims))

    def transpose(self, dim0, dim1):
        """Swap two dimensions."""
        if self.ndim == 0:
            _dim(dim0, 0, "transpose"), _dim(dim1, 0, "transpose")
            return self
        dim0, dim1 = _dim(dim0, self.ndim, "transpose"), _dim(dim1, self.ndim, "transpose")
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)

    def t(self):
        """Transpose of a 2-D tensor; a 0-D or 1-D tensor is returned as it is."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.ndim}D")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def unsqueeze(self, dim):
        """Insert a size-1 dimension at ``dim``."""
        d = _dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        """Remove size-1 dimensions (only those in ``dim``, an int or tuple, if given)."""
        if dim is not None:
            dims = [_dim(d, self.ndim, "squeeze") for d in (dim if isinstance(dim, (tuple, list)) else (dim,))]
            dim = tuple(d for d in dims if self.ndim and self.shape[d] == 1)
            if not dim:
                return self
        return self.reshape(np.squeeze(self._data, axis=dim).shape)

    def expand(self, *shape):
        """Broadcast to a larger shape (-1 keeps a size)."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self._expand("expand", shape)

    def broadcast_to(self, shape):
        """Broadcast to ``shape`` without copying, as ``expand`` (-1 keeps a size)."""
        return self._expand("broadcast_to", tuple(shape))

    def _expand(self, name, shape):
        lead = len(shape) - self.ndim
        if -1 in shape[:builtins.max(lead, 0)]:
            raise RuntimeError(f"{name}: The expanded size of the tensor (-1) isn't allowed in a leading, "
                               f"non-existing dimension {shape.index(-1)} (sizes {list(shape)}, shape {self.shape})")
        shape = tuple(self.shape[i - lead] if s == -1 else s for i, s in enumerate(shape))
        return ops.Expand.apply(self, shape=shape, name=name)

    def expand_as(self, other):
        """Broadcast to ``other``'s shape."""
        return self.expand(other.shape)

    def repeat(self, *reps):
        """Tile the tensor ``reps`` times along each dim."""
        reps = reps[0] if len(reps) == 1 and isinstance(reps[0], (tuple, list)) else reps
        return self._repeat("repeat", reps)

    def tile(self, *dims):
        """Repeat the tensor ``dims`` times along each dim; fewer ``dims`` than dimensions count from the
        last dimension (the others repeat once), more add leading dimensions."""
        dims = tuple(dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)
        return self._repeat("tile", (1,) * (self.ndim - len(dims)) + dims)

    def _repeat(self, name, reps):
        if len(reps) < self.ndim:
            raise RuntimeError(f"{name}: Number of dimensions of repeat dims can not be smaller than number of "
                               f"dimensions of tensor (repeats {tuple(reps)}, shape {self.shape})")
        lead = len(reps) - self.ndim
        x = self.reshape((1,) * lead + self.shape)
        sizes = [r * n for r, n in zip(reps, x.shape)]
        if builtins.min(sizes, default=0) < 0:
            raise RuntimeError(f"{name}: Trying to create tensor with negative dimension {builtins.min(sizes)}: "
                               f"{sizes} (repeats {tuple(reps)}, shape {self.shape})")
        return ops.cat([x] * reps[0], 0) if len(reps) == 1 else ops.Tile.apply(x, reps=tuple(reps))

    def split(self, split_size, dim=0):
        """Split into pieces of ``split_size`` (int) or of the given sizes (list)."""
        return ops.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        """Split into ``chunks`` pieces of (nearly) equal size."""
        return ops.chunk(self, chunks, dim)

    def unbind(self, dim=0):
        """Tuple of slices along ``dim``, with that dimension removed."""
        d = _dim(dim, self.ndim, "unbind")
        if self.ndim == 0:
            raise IndexError("unbind: Dimension specified as 0 but tensor has no dimensions")
        return tuple(self[(slice(None),) * d + (i,)] for i in range(self.shape[d]))

    def narrow(self, dim, start, length):
        """The slice ``start:start + length`` along ``dim`` (shares memory, stays in the graph)."""
        d = _dim(dim, self.ndim, "narrow")
        n = self.shape[d]
        start = int(start)
        if not -n <= start <= n:
            raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], but got {start})")
        start = start + n if start < 0 else start
        if length < 0 or start + length > n:
            raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}).")
        return self[(slice(None),) * d + (slice(start, start + length),)]

    def unfold(self, dimension, size, step):
        """The windows of ``size`` elements, ``step`` apart, along ``dimension``: that dim becomes the number of
        windows and a new last dim of ``size`` holds each window (a copy, where torch returns a view)."""
        for arg, v in (("dimension", dimension), ("size", size), ("step", step)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise TypeError(f"unfold(): argument '{arg}' must be int, not {type(v).__name__}")
        d = _dim(dimension, max(self.ndim, 1), "unfold")
        n = self.shape[d] if self.ndim else 1
        if size > n:
            raise RuntimeError(f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size}")
        if step <= 0:
            raise RuntimeError(f"unfold: step is {step} but must be > 0")
        if size < 0:
            raise RuntimeError(f"unfold: size is {size} but must be >= 0")
        return Unfold.apply(self, dim=d, size=int(size), step=int(step))

    def select(self, dim, index):
        """The slice at ``index`` along ``dim``, with that dimension removed."""
        d = _dim(dim, self.ndim, "select")
        n = self.shape[d]
        if not -n <= index < n:
            raise IndexError(f"select(): index {index} out of range for tensor of size {list(self.shape)} at "
                             f"dimension {dim}")
        return self[(slice(None),) * d + (int(index),)]

    def index_select(self, dim, index):
        """The entries at the int ``index`` (1-D) along ``dim``; repeated indices accumulate gradient."""
        d = _dim(dim, self.ndim, "index_select")
        idx = _infer_array(index)
        if idx.dtype.kind not in "iu":
            raise RuntimeError(f"index_select(): Expected dtype int32 or int64 for index, got {idx.dtype}")
        if idx.ndim > 1:
            raise IndexError(f"index_select(): Index is supposed to be a vector, got shape {idx.shape}")
        n = self.shape[d] if self.ndim else 1
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"index_select(): index out of range in self: indices span [{idx.min()}, "
                             f"{idx.max()}] for dimension {d} of size {n}")
        if self.ndim == 0:
            return self.reshape(1)[idx.reshape(-1)].reshape(idx.shape)
        return self[(slice(None),) * d + (idx.reshape(-1),)]

    def masked_select(self, mask):
        """The elements where the bool ``mask`` (broadcast with this tensor) is True, as a 1-D tensor."""
        m = _infer_array(mask)
        if m.dtype != np.bool_:
            raise RuntimeError(f"masked_select: expected BoolTensor for mask, got {m.dtype}")
        ops._broadcast_check("masked_select", m, self._data)
        shape = np.broadcast_shapes(m.shape, self.shape)
        x = self if self.shape == shape else self.expand(shape)
        return x[np.broadcast_to(m, shape)]

    def masked_scatter(self, mask, source):
        """This tensor with the positions where the bool ``mask`` (broadcast with it) is True filled by
        the first elements of ``source`` in row-major order; gradients reach both tensors."""
        m = _infer_array(mask)
        if m.dtype != np.bool_:
            raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {m.dtype}")
        source = source if isinstance(source, Tensor) else Tensor(_infer_array(source))
        if source.dtype != self.dtype:
            raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got {self.dtype} "
                               f"and {source.dtype}")
        ops._broadcast_check("masked_scatter", m, self._data)
        m = np.broadcast_to(m, np.broadcast_shapes(m.shape, self.shape))
        n = int(m.sum())
        if n > source.numel():
            raise RuntimeError(f"masked_scatter: Number of elements of source < number of ones in mask "
                               f"({source.numel()} < {n}; source {source.shape}, mask {m.shape})")
        if source.numel() == 0:  # nothing masked; source still gets its (empty) gradient
            return ops.Where.apply(m, self, self) + source.sum()
        pos = np.zeros(m.shape, np.int64)
        pos[m] = np.arange(n)  # the source element each masked position takes (0, unused, elsewhere)
        return ops.Where.apply(m, source.reshape(-1)[pos], self)

    def masked_scatter_(self, mask, source):
        """In-place ``masked_scatter``."""
        return self._inplace("masked_scatter_", lambda t: t.masked_scatter(mask, source))

    def movedim(self, source, destination):
        """Move dims ``source`` (int or tuple) to positions ``destination``."""
        src = [_dim(d, self.ndim, "movedim") for d in np.atleast_1d(source)]
        dst = [_dim(d, self.ndim, "movedim") for d in np.atleast_1d(destination)]
        if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
            raise RuntimeError(f"movedim: Invalid source {source} or destination {destination} dims")
        perm = [None] * self.ndim
        for a, b in zip(src, dst):
            perm[b] = a
        rest = iter(i for i in range(self.ndim) if i not in src)
        return self.permute(*[p if p is not None else next(rest) for p in perm]) if self.ndim else self

    moveaxis = movedim

    def swapaxes(self, dim0, dim1):
        """Swap dimensions ``dim0`` and ``dim1`` (as ``transpose``; also ``swapdims``)."""
        return self.transpose(dim0, dim1)

    swapdims = swapaxes

    def unflatten(self, dim, sizes):
        """Split dimension ``dim`` into ``sizes`` (one of them may be -1)."""
        d = _dim(dim, self.ndim, "unflatten")
        if -1 not in sizes and int(np.prod(sizes)) != self.shape[d]:
            raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {d} "
                               f"({self.shape[d]}) in the input tensor")
        return self.reshape(*self.shape[:d], *sizes, *self.shape[d + 1:])

    def where(self, condition, other):
        """``self`` where ``condition`` is True, else ``other``."""
        from .functions import where
        return where(condition, self, other)

    # ------------------------------------------------------------ NaN-aware and order-statistic reductions
    def nansum(self, dim=None, keepdim=False, *, dtype=None):
        """Sum over ``dim`` treating NaN as zero (NaNs get a zero gradient); integer and bool sums are int64."""
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind != "f":
            return x.sum(dim, keepdim, dtype=np.int64 if dtype is None else None)
        return ops.NanToZero.apply(x).sum(dim, keepdim)

    def nanmean(self, dim=None, keepdim=False, *, dtype=None):
        """Mean over ``dim`` of the elements that are not NaN (NaN where there are none); floats only."""
        x = self if dtype is None else self.to(dtype)
        if x.dtype.kind != "f":
            raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype but got "
                               f"{_torch_type(x.dtype)}")
        count = (~np.isnan(x._data)).sum(axis=ops._axes(dim, x.ndim), keepdims=keepdim)
        return x.nansum(dim, keepdim) / np.asarray(count, x.dtype)

    def nanmedian(self, dim=None, keepdim=False):
        """The lower median of the elements that are not NaN (NaN when all are); with ``dim``, a (values,
        indices) pair along ``dim``.  Gradients as ``median``."""
        if self.dtype == np.bool_:
            raise NotImplementedError("nanmedian: \"nanmedian_cpu\" not implemented for 'Bool'")
        if self.dtype.kind != "f":
            return self.median(dim, keepdim)
        if dim is None:
            flat, a = self.reshape(-1), self._data.reshape(-1)
            keep = ~np.isnan(a)
            if not keep.any():
                return self.median()
            v = np.partition(a[keep], (keep.sum() - 1) // 2)[(keep.sum() - 1) // 2]
            return flat[np.flatnonzero(a == v)].amax()
        x = self.reshape(1) if self.ndim == 0 else self
        d = _dim(dim, x.ndim, "nanmedian")
        if x.shape[d] == 0:
            raise IndexError(f"nanmedian(): Expected reduction dim {d} to have non-zero size. (shape {self.shape})")
        a = x._data
        k = (~np.isnan(a)).sum(d, keepdims=True)  # NaNs sort last: the median of the first k
        idx = np.take_along_axis(np.argsort(a, axis=d, kind="stable"), np.maximum(k - 1, 0) // 2, d)
        return _selected(x, d, idx, keepdim and self.ndim > 0)

    def kthvalue(self, k, dim=-1, keepdim=False):
        """(values, indices) of the k-th smallest element along ``dim`` (NaN counts as the largest)."""
        x = self.reshape(1) if self.ndim == 0 else self
        d = _dim(dim, x.ndim, "kthvalue")
        if not 1 <= k <= x.shape[d]:
            raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} (k={k}, size "
                               f"{x.shape[d]})")
        idx = np.take(np.argsort(x._data, axis=d, kind="stable"), [k - 1], axis=d)
        return _selected(x, d, idx, keepdim and self.ndim > 0)

    def mode(self, dim=-1, keepdim=False):
        """(values, indices): the most frequent value along ``dim`` (the smallest of equally frequent ones;
        NaNs never equal each other) and the last index where it occurs; the gradient goes to that index."""
        x = self.reshape(1) if self.ndim == 0 else self
        d = _dim(dim, x.ndim, "mode")
        if x.shape[d] == 0:
            raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size. (shape {self.shape})")
        a = np.moveaxis(x._data, d, -1)
        order = np.argsort(a, axis=-1, kind="stable")
        s = np.take_along_axis(a, order, -1)
        pos = np.arange(s.shape[-1])
        start = np.concatenate([np.ones(s.shape[:-1] + (1,), bool), s[..., 1:] != s[..., :-1]], -1)
        run = pos - np.maximum.accumulate(np.where(start, pos, 0), axis=-1)  # length so far of each run, - 1
        best = np.argmax(run, axis=-1)[..., None]  # the first longest run: the smallest value
        idx = np.moveaxis(np.take_along_axis(order, best, -1), -1, d)  # its last element: the largest index
        return _selected(x, d, idx, keepdim and self.ndim > 0)

    def _cumextreme(self, name, dim, better):
        """cummax/cummin: the running extreme along ``dim`` and its index (a tie or a NaN takes the newer
        index, and a NaN stays the extreme, as PyTorch); values are gathered, so gradients scatter back."""
        x = self.reshape(1) if self.ndim == 0 else self
        d = _dim(dim, x.ndim, name)
        a = np.moveaxis(x._data, d, 0)
        idx = np.zeros(a.shape, np.int64)
        if len(a):
            best = a[0].copy()
            for i in range(1, len(a)):
                with np.errstate(invalid="ignore"):
                    take = better(a[i], best) | (a[i] == best) | (np.isnan(a[i]) if a.dtype.kind == "f" else False)
                best = np.where(take, a[i], best)
                idx[i] = np.where(take, i, idx[i - 1])
        idx = np.moveaxis(idx, 0, d)
        values = x.gather(d, idx)
        if self.ndim == 0:
            return ReturnMinMax(values.reshape(()), Tensor._wrap(idx.reshape(())))
        return ReturnMinMax(values, Tensor._wrap(idx))

    def cummax(self, dim):
        """(values, indices) of the running maximum along ``dim``."""
        return self._cumextreme("cummax", dim, np.greater)

    def cummin(self, dim):
        """(values, indices) of the running minimum along ``dim``."""
        return self._cumextreme("cummin", dim, np.less)

    def logcumsumexp(self, dim):
        """log(cumsum(exp(self))) along ``dim``, computed without overflow."""
        if self.dtype.kind != "f":
            raise NotImplementedError(f"logcumsumexp: \"logcumsumexp_out_cpu\" not implemented for "
                                      f"'{_torch_type(self.dtype)}'")
        return ops.LogCumSumExp.apply(self, dim=_dim(dim, self.ndim, "logcumsumexp"))

    def aminmax(self, *, dim=None, keepdim=False):
        """(min, max) over ``dim`` (all elements when None), as ``amin`` and ``amax`` (gradients shared by ties)."""
        if self.numel() == 0 and dim is None:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                               "identity.")
        if dim is not None and self.ndim and self.shape[_dim(dim, self.ndim, "aminmax")] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {_dim(dim, self.ndim, 'aminmax')} to have non-zero "
                             f"size. (shape {list(self.shape)})")
        if dim is not None:
            dim = _dim(dim, self.ndim, "aminmax")
        return ReturnAminmax(self.amin(dim, keepdim), self.amax(dim, keepdim))

    def quantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """The ``q``-th quantiles (q a number or a 1-D tensor in [0, 1]) over ``dim`` (the flattened tensor
        when None), interpolated between the two nearest sorted values ('linear', 'lower', 'higher',
        'midpoint', 'nearest'); a slice holding NaN gives NaN.  A 1-D ``q`` adds a leading dim."""
        return _quantile(self, "quantile", q, dim, keepdim, interpolation, ignore_nan=False)

    def nanquantile(self, q, dim=None, keepdim=False, *, interpolation="linear"):
        """``quantile`` of the elements that are not NaN (NaN where there are none)."""
        return _quantile(self, "nanquantile", q, dim, keepdim, interpolation, ignore_nan=True)

    # ------------------------------------------------------------ more elementwise functions
    def _float_pair(self, other, name, integers=True):
        """(self, other) promoted as arithmetic promotes them, then made floating (integers give the default
        float dtype; ``integers=False``: they raise as PyTorch's kernels do)."""
        a, b = self._pair(other)
        ops._broadcast_check(name, a._data, np.asarray(b._data if isinstance(b, Tensor) else b))
        if a.dtype.kind != "f":
            if not integers:
                raise NotImplementedError(f'{name}: "{name}_cpu" not implemented for \'{_torch_type(a.dtype)}\'')
            a = a.to(_default_float[0])
            b = b.to(_default_float[0]) if isinstance(b, Tensor) else b.astype(_default_float[0])
        return a, b

    def xlogy(self, other):
        """Elementwise self * log(other), 0 where self == 0 (unless other is NaN)."""
        return ops.Xlogy.apply(*self._float_pair(other, "xlogy"))

    def logit(self, eps=None):
        """Elementwise log(z / (1 - z)), z = self clamped to [eps, 1 - eps] when ``eps`` is given."""
        return ops.Logit.apply(self._floating(), eps=eps)

    def logaddexp(self, other):
        """Elementwise log(exp(self) + exp(other)), computed without overflow."""
        return ops.LogAddExp.apply(*self._float_pair(_tensor_arg("logaddexp", "other", other), "logaddexp",
                                                     integers=False))

    def logaddexp2(self, other):
        """Elementwise log2(2**self + 2**other), computed without overflow."""
        return ops.LogAddExp.apply(*self._float_pair(_tensor_arg("logaddexp2", "other", other), "logaddexp2",
                                                     integers=False), base=2)

    def hypot(self, other):
        """Elementwise sqrt(self**2 + other**2), without overflow."""
        return ops.Hypot.apply(*self._float_pair(_tensor_arg("hypot", "other", other), "hypot", integers=False))

    def fmax(self, other):
        """Elementwise maximum that ignores NaN (NaN only where both are)."""
        return ops.FMaxMin.apply(*self._pair(_tensor_arg("fmax", "other", other)), largest=True)

    def fmin(self, other):
        """Elementwise minimum that ignores NaN (NaN only where both are)."""
        return ops.FMaxMin.apply(*self._pair(_tensor_arg("fmin", "other", other)), largest=False)

    def copysign(self, other):
        """Elementwise |self| with the sign of ``other`` (integers give floats; ``other`` gets a zero gradient)."""
        return ops.CopySign.apply(*self._float_pair(other, "copysign"))

    def heaviside(self, values):
        """Elementwise step: 0 where self < 0, ``values`` where self == 0, 1 where self > 0 (no gradient)."""
        v = _tensor_arg("heaviside", "values", values)._data
        if v.dtype != self.dtype:
            raise RuntimeError(f"heaviside is not yet implemented for tensors with different dtypes. (input "
                               f"{_torch_type(self.dtype)}, values {_torch_type(v.dtype)})")
        ops._broadcast_check("heaviside", self._data, v)
        return Tensor._wrap(np.where(self._data == 0, v, self._data > 0).astype(self.dtype))

    def float_power(self, exponent):
        """Elementwise self ** exponent computed in float64 (the result is float64)."""
        e = exponent.double() if isinstance(exponent, Tensor) else np.asarray(_infer_array(exponent), np.float64)
        return self.double() ** e

    def float_power_(self, exponent):
        """In-place ``float_power`` (this tensor must be float64)."""
        if self.dtype != np.float64:
            raise RuntimeError(f"float_power_: the base given to float_power_ has dtype {_torch_type(self.dtype)} "
                               f"but the operation's result requires dtype Double")
        return self._inplace("float_power_", lambda t: t.float_power(exponent))

    def deg2rad(self):
        """Elementwise degrees to radians (integer input gives float32)."""
        x = self._floating()
        return x * x.dtype.type(np.pi / 180)

    def rad2deg(self):
        """Elementwise radians to degrees (integer input gives float32)."""
        x = self._floating()
        return x * x.dtype.type(180 / np.pi)

    def sgn(self):
        """The sign of each element (for real tensors the same as ``sign``)."""
        return self.sign()

    def signbit(self):
        """Bool tensor: True where the sign bit is set (negative numbers and -0.0)."""
        return Tensor._wrap(np.signbit(self._data))

    negative = neg

    def positive(self):
        """This tensor itself (bool tensors raise, as PyTorch)."""
        if self.dtype == np.bool_:
            raise RuntimeError("positive: The `+` operator, on a bool tensor is not supported.")
        return self

    def fix(self):
        """Elementwise round toward zero (as ``trunc``)."""
        return self.trunc()

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """Elementwise |self - other| <= atol + rtol * |other|, a bool tensor (see ``tinybptt.isclose``)."""
        from .functions import isclose
        return isclose(self, other, rtol, atol, equal_nan)

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """True when every element is close to ``other`` (see ``isclose``)."""
        return bool(self.isclose(other, rtol, atol, equal_nan).all())

    def isposinf(self):
        """Bool tensor: True where an element is +inf."""
        return Tensor._wrap(np.isposinf(self._data) if self.dtype.kind == "f" else np.zeros(self.shape, bool))

    def isneginf(self):
        """Bool tensor: True where an element is -inf."""
        return Tensor._wrap(np.isneginf(self._data) if self.dtype.kind == "f" else np.zeros(self.shape, bool))

    def isreal(self):
        """Bool tensor: True everywhere (tensors here are never complex)."""
        return Tensor._wrap(np.ones(self.shape, bool))

    def nextafter(self, other):
        """Elementwise the next float after self towards ``other`` (no gradient)."""
        a, b = self._pair(_tensor_arg("nextafter", "other", other))
        if a.dtype.kind != "f":
            raise NotImplementedError(f'nextafter: "nextafter_cpu" not implemented for \'{_torch_type(a.dtype)}\'')
        return Tensor._wrap(np.asarray(np.nextafter(a._data, np.asarray(b._data if isinstance(b, Tensor) else b))))

    def ldexp(self, other):
        """Elementwise self * 2**other (integer input gives float32)."""
        x = self._floating()
        e = _tensor_arg("ldexp", "other", other)
        x, e = x._pair(e if e.dtype.kind == "f" else e.to(x.dtype))  # 2**e in the result's dtype
        return x * e.exp2()

    def frexp(self):
        """(mantissa, exponent) with self = mantissa * 2**exponent, |mantissa| in [0.5, 1) (exponent int32);
        the mantissa's gradient is g / 2**exponent."""
        if self.dtype.kind != "f":
            raise RuntimeError(f"torch.frexp() only supports floating-point dtypes (got {_torch_type(self.dtype)})")
        _, e = np.frexp(self._data)
        e = np.where(np.isfinite(self._data), e, 0)
        half = np.ldexp(np.ones((), self.dtype), -(e // 2))  # two exact steps: 2**-e alone may overflow
        rest = np.ldexp(np.ones((), self.dtype), -(e - e // 2))
        return ReturnFrexp(self * half * rest, Tensor._wrap(e.astype(np.int32)))

    # ------------------------------------------------------------ products with an added term
    def addmm(self, mat1, mat2, *, beta=1, alpha=1):
        """beta * self + alpha * (mat1 @ mat2), for 2-D mat1 and mat2 (self broadcast to the product's
        shape; with beta = 0 its values, NaN included, are ignored)."""
        m1, m2 = _as_tensor(mat1), _as_tensor(mat2)
        _check_matrices("addmm", "mat1", m1, 2, "mat2", m2, 2)
        if m1.shape[1] != m2.shape[0]:
            raise RuntimeError(f"addmm: mat1 and mat2 shapes cannot be multiplied ({m1.shape[0]}x{m1.shape[1]} "
                               f"and {m2.shape[0]}x{m2.shape[1]})")
        return _add_scaled("addmm", self, m1 @ m2, beta, alpha)

    def addmv(self, mat, vec, *, beta=1, alpha=1):
        """beta * self + alpha * (mat @ vec), for a 2-D mat and a 1-D vec."""
        m, v = _as_tensor(mat), _as_tensor(vec)
        if m.ndim != 2 or v.ndim != 1 or self.ndim > 1:
            raise RuntimeError(f"addmv: vector + matrix @ vector expected, got {self.ndim}, {m.ndim}, {v.ndim}")
        if m.shape[1] != v.shape[0] or self.ndim == 1 and self.shape[0] not in (1, m.shape[0]):
            raise RuntimeError(f"addmv: size mismatch, got input ({', '.join(map(str, self.shape))}), mat "
                               f"({m.shape[0]}x{m.shape[1]}), vec ({v.shape[0]})")
        _check_matrices("addmv", "mat", m, 2, "vec", v, 1)
        return _add_scaled("addmv", self, m @ v, beta, alpha)

    def addr(self, vec1, vec2, *, beta=1, alpha=1):
        """beta * self + alpha * outer(vec1, vec2), for 1-D vec1 and vec2."""
        v1, v2 = _as_tensor(vec1), _as_tensor(vec2)
        for name, v in (("vec1", v1), ("vec2", v2)):
            if v.ndim != 1:
                raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
        return _add_scaled("addr", self, v1.outer(v2), beta, alpha)

    def addbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * self + alpha * sum_b (batch1[b] @ batch2[b]), for 3-D batch1 and batch2."""
        b1, b2 = _as_tensor(batch1), _as_tensor(batch2)
        _check_batches("addbmm", b1, b2)
        return _add_scaled("addbmm", self, (b1 @ b2).sum(0), beta, alpha)

    def baddbmm(self, batch1, batch2, *, beta=1, alpha=1):
        """beta * self + alpha * (batch1 @ batch2), batch by batch, for 3-D batch1 and batch2."""
        b1, b2 = _as_tensor(batch1), _as_tensor(batch2)
        _check_batches("baddbmm", b1, b2)
        return _add_scaled("baddbmm", self, b1 @ b2, beta, alpha)

    def addcmul(self, tensor1, tensor2, *, value=1):
        """self + value * tensor1 * tensor2 (all three broadcast; an integer result truncates ``value`` to an
        integer, as PyTorch)."""
        a, p = self._pair(_as_tensor(tensor1) * tensor2)
        if a.dtype == np.bool_:
            raise NotImplementedError("addcmul: \"addcmul_cpu_out\" not implemented for 'Bool'")
        return a + _scalar_of(value, a.dtype) * p

    def addcdiv(self, tensor1, tensor2, *, value=1):
        """self + value * tensor1 / tensor2 (all three broadcast; integer tensor1 and tensor2 raise)."""
        t1, t2 = _as_tensor(tensor1), _as_tensor(tensor2)
        if t1.dtype.kind in "biu" and t2.dtype.kind in "biu":
            raise RuntimeError("addcdiv: Integer division with addcdiv is no longer supported, and in a future "
                               "release addcdiv will perform a true division of tensor1 and tensor2. The "
                               "historic addcdiv behavior can be implemented as (input + value * "
                               "torch.trunc(tensor1 / tensor2)).to(input.dtype) using the dtype of input")
        a, q = self._pair(t1 / t2)
        return a + _scalar_of(value, a.dtype) * q

    def dot(self, other):
        """The inner product of two 1-D tensors of the same size and dtype."""
        o = _as_tensor(other)
        if self.ndim != 1 or o.ndim != 1:
            raise RuntimeError(f"dot: 1D tensors expected, but got {self.ndim}D and {o.ndim}D tensors")
        if self.shape != o.shape:
            raise RuntimeError(f"dot: inconsistent tensor size, expected tensor [{self.shape[0]}] and src "
                               f"[{o.shape[0]}] to have the same number of elements, but got {self.shape[0]} and "
                               f"{o.shape[0]} elements respectively")
        if self.dtype != o.dtype:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{_torch_type(self.dtype)} and {_torch_type(o.dtype)}")
        if self.dtype == np.bool_:
            raise NotImplementedError("\"dot\" not implemented for 'Bool'")
        return self @ o

    vdot = dot  # the same for real tensors

    def mv(self, vec):
        """Matrix-vector product of a 2-D tensor and a 1-D one."""
        v = _as_tensor(vec)
        if self.ndim != 2 or v.ndim != 1:
            raise RuntimeError(f"mv: vector + matrix @ vector expected, got 1, {self.ndim}, {v.ndim}")
        if self.shape[1] != v.shape[0]:
            raise RuntimeError(f"mv: size mismatch, got input ({self.shape[0]}), mat ({self.shape[0]}x"
                               f"{self.shape[1]}), vec ({v.shape[0]})")
        if self.dtype != v.dtype:
            raise RuntimeError(f"mv: addmv input tensors must have the same dtype, but got "
                               f"{_torch_type(self.dtype)} and {_torch_type(v.dtype)}")
        return self @ v

    def inner(self, other):
        """Sum of products over the last dims of both (for 1-D tensors the dot product; a 0-d one multiplies)."""
        o = _as_tensor(other)
        if self.ndim == 0 or o.ndim == 0:
            return self * o
        if self.dtype != o.dtype:
            raise RuntimeError(f"inner: both inputs should have same dtype (got {_torch_type(self.dtype)} and "
                               f"{_torch_type(o.dtype)})")
        if self.shape[-1] != o.shape[-1]:
            raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                               f"{list(self.shape)} and {list(o.shape)}")
        from .functions import tensordot
        return tensordot(self, o, ([-1], [-1]))

    def cross(self, other, dim=None):
        """The cross product of 3-vectors along ``dim`` (inputs broadcast); dim=None takes the first dim of
        size 3, with PyTorch's deprecation warning."""
        a, b = self._pair(other)
        b = _as_tensor(b)
        if a.ndim != b.ndim:
            raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions. (shapes "
                               f"{list(a.shape)} and {list(b.shape)})")
        ops._broadcast_check("linalg.cross", a._data, b._data)
        shape = np.broadcast_shapes(a.shape, b.shape)
        if dim is None:
            warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the "
                          "dim explicitly or simply use torch.linalg.cross.\nThe default value of dim will change "
                          "to agree with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
            if 3 not in shape:
                raise RuntimeError(f"cross: no dimension of size 3 in input (shape {list(shape)})")
            d = shape.index(3)
        else:
            try:
                d = ops._axes(dim, len(shape))[0] if shape else 0
            except IndexError as e:
                raise IndexError(f"cross: {e}") from None
            if a.shape[d] != 3 or b.shape[d] != 3:
                raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got {a.shape[d]} and "
                                   f"{b.shape[d]}")
        a, b = a.expand(shape), b.expand(shape)
        x, y = a.unbind(d), b.unbind(d)
        return ops.stack([x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]], d)

    def kron(self, other):
        """The Kronecker product: every element of self times the whole of ``other``, in blocks."""
        a, b = self._pair(other)
        b = _as_tensor(b)
        n = builtins.max(a.ndim, b.ndim)
        sa, sb = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
        out = a.reshape([s for k in sa for s in (k, 1)]) * b.reshape([s for k in sb for s in (1, k)])
        return out.reshape([i * j for i, j in zip(sa, sb)])

    def trace(self):
        """The sum of the main diagonal of a 2-D tensor (integer traces are int64)."""
        if self.ndim != 2:
            raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {self.ndim}")
        if self.dtype == np.bool_:
            raise NotImplementedError("\"trace\" not implemented for 'Bool'")
        d = self.diagonal()
        return d.sum(dtype=np.int64 if self.dtype.kind in "biu" else None)

    def diagonal(self, offset=0, dim1=0, dim2=1):
        """The diagonal ``offset`` (> 0 above the main one) of the planes (dim1, dim2), as the last dim."""
        d1, d2 = _dim(dim1, self.ndim, "diagonal"), _dim(dim2, self.ndim, "diagonal")
        if d1 == d2:
            raise RuntimeError(f"diagonal: diagonal dimensions cannot be identical {dim1}, {dim2}")
        rest = [i for i in range(self.ndim) if i not in (d1, d2)]
        x = self.permute(*rest, d1, d2)
        n, m = self.shape[d1], self.shape[d2]
        i = np.arange(builtins.max(0, -offset), builtins.max(0, builtins.min(n, m - offset)))
        return x[..., i, i + offset]

    def diag_embed(self, offset=0, dim1=-2, dim2=-1):
        """A tensor whose planes (dim1, dim2) hold the last dim of self on their diagonal ``offset``."""
        n = self.ndim + 1
        d1, d2 = _dim(dim1, n, "diag_embed"), _dim(dim2, n, "diag_embed")
        if d1 == d2:
            raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
        x = self.reshape(1) if self.ndim == 0 else self
        k = x.shape[-1]
        m = k + abs(offset)
        i = np.arange(k)
        out = ops.SetItem.apply(np.zeros(x.shape[:-1] + (m, m), self.dtype), x,
                                index=(Ellipsis, i + builtins.max(0, -offset), i + builtins.max(0, offset)))
        return out.movedim((n - 2, n - 1), (d1, d2))

    def diagflat(self, offset=0):
        """The square matrix with the flattened self on its diagonal ``offset``."""
        return self.reshape(-1).diag(offset)

    # ------------------------------------------------------------ more shape and index ops
    def tensor_split(self, indices_or_sections=None, dim=0, *, indices=None, sections=None):
        """Views along ``dim``: ``sections`` pieces as equal as possible (the first ones one longer), or
        the pieces between the listed indices (clipped as Python slices); ``indices=`` and ``sections=`` are
        keyword forms of the first argument, as in PyTorch."""
        given = [v for v in (indices_or_sections, indices, sections) if v is not None]
        if len(given) != 1:
            raise TypeError("tensor_split() expected one of indices_or_sections, indices or sections")
        indices_or_sections = given[0]
        d = _dim(dim, self.ndim, "tensor_split")
        if self.ndim == 0:
            raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
        spec = indices_or_sections
        if isinstance(spec, Tensor):
            if spec.dtype.kind not in "iu" or spec.ndim > 1:
                raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                                   f"one-dimensional tensor of dtype Long, but got a {spec.ndim}-D "
                                   f"{_torch_type(spec.dtype)} tensor")
            spec = spec.item() if spec.ndim == 0 else spec.tolist()
        lead = (slice(None),) * d
        if isinstance(spec, (int, np.integer)):
            if spec <= 0:
                raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {spec}")
            n = self.shape[d]
            sizes = [n // spec + (i < n % spec) for i in range(spec)]
            bounds = np.cumsum([0] + sizes)
        else:
            bounds = [0] + [int(i) for i in spec] + [None]
        return tuple(self[lead + (slice(s, e),)] for s, e in zip(bounds[:-1], bounds[1:]))

    def _split_at(self, name, spec, dim, min_ndim):
        """hsplit/vsplit/dsplit: ``tensor_split`` along ``dim``, a number of sections must divide the size."""
        if self.ndim < min_ndim:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {min_ndim} dimension"
                               f"{'s' if min_ndim > 1 else ''}, but got a tensor with {self.ndim} dimensions!")
        if isinstance(spec, (int, np.integer)) and (spec == 0 or self.shape[dim] % spec):
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                               f"dimension {self.shape[dim]} is not divisible by the split_size {spec}!")
        return self.tensor_split(spec, dim)

    def hsplit(self, indices_or_sections):
        """``tensor_split`` along dim 1 (dim 0 of a 1-D tensor); a number of sections must divide the size."""
        return self._split_at("hsplit", indices_or_sections, 0 if self.ndim == 1 else 1, 1)

    def vsplit(self, indices_or_sections):
        """``tensor_split`` along dim 0 of a tensor of at least 2 dims."""
        return self._split_at("vsplit", indices_or_sections, 0, 2)

    def dsplit(self, indices_or_sections):
        """``tensor_split`` along dim 2 of a tensor of at least 3 dims."""
        return self._split_at("dsplit", indices_or_sections, 2, 3)

    def split_with_sizes(self, split_sizes, dim=0):
        """Pieces of the listed sizes along ``dim`` (they must add up to its size)."""
        return ops.split(self, list(split_sizes), dim)

    def rot90(self, k=1, dims=(0, 1)):
        """Rotate by 90 degrees ``k`` times in the plane ``dims``, from the first dim towards the second."""
        dims = list(dims)
        if len(dims) != 2:
            raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
        if self.ndim < 2:
            raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {self.ndim}")
        d0, d1 = _dim(dims[0], self.ndim, "rot90"), _dim(dims[1], self.ndim, "rot90")
        if d0 == d1:
            raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
        k %= 4
        if k == 1:
            return self.flip(d1).transpose(d0, d1)
        if k == 2:
            return self.flip(d0, d1)
        if k == 3:
            return self.flip(d0).transpose(d0, d1)
        return self.clone()

    def fliplr(self):
        """Reverse the order along dim 1 (at least 2-D)."""
        if self.ndim < 2:
            raise RuntimeError(f"fliplr: Input must be >= 2-d. (got shape {list(self.shape)})")
        return self.flip(1)

    def flipud(self):
        """Reverse the order along dim 0 (at least 1-D)."""
        if self.ndim < 1:
            raise RuntimeError("flipud: Input must be >= 1-d.")
        return self.flip(0)

    def ravel(self):
        """The elements as a 1-D tensor."""
        return self.reshape(-1)

    def _view_inplace(self, name, view):
        """transpose_, squeeze_, ...: this tensor takes the shape of ``view(self)``; in a graph the view is
        recorded and this tensor takes its place (as ``_inplace`` does, the shape may change)."""
        if autograd.is_grad_enabled() and self._requires_grad:
            self._check_inplace(name)
            old = Tensor._wrap(self._data, True)
            old.grad_fn, old._out_index, old._version = self.grad_fn, self._out_index, self._version
            autograd.rebase(self, old, view(old), name, reshape=True)
            return self
        self._data = view(Tensor._wrap(self._data))._data
        return self

    def transpose_(self, dim0, dim1):
        """In place: swap two dimensions of this tensor."""
        return self._view_inplace("transpose_", lambda t: t.transpose(dim0, dim1))

    swapaxes_ = swapdims_ = transpose_

    def t_(self):
        """In place: ``t()``."""
        return self._view_inplace("t_", lambda t: t.t())

    def squeeze_(self, dim=None):
        """In place: ``squeeze(dim)``."""
        return self._view_inplace("squeeze_", lambda t: t.squeeze(dim))

    def unsqueeze_(self, dim):
        """In place: ``unsqueeze(dim)``."""
        return self._view_inplace("unsqueeze_", lambda t: t.unsqueeze(dim))

    def _index_args(self, name, dim, index):
        """(dim, index array) for index_copy/index_fill: a 1-D (or 0-d) int64 index inside the dim."""
        idx = _infer_array(index)
        if idx.dtype != np.int64:
            raise RuntimeError(f"{name}(): Expected a long tensor for index, but got {_torch_type(idx.dtype)}")
        if idx.ndim > 1:
            raise IndexError(f"{name}(): Index should have dimension 1 or 0 (got {idx.ndim})")
        d = _dim(dim, self.ndim, name)
        n = self.shape[d] if self.ndim else 1
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            raise IndexError(f"{name}(): index {bad.reshape(-1)[0]} is out of bounds for dimension {d} with size {n}")
        return d, idx.reshape(-1) % builtins.max(n, 1)

    def index_copy(self, dim, index, source):
        """A copy with source[.., i, ..] written at position index[i] along ``dim`` (both get gradients)."""
        d, idx = self._index_args("index_copy", dim, index)
        src = _as_tensor(source)
        if src.dtype != self.dtype:
            raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                               f"{_torch_type(self.dtype)} and (source) {_torch_type(src.dtype)}")
        want = self.shape[:d] + (len(idx),) + self.shape[d + 1:] if self.ndim else (len(idx),) if idx.size > 1 else ()
        if src.ndim and src.ndim == len(want) and src.shape[d] != len(idx):
            raise IndexError(f"index_copy_(): Number of indices ({len(idx)}) should be equal to source.size(dim) "
                             f"({src.shape[d]})")
        if src.shape != want and src.numel() != int(np.prod(want)):
            raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice shapes. Destination "
                               f"slice shape: {list(self.shape)} at dimension {d} and source slice shape: "
                               f"{list(src.shape)} at dimension {d}.")
        if self.ndim == 0:
            return ops.SetItem.apply(self, src.reshape(()), index=())
        return ops.SetItem.apply(self, src.reshape(want), index=(slice(None),) * d + (idx,))

    def index_fill(self, dim, index, value):
        """A copy with ``value`` (a number or a 0-d tensor) at the positions ``index`` along ``dim``."""
        d, idx = self._index_args("index_fill", dim, index)
        if isinstance(value, Tensor) and value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        mask = np.zeros(self.shape[d] if self.ndim else 1, bool)
        mask[idx] = True
        return self.masked_fill(mask.reshape((-1,) + (1,) * (self.ndim - d - 1)) if self.ndim else mask[0], value)

    def index_put(self, indices, values, accumulate=False):
        """A copy with self[indices] = values (added with ``accumulate``, where repeated indices add up);
        ``indices`` is a tuple of integer or bool tensors."""
        if not isinstance(indices, (tuple, list)):
            raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
        index = tuple(_infer_array(i) for i in indices)
        v = _as_tensor(values)
        if v.dtype != self.dtype:
            raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                               f"{_torch_type(self.dtype)} for the destination and {_torch_type(v.dtype)} for the "
                               f"source.")
        try:
            np.broadcast_to(np.zeros((), bool), self.shape)[index]
        except IndexError as e:
            raise IndexError(f"index_put: {e}") from None
        return ops.IndexPut.apply(self, v, index=index, accumulate=bool(accumulate))

    def scatter_reduce(self, dim, index, src, reduce, *, include_self=True):
        """A copy where the values of ``src`` are reduced ('sum', 'prod', 'mean', 'amax', 'amin') into the
        positions ``index`` along ``dim`` (together with this tensor's value there when ``include_self``)."""
        if reduce not in ("sum", "prod", "mean", "amax", "amin"):
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
        idx, src = self._scatter_args("scatter_reduce", dim, index, src, None, None)
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_reduce(): argument 'src' must be Tensor, not {type(src).__name__}")
        x = self.reshape(1) if self.ndim == 0 else self
        out = ops.ScatterReduce.apply(x, idx.reshape(idx.shape or (1,)), src.reshape(src.shape or (1,)), dim=dim,
                                      reduce=reduce, include_self=include_self)
        return out.reshape(()) if self.ndim == 0 else out

    def take(self, index):
        """The elements of the flattened tensor at ``index`` (negative counts from the end), in its shape."""
        idx = _infer_array(index)
        if idx.dtype != np.int64:
            raise RuntimeError(f"take(): Expected a long tensor for index, but got {_torch_type(idx.dtype)}")
        n = self.numel()
        bad = idx[(idx < -n) | (idx >= n)]
        if bad.size:
            raise IndexError(f"take: out of range: tried to access index {bad.reshape(-1)[0]} on a tensor of {n} "
                             f"elements.")
        return self.reshape(-1)[idx % builtins.max(n, 1)]

    def narrow_copy(self, dim, start, length):
        """A copy of ``narrow(dim, start, length)``."""
        return self.narrow(dim, start, length).clone()

    def histc(self, bins=100, min=0, max=0):
        """Counts in ``bins`` equal bins over [min, max] (the data's range when both are equal), in this
        tensor's dtype; elements outside are ignored (no gradient)."""
        if self.dtype.kind != "f":
            raise NotImplementedError(f'histc: "histogram_cpu" not implemented for \'{_torch_type(self.dtype)}\'')
        if bins <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
        a = self._data.reshape(-1)
        lo, hi = a.dtype.type(min), a.dtype.type(max)
        if lo > hi:
            raise RuntimeError(f"torch.histc: max must be larger than min (min {min}, max {max})")
        if lo == hi and a.size:
            lo, hi = a.min(), a.max()
        if lo == hi:
            lo, hi = lo - 1, hi + 1
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
        a = a[(a >= lo) & (a <= hi)]
        pos = ((a - lo) * a.dtype.type(bins) / (hi - lo)).astype(np.int64)
        return Tensor._wrap(np.bincount(np.minimum(pos, bins - 1), minlength=bins).astype(self.dtype))

    def nonzero_static(self, *, size, fill_value=-1):
        """``nonzero()`` with exactly ``size`` rows: cut, or padded with ``fill_value``."""
        if size < 0:
            raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer (got {size})")
        idx = np.argwhere(self._data)[:size]
        out = np.full((size, self.ndim), fill_value, np.int64)
        out[:len(idx)] = idx
        return Tensor._wrap(out)

    def unique_consecutive(self, return_inverse=False, return_counts=False, dim=None):
        """The tensor with runs of equal consecutive elements (slices along ``dim``) kept once; optionally
        each element's index into the result and the run lengths."""
        if dim is None:
            a = self._data.reshape(-1)
            new = np.concatenate([[True], a[1:] != a[:-1]]) if a.size else np.zeros(0, bool)
            values = a[new]
        else:
            d = _dim(dim, self.ndim, "unique_consecutive")
            a = np.moveaxis(self._data, d, 0).reshape(self.shape[d], -1)
            new = np.concatenate([[True], (a[1:] != a[:-1]).any(1)]) if len(a) else np.zeros(0, bool)
            values = np.moveaxis(np.moveaxis(self._data, d, 0)[new], 0, d)
        out = [Tensor._wrap(np.ascontiguousarray(values))]
        if return_inverse:
            inv = np.cumsum(new) - 1
            out.append(Tensor._wrap(inv.reshape(self.shape if dim is None else -1).astype(np.int64)))
        if return_counts:
            out.append(Tensor._wrap(np.diff(np.append(np.flatnonzero(new), len(new))).astype(np.int64)))
        return out[0] if len(out) == 1 else tuple(out)

    # ------------------------------------------------------------ metadata, casts and random fills
    nelement = numel
    ndimension = dim
    is_cpu = property(lambda self: True, doc="Always True: tensors live on the CPU.")
    itemsize = property(lambda self: self._data.itemsize, doc="Bytes per element.")
    nbytes = property(lambda self: self._data.nbytes, doc="Bytes of all elements.")

    def element_size(self):
        """Bytes per element."""
        return self._data.itemsize

    def stride(self, dim=None):
        """Steps in elements between neighbours along each dim (of one dim when given)."""
        a = self._data
        strides = tuple(s // a.itemsize for s in a.strides) if a.ndim and builtins.min(a.strides) >= 0 else \
            tuple(int(np.prod(a.shape[i + 1:])) for i in range(a.ndim))
        return strides if dim is None else strides[_dim(dim, self.ndim, "stride")]

    def storage_offset(self):
        """How many elements into the memory it views this tensor starts (0 unless it is a view)."""
        base = self._data
        while isinstance(base.base, np.ndarray):
            base = base.base
        start = self._data.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        return int(start // self._data.itemsize) if self._data.size else 0

    def is_complex(self):
        """False: tensors here are never complex."""
        return False

    def is_signed(self):
        """True for dtypes that hold negative numbers (not bool or uint8)."""
        return self.dtype.kind in "if"

    def is_nonzero(self):
        """The truth value of a one-element tensor (more or fewer elements raise)."""
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with {'no values' if self.numel() == 0 else 'more than one value'}"
                               f" is ambiguous")
        return bool(self._data.reshape(-1)[0])

    def is_same_size(self, other):
        """True when ``other`` has the same shape."""
        return self.shape == other.shape

    def _fill_random(self, name, draw, generator):
        from .random import rng
        return self._assign(name, Ellipsis, draw(rng(generator)))

    def random_(self, *args, generator=None, **kwargs):
        """Fill with integers drawn uniformly: ``random_(to)`` from [0, to - 1], ``random_(from, to)`` from
        [from, to - 1], ``random_()`` from [0, 2**mantissa bits] for floats, [0, max] for integers."""
        if len(args) > 2 or set(kwargs) - {"from", "to"}:
            raise TypeError(f"random_() takes at most 2 bounds 'from' and 'to' (got {args} and {kwargs})")
        lo, hi = (0, args[0]) if len(args) == 1 and "to" not in kwargs else (list(args) + [0, None])[:2]
        lo, hi = kwargs.get("from", lo), kwargs.get("to", hi)
        if hi is None:
            dt = self.dtype
            hi = 2 ** (np.finfo(dt).nmant + 1) + 1 if dt.kind == "f" else 2 if dt == np.bool_ else \
                int(np.iinfo(dt).max) + 1
        if lo >= hi:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={lo} >= to={hi}")
        return self._fill_random("random_", lambda g: g.integers(lo, hi, self.shape), generator)

    def exponential_(self, lambd=1.0, *, generator=None):
        """Fill with draws from the exponential distribution of rate ``lambd``."""
        if not lambd > 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
        return self._fill_random("exponential_", lambda g: g.exponential(1 / lambd, self.shape), generator)

    def geometric_(self, p, *, generator=None):
        """Fill with the number of Bernoulli(p) trials up to the first success (1, 2, ...)."""
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
        return self._fill_random("geometric_", lambda g: g.geometric(p, self.shape), generator)

    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        """Fill with draws from the Cauchy distribution at ``median`` with scale ``sigma``."""
        if not sigma > 0:
            raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
        return self._fill_random("cauchy_", lambda g: median + sigma * g.standard_cauchy(self.shape), generator)

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        """Fill with exp(N(mean, std^2)) draws."""
        if not std > 0:
            raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
        return self._fill_random("log_normal_", lambda g: g.lognormal(mean, std, self.shape), generator)

    def __getitem__(self, index):
        return ops.GetItem.apply(self, index=_index_array(index))

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))


ReturnAminmax = collections.namedtuple("aminmax", ["min", "max"])
ReturnFrexp = collections.namedtuple("frexp", ["mantissa", "exponent"])


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


def _selected(x, d, idx, keepdim):
    """(values, indices) of the elements of ``x`` at ``idx`` (keepdim shape) along ``d``; values are gathered,
    so the gradient goes to those elements."""
    values = x.gather(d, idx)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return ReturnMinMax(values, Tensor._wrap(idx))


_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(x, name, q, dim, keepdim, interpolation, ignore_nan):
    """quantile/nanquantile: sort along the dim, pick the values at rank q (n - 1) and interpolate."""
    if not isinstance(q, (Tensor, numbers.Real)):
        raise TypeError(f"{name}(): argument 'q' must be Tensor or float, not {type(q).__name__}")
    if x.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype (got {_torch_type(x.dtype)})")
    if x.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor (got shape {list(q.shape)})")
        if q.dtype != x.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor (got "
                               f"{_torch_type(q.dtype)} and {_torch_type(x.dtype)})")
        qs, scalar = q._data.reshape(-1), q.ndim == 0
        if ((qs < 0) | (qs > 1)).any():
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        qs, scalar = np.asarray([q], np.float64), True
    if interpolation not in _QUANTILE_MODES:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, but "
                           f"got {interpolation}")
    flat = dim is None
    v = x.reshape(-1) if flat else x.reshape(1) if x.ndim == 0 else x
    d = 0 if flat else _dim(dim, v.ndim, name)
    s = v.sort(d)[0]
    nan = np.isnan(s._data)
    n, k = s.shape[d], (~nan).sum(d, keepdims=True)
    shape = [1] * s.ndim
    shape[d] = len(qs)
    qq, last = qs.astype(x.dtype).reshape(shape), x.dtype.type(n - 1)  # ranks in x's dtype, as PyTorch's
    if ignore_nan:  # rank among the k values that are not NaN; none: the last (a NaN)
        ranks = np.where(k > 0, qq * (k - 1).astype(x.dtype), last)
    else:  # a slice holding NaN gives its last element, a NaN
        ranks = np.where(k < n, last, qq * last)
    ranks = np.broadcast_to(ranks, s.shape[:d] + (len(qs),) + s.shape[d + 1:])
    lo, hi = np.floor(ranks).astype(np.int64), np.ceil(ranks).astype(np.int64)
    if interpolation in ("lower", "higher", "nearest"):
        pick = {"lower": lo, "higher": hi, "nearest": np.round(ranks).astype(np.int64)}[interpolation]
        out = s.gather(d, pick)
    else:
        below, above = s.gather(d, lo), s.gather(d, hi)
        w = (ranks - lo if interpolation == "linear" else np.full(ranks.shape, 0.5)).astype(x.dtype)
        # PyTorch's lerp: from the nearer end
        out = ops.Where.apply(w < 0.5, below + w * (above - below), above - (above - below) * (1 - w))
    out = out.movedim(d, 0)
    if keepdim:
        out = out.reshape((len(qs),) + (1,) * x.ndim) if flat else out.unsqueeze(d + 1) if x.ndim else out
    return out[0] if scalar else out


def _check_matrices(name, n1, m1, k1, n2, m2, k2):
    """The operands of addmm/addmv have the dims named and the same dtype."""
    for n, m, k in ((n1, m1, k1), (n2, m2, k2)):
        if m.ndim != k:
            raise RuntimeError(f"{name}: {n} must be a {'matrix' if k == 2 else 'vector'}, got {m.ndim}-D tensor")
    if m1.dtype != m2.dtype:
        raise RuntimeError(f"{name}: expected {n1} and {n2} to have the same dtype, but got: "
                           f"{_torch_type(m1.dtype)} != {_torch_type(m2.dtype)}")


def _check_batches(name, b1, b2):
    """The operands of addbmm/baddbmm: 3-D, equal batch sizes, matching inner sizes and dtypes."""
    for n, b in (("batch1", b1), ("batch2", b2)):
        if b.ndim != 3:
            raise RuntimeError(f"{name}: {n} must be a 3D tensor (got {b.ndim}-D)")
    if b1.shape[0] != b2.shape[0] or b1.shape[2] != b2.shape[1]:
        raise RuntimeError(f"{name}: Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{b1.shape[0]}, {b1.shape[2]}] but got: [{b2.shape[0]}, {b2.shape[1]}].")
    if b1.dtype != b2.dtype:
        raise RuntimeError(f"{name}: expected batch1 and batch2 to have the same dtype, but got: "
                           f"{_torch_type(b1.dtype)} != {_torch_type(b2.dtype)}")


def _add_scaled(name, input, product, beta, alpha):
    """beta * input + alpha * product (input broadcast to the product's shape, ignored when beta is 0)."""
    if input.dtype != product.dtype:
        raise RuntimeError(f"{name}: expected self and the product to have the same dtype, but got: "
                           f"{_torch_type(input.dtype)} != {_torch_type(product.dtype)}")
    try:
        ops._broadcast_check(name, np.broadcast_to(0, input.shape), np.broadcast_to(0, product.shape))
        base = input.expand(product.shape)
    except RuntimeError as e:
        raise RuntimeError(f"{name}: {e}") from None
    if product.dtype == np.bool_ and name != "addr":
        raise NotImplementedError(f"{name}: not implemented for 'Bool'")
    if product.dtype.kind in "iu":  # PyTorch: addr refuses float scalars here, the others truncate them
        for what, v in (("beta", beta), ("alpha", alpha)):
            if name == "addr" and isinstance(v, (float, np.floating)):
                raise RuntimeError(f"addr: For integral input tensors, argument {what} must not be a floating "
                                   f"point number.")
        beta, alpha = _scalar_of(beta, product.dtype), _scalar_of(alpha, product.dtype)
    if beta == 0:  # zeros whose gradient to input is zero, whatever input holds (NaN too)
        base = base.masked_fill(np.ones((), bool), 0)
    elif beta != 1:
        base = base * beta
    return base + (product if alpha == 1 else product * alpha)


def _tensor_arg(name, arg, value):
    """``value`` if it is a Tensor, else PyTorch's TypeError for an op that takes tensors only."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}(): argument '{arg}' must be Tensor, not {type(value).__name__}")
    return value


def _scalar_of(value, dtype):
    """A Python scalar factor as PyTorch casts it for a result of ``dtype``: truncated for integers."""
    return int(value) if np.dtype(dtype).kind in "iu" else value


def _sign(a):
    """np.sign with PyTorch's 0 for NaN."""
    s = np.sign(a)
    return np.where(np.isnan(s), 0, s).astype(s.dtype, copy=False) if s.dtype.kind == "f" else s


def _check_cast(name, result, target):
    """An in-place op keeps the tensor's dtype: a result of another kind (float into an integer tensor) raises."""
    if result != target and not np.can_cast(result, target, "same_kind"):
        raise RuntimeError(f"{name}: result type {_TORCH_TYPE.get(result.name, result.name)} can't be cast to the "
                           f"desired output type {_TORCH_TYPE.get(target.name, target.name)}")


def _linalg_forms():
    """tinybptt.linalg's torch.* forms, for the Tensor methods (imported on first use: linalg imports this module)."""
    from .linalg import _tensor_forms
    return _tensor_forms


def _torch_type(dtype):
    """PyTorch's name for a dtype in error texts: 'Float', 'Long', ..."""
    return _TORCH_TYPE.get(np.dtype(dtype).name, np.dtype(dtype).name)


def _bernoulli_check(name, p):
    """Probabilities (a number or a tensor) must lie in [0, 1], as PyTorch checks them."""
    if isinstance(p, numbers.Real):
        if not 0 <= p <= 1:
            raise RuntimeError(f"{name}: bernoulli_ expects p to be in [0, 1], but got p={p}")
        return
    a = _infer_array(p)
    if a.size and not ((a >= 0) & (a <= 1)).all():
        raise RuntimeError(f"{name}: Expected p_in >= 0 && p_in <= 1 to be true, but got false. (probabilities "
                           f"in [{np.nanmin(a)}, {np.nanmax(a)}])")


def _trig_method(name):
    """Tensor.<name>: the ``ops.TRIG`` (or ``ops.SPECIAL``) entry ``name`` (integer input gives float32)."""
    op = ops.TRIG_OPS.get(name) or ops.SPECIAL_OPS[name]

    def method(self):
        return op.apply(self._floating())
    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Elementwise {name} (integer input gives float32)."
    return method


for _name in ops.TRIG:
    setattr(Tensor, _name, _trig_method(_name))
    if _name[0] == "a":  # torch's numpy-style aliases: arcsin, arccosh, ...
        setattr(Tensor, "arc" + _name[1:], getattr(Tensor, _name))


for _name in ops.SPECIAL:  # erfc, erfinv, lgamma, digamma, sinc
    setattr(Tensor, _name, _trig_method(_name))

def _atan2(self, other):
    """Elementwise atan2(self, other): the angle of the point (other, self), in (-pi, pi]."""
    a, b = (t if isinstance(t, Tensor) else Tensor(np.asarray(t, self.dtype)) for t in (self, other))
    return ops.Atan2.apply(a._floating(), b._floating())


Tensor.atan2 = Tensor.arctan2 = _atan2


def _inplace_form(name):
    """Tensor.<name>_: the method ``name`` written into the tensor (recorded in a graph, see ``Tensor._inplace``)."""
    def method(self, *args, **kwargs):
        return self._inplace(name + "_", lambda t: getattr(t, name)(*args, **kwargs))
    method.__name__ = method.__qualname__ = name + "_"
    method.__doc__ = f"In place: ``self.{name}(...)`` written into this tensor."
    return method


for _name in ("relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs", "neg", "pow", "clamp_min", "clamp_max",
              "sin", "cos", "floor", "ceil", "round", "trunc", "sign", "reciprocal", "rsqrt", "square", "log1p",
              "clip", "fmod", "remainder", "floor_divide", "true_divide", "divide", "multiply", "subtract", "cumsum",
              "cumprod", "logical_not", "logical_and", "logical_or", "logical_xor", "eq", "ne", "lt", "le", "gt", "ge",
              "triu", "tril", "erf", "exp2", "expm1", "log2", "log10", "frac", "nan_to_num", "atan2", "arctan2",
              *ops.TRIG, *("arc" + n[1:] for n in ops.TRIG if n[0] == "a"), *ops.SPECIAL, "xlogy", "logit", "hypot",
              "heaviside", "copysign", "deg2rad", "rad2deg", "sgn", "negative", "fix", "nextafter", "ldexp", "addmm",
              "addmv", "addr", "addbmm", "baddbmm", "index_copy", "index_fill", "index_put",
              "scatter_reduce"):
    setattr(Tensor, _name + "_", _inplace_form(_name))


_TORCH_TYPE = {"float16": "Half", "float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}  # torch's names in error texts


_NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute won't be "
    "populated during autograd.backward(). If you indeed want the .grad field to be populated for a non-leaf "
    "Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure "
    "you access the leaf Tensor instead.")


class _HookHandle:
    def __init__(self, remove):
        self.remove = remove


def _index_array(index):
    """Replace Tensors inside an index by their arrays."""
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray(index)
    return index


def _dim(dim, ndim, name):
    """``dim`` as a non-negative int, with PyTorch's error naming the op when it is out of range."""
    return ops._dim(name, dim, ndim)


autograd.Tensor = Tensor
ops.Tensor = Tensor
ops._default_float = _default_float


def _bool_mask(mask, x, value):
    """masked_fill's mask as a bool array, checked as PyTorch checks it (bool dtype, broadcastable, 0-d value)."""
    m = _infer_array(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {m.dtype}")
    ops._broadcast_check("masked_fill", m, x._data)
    if np.ndim(_infer_array(value)) != 0:
        raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                           f"{np.ndim(_infer_array(value))} dimension(s).")
    _check_fill_value("masked_fill", value, x.dtype)
    return m


_C_TYPE = {"int8": "int8_t", "uint8": "uint8_t", "int16": "short", "int32": "int", "int64": "int64_t",
           "float16": "c10::Half", "float32": "float", "float64": "double"}


def _check_fill_value(name, value, dtype):
    """Raise, as PyTorch does, when a fill value overflows ``dtype``: NaN/inf or out of range for an integer
    dtype (unsigned ones also take -max..-1, wrapping), a finite value beyond the largest float."""
    v = value.item() if isinstance(value, (Tensor, np.ndarray, np.generic)) else value
    dt = np.dtype(dtype)
    if dt.kind == "b" or isinstance(v, (bool, complex)):
        return
    if dt.kind in "iu":
        info = np.iinfo(dt)
        ok = np.isfinite(v) and (-info.max if dt.kind == "u" else info.min) <= int(v) <= info.max
    else:
        ok = not np.isfinite(v) or abs(v) <= np.finfo(dt).max
    if not ok:
        raise RuntimeError(f"{name}: value cannot be converted to type {_C_TYPE.get(dt.name, dt.name)} without "
                           f"overflow (value {v!r} for a {dt.name} tensor)")
