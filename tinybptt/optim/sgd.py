"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""
import numpy as np

from .optimizer import Optimizer, _arrays, _check_fused, _bump, _check_lr, _effective_grad, _fma, _scalar, _state_tensor


class SGD(Optimizer):
    """SGD, exactly as ``torch.optim.SGD``.

    With g the gradient (negated when ``maximize``), each step does
    g += weight_decay * p; then with momentum b = g on the first step and
    b = momentum * b + (1 - dampening) * g afterwards, g = g + momentum * b
    (nesterov) or g = b; finally p -= lr * g.  ``foreach``, ``differentiable``
    and ``fused`` are accepted for compatibility and ignored
    (``fused`` with ``foreach`` or ``differentiable`` raises, as in PyTorch).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        _check_lr(lr, nan_ok=True)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach, differentiable=differentiable,
                        fused=fused)
        super().__init__(params, defaults)
        _check_fused(fused, foreach, differentiable)

    def step(self, closure=None):
        """One SGD update of every parameter that has a gradient; returns the closure's loss."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, momentum, wd = _scalar(group["lr"]), group["momentum"], _scalar(group["weight_decay"])
            for p, g in self._params_with_grad(group):
                g = _effective_grad(p, g, group, lr, wd)
                if momentum != 0:
                    state = self.state[p]
                    fresh = state.get("momentum_buffer") is None
                    if fresh:  # the first buffer is the gradient itself, not (1 - dampening) * g
                        state["momentum_buffer"] = _state_tensor(np.array(g, copy=True))
                    buf, = _arrays(state, "momentum_buffer")
                    if not fresh:
                        buf *= momentum
                        _fma(g, 1 - group["dampening"], buf, out=buf)
                    g = _fma(buf, momentum, g) if group["nesterov"] else buf
                _fma(g, -lr, p._data, out=p._data)
                _bump(p)
        return loss
