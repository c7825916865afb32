"""Adafactor: Adam-like steps with a factored second moment (Shazeer & Stern 2018)."""
import numpy as np

from .optimizer import Optimizer, _arrays, _bump, _check_lr, _fma, _lerp_, _scalar, _scalar_dtype, _state_tensor


def _norm(a):
    """||a||_2 as a Python float."""
    return float(np.sqrt(np.sum(a * a)))


class Adafactor(Optimizer):
    """Adafactor, exactly as ``torch.optim.Adafactor``.

    At step t, with g the gradient (negated when ``maximize``) and
    beta = 1 - t^beta2_decay: rho = min(lr, 1 / sqrt(t)) and
    alpha = max(eps2, RMS(p)) * rho.  A parameter of 2 or more dims keeps the
    means of g^2 over its last dim (row_var) and over its second-last
    (col_var), each a running average with weight 1 - beta; the variance
    estimate is row_var @ col_var / max(mean(row_var), eps1).  Others keep the
    running average of g^2 itself ('variance').  The update
    u = g / sqrt(max(v, eps1^2)) is scaled down by max(1, RMS(u) / d), and
    p -= alpha u, after p *= 1 - lr * weight_decay.  eps1 = None means the
    machine epsilon of the group's first parameter's dtype.  ``foreach`` is
    accepted for compatibility and ignored.
    """

    _scalar_state = ("step",)

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        _check_lr(lr, "Learning rate should be >= 0 but is: {}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        """One Adafactor update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (eps1, eps2), d, wd = _scalar(group["lr"]), group["eps"], group["d"], group["weight_decay"]
            for p, g in self._params_with_grad(group):
                if np.iscomplexobj(p._data):
                    raise RuntimeError("Adafactor does not support complex parameters")
                state = self.state[p]
                if not state:
                    state["step"] = _state_tensor(np.zeros((), _scalar_dtype()))
                    if g.ndim > 1:
                        state["row_var"] = _state_tensor(np.zeros(g.shape[:-1] + (1,), g.dtype))
                        state["col_var"] = _state_tensor(np.zeros(g.shape[:-2] + (1,) + g.shape[-1:], g.dtype))
                    else:
                        state["variance"] = _state_tensor(np.zeros_like(g))
                if eps1 is None:  # set once per group, from its first parameter, as in torch
                    eps1 = float(np.finfo(p.dtype).eps)
                if group["maximize"]:
                    g = -g
                step, = _arrays(state, "step")
                step += 1
                t = float(step)
                weight = t ** group["beta2_decay"]  # 1 - beta2_t
                rho = min(lr, 1 / t ** 0.5)
                alpha = max(eps2, _norm(p._data) / p._data.size ** 0.5) * rho
                if wd != 0:
                    p._data *= 1 - lr * wd
                if g.ndim > 1:
                    # the means of g^2 along the last two dims, as torch computes them: norm^2 / n
                    row_mean = np.sqrt(np.sum(g * g, axis=-1, keepdims=True)) ** 2 / g.shape[-1]
                    col_mean = np.sqrt(np.sum(g * g, axis=-2, keepdims=True)) ** 2 / g.shape[-2]
                    row_var, col_var = _arrays(state, "row_var", "col_var")
                    _lerp_(row_var, row_mean, weight)
                    _lerp_(col_var, col_mean, weight)
                    v = row_var @ col_var
                    v /= np.maximum(row_var.mean(axis=-2, keepdims=True), eps1)
                else:
                    variance, = _arrays(state, "variance")
                    _lerp_(variance, g * g, weight)
                    v = variance.copy()
                update = 1 / np.sqrt(np.maximum(v, eps1 * eps1)) * g  # eps1 squared: the sqrt follows
                denom = max(1.0, _norm(update) / (update.size ** 0.5 * d))
                _fma(update, -alpha / denom, p._data, out=p._data)
                _bump(p)
        return loss
