"""L-BFGS (Nocedal 1980; Liu & Nocedal 1989) with an optional strong-Wolfe line search, after minFunc."""
import numpy as np

from .optimizer import Optimizer, _bump, _check_lr, _fma, _scalar, _state_tensor
from ..tensor import Tensor


def _unwrap(value):
    """A state Tensor's array (a number or None as it is)."""
    return value._data if isinstance(value, Tensor) else value


def _rewrap(value, old):
    """``value`` as the state keeps it: a numpy scalar or array, where PyTorch has a tensor, as a Tensor (``old``,
    the state's Tensor, when it wraps that very array), a Python number as it is."""
    if isinstance(old, Tensor) and old._data is value:
        return old
    return _state_tensor(np.asarray(value)) if isinstance(value, (np.ndarray, np.generic)) else value


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to ``bounds``
    (by default [x1, x2]); the middle of the bounds when the cubic has no minimum."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    # d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2),  d2 = sqrt(d1^2 - g1 g2),
    # x = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2), measured from the farther point x2
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if not d2_square >= 0:
        return (lo + hi) / 2.0
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t along d satisfying the strong Wolfe conditions (More & Thuente's bracketing, then zoom
    with cubic interpolation), as minFunc's and PyTorch's.  ``evaluate(x, t, d)`` returns the loss and
    flat gradient at x + t d.  Returns (loss, gradient, t, number of evaluations)."""
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = evaluate(x, t, d)
    evals = 1
    gtd_new = g_new.dot(d)

    # bracketing: grow t until an interval holds a point satisfying the conditions
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):  # sufficient decrease fails
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:  # curvature condition holds too: done
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:  # the slope turned: the minimum lies behind
            bracket, bracket_f, bracket_g, bracket_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new], \
                [gtd_prev, gtd_new]
            break
        # extrapolate, at least 1% further and at most 10 times as far
        t_next = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                    bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # zoom: shrink the bracket until a point satisfies the conditions
    insufficient = False
    low, high = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # a trial within 10% of an end counts as insufficient progress; twice in a row, or at
        # or beyond an end, it moves to 10% of the bracket's length from the nearer end
        lo, hi = min(bracket), max(bracket)
        eps = 0.1 * (hi - lo)
        if min(hi - t, t - lo) < eps:
            if insufficient or t >= hi or t <= lo:
                t = hi - eps if abs(t - hi) < abs(t - lo) else lo + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(x, t, d)
        evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low]:
            # no sufficient decrease, or not below the low end: t becomes the high end
            bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = t, f_new, g_new, gtd_new
            low, high = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high] - bracket[low]) >= 0:  # the old low end becomes the high end
                bracket[high], bracket_f[high], bracket_g[high], bracket_gtd[high] = \
                    bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low]
            bracket[low], bracket_f[low], bracket_g[low], bracket_gtd[low] = t, f_new, g_new, gtd_new
    return bracket_f[low], bracket_g[low], bracket[low], evals


class LBFGS(Optimizer):
    """L-BFGS, exactly as ``torch.optim.LBFGS``: ``step(closure)`` runs up to ``max_iter`` iterations
    (and about ``max_eval`` closure calls) on the parameters as one flat vector.

    The direction is -H g, H the inverse Hessian estimate from the last ``history_size`` pairs
    s = t d, y = g - g_prev with y.s > 1e-10 (the two-loop recursion, scaled by y.s / y.y).  The
    step is lr (min(1, 1 / sum|g|) lr on the very first iteration), or with
    ``line_search_fn="strong_wolfe"`` the line search's.  It stops early when max|g| <=
    tolerance_grad, when g.d > -tolerance_change, or when the step or the loss change falls below
    tolerance_change.  The state ('func_evals', 'n_iter', the direction and history) is kept
    with the first parameter, with PyTorch's types: Tensors where it has tensors (the direction 'd',
    'prev_flat_grad', the history lists' elements, and 't' and 'H_diag' once computed from the
    gradients), Python numbers where it has numbers.  Only one parameter group is supported.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        _check_lr(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self):
        """All gradients as one vector (zeros for a parameter without one)."""
        return np.concatenate([np.zeros(p._data.size, p.dtype) if p.grad is None
                               else p.grad._data.astype(p.dtype, copy=False).ravel() for p in self._params])

    def _add_flat(self, t, d):
        """p += t * (p's part of the flat vector d), for every parameter."""
        offset = 0
        for p in self._params:
            n = p._data.size
            _fma(d[offset:offset + n].reshape(p._data.shape), t, p._data, out=p._data)
            _bump(p)
            offset += n

    def _evaluate_at(self, closure, x, t, d):
        """Loss and flat gradient at x + t d; the parameters are put back to x afterwards."""
        self._add_flat(t, d)
        loss = float(self._closure_loss(closure))
        flat_grad = self._flat_grad()
        for p, a in zip(self._params, x):
            p._data[...] = a
            _bump(p)
        return loss, flat_grad

    def step(self, closure):
        """Up to ``max_iter`` L-BFGS iterations; ``closure`` zeroes the gradients, re-evaluates the model,
        calls backward and returns the loss.  Returns the loss of the first evaluation."""
        if len(self.param_groups) != 1:
            raise AssertionError(f"Expected exactly one param_group, but got {len(self.param_groups)}")
        group = self.param_groups[0]
        lr, max_iter, max_eval = _scalar(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        orig_loss = self._closure_loss(closure)
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:  # already optimal
            return orig_loss

        # numpy scalars stand for torch's 0-d tensors (numbers stay numbers), so that 't' and 'H_diag' end up
        # Tensors exactly where torch's are tensors; the history lists hold Tensors
        saved = {k: state.get(k) for k in ("d", "t", "H_diag", "prev_flat_grad")}
        d, t, H_diag, prev_flat_grad = (_unwrap(v) for v in saved.values())
        old_dirs, old_stps, ro, prev_loss = (state.get(k) for k in ("old_dirs", "old_stps", "ro", "prev_loss"))
        n_iter = 0
        opt_cond = False
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # direction
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, H_diag = [], [], [], 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only when the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(_state_tensor(y))
                    old_stps.append(_state_tensor(s))
                    ro.append(_state_tensor(np.asarray(1.0 / ys)))
                    H_diag = ys / y.dot(y)  # the initial inverse Hessian is H_diag * I
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                # two-loop recursion: d = -H g
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al_i = old_stps[i]._data.dot(q) * ro[i]._data
                    al[i] = _state_tensor(np.asarray(al_i))
                    _fma(old_dirs[i]._data, -al_i, q, out=q)
                d = q * H_diag
                for i in range(len(old_dirs)):
                    be_i = old_dirs[i]._data.dot(d) * ro[i]._data
                    _fma(old_stps[i]._data, al[i]._data - be_i, d, out=d)

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # step length
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)  # directional derivative
            if gtd > -tolerance_change:
                break
            evals = 0
            if line_search_fn is not None:
                if line_search_fn != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x_init = [p._data.copy() for p in self._params]
                loss, flat_grad, t, evals = _strong_wolfe(
                    lambda x, t, d: self._evaluate_at(closure, x, t, d), x_init, t, d, loss, flat_grad, gtd,
                    max_ls=max_eval - current_evals)
                self._add_flat(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_flat(t, d)
                if n_iter != max_iter:  # the last iteration's loss is not evaluated
                    loss = float(self._closure_loss(closure))
                    flat_grad = self._flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    evals = 1
            current_evals += evals
            state["func_evals"] += evals

            # stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:  # no progress in the parameters
                break
            if abs(loss - prev_loss) < tolerance_change:  # nor in the loss
                break

        state.update(d=_rewrap(d, saved["d"]), t=_rewrap(t, saved["t"]), old_dirs=old_dirs, old_stps=old_stps,
                     ro=ro, H_diag=_rewrap(H_diag, saved["H_diag"]),
                     prev_flat_grad=_rewrap(prev_flat_grad, saved["prev_flat_grad"]), prev_loss=prev_loss)
        return orig_loss
