"""save / load: nested state dicts of arrays as one .npz file, without pickle.

The arrays go into the archive as ``a0``, ``a1``, ...; the structure (dicts,
lists, tuples, numbers, strings, None, and which leaf is which array) goes
into a JSON index stored in the same archive under ``__tinybptt__``.  Loading
never unpickles anything, so a checkpoint from elsewhere cannot run code.
"""
import io
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np

from .tensor import Tensor

_INDEX = "__tinybptt__"
_FORMAT = "tinybptt-checkpoint"


class CheckpointError(RuntimeError, ValueError):
    """``load`` was given an empty, truncated, corrupt or foreign file (a RuntimeError, as in torch.load)."""


def save(obj, f):
    """Write ``obj`` (nested dicts/lists/tuples of arrays, Tensors, numbers, strings, None) to ``f``.

    ``f`` is a path (written as is, no suffix added, replaced atomically) or a
    binary file object.  A model's and an optimizer's state dicts can be saved
    together: ``save({'model': m.state_dict(), 'optim': opt.state_dict()}, path)``.
    """
    arrays = {}
    index = {"format": _FORMAT, "version": 1, "root": _encode(obj, arrays, "obj")}
    arrays[_INDEX] = np.frombuffer(json.dumps(index).encode("utf-8"), dtype=np.uint8)
    if not isinstance(f, (str, os.PathLike)):
        np.savez(f, **arrays)
        return
    path = os.fspath(f)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except OSError as e:
        raise OSError(f"save: cannot write '{path}': {e.strerror or e}") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load(f, map_location=None, weights_only=True):
    """Read back what ``save`` wrote (``map_location`` and ``weights_only`` are accepted and ignored).

    Arrays come back as numpy arrays and saved Tensors as Tensors.  A missing
    file raises FileNotFoundError; an empty, truncated, corrupt or foreign file
    raises CheckpointError (both a RuntimeError and a ValueError) naming the file.
    """
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", repr(f))
    if isinstance(f, (str, os.PathLike)):
        if not os.path.exists(name):
            raise FileNotFoundError(f"load: no such file: '{name}'")
        with open(name, "rb") as fh:
            data = fh.read()
    else:
        data = f.read()
    if not data:
        raise CheckpointError(f"load: '{name}' is empty, not a tinybptt checkpoint")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        if data.startswith(b"PK"):
            raise CheckpointError(f"load: '{name}' is truncated or corrupt: a zip archive without its directory "
                               f"({len(data)} bytes)")
        raise CheckpointError(f"load: '{name}' is not a tinybptt checkpoint (not an .npz/zip archive; "
                           f"starts with {data[:8]!r})")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            if _INDEX not in npz.files:
                raise CheckpointError(f"load: '{name}' is an .npz archive but not a tinybptt checkpoint "
                                   f"(no index; it holds {npz.files[:5]})")
            index = json.loads(npz[_INDEX].tobytes().decode("utf-8"))
            if not isinstance(index, dict) or index.get("format") != _FORMAT:
                raise CheckpointError(f"load: '{name}' has an unknown index format, not a tinybptt checkpoint")
            return _decode(index["root"], npz)
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"load: '{name}' is truncated, corrupt or not a tinybptt checkpoint "
                           f"({type(e).__name__}: {e})") from None


def _encode(obj, arrays, where):
    """The JSON node for ``obj``; arrays are put into ``arrays`` and referred to by key."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)) and type(obj) in (int, float):
        return obj
    if isinstance(obj, Tensor):
        key = _put(arrays, obj._data)
        return {"tensor": key, "requires_grad": obj.requires_grad, "parameter": type(obj).__name__ == "Parameter"}
    if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
        if np.asarray(obj).dtype == object:
            raise TypeError(f"save: {where} is an object array; only numeric and boolean arrays can be saved")
        return {"scalar" if isinstance(obj, np.generic) else "array": _put(arrays, np.asarray(obj))}
    if isinstance(obj, dict):
        kind = "odict" if isinstance(obj, OrderedDict) else "dict"
        return {kind: [[_encode(k, arrays, f"a key of {where}"), _encode(v, arrays, f"{where}[{k!r}]")]
                       for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"list" if isinstance(obj, list) else "tuple":
                [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if hasattr(obj, "__array__"):  # e.g. a torch tensor: stored as a plain array
        return {"array": _put(arrays, np.asarray(obj.detach() if hasattr(obj, "detach") else obj))}
    raise TypeError(f"save: cannot store {where} of type {type(obj).__name__}; checkpoints hold dicts, lists, "
                    "tuples, arrays, Tensors, numbers, strings and None (no pickle)")


def _put(arrays, a):
    key = f"a{len(arrays)}"
    arrays[key] = a
    return key


def _decode(node, npz):
    """Rebuild the object described by a JSON node."""
    if not isinstance(node, dict):
        return node
    (kind, value), = [(k, v) for k, v in node.items() if k in _KINDS]
    if kind == "array":
        return npz[value]
    if kind == "scalar":
        return npz[value][()]
    if kind == "tensor":
        from .nn.module import Parameter
        a = npz[value]
        return Parameter(a, requires_grad=node["requires_grad"]) if node["parameter"] \
            else Tensor(a, requires_grad=node["requires_grad"])
    if kind == "list":
        return [_decode(v, npz) for v in value]
    if kind == "tuple":
        return tuple(_decode(v, npz) for v in value)
    items = ((_decode(k, npz), _decode(v, npz)) for k, v in value)
    return OrderedDict(items) if kind == "odict" else dict(items)


_KINDS = ("array", "scalar", "tensor", "list", "tuple", "dict", "odict")
