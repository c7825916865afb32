"""Transformer, its encoder/decoder stacks and layers against PyTorch 2.13.

Weights move through state_dict in both directions; outputs and the gradients of every
parameter and input are compared in float64 (tight) and float32, in training mode (dropout 0),
in eval mode, and in eval mode without gradients, where torch runs an encoder layer through
its fused kernel and TransformerEncoder through nested tensors (masks read as boolean, NaN for
a query with no key left, zeros at padded positions; see tinybptt/nn/transformer.py).
"""
import copy
import math
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn
from tinybptt import optim

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=5e-5)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}
E, H, FF = 8, 2, 16  # d_model, nhead, dim_feedforward
S, T, N = 6, 5, 3    # source length, target length, batch


def close(ours, theirs, dtype, what):
    a = ours.detach().numpy() if isinstance(ours, tb.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy()
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"{what}: NaN positions")
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


def activation(lib, name):
    """The activation argument ``name`` as library ``lib`` (torch or tinybptt) spells it."""
    return {"relu": "relu", "gelu": "gelu", "tanh_fn": lib.tanh, "gelu_module": lib.nn.GELU(approximate="tanh"),
            "relu_fn": lib.nn.functional.relu}[name]


def build(lib, kind, dtype, cfg):
    """One module of ``kind`` from ``lib`` (torch or tinybptt) with the layer options in ``cfg``."""
    layer_kw = dict(dropout=cfg.get("dropout", 0.0), batch_first=cfg.get("batch_first", False),
                    norm_first=cfg.get("norm_first", False), bias=cfg.get("bias", True),
                    activation=activation(lib, cfg.get("activation", "relu")), dtype=TORCH_DTYPE[dtype]
                    if lib is torch else dtype)
    if cfg.get("eps"):
        layer_kw["layer_norm_eps"] = cfg["eps"]
    dt = layer_kw["dtype"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the enable_nested_tensor warning (tested on its own)
        if kind == "encoder_layer":
            return lib.nn.TransformerEncoderLayer(E, H, FF, **layer_kw)
        if kind == "decoder_layer":
            return lib.nn.TransformerDecoderLayer(E, H, FF, **layer_kw)
        if kind == "encoder":
            norm = lib.nn.LayerNorm(E, dtype=dt) if cfg.get("final_norm", True) else None
            return lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, H, FF, **layer_kw), 2, norm=norm,
                                             mask_check=cfg.get("mask_check", True))
        if kind == "decoder":
            norm = lib.nn.LayerNorm(E, dtype=dt) if cfg.get("final_norm", True) else None
            return lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(E, H, FF, **layer_kw), 2, norm=norm)
        return lib.nn.Transformer(E, H, 2, 2, FF, **layer_kw)


def make_pair(kind, dtype, cfg, direction="torch_to_ours"):
    """Our module and torch's with equal weights; 1-D parameters randomised, so that biases and LayerNorm
    scales are tested too, and the layers of a stack made different from each other."""
    theirs, ours = build(torch, kind, dtype, cfg), build(tb, kind, dtype, cfg)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    if direction == "torch_to_ours":
        with torch.no_grad():
            for p in theirs.parameters():
                p.normal_() if p.ndim == 1 else p.mul_(1.0 + torch.rand_like(p))
        ours.load_state_dict({n: t.detach().numpy() for n, t in theirs.state_dict().items()})
    else:
        rng = np.random.default_rng(3)
        with tb.no_grad():
            for p in ours.parameters():
                p.normal_() if p.ndim == 1 else p.mul_(tb.tensor((1.0 + rng.random(p.shape)).astype(p.dtype)))
        theirs.load_state_dict({n: torch.tensor(a) for n, a in ours.state_dict().items()})
    return ours, theirs


def seq(rng, length, cfg, dtype):
    """A (length, N, E) input, batch first or unbatched as ``cfg`` says."""
    shape = (length, E) if cfg.get("unbatched") else (N, length, E) if cfg.get("batch_first") else (length, N, E)
    return rng.standard_normal(shape).astype(dtype)


def mask(rng, kind, rows, cols, cfg, dtype):
    """A mask (rows, cols) of ``kind``: 'bool' / 'float' (-inf where masked) / 'additive' (any values) /
    'causal' / 'causal_float' / 'bool3d'; every row keeps a key unless cfg asks for an empty row."""
    if kind in ("causal", "causal_float"):
        m = np.triu(np.ones((rows, cols), bool), 1)
        return m if kind == "causal" else np.where(m, -np.inf, 0.0).astype(dtype)
    if kind == "additive":
        return rng.standard_normal((rows, cols)).astype(dtype)
    lead = ((1 if cfg.get("unbatched") else N) * H,) if kind == "bool3d" else ()
    m = rng.random(lead + (rows, cols)) < 0.4
    m[..., 0] = False
    if cfg.get("empty_row"):
        m[..., 1, :] = True  # a query with no key at all
    return m if kind != "float" else np.where(m, -np.inf, 0.0).astype(dtype)


def padding(rng, kind, length, cfg, dtype):
    """A key padding mask (N, length) ((length,) unbatched): 'bool', 'float' (-inf), 'tail' (left-aligned),
    'tail_float' (0.5 marks padding), 'scattered' (not left-aligned); 'full' pads one sequence entirely."""
    if cfg.get("unbatched"):
        p = np.zeros(length, bool)
        p[length // 2:] = True
        return p if kind == "bool" else np.where(p, -np.inf, 0.0).astype(dtype)
    p = np.zeros((N, length), bool)
    if kind in ("tail", "tail_float", "full"):
        p[0, length - 2:] = True
        p[2, length - 1:] = True
        if kind == "full":
            p[1] = True
    else:
        p = rng.random((N, length)) < 0.35
        p[:, 0] = False
        if kind == "scattered":
            p[0, 1], p[0, 2:] = True, False
    if kind in ("float", "tail_float"):
        return np.where(p, -np.inf if kind == "float" else 0.5, 0.0).astype(dtype)
    return p


def inputs(kind, rng, dtype, cfg):
    """Positional inputs and mask keywords (numpy) of one forward call of ``kind``."""
    kw = {}
    if kind in ("encoder_layer", "encoder"):
        args = [seq(rng, S, cfg, dtype)]
        mname = "src_mask" if kind == "encoder_layer" else "mask"
        if cfg.get("mask"):
            kw[mname] = mask(rng, cfg["mask"], S, S, cfg, dtype)
        if cfg.get("kpm"):
            kw["src_key_padding_mask"] = padding(rng, cfg["kpm"], S, cfg, dtype)
        if "is_causal" in cfg:
            kw["is_causal"] = cfg["is_causal"]
        return args, kw
    args = [seq(rng, S, cfg, dtype), seq(rng, T, cfg, dtype)]
    if kind in ("decoder_layer", "decoder"):
        args = args[::-1]  # (tgt, memory)
    if kind == "transformer" and cfg.get("mask"):
        kw["src_mask"] = mask(rng, cfg["mask"], S, S, cfg, dtype)
    if kind == "transformer" and cfg.get("kpm"):
        kw["src_key_padding_mask"] = padding(rng, cfg["kpm"], S, cfg, dtype)
    if cfg.get("tgt_mask"):
        kw["tgt_mask"] = mask(rng, cfg["tgt_mask"], T, T, cfg, dtype)
    if cfg.get("memory_mask"):
        kw["memory_mask"] = mask(rng, cfg["memory_mask"], T, S, cfg, dtype)
    if cfg.get("tgt_kpm"):
        kw["tgt_key_padding_mask"] = padding(rng, cfg["tgt_kpm"], T, cfg, dtype)
    if cfg.get("memory_kpm"):
        kw["memory_key_padding_mask"] = padding(rng, cfg["memory_kpm"], S, cfg, dtype)
    for hint in ("tgt_is_causal", "memory_is_causal", "src_is_causal"):
        if hint in cfg:
            kw[hint] = cfg[hint]
    return args, kw


def as_torch(v):
    return torch.tensor(v) if isinstance(v, np.ndarray) else v


def run_both(ours, theirs, args, kw, grad=True):
    """Forward both modules; with ``grad`` the inputs are leaves requiring grad."""
    a = [tb.tensor(x, requires_grad=grad) for x in args]
    t = [torch.tensor(x, requires_grad=grad) for x in args]
    out = ours(*a, **kw)
    tout = theirs(*t, **{n: as_torch(v) for n, v in kw.items()})
    return a, t, out, tout


def check_gradients(ours, theirs, a, t, out, tout, dtype, rng):
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(tb.tensor(g))
    tout.backward(torch.tensor(g))
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, dtype, f"grad of {name}")
    for i, (x, y) in enumerate(zip(a, t)):
        close(x.grad, y.grad, dtype, f"grad of input {i}")


# ---------------------------------------------------------------- values and gradients, slow path
CASES = {
    "encoder_layer": {
        "plain": dict(),
        "batch_first": dict(batch_first=True),
        "norm_first": dict(norm_first=True),
        "gelu": dict(activation="gelu", batch_first=True),
        "callable_activation": dict(activation="tanh_fn", norm_first=True),
        "gelu_module": dict(activation="gelu_module"),
        "no_bias": dict(bias=False, mask="bool"),
        "eps": dict(eps=1e-3),
        "bool_mask": dict(mask="bool"),
        "float_mask": dict(mask="float", batch_first=True),
        "additive_mask": dict(mask="additive"),
        "mask_3d": dict(mask="bool3d", batch_first=True),
        "bool_padding": dict(kpm="bool"),
        "float_padding": dict(kpm="float", batch_first=True),
        "both_masks": dict(mask="bool", kpm="bool", norm_first=True),
        "mixed_mask_types": dict(mask="additive", kpm="bool"),
        "fully_padded_sequence": dict(kpm="full", batch_first=True),
        "fully_masked_query": dict(mask="bool", empty_row=True),
        "causal_hint": dict(mask="causal", is_causal=True),
        "unbatched": dict(unbatched=True, kpm="bool", mask="float"),
        "unbatched_3d_mask": dict(unbatched=True, mask="bool3d"),
    },
    "encoder": {
        "plain": dict(),
        "no_final_norm": dict(final_norm=False, batch_first=True, kpm="tail"),
        "batch_first_padding": dict(batch_first=True, kpm="tail", norm_first=True),
        "causal_detected": dict(mask="causal_float"),
        "causal_bool_detected": dict(mask="causal", kpm="bool"),
        "additive_mask": dict(mask="additive", batch_first=True),
        "mixed_mask_types": dict(mask="additive", kpm="bool"),
        "unbatched": dict(unbatched=True, kpm="float"),
        "gelu": dict(activation="gelu", mask="bool3d"),
        "is_causal_false": dict(mask="causal", is_causal=False),
    },
    "decoder_layer": {
        "plain": dict(),
        "batch_first_norm_first": dict(batch_first=True, norm_first=True, tgt_mask="causal", memory_kpm="bool"),
        "float_masks": dict(tgt_mask="float", memory_mask="additive", tgt_kpm="float"),
        "bool_masks": dict(tgt_mask="bool", memory_mask="bool", tgt_kpm="bool", memory_kpm="bool"),
        "masks_3d": dict(tgt_mask="bool3d", memory_mask="bool3d", batch_first=True),
        "causal_hints": dict(tgt_mask="causal", tgt_is_causal=True, memory_mask="causal", memory_is_causal=True),
        "no_bias_gelu": dict(bias=False, activation="gelu", tgt_kpm="bool"),
        "unbatched": dict(unbatched=True, tgt_mask="causal", memory_kpm="bool"),
        "fully_padded_memory": dict(memory_kpm="full"),
    },
    "decoder": {
        "plain": dict(),
        "causal_detected": dict(tgt_mask="causal_float", tgt_kpm="bool", batch_first=True),
        "bool_causal_detected": dict(tgt_mask="causal", memory_mask="additive"),
        "no_final_norm": dict(final_norm=False, norm_first=True, memory_kpm="float"),
        "unbatched": dict(unbatched=True, tgt_mask="float"),
    },
    "transformer": {
        "plain": dict(),
        "batch_first": dict(batch_first=True, kpm="bool", tgt_mask="causal_float", memory_kpm="bool"),
        "norm_first_gelu": dict(norm_first=True, activation="gelu", mask="additive", tgt_kpm="bool"),
        "all_masks": dict(mask="bool", kpm="bool", tgt_mask="bool", memory_mask="bool", tgt_kpm="bool",
                          memory_kpm="bool"),
        "hints": dict(mask="causal", src_is_causal=True, tgt_mask="causal", tgt_is_causal=True),
        "no_bias": dict(bias=False, tgt_mask="causal"),
        "unbatched": dict(unbatched=True, kpm="bool", tgt_mask="causal", memory_kpm="bool"),
    },
}
ALL_CASES = [(kind, case) for kind, cases in CASES.items() for case in cases]


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("kind,case", ALL_CASES, ids=[f"{k}-{c}" for k, c in ALL_CASES])
def test_parity_float64(kind, case, mode):
    """Training mode (dropout 0) and eval mode with gradients: values and every gradient, float64."""
    cfg, dtype, rng = CASES[kind][case], np.float64, np.random.default_rng(7)
    ours, theirs = make_pair(kind, dtype, cfg, "torch_to_ours" if mode == "train" else "ours_to_torch")
    ours.train(mode == "train")
    theirs.train(mode == "train")
    args, kw = inputs(kind, rng, dtype, cfg)
    a, t, out, tout = run_both(ours, theirs, args, kw)
    close(out, tout, dtype, "output")
    check_gradients(ours, theirs, a, t, out, tout, dtype, rng)


FLOAT32_CASES = [("encoder_layer", "both_masks"), ("encoder", "batch_first_padding"),
                 ("decoder_layer", "batch_first_norm_first"), ("transformer", "batch_first"),
                 ("transformer", "norm_first_gelu")]


@pytest.mark.parametrize("kind,case", FLOAT32_CASES, ids=[f"{k}-{c}" for k, c in FLOAT32_CASES])
def test_parity_float32(kind, case):
    cfg, dtype, rng = CASES[kind][case], np.float32, np.random.default_rng(8)
    ours, theirs = make_pair(kind, dtype, cfg)
    args, kw = inputs(kind, rng, dtype, cfg)
    a, t, out, tout = run_both(ours, theirs, args, kw)
    assert out.dtype == np.float32
    close(out, tout, dtype, "output")
    check_gradients(ours, theirs, a, t, out, tout, dtype, rng)


def test_learnable_float_masks_get_gradients():
    """A float mask that requires grad reaches MultiheadAttention unchanged, as in torch."""
    rng = np.random.default_rng(9)
    ours, theirs = make_pair("encoder_layer", np.float64, {})
    x = rng.standard_normal((S, N, E))
    m, kp = rng.standard_normal((S, S)), rng.standard_normal((N, S))
    (am, tam), (kpm, tkpm) = ((tb.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)) for v in (m, kp))
    out = ours(tb.tensor(x), src_mask=am, src_key_padding_mask=kpm)
    tout = theirs(torch.tensor(x), src_mask=tam, src_key_padding_mask=tkpm)
    close(out, tout, np.float64, "output")
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    close(am.grad, tam.grad, np.float64, "grad of src_mask")
    close(kpm.grad, tkpm.grad, np.float64, "grad of src_key_padding_mask")


# ---------------------------------------------------------------- torch's fused kernel and nested tensors
FAST_CASES = {
    # encoder layer on torch's fused kernel: masks read as boolean (nonzero = masked out), NaN for a
    # query that has no key left, is_causal ignored
    "layer_padding": ("encoder_layer", dict(batch_first=True, kpm="bool")),
    "layer_fully_padded": ("encoder_layer", dict(batch_first=True, kpm="full")),
    "layer_additive_mask_is_boolean": ("encoder_layer", dict(batch_first=True, mask="additive")),
    "layer_float_padding_is_boolean": ("encoder_layer", dict(batch_first=True, kpm="tail_float")),
    "layer_both_masks": ("encoder_layer", dict(batch_first=True, mask="bool", kpm="full")),
    "layer_empty_row": ("encoder_layer", dict(batch_first=True, mask="bool", empty_row=True, norm_first=True)),
    "layer_mask_3d": ("encoder_layer", dict(batch_first=True, mask="bool3d")),
    "layer_gelu_module_runs_exact_gelu": ("encoder_layer", dict(batch_first=True, activation="gelu_module",
                                                                mask="float")),
    "layer_relu_function": ("encoder_layer", dict(batch_first=True, activation="relu_fn", kpm="full")),
    "layer_is_causal_without_mask": ("encoder_layer", dict(batch_first=True, is_causal=True)),
    "layer_wrong_causal_hint": ("encoder_layer", dict(batch_first=True, mask="bool", is_causal=True)),
    # not on the fused kernel: the ordinary computation (zeros, not NaN, for an empty query)
    "layer_seq_first": ("encoder_layer", dict(kpm="full", mask="additive")),
    "layer_custom_activation": ("encoder_layer", dict(batch_first=True, activation="tanh_fn", kpm="full")),
    "layer_unbatched": ("encoder_layer", dict(batch_first=True, unbatched=True, mask="additive")),
    "layer_no_bias": ("encoder_layer", dict(batch_first=True, bias=False, kpm="full")),
    # encoder on nested tensors: zeros at padded positions, then the final norm
    "nested_final_norm": ("encoder", dict(batch_first=True, kpm="tail")),
    "nested_no_final_norm": ("encoder", dict(batch_first=True, kpm="full", final_norm=False)),
    "nested_float_padding": ("encoder", dict(batch_first=True, kpm="tail_float")),
    "nested_scattered_padding_checked": ("encoder", dict(batch_first=True, kpm="scattered")),
    "nested_scattered_padding_unchecked": ("encoder", dict(batch_first=True, kpm="scattered", mask_check=False)),
    "nested_skipped_with_mask": ("encoder", dict(batch_first=True, kpm="full", mask="additive")),
    "nested_skipped_norm_first": ("encoder", dict(batch_first=True, kpm="full", norm_first=True)),
    "nested_skipped_seq_first": ("encoder", dict(kpm="full")),
    "nested_is_causal_ignored": ("encoder", dict(batch_first=True, kpm="tail", is_causal=True)),
    "encoder_causal_mask": ("encoder", dict(batch_first=True, mask="causal")),
    # decoder: MultiheadAttention's own fast path for the self-attention
    "decoder_padding": ("decoder_layer", dict(batch_first=True, tgt_kpm="full", memory_kpm="bool")),
    "decoder_wrong_causal_hint": ("decoder_layer", dict(batch_first=True, tgt_mask="bool", tgt_is_causal=True)),
    "transformer": ("transformer", dict(batch_first=True, kpm="tail", tgt_mask="causal", memory_kpm="tail")),
    "transformer_fully_padded": ("transformer", dict(batch_first=True, kpm="full", tgt_kpm="full")),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("frozen", [False, True], ids=["no_grad", "frozen_parameters"])
@pytest.mark.parametrize("case", list(FAST_CASES))
def test_eval_without_gradients_matches_torch_fast_paths(case, frozen, dtype):
    """Eval mode with nothing to differentiate (under no_grad, or with frozen parameters and inputs):
    the outputs torch's fused kernel and nested tensors give, NaN and zeros included."""
    kind, cfg = FAST_CASES[case]
    rng = np.random.default_rng(11)
    ours, theirs = make_pair(kind, dtype, cfg)
    ours.eval()
    theirs.eval()
    args, kw = inputs(kind, rng, dtype, cfg)
    if frozen:
        ours.requires_grad_(False)
        theirs.requires_grad_(False)
        _, _, out, tout = run_both(ours, theirs, args, kw, grad=False)
    else:
        with tb.no_grad(), torch.no_grad():
            _, _, out, tout = run_both(ours, theirs, args, kw)
    close(out, tout, dtype, "output")


def test_fast_path_cases_reach_the_outcomes_they_name():
    """The fast-path cases above do exercise torch's special outputs (they are not all ordinary)."""
    def torch_out(case):
        kind, cfg = FAST_CASES[case]
        _, theirs = make_pair(kind, np.float64, cfg)
        args, kw = inputs(kind, np.random.default_rng(11), np.float64, cfg)
        with torch.no_grad():
            return theirs.eval()(*map(torch.tensor, args), **{n: as_torch(v) for n, v in kw.items()}).numpy()
    assert np.isnan(torch_out("layer_fully_padded")[1]).all() and not np.isnan(torch_out("layer_fully_padded")[0]).any()
    assert not np.isnan(torch_out("layer_seq_first")).any()
    assert np.isnan(torch_out("layer_additive_mask_is_boolean")).all()  # every entry nonzero: all masked
    nested = torch_out("nested_no_final_norm")
    assert (nested[1] == 0).all() and (nested[0, -2:] == 0).all() and (nested[0, :-2] != 0).all()


def test_nested_padded_positions_come_out_as_the_final_norms_bias():
    ours, _ = make_pair("encoder", np.float64, dict(batch_first=True))
    pad = np.zeros((N, S), bool)
    pad[0, 3:] = True
    with tb.no_grad():
        out = ours.eval()(tb.randn(N, S, E, dtype=tb.float64), src_key_padding_mask=pad)
    np.testing.assert_allclose(out.numpy()[0, 3:], np.broadcast_to(ours.norm.bias.detach().numpy(), (S - 3, E)))


def test_eval_with_gradients_stays_on_the_ordinary_path():
    """With parameters that require grad (and grad enabled) torch computes normally, so does tinybptt:
    a fully padded sequence gives finite values and gradients flow."""
    cfg = dict(batch_first=True, kpm="full")
    ours, theirs = make_pair("encoder", np.float64, cfg)
    ours.eval()
    theirs.eval()
    args, kw = inputs("encoder", np.random.default_rng(2), np.float64, cfg)
    a, t, out, tout = run_both(ours, theirs, args, kw)
    assert np.isfinite(out.detach().numpy()).all()
    close(out, tout, np.float64, "output")
    check_gradients(ours, theirs, a, t, out, tout, np.float64, np.random.default_rng(3))


def test_multihead_attention_fast_path_ignores_the_is_causal_hint():
    """torch's native MultiheadAttention kernel uses attn_mask even with is_causal=True, and needs no mask."""
    rng = np.random.default_rng(4)
    theirs = torch.nn.MultiheadAttention(E, H, batch_first=True, dtype=torch.float64).eval()
    ours = nn.MultiheadAttention(E, H, batch_first=True, dtype=np.float64).eval()
    ours.load_state_dict({n: t.numpy() for n, t in theirs.state_dict().items()})
    x, m = rng.standard_normal((N, S, E)), np.eye(S, dtype=bool)
    for kw in (dict(attn_mask=m), {}):
        with torch.no_grad(), tb.no_grad():
            out, _ = ours(*[tb.tensor(x)] * 3, is_causal=True, need_weights=False, **kw)
            tx = torch.tensor(x)
            tout, _ = theirs(tx, tx, tx, is_causal=True, need_weights=False, **{n: as_torch(v) for n, v in kw.items()})
        close(out, tout, np.float64, "output")
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        ours.train()(*[tb.tensor(x)] * 3, is_causal=True, need_weights=False)


# ---------------------------------------------------------------- structure, initialisation, state_dict
def test_state_dict_keys_and_parameter_counts_match_torch_defaults():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = nn.Transformer(), torch.nn.Transformer()
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    assert all(sd[k].shape == tuple(tsd[k].shape) for k in sd)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters()) == 44140544
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert ours.d_model == 512 and ours.nhead == 8 and ours.batch_first is False
    assert ours.encoder.num_layers == ours.decoder.num_layers == 6


def test_transformer_initialisation_as_torch():
    """Every parameter with more than one dim is xavier-uniform; biases of attention zero, LayerNorms 1 and 0,
    the Linear biases keep their U(-1/sqrt(in), 1/sqrt(in)) init."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = nn.Transformer(d_model=32, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=64,
                               dtype=np.float64)
    for name, p in model.named_parameters():
        a = p.detach().numpy()
        if a.ndim > 1:
            bound = math.sqrt(6.0 / (a.shape[0] + a.shape[1]))
            assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound, name
            assert abs(a.var() - bound ** 2 / 3) < 0.15 * bound ** 2 / 3, name  # U(-b, b) has variance b^2/3
        elif "in_proj_bias" in name or "out_proj.bias" in name or ("norm" in name and name.endswith("bias")):
            assert (a == 0).all(), name
        elif "norm" in name:
            assert (a == 1).all(), name
        else:  # linear1.bias / linear2.bias
            fan_in = 32 if "linear1" in name else 64
            assert 0 < np.abs(a).max() <= 1 / math.sqrt(fan_in), name
    layers = model.encoder.layers
    assert not np.array_equal(layers[0].linear1.weight.detach().numpy(), layers[1].linear1.weight.detach().numpy())


def test_stack_layers_are_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(E, H, FF, activation=nn.GELU())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3 and all(m is not layer for m in enc.layers)
    w = [m.linear1.weight for m in enc.layers]
    assert len({id(p) for p in w}) == 3
    assert all(np.array_equal(p.detach().numpy(), layer.linear1.weight.detach().numpy()) for p in w)
    with tb.no_grad():
        enc.layers[0].linear1.weight.fill_(0.0)
    assert not (enc.layers[1].linear1.weight.detach().numpy() == 0).all()
    assert isinstance(enc.layers[2].activation, nn.GELU) and enc.layers[2].activation is not layer.activation
    assert "layers.2.activation" in dict(enc.named_modules())
    assert list(enc.state_dict())[:2] == ["layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias"]


@pytest.mark.parametrize("name,code", [("relu", 1), ("gelu", 2), ("relu_fn", 1), ("gelu_module", 2),
                                             ("tanh_fn", 0)])
def test_activation_attributes_as_torch(name, code):
    ours = nn.TransformerEncoderLayer(E, H, activation=activation(tb, name))
    theirs = torch.nn.TransformerEncoderLayer(E, H, activation=activation(torch, name))
    assert ours.activation_relu_or_gelu == theirs.activation_relu_or_gelu == code
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert (nn.TransformerDecoderLayer(E, H, activation="gelu").activation is tb.nn.functional.gelu)


def test_enable_nested_tensor_warnings_as_torch():
    def record(lib, make):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            enc = make(lib)
        messages = [str(w.message) for w in caught if "enable_nested_tensor" in str(w.message)]
        return getattr(enc, "encoder", enc).use_nested_tensor, messages
    makers = [
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, H), 2),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, H, batch_first=True), 2),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, H, batch_first=True, norm_first=True),
                                              1),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, 1, batch_first=True), 1),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, H, batch_first=True,
                                                                             activation=lib.tanh), 1),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, H, batch_first=True, bias=False), 1),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, H), 1, enable_nested_tensor=False),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.Linear(E, E), 1),
        lambda lib: lib.nn.Transformer(E, H, 1, 1, FF, batch_first=True),
        lambda lib: lib.nn.Transformer(E, H, 1, 1, FF),
    ]
    for make in makers:
        ours, theirs = record(tb, make), record(torch, make)
        assert ours == theirs


@pytest.mark.parametrize("kind,masks,warns", [
    ("encoder_layer", ("bool", "float64"), True), ("encoder_layer", ("float64", "float64"), False),
    ("encoder_layer", ("float32", "bool"), True), ("encoder", ("bool", "float64"), True),
    ("encoder", ("bool", "bool"), False), ("transformer", ("float64", "bool"), True)])
def test_mismatched_mask_types_warn_as_torch(kind, masks, warns):
    """torch warns once the two masks of one attention differ in dtype (and still runs)."""
    rng = np.random.default_rng(5)
    ours, theirs = make_pair(kind, np.float64, {})
    args, _ = inputs(kind, rng, np.float64, {})
    m = np.triu(np.ones((S, S), bool), 2)
    pad = np.zeros((N, S), bool)
    pad[0, -1] = True
    as_type = {"bool": lambda a: a, "float64": lambda a: np.where(a, -np.inf, 0.0),
               "float32": lambda a: np.where(a, -np.inf, 0.0).astype(np.float32)}
    names = {"encoder_layer": ("src_mask", "src_key_padding_mask"), "encoder": ("mask", "src_key_padding_mask"),
             "transformer": ("src_mask", "src_key_padding_mask")}[kind]
    kw = {names[0]: as_type[masks[0]](m), names[1]: as_type[masks[1]](pad)}
    outs = []
    for lib, module in ((tb, ours), (torch, theirs)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            x = [lib.tensor(a) for a in args]
            outs.append(module(*x, **{n: lib.tensor(v) for n, v in kw.items()}))
        assert any("Support for mismatched" in str(w.message) for w in caught) == warns, lib.__name__
    close(outs[0], outs[1], np.float64, "output")


def test_generate_square_subsequent_mask_as_torch():
    for sz in (0, 1, 4):
        m = nn.Transformer.generate_square_subsequent_mask(sz)
        tm = torch.nn.Transformer.generate_square_subsequent_mask(sz)
        assert isinstance(m, tb.Tensor) and m.dtype == np.float32 and not m.requires_grad
        np.testing.assert_array_equal(m.numpy(), tm.numpy())
    m = nn.Transformer(E, H, 1, 1, FF).generate_square_subsequent_mask(3, dtype=tb.float64)
    np.testing.assert_array_equal(m.numpy(), torch.nn.Transformer.generate_square_subsequent_mask(
        3, dtype=torch.float64).numpy())
    assert m.dtype == np.float64
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(3, dtype=tb.bool).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.bool).numpy())
    with pytest.raises(RuntimeError):
        torch.nn.Transformer.generate_square_subsequent_mask(-1)
    with pytest.raises(RuntimeError, match="generate_square_subsequent_mask: Trying to create tensor with negative"):
        nn.Transformer.generate_square_subsequent_mask(-1)


def test_dropout_in_training_mode_only():
    layer = nn.TransformerDecoderLayer(E, H, FF, dropout=0.5)
    x, mem = tb.randn(T, N, E), tb.randn(S, N, E)
    assert not np.allclose(layer(x, mem).detach().numpy(), layer(x, mem).detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x, mem).detach().numpy(), layer(x, mem).detach().numpy())
    assert [m.p for m in (layer.dropout, layer.dropout1, layer.dropout2, layer.dropout3)] == [0.5] * 4
    assert layer.self_attn.dropout == layer.multihead_attn.dropout == 0.5


def test_forward_hooks_keep_the_encoder_layer_off_the_fused_kernel():
    """torch skips its fused kernel when any submodule has a hook: a fully padded sequence then gives
    finite values (zeros from the attention) instead of NaN, in both libraries."""
    cfg = dict(batch_first=True, kpm="full")
    ours, theirs = make_pair("encoder_layer", np.float64, cfg)
    args, kw = inputs("encoder_layer", np.random.default_rng(12), np.float64, cfg)
    ours.eval()
    theirs.eval()
    handles = [ours.linear2.register_forward_hook(lambda m, a, o: None),
               theirs.linear2.register_forward_hook(lambda m, a, o: None)]
    with tb.no_grad(), torch.no_grad():
        _, _, out, tout = run_both(ours, theirs, args, kw)
    assert np.isfinite(out.numpy()).all()
    close(out, tout, np.float64, "output")
    for h in handles:
        h.remove()
    with tb.no_grad(), torch.no_grad():
        _, _, out, tout = run_both(ours, theirs, args, kw)
    assert np.isnan(out.numpy()[1]).all()
    close(out, tout, np.float64, "output")


@pytest.mark.parametrize("mode", ["train", "no_grad"])
def test_custom_encoder_and_decoder(mode):
    """custom_encoder / custom_decoder are used as given and get the xavier re-initialisation too."""
    def make(lib):
        dt = torch.float64 if lib is torch else np.float64
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer_kw = dict(dropout=0.0, batch_first=True, dtype=dt)
            enc = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(E, H, FF, **layer_kw), 1)
            dec = lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(E, H, FF, **layer_kw), 3,
                                            norm=lib.nn.LayerNorm(E, dtype=dt))
            return lib.nn.Transformer(E, H, custom_encoder=enc, custom_decoder=dec, batch_first=True, dtype=dt)
    ours, theirs = make(tb), make(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours.encoder.layers) == 1 and len(ours.decoder.layers) == 3 and ours.encoder.norm is None
    w = ours.decoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() > 1 / math.sqrt(E)  # xavier's bound sqrt(6 / (8 + 16)) = 0.5 > Linear's 0.35
    theirs.load_state_dict({n: torch.tensor(a) for n, a in ours.state_dict().items()})
    rng = np.random.default_rng(13)
    src, tgt = rng.standard_normal((N, S, E)), rng.standard_normal((N, T, E))
    pad = np.zeros((N, S), bool)
    pad[1, 2:] = True
    kw = dict(src_key_padding_mask=pad, memory_key_padding_mask=pad)
    if mode == "train":
        a, t, out, tout = run_both(ours, theirs, [src, tgt], kw)
        close(out, tout, np.float64, "output")
        check_gradients(ours, theirs, a, t, out, tout, np.float64, rng)
    else:
        ours.eval()
        theirs.eval()
        with tb.no_grad(), torch.no_grad():
            _, _, out, tout = run_both(ours, theirs, [src, tgt], kw)
        close(out, tout, np.float64, "output")


@pytest.mark.parametrize("kind,name,fast", [("encoder_layer", "src_mask", False), ("encoder_layer", "src_mask", True),
                                            ("encoder_layer", "src_key_padding_mask", False),
                                            ("encoder", "mask", False), ("decoder_layer", "tgt_mask", False),
                                            ("decoder_layer", "memory_mask", True), ("transformer", "tgt_mask", False)])
def test_float64_mask_for_a_float32_model_as_torch(kind, name, fast):
    """A float mask keeps its dtype: float64 into a float32 model raises (torch's attention refuses it),
    except on torch's fused encoder kernel, which reads masks as boolean."""
    cfg = dict(batch_first=True)
    ours, theirs = make_pair(kind, np.float32, cfg)
    args, _ = inputs(kind, np.random.default_rng(14), np.float32, cfg)
    rows = T if name in ("tgt_mask", "memory_mask") else S
    cols = S if name in ("memory_mask", "mask", "src_mask") else T if name == "tgt_mask" else S
    m = np.zeros((N, cols)) if name == "src_key_padding_mask" else np.zeros((rows, cols))
    m[..., -1] = -np.inf
    outs = []
    for lib, module in ((tb, ours), (torch, theirs)):
        module.train(not fast)
        with lib.no_grad() if fast else lib.enable_grad():
            call = lambda: module(*[lib.tensor(a) for a in args], **{name: lib.tensor(m)})  # noqa: E731
            if fast and kind == "encoder_layer":
                outs.append(call())
            else:
                with pytest.raises(RuntimeError, match="dtype" if lib is tb else None):
                    call()
    if outs:
        close(outs[0], outs[1], np.float32, "output")


def test_repr_as_torch():
    """The same module tree as torch's repr (torch names MultiheadAttention's out_proj's class differently)."""
    ours, theirs = make_pair("transformer", np.float64, dict(batch_first=True))
    assert repr(ours) == repr(theirs).replace("NonDynamicallyQuantizableLinear", "Linear")


# ---------------------------------------------------------------- bad arguments
def both_raise(exc, ours_call, theirs_call, match):
    with pytest.raises(exc):
        theirs_call()
    with pytest.raises(exc, match=match):
        ours_call()


@pytest.mark.parametrize("lib_cls", ["TransformerEncoderLayer", "TransformerDecoderLayer", "Transformer"])
def test_bad_constructor_arguments_raise_as_torch(lib_cls):
    def make(lib, *args, **kw):
        return lambda: getattr(lib.nn, lib_cls)(*args, **kw)
    both_raise(AssertionError, make(tb, 6, 4), make(torch, 6, 4), "embed_dim must be divisible by num_heads")
    both_raise(ValueError, make(tb, 6, 0), make(torch, 6, 0), "embed_dim and num_heads must be greater than 0")
    both_raise(RuntimeError, make(tb, 8, 2, activation="tanh"), make(torch, 8, 2, activation="tanh"),
               "activation should be relu/gelu, not tanh")
    both_raise(ValueError, make(tb, 8, 2, dropout=1.5), make(torch, 8, 2, dropout=1.5),
               "dropout probability has to be between 0 and 1")


def call_pair(kind, cfg, kw, args=None, mode="train"):
    """(ours, theirs) zero-argument calls of one forward with ``kw`` (numpy masks)."""
    ours, theirs = make_pair(kind, np.float64, cfg)
    if args is None:
        args, _ = inputs(kind, np.random.default_rng(6), np.float64, cfg)
    ours.train(mode == "train")
    theirs.train(mode == "train")

    def run(lib, module):
        def call():
            with lib.no_grad() if mode == "no_grad" else lib.enable_grad():
                return module(*[lib.tensor(a) for a in args], **{n: lib.tensor(v) if isinstance(v, np.ndarray) else v
                                                                  for n, v in kw.items()})
        return call
    return run(tb, ours), run(torch, theirs)


BAD_CALLS = [
    # (kind, cfg, keyword arguments, exception type torch raises, our message)
    ("encoder_layer", {}, dict(src_mask=np.zeros((4, 4), bool)), RuntimeError, "The shape of the 2D attn_mask"),
    ("encoder_layer", {}, dict(src_mask=np.zeros((5, S, S), bool)), RuntimeError, "The shape of the 3D attn_mask"),
    ("encoder_layer", {}, dict(src_key_padding_mask=np.zeros((N, 4), bool)), AssertionError,
     "expecting key_padding_mask shape"),
    ("encoder_layer", {}, dict(src_key_padding_mask=np.zeros(S, bool)), AssertionError,
     "expected `key_padding_mask` to be `None` or 2-D"),
    ("encoder_layer", {}, dict(src_mask=np.zeros((S, S), np.int64)), AssertionError,
     "TransformerEncoderLayer: only bool and floating types of src_mask are supported"),
    ("encoder_layer", {}, dict(src_key_padding_mask=np.zeros((N, S), np.int64)), AssertionError,
     "only bool and floating types of src_key_padding_mask"),
    ("encoder_layer", {}, dict(is_causal=True), RuntimeError, "Need attn_mask if specifying the is_causal hint"),
    ("encoder", {}, dict(mask=np.zeros((S, S), np.int32)), AssertionError, "TransformerEncoder: only bool"),
    ("encoder", {}, dict(is_causal=True), RuntimeError, "Need attn_mask"),
    ("encoder", {}, dict(src_key_padding_mask=np.zeros((N + 1, S), bool)), AssertionError,
     "expecting key_padding_mask shape"),
    ("decoder_layer", {}, dict(memory_mask=np.zeros((T, T), bool)), RuntimeError, "The shape of the 2D attn_mask"),
    ("decoder_layer", {}, dict(tgt_key_padding_mask=np.zeros((N, S), bool)), AssertionError,
     "expecting key_padding_mask shape"),
    ("decoder_layer", {}, dict(memory_is_causal=True), RuntimeError, "Need attn_mask"),
    ("decoder", {}, dict(tgt_mask=np.zeros((T, T), np.int64)), RuntimeError, "only bool and floating types"),
    ("transformer", {}, dict(tgt_mask=np.zeros((S, S), bool)), RuntimeError, "The shape of the 2D attn_mask"),
    ("transformer", {}, dict(memory_key_padding_mask=np.zeros((N, T), bool)), AssertionError,
     "expecting key_padding_mask shape"),
    ("transformer", {}, dict(tgt_is_causal=True), RuntimeError, "Need attn_mask"),
    ("transformer", {}, dict(src_mask=np.zeros((S, S), np.float32)), None, None),  # float32 masks are fine
]


@pytest.mark.parametrize("kind,cfg,kw,exc,match", BAD_CALLS,
                         ids=[f"{b[0]}-{'-'.join(b[2])}-{i}" for i, b in enumerate(BAD_CALLS)])
def test_bad_masks_raise_as_torch(kind, cfg, kw, exc, match):
    ours, theirs = call_pair(kind, cfg, kw)
    if exc is None:
        close(ours(), theirs(), np.float64, "output")
        return
    both_raise(exc, ours, theirs, match)


FAST_BAD_CALLS = [
    # eval mode without gradients: torch's fused kernel and nested-tensor checks
    ("encoder_layer", dict(src_mask=np.zeros((4, 4), bool)), RuntimeError, "attn_mask"),
    ("encoder_layer", dict(src_key_padding_mask=np.zeros((N, 4), bool)), RuntimeError, "key_padding_mask"),
    ("encoder_layer", dict(src_mask=np.zeros((S, S), np.int64)), AssertionError, "only bool and floating"),
    ("encoder", dict(src_key_padding_mask=np.zeros((N, 4), bool)), RuntimeError, "Mask size should match input size"),
    ("encoder", dict(src_key_padding_mask=np.zeros(S, bool)), RuntimeError, "Padding mask should be 2D"),
    ("encoder", dict(src_key_padding_mask=np.ones((N, S), bool)), RuntimeError,
     "at least one constituent tensor should have non-zero numel"),
]


@pytest.mark.parametrize("mask_check", [True, False])
@pytest.mark.parametrize("kind,kw,exc,match", FAST_BAD_CALLS, ids=[f"{b[0]}-{i}" for i, b in enumerate(FAST_BAD_CALLS)])
def test_bad_masks_on_torchs_fast_paths_raise_as_torch(kind, kw, exc, match, mask_check):
    ours, theirs = call_pair(kind, dict(batch_first=True, mask_check=mask_check), kw, mode="no_grad")
    both_raise(exc, ours, theirs, match)


def test_bad_shapes_of_transformer_inputs_raise_as_torch():
    rng = np.random.default_rng(1)
    src, tgt = rng.standard_normal((S, N, E)), rng.standard_normal((T, N, E))
    cases = [  # (src, tgt, exception, our message)
        (src, tgt[:, :2], RuntimeError, "Transformer: the batch number of src and tgt must be equal"),
        (src, tgt[:, 0], RuntimeError, "the batch number of src and tgt must be equal"),
        (src[..., :4], tgt, RuntimeError, "the feature number of src and tgt must be equal to d_model"),
        (src, tgt[..., :4], RuntimeError, "the feature number of src and tgt must be equal to d_model"),
        (src[:, 0], tgt, AssertionError, "For batched \\(3-D\\) `query`, expected `key` and `value` to be 3-D"),
        (src[0, 0], tgt, IndexError, "Dimension out of range"),
    ]
    for a, b, exc, match in cases:
        ours, theirs = call_pair("transformer", {}, {}, args=[a, b])
        both_raise(exc, ours, theirs, match)
    ours, theirs = call_pair("transformer", dict(batch_first=True), {},
                             args=[src.swapaxes(0, 1), tgt[:, :2].swapaxes(0, 1)])
    both_raise(RuntimeError, ours, theirs, "the batch number of src and tgt must be equal")
    ours, theirs = call_pair("encoder_layer", {}, {}, args=[src[None]])
    both_raise(AssertionError, ours, theirs, "query should be unbatched 2D or batched 3D")
    ours, theirs = call_pair("encoder_layer", {}, {}, args=[src.astype(np.float32)])
    both_raise(RuntimeError, ours, theirs, "dtype")


# ---------------------------------------------------------------- training
def test_training_steps_match_torch():
    """Five SGD steps on a Transformer with embeddings: the same losses as torch, step by step."""
    rng = np.random.default_rng(0)
    V = 7
    ours_emb, theirs_emb = nn.Embedding(V, E, dtype=np.float64), torch.nn.Embedding(V, E, dtype=torch.float64)
    ours_emb.load_state_dict({"weight": theirs_emb.weight.detach().numpy()})
    ours, theirs = make_pair("transformer", np.float64, dict(batch_first=True))
    ours_head, theirs_head = nn.Linear(E, V, dtype=np.float64), torch.nn.Linear(E, V, dtype=torch.float64)
    ours_head.load_state_dict({n: t.detach().numpy() for n, t in theirs_head.state_dict().items()})
    src, tgt = rng.integers(0, V, (N, S)), rng.integers(0, V, (N, T))
    causal = nn.Transformer.generate_square_subsequent_mask(T, dtype=tb.float64)
    mods = (ours_emb, ours, ours_head)
    tmods = (theirs_emb, theirs, theirs_head)
    opt = optim.SGD([p for m in mods for p in m.parameters()], lr=0.1)
    topt = torch.optim.SGD([p for m in tmods for p in m.parameters()], lr=0.1)
    for _ in range(5):
        out = ours_head(ours(ours_emb(tb.tensor(src)), ours_emb(tb.tensor(tgt)), tgt_mask=causal))
        loss = nn.functional.cross_entropy(out.reshape(-1, V), tb.tensor(tgt.reshape(-1)))
        tout = theirs_head(theirs(theirs_emb(torch.tensor(src)), theirs_emb(torch.tensor(tgt)),
                                  tgt_mask=torch.tensor(causal.numpy())))
        tloss = torch.nn.functional.cross_entropy(tout.reshape(-1, V), torch.tensor(tgt.reshape(-1)))
        close(loss, tloss, np.float64, "loss")
        for o, l in ((opt, loss), (topt, tloss)):
            o.zero_grad()
            l.backward()
            o.step()


def test_tiny_transformer_learns_to_copy():
    """A one-layer transformer learns to copy a random sequence (teacher forcing); the loss must fall
    from about log(V) to a small fraction of it."""
    rng = np.random.default_rng(0)
    V, L, B, BOS = 6, 5, 32, 6  # tokens 0..5, BOS token 6
    emb = nn.Embedding(V + 1, 16)
    model = nn.Transformer(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=32,
                           dropout=0.0, batch_first=True)
    pos = nn.Embedding(L, 16)
    head = nn.Linear(16, V)
    params = [p for m in (emb, model, pos, head) for p in m.parameters()]
    opt = optim.Adam(params, lr=0.01)
    causal = nn.Transformer.generate_square_subsequent_mask(L)
    positions = tb.tensor(np.arange(L))
    losses = []
    for step in range(120):
        seqs = rng.integers(0, V, (B, L))
        dec_in = np.concatenate([np.full((B, 1), BOS), seqs[:, :-1]], 1)
        src = emb(tb.tensor(seqs)) + pos(positions)
        tgt = emb(tb.tensor(dec_in)) + pos(positions)
        logits = head(model(src, tgt, tgt_mask=causal))
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), tb.tensor(seqs.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    first, last = np.mean(losses[:5]), np.mean(losses[-10:])
    assert first > 0.8 * math.log(V)
    assert last < 0.25 * first, (first, last)
    model.eval()
    with tb.no_grad():  # greedy decoding copies a fresh sequence
        seqs = rng.integers(0, V, (8, L))
        memory = model.encoder(emb(tb.tensor(seqs)) + pos(positions))
        out = np.full((8, 1), BOS)
        for i in range(L):
            tgt = emb(tb.tensor(out)) + pos(positions[:i + 1])
            step = head(model.decoder(tgt, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(i + 1)))
            out = np.concatenate([out, step.numpy()[:, -1:].argmax(-1)], 1)
    assert (out[:, 1:] == seqs).mean() > 0.9


def test_deepcopy_and_state_dict_round_trip():
    ours, theirs = make_pair("transformer", np.float64, dict(batch_first=True))
    clone = copy.deepcopy(ours)
    x = np.random.default_rng(0).standard_normal((N, S, E))
    y = np.random.default_rng(1).standard_normal((N, T, E))
    np.testing.assert_array_equal(clone(tb.tensor(x), tb.tensor(y)).detach().numpy(),
                                  ours(tb.tensor(x), tb.tensor(y)).detach().numpy())
    back = build(torch, "transformer", np.float64, dict(batch_first=True))
    back.load_state_dict({n: torch.tensor(a) for n, a in clone.state_dict().items()})
    close(ours(tb.tensor(x), tb.tensor(y)), back(torch.tensor(x), torch.tensor(y)), np.float64, "output")
