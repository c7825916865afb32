"""Every primitive's gradient against central finite differences (float64 gradcheck)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinybptt as tb
import tinybptt.nn.functional as F
from conftest import leaf

SHAPES = [(), (1,), (5,), (3, 4), (2, 1, 3)]
BROADCAST = [((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)), ((1,), (2, 3)), ((), (2, 3)), ((4, 1, 2), (3, 1))]


# ---------------------------------------------------------------- gradcheck itself
def test_gradcheck_accepts_correct_and_names_wrong_gradient(rng):
    x = leaf(rng, 3, 4)
    assert tb.gradcheck(lambda x: x.tanh(), (x,))

    class BadSquare(tb.autograd.Function):
        def forward(self, a):
            self.a = a
            return a * a

        def backward(self, g):
            return g * 3 * self.a  # should be 2a

    with pytest.raises(tb.GradcheckError, match=r"input 0 \(shape \(3, 4\)\).*analytic .* vs numeric"):
        tb.gradcheck(BadSquare.apply, (x,))
    assert tb.gradcheck(BadSquare.apply, (x,), raise_exception=False) is False
    assert issubclass(tb.GradcheckError, RuntimeError)


def test_gradcheck_multiple_outputs_and_unchecked_inputs(rng):
    a, b = leaf(rng, 3), leaf(rng, 3)
    c = tb.tensor(rng.standard_normal(3))  # no grad: not checked
    assert tb.gradcheck(lambda a, b, c: (a * b + c, (a - c).exp()), (a, b, c))
    assert a.grad is None  # the caller's tensors are left alone


def test_gradcheck_float32_inputs_are_checked_in_float64(rng):
    x = tb.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    assert tb.gradcheck(lambda x: (x * x).sum(), (x,))


# ---------------------------------------------------------------- elementwise
UNARY = {
    "neg": (lambda x: -x, None),
    "exp": (lambda x: x.exp(), None),
    "log": (lambda x: x.log(), (0.5, 2.0)),
    "sqrt": (lambda x: x.sqrt(), (0.5, 2.0)),
    "abs": (lambda x: x.abs(), None),
    "tanh": (lambda x: x.tanh(), None),
    "sigmoid": (lambda x: x.sigmoid(), None),
    "sin_cos": (lambda x: x.sin() + (x * 2).cos(), None),
    "relu": (lambda x: x.relu(), None),
    "pow_scalar": (lambda x: x ** 3, None),
    "pow_frac": (lambda x: x ** 0.5, (0.5, 2.0)),
    "rpow": (lambda x: 2.0 ** x, None),
    "square_div": (lambda x: 1.0 / x, (0.5, 2.0)),
    "rsub": (lambda x: 3.0 - x, None),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), None),
    "clamp_min": (lambda x: x.clamp(min=0.1), None),
    "clamp_max": (lambda x: x.clamp(max=0.1), None),
    "clone": (lambda x: x.clone(), None),
}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name, shape, rng):
    f, bounds = UNARY[name]
    x = leaf(rng, *shape) if bounds is None else leaf(rng, *shape, lo=bounds[0], hi=bounds[1])
    for kink in (0.0, -0.5, 0.5, 0.1):  # finite differences are meaningless across a kink
        x._data[np.abs(x._data - kink) < 0.05] += 0.2
    assert tb.gradcheck(f, (x,))


BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
    "where": lambda a, b: tb.where(a > 0, a, b),
    "max_elementwise": lambda a, b: tb.max(a, b),
}


@pytest.mark.parametrize("sa,sb", BROADCAST + [((3, 4), (3, 4))])
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_broadcasting(name, sa, sb, rng):
    a, b = leaf(rng, *sa), leaf(rng, *sb)
    if name in ("div", "pow"):
        b = leaf(rng, *sb, lo=0.5, hi=2.0)
    if name == "pow":
        a = leaf(rng, *sa, lo=0.5, hi=2.0)
    assert tb.gradcheck(BINARY[name], (a, b))
    assert tb.gradcheck(BINARY[name], (b, a) if name not in ("div", "pow") else (a, b))


def test_same_tensor_twice_accumulates(rng):
    x = leaf(rng, 3, 2)
    assert tb.gradcheck(lambda x: x * x + x / (x * x + 1), (x,))


def test_pow_gradient_at_zero_matches_pytorch_convention():
    x = tb.tensor([0.0, 2.0], dtype=tb.float64, requires_grad=True)
    (x ** 0).sum().backward()
    assert np.array_equal(x.grad.numpy(), [0.0, 0.0])
    b = tb.tensor([2.0, 3.0], dtype=tb.float64, requires_grad=True)
    (tb.tensor([0.0, 2.0], dtype=tb.float64) ** b).sum().backward()
    assert np.allclose(b.grad.numpy(), [0.0, 8 * np.log(2.0)])


def test_pow_scalar_tensor_exponent_gets_gradient(rng):
    a = leaf(rng, 3, lo=0.5, hi=2.0)
    p = tb.tensor(1.5, dtype=tb.float64, requires_grad=True)
    assert tb.gradcheck(lambda a, p: a ** p, (a, p))
    assert tb.gradcheck(lambda p: 2.0 ** p, (p,))


# ---------------------------------------------------------------- matmul
MATMUL = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((2, 3, 4), (4, 5)),
          ((3, 4), (2, 4, 5)), ((2, 3, 4), (2, 4, 5)), ((4,), (2, 4, 5)), ((2, 3, 4), (4,)),
          ((2, 1, 3, 4), (5, 4, 2)), ((1, 4), (4, 1))]


@pytest.mark.parametrize("sa,sb", MATMUL)
def test_matmul(sa, sb, rng):
    a, b = leaf(rng, *sa), leaf(rng, *sb)
    assert tb.gradcheck(lambda a, b: a @ b, (a, b))
    assert np.allclose((a @ b).detach().numpy(), np.matmul(a.detach().numpy(), b.detach().numpy()))


def test_matmul_with_constant_operand_only_grads_the_other(rng):
    a = leaf(rng, 3, 4)
    w = tb.tensor(rng.standard_normal((4, 2)))
    (a @ w).sum().backward()
    assert w.grad is None and np.allclose(a.grad.numpy(), np.ones((3, 2)) @ w.numpy().T)


# ---------------------------------------------------------------- reductions
REDUCE_DIMS = [None, 0, -1, 1, (0, 2), (0, 1, 2), ()]


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", REDUCE_DIMS)
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_mean(op, dim, keepdim, rng):
    x = leaf(rng, 2, 3, 4)
    if dim is None and keepdim:
        return
    f = (lambda x: getattr(x, op)(dim, keepdim)) if dim is not None else (lambda x: getattr(x, op)())
    assert tb.gradcheck(f, (x,))
    ref = getattr(np, op)(x.detach().numpy(), axis=dim if dim != () else None, keepdims=keepdim)  # () = all dims
    assert np.allclose(f(x).detach().numpy(), ref)


def test_reductions_of_size_one_and_empty_dims(rng):
    assert tb.gradcheck(lambda x: x.sum(1), (leaf(rng, 3, 1),))
    assert tb.gradcheck(lambda x: x.mean(0, keepdim=True), (leaf(rng, 1, 4),))
    e = tb.zeros(0, 3, dtype=tb.float64, requires_grad=True)
    s = e.sum(0)
    s.sum().backward()
    assert s.shape == (3,) and np.array_equal(s.detach().numpy(), [0, 0, 0])
    assert e.grad.shape == (0, 3)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_min_dim(op, dim, keepdim, rng):
    x = leaf(rng, 3, 4)
    values, indices = getattr(x, op)(dim, keepdim)
    ref = getattr(np, op)(x.detach().numpy(), axis=dim, keepdims=keepdim)
    assert np.allclose(values.detach().numpy(), ref)
    assert indices.dtype == tb.int64 and indices.shape == ref.shape
    assert tb.gradcheck(lambda x: getattr(x, op)(dim, keepdim)[0], (x,))
    assert tb.gradcheck(lambda x: getattr(x, op)(), (x,))
    assert tb.gradcheck(lambda x: getattr(x, "a" + op)(dim, keepdim), (x,))


def test_elementwise_max_min_split_ties():
    a = tb.tensor([1.0, 2.0, 3.0], dtype=tb.float64, requires_grad=True)
    b = tb.tensor([1.0, 0.0, 5.0], dtype=tb.float64, requires_grad=True)
    tb.max(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 1.0, 0.0] and b.grad.tolist() == [0.5, 0.0, 1.0]
    assert tb.minimum(a, b).tolist() == [1.0, 0.0, 3.0] and a.maximum(b).tolist() == [1.0, 2.0, 5.0]


def test_max_ties_gradient_like_pytorch():
    x = tb.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], dtype=tb.float64, requires_grad=True)
    x.max().backward()  # full reduction: shared evenly among the tied maxima
    assert np.allclose(x.grad.numpy(), [[0, 0.5, 0.5], [0, 0, 0]])
    x.grad = None
    values, idx = x.max(1)  # with dim: all of it to the first index returned
    assert idx.tolist() == [1, 0]
    values.sum().backward()
    assert np.allclose(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])
    x.grad = None
    x.amax(1).sum().backward()  # amax: shared evenly
    assert np.allclose(x.grad.numpy(), [[0, 0.5, 0.5], [0.5, 0.5, 0]])


# ---------------------------------------------------------------- softmax family
@pytest.mark.parametrize("shape,dim", [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((2, 3, 4), 1), ((2, 3, 4), -1)])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax(fn, shape, dim, rng):
    x = leaf(rng, *shape)
    assert tb.gradcheck(lambda x: getattr(x, fn)(dim), (x,))
    a = x.detach().numpy()
    e = np.exp(a - a.max(dim, keepdims=True))
    ref = e / e.sum(dim, keepdims=True)
    assert np.allclose(getattr(x, fn)(dim).detach().numpy(), ref if fn == "softmax" else np.log(ref))


def test_softmax_huge_logits_are_stable():
    for dtype in (tb.float32, tb.float64):
        x = tb.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype=dtype, requires_grad=True)
        y = x.log_softmax(1)
        assert np.isfinite(y.detach().numpy()).all()
        assert np.allclose(y.detach().numpy()[0], [0.0, -1e4, -2e4])
        (y * tb.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]], dtype=dtype)).sum().backward()
        assert np.isfinite(x.grad.numpy()).all()
        assert np.allclose(x.softmax(1).detach().numpy()[1], [1 / 3] * 3)


def test_sigmoid_tanh_extremes():
    for dtype in (tb.float32, tb.float64):
        x = tb.tensor([-1000.0, 0.0, 1000.0], dtype=dtype, requires_grad=True)
        y = x.sigmoid()
        assert np.allclose(y.detach().numpy(), [0.0, 0.5, 1.0]) and np.isfinite(y.detach().numpy()).all()
        y.sum().backward()
        assert np.allclose(x.grad.numpy(), [0.0, 0.25, 0.0])
        t = x.tanh()
        assert np.allclose(t.detach().numpy(), [-1.0, 0.0, 1.0])


# ---------------------------------------------------------------- shape ops
@pytest.mark.parametrize("f", [
    lambda x: x.reshape(4, 6), lambda x: x.reshape(-1), lambda x: x.view(2, -1, 3),
    lambda x: x.permute(2, 0, 1), lambda x: x.transpose(0, 2), lambda x: x.transpose(-1, -2), lambda x: x.T,
    lambda x: x.unsqueeze(1), lambda x: x.flatten(1), lambda x: x[:, :1].squeeze(1),
    lambda x: x[:1].expand(5, 3, 4), lambda x: x[:, :1, :].expand(-1, 3, -1), lambda x: x.repeat(2, 1, 3),
    lambda x: x.mT,
], ids=["reshape", "flat", "view", "permute", "transpose", "transpose_neg", "T", "unsqueeze", "flatten",
        "squeeze", "expand", "expand_minus1", "repeat", "mT"])
def test_shape_ops(f, rng):
    x = leaf(rng, 2, 3, 4)
    assert tb.gradcheck(f, (x,))


@pytest.mark.parametrize("index", [
    1, -1, slice(None, None, 2), (slice(1, None), 2), (Ellipsis, 1), (None, 0), (slice(None), [0, 2, 0]),
    [2, 0, 2, 2], np.array([[0, 1], [1, 1]]), ([0, 1, 1], [3, 0, 0]), (slice(None, None, -1), slice(1, 3)),
], ids=["int", "neg", "step", "slice_int", "ellipsis", "none", "slice_intarr", "repeats", "2d_int_array",
        "pair_arrays", "reverse"])
def test_getitem(index, rng):
    x = leaf(rng, 3, 4)
    assert tb.gradcheck(lambda x: x[index], (x,))
    assert np.array_equal(x[index].detach().numpy(), x.detach().numpy()[index])


def test_getitem_masks_and_tensor_indices(rng):
    x = leaf(rng, 3, 4)
    mask = x.detach().numpy() > 0
    assert tb.gradcheck(lambda x: x[mask], (x,))
    assert tb.gradcheck(lambda x: x[tb.tensor(mask)], (x,))
    assert tb.gradcheck(lambda x: x[tb.tensor([1, 1, 0])], (x,))
    assert tb.gradcheck(lambda x: x[np.array([True, False, True])], (x,))
    x[tb.tensor([1, 1, 0])].sum().backward()
    assert np.array_equal(x.grad.numpy(), [[1] * 4, [2] * 4, [0] * 4])  # repeats add up


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cat_stack(dim, rng):
    a, b, c = leaf(rng, 2, 3), leaf(rng, 2, 3), leaf(rng, 2, 3)
    assert tb.gradcheck(lambda a, b, c: tb.cat([a, b, c], dim), (a, b, c))
    assert tb.gradcheck(lambda a, b, c: tb.stack([a, b, c], dim), (a, b, c))
    d = leaf(rng, 2, 1) if dim != 0 else leaf(rng, 1, 3)
    assert tb.gradcheck(lambda a, d: tb.cat((a, d), dim), (a, d))


@pytest.mark.parametrize("dim", [0, 1])
def test_split_chunk(dim, rng):
    x = leaf(rng, 5, 7)
    assert tb.gradcheck(lambda x: x.split(2, dim), (x,))
    assert tb.gradcheck(lambda x: x.split([1, 3, 1] if dim == 0 else [4, 3], dim), (x,))
    assert tb.gradcheck(lambda x: tb.chunk(x, 3, dim), (x,))
    pieces = x.chunk(3, dim)
    assert [p.shape[dim] for p in pieces] == ([2, 2, 1] if dim == 0 else [3, 3, 1])
    assert [p.shape[dim] for p in x.split(2, dim)] == ([2, 2, 1] if dim == 0 else [2, 2, 2, 1])
    pieces[0].sum().backward()  # only the first piece used: zeros elsewhere
    assert x.grad.numpy().sum() == pieces[0].numel()


def test_where_masked_fill(rng):
    a, b = leaf(rng, 3, 4), leaf(rng, 4)
    cond = rng.standard_normal((3, 4)) > 0
    assert tb.gradcheck(lambda a, b: tb.where(tb.tensor(cond), a, b), (a, b))
    assert tb.gradcheck(lambda a: a.masked_fill(tb.tensor(cond), -1.0), (a,))
    assert tb.gradcheck(lambda a: a.masked_fill(tb.tensor(cond[0]), 0.0), (a,))
    assert tb.gradcheck(lambda a: tb.where(tb.tensor(cond), a, 0.0), (a,))
    assert np.array_equal(a.masked_fill(tb.tensor(cond), 7.0).detach().numpy(),
                          np.where(cond, 7.0, a.detach().numpy()))


def test_embedding(rng):
    w = leaf(rng, 6, 3)
    idx = tb.tensor([[0, 2, 2], [5, 0, 2]])
    assert tb.gradcheck(lambda w: F.embedding(idx, w), (w,))
    F.embedding(idx, w).sum().backward()
    assert np.array_equal(w.grad.numpy()[:, 0], [2, 0, 3, 0, 0, 1])
    w.grad = None
    F.embedding(idx, w, padding_idx=2).sum().backward()
    assert np.array_equal(w.grad.numpy()[:, 0], [2, 0, 0, 0, 0, 1])


def test_dropout_train_and_eval(rng):
    x = leaf(rng, 200, 50)
    assert F.dropout(x, 0.3, training=False) is x
    tb.manual_seed(3)
    y = F.dropout(x, 0.3, training=True)
    kept = y.detach().numpy() != 0
    assert 0.6 < kept.mean() < 0.8
    assert np.allclose(y.detach().numpy()[kept], x.detach().numpy()[kept] / 0.7)
    y.sum().backward()
    assert np.allclose(x.grad.numpy(), kept / 0.7)
    assert tb.gradcheck(lambda x: (tb.manual_seed(5), F.dropout(x, 0.5))[1], (leaf(rng, 4, 3),))
    assert np.array_equal(F.dropout(x, 1.0).detach().numpy(), np.zeros((200, 50)))


# ---------------------------------------------------------------- losses
def _ce_ref(logits, target, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    """Cross-entropy written out in numpy, following PyTorch's documented formula."""
    n, c = logits.shape
    w = np.ones(c) if weight is None else weight
    logp = logits - logits.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    valid = target != ignore_index
    t = np.where(valid, target, 0)
    nll = -w[t] * logp[np.arange(n), t] * valid
    smooth = -(logp * w).sum(1) * valid
    if reduction == "none":
        return (1 - smoothing) * nll + smoothing / c * smooth
    if reduction == "sum":
        return (1 - smoothing) * nll.sum() + smoothing / c * smooth.sum()
    denom = (w[t] * valid).sum()
    return ((1 - smoothing) * nll.sum() + smoothing / c * smooth.sum()) / denom


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy(reduction, weighted, smoothing, ignore, rng):
    x = leaf(rng, 5, 4)
    target = np.array([0, 3, 1, 1, 2])
    if ignore:
        target[2] = -100
    weight = rng.uniform(0.5, 2.0, 4) if weighted else None
    kw = dict(weight=None if weight is None else tb.tensor(weight), reduction=reduction, label_smoothing=smoothing)
    f = lambda x: F.cross_entropy(x, tb.tensor(target), **kw)  # noqa: E731
    assert tb.gradcheck(f, (x,))
    ref = _ce_ref(x.detach().numpy(), target, weight, -100, reduction, smoothing)
    assert np.allclose(f(x).detach().numpy(), ref)


def test_cross_entropy_custom_ignore_index_and_shapes(rng):
    x = leaf(rng, 4, 3)
    t = tb.tensor([1, 7, 0, 7])
    out = F.cross_entropy(x, t, ignore_index=7)
    assert np.allclose(out.item(), _ce_ref(x.detach().numpy(), t.numpy(), ignore_index=7))
    x3 = leaf(rng, 2, 3, 5)  # (N, C, d)
    t3 = tb.tensor(rng.integers(0, 3, (2, 5)))
    assert tb.gradcheck(lambda x: F.cross_entropy(x, t3), (x3,))
    assert F.cross_entropy(x3, t3, reduction="none").shape == (2, 5)
    x1 = leaf(rng, 3)  # unbatched
    assert tb.gradcheck(lambda x: F.cross_entropy(x, tb.tensor(2)), (x1,))


def test_cross_entropy_huge_logits():
    for dtype in (tb.float32, tb.float64):
        x = tb.tensor([[1e4, -1e4, 0.0], [0.0, 1e4, 1e4]], dtype=dtype, requires_grad=True)
        loss = F.cross_entropy(x, tb.tensor([1, 2]))
        assert np.isclose(loss.item(), (2e4 + np.log(2)) / 2, rtol=1e-5)
        loss.backward()
        assert np.allclose(x.grad.numpy(), [[0.5, -0.5, 0], [0, 0.25, -0.25]])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_and_mse(reduction, rng):
    x = leaf(rng, 5, 4)
    t = tb.tensor([0, 3, -100, 1, 2])
    w = tb.tensor(rng.uniform(0.5, 2, 4))
    assert tb.gradcheck(lambda x: F.nll_loss(x.log_softmax(1), t, reduction=reduction), (x,))
    assert tb.gradcheck(lambda x: F.nll_loss(x, t, weight=w, reduction=reduction), (x,))
    y = leaf(rng, 5, 4)
    assert tb.gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), (x, y))
    ref = ((x.detach().numpy() - y.detach().numpy()) ** 2)
    ref = ref if reduction == "none" else ref.sum() if reduction == "sum" else ref.mean()
    assert np.allclose(F.mse_loss(x, y, reduction=reduction).detach().numpy(), ref)
    row = leaf(rng, 4)  # a broadcast target gets its gradient summed back to its own shape
    assert tb.gradcheck(lambda x, r: F.mse_loss(x, r, reduction=reduction), (x, row))


# ---------------------------------------------------------------- property-based broadcasting
@st.composite
def broadcastable_shapes(draw):
    """Two shapes that broadcast together (size-1 dims and missing leading dims included)."""
    out = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    def sub():
        k = draw(st.integers(0, len(out)))
        return tuple(1 if draw(st.booleans()) else n for n in out[len(out) - k:])
    return sub(), sub()


@settings(max_examples=40, deadline=None)
@given(broadcastable_shapes(), st.sampled_from(["add", "mul", "div", "sub"]))
def test_broadcasting_property(shapes, op):
    rng = np.random.default_rng(0)
    sa, sb = shapes
    a, b = leaf(rng, *sa), leaf(rng, *sb, lo=0.5, hi=2.0)
    f = BINARY[op]
    out = f(a, b)
    ref = {"add": np.add, "mul": np.multiply, "div": np.divide, "sub": np.subtract}[op](a._data, b._data)
    assert out.shape == ref.shape and np.allclose(out.detach().numpy(), ref)
    out.sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    assert tb.gradcheck(f, (a, b))
