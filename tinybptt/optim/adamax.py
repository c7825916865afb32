"""Adamax: Adam with the infinity norm (Kingma & Ba 2015, section 7)."""
import numpy as np

from .optimizer import Optimizer, _arrays, _bump, _check_adam_args, _effective_grad, _lerp_, _scalar


class Adamax(Optimizer):
    """Adamax, exactly as ``torch.optim.Adamax``.

    With g the gradient (plus weight_decay * p; negated when ``maximize``) at step t:
    m = beta1 m + (1 - beta1) g,  u = max(beta2 u, |g| + eps),
    p -= lr / (1 - beta1^t) * m / u.  ``foreach``, ``capturable`` and
    ``differentiable`` are accepted for compatibility and ignored.
    ``capturable=True`` raises at the first step with a gradient, as PyTorch's does for CPU tensors.
    """

    _scalar_state = ("step",)

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        _check_adam_args(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Adamax update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = _scalar(group["lr"]), group["betas"], group["eps"]
            wd = _scalar(group["weight_decay"])
            for p, g in self._params_with_grad(group):
                state = self._counted_state(p, "exp_avg", "exp_inf")
                g = _effective_grad(p, g, group, lr, wd)
                m, u = _arrays(state, "exp_avg", "exp_inf")
                _lerp_(m, g, 1 - beta1)
                u *= beta2
                np.maximum(u, np.abs(g) + eps, out=u)
                clr = lr / (1 - beta1 ** float(state["step"]._data))
                p._data += -clr * m / u
                _bump(p)
        return loss
