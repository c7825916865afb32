"""Basic layers: Linear, Embedding, Dropout, activations and containers."""
import math
import operator
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping

import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter
from ..devices import check_device
from ..tensor import Tensor, _infer_array, as_dtype, default_float


def _empty(*shape, dtype=None):
    return Parameter(np.zeros(shape, as_dtype(dtype) or default_float()))


class Linear(Module):
    """y = x W^T + b, with W of shape (out_features, in_features), both U(-1/sqrt(in), 1/sqrt(in))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        check_device("nn.Linear", device)
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty(out_features, in_features, dtype=dtype)
        if bias:
            self.bias = _empty(out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Redraw weight and bias from U(-1/sqrt(in_features), 1/sqrt(in_features))."""
        bound = 1 / math.sqrt(self.in_features) if self.in_features else 0
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        """input W^T + b over the last dim of ``input`` (..., in_features)."""
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``, initialised N(0, 1).

    The ``padding_idx`` row starts at zero and gets no gradient.  With
    ``max_norm`` every looked-up row whose ``norm_type``-norm exceeds it is
    rescaled in place to norm ``max_norm`` before the lookup, as in PyTorch.  With
    ``scale_grad_by_freq`` a row's gradient is divided by how often it was looked up.
    Gradients are always dense (``sparse`` is accepted and ignored).
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, device=None, dtype=None):
        check_device("nn.Embedding", device)
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type, self.scale_grad_by_freq, self.sparse = max_norm, norm_type, scale_grad_by_freq, sparse
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError(f"Padding_idx must be within num_embeddings (Embedding: padding_idx "
                                     f"{padding_idx}, num_embeddings {num_embeddings})")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = _empty(num_embeddings, embedding_dim, dtype=dtype)
            init.normal_(self.weight)
            if padding_idx is not None:
                self.weight._data[padding_idx] = 0
        else:
            w = np.asarray(_weight)
            if w.shape != (num_embeddings, embedding_dim):
                raise AssertionError(f"Embedding: shape of _weight {w.shape} does not match "
                                     f"num_embeddings and embedding_dim ({num_embeddings}, {embedding_dim})")
            self.weight = Parameter(w, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False):
        """An Embedding holding (a copy of) the 2-D ``embeddings``; frozen (no grad) by default."""
        w = np.asarray(embeddings.detach() if hasattr(embeddings, "detach") else embeddings)
        if w.ndim != 2:
            raise AssertionError(f"Embeddings parameter is expected to be 2-dimensional "
                                 f"(Embedding.from_pretrained got shape {w.shape})")
        return cls(w.shape[0], w.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=w, _freeze=freeze)

    def forward(self, input):
        """The rows of the table at the integer indices ``input``; shape input.shape + (embedding_dim,)."""
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse:
            s += ", sparse=True"
        return s


class Dropout(Module):
    """Zero elements with probability ``p`` in training mode; identity in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        """Drop and rescale by 1/(1-p) in training mode; return ``input`` unchanged in eval mode."""
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"p={self.p}, inplace={self.inplace}"


class _Activation(Module):
    fn = None

    def forward(self, input):
        """Apply the activation elementwise."""
        return type(self).fn(input)


class _InplaceActivation(_Activation):
    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        """Apply the activation elementwise (into ``input`` itself when ``inplace``)."""
        return type(self).fn(input, inplace=self.inplace)

    def extra_repr(self):
        """'inplace=True' when it was asked for."""
        return "inplace=True" if self.inplace else ""


class Tanh(_Activation):
    """Elementwise tanh."""
    fn = staticmethod(F.tanh)


class ReLU(_InplaceActivation):
    """Elementwise max(x, 0)."""
    fn = staticmethod(F.relu)


class Sigmoid(_Activation):
    """Elementwise logistic function."""
    fn = staticmethod(F.sigmoid)


class SiLU(_InplaceActivation):
    """Elementwise x * sigmoid(x)."""
    fn = staticmethod(F.silu)


class LeakyReLU(Module):
    """x where x > 0, else negative_slope * x."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        """Apply leaky ReLU elementwise."""
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class _AlphaActivation(Module):
    fn = None

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        """Apply the activation elementwise (into ``input`` itself when ``inplace``)."""
        return type(self).fn(input, self.alpha, self.inplace)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class ELU(_AlphaActivation):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    fn = staticmethod(F.elu)


class CELU(_AlphaActivation):
    """x where x > 0, else alpha * (exp(x / alpha) - 1)."""
    fn = staticmethod(F.celu)


class SELU(_InplaceActivation):
    """scale * (x where x > 0, else alpha * (exp(x) - 1)) with PyTorch's fixed alpha and scale."""
    fn = staticmethod(F.selu)


class Mish(_InplaceActivation):
    """Elementwise x * tanh(softplus(x))."""
    fn = staticmethod(F.mish)


class Hardsigmoid(_InplaceActivation):
    """Elementwise min(max(x + 3, 0), 6) / 6."""
    fn = staticmethod(F.hardsigmoid)
    extra_repr = Module.extra_repr  # PyTorch's repr never shows inplace here


class Hardswish(_InplaceActivation):
    """Elementwise x * min(max(x + 3, 0), 6) / 6."""
    fn = staticmethod(F.hardswish)
    extra_repr = Module.extra_repr  # PyTorch's repr never shows inplace here


class LogSigmoid(_Activation):
    """Elementwise log(sigmoid(x)), stable."""
    fn = staticmethod(F.logsigmoid)


class Softsign(_Activation):
    """Elementwise x / (1 + |x|)."""
    fn = staticmethod(F.softsign)


class Tanhshrink(_Activation):
    """Elementwise x - tanh(x)."""
    fn = staticmethod(F.tanhshrink)


class Hardtanh(Module):
    """Elementwise min(max(x, min_val), max_val) (``min_value``/``max_value``: PyTorch's deprecated names)."""

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None, max_value=None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to `min_val`", FutureWarning,
                          stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to `max_val`", FutureWarning,
                          stacklevel=2)
            max_val = max_value
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace
        if self.max_val <= self.min_val:
            raise AssertionError(f"max_val ({self.max_val}) must be greater than min_val ({self.min_val})")

    def forward(self, input):
        """Apply hardtanh elementwise (into ``input`` itself when ``inplace``)."""
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")


class ReLU6(Hardtanh):
    """Elementwise min(max(x, 0), 6): Hardtanh(0, 6), as in PyTorch."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        """'inplace=True' when it was asked for."""
        return "inplace=True" if self.inplace else ""


class Threshold(Module):
    """x where x > threshold, else ``value``."""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        """Apply the threshold elementwise (into ``input`` itself when ``inplace``)."""
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")


class PReLU(Module):
    """x where x > 0, else a * x, with a learnable slope ``weight`` (one, or one per channel), all ``init``."""

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        check_device("nn.PReLU", device)
        super().__init__()
        self.num_parameters, self.init = num_parameters, init
        self.weight = _empty(num_parameters, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self):
        """Set every slope back to ``init``."""
        init.constant_(self.weight, self.init)

    def forward(self, input):
        """``F.prelu(input, weight)``."""
        return F.prelu(input, self.weight)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"num_parameters={self.num_parameters}"


class CosineSimilarity(Module):
    """Module form of ``F.cosine_similarity`` along ``dim``."""

    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        """Cosine similarity of ``x1`` and ``x2`` along ``dim``."""
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """Module form of ``F.pairwise_distance`` (the order ``p`` is kept as ``norm``, as in PyTorch)."""

    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        """The ``p``-norm of x1 - x2 + eps along the last dim."""
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class Bilinear(Module):
    """y = x1^T W x2 + b, W of shape (out_features, in1_features, in2_features); W and b U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        check_device("nn.Bilinear", device)
        super().__init__()
        self.in1_features, self.in2_features, self.out_features = in1_features, in2_features, out_features
        self.weight = _empty(out_features, in1_features, in2_features, dtype=dtype)
        if bias:
            self.bias = _empty(out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """Redraw weight and bias from U(-1/sqrt(in1_features), 1/sqrt(in1_features))."""
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        """``F.bilinear(input1, input2, weight, bias)``: (*, in1), (*, in2) -> (*, out)."""
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Softplus(Module):
    """log(1 + exp(beta x)) / beta (linear above ``threshold``)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        """Apply softplus elementwise."""
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"beta={self.beta}, threshold={self.threshold}"


class GELU(Module):
    """x * Phi(x) (exact, or PyTorch's tanh approximation with approximate='tanh')."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        """Apply GELU elementwise."""
        return F.gelu(input, self.approximate)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"approximate={self.approximate!r}"


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` (by default all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        """``input.flatten(start_dim, end_dim)``."""
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (a tuple or list of ints, one may be -1)."""

    def __init__(self, dim, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for i, n in enumerate(unflattened_size):
            if not isinstance(n, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element of type "
                                f"{type(n).__name__} at pos {i}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, input):
        """``input.unflatten(dim, unflattened_size)``."""
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class GLU(Module):
    """Module form of ``F.glu``: the first half along ``dim`` gated by the sigmoid of the second."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """``F.glu(input, dim)``."""
        return F.glu(input, self.dim)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"dim={self.dim}"


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` dims, with a learned scale and shift."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, device=None, dtype=None):
        check_device("nn.LayerNorm", device)
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        dtype = as_dtype(dtype) or default_float()
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, dtype))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = Parameter(np.zeros(shape, dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, input):
        """Normalise over the trailing dims to zero mean and unit variance, then scale and shift."""
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class Identity(_Activation):
    """Returns its input."""

    def __init__(self, *args, **kwargs):  # PyTorch's Identity takes and ignores any arguments
        super().__init__()

    def forward(self, input):
        """Return ``input`` itself."""
        return input


class _AlongDim(Module):
    fn = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """The function of ``input`` along ``dim``."""
        return type(self).fn(input, self.dim)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """Softmax along ``dim`` (None: PyTorch's implicit choice, with its warning)."""
    fn = staticmethod(F.softmax)


class LogSoftmax(_AlongDim):
    """Log-softmax along ``dim``."""
    fn = staticmethod(F.log_softmax)


class Softmin(_AlongDim):
    """Softmax of -x along ``dim``."""
    fn = staticmethod(F.softmin)


def _index(n, i):
    """``i`` as a position in 0..n-1, with PyTorch's IndexError text."""
    i = operator.index(i)
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range")
    return i % n


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: numbered children, indexing, len, iteration."""

    def append(self, m):
        """Add ``m`` at the end, named by its position."""
        self.add_module(str(len(self._modules)), m)
        return self

    def extend(self, modules):
        """Append each of ``modules``."""
        if not isinstance(modules, Iterable):
            raise TypeError(f"{type(self).__name__}.extend should be called with an iterable, "
                            f"but got {type(modules).__name__}")
        for m in list(modules):
            self.append(m)
        return self

    def insert(self, index, module):
        """Put ``module`` at position ``index``, shifting the later ones (children are renumbered)."""
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        mods = list(self._modules.values())
        mods.insert(index + n if index < 0 else index, module)
        self._renumber(mods)

    def pop(self, key):
        """Remove and return the module(s) at ``key``."""
        v = self[key]
        del self[key]
        return v

    def _renumber(self, mods):
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return self._from_items(list(self._modules.items())[i])
        return list(self._modules.values())[_index(len(self), i)]

    def __setitem__(self, i, m):
        setattr(self, list(self._modules)[_index(len(self), i)], m)

    def __delitem__(self, i):
        """Delete by index or slice; the rest are renumbered 0, 1, ..."""
        keys = list(self._modules)
        for k in (keys[i] if isinstance(i, slice) else [keys[_index(len(keys), i)]]):
            del self._modules[k]
        self._renumber(list(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]


class Sequential(_ModuleSequence):
    """Modules applied one after the other; named '0', '1', ... (or by an OrderedDict)."""

    def __init__(self, *modules):
        super().__init__()
        items = modules[0].items() if len(modules) == 1 and isinstance(modules[0], OrderedDict) \
            else ((str(i), m) for i, m in enumerate(modules))
        for name, m in items:
            self.add_module(name, m)

    @classmethod
    def _from_items(cls, items):
        return cls(OrderedDict(items))  # keeps the names

    def insert(self, index, module):
        """Put ``module`` at position ``index``; returns self."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        super().insert(index, module)
        return self

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        return Sequential(*self, *other)

    def __iadd__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        return self.extend(other)

    def __mul__(self, other):
        if not isinstance(other, int):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(other)}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self)}")
        return Sequential(*(list(self) * other))

    __rmul__ = __mul__

    def __imul__(self, other):
        repeated = self * other
        return self.extend(list(repeated)[len(self):])

    def forward(self, input):
        """Run the modules in order, each on the previous one's output."""
        for m in self._modules.values():
            input = m(input)
        return input


class ModuleList(_ModuleSequence):
    """A list of modules, registered as '0', '1', ..."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    @classmethod
    def _from_items(cls, items):
        return cls(m for _, m in items)  # renumbered from 0

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))

    def __repr__(self):
        """As PyTorch: runs of equal consecutive reprs collapse to '(i-j): n x repr'."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return "ModuleList()"
        runs = []  # [first, last, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [(f"({a}): " if a == b else f"({a}-{b}): {b - a + 1} x ") + r.replace("\n", "\n  ")
                 for a, b, r in runs]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules, registered under their keys (in insertion order)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def update(self, modules):
        """Add the (name, module) pairs of a dict or iterable."""
        if not isinstance(modules, Iterable):
            raise TypeError(f"ModuleDict.update should be called with an iterable of key/value pairs, "
                            f"but got {type(modules).__name__}")
        if isinstance(modules, (Mapping, ModuleDict)):
            pairs = list(modules.items())
        else:
            pairs = []
            for j, m in enumerate(modules):
                if not isinstance(m, Iterable):
                    raise TypeError(f"ModuleDict update sequence element #{j} should be Iterable; "
                                    f"is{type(m).__name__}")
                if len(m) != 2:
                    raise ValueError(f"ModuleDict update sequence element #{j} has length {len(m)}; 2 is required")
                pairs.append((m[0], m[1]))
        for name, m in pairs:
            self.add_module(name, m)

    def pop(self, key):
        """Remove and return the module under ``key``."""
        v = self[key]
        del self[key]
        return v

    def clear(self):
        """Remove every module."""
        self._modules.clear()

    def __getitem__(self, name): return self._modules[name]
    def __setitem__(self, name, m): self.add_module(name, m)
    def __delitem__(self, name): del self._modules[name]
    def __len__(self): return len(self._modules)
    def __iter__(self): return iter(self._modules)
    def __contains__(self, name): return name in self._modules
    def keys(self):
        """The module names."""
        return self._modules.keys()

    def values(self):
        """The modules."""
        return self._modules.values()

    def items(self):
        """(name, module) pairs."""
        return self._modules.items()


def _as_parameter(value):
    """A Tensor that is not yet a Parameter becomes one sharing its memory (as torch's containers do)."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        p = Parameter()
        p._data = value._data
        return p.requires_grad_(True)
    return value


def _param_line(key, p, type_name):
    """One line of ParameterList/ParameterDict's repr, as torch writes it."""
    if not isinstance(p, Tensor):
        return f"  ({key}): Object of type: {type(p).__name__}"
    kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
    return f"  ({key}): {kind} containing: [{type_name(p)} of size {'x'.join(str(n) for n in p.shape)}]"


class ParameterList(Module):
    """A list of parameters, registered as '0', '1', ... (tensors are made Parameters; other objects are kept
    as plain attributes)."""

    def __init__(self, values=None):
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index(len(self), idx)))

    def __setitem__(self, idx, param):
        setattr(self, str(_index(len(self), idx)), _as_parameter(param))

    def __len__(self):
        return self._size

    def __iter__(self):
        return iter(self[i] for i in range(len(self)))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, value):
        """Add ``value`` at the end; returns self."""
        object.__setattr__(self, "_size", self._size + 1)
        self[self._size - 1] = value
        return self

    def extend(self, values):
        """Append each of ``values``; returns self."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{type(values).__name__}")
        for v in list(values):
            self.append(v)
        return self

    def extra_repr(self):
        """One line per entry: 'Parameter containing: [tinybptt.float32 of size 2x3]'."""
        return "\n".join(_param_line(i, p, lambda t: f"tinybptt.{t.dtype}") for i, p in enumerate(self))


_TENSOR_TYPE = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
                "int64": "LongTensor", "int32": "IntTensor", "bool": "BoolTensor"}


class ParameterDict(Module):
    """A dict of parameters, registered under their string keys (tensors are made Parameters)."""

    def __init__(self, parameters=None):
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    @staticmethod
    def _attr(key):
        if not isinstance(key, str):
            raise TypeError(f"Index given to ParameterDict cannot be used as a key as it is not a string (type is "
                            f"'{type(key).__name__}'). Open an issue on github if you need non-string keys.")
        return key

    def __getitem__(self, key):
        return getattr(self, self._attr(key))  # a missing key raises AttributeError, as torch's

    def __setitem__(self, key, value):
        attr = self._attr(key)
        setattr(self, attr, _as_parameter(value))
        self._keys[key] = None

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, self._attr(key))

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        """The keys, in insertion order."""
        return self._keys.keys()

    def values(self):
        """The parameters, in key order."""
        return [self[k] for k in self._keys]

    def items(self):
        """(key, parameter) pairs, in key order."""
        return [(k, self[k]) for k in self._keys]

    def get(self, key, default=None):
        """The parameter under ``key``, or ``default``."""
        return self[key] if key in self else default

    def setdefault(self, key, default=None):
        """The parameter under ``key``, set to ``default`` first when missing."""
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key):
        """Remove and return the parameter under ``key``."""
        v = self[key]
        del self[key]
        return v

    def clear(self):
        """Remove every parameter."""
        for k in list(self._keys):
            del self[k]

    def update(self, parameters):
        """Add the (key, parameter) pairs of a mapping (a plain dict in sorted key order, as torch) or of an
        iterable of pairs."""
        if not isinstance(parameters, Iterable):
            raise TypeError(f"ParametersDict.update should be called with an iterable of key/value pairs, but got "
                            f"{type(parameters).__name__}")
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = []
            for j, p in enumerate(parameters):
                if not isinstance(p, Iterable):
                    raise TypeError(f"ParameterDict update sequence element #{j} should be Iterable; "
                                    f"is{type(p).__name__}")
                if len(p) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{j} has length {len(p)}; 2 is required")
                pairs.append((p[0], p[1]))
        for k, v in pairs:
            self[k] = v

    def extra_repr(self):
        """One line per entry: 'Parameter containing: [tinybptt.FloatTensor of size 2]'."""
        return "\n".join(_param_line(k, p, lambda t: f"tinybptt.{_TENSOR_TYPE.get(t.dtype.name, t.dtype.name)}")
                         for k, p in self.items())


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def _weight_buffer(self, name, value):
        """Register ``value`` (None, a Tensor, or array-like, made a Tensor) as a buffer."""
        self.register_buffer(name, value if value is None or isinstance(value, Tensor) else Tensor(_infer_array(value)))


class CrossEntropyLoss(_Loss):
    """Module form of ``F.cross_entropy``."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        self._weight_buffer("weight", weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        """Cross-entropy of logits ``input`` against class indices or probabilities ``target``."""
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Module form of ``F.nll_loss``."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        super().__init__(F._legacy_reduction(size_average, reduce, reduction))
        self._weight_buffer("weight", weight)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``."""
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction)


class MSELoss(_Loss):
    """Module form of ``F.mse_loss``."""

    def forward(self, input, target):
        """Squared error between ``input`` and ``target``, reduced by ``reduction``."""
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Module form of ``F.l1_loss``."""

    def forward(self, input, target):
        """Absolute error between ``input`` and ``target``, reduced by ``reduction``."""
        return F.l1_loss(input, target, self.reduction)


class SmoothL1Loss(_Loss):
    """Module form of ``F.smooth_l1_loss``."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input, target):
        """Smooth L1 error (quadratic below ``beta``), reduced by ``reduction``."""
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """Module form of ``F.huber_loss``."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input, target):
        """Huber error (quadratic below ``delta``), reduced by ``reduction``."""
        return F.huber_loss(input, target, self.reduction, self.delta)


class KLDivLoss(_Loss):
    """Module form of ``F.kl_div``."""

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction)
        self.log_target = log_target

    def forward(self, input, target):
        """KL(target || input) with ``input`` as log-probabilities (``target`` too when ``log_target``)."""
        return F.kl_div(input, target, self.reduction, self.log_target)


class BCELoss(_Loss):
    """Module form of ``F.binary_cross_entropy`` (on probabilities)."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self._weight_buffer("weight", weight)

    def forward(self, input, target):
        """Binary cross-entropy of probabilities ``input`` against ``target`` in [0, 1]."""
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Module form of ``F.binary_cross_entropy_with_logits``."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self._weight_buffer("weight", weight)
        self._weight_buffer("pos_weight", pos_weight)

    def forward(self, input, target):
        """Binary cross-entropy of logits ``input`` against ``target``, computed stably."""
        return F.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)
