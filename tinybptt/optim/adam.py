"""Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019)."""
import numpy as np

from .optimizer import (Optimizer, _arrays, _check_fused, _adam_moments_, _bump, _check_adam_args, _effective_grad,
                        _scalar)
from ..tensor import Tensor


class Adam(Optimizer):
    """Adam, exactly as ``torch.optim.Adam``.

    At step t, with g the gradient (negated when ``maximize``):
    m = beta1 m + (1 - beta1) g,  v = beta2 v + (1 - beta2) g^2,
    p -= lr / (1 - beta1^t) * m / (sqrt(v') / sqrt(1 - beta2^t) + eps),
    where v' = v, or its running maximum with ``amsgrad``.  Weight decay adds
    weight_decay * p to g, or with ``decoupled_weight_decay`` (AdamW) first
    scales p by (1 - lr * weight_decay).  ``foreach``, ``capturable``,
    ``differentiable`` and ``fused`` are accepted for compatibility and ignored
    (``fused`` with ``foreach`` or ``differentiable`` raises, as in PyTorch).
    ``capturable=True`` raises at the first step with a gradient, as PyTorch's does for CPU tensors.
    """

    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check_adam_args(lr, eps, betas, weight_decay)
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
        if not (all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)):
            raise ValueError("betas must be either both floats or both Tensors")
        defaults = dict(lr=lr, betas=tuple(_scalar(b) for b in betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def step(self, closure=None):
        """One Adam update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = _scalar(group["lr"]), group["betas"], group["eps"]
            wd, amsgrad = _scalar(group["weight_decay"]), group["amsgrad"]
            for p, g in self._params_with_grad(group):
                state = self._counted_state(p, "exp_avg", "exp_avg_sq", *(["max_exp_avg_sq"] if amsgrad else []))
                g = _effective_grad(p, g, group, lr, wd)
                m, v = _arrays(state, "exp_avg", "exp_avg_sq")
                _adam_moments_(m, v, g, beta1, beta2)
                if amsgrad:
                    v_max, = _arrays(state, "max_exp_avg_sq")
                    v = np.maximum(v_max, v, out=v_max)
                t = float(state["step"]._data)
                step_size = lr / (1 - beta1 ** t)
                denom = np.sqrt(v) / (1 - beta2 ** t) ** 0.5 + eps
                p._data += -step_size * m / denom
                _bump(p)
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (p *= 1 - lr * weight_decay before the Adam step), as ``torch.optim.AdamW``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        """Load a state; the decay stays decoupled whatever the saved groups say."""
        super().load_state_dict(state_dict)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
