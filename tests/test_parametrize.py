"""nn.utils.parametrize against torch 2.13: values and gradients through parametrizations, right_inverse at
registration and on assignment, chains, several originals, cached(), removal, state_dict keys both ways,
named_parameters, class swap, and the exception types of bad registrations."""
import copy
import pickle

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.nn as nn
from tinybptt.nn.utils import parametrize as P

from parity import close, raises_alike, to_ours, to_torch

TP = torch.nn.utils.parametrize


# ---------------------------------------------------------------- the same parametrizations in both libraries
def symmetric(lib):
    class Symmetric(lib.nn.Module):
        """X -> triu(X) + triu(X, 1)^T; right_inverse: triu."""

        def forward(self, X):
            return X.triu() + X.triu(1).mT

        def right_inverse(self, A):
            return A.triu()
    return Symmetric()


def scale(lib, c):
    class Scale(lib.nn.Module):
        """X -> c X; right_inverse: X / c."""

        def forward(self, X):
            return X * c

        def right_inverse(self, A):
            return A / c
    return Scale()


def shift(lib):
    class Shift(lib.nn.Module):
        """X -> X + 1, no right_inverse (taken as the identity at registration)."""

        def forward(self, X):
            return X + 1
    return Shift()


def split(lib):
    class Split(lib.nn.Module):
        """(A, B) -> A * B; right_inverse: W -> (W / 2, 2): two originals."""

        def forward(self, A, B):
            return A * B

        def right_inverse(self, W):
            return W / 2, W * 0 + 2
    return Split()


def pair(seed=0, n=4, m=3, bias=True):
    """A tinybptt and a torch float64 Linear(n, m) with the same weights."""
    torch.manual_seed(seed)
    tm = torch.nn.Linear(n, m, bias=bias).double()
    mod = nn.Linear(n, m, bias=bias).double()
    mod.load_state_dict(to_ours(tm))
    return mod, tm


def register_both(mod, tm, name, make, *args, **kw):
    """Register ``make(lib, *args)`` on ``name`` of ours (lib = tinybptt) and of torch's module; returns ours."""
    out = P.register_parametrization(mod, name, make(tb, *args), **kw)
    TP.register_parametrization(tm, name, make(torch, *args), **kw)
    return out


def backward_both(mod, tm, x):
    """sum(sin(module(x))) backward in both; returns the outputs."""
    out, tout = mod(tb.tensor(x)), tm(torch.tensor(x))
    out.sin().sum().backward()
    tout.sin().sum().backward()
    return out, tout


def grads_match(mod, tm):
    ours, theirs = dict(mod.named_parameters()), dict(tm.named_parameters())
    assert list(ours) == list(theirs)
    for k in theirs:
        close(ours[k].grad, theirs[k].grad)


# ---------------------------------------------------------------- registration, values, gradients
def test_register_swaps_the_class_and_computes_on_every_read(rng):
    mod, tm = pair(n=3, m=3)
    cls = type(mod)
    out = register_both(mod, tm, "weight", symmetric)
    assert out is mod
    assert type(mod).__name__ == type(tm).__name__ == "ParametrizedLinear"
    assert isinstance(mod, cls) and type(mod).__bases__ == (cls,)
    assert P.type_before_parametrizations(mod) is cls and P.type_before_parametrizations(nn.Linear(2, 2)) is nn.Linear
    assert P.is_parametrized(mod) and P.is_parametrized(mod, "weight") and not P.is_parametrized(mod, "bias")
    assert not P.is_parametrized(nn.Linear(2, 2)) and not P.is_parametrized(nn.Linear(2, 2), "weight")
    assert isinstance(mod.parametrizations.weight, P.ParametrizationList)
    assert isinstance(mod.parametrizations["weight"][0], nn.Module)
    # the stored tensor is right_inverse(W) = triu(W) in the same Parameter object, the weight symmetric
    close(mod.parametrizations.weight.original, tm.parametrizations.weight.original)
    close(mod.weight, tm.weight)
    w = mod.weight.detach().numpy()
    np.testing.assert_array_equal(w, w.T)
    assert mod.weight is not mod.weight  # computed on each read
    assert "weight" not in mod._parameters
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tm.named_parameters()] \
        == ["bias", "parametrizations.weight.original"]
    assert list(mod.state_dict()) == list(tm.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert repr(mod) == repr(tm)
    backward_both(mod, tm, rng.standard_normal((5, 3)))
    grads_match(mod, tm)


def test_the_original_parameter_object_is_kept_for_the_optimizer(rng):
    mod, tm = pair(n=3, m=3)
    w = mod.weight
    opt = tb.optim.SGD(mod.parameters(), lr=0.1)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1)
    register_both(mod, tm, "weight", symmetric)
    assert mod.parametrizations.weight.original is w
    x = rng.standard_normal((4, 3))
    for _ in range(3):
        backward_both(mod, tm, x)
        opt.step()
        topt.step()
        opt.zero_grad()
        topt.zero_grad()
    close(mod.weight, tm.weight)
    close(mod.parametrizations.weight.original, tm.parametrizations.weight.original)


def test_assignment_applies_right_inverse_in_place(rng):
    mod, tm = pair(n=3, m=3)
    register_both(mod, tm, "weight", scale, 4.0)
    original = mod.parametrizations.weight.original
    close(original, tm.parametrizations.weight.original)  # W / 4
    close(mod.weight, tm.weight)  # W again
    v = rng.standard_normal((3, 3))
    mod.weight = tb.tensor(v)
    tm.weight = torch.tensor(v)
    assert mod.parametrizations.weight.original is original
    close(original, tm.parametrizations.weight.original)
    close(mod.weight, v)


def test_a_parametrization_without_right_inverse_starts_from_the_tensor(rng):
    mod, tm = pair()
    register_both(mod, tm, "weight", shift)
    close(mod.parametrizations.weight.original, tm.parametrizations.weight.original)
    close(mod.weight, tm.weight)
    # assigning needs a right_inverse for every parametrization: RuntimeError
    raises_alike(lambda: setattr(mod, "weight", tb.zeros(3, 4, dtype=tb.float64)),
                 lambda: setattr(tm, "weight", torch.zeros(3, 4, dtype=torch.float64)), "right_inverse")


def test_chained_parametrizations_apply_in_order_and_invert_in_reverse(rng):
    mod, tm = pair(n=3, m=3)
    register_both(mod, tm, "weight", symmetric)
    register_both(mod, tm, "weight", scale, 3.0)
    register_both(mod, tm, "weight", shift)
    assert len(mod.parametrizations.weight) == 3
    close(mod.parametrizations.weight.original, tm.parametrizations.weight.original)
    close(mod.weight, tm.weight)  # 3 * sym(triu W) + 1
    assert list(mod.state_dict()) == list(tm.state_dict())
    backward_both(mod, tm, rng.standard_normal((2, 3)))
    grads_match(mod, tm)


def test_chained_assignment_goes_through_every_right_inverse(rng):
    mod, tm = pair(n=3, m=3)
    register_both(mod, tm, "weight", symmetric)
    register_both(mod, tm, "weight", scale, 3.0)
    v = rng.standard_normal((3, 3))
    mod.weight, tm.weight = tb.tensor(v), torch.tensor(v)
    close(mod.parametrizations.weight.original, tm.parametrizations.weight.original)
    close(mod.weight, tm.weight)


def test_several_originals(rng):
    mod, tm = pair()
    w = mod.weight
    register_both(mod, tm, "weight", split)
    plist = mod.parametrizations.weight
    assert not plist.is_tensor and plist.ntensors == 2 and not hasattr(plist, "original")
    assert list(mod.state_dict()) == list(tm.state_dict()) == \
        ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert isinstance(plist.original0, nn.Parameter) and plist.original0 is not w  # new Parameters
    close(plist.original0, tm.parametrizations.weight.original0)
    close(plist.original1, tm.parametrizations.weight.original1)
    close(mod.weight, tm.weight)
    backward_both(mod, tm, rng.standard_normal((2, 4)))
    grads_match(mod, tm)
    v = rng.standard_normal((3, 4))
    mod.weight, tm.weight = tb.tensor(v), torch.tensor(v)
    close(plist.original0, tm.parametrizations.weight.original0)


def test_a_buffer_can_be_parametrized(rng):
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("b", tb.tensor(np.arange(9.0).reshape(3, 3)))

    class THolder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("b", torch.arange(9.0, dtype=torch.float64).reshape(3, 3))

    mod, tm = Holder(), THolder()
    register_both(mod, tm, "b", symmetric)
    assert list(mod.state_dict()) == list(tm.state_dict()) == ["parametrizations.b.original"]
    assert list(mod.parameters()) == [] and [n for n, _ in mod.named_buffers()] == ["parametrizations.b.original"]
    close(mod.b, tm.b)


def test_cached_evaluates_once_per_block(rng):
    calls = {tb: 0, torch: 0}

    def counting(lib):
        class Count(lib.nn.Module):
            def forward(self, X):
                calls[lib] += 1
                return X * 2
        return Count()

    mod, tm = pair()
    register_both(mod, tm, "weight", counting)
    calls.update({tb: 0, torch: 0})
    for lib, m, ctx in ((tb, mod, P.cached), (torch, tm, TP.cached)):
        m.weight, m.weight
        with ctx():
            a = m.weight
            assert m.weight is a
            with ctx():  # nested blocks share the cache
                assert m.weight is a
            assert m.weight is a
        assert m.weight is not a
    assert calls[tb] == calls[torch] == 4


def test_state_dict_moves_both_ways(rng):
    mod, tm = pair(seed=1, n=3, m=3)
    register_both(mod, tm, "weight", symmetric)
    torch.nn.init.normal_(tm.parametrizations.weight.original)
    assert repr(mod.load_state_dict(to_ours(tm))) == "<All keys matched successfully>"
    close(mod.weight, tm.weight)
    mod.parametrizations.weight.original.data = tb.tensor(rng.standard_normal((3, 3)))
    tm.load_state_dict(to_torch(mod))
    close(mod.weight, tm.weight)
    tm.load_state_dict(mod.state_dict())  # the state_dict values torch takes as they are
    close(mod.weight, tm.weight)
    # a plain Linear's keys do not fit: strict loading names the missing and unexpected ones
    with pytest.raises(RuntimeError, match="Missing key.*parametrizations.weight.original"):
        mod.load_state_dict(to_ours(torch.nn.Linear(3, 3).double()))


def test_remove_leaving_the_parametrized_value(rng):
    mod, tm = pair(n=3, m=3)
    original = mod.weight
    register_both(mod, tm, "weight", symmetric)
    assert P.remove_parametrizations(mod, "weight") is mod
    TP.remove_parametrizations(tm, "weight")
    assert type(mod) is nn.Linear and type(tm) is torch.nn.Linear
    assert mod.weight is original and isinstance(mod.weight, nn.Parameter)
    assert not hasattr(mod, "parametrizations") and not P.is_parametrized(mod)
    assert list(mod.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    assert [n for n, _ in mod.named_parameters()] == [n for n, _ in tm.named_parameters()]
    close(mod.weight, tm.weight)
    backward_both(mod, tm, rng.standard_normal((2, 3)))
    grads_match(mod, tm)


def test_remove_back_to_the_original(rng):
    mod, tm = pair(n=3, m=3)
    register_both(mod, tm, "weight", symmetric)
    register_both(mod, tm, "bias", scale, 2.0)
    P.remove_parametrizations(mod, "weight", leave_parametrized=False)
    TP.remove_parametrizations(tm, "weight", leave_parametrized=False)
    assert type(mod).__name__ == "ParametrizedLinear"  # bias is still parametrized
    close(mod.weight, tm.weight)  # triu(W)
    assert list(mod.state_dict()) == list(tm.state_dict()) == ["weight", "parametrizations.bias.original"]
    P.remove_parametrizations(mod, "bias", leave_parametrized=False)
    TP.remove_parametrizations(tm, "bias", leave_parametrized=False)
    assert type(mod) is nn.Linear
    close(mod.bias, tm.bias)


def test_remove_several_originals(rng):
    mod, tm = pair()
    register_both(mod, tm, "weight", split)
    raises_alike(lambda: P.remove_parametrizations(mod, "weight", leave_parametrized=False),
                 lambda: TP.remove_parametrizations(tm, "weight", leave_parametrized=False), "sequence of tensors")
    P.remove_parametrizations(mod, "weight")
    TP.remove_parametrizations(tm, "weight")
    assert isinstance(mod.weight, nn.Parameter) and mod.weight.is_leaf
    assert list(mod.state_dict()) == list(tm.state_dict())
    close(mod.weight, tm.weight)


def test_deepcopy_works_and_pickling_is_refused(rng):
    mod, _ = pair(n=3, m=3)
    P.register_parametrization(mod, "weight", symmetric(tb))
    twin = copy.deepcopy(mod)
    assert type(twin) is type(mod)
    close(twin.weight, mod.weight)
    assert twin.parametrizations.weight.original is not mod.parametrizations.weight.original
    with pytest.raises(RuntimeError, match="state_dict"):
        pickle.dumps(mod)


def test_transfer_parametrizations_and_params(rng):
    mod, tm = pair(n=3, m=3)
    register_both(mod, tm, "weight", symmetric)
    to, tto = nn.Linear(3, 3).double(), torch.nn.Linear(3, 3).double()
    P.transfer_parametrizations_and_params(mod, to)
    TP.transfer_parametrizations_and_params(tm, tto)
    assert to.parametrizations.weight.original is mod.parametrizations.weight.original
    close(to.weight, tto.weight)
    assert list(to.state_dict()) == list(tto.state_dict())


# ---------------------------------------------------------------- bad registrations: torch's exception types
def test_missing_name():
    raises_alike(lambda: P.register_parametrization(nn.Linear(2, 2), "weights", shift(tb)),
                 lambda: TP.register_parametrization(torch.nn.Linear(2, 2), "weights", shift(torch)),
                 "does not have a parameter, a buffer, or a parametrized element with name 'weights'")


def test_not_parametrized_removal():
    raises_alike(lambda: P.remove_parametrizations(nn.Linear(2, 2), "weight"),
                 lambda: TP.remove_parametrizations(torch.nn.Linear(2, 2), "weight"),
                 "does not have a parametrization on weight")


@pytest.mark.parametrize("chained", [False, True])
def test_changing_the_shape_or_dtype_needs_unsafe(chained):
    def transpose(lib):
        class T(lib.nn.Module):
            def forward(self, X):
                return X.mT
        return T()

    def to_float(lib):
        class F32(lib.nn.Module):
            def forward(self, X):
                return X.float()
        return F32()

    for make, what in ((transpose, "shape"), (to_float, "dtype")):
        mod, tm = pair(n=4, m=3)
        if chained:
            register_both(mod, tm, "weight", shift)
        raises_alike(lambda: P.register_parametrization(mod, "weight", make(tb)),
                     lambda: TP.register_parametrization(tm, "weight", make(torch)),
                     f"may not change the {what} of the tensor")
        assert P.is_parametrized(mod) == chained and list(mod.state_dict()) == list(tm.state_dict())
        register_both(mod, tm, "weight", make, unsafe=True)
        assert mod.weight.shape == tuple(tm.weight.shape) and str(mod.weight.dtype) == str(tm.weight.dtype)[6:]
        close(mod.weight, tm.weight, 1e-6)


def test_right_inverse_changing_the_dtype_or_returning_junk():
    def bad_inverse(lib, result):
        class Bad(lib.nn.Module):
            def forward(self, X):
                return X

            def right_inverse(self, X):
                return result(X)
        return Bad()

    for result, match in ((lambda X: X.float(), "may not change the dtype"), (lambda X: 3, "must return a Tensor"),
                          (lambda X: [X, 3], "element 1")):
        raises_alike(lambda: P.register_parametrization(nn.Linear(2, 2).double(), "weight", bad_inverse(tb, result)),
                     lambda: TP.register_parametrization(torch.nn.Linear(2, 2).double(), "weight",
                                                         bad_inverse(torch, result)), match)


def test_chained_right_inverse_must_keep_shape():
    def narrow(lib):
        class Narrow(lib.nn.Module):
            def forward(self, X):
                return X

            def right_inverse(self, X):
                return X[:1]
        return Narrow()

    mod, tm = pair()
    register_both(mod, tm, "weight", shift)
    raises_alike(lambda: P.register_parametrization(mod, "weight", narrow(tb)),
                 lambda: TP.register_parametrization(tm, "weight", narrow(torch)),
                 "right_inverse must have the same shape")


def test_assigning_a_parameter_to_a_parametrized_name():
    mod, tm = pair()
    register_both(mod, tm, "weight", shift)
    raises_alike(lambda: setattr(mod, "weight", nn.Parameter(tb.zeros(3, 4))),
                 lambda: setattr(tm, "weight", torch.nn.Parameter(torch.zeros(3, 4))), "already exists")


def test_parametrization_list_needs_modules():
    raises_alike(lambda: P.ParametrizationList([], tb.zeros(2)),
                 lambda: TP.ParametrizationList([], torch.zeros(2)), "requires one or more modules")
