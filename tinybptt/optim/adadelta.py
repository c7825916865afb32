"""Adadelta (Zeiler 2012)."""
import numpy as np

from .optimizer import Optimizer, _arrays, _bump, _check_lr, _effective_grad, _fma, _scalar


class Adadelta(Optimizer):
    """Adadelta, exactly as ``torch.optim.Adadelta``.

    With g the gradient (plus weight_decay * p; negated when ``maximize``):
    v = rho v + (1 - rho) g^2,  d = sqrt(u + eps) / sqrt(v + eps) * g,
    u = rho u + (1 - rho) d^2,  p -= lr d.  ``foreach``, ``capturable`` and
    ``differentiable`` are accepted for compatibility and ignored.
    ``capturable=True`` raises at the first step with a gradient, as PyTorch's does for CPU tensors.
    """

    _scalar_state = ("step",)
    _capturable_error = ("If capturable=True, params and state_steps must be on supported devices: "
                         "['cuda', 'xpu', 'hpu', 'privateuseone'].")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Adadelta update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps, wd = _scalar(group["lr"]), group["rho"], group["eps"], _scalar(group["weight_decay"])
            for p, g in self._params_with_grad(group):
                state = self._counted_state(p, "square_avg", "acc_delta")
                g = _effective_grad(p, g, group, lr, wd)
                v, u = _arrays(state, "square_avg", "acc_delta")
                v *= rho
                _fma(g * (1 - rho), g, v, out=v)
                delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
                u *= rho
                _fma(delta * (1 - rho), delta, u, out=u)
                _fma(delta, -lr, p._data, out=p._data)
                _bump(p)
        return loss
