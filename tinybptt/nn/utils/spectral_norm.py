"""The old spectral normalisation by a forward pre-hook (torch.nn.utils.spectral_norm; the parametrization
is nn.utils.parametrizations.spectral_norm): parameter ``<name>_orig``, buffers ``<name>_u`` and
``<name>_v``, and ``<name>`` a plain tensor recomputed as W / (u^T W v) before every forward."""
from ...autograd import no_grad
from ...creation import randn
from ...tensor import Tensor
from ..module import Parameter
from .parametrizations import _normalized
from .weight_norm import _hook_key, _remove_hook

__all__ = ["SpectralNorm", "spectral_norm", "remove_spectral_norm"]


class SpectralNorm:
    """The forward pre-hook: power iteration on ``<name>_u``, ``<name>_v`` (training mode only), then
    ``module.<name>`` = ``<name>_orig`` / sigma."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        self.name = name
        self.dim = dim
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.n_power_iterations = n_power_iterations
        self.eps = eps

    def reshape_weight_to_matrix(self, weight):
        """The weight as a (size of ``dim``, everything else) matrix."""
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        """W / (u^T W v), after ``n_power_iterations`` of v <- W^T u / |.|, u <- W v / |.| (in place in the
        buffers) when ``do_power_iteration``."""
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            w = mat._data
            for _ in range(self.n_power_iterations):
                v._data[...] = _normalized(w.T @ u._data, self.eps)
                u._data[...] = _normalized(w @ v._data, self.eps)
            u._bump_version()
            v._bump_version()
            u, v = u.clone(), v.clone()  # this graph keeps its u, v when a later forward iterates again
        sigma = (u * (mat @ v)).sum()
        return weight / sigma

    def remove(self, module):
        """Put back ``name`` as one Parameter holding the current normalised weight."""
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        for suffix in ("", "_u", "_v", "_orig"):
            delattr(module, self.name + suffix)
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, do_power_iteration=module.training))

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        """Move parameter ``name`` to ``name_orig``, add random unit ``name_u``, ``name_v`` and the hook."""
        if _hook_key(module, SpectralNorm, name) is not None:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters[name]
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        h, w = fn.reshape_weight_to_matrix(weight).shape
        u = Tensor(_normalized(randn(h, dtype=weight.dtype)._data, eps))
        v = Tensor(_normalized(randn(w, dtype=weight.dtype)._data, eps))
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.data)
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Spectral normalisation by a forward pre-hook: before each forward ``module.<name>`` =
    ``<name>_orig`` / sigma, sigma estimated with the buffers ``<name>_u``, ``<name>_v`` (random unit
    vectors at first; ``n_power_iterations`` power-iteration steps per forward in training mode).
    ``dim`` defaults to 0.  Returns ``module``."""
    SpectralNorm.apply(module, name, n_power_iterations, 0 if dim is None else dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm`` on ``name`` (ValueError if it has none); returns ``module``."""
    return _remove_hook(module, SpectralNorm, name, "spectral_norm")
