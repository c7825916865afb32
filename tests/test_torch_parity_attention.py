"""Attention against PyTorch: scaled_dot_product_attention and MultiheadAttention.

Weights move through state_dict in both directions; outputs, attention weights and
the gradient of every parameter and input are compared.  A query whose every key is
masked gets NaN in MultiheadAttention with need_weights=True and zeros otherwise, in
both libraries (tests at the end); the other masks leave each query at least one key.
"""
import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn
from tinybptt.nn import functional as F

TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}
TORCH_DTYPE = {np.float64: torch.float64, np.float32: torch.float32}


def close(ours, theirs, dtype, what):
    a = ours.detach().numpy() if isinstance(ours, tb.Tensor) else np.asarray(ours)
    b = theirs.detach().numpy()
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **TOL[dtype])


def pair(array, dtype, grad=True):
    """The same values as a tinybptt and a torch leaf."""
    a = np.asarray(array, dtype)
    return tb.tensor(a, requires_grad=grad), torch.tensor(a, requires_grad=grad)


def as_torch(x):
    return torch.tensor(x) if isinstance(x, np.ndarray) else x


# ---------------------------------------------------------------- scaled_dot_product_attention
SDPA_CASES = {
    "plain": dict(),
    "bool_mask": dict(mask="bool"),
    "float_mask": dict(mask="float"),
    "broadcast_mask": dict(mask="bool_heads"),
    "causal": dict(is_causal=True),
    "causal_rectangular": dict(is_causal=True, L=3, S=6),
    "scale": dict(scale=0.25),
    "gqa": dict(gqa=True),
    "value_dim": dict(Ev=7),
    "three_dims": dict(shape=(3,)),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_parity(rng, case, dtype):
    cfg = SDPA_CASES[case]
    L, S, E, Ev = cfg.get("L", 5), cfg.get("S", 6), 4, cfg.get("Ev", 4)
    lead = cfg.get("shape", (2, 4))
    kv_lead = (2, 2) if cfg.get("gqa") else lead
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal(s), dtype) for s in
                                 (lead + (L, E), kv_lead + (S, E), kv_lead + (S, Ev)))
    kw = {}
    if cfg.get("mask") == "bool":
        m = rng.random((L, S)) < 0.6
        m[:, 2] = True
        kw["attn_mask"] = m
    elif cfg.get("mask") == "bool_heads":
        m = rng.random(lead[:-1] + (1, L, S)) < 0.6
        m[..., 0] = True
        kw["attn_mask"] = m
    elif cfg.get("mask") == "float":
        kw["attn_mask"] = rng.standard_normal((L, S)).astype(dtype)
    for name in ("is_causal", "scale"):
        if name in cfg:
            kw[name] = cfg[name]
    if cfg.get("gqa"):
        kw["enable_gqa"] = True
    out = F.scaled_dot_product_attention(q, k, v, **kw)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **{n: as_torch(x) for n, x in kw.items()})
    close(out, tout, dtype, "output")
    g = rng.standard_normal(out.shape).astype(dtype)
    out.backward(tb.tensor(g))
    tout.backward(torch.tensor(g))
    for name, a, b in (("query", q, tq), ("key", k, tk), ("value", v, tv)):
        close(a.grad, b.grad, dtype, f"grad of {name}")


def test_sdpa_fully_masked_row_is_zero_like_torch_sdpa(rng):
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal((3, 4)), np.float64) for _ in range(3))
    m = np.ones((3, 3), bool)
    m[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=torch.tensor(m))
    close(out, tout, np.float64, "output")
    np.testing.assert_array_equal(out.detach().numpy()[1], 0)


def test_sdpa_learnable_float_mask_gradient(rng):
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal((2, 3, 4)), np.float64) for _ in range(3))
    b, tbias = pair(rng.standard_normal((3, 3)), np.float64)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=b)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tbias)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    close(b.grad, tbias.grad, np.float64, "grad of the float mask")


# PyTorch 2.13 on CPU applies attn_mask together with is_causal only on its flash kernel's path
# (4-D inputs of one batch size, head count and last dim, no dropout, a 2-D or 4-D mask needing no
# grad); every other combination raises.
MASK_AND_CAUSAL = {
    "4d_2d_mask": dict(),
    "4d_4d_mask": dict(mask=(2, 1, 5, 6)),
    "4d_broadcast_mask": dict(mask=(1, 3, 1, 6)),
    "4d_taller": dict(L=7, S=3),
    "4d_gqa": dict(kv_heads=1, gqa=True),
    "3d_inputs": dict(q=(3,), raises=True),
    "value_dim_differs": dict(Ev=5, raises=True),
    "3d_mask": dict(mask=(3, 5, 6), raises=True),
    "key_batch_broadcast": dict(kv=(1, 3), raises=True),
    "dropout": dict(dropout_p=0.5, raises=True),
    "mask_requires_grad": dict(mask_grad=True, raises=True),
}


@pytest.mark.parametrize("case", list(MASK_AND_CAUSAL))
def test_sdpa_attn_mask_with_is_causal_accepted_and_rejected_as_torch(rng, case):
    cfg = MASK_AND_CAUSAL[case]
    L, S, E = cfg.get("L", 5), cfg.get("S", 6), 4
    lead = cfg.get("q", (2, 3))
    kv = cfg.get("kv", (lead[0], cfg.get("kv_heads", lead[-1])) if len(lead) == 2 else lead)
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal(s), np.float64) for s in
                                 (lead + (L, E), kv + (S, E), kv + (S, cfg.get("Ev", E))))
    shape = cfg.get("mask", (L, S))
    if cfg.get("mask_grad"):
        m, tm = pair(rng.standard_normal(shape), np.float64)
    else:
        m = rng.random(shape) < 0.7
        m[..., 0] = True
        tm = torch.tensor(m)
    kw = dict(is_causal=True, dropout_p=cfg.get("dropout_p", 0.0), enable_gqa=cfg.get("gqa", False))
    if cfg.get("raises"):
        with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
            torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kw)
        with pytest.raises(RuntimeError, match=r"Explicit attn_mask should not be set when is_causal=True.*query"):
            F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw)
        return
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kw)
    close(out, tout, np.float64, "output")
    g = rng.standard_normal(out.shape)
    out.backward(tb.tensor(g))
    tout.backward(torch.tensor(g))
    for name, a, b in (("query", q, tq), ("key", k, tk), ("value", v, tv)):
        close(a.grad, b.grad, np.float64, f"grad of {name}")


@pytest.mark.parametrize("qdtype, mask, exc", [
    (np.float32, np.zeros((5, 6)), RuntimeError),  # a float64 mask for a float32 query
    (np.float32, np.zeros((1, 6)), RuntimeError),
    (np.float64, np.zeros((5, 6), np.int64), RuntimeError),
    (np.float64, np.zeros((5, 6), np.float32), None),  # float32 masks are fine for any query
    (np.float32, np.zeros((5, 6), np.float32), None),
    (np.float32, np.zeros((5, 6), bool), None),
], ids=["f64_mask_f32_query", "f64_row_mask_f32_query", "int_mask", "f32_mask_f64_query", "f32_both", "bool"])
def test_sdpa_mask_dtypes_checked_as_torch(rng, qdtype, mask, exc):
    (q, tq), (k, tk) = pair(rng.standard_normal((2, 5, 4)), qdtype), pair(rng.standard_normal((2, 6, 4)), qdtype)
    if exc is not None:
        with pytest.raises(exc):
            torch.nn.functional.scaled_dot_product_attention(tq, tk, tk, attn_mask=torch.tensor(mask))
        with pytest.raises(exc, match="scaled_dot_product_attention: Expected attn_mask dtype to be bool or float"):
            F.scaled_dot_product_attention(q, k, k, attn_mask=mask)
        return
    out = F.scaled_dot_product_attention(q, k, k, attn_mask=tb.tensor(mask))
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tk, attn_mask=torch.tensor(mask))
    close(out, tout, qdtype, "output")


def test_sdpa_gqa_repeats_key_and_value_heads_separately(rng):
    (q, tq), (k, tk), (v, tv) = (pair(rng.standard_normal(s), np.float64) for s in
                                 ((2, 4, 5, 3), (2, 4, 6, 3), (2, 2, 6, 3)))
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)
    close(out, tout, np.float64, "output")
    out.sum().backward()
    tout.sum().backward()
    close(v.grad, tv.grad, np.float64, "grad of value")


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 4), (2, 3, 4, 5)])
def test_softmax_implicit_dim_and_zero_dim_as_torch(rng, fn, shape):
    x, tx = pair(rng.standard_normal(shape), np.float64)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        out = getattr(F, fn)(x)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        tout = getattr(torch.nn.functional, fn)(tx)
    close(out, tout, np.float64, "output")
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    close(x.grad, tx.grad, np.float64, "grad")


# ---------------------------------------------------------------- MultiheadAttention
MHA_CASES = {
    "plain": dict(),
    "batch_first": dict(batch_first=True),
    "kdim_vdim": dict(kdim=3, vdim=5),
    "kdim_vdim_batch_first": dict(kdim=3, vdim=5, batch_first=True, kpm=True),
    "key_padding_mask_bool": dict(kpm=True),
    "key_padding_mask_float": dict(kpm="float"),
    "attn_mask_bool": dict(am="bool"),
    "attn_mask_float": dict(am="float"),
    "attn_mask_3d": dict(am="3d"),
    "both_masks": dict(am="bool", kpm=True),
    "causal_self_attention": dict(self_attn=True, am="causal", batch_first=True),
    "causal_need_weights_false": dict(self_attn=True, am="causal", need_weights=False),
    # the is_causal hint without key_padding_mask and weights: torch's causal mask also hides
    # the bias_k / zero keys appended after the last key
    "causal_hint_bias_kv": dict(self_attn=True, am="causal", need_weights=False, add_bias_kv=True),
    "causal_hint_zero_attn": dict(self_attn=True, am="causal", need_weights=False, add_zero_attn=True,
                                  batch_first=True),
    "causal_hint_with_padding": dict(self_attn=True, am="causal", need_weights=False, add_bias_kv=True,
                                     kpm=True),
    "per_head_weights": dict(average=False, kpm=True),
    "need_weights_false": dict(need_weights=False, am="float", kpm="float"),
    "unbatched": dict(unbatched=True, kpm="float", am="3d"),
    "no_bias": dict(bias=False, am="bool"),
    "add_bias_kv": dict(add_bias_kv=True, kpm=True, am="bool"),
    "add_zero_attn": dict(add_zero_attn=True, am="float"),
    "one_head": dict(heads=1, self_attn=True),
}


def make_pair(cfg, dtype, direction, E=8):
    kw = {n: cfg[n] for n in ("batch_first", "kdim", "vdim", "bias", "add_bias_kv", "add_zero_attn") if n in cfg}
    heads = cfg.get("heads", 2)
    theirs = torch.nn.MultiheadAttention(E, heads, dtype=TORCH_DTYPE[dtype], **kw)
    ours = nn.MultiheadAttention(E, heads, dtype=dtype, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if direction == "torch_to_ours":
        with torch.no_grad():  # nonzero biases, so that their gradients and effects are tested too
            for p in theirs.parameters():
                if p.ndim == 1:
                    p.normal_()
        ours.load_state_dict({n: t.detach().numpy() for n, t in theirs.state_dict().items()})
    else:
        with tb.no_grad():
            for p in ours.parameters():
                if p.ndim == 1:
                    p.normal_()
        theirs.load_state_dict({n: torch.tensor(a) for n, a in ours.state_dict().items()})
    return ours, theirs


def mha_inputs(rng, cfg, dtype, E=8, L=5, S=6, N=3):
    heads = cfg.get("heads", 2)
    S = L if cfg.get("self_attn") else S
    unbatched, bf = cfg.get("unbatched", False), cfg.get("batch_first", False)

    def shape(T, d):
        return (T, d) if unbatched else (N, T, d) if bf else (T, N, d)
    q = pair(rng.standard_normal(shape(L, E)), dtype)
    if cfg.get("self_attn"):
        k = v = q
    else:
        k = pair(rng.standard_normal(shape(S, cfg.get("kdim", E))), dtype)
        v = pair(rng.standard_normal(shape(S, cfg.get("vdim", E))), dtype)
    kw = {}
    if cfg.get("kpm"):
        pad = rng.random((S,) if unbatched else (N, S)) < 0.4
        pad[..., 1] = False  # every query keeps a key
        kw["key_padding_mask"] = pad if cfg["kpm"] is True else np.where(pad, -np.inf, 0.0).astype(dtype)
    am = cfg.get("am")
    if am == "bool":
        forbid = rng.random((L, S)) < 0.4
        forbid[:, 1] = False
        kw["attn_mask"] = forbid
    elif am == "float":
        kw["attn_mask"] = rng.standard_normal((L, S)).astype(dtype)
    elif am == "3d":
        kw["attn_mask"] = rng.standard_normal(((1 if unbatched else N) * heads, L, S)).astype(dtype)
    elif am == "causal":
        kw["attn_mask"] = np.triu(np.ones((L, L), bool), 1)
        kw["is_causal"] = True
    return (q, k, v), kw


@pytest.mark.parametrize("direction", ["torch_to_ours", "ours_to_torch"])
@pytest.mark.parametrize("case", list(MHA_CASES))
def test_multihead_attention_parity(rng, case, direction):
    cfg = MHA_CASES[case]
    dtype = np.float64
    ours, theirs = make_pair(cfg, dtype, direction)
    ((q, tq), (k, tk), (v, tv)), kw = mha_inputs(rng, cfg, dtype)
    need, average = cfg.get("need_weights", True), cfg.get("average", True)
    out, w = ours(q, k, v, need_weights=need, average_attn_weights=average, **kw)
    tout, tw = theirs(tq, tk, tv, need_weights=need, average_attn_weights=average,
                      **{n: as_torch(x) for n, x in kw.items()})
    close(out, tout, dtype, "attn_output")
    assert (w is None) == (tw is None)
    g = rng.standard_normal(out.shape)
    loss = (out * tb.tensor(g)).sum()
    tloss = (tout * torch.tensor(g)).sum()
    if w is not None:
        close(w, tw, dtype, "attn_weights")
        gw = rng.standard_normal(w.shape)
        loss = loss + (w * tb.tensor(gw)).sum()  # gradients through the returned weights too
        tloss = tloss + (tw * torch.tensor(gw)).sum()
    loss.backward()
    tloss.backward()
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, dtype, f"grad of {name}")
    for name, a, b in (("query", q, tq), ("key", k, tk), ("value", v, tv)):
        close(a.grad, b.grad, dtype, f"grad of {name}")


@pytest.mark.parametrize("need_weights", [True, False])
def test_multihead_attention_learnable_float_masks_get_gradients(rng, need_weights):
    cfg = dict(add_bias_kv=True, add_zero_attn=True)
    ours, theirs = make_pair(cfg, np.float64, "torch_to_ours")
    ((q, tq), (k, tk), (v, tv)), _ = mha_inputs(rng, cfg, np.float64)
    (am, tam), (kp, tkp) = pair(rng.standard_normal((6, 5, 6)), np.float64), pair(rng.standard_normal((3, 6)), np.float64)
    out, _ = ours(q, k, v, attn_mask=am, key_padding_mask=kp, need_weights=need_weights)
    tout, _ = theirs(tq, tk, tv, attn_mask=tam, key_padding_mask=tkp, need_weights=need_weights)
    close(out, tout, np.float64, "attn_output")
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    close(am.grad, tam.grad, np.float64, "grad of attn_mask")
    close(kp.grad, tkp.grad, np.float64, "grad of key_padding_mask")


def test_multihead_attention_key_padding_mask_dims_checked_as_torch(rng):
    ours, theirs = make_pair({}, np.float64, "torch_to_ours")
    for unbatched, pad in ((False, np.zeros(6, bool)), (True, np.zeros((1, 6), bool))):
        ((q, tq), (k, tk), (v, tv)), _ = mha_inputs(rng, dict(unbatched=unbatched), np.float64)
        with pytest.raises(AssertionError, match="expected `key_padding_mask` to be `None` or"):
            theirs(tq, tk, tv, key_padding_mask=torch.tensor(pad))
        with pytest.raises(AssertionError, match=r"MultiheadAttention: For .* `query`, expected `key_padding_mask` "
                                                 r"to be `None` or [12]-D but found [12]-D"):
            ours(q, k, v, key_padding_mask=pad)


def test_multihead_attention_float32_training_step_parity(rng):
    cfg = dict(batch_first=True, self_attn=True, am="causal")
    ours, theirs = make_pair(cfg, np.float32, "torch_to_ours", E=16)
    ((x, tx), _, _), kw = mha_inputs(rng, cfg, np.float32, E=16, L=12, N=4)
    out, _ = ours(x, x, x, need_weights=False, **kw)
    tout, _ = theirs(tx, tx, tx, need_weights=False, **{n: as_torch(a) for n, a in kw.items()})
    close(out, tout, np.float32, "attn_output")
    (out * out).mean().backward()
    (tout * tout).mean().backward()
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        close(p.grad, theirs_params[name].grad, np.float32, f"grad of {name}")
    close(x.grad, tx.grad, np.float32, "grad of x")


def test_multihead_attention_dropout_statistics_match_torch(rng):
    """Dropout masks differ between frameworks; the kept fraction and the scaling must not."""
    ours = nn.MultiheadAttention(8, 2, dropout=0.3, batch_first=True).requires_grad_(False)
    theirs = torch.nn.MultiheadAttention(8, 2, dropout=0.3, batch_first=True)
    ours.load_state_dict({n: t.detach().numpy() for n, t in theirs.state_dict().items()})
    x = rng.standard_normal((16, 10, 8)).astype(np.float32)
    _, w = ours(tb.tensor(x), tb.tensor(x), tb.tensor(x), average_attn_weights=False)
    with torch.no_grad():
        _, tw = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x), average_attn_weights=False)
    ours.eval()
    theirs.eval()
    _, w_eval = ours(tb.tensor(x), tb.tensor(x), tb.tensor(x), average_attn_weights=False)
    with torch.no_grad():
        _, tw_eval = theirs(torch.tensor(x), torch.tensor(x), torch.tensor(x), average_attn_weights=False)
    close(w_eval, tw_eval, np.float32, "eval weights")
    for weights in (w.numpy(), tw.numpy()):
        kept = weights != 0
        assert abs(kept.mean() - 0.7) < 0.03
        np.testing.assert_allclose(weights[kept], w_eval.numpy()[kept] / 0.7, rtol=1e-4)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mask", ["attn_mask", "key_padding_mask"])
def test_multihead_attention_fully_masked_query_like_torch(rng, need_weights, mask):
    """torch 2.13: NaN for that query with need_weights=True (an explicit softmax), zeros (then the
    output projection's bias) with need_weights=False (its SDPA); the other queries are untouched."""
    ours, theirs = make_pair({}, np.float64, "torch_to_ours")
    ((q, tq), (k, tk), (v, tv)), _ = mha_inputs(rng, {}, np.float64)
    if mask == "attn_mask":
        forbid = np.zeros((5, 6), bool)
        forbid[2] = True
        kw, tkw = dict(attn_mask=forbid), dict(attn_mask=torch.tensor(forbid))
    else:
        pad = np.zeros((3, 6), bool)
        pad[1] = True  # every key of batch element 1 is padding
        kw, tkw = dict(key_padding_mask=pad), dict(key_padding_mask=torch.tensor(pad))
    out, w = ours(q, k, v, need_weights=need_weights, **kw)
    tout, tw = theirs(tq, tk, tv, need_weights=need_weights, **tkw)
    a, b = out.detach().numpy(), tout.detach().numpy()
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    assert np.isnan(b).any() == need_weights
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)  # NaN where torch has NaN
    if need_weights:
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("qdtype", [np.float32, np.float64])
@pytest.mark.parametrize("masks", [("f32", None), ("f64", None), (None, "f32"), ("bool", "f32"), ("f32", "f64"),
                                   ("bool", "bool"), ("f64", "bool")])
def test_multihead_attention_mask_dtypes_checked_and_warned_as_torch(rng, masks, qdtype, need_weights):
    """A float mask must have the query's dtype with need_weights=True (torch's baddbmm), the query's
    dtype or float32 without (its SDPA); masks of two dtypes give torch's deprecation warning."""
    import warnings

    def make(kind, shape):
        if kind is None:
            return None
        m = np.zeros(shape, bool)
        m[..., -1] = True
        return m if kind == "bool" else np.where(m, -np.inf, 0.0).astype({"f32": np.float32, "f64": np.float64}[kind])
    am, kpm = make(masks[0], (5, 6)), make(masks[1], (3, 6))
    outcomes = []
    for lib, dtype in ((torch, TORCH_DTYPE[qdtype]), (tb, qdtype)):
        mha = lib.nn.MultiheadAttention(8, 2, dtype=dtype)
        q, k = (lib.tensor(rng.standard_normal(s).astype(qdtype)) for s in ((5, 3, 8), (6, 3, 8)))
        kw = {n: lib.tensor(m) for n, m in (("attn_mask", am), ("key_padding_mask", kpm)) if m is not None}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                mha(q, k, k, need_weights=need_weights, **kw)
                raised = None
            except RuntimeError as e:
                raised = str(e)
        outcomes.append((raised is None, any("Support for mismatched key_padding_mask and attn_mask" in str(w.message)
                                             for w in caught)))
        if raised is not None and lib is tb:
            assert raised.startswith("MultiheadAttention") and "dtype" in raised
    assert outcomes[0] == outcomes[1]


FAST_PATH_CASES = {  # torch's fast path runs for the first three only
    "eval_no_grad": dict(),
    "eval_frozen": dict(frozen=True),
    "eval_no_grad_with_attn_mask": dict(attn_mask=True),
    "training": dict(train=True),
    "seq_first": dict(batch_first=False),
    "odd_heads": dict(heads=1),
    "query_requires_grad": dict(frozen=True, query_grad=True),
    "cross_attention": dict(cross=True),
    "add_zero_attn": dict(add_zero_attn=True),
}


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("case", list(FAST_PATH_CASES))
def test_multihead_attention_fully_padded_sequence_on_torchs_fast_path(rng, case, need_weights):
    """torch's fast path (eval, batch-first self-attention, nothing to record) gives NaN for a query whose
    every key is padding even with need_weights=False, where its ordinary path gives zeros."""
    cfg = FAST_PATH_CASES[case]
    bf, heads = cfg.get("batch_first", True), cfg.get("heads", 2)
    pad = np.zeros((3, 5), bool)
    pad[1] = True
    pad[0, 3:] = True
    x = rng.standard_normal((3, 5, 8) if bf else (5, 3, 8))
    results = []
    for lib, dtype in ((torch, torch.float64), (tb, np.float64)):
        mha = lib.nn.MultiheadAttention(8, heads, batch_first=bf, add_zero_attn=cfg.get("add_zero_attn", False),
                                        dtype=dtype)
        if lib is tb:
            mha.load_state_dict(theirs_state)
        theirs_state = mha.state_dict()
        mha.train(cfg.get("train", False))
        if cfg.get("frozen"):
            mha.requires_grad_(False)
        q = lib.tensor(x, requires_grad=cfg.get("query_grad", False))
        kv = lib.tensor(x.copy()) if cfg.get("cross") else q
        kw = dict(key_padding_mask=lib.tensor(pad), need_weights=need_weights)
        if cfg.get("attn_mask"):
            kw = dict(attn_mask=lib.tensor(np.eye(5, dtype=bool)), need_weights=need_weights)
        grad_mode = lib.enable_grad() if cfg.get("frozen") or cfg.get("train") else lib.no_grad()
        with grad_mode:
            out, w = mha(q, kv, kv, **kw)
        results.append((out.detach().numpy(), None if w is None else w.detach().numpy()))
    (a, wa), (b, wb) = results
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if need_weights:
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "cross_entropy"])
def test_fully_masked_softmax_row_is_nan_like_torch(fn):
    x = np.array([[-np.inf] * 3, [1.0, 2.0, 3.0]])
    results = []
    for L, FF in ((torch, torch.nn.functional), (tb, F)):
        t = L.tensor(x, requires_grad=True)
        y = FF.cross_entropy(t, L.tensor([0, 1]), reduction="none") if fn == "cross_entropy" else getattr(FF, fn)(t, -1)
        (y * L.tensor(np.arange(1.0, y.numel() + 1).reshape(y.shape))).sum().backward()
        results.append((y.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
