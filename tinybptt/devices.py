"""Devices.  tinybptt computes on the CPU (numpy) only, but it takes PyTorch's device arguments,
so a script written as ``device = "cuda" if torch.cuda.is_available() else "cpu"`` runs unchanged;
asking for any other device raises as PyTorch built without CUDA does.
"""
import builtins

# the device types torch 2.13 parses (its error lists them); only "cpu" can hold a tinybptt tensor
TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga", "maia", "xla",
         "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone")


class device:
    """torch.device: a device type ('cpu', 'cuda', ...) and an optional index ('cuda:1', or device('cuda', 1))."""

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, int) and not isinstance(type, builtins.bool):  # an accelerator's ordinal
            raise RuntimeError("Cannot access accelerator device when none is available.")
        elif not isinstance(type, str):
            raise TypeError(f"device(): argument 'type' must be str, not {builtins.type(type).__name__}")
        else:
            name, _, ordinal = type.partition(":")
            if name not in TYPES:
                raise RuntimeError(f"Expected one of {', '.join(TYPES)} device type at start of device string: {type}")
            if ordinal:
                if not ordinal.isdigit():
                    raise RuntimeError(f"Invalid device string: '{type}'")
                if index is not None:
                    raise RuntimeError(f"type (string) must not include an index because index was passed "
                                       f"explicitly: {type}")
                index = int(ordinal)
            type = name
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type, self.index = type, index

    def __eq__(self, other):
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


CPU = device("cpu")


def check_device(where, d):
    """``d`` (None, a string, an ordinal or a device) as a device, which must be the CPU: anything else
    raises AssertionError as PyTorch without CUDA does, naming ``where``."""
    if d is None:
        return CPU
    d = device(d)
    if d.type != "cpu":
        raise AssertionError(f"{where}: tinybptt runs on the CPU only and cannot use device '{d}' "
                             f"(Torch not compiled with CUDA enabled)")
    return d


def is_device(x):
    """True for what ``to()`` reads as a device: a device, or a string naming a device type."""
    return isinstance(x, device) or (isinstance(x, str) and x.partition(":")[0] in TYPES)


def to_dtype(where, args, dtype=None, device=None):
    """The dtype PyTorch's ``to(*args, dtype=, device=)`` asks for (None: keep): args may be a dtype,
    a device or a tensor (its dtype); the device, if any, must be the CPU."""
    from .tensor import Tensor
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif is_device(a):
            device = a
        else:
            dtype = a
    check_device(where, device)
    return dtype
