"""Adagrad (Duchi, Hazan and Singer 2011)."""
import numpy as np

from .optimizer import (Optimizer, _arrays, _check_fused, _bump, _check_lr, _effective_grad, _fma, _scalar,
                        _scalar_dtype, _state_tensor)


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``.

    With g the gradient (plus weight_decay * p; negated when ``maximize``) and
    t the step count: s += g^2, then p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps).
    The state (``step``, ``sum`` = initial_accumulator_value) exists from construction, as in PyTorch;
    like PyTorch, ``sum`` always starts from the constructor's initial_accumulator_value, even for
    groups that give their own (or are added later with ``add_param_group``).
    ``foreach``, ``differentiable`` and ``fused`` are accepted for compatibility and ignored
    (``fused`` with ``foreach`` or ``differentiable`` raises, as in PyTorch).
    """

    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check_lr(lr)
        for name, value in (("lr_decay value", lr_decay), ("weight_decay value", weight_decay),
                            ("initial_accumulator_value value", initial_accumulator_value),
                            ("epsilon value", eps)):
            if not 0.0 <= value:
                raise ValueError(f"Invalid {name}: {value}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p):
        self.state[p].update(step=_state_tensor(np.zeros((), _scalar_dtype())),
                             sum=_state_tensor(np.full_like(p._data, self.defaults["initial_accumulator_value"])))

    def step(self, closure=None):
        """One Adagrad update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, eps, wd = _scalar(group["lr"]), group["eps"], _scalar(group["weight_decay"])
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if not state:  # a group added after construction
                    self._init_state(p)
                step, s = _arrays(state, "step", "sum")
                step += 1
                g = _effective_grad(p, g, group, lr, wd)
                clr = lr / (1 + (float(step) - 1) * group["lr_decay"])
                _fma(g, g, s, out=s)
                p._data -= clr * g / (np.sqrt(s) + eps)
                _bump(p)
        return loss
