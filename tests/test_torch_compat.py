"""The boilerplate of PyTorch training scripts against torch 2.13: backends flags, deterministic-algorithm
switches, thread counts (really OpenBLAS's), Size, the legacy typed constructors and Variable,
testing.assert_close, compile, float32 matmul precision, tinybptt.special and set_printoptions."""
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import tinybptt as tb
import tinybptt.backends.cudnn
from tinybptt import threads
from parity import assert_close, check, raises_alike, signature


@pytest.fixture(autouse=True)
def _restore_globals():
    """Every test leaves both libraries' global switches as it found them."""
    cudnn = [(m, {k: getattr(m, k) for k in ("deterministic", "benchmark", "enabled", "allow_tf32")})
             for m in (tb.backends.cudnn, torch.backends.cudnn)]
    det = [(tb.are_deterministic_algorithms_enabled(), tb.is_deterministic_algorithms_warn_only_enabled()),
           (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())]
    precision = tb.get_float32_matmul_precision(), torch.get_float32_matmul_precision()
    threads_before = tb.get_num_threads(), torch.get_num_threads()
    yield
    for m, flags in cudnn:
        for k, v in flags.items():
            setattr(m, k, v)
    tb.use_deterministic_algorithms(det[0][0], warn_only=det[0][1])
    torch.use_deterministic_algorithms(det[1][0], warn_only=det[1][1])
    tb.set_float32_matmul_precision(precision[0])
    torch.set_float32_matmul_precision(precision[1])
    tb.set_num_threads(threads_before[0])
    torch.set_num_threads(threads_before[1])
    tb.set_printoptions(profile="default")
    torch.set_printoptions(profile="default")


def error_of(f):
    with pytest.raises(Exception) as e:
        f()
    return type(e.value), str(e.value)


# ---------------------------------------------------------------- backends and determinism
def test_backends_defaults_and_answers_match_torch():
    for name in ("deterministic", "benchmark", "enabled", "allow_tf32"):
        assert getattr(tb.backends.cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert tb.backends.cudnn.is_available() is torch.backends.cudnn.is_available() is False
    assert tb.backends.cudnn.version() is None
    assert tb.backends.mps.is_available() is tb.backends.mps.is_built() is False
    assert tb.backends.cuda.matmul.allow_tf32 is torch.backends.cuda.matmul.allow_tf32 is False
    assert tb.backends.cuda.is_built() is torch.backends.cuda.is_built()


@pytest.fixture(autouse=True)
def _torch_distribution_checks():
    """torch.compile's first call imports torch._dynamo, which turns torch's distribution argument checks off
    for the whole process: put torch's default back after each test, for the parity tests that follow."""
    yield
    torch.distributions.Distribution.set_default_validate_args(__debug__)


def test_backends_flags_are_settable_and_importable_as_modules():
    import tinybptt.backends.cudnn as cudnn  # the spelling scripts use
    cudnn.deterministic, cudnn.benchmark = True, False
    assert tb.backends.cudnn.deterministic is True and tb.backends.cudnn.benchmark is False
    tb.backends.cuda.matmul.allow_tf32 = True
    assert tb.backends.cuda.matmul.allow_tf32 is True
    tb.backends.cuda.matmul.allow_tf32 = False


def test_deterministic_algorithms_flags_as_torch():
    assert signature(tb.use_deterministic_algorithms) == signature(torch.use_deterministic_algorithms)
    for mode, warn_only in ((True, False), (True, True), (False, False), (False, True)):
        for lib in (tb, torch):
            lib.use_deterministic_algorithms(mode, warn_only=warn_only)
        assert tb.are_deterministic_algorithms_enabled() is torch.are_deterministic_algorithms_enabled() is mode
        assert (tb.is_deterministic_algorithms_warn_only_enabled()
                is torch.is_deterministic_algorithms_warn_only_enabled())


@pytest.mark.parametrize("args", [(1,), ("x",), (None,)])
def test_deterministic_algorithms_needs_a_bool(args):
    raises_alike(lambda: tb.use_deterministic_algorithms(*args), lambda: torch.use_deterministic_algorithms(*args),
                 match="use_deterministic_algorithms.*mode.*must be bool")
    raises_alike(lambda: tb.use_deterministic_algorithms(True, warn_only=1),
                 lambda: torch.use_deterministic_algorithms(True, warn_only=1), match="warn_only.*must be bool")


# ---------------------------------------------------------------- threads
def _openblas_get():
    """OpenBLAS's own thread count, read through the library numpy bundles."""
    return threads._openblas()[1]()


def test_set_num_threads_sets_openblas_thread_count():
    assert threads._openblas() is not None, "numpy's OpenBLAS library was not found"
    before = tb.get_num_threads()
    assert before == _openblas_get()
    try:
        for n in (2, 1, 3):
            tb.set_num_threads(n)
            assert tb.get_num_threads() == n == _openblas_get()
        tb.set_num_threads(np.int64(2))  # numpy ints are ints, as for torch
        assert _openblas_get() == 2
    finally:
        tb.set_num_threads(before)
    assert _openblas_get() == before


def test_set_num_threads_found_the_library_numpy_loaded():
    """The library set is the one numpy mapped into this process (its thread count is the one numpy uses)."""
    import os
    path = threads._openblas()[2]
    mapped = {p for p in open("/proc/self/maps").read().split() if "openblas" in p}
    assert mapped and any(os.path.samefile(path, m) for m in mapped)
    assert threads._openblas()[0].__name__.endswith(("set_num_threads", "set_num_threads64_", "set_num_threads_64_"))


def test_set_num_threads_sets_numba_when_imported():
    code = ("import numba, tinybptt as tb; tb.set_num_threads(1); assert numba.get_num_threads() == 1; "
            "tb.set_num_threads(2); assert numba.get_num_threads() == min(2, numba.config.NUMBA_NUM_THREADS); "
            "import sys; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tb.__path__[0] + "/..")
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("n", [0, -1, 1.5, "2", True])
def test_thread_counts_are_checked_as_torch(n):
    for name in ("set_num_threads", "set_num_interop_threads"):
        if name == "set_num_interop_threads" and not isinstance(n, int):
            continue  # torch refuses a second interop setting before checking the type
        ours, theirs = error_of(lambda: getattr(tb, name)(n)), error_of(lambda: getattr(torch, name)(n))
        assert ours == theirs


def test_interop_threads_are_stored():
    before = tb.get_num_interop_threads()
    tb.set_num_interop_threads(3)
    assert tb.get_num_interop_threads() == 3
    tb.set_num_interop_threads(before)


# ---------------------------------------------------------------- Size
def test_size_behaves_as_torch_size():
    for dims in ([2, 3], [], [0, 4], (5,), range(3), [np.int64(2), 3], [True, 2]):
        s, t = tb.Size(dims), torch.Size(dims)
        assert tuple(s) == tuple(t) and s.numel() == t.numel() and isinstance(s, tuple)
        assert repr(s) == repr(t).replace("torch", "tinybptt") == str(s)
    s, t = tb.Size([2, 3, 4]), torch.Size([2, 3, 4])
    for f in (lambda x: x[1:], lambda x: x + (7,), lambda x: (7,) + x, lambda x: x * 2, lambda x: 2 * x,
              lambda x: x[::-1]):
        assert type(f(s)) is tb.Size and repr(f(s)) == repr(f(t)).replace("torch", "tinybptt")
    assert type(s[0]) is int and s == (2, 3, 4) and s != [2, 3, 4] and hash(s) == hash((2, 3, 4))
    assert tb.zeros(2, 3, 4).shape == s and tb.zeros(s).shape == s
    import pickle
    assert type(pickle.loads(pickle.dumps(s))) is tb.Size


@pytest.mark.parametrize("bad", [[2.5], ["a"], 3, [tb.tensor([1, 2])]])
def test_size_rejects_as_torch(bad):
    tbad = [torch.tensor([1, 2])] if isinstance(bad, list) and isinstance(bad[0], tb.Tensor) else bad
    (ours, msg), (theirs, tmsg) = error_of(lambda: tb.Size(bad)), error_of(lambda: torch.Size(tbad))
    assert ours is theirs is TypeError and msg == tmsg.replace("torch", "tinybptt")


def test_tensor_shape_stays_a_plain_tuple():
    """Documented choice: shape and size() are tuples (error messages embed them as tuples)."""
    x = tb.zeros(2, 3)
    assert type(x.shape) is tuple and type(x.size()) is tuple and x.size() == tb.Size([2, 3])


# ---------------------------------------------------------------- legacy constructors and Variable
LEGACY = ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor"]


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_constructors_dtype_shape_values(name):
    ours, theirs = getattr(tb, name), getattr(torch, name)
    a = np.array([[0, 2, 3], [1, -1, 7]])
    signed = [([[1.7, -1.7], [0, 2]],)] if name != "ByteTensor" else [([[1.7, 0.3], [0, 2]],)]  # torch: overflow
    for args in ([([1, 2],)], signed, [((2, 3),)], [(a % 2 == 0,)] if name == "BoolTensor" else [],
                 [(a,)] if name != "ByteTensor" else [], [([],)], [(2, 3)], [(4,)], [()], [(np.int64(3),)]):
        for arg in args:
            x, t = ours(*arg), theirs(*arg)
            assert str(x.dtype) == str(t.dtype).replace("torch.", "") and x.shape == tuple(t.shape)
            if t.numel() and (arg and not isinstance(arg[0], int) and not isinstance(arg[0], np.integer)):
                np.testing.assert_array_equal(x.numpy(), t.numpy())  # data given: same values
            elif t.numel():
                assert not x.numpy().any()  # torch's memory is uninitialised; ours is zeros
    assert ours(tb.Size([2, 5])).shape == tuple(theirs(torch.Size([2, 5])).shape)
    assert isinstance(ours([1]), ours) and not isinstance(tb.zeros(1, dtype=np.complex64), ours)
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))


def test_legacy_isinstance_and_aliasing_as_torch():
    for name in LEGACY:
        for dtype in ("float32", "float64", "int64", "int32", "bool", "uint8"):
            x = tb.zeros(2, dtype=getattr(tb, dtype))
            t = torch.zeros(2, dtype=getattr(torch, dtype))
            assert isinstance(x, getattr(tb, name)) == isinstance(t, getattr(torch, name)), (name, dtype)
    x = tb.zeros(2)
    y = tb.FloatTensor(x)
    y.numpy()[0] = 5  # shares the memory, as torch's
    assert x.numpy()[0] == 5
    a = np.zeros(2, np.float32)
    z = tb.FloatTensor(a)
    a[1] = 3
    assert z.numpy()[1] == 3


@pytest.mark.parametrize("make", [
    lambda L: L.FloatTensor(2.5), lambda L: L.FloatTensor(L.zeros(2, dtype=L.float64)), lambda L: L.FloatTensor(-1),
    lambda L: L.FloatTensor([1, 2], [3]), lambda L: L.LongTensor(2, "a")])
def test_legacy_constructor_errors_as_torch(make):
    raises_alike(lambda: make(tb), lambda: make(torch), match="FloatTensor|LongTensor|negative|non-negative")


def test_variable_as_torch():
    t, x = torch.zeros(2), tb.zeros(2)
    v, w = torch.autograd.Variable(t, requires_grad=True), tb.autograd.Variable(x, requires_grad=True)
    assert (w is x) == (v is t) and w.requires_grad and not x.requires_grad and w.is_leaf
    x.numpy()[0] = 4
    assert w.detach().numpy()[0] == 4  # shares the memory
    a = tb.zeros(2, requires_grad=True) * 2
    assert tb.autograd.Variable(a).grad_fn is None and not tb.autograd.Variable(a).requires_grad
    assert isinstance(x, tb.autograd.Variable) and isinstance(t, torch.autograd.Variable)
    raises_alike(lambda: tb.autograd.Variable([1.0]), lambda: torch.autograd.Variable([1.0]), match="Variable data")
    raises_alike(lambda: tb.autograd.Variable(tb.zeros(2, dtype=tb.int64), requires_grad=True),
                 lambda: torch.autograd.Variable(torch.zeros(2, dtype=torch.int64), requires_grad=True),
                 match="floating point")
    from tinybptt.autograd import Variable
    assert Variable is tb.autograd.Variable


def test_is_floating_point_and_int_alias():
    for dtype in ("float32", "float64", "int64", "int32", "bool"):
        assert tb.is_floating_point(tb.zeros(1, dtype=getattr(tb, dtype))) == \
            torch.is_floating_point(torch.zeros(1, dtype=getattr(torch, dtype)))
    raises_alike(lambda: tb.is_floating_point([1.0]), lambda: torch.is_floating_point([1.0]),
                 match="is_floating_point.*must be Tensor")
    assert tb.int == np.int32 and str(torch.int) == "torch.int32"
    assert tb.zeros(2, dtype=tb.int).dtype == np.int32


# ---------------------------------------------------------------- testing.assert_close
def _pair(x):
    """The same input for torch: tensors become torch tensors, containers recursively."""
    if isinstance(x, tb.Tensor):
        return torch.tensor(x.detach().numpy(), requires_grad=x.requires_grad)
    if isinstance(x, list):
        return [_pair(v) for v in x]
    if isinstance(x, tuple):
        return tuple(_pair(v) for v in x)
    if isinstance(x, dict):
        return {k: _pair(v) for k, v in x.items()}
    return x


T, nan, inf = tb.tensor, math.nan, math.inf
CLOSE_CASES = [
    (T([1., 2., 3.]), T([1., 2.1, 3.]), {}),
    (T([1., 2., 3.]), T([1., 2., 3. + 1e-6]), {}),
    (T([1., 2., 3.]), T([1., 2., 3. + 5e-5]), {}),
    (T([[1., 2.], [3., 4]]), T([[1., 2.], [3., 5]]), {}),
    (T(1.), T(2.), {}),
    (T([1.]), T([2.]), {}),
    (T([1, 2]), T([1, 3]), {}),
    (T([1, 2]), T([1., 2.]), {}),
    (T([1, 2]), T([1., 2.]), dict(check_dtype=False)),
    (T([1, 2]), T([1., 2.0001]), dict(check_dtype=False)),
    (T([1., 2.]), T([1., 2., 3.]), {}),
    (T([1., nan]), T([1., nan]), {}),
    (T([1., nan]), T([1., nan]), dict(equal_nan=True)),
    (T([[1., nan]]), T([[2., 1.]]), {}),
    (T([1., inf]), T([1., inf]), {}),
    (T([1., inf]), T([1., -inf]), {}),
    (T([0., 1.]), T([1e-3, 1.]), {}),
    (T([0., 1.]), T([0., 0.]), {}),
    (T([1., 2.]), T([1., 2.5]), dict(rtol=0.5, atol=0.)),
    (T([1., 2.]), T([1., 3.]), dict(rtol=0, atol=0)),
    (T([1., 2.], dtype=tb.float64), T([1., 2. + 1e-7], dtype=tb.float64), {}),
    (T([1., 2.], dtype=tb.float64), T([1., 2. + 5e-7], dtype=tb.float64), {}),
    (T([1., 2.]), T([1., 3.], dtype=tb.float64), dict(check_dtype=False)),
    (T([1, 2], dtype=tb.int32), T([1, 2]), {}),
    (T([1, 2], dtype=tb.int32), T([1, 3]), dict(check_dtype=False)),
    (T([3], dtype=tb.uint8), T([5], dtype=tb.uint8), {}),
    (T([True, False]), T([True, True]), {}),
    (tb.zeros(0), tb.zeros(0), {}),
    (tb.zeros(2, 3), tb.zeros(3, 2), {}),
    (T([1., 2.], requires_grad=True), T([1., 2.]), {}),
    (1.0, 1.1, {}), (1.0, 1.0 + 1e-9, {}), (1, 1.0, {}), (1, 2, {}), (1, 1.0, dict(check_dtype=False)),
    (1, 1.5, dict(check_dtype=False)), (1.0, nan, {}), (nan, nan, dict(equal_nan=True)), (True, False, {}),
    (np.float32(1.0), np.float32(1.1), {}), (np.float64(1.0), 1.0, {}),
    ([1., 2.], [1., 2.5], {}), ([1., 2.], [1., 2., 3.], {}), ((1., 2.), [1., 2.], {}), ([[1., 2.]], [[1., 2.5]], {}),
    ([T(1.), T(2.)], [T(1.), T(2.5)], {}), ({"a": T(1.)}, {"a": T(2.)}, {}), ({"a": 1}, {"b": 1}, {}), ((), (), {}),
    (np.array([1., 2.]), np.array([1., 2.5]), {}), (np.array([1, 2]), np.array([1, 3]), {}),
    (np.array(1.), np.array(2.), {}),
    (T([1., 2.]), T([1., 2.5]), dict(msg="custom")),
    ([1., 2.], [1., 2.5], dict(msg="custom")),
    ([1., 2.], [1., 2.5], dict(msg=lambda m: "X" + m)),
    (np.array([1., 2.]), T([1., 2.], dtype=tb.float64), {}),
    (T([1., 2.]), [1., 2.], {}), (T(1.), 1., {}), ("a", "a", {}),
    (T([1., 2.]), T([1., 2.5]), dict(rtol=0.5)),
    (T([1., 2.]), T([1., 2.]), dict(atol=1.)),
]


@pytest.mark.parametrize("actual, expected, kwargs", CLOSE_CASES)
def test_assert_close_as_torch(actual, expected, kwargs):
    """Pass where torch passes; else the same exception type and message (torch's module name swapped)."""
    def outcome(f, *args):
        try:
            f(*args, **kwargs)
            return None
        except Exception as e:
            return type(e), str(e)
    ours = outcome(tb.testing.assert_close, actual, expected)
    theirs = outcome(torch.testing.assert_close, _pair(actual), _pair(expected))
    if theirs is None or ours is None:
        assert ours == theirs
        return
    assert ours[0] is theirs[0]
    assert ours[1] == theirs[1].replace("torch.", "tinybptt.").replace("<class 'tinybptt.Tensor'>",
                                                                       "<class 'tinybptt.tensor.Tensor'>")


def test_assert_close_default_tolerances_per_dtype():
    """float32: rtol 1.3e-6 / atol 1e-5, float64: 1e-7 / 1e-7, integers exact: at and just past the edge."""
    for dtype, (rtol, atol) in ((np.float32, (1.3e-6, 1e-5)), (np.float64, (1e-7, 1e-7))):
        e = np.array([0.0, 1.0, 100.0], dtype)
        inside = (e + (atol + rtol * np.abs(e)) * 0.9).astype(dtype)
        outside = (e + (atol + rtol * np.abs(e)) * 1.5).astype(dtype)
        tb.testing.assert_close(tb.tensor(inside), tb.tensor(e))
        torch.testing.assert_close(torch.tensor(inside), torch.tensor(e))
        with pytest.raises(AssertionError, match="Mismatched elements: 3 / 3"):
            tb.testing.assert_close(tb.tensor(outside), tb.tensor(e))
    with pytest.raises(AssertionError, match="not equal"):
        tb.testing.assert_close(tb.tensor([10 ** 9]), tb.tensor([10 ** 9 + 1]))


def test_assert_close_signature_and_tolerance_pairing():
    ours = signature(tb.testing.assert_close)
    assert [p[:2] for p in ours] == [p[:2] for p in signature(torch.testing.assert_close)]
    raises_alike(lambda: tb.testing.assert_close(T([1.]), T([1.]), rtol=1e-3),
                 lambda: torch.testing.assert_close(torch.tensor([1.]), torch.tensor([1.]), rtol=1e-3),
                 match="Both 'rtol' and 'atol'")


# ---------------------------------------------------------------- compile and matmul precision
def test_compile_returns_the_model_unchanged():
    model = tb.nn.Linear(3, 2)
    assert tb.compile(model) is model
    assert tb.compile(model, fullgraph=True, dynamic=False, backend="eager", mode=None) is model

    def f(x):
        return x * 2
    assert tb.compile(f) is f

    @tb.compile
    def g(x):
        return x + 1

    @tb.compile(fullgraph=True, mode="max-autotune")
    def h(x):
        return x - 1
    assert g(1) == 2 and h(1) == 0 and g.__name__ == "g" and h.__name__ == "h"
    assert tb.compile(f, disable=True) is f
    assert [p[:2] for p in signature(tb.compile)] == [p[:2] for p in signature(torch.compile)]


@pytest.mark.parametrize("kwargs", [dict(mode="bad"), dict(mode="default", options={}), dict(backend="nonexistent")])
def test_compile_bad_arguments_as_torch(kwargs):
    """RuntimeError as torch (whose bad-backend error is its RuntimeError subclass InvalidBackend)."""
    with pytest.raises(RuntimeError):
        torch.compile(torch.nn.Linear(2, 2), **kwargs)
    with pytest.raises(RuntimeError, match="compile.*(mode|backend)"):
        tb.compile(tb.nn.Linear(2, 2), **kwargs)


def test_compile_needs_a_callable():
    raises_alike(lambda: tb.compile(3), lambda: torch.compile(3), match="callable")


def test_float32_matmul_precision_as_torch():
    assert tb.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == "highest"
    for p in ("high", "medium", "highest"):
        tb.set_float32_matmul_precision(p)
        torch.set_float32_matmul_precision(p)
        assert tb.get_float32_matmul_precision() == torch.get_float32_matmul_precision() == p
    tb.set_float32_matmul_precision("medium")
    with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
        tb.set_float32_matmul_precision("bad")
    assert tb.get_float32_matmul_precision() == "medium"  # unchanged, as torch's
    raises_alike(lambda: tb.set_float32_matmul_precision(3), lambda: torch.set_float32_matmul_precision(3),
                 match="set_float32_matmul_precision expects a str")


# ---------------------------------------------------------------- special
ALIASES = ["expit", "logit", "erf", "erfc", "erfinv", "gammaln", "digamma", "psi", "log1p", "expm1", "exp2", "sinc",
           "entr", "ndtr", "ndtri", "log_ndtr"]


def _domain(name, dtype):
    """Inputs inside each function's domain, edges and a few outside."""
    if name in ("logit", "erfinv", "ndtri"):
        x = np.array([0.01, 0.2, 0.5, 0.77, 0.99, 0.0, 1.0]) * (2 if name == "erfinv" else 1) - (
            1 if name == "erfinv" else 0)
    elif name in ("gammaln", "digamma", "psi"):
        x = np.array([0.1, 0.5, 1.0, 2.5, 7.3, -0.5, -2.5, 30.0])
    elif name == "entr":
        x = np.array([0.0, 1e-300 if dtype == np.float64 else 1e-30, 0.3, 1.0, 2.5, -1.0, np.nan])
    elif name == "log_ndtr":
        x = np.array([-100, -40, -38.5, -30, -21, -20, -19, -8, -1.5, 0, 0.5, 3, 8, 10, 40, 1e3])
    else:
        x = np.array([-3.0, -1.2, -0.3, 0.0, 0.4, 1.0, 2.7])
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ALIASES)
def test_special_values_and_gradients_as_torch(name, dtype):
    x = _domain(name, dtype)
    tol = dict(rtol=1e-12, atol=1e-300) if dtype == np.float64 else dict(rtol=3e-6, atol=1e-30)
    ours, theirs = getattr(tb.special, name), getattr(torch.special, name)
    a, t = tb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yt = ours(a), theirs(t)
    assert_close(ya, yt, dtype, **tol)
    up = np.linspace(0.5, 1.5, x.size).astype(dtype)
    ya.backward(tb.tensor(up))
    yt.backward(torch.tensor(up))
    grad_tol = dict(tol)
    if name in ("digamma", "psi") and dtype == np.float64:
        grad_tol["rtol"] = 2e-9  # the gradient is trigamma, which _special_functions computes to about 1e-9
    if name == "log_ndtr" and dtype == np.float32:
        grad_tol["rtol"] = 5e-4  # torch's float32 phi/Phi in the far tail is off by ~2e-4; ours is computed in float64
        t64 = torch.tensor(x.astype(np.float64), requires_grad=True)
        torch.special.log_ndtr(t64).backward(torch.tensor(up.astype(np.float64)))
        np.testing.assert_allclose(a.grad.numpy(), t64.grad.numpy(), rtol=2e-6)  # against torch in float64
    assert_close(a.grad, t.grad, dtype, **grad_tol)


@pytest.mark.parametrize("name", ["entr", "log_ndtr", "ndtr", "ndtri"])
def test_special_new_functions_gradcheck(name, rng):
    x = rng.uniform(0.1, 0.9, 6) if name in ("entr", "ndtri") else rng.uniform(-30, 5, 6)
    assert tb.gradcheck(getattr(tb.special, name), (tb.tensor(x, requires_grad=True),))


def test_special_reductions_and_two_argument_forms_as_torch(rng):
    x = rng.standard_normal((3, 4))
    for dim in (0, 1, -1):
        check(lambda a: tb.special.softmax(a, dim), lambda t: torch.special.softmax(t, dim), [x])
        check(lambda a: tb.special.log_softmax(a, dim), lambda t: torch.special.log_softmax(t, dim), [x])
        check(lambda a: tb.special.logsumexp(a, dim, keepdim=True),
              lambda t: torch.special.logsumexp(t, dim, keepdim=True), [x])
    check(lambda a: tb.special.softmax(a, 1, dtype=tb.float32), lambda t: torch.special.softmax(t, 1, dtype=torch.float32),
          [x], dtype=np.float32)
    y = np.abs(rng.standard_normal((3, 4))) + 0.1
    x[0, 0] = 0.0
    check(tb.special.xlogy, torch.special.xlogy, [x, y])
    p = rng.uniform(0.01, 0.99, 5)
    check(lambda a: tb.special.logit(a, eps=0.05), lambda t: torch.special.logit(t, eps=0.05), [p])
    check(lambda a: tb.special.multigammaln(a, 3), lambda t: torch.special.multigammaln(t, 3), [p + 1.5])
    check(tb.special.round, torch.special.round, [x * 3], grads=[False])
    raises_alike(lambda: tb.special.multigammaln(tb.tensor([2.5]), 0),
                 lambda: torch.special.multigammaln(torch.tensor([2.5]), 0), match="p has to be greater")


def test_special_integer_input_gives_float32():
    x = [0, 1, 2]
    for name in ("entr", "ndtr", "log_ndtr", "expit", "erf"):
        ours = getattr(tb.special, name)(tb.tensor(x))
        theirs = getattr(torch.special, name)(torch.tensor(x))
        assert ours.dtype == np.float32 and theirs.dtype == torch.float32, name
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=3e-6)


def test_special_functions_module_moved():
    import tinybptt._special_functions as sf
    assert sf.erfc(np.array([0.5])).dtype == np.float64 and tb.special.erfc is tb.erfc
    assert tb.special.psi is tb.special.digamma and tb.special.gammaln is tb.lgamma and tb.special.expit is tb.sigmoid


# ---------------------------------------------------------------- set_printoptions
def _print_cases(L):
    """Tensors whose reprs are compared with torch's (float64 ones short enough that the longer dtype name
    'tinybptt.float64' wraps as 'torch.float64' does)."""
    a = np.ones(20, np.float32)
    a[10] = 1e-7
    return [L.tensor([1.23456, 2.5]), L.tensor([1e-6, 1.]), L.tensor([1., 2.]), L.tensor([1e-6, 1e9]),
            L.tensor([1., 1e9]), L.arange(10.), L.arange(20.).reshape(4, 5), L.arange(2000.), L.arange(10),
            L.tensor([True, False] * 5), L.tensor(a), L.arange(1200.), L.tensor([nan, 1e-5, inf]), L.tensor(3.5),
            L.tensor([1 / 3, 1e5 / 3], dtype=L.float64), L.zeros(2, 0), L.arange(30.).reshape(2, 3, 5)]


PRINT_SETTINGS = [dict(precision=2), dict(sci_mode=True), dict(sci_mode=False), dict(precision=6, sci_mode=False),
                  dict(threshold=5, edgeitems=1), dict(threshold=5, edgeitems=2), dict(profile="short"),
                  dict(profile="full"), dict(profile="default"), dict(profile="default", linewidth=30),
                  dict(profile="short", precision=3), dict(linewidth=120, threshold=20)]


@pytest.mark.parametrize("options", PRINT_SETTINGS)
def test_set_printoptions_reprs_as_torch(options):
    tb.set_printoptions(**options)
    torch.set_printoptions(**options)
    for ours, theirs in zip(_print_cases(tb), _print_cases(torch)):
        assert repr(ours) == repr(theirs).replace("torch.", "tinybptt."), options


def test_set_printoptions_keeps_options_between_calls_as_torch():
    """Options persist until changed, except sci_mode, which every call resets; an unknown profile is ignored."""
    calls = [dict(sci_mode=True), dict(precision=3), dict(profile="bad"), dict(threshold=4), dict(edgeitems=1)]
    for kwargs in calls:
        tb.set_printoptions(**kwargs)
        torch.set_printoptions(**kwargs)
        for ours, theirs in zip(_print_cases(tb), _print_cases(torch)):
            assert repr(ours) == repr(theirs).replace("torch.", "tinybptt."), kwargs
    assert signature(tb.set_printoptions) == signature(torch.set_printoptions)


@pytest.mark.parametrize("options", PRINT_SETTINGS[:2] + PRINT_SETTINGS[6:])
@pytest.mark.parametrize("dtype", ["float64", "int32"])
def test_tensor_layout_and_suffix_wrapping_as_torch(options, dtype, rng):
    """printing.tensor_repr given torch's own suffix strings lays out as torch (lines, '...', suffix wrapping)."""
    from tinybptt import printing
    tb.set_printoptions(**options)
    torch.set_printoptions(**options)
    for shape in [(10,), (11,), (3, 9), (40, 40), (2, 3, 4), (1100,), (5, 30), (7,)]:
        x = (rng.standard_normal(shape) * 10).astype(dtype)
        for t in (torch.tensor(x), torch.tensor(x, requires_grad=True) if dtype == "float64" else torch.tensor(x)):
            suffixes = [f"dtype={t.dtype}"] + (["requires_grad=True"] if t.requires_grad else [])
            assert printing.tensor_repr(x, suffixes) == repr(t), (shape, options)


def test_default_reprs_unchanged_after_reset():
    tb.set_printoptions(precision=1, threshold=3, linewidth=20)
    tb.set_printoptions(profile="default")
    assert repr(tb.tensor([1.23456, 2.5])) == "tensor([1.2346, 2.5000])"


# ---------------------------------------------------------------- import cost and a boilerplate script
def test_import_stays_light():
    code = "import sys, tinybptt; assert 'numba' not in sys.modules; assert 'torch' not in sys.modules; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tb.__path__[0] + "/..")
    assert out.stdout.strip() == "ok", out.stderr


def _boilerplate_step(L, weights):
    """A typical script's preamble, then one LSTM training step; returns the loss and the gradients."""
    import random
    random.seed(0)
    L.manual_seed(0)
    L.backends.cudnn.deterministic = True
    L.backends.cudnn.benchmark = False
    L.use_deterministic_algorithms(True)
    L.set_num_threads(1)
    L.set_float32_matmul_precision("high")
    device = "cuda" if L.cuda.is_available() else "mps" if L.backends.mps.is_available() else "cpu"
    lstm = L.nn.LSTM(3, 4, batch_first=True).to(device)
    lstm.load_state_dict({k: L.tensor(v) for k, v in weights.items()})
    model = L.compile(lstm)
    opt = L.optim.SGD(model.parameters(), lr=0.1)
    x = L.autograd.Variable(L.FloatTensor(np.linspace(-1, 1, 30).reshape(2, 5, 3)))
    target = L.FloatTensor(np.linspace(0, 1, 40).reshape(2, 5, 4))
    out, _ = model(x)
    loss = ((out - target) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss, {k: v.detach().numpy().copy() for k, v in lstm.state_dict().items()}


def test_boilerplate_block_then_lstm_step_as_torch():
    weights = {k: v.detach().numpy().copy() for k, v in torch.nn.LSTM(3, 4, batch_first=True).state_dict().items()}
    loss, state = _boilerplate_step(tb, weights)
    tloss, tstate = _boilerplate_step(torch, weights)
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-5)
    for k in tstate:
        np.testing.assert_allclose(state[k], tstate[k], rtol=1e-5, atol=1e-6, err_msg=k)
    tb.testing.assert_close(tb.tensor(state["weight_hh_l0"]), tb.tensor(tstate["weight_hh_l0"]), rtol=1e-5, atol=1e-6)
    assert tb.get_num_threads() == 1 and tb.are_deterministic_algorithms_enabled()


# ---------------------------------------------------------------- DLPack: tensors cross between the libraries
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
def test_dlpack_both_ways_share_memory(dtype):
    ours = tb.from_numpy(np.arange(6).reshape(2, 3).astype(dtype))
    theirs = torch.from_dlpack(ours)
    assert str(theirs.dtype) == f"torch.{dtype}" and tuple(theirs.shape) == (2, 3)
    np.testing.assert_array_equal(theirs.numpy(), ours.numpy())
    back = tb.from_dlpack(theirs)
    assert back.dtype == ours.dtype and back.shape == (2, 3)
    if dtype != "bool":
        theirs[0, 0] = 5  # one memory for all three
        assert ours[0, 0].item() == 5 and back[0, 0].item() == 5
    np.testing.assert_array_equal(torch.tensor(ours).numpy(), ours.numpy())  # torch.tensor copies
    assert torch.tensor(tb.tensor(2.5)).item() == 2.5 and torch.tensor(tb.tensor(2.5)).dim() == 0


def test_dlpack_refuses_a_tensor_that_requires_grad_as_torch():
    with pytest.raises(BufferError, match="require gradient"):
        torch.zeros(2, requires_grad=True).__dlpack__()
    with pytest.raises(BufferError, match="require gradient"):
        torch.from_dlpack(tb.zeros(2, requires_grad=True))
    with pytest.raises(BufferError, match="require gradient"):
        tb.from_dlpack(torch.zeros(2, requires_grad=True))
    assert torch.from_dlpack(tb.zeros(2, requires_grad=True).detach()).shape == (2,)
