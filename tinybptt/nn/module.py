"""nn.Module and Parameter: named parameters, train/eval, state_dict."""
from collections import OrderedDict

import numpy as np

from ..tensor import Tensor, _infer_array, as_dtype


class Parameter(Tensor):
    """A tensor that a Module registers as one of its parameters (requires grad by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        super().__init__(np.zeros(0, np.float32) if data is None else
                         np.array(_infer_array(data), copy=True), requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers: assign Parameters and Modules as attributes and they are registered."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("call super().__init__() before assigning attributes of a Module")
        if value is None and name in self._parameters:  # e.g. bias=False keeps the name, as None
            self._parameters[name] = None
            return
        for d in (self._parameters, self._modules, self._buffers):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif isinstance(value, Tensor) and name in self._buffers:
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        for d in ("_parameters", "_modules", "_buffers"):
            if name in self.__dict__.get(d, {}):
                return self.__dict__[d][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._modules, self._buffers):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    def register_buffer(self, name, tensor):
        """Register a non-trainable tensor that is saved in the state_dict."""
        self._buffers[name] = tensor

    def add_module(self, name, module):
        """Register a child module under ``name``."""
        self._modules[name] = module

    # ------------------------------------------------------------ traversal
    def named_modules(self, prefix=""):
        """Yield (dotted name, module) for this module and all below it."""
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        """This module and every module below it."""
        return (m for _, m in self.named_modules())

    def named_children(self):
        """Yield (name, module) for the direct children."""
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        """The direct child modules."""
        return (m for _, m in self.named_children())

    def named_parameters(self, prefix="", recurse=True):
        """Yield (dotted name, parameter), each parameter once, as PyTorch names them."""
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse=True):
        """Every parameter, each once."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix=""):
        for mname, m in self.named_modules(prefix):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    # ------------------------------------------------------------ modes and grads
    def train(self, mode=True):
        """Set training mode (dropout on) here and below; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode (dropout off); returns self."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of every parameter (set to None by default, as PyTorch)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad._data[...] = 0

    def to(self, dtype=None, *args, **kwargs):
        """Convert every floating parameter and buffer to ``dtype`` in place; returns self."""
        dtype = as_dtype(kwargs.get("dtype", dtype)) if not (isinstance(dtype, str) and dtype == "cpu") else None
        if dtype is None:
            return self
        for t in list(self.parameters()) + list(self.buffers()):
            if t.dtype.kind == "f":
                t._data = t._data.astype(dtype)
                if t.grad is not None:
                    t.grad = t.grad._data.astype(dtype)
        return self

    def double(self):
        """Convert parameters to float64."""
        return self.to(np.float64)

    def float(self):
        """Convert parameters to float32."""
        return self.to(np.float32)

    def cpu(self):
        return self

    def apply(self, fn):
        """Call ``fn(module)`` on every module below and including this one."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ state
    def state_dict(self):
        """An ordered dict of dotted names to numpy arrays (copies) of parameters and buffers."""
        out = OrderedDict()
        for mname, m in self.named_modules():
            for name, t in list(m._parameters.items()) + list(m._buffers.items()):
                if t is not None:
                    out[f"{mname}.{name}" if mname else name] = np.array(t._data, copy=True)
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` (numpy arrays or Tensors) into the parameters.

        With ``strict`` (the default) missing or unexpected keys raise; shape
        mismatches always raise.  Returns (missing_keys, unexpected_keys).
        """
        own = OrderedDict()
        for mname, m in self.named_modules():
            for name, t in list(m._parameters.items()) + list(m._buffers.items()):
                if t is not None:
                    own[f"{mname}.{name}" if mname else name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append(f"missing keys: {missing}")
        if strict and unexpected:
            errors.append(f"unexpected keys: {unexpected}")
        values = {}
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                v = v.detach().numpy() if isinstance(v, Tensor) else np.asarray(v)
                if v.shape != t.shape:
                    errors.append(f"size mismatch for {k}: checkpoint has shape {v.shape}, "
                                  f"this model has shape {t.shape}")
                values[k] = v
        if errors:
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: " + "; ".join(errors))
        for k, v in values.items():
            own[k]._data[...] = v.astype(own[k].dtype, copy=False)
            own[k]._version += 1
        return missing, unexpected

    # ------------------------------------------------------------ calling and printing
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        body = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({body})"
        return f"{type(self).__name__}({body}\n  " + "\n  ".join(lines) + "\n)"
