"""tinybptt.testing.assert_close: torch.testing.assert_close for tinybptt tensors, numpy arrays,
Python numbers and (nested) sequences or mappings of them.

Two values are close when ``|actual - expected| <= atol + rtol * |expected|`` elementwise (infinities
must match exactly; NaNs only with ``equal_nan``).  Without ``rtol``/``atol`` the tolerances follow the
dtype as in torch: float16 (1e-3, 1e-5), float32 (1.3e-6, 1e-5), float64 and Python floats
(1e-7, 1e-7), integers and bools exact.  Failures raise AssertionError with torch's messages.
"""
import collections.abc
import numbers

import numpy as np

from .tensor import Tensor, default_float

_TOLERANCES = {np.dtype(np.float16): (1e-3, 1e-5), np.dtype(np.float32): (1.3e-6, 1e-5),
               np.dtype(np.float64): (1e-7, 1e-7)}


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None, equal_nan=False, check_device=True,
                 check_dtype=True, check_layout=True, check_stride=False, msg=None):
    """Raise AssertionError unless ``actual`` and ``expected`` are close (see the module docstring).

    Tensors are compared with tensors, numpy arrays with arrays, numbers with numbers (a mix is a
    TypeError, as in torch); sequences and mappings item by item.  Shapes must match, dtypes too when
    ``check_dtype`` (else both are promoted to a common dtype and the looser default tolerances apply).
    ``msg`` (a string, or a callable given the generated message) replaces the message.  Device,
    layout and stride checks have nothing to check here: every tensor is a dense CPU array.
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
                         f"{'rtol' if rtol is None else 'atol'}.")
    error = _compare(actual, expected, (), rtol, atol, equal_nan, check_dtype, allow_subclasses)
    if error is not None:
        raise AssertionError(msg(error) if callable(msg) else msg if msg is not None else error)


def _compare(actual, expected, path, rtol, atol, equal_nan, check_dtype, allow_subclasses):
    """The failure message for one pair (with the item path appended), or None when they are close."""
    if not allow_subclasses and type(actual) is not type(expected):
        _no_pair(actual, expected)
    if isinstance(actual, (Tensor, np.ndarray)) or isinstance(expected, (Tensor, np.ndarray)):
        if not (isinstance(actual, Tensor) and isinstance(expected, Tensor)
                or isinstance(actual, np.ndarray) and isinstance(expected, np.ndarray)):
            _no_pair(actual, expected)
        error = _compare_arrays(np.asarray(actual), np.asarray(expected), rtol, atol, equal_nan, check_dtype)
    elif isinstance(actual, (bool, np.bool_)) or isinstance(expected, (bool, np.bool_)):
        if not (isinstance(actual, (bool, np.bool_)) and isinstance(expected, (bool, np.bool_))):
            _no_pair(actual, expected)
        error = None if bool(actual) == bool(expected) else f"Booleans mismatch: {actual} is not {expected}"
    elif isinstance(actual, numbers.Number) and isinstance(expected, numbers.Number):
        error = _compare_numbers(actual, expected, rtol, atol, equal_nan, check_dtype)
    elif isinstance(actual, collections.abc.Mapping) and isinstance(expected, collections.abc.Mapping):
        missing, extra = sorted(set(expected) - set(actual), key=str), sorted(set(actual) - set(expected), key=str)
        if missing or extra:
            return (f"The keys of the mappings do not match:\nMissing keys in the actual mapping: {missing}\n"
                    f"Additional keys in the actual mapping: {extra}")
        return _first_failure(((k, actual[k], expected[k]) for k in expected), path, rtol, atol, equal_nan,
                              check_dtype, allow_subclasses)
    elif _is_sequence(actual) and _is_sequence(expected):
        if len(actual) != len(expected):
            return f"The length of the sequences mismatch: {len(actual)} != {len(expected)}"
        return _first_failure(((i, a, e) for i, (a, e) in enumerate(zip(actual, expected))), path, rtol, atol,
                              equal_nan, check_dtype, allow_subclasses)
    else:
        _no_pair(actual, expected)
    if error is not None and path:
        error += f"\n\nThe failure occurred for item {''.join(f'[{k!r}]' for k in path)}"
    return error


def _first_failure(items, path, *args):
    for key, a, e in items:
        error = _compare(a, e, path + (key,), *args)
        if error is not None:
            return error
    return None


def _is_sequence(x):
    return isinstance(x, collections.abc.Sequence) and not isinstance(x, (str, bytes))


def _no_pair(actual, expected):
    raise TypeError(f"No comparison pair was able to handle inputs of type {type(actual)} and {type(expected)}.")


def _tolerances(dtypes, rtol, atol):
    """The given tolerances, or the loosest defaults of the dtypes compared."""
    if rtol is not None:
        return rtol, atol
    defaults = [_TOLERANCES.get(d, (0.0, 0.0)) for d in dtypes]
    return max(r for r, _ in defaults), max(a for _, a in defaults)


def _common_dtype(a, b):
    """torch's promotion of two dtypes: a float dtype wins over ints and bools, else numpy's rule."""
    if (a.kind == "f") != (b.kind == "f"):
        return a if a.kind == "f" else b
    return np.result_type(a, b)


def _compare_arrays(actual, expected, rtol, atol, equal_nan, check_dtype):
    if actual.shape != expected.shape:
        return (f"The values for attribute 'shape' do not match: tinybptt.Size({list(actual.shape)}) != "
                f"tinybptt.Size({list(expected.shape)}).")
    if check_dtype and actual.dtype != expected.dtype:
        return (f"The values for attribute 'dtype' do not match: tinybptt.{actual.dtype} != "
                f"tinybptt.{expected.dtype}.")
    rtol, atol = _tolerances((actual.dtype, expected.dtype), rtol, atol)
    dtype = _common_dtype(actual.dtype, expected.dtype)
    if dtype.kind != "f":  # differences of integers and bools, without overflow
        dtype = np.dtype(np.int64)
    a, e = actual.astype(dtype).reshape(-1), expected.astype(dtype).reshape(-1)  # 1-d: 0-d gives numpy scalars
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        matches = (a == e) | (np.isfinite(abs_diff) & (abs_diff <= atol + rtol * np.abs(e)))
        if equal_nan:
            matches |= np.isnan(a) & np.isnan(e)
        if matches.all():
            return None
        real = dtype if dtype.kind == "f" else default_float()  # integer differences relative in the default dtype
        rel_diff = abs_diff.astype(real) / np.abs(e).astype(real)
    abs_diff[matches], rel_diff[matches] = 0, 0
    if actual.ndim == 0:  # as torch: a 0-d pair is reported as Python numbers
        x, y = actual.item(), expected.item()
        return _scalar_message(x, y, abs(x - y), _relative(abs(x - y), y), rtol, atol)
    total, mismatched = matches.size, matches.size - int(matches.sum())
    i, j = int(np.argmax(abs_diff)), int(np.argmax(rel_diff))  # the first NaN, if any, as torch.max
    return _message("Tensor-likes", f"Mismatched elements: {mismatched} / {total} ({mismatched / total:.1%})\n",
                    f"Greatest absolute difference: {abs_diff[i].item()} at index {_index(i, actual.shape)}",
                    f"Greatest relative difference: {rel_diff[j].item()} at index {_index(j, actual.shape)}",
                    rtol, atol)


def _index(flat, shape):
    return tuple(int(k) for k in np.unravel_index(flat, shape))


def _python_type(x):
    return int if isinstance(x, numbers.Integral) else float if isinstance(x, numbers.Real) else complex


def _compare_numbers(actual, expected, rtol, atol, equal_nan, check_dtype):
    types = _python_type(actual), _python_type(expected)
    if check_dtype and types[0] is not types[1]:
        return f"The (d)types do not match: {types[0]} != {types[1]}."
    if rtol is None:
        rtol, atol = (0.0, 0.0) if types == (int, int) else (1e-7, 1e-7)
    actual, expected = types[0](actual), types[1](expected)
    abs_diff = abs(actual - expected)
    if abs_diff <= atol + rtol * abs(expected) or actual == expected:
        return None
    if equal_nan and actual != actual and expected != expected:
        return None
    return _scalar_message(actual, expected, abs_diff, _relative(abs_diff, expected), rtol, atol)


def _relative(abs_diff, expected):
    """abs_diff / |expected| for Python numbers, inf (or NaN for 0 / 0) where expected is 0."""
    if expected != 0:
        return abs_diff / abs(expected)
    return float("inf") if abs_diff > 0 else float("nan")


def _scalar_message(actual, expected, abs_diff, rel_diff, rtol, atol):
    return _message("Scalars", f"Expected {expected} but got {actual}.\n", f"Absolute difference: {abs_diff}",
                    f"Relative difference: {rel_diff}", rtol, atol)


def _message(what, detail, abs_line, rel_line, rtol, atol):
    """torch's layout: a headline, the detail, then both differences with the allowed ones."""
    exact = rtol == 0 and atol == 0
    if not exact:
        abs_line, rel_line = f"{abs_line} (up to {atol} allowed)", f"{rel_line} (up to {rtol} allowed)"
    return f"{what} are not {'equal' if exact else 'close'}!\n\n{detail}{abs_line}\n{rel_line}"
