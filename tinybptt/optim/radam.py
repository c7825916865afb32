"""RAdam: Adam with a rectified adaptive learning rate (Liu et al. 2020)."""
import numpy as np

from .optimizer import Optimizer, _adam_moments_, _arrays, _bump, _check_adam_args, _effective_grad, _scalar


class RAdam(Optimizer):
    """RAdam, exactly as ``torch.optim.RAdam``.

    m and v are Adam's moments.  At step t, with rho_inf = 2 / (1 - beta2) - 1 and
    rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t): while rho_t <= 5 the step is
    plain momentum, p -= lr m / (1 - beta1^t); afterwards it is scaled by the
    adaptive term sqrt(1 - beta2^t) / (sqrt(v) + eps) and the rectification
    r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)).
    Weight decay adds weight_decay * p to g (negated when ``maximize``), or with
    ``decoupled_weight_decay`` first scales p by (1 - lr * weight_decay).
    ``foreach``, ``capturable`` and ``differentiable`` are accepted for compatibility and ignored.
    ``capturable=True`` raises at the first step with a gradient, as PyTorch's does for CPU tensors.
    """

    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check_adam_args(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One RAdam update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = _scalar(group["lr"]), group["betas"], group["eps"]
            wd = _scalar(group["weight_decay"])
            for p, g in self._params_with_grad(group):
                state = self._counted_state(p, "exp_avg", "exp_avg_sq")
                t = float(state["step"]._data)
                g = _effective_grad(p, g, group, lr, wd)
                m, v = _arrays(state, "exp_avg", "exp_avg_sq")
                _adam_moments_(m, v, g, beta1, beta2)
                bias_correction2 = 1 - beta2 ** t
                update = m / (1 - beta1 ** t) * lr
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * t * beta2 ** t / bias_correction2
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    update = update * (bias_correction2 ** 0.5 / (np.sqrt(v) + eps)) * rect
                p._data -= update
                _bump(p)
        return loss
