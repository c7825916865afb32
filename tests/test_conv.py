"""Convolutions against torch 2.13: F.conv1d/conv2d/conv_transpose1d/2d and nn.Conv1d/Conv2d/ConvTranspose1d/2d
(values and gradients of input, weight and bias over a grid of options, float64 and float32), padding modes,
initialisation, state_dict keys, reprs, finite-difference checks of the Functions, Tensor.unfold, and the
exception types of bad arguments."""
import inspect
import itertools
import math

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
import tinybptt.nn.functional as F
from parity import assert_close, check, raises_alike, same_error, to_ours, to_torch

TF = torch.nn.functional
F32 = dict(rtol=2e-5, atol=2e-5)


def arrays(rng, dtype, *shapes):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def conv_case(rng, nd, c_in, c_out, groups, kernel, batched, dtype=np.float64, bias=True, length=(9, 8)):
    spatial = length[:nd]
    x, w, b = arrays(rng, dtype, ((3,) if batched else ()) + (c_in,) + spatial,
                     (c_out, c_in // groups) + kernel[:nd], (c_out,))
    return (x, w, b) if bias else (x, w)


def fn(name):
    """(ours, torch's) functional form ``name``."""
    return getattr(F, name), getattr(TF, name)


# ---------------------------------------------------------------- F.conv1d / F.conv2d grid
GRID = [g for g in itertools.product([1, 2], [0, 1, "same", "valid"], [1, 2], [1, 2], [True, False], [True, False])
        if not (g[1] == "same" and g[0] > 1)]  # same padding with stride > 1 is an error (tested below)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("stride,padding,dilation,groups,bias,batched", GRID)
def test_conv_float64(rng, nd, stride, padding, dilation, groups, bias, batched):
    kernel = (3, 2) if nd == 2 else (4,)  # an even kernel: 'same' splits its padding unevenly
    args = conv_case(rng, nd, 4, 6, groups, kernel, batched, bias=bias)
    ours, theirs = fn(f"conv{nd}d")
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    check(lambda *a: ours(*a, **kw) if bias else ours(*a, None, **kw),
          lambda *a: theirs(*a, **kw) if bias else theirs(*a, None, **kw), args)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("kw", [dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
                                dict(padding=(0, 2), stride=(1, 3)),
                                dict(padding="same", dilation=(2, 3)), dict(groups=4), dict(groups=2, padding="same")])
def test_conv_tuple_arguments(rng, nd, kw):
    kw = {k: (v[:nd] if isinstance(v, tuple) else v) for k, v in kw.items()}
    x, w, b = conv_case(rng, nd, 4, 8, kw.get("groups", 1), (3, 4), True)
    ours, theirs = fn(f"conv{nd}d")
    check(lambda *a: ours(*a, **kw), lambda *a: theirs(*a, **kw), [x, w, b])


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("padding", [0, "same", 2])
def test_conv_float32(rng, nd, padding):
    x, w, b = conv_case(rng, nd, 4, 6, 2, (3, 3), True, np.float32)
    ours, theirs = fn(f"conv{nd}d")
    check(lambda *a: ours(*a, padding=padding, groups=2), lambda *a: theirs(*a, padding=padding, groups=2),
          [x, w, b], np.float32, **F32)


def test_conv_gradient_of_some_arguments_only(rng):
    x, w, b = conv_case(rng, 1, 3, 5, 1, (3,), True)
    for grads in ([True, False, False], [False, True, False], [False, False, True], [True, False, True]):
        check(lambda *a: F.conv1d(*a, padding=1), lambda *a: TF.conv1d(*a, padding=1), [x, w, b], grads=grads)


def test_conv_empty_batch_and_wide_kernel(rng):
    x, w, b = conv_case(rng, 2, 2, 3, 1, (3, 2), True)
    check(lambda *a: F.conv2d(*a), lambda *a: TF.conv2d(*a), [x[:0], w, b])
    x, w, b = conv_case(rng, 1, 2, 3, 1, (9,), True)  # kernel as long as the input: one output
    check(lambda *a: F.conv1d(*a), lambda *a: TF.conv1d(*a), [x, w, b])


# ---------------------------------------------------------------- modules: padding modes, init, repr, state_dict
MODES = ["zeros", "reflect", "replicate", "circular"]


def module_pair(name, *args, **kw):
    """Our module and torch's (float64), with torch's parameters copied into ours."""
    theirs = getattr(torch.nn, name)(*args, **kw).double()
    ours = getattr(nn, name)(*args, dtype=tb.float64, **kw)
    ours.load_state_dict(to_ours(theirs))
    return ours, theirs


def check_module(ours, theirs, x, dtype=np.float64, **tol):
    """Output, input gradient and parameter gradients of a module pair on the array ``x``."""
    check(ours, theirs, [x], dtype, **tol)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert_close(p.grad, q.grad, dtype, f"gradient of {name}", **tol)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding,stride,dilation", [(1, 1, 1), ("same", 1, 1), ("same", 1, 2), (2, 2, 1),
                                                      ((2, 1), 1, 2),
                                                      ("valid", 3, 1), (0, 1, 1)])
@pytest.mark.parametrize("batched", [True, False])
def test_conv_module_padding_modes(rng, nd, mode, padding, stride, dilation, batched):
    padding = padding[:nd] if isinstance(padding, tuple) else padding
    ours, theirs = module_pair(f"Conv{nd}d", 4, 6, (4, 3)[:nd], stride=stride, padding=padding, dilation=dilation,
                               groups=2, padding_mode=mode)
    x = rng.standard_normal(((2,) if batched else ()) + (4,) + (7, 6)[:nd])
    check_module(ours, theirs, x)


@pytest.mark.parametrize("mode", MODES)
def test_conv_module_float32(rng, mode):
    theirs = torch.nn.Conv2d(3, 4, 3, padding=1, padding_mode=mode)
    ours = nn.Conv2d(3, 4, 3, padding=1, padding_mode=mode)
    ours.load_state_dict(to_ours(theirs))
    assert ours.weight.dtype == np.float32
    check_module(ours, theirs, rng.standard_normal((2, 3, 6, 5)).astype(np.float32), np.float32, **F32)


def test_reflect_padding_up_to_its_limit(rng):
    ours, theirs = module_pair("Conv1d", 2, 3, 3, padding=4, padding_mode="reflect")
    check_module(ours, theirs, rng.standard_normal((2, 2, 5)))
    ours, theirs = module_pair("Conv1d", 2, 3, 3, padding=5, padding_mode="circular")
    check_module(ours, theirs, rng.standard_normal((2, 2, 5)))


@pytest.mark.parametrize("args,kw", [((4, 6, 3), {}), ((4, 6, (3, 2)), dict(stride=2, padding=1, dilation=2, groups=2)),
                                     ((4, 6, 4), dict(padding="same", padding_mode="reflect", bias=False)),
                                     ((4, 6, 3), dict(padding="valid", padding_mode="circular")),
                                     ((2, 2, (1, 3)), dict(stride=(1, 2), padding=(0, 1), padding_mode="replicate"))])
@pytest.mark.parametrize("name", ["Conv1d", "Conv2d"])
def test_conv_module_attributes_repr_state_dict(name, args, kw):
    if name == "Conv1d" and isinstance(args[2], tuple):
        args = args[:2] + (args[2][:1],)
        kw = {k: (v[:1] if isinstance(v, tuple) else v) for k, v in kw.items()}
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert ours.state_dict()[k].shape == tuple(v.shape)
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode", "transposed", "output_padding", "_reversed_padding_repeated_twice"):
        assert getattr(ours, attr) == getattr(theirs, attr), attr
    theirs.load_state_dict(to_torch(ours))  # the other way round too


@pytest.mark.parametrize("name,args", [("Conv1d", (6, 4, 5)), ("Conv2d", (4, 8, (3, 2))),
                                       ("Conv2d", (6, 4, 3, 1, 0, 1, 2)),
                                       ("ConvTranspose1d", (4, 6, 3)), ("ConvTranspose2d", (6, 4, 2, 1, 0, 0, 2))])
def test_conv_init_bounds(name, args):
    """torch's init: kaiming_uniform_(a=sqrt(5)) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and so is the bias."""
    tb.manual_seed(3)
    m = getattr(nn, name)(*args)
    fan_in = m.weight.shape[1] * int(np.prod(m.weight.shape[2:]))
    bound = 1 / math.sqrt(fan_in)
    for p in (m.weight, m.bias):
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.4 * bound
    w = m.weight.detach().numpy()
    assert abs(w.mean()) < 0.25 * bound and abs(w.std() - bound / math.sqrt(3)) < 0.25 * bound  # U(-b, b)
    assert m.weight.dtype == np.float32 and m.weight.requires_grad
    m2 = getattr(nn, name)(*args, dtype=tb.float64)
    assert m2.weight.dtype == np.float64 and m2.bias.dtype == np.float64


@pytest.mark.parametrize("name", ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"])
def test_conv_signatures(name):
    def sig(c):
        return [(p.name, p.default) for p in inspect.signature(c.__init__).parameters.values()]
    assert sig(getattr(nn, name)) == sig(getattr(torch.nn, name))


@pytest.mark.parametrize("name", ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"])
def test_functional_signatures(name):
    doc = getattr(TF, name).__doc__.strip().splitlines()[0]  # torch's builtins document their signature
    params = inspect.signature(getattr(F, name)).parameters.values()
    assert doc.startswith(f"{name}(" + ", ".join(p.name if p.default is inspect.Parameter.empty else
                                                 f"{p.name}={p.default}" for p in params) + ")")


def test_conv_module_is_trainable(rng):
    m = nn.Sequential(nn.Conv1d(2, 4, 3, padding="same"), nn.ReLU(), nn.Conv1d(4, 1, 1))
    opt = tb.optim.SGD(m.parameters(), lr=0.1)
    x, y = tb.tensor(rng.standard_normal((8, 2, 10)).astype(np.float32)), tb.zeros(8, 1, 10)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.mse_loss(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------- transposed convolutions
TGRID = [g for g in itertools.product([1, 2, 3], [0, 1], [0, 1], [1, 2], [1, 2], [True, False])
         if g[2] < max(g[0], g[3])]  # output_padding must be smaller than stride or dilation (tested below)


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("stride,padding,output_padding,dilation,groups,batched", TGRID)
def test_conv_transpose_float64(rng, nd, stride, padding, output_padding, dilation, groups, batched):
    x, w, b = arrays(rng, np.float64, ((2,) if batched else ()) + (4,) + (5, 4)[:nd],
                     (4, 6 // groups) + (3, 2)[:nd], (6,))
    ours, theirs = fn(f"conv_transpose{nd}d")
    kw = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation, groups=groups)
    check(lambda *a: ours(*a, **kw), lambda *a: theirs(*a, **kw), [x, w, b])
    check(lambda *a: ours(*a, None, **kw), lambda *a: theirs(*a, None, **kw), [x, w])


@pytest.mark.parametrize("nd", [1, 2])
def test_conv_transpose_module(rng, nd):
    ours, theirs = module_pair(f"ConvTranspose{nd}d", 4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    check_module(ours, theirs, rng.standard_normal((2, 4) + (5, 4)[:nd]))
    x = rng.standard_normal((2, 4) + (5, 4)[:nd])
    size = (10, 8)[:nd]  # output_size picks output_padding
    check(lambda a: ours(a, output_size=size), lambda t: theirs(t, output_size=size), [x])


def test_conv_transpose_float32(rng):
    x, w, b = arrays(rng, np.float32, (2, 3, 6, 5), (3, 4, 3, 3), (4,))
    check(lambda *a: F.conv_transpose2d(*a, stride=2, padding=1),
          lambda *a: TF.conv_transpose2d(*a, stride=2, padding=1),
          [x, w, b], np.float32, **F32)


# ---------------------------------------------------------------- finite differences of the Functions
@pytest.mark.parametrize("kw", [dict(stride=2, padding=1, dilation=2), dict(groups=2, padding="same")])
def test_conv_gradcheck(rng, kw):
    x, w, b = (tb.tensor(a, requires_grad=True) for a in conv_case(rng, 2, 4, 4, kw.get("groups", 1), (3, 2), True,
                                                                    length=(6, 5)))
    assert tb.gradcheck(lambda *a: F.conv2d(*a, **kw), (x, w, b))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_conv_padding_mode_gradcheck(rng, mode):
    m = nn.Conv1d(2, 3, 3, padding=2, padding_mode=mode, dtype=tb.float64)
    x = tb.tensor(rng.standard_normal((2, 2, 5)), requires_grad=True)

    def f(x, w, b):
        m._parameters["weight"], m._parameters["bias"] = w, b
        return m(x)
    assert tb.gradcheck(f, (x, m.weight, m.bias))


def test_conv_transpose_gradcheck(rng):
    x, w, b = (tb.tensor(a, requires_grad=True) for a in arrays(rng, np.float64, (2, 4, 3, 4), (4, 2, 3, 2), (4,)))
    assert tb.gradcheck(lambda *a: F.conv_transpose2d(*a, stride=2, padding=1, output_padding=1, groups=2), (x, w, b))


# ---------------------------------------------------------------- Tensor.unfold
@pytest.mark.parametrize("dim,size,step", [(1, 3, 2), (1, 3, 1), (-1, 2, 2), (0, 3, 5), (1, 0, 1), (1, 10, 3),
                                           (2, 1, 1),
                                           (0, 1, 1)])
def test_unfold(rng, dim, size, step):
    x = rng.standard_normal((3, 10, 4))
    check(lambda a: a.unfold(dim, size, step), lambda t: t.unfold(dim, size, step), [x])
    check(lambda a: a.unfold(dim, size, step), lambda t: t.unfold(dim, size, step), [x.astype(np.float32)], np.float32)


def test_unfold_of_a_scalar_and_gradcheck(rng):
    for size in (0, 1):
        check(lambda a: a.unfold(0, size, 1), lambda t: t.unfold(0, size, 1), [np.array(2.5)])
    x = tb.tensor(rng.standard_normal((2, 7)), requires_grad=True)
    assert tb.gradcheck(lambda a: a.unfold(1, 3, 2) * a.unfold(1, 3, 2), (x,))


@pytest.mark.parametrize("args", [(1, 11, 1), (1, 3, 0), (1, -1, 1), (2, 3, 1), (1, 2.5, 1)])
def test_unfold_errors(args):
    raises_alike(lambda: tb.zeros(3, 10).unfold(*args), lambda: torch.zeros(3, 10).unfold(*args), "unfold")


# ---------------------------------------------------------------- bad input
def _x(T, *shape, dtype=None):
    return T.zeros(*shape, dtype=dtype or T.float64)


BAD_FUNCTIONAL = [
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 3, 3)),                        # wrong channel count
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), groups=3),              # channels for groups
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 5, 2, 3), groups=2),              # out channels for groups
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 12)),                       # kernel larger than the input
    lambda T, F: F.conv2d(_x(T, 2, 4, 2, 10), _x(T, 6, 4, 3, 3), padding=(0, 1)),  # ... in one dim only
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), padding="same", stride=2),
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), padding="foo"),
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), stride=0),
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), padding=-1),
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), dilation=0),
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), groups=0),
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), _x(T, 5)),              # bias size
    lambda T, F: F.conv1d(_x(T, 2, 4, 10, dtype=T.float32), _x(T, 6, 4, 3)),       # dtypes differ
    lambda T, F: F.conv1d(_x(T, 10), _x(T, 6, 4, 3)),                              # 1-D input
    lambda T, F: F.conv1d(_x(T, 2, 4, 10, 1), _x(T, 6, 4, 3)),                     # 4-D input
    lambda T, F: F.conv2d(_x(T, 2, 4, 10), _x(T, 6, 4, 3)),                        # conv2d of a 3-D weight
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3, 1)),                     # 4-D weight
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), stride=(1, 2)),         # too many strides
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), padding=(1, 1)),
    lambda T, F: F.conv1d(_x(T, 2, 4, 10), _x(T, 6, 4, 3), stride=1.5),            # not an int
    lambda T, F: F.conv1d(_x(T, 2, 4, 0), _x(T, 6, 4, 3)),                         # empty length
    lambda T, F: F.conv_transpose1d(_x(T, 2, 4, 10), _x(T, 3, 6, 3)),              # wrong channel count
    lambda T, F: F.conv_transpose1d(_x(T, 2, 4, 10), _x(T, 4, 6, 3), output_padding=1),
    lambda T, F: F.conv_transpose1d(_x(T, 2, 4, 1), _x(T, 4, 6, 1), padding=1),   # output too small
]


@pytest.mark.parametrize("bad", BAD_FUNCTIONAL)
def test_functional_bad_input(bad):
    raises_alike(lambda: bad(tb, F), lambda: bad(torch, TF), "conv")


BAD_MODULE = [
    lambda nn: nn.Conv1d(4, 6, 3, padding_mode="foo"),
    lambda nn: nn.Conv1d(4, 6, 3, groups=3),
    lambda nn: nn.Conv1d(4, 6, 3, groups=0),
    lambda nn: nn.Conv1d(4, 5, 3, groups=2),
    lambda nn: nn.Conv1d(4, 6, 3, padding="same", stride=2),
    lambda nn: nn.Conv2d(4, 6, 3, padding="foo"),
    lambda nn: nn.ConvTranspose1d(4, 6, 3, padding_mode="reflect"),
]


@pytest.mark.parametrize("bad", BAD_MODULE)
def test_module_bad_arguments(bad):
    raises_alike(lambda: bad(nn), lambda: bad(torch.nn))


@pytest.mark.parametrize("kw,length", [(dict(padding=10, padding_mode="reflect"), 10),
                                       (dict(padding=11, padding_mode="circular"), 10),
                                       (dict(padding=1), 0), (dict(padding=1, padding_mode="reflect"), 1)])
def test_module_bad_input(kw, length):
    def bad(nn, T):
        m = nn.Conv1d(4, 6, 3, **kw)
        return m(T.zeros(2, 4, length, dtype=m.weight.dtype))
    same_error(bad, "conv1d")
    same_error(lambda nn, T: nn.Conv1d(4, 6, 3)(T.zeros(2, 3, 10)), "conv1d")  # wrong channel count
    same_error(lambda nn, T: nn.Conv2d(4, 6, 3)(T.zeros(4, 10)), "conv2d")


def test_error_messages_name_the_shapes():
    with pytest.raises(RuntimeError, match=r"conv1d.*weight of size \[6, 3, 3\].*input\[2, 4, 10\].*3 channels"):
        F.conv1d(tb.zeros(2, 4, 10), tb.zeros(6, 3, 3))
    with pytest.raises(RuntimeError, match=r"conv2d.*padded input size per channel: \(3 x 12\)\. "
                                           r"Kernel size: \(5 x 3\)"):
        F.conv2d(tb.zeros(1, 1, 3, 10), tb.zeros(1, 1, 5, 3), padding=(0, 1))
