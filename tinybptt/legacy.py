"""The legacy typed constructors (``FloatTensor``, ``LongTensor``, ...) old PyTorch scripts still call.

``FloatTensor(data)`` makes a float32 tensor from a (nested) sequence or array, ``FloatTensor(2, 3)``
or ``FloatTensor(Size([2, 3]))`` one of that shape: uninitialised in torch, zeros here.  A tensor of
the class's dtype is aliased (shared memory, no history); one of another dtype is a TypeError, as in
torch.  ``isinstance(t, FloatTensor)`` is True for a float32 tensor.
"""
import numbers
import operator

import numpy as np

from .creation import zeros
from .devices import check_device
from .size import Size
from .tensor import Tensor


class _LegacyType(type):
    """The metaclass: calling the class builds a Tensor; isinstance checks the dtype."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args, device=None):
        check_device(cls.__name__, device)
        if not args:
            return zeros(0, dtype=cls.dtype)
        if _all_ints(args):
            return zeros(*(operator.index(a) for a in args), dtype=cls.dtype)
        if len(args) == 1 and isinstance(args[0], Size):
            return zeros(*args[0], dtype=cls.dtype)
        if len(args) == 1 and isinstance(args[0], Tensor):
            if args[0].dtype != cls.dtype:
                raise TypeError(f"{cls.__name__}(): expected a tensor of dtype {cls.dtype}, got {args[0].dtype}")
            return Tensor._wrap(args[0]._data)
        if len(args) == 1 and isinstance(args[0], (list, tuple, np.ndarray)):
            return Tensor(args[0], dtype=cls.dtype)
        if len(args) == 1:
            raise TypeError(f"{cls.__name__}(): new(): data must be a sequence (got {type(args[0]).__name__})")
        raise TypeError(f"{cls.__name__}(): new() received an invalid combination of arguments - got "
                        f"({', '.join(type(a).__name__ for a in args)}): give sizes as ints, or one sequence of data")


def _all_ints(args):
    return all(isinstance(a, numbers.Integral) and not isinstance(a, bool) or
               isinstance(a, np.ndarray) and a.ndim == 0 and a.dtype.kind in "iu" for a in args)


def _legacy(name, dtype, doc):
    return _LegacyType(name, (), {"dtype": np.dtype(dtype), "__doc__": doc, "__module__": "tinybptt"})


FloatTensor = _legacy("FloatTensor", np.float32, "Legacy constructor of float32 tensors (torch.FloatTensor).")
DoubleTensor = _legacy("DoubleTensor", np.float64, "Legacy constructor of float64 tensors (torch.DoubleTensor).")
LongTensor = _legacy("LongTensor", np.int64, "Legacy constructor of int64 tensors (torch.LongTensor).")
IntTensor = _legacy("IntTensor", np.int32, "Legacy constructor of int32 tensors (torch.IntTensor).")
BoolTensor = _legacy("BoolTensor", np.bool_, "Legacy constructor of bool tensors (torch.BoolTensor).")
ByteTensor = _legacy("ByteTensor", np.uint8, "Legacy constructor of uint8 tensors (torch.ByteTensor).")


class _VariableType(type):
    """Calling ``Variable`` gives a Tensor; every Tensor is an instance of it."""

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor)

    def __call__(cls, data, requires_grad=False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        out = Tensor._wrap(data._data)  # a new leaf sharing the memory, without history, as torch's
        if requires_grad:
            out.requires_grad_(True)
        return out


class Variable(metaclass=_VariableType):
    """torch.autograd.Variable, merged into Tensor since torch 0.4: ``Variable(t, requires_grad)`` is a
    new leaf tensor sharing ``t``'s memory, with ``requires_grad`` set."""
