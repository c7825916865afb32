"""Helpers shared by the parity tests against torch: run a function on tinybptt and on torch and compare
values and gradients, compare exceptions, move state_dicts between the two libraries."""
import numpy as np
import pytest
import torch

import tinybptt as tb

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=5e-5, atol=5e-6)}


def numpy_of(x):
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def assert_close(ours, theirs, dtype=np.float64, what="value", **tol):
    """Same shape, same dtype and close values (NaN where torch has NaN)."""
    a, b = numpy_of(ours), numpy_of(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch's {b.shape}"
    assert str(a.dtype) == str(b.dtype).replace("torch.", ""), f"{what}: dtype {a.dtype} vs torch's {b.dtype}"
    np.testing.assert_allclose(a, b, err_msg=what, equal_nan=True, **(tol or TOL[dtype]))


def check(ours, theirs, arrays, dtype=np.float64, grads=None, seed=0, **tol):
    """ours(*tinybptt tensors) against theirs(*torch tensors) on ``arrays``: the output's value, shape and dtype,
    and the gradient of every floating array (or those ``grads`` marks True) after one backward with the same
    random upstream gradient.  Non-array arguments are passed as they are.  Returns both sets of leaves."""
    grads = [isinstance(x, np.ndarray) and x.dtype.kind == "f" for x in arrays] if grads is None else grads
    ours_in = [tb.tensor(x, requires_grad=g) if isinstance(x, np.ndarray) else x for x, g in zip(arrays, grads)]
    theirs_in = [torch.tensor(x, requires_grad=g) if isinstance(x, np.ndarray) else x for x, g in zip(arrays, grads)]
    ya, yt = ours(*ours_in), theirs(*theirs_in)
    assert_close(ya, yt, dtype, "forward", **tol)
    if yt.requires_grad:
        up = np.random.default_rng(seed).uniform(0.5, 1.5, tuple(yt.shape)).astype(numpy_of(yt).dtype)
        ya.backward(tb.tensor(up))
        yt.backward(torch.tensor(up))
        for i, (a, t, g) in enumerate(zip(ours_in, theirs_in, grads)):
            if g and t.grad is None:  # torch gives this argument no gradient (say a target used in a mask)
                assert a.grad is None or not a.grad.numpy().any(), f"gradient of argument {i}, torch has none"
            elif g:
                assert a.grad is not None, f"no gradient for argument {i}"
                assert_close(a.grad, t.grad, dtype, f"gradient of argument {i}", **tol)
    return ours_in, theirs_in


def close(ours, theirs, tol=1e-12):
    """``assert_close`` with one tolerance, relative and absolute."""
    assert_close(ours, theirs, rtol=tol, atol=tol)


def raises_alike(ours, theirs, match=None):
    """``ours()`` raises the exception type ``theirs()`` raises, with a message matching ``match``; returns
    both exceptions."""
    with pytest.raises(Exception) as their_error:
        theirs()
    with pytest.raises(type(their_error.value), match=match) as our_error:
        ours()
    return our_error.value, their_error.value


def same_error(bad, match=None):
    """``bad(L, T)`` raises with L, T = torch.nn, torch and with tinybptt.nn, tinybptt: the same exception type,
    and our message matches ``match`` (the op's name, usually)."""
    return raises_alike(lambda: bad(tb.nn, tb), lambda: bad(torch.nn, torch), match)


def to_ours(tm):
    """A torch module's state_dict as numpy arrays, for our ``load_state_dict``."""
    return {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}


def to_torch(m):
    """Our module's state_dict as torch tensors, for torch's ``load_state_dict``."""
    return {k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()}


def signature(fn):
    """(name, default) of each parameter, for comparing signatures with torch's."""
    import inspect
    return [(p.name, p.default, p.kind) for p in inspect.signature(fn).parameters.values()]
