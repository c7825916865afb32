"""Transformer encoder and decoder stacks with PyTorch's modules, names, masks and fast paths.

A layer is attention plus a two-layer feed-forward block, each wrapped in a residual
connection and a LayerNorm (after the sum, or before the block with ``norm_first``):

    encoder:  x = norm1(x + self_attn(x));  x = norm2(x + ff(x))
    decoder:  x = norm1(x + self_attn(x));  x = norm2(x + cross_attn(x, memory));  x = norm3(x + ff(x))

with ff(x) = linear2(dropout(activation(linear1(x)))).  Everything is composed of
``MultiheadAttention``, ``Linear``, ``LayerNorm`` and ``Dropout``, so autograd is free and
a state_dict moves to and from ``torch.nn.Transformer*`` unchanged.

Masks follow MultiheadAttention's convention (boolean True, or -inf, masks out).  PyTorch
2.13 runs an encoder layer through a fused kernel when nothing needs a gradient (see
``TransformerEncoderLayer._fast_path``), and ``TransformerEncoder`` through nested tensors
when a key padding mask is also given; both give results that users see, so they are
reproduced here:

- fused kernel: a mask counts as boolean (every NONZERO float masks out, so a float mask
  of -inf and 0 means the same, any other additive values do not), ``is_causal`` is
  ignored, and a query that has no key left gets NaN;
- nested tensors: positions marked as padding come out as 0 (before the final ``norm``,
  which turns them into ``norm.bias``); without ``mask_check`` a padding mask that is not
  left-aligned counts only its number of padded positions per sequence (torch keeps the
  first ``S - n`` positions).
"""
import copy
import warnings

import numpy as np

from ..autograd import is_grad_enabled
from ..devices import check_device
from ..tensor import Tensor, _infer_array, as_dtype, default_float
from . import functional as F
from . import init
from .attention import AttentionShapeError, MultiheadAttention, _tensor
from .layers import GELU, Dropout, LayerNorm, Linear, ModuleList, ReLU
from .module import Module


# ---------------------------------------------------------------- helpers
def _generate_square_subsequent_mask(sz, device=None, dtype=None):
    """(sz, sz) causal mask: 0 on and below the diagonal, -inf above (True above for a bool dtype)."""
    check_device("Transformer.generate_square_subsequent_mask", device)
    dtype = as_dtype(dtype) or default_float()
    if sz < 0:
        raise RuntimeError(f"generate_square_subsequent_mask: Trying to create tensor with negative dimension "
                           f"{sz}: [{sz}, {sz}]")
    if dtype.kind not in "fb":
        raise RuntimeError(f"generate_square_subsequent_mask: value cannot be converted to type {dtype} "
                           f"without overflow (-inf needs a float or bool dtype)")
    return Tensor(np.triu(np.full((sz, sz), -np.inf).astype(dtype), 1))


def _array(mask):
    return mask._data if isinstance(mask, Tensor) else _infer_array(mask)


def _canonical_mask(mask, name, dtype, where, other=None, other_name=""):
    """PyTorch's mask canonicalisation: a bool mask becomes an additive array of ``dtype`` (-inf where
    True); a float mask is returned as is (its own dtype, gradient kept); other dtypes are refused.
    With ``other`` (the layer's other mask), masks of two dtypes give torch's deprecation warning."""
    if mask is None:
        return None
    m = _array(mask)
    if m.dtype != np.bool_ and m.dtype.kind != "f":
        raise AttentionShapeError(f"{where}: only bool and floating types of {name} are supported, "
                                  f"got dtype {m.dtype}")
    if other is not None and _array(other).dtype != m.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same type for both "
                      f"instead.", UserWarning, stacklevel=4)
    if m.dtype == np.bool_:
        return np.where(m, dtype.type(-np.inf), dtype.type(0))
    return mask


def _nonzero(mask):
    """A canonical mask as the fused kernel reads it: True (masked out) wherever it is nonzero."""
    return None if mask is None else _array(mask) != 0


def _detect_is_causal(mask, is_causal, size):
    """PyTorch's is_causal detection: a given hint is used as is (only ``True`` counts); with None, a
    mask equal to the (size, size) causal mask of its own dtype counts as causal."""
    if is_causal is not None or mask is None:
        return is_causal is True
    m = _array(mask)
    if size is None or m.shape != (size, size) or m.dtype.kind not in "fb":
        return False  # a mask of another dtype is refused later by MultiheadAttention
    return bool(np.array_equal(m, _generate_square_subsequent_mask(size, dtype=m.dtype)._data))


def _seq_len(x, batch_first):
    """Sequence length of a (S, E), (S, N, E) or (N, S, E) input (None for other ranks)."""
    if x.ndim == 2:
        return x.shape[0]
    return x.shape[1 if batch_first else 0] if x.ndim == 3 else None


def _get_activation(activation):
    """'relu' / 'gelu' -> F.relu / F.gelu; a callable is kept."""
    if isinstance(activation, str):
        if activation == "relu":
            return F.relu
        if activation == "gelu":
            return F.gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    return activation


def _relu_or_gelu(activation):
    """1 for relu, 2 for gelu (the function or a ReLU/GELU module), else 0: what torch's fused kernel runs."""
    if activation is F.relu or isinstance(activation, ReLU):
        return 1
    if activation is F.gelu or isinstance(activation, GELU):
        return 2
    return 0


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _fast_path_tensors(layer, src):
    """The tensors whose requires_grad keeps torch off an encoder layer's fused kernel."""
    sa = layer.self_attn
    return (src, sa.in_proj_weight, sa.in_proj_bias, sa.out_proj.weight, sa.out_proj.bias, layer.norm1.weight,
            layer.norm1.bias, layer.norm2.weight, layer.norm2.bias, layer.linear1.weight, layer.linear1.bias,
            layer.linear2.weight, layer.linear2.bias)


def _needs_grad(layer, src):
    return is_grad_enabled() and any(t is not None and t.requires_grad for t in _fast_path_tensors(layer, src))


def _why_no_fused_kernel(layer):
    """Why torch's fused kernel (and so the nested-tensor path) cannot run ``layer`` ('' if it can);
    the reasons are worded as torch's TransformerEncoder warning."""
    name = "encoder_layer"
    if not isinstance(layer, TransformerEncoderLayer):
        return f"{name} was not TransformerEncoderLayer"
    sa = layer.self_attn
    for failed, reason in ((layer.norm_first, "norm_first was True"),
                           (not sa.batch_first, "self_attn.batch_first was not True(use batch_first for better "
                                                "inference performance)"),
                           (not sa._qkv_same_embed_dim, "self_attn._qkv_same_embed_dim was not True"),
                           (sa.in_proj_bias is None, "self_attn was passed bias=False"),
                           (not layer.activation_relu_or_gelu, "activation_relu_or_gelu was not True"),
                           (layer.norm1.eps != layer.norm2.eps, f"norm1.eps was not equal to {name}.norm2.eps"),
                           (sa.num_heads % 2 == 1, "self_attn.num_heads is odd")):
        if failed:
            return f"{name}.{reason}"
    return ""


def _add_sublayers(layer, attentions, d_model, nhead, dim_feedforward, dropout, layer_norm_eps, batch_first, bias,
                   dtype):
    """Give an encoder or decoder layer torch's submodules in torch's order (which fixes the state_dict
    order and the draws of the random initialisation): a MultiheadAttention per name in ``attentions``,
    ``linear1``, ``dropout``, ``linear2``, then ``norm1``.. and ``dropout1``.., one per block (each
    attention and the feed-forward block)."""
    for name in attentions:
        setattr(layer, name, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                                dtype=dtype))
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
    blocks = range(1, len(attentions) + 2)
    for i in blocks:
        setattr(layer, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
    for i in blocks:
        setattr(layer, f"dropout{i}", Dropout(dropout))


def _ff_block(layer, x, activation, dropout_out):
    """dropout_out(linear2(dropout(activation(linear1(x)))))."""
    return dropout_out(layer.linear2(layer.dropout(activation(layer.linear1(x)))))


def _attention_block(attn, dropout, x, mem, attn_mask, key_padding_mask, is_causal):
    """dropout(attn(x, mem, mem)) without weights (torch's need_weights=False)."""
    out = attn(x, mem, mem, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
               is_causal=is_causal)[0]
    return dropout(out)


# ---------------------------------------------------------------- layers
class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and a LayerNorm.

    As ``torch.nn.TransformerEncoderLayer``: submodules ``self_attn`` (MultiheadAttention),
    ``linear1`` (d_model -> dim_feedforward), ``dropout``, ``linear2``, ``norm1``, ``norm2``,
    ``dropout1``, ``dropout2``.  ``activation``: 'relu', 'gelu' or a callable.  Inputs (S, N, E),
    (N, S, E) with ``batch_first``, or unbatched (S, E).  ``norm_first`` puts each LayerNorm before
    its block (pre-LN).  ``bias=False`` drops the biases of every Linear, LayerNorm and attention.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        check_device("nn.TransformerEncoderLayer", device)
        super().__init__()
        _add_sublayers(self, ("self_attn",), d_model, nhead, dim_feedforward, dropout, layer_norm_eps, batch_first,
                       bias, dtype)
        self.norm_first = norm_first
        activation = _get_activation(activation)
        self.activation_relu_or_gelu = _relu_or_gelu(activation)
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """Encode ``src``.  ``src_mask`` (S, S) or (N * nhead, S, S), ``src_key_padding_mask`` (N, S) or (S,):
        boolean (True masks out) or float (added to the scores).  ``is_causal``: a hint that ``src_mask``
        is the causal mask (see MultiheadAttention).  On torch's fused-kernel path (see the module
        docstring and ``_fast_path``) the masks count as boolean and ``is_causal`` is ignored."""
        where = "TransformerEncoderLayer"
        src = _tensor(src, "src", where)
        kpm = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", src.dtype, where, src_mask, "src_mask")
        mask = _canonical_mask(src_mask, "src_mask", src.dtype, where)
        activation = self.activation
        if self._fast_path(src):
            # with boolean masks MultiheadAttention takes its own fast path too: NaN for a query with no key
            mask, kpm, is_causal = _nonzero(mask), _nonzero(kpm), False
            activation = F.relu if self.activation_relu_or_gelu == 1 else F.gelu
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), mask, kpm, is_causal)
            x = x + _ff_block(self, self.norm2(x), activation, self.dropout2)
        else:
            x = self.norm1(x + self._sa_block(x, mask, kpm, is_causal))
            x = self.norm2(x + _ff_block(self, x, activation, self.dropout2))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        return _attention_block(self.self_attn, self.dropout1, x, x, attn_mask, key_padding_mask, is_causal)

    def _fast_path(self, src):
        """Whether PyTorch 2.13 runs this call through its fused kernel (torch._transformer_encoder_layer_fwd):
        batched input in eval mode, batch-first self-attention with biases, relu or gelu, equal LayerNorm eps,
        an even number of heads, no forward hooks, and nothing that needs a gradient."""
        sa = self.self_attn
        if (src.ndim != 3 or self.training or not sa.batch_first or sa.in_proj_bias is None
                or not sa._qkv_same_embed_dim or not self.activation_relu_or_gelu or self.norm1.eps != self.norm2.eps
                or sa.num_heads % 2 == 1):
            return False
        if any(m.__dict__.get("_forward_hooks") or m.__dict__.get("_forward_pre_hooks") for m in self.modules()):
            return False
        return not _needs_grad(self, src)


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's ``memory``, and a feed-forward block, each with a
    residual connection and a LayerNorm.

    As ``torch.nn.TransformerDecoderLayer``: submodules ``self_attn``, ``multihead_attn``, ``linear1``,
    ``dropout``, ``linear2``, ``norm1``, ``norm2``, ``norm3``, ``dropout1``, ``dropout2``, ``dropout3``;
    arguments as ``TransformerEncoderLayer``.
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        check_device("nn.TransformerDecoderLayer", device)
        super().__init__()
        _add_sublayers(self, ("self_attn", "multihead_attn"), d_model, nhead, dim_feedforward, dropout,
                       layer_norm_eps, batch_first, bias, dtype)
        self.norm_first = norm_first
        self.activation = _get_activation(activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """Decode ``tgt`` (T, N, E) reading ``memory`` (S, N, E) (batch first or unbatched as the encoder).
        ``tgt_mask`` (T, T) or (N * nhead, T, T), ``memory_mask`` (T, S) or (N * nhead, T, S), key padding
        masks (N, T) and (N, S); ``tgt_is_causal`` / ``memory_is_causal`` are MultiheadAttention's hints."""
        where = "TransformerDecoderLayer"
        x, memory = _tensor(tgt, "tgt", where), _tensor(memory, "memory", where)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask, memory_is_causal)
            x = x + _ff_block(self, self.norm3(x), self.activation, self.dropout3)
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + _ff_block(self, x, self.activation, self.dropout3))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        return _attention_block(self.self_attn, self.dropout1, x, x, attn_mask, key_padding_mask, is_causal)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        return _attention_block(self.multihead_attn, self.dropout2, x, mem, attn_mask, key_padding_mask, is_causal)


# ---------------------------------------------------------------- stacks
class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` (``layers.0``, ...) applied in turn, then ``norm``.

    As ``torch.nn.TransformerEncoder``, including its nested-tensor path (``enable_nested_tensor``;
    see the module docstring): in eval mode with nothing needing a gradient and a key padding mask
    but no ``mask``, padded positions of the output are 0 before ``norm``.  ``mask_check``: take that
    path only for a left-aligned padding mask (padding at the end of each sequence).
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor  # as given
        self.use_nested_tensor = enable_nested_tensor     # whether the nested-tensor path may run
        self.mask_check = mask_check
        why = _why_no_fused_kernel(encoder_layer)
        if enable_nested_tensor and why:
            warnings.warn(f"enable_nested_tensor is True, but self.use_nested_tensor is False because {why}",
                          UserWarning, stacklevel=2)
            self.use_nested_tensor = False

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """Encode ``src`` through every layer; masks as ``TransformerEncoderLayer``.  ``is_causal=None``
        detects a causal ``mask`` (equal to ``Transformer.generate_square_subsequent_mask``)."""
        where = "TransformerEncoder"
        src = _tensor(src, "src", where)
        kpm = _canonical_mask(src_key_padding_mask, "src_key_padding_mask", src.dtype, where, mask, "mask")
        mask = _canonical_mask(mask, "mask", src.dtype, where)
        padding = self._nested_padding(src, mask, kpm)
        is_causal = _detect_is_causal(mask, is_causal, _seq_len(src, self.layers[0].self_attn.batch_first))
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=kpm if padding is None else padding)
        if padding is not None:  # torch pads its nested output back with zeros (no gradient on this path)
            output = Tensor(np.where(padding[..., None], output.dtype.type(0), output._data))
        if self.norm is not None:
            output = self.norm(output)
        return output

    def _nested_padding(self, src, mask, kpm):
        """The (N, S) padding (True = padded, left-aligned) if PyTorch 2.13 converts ``src`` to a nested
        tensor here, else None; its checks run in torch's order, so they raise where torch raises."""
        first = self.layers[0]
        if not self.use_nested_tensor or first.training or src.ndim != 3 or kpm is None:
            return None
        pad = _nonzero(kpm)
        if self.mask_check:
            self._check_padding_shape(pad, src)
            if np.any(pad[:, 1:] < pad[:, :-1]):  # a kept position after a padded one
                return None
        if mask is not None or _needs_grad(first, src):
            return None
        self._check_padding_shape(pad, src)
        lengths = np.count_nonzero(~pad, axis=1)
        if not lengths.any():
            raise RuntimeError("TransformerEncoder: to_padded_tensor: at least one constituent tensor should have "
                               "non-zero numel (every position of src_key_padding_mask is padding; torch 2.13's "
                               "nested-tensor path refuses that in eval mode)")
        return np.arange(src.shape[1]) >= lengths[:, None]

    @staticmethod
    def _check_padding_shape(pad, src):
        if pad.ndim != 2:
            raise AttentionShapeError(f"TransformerEncoder: Padding mask should be 2D, got src_key_padding_mask "
                                      f"of shape {pad.shape}")
        if pad.shape != src.shape[:2]:
            raise AttentionShapeError(f"TransformerEncoder: Mask size should match input size: "
                                      f"src_key_padding_mask {pad.shape} for src {src.shape} (N, S, E)")


class TransformerDecoder(Module):
    """``num_layers`` deep copies of ``decoder_layer`` (``layers.0``, ...) applied in turn, then ``norm``."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """Decode ``tgt`` through every layer; masks as ``TransformerDecoderLayer``.  ``tgt_is_causal=None``
        detects a causal ``tgt_mask``."""
        output = _tensor(tgt, "tgt", "TransformerDecoder")
        seq_len = _seq_len(output, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal(tgt_mask, tgt_is_causal, seq_len)
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """Encoder-decoder transformer (Vaswani et al., 2017) as ``torch.nn.Transformer``.

    ``encoder``: TransformerEncoder of ``num_encoder_layers`` layers with a final LayerNorm (or
    ``custom_encoder``); ``decoder`` likewise.  Every parameter with more than one dim is redrawn
    xavier-uniform after construction (custom modules included).  forward(src, tgt, ...) returns the
    decoder's output, shaped as ``tgt``.
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6, dim_feedforward=2048,
                 dropout=0.1, activation=F.relu, custom_encoder=None, custom_decoder=None, layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, device=None, dtype=None):
        check_device("nn.Transformer", device)
        super().__init__()
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*args, dtype=dtype), num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*args, dtype=dtype), num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype))
        self._reset_parameters()
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """Encode ``src`` (S, N, E) into memory and decode ``tgt`` (T, N, E) against it (batch first with
        ``batch_first``, or unbatched (S, E) and (T, E)).  Masks: ``src_mask`` (S, S), ``tgt_mask`` (T, T),
        ``memory_mask`` (T, S) (or with N * nhead in front), key padding masks (N, S), (N, T), (N, S);
        boolean True or -inf masks out.  ``*_is_causal``: hints that the mask is causal (None: detect)."""
        where = "Transformer"
        src, tgt = _tensor(src, "src", where), _tensor(tgt, "tgt", where)
        batch_dim = 0 if self.batch_first else 1
        if _size(src, batch_dim, where) != _size(tgt, batch_dim, where) and src.ndim == 3:
            raise RuntimeError(f"{where}: the batch number of src and tgt must be equal (src {src.shape}, "
                               f"tgt {tgt.shape}, batch_first={self.batch_first})")
        if _size(src, -1, where) != self.d_model or _size(tgt, -1, where) != self.d_model:
            raise RuntimeError(f"{where}: the feature number of src and tgt must be equal to d_model "
                               f"({self.d_model}), got src {src.shape} and tgt {tgt.shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """(sz, sz) float mask, -inf above the diagonal and 0 elsewhere: position i sees positions <= i."""
        return _generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self):
        """xavier_uniform_ on every parameter with more than one dim."""
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)


def _size(x, dim, where):
    """x.shape[dim] with torch's IndexError for a dim out of range."""
    if not -x.ndim <= dim < x.ndim:
        raise IndexError(f"{where}: Dimension out of range (expected to be in range of [{-max(x.ndim, 1)}, "
                         f"{max(x.ndim, 1) - 1}], but got {dim}) for shape {x.shape}")
    return x.shape[dim]
