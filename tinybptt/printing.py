"""tinybptt.set_printoptions: how ``Tensor.__repr__`` prints, with torch's options and profiles."""
import math

import numpy as np

_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}
OPTIONS = dict(_PROFILES["default"], sci_mode=None)  # read by Tensor.__repr__


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """Set how tensors print, as torch.set_printoptions.

    precision: digits after the point of floats (4); threshold: more elements than this are summarised
    with '...' (1000); edgeitems: elements kept at each end of a summarised dimension (3); linewidth:
    characters per line (80); profile: 'default', 'short' (precision 2, edgeitems 2) or 'full' (never
    summarise) sets all four first (another name is ignored, as torch does); sci_mode: True or False
    forces or forbids scientific notation, None (also what every call without it sets) chooses as torch.
    """
    if profile in _PROFILES:
        OPTIONS.update(_PROFILES[profile])
    given = dict(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth)
    OPTIONS.update({k: v for k, v in given.items() if v is not None})
    OPTIONS["sci_mode"] = sci_mode


def summarized(a):
    """The elements a summarised print shows (the first and last ``edgeitems`` of every long dimension):
    torch picks the number format from these only."""
    if a.size <= OPTIONS["threshold"]:
        return a
    k = OPTIONS["edgeitems"]
    for axis, n in enumerate(a.shape):
        if n > 2 * k:
            a = np.concatenate([a.take(range(k), axis), a.take(range(n - k, n), axis)], axis)
    return a


def _float_formatter(a):
    """Format floats as torch prints them (from the elements shown, ``a``): '2.' when all are whole numbers,
    else ``precision`` decimals, or scientific notation when the nonzero magnitudes span over 1000x or leave
    [1e-4, 1e8] (whole numbers: over 1000x or above 1e8); ``sci_mode`` True / False forces / forbids it.
    Right-aligned to the widest finite nonzero element (zeros, NaN and infinities are not measured, as
    torch)."""
    precision, sci_mode = OPTIONS["precision"], OPTIONS["sci_mode"]
    measured = a[np.isfinite(a) & (a != 0)]
    nonzero = np.abs(measured).astype(np.float64)
    if not nonzero.size:
        return lambda x: f"{x:.0f}." if np.isfinite(x) else str(x)
    whole = np.all(nonzero == np.ceil(nonzero))
    spread = nonzero.max() / nonzero.min() > 1000 or nonzero.max() > 1e8
    sci = (spread or (not whole and nonzero.min() < 1e-4)) if sci_mode is None else sci_mode
    if sci:
        fmt = f"{{:.{precision}e}}".format
    elif whole:
        def fmt(x): return f"{x:.0f}."
    else:
        fmt = f"{{:.{precision}f}}".format

    def show(x):
        return fmt(x) if np.isfinite(x) else str(x)  # 'nan', 'inf', '-inf'
    width = max(len(fmt(x)) for x in measured.tolist())
    return lambda x: show(x).rjust(width)


def _formatter(a):
    """The element formatter of an array's printed elements ``a``: every element right-aligned to the widest."""
    if a.dtype.kind == "f":
        return _float_formatter(a)
    width = max(len(str(x)) for x in a.reshape(-1).tolist())
    return lambda x: str(x).rjust(width)


def _layout(a, fmt, indent, summarize):
    """torch's layout of an array: a fixed number of elements per line (as many as fit ``linewidth``),
    '...' for the middle of a long dimension when summarising, rows separated by a blank line per extra
    dimension."""
    k = OPTIONS["edgeitems"]
    cut = summarize and a.shape[0] > 2 * k
    if a.ndim == 1:
        values = a.tolist()
        data = ([fmt(v) for v in values[:k]] + [" ..." if k else "..."] + [fmt(v) for v in values[len(values) - k:]] if cut
                else [fmt(v) for v in values])
        per_line = max(1, int((OPTIONS["linewidth"] - indent) // (len(fmt(values[0])) + 2)))
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = list(range(k)) + [None] + list(range(a.shape[0] - k, a.shape[0])) if cut else range(a.shape[0])
    parts = ["..." if i is None else _layout(a[i], fmt, indent + 1, summarize) for i in rows]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def tensor_repr(a, suffixes, prefix="tensor("):
    """``prefix`` + the array as torch prints it + the suffixes (', dtype=...'), each moved to a new line
    when it would pass ``linewidth``."""
    if a.size == 0:
        body = "[]"
    elif a.ndim == 0:
        body = _formatter(a)(a.item())
    else:
        summarize = a.size > OPTIONS["threshold"]
        body = _layout(a, _formatter(summarized(a)), len(prefix), summarize)
    out = prefix + body
    last = len(out) - out.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > OPTIONS["linewidth"]:
            out += ",\n" + " " * len(prefix) + suffix
            last = len(prefix) + len(suffix)
        else:
            out += ", " + suffix
            last += len(suffix) + 2
    return out + ")"
