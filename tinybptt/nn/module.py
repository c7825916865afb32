"""nn.Module and Parameter: named parameters, train/eval, state_dict."""
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ..devices import check_device, to_dtype
from ..tensor import Tensor, _infer_array, as_dtype, default_float


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns; prints as PyTorch's when every key matched."""

    __slots__ = ()

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


IncompatibleKeys = _IncompatibleKeys


class StateArray(np.ndarray):
    """A ``state_dict`` value: a numpy array sharing memory with its parameter (as PyTorch's
    state_dict tensors do) that PyTorch also takes as a tensor, so
    ``torch_model.load_state_dict(model.state_dict())`` works unchanged, as do
    ``torch.from_numpy(v)`` and ``torch.tensor(v)``.  ``numpy()``, ``detach()``, ``cpu()`` and
    ``clone()`` behave as on a tensor."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        import torch  # only PyTorch calls this, so it is installed

        def convert(a):
            if isinstance(a, StateArray):
                return torch.from_numpy(a.numpy())
            return type(a)(convert(x) for x in a) if isinstance(a, (list, tuple)) else a
        return func(*convert(args), **{k: convert(v) for k, v in (kwargs or {}).items()})

    def numpy(self):
        """The values as a plain numpy array (shares memory)."""
        return self.view(np.ndarray)

    def detach(self):
        """Itself: a state_dict value is never part of a graph."""
        return self

    cpu = detach

    def clone(self):
        """A copy that no longer shares memory with the parameter."""
        return self.copy()


def _typename(obj):
    return type(obj).__name__


def _check_name(kind, name):
    """PyTorch's checks on a parameter/buffer/module name."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string. Got {_typename(name)}")
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain "."' + (f", got: {name}" if kind == "module" else ""))
    if name == "":
        raise KeyError(f'{kind} name can\'t be empty string ""')


class Parameter(Tensor):
    """A tensor that a Module registers as one of its parameters (requires grad by default)."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        super().__init__(np.zeros(0, default_float()) if data is None else
                         np.array(_infer_array(data), copy=True), requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        """A Parameter with a copy of the values and the same requires_grad; as in PyTorch, not its .grad."""
        if id(self) not in memo:
            memo[id(self)] = Parameter(self._data, self.requires_grad)
        return memo[id(self)]

    def __reduce_ex__(self, protocol):
        """Pickled as its values and requires_grad; as in PyTorch, not its .grad."""
        return Parameter, (self._data, self.requires_grad)


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
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "training", True)

    def _forget(self, name, *dicts):
        """Drop ``name`` from the instance dict and the given registries."""
        for d in (self.__dict__, *dicts):
            d.pop(name, None)
        self.__dict__.get("_non_persistent_buffers", set()).discard(name)

    def __setattr__(self, name, value):
        """As PyTorch: Parameters and Modules register themselves; a registered name keeps its kind
        (None allowed), and Tensors assigned to a buffer name replace the buffer."""
        params, modules, buffers = (self.__dict__.get(k) for k in ("_parameters", "_modules", "_buffers"))
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, buffers, modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                "(nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, params, buffers)
            modules[name] = value
        elif modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                "(nn.Module or None expected)")
            modules[name] = None
        elif buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' (Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        for d in ("_parameters", "_modules", "_buffers"):
            if name in self.__dict__.get(d, {}):
                return self.__dict__[d][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for d in (self._parameters, self._modules, self._buffers):
            if name in d:
                del d[name]
                self.__dict__.get("_non_persistent_buffers", set()).discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules) | set(self._buffers))

    def _check_register(self, kind, store, name):
        """PyTorch's checks before registering ``name`` in the dict ``store`` ('_parameters' or '_buffers')."""
        if store not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        _check_name(kind, name)
        if hasattr(self, name) and name not in self.__dict__[store]:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        self._check_register("parameter", "_parameters", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            "(nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a non-trainable tensor (or None); it is in the state_dict unless ``persistent=False``."""
        self._check_register("buffer", "_buffers", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            "(Tensor or None required)")
        self._buffers[name] = tensor
        skip = self.__dict__.setdefault("_non_persistent_buffers", set())
        (skip.discard if persistent else skip.add)(name)

    def add_module(self, name, module):
        """Register a child module (or None) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        _check_name("module", name)
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target):
        """The module at dotted path ``target`` ('' is this module)."""
        mod = self
        for item in target.split(".") if target else ():
            if not hasattr(mod, item):
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return mod

    def get_parameter(self, target):
        """The parameter at dotted path ``target``."""
        return self._get_at(target, "an nn.Parameter", lambda mod, name: isinstance(getattr(mod, name), Parameter))

    def get_buffer(self, target):
        """The buffer at dotted path ``target``."""
        return self._get_at(target, "a buffer", lambda mod, name: name in mod._buffers)

    def _get_at(self, target, kind, is_kind):
        path, _, name = target.rpartition(".")
        mod = self.get_submodule(path)
        if not hasattr(mod, name):
            raise AttributeError(f"{type(mod).__name__} has no attribute `{name}`")
        if not is_kind(mod, name):
            raise AttributeError(f"`{name}` is not {kind}")
        return getattr(mod, name)

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
        """Yield (name, module) for the direct children (a child held under two names once)."""
        seen = set()
        for n, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield n, m

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

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """Yield (dotted name, buffer), each buffer once (unless ``remove_duplicate=False``)."""
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mname, m in mods:
            for bname, b in m._buffers.items():
                if b is not None and (id(b) not in seen or not remove_duplicate):
                    seen.add(id(b))
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
        """Set ``requires_grad`` on every parameter (e.g. False to freeze the module); returns self."""
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

    def to(self, *args, dtype=None, device=None, non_blocking=False):
        """Convert every floating parameter (and its grad) and buffer to ``dtype`` in place; returns self.

        Accepts ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` and ``to(device=..., dtype=...)``
        like PyTorch; the device must be the CPU.
        """
        dtype = to_dtype("Module.to", args, dtype, device)
        if dtype is None:
            return self
        dtype = as_dtype(dtype)
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
        """Returns self: everything already lives on the CPU."""
        return self

    def cuda(self, device=None):
        """Raises AssertionError: tinybptt has no CUDA (as PyTorch built without it)."""
        check_device("Module.cuda", "cuda")

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

    def _unexpected_keys(self, keys, prefix=""):
        """Keys naming nothing here, found module by module in PyTorch's order (a key whose first
        part after ``prefix`` is neither a child nor a local tensor of that module)."""
        skip = self.__dict__.get("_non_persistent_buffers", ())
        local = {n for n, t in list(self._parameters.items()) + list(self._buffers.items())
                 if t is not None and n not in skip}
        mine = [k for k in keys if k.startswith(prefix)]
        out = [k for k in mine if k[len(prefix):].split(".", 1)[0] not in local | set(self._modules)]
        for name, m in self._modules.items():
            if m is not None:
                out += m._unexpected_keys(mine, f"{prefix}{name}.")
        return out

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered dict of dotted names to the values of parameters and buffers.

        As in PyTorch the values share memory with the parameters (``copy.deepcopy`` the
        dict to keep a snapshot); they are numpy arrays that PyTorch also accepts as
        tensors (``StateArray``).  With ``keep_vars=True`` the values are the
        Parameter/buffer tensors themselves.
        """
        out = OrderedDict() if destination is None else destination
        for name, t in self._state_tensors(prefix):
            out[name] = t if keep_vars else t._data.view(StateArray)
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` (numpy arrays, Tensors, or anything np.asarray takes) in place.

        Values are cast to each parameter's dtype (``assign=True`` takes the
        arrays themselves instead).  With ``strict`` (the default)
        missing or unexpected keys raise; shape mismatches always raise, all
        problems listed in one RuntimeError.  Returns a named tuple
        ``(missing_keys, unexpected_keys)``.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        state_dict, (hook_missing, hook_unexpected, hook_errors) = OrderedDict(state_dict), ([], [], [])
        for prefix, m in self.named_modules(remove_duplicate=False):  # pre-hooks may rename keys of the copy
            for hook in list(m.__dict__.get("_load_state_dict_pre_hooks", {}).values()):
                hook(state_dict, prefix + "." if prefix else "", {}, strict, hook_missing, hook_unexpected, hook_errors)
        own = OrderedDict(self._state_tensors())
        missing = hook_missing + [k for k in own if k not in state_dict]
        unexpected = hook_unexpected + self._unexpected_keys(list(state_dict))
        errors, values = [], {}
        if strict and missing:
            errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ". ")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ". ")
        errors += hook_errors
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
            own[k]._bump_version()
        return _IncompatibleKeys(missing, unexpected)

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

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """Call ``hook(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)``
        (``hook(module, ...)`` with ``with_module``) at the start of ``load_state_dict``, as PyTorch: it may
        change the state_dict (a copy of the caller's) and append to the lists (``error_msgs`` raise)."""
        return self._add_hook("_load_state_dict_pre_hooks", (lambda *a: hook(self, *a)) if with_module else hook)

    def forward(self, *args, **kwargs):
        """The computation of the module; subclasses define it and are called as ``module(*args)``."""
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def extra_repr(self):
        """Text shown inside this module's repr(); subclasses override it to show their settings."""
        return ""

    def __repr__(self):
        """As PyTorch: a one-line extra_repr inline, otherwise one indented line per extra line and child."""
        extra = self.extra_repr().split("\n") if self.extra_repr() else []
        children = [f"({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        if len(extra) == 1 and not children:
            return f"{type(self).__name__}({extra[0]})"
        if not extra and not children:
            return f"{type(self).__name__}()"
        return f"{type(self).__name__}(\n  " + "\n  ".join(extra + children) + "\n)"
