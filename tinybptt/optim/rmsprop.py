"""RMSprop (Hinton's lecture 6e; centered variant of Graves 2013)."""
import numpy as np

from .optimizer import Optimizer, _arrays, _bump, _check_lr, _effective_grad, _fma, _lerp_, _scalar


class RMSprop(Optimizer):
    """RMSprop, exactly as ``torch.optim.RMSprop``.

    With g the gradient (plus weight_decay * p; negated when ``maximize``):
    v = alpha v + (1 - alpha) g^2; the denominator is sqrt(v) + eps, or with
    ``centered`` sqrt(v - gbar^2) + eps where gbar is the running mean of g
    (eps outside the square root).  Without momentum p -= lr g / denom; with
    it b = momentum b + g / denom and p -= lr b.  ``capturable``, ``foreach``
    and ``differentiable`` are accepted for compatibility and ignored.
    ``capturable=True`` raises at the first step with a gradient, as PyTorch's does for CPU tensors.
    """

    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach, maximize=maximize,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One RMSprop update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps, momentum = _scalar(group["lr"]), group["alpha"], group["eps"], group["momentum"]
            wd = _scalar(group["weight_decay"])
            for p, g in self._params_with_grad(group):
                state = self._counted_state(p, "square_avg", *(["momentum_buffer"] if momentum > 0 else []),
                                            *(["grad_avg"] if group["centered"] else []))
                g = _effective_grad(p, g, group, lr, wd)
                v, = _arrays(state, "square_avg")
                v *= alpha
                _fma(g * (1 - alpha), g, v, out=v)
                if group["centered"]:
                    gbar, = _arrays(state, "grad_avg")
                    _lerp_(gbar, g, 1 - alpha)
                    denom = np.sqrt(_fma(-gbar, gbar, v))
                else:
                    denom = np.sqrt(v)
                denom += eps
                if momentum > 0:
                    buf, = _arrays(state, "momentum_buffer")
                    buf *= momentum
                    buf += g / denom
                    _fma(buf, -lr, p._data, out=p._data)
                else:
                    p._data += -lr * g / denom
                _bump(p)
        return loss
