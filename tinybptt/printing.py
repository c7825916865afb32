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
