"""torch.set_num_threads / get_num_threads on numpy: the thread count of numpy's OpenBLAS.

tinybptt's multi-threaded work is numpy's BLAS (matrix products); its numba kernels run on one thread.
So the intra-op thread count is OpenBLAS's, set through the library numpy ships (numpy 2.x bundles
``scipy_openblas`` whose exported names carry a prefix and suffix, e.g.
``scipy_openblas_set_num_threads64_``) and found with ctypes.  When numba is already imported its
thread count is set too (never importing it here).  The inter-op count is only stored: tinybptt runs
no parallel operators.
"""
import ctypes
import numbers
import os
import sys

import numpy as np

_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "_64_", "")
_blas = []  # [(set, get, path)] or [None], found on first use
_interop = [1]
_fallback = [os.cpu_count() or 1]  # the count reported when no OpenBLAS library was found


def _find(lib, name):
    """The first exported ``<prefix>name<suffix>`` of ``lib``, or None."""
    for prefix in _PREFIXES:
        for suffix in _SUFFIXES:
            f = getattr(lib, prefix + name + suffix, None)
            if f is not None:
                return f
    return None


def _openblas():
    """(set_num_threads, get_num_threads, library path) of the OpenBLAS numpy loaded, or None when there is none."""
    if not _blas:
        here = os.path.dirname(np.__file__)
        folders = (os.path.join(os.path.dirname(here), "numpy.libs"), os.path.join(here, ".dylibs"))  # Linux, macOS
        paths = [os.path.join(f, name) for f in folders if os.path.isdir(f) for name in sorted(os.listdir(f))
                 if "openblas" in name]
        found = None
        for path in paths:
            try:
                lib = ctypes.CDLL(path)  # the same handle numpy's extension modules use
            except OSError:
                continue
            set_, get = _find(lib, "set_num_threads"), _find(lib, "get_num_threads")
            if set_ is not None and get is not None:
                set_.argtypes, set_.restype, get.restype = [ctypes.c_int], None, ctypes.c_int
                found = (set_, get, path)
                break
        _blas.append(found)
    return _blas[0]


def _check_count(name, n):
    """torch's checks: an integer (Python's or numpy's; not a bool) that is at least 1; returns it as an int."""
    if not isinstance(n, numbers.Integral) or isinstance(n, (bool, np.bool_)):
        raise RuntimeError(f"{name} expects an int, but got {type(n).__name__}")
    if n < 1:
        raise RuntimeError(f"{name} expects a positive integer")
    return int(n)


def set_num_threads(n):
    """Set the number of threads for intra-op parallelism: numpy's OpenBLAS thread count (and numba's,
    capped at its pool size, if numba is already imported).  RuntimeError unless ``n`` is an int >= 1."""
    n = _check_count("set_num_threads", n)
    blas = _openblas()
    if blas is not None:
        blas[0](n)
    else:
        _fallback[0] = n
    numba = sys.modules.get("numba")
    if numba is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_threads():
    """The number of threads used for intra-op parallelism (numpy's OpenBLAS thread count)."""
    blas = _openblas()
    return blas[1]() if blas is not None else _fallback[0]


def set_num_interop_threads(n):
    """Store the number of inter-op threads (tinybptt runs operators one at a time, so it changes nothing).
    RuntimeError unless ``n`` is an int >= 1."""
    n = _check_count("set_num_interop_threads", n)
    _interop[0] = n


def get_num_interop_threads():
    """The number stored by ``set_num_interop_threads`` (1 by default: one operator runs at a time)."""
    return _interop[0]
