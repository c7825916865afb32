"""Optimizer base class: parameter groups, per-parameter state, state_dict.

Optimizers update the parameters' arrays in place (vectorised numpy, nothing
recorded on the tape) and bump each parameter's ``_version`` so that a tensor
saved for a pending backward notices the change.  Their per-parameter state
holds Tensors where PyTorch's holds tensors (numbers where it holds numbers),
made once; the steps update the Tensors' arrays in place.
"""
import copy
import functools
import warnings
from collections import OrderedDict, defaultdict
from itertools import chain

import numpy as np

from ..autograd import enable_grad
from ..creation import get_default_dtype
from ..ops import kernels
from ..tensor import Tensor


class _RequiredParameter:
    """Marks a hyper-parameter that every parameter group must give."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj):
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _scalar(x):
    """A hyper-parameter as a number: a one-element tensor or array becomes a numpy scalar of its dtype, so
    that arithmetic with Python floats stays in that dtype (a float32 tensor lr makes Adam's lr / (1 - beta1^t)
    a float32 number, as in PyTorch); other values are returned as they are."""
    return np.asarray(x).reshape(())[()] if isinstance(x, (Tensor, np.ndarray)) else x


def _scalar_dtype():
    """The dtype of the scalar state ('step', NAdam's mu_product, ASGD's eta and mu), as PyTorch's:
    float64 when the default dtype is float64, else float32."""
    return np.dtype(np.float64) if get_default_dtype() == np.float64 else np.dtype(np.float32)


def _check_lr(lr, message="Invalid learning rate: {}", nan_ok=False):
    """PyTorch's check of a learning rate: a number >= 0 (or NaN, for SGD's ``nan_ok``) or a one-element tensor."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if lr < 0.0 if nan_ok else not 0.0 <= lr:
        raise ValueError(message.format(lr))


def _check_fused(fused, foreach, differentiable):
    """PyTorch's refusals of ``fused`` together with ``differentiable`` or ``foreach`` (which we otherwise ignore)."""
    if fused and differentiable:
        raise RuntimeError("`fused` does not support `differentiable`")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _check_adam_args(lr, eps, betas, weight_decay):
    """PyTorch's checks, with its error texts, of the hyper-parameters Adam and its variants share."""
    _check_lr(lr)
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class _HookHandle:
    """What ``register_step_pre_hook`` / ``register_step_post_hook`` return: ``remove()`` unregisters the hook."""

    def __init__(self, hooks, key):
        self.hooks, self.key = hooks, key

    def remove(self):
        """Unregister the hook (again: no effect)."""
        self.hooks.pop(self.key, None)


def _with_step_hooks(step):
    """``step`` running the optimizer's step pre-hooks before it and post-hooks after it, as PyTorch's
    patched step; a ``super().step()`` inside a hooked step does not run them again."""
    @functools.wraps(step)
    def hooked(self, *args, **kwargs):
        if self.__dict__.get("_in_hooked_step"):
            return step(self, *args, **kwargs)
        args = (self, *args)
        for hook in list(self.__dict__.get("_optimizer_step_pre_hooks", {}).values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{step.__qualname__} must return None or a tuple of (new_args, new_kwargs), "
                                       f"but got {result}.")
                args, kwargs = result
        self._in_hooked_step = True
        try:
            with np.errstate(all="ignore"):  # an inf or nan gradient spreads quietly, as in PyTorch
                out = step(*args, **kwargs)
        finally:
            self._in_hooked_step = False
        for hook in list(self.__dict__.get("_optimizer_step_post_hooks", {}).values()):
            hook(self, args, kwargs)
        return out
    hooked._step_hooks = True
    return hooked


class Optimizer:
    """Base class of optimizers, with PyTorch's layout.

    ``params`` is an iterable of Tensors, of ``(name, Tensor)`` pairs, or of
    dicts each holding ``'params'`` plus options that override ``defaults``
    for that group.  Subclasses implement ``step``.
    """

    # state keys whose loaded Python numbers become 0-d Tensors of the scalar dtype (see _scalar_dtype), as the
    # built-ins' __setstate__ in PyTorch makes them: ('step',) for most of them; a custom optimizer keeps numbers
    _scalar_state = ()

    def __init_subclass__(cls, **kwargs):
        """Every subclass's own ``step`` runs the step hooks (``register_step_pre_hook``), as in PyTorch."""
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if callable(step) and not getattr(step, "_step_hooks", False):
            cls.step = _with_step_hooks(step)

    def register_step_pre_hook(self, hook):
        """Call ``hook(optimizer, args, kwargs)`` before every ``step``; it may return (new_args, new_kwargs)."""
        return self._add_hook("_optimizer_step_pre_hooks", hook)

    def register_step_post_hook(self, hook):
        """Call ``hook(optimizer, args, kwargs)`` after every ``step``."""
        return self._add_hook("_optimizer_step_post_hooks", hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """Call ``hook(optimizer)`` before ``state_dict()`` builds the dict (first with ``prepend``)."""
        return self._add_hook("_optimizer_state_dict_pre_hooks", hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """Call ``hook(optimizer, state_dict)`` on ``state_dict()``'s result; a returned dict replaces it."""
        return self._add_hook("_optimizer_state_dict_post_hooks", hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """Call ``hook(optimizer, state_dict)`` before ``load_state_dict`` loads; a returned dict is loaded instead."""
        return self._add_hook("_optimizer_load_state_dict_pre_hooks", hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """Call ``hook(optimizer)`` after ``load_state_dict`` has loaded."""
        return self._add_hook("_optimizer_load_state_dict_post_hooks", hook, prepend)

    def _add_hook(self, kind, hook, prepend=False):
        hooks = self.__dict__.setdefault(kind, OrderedDict())
        key = object()
        hooks[key] = hook
        if prepend:
            hooks.move_to_end(key, last=False)
        return _HookHandle(hooks, key)

    def _hooks(self, kind):
        """The hooks registered as ``kind``, in calling order (a copy: a hook may remove itself)."""
        return list(self.__dict__.get(kind, {}).values())

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with 'params' and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}")
            if not (p.is_leaf or p.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; "
                          "in future, this will cause an error; "
                          "see github.com/pytorch/pytorch/issues/40967 for more information", stacklevel=3)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for g in self.param_groups:
            if ("param_names" in g) != ("param_names" in param_group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if seen & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none=True):
        """Clear the gradients of all optimised parameters (set them to None by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.grad_fn, p.grad.requires_grad = None, False
                    p.grad._data[...] = 0

    def step(self, closure=None):
        """Update the parameters once; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # what PyTorch's step asserts when ``capturable=True`` meets a CPU parameter (all of ours are on the CPU)
    _capturable_error = ("If capturable=True, params and state_steps must be on supported devices: "
                         "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla'].")

    def _params_with_grad(self, group):
        """(parameter, its gradient array in the parameter's dtype) for each parameter of ``group`` with a gradient.

        With ``capturable=True`` a parameter with a gradient raises PyTorch's AssertionError for CPU tensors;
        with ``differentiable=True`` a leaf that requires grad raises PyTorch's RuntimeError (its step runs
        with grad enabled, so the in-place update of such a leaf is refused).
        """
        pairs = [(p, p.grad._data.astype(p.dtype, copy=False)) for p in group["params"] if p.grad is not None]
        if pairs and group.get("capturable"):
            raise AssertionError(self._capturable_error)
        if group.get("differentiable") and any(p.is_leaf and p.requires_grad for p, _ in pairs):
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        return pairs

    def _counted_state(self, p, *buffers):
        """p's state with its step counted; made on first use: a 0-d Tensor step 0 and a zero Tensor like p per
        name in ``buffers``."""
        state = self.state[p]
        if not state:
            state["step"] = _state_tensor(np.zeros((), _scalar_dtype()))
            for name in buffers:
                state[name] = _state_tensor(np.zeros_like(p._data))
        step, = _arrays(state, "step")
        step += 1
        return state

    # ------------------------------------------------------------ state
    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as PyTorch lays it out.

        Parameters are replaced by their position over all groups.  As in PyTorch the groups are copies,
        but each parameter's state is the optimizer's own dict, holding the Tensors the next step updates
        (``copy.deepcopy`` it, or save it, to keep a snapshot).
        """
        for hook in self._hooks("_optimizer_state_dict_pre_hooks"):
            hook(self)
        index, groups = {}, []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for p in g["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {index[id(p)] if isinstance(p, Tensor) else p: s for p, s in self.state.items()}
        state_dict = {"state": state, "param_groups": groups}
        for hook in self._hooks("_optimizer_state_dict_post_hooks"):
            state_dict = _or(hook(self, state_dict), state_dict)
        return state_dict

    def load_state_dict(self, state_dict):
        """Load a state from ``state_dict()``: ours (Tensors, also after ``save``/``load``), an older one holding
        numpy arrays, or PyTorch's (torch tensors).

        As PyTorch's: a Tensor value is cast to its parameter's dtype, and kept as the same Tensor when it
        has that dtype already ('step' is always kept); numpy arrays and torch tensors become Tensors of
        copies (so that our steps never write into them).  Lists, tuples and dicts are loaded element by
        element; numbers stay numbers, except the keys in ``_scalar_state`` (see there).
        """
        state_dict = dict(state_dict)  # a hook may change it: not the caller's
        for hook in self._hooks("_optimizer_load_state_dict_pre_hooks"):
            state_dict = _or(hook(self, state_dict), state_dict)
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(self.param_groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in self.param_groups)))
        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            p = id_map.get(k)
            if p is None:
                state[k] = v
                continue
            state[p] = {key: _state_value(key, val, p) for key, val in v.items()}
            for key in self._scalar_state:
                if key in state[p] and not isinstance(state[p][key], Tensor):
                    state[p][key] = _state_tensor(np.array(float(state[p][key]), _scalar_dtype()))
        for g, s in zip(self.param_groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.state, self.param_groups = state, saved_groups
        for hook in self._hooks("_optimizer_load_state_dict_post_hooks"):
            hook(self)

    def __getstate__(self):
        """For pickle and deepcopy: leave out a scheduler's wrapper around ``step`` and the hooks (PyTorch
        keeps only defaults, state and param_groups)."""
        return {k: v for k, v in self.__dict__.items()
                if k not in ("step", "_opt_called") and not k.startswith("_optimizer_")}

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines += [""] * (i > 0) + [f"Parameter Group {i}"]  # a blank line between groups, as PyTorch
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


def _or(result, default):
    """A hook's result, or ``default`` when it returned None."""
    return default if result is None else result


def _state_tensor(array):
    """A state Tensor wrapping ``array`` itself: the steps update the array in place, so the Tensor a user
    holds (``opt.state[p]['exp_avg']``) follows every step, and a change made to it reaches the next one."""
    return _cheap_to_bump(Tensor._wrap(array))


def _cheap_to_bump(t):
    """``t`` with its unset view slots (``_base``, ``_views``) set to None, which is what unset means: counting
    an in-place change (``_bump_version``) then finds them without a failed lookup, once per step."""
    for slot in ("_base", "_views"):
        if getattr(t, slot, None) is None:
            setattr(t, slot, None)
    return t


def _arrays(state, *names):
    """The arrays of ``state``'s Tensors ``names``, for a step to update in place (their versions counted,
    as PyTorch counts its in-place updates of the state)."""
    tensors = [state[name] for name in names]
    for t in tensors:
        t._bump_version()
    return [t._data for t in tensors]


def _state_value(key, value, param):
    """A loaded state value as PyTorch's ``load_state_dict`` makes it (see there): a Tensor for a Tensor,
    numpy array or scalar, or torch tensor, cast to ``param``'s dtype when it is floating (all but 'step')."""
    if isinstance(value, dict):
        return {k: _state_value(k, v, param) for k, v in value.items()}
    if isinstance(value, (list, tuple)):  # as PyTorch, which casts each element (with no key)
        return type(value)(_state_value(None, v, param) for v in value)
    if isinstance(value, Tensor):
        t = _cheap_to_bump(value)
    elif hasattr(value, "__array__"):  # a numpy array or scalar, a torch tensor: copied
        t = _state_tensor(np.array(value.detach() if hasattr(value, "detach") else value, copy=True))
    else:
        return value
    if key == "step" or param.dtype.kind != "f" or t.dtype == param.dtype:
        return t
    return _state_tensor(t._data.astype(param.dtype))


def _fma(a, b, c, out=None):
    """a * b + c rounded once, like the fused multiply-add in PyTorch's CPU kernels for
    ``add(alpha=)``, ``lerp`` and ``addcmul``.

    float32 goes through float64, where the product of two float32 numbers is
    exact, so float32 runs stay bit-for-bit with torch.optim (rounding
    a * b first would drift an ulp per step, and momentum amplifies it).
    Contiguous float32 arrays take one numba pass (``kernels.fma_wide``) instead
    of numpy's three over a float64 temporary.
    """
    if c.dtype != np.float32:
        return np.add(np.multiply(a, b), c, out=out)
    if _flat32(a, c.shape) and (np.ndim(b) == 0 or _flat32(b, c.shape)) and c.flags.c_contiguous \
            and (out is None or _flat32(out, c.shape)):
        out = np.empty_like(c) if out is None else out
        b = np.asarray(b, np.float32).reshape(-1)
        kernels().fma_wide(a.reshape(-1), b, c.reshape(-1), out.reshape(-1))
        return out
    wide = np.multiply(np.asarray(a, np.float32), np.asarray(b, np.float32), dtype=np.float64)
    wide += c
    if out is None:
        return wide.astype(np.float32)
    out[...] = wide
    return out


def _flat32(a, shape):
    """a is a C-contiguous float32 array of ``shape`` (so its flat view lines up with c's)."""
    return isinstance(a, np.ndarray) and a.dtype == np.float32 and a.shape == shape and a.flags.c_contiguous


def _lerp_(a, b, w):
    """a <- a + w (b - a) in place, as PyTorch's lerp: from the nearer end, b - (b - a)(1 - w), when w >= 0.5."""
    w = a.dtype.type(w)
    if abs(w) < 0.5:
        _fma(b - a, w, a, out=a)
    else:
        _fma(b - a, -(1 - w), b, out=a)


def _effective_grad(p, g, group, lr, wd):
    """The gradient an update uses: negated when ``maximize``, plus weight_decay * p; with
    ``decoupled_weight_decay`` (AdamW's form) p shrinks by lr * weight_decay instead."""
    if group["maximize"]:
        g = -g
    if wd != 0:
        if group.get("decoupled_weight_decay"):
            p._data *= 1 - lr * wd
        else:
            g = _fma(p._data, wd, g)
    return g


def _adam_moments_(m, v, g, beta1, beta2):
    """m <- beta1 m + (1 - beta1) g and v <- beta2 v + (1 - beta2) g^2 in place, rounded as torch's lerp_/addcmul_."""
    _lerp_(m, g, 1 - beta1)
    v *= beta2
    _fma(g * (1 - beta2), g, v, out=v)


def _bump(p):
    p._bump_version()
