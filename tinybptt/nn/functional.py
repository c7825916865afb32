"""nn.functional: activations, dropout, embedding and losses."""
import warnings

import numpy as np

from .. import ops
from ..autograd import Function, is_grad_enabled
from ..functions import einsum
from ..random import rng
from ..tensor import Tensor, _infer_array

_REDUCTIONS = ("mean", "sum", "none")


def _apply(input, inplace, name, fn):
    """fn(input), or with ``inplace`` the same written into ``input`` (recorded in a graph, see Tensor._inplace)."""
    return input._inplace(name, fn) if inplace else fn(input)


def relu(input, inplace=False):
    """Elementwise max(x, 0); ``inplace=True`` changes ``input`` and returns it, as in PyTorch."""
    return _apply(input, inplace, "relu_", Tensor.relu)


def tanh(input):
    """Elementwise hyperbolic tangent."""
    return input.tanh()


def sigmoid(input):
    """Elementwise logistic sigmoid, 1 / (1 + exp(-x))."""
    return input.sigmoid()


def _softmax_along(name, x, dim, dtype, method=None, stacklevel=3):
    """x (cast to ``dtype`` first) through ``x.<method or name>(dim)``; dim=None picks PyTorch's implicit dim,
    with its warning naming ``name``."""
    x = x if dtype is None else x.to(dtype)
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                      f"Change the call to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return getattr(x, method or name)(dim)


def softmax(x, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``; a row of all -inf gives NaN, as in PyTorch."""
    return _softmax_along("softmax", x, dim, dtype)


def log_softmax(x, dim=None, dtype=None):
    """x - logsumexp(x) along ``dim``."""
    return _softmax_along("log_softmax", x, dim, dtype)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim``."""
    return _softmax_along("softmin", -input, dim, dtype, "softmax", _stacklevel)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """x where x > 0, else negative_slope * x (slope negative_slope at 0, as PyTorch)."""
    return _apply(input, inplace, "leaky_relu_", lambda x: ops.Where.apply(x._data > 0, x, x * negative_slope))


_TORCH_TYPE = {"float16": "Half", "float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
               "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _floating(kernel, x):
    """PyTorch's NotImplementedError for a kernel that has no integer or bool version."""
    if x.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel}_cpu" not implemented for \'{_TORCH_TYPE.get(x.dtype.name, x.dtype)}\'')
    return x


def _elu(x, alpha, scale=1.0, input_scale=1.0):
    """PyTorch's ELU kernel: scale * x where x > 0 (and at NaN), else alpha * scale * (exp(input_scale * x) - 1).

    The slope at 0 is the left one, alpha * scale * input_scale, as PyTorch's autograd gives.
    """
    t = _floating("elu", x)._data.dtype.type
    neg = ((x.clamp(max=0) * input_scale).exp() - 1) * (t(alpha) * t(scale))  # the coefficient in x's dtype
    return ops.Where.apply(~(x._data <= 0), x * scale, neg)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (exp(x) - 1) (slope alpha at 0, as PyTorch)."""
    return _apply(input, inplace, "elu_", lambda x: _elu(x, alpha))


def celu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (exp(x / alpha) - 1) (slope 1 at 0, as PyTorch)."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _apply(input, inplace, "celu_", lambda x: _elu(x, alpha, 1.0, 1.0 / alpha))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha) with PyTorch's constants alpha = 1.6733, scale = 1.0507 (slope alpha * scale at 0)."""
    return _apply(input, inplace, "selu_", lambda x: _elu(x, _SELU_ALPHA, _SELU_SCALE))


def _clip(x, lo, hi):
    """clamp(x, lo, hi), with gradient 1 strictly inside (lo, hi) and at NaN, 0 on the bounds and beyond
    (PyTorch's hardtanh; plain clamp passes the gradient on the bounds)."""
    d = x._data
    return ops.Where.apply(~((d <= lo) | (d >= hi)), x, np.clip(d, lo, hi).astype(d.dtype))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """min(max(x, min_val), max_val); its gradient is 0 at the bounds, as PyTorch's."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _apply(input, inplace, "hardtanh_", lambda x: _clip(x, min_val, max_val))


def relu6(input, inplace=False):
    """min(max(x, 0), 6), i.e. hardtanh(x, 0, 6) (gradient 0 at 0 and 6, as PyTorch)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold (and at NaN), else ``value``; no gradient where replaced."""
    return _apply(input, inplace, "threshold_",
                  lambda x: ops.Where.apply(x._data <= threshold, np.asarray(value, x.dtype), x))


class _Pointwise(Function):
    """An elementwise ``value`` of ``a`` with the elementwise derivative ``slope`` (both arrays made by the caller),
    for PyTorch kernels whose own backward (its kinks and constants) autograd of the formula would not reproduce."""

    def forward(self, a, value, slope):
        self.slope = slope
        return value

    def backward(self, g):
        return g * self.slope


def hardsigmoid(input, inplace=False):
    """min(max(x + 3, 0), 6) / 6; gradient 1/6 (rounded to float32, as PyTorch's kernel) strictly inside
    (-3, 3), else 0."""
    def f(x):
        d = _floating("hardsigmoid", x)._data
        slope = np.where((d > -3) & (d < 3), np.float32(1 / 6), 0).astype(d.dtype)
        return _Pointwise.apply(x, value=np.minimum(np.maximum(d + 3, 0), 6) / 6, slope=slope)
    return _apply(input, inplace, "hardsigmoid_", f)


def hardswish(input, inplace=False):
    """x * min(max(x + 3, 0), 6) / 6; gradient x / 3 + 1/2 strictly inside (-3, 3), 0 at and below -3,
    1 at and above 3 (as PyTorch)."""
    def f(x):
        d = _floating("hardswish", x)._data
        slope = np.where(d <= -3, 0, np.where(d < 3, d / 3 + 0.5, 1)).astype(d.dtype)
        return _Pointwise.apply(x, value=d * np.minimum(np.maximum(d + 3, 0), 6) / 6, slope=slope)
    return _apply(input, inplace, "hardswish_", f)


def logsigmoid(input):
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -ops.Softplus.apply(-_floating("log_sigmoid", input))


def softsign(input):
    """x / (1 + |x|)."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """x - tanh(x)."""
    return input - input.tanh()


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _apply(input, inplace, "mish_", lambda x: x * ops.Softplus.apply(_floating("mish", x)).tanh())


def prelu(input, weight):
    """x where x > 0, else weight * x; ``weight`` holds one slope or one per channel (dim 1), as PyTorch."""
    if input.dtype != weight.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {_TORCH_TYPE.get(input.dtype.name)} and "
                           f"{_TORCH_TYPE.get(weight.dtype.name)}")
    _floating("prelu", input)
    n = weight.numel()
    if n != 1:
        if input.ndim == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        channels = input.shape[1] if input.ndim > 1 else 1
        if channels != n:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{n} and channel size = {channels}.")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.ndim}")
    if input.ndim != weight.ndim:
        weight = weight.reshape([n if i == 1 else 1 for i in range(input.ndim)])
    return ops.Where.apply(input._data > 0, input, weight * input)


def _inplace_form(fn):
    """``fn`` with inplace=True: PyTorch's F.relu_, F.elu_, ... (changes ``input`` and returns it)."""
    def inplace(input, *args, **kwargs):
        return fn(input, *args, inplace=True, **kwargs)
    inplace.__name__ = inplace.__qualname__ = fn.__name__ + "_"
    inplace.__doc__ = f"In-place {fn.__name__}: changes ``input`` and returns it."
    return inplace


relu_, elu_, celu_, leaky_relu_, hardtanh_, threshold_ = map(_inplace_form, (relu, elu, celu, leaky_relu, hardtanh,
                                                                            threshold))


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta * x > threshold (as PyTorch)."""
    x = input
    bx = x * beta
    return ops.Where.apply(bx._data > threshold, x, ops.Softplus.apply(bx) / beta)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    return _apply(input, inplace, "silu_", lambda x: x * x.sigmoid())


def gelu(input, approximate="none"):
    """x * Phi(x) with Phi the standard normal CDF; approximate='tanh' uses PyTorch's tanh formula."""
    x = input
    if approximate == "tanh":
        return x * 0.5 * ((x + x * x * x * 0.044715) * float(np.sqrt(2 / np.pi))).tanh() + x * 0.5
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return x * 0.5 * (ops.Erf.apply(x * float(1 / np.sqrt(2))) + 1)


def glu(input, dim=-1):
    """Gated linear unit: the first half of ``input`` along ``dim`` times the sigmoid of the second half."""
    if input.ndim == 0:
        raise RuntimeError("glu: glu does not support scalars because halving size must be even")
    d = ops._dim("glu", dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    a, b = input.chunk(2, d)
    return a * b.sigmoid()


def _trailing_dims(name, input, normalized_shape, params):
    """The trailing dims of ``input`` that ``normalized_shape`` covers, checked as PyTorch checks them for
    layer_norm and rms_norm: the input ends with that shape and each (name, tensor or None) of ``params`` has it."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if input.shape[input.ndim - len(shape):] != shape:
        raise RuntimeError(f"{name}: expected input with shape (*, {', '.join(map(str, shape))}), "
                           f"got {input.shape}")
    for pname, p in params:
        if p is not None and tuple(p.shape) != shape:
            raise RuntimeError(f"{name}: Expected {pname} to be of same shape as normalized_shape, but got "
                               f"{pname} of shape {tuple(p.shape)} and normalized_shape = {shape}")
    return tuple(range(input.ndim - len(shape), input.ndim))


def _standardize(x, dims, eps):
    """(x - mean) / sqrt(var + eps) over ``dims`` with the biased variance: the core of layer, group, instance
    and (training-mode) batch norm.  An empty ``x`` is returned as a copy (no mean of an empty slice)."""
    if x._data.size == 0:
        return x * 1
    centred = x - x.mean(dims, keepdim=True)
    return centred / ((centred * centred).mean(dims, keepdim=True) + eps).sqrt()


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last len(normalized_shape) dims to zero mean, unit (biased) variance."""
    dims = _trailing_dims("layer_norm", input, normalized_shape, (("weight", weight), ("bias", bias)))
    y = _standardize(input, dims, eps)
    y = y if weight is None else y * weight
    return y if bias is None else y + bias


def one_hot(tensor, num_classes=-1):
    """int64 one-hot vectors of class indices (num_classes = max + 1 when -1)."""
    idx = _infer_array(tensor)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: expected an integer (int64) tensor of class indices, got {idx.dtype}")
    n = int(idx.max()) + 1 if num_classes == -1 else num_classes
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise RuntimeError(f"one_hot: class values must be in [0, {n}), got [{idx.min()}, {idx.max()}]")
    return Tensor((idx[..., None] == np.arange(n)).astype(np.int64))


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p along dim, eps)."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


def linear(input, weight, bias=None):
    """y = x W^T + b."""
    x = input
    if x.ndim == 0 or weight.ndim == 0:
        raise RuntimeError(f"linear: both arguments to linear need to be at least 1D, but they are {x.ndim}D "
                           f"and {weight.ndim}D")
    if x.shape[-1] != weight.shape[-1]:
        raise RuntimeError(f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the weight "
                           f"expects {weight.shape[-1]} (weight shape {weight.shape})")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"linear: input dtype {x.dtype} differs from the weight's {weight.dtype} "
                           f"(mat1 and mat2 must have the same dtype; convert with .to(dtype) or .double())")
    y = x @ weight.T
    return y if bias is None else y + bias


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (identity when not training).

    ``inplace=True`` changes ``input`` and returns it, as in PyTorch.
    """
    x = input
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return _apply(x, inplace, "dropout_", lambda t: t * 0.0)
    mask = (rng().random(x.shape) >= p).astype(x.dtype) / x.dtype.type(1.0 - p)
    return _apply(x, inplace, "dropout_", lambda t: ops.Dropout.apply(t, mask))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` picked by the integer tensor ``input``.

    ``padding_idx``'s row gets no gradient; with ``max_norm`` the looked-up rows whose
    ``norm_type``-norm exceeds it are first rescaled in place to that norm (as PyTorch);
    ``scale_grad_by_freq`` divides each row's gradient by how often its index occurs in ``input``.
    Gradients are dense (``sparse`` is ignored).
    """
    idx = _infer_array(input)
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D, got shape {weight.shape}")
    if padding_idx is not None:
        if not -weight.shape[0] <= padding_idx < weight.shape[0]:
            raise AssertionError(f"Padding_idx must be within num_embeddings (embedding: padding_idx {padding_idx}, "
                                 f"{weight.shape[0]} rows)")
        padding_idx %= weight.shape[0]
    if max_norm is not None and idx.dtype.kind in "iu" and idx.size and 0 <= idx.min() and idx.max() < len(weight):
        _renorm_rows(weight, np.unique(idx), max_norm, norm_type)
    return ops.Embedding.apply(weight, idx, padding_idx=padding_idx, scale_grad_by_freq=bool(scale_grad_by_freq))


def _renorm_rows(weight, rows, max_norm, norm_type):
    """Scale the given rows whose norm exceeds max_norm down to it, in place (not recorded)."""
    w = weight._data
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        w[rows[big]] *= (max_norm / (norms[big] + 1e-7)).astype(w.dtype)[:, None]
        weight._bump_version()


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated ``size_average`` / ``reduce`` as a ``reduction`` (with its warning), else ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                  UserWarning, stacklevel=3)
    return reduction


def _check_reduction(name, reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r} "
                         f"({reduction} is not a valid value for reduction)")


class BatchSizeError(ValueError, RuntimeError):
    """Input and target batch sizes differ (PyTorch raises ValueError here; RuntimeError kept for older code)."""


class LossArgumentError(ValueError, RuntimeError):
    """A loss argument out of its range (PyTorch raises RuntimeError; ValueError kept for older code)."""


def _constant_arg(fn, arg, x):
    """PyTorch's error when a loss argument that gets no gradient (weights) requires grad."""
    if isinstance(x, Tensor) and x.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument '{arg}'. "
                           "This input cannot have requires_grad True.")


def _class_weight(name, weight, c, dtype, same_dtype=True):
    """The per-class weight as a (C,) array of ``dtype`` (ones when None).

    As PyTorch, it must be 1-D, and with ``same_dtype`` (class-index targets) of the input's dtype.
    """
    if weight is None:
        return np.ones(c, dtype)
    _constant_arg("nll_loss_forward", "weight", weight)
    w = _infer_array(weight)
    if w.ndim != 1 or w.size != c:
        raise RuntimeError(f"{name}: weight tensor should be defined either for all {c} classes or no classes "
                           f"but got weight tensor of shape: {list(w.shape)}")
    if same_dtype and w.dtype != dtype:
        raise RuntimeError(f"{name}: expected scalar type {_TORCH_TYPE.get(np.dtype(dtype).name, dtype)} but found "
                           f"{_TORCH_TYPE.get(w.dtype.name, w.dtype)} (weight {w.dtype}, input {np.dtype(dtype)})")
    return np.ascontiguousarray(w, dtype)


def _targets(name, input, target):
    t = _infer_array(target)
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: expected target of an integer dtype (class indices, e.g. tinybptt.int64), "
                           f"got {t.dtype}" + (" (or class probabilities of the input's shape)"
                                               if name == "cross_entropy" else ""))
    if t.dtype not in (np.int64, np.uint8):  # PyTorch's rule, and its names for the dtypes
        torch_name = {"int8": "Char", "int16": "Short", "int32": "Int"}.get(t.dtype.name, "UInt" + t.dtype.name[4:])
        raise RuntimeError(f"{name}: expected target dtype to be Long or Byte, but got {torch_name}")
    if input.ndim != 2 or t.shape != input.shape[:1]:
        raise BatchSizeError(f"{name}: expected input of shape (N, C) and target of shape (N,), "
                             f"got input {input.shape} and target {t.shape}")
    return t


def _class_rows(name, input, target):
    """View (C,) / (N, C, d1, ...) inputs as (rows, C) with one target per row; also the loss shape.

    Shape errors carry PyTorch's texts (batch size, multi-target, target size).
    """
    t = _infer_array(target)
    if input.ndim == 0:
        raise RuntimeError(f"{name}: input must be (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    if input.ndim == 1:
        return input.unsqueeze(0), t.reshape(-1), ()
    n = input.shape[0]
    if input.ndim == 2 and t.ndim > 1:
        raise RuntimeError(f"{name}: 0D or 1D target tensor expected, multi-target not supported "
                           f"(input {input.shape}, target {t.shape})")
    if t.ndim == 0 or t.shape[0] != n:
        raise BatchSizeError(f"{name}: expected input of shape (N, C) and target of shape (N,), got input "
                             f"{input.shape} and target {t.shape} (Expected input batch_size ({n}) to match "
                             f"target batch_size ({t.shape[0] if t.ndim else 0}).)")
    if input.ndim > 2:
        c = input.shape[1]
        want = input.shape[:1] + input.shape[2:]
        if t.shape != want:
            raise RuntimeError(f"{name}: expected target of shape {want} for input of shape {input.shape}, got "
                               f"{t.shape} (Expected target size {list(want)}, got {list(t.shape)})")
        return input.permute(0, *range(2, input.ndim), 1).reshape(-1, c), t.reshape(-1), t.shape
    return input, t, t.shape


def _out_of_bounds(name, t, c, ignore_index):
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"{name}: target {t[bad][0]} is out of bounds for {c} classes "
                         f"(Target {t[bad][0]} is out of bounds.)")


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy between logits (N, C) and class indices (N,), fused and stable.

    Also (C,) with a 0-d target, (N, C, d1, ...) with target (N, d1, ...), and
    class probabilities as a float target of the input's shape.
    ``reduction='mean'`` divides by the summed weight of the non-ignored targets, as PyTorch.
    ``size_average`` / ``reduce``: PyTorch's deprecated form of ``reduction`` (with its warning).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("cross_entropy", reduction)
    if label_smoothing > 1.0:  # as PyTorch, a negative value is taken as no smoothing
        raise LossArgumentError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0. "
                                f"Got: {label_smoothing}")
    label_smoothing = max(label_smoothing, 0.0)
    t = _infer_array(target)
    if input.ndim and t.shape == input.shape:  # class probabilities
        if t.dtype.kind != "f":
            raise RuntimeError(f"cross_entropy: Expected floating point type for target with class "
                               f"probabilities, got {t.dtype} (a target of the input's shape {input.shape} holds "
                               f"class probabilities; class indices have shape {input.shape[:1] + input.shape[2:]})")
        if ignore_index != -100:
            raise RuntimeError("cross_entropy: ignore_index is not supported for floating point target")
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    rows, t, shape = _class_rows("cross_entropy", input, t)
    t = _targets("cross_entropy", rows, t)
    c = rows.shape[1]
    _out_of_bounds("cross_entropy", t, c, ignore_index)
    w = _class_weight("cross_entropy", weight, c, rows.dtype)
    out = ops.CrossEntropy.apply(rows, t, weight=w, ignore_index=int(ignore_index),
                                 smoothing=float(label_smoothing), reduction=reduction)
    return out.reshape(shape) if reduction == "none" else out


def _soft_cross_entropy(input, target, weight, reduction, smoothing):
    """Cross-entropy against class probabilities: -sum_c w_c y_c log p_c per sample."""
    cdim = 0 if input.ndim == 1 else 1
    c = input.shape[cdim]
    target = target if isinstance(target, Tensor) else Tensor(_infer_array(target, input.dtype))
    y = target * (1 - smoothing) + smoothing / c if smoothing else target
    logp = input.log_softmax(cdim)
    if weight is not None:  # composed of tensor ops here, so a weight that requires grad gets its gradient
        shape = (c,) + (1,) * (input.ndim - cdim - 1)
        if isinstance(weight, Tensor) and weight.requires_grad:
            _class_weight("cross_entropy", weight.detach(), c, input.dtype, same_dtype=False)
            logp = logp * weight.reshape(shape)
        else:
            logp = logp * Tensor(_class_weight("cross_entropy", weight, c, input.dtype, same_dtype=False)
                                 .reshape(shape))
    losses = -(logp * y).sum(cdim)
    return losses if reduction == "none" else losses.sum() if reduction == "sum" else losses.mean()


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of log-probabilities (N, C) at class indices (N,).

    Also (C,) with a 0-d target and (N, C, d1, ...) with target (N, d1, ...).
    ``size_average`` / ``reduce``: PyTorch's deprecated form of ``reduction`` (with its warning).
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction("nll_loss", reduction)
    input, t, shape = _class_rows("nll_loss", input, target)
    t = _targets("nll_loss", input, t)
    c = input.shape[1]
    valid = t != ignore_index
    _out_of_bounds("nll_loss", t, c, ignore_index)
    w = _class_weight("nll_loss", weight, c, input.dtype)
    safe = np.where(valid, t, 0)
    wt = np.where(valid, w[safe], 0).astype(input.dtype)
    picked = input[np.arange(len(t)), safe]
    losses = -picked * wt
    if reduction == "none":
        return losses.reshape(shape)
    if reduction == "sum":
        return losses.sum()
    if wt.sum() == 0:  # 0/0 = nan, as PyTorch; its gradient is nan at non-ignored targets, 0 at ignored ones
        return (losses * np.where(valid, np.nan, 0).astype(input.dtype)).sum() + np.nan
    return losses.sum() / wt.sum()


def _warn_target_size(input, target):
    """PyTorch's warning for regression losses whose target broadcasts against the input (say (N,) vs (N, 1))."""
    shape = getattr(target, "shape", None)
    if shape is not None and tuple(shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({list(shape)}) that is different to the input size "
                      f"({list(input.shape)}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", UserWarning, stacklevel=3)


def mse_loss(input, target, reduction="mean"):
    """Mean squared error (or summed / elementwise); warns, as PyTorch, when the shapes differ."""
    _check_reduction("mse_loss", reduction)
    target = target if isinstance(target, Tensor) else Tensor(_infer_array(target, input.dtype))
    _warn_target_size(input, target)
    if input.shape != target.shape:
        ops._broadcast_check("mse_loss", input._data, target._data)
    return ops.MSELoss.apply(input, target, reduction=reduction)


def _reduce(loss, reduction):
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def l1_loss(input, target, reduction="mean"):
    """Mean absolute error (or summed / elementwise); warns, as PyTorch, when the shapes differ."""
    _check_reduction("l1_loss", reduction)
    _warn_target_size(input, target)
    return _reduce((input - target).abs(), reduction)


def _piecewise_quadratic(name, input, target, reduction, width, quad_scale, lin_scale):
    """quad_scale * d^2 / 2 where |d| < width, else lin_scale * (|d| - width / 2); d = input - target."""
    _check_reduction(name, reduction)
    d = input - _as_input_dtype(target, input)
    a = d.abs()
    inside = a._data < width
    quad = d * d * (0.5 * quad_scale)
    lin = (a - 0.5 * width) * lin_scale
    return _reduce(ops.Where.apply(inside, quad, lin), reduction)


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (plain L1 when beta = 0)."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_target_size(input, target)
    if beta == 0:
        _check_reduction("smooth_l1_loss", reduction)
        return _reduce((input - target).abs(), reduction)
    return _piecewise_quadratic("smooth_l1_loss", input, target, reduction, beta, 1.0 / beta, 1.0)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2)."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_target_size(input, target)
    return _piecewise_quadratic("huber_loss", input, target, reduction, delta, 1.0, delta)


def kl_div(input, target, reduction="mean", log_target=False):
    """KL divergence sum target * (log target - input), with ``input`` log-probabilities.

    reduction='batchmean' divides the sum by the batch size (the true KL); 'mean' by the element count.
    """
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"kl_div: reduction must be one of {_REDUCTIONS + ('batchmean',)}, got {reduction!r} "
                         f"({reduction} is not a valid value for reduction)")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    target = _as_input_dtype(target, input)
    if log_target:
        loss = target.exp() * (target - input)
    else:  # t log t - t x, with 0 log 0 = 0
        loss = _XLogX.apply(target) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduce(loss, reduction)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """(x1 / max(||x1||, eps)) . (x2 / max(||x2||, eps)) along ``dim`` (x1, x2 broadcast), as PyTorch.

    As PyTorch clamps the norms without recording it, a norm below ``eps`` still passes its gradient.
    """
    floats = [x.dtype for x in (x1, x2) if x.dtype.kind == "f"]
    if not floats:
        common = np.result_type(x1.dtype, x2.dtype)
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{_TORCH_TYPE.get(common.name, common)}")
    x1, x2 = (x if x.dtype.kind == "f" else x.to(np.result_type(*floats)) for x in (x1, x2))
    ops._broadcast_check("cosine_similarity", x1._data, x2._data)
    shape = np.broadcast_shapes(x1.shape, x2.shape)

    def unit(x):
        x = x if x.shape == shape else x.expand(shape)
        n = x.norm(dim=dim, keepdim=True)
        return x / _Pointwise.apply(n, value=np.maximum(n._data, n._data.dtype.type(eps)), slope=np.ones((), n.dtype))
    return (unit(x1) * unit(x2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim (x1, x2 broadcast)."""
    return (x1 - x2 + eps).norm(p, max(x1.ndim, x2.ndim) - 1, keepdim)


def bilinear(input1, input2, weight, bias=None):
    """y_o = x1^T W_o x2 + b_o for weight (out, in1, in2): inputs (*, in1) and (*, in2) give (*, out)."""
    named = [("input1", input1), ("input2", input2), ("weight", weight)] + ([("bias", bias)] if bias is not None else [])
    if len({t.dtype for _, t in named}) > 1:
        names = {"float32": "float", "float64": "double", "float16": "half", "int64": "long", "int32": "int"}
        raise RuntimeError("All tensors must have the same dtype, got " +
                           ", ".join(f"{k}: {names.get(t.dtype.name, t.dtype.name)}" for k, t in named))
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and {input2.ndim}")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got {input1.shape[i]} "
                               f"and {input2.shape[i]}")
    for k, (name, x) in enumerate(named[:2], 1):
        if x.shape[-1] != weight.shape[k]:
            raise RuntimeError(f"bilinear(): {name} size does not match weight size: got {x.shape[-1]} but "
                               f"expected {weight.shape[k]}")
    if bias is not None and bias.shape[0] != weight.shape[0]:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias.shape[0]} but expected "
                           f"{weight.shape[0]}")
    y = einsum("...i,oij,...j->...o", input1, weight, input2)
    return y if bias is None else y + bias


class _XLogX(Function):
    """t * log(t), 0 at t = 0 (PyTorch's xlogy(t, t)); its gradient log(t) + 1 is nan at t = 0 as PyTorch's."""

    def forward(self, t):
        self.t = t
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t == 0, 0, t * np.log(t)).astype(t.dtype)

    def backward(self, g):
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * np.where(self.t == 0, np.nan, np.log(self.t) + 1).astype(self.t.dtype)


def _as_input_dtype(x, input):
    return x if x is None or isinstance(x, Tensor) else Tensor(_infer_array(x, input.dtype))


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Sigmoid + binary cross-entropy, stable.

    With softplus(x) = max(x,0) + log(1 + exp(-|x|)) = -log(1 - sigmoid(x)), the loss is
    weight * (pos_weight * y * softplus(-x) + (1 - y) * softplus(x)); softplus(-x) = softplus(x) - x.
    """
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    _constant_arg("binary_cross_entropy_with_logits", "weight", weight)
    _constant_arg("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    target, weight, pos_weight = (_as_input_dtype(a, input) for a in (target, weight, pos_weight))
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: Target size ({target.shape}) must be the same as "
                         f"input size ({input.shape})")
    softplus = ops.Softplus.apply(input)
    if pos_weight is None:
        loss = softplus - input * target
    else:
        loss = pos_weight * target * (softplus - input) + (1 - target) * softplus
    return _reduce(loss if weight is None else loss * weight, reduction)


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-weight * (y log p + (1 - y) log(1 - p)) on probabilities p, each log clamped at -100 as PyTorch."""
    _check_reduction("binary_cross_entropy", reduction)
    _constant_arg("binary_cross_entropy", "weight", weight)
    target, weight = _as_input_dtype(target, input), _as_input_dtype(weight, input)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy: Using a target size ({target.shape}) that is different to the "
                         f"input size ({input.shape}) is deprecated. Please ensure they have the same size.")
    for what, a in (("input", input._data), ("target", target._data)):
        if ((a < 0) | (a > 1)).any():
            raise RuntimeError(f"binary_cross_entropy: all elements of {what} should be between 0 and 1")
    loss = ops.BinaryCrossEntropy.apply(input, target)
    return _reduce(loss if weight is None else loss * weight, reduction)


from .attention import multi_head_attention_forward, scaled_dot_product_attention  # noqa: E402,F401  (re-exported; attention.py imports this module)
from .ctc import ctc_loss  # noqa: E402,F401  (re-exported; ctc.py imports this module)
# more layers and losses, each in its own module (which imports this one), re-exported here as torch has them
from .activations import gumbel_softmax, hardshrink, rrelu, rrelu_, softshrink  # noqa: E402,F401
from .distance import pdist  # noqa: E402,F401
from .dropout import alpha_dropout, dropout1d, dropout2d, dropout3d, feature_alpha_dropout  # noqa: E402,F401
from .likelihood_losses import gaussian_nll_loss, poisson_nll_loss  # noqa: E402,F401
from .margin_losses import (cosine_embedding_loss, hinge_embedding_loss, margin_ranking_loss,  # noqa: E402,F401
                            multi_margin_loss, multilabel_margin_loss, multilabel_soft_margin_loss, soft_margin_loss,
                            triplet_margin_loss, triplet_margin_with_distance_loss)
from .normalization import (batch_norm, group_norm, instance_norm, local_response_norm,  # noqa: E402,F401
                            rms_norm)
from .conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: E402,F401
from .pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d,  # noqa: E402,F401
                      adaptive_max_pool1d_with_indices, adaptive_max_pool2d, adaptive_max_pool2d_with_indices,
                      avg_pool1d, avg_pool2d, max_pool1d, max_pool1d_with_indices, max_pool2d,
                      max_pool2d_with_indices)
from .padding import pad  # noqa: E402,F401
from .fold import fold, unfold  # noqa: E402,F401
from .embedding_bag import embedding_bag  # noqa: E402,F401
