"""ASGD: averaged stochastic gradient descent (Polyak & Juditsky 1992)."""
import numpy as np

from .optimizer import Optimizer, _arrays, _bump, _check_lr, _fma, _scalar, _scalar_dtype, _state_tensor


class ASGD(Optimizer):
    """ASGD, exactly as ``torch.optim.ASGD``.

    With g the gradient (negated when ``maximize``, plus weight_decay * p) and
    eta, mu from the state: p = p (1 - lambd eta) - eta g, then the average
    ax += mu (p - ax) (ax = p while mu is 1).  After step t,
    eta = lr / (1 + lambd lr t)^alpha and mu = 1 / max(1, t - t0), both kept
    as 0-d float32 Tensors (float64 when that is the default dtype) as PyTorch keeps them.  ``foreach``,
    ``differentiable`` and ``capturable`` are accepted for compatibility and ignored.
    ``capturable=True`` raises at the first step with a gradient, as PyTorch's does for CPU tensors.
    """

    _scalar_state = ("step", "eta", "mu")
    _capturable_error = ("If capturable=True, params, mus, etas, and state_steps must be on supported devices: "
                         "['cuda', 'xpu', 'hpu', 'privateuseone', 'xla'].")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One ASGD update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lambd, alpha, t0 = _scalar(group["lr"]), group["lambd"], group["alpha"], group["t0"]
            wd = group["weight_decay"]
            for p, g in self._params_with_grad(group):
                state = self.state[p]
                if not state:
                    state["step"] = _state_tensor(np.zeros((), _scalar_dtype()))
                    state["eta"] = _state_tensor(np.array(lr, _scalar_dtype()))
                    state["mu"] = _state_tensor(np.ones((), _scalar_dtype()))
                    state["ax"] = _state_tensor(np.zeros_like(p._data))
                step, eta_t, mu_t, ax = _arrays(state, "step", "eta", "mu", "ax")
                step += 1
                if group["maximize"]:
                    g = -g
                if wd != 0:
                    g = _fma(p._data, wd, g)
                eta = float(eta_t)
                p._data *= 1 - lambd * eta  # decay term
                _fma(g, -eta, p._data, out=p._data)
                if float(mu_t) != 1:
                    ax += (p._data - ax) * mu_t
                else:
                    ax[...] = p._data
                t = float(step)
                # rounded to the scalar dtype even when a loaded state holds them wider, as torch's copy_ of as_tensor
                rounded = _scalar_dtype().type
                eta_t[...] = rounded(lr / ((1 + lambd * lr * t) ** alpha))
                mu_t[...] = rounded(1 / max(1, t - t0))
                _bump(p)
        return loss
