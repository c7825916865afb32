"""The old weight normalisation by a forward pre-hook (torch.nn.utils.weight_norm, deprecated in favour of
nn.utils.parametrizations.weight_norm): parameters ``<name>_g`` and ``<name>_v``, and ``<name>`` a plain
tensor recomputed as g v / ||v|| before every forward."""
import warnings

from ..module import Parameter
from .parametrizations import norm_except_dim

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


def _pre_hooks(module):
    return module.__dict__.get("_forward_pre_hooks", {})


def _hook_key(module, hook_type, name):
    """The key of the forward pre-hook of type ``hook_type`` on ``name``, or None."""
    return next((k for k, h in _pre_hooks(module).items() if isinstance(h, hook_type) and h.name == name), None)


def _remove_hook(module, hook_type, name, what):
    """Undo the ``hook_type`` hook on ``name`` (ValueError naming ``what`` if there is none); returns ``module``."""
    key = _hook_key(module, hook_type, name)
    if key is None:
        raise ValueError(f"{what} of '{name}' not found in {module}")
    hooks = _pre_hooks(module)
    hooks[key].remove(module)
    del hooks[key]
    return module


class WeightNorm:
    """The forward pre-hook: sets ``module.<name>`` from ``<name>_g`` and ``<name>_v``."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        """g v / ||v||, the norm over every dimension but ``dim``."""
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, self.dim))

    @staticmethod
    def apply(module, name, dim):
        """Replace parameter ``name`` by ``name_g`` = ||w|| and ``name_v`` = w and register the hook."""
        warnings.warn("`nn.utils.weight_norm` is deprecated in favor of `nn.utils.parametrizations.weight_norm`.",
                      FutureWarning, stacklevel=3)
        if _hook_key(module, WeightNorm, name) is not None:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        """Put back ``name`` as one Parameter holding the current g v / ||v||."""
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Deprecated weight normalisation: w = g v / ||v|| recomputed before each forward, with the parameters
    ``<name>_g`` (||w|| over every dimension but ``dim``; over all with ``dim=None``) and ``<name>_v``.
    Warns FutureWarning; use ``nn.utils.parametrizations.weight_norm``.  Returns ``module``."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm`` on ``name`` (ValueError if it has none); returns ``module``."""
    return _remove_hook(module, WeightNorm, name, "weight_norm")
