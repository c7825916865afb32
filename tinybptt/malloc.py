"""Keep freed array memory for reuse instead of handing it back to the OS after every step.

A training step allocates and frees the same few megabyte-sized arrays each time
(input projections, gate activations, gradients).  With glibc's defaults those go
back to the OS when freed and come back as fresh pages on the next step, and
touching a fresh page costs a page fault: on the 2-core VMs we benchmark on,
about 4,000 faults (11 ms) per step of the LSTM benchmark, a fifth of the step.
Raising two malloc thresholds lets the heap reuse that memory (0 faults per step):

* M_MMAP_THRESHOLD: blocks up to 16 MiB come from the heap, not from their own mmap;
* M_TRIM_THRESHOLD: up to 128 MiB of free heap is kept rather than returned.

So a process keeps up to 128 MiB more resident memory than it would otherwise.
Nothing is changed when the C library has no ``mallopt`` (not glibc), when the
user tunes malloc through the environment (``GLIBC_TUNABLES``, ``MALLOC_*``), or
when ``TINYBPTT_MALLOC=0``.
"""
import ctypes
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers from glibc's malloc.h
MMAP_THRESHOLD, TRIM_THRESHOLD = 16 << 20, 128 << 20


def keep_freed_memory():
    """Raise glibc's mmap and trim thresholds (see the module docstring); True when applied."""
    if os.environ.get("TINYBPTT_MALLOC") == "0" or "GLIBC_TUNABLES" in os.environ \
            or any(k.startswith("MALLOC_") for k in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
