"""Recurrent cells and layers: RNN, LSTM and GRU with PyTorch's names, shapes and gate order.

A layer runs its cell once per time step inside ``scope(f"{name}.l{k}.fwd")`` (``.bwd``
for the reverse direction) and ``scope(f"t={t}")``, so every record on the tape says
which layer, direction and step it belongs to.  A step runs one of two ways, with the
same result:

* fused (default): the input projection of all steps is one GEMM before the loop; a
  step is ONE tape record (``fused.LSTMCell``, ...) doing h_{t-1} W_hh^T with BLAS and
  all its gate arithmetic in one numba kernel, forward and backward.  The gradient of
  W_hh summed over all steps is one GEMM too (see ``_Sequence``).
* unfused (``fused=False``): the cell written with the engine's primitives (matmul,
  add, chunk, sigmoid, tanh, mul), so the op-level graph can be drawn and read.

Variable-length batches: ``forward(x, hx, lengths=...)`` marks steps past each
sequence's end inactive: the state passes through them unchanged (so ``h_n`` is the
state at the last valid step, and the reverse direction starts at each sequence's own
last step), their outputs are zero and no gradient flows from them.
"""
import math
import numbers
import warnings

import numpy as np

from .. import ops
from ..autograd import Function, is_grad_enabled, scope
from ..devices import check_device
from ..functions import where
from ..tensor import Tensor, _infer_array, as_dtype, default_float
from . import functional as F
from . import init
from .module import Module, Parameter
from .utils.rnn import PackedSequence, _pack_like, pad_packed_sequence

_kernels = None


def rnn_kernels():
    """The fused cell kernels (and numba), imported on first use."""
    global _kernels
    if _kernels is None:
        from .. import rnn_kernels as k
        _kernels = k
    return _kernels


GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}  # gate blocks in the rows of W_ih, W_hh


# ---------------------------------------------------------------- cells from primitives
def _linear(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def rnn_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", residual=False):
    """h' = phi(x W_ih^T + b_ih + h W_hh^T + b_hh), plus h when ``residual``."""
    a = _linear(x, w_ih, b_ih) + _linear(h, w_hh, b_hh)
    y = a.tanh() if nonlinearity == "tanh" else a.relu()
    return y + h if residual else y


def lstm_cell(x, state, w_ih, w_hh, b_ih=None, b_hh=None):
    """Gates i, f, g, o; c' = f*c + i*g, h' = o*tanh(c').  Returns (h', c')."""
    h, c = state
    i, f, g, o = (_linear(x, w_ih, b_ih) + _linear(h, w_hh, b_hh)).chunk(4, 1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """Gates r, z, n with n = tanh(W_in x + b_in + r*(W_hn h + b_hn)); h' = (1-z)*n + z*h."""
    r_x, z_x, n_x = _linear(x, w_ih, b_ih).chunk(3, 1)
    r_h, z_h, n_h = _linear(h, w_hh, b_hh).chunk(3, 1)
    r, z = (r_x + r_h).sigmoid(), (z_x + z_h).sigmoid()
    n = (n_x + r * n_h).tanh()
    return n + z * (h - n)


def _unfused_step(mode, x, state, w_ih, w_hh, b_ih, b_hh, active, residual=False, w_hr=None):
    if mode == "LSTM":
        new = lstm_cell(x, state, w_ih, w_hh, b_ih, b_hh)
        if w_hr is not None:  # projected LSTM: the state carried on is h' W_hr^T
            new = (new[0] @ w_hr.T, new[1])
    elif mode == "GRU":
        new = gru_cell(x, state, w_ih, w_hh, b_ih, b_hh)
    else:
        new = rnn_cell(x, state, w_ih, w_hh, b_ih, b_hh, "relu" if mode == "RNN_RELU" else "tanh", residual)
    if active is None or active.all():
        return new
    keep = active[:, None]  # finished (or not yet started) sequences keep their state
    if mode == "LSTM":
        return tuple(where(keep, n, s) for n, s in zip(new, state))
    return where(keep, new, state)


# ---------------------------------------------------------------- fused cell steps
class Unbind(Function):
    """Split a (T, ...) array into T views in one record; backward stacks the T gradients."""

    def forward(self, a):
        return tuple(a)

    def backward(self, *grads):
        return np.stack(grads)


class InputProjection(Function):
    """x W_ih^T for all time steps at once: one GEMM forward, one per gradient backward.

    The fused steps read their rows of the result; the bias b_ih is added by their kernels,
    and the one that ran first returns the gradient of the whole result and of b_ih
    (``_Sequence.sequence_grads``): no separate pass over the (T*B, G) array for either."""

    def forward(self, x, w):
        self.x, self.w = x, w
        return x @ _transposed(w)  # (T*B, I) @ (I, G), the layout BLAS runs fastest

    def backward(self, g):
        need_x, need_w = self.needs_input_grad[:2]
        return g @ self.w if need_x else None, g.T @ self.x if need_w else None


class _Sequence:
    """What the fused steps of one layer direction share, so weight gradients are one GEMM.

    The steps write what they compute into rows of arrays made once per sequence
    (``step_buffers``): fewer, larger allocations.  The states live in one
    (T + 1, B, H) array, so the outputs h_t (``h``) and the states each step
    started from (``h_prev``, row t is h_{t-1}, or h_{t+1} running in reverse) are
    two overlapping views of it: no stacking, no copies.  Backward collects each step's
    gradient dhh_t of its recurrent pre-activation (and, for the GRU, where it
    differs, of its input projection dxp_t) as rows of one array.
    The step that ran first is the last one the reverse walk reaches (every later step
    sends it a gradient through h), so it returns the gradient of the whole input
    projection (all rows dxp_t), dW_hh = sum_t dhh_t^T h_{t-1}, db_hh = sum_t dhh_t and
    db_ih = sum_t dxp_t for all steps: one GEMM and one sum (two for the GRU; LSTM and
    RNN have dxp = dhh, so db_ih is a copy of db_hh).
    """

    def __init__(self, steps, h_shape, dtype, gates, first=0, separate_dxp=False, outputs=1, reverse=False):
        states = np.empty((steps + 1, *h_shape), dtype)
        self.h, self.h_prev = (states[:-1], states[1:]) if reverse else (states[1:], states[:-1])
        # what backward needs besides h_prev: hh = h_{t-1} W_hh^T + b_hh (then the gates), and c_t,
        # tanh(c_t) (LSTM) or n_t (GRU); with no graph to keep them for, one row reused by every step
        # (c_t overwrites c_{t-1} elementwise)
        rows = steps if is_grad_enabled() else 1
        self.acts = np.empty((rows, h_shape[0], gates), dtype)
        self.extra = np.empty((outputs - 1, rows, *h_shape), dtype)
        self.gates, self.first, self.separate_dxp = gates, first, separate_dxp
        self.dhh = self.dxp = self.w_t = None
        # the recurrent products of one step, transposed: (G, B) forward, (H, B) backward, reused by every step
        self.hh_t = np.empty((gates, h_shape[0]), dtype)
        self.dh_t = np.empty(h_shape[::-1], dtype)
        self.no_bias = np.zeros(gates, dtype)
        # a missing b_ih: -0.0 leaves every x unchanged (x + -0.0 is x, even for x = -0.0)
        self.no_input_bias = np.full(gates, -0.0, dtype)

    def step_buffers(self, t, h_prev):
        """Step t's forward arrays (acts_t, h_t, ...); the first step copies the initial state in."""
        if t == self.first:
            self.h_prev[t] = h_prev
        row = t if len(self.acts) > 1 else 0
        return (self.acts[row], self.h[t], *self.extra[:, row])

    def transposed(self, w):
        """W_hh^T as a C-contiguous copy, made once per sequence (BLAS runs W^T dhh^T faster from it)."""
        if self.w_t is None:
            self.w_t = _transposed(w)
        return self.w_t

    def grad_slots(self, t):
        """(dxp_t, dhh_t) rows to write (the same row unless separate_dxp)."""
        if self.dhh is None:
            shape = (*self.h_prev.shape[:2], self.gates)
            self.dhh = np.empty(shape, self.h_prev.dtype)
            self.dxp = np.empty(shape, self.h_prev.dtype) if self.separate_dxp else self.dhh
            self.written = np.zeros(shape[0], bool)
        self.written[t] = True
        return self.dxp[t], self.dhh[t]

    def sequence_grads(self, need_w, need_b_ih, need_b_hh):
        """(dxp of all steps as (T*B, G), dW_hh, db_ih, db_hh), the last three summed over all steps (None
        where not needed); fresh buffers for the next backward."""
        if not self.written.all():  # (every step writes its rows before the first one runs; just in case)
            self.dhh[~self.written] = 0
            self.dxp[~self.written] = 0
        flat, flat_x = (a.reshape(-1, self.gates) for a in (self.dhh, self.dxp))
        self.dhh = self.dxp = None
        h_prev = self.h_prev.reshape(len(flat), self.h_prev.shape[-1])  # (an empty batch has no -1 to infer)
        dw = flat.T @ h_prev if need_w else None
        db_hh = flat.sum(0) if need_b_hh else None
        if not need_b_ih:
            db_ih = None
        elif self.separate_dxp:
            db_ih = flat_x.sum(0)
        else:  # dxp is dhh: the same sum, copied so that each bias gets an array of its own
            db_ih = db_hh.copy() if need_b_hh else flat.sum(0)
        return flat_x, dw, db_ih, db_hh


class _FusedStep(Function):
    """One cell step as one record: W_hh h_prev^T by BLAS, then one gate kernel that adds
    b_hh and this step's input projection xp + b_ih and applies the gates.

    Inputs: the input projection of all steps (T*B, G) (the step reads its rows), h_prev
    (, c_prev), W_hh, b_ih, b_hh.  Options: ``seq`` (the shared ``_Sequence``), ``t``
    (this step's row in it) and ``active`` (per sequence of the batch: False = pass the
    state through).  BLAS computes both per-step products transposed, W_hh h_prev^T and
    W_hh^T dhh^T: with the long side (the gates, or H) as rows instead of the batch,
    OpenBLAS runs them faster at the benchmark's shapes.  The forward kernels read the
    (G, B) product as it is, a column per sequence; backward turns its (H, B) product
    back into rows with ``add_transposed`` as it adds dh_direct.
    """

    def _recurrent(self, xp, h_prev, w, b_ih, b_hh, seq, t):
        """The gate kernel's first four arguments (xp_t, b_ih, W_hh h_prev^T, b_hh; a stand-in for a missing
        bias) and step t's buffers (acts, h, ...)."""
        self.w, self.seq, self.t = w, seq, t
        buffers = seq.step_buffers(t, h_prev)
        hh_t = np.matmul(w, h_prev.T, out=seq.hh_t)
        n = len(h_prev)
        b_ih = b_ih if b_ih is not None else seq.no_input_bias
        return (_c(xp[t * n:(t + 1) * n]), b_ih, hh_t, b_hh if b_hh is not None else seq.no_bias), buffers

    def _grads(self, dhh, dh_direct):
        """(dxp, dh_prev, dW_hh, db_ih, db_hh); dh_prev = dhh W_hh + the part that skips W_hh.  The other
        four are None but in the step that ran first, which returns them for all steps."""
        dh_prev = None
        needs = self.needs_input_grad
        if needs[1]:
            dh_t = np.matmul(self.seq.transposed(self.w), dhh.T, out=self.seq.dh_t)
            rnn_kernels().add_transposed(dh_t, dh_direct, dh_direct)
            dh_prev = dh_direct
        if self.t != self.seq.first:
            return None, dh_prev, None, None, None
        dxp, *weights = self.seq.sequence_grads(*needs[-3:])  # inputs end with w_hh, b_ih, b_hh
        return (dxp, dh_prev, *weights)


def _c(a):
    return np.ascontiguousarray(a)


def _transposed(w):
    """w.T as a C-contiguous copy, by a blocked kernel (numpy's strided copy is several times slower)."""
    out = np.empty(w.shape[::-1], w.dtype)
    rnn_kernels().transpose(w, out)
    return out


class fused:
    """The fused steps, each one tape record named like the cell it runs."""

    class LSTMCell(_FusedStep):
        def forward(self, xp, h_prev, c_prev, w, b_ih, b_hh, seq, t, active):
            h_prev, c_prev = _c(h_prev), _c(c_prev)
            args, (acts, h, c, tc) = self._recurrent(xp, h_prev, w, b_ih, b_hh, seq, t)
            rnn_kernels().lstm_forward(*args, h_prev, c_prev, active, acts, h, c, tc)
            self.acts, self.c_prev, self.tc, self.active = acts, c_prev, tc, active
            return h, c

        def backward(self, dh, dc):
            _, dgates = self.seq.grad_slots(self.t)
            dc_prev, dh_direct = np.empty_like(self.tc), np.empty_like(self.tc)
            rnn_kernels().lstm_backward(self.acts, self.c_prev, self.tc, _c(dh), _c(dc), self.active,
                                        dgates, dc_prev, dh_direct)
            dxp, dh_prev, *weights = self._grads(dgates, dh_direct)
            return dxp, dh_prev, dc_prev, *weights

        def inner_grad(self, i, grads):
            """c_t also reaches the loss through h_t = o * tanh(c_t) of this step: dh * o * (1 - tanh(c_t)^2)
            (zero for a row that passed its state through)."""
            if i != 1:
                return None
            o = self.acts[:, 3 * self.tc.shape[1]:]
            return grads[0] * o * (1 - self.tc * self.tc) * self.active[:, None]

    class GRUCell(_FusedStep):
        def forward(self, xp, h_prev, w, b_ih, b_hh, seq, t, active):
            h_prev = _c(h_prev)
            args, (acts, h, n) = self._recurrent(xp, h_prev, w, b_ih, b_hh, seq, t)
            rnn_kernels().gru_forward(*args, h_prev, active, acts, h, n)
            self.acts, self.n, self.active = acts, n, active
            return h

        def backward(self, dh):
            dxp, dhh = self.seq.grad_slots(self.t)
            dh_direct = np.empty_like(self.n)
            rnn_kernels().gru_backward(self.acts, self.n, self.seq.h_prev[self.t], _c(dh), self.active,
                                       dxp, dhh, dh_direct)
            return self._grads(dhh, dh_direct)

    class RNNCell(_FusedStep):
        def forward(self, xp, h_prev, w, b_ih, b_hh, seq, t, active, relu=False, residual=False):
            h_prev = _c(h_prev)
            args, (y, h) = self._recurrent(xp, h_prev, w, b_ih, b_hh, seq, t)
            rnn_kernels().rnn_forward(*args, h_prev, active, relu, residual, y, h)
            self.y, self.active, self.relu, self.residual = y, active, relu, residual
            return h

        def backward(self, dh):
            _, da = self.seq.grad_slots(self.t)
            dh_direct = np.empty_like(self.y)
            rnn_kernels().rnn_backward(self.y, _c(dh), self.active, self.relu, self.residual, da, dh_direct)
            return self._grads(da, dh_direct)


OUTPUTS = {"LSTM": 3, "GRU": 2, "RNN_TANH": 1, "RNN_RELU": 1}  # (B, H) arrays a fused step writes


class StackSteps(Function):
    """The fused steps' outputs h_t as one (T, B, H) array: they are its rows already, so no copy."""

    def forward(self, *hs, rows):
        return rows

    def backward(self, g):
        return tuple(g)


def _fused_step(mode, xp, state, w_hh, b_ih, b_hh, seq, t, active, residual=False):
    if mode == "LSTM":
        return fused.LSTMCell.apply(xp, state[0], state[1], w_hh, b_ih, b_hh, seq=seq, t=t, active=active)
    if mode == "GRU":
        return fused.GRUCell.apply(xp, state, w_hh, b_ih, b_hh, seq=seq, t=t, active=active)
    return fused.RNNCell.apply(xp, state, w_hh, b_ih, b_hh, seq=seq, t=t, active=active,
                               relu=mode == "RNN_RELU", residual=residual)


# ---------------------------------------------------------------- shared checks
def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(_infer_array(x))


def _check_nonlinearity(nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")


def _check_dtype(x, w):
    if x.dtype != w.dtype:
        raise ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype ({w.dtype}). "
                         f"Convert input: input.to({w.dtype}), or convert model: model.to({x.dtype})")


def _check_same_dtype(what, x, w):
    """A state (or a cell's input) must have the weights' dtype: PyTorch's RuntimeError from its matmul."""
    if x.dtype != w.dtype:
        a, b = (F._TORCH_TYPE.get(d.name, d.name) for d in (x.dtype, w.dtype))
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {a} and {b} ({what} is {x.dtype}, "
                           f"the weights are {w.dtype})")


def _state_tuple(name, hx, short=RuntimeError):
    """An LSTM's (h, c) pair.  As in PyTorch more than two states raise RuntimeError, fewer raise ``short``
    (IndexError for the layers, which index hx[1]); a Tensor counts its first axis."""
    n = hx.shape[0] if isinstance(hx, Tensor) and hx.ndim else len(hx) if isinstance(hx, (tuple, list)) else 0
    if n == 2 and not isinstance(hx, Tensor):
        return hx
    got = f"a Tensor of shape {tuple(hx.shape)}" if isinstance(hx, Tensor) else \
        f"{n} of them" if isinstance(hx, (tuple, list)) else type(hx).__name__
    raise (short if n < 2 else RuntimeError)(f"{name} expects two hidden states (h_0, c_0), got {got}")


def _single_state(name, hx):
    """An RNN's or GRU's state must be one tensor, not a tuple (as an LSTM's)."""
    if isinstance(hx, (tuple, list)):  # PyTorch: AttributeError ("'tuple' object has no attribute 'dim'")
        raise AttributeError(f"{name}: hx should be a Tensor, got a {type(hx).__name__} of {len(hx)} "
                             f"(only LSTM takes a pair (h_0, c_0))")
    return hx


def _mode(module):
    return "RNN_" + module.nonlinearity.upper() if module.mode == "RNN" else module.mode  # a cell's mode is 'RNN'


def _uniform_init(module):
    bound = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


def _new(shape, dtype):
    return Parameter(np.zeros(shape, as_dtype(dtype) or default_float()))


# ---------------------------------------------------------------- cells
class RNNCellBase(Module):
    """What RNNCell, LSTMCell and GRUCell share: PyTorch's parameters, initialisation and checks."""

    mode = None

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None, fused=True):
        super().__init__()
        check_device(f"nn.{type(self).__name__}", device)
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if isinstance(v, numbers.Integral) and v < 0:  # PyTorch's error from allocating the weights
                raise RuntimeError(f"Trying to create tensor with negative dimension {v}: "
                                   f"nn.{type(self).__name__} {what} must be >= 0")
        self.input_size, self.hidden_size, self.bias, self.fused = input_size, hidden_size, bias, fused
        g = GATES[self.mode]
        self.weight_ih = _new((g * hidden_size, input_size), dtype)
        self.weight_hh = _new((g * hidden_size, hidden_size), dtype)
        if bias:
            self.bias_ih = _new((g * hidden_size,), dtype)
            self.bias_hh = _new((g * hidden_size,), dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_init(self)

    def forward(self, input, hx=None):
        """One step: returns h' (RNN, GRU) or (h', c') (LSTM); unbatched 1-D input allowed."""
        name, n_states = type(self).__name__, 2 if self.mode == "LSTM" else 1
        if self.mode == "RNN" and self.nonlinearity not in ("tanh", "relu"):
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        if isinstance(input, PackedSequence):  # PyTorch: AttributeError ("... has no attribute 'dim'")
            raise AttributeError(f"{name}: input is a PackedSequence; a cell takes one step as a tensor "
                                 "(run the layer, e.g. nn.LSTM, on packed sequences)")
        x = _tensor(input)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        if hx is not None and n_states == 2 and isinstance(hx, Tensor):
            raise TypeError("lstm_cell(): argument 'hx' (position 2) must be tuple of Tensors, not Tensor")
        if hx is not None:
            hx = _state_tuple("lstm_cell", hx) if n_states == 2 else (_single_state(name, hx),)
        states = None if hx is None else [_tensor(h) for h in hx]
        for i, h in enumerate(states or ()):
            if h.ndim not in (1, 2):
                what = f"hx[{i}]" if n_states == 2 else "hidden"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {h.ndim}D instead")
        batched = x.ndim == 2
        if not batched:
            x = x.unsqueeze(0)
        if states is None:
            states = [Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))] * n_states
        elif not batched:
            states = [h.unsqueeze(0) for h in states]
        self._check(x, states)
        new = self._step(x, states[0] if n_states == 1 else tuple(states))
        if not batched:
            new = tuple(h.squeeze(0) for h in new) if n_states == 2 else new.squeeze(0)
        return new

    def _check(self, x, states):
        _check_same_dtype("input", x, self.weight_ih)
        if x.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[1]} expected {self.input_size}")
        for i, h in enumerate(states):
            _check_same_dtype(f"hx[{i}]" if len(states) == 2 else "hx", h, self.weight_ih)
            if h.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{i} batch size {h.shape[0]}")
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{i} has inconsistent hidden_size: got {h.shape[1]}, "
                                   f"expected {self.hidden_size}")

    def _step(self, x, state):
        mode, residual = _mode(self), getattr(self, "residual", False)
        w_ih, w_hh, b_ih, b_hh = self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
        if not self.fused:
            return _unfused_step(mode, x, state, w_ih, w_hh, b_ih, b_hh, None, residual)
        batch = x.shape[0]
        seq = _Sequence(1, (batch, self.hidden_size), x.dtype, w_hh.shape[0], separate_dxp=mode == "GRU",
                        outputs=OUTPUTS[mode])
        return _fused_step(mode, InputProjection.apply(x, w_ih), state, w_hh, b_ih, b_hh, seq, 0,
                           np.ones(batch, bool), residual)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        if getattr(self, "residual", False):
            s += ", residual=True"
        return s


class RNNCell(RNNCellBase):
    """h' = phi(W_ih x + b_ih + W_hh h + b_hh), phi tanh or relu; with ``residual=True``
    h' = h + phi(...) (the residual form that keeps gradients from vanishing).

    >>> import tinybptt
    >>> cell = tinybptt.nn.RNNCell(10, 20); h = cell(tinybptt.randn(3, 10))   # h: (3, 20)
    """

    mode = "RNN"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None,
                 residual=False, fused=True):
        super().__init__(input_size, hidden_size, bias, device, dtype, fused)
        self.nonlinearity, self.residual = nonlinearity, residual  # as PyTorch, checked by forward


class LSTMCell(RNNCellBase):
    """One LSTM step, gates i, f, g, o: ``h1, c1 = cell(x, (h0, c0))`` (state zeros if omitted)."""

    mode = "LSTM"


class GRUCell(RNNCellBase):
    """One GRU step, gates r, z, n with n = tanh(W_in x + b_in + r*(W_hn h + b_hn)): ``h1 = cell(x, h0)``."""

    mode = "GRU"


# ---------------------------------------------------------------- layers
def _lengths_mask(lengths, steps, batch):
    """(T, B) bool: True where step t is inside sequence b."""
    lens = np.asarray(_infer_array(lengths)).reshape(-1)
    if lens.dtype.kind not in "iu":
        if lens.dtype.kind != "f" or not np.all(lens == np.round(lens)):
            raise TypeError(f"lengths: expected integer lengths, got dtype {lens.dtype}")
        lens = lens.astype(np.int64)
    if lens.shape != (batch,):
        raise ValueError(f"lengths: expected one length per sequence ({batch}), got {lens.size}")
    if (lens <= 0).any():
        raise ValueError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                         f"that is <= 0 (lengths: {lens.tolist()})")
    if lens.size and lens.max() > steps:
        raise ValueError(f"lengths: a length of {lens.max()} is longer than the input's {steps} time steps")
    return np.arange(steps)[:, None] < lens[None, :]


class RNNBase(Module):
    """What RNN, LSTM and GRU share: layers and directions of cells run over the sequence, PyTorch's
    parameter names, ``lengths``/PackedSequence masking and dropout between layers."""

    mode = None

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, fused=True):
        super().__init__()
        check_device(f"nn.{type(self).__name__}", device)
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability "
                             "of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        for what, v in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(v, bool):
                raise TypeError(f"{what} should be of type bool, got: {type(v).__name__}")
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise TypeError(f"{what} should be of type int, got: {type(v).__name__}")
            if v <= 0:
                raise ValueError(f"{what} must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size and self.mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.fused, self.proj_size = bidirectional, fused, proj_size
        self.name = type(self).__name__.lower()
        gates = GATES[self.mode] * hidden_size
        state = proj_size or hidden_size  # the size of h carried between steps and layers
        dirs = 2 if bidirectional else 1
        self._flat_weights_names = []
        for k in range(num_layers):
            for d in range(dirs):
                sfx = f"_l{k}" + ("_reverse" if d else "")
                size_in = input_size if k == 0 else state * dirs
                shapes = [("weight_ih", (gates, size_in)), ("weight_hh", (gates, state))]
                if bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                if proj_size:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for n, shape in shapes:
                    setattr(self, n + sfx, _new(shape, dtype))
                    self._flat_weights_names.append(n + sfx)
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        _uniform_init(self)

    def flatten_parameters(self):
        """No-op, for code written for PyTorch's cuDNN path."""

    @property
    def all_weights(self):
        """[[weight_ih, weight_hh, bias_ih, bias_hh(, weight_hr)] per layer and direction] as in PyTorch."""
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    @property
    def _all_weights(self):
        """The parameter names of each layer and direction, as PyTorch's ``_all_weights``."""
        per = (4 if self.bias else 2) + (1 if self.proj_size else 0)
        names = self._flat_weights_names
        return [names[i:i + per] for i in range(0, len(names), per)]

    @property
    def _flat_weights(self):
        """All weights in ``_flat_weights_names`` order, as PyTorch's ``_flat_weights``."""
        return [getattr(self, n) for n in self._flat_weights_names]

    def _weights(self, k, d):
        """(weight_ih, weight_hh, bias_ih, bias_hh, weight_hr) of layer k, direction d; None where absent."""
        sfx = f"_l{k}" + ("_reverse" if d else "")
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
        return tuple(getattr(self, n + sfx, None) for n in names)

    def forward(self, input, hx=None, lengths=None):
        """Run all layers over the sequence; returns (output, h_n), or (output, (h_n, c_n)) for LSTM.

        input: (T, B, input_size) ((B, T, input_size) with batch_first, (T, input_size)
        unbatched).  hx: (num_layers * num_directions, B, hidden_size) (a pair for LSTM),
        zeros when omitted.  lengths: optional length of each sequence of the batch (list,
        array or int tensor, any order): the result equals PyTorch's
        ``pad_packed_sequence(rnn(pack_padded_sequence(x, lengths, enforce_sorted=False)),
        total_length=T)``: outputs past each end are zero, h_n is taken at each last step.
        input may be a PackedSequence instead (batch_first does not apply to it): the output
        is then packed the same way; hx and h_n are in the original batch order.
        """
        if not isinstance(self.bidirectional, bool):  # accepted by the constructor, refused by PyTorch's kernel
            raise TypeError(f"{_mode(self).lower()}(): argument 'bidirectional' must be bool, not "
                            f"{type(self.bidirectional).__name__}")
        if isinstance(self.num_layers, bool):  # range(True) builds one layer; PyTorch's kernel refuses the bool
            raise TypeError(f"{_mode(self).lower()}(): argument 'num_layers' must be int, not bool")
        if isinstance(input, PackedSequence):  # run the lengths= path on the padded batch
            if self.mode == "LSTM":  # PyTorch's packed LSTM checks no dtype: its matmul raises RuntimeError
                _check_same_dtype("input", input.data, self.weight_ih_l0)
            padded, lengths = pad_packed_sequence(input, self.batch_first)
            output, h_n = self.forward(padded, hx, lengths)
            return _pack_like(output, input, self.batch_first), h_n
        lstm, name = self.mode == "LSTM", type(self).__name__
        x = _tensor(input)
        if x.ndim not in (2, 3):
            tensor_word = " tensor" if self.mode.startswith("RNN") else ""
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D{tensor_word} instead")
        batched, batch_dim = x.ndim == 3, 0 if self.batch_first else 1
        # an LSTM's hx given as one stacked Tensor: PyTorch takes hx[0] and hx[1] (fine for unbatched input)
        stacked = lstm and isinstance(hx, Tensor) and hx.ndim > 0 and hx.shape[0] >= 2
        if hx is not None:
            pair = (hx[0], hx[1]) if stacked else hx
            hs = [_tensor(h) for h in _state_tuple("lstm", pair, short=IndexError)] if lstm else [_tensor(_single_state(name, hx))]
            want = 3 if batched else 2
            if any(h.ndim != want for h in hs):
                kind = "batched 3-D" if batched else "unbatched 2-D"
                got = ", ".join(f"{h.ndim}-D" for h in hs)
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got ({got}) tensors"
                                   if lstm else f"For {kind} input, hx should also be {want}-D but got {got} tensor")
            if not batched:
                hs = [h.unsqueeze(1) for h in hs]
        if not batched:
            x = x.unsqueeze(batch_dim)
        _check_dtype(x, self.weight_ih_l0)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {x.shape[-1]}")
        if self.batch_first:
            x = x.transpose(0, 1)
        steps, batch = x.shape[:2]
        if steps == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        dirs = 2 if self.bidirectional else 1
        sizes = (self.proj_size or self.hidden_size, self.hidden_size)  # of h, and of c (LSTM)
        if hx is not None:
            for i, h in enumerate(hs):
                expected = (self.num_layers * dirs, batch, sizes[i])
                if h.shape != expected:
                    what = f"hidden[{i}]" if lstm else "hidden"
                    raise RuntimeError(f"Expected {what} size {expected}, got {list(h.shape)}")
            if stacked and batched:  # PyTorch's kernel then refuses the Tensor where it wants a tuple
                raise TypeError(f"lstm(): argument 'hx' must be a tuple of Tensors (h_0, c_0), not a Tensor of "
                                f"shape {tuple(hx.shape)} (a stacked pair is taken only with unbatched input)")
            for i, h in enumerate(hs):
                _check_same_dtype(f"hx[{i}]" if lstm else "hx", h, self.weight_ih_l0)
        mask = None if lengths is None else _lengths_mask(lengths, steps, batch)

        layer_in, finals = x, []
        for k in range(self.num_layers):
            outs = []
            for d in range(dirs):
                if hx is None:
                    zeros = [Tensor(np.zeros((batch, n), x.dtype)) for n in sizes]
                    state = tuple(zeros) if lstm else zeros[0]
                else:
                    state = tuple(h[k * dirs + d] for h in hs) if lstm else hs[0][k * dirs + d]
                with scope(f"{self.name}.l{k}.{'bwd' if d else 'fwd'}"):
                    out, state = self._direction(layer_in, state, k, d, mask)
                outs.append(out)
                finals.append(state)
            layer_in = outs[0] if dirs == 1 else ops.cat(outs, dim=2)
            if k < self.num_layers - 1 and self.dropout > 0 and self.training:
                layer_in = F.dropout(layer_in, self.dropout, True)

        output = layer_in
        if mask is not None:
            output = output * Tensor(mask[:, :, None].astype(x.dtype))
        if self.batch_first:
            output = output.transpose(0, 1)
        h_n = (ops.stack([s[0] for s in finals]), ops.stack([s[1] for s in finals])) if lstm \
            else ops.stack(finals)
        if not batched:
            output = output.squeeze(batch_dim)
            h_n = tuple(h.squeeze(1) for h in h_n) if lstm else h_n.squeeze(1)
        return output, h_n

    def _direction(self, x, state, k, d, mask):
        """One layer, one direction over all steps; returns (outputs (T, B, H), final state)."""
        steps, batch = x.shape[:2]
        mode, residual = _mode(self), getattr(self, "residual", False)
        w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(k, d)
        order = range(steps - 1, -1, -1) if d else range(steps)
        fused = self.fused and w_hr is None  # a projected LSTM runs the primitive cell
        if fused:
            xp = InputProjection.apply(x.reshape(steps * batch, x.shape[2]), w_ih)  # all steps: one GEMM
            seq = _Sequence(steps, (batch, self.hidden_size), x.dtype, w_ih.shape[0], first=order[0],
                            separate_dxp=mode == "GRU", outputs=OUTPUTS[mode], reverse=bool(d))
            active = mask if mask is not None else np.ones((steps, batch), bool)
        else:
            inputs = Unbind.apply(x)
        hs = [None] * steps
        for t in order:
            with scope(f"t={t}"):
                if fused:
                    state = _fused_step(mode, xp, state, w_hh, b_ih, b_hh, seq, t, active[t], residual)
                else:
                    state = _unfused_step(mode, inputs[t], state, w_ih, w_hh, b_ih, b_hh,
                                          None if mask is None else mask[t], residual, w_hr)
            hs[t] = state[0] if mode == "LSTM" else state
        return (StackSteps.apply(*hs, rows=seq.h) if fused else ops.stack(hs)), state

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN layers: h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), phi tanh or relu.

    ``residual=True`` gives h_t = h_{t-1} + phi(...).  Returns (output, h_n).

    >>> import tinybptt
    >>> rnn = tinybptt.nn.RNN(10, 20, num_layers=2)
    >>> out, h_n = rnn(tinybptt.randn(5, 3, 10))  # (5, 3, 20), (2, 3, 20)
    """

    mode = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, residual=False, fused=True, **kwargs):
        _no_proj_size(kwargs)
        _check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, device,
                         dtype, fused)
        self.nonlinearity, self.residual = nonlinearity, residual
        self.mode = "RNN_" + nonlinearity.upper()  # as PyTorch: 'RNN_TANH' or 'RNN_RELU', fixed at construction

    def extra_repr(self):
        return super().extra_repr() + (", residual=True" if self.residual else "")


class LSTM(RNNBase):
    """LSTM layers (gates i, f, g, o); returns (output, (h_n, c_n)).

    ``proj_size=P`` (0 < P < hidden_size) projects each step's h to P features,
    h_t = W_hr (o_t * tanh(c_t)), as PyTorch: output and h_n have P features, c_n
    keeps hidden_size, and each layer/direction has a ``weight_hr_l<k>`` of shape
    (P, hidden_size).  It runs the primitive cell (``fused`` is ignored).

    >>> import tinybptt
    >>> lstm = tinybptt.nn.LSTM(10, 20); out, (h, c) = lstm(tinybptt.randn(5, 3, 10))
    """

    mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, fused=True):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size,
                         device, dtype, fused)


class GRU(RNNBase):
    """GRU layers (gates r, z, n with n = tanh(W_in x + b_in + r*(W_hn h + b_hn))); returns (output, h_n)."""

    mode = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, fused=True, **kwargs):
        _no_proj_size(kwargs)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, device,
                         dtype, fused)


def _no_proj_size(kwargs):
    """RNN and GRU take no proj_size (not even 0), and no other unknown keyword, as in PyTorch."""
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if kwargs:
        raise TypeError(f"__init__() got an unexpected keyword argument '{next(iter(kwargs))}'")
