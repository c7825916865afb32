"""Rprop: resilient backpropagation (Riedmiller & Braun 1993)."""
import numpy as np

from .optimizer import Optimizer, _arrays, _bump, _check_lr, _scalar


class Rprop(Optimizer):
    """Rprop, exactly as ``torch.optim.Rprop``.

    Each element keeps its own step size, starting at lr.  With g the gradient
    (negated when ``maximize``) and g_prev the previous step's: where
    g * g_prev > 0 the step size grows by etaplus, where it is < 0 it shrinks
    by etaminus and g is taken as 0, clamped to [step_sizes[0], step_sizes[1]];
    then p -= sign(g) * step_size and g_prev = g.  ``capturable``, ``foreach``
    and ``differentiable`` are accepted for compatibility and ignored.
    ``capturable=True`` raises at the first step with a gradient, as PyTorch's does for CPU tensors.
    """

    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Rprop update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            (etaminus, etaplus), (size_min, size_max) = group["etas"], group["step_sizes"]
            for p, g in self._params_with_grad(group):
                fresh = not self.state[p]
                state = self._counted_state(p, "prev", "step_size")
                prev, size = _arrays(state, "prev", "step_size")
                if fresh:  # every element starts at the group's lr
                    size.fill(_scalar(group["lr"]))
                if group["maximize"]:
                    g = -g
                # the factor in the gradient's dtype, set in torch's order: > 0, then < 0, then == 0
                factor = np.sign(g * prev)
                factor = np.where(factor > 0, etaplus, factor)
                factor = np.where(factor < 0, etaminus, factor)
                factor = np.where(factor == 0, 1, factor)
                size *= factor
                np.clip(size, size_min, size_max, out=size)
                g = np.where(factor == etaminus, 0, g)  # after a sign change: no move
                p._data -= np.sign(g) * size
                prev[...] = g
                _bump(p)
        return loss
