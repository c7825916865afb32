"""Masks audited against PyTorch 2.13: the corners the other parity files leave open.

masked_fill refuses a fill value its tensor's dtype cannot hold (NaN/inf or out of range for an
integer dtype, beyond the largest finite float) as torch does; where() checks the condition against
``other`` even when ``input`` is a number, and wants both or neither of input/other; cross_entropy
takes a negative label_smoothing as no smoothing, and with class-probability targets a weight that
requires grad gets its gradient.  tril_indices / triu_indices (for building and gathering triangular
masks) and F.multi_head_attention_forward (MultiheadAttention with its weights as arguments, masks
included) were missing and are compared with torch here.
"""
import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt.nn import functional as F

MASK = np.array([True, False, True, True])


@pytest.mark.parametrize("dtype, value", [
    (np.int64, float("nan")), (np.int64, float("inf")), (np.int64, 2 ** 63), (np.int64, 1e30),
    (np.int32, 2 ** 31), (np.int8, 200), (np.uint8, 300), (np.uint8, -256),
    (np.float32, 1e300), (np.float32, -1e300), (np.int64, "nan_tensor"),
])
def test_masked_fill_value_that_overflows_the_dtype_raises_as_torch(dtype, value):
    x = np.zeros(4, dtype)
    for lib in (torch, tb):
        v = lib.tensor(float("nan")) if value == "nan_tensor" else value
        with pytest.raises(RuntimeError, match="value cannot be converted to type"):
            lib.tensor(x).masked_fill(lib.tensor(MASK), v)
    with pytest.raises(RuntimeError, match="masked_fill: value cannot be converted"):
        tb.tensor(x).masked_fill_(MASK, value if value != "nan_tensor" else float("nan"))


@pytest.mark.parametrize("dtype, value", [
    (np.int64, 2.7), (np.int64, -2.7), (np.int64, 2 ** 63 - 1), (np.int64, -2 ** 63), (np.uint8, -1),
    (np.uint8, 255), (np.int8, True), (np.bool_, 2), (np.bool_, float("nan")), (np.float32, float("inf")),
    (np.float32, float("-inf")), (np.float32, float("nan")), (np.float64, 1e300),
])
def test_masked_fill_values_the_dtype_holds_as_torch(dtype, value):
    """The overflow check's boundaries: these are legal (uint8 wraps -1 to 255, bool takes any number), and a
    float64 fill of 1e300 stays finite (it used to pass through float32 and became inf)."""
    x = np.arange(4).astype(dtype)
    want = torch.tensor(x).masked_fill(torch.tensor(MASK), value).numpy()
    got = tb.tensor(x).masked_fill(MASK, value).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cond_shape, first", [((3,), True), ((3,), False), ((2, 3, 1, 4), True), ((2, 1), False)])
def test_where_with_a_number_checks_the_condition_against_the_tensor(cond_shape, first):
    cond = np.ones(cond_shape, bool)
    x = np.zeros((2, 3, 4))
    for lib in (torch, tb):
        args = (1.0, lib.tensor(x)) if first else (lib.tensor(x), 1.0)
        with pytest.raises(RuntimeError, match="must match the size of tensor b"):
            lib.where(lib.tensor(cond), *args)


def test_where_needs_both_input_and_other_or_neither():
    cond, x = np.array([True, False]), np.array([1.0, 2.0])
    for lib in (torch, tb):
        with pytest.raises(TypeError, match="where()"):
            lib.where(lib.tensor(cond), lib.tensor(x))
        with pytest.raises(TypeError, match="where()"):
            lib.where(lib.tensor(cond), other=lib.tensor(x))
    assert [i.tolist() for i in tb.where(tb.tensor(cond))] == [[0]]


def _ce_pair(rng, target, weight=None, **kw):
    """cross_entropy's value and the gradients of its input (and of ``weight`` if given) in tinybptt and torch."""
    x = rng.standard_normal((5, 4))
    out = []
    for lib, fn in ((tb, F.cross_entropy), (torch, torch.nn.functional.cross_entropy)):
        a = lib.tensor(x, requires_grad=True)
        w = None if weight is None else lib.tensor(weight, requires_grad=True)
        loss = fn(a, lib.tensor(target), weight=w, **kw)
        (loss * loss).sum().backward()
        out.append((loss.detach().numpy(), a.grad.numpy(), None if w is None else w.grad.numpy()))
    return out


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("targets", ["index", "probabilities"])
@pytest.mark.parametrize("smoothing", [-0.1, -2.0])
def test_cross_entropy_negative_label_smoothing_is_no_smoothing_as_torch(rng, reduction, targets, smoothing):
    t = np.array([0, 3, -100, 1, 2]) if targets == "index" else rng.dirichlet(np.ones(4), 5)
    ours, theirs = _ce_pair(rng, t, reduction=reduction, label_smoothing=smoothing)
    for a, b in zip(ours[:2], theirs[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    x = tb.tensor(rng.standard_normal((5, 4)))
    np.testing.assert_allclose(F.cross_entropy(x, tb.tensor(t), label_smoothing=smoothing, reduction=reduction).numpy(),
                               F.cross_entropy(x, tb.tensor(t), reduction=reduction).numpy(), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, tb.tensor(t), label_smoothing=1.5)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probability_targets_weight_gets_its_gradient_as_torch(rng, reduction, smoothing):
    t = rng.dirichlet(np.ones(4), 5)
    ours, theirs = _ce_pair(rng, t, rng.random(4) + 0.2, reduction=reduction, label_smoothing=smoothing)
    for a, b in zip(ours, theirs):  # loss, grad of the input, grad of the weight
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
@pytest.mark.parametrize("row, col, offset", [(4, 5, 0), (4, 5, -2), (4, 5, 3), (5, 3, -7), (3, 3, 9), (0, 4, 0), (3, 0, 1)])
def test_tril_and_triu_indices_as_torch(name, row, col, offset):
    want = getattr(torch, name)(row, col, offset)
    got = getattr(tb, name)(row, col, offset)
    assert got.dtype == tb.int64 and got.shape == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    # the usual use: gather a triangle (e.g. of attention scores) with differentiable indexing
    x = np.arange(row * col, dtype=np.float64).reshape(row, col)
    np.testing.assert_array_equal(tb.tensor(x)[got[0], got[1]].numpy(), torch.tensor(x)[want[0], want[1]].numpy())


@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
def test_tril_and_triu_indices_dtype_and_errors_as_torch(name):
    assert getattr(tb, name)(3, 4, 1, dtype=tb.int32).dtype == tb.int32
    for lib in (torch, tb):
        with pytest.raises(RuntimeError, match="row must be non-negative"):
            getattr(lib, name)(-1, 2)
        with pytest.raises(RuntimeError, match="col must be non-negative"):
            getattr(lib, name)(2, -1)
        with pytest.raises(NotImplementedError, match=f'"{name}" not implemented for'):
            getattr(lib, name)(3, 3, dtype=lib.float32)


# ---------------------------------------------------------------- F.multi_head_attention_forward
E, H, L, S, N = 8, 2, 5, 6, 3
MHAF_CASES = {
    "plain": dict(),
    "masks": dict(masks=True),
    "masks_no_weights": dict(masks=True, need_weights=False),
    "per_head_weights": dict(masks=True, average_attn_weights=False),
    "bias_kv_zero_attn": dict(masks=True, bias_kv=True, add_zero_attn=True),
    "no_bias": dict(masks=True, bias=False),
    "separate_proj_weights": dict(masks=True, separate=True),
    "unbatched": dict(unbatched=True, masks=True),
    "causal_hint": dict(causal=True, need_weights=False),
    "eval_ignores_dropout": dict(masks=True, training=False, dropout_p=0.5),
}


@pytest.mark.parametrize("case", list(MHAF_CASES))
def test_multi_head_attention_forward_as_torch(rng, case):
    """Values and the gradients of the inputs, every weight and a learnable float attn_mask."""
    cfg = MHAF_CASES[case]
    kdim, vdim = (3, 5) if cfg.get("separate") else (E, E)
    lead = () if cfg.get("unbatched") else (N,)
    arrays = dict(query=rng.standard_normal((L,) + lead + (E,)), key=rng.standard_normal((S,) + lead + (kdim,)),
                  value=rng.standard_normal((S,) + lead + (vdim,)), out_proj_weight=rng.standard_normal((E, E)) / 3)
    if cfg.get("causal"):
        arrays["key"] = arrays["value"] = arrays["query"]
    if cfg.get("bias", True):
        arrays.update(in_proj_bias=rng.standard_normal(3 * E), out_proj_bias=rng.standard_normal(E))
    if cfg.get("separate"):
        arrays.update(q_proj_weight=rng.standard_normal((E, E)) / 3, k_proj_weight=rng.standard_normal((E, kdim)) / 3,
                      v_proj_weight=rng.standard_normal((E, vdim)) / 3)
    else:
        arrays["in_proj_weight"] = rng.standard_normal((3 * E, E)) / 3
    if cfg.get("bias_kv"):
        arrays.update(bias_k=rng.standard_normal((1, 1, E)), bias_v=rng.standard_normal((1, 1, E)))
    if cfg.get("masks"):
        arrays["attn_mask"] = rng.standard_normal(((N if lead else 1) * H, L, S))
    pad = rng.random(lead + (S,)) < 0.4
    pad[..., 0] = False
    results = []
    for lib in (tb, torch):
        leaves = {n: lib.tensor(a, requires_grad=True) for n, a in arrays.items()}
        t = dict(leaves)
        if cfg.get("causal"):
            t["key"] = t["value"] = t["query"]
        kw = dict(key_padding_mask=lib.tensor(pad)) if cfg.get("masks") else {}
        if cfg.get("causal"):
            kw.update(attn_mask=lib.tensor(np.triu(np.ones((L, L), bool), 1)), is_causal=True)
        fn = F.multi_head_attention_forward if lib is tb else torch.nn.functional.multi_head_attention_forward
        out, w = fn(t.pop("query"), t.pop("key"), t.pop("value"), E, H, t.pop("in_proj_weight", None),
                    t.pop("in_proj_bias", None), t.pop("bias_k", None), t.pop("bias_v", None),
                    cfg.get("add_zero_attn", False), cfg.get("dropout_p", 0.0), t.pop("out_proj_weight"),
                    t.pop("out_proj_bias", None), training=cfg.get("training", True),
                    need_weights=cfg.get("need_weights", True), use_separate_proj_weight=cfg.get("separate", False),
                    average_attn_weights=cfg.get("average_attn_weights", True), **t, **kw)
        ((out * out).sum() + (0 if w is None else (w * w).sum())).backward()
        results.append((out, w, leaves))
    (out, w, ours), (tout, tw, theirs) = results
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert (w is None) == (tw is None)
    if w is not None:
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name in ours:
        if theirs[name].grad is None:  # key and value leaves left unused in self-attention
            assert ours[name].grad is None and cfg.get("causal")
            continue
        np.testing.assert_allclose(ours[name].grad.numpy(), theirs[name].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=f"grad of {name}")


def test_multi_head_attention_forward_is_the_modules_forward(rng):
    mha = tb.nn.MultiheadAttention(E, H, add_bias_kv=True, dtype=tb.float64).eval()
    q, k = tb.tensor(rng.standard_normal((L, N, E))), tb.tensor(rng.standard_normal((S, N, E)))
    pad = rng.random((N, S)) < 0.3
    want = mha(q, k, k, key_padding_mask=pad)
    got = F.multi_head_attention_forward(q, k, k, E, H, mha.in_proj_weight, mha.in_proj_bias, mha.bias_k, mha.bias_v,
                                         False, 0.0, mha.out_proj.weight, mha.out_proj.bias, training=False,
                                         key_padding_mask=pad)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("change, exc, match", [
    (dict(embed_dim_to_check=6), AssertionError, "was expecting embedding dimension of 6"),
    (dict(num_heads=3), AssertionError, "not divisible by num_heads"),
    (dict(use_separate_proj_weight=True), AssertionError, "use_separate_proj_weight is True but"),
    (dict(in_proj_weight=None), AssertionError, "use_separate_proj_weight is False but in_proj_weight is None"),
    (dict(attn_mask=np.zeros((L, S + 1), bool)), RuntimeError, "The shape of the 2D attn_mask is"),
    (dict(is_causal=True), RuntimeError, "Need attn_mask if specifying the is_causal hint"),
])
def test_multi_head_attention_forward_rejects_what_torch_rejects(rng, change, exc, match):
    q, k = rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E))
    for lib, fn in ((torch, torch.nn.functional.multi_head_attention_forward), (tb, F.multi_head_attention_forward)):
        args = dict(query=lib.tensor(q), key=lib.tensor(k), value=lib.tensor(k), embed_dim_to_check=E, num_heads=H,
                    in_proj_weight=lib.ones(3 * E, E, dtype=lib.float64), in_proj_bias=None, bias_k=None, bias_v=None,
                    add_zero_attn=False, dropout_p=0.0, out_proj_weight=lib.ones(E, E, dtype=lib.float64),
                    out_proj_bias=None)
        args.update({n: lib.tensor(v) if isinstance(v, np.ndarray) else v for n, v in change.items()})
        with pytest.raises(exc, match=match):
            fn(**args)
    with pytest.raises(NotImplementedError, match="multi_head_attention_forward: static_k"):
        F.multi_head_attention_forward(*(tb.tensor(a) for a in (q, k, k)), E, H, tb.ones(3 * E, E), None, None, None,
                                       False, 0.0, tb.ones(E, E), None, static_k=tb.zeros(N * H, S, E // H))
