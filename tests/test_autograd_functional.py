"""tinybptt.autograd.functional (vjp, jacobian) and anomaly detection against torch."""
import re
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt.autograd import functional as F

TF = torch.autograd.functional


def to_lib(lib, arrays):
    return tuple(lib.tensor(a) for a in arrays) if isinstance(arrays, tuple) else lib.tensor(arrays)


def assert_same_structure(ours, theirs, rtol=1e-12, atol=1e-14):
    """Tuples where torch returns tuples, tensors where it returns tensors, the same values, detached."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            assert_same_structure(o, t, rtol, atol)
        return
    assert isinstance(ours, tb.Tensor) and not ours.requires_grad and ours.grad_fn is None
    assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=rtol, atol=atol)


def lstm_pair():
    """The same LSTM + Linear in both libraries, as a function of the input sequence."""
    tlstm, thead = torch.nn.LSTM(3, 4, batch_first=True).double(), torch.nn.Linear(4, 2).double()
    olstm, ohead = tb.nn.LSTM(3, 4, batch_first=True).double(), tb.nn.Linear(4, 2).double()
    olstm.load_state_dict({k: v.numpy() for k, v in tlstm.state_dict().items()})
    ohead.load_state_dict({k: v.numpy() for k, v in thead.state_dict().items()})
    return (lambda x: thead(tlstm(x)[0][:, -1])), (lambda x: ohead(olstm(x)[0][:, -1]))


rng = np.random.default_rng(0)
X, Y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
SEQ = rng.standard_normal((2, 5, 3))
tlstm_fn, olstm_fn = lstm_pair()

# (name, function of either library's tensors, inputs as arrays, v as arrays)
CASES = [
    ("exp_reducer", lambda x: x.exp().sum(1), X, rng.standard_normal(3)),
    ("scalar", lambda x: (x * x).sum(), X, None),
    ("adder", lambda x, y: 2 * x + 3 * y, (X, Y), rng.standard_normal((3, 4))),
    ("two_outputs", lambda x, y: (x * y, x.sum()), (X, Y), (rng.standard_normal((3, 4)), np.array(0.7))),
    ("one_input_in_a_tuple", lambda x: x.tanh() @ x.T, (X,), rng.standard_normal((3, 3))),
    ("tuple_of_one_output", lambda x: (x.sigmoid(),), X, (rng.standard_normal((3, 4)),)),
    ("unused_input", lambda x, y: x.exp(), (X, Y), rng.standard_normal((3, 4))),
    ("constant_output", lambda x, y: (x * 2, y.detach() * 0 + 1), (X, Y), (np.ones((3, 4)), np.ones((3, 4)))),
]


def lstm_case(lib):
    return tlstm_fn if lib is torch else olstm_fn


def with_dtypes(cases, lstm_case):
    """Every case in float64 and float32, plus the LSTM case (float64 modules) in float64."""
    params = [pytest.param(*c, d, id=f"{c[0]}-{d.__name__}") for c in cases for d in (np.float64, np.float32)]
    return params + [pytest.param(*lstm_case, np.float64, id="lstm-float64")]


@pytest.mark.parametrize("name,fn,inputs,v,dtype", with_dtypes(CASES, ("lstm", None, SEQ, rng.standard_normal((2, 2)))))
def test_vjp_matches_torch(name, fn, inputs, v, dtype):
    cast = (lambda a: tuple(x.astype(dtype) for x in a) if isinstance(a, tuple) else a.astype(dtype))
    t_out = TF.vjp(fn or lstm_case(torch), to_lib(torch, cast(inputs)), None if v is None else to_lib(torch, cast(v)))
    o_out = F.vjp(fn or lstm_case(tb), to_lib(tb, cast(inputs)), None if v is None else to_lib(tb, cast(v)))
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    assert_same_structure(o_out, t_out, **tol)


@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("name,fn,inputs,v,dtype", with_dtypes(CASES, ("lstm", None, SEQ, None)))
def test_jacobian_matches_torch(name, fn, inputs, v, dtype, vectorize):
    cast = (lambda a: tuple(x.astype(dtype) for x in a) if isinstance(a, tuple) else a.astype(dtype))
    theirs = TF.jacobian(fn or lstm_case(torch), to_lib(torch, cast(inputs)), vectorize=vectorize)
    ours = F.jacobian(fn or lstm_case(tb), to_lib(tb, cast(inputs)), vectorize=vectorize)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    assert_same_structure(ours, theirs, **tol)


def test_jacobian_of_an_lstm_agrees_with_finite_differences():
    x = SEQ.copy()
    jac = F.jacobian(olstm_fn, tb.tensor(x)).numpy()
    eps, numeric = 1e-6, np.zeros((2, 2) + x.shape)
    for idx in np.ndindex(*x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        with tb.no_grad():
            numeric[(...,) + idx] = (olstm_fn(tb.tensor(up)).numpy() - olstm_fn(tb.tensor(down)).numpy()) / (2 * eps)
    np.testing.assert_allclose(jac, numeric, rtol=1e-6, atol=1e-8)


def test_callers_tensors_are_left_alone():
    x = tb.tensor(X, requires_grad=True)
    seen = []
    out, grads = F.vjp(lambda t: seen.append(t) or (t * t).sum(), x)
    assert seen[0] is not x and x.grad is None  # func gets a new leaf; nothing accumulates into x.grad
    np.testing.assert_allclose(grads.numpy(), 2 * X)
    jac = F.jacobian(lambda t: t * 3, x)
    assert x.grad is None and jac.shape == (3, 4, 3, 4)


def messages_match(tcall, ocall, exc):
    with pytest.raises(exc) as theirs:
        tcall()
    with pytest.raises(exc) as ours:
        ocall()
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("fname", ["vjp", "jacobian"])
def test_strict_mode_errors_match_torch(fname):
    x, y = X, Y
    extra = (lambda lib: {"v": lib.ones(3, 4, dtype=lib.float64)}) if fname == "vjp" else (lambda lib: {})
    for fn in (lambda a, b: a * 2, lambda a, b: b.detach() * 2):  # independent of an input / not differentiable
        messages_match(lambda: getattr(TF, fname)(fn, (torch.tensor(x), torch.tensor(y)), strict=True, **extra(torch)),
                       lambda: getattr(F, fname)(fn, (tb.tensor(x), tb.tensor(y)), strict=True, **extra(tb)),
                       RuntimeError)
    # not strict: zeros for the unused input
    assert_same_structure(getattr(F, fname)(lambda a, b: a * 2, (tb.tensor(x), tb.tensor(y)), **extra(tb)),
                          getattr(TF, fname)(lambda a, b: a * 2, (torch.tensor(x), torch.tensor(y)), **extra(torch)))


def test_argument_errors_match_torch():
    x = X[0]
    cases = [
        ("vjp", lambda t: t * 2, lambda lib: lib.tensor(x), lambda lib: {"v": lib.ones(5, dtype=lib.float64)},
         RuntimeError),
        ("vjp", lambda t: (t * 2, t), lambda lib: lib.tensor(x), lambda lib: {"v": (lib.tensor(x),)}, RuntimeError),
        ("vjp", lambda t: (t * 2, t), lambda lib: lib.tensor(x),
         lambda lib: {"v": (lib.tensor(x), lib.ones(2, dtype=lib.float64))}, RuntimeError),
        ("vjp", lambda t: t * 2, lambda lib: lib.tensor(x), lambda lib: {}, RuntimeError),
        ("vjp", lambda t: t * 2, lambda lib: [lib.tensor(x)], lambda lib: {"v": lib.tensor(x)}, TypeError),
        ("vjp", lambda t, u: t * 2, lambda lib: (lib.tensor(x), 3), lambda lib: {"v": lib.tensor(x)}, TypeError),
        ("vjp", lambda t: [t * 2], lambda lib: lib.tensor(x), lambda lib: {"v": lib.tensor(x)}, TypeError),
        ("jacobian", lambda t: [t], lambda lib: lib.tensor(x), lambda lib: {}, TypeError),
        ("jacobian", lambda t: t, lambda lib: lib.tensor(x), lambda lib: {"strategy": "sideways"}, AssertionError),
        ("jacobian", lambda t: t, lambda lib: lib.tensor(x), lambda lib: {"strict": True, "vectorize": True},
         RuntimeError),
    ]
    for fname, fn, inputs, kw, exc in cases:
        messages_match(lambda: getattr(TF, fname)(fn, inputs(torch), **kw(torch)),
                       lambda: getattr(F, fname)(fn, inputs(tb), **kw(tb)), exc)
    for lib, functional in ((torch, TF), (tb, F)):  # integer inputs cannot require grad
        with pytest.raises(RuntimeError):
            functional.jacobian(lambda t: t, lib.arange(3))
        with pytest.raises(RuntimeError):
            functional.jacobian(lambda t: t[:0], lib.tensor(x))


def test_unsupported_forms_raise_not_implemented():
    x = tb.tensor(X)
    with pytest.raises(NotImplementedError, match="vjp: create_graph=True is not supported"):
        F.vjp(lambda t: t.sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="jacobian: create_graph=True is not supported"):
        F.jacobian(lambda t: t, x, create_graph=True)
    with pytest.raises(NotImplementedError, match="forward-mode"):
        F.jacobian(lambda t: t, x, strategy="forward-mode", vectorize=True)
    for name in ("jvp", "hvp", "vhp", "hessian"):
        with pytest.raises(NotImplementedError, match=f"{name}: not supported"):
            getattr(F, name)(lambda t: (t * t).sum(), x, *([x] if name != "hessian" else []))
    assert sorted(F.__all__) == sorted(TF.__all__)


def test_autograd_functional_imports_like_torch():
    import importlib
    module = importlib.import_module("tinybptt.autograd.functional")
    from tinybptt.autograd.functional import jacobian, vjp
    assert module is F is tb.autograd.functional and jacobian is F.jacobian and vjp is F.vjp


# ---------------------------------------------------------------- anomaly detection
def nan_backward(lib):
    x = lib.tensor([0.0, 1.0], dtype=lib.float64, requires_grad=True)
    return x, (x / x).sum()  # d(x/x)/dx: 1/x is inf, -x/x^2 is NaN at 0


def test_nan_in_backward_raises_like_torch():
    messages = {}
    for lib in (torch, tb):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with lib.autograd.detect_anomaly():
                x, loss = nan_backward(lib)
                with pytest.raises(RuntimeError) as err:
                    loss.backward()
        messages[lib] = str(err.value)
        texts = [str(w.message) for w in caught]
        assert texts[0] == ("Anomaly Detection has been enabled. This mode will increase the runtime and should only "
                            "be enabled for debugging.")
        trace = next(t for t in texts if t.startswith("Error detected in DivBackward0. Traceback of forward call "
                                                      "that caused the error:"))
        assert "nan_backward" in trace  # the forward's traceback
    assert messages[tb] == messages[torch] == "Function 'DivBackward0' returned nan values in its 1th output."


def test_anomaly_mode_checks_only_nan_in_backward_like_torch():
    for lib in (torch, tb):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly(), np.errstate(all="ignore"):
                x = lib.tensor([-1.0, 0.0, 4.0], dtype=lib.float64, requires_grad=True)
                y = x.log()  # NaN and -inf in the forward: not checked
                assert np.isnan(y.detach().numpy()[0])
                z = lib.tensor([0.0, 4.0], dtype=lib.float64, requires_grad=True)
                z.sqrt().sum().backward()  # inf in the backward (at 0): not NaN, no error
                assert np.isinf(z.grad.numpy()[0])
            with lib.autograd.detect_anomaly(check_nan=False):
                x, loss = nan_backward(lib)
                loss.backward()  # NaN not checked
                assert np.isnan(x.grad.numpy()[0])


def test_set_detect_anomaly_and_flags_like_torch():
    for lib in (torch, tb):
        flags = lib.is_anomaly_enabled, lib.is_anomaly_check_nan_enabled
        assert [f() for f in flags] == [False, True]
        with lib.autograd.set_detect_anomaly(True, check_nan=False):
            assert [f() for f in flags] == [True, False]
        assert [f() for f in flags] == [False, True]
        lib.autograd.set_detect_anomaly(True)  # as a plain call it stays on
        try:
            assert flags[0]()
            x, loss = nan_backward(lib)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with pytest.raises(RuntimeError, match=re.escape("Function 'DivBackward0' returned nan values")):
                    loss.backward()
        finally:
            lib.autograd.set_detect_anomaly(False)
        assert not flags[0]()
        x, loss = nan_backward(lib)
        loss.backward()  # off: no check


def test_anomaly_names_the_scope_and_reraises_backward_errors():
    x = tb.tensor([0.0, 2.0], dtype=tb.float64, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tb.autograd.detect_anomaly():
            with tb.scope("dec/t=3"):
                y = x / x
            with pytest.raises(RuntimeError, match=r"returned nan values in its 1th output\. \(scope 'dec/t=3'\)"):
                y.sum().backward()

    class Broken(tb.autograd.Function):
        def forward(self, a):
            return a * 1

        def backward(self, g):
            raise ValueError("broken backward")

    z = Broken.apply(tb.tensor([1.0], requires_grad=True))  # made outside anomaly mode
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with tb.autograd.detect_anomaly():
            with pytest.raises(ValueError, match="broken backward"):
                z.sum().backward()
    assert any("Error detected in BrokenBackward0. No forward pass information available." in str(w.message)
               for w in caught)


def test_records_made_outside_anomaly_mode_keep_no_traceback():
    x = tb.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert "anomaly_trace" not in vars(y.grad_fn.fn)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with tb.autograd.detect_anomaly():
            z = x * 2
    assert "anomaly_trace" in vars(z.grad_fn.fn)
