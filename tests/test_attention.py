"""Attention: SDPA, MultiheadAttention, additive and dot attention, the seq2seq model, softmax kernels.

Oracles: finite differences in float64 (gradcheck, over inputs and module parameters)
and numpy references written here.  PyTorch parity lives in test_torch_parity_attention.py.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinybptt as tb
from tinybptt import nn
from tinybptt.nn import functional as F
from tinybptt.nn.attention import AttentionShapeError
from tinybptt.models import Seq2Seq


def t64(rng, *shape, grad=True):
    return tb.tensor(rng.standard_normal(shape), dtype=tb.float64, requires_grad=grad)


def check_module_grads(module, inputs, call):
    """gradcheck over every parameter of ``module`` and the tensor ``inputs`` of ``call(*inputs)``."""
    named = list(module.named_parameters())

    def owner(name):
        m = module
        for part in name.split(".")[:-1]:
            m = getattr(m, part)
        return m, name.split(".")[-1]

    def fn(*args):
        for (name, _), a in zip(named, args):
            m, leaf = owner(name)
            m._parameters[leaf] = a  # the forward reads the gradcheck's leaves
        return call(*args[len(named):])
    try:
        assert tb.gradcheck(fn, [p for _, p in named] + list(inputs))
    finally:
        for name, p in named:
            m, leaf = owner(name)
            m._parameters[leaf] = p


# ---------------------------------------------------------------- numpy references
def np_softmax(s):
    s = s - np.max(np.where(np.isfinite(s), s, -1e300), -1, keepdims=True)
    e = np.exp(s)
    total = e.sum(-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def np_sdpa(q, k, v, bias=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale
    if bias is not None:
        s = s + bias
    return np_softmax(s) @ v


MASKS = ["none", "bool", "float", "causal", "scale"]


def sdpa_case(rng, kind, L=4, S=5):
    """kwargs for SDPA and the matching additive bias for the numpy reference."""
    if kind == "bool":
        m = rng.random((L, S)) < 0.7
        m[:, 0] = True
        return {"attn_mask": tb.tensor(m)}, np.where(m, 0.0, -np.inf), None
    if kind == "float":
        b = rng.standard_normal((L, S))
        return {"attn_mask": tb.tensor(b, dtype=tb.float64)}, b, None
    if kind == "causal":
        return {"is_causal": True}, np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf), None
    if kind == "scale":
        return {"scale": 0.3}, None, 0.3
    return {}, None, None


# ---------------------------------------------------------------- scaled_dot_product_attention
@pytest.mark.parametrize("kind", MASKS)
def test_sdpa_matches_numpy(rng, kind):
    q, k, v = rng.standard_normal((2, 3, 4, 6)), rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((2, 3, 5, 7))
    kw, bias, scale = sdpa_case(rng, kind)
    out = F.scaled_dot_product_attention(tb.tensor(q), tb.tensor(k), tb.tensor(v), **kw)
    assert out.shape == (2, 3, 4, 7)
    np.testing.assert_allclose(out.numpy(), np_sdpa(q, k, v, bias, scale), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", MASKS)
def test_sdpa_gradcheck(rng, kind):
    kw, _, _ = sdpa_case(rng, kind)
    q, k, v = t64(rng, 2, 4, 3), t64(rng, 2, 5, 3), t64(rng, 2, 5, 2)
    assert tb.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw), (q, k, v))


def test_sdpa_gradcheck_learnable_float_mask_and_broadcast(rng):
    # batch dims broadcast (key/value shared over heads), and a float mask that requires grad
    q, k, v = t64(rng, 2, 3, 4, 3), t64(rng, 2, 1, 5, 3), t64(rng, 1, 1, 5, 2)
    bias = t64(rng, 4, 5)
    assert tb.gradcheck(lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=b), (q, k, v, bias))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_sdpa_broadcasting_property(data):
    """Leading dims of query, key, value and mask broadcast as numpy's matmul and addition do."""
    batch = data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=2), label="batch")
    L, S, E = (data.draw(st.integers(1, 4), label=n) for n in "LSE")

    def dims(full):  # each leading dim kept or squeezed to 1, possibly fewer dims
        kept = [d if data.draw(st.booleans()) else 1 for d in full]
        return tuple(kept[data.draw(st.integers(0, len(kept))):])
    r = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    q = r.standard_normal(tuple(batch) + (L, E))
    k, v = r.standard_normal(dims(batch) + (S, E)), r.standard_normal(dims(batch) + (S, 2))
    mask = r.random(dims(batch) + (L, S)) < 0.7
    out = F.scaled_dot_product_attention(tb.tensor(q), tb.tensor(k), tb.tensor(v), attn_mask=mask)
    ref = np_sdpa(q, k, v, np.where(mask, 0.0, -np.inf))
    assert out.shape == ref.shape
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_sdpa_grouped_query_attention(rng):
    q, k, v = rng.standard_normal((2, 4, 3, 5)), rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((2, 2, 6, 3))
    out = F.scaled_dot_product_attention(tb.tensor(q), tb.tensor(k), tb.tensor(v), enable_gqa=True)
    ref = np_sdpa(q, np.repeat(k, 2, axis=1), np.repeat(v, 2, axis=1))
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-10)
    a, b, c = t64(rng, 1, 4, 2, 3), t64(rng, 1, 2, 3, 3), t64(rng, 1, 2, 3, 2)
    assert tb.gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, enable_gqa=True), (a, b, c))


def test_sdpa_masked_positions_get_zero_weight_and_zero_gradient(rng):
    q, k, v = t64(rng, 3, 4), t64(rng, 5, 4), t64(rng, 5, 2)
    allowed = np.ones((3, 5), bool)
    allowed[:, 3:] = False          # keys 3 and 4 hidden from every query
    allowed[1] = False              # query 1 sees nothing: zeros, not NaN
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    assert np.all(np.isfinite(out.detach().numpy()))
    np.testing.assert_array_equal(out.detach().numpy()[1], 0.0)
    out.sum().backward()
    np.testing.assert_array_equal(k.grad.numpy()[3:], 0.0)
    np.testing.assert_array_equal(v.grad.numpy()[3:], 0.0)
    np.testing.assert_array_equal(q.grad.numpy()[1], 0.0)
    # a masked key's value never matters: changing it leaves the output unchanged
    v2 = v.detach().numpy().copy()
    v2[3:] += 100
    out2 = F.scaled_dot_product_attention(q.detach(), k.detach(), tb.tensor(v2), attn_mask=allowed)
    np.testing.assert_array_equal(out2.numpy(), out.detach().numpy())


def test_sdpa_fully_masked_rows_gradcheck(rng):
    allowed = rng.random((3, 4)) < 0.6
    allowed[0] = False
    q, k, v = t64(rng, 3, 2), t64(rng, 4, 2), t64(rng, 4, 3)
    assert tb.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=allowed), (q, k, v))


def test_sdpa_dropout(rng):
    q, k, v = (tb.tensor(rng.standard_normal((2, 6, 4))) for _ in range(3))
    assert np.all(F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy() == 0)
    tb.manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    tb.manual_seed(3)
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    np.testing.assert_array_equal(a, b)  # the mask comes from tinybptt's seeded generator
    assert not np.allclose(a, F.scaled_dot_product_attention(q, k, v).numpy())
    qq, kk, vv = t64(rng, 3, 2), t64(rng, 4, 2), t64(rng, 4, 3)

    def dropped(q, k, v):
        tb.manual_seed(5)  # the same dropout mask on every evaluation
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    assert tb.gradcheck(dropped, (qq, kk, vv))


def test_sdpa_float32_and_2d_inputs(rng):
    q, k, v = (rng.standard_normal((7, 8)).astype(np.float32) for _ in range(3))
    out = F.scaled_dot_product_attention(tb.tensor(q), tb.tensor(k), tb.tensor(v), is_causal=True)
    assert out.dtype == np.float32 and out.shape == (7, 8)
    bias = np.where(np.tril(np.ones((7, 7), bool)), 0.0, -np.inf)
    np.testing.assert_allclose(out.numpy(), np_sdpa(q.astype(np.float64), k, v, bias), rtol=1e-5, atol=1e-6)


def test_sdpa_runs_in_attn_scope(rng):
    q = t64(rng, 2, 3)
    with tb.scope("decoder"), tb.scope("t=1"):
        out = F.scaled_dot_product_attention(q, q, q)
    assert out.grad_fn.scope == "decoder/t=1/attn"


# ---------------------------------------------------------------- MultiheadAttention
def test_mha_parameters_names_shapes_and_init():
    m = nn.MultiheadAttention(12, 3)
    assert list(m.state_dict()) == ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]
    assert m.in_proj_weight.shape == (36, 12) and m.in_proj_bias.shape == (36,)
    assert m.out_proj.weight.shape == (12, 12) and m.head_dim == 4
    np.testing.assert_array_equal(m.in_proj_bias.detach().numpy(), 0)
    np.testing.assert_array_equal(m.out_proj.bias.detach().numpy(), 0)
    bound = math.sqrt(6 / (12 + 36))  # xavier_uniform over (3E, E)
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert np.abs(m.out_proj.weight.detach().numpy()).max() <= 1 / math.sqrt(12)
    m2 = nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True, kdim=3, vdim=5, dtype=tb.float64)
    assert [n for n, _ in m2.named_parameters()] == ["q_proj_weight", "k_proj_weight", "v_proj_weight",
                                                     "bias_k", "bias_v", "out_proj.weight"]
    assert m2.k_proj_weight.shape == (8, 3) and m2.v_proj_weight.shape == (8, 5) and m2.in_proj_weight is None
    assert m2.out_proj.bias is None and m2.bias_k.shape == (1, 1, 8) and m2.q_proj_weight.dtype == np.float64


def np_mha(m, q, k, v, bias=None):
    """Reference MultiheadAttention (sequence first, batched) from the module's parameters."""
    E, H = m.embed_dim, m.num_heads
    W, b = m.in_proj_weight.detach().numpy(), m.in_proj_bias.detach().numpy()
    Q, K, V = (x @ W[i * E:(i + 1) * E].T + b[i * E:(i + 1) * E] for i, x in enumerate((q, k, v)))

    def heads(x):  # (T, N, E) -> (N, H, T, D)
        return x.reshape(x.shape[0], x.shape[1], H, E // H).transpose(1, 2, 0, 3)
    s = heads(Q) @ np.swapaxes(heads(K), -1, -2) / math.sqrt(E // H)
    w = np_softmax(s if bias is None else s + bias)
    o = (w @ heads(V)).transpose(2, 0, 1, 3).reshape(q.shape[0], q.shape[1], E)
    return o @ m.out_proj.weight.detach().numpy().T + m.out_proj.bias.detach().numpy(), w.mean(1)


def test_mha_matches_numpy_reference(rng):
    m = nn.MultiheadAttention(6, 2, dtype=tb.float64)
    with tb.no_grad():
        m.in_proj_bias.normal_()
        m.out_proj.bias.normal_()
    q, k, v = rng.standard_normal((4, 3, 6)), rng.standard_normal((5, 3, 6)), rng.standard_normal((5, 3, 6))
    pad = rng.random((3, 5)) < 0.3
    pad[:, 0] = False
    forbid = rng.random((4, 5)) < 0.3
    bias = np.where(forbid, -np.inf, 0)[None, None] + np.where(pad, -np.inf, 0)[:, None, None, :]
    out, w = m(tb.tensor(q), tb.tensor(k), tb.tensor(v), key_padding_mask=pad, attn_mask=forbid)
    ref_out, ref_w = np_mha(m, q, k, v, bias)
    np.testing.assert_allclose(out.detach().numpy(), ref_out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-10, atol=1e-12)


MHA_CASES = {
    "plain": dict(),
    "batch_first": dict(batch_first=True),
    "kdim_vdim": dict(kdim=3, vdim=2),
    "key_padding_mask": dict(kpm=True),
    "attn_mask_bool": dict(am="bool"),
    "attn_mask_float": dict(am="float"),
    "attn_mask_3d": dict(am="3d", kpm=True),
    "per_head_weights": dict(average=False, am="bool"),
    "unbatched": dict(unbatched=True, kpm=True),
    "bias_kv_zero_attn": dict(add_bias_kv=True, add_zero_attn=True, kpm=True, am="bool"),
    "no_bias": dict(bias=False),
}


def mha_inputs(rng, E=4, H=2, L=3, S=4, N=2, batch_first=False, kdim=None, vdim=None, kpm=False, am=None,
               unbatched=False, **_):
    def shape(T, d):
        return (T, d) if unbatched else (N, T, d) if batch_first else (T, N, d)
    q, k, v = t64(rng, *shape(L, E)), t64(rng, *shape(S, kdim or E)), t64(rng, *shape(S, vdim or E))
    kw = {}
    if kpm:
        pad = rng.random((S,) if unbatched else (N, S)) < 0.4
        pad[..., 0] = False
        kw["key_padding_mask"] = pad
    if am == "bool":
        forbid = rng.random((L, S)) < 0.4
        forbid[:, 1] = False
        kw["attn_mask"] = forbid
    elif am == "float":
        kw["attn_mask"] = rng.standard_normal((L, S))
    elif am == "3d":
        kw["attn_mask"] = rng.standard_normal((H if unbatched else N * H, L, S))
    return (q, k, v), kw


@pytest.mark.parametrize("case", list(MHA_CASES))
def test_mha_gradcheck(rng, case):
    cfg = MHA_CASES[case]
    ctor = {n: cfg[n] for n in ("batch_first", "kdim", "vdim", "bias", "add_bias_kv", "add_zero_attn") if n in cfg}
    m = nn.MultiheadAttention(4, 2, dtype=tb.float64, **ctor)
    if m.bias_k is not None:
        m.bias_k._data[...] *= 0.5  # keep the scores moderate
    (q, k, v), kw = mha_inputs(rng, **cfg)
    average = cfg.get("average", True)
    check_module_grads(m, (q, k, v), lambda q, k, v: m(q, k, v, average_attn_weights=average, **kw))


def test_mha_self_attention_causal_and_need_weights_false(rng):
    m = nn.MultiheadAttention(4, 2, batch_first=True, dtype=tb.float64)
    x = t64(rng, 2, 5, 4)
    causal = np.triu(np.ones((5, 5), bool), 1)
    out, w = m(x, x, x, attn_mask=causal, is_causal=True, need_weights=False)
    assert w is None
    ref, _ = m(x, x, x, attn_mask=causal)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12)
    # a query never sees later steps: perturbing x[:, 4] leaves the outputs at steps 0..3 unchanged
    x2 = x.detach().numpy().copy()
    x2[:, 4] += 1
    out2, _ = m(tb.tensor(x2), tb.tensor(x2), tb.tensor(x2), attn_mask=causal)
    np.testing.assert_allclose(out2.detach().numpy()[:, :4], out.detach().numpy()[:, :4], rtol=1e-12)
    check_module_grads(m, (x,), lambda x: m(x, x, x, attn_mask=causal, is_causal=True, need_weights=False)[0])


def test_mha_padding_gets_zero_weight_and_zero_gradient(rng):
    m = nn.MultiheadAttention(4, 2, batch_first=True, dtype=tb.float64)
    q, k, v = t64(rng, 2, 3, 4), t64(rng, 2, 5, 4), t64(rng, 2, 5, 4)
    pad = np.zeros((2, 5), bool)
    pad[0, 3:] = True
    pad[1, 4] = True
    out, w = m(q, k, v, key_padding_mask=pad, average_attn_weights=False)
    assert w.shape == (2, 2, 3, 5)
    np.testing.assert_array_equal(w.detach().numpy()[pad[:, None, None, :].repeat(2, 1).repeat(3, 2)], 0.0)
    np.testing.assert_allclose(w.detach().numpy().sum(-1), 1.0)
    out.sum().backward()
    np.testing.assert_array_equal(k.grad.numpy()[pad], 0.0)
    np.testing.assert_array_equal(v.grad.numpy()[pad], 0.0)
    assert np.abs(k.grad.numpy()[~pad]).min() > 0


def test_mha_fully_masked_query_gives_zeros_without_weights_nan_with(rng):
    """As torch 2.13: need_weights=False runs SDPA (zero context for that query, finite gradients);
    need_weights=True an explicit softmax, whose all -inf row is NaN."""
    m = nn.MultiheadAttention(4, 1, dtype=tb.float64)
    q, k = t64(rng, 2, 1, 4), t64(rng, 3, 1, 4)
    forbid = np.zeros((2, 3), bool)
    forbid[0] = True
    out, w = m(q, k, k, attn_mask=forbid, need_weights=False)
    assert w is None
    np.testing.assert_allclose(out.detach().numpy()[0, 0], m.out_proj.bias.detach().numpy())  # zero context
    out.sum().backward()
    assert np.all(np.isfinite(k.grad.numpy())) and np.all(np.isfinite(m.in_proj_weight.grad.numpy()))
    out, w = m(q, k, k, attn_mask=forbid)
    assert np.isnan(w.detach().numpy()[0, 0]).all() and np.isnan(out.detach().numpy()[0, 0]).all()
    assert np.isfinite(w.detach().numpy()[0, 1]).all() and np.isfinite(out.detach().numpy()[1]).all()


def test_mha_dropout_only_in_training(rng):
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True).requires_grad_(False)
    x = tb.tensor(rng.standard_normal((3, 6, 8)).astype(np.float32))
    m.eval()
    a, wa = m(x, x, x)
    b, wb = m(x, x, x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(wa.numpy().sum(-1), 1.0, rtol=1e-5)
    m.train()
    c, wc = m(x, x, x, average_attn_weights=False)
    wc = wc.numpy()
    assert (wc == 0).mean() > 0.3                           # weights were dropped...
    kept = wc != 0                                          # ...and the rest scaled by 1/(1-p)
    _, w_eval = m.eval()(x, x, x, average_attn_weights=False)
    np.testing.assert_allclose(wc[kept], 2 * w_eval.numpy()[kept], rtol=1e-5)


def test_mha_runs_in_attn_scope(rng):
    m = nn.MultiheadAttention(4, 2)
    x = tb.randn(3, 2, 4, requires_grad=True)
    with tb.scope("layer0"):
        out, _ = m(x, x, x)
    assert out.grad_fn.scope == "layer0/attn"


# ---------------------------------------------------------------- additive and dot attention
def np_additive(m, q, k, pad=None):
    Wq, Wk, bk = (p.detach().numpy() for p in (m.query_proj.weight, m.key_proj.weight, m.key_proj.bias))
    v = m.v.weight.detach().numpy()[0]
    scores = np.tanh((q @ Wq.T)[:, None, :] + k @ Wk.T + bk) @ v
    if pad is not None:
        scores = np.where(pad, -np.inf, scores)
    w = np_softmax(scores)
    return (w[:, :, None] * k).sum(1), w


def test_additive_attention_matches_numpy(rng):
    m = nn.AdditiveAttention(3, 4, 5, dtype=tb.float64)
    q, k = rng.standard_normal((2, 3)), rng.standard_normal((2, 6, 4))
    pad = np.zeros((2, 6), bool)
    pad[1, 4:] = True
    ctx, w = m(tb.tensor(q), tb.tensor(k), mask=pad)
    ref_ctx, ref_w = np_additive(m, q, k, pad)
    assert ctx.shape == (2, 4) and w.shape == (2, 6)
    np.testing.assert_allclose(ctx.detach().numpy(), ref_ctx, rtol=1e-10)
    np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-10, atol=1e-15)


def test_dot_attention_matches_numpy(rng):
    q, k = rng.standard_normal((2, 4)), rng.standard_normal((2, 5, 4))
    ctx, w = nn.DotAttention()(tb.tensor(q), tb.tensor(k))
    ref_w = np_softmax(np.einsum("nd,nsd->ns", q, k))
    np.testing.assert_allclose(w.numpy(), ref_w, rtol=1e-10)
    np.testing.assert_allclose(ctx.numpy(), np.einsum("ns,nsd->nd", ref_w, k), rtol=1e-10)
    g = nn.DotAttention(4, 3, method="general", dtype=tb.float64)
    k3 = rng.standard_normal((2, 5, 3))
    ctx, w = g(tb.tensor(q), tb.tensor(k3))
    ref_w = np_softmax(np.einsum("nd,de,nse->ns", q, g.weight.detach().numpy(), k3))
    np.testing.assert_allclose(w.detach().numpy(), ref_w, rtol=1e-10)


def luong_general():
    return nn.DotAttention(3, 4, method="general", dtype=tb.float64)


def luong_dot():
    return nn.DotAttention(4, scale=True)


def bahdanau():
    return nn.AdditiveAttention(3, 4, 5, dtype=tb.float64)


@pytest.mark.parametrize("make", [bahdanau, luong_general, luong_dot])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("queries", ["one", "many", "unbatched"])
def test_additive_and_dot_gradcheck(rng, make, masked, queries):
    m = make()
    qdim = 4 if make is luong_dot else 3
    if queries == "unbatched":
        q, k = t64(rng, qdim), t64(rng, 5, 4)
        mask = np.array([False, False, True, False, True]) if masked else None
    else:
        q = t64(rng, 2, qdim) if queries == "one" else t64(rng, 2, 3, qdim)
        k = t64(rng, 2, 5, 4)
        mask = (np.arange(5) >= np.array([[5], [3]])) if masked else None
    check_module_grads(m, (q, k), lambda q, k: m(q, k, mask=mask))


@pytest.mark.parametrize("make", [bahdanau, luong_general, luong_dot])
def test_additive_and_dot_padding_gets_zero_weight_and_zero_gradient(rng, make):
    m = make()
    q, k = t64(rng, 2, 4 if make is luong_dot else 3), t64(rng, 2, 6, 4)
    pad = np.arange(6) >= np.array([[6], [2]])  # batch 1 has length 2
    with tb.scope("dec"):
        ctx, w = m(q, k, mask=pad)
    assert w.grad_fn.scope.startswith("dec/attn")
    np.testing.assert_array_equal(w.detach().numpy()[pad], 0.0)
    np.testing.assert_allclose(w.detach().numpy().sum(1), 1.0)
    (ctx.sum() + (w * w).sum()).backward()
    np.testing.assert_array_equal(k.grad.numpy()[pad], 0.0)
    assert np.abs(k.grad.numpy()[~pad]).min() > 0


# ---------------------------------------------------------------- bad input
def test_errors_multihead_attention(rng):
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2)
    x = tb.randn(5, 3, 8)
    with pytest.raises(RuntimeError, match="expecting embedding dimension of 8, but got 7"):
        m(tb.randn(5, 3, 7), x, x)
    with pytest.raises(RuntimeError, match=r"key shape \(4, 3, 8\) does not match value shape \(5, 3, 8\)"):
        m(x, tb.randn(4, 3, 8), x)
    with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is \(4, 5\), but should be \(5, 5\)"):
        m(x, x, x, attn_mask=np.zeros((4, 5), bool))
    with pytest.raises(RuntimeError, match=r"The shape of the 3D attn_mask is \(7, 5, 5\), but should be \(6, 5, 5\)"):
        m(x, x, x, attn_mask=np.zeros((7, 5, 5), bool))
    with pytest.raises(RuntimeError, match="dimension 4 is not supported"):
        m(x, x, x, attn_mask=np.zeros((1, 6, 5, 5), bool))
    with pytest.raises(RuntimeError, match=r"key_padding_mask shape of \(3, 5\), but got \(3, 4\)"):
        m(x, x, x, key_padding_mask=np.zeros((3, 4), bool))
    with pytest.raises(RuntimeError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=np.zeros((5, 5), np.int64))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)
    with pytest.raises(RuntimeError, match="expected `key` and `value` to be 3-D but found 2-D and 3-D"):
        m(x, x[:, 0], x)
    with pytest.raises(RuntimeError, match=r"expected key features 3 and value features 8, got key \(5, 3, 4\)"):
        nn.MultiheadAttention(8, 2, kdim=3)(x, tb.randn(5, 3, 4), x)


def test_errors_functional_and_modules(rng):
    q = tb.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"query and key must have the same embedding size.*\(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, tb.randn(2, 3, 5), q)
    with pytest.raises(RuntimeError, match="key and value must have the same sequence length"):
        F.scaled_dot_product_attention(q, q, tb.randn(2, 4, 4))
    with pytest.raises(RuntimeError, match=r"attn_mask of shape \(4, 3\) does not broadcast.*\(2, 3, 3\)"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((4, 3), bool))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=np.ones((3, 3), bool), is_causal=True)
    with pytest.raises(RuntimeError, match="must be a multiple of the key/value heads"):
        F.scaled_dot_product_attention(tb.randn(1, 3, 2, 4), tb.randn(1, 2, 2, 4), tb.randn(1, 2, 2, 4),
                                       enable_gqa=True)
    with pytest.raises(ValueError, match="query_dim == key_dim"):
        nn.DotAttention(3, 4)
    with pytest.raises(RuntimeError, match="query has 3 features but keys have 4"):
        nn.DotAttention()(tb.randn(2, 3), tb.randn(2, 5, 4))
    with pytest.raises(RuntimeError, match=r"expected query with 3 features and keys with 4"):
        nn.AdditiveAttention(3, 4, 5)(tb.randn(2, 3), tb.randn(2, 5, 6))
    with pytest.raises(RuntimeError, match=r"mask of shape \(2, 4\) does not fit"):
        nn.AdditiveAttention(3, 4, 5)(tb.randn(2, 3), tb.randn(2, 5, 4), mask=np.zeros((2, 4), bool))
    with pytest.raises(RuntimeError, match="mask must be boolean"):
        nn.DotAttention()(tb.randn(2, 4), tb.randn(2, 5, 4), mask=np.zeros((2, 5)))
    with pytest.raises(RuntimeError, match="different batch sizes"):
        nn.DotAttention()(tb.randn(3, 4), tb.randn(2, 5, 4))
    assert issubclass(AttentionShapeError, (RuntimeError, ValueError, AssertionError))


# ---------------------------------------------------------------- softmax kernels
def test_float32_exp_kernel_accuracy_and_float64_exactness():
    from tinybptt.kernels import exp_, numba

    @numba.njit
    def apply(x, out):
        for i in range(x.size):
            out[i] = exp_(x[i])
    x = np.concatenate([np.linspace(-87, 88.5, 200001), [-np.inf, -1000.0, 0.0, 1000.0]])
    out32 = np.empty(x.size, np.float32)
    apply(x.astype(np.float32), out32)
    with np.errstate(over="ignore"):
        exact = np.exp(x.astype(np.float32).astype(np.float64))
    finite = np.isfinite(exact) & (exact > 1.2e-38)
    ulp = np.spacing(exact[finite].astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(out32[finite] - exact[finite]) / ulp) < 2.0
    assert out32[-4] == 0 and out32[-3] == 0 and out32[-2] == 1 and out32[-1] == np.inf
    out64 = np.empty(x.size)
    apply(x, out64)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out64, np.exp(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_kernels_against_numpy(rng, dtype):
    from tinybptt.kernels import softmax_backward, softmax_forward
    x = (rng.standard_normal((50, 37)) * 4).astype(dtype)
    x[3] = -np.inf
    x[4, 5:] = -np.inf
    y = np.empty_like(x)
    softmax_forward(x, y, False, True)  # zero_masked: the all -inf row 3 gives zeros (SDPA's rule)
    ref = np_softmax(x.astype(np.float64))
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(y, ref, rtol=tol * 10, atol=tol)
    assert np.all(y[3] == 0) and np.all(y[4, 5:] == 0)
    plain = np.empty_like(x)
    softmax_forward(x, plain, False, False)  # softmax's rule: NaN there, the other rows unchanged
    assert np.isnan(plain[3]).all() and np.array_equal(np.delete(plain, 3, 0), np.delete(y, 3, 0))
    logy = np.empty_like(x)
    softmax_forward(x, logy, True, False)
    assert np.isnan(logy[3]).all()
    np.testing.assert_allclose(logy[5:], np.log(ref[5:]), rtol=tol * 10, atol=tol * 10)
    g = rng.standard_normal(x.shape).astype(dtype)
    dx = np.empty_like(g)
    softmax_backward(g, y, dx, False)
    np.testing.assert_allclose(dx, ref * (g - (g * ref).sum(-1, keepdims=True)), rtol=tol * 100, atol=tol * 10)
    inplace = x.copy()
    softmax_forward(inplace, inplace, False, True)
    np.testing.assert_array_equal(inplace, y)


# ---------------------------------------------------------------- the gradient shortcut
def grad_first_input(T, attention, H=16):
    """||dL/dx_0|| for a tanh-RNN encoder and a decoder of T steps, L = sum_t ||s_t||^2."""
    tb.manual_seed(0)
    enc = nn.RNN(H, H, batch_first=True, dtype=tb.float64)
    dec = nn.RNNCell(2 * H if attention else H, H, dtype=tb.float64)  # same init in both runs
    attn = nn.DotAttention(H)
    x = tb.tensor(np.random.default_rng(0).standard_normal((1, T, H)), requires_grad=True)
    memory, h_n = enc(x)
    s, loss, zeros = h_n[0], 0, tb.zeros(1, H, dtype=tb.float64)
    for _ in range(T):
        if attention:  # the decoder reads every encoder step directly
            context, _ = attn(s, memory)
            s = dec(tb.cat([zeros, context], 1), s)
        else:          # the only path back is the chain of T encoder steps
            s = dec(zeros, s)
        loss = loss + (s * s).sum()
    loss.backward()
    return float(np.linalg.norm(x.grad.numpy()[0, 0]))


def test_attention_is_a_gradient_shortcut():
    with_attn = {T: grad_first_input(T, True) for T in (10, 200)}
    plain = {T: grad_first_input(T, False) for T in (10, 200)}
    assert 0.1 < with_attn[200] / with_attn[10] < 10        # within an order of magnitude
    assert plain[200] / plain[10] < 1e-6                    # decays by orders of magnitude
    assert with_attn[200] > 1e6 * plain[200]


# ---------------------------------------------------------------- seq2seq
V, BOS, EOS = 9, 1, 2


def reversal_batch(rng, n, max_len=5):
    """Source: random tokens 3..8 padded with 0; target: BOS, the source reversed, EOS."""
    lengths = rng.integers(2, max_len + 1, n)
    src, tgt = np.zeros((n, max_len), np.int64), np.zeros((n, max_len + 2), np.int64)
    for i, n_i in enumerate(lengths):
        s = rng.integers(3, V, n_i)
        src[i, :n_i], tgt[i, 0], tgt[i, 1:n_i + 1], tgt[i, n_i + 1] = s, BOS, s[::-1], EOS
    return src, tgt


@pytest.mark.parametrize("cell,attention,bidirectional", [("gru", "additive", True), ("lstm", "general", True),
                                                         ("rnn", "dot", False), ("gru", None, True)])
def test_seq2seq_shapes_padding_and_greedy(rng, cell, attention, bidirectional):
    m = Seq2Seq(V, V, embed_dim=6, hidden_size=8, cell=cell, attention=attention, bidirectional=bidirectional)
    src, tgt = reversal_batch(rng, 4)
    logits, w = m(src, tgt[:, :-1])
    assert logits.shape == (4, 6, V)
    if attention is None:
        assert w is None
    else:
        assert w.shape == (4, 6, 5)
        pad = src == 0
        np.testing.assert_array_equal(w.detach().numpy()[np.broadcast_to(pad[:, None], w.shape)], 0.0)
    # extra padding on the source changes nothing (the encoder stops at each length; attention ignores pads)
    longer = np.concatenate([src, np.zeros((4, 3), np.int64)], 1)
    logits2, _ = m(longer, tgt[:, :-1])
    np.testing.assert_allclose(logits2.detach().numpy(), logits.detach().numpy(), rtol=1e-5, atol=1e-6)
    tokens, gw = m.greedy_decode(src, 6, BOS)
    assert tokens.shape == (4, 6) and tokens.dtype == np.int64
    assert (gw is None) == (attention is None)


def test_seq2seq_gradcheck_float64(rng):
    m = Seq2Seq(V, V, embed_dim=3, hidden_size=3, cell="gru", attention="additive", dtype=tb.float64)
    src, tgt = reversal_batch(rng, 2, max_len=3)

    def loss():
        logits, _ = m(src, tgt[:, :-1])
        return F.cross_entropy(logits.reshape(-1, V), tgt[:, 1:].reshape(-1), ignore_index=0)
    loss().backward()
    for name, p in m.named_parameters():
        flat, g = p._data.reshape(-1), p.grad.numpy().reshape(-1)
        for j in rng.choice(flat.size, min(3, flat.size), replace=False):  # a few elements of every parameter
            orig = flat[j]
            flat[j] = orig + 1e-6
            plus = loss().item()
            flat[j] = orig - 1e-6
            minus = loss().item()
            flat[j] = orig
            assert abs((plus - minus) / 2e-6 - g[j]) < 1e-6 + 1e-4 * abs(g[j]), name


def test_seq2seq_learns_to_reverse_and_scopes_show_the_shortcut(rng):
    m = Seq2Seq(V, V, embed_dim=8, hidden_size=16, cell="gru", attention="general")
    opt = tb.optim.Adam(m.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        src, tgt = reversal_batch(rng, 16, max_len=4)
        logits, _ = m(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), tgt[:, 1:].reshape(-1), ignore_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    # the attention record of decoder step 2 reads the encoder outputs directly
    src, tgt = reversal_batch(rng, 2, max_len=4)
    memory, pad, state = m.encode(src)
    logits, w = m(src, tgt[:, :-1])
    attn_nodes = []
    stack = [logits.grad_fn]
    seen = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.scope == "decoder/t=2/attn" and node.name == "ScaledDotProductAttention":
            attn_nodes.append(node)
        stack.extend(x.grad_fn for x in node.inputs if x is not None)
    assert len(attn_nodes) == 1
    keys = attn_nodes[0].inputs[1]
    scopes = set()
    stack, seen = [keys.grad_fn], set()
    while stack:  # everything upstream of the keys within a few records is encoder work
        node = stack.pop()
        if node is None or id(node) in seen or len(seen) > 50:
            continue
        seen.add(id(node))
        scopes.add(node.scope.split("/")[0])
        stack.extend(x.grad_fn for x in node.inputs if x is not None)
    assert any(s.startswith("encoder.l0.fwd") for s in scopes) and any(s.startswith("encoder.l0.bwd") for s in scopes)
    assert not any(s.startswith("decoder") for s in scopes)


def test_errors_multihead_attention_batch_and_sequence_mismatch():
    m = nn.MultiheadAttention(8, 2, kdim=4, vdim=4)
    x = tb.randn(5, 3, 8)
    with pytest.raises(RuntimeError, match=r"key's sequence and batch dims \(6, 3\) do not match value's \(5, 3\)"):
        m(x, tb.randn(6, 3, 4), tb.randn(5, 3, 4))
    with pytest.raises(RuntimeError, match="key and value have batch size 2 but the query has 3"):
        m(x, tb.randn(5, 2, 4), tb.randn(5, 2, 4))
    with pytest.raises(RuntimeError, match="query should be unbatched 2D or batched 3D tensor"):
        m(tb.randn(2, 5, 3, 8), x, x)


def test_seq2seq_greedy_decode_agrees_with_teacher_forcing_on_its_own_output(rng):
    m = Seq2Seq(V, V, embed_dim=6, hidden_size=8, cell="lstm", attention="additive")
    src, _ = reversal_batch(rng, 3)
    tokens, weights = m.greedy_decode(src, 5, BOS)
    fed = np.concatenate([np.full((3, 1), BOS), tokens.numpy()[:, :-1]], 1)  # what greedy fed itself
    logits, w = m(src, fed)
    np.testing.assert_array_equal(logits.detach().numpy().argmax(-1), tokens.numpy())
    np.testing.assert_allclose(w.detach().numpy(), weights.numpy(), rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match="attention='dot' needs encoder outputs"):
        Seq2Seq(V, V, attention="dot", bidirectional=True)


def test_additive_attention_with_projected_keys(rng):
    m = bahdanau()
    q, k = t64(rng, 2, 3), t64(rng, 2, 5, 4)
    pad = np.arange(5) >= np.array([[5], [3]])
    ctx, w = m(q, k, mask=pad)
    ctx2, w2 = m(q, k, mask=pad, projected_keys=m.project_keys(k))
    np.testing.assert_allclose(ctx2.detach().numpy(), ctx.detach().numpy(), rtol=1e-12)
    check_module_grads(m, (q, k), lambda q, k: m(q, k, mask=pad, projected_keys=m.project_keys(k)))
    with pytest.raises(RuntimeError, match=r"projected_keys has shape \(2, 4, 5\), expected \(2, 5, 5\)"):
        m(q, k, projected_keys=tb.randn(2, 4, 5, dtype=tb.float64))
