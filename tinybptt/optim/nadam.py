"""NAdam: Adam with Nesterov momentum (Dozat 2016)."""
import numpy as np

from .optimizer import (Optimizer, _adam_moments_, _arrays, _bump, _check_adam_args, _effective_grad, _scalar,
                        _scalar_dtype, _state_tensor)


class NAdam(Optimizer):
    """NAdam, exactly as ``torch.optim.NAdam``.

    At step t, with g the gradient (negated when ``maximize``), the momentum
    coefficient mu_t = beta1 (1 - 0.96^(t momentum_decay) / 2) and its running
    product P_t = mu_1 ... mu_t: m and v are Adam's moments, and
    p -= lr [(1 - mu_t) / (1 - P_t) g + mu_{t+1} / (1 - P_t mu_{t+1}) m] / (sqrt(v / (1 - beta2^t)) + eps).
    Weight decay adds weight_decay * p to g, or with ``decoupled_weight_decay``
    first scales p by (1 - lr * weight_decay).  ``mu_product`` is a 0-d float32
    Tensor in the state (float64 when that is the default dtype), as PyTorch keeps it.  ``foreach``, ``capturable`` and
    ``differentiable`` are accepted for compatibility and ignored.
    ``capturable=True`` raises at the first step with a gradient, as PyTorch's does for CPU tensors.
    """

    _scalar_state = ("step", "mu_product")
    _capturable_error = ("If capturable=True, params, mu_products and state_steps must be on supported devices: "
                         "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla'].")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        _check_adam_args(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One NAdam update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = _scalar(group["lr"]), group["betas"], group["eps"]
            wd, psi = _scalar(group["weight_decay"]), group["momentum_decay"]
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = _state_tensor(np.zeros((), _scalar_dtype()))
                    state["mu_product"] = _state_tensor(np.ones((), _scalar_dtype()))
                    state["exp_avg"] = _state_tensor(np.zeros_like(p._data))
                    state["exp_avg_sq"] = _state_tensor(np.zeros_like(p._data))
                step, product, m, v = _arrays(state, "step", "mu_product", "exp_avg", "exp_avg_sq")
                step += 1
                t = float(step)
                g = _effective_grad(p, g, group, lr, wd)
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
                product *= mu  # rounded to the product's own dtype, as torch's in-place mul
                mu_product = float(product)
                _adam_moments_(m, v, g, beta1, beta2)
                denom = np.sqrt(v / (1 - beta2 ** t))
                denom += eps
                p._data += -lr * (1.0 - mu) / (1.0 - mu_product) * g / denom
                p._data += -lr * mu_next / (1.0 - mu_product * mu_next) * m / denom
                _bump(p)
        return loss
