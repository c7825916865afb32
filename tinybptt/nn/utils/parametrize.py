"""nn.utils.parametrize: a module's tensor computed by differentiable functions of stored tensors
(torch.nn.utils.parametrize).

``register_parametrization(module, "weight", P())`` moves the parameter to
``module.parametrizations.weight.original`` and changes the class of ``module`` to a subclass
(``ParametrizedLinear``, ...) whose ``weight`` is a property: every read computes
``P()(original)`` (with gradients flowing to ``original``), ``module.weight = X`` stores
``P().right_inverse(X)``.  The state_dict keys, the parameters and their order are PyTorch's.
"""
from collections.abc import Sequence
from contextlib import contextmanager
from copy import deepcopy

from ...autograd import no_grad
from ...tensor import Tensor
from ..layers import ModuleDict, ModuleList
from ..module import Parameter

__all__ = ["cached", "ParametrizationList", "register_parametrization", "is_parametrized", "remove_parametrizations",
           "type_before_parametrizations", "transfer_parametrizations_and_params"]

_cache_depth = 0  # how many cached() blocks are open
_cache = {}       # (id(module), tensor_name) -> the value computed first inside them


@contextmanager
def cached():
    """Inside this block a parametrized tensor is computed once (at its first read) and reused, as
    in PyTorch: use it around a forward that reads the same parametrized weight many times (an RNN's
    time loop).  The values are dropped when the outermost block ends."""
    global _cache_depth, _cache
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if not _cache_depth:
            _cache = {}


def _register_parameter_or_buffer(module, name, t):
    if isinstance(t, Parameter):
        module.register_parameter(name, t)
    else:
        module.register_buffer(name, t)


def _set(dest, src):
    """``dest`` takes ``src``'s values (sharing its memory) and keeps its identity, so an optimizer holding
    ``dest`` keeps working (PyTorch's ``Tensor.set_``)."""
    if dest is not src:
        dest._data = src._data
        dest._bump_version()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor (a ModuleList) and the tensor(s) they start from.

    It is ``module.parametrizations[tensor_name]``.  The stored tensor is ``original``, or
    ``original0``, ``original1``, ... when the first parametrization's ``right_inverse`` returns a
    sequence.  Calling it evaluates ``p_n(...p_1(p_0(original)))``.  Made by
    ``register_parametrization``, not by the user.
    """

    def __init__(self, modules, original, unsafe=False):
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        shape, dtype = original.shape, original.dtype
        # what the stored tensor(s) must be so that the parametrizations give back ``original``
        with no_grad():
            new = original
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    try:
                        new = m.right_inverse(new)
                    except NotImplementedError:
                        pass  # taken as the identity, as in PyTorch
        if not isinstance(new, (Tensor, Sequence)):
            raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                             f"Got {type(new).__name__}")
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.dtype != dtype:
                raise ValueError("When `right_inverse` outputs one tensor, it may not change the dtype.\n"
                                 f"original.dtype: {dtype}\nright_inverse(original).dtype: {new.dtype}")
            with no_grad():
                _set(original, new)  # the same Parameter object stays registered (optimizers keep it)
            _register_parameter_or_buffer(self, "original", original)
        else:
            for i, t in enumerate(new):
                if not isinstance(t, Tensor):
                    raise ValueError("'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). "
                                     f"Got element {i} of the sequence with type {type(t).__name__}.")
                if isinstance(original, Parameter):
                    t = Parameter(t, original.requires_grad)
                t.requires_grad_(original.requires_grad)
                _register_parameter_or_buffer(self, f"original{i}", t)
        if not self.unsafe:  # the parametrized tensor must keep the tensor's dtype and shape
            z = self()
            if not isinstance(z, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(z).__name__}.")
            if z.dtype != dtype:
                raise ValueError("Registering a parametrization may not change the dtype of the tensor, unless "
                                 f"`unsafe` flag is enabled.\nunparametrized dtype: {dtype}\n"
                                 f"parametrized dtype: {z.dtype}")
            if z.shape != shape:
                raise ValueError("Registering a parametrization may not change the shape of the tensor, unless "
                                 f"`unsafe` flag is enabled.\nunparametrized shape: {shape}\n"
                                 f"parametrized shape: {z.shape}")

    def right_inverse(self, value):
        """Store what makes the parametrizations give ``value``: each ``right_inverse`` in reverse order
        of registration, the result written into ``original`` (or ``original0``, ``original1``, ...)."""
        with no_grad():
            for m in reversed(list(self)):
                if not hasattr(m, "right_inverse"):
                    raise RuntimeError(f"parametrization {type(m).__name__} does not implement right_inverse.")
                value = m.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor. Got {type(value).__name__}")
                if value.dtype != self.original.dtype:
                    raise ValueError(f"The tensor returned by `right_inverse` has dtype {value.dtype} while "
                                     f"`original` has dtype {self.original.dtype}")
                _set(self.original, value)
                return
            if not isinstance(value, Sequence):
                raise ValueError(f"'right_inverse' must return a sequence of tensors. Got {type(value).__name__}.")
            if len(value) != self.ntensors:
                raise ValueError(f"'right_inverse' must return a sequence of tensors of length {self.ntensors}. "
                                 f"Got a sequence of length {len(value)}.")
            for i, t in enumerate(value):
                original = getattr(self, f"original{i}")
                if not isinstance(t, Tensor):
                    raise ValueError(f"'right_inverse' must return a sequence of tensors. Got element {i} of type "
                                     f"{type(t).__name__}.")
                if t.dtype != original.dtype:
                    raise ValueError(f"Tensor {i} returned by `right_inverse` has dtype {t.dtype} while "
                                     f"`original{i}` has dtype {original.dtype}")
                _set(original, t)

    def forward(self):
        """The parametrized tensor: the parametrizations applied in order of registration."""
        first, *rest = list(self)
        if self.is_tensor:
            x = first(self.original)
        else:
            x = first(*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in rest:
            x = m(x)
        return x

    def __repr__(self):
        return type(self).__name__ + super().__repr__()[len("ModuleList"):]


def _deepcopy(self, memo):
    """copy.deepcopy of a parametrized module (its __getstate__ refuses pickling, as in PyTorch)."""
    if id(self) in memo:
        return memo[id(self)]
    replica = type(self).__new__(type(self))
    memo[id(self)] = replica
    replica.__dict__ = deepcopy(self.__dict__, memo)
    return replica


def _getstate(self):
    raise RuntimeError("Serialization of parametrized modules is only supported through state_dict(). See:\n"
                       "https://pytorch.org/tutorials/beginner/saving_loading_models.html"
                       "#saving-loading-a-general-checkpoint-for-inference-and-or-resuming-training")


def _inject_new_class(module):
    """Give ``module`` a class of its own, ``Parametrized<Class>``, to hold the properties."""
    cls = type(module)
    body = {"__getstate__": _getstate}
    if not hasattr(cls, "__deepcopy__"):
        body["__deepcopy__"] = _deepcopy
    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), body)


def _inject_property(module, tensor_name):
    """Make ``tensor_name`` a property of the module's (own) class: read = evaluate, write = right_inverse."""
    if hasattr(module, tensor_name):
        raise AssertionError(f"Module already has an attribute named '{tensor_name}'")

    def get(self):
        plist = self.parametrizations[tensor_name]
        if not _cache_depth:
            return plist()
        key = (id(self), tensor_name)
        value = _cache.get(key)
        if value is None:
            value = _cache[key] = plist()
        return value

    def set(self, value):
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(type(module), tensor_name, property(get, set))


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Make ``module.<tensor_name>`` read as ``parametrization(original)``; returns ``module``.

    The first time, the parameter (or buffer) moves to ``module.parametrizations[tensor_name].original``
    after ``parametrization.right_inverse`` (if defined) is applied to it, or to ``original0``,
    ``original1``, ... when ``right_inverse`` returns a sequence (they are then new Parameters: add them
    to the optimizer).  Registering again on the same name chains the new parametrization after the
    others.  Unless ``unsafe=True``, a parametrization may not change the tensor's dtype or shape
    (ValueError).  ``module.<tensor_name> = X`` stores ``right_inverse(X)``.
    """
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        if not unsafe:  # forward and right_inverse must map tensors like module.<tensor_name> to such tensors
            y = getattr(module, tensor_name)
            x = parametrization(y)
            if not isinstance(x, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got {type(x).__name__}.")
            for what, got in (("dtype", x.dtype), ("shape", x.shape)):
                if got != getattr(y, what):
                    raise ValueError(f"Registering a parametrization may not change the {what} of the tensor, "
                                     f"unless the `unsafe` flag is enabled.\nmodule.{tensor_name}.{what}: "
                                     f"{getattr(y, what)}\nparametrization(module.{tensor_name}).{what}: {got}")
            if hasattr(parametrization, "right_inverse"):
                try:
                    z = parametrization.right_inverse(x)
                except NotImplementedError:
                    z = y  # taken as the identity
                if not isinstance(z, Tensor):
                    raise ValueError(f"parametrization.right_inverse must return a tensor. Got: {type(z).__name__}")
                for what in ("dtype", "shape"):
                    if getattr(z, what) != getattr(y, what):
                        raise ValueError(f"The tensor returned by parametrization.right_inverse must have the same "
                                         f"{what} as module.{tensor_name}, unless the `unsafe` flag is enabled.\n"
                                         f"module.{tensor_name}.{what}: {getattr(y, what)}\n"
                                         f"returned {what}: {getattr(z, what)}")
        plist = module.parametrizations[tensor_name]
        plist.append(parametrization)
        plist.unsafe |= unsafe
    elif tensor_name in module._buffers or tensor_name in module._parameters:
        plist = ParametrizationList([parametrization], getattr(module, tensor_name), unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with "
                         f"name '{tensor_name}'")
    return module


def is_parametrized(module, tensor_name=None):
    """Whether ``module`` has a parametrization on ``tensor_name`` (on any tensor when None)."""
    parametrizations = getattr(module, "parametrizations", None)
    if not isinstance(parametrizations, ModuleDict):
        return False
    return len(parametrizations) > 0 if tensor_name is None else tensor_name in parametrizations


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo ``register_parametrization`` on ``tensor_name``; returns ``module``.

    With ``leave_parametrized=True`` the tensor keeps its current parametrized value (written into the
    same ``original`` Parameter object, or a new Parameter when there were several originals);
    with False it goes back to ``original`` (ValueError when there are several).  The module gets its
    class back once nothing is parametrized.
    """
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
            if t.dtype != original.dtype:  # PyTorch's set_ refuses to change the dtype
                raise RuntimeError(f"remove_parametrizations: the parametrized {tensor_name} has dtype {t.dtype}, "
                                   f"its original {original.dtype}: cannot write it into the original")
            _set(original, t)
    elif leave_parametrized:
        t = getattr(module, tensor_name)
        original = Parameter(t.detach()) if t.requires_grad else t
    else:
        raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized "
                         "in terms of a sequence of tensors.")
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    _register_parameter_or_buffer(module, tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = type(module).__bases__[0]
    return module


def type_before_parametrizations(module):
    """The class ``module`` had before its first parametrization (its class if it has none)."""
    return type(module).__bases__[0] if is_parametrized(module) else type(module)


def transfer_parametrizations_and_params(from_module, to_module, tensor_name=None):
    """Register ``from_module``'s parametrizations (of ``tensor_name``, or of all) on ``to_module`` and
    make its originals the same tensors; a missing tensor is first created from the parametrized value."""
    if not is_parametrized(from_module):
        return to_module
    names = list(from_module.parametrizations) if tensor_name is None else [tensor_name]
    for name in names:
        source = from_module.parametrizations[name]
        if not hasattr(to_module, name):
            setattr(to_module, name, Parameter(getattr(from_module, name).detach()))
        for p in source:
            register_parametrization(to_module, name, p)
        target = to_module.parametrizations[name]
        if hasattr(source, "original"):
            target.original = source.original
        else:
            for i in range(source.ntensors):
                setattr(target, f"original{i}", getattr(source, f"original{i}"))
    return to_module
