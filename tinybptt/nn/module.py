"""nn.Module and Parameter: named parameters, train/eval, state_dict."""
from collections import OrderedDict, namedtuple

import numpy as np

from ..tensor import Tensor, _infer_array, as_dtype


IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A tensor that a Module registers as one of its parameters (requires grad by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        super().__init__(np.zeros(0, np.float32) if data is None else
                         np.array(_infer_array(data), copy=True), requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class _ModuleHookHandle:
    """What ``register_forward_hook`` returns: ``remove()`` unregisters the hook."""

    def __init__(self, remove):
        self.remove = remove


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
        if name in self._parameters and not isinstance(value, Parameter):
            raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                            "(nn.Parameter or None expected)")
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

    def register_buffer(self, name, tensor, persistent=True):
        """Register a non-trainable tensor; it is in the state_dict unless ``persistent=False``."""
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        skip = self.__dict__.setdefault("_non_persistent_buffers", set())
        (skip.discard if persistent else skip.add)(name)

    def add_module(self, name, module):
        """Register a child module under ``name``."""
        self._modules[name] = module

    # ------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """Yield (dotted name, module) for this module and all below it (a shared module once)."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self):
        """This module and every module below it."""
        return (m for _, m in self.named_modules())

    def named_children(self):
        """Yield (name, module) for the direct children."""
        return ((n, m) for n, m in self._modules.items() if m is not None)

    def children(self):
        """The direct child modules."""
        return (m for _, m in self.named_children())

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield (dotted name, parameter), each parameter once (unless ``remove_duplicate=False``)."""
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mname, m in mods:
            for pname, p in m._parameters.items():
                if p is not None and (id(p) not in seen or not remove_duplicate):
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse=True):
        """Every parameter, each once."""
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix="", recurse=True):
        """Yield (dotted name, buffer)."""
        for mname, m in (self.named_modules(prefix=prefix) if recurse else [(prefix, self)]):
            for bname, b in m._buffers.items():
                if b is not None:
                    yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self, recurse=True):
        """Every buffer."""
        return (b for _, b in self.named_buffers(recurse=recurse))

    # ------------------------------------------------------------ modes and grads
    def train(self, mode=True):
        """Set training mode (dropout on) here and below; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
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

    def to(self, *args, **kwargs):
        """Convert every floating parameter (and its grad) and buffer to ``dtype`` in place; returns self.

        Accepts ``to(dtype)``, ``to(dtype=...)``, ``to(tensor)`` and device
        arguments ('cpu', ignored) like PyTorch.
        """
        wanted = [a.dtype if isinstance(a, Tensor) else a for a in (*args, kwargs.get("dtype"))
                  if a is not None and not (isinstance(a, str) and a.split(":")[0] == "cpu")]
        if not wanted:
            return self
        dtype = as_dtype(wanted[-1])
        if dtype.kind != "f":
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype}")
        for t in list(self.parameters()) + list(self.buffers()):
            if t.dtype.kind == "f" and t.dtype != dtype:
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
    def _state_tensors(self, prefix=""):
        """(dotted name, tensor) of every parameter and persistent buffer, shared ones under each name."""
        skip = self.__dict__.get("_non_persistent_buffers", ())
        for name, t in list(self._parameters.items()) + list(self._buffers.items()):
            if t is not None and name not in skip:
                yield prefix + name, t
        for name, m in self._modules.items():
            if m is not None:
                yield from m._state_tensors(f"{prefix}{name}.")

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict of dotted names to numpy arrays (copies) of parameters and buffers.

        With ``keep_vars=True`` the values are the Parameter/buffer tensors themselves.
        """
        out = OrderedDict() if destination is None else destination
        for name, t in self._state_tensors(prefix):
            out[name] = t if keep_vars else np.array(t._data, copy=True)
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` (numpy arrays, Tensors, or anything np.asarray takes) in place.

        Values are cast to each parameter's dtype (``assign=True`` takes the
        arrays themselves instead).  With ``strict`` (the default)
        missing or unexpected keys raise; shape mismatches always raise, all
        problems listed in one RuntimeError.  Returns a named tuple
        ``(missing_keys, unexpected_keys)``.
        """
        own = OrderedDict(self._state_tensors())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors, values = [], {}
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                v = np.asarray(v.detach() if hasattr(v, "detach") else v)
                if v.shape != t.shape:
                    errors.append(f"size mismatch for {k}: copying a param with shape {v.shape} from checkpoint, "
                                  f"the shape in current model is {t.shape}.")
                values[k] = v
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for k, v in values.items():
            if assign:  # take the checkpoint's array (and dtype) instead of copying into ours
                own[k]._data = v
            else:
                own[k]._data[...] = v
            own[k]._version += 1
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------ calling and printing
    def __call__(self, *args, **kwargs):
        for hook in list(self.__dict__.get("_forward_pre_hooks", {}).values()):
            result = hook(self, args)
            if result is not None:  # a pre-hook may replace the positional inputs
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self.__dict__.get("_forward_hooks", {}).values()):
            result = hook(self, args, out)
            if result is not None:  # a forward hook may replace the output
                out = result
        return out

    def _add_hook(self, kind, hook):
        hooks = self.__dict__.setdefault(kind, OrderedDict())
        key = object()
        hooks[key] = hook
        return _ModuleHookHandle(lambda: hooks.pop(key, None))

    def register_forward_hook(self, hook):
        """Call ``hook(module, args, output)`` after every forward; a non-None result replaces the output."""
        return self._add_hook("_forward_hooks", hook)

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, args)`` before every forward; a non-None result replaces the inputs."""
        return self._add_hook("_forward_pre_hooks", hook)

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
