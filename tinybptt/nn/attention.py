"""Attention: scaled dot-product (one fused record), multi-head, additive (Bahdanau) and dot (Luong).

Attention is the shortcut of sequence models: a decoder step reads every
encoder step directly, so the gradient reaches a distant input in one hop
instead of walking back through T recurrent steps.  Every attention call runs
in ``scope("attn")``, so the graph renderer draws those direct edges.

Mask conventions follow PyTorch, which uses two opposite ones:

- ``scaled_dot_product_attention``: a boolean ``attn_mask`` is True where a query MAY attend;
- ``MultiheadAttention``: a boolean ``attn_mask`` / ``key_padding_mask`` is True where a key is
  MASKED OUT; ``AdditiveAttention`` and ``DotAttention`` take a padding ``mask`` with the same
  meaning (True marks padding).

A float mask is always added to the scores (-inf masks out).  A query whose
every key is masked gets a zero output from ``scaled_dot_product_attention``, and
from ``MultiheadAttention`` NaN where PyTorch 2.13 gives NaN (need_weights=True, or its
fast path in eval mode), else zeros.
"""
import math
import warnings

import numpy as np

from .. import ops
from ..autograd import Function, is_grad_enabled, scope
from ..random import rng
from ..devices import check_device
from ..tensor import Tensor, _infer_array, as_dtype, default_float
from . import functional as F
from . import init
from .layers import Linear
from .module import Module, Parameter
from .rnn import Unbind


class AttentionShapeError(RuntimeError, ValueError, AssertionError):
    """Bad shapes or dims given to an attention function or module.

    Catchable as RuntimeError or ValueError, and as AssertionError, which is
    what PyTorch raises at several of the same checks.
    """


# ---------------------------------------------------------------- the fused primitive
class ScaledDotProductAttention(Function):
    """out = dropout(softmax(scale * q k^T + bias)) v as one record on the tape.

    q (..., L, E), k (..., S, E), v (..., S, Ev) with equal leading dims; ``bias``
    broadcasts to (..., L, S) (-inf masks out); ``keep`` is the dropout mask,
    already scaled by 1/(1-p), or None.  With ``weights=True`` the (dropped-out)
    attention weights are a second output.  A fully masked query row gives zeros, or NaN
    with ``weights=True`` or ``nan_rows=True``.  Softmax runs in the numba kernels.
    """

    def forward(self, q, k, v, bias, scale, keep=None, weights=False, nan_rows=False):
        self.qs, self.k, self.v, self.scale, self.keep = q * q.dtype.type(scale), k, v, scale, keep
        s = np.matmul(self.qs, np.swapaxes(k, -1, -2))  # (..., L, S), C-contiguous
        if bias is not None:
            s += bias
        if s.size:
            rows = s.reshape(-1, s.shape[-1])
            # in place; a fully masked row gives zeros, as torch's SDPA, or NaN when the weights are
            # asked for, as torch's MultiheadAttention(need_weights=True) and its explicit softmax
            ops.kernels().softmax_forward(rows, rows, False, not (weights or nan_rows))
        self.p = s
        pd = s if keep is None else s * keep
        out = np.matmul(pd, v)
        return (out, pd) if weights else out

    def backward(self, g, gw=None):
        p, keep = self.p, self.keep
        pd = p if keep is None else p * keep
        dv = np.matmul(np.swapaxes(pd, -1, -2), g)
        dp = np.matmul(g, np.swapaxes(self.v, -1, -2))
        if gw is not None:
            dp += gw
        if keep is not None:
            dp *= keep
        if dp.size:  # dS = P * (dP - rowsum(dP * P)), in place
            rows = dp.reshape(-1, dp.shape[-1])
            ops.kernels().softmax_backward(rows, p.reshape(rows.shape), rows, False)
        dq = np.matmul(dp, self.k)
        dq *= dq.dtype.type(self.scale)
        dk = np.matmul(np.swapaxes(dp, -1, -2), self.qs)
        return dq, dk, dv, dp  # dp is also d(loss)/d(bias)


def _tensor(x, name, where):
    if isinstance(x, Tensor):
        return x
    if x is None:
        raise AttentionShapeError(f"{where}: {name} is required")
    return Tensor(_infer_array(x))


def _keep_mask(shape, p, dtype):
    """Dropout mask for the attention weights: 0 with probability p, else 1/(1-p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0.0:
        return None
    if p == 1.0:
        return np.zeros(shape, dtype)
    return (rng().random(shape) >= p).astype(dtype) / dtype.type(1.0 - p)


def _causal_bias(L, S, dtype):
    """(L, S) additive mask: 0 where key j <= query i (top-left aligned), -inf above the diagonal."""
    return np.triu(np.full((L, S), -np.inf, dtype), 1)


def attention(q, k, v, bias=None, scale=None, dropout_p=0.0, need_weights=False, nan_rows=False):
    """The fused attention core on already-shaped q, k, v (leading dims broadcast).

    ``bias`` is an additive mask (array, or a Tensor that may require grad)
    broadcastable to (..., L, S).  Returns ``out`` or ``(out, weights)``.
    A fully masked query row gives zeros, or NaN with ``need_weights`` or ``nan_rows``.
    """
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    q, k, v = (x if x.shape[:-2] == batch else x.expand(*batch, *x.shape[-2:]) for x in (q, k, v))
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    keep = _keep_mask(batch + (q.shape[-2], k.shape[-2]), dropout_p, q.dtype)
    return ScaledDotProductAttention.apply(q, k, v, bias, scale=scale, keep=keep, weights=need_weights,
                                           nan_rows=nan_rows)


# ---------------------------------------------------------------- functional form
def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(query key^T * scale + mask) value, as ``torch.nn.functional.scaled_dot_product_attention``.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); leading
    dims broadcast.  ``attn_mask``: boolean, True where a query MAY attend (PyTorch's
    SDPA convention), or float, added to the scores; it broadcasts to (..., L, S).
    ``is_causal``: query i sees keys j <= i.  Together with ``attn_mask`` both apply where PyTorch
    2.13 on CPU allows it (see ``_mask_with_causal_allowed``), else it raises.  ``scale`` defaults to 1/sqrt(E).
    ``dropout_p`` drops attention weights whenever > 0 (as PyTorch: pass 0.0 in eval).
    ``enable_gqa``: key/value may have fewer heads (dim -3) than query, each shared by a group.
    A fully masked query row gives zeros (and zero gradients), as PyTorch 2.13's.
    """
    where = "scaled_dot_product_attention"
    with scope("attn"):
        q, k, v = (_tensor(x, n, where) for x, n in ((query, "query"), (key, "key"), (value, "value")))
        if min(q.ndim, k.ndim, v.ndim) < 2:
            raise AttentionShapeError(f"{where}: query, key and value need at least 2 dims (..., seq, embed), "
                                      f"got shapes {q.shape}, {k.shape}, {v.shape}")
        if not (q.dtype == k.dtype == v.dtype) or q.dtype.kind != "f":
            raise AttentionShapeError(f"{where}: expected query, key and value to have the same float dtype, "
                                      f"got {q.dtype}, {k.dtype} and {v.dtype}")
        if q.shape[-1] != k.shape[-1]:
            raise AttentionShapeError(f"{where}: query and key must have the same embedding size, got "
                                      f"query {q.shape} and key {k.shape}")
        if k.shape[-2] != v.shape[-2]:
            raise AttentionShapeError(f"{where}: key and value must have the same sequence length, got "
                                      f"key {k.shape} and value {v.shape}")
        if is_causal and attn_mask is not None and not _mask_with_causal_allowed(q, k, v, attn_mask, dropout_p,
                                                                                 enable_gqa):
            m_shape = (attn_mask if isinstance(attn_mask, Tensor) else _infer_array(attn_mask)).shape
            raise AttentionShapeError(
                f"{where}: Explicit attn_mask should not be set when is_causal=True (PyTorch allows both only for "
                f"4-D query/key/value of equal batch, heads and last dim, without dropout, with a 2-D or 4-D mask "
                f"that needs no grad); got query {q.shape}, key {k.shape}, value {v.shape}, attn_mask {m_shape}, "
                f"dropout_p={dropout_p}")
        if enable_gqa and min(q.ndim, k.ndim, v.ndim) >= 3:
            k, v = (_repeat_heads(q, x, where) if x.shape[-3] != q.shape[-3] else x for x in (k, v))
        try:
            batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        except ValueError:
            raise AttentionShapeError(f"{where}: the batch dims of query {q.shape}, key {k.shape} and value "
                                      f"{v.shape} do not broadcast") from None
        L, S = q.shape[-2], k.shape[-2]
        bias = None
        if is_causal:
            bias = _causal_bias(L, S, q.dtype)
            if attn_mask is not None:
                bias = _sdpa_bias(attn_mask, batch + (L, S), q.dtype, where) + bias
        elif attn_mask is not None:
            bias = _sdpa_bias(attn_mask, batch + (L, S), q.dtype, where)
        return attention(q, k, v, bias, scale, dropout_p)


def _mask_with_causal_allowed(q, k, v, mask, dropout_p, enable_gqa):
    """Whether PyTorch 2.13 on CPU accepts attn_mask with is_causal=True: only its flash kernel
    applies both, and it runs for 4-D inputs with one batch size, one head count (or valid GQA
    groups) and one last dim, no dropout, nonempty sequences, and a mask that needs no grad of
    shape (L|1, S|1) or (N|1, H|1, L|1, S|1).  Everywhere else PyTorch raises."""
    if not q.ndim == k.ndim == v.ndim == 4 or dropout_p > 0:
        return False
    (n, h, L, e), (nk, hk, S, ek), (nv, hv, _, ev) = q.shape, k.shape, v.shape
    if not (n == nk == nv and e == ek == ev and L > 0 and S > 0):
        return False
    heads_ok = hk == hv and hk > 0 and h % hk == 0 if enable_gqa else h == hk == hv
    if not heads_ok:
        return False
    if isinstance(mask, Tensor) and mask.requires_grad:
        return False
    m = (mask if isinstance(mask, Tensor) else _infer_array(mask)).shape
    if len(m) not in (2, 4) or m[-2] not in (L, 1) or m[-1] not in (S, 1):
        return False
    return len(m) == 2 or (m[0] in (n, 1) and m[1] in (h, 1))


def _repeat_heads(q, kv, where):
    """Grouped-query attention: repeat each of kv's Hkv heads Hq/Hkv times along dim -3."""
    hq, hkv = q.shape[-3], kv.shape[-3]
    if hkv == 0 or hq % hkv:
        raise AttentionShapeError(f"{where}: with enable_gqa the number of query heads ({hq}) must be a "
                                  f"multiple of the key/value heads ({hkv})")
    lead, tail = kv.shape[:-3], kv.shape[-2:]
    grouped = kv.reshape(*lead, hkv, 1, *tail).expand(*lead, hkv, hq // hkv, *tail)
    return grouped.reshape(*lead, hq, *tail)


def _sdpa_bias(mask, shape, dtype, where):
    """SDPA's mask as an additive bias: bool True = may attend -> 0, False -> -inf; float as is."""
    m = mask._data if isinstance(mask, Tensor) else _infer_array(mask)
    if m.dtype != np.bool_ and m.dtype not in (np.float32, dtype):
        raise AttentionShapeError(f"{where}: Expected attn_mask dtype to be bool or float or to match query dtype, "
                                  f"but got attn_mask.dtype: {m.dtype} and query.dtype: {dtype}")
    if m.ndim > len(shape) or not all(a in (1, b) for a, b in zip(m.shape[::-1], shape[::-1])):
        raise AttentionShapeError(f"{where}: attn_mask of shape {m.shape} does not broadcast to the "
                                  f"attention weights' shape {shape} (..., L, S)")
    if m.dtype == np.bool_:
        return np.where(m, dtype.type(0), dtype.type(-np.inf))
    if isinstance(mask, Tensor) and mask.requires_grad:
        return mask if mask.dtype == dtype else mask.to(dtype)  # a learnable bias gets its gradient
    return m.astype(dtype, copy=False)


# ---------------------------------------------------------------- masks of MultiheadAttention
def _mha_bias(mask, name, dtype):
    """MultiheadAttention's mask as an additive float array: bool True = masked out -> -inf.

    A float Tensor that requires grad stays a Tensor, so that it gets its gradient (as in PyTorch).
    """
    m = mask._data if isinstance(mask, Tensor) else _infer_array(mask)
    if m.dtype == np.bool_:
        return np.where(m, dtype.type(-np.inf), dtype.type(0))
    if m.dtype.kind != "f":
        raise AttentionShapeError(f"MultiheadAttention: only bool and floating types of {name} are supported, "
                                  f"got dtype {m.dtype}")
    if isinstance(mask, Tensor) and mask.requires_grad:
        return mask if mask.dtype == dtype else mask.to(dtype)
    return m.astype(dtype, copy=False)


def _check_mask_dtypes(attn_mask, key_padding_mask, dtype, need_weights):
    """PyTorch's dtype rules for MultiheadAttention's masks: a warning when the two masks' dtypes differ;
    the merged float mask (bool counts as the query's dtype) must have the query's dtype with
    need_weights=True, else the query's dtype or float32 (as scaled_dot_product_attention)."""
    where = "MultiheadAttention"
    dtypes = [(m._data if isinstance(m, Tensor) else _infer_array(m)).dtype
              for m in (attn_mask, key_padding_mask) if m is not None]
    if not dtypes:
        return
    if len(dtypes) == 2 and dtypes[0] != dtypes[1]:
        warnings.warn("Support for mismatched key_padding_mask and attn_mask is deprecated. Use same type for "
                      "both instead.", UserWarning, stacklevel=5)
    merged = np.result_type(*(dtype if d == np.bool_ else d for d in dtypes))
    if need_weights and merged != dtype:
        raise AttentionShapeError(f"{where}: the float masks (merged dtype {merged}) must have the query's dtype "
                                  f"{dtype} with need_weights=True (Input dtypes must be the same)")
    if merged not in (np.float32, dtype):
        raise AttentionShapeError(f"{where}: Expected attn_mask dtype to be bool or float or to match query dtype, "
                                  f"but got attn_mask.dtype: {merged} and query.dtype: {dtype}")


def _add(a, b):
    """a + b for arrays or Tensors (a Tensor operand keeps the result on the tape)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return (a if isinstance(a, Tensor) else Tensor(a)) + b
    return a + b


def _pad_key(mask):
    """Append one never-masked key column (for bias_k / the zero-attention key)."""
    if mask is None:
        return None
    zeros = np.zeros(mask.shape[:-1] + (1,), mask.dtype)
    if isinstance(mask, Tensor):
        return ops.cat([mask, Tensor(zeros)], -1)
    return np.concatenate([mask, zeros], -1)


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters, layout and masks.

    out = concat_h(softmax(Q_h K_h^T / sqrt(d) + mask) V_h) W_o^T + b_o, with
    Q, K, V = query W_q^T + b_q, key W_k^T + b_k, value W_v^T + b_v.

    Parameters as ``torch.nn.MultiheadAttention``: ``in_proj_weight`` (3E, E) stacking
    W_q, W_k, W_v (xavier-uniform), or ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
    ``v_proj_weight`` (E, vdim) when kdim/vdim differ from E; ``in_proj_bias`` (3E,) zeros;
    ``out_proj`` a Linear with zero bias; ``bias_k``/``bias_v`` (1, 1, E) with ``add_bias_kv``.
    Inputs are (L, N, E) (or (N, L, E) with ``batch_first``, or unbatched (L, E)).
    Boolean masks are True where attention is NOT allowed (the opposite of SDPA's).

    >>> import numpy as np, tinybptt
    >>> from tinybptt.nn import MultiheadAttention
    >>> mha = MultiheadAttention(16, 4, batch_first=True)
    >>> x = tinybptt.randn(2, 5, 16)
    >>> causal = np.triu(np.ones((5, 5), bool), 1)          # True: may not look ahead
    >>> out, weights = mha(x, x, x, attn_mask=causal)       # (2, 5, 16), (2, 5, 5)
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        check_device("nn.MultiheadAttention", device)
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise AttentionShapeError(f"MultiheadAttention: embed_dim and num_heads must be greater than 0, "
                                      f"got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise AttentionShapeError(f"embed_dim must be divisible by num_heads (MultiheadAttention got "
                                      f"embed_dim={embed_dim}, num_heads={num_heads})")
        dtype = as_dtype(dtype) or default_float()
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.head_dim, self.batch_first, self.add_zero_attn = embed_dim // num_heads, batch_first, add_zero_attn

        def empty(*shape):
            return Parameter(np.zeros(shape, dtype))
        if self._qkv_same_embed_dim:
            self.in_proj_weight = empty(3 * embed_dim, embed_dim)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = empty(embed_dim, embed_dim)
            self.k_proj_weight = empty(embed_dim, self.kdim)
            self.v_proj_weight = empty(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = empty(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k, self.bias_v = empty(1, 1, embed_dim), empty(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _projections(self):
        """(W_q, W_k, W_v) and (b_q, b_k, b_v) (biases None without ``bias``)."""
        e = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:e], w[e:2 * e], w[2 * e:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        return weights, biases

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        """Attend from ``query`` to ``key``/``value``; returns (attn_output, attn_weights or None).

        query (L, N, E), key (S, N, kdim), value (S, N, vdim) (batch first with ``batch_first``;
        unbatched (L, E) too).  ``key_padding_mask`` (N, S): True (or -inf) ignores a key.
        ``attn_mask`` (L, S) or (N * num_heads, L, S): True (or -inf) forbids an attention.
        A float mask that requires grad gets its gradient.
        ``is_causal`` is a hint that ``attn_mask`` is causal (the mask is still required); as in
        PyTorch, with need_weights=False and no key_padding_mask the causal mask (key j <= query i,
        over all keys incl. bias_k and the zero key) is used in place of ``attn_mask``.
        ``attn_weights``: (N, L, S) averaged over heads, or (N, num_heads, L, S).
        Dropout (training mode) drops attention weights; returned weights are after dropout.
        A query whose every key is masked gets NaN with need_weights=True or on PyTorch's fast path
        (see ``_fast_path``), and a zero context otherwise, as in PyTorch 2.13.
        """
        with scope("attn"):
            return self._forward(query, key, value, key_padding_mask, need_weights, attn_mask,
                                 average_attn_weights, is_causal)

    def _forward(self, query, key, value, key_padding_mask, need_weights, attn_mask, average, is_causal):
        where = "MultiheadAttention"
        query, key, value = (_tensor(x, n, where) for x, n in ((query, "query"), (key, "key"), (value, "value")))
        batched = query.ndim == 3
        if query.ndim not in (2, 3):
            raise AttentionShapeError(f"{where}: query should be unbatched 2D or batched 3D tensor but received "
                                      f"{query.ndim}-D query tensor")
        if key.ndim != query.ndim or value.ndim != query.ndim:
            kind = "batched (3-D)" if batched else "unbatched (2-D)"
            raise AttentionShapeError(f"{where}: For {kind} `query`, expected `key` and `value` to be "
                                      f"{query.ndim}-D but found {key.ndim}-D and {value.ndim}-D tensors respectively")
        # torch's fast path (its native kernel) ignores the is_causal hint, and gives NaN for a fully
        # masked query even without weights
        fast = batched and self._fast_path(query, key, value, attn_mask, key_padding_mask)
        if is_causal and attn_mask is None and not fast:
            raise AttentionShapeError(f"{where}: Need attn_mask if specifying the is_causal hint (e.g. the (L, L) "
                                      f"mask np.triu(np.ones((L, L), bool), 1))")
        if key_padding_mask is not None:
            kp_ndim = np.ndim(key_padding_mask._data if isinstance(key_padding_mask, Tensor) else key_padding_mask)
            if kp_ndim != query.ndim - 1:
                kind = "batched (3-D)" if batched else "unbatched (2-D)"
                raise AttentionShapeError(f"{where}: For {kind} `query`, expected `key_padding_mask` to be `None` or "
                                          f"{query.ndim - 1}-D but found {kp_ndim}-D (query shape {query.shape})")
        batch_first = self.batch_first and batched
        if not batched:  # (L, E) -> (L, 1, E), sequence first
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = (key_padding_mask.unsqueeze(0) if isinstance(key_padding_mask, Tensor)
                                    else _infer_array(key_padding_mask)[None])
        seq_dim = 1 if batch_first else 0
        L, N, E = query.shape[seq_dim], query.shape[1 - seq_dim], query.shape[2]
        S = key.shape[seq_dim]
        if E != self.embed_dim:
            raise AttentionShapeError(f"{where}: was expecting embedding dimension of {self.embed_dim}, "
                                      f"but got {E} (query shape {tuple(query.shape)})")
        if self._qkv_same_embed_dim and key.shape != value.shape:
            raise AttentionShapeError(f"{where}: key shape {key.shape} does not match value shape {value.shape}")
        if key.shape[:2] != value.shape[:2]:
            raise AttentionShapeError(f"{where}: key's sequence and batch dims {key.shape[:2]} do not match "
                                      f"value's {value.shape[:2]}")
        if key.shape[1 - seq_dim] != N:
            raise AttentionShapeError(f"{where}: key and value have batch size {key.shape[1 - seq_dim]} but the "
                                      f"query has {N} (query {query.shape}, key {key.shape})")
        if key.shape[2] != self.kdim or value.shape[2] != self.vdim:
            raise AttentionShapeError(f"{where}: expected key features {self.kdim} and value features "
                                      f"{self.vdim}, got key {key.shape} and value {value.shape}")
        bias = self._mask_bias(attn_mask, key_padding_mask, N, L, S, query.dtype)
        # PyTorch's is_causal hint: with no key_padding_mask and need_weights=False, attn_mask is
        # dropped and SDPA's causal mask (key j <= query i, over every key incl. bias_k and the
        # zero key) is used instead
        causal_hint = is_causal and key_padding_mask is None and not need_weights and not fast
        if not causal_hint:
            _check_mask_dtypes(attn_mask, key_padding_mask, query.dtype, need_weights)

        if query is key is value and self._qkv_same_embed_dim and self.bias_k is None:
            # self-attention: one GEMM for Q, K and V, split into per-head views in one record
            qkv = F.linear(query, self.in_proj_weight, self.in_proj_bias)
            q, k, v = Unbind.apply(self._split_heads(qkv, batch_first, 3))
        else:
            (wq, wk, wv), (bq, bk, bv) = self._projections()
            q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
            if self.bias_k is not None:
                k = ops.cat([k, self.bias_k.expand(*k.shape[:seq_dim], 1, *k.shape[seq_dim + 1:])], seq_dim)
                v = ops.cat([v, self.bias_v.expand(*v.shape[:seq_dim], 1, *v.shape[seq_dim + 1:])], seq_dim)
            q, k, v = (self._split_heads(x, batch_first) for x in (q, k, v))  # (N, H, seq, D)
        if self.add_zero_attn:
            k, v = (ops.cat([x, Tensor(np.zeros(x.shape[:2] + (1, x.shape[3]), x.dtype))], 2) for x in (k, v))
        for _ in range(int(self.bias_k is not None) + int(self.add_zero_attn)):
            bias = _pad_key(bias)
        if causal_hint:
            bias = _causal_bias(L, k.shape[2], q.dtype)

        p = self.dropout if self.training else 0.0
        out = attention(q, k, v, bias, None, p, need_weights, fast)
        out, weights = out if need_weights else (out, None)
        # (N, H, L, D) -> (N, L, E) or (L, N, E)
        out = out.permute(0, 2, 1, 3) if batch_first else out.permute(2, 0, 1, 3)
        out = self.out_proj(out.reshape(out.shape[0], out.shape[1], E))
        if not batched:
            out = out.squeeze(1)
        if weights is not None:
            if average:
                weights = weights.mean(1)
            if not batched:
                weights = weights.squeeze(0)
        return out, weights

    def _fast_path(self, query, key, value, attn_mask, key_padding_mask):
        """Whether PyTorch 2.13 takes MultiheadAttention's fast path (torch._native_multi_head_attention) for
        batched inputs: batch-first self-attention (query is key is value) in eval mode, even num_heads,
        packed in_proj with biases, no bias_k / zero attention, no float mask, and no grad to record."""
        float_mask = any(m is not None and (m._data if isinstance(m, Tensor) else _infer_array(m)).dtype.kind == "f"
                         for m in (attn_mask, key_padding_mask))
        needs_grad = is_grad_enabled() and any(t is not None and t.requires_grad for t in (
            query, self.in_proj_weight, self.in_proj_bias, self.out_proj.weight, self.out_proj.bias))
        return (query is key is value and not self.training and self.batch_first
                and self.num_heads % 2 == 0 and self._qkv_same_embed_dim and self.in_proj_bias is not None
                and self.bias_k is None and not self.add_zero_attn and not float_mask and not needs_grad)

    def _split_heads(self, x, batch_first, parts=None):
        """(N, seq, E) or (seq, N, E) -> (N, H, seq, D) as a view; with ``parts``,
        (N, seq, parts * E) -> (parts, N, H, seq, D)."""
        a, b, _ = x.shape
        if parts is None:
            x = x.reshape(a, b, self.num_heads, self.head_dim)
            return x.permute(0, 2, 1, 3) if batch_first else x.permute(1, 2, 0, 3)
        x = x.reshape(a, b, parts, self.num_heads, self.head_dim)
        return x.permute(2, 0, 3, 1, 4) if batch_first else x.permute(2, 1, 3, 0, 4)

    def _mask_bias(self, attn_mask, key_padding_mask, N, L, S, dtype):
        """attn_mask and key_padding_mask merged into one additive array broadcasting to (N, H, L, S)."""
        where, H = "MultiheadAttention", self.num_heads
        bias = None
        if attn_mask is not None:
            a = _mha_bias(attn_mask, "attn_mask", dtype)
            if a.ndim == 2:
                if a.shape != (L, S):
                    raise AttentionShapeError(f"{where}: The shape of the 2D attn_mask is {a.shape}, "
                                              f"but should be {(L, S)}")
            elif a.ndim == 3:
                if a.shape != (N * H, L, S):
                    raise AttentionShapeError(f"{where}: The shape of the 3D attn_mask is {a.shape}, "
                                              f"but should be {(N * H, L, S)} (batch * num_heads, L, S)")
                a = a.reshape(N, H, L, S)
            else:
                raise AttentionShapeError(f"{where}: attn_mask's dimension {a.ndim} is not supported "
                                          f"(use (L, S) or (N * num_heads, L, S))")
            bias = a
        if key_padding_mask is not None:
            kp = _mha_bias(key_padding_mask, "key_padding_mask", dtype)
            if kp.shape != (N, S):
                raise AttentionShapeError(f"{where}: expecting key_padding_mask shape of {(N, S)}, "
                                          f"but got {kp.shape}")
            kp = kp.reshape(N, 1, 1, S)
            bias = kp if bias is None else _add(bias, kp)
        return bias


class _GivenWeights:
    """MultiheadAttention's forward run on weights passed in rather than on a module's parameters
    (``multi_head_attention_forward``); like PyTorch's functional form it never takes the fast path."""
    _forward = MultiheadAttention._forward
    _projections = MultiheadAttention._projections
    _split_heads = MultiheadAttention._split_heads
    _mask_bias = MultiheadAttention._mask_bias

    def _fast_path(self, *args):
        return False


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """``torch.nn.functional.multi_head_attention_forward``: MultiheadAttention with its weights as arguments.

    query (L, N, E) or unbatched (L, E) (sequence first), key (S, N, kdim), value (S, N, vdim); masks,
    ``need_weights``, ``average_attn_weights`` and ``is_causal`` as in ``MultiheadAttention.forward``;
    dropout ``dropout_p`` only when ``training``.  Returns (attn_output, attn_weights or None).
    ``static_k`` / ``static_v`` (precomputed projected keys/values) are not supported.
    """
    where = "multi_head_attention_forward"
    if static_k is not None or static_v is not None:
        raise NotImplementedError(f"{where}: static_k / static_v are not supported in tinybptt")
    if embed_dim_to_check % num_heads:
        raise AttentionShapeError(f"{where}: embed_dim {embed_dim_to_check} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight and any(w is None for w in (q_proj_weight, k_proj_weight, v_proj_weight)):
        raise AttentionShapeError(f"{where}: use_separate_proj_weight is True but q_proj_weight, k_proj_weight "
                                  f"or v_proj_weight is None")
    if not use_separate_proj_weight and in_proj_weight is None:
        raise AttentionShapeError(f"{where}: use_separate_proj_weight is False but in_proj_weight is None")
    m = _GivenWeights()
    m.embed_dim, m.num_heads, m.head_dim = embed_dim_to_check, num_heads, embed_dim_to_check // num_heads
    m._qkv_same_embed_dim = not use_separate_proj_weight
    m.in_proj_weight, m.in_proj_bias = (None if use_separate_proj_weight else in_proj_weight), in_proj_bias
    m.q_proj_weight, m.k_proj_weight, m.v_proj_weight = q_proj_weight, k_proj_weight, v_proj_weight
    m.kdim = k_proj_weight.shape[1] if use_separate_proj_weight else embed_dim_to_check
    m.vdim = v_proj_weight.shape[1] if use_separate_proj_weight else embed_dim_to_check
    m.bias_k, m.bias_v, m.add_zero_attn = bias_k, bias_v, add_zero_attn
    m.dropout, m.training, m.batch_first = dropout_p, training, False
    m.out_proj = lambda x: F.linear(x, out_proj_weight, out_proj_bias)
    with scope("attn"):
        return m._forward(query, key, value, key_padding_mask, need_weights, attn_mask, average_attn_weights,
                          is_causal)


# ---------------------------------------------------------------- additive and dot attention
def _prepare(query, keys, mask, where, qdim, kdim):
    """Check shapes; make query 3-D (N, L, Dq) and keys (N, S, Dk); returns how to undo it."""
    query, keys = _tensor(query, "query", where), _tensor(keys, "keys", where)
    if keys.ndim not in (2, 3) or query.ndim not in (keys.ndim - 1, keys.ndim):
        raise AttentionShapeError(f"{where}: expected keys (N, S, Dk) with query (N, Dq) or (N, L, Dq) "
                                  f"(or unbatched keys (S, Dk) with query (Dq,) or (L, Dq)), got query "
                                  f"{query.shape} and keys {keys.shape}")
    if qdim is not None and query.shape[-1] != qdim or kdim is not None and keys.shape[-1] != kdim:
        raise AttentionShapeError(f"{where}: expected query with {qdim} features and keys with {kdim}, got "
                                  f"query {query.shape} and keys {keys.shape}")
    single = query.ndim == keys.ndim - 1  # one query per batch element
    unbatched = keys.ndim == 2
    if unbatched:
        query, keys = query.unsqueeze(0), keys.unsqueeze(0)
    if single:
        query = query.unsqueeze(1)
    if query.shape[0] != keys.shape[0]:
        raise AttentionShapeError(f"{where}: query and keys have different batch sizes "
                                  f"({query.shape[0]} and {keys.shape[0]})")
    n, length, s = query.shape[0], query.shape[1], keys.shape[1]
    bias = None
    if mask is not None:
        m = _infer_array(mask)
        if m.dtype != np.bool_:
            raise AttentionShapeError(f"{where}: mask must be boolean (True = padding, ignored), got dtype {m.dtype}")
        m = m[None] if unbatched else m
        m = m[:, None, :] if m.ndim == 2 else m
        if m.shape not in ((n, 1, s), (n, length, s)):
            raise AttentionShapeError(f"{where}: mask of shape {_infer_array(mask).shape} does not fit query "
                                      f"{tuple(query.shape)} and keys {tuple(keys.shape)} (batched as (N, L, .)"
                                      f" and (N, S, .)): expected (N, S) = {(n, s)} or (N, L, S) = {(n, length, s)}")
        bias = np.where(m, query.dtype.type(-np.inf), query.dtype.type(0))

    def finish(context, weights):
        if single:
            context, weights = context.squeeze(1), weights.squeeze(1)
        if unbatched:
            context, weights = context.squeeze(0), weights.squeeze(0)
        return context, weights
    return query, keys, bias, finish


class AdditiveAttention(Module):
    """Bahdanau attention: score(q, k_s) = v^T tanh(W_q q + W_k k_s + b); context = sum_s a_s k_s.

    forward(query, keys, mask=None) -> (context, weights).  ``query`` (N, query_dim) for one decoder
    step (or (N, L, query_dim) for L of them), ``keys`` (N, S, key_dim), batch first (unbatched
    (query_dim,) with (S, key_dim) works too).  ``mask`` (N, S) or (N, L, S) boolean: True marks a
    padding position, which gets weight 0 (as ``key_padding_mask`` of MultiheadAttention).
    ``context`` (N, key_dim), ``weights`` (N, S) (with L: (N, L, key_dim) and (N, L, S)).
    Parameters: ``query_proj`` (Linear, no bias), ``key_proj`` (Linear with the bias b), ``v`` (Linear
    hidden_dim -> 1, no bias); ``key_dim`` and ``hidden_dim`` default to ``query_dim``.
    """

    def __init__(self, query_dim, key_dim=None, hidden_dim=None, dtype=None):
        super().__init__()
        key_dim = query_dim if key_dim is None else key_dim
        hidden_dim = query_dim if hidden_dim is None else hidden_dim
        self.query_dim, self.key_dim, self.hidden_dim = query_dim, key_dim, hidden_dim
        self.query_proj = Linear(query_dim, hidden_dim, bias=False, dtype=dtype)
        self.key_proj = Linear(key_dim, hidden_dim, bias=True, dtype=dtype)
        self.v = Linear(hidden_dim, 1, bias=False, dtype=dtype)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"query_dim={self.query_dim}, key_dim={self.key_dim}, hidden_dim={self.hidden_dim}"

    def project_keys(self, keys):
        """W_k k_s + b for every key: pass it as ``projected_keys`` when many decoder steps read one source."""
        with scope("attn"):
            return self.key_proj(_tensor(keys, "keys", "AdditiveAttention"))

    def forward(self, query, keys, mask=None, projected_keys=None):
        """(context, weights) for ``query`` over ``keys`` (see the class docstring).

        ``projected_keys``: ``project_keys(keys)`` computed once beforehand (optional).
        """
        where = "AdditiveAttention"
        with scope("attn"):
            q, k, bias, finish = _prepare(query, keys, mask, where, self.query_dim, self.key_dim)
            if projected_keys is None:
                pk = self.key_proj(k)
            else:
                pk = _tensor(projected_keys, "projected_keys", where)
                pk = pk.unsqueeze(0) if pk.ndim == 2 else pk
                if pk.shape != k.shape[:2] + (self.hidden_dim,):
                    raise AttentionShapeError(f"{where}: projected_keys has shape {pk.shape}, expected "
                                              f"{k.shape[:2] + (self.hidden_dim,)} (keys {k.shape} projected)")
            hidden = (self.query_proj(q).unsqueeze(2) + pk.unsqueeze(1)).tanh()  # (N, L, S, H)
            scores = self.v(hidden).squeeze(-1)                                                  # (N, L, S)
            if bias is not None:
                scores = scores + bias
            weights = scores.softmax(-1)
            return finish(weights @ k, weights)


class DotAttention(Module):
    """Luong attention: score(q, k_s) = q . k_s ('dot') or q^T W k_s ('general'); context = sum_s a_s k_s.

    forward(query, keys, mask=None) -> (context, weights), shapes and ``mask`` convention as
    ``AdditiveAttention`` (True marks padding).  'dot' needs query and keys of one size;
    'general' has ``weight`` (query_dim, key_dim), U(-1/sqrt(key_dim), 1/sqrt(key_dim)).
    ``scale=True`` divides the scores by sqrt(key_dim).
    """

    def __init__(self, query_dim=None, key_dim=None, method="dot", scale=False, dtype=None):
        super().__init__()
        if method not in ("dot", "general"):
            raise ValueError(f"DotAttention: method must be 'dot' or 'general', got {method!r}")
        key_dim = query_dim if key_dim is None else key_dim
        if method == "general" and (query_dim is None or key_dim is None):
            raise ValueError("DotAttention: method='general' needs query_dim (and key_dim if different)")
        if method == "dot" and query_dim is not None and key_dim != query_dim:
            raise AttentionShapeError(f"DotAttention: method='dot' needs query_dim == key_dim, got {query_dim} "
                                      f"and {key_dim}; use method='general'")
        self.query_dim, self.key_dim, self.method, self.scale = query_dim, key_dim, method, scale
        if method == "general":
            self.weight = Parameter(np.zeros((query_dim, key_dim), as_dtype(dtype) or default_float()))
            bound = 1.0 / math.sqrt(key_dim)
            init.uniform_(self.weight, -bound, bound)

    def extra_repr(self):
        """The constructor arguments shown inside repr()."""
        return f"query_dim={self.query_dim}, key_dim={self.key_dim}, method={self.method!r}, scale={self.scale}"

    def forward(self, query, keys, mask=None):
        """(context, weights) for ``query`` over ``keys`` (see the class docstring)."""
        where = f"DotAttention({self.method!r})"
        with scope("attn"):
            q, k, bias, finish = _prepare(query, keys, mask, where, self.query_dim, self.key_dim)
            if self.method == "general":
                q = q @ self.weight                       # q^T W k = (W^T q) . k
            elif q.shape[-1] != k.shape[-1]:
                raise AttentionShapeError(f"{where}: query has {q.shape[-1]} features but keys have "
                                          f"{k.shape[-1]}; use method='general' for different sizes")
            scale = 1.0 / math.sqrt(k.shape[-1]) if self.scale else 1.0
            context, weights = attention(q, k, k, bias, scale, 0.0, need_weights=True)
            return finish(context, weights)
