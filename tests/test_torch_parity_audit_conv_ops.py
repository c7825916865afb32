"""An audit of the convolution, pooling and ``Tensor.unfold`` code and of the third batch of tensor ops against
torch 2.13, as users call them: keyword arguments, lists for tuples, negative dims, mixed int/float inputs,
broadcasting, non-contiguous inputs, 0-d and empty tensors, dtype errors, gradients of some inputs only and
accumulated over two backward calls, modules inside an nn.Sequential with an LSTM, state_dicts both ways,
repr strings, train/eval and results changed in place afterwards."""
import numpy as np
import pytest
import torch

import tinybptt as tb
from parity import assert_close, numpy_of, raises_alike, to_ours, to_torch

F = tb.nn.functional
TF = torch.nn.functional


def same(f, dtype=np.float64, **tol):
    """f(lib) for lib tinybptt and torch gives the same tensors (a tensor, or a possibly nested tuple/list of
    tensors and plain values)."""
    def walk(a, b, where):
        if isinstance(b, torch.Tensor):
            assert_close(a, b, dtype, where, **tol)
        elif isinstance(b, (tuple, list)) and not isinstance(b, torch.Size):
            assert isinstance(a, (tuple, list)) and len(a) == len(b), f"{where}: {a!r} vs torch's {b!r}"
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{where}[{i}]")
        else:
            assert (tuple(a) == tuple(b)) if isinstance(b, torch.Size) else a == b, f"{where}: {a!r} vs {b!r}"
    walk(f(tb), f(torch), "result")


def bad(f, match):
    """f(lib) raises the same exception type with both libraries, ours with a message matching ``match``."""
    raises_alike(lambda: f(tb), lambda: f(torch), match)


def arr(*shape, seed=0, lo=None, hi=None):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) if lo is None else rng.uniform(lo, hi, shape)


X1, W1, B1 = arr(2, 3, 9), arr(4, 3, 3, seed=1), arr(4, seed=2)
X2, W2 = arr(2, 3, 6, 7, seed=3), arr(4, 3, 3, 2, seed=4)


def grads(lib, f, *arrays, need=None, times=1):
    """f(*leaves) summed with fixed weights, backward ``times`` times; returns (output, grads of the leaves)."""
    need = need or [True] * len(arrays)
    leaves = [lib.tensor(a, requires_grad=n) for a, n in zip(arrays, need)]
    for _ in range(times):
        y = f(*leaves)
        w = np.cos(np.arange(int(np.prod(y.shape)))).reshape(tuple(y.shape))
        (y * lib.tensor(w.astype(numpy_of(y).dtype))).sum().backward()
    return y, [leaf.grad if n else None for leaf, n in zip(leaves, need)]


# ================================================================ convolution
def test_conv_functional_keywords_and_lists():
    same(lambda lib: lib.nn.functional.conv1d(input=lib.tensor(X1), weight=lib.tensor(W1), bias=lib.tensor(B1),
                                              stride=[2], padding=(1,), dilation=2, groups=1))
    same(lambda lib: lib.nn.functional.conv2d(lib.tensor(X2), lib.tensor(W2), padding=[1, 0], stride=[2, 1],
                                              dilation=(1, 2)))
    same(lambda lib: lib.nn.functional.conv2d(lib.tensor(X2), lib.tensor(W2), padding="same", dilation=(2, 1)))
    wt = W1.transpose(1, 0, 2).copy()
    same(lambda lib: lib.nn.functional.conv_transpose1d(input=lib.tensor(X1), weight=lib.tensor(wt), bias=None,
                                                        stride=2, padding=1, output_padding=1, groups=1, dilation=1))


def test_conv_noncontiguous_inputs_values_and_gradients():
    xt, wt = X2.transpose(0, 1, 3, 2).copy(), W2.transpose(0, 1, 3, 2).copy()

    def f(lib):
        return grads(lib, lambda x, w: lib.nn.functional.conv2d(x.transpose(-1, -2), w.transpose(2, 3), padding=1),
                     xt, wt)
    same(f)
    wct = W1.transpose(1, 0, 2).copy()  # (3, 4, 3) given as the transpose of a (4, 3, 3) array
    same(lambda lib: grads(lib, lambda x, w: lib.nn.functional.conv_transpose1d(x, w.transpose(0, 1), stride=2),
                           X1, wct.transpose(1, 0, 2).copy()))


def test_conv_gradient_of_some_inputs_only_and_accumulated():
    for need in ([False, False, True], [False, True, False], [True, False, True]):
        same(lambda lib: grads(lib, lambda x, w, b: lib.nn.functional.conv1d(x, w, b, padding=1), X1, W1, B1,
                               need=need, times=2))
    same(lambda lib: grads(lib, lambda x, w, b: lib.nn.functional.conv_transpose2d(x, w, b, stride=2),
                           X2, W2.transpose(1, 0, 2, 3).copy(), B1, need=[True, False, True], times=2))
    y = F.conv1d(tb.tensor(X1), tb.tensor(W1))
    assert not y.requires_grad and y.grad_fn is None


def test_conv_dtype_errors_as_torch():
    for fn in ("conv1d", "conv_transpose1d"):
        w = W1 if fn == "conv1d" else W1.transpose(1, 0, 2).copy()
        bad(lambda lib: getattr(lib.nn.functional, fn)(lib.tensor(X1, dtype=lib.float32), lib.tensor(w)), fn)
        bad(lambda lib: getattr(lib.nn.functional, fn)(lib.tensor(X1), lib.tensor(w, dtype=lib.float32)), fn)
        bad(lambda lib: getattr(lib.nn.functional, fn)(lib.tensor(X1, dtype=lib.float32),
                                                       lib.tensor(w, dtype=lib.float32), lib.tensor(B1)), fn)
    bad(lambda lib: lib.nn.functional.conv1d(lib.tensor(X1), lib.tensor(W1), lib.tensor(B1, dtype=lib.float32)),
        "conv1d")
    # torch's float64 transposed convolution takes a bias of another dtype (and gives it a gradient of its dtype)
    wt = W1.transpose(1, 0, 2).copy()
    same(lambda lib: grads(lib, lambda x, b: lib.nn.functional.conv_transpose1d(x, lib.tensor(wt), b.float()), X1, B1))
    same(lambda lib: lib.nn.functional.conv_transpose1d(lib.tensor(X1), lib.tensor(wt), lib.tensor(np.arange(4))))
    # a float32 module fed float64 input, and the other way round
    bad(lambda lib: lib.nn.Conv1d(3, 4, 3)(lib.tensor(X1)), "conv1d")
    bad(lambda lib: lib.nn.Conv2d(3, 4, 3, dtype=lib.float64)(lib.tensor(X2, dtype=lib.float32)), "conv2d")
    bad(lambda lib: lib.nn.Conv1d(3, 4, 3, padding=1, padding_mode="circular")(lib.tensor(X1)), "conv1d")


def test_conv_bad_bias_and_empty_weight():
    bad(lambda lib: lib.nn.functional.conv1d(lib.tensor(X1), lib.tensor(W1), [1.0, 2.0, 3.0, 4.0]), "bias")
    bad(lambda lib: lib.nn.functional.conv1d(lib.tensor(X1), lib.tensor(np.zeros((0, 3, 3)))), "at least 1")
    bad(lambda lib: lib.nn.functional.conv1d(lib.tensor(X1), lib.tensor(W1), groups=1.0), "groups")
    bad(lambda lib: lib.nn.functional.conv1d(lib.tensor(X1), lib.tensor(W1), stride=2.0), "stride")
    bad(lambda lib: lib.nn.functional.conv1d(lib.tensor(X1[0, 0]), lib.tensor(W1)), "conv1d")
    bad(lambda lib: lib.nn.functional.conv1d(lib.tensor(1.0), lib.tensor(W1)), "conv1d")


def test_conv_empty_batch_and_unbatched_gradients():
    same(lambda lib: grads(lib, lambda x, w: lib.nn.functional.conv1d(x, w, padding=1), np.zeros((0, 3, 9)), W1))
    same(lambda lib: grads(lib, lambda x, w: lib.nn.functional.conv2d(x, w, stride=2), X2[0], W2))


def test_conv_result_changed_in_place_afterwards():
    def f(lib):
        def body(x, w):
            y = lib.nn.functional.conv1d(x, w, padding=1)
            y.mul_(2).add_(1)
            y.relu_()
            return y
        return grads(lib, body, X1, W1)
    same(f)
    same(lambda lib: lib.nn.functional.conv1d(lib.tensor(X1), lib.tensor(W1)).relu_().add_(1))


def _load(lib, module, source):
    """``module`` given ``source``'s (a torch module's) parameters."""
    if lib is tb:
        module.load_state_dict(to_ours(source))
    else:
        module.load_state_dict(source.state_dict())
    return module


def test_conv1d_feature_extractor_then_lstm_in_a_sequential():
    torch.manual_seed(0)
    ref = torch.nn.ModuleDict({"conv": torch.nn.Conv1d(3, 5, 3, padding=1, padding_mode="replicate"),
                               "lstm": torch.nn.LSTM(5, 4, batch_first=True)}).double()

    def f(lib):
        class Time(lib.nn.Module):
            def forward(self, x):
                return x.transpose(1, 2)  # (N, C, L) -> (N, L, C)

        conv, lstm = lib.nn.Conv1d(3, 5, 3, padding=1, padding_mode="replicate", dtype=lib.float64), \
            lib.nn.LSTM(5, 4, batch_first=True, dtype=lib.float64)
        _load(lib, conv, ref["conv"])
        _load(lib, lstm, ref["lstm"])
        model = lib.nn.Sequential(conv, lib.nn.ReLU(), lib.nn.MaxPool1d(2), Time())
        x = lib.tensor(X1, requires_grad=True)
        out, (h, c) = lstm(model(x))
        (out.sum() + h.pow(2).sum()).backward()
        return out, h, c, x.grad, conv.weight.grad, conv.bias.grad, lstm.weight_ih_l0.grad
    same(f)


@pytest.mark.parametrize("name, args, kw", [
    ("Conv1d", (3, 4, 3), dict(padding="same", padding_mode="reflect", bias=False)),
    ("Conv1d", (4, 6, 2), dict(groups=2, dilation=2, padding_mode="circular", padding=1)),
    ("Conv2d", (3, 4, (3, 2)), dict(stride=(2, 1), padding=(1, 0))),
    ("Conv2d", (3, 6, 3), dict(groups=3, padding=1, padding_mode="replicate")),
    ("ConvTranspose1d", (3, 4, 3), dict(stride=2, output_padding=1)),
    ("ConvTranspose2d", (4, 2, 3), dict(groups=2, dilation=2, padding=1, bias=False)),
])
def test_conv_modules_state_dict_both_ways_repr_and_modes(name, args, kw):
    torch.manual_seed(0)
    theirs = getattr(torch.nn, name)(*args, **kw)
    ours = getattr(tb.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "output_padding", "padding_mode", "transposed", "_reversed_padding_repeated_twice"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    x = arr(2, args[0], *(8,) * (2 if "2d" in name else 1), seed=5).astype(np.float32)
    ours.load_state_dict(to_ours(theirs))  # torch -> ours
    assert_close(ours(tb.tensor(x)), theirs(torch.tensor(x)), np.float32)
    ours.eval(), theirs.eval()
    assert not ours.training
    assert_close(ours(tb.tensor(x)), theirs(torch.tensor(x)), np.float32)
    ours.train()
    tb.manual_seed(1)
    fresh = getattr(tb.nn, name)(*args, **kw)
    theirs.load_state_dict(to_torch(fresh))  # ours -> torch
    assert_close(fresh(tb.tensor(x)), theirs(torch.tensor(x)), np.float32)


def test_conv_modules_with_keywords_and_float64():
    kw = dict(in_channels=3, out_channels=4, kernel_size=[3], stride=1, padding=0, dilation=1, groups=1, bias=True,
              padding_mode="zeros", device=None)
    assert repr(tb.nn.Conv1d(**kw)) == repr(torch.nn.Conv1d(**kw))
    kw = dict(in_channels=3, out_channels=4, kernel_size=3, stride=1, padding=0, output_padding=0, groups=1,
              bias=True, dilation=1, padding_mode="zeros", device=None)
    assert repr(tb.nn.ConvTranspose1d(**kw)) == repr(torch.nn.ConvTranspose1d(**kw))
    m = tb.nn.Conv2d(3, 4, 3).double()
    assert m.weight.dtype == tb.float64 and m(tb.tensor(X2)).dtype == tb.float64


def test_conv_transpose_output_size_keyword():
    torch.manual_seed(0)
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()

    def f(lib):
        m = _load(lib, lib.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype=lib.float64), theirs)
        x = lib.tensor(X2)
        return m(x, output_size=[12, 13]), m(x, output_size=(2, 2, 11, 14)), m(input=x[0], output_size=[11, 13])
    same(f)
    bad(lambda lib: lib.nn.ConvTranspose2d(3, 2, 3, stride=2)(lib.tensor(X2, dtype=lib.float32), output_size=[30, 30]),
        "output size")


# ================================================================ pooling
A4, A3 = arr(2, 3, 7, 6, seed=6), arr(3, 7, 6, seed=7)


def test_pools_keywords_noncontiguous_and_accumulated_gradients():
    at = A4.transpose(0, 1, 3, 2).copy()

    def f(lib):
        def body(x):
            x = x.transpose(-1, -2)
            F_ = lib.nn.functional
            v, i = F_.max_pool2d(input=x, kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True,
                                 return_indices=True)
            a = F_.avg_pool2d(input=x, kernel_size=[2, 3], stride=[1, 2], padding=[1, 1], ceil_mode=False,
                              count_include_pad=False, divisor_override=None)
            m = F_.adaptive_max_pool2d(x, output_size=(None, 2))
            g = F_.adaptive_avg_pool2d(x, output_size=[3, None])
            return lib.cat([v.flatten(), a.flatten(), m.flatten(), g.flatten(), i.flatten().to(x.dtype)])
        return grads(lib, body, at, times=2)
    same(f)
    same(lambda lib: grads(lib, lambda x: lib.nn.functional.avg_pool1d(input=x, kernel_size=3, stride=2, padding=1,
                                                                      ceil_mode=True, count_include_pad=False),
                           A3, times=2))


def test_pool_results_changed_in_place_afterwards():
    def f(lib):
        def body(x):
            y = lib.nn.functional.max_pool1d(x, 2)
            y.mul_(2)
            z = lib.nn.functional.avg_pool1d(x * 1, 2)
            z.exp_()
            return y + z
        return grads(lib, body, A3)
    same(f)


def test_pool_argument_types_as_torch():
    bad(lambda lib: lib.nn.functional.avg_pool2d(lib.tensor(A3), 2, divisor_override=2.5), "divisor_override")
    same(lambda lib: lib.nn.functional.avg_pool2d(lib.tensor(A3), 2, divisor_override=np.int64(3)))
    bad(lambda lib: lib.nn.functional.adaptive_avg_pool2d(lib.tensor(A3), (2, 2, 2)), "Input dimension")
    bad(lambda lib: lib.nn.functional.adaptive_max_pool2d(lib.tensor(A4), (2, 2, 2, 2)), "Input dimension")
    bad(lambda lib: lib.nn.functional.adaptive_avg_pool2d(lib.tensor(A4), (2, 2, 2)), "output_size")
    bad(lambda lib: lib.nn.functional.max_pool1d(lib.tensor(A3), 2.0), "kernel_size")
    bad(lambda lib: lib.nn.functional.max_pool1d(lib.tensor(A3), 2, stride=0), "stride")
    bad(lambda lib: lib.nn.functional.max_pool2d(lib.tensor(A3), (2, 2, 2)), "kernel_size")
    bad(lambda lib: lib.nn.functional.max_pool1d(lib.tensor(1.0), 1), "max_pool1d")


def test_pools_of_integers_and_float32():
    ints = np.arange(24).reshape(1, 2, 12)
    bad(lambda lib: lib.nn.functional.max_pool1d(lib.tensor(ints), 2), "max_pool1d")
    bad(lambda lib: lib.nn.functional.adaptive_avg_pool1d(lib.tensor(ints), 2), "adaptive_avg_pool1d")
    bad(lambda lib: lib.nn.functional.avg_pool1d(lib.tensor(ints.astype(np.int32)), 2), "avg_pool1d")
    same(lambda lib: lib.nn.functional.avg_pool1d(lib.tensor(ints), 5, 3, 2))
    a32 = A4.astype(np.float32)
    same(lambda lib: grads(lib, lambda x: lib.nn.functional.avg_pool2d(x, 2, divisor_override=3)
                           + lib.nn.functional.max_pool2d(x, 2), a32), np.float32)


@pytest.mark.parametrize("name, args, kw", [
    ("MaxPool1d", (3,), {}), ("MaxPool2d", ((2, 3),), dict(stride=1, padding=1, dilation=(1, 2), ceil_mode=True)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("AvgPool2d", (3,), dict(stride=(1, 2), divisor_override=2)), ("AdaptiveAvgPool1d", (3,), {}),
    ("AdaptiveAvgPool2d", ((None, 2),), {}), ("AdaptiveMaxPool1d", (2,), {}), ("AdaptiveMaxPool2d", ([2, 3],), {}),
])
def test_pool_modules_repr_attributes_train_eval(name, args, kw):
    ours, theirs = getattr(tb.nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "count_include_pad",
                 "divisor_override", "return_indices", "output_size"):
        assert getattr(ours, attr, None) == getattr(theirs, attr, None), attr
    assert ours.state_dict() == {} and list(theirs.state_dict()) == []
    x = A4 if "2d" in name else A3
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        same(lambda lib: grads(lib, ours if lib is tb else theirs, x))


def test_conv_pool_classifier_sequential_state_dict():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                 torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    ours = tb.nn.Sequential(tb.nn.Conv2d(3, 4, 3, padding=1), tb.nn.ReLU(), tb.nn.MaxPool2d(2),
                            tb.nn.AdaptiveAvgPool2d(1), tb.nn.Flatten(), tb.nn.Linear(4, 2))
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(to_ours(theirs))
    x = A4.astype(np.float32)
    xo, xt = tb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    assert_close(yo, yt, np.float32)
    yo.sum().backward(), yt.sum().backward()
    assert_close(xo.grad, xt.grad, np.float32)
    assert_close(ours[0].weight.grad, theirs[0].weight.grad, np.float32, rtol=1e-4, atol=1e-5)


# ================================================================ Tensor.unfold
def test_unfold_keywords_negative_dims_dtypes_and_gradients():
    same(lambda lib: lib.tensor(X1).unfold(-1, 3, 2))
    same(lambda lib: lib.tensor(X1).unfold(dimension=-3, size=2, step=1))
    same(lambda lib: lib.tensor(np.arange(10)).unfold(0, 3, 3))
    same(lambda lib: lib.tensor(np.arange(10) > 4).unfold(0, 4, 1))
    same(lambda lib: lib.tensor(np.zeros((0, 4))).unfold(1, 2, 1))
    same(lambda lib: lib.tensor(X1).unfold(2, 0, 1))
    same(lambda lib: grads(lib, lambda x: x.transpose(0, 2).unfold(0, 3, 2).pow(2), X1, times=2))
    same(lambda lib: grads(lib, lambda x: x.unfold(0, 3, 2).unfold(1, 2, 1), np.arange(10.0)))
    bad(lambda lib: lib.tensor(np.arange(10.0)).unfold(0, 11, 3), "size")
    bad(lambda lib: lib.tensor(np.arange(10.0)).unfold(0, 3, 0), "step")
    bad(lambda lib: lib.tensor(np.arange(10.0)).unfold(1, 3, 1), "")


def test_unfold_result_is_a_copy():
    """A known difference (README): Tensor.unfold copies the windows where torch returns a view, so writing
    into the result leaves the tensor it came from as it was (in torch it changes)."""
    x = tb.tensor(np.arange(4.0))
    x.unfold(0, 2, 1).fill_(0)
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0]


# ================================================================ products with an added term
I34 = np.arange(12).reshape(3, 4)
M34, N45, V4, V3, V5 = arr(3, 4, seed=8), arr(4, 5, seed=9), arr(4, seed=10), arr(3, seed=11), arr(5, seed=12)
BB1, BB2 = arr(2, 3, 4, seed=13), arr(2, 4, 5, seed=14)


def test_addmm_family_integer_tensors_with_float_scalars():
    ones = np.ones((3, 3), np.int64)
    b1, b2 = np.arange(24).reshape(2, 3, 4), np.arange(24).reshape(2, 4, 3)
    for beta, alpha in ((2.7, -1.5), (0.5, 2.5), (1, 0.9), (True, 2)):
        same(lambda lib: lib.addmm(lib.tensor(ones), lib.tensor(I34[:, :3]), lib.tensor(I34[:3, :3]), beta=beta,
                                   alpha=alpha))
        same(lambda lib: lib.addmv(lib.tensor(ones[0]), lib.tensor(I34[:, :3]), lib.tensor(np.arange(3)), beta=beta,
                                   alpha=alpha))
        same(lambda lib: lib.baddbmm(lib.tensor(ones), lib.tensor(b1), lib.tensor(b2), beta=beta, alpha=alpha))
        same(lambda lib: lib.addbmm(lib.tensor(ones), lib.tensor(b1), lib.tensor(b2), beta=beta, alpha=alpha))
    same(lambda lib: lib.tensor(I34[:, :3]).addmm_(lib.tensor(I34[:, :3]), lib.tensor(I34[:3, :3]), alpha=0.5))
    same(lambda lib: lib.addr(lib.tensor(I34), lib.tensor(np.arange(3)), lib.tensor(np.arange(4)), alpha=2))
    bad(lambda lib: lib.addr(lib.tensor(I34), lib.tensor(np.arange(3)), lib.tensor(np.arange(4)), alpha=0.5), "alpha")
    bad(lambda lib: lib.addr(lib.tensor(I34), lib.tensor(np.arange(3)), lib.tensor(np.arange(4)), beta=0.5), "beta")
    t = np.ones((3, 3), bool)
    bad(lambda lib: lib.addmm(lib.tensor(t), lib.tensor(t), lib.tensor(t)), "addmm")
    bad(lambda lib: lib.addmv(lib.tensor(t[0]), lib.tensor(t), lib.tensor(t[0])), "addmv")
    bad(lambda lib: lib.baddbmm(lib.tensor(t), lib.tensor(t[None]), lib.tensor(t[None])), "baddbmm")


def test_addcmul_addcdiv_integer_results_truncate_value():
    for value in (2, 0.5, -1.5, True):
        same(lambda lib: lib.addcmul(lib.tensor(I34), lib.tensor(I34), lib.tensor(I34), value=value))
        same(lambda lib: lib.addcmul(lib.tensor(I34), lib.tensor(M34), lib.tensor(I34), value=value))
        same(lambda lib: lib.addcdiv(lib.tensor(I34), lib.tensor(I34 * 1.0), lib.tensor(I34 + 1), value=value))
        same(lambda lib: lib.tensor(I34).addcmul_(lib.tensor(I34), lib.tensor(I34), value=value))
    bad(lambda lib: lib.addcmul(lib.tensor(I34 > 0), lib.tensor(I34 > 0), lib.tensor(I34 > 0)), "addcmul")
    bad(lambda lib: lib.addcdiv(lib.tensor(I34), lib.tensor(I34), lib.tensor(I34 + 1)), "addcdiv")
    bad(lambda lib: lib.tensor(I34).addcdiv_(lib.tensor(M34), lib.tensor(M34)), "addcdiv_")


def test_addmm_family_broadcast_input_gradients_accumulated():
    same(lambda lib: grads(lib, lambda a, m, n: lib.addmm(a, m, n, beta=0.5, alpha=2), V5, M34, N45,
                           need=[True, True, False], times=2))
    same(lambda lib: grads(lib, lambda a, m, n: lib.addmm(a, m.t(), n), arr(1, 5), M34.T.copy(), N45, times=2))
    same(lambda lib: grads(lib, lambda a, m, v: lib.addmv(a, m, v, beta=2), np.array(1.5), M34, V4))
    same(lambda lib: grads(lib, lambda a, u, v: lib.addr(a, u, v, beta=0.5, alpha=1.5), V4, V3, V4))
    same(lambda lib: grads(lib, lambda a, b, c: lib.baddbmm(a, b, c) + lib.addbmm(a, b, c, beta=0), V5, BB1, BB2,
                           times=2))
    same(lambda lib: grads(lib, lambda a, b, c: lib.addcmul(a, b, c, value=2) * lib.addcdiv(a, b, c, value=3),
                           V4, M34, V3[:, None] + 3, need=[True, False, True]))
    same(lambda lib: grads(lib, lambda a, b, c: (a * 1).addcdiv_(b, c, value=-1), M34, V4, V3[:, None] + 3))


def test_products_dtype_errors_and_mixed_inputs():
    bad(lambda lib: lib.mv(lib.tensor(M34), lib.tensor(np.arange(4))), "mv")
    bad(lambda lib: lib.mv(lib.tensor(I34), lib.tensor(V4)), "mv")
    bad(lambda lib: lib.tensordot(lib.tensor(I34), lib.tensor(N45), dims=1), "same dtype")
    bad(lambda lib: lib.dot(lib.tensor(V3, dtype=lib.float32), lib.tensor(V3)), "dot")
    bad(lambda lib: lib.addmm(lib.tensor(np.ones((3, 5))), lib.tensor(M34, dtype=lib.float32), lib.tensor(N45)),
        "addmm")
    bad(lambda lib: lib.trace(lib.tensor(I34 > 2)), "trace")
    bad(lambda lib: lib.dot(lib.tensor(I34[0] > 2), lib.tensor(I34[0] > 1)), "dot")
    same(lambda lib: lib.trace(lib.tensor(I34)))
    same(lambda lib: lib.dot(lib.tensor(np.arange(3)), lib.tensor(np.arange(3))))
    same(lambda lib: lib.outer(lib.tensor(np.arange(3)), lib.tensor(V4)))
    same(lambda lib: lib.inner(lib.tensor(2.0), lib.tensor(M34)))
    same(lambda lib: lib.kron(lib.tensor(I34), lib.tensor(V3)))
    same(lambda lib: lib.tensordot(lib.tensor(BB1), lib.tensor(np.ones((4, 2))), dims=([-1], [0])))
    same(lambda lib: lib.tensordot(lib.tensor(BB1), lib.tensor(N45), dims=lib.tensor(1)))
    same(lambda lib: lib.cross(lib.tensor(np.ones((2, 1, 3))), lib.tensor(np.arange(24.0).reshape(2, 4, 3)), dim=-1))
    bad(lambda lib: lib.cross(lib.tensor(np.ones((2, 1, 3))), lib.tensor(np.arange(12.0).reshape(4, 3)), dim=-1),
        "same number of dimensions")


def test_diagonal_and_diag_embed_keywords_negative_dims_gradients():
    same(lambda lib: grads(lib, lambda x: lib.diagonal(x, offset=-1, dim1=-1, dim2=0), BB1, times=2))
    same(lambda lib: grads(lib, lambda x: lib.diag_embed(x, offset=1, dim1=0, dim2=-1), M34))
    same(lambda lib: grads(lib, lambda x: x.t().diagonal(1), M34))
    same(lambda lib: lib.diagonal(lib.tensor(M34), offset=10))
    same(lambda lib: lib.diagflat(lib.tensor(I34), -2))
    bad(lambda lib: lib.diagonal(lib.tensor(BB1), dim1=1, dim2=-2), "diagonal")


# ================================================================ elementwise and special functions
U34 = arr(3, 4, seed=15, lo=0.1, hi=0.9)


@pytest.mark.parametrize("name", ["logaddexp", "logaddexp2", "hypot", "fmax", "fmin", "ldexp", "nextafter",
                                  "heaviside"])
def test_binary_ops_refuse_numbers_as_torch(name):
    bad(lambda lib: getattr(lib, name)(lib.tensor(U34), 0.5), name)
    bad(lambda lib: getattr(lib.tensor(U34), name)(2), name)
    bad(lambda lib: getattr(lib, name)(0.5, lib.tensor(U34)), name)


@pytest.mark.parametrize("name", ["xlogy", "logaddexp", "logaddexp2", "hypot", "copysign", "fmax", "fmin",
                                  "float_power", "ldexp"])
def test_binary_ops_promotion_broadcast_and_one_sided_gradients(name):
    i3, f3 = np.array([1, 2, 3]), np.array([0.5, 1.5, 2.5])
    if name in ("logaddexp", "logaddexp2", "hypot"):
        bad(lambda lib: getattr(lib, name)(lib.tensor(i3), lib.tensor(i3)), name)
    else:
        same(lambda lib: getattr(lib, name)(lib.tensor(i3), lib.tensor(i3)))
    same(lambda lib: getattr(lib, name)(lib.tensor(i3), lib.tensor(f3)))
    same(lambda lib: getattr(lib, name)(lib.tensor(f3, dtype=lib.float32), lib.tensor(f3)))
    same(lambda lib: getattr(lib, name)(lib.tensor(f3, dtype=lib.float32), lib.tensor(np.array(0.5))))
    if name != "ldexp":  # torch's ldexp has no gradient for its exponent
        same(lambda lib: grads(lib, lambda a, b: getattr(lib, name)(a.t(), b), U34.T.copy(), U34[0] + 0.3,
                               need=[False, True], times=2))
    same(lambda lib: grads(lib, lambda a, b: getattr(lib, name)(a, b), U34, U34[:, :1] + 0.2, need=[True, False]))
    if name in ("xlogy", "hypot", "copysign", "ldexp"):  # in place: the tensor keeps its dtype and shape
        same(lambda lib: getattr(lib.tensor(f3, dtype=lib.float32), name + "_")(lib.tensor(f3)))
        bad(lambda lib: getattr(lib.tensor(U34[0]), name + "_")(lib.tensor(U34)), name)


@pytest.mark.parametrize("name", ["erfc", "erfinv", "lgamma", "digamma", "sinc", "logit", "deg2rad", "rad2deg",
                                  "fix"])
def test_unary_ops_integers_0d_empty_noncontiguous_accumulated(name):
    same(lambda lib: getattr(lib, name)(lib.tensor(np.array([0, 1, 2]))), np.float32)
    same(lambda lib: getattr(lib, name)(lib.tensor(0.5)), np.float32)
    same(lambda lib: getattr(lib, name)(lib.tensor(np.zeros((0, 2)))))
    tol = dict(rtol=1e-8, atol=1e-10) if name == "digamma" else {}  # torch's trigamma is good to about 1e-9
    same(lambda lib: grads(lib, lambda x: getattr(x.t(), name)(), U34.T.copy(), times=2), **tol)
    if name == "fix":  # trunc keeps integers
        same(lambda lib: lib.tensor(np.array([0, 1, 2])).fix_())
    else:
        bad(lambda lib: getattr(lib.tensor(np.array([0, 1, 2])), name + "_")(), name)


def test_logit_eps_keyword_and_integer_input():
    same(lambda lib: grads(lib, lambda x: lib.logit(x, eps=0.2), U34))
    same(lambda lib: lib.logit(lib.tensor(np.array([0, 1])), eps=0.2))


# ================================================================ reductions and scans
MN = M34.copy()
MN[0, 1] = np.nan
MN[2, 1:] = np.nan


def test_nan_reductions_keywords_dtypes_and_integers():
    same(lambda lib: lib.nansum(lib.tensor(MN), dim=-1, keepdim=True, dtype=lib.float32), np.float32)
    same(lambda lib: lib.nansum(lib.tensor(I34), dim=[0, -1]))
    same(lambda lib: lib.nansum(lib.tensor(I34 > 3)))
    same(lambda lib: lib.nanmean(lib.tensor(MN), dim=(-1,), dtype=lib.float32), np.float32)
    same(lambda lib: lib.nanmean(lib.tensor(np.zeros((0, 3))), dim=0))
    bad(lambda lib: lib.nanmean(lib.tensor(I34)), "nanmean")
    same(lambda lib: lib.nanmedian(lib.tensor(MN[:2]), dim=-1, keepdim=True))
    same(lambda lib: tuple(getattr(lib.nanmedian(lib.tensor(MN[:2]), -1), n) for n in ("values", "indices")))
    same(lambda lib: lib.nanmedian(lib.tensor(I34), 1))
    same(lambda lib: grads(lib, lambda x: lib.nanmedian(x, 1)[0] * 2 + lib.nanmedian(x), MN[:2], times=2))


def test_quantile_keywords_q_forms_and_gradients():
    q = np.array([0.1, 0.9])
    same(lambda lib: lib.quantile(input=lib.tensor(M34), q=0.25, dim=1, keepdim=False, interpolation="midpoint"))
    same(lambda lib: lib.quantile(lib.tensor(M34), lib.tensor(q), dim=-1, keepdim=True))
    same(lambda lib: lib.quantile(lib.tensor(M34), lib.tensor(0.3, dtype=lib.float64), dim=0))
    bad(lambda lib: lib.quantile(lib.tensor(M34), lib.tensor(0.3), dim=0), "quantile")
    same(lambda lib: lib.nanquantile(lib.tensor(MN), lib.tensor(q), dim=1))
    bad(lambda lib: lib.nanquantile(lib.tensor(MN), q.tolist(), dim=1), "nanquantile")
    same(lambda lib: lib.tensor(MN).nanquantile(0.3, dim=0, interpolation="higher"))
    same(lambda lib: lib.quantile(lib.tensor(2.0), 0.3, dim=0, keepdim=True))
    bad(lambda lib: lib.quantile(lib.tensor(I34), 0.5), "quantile")
    bad(lambda lib: lib.quantile(lib.tensor(M34), lib.tensor(q, dtype=lib.float32)), "quantile")
    bad(lambda lib: lib.quantile(lib.tensor(M34), 0.3, interpolation="foo"), "interpolation")
    same(lambda lib: grads(lib, lambda x: lib.quantile(x.t(), lib.tensor(q), dim=-1), M34, times=2))


def test_order_statistics_and_scans_keywords():
    same(lambda lib: lib.kthvalue(lib.tensor(M34), k=2, dim=0, keepdim=True))
    same(lambda lib: lib.kthvalue(lib.tensor(I34), 2))
    same(lambda lib: lib.kthvalue(lib.tensor(3.0), 1))
    bad(lambda lib: lib.kthvalue(lib.tensor(M34), 5), "kthvalue")
    same(lambda lib: lib.mode(lib.tensor(np.array([[1.0, 2, 2, 3], [3, 3, 1, 5]])), dim=-1, keepdim=True))
    same(lambda lib: lib.cummax(lib.tensor(I34), dim=-1))
    same(lambda lib: lib.cummin(lib.tensor(np.array([True, False, True])), 0))
    same(lambda lib: lib.cummax(lib.tensor(np.array([-np.inf, -np.inf, np.nan, 1, np.nan])), 0))
    same(lambda lib: grads(lib, lambda x: lib.cummax(x, 0)[0] + lib.cummin(x, 0).values,
                           np.array([1.0, 1, 0, 1, 2, 2]), times=2))
    bad(lambda lib: lib.logcumsumexp(lib.tensor(I34), dim=1), "logcumsumexp")
    same(lambda lib: grads(lib, lambda x: lib.logcumsumexp(x, dim=0), np.array([-np.inf, -np.inf, 1.0, 3, 2])))
    same(lambda lib: grads(lib, lambda x: x.t().logcumsumexp(-1), M34, times=2))


def test_tie_and_nan_indices_point_at_the_value():
    """Among ties and all-NaN slices torch's index comes from its selection/sort algorithm (undocumented);
    ours picks by a stable rule: the values are torch's and the index points at an element holding the value.
    (torch's mode with NaNs is not even consistent in value: [nan, nan, 1] gives nan, [2, nan, 2, nan, nan]
    gives 2; ours never counts NaNs as equal, as its docstring says.)"""
    for a, call in ((np.array([1.0, 2, 1, 2, 1]), lambda lib, x: lib.kthvalue(x, 2)),
                    (np.full((1, 4), np.nan), lambda lib, x: lib.nanmedian(x, 1)),
                    (np.array([1.0, 2, 2, 1]), lambda lib, x: lib.mode(x))):
        ours, theirs = call(tb, tb.tensor(a)), call(torch, torch.tensor(a))
        np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())
        picked = np.take_along_axis(a.reshape(-1, a.shape[-1]), ours[1].numpy().reshape(-1, 1), -1).ravel()
        np.testing.assert_array_equal(picked, ours[0].numpy().ravel())


# ================================================================ shape and index ops
C234 = arr(2, 3, 4, seed=16)


def test_tensor_split_keywords_and_tensor_specs():
    same(lambda lib: lib.tensor_split(lib.tensor(C234), indices=[1, 3], dim=-1))
    same(lambda lib: lib.tensor_split(lib.tensor(C234), sections=3, dim=-1))
    same(lambda lib: lib.tensor(C234).tensor_split(lib.tensor(np.array([1, 2])), dim=1))
    same(lambda lib: lib.tensor_split(lib.tensor(V5), (-2, 10)))
    same(lambda lib: grads(lib, lambda x: lib.tensor_split(x, 2, dim=-1)[0] * 2, C234))
    same(lambda lib: lib.hsplit(lib.tensor(V4), 2))
    same(lambda lib: lib.dsplit(lib.tensor(C234), [1]))
    bad(lambda lib: lib.dsplit(lib.tensor(M34), 2), "dsplit")
    bad(lambda lib: lib.tensor_split(lib.tensor(V5), lib.tensor(np.array([1.0]))), "tensor_split")


def test_moveaxis_and_split_with_sizes():
    same(lambda lib: lib.moveaxis(lib.tensor(C234), [0, 1], [-1, 0]))
    same(lambda lib: lib.tensor(C234).moveaxis(0, -1))
    same(lambda lib: lib.tensor(C234).split_with_sizes([1, 3], dim=-1))
    same(lambda lib: lib.rot90(lib.tensor(C234), k=-1, dims=[0, -1]))


def test_inplace_shape_ops_inside_a_graph():
    def f(lib):
        def body(x):
            y = x * 1
            y.t_()
            y.unsqueeze_(0)
            y.mul_(2)
            y.squeeze_(0)
            y.transpose_(0, 1)
            y.swapdims_(0, 1)
            return y
        return grads(lib, body, M34, times=2)
    same(f)

    def g(lib):  # a record made before the change keeps the old shape
        x = lib.tensor(M34, requires_grad=True)
        y = x * 1
        z = y.sum(1)
        y.t_()
        (z.sum() + (y * lib.tensor(np.arange(12.0).reshape(4, 3))).sum()).backward()
        return y, x.grad
    same(g)
    bad(lambda lib: lib.tensor(M34, requires_grad=True).t_(), "leaf")

    def h(lib):  # a view changes shape, not values: the tensor it views keeps its shape
        x = lib.tensor(M34, requires_grad=True)
        y = x * 1
        v = y[:, :1]
        v.squeeze_(1)
        (v * lib.tensor(np.arange(3.0))).sum().backward()
        return v, y, x.grad
    same(h)
    same(lambda lib: lib.tensor(np.ones((1, 3, 1))).squeeze_((0, 2)))


def test_index_ops_keywords_negative_dims_and_gradients():
    idx = np.array([3, 0])
    same(lambda lib: lib.tensor(M34).index_copy(dim=-1, index=lib.tensor(idx), source=lib.tensor(np.ones((3, 2)))))
    bad(lambda lib: lib.index_copy(lib.tensor(M34), 1, lib.tensor(idx), lib.tensor(np.ones((3, 2)), dtype=lib.float32)),
        "index_copy")
    same(lambda lib: grads(lib, lambda x, s: x.index_copy(-1, lib.tensor(idx), s), M34, np.ones((3, 2)), times=2))
    same(lambda lib: lib.tensor(I34).index_fill(1, lib.tensor(np.array([1, -1])), 2.5))
    same(lambda lib: lib.tensor(M34).index_fill_(dim=0, index=lib.tensor(np.array([1])), value=-1))
    same(lambda lib: grads(lib, lambda x, v: x.index_fill(-1, lib.tensor(np.array([0, 2])), v), M34, np.array(2.0)))
    same(lambda lib: lib.index_put(lib.tensor(M34), indices=(lib.tensor(np.array([0])),), values=lib.tensor(1.0,
                                   dtype=lib.float64), accumulate=False))
    same(lambda lib: grads(lib, lambda x, v: x.index_put((lib.tensor(np.array([0, 0, 2])),
                                                           lib.tensor(np.array([1, 1, -1]))), v, accumulate=True),
                           M34, np.array([1.0, 2, 3])))
    same(lambda lib: lib.take(lib.tensor(M34).t(), lib.tensor(np.array([[0, -1], [5, 11]]))))
    same(lambda lib: grads(lib, lambda x: lib.take(x, lib.tensor(np.array([0, 0, 7]))), M34, times=2))


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce_negative_dim_integers_inplace(reduce):
    index = np.array([[0, 0], [1, 3], [2, 2]])
    for include_self in (True, False):
        same(lambda lib: lib.scatter_reduce(lib.tensor(I34), -1, lib.tensor(index), lib.tensor(np.full((3, 2), 5)),
                                            reduce=reduce, include_self=include_self))
        same(lambda lib: lib.tensor(M34).scatter_reduce_(1, lib.tensor(index), lib.tensor(np.ones((3, 2)) * 2),
                                                         reduce, include_self=include_self))
        same(lambda lib: grads(lib, lambda x, s: x.scatter_reduce(-1, lib.tensor(index), s, reduce,
                                                                  include_self=include_self),
                               M34, arr(3, 2, seed=17)))


def test_tensor_metadata_and_type_strings():
    for a in (M34, I34, I34 > 3, np.array(2.5), np.zeros((0, 2)), np.array([1], np.uint8), V3.astype(np.float32)):
        for name in ("is_complex", "is_signed", "is_floating_point", "element_size", "nelement", "dim", "type"):
            same(lambda lib: getattr(lib.tensor(a), name)())
        same(lambda lib: (lib.tensor(a).itemsize, lib.tensor(a).nbytes, lib.is_same_size(lib.tensor(a), lib.tensor(a))))
    same(lambda lib: lib.tensor([0.0]).is_nonzero())
    bad(lambda lib: lib.tensor(M34).is_nonzero(), "ambiguous")
    bad(lambda lib: lib.tensor(np.zeros(0)).is_nonzero(), "ambiguous")
    same(lambda lib: lib.tensor(M34).type(lib.int64))


def test_conv_with_zero_input_channels_is_zero():
    """An empty sum: every output channel of a convolution over zero input channels is 0 (torch 2.13 returns a
    (N, 0, L_out) tensor here, dropping the weight's C_out; ours keeps the shape the layer promises)."""
    y = tb.nn.functional.conv1d(tb.tensor(np.zeros((2, 0, 7))), tb.tensor(np.zeros((4, 0, 3))))
    assert y.shape == (2, 4, 5) and not y.numpy().any()


@pytest.mark.parametrize("kinds", [("float32", "float64"), ("float64", "float32"), ("int64", "float32")])
@pytest.mark.parametrize("shapes", [((2, 3), (3, 2)), ((3,), (3,)), ((2, 3), (3,)), ((2, 2, 3), (2, 3, 2))])
def test_matmul_of_mixed_dtypes_raises_as_torch(kinds, shapes):
    """torch multiplies only matrices of one dtype (no promotion): RuntimeError naming both types."""
    (sa, sb), (da, db) = shapes, kinds
    a, b = np.ones(sa, da), np.ones(sb, db)
    for op in ("matmul", "__matmul__"):
        call = lambda lib: getattr(lib, op)(lib.tensor(a), lib.tensor(b)) if op == "matmul" \
            else lib.tensor(a) @ lib.tensor(b)  # noqa: E731
        raises_alike(lambda: call(tb), lambda: call(torch), match="matmul: expected m1 and m2 to have the same dtype")
    if len(sa) == 3:
        raises_alike(lambda: tb.bmm(tb.tensor(a), tb.tensor(b)), lambda: torch.bmm(torch.tensor(a), torch.tensor(b)),
                     match="same dtype")
