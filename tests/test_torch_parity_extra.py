"""Parity regressions found by a PyTorch-user audit: each test builds the same thing in
tinybptt and torch and compares values, gradients, dtypes or exception types."""
import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn.functional as F

TF = torch.nn.functional


def close(a, b, tol=1e-5):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy()
    assert a.shape == b.shape and str(a.dtype) == str(b.dtype).replace("torch.", "")
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def both(x, requires_grad=False):
    return tb.tensor(x, requires_grad=requires_grad), torch.tensor(x, requires_grad=requires_grad)


RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4, 5)).astype(np.float32)


# ---------------------------------------------------------------- Tensor API
def test_squeeze_with_a_tuple_of_dims():
    a, t = both(X[:1, :, :1])
    close(a.squeeze((0, 2)), t.squeeze((0, 2)))
    close(a.squeeze((1, -1)), t.squeeze((1, -1)))


@pytest.mark.parametrize("kw", [dict(dim=1), dict(dim=-1, keepdim=True), dict(p=1, dim=0), dict(p=float("inf"), dim=2),
                                dict(p=3)])
def test_norm_along_dims(kw):
    (a, t) = both(X, True)
    ya, yt = a.norm(**kw), t.norm(**kw)
    close(ya, yt)
    ya.sum().backward(), yt.sum().backward()
    close(a.grad, t.grad, 1e-4)


def test_any_all_along_dim():
    a, t = both(X)
    close((a > 0).any(dim=1), (t > 0).any(dim=1))
    close((a > 0).all(-1, keepdim=True), (t > 0).all(-1, keepdim=True))
    close((a > 0).any(), (t > 0).any())


def test_masked_fill_in_place_and_predicates():
    a, t = both(X)
    close(a.clone().masked_fill_(a > 0, float("-inf")), t.clone().masked_fill_(t > 0, float("-inf")))
    close(tb.isinf(a.masked_fill(a > 0, float("inf"))), torch.isinf(t.masked_fill(t > 0, float("inf"))))
    close(tb.isnan(a.log()), torch.isnan(t.log()))
    assert tb.equal(a, a.clone()) and not a.equal(a + 1)


def test_tensor_factories_like_and_new():
    a, t = both(X)
    close(tb.full_like(a, 2.5), torch.full_like(t, 2.5))
    close(tb.full_like(a, 7, dtype=tb.int64), torch.full_like(t, 7, dtype=torch.int64))
    close(a.new_zeros(2, 3), t.new_zeros(2, 3))
    close(a.new_ones((2,)), t.new_ones((2,)))
    close(a.new_full((2, 2), 3.0), t.new_full((2, 2), 3.0))
    close(tb.tensor([1, 2]).type_as(a), torch.tensor([1, 2]).type_as(t))
    close(a.neg(), t.neg())
    close(tb.neg(a), torch.neg(t))
    close(a.square(), t.square())
    close(a.add(a, alpha=2), t.add(t, alpha=2))


@pytest.mark.parametrize("diagonal", [-1, 0, 1, 2])
def test_tril_triu_keep_infinities(diagonal):
    full = np.full((2, 4, 5), -np.inf, np.float32)
    a, t = both(full)
    close(tb.triu(a, diagonal=diagonal), torch.triu(t, diagonal=diagonal))
    close(a.tril(diagonal), t.tril(diagonal))
    close(tb.tril(tb.ones(3, 3, dtype=tb.bool)), torch.tril(torch.ones(3, 3, dtype=torch.bool)))
    (a, t) = both(X, True)
    tb.triu(a, diagonal).sum().backward(), torch.triu(t, diagonal).sum().backward()
    close(a.grad, t.grad)


def test_mm_bmm():
    a, t = both(X)
    close(tb.bmm(a, a.mT), torch.bmm(t, t.mT))
    close(tb.mm(a[0], a[0].T), torch.mm(t[0], t[0].T))
    with pytest.raises(RuntimeError):
        tb.bmm(a[0], a[0].T)


def test_where_with_only_a_condition():
    a, t = both(X)
    for ia, it in zip(tb.where(a > 0), torch.where(t > 0)):
        close(ia, it)


# ---------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kw", [{}, {"weight": 1}, {"pos_weight": 1}, {"weight": 1, "pos_weight": 1}])
def test_bce_with_logits_weight_and_pos_weight(reduction, kw):
    x = RNG.standard_normal((4, 3)).astype(np.float32) * 3
    y = RNG.random((4, 3)).astype(np.float32)
    extra = {k: RNG.random(3 if k == "pos_weight" else (4, 3)).astype(np.float32) + 0.5 for k in kw}
    (a, t), (ya, yt) = both(x, True), both(y)
    la = F.binary_cross_entropy_with_logits(a, ya, reduction=reduction, **{k: tb.tensor(v) for k, v in extra.items()})
    lt = TF.binary_cross_entropy_with_logits(t, yt, reduction=reduction,
                                             **{k: torch.tensor(v) for k, v in extra.items()})
    close(la, lt)
    la.sum().backward(), lt.sum().backward()
    close(a.grad, t.grad)
    ma = tb.nn.BCEWithLogitsLoss(**{k: tb.tensor(v) for k, v in extra.items()}, reduction=reduction)
    mt = torch.nn.BCEWithLogitsLoss(**{k: torch.tensor(v) for k, v in extra.items()}, reduction=reduction)
    close(ma(tb.tensor(x), ya), mt(torch.tensor(x), yt))
    assert list(ma.state_dict()) == list(mt.state_dict())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_and_l1_loss_modules(reduction):
    p = np.clip(RNG.random((4, 3)), 0.0, 1.0).astype(np.float32)
    p[0, 0], p[1, 1] = 0.0, 1.0  # logs clamp at -100 as in PyTorch
    y = RNG.random((4, 3)).astype(np.float32)
    w = RNG.random((4, 3)).astype(np.float32)
    (a, t), (ya, yt) = both(p, True), both(y)
    la = tb.nn.BCELoss(weight=tb.tensor(w), reduction=reduction)(a, ya)
    lt = torch.nn.BCELoss(weight=torch.tensor(w), reduction=reduction)(t, yt)
    close(la, lt, 1e-4)
    close(tb.nn.L1Loss(reduction=reduction)(a, ya), torch.nn.L1Loss(reduction=reduction)(t, yt))
    close(F.binary_cross_entropy(a, ya, reduction=reduction), TF.binary_cross_entropy(t, yt, reduction=reduction), 1e-4)


def test_bce_with_logits_target_size_mismatch_is_value_error():
    with pytest.raises(ValueError):
        TF.binary_cross_entropy_with_logits(torch.zeros(4, 3), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits"):
        F.binary_cross_entropy_with_logits(tb.zeros(4, 3), tb.zeros(4, 1))


def test_cross_entropy_batch_size_mismatch_is_value_error():
    with pytest.raises(ValueError):
        TF.cross_entropy(torch.zeros(6, 5), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="cross_entropy"):
        F.cross_entropy(tb.zeros(6, 5), tb.zeros(4, dtype=tb.int64))


def test_cross_entropy_all_targets_ignored():
    lg = RNG.standard_normal((6, 5)).astype(np.float32)
    (a, t) = both(lg, True)
    la = F.cross_entropy(a, tb.full((6,), -100))
    lt = TF.cross_entropy(t, torch.full((6,), -100))
    assert np.isnan(la.item()) and np.isnan(lt.item())
    la.backward(), lt.backward()
    close(a.grad, t.grad)


def test_loss_weights_are_buffers():
    w = np.array([1.0, 2.0, 0.5], np.float32)
    for name in ["CrossEntropyLoss", "NLLLoss"]:
        ma, mt = getattr(tb.nn, name)(weight=tb.tensor(w)), getattr(torch.nn, name)(weight=torch.tensor(w))
        assert list(ma.state_dict()) == list(mt.state_dict()) == ["weight"]
        assert list(getattr(tb.nn, name)().state_dict()) == []


def test_softmax_dtype_argument():
    a, t = both(X)
    close(F.softmax(a, dim=-1, dtype=tb.float64), TF.softmax(t, dim=-1, dtype=torch.float64))
    close(F.log_softmax(a, 1, dtype=tb.float64), TF.log_softmax(t, 1, dtype=torch.float64))


def test_bce_with_logits_gradient_at_zero_logits():
    # the loss is smooth at x = 0 (d/dx = sigmoid(x) - y); relu/abs pieces gave -y there before
    y = np.array([0.0, 1.0, 0.3], np.float32)
    (a, t), (ya, yt) = both(np.zeros(3, np.float32), True), both(y)
    F.binary_cross_entropy_with_logits(a, ya).backward()
    TF.binary_cross_entropy_with_logits(t, yt).backward()
    close(a.grad, t.grad)
    big = F.binary_cross_entropy_with_logits(tb.tensor([1000.0, -1000.0]), tb.tensor([0.0, 1.0]), reduction="none")
    close(big, torch.tensor([1000.0, 1000.0]))


# ---------------------------------------------------------------- layers
ACTS = [("GELU", {}), ("GELU", dict(approximate="tanh")), ("LeakyReLU", {}), ("LeakyReLU", dict(negative_slope=0.2)),
        ("ELU", dict(alpha=0.5)), ("SiLU", {}), ("Softplus", {}), ("Softplus", dict(beta=2, threshold=5)),
        ("Flatten", {}), ("Flatten", dict(start_dim=0, end_dim=1)), ("LayerNorm", dict(normalized_shape=6)),
        ("LayerNorm", dict(normalized_shape=(4, 6), elementwise_affine=False)),
        ("LayerNorm", dict(normalized_shape=6, bias=False))]


@pytest.mark.parametrize("name,kw", ACTS, ids=[f"{n}-{k}" for n, k in ACTS])
def test_activation_and_norm_layers(name, kw):
    x = (RNG.standard_normal((3, 4, 6)) * 3).astype(np.float32)
    x[0, 0, :3] = [25.0, -30.0, 0.0]
    tm, m = getattr(torch.nn, name)(**kw), getattr(tb.nn, name)(**kw)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    with torch.no_grad():
        for p in tm.parameters():
            p.normal_()
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    (a, t) = both(x, True)
    ya, yt = m(a), tm(t)
    close(ya, yt)
    (ya ** 2).sum().backward(), (yt ** 2).sum().backward()
    close(a.grad, t.grad, 1e-4)
    for pa, pt in zip(m.parameters(), tm.parameters()):
        close(pa.grad, pt.grad, 1e-4)


def test_functional_one_hot_and_normalize():
    idx = np.array([[0, 2], [1, 1]])
    close(F.one_hot(tb.tensor(idx)), TF.one_hot(torch.tensor(idx)))
    close(F.one_hot(tb.tensor(idx), 5), TF.one_hot(torch.tensor(idx), 5))
    a, t = both(X)
    close(F.normalize(a, dim=-1), TF.normalize(t, dim=-1))
    close(F.normalize(a), TF.normalize(t))


def test_module_dict():
    tm = torch.nn.ModuleDict({"b": torch.nn.Linear(2, 3), "a": torch.nn.Linear(3, 1)})
    m = tb.nn.ModuleDict({"b": tb.nn.Linear(2, 3), "a": tb.nn.Linear(3, 1)})
    assert list(m.state_dict()) == list(tm.state_dict()) and list(m) == list(tm) == ["b", "a"]
    assert repr(m) == repr(tm) and "a" in m and len(m) == 2 and isinstance(m["a"], tb.nn.Linear)


def test_module_forward_hooks():
    torch.manual_seed(0)
    tm = torch.nn.Linear(3, 2)
    m = tb.nn.Linear(3, 2)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    seen = []
    hs = [mod.register_forward_hook(lambda mod, args, out: out * 2) for mod in (m, tm)]
    pre = [mod.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape)) for mod in (m, tm)]
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    close(m(tb.tensor(x)), tm(torch.tensor(x)))
    assert seen == [(4, 3), torch.Size([4, 3])]
    for h in hs + pre:
        h.remove()
    close(m(tb.tensor(x)), tm(torch.tensor(x)))
    m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    tm.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    close(m(tb.tensor(x)), tm(torch.tensor(x)))


def test_norm_gradient_at_zero_is_zero():
    (a, t) = both(np.zeros((2, 3), np.float32), True)
    a.norm().backward(), t.norm().backward()
    close(a.grad, t.grad)
    (a, t) = both(np.array([[0.0, 0.0], [3.0, 4.0]], np.float32), True)
    a.norm(dim=1).sum().backward(), t.norm(dim=1).sum().backward()
    close(a.grad, t.grad)


def test_sum_dtype_var_correction_flip():
    (a, t) = both(X, True)
    close(a.sum(dtype=tb.float64), t.sum(dtype=torch.float64))
    close(tb.sum(a, 1, dtype=tb.float64), torch.sum(t, 1, dtype=torch.float64))
    close(a.var(1, correction=0), t.var(1, correction=0))
    close(a.std(dim=(0, 2), correction=2, keepdim=True), t.std(dim=(0, 2), correction=2, keepdim=True))
    ya, yt = tb.flip(a, (0, 2)), torch.flip(t, (0, 2))
    close(ya, yt)
    close(a.flip(-1), t.flip(-1))
    (ya * tb.tensor(X)).sum().backward(), (yt * torch.tensor(X)).sum().backward()
    close(a.grad, t.grad)


# ---------------------------------------------------------------- schedulers
@pytest.mark.parametrize("name,kw", [("MultiStepLR", dict(milestones=[1, 3, 3], gamma=0.1)),
                                     ("CosineAnnealingLR", dict(T_max=3)),
                                     ("CosineAnnealingLR", dict(T_max=2, eta_min=0.01))])
def test_more_lr_schedulers(name, kw):
    torch.manual_seed(0)
    tm, m = torch.nn.Linear(3, 2), tb.nn.Linear(3, 2)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    ot = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    ob = tb.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    st, sb = getattr(torch.optim.lr_scheduler, name)(ot, **kw), getattr(tb.optim.lr_scheduler, name)(ob, **kw)
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    for _ in range(9):
        ot.zero_grad(), ob.zero_grad()
        (tm(torch.tensor(x)) ** 2).mean().backward(), (m(tb.tensor(x)) ** 2).mean().backward()
        ot.step(), ob.step(), st.step(), sb.step()
        np.testing.assert_allclose(sb.get_last_lr(), st.get_last_lr(), rtol=1e-12)
    for pa, pt in zip(m.parameters(), tm.parameters()):
        close(pa, pt)


# ---------------------------------------------------------------- odds and ends
def test_inference_mode_randint_vector_to_parameters():
    a = tb.ones(2, requires_grad=True)
    with tb.inference_mode():
        assert not (a * 2).requires_grad
    with tb.inference_mode(False):
        assert (a * 2).requires_grad
    assert tb.randint(5, (2, 3)).shape == torch.randint(5, (2, 3)).shape == (2, 3)
    assert tb.randint(5, (2, 3)).dtype == tb.int64
    torch.manual_seed(0)
    tm, m = torch.nn.Linear(3, 2), tb.nn.Linear(3, 2)
    vec = np.arange(8, dtype=np.float32)
    torch.nn.utils.vector_to_parameters(torch.tensor(vec), tm.parameters())
    tb.nn.utils.vector_to_parameters(tb.tensor(vec), m.parameters())
    for pa, pt in zip(m.parameters(), tm.parameters()):
        close(pa, pt)


# ---------------------------------------------------------------- masks
@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_sdpa_attn_mask_with_is_causal(mask_kind):
    q = RNG.standard_normal((2, 3, 4, 8)).astype(np.float32)
    k = RNG.standard_normal((2, 3, 6, 8)).astype(np.float32)
    mask = RNG.random((4, 6)) > 0.3 if mask_kind == "bool" else RNG.standard_normal((4, 6)).astype(np.float32)
    mask[0] = False if mask_kind == "bool" else mask[0]  # a fully masked row (bool) gives zeros in both
    (qa, qt), (ka, kt) = both(q, True), both(k, True)
    oa = F.scaled_dot_product_attention(qa, ka, ka, attn_mask=tb.tensor(mask), is_causal=True)
    ot = TF.scaled_dot_product_attention(qt, kt, kt, attn_mask=torch.tensor(mask), is_causal=True)
    close(oa, ot)
    oa.sum().backward(), ot.sum().backward()
    close(qa.grad, qt.grad, 1e-4)
    close(ka.grad, kt.grad, 1e-4)
    for shape in [(4, 8), (3, 4, 8)]:  # PyTorch raises for these
        with pytest.raises(RuntimeError):
            TF.scaled_dot_product_attention(*[torch.zeros(shape)] * 3, attn_mask=torch.ones(4, 4, dtype=torch.bool),
                                            is_causal=True)
        with pytest.raises(RuntimeError, match="Explicit attn_mask"):
            F.scaled_dot_product_attention(*[tb.zeros(*shape)] * 3, attn_mask=tb.ones(4, 4, dtype=tb.bool),
                                           is_causal=True)


def test_nll_loss_all_targets_ignored():
    (a, t) = both(np.log(np.full((3, 4), 0.25, np.float32)), True)
    la, lt = F.nll_loss(a, tb.full((3,), -100)), TF.nll_loss(t, torch.full((3,), -100))
    assert np.isnan(la.item()) and np.isnan(lt.item())
    la.backward(), lt.backward()
    close(a.grad, t.grad)


def _grad_pair(f, x):
    (a, t) = both(x, True)
    ya, yt = f(tb, a), f(torch, t)
    close(ya, yt)
    w = RNG.random(ya.shape).astype(np.float32)
    (ya * tb.tensor(w)).sum().backward(), (yt * torch.tensor(w)).sum().backward()
    close(a.grad, t.grad)


IDX = RNG.integers(0, 4, (3, 6, 5))


@pytest.mark.parametrize("name,f", [
    ("gather", lambda L, a: a.gather(1, L.tensor(IDX))),
    ("gather_last", lambda L, a: a.gather(-1, L.tensor(IDX[:, :4, :2] % 5))),
    ("cumsum", lambda L, a: a.cumsum(1)),
    ("cumsum_neg", lambda L, a: a.cumsum(dim=-1)),
    ("sort", lambda L, a: a.sort(dim=1).values),
    ("sort_desc", lambda L, a: a.sort(descending=True)[0]),
    ("topk", lambda L, a: a.topk(2).values),
    ("topk_smallest", lambda L, a: a.topk(3, dim=0, largest=False)[0]),
    ("log1p", lambda L, a: a.abs().log1p()),
])
def test_gather_cumsum_sort_topk(name, f):
    _grad_pair(f, X)


def test_sort_topk_indices_and_rounding():
    a, t = both(X)
    close(a.sort(1).indices, t.sort(dim=1, stable=True).indices)
    close(a.topk(2, dim=1).indices, t.topk(2, dim=1).indices)
    close(a.sign(), t.sign())
    close(a.floor(), t.floor())
    close(tb.tensor([0.5, 1.5, 2.5, -0.5]).round(), torch.tensor([0.5, 1.5, 2.5, -0.5]).round())
    with pytest.raises(RuntimeError):
        t.gather(1, torch.full((3, 4, 5), 9))
    with pytest.raises(RuntimeError, match="gather"):
        a.gather(1, tb.full((3, 4, 5), 9))


@pytest.mark.parametrize("data", [
    np.array([[1.0, 0.0, 1.0, 2.0, 0.0], [2.0, 2.0, 1.0, 0.0, 2.0]]),
    np.array([[True, False, True], [False, False, True]]),
    np.array([[3, 0, 3, 1], [0, 0, 2, 2]], np.uint8),
    np.array([[1.0, np.nan, 2.0, np.nan, 1.0]]),
])
@pytest.mark.parametrize("dim", [0, 1])
def test_descending_sort_ties_nan_bool_unsigned(data, dim):
    """Descending stable sort keeps ties in their order and puts NaN first, for any dtype, as torch."""
    ours = tb.from_numpy(data).sort(dim=dim, descending=True, stable=True)
    theirs = torch.from_numpy(data).sort(dim=dim, descending=True, stable=True)
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


def test_t_rejects_more_than_two_dims():
    assert tb.zeros(3).t().shape == torch.zeros(3).t().shape
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"):
        torch.zeros(2, 3, 4).t()
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"):
        tb.zeros(2, 3, 4).t()


def test_cat_promotes_int_to_float32_and_linear_checks_dtype():
    close(tb.cat([tb.ones(2), tb.tensor([1, 2])]), torch.cat([torch.ones(2), torch.tensor([1, 2])]))
    close(tb.stack([tb.tensor([1, 2]), tb.ones(2)]), torch.stack([torch.tensor([1, 2]), torch.ones(2)]))
    with pytest.raises(RuntimeError):
        torch.nn.Linear(2, 2)(torch.ones(2, 2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="linear: input dtype float64"):
        tb.nn.Linear(2, 2)(tb.ones(2, 2, dtype=tb.float64))


# ---------------------------------------------------------------- optimizers
@pytest.mark.parametrize("kw", [{}, dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.2,
                                     eps=1e-6), dict(maximize=True, groups=True)])
def test_adagrad(kw):
    kw = dict(kw)
    groups = kw.pop("groups", False)
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    m = tb.nn.Sequential(tb.nn.Linear(3, 4), tb.nn.Tanh(), tb.nn.Linear(4, 2))
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    if groups:
        pt = [{"params": tm[0].parameters(), "lr": 0.05}, {"params": tm[2].parameters()}]
        pb = [{"params": m[0].parameters(), "lr": 0.05}, {"params": m[2].parameters()}]
    else:
        pt, pb = tm.parameters(), m.parameters()
    ot, ob = torch.optim.Adagrad(pt, **kw), tb.optim.Adagrad(pb, **kw)
    assert list(ob.state_dict()["state"]) == list(ot.state_dict()["state"])  # state exists from construction
    x = RNG.standard_normal((5, 3)).astype(np.float32)
    for _ in range(5):
        ot.zero_grad(), ob.zero_grad()
        (tm(torch.tensor(x)) ** 2).mean().backward(), (m(tb.tensor(x)) ** 2).mean().backward()
        ot.step(), ob.step()
    for pa, pt_ in zip(m.parameters(), tm.parameters()):
        close(pa, pt_, 1e-6)
    st, sb = ot.state_dict(), ob.state_dict()
    assert sb["param_groups"][0].keys() == st["param_groups"][0].keys()
    assert sb["state"][0].keys() == st["state"][0].keys()
    close(sb["state"][1]["sum"], st["state"][1]["sum"], 1e-6)


# ---------------------------------------------------------------- more losses and functional
_XL = (RNG.standard_normal((4, 3)) * 2).astype(np.float32)
_YL = RNG.standard_normal((4, 3)).astype(np.float32)
_XL[0, 0] = _YL[0, 0] + 1.0  # exactly on the kink
_PL = RNG.random((4, 3)).astype(np.float32)
_PL /= _PL.sum(1, keepdims=True)
_PL[1, 1] = 0.0


def _loss_pair(fb, ft):
    (a, t) = both(_XL, True)
    la, lt = fb(a), ft(t)
    close(la, lt)
    w = np.asarray(RNG.random(la.shape), np.float32)
    (la * tb.tensor(w)).sum().backward(), (lt * torch.tensor(w)).sum().backward()
    close(a.grad, t.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("width", [1.0, 0.3, 0.0])
def test_smooth_l1_and_huber(reduction, width):
    _loss_pair(lambda a: F.smooth_l1_loss(a, tb.tensor(_YL), reduction=reduction, beta=width),
               lambda t: TF.smooth_l1_loss(t, torch.tensor(_YL), reduction=reduction, beta=width))
    if width:
        _loss_pair(lambda a: tb.nn.HuberLoss(reduction=reduction, delta=width)(a, tb.tensor(_YL)),
                   lambda t: torch.nn.HuberLoss(reduction=reduction, delta=width)(t, torch.tensor(_YL)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    target = np.log(_PL + 0.1) if log_target else _PL
    _loss_pair(lambda a: tb.nn.KLDivLoss(reduction, log_target)(a.log_softmax(1), tb.tensor(target)),
               lambda t: torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)(t.log_softmax(1),
                                                                                      torch.tensor(target)))


@pytest.mark.parametrize("pad", [(1, 2), (0, 1, 2, 0), (1, 1, 1, 1), (-1, 2), (2, -1, 0, 1)])
def test_pad_and_cosine_similarity(pad):
    _loss_pair(lambda a: F.pad(a, pad, value=-1.5), lambda t: TF.pad(t, pad, value=-1.5))
    _loss_pair(lambda a: F.cosine_similarity(a, tb.tensor(_YL), dim=0),
               lambda t: TF.cosine_similarity(t, torch.tensor(_YL), dim=0))


def test_mean_dtype_argument():
    a, t = both(X)
    close(a.mean(dtype=tb.float64), t.mean(dtype=torch.float64))
    close(a.mean(1, keepdim=True, dtype=tb.float64), t.mean(1, keepdim=True, dtype=torch.float64))
    close(tb.tensor([1, 2]).mean(dtype=tb.float32), torch.tensor([1, 2]).mean(dtype=torch.float32))


def test_tensor_from_numpy_float64_scalars_keeps_float64_and_logical_ops():
    for data in ([np.float64(1.0)], [np.float64(1.0), 2.0], [[np.float64(1.0)], [2.0]], [np.float32(1.0), 2.0],
                 [1.0, 2.0], np.float64(1.5)):
        close(tb.tensor(data), torch.tensor(data))
    a, t = both(np.array([True, False, True]))
    b, u = both(np.array([True, True, False]))
    close(a.logical_not(), t.logical_not())
    close(a.logical_and(b), t.logical_and(u))
    close(a.logical_or(b), t.logical_or(u))


def test_linear_input_keyword():
    torch.manual_seed(0)
    tm, m = torch.nn.Linear(3, 2), tb.nn.Linear(3, 2)
    m.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    close(m(input=tb.tensor(X[0, :, :3])), tm(input=torch.tensor(X[0, :, :3])))


# ---------------------------------------------------------------- audit: losses and activations (float64, 1e-10)
def _f64_pair(fb, ft, arrays, grads):
    """Run fb / ft on tinybptt / torch tensors of ``arrays``; compare the value and the gradients of the
    arrays flagged in ``grads`` (float64, tight tolerance)."""
    ours = [tb.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    theirs = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grads)]
    la, lt = fb(*ours), ft(*theirs)
    close(la, lt, tol=1e-10)
    g = np.random.default_rng(1).standard_normal(tuple(lt.shape))
    la.backward(tb.tensor(g)), lt.backward(torch.tensor(g))
    for a, t, flag in zip(ours, theirs, grads):
        if flag:
            np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("fn,kw", [("leaky_relu", dict(negative_slope=0.2)), ("elu", dict(alpha=0.7)),
                                   ("leaky_relu", {}), ("elu", {})])
def test_leaky_relu_and_elu_gradient_at_zero(fn, kw):
    x = np.array([-800.0, -1.0, -1e-300, 0.0, 1e-300, 2.0, 800.0])
    _f64_pair(lambda a: getattr(F, fn)(a, **kw), lambda t: getattr(TF, fn)(t, **kw), [x], [True])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradient_wrt_target(reduction, log_target):
    rng = np.random.default_rng(2)
    logp = np.log(rng.dirichlet(np.ones(4), 3))
    q = rng.dirichlet(np.ones(4), 3)
    target = np.log(q) if log_target else q
    with pytest.warns(UserWarning, match="batchmean") if reduction == "mean" else _no_warning():
        _f64_pair(lambda a, t: F.kl_div(a, t, reduction=reduction, log_target=log_target),
                  lambda a, t: TF.kl_div(a, t, reduction=reduction, log_target=log_target), [logp, target],
                  [True, True])


def _no_warning():
    import contextlib
    return contextlib.nullcontext()


def test_kl_div_zero_target_gives_zero_loss_and_torch_nan_target_grad():
    a, t = tb.tensor([-1.0, -2.0], requires_grad=True), tb.tensor([0.0, 0.5], requires_grad=True)
    at, tt = torch.tensor([-1.0, -2.0], requires_grad=True), torch.tensor([0.0, 0.5], requires_grad=True)
    la, lt = F.kl_div(a, t, reduction="sum"), TF.kl_div(at, tt, reduction="sum")
    close(la, lt)
    la.backward(), lt.backward()
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-6)  # nan where the target is 0
    close(a.grad, at.grad)


@pytest.mark.parametrize("seed", range(12))
def test_class_losses_randomized_float64(seed):
    """cross_entropy / nll_loss with random shapes (incl. (C,) and (N, C, d1, d2)), weights, ignore_index,
    label smoothing and reductions, as functions and modules; values and input gradients."""
    rng = np.random.default_rng(100 + seed)
    c, n = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    shape = (c,) if seed % 5 == 0 else (n, c) + tuple(int(d) for d in rng.integers(1, 3, seed % 3))
    x = rng.standard_normal(shape) * 3
    target = rng.integers(0, c, shape[:1] + shape[2:] if len(shape) > 1 else ())
    ignore = int(rng.choice([-100, 0, c - 1]))
    weight = rng.random(c) + 0.1 if seed % 2 else None
    red, ls = ["none", "mean", "sum"][seed % 3], [0.0, 0.1, 0.7][seed % 3]
    wa, wt = (None, None) if weight is None else (tb.tensor(weight), torch.tensor(weight))
    _f64_pair(lambda a: F.cross_entropy(a, tb.tensor(target), wa, ignore_index=ignore, reduction=red,
                                        label_smoothing=ls),
              lambda t: TF.cross_entropy(t, torch.tensor(target), wt, ignore_index=ignore, reduction=red,
                                         label_smoothing=ls), [x], [True])
    _f64_pair(lambda a: tb.nn.NLLLoss(wa, ignore_index=ignore, reduction=red)(a.log_softmax(0 if len(shape) == 1
                                                                                              else 1),
                                                                               tb.tensor(target)),
              lambda t: torch.nn.NLLLoss(wt, ignore_index=ignore, reduction=red)(t.log_softmax(0 if len(shape) == 1
                                                                                                else 1),
                                                                                  torch.tensor(target)),
              [x], [True])
    probs = rng.dirichlet(np.ones(c), shape[:1] + shape[2:]) if len(shape) > 1 else rng.dirichlet(np.ones(c))
    probs = np.moveaxis(probs, -1, 1) if len(shape) > 1 else probs
    _f64_pair(lambda a, p: tb.nn.CrossEntropyLoss(wa, reduction=red, label_smoothing=ls)(a, p),
              lambda t, p: torch.nn.CrossEntropyLoss(wt, reduction=red, label_smoothing=ls)(t, p),
              [x, probs], [True, True])


@pytest.mark.parametrize("fn, smoothing", [("cross_entropy", 0.0), ("cross_entropy", 0.2), ("nll_loss", 0.0)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("target", [[1, -100, 1, 3], [-100] * 4], ids=["zero_weight", "all_ignored"])
def test_class_loss_mean_with_zero_total_weight_is_nan_like_torch(fn, smoothing, dtype, target):
    """mean over targets of total weight 0 (class weights 0, or all ignored): a nan loss, nan gradients in
    the rows of non-ignored targets and zeros in the ignored rows, as torch's (nll_loss has no smoothing)."""
    x = np.random.default_rng(3).standard_normal((4, 5)).astype(dtype)
    w = np.array([1.0, 0.0, 2.0, 0.0, 1.0], dtype)
    kw = dict(label_smoothing=smoothing) if fn == "cross_entropy" else {}
    (a, t), (wa, wt) = both(x, True), both(w)
    la = getattr(F, fn)(a, tb.tensor(target), weight=wa, **kw)
    lt = getattr(TF, fn)(t, torch.tensor(target), weight=wt, **kw)
    assert np.isnan(la.item()) and np.isnan(lt.item())
    la.backward(), lt.backward()
    np.testing.assert_array_equal(np.isnan(a.grad.numpy()), np.isnan(t.grad.numpy()))
    np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("size_average, reduce", [(True, None), (False, None), (None, False), (False, True)])
def test_class_losses_take_torchs_deprecated_size_average_and_reduce(size_average, reduce):
    """Positional order as torch: (weight, size_average, ignore_index, reduce, reduction[, label_smoothing])."""
    x = np.random.default_rng(4).standard_normal((5, 3))
    target = np.array([0, 2, 1, 1, 2])
    for ours, theirs in ((lambda a, t: F.cross_entropy(a, t, None, size_average, 1, reduce),
                          lambda a, t: TF.cross_entropy(a, t, None, size_average, 1, reduce)),
                         (lambda a, t: F.nll_loss(a, t, None, size_average, 1, reduce),
                          lambda a, t: TF.nll_loss(a, t, None, size_average, 1, reduce)),
                         (lambda a, t: tb.nn.CrossEntropyLoss(None, size_average, 1, reduce)(a, t),
                          lambda a, t: torch.nn.CrossEntropyLoss(None, size_average, 1, reduce)(a, t)),
                         (lambda a, t: tb.nn.NLLLoss(None, size_average, 1, reduce)(a, t),
                          lambda a, t: torch.nn.NLLLoss(None, size_average, 1, reduce)(a, t))):
        (a, t) = both(x, True)
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated") as want:
            lt = theirs(t, torch.tensor(target))
        with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated") as got:
            la = ours(a, tb.tensor(target))
        assert str(got[0].message) == str(want[0].message)
        close(la, lt, 1e-12)


@pytest.mark.parametrize("case", [
    # (input shape, target, kwargs, exception, text as torch's)
    ((3, 4), np.array([0, 1]), {}, ValueError, "Expected input batch_size (3) to match target batch_size (2)."),
    ((3, 4), np.zeros((3, 2), np.int64), {}, RuntimeError,
     "0D or 1D target tensor expected, multi-target not supported"),
    ((3, 4), np.zeros((3, 4), np.int64), {}, RuntimeError,
     "Expected floating point type for target with class probabilities"),
    ((3, 4, 5), np.zeros((3, 4), np.int64), {}, RuntimeError, "Expected target size [3, 5], got [3, 4]"),
    ((3, 4), np.array([0, 1, 4]), {}, IndexError, "Target 4 is out of bounds."),
    ((3, 4), np.array([0, 1, 2]), dict(weight=np.ones(3)), RuntimeError,
     "weight tensor should be defined either for all 4 classes or no classes but got weight tensor of shape: [3]"),
    ((3, 4), np.array([0, 1, 2]), dict(label_smoothing=1.5), RuntimeError,
     "label_smoothing must be between 0.0 and 1.0. Got: 1.5"),
    ((3, 4), np.full((3, 4), 0.25), dict(ignore_index=1), RuntimeError,
     "ignore_index is not supported for floating point target"),
    ((3, 4), np.array([0, 1, 2]), dict(reduction="avg"), ValueError, "avg is not a valid value for reduction"),
    ((3, 4), np.array([0, 1, 2]), dict(weight=np.ones(4, np.float32)), RuntimeError,
     "expected scalar type Double but found Float"),
    ((3, 4), np.array([0, 1, 2]), dict(weight=np.ones((1, 4))), RuntimeError,
     "weight tensor should be defined either for all 4 classes or no classes but got weight tensor of shape: [1, 4]"),
    ((3, 4), np.full((3, 4), 0.25), dict(weight=np.ones((1, 4))), RuntimeError,
     "weight tensor should be defined either for all 4 classes or no classes but got weight tensor of shape: [1, 4]"),
], ids=["batch", "multi-target", "int-probabilities", "k-dim", "out-of-bounds", "weight-size", "smoothing",
        "prob-ignore", "reduction", "weight-dtype", "weight-2d", "prob-weight-2d"])
def test_cross_entropy_bad_input_raises_like_torch(case):
    import re
    shape, target, kw, exc, text = case
    x = np.random.default_rng(0).standard_normal(shape)

    def call(lib, f):
        kw2 = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        return f.cross_entropy(lib.tensor(x), lib.tensor(target), **kw2)
    with pytest.raises(exc, match=re.escape(text)):
        call(torch, TF)
    with pytest.raises(exc, match=re.escape(text)) as e:
        call(tb, F)
    assert str(e.value).startswith("cross_entropy")


def test_loss_argument_errors_like_torch():
    import re
    x, y = tb.randn(3, 4), tb.randn(3, 4)
    for fn, kw, text in [("smooth_l1_loss", dict(beta=-1.0),
                          "smooth_l1_loss does not support negative values for beta."),
                         ("huber_loss", dict(delta=0.0), "huber_loss does not support non-positive values for delta.")]:
        with pytest.raises(RuntimeError, match=re.escape(text)):
            getattr(TF, fn)(torch.randn(3, 4), torch.randn(3, 4), **kw)
        with pytest.raises(RuntimeError, match=re.escape(text)):
            getattr(F, fn)(x, y, **kw)
    for bad_input, what in ((np.array([1.5, 0.2]), "input"), (np.array([0.5, 0.2]), "target")):
        tgt = np.array([1.0, 0.0]) if what == "input" else np.array([1.5, 0.0])
        with pytest.raises(RuntimeError, match=f"all elements of {what} should be between 0 and 1"):
            TF.binary_cross_entropy(torch.tensor(bad_input), torch.tensor(tgt))
        with pytest.raises(RuntimeError, match=f"all elements of {what} should be between 0 and 1"):
            F.binary_cross_entropy(tb.tensor(bad_input), tb.tensor(tgt))


@pytest.mark.parametrize("fn,arg", [("binary_cross_entropy", "weight"), ("binary_cross_entropy_with_logits", "weight"),
                                    ("binary_cross_entropy_with_logits", "pos_weight"), ("cross_entropy", "weight"),
                                    ("nll_loss", "weight")])
def test_loss_weights_requiring_grad_raise_like_torch(fn, arg):
    def call(lib, f):
        binary = fn.startswith("binary")
        x = lib.tensor([0.2, 0.7, 0.4] if binary else [[0.1, 0.5, -1.0]], requires_grad=True)
        t = lib.tensor([1.0, 0.0, 1.0] if binary else [2])
        return getattr(f, fn)(x, t, **{arg: lib.ones(3, requires_grad=True)})
    with pytest.raises(RuntimeError, match=f"not differentiable with respect to argument '{arg}'"):
        call(torch, TF)
    with pytest.raises(RuntimeError, match=f"not differentiable with respect to argument '{arg}'"):
        call(tb, F)
    with tb.no_grad():
        call(tb, F)  # fine when nothing is recorded


def test_linear_and_layer_norm_shape_errors_like_torch():
    import re
    with pytest.raises(RuntimeError, match=re.escape(
            "both arguments to linear need to be at least 1D, but they are 0D and 2D")):
        F.linear(tb.tensor(1.0), tb.ones(4, 1))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.layer_norm(tb.ones(2, 4), (4,), tb.ones(3))


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "silu", "dropout", "embedding",
                                  "layer_norm", "normalize"])
def test_functional_signatures_match_torch(name):
    import inspect
    ours = [(p.name, p.default) for p in inspect.signature(getattr(F, name)).parameters.values()]
    theirs = [(p.name, p.default) for p in inspect.signature(getattr(TF, name)).parameters.values()]
    assert ours == [t for t in theirs if t[0] != "out"]


def test_keyword_input_and_module_constructor_arguments_like_torch():
    x = np.random.default_rng(3).standard_normal((2, 3)).astype(np.float32)
    for name in ("relu", "tanh", "sigmoid", "silu", "gelu", "softplus", "elu", "leaky_relu"):
        close(getattr(F, name)(input=tb.tensor(x)), getattr(TF, name)(input=torch.tensor(x)))
    w = np.random.default_rng(4).standard_normal((4, 3)).astype(np.float32)
    close(F.linear(input=tb.tensor(x), weight=tb.tensor(w)), TF.linear(input=torch.tensor(x), weight=torch.tensor(w)))
    for make in (lambda L: L.ReLU(inplace=True), lambda L: L.SiLU(True), lambda L: L.ReLU(), lambda L: L.Tanh(),
                 lambda L: L.Identity(3, unused=1), lambda L: L.LayerNorm(3, device="cpu"), lambda L: L.Softmax(-1)):
        ours, theirs = make(tb.nn), make(torch.nn)
        assert repr(ours) == repr(theirs)
        close(ours(input=tb.tensor(x)), theirs(input=torch.tensor(x)))


def test_functional_embedding_max_norm_like_torch():
    w = np.random.default_rng(5).standard_normal((6, 4)) * 3
    idx = np.array([[0, 1, 1], [2, 5, 0]])
    a, t = tb.tensor(w.copy(), requires_grad=True), torch.tensor(w.copy(), requires_grad=True)
    ya = F.embedding(tb.tensor(idx), a, max_norm=1.0, norm_type=1.0)
    yt = TF.embedding(torch.tensor(idx), t, max_norm=1.0, norm_type=1.0)
    close(ya, yt, tol=1e-10)
    close(a.detach(), t.detach(), tol=1e-10)  # rows renormalised in place
    ya.sum().backward(), yt.sum().backward()
    close(a.grad, t.grad, tol=1e-10)


@pytest.mark.parametrize("fn, kw", [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}),
                                    ("smooth_l1_loss", dict(beta=0.0)), ("huber_loss", {})])
def test_regression_losses_warn_when_the_target_broadcasts_like_torch(fn, kw):
    """A (N, 1) head against a (N,) target broadcasts to (N, N): torch warns, and so must we (once)."""
    import warnings

    def caught(lib, *shapes):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = getattr(lib.nn.functional, fn)(*(lib.ones(*s) for s in shapes), **kw)
        texts = [str(m.message) for m in w]
        if lib is torch:  # torch.Size([3]) -> [3]
            texts = [t.replace("torch.Size(", "").replace("])", "]") for t in texts]
        return texts, tuple(out.shape)
    for shapes in [((3, 1), (3,)), ((3,), (3,)), ((2, 3), (3,))]:
        assert caught(tb, *shapes) == caught(torch, *shapes)
    assert caught(tb, (3, 1), (3,))[0] == ["Using a target size ([3]) that is different to the input size ([3, 1]). "
                                           "This will likely lead to incorrect results due to broadcasting. Please "
                                           "ensure they have the same size."]


@pytest.mark.parametrize("fn", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint16", "uint32"])
def test_class_targets_must_be_long_or_byte_like_torch(fn, dtype):
    x, target = np.ones((2, 3)), np.array([0, 1], dtype)
    with pytest.raises(RuntimeError) as theirs:
        getattr(torch.nn.functional, fn)(torch.tensor(x), torch.from_numpy(target))
    with pytest.raises(RuntimeError) as ours:
        getattr(F, fn)(tb.tensor(x), tb.from_numpy(target))
    assert str(ours.value) == f"{fn}: {theirs.value}"
    for ok in ("int64", "uint8"):  # the two torch accepts
        close(getattr(F, fn)(tb.tensor(x), tb.from_numpy(target.astype(ok))),
              getattr(torch.nn.functional, fn)(torch.tensor(x), torch.from_numpy(target.astype(ok))))
