"""Turning a list of samples into a batch (``default_collate``) and a single sample's numpy parts into
tensors (``default_convert``), by PyTorch's rules.  ``collate`` with a ``collate_fn_map`` (type -> function)
lets a custom collate_fn handle its own types and fall back on these rules for the rest."""
import collections.abc
import copy
import re

import numpy as np

from ...creation import as_tensor, tensor
from ...functions import stack
from ...tensor import Tensor

_STRING_OR_OBJECT = re.compile(r"[SaUO]")  # numpy dtype codes that have no tensor counterpart

_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _is_numpy_value(x):
    """A numpy array or numpy scalar other than a string."""
    return type(x).__module__ == "numpy" and type(x).__name__ not in ("str_", "string_", "bytes_")


def _rebuild(x, parts):
    """A container of ``x``'s type holding ``parts`` (a dict for mappings, a list for other sequences),
    mutable containers copied and refilled, tuples turned into lists; a plain dict or list when the type
    cannot be built from ``parts``."""
    if isinstance(x, collections.abc.Mapping):
        try:
            if isinstance(x, collections.abc.MutableMapping):
                clone = copy.copy(x)
                clone.update(parts)
                return clone
            return type(x)(parts)
        except TypeError:
            return parts
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        return type(x)(*parts)
    if isinstance(x, tuple):
        return parts
    try:
        if isinstance(x, collections.abc.MutableSequence):
            clone = copy.copy(x)
            for i, p in enumerate(parts):
                clone[i] = p
            return clone
        return type(x)(parts)
    except TypeError:
        return parts


def default_convert(data):
    """One sample made tensor-friendly without batching: numpy arrays and numpy scalars become tensors
    (string and object arrays stay as they are), containers are converted element by element (tuples become
    lists, namedtuples stay namedtuples), anything else (tensors, Python numbers, strings) is returned as is.
    The DataLoader applies it to each sample when ``batch_size=None``."""
    if isinstance(data, Tensor):
        return data
    if _is_numpy_value(data):
        if isinstance(data, np.ndarray) and _STRING_OR_OBJECT.search(data.dtype.str):
            return data
        return as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, {k: default_convert(data[k]) for k in data})
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild(data, [default_convert(d) for d in data])
    return data


def collate_tensor_fn(batch, *, collate_fn_map=None):
    """Tensors stacked along a new first dimension (their shapes must agree)."""
    return stack(batch, 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    """Numpy arrays made tensors, then collated as tensors; string and object arrays are refused."""
    if _STRING_OR_OBJECT.search(batch[0].dtype.str):
        raise TypeError(_ERROR.format(batch[0].dtype))
    return collate([as_tensor(b) for b in batch], collate_fn_map=collate_fn_map)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    """Numpy scalars: a 1-d tensor of their dtype."""
    return as_tensor(batch)


def collate_float_fn(batch, *, collate_fn_map=None):
    """Python floats: a float64 tensor."""
    return tensor(batch, dtype=np.float64)


def collate_int_fn(batch, *, collate_fn_map=None):
    """Python ints: an int64 tensor (bools: a bool tensor)."""
    return tensor(batch)


def collate_str_fn(batch, *, collate_fn_map=None):
    """Strings and bytes: the list as it is."""
    return batch


default_collate_fn_map = {Tensor: collate_tensor_fn, np.ndarray: collate_numpy_array_fn,
                          (np.bool_, np.number, np.object_): collate_numpy_scalar_fn, float: collate_float_fn,
                          int: collate_int_fn, str: collate_str_fn, bytes: collate_str_fn}


def collate(batch, *, collate_fn_map=None):
    """Collate ``batch`` (a list of samples of one structure): the first sample's type picks the function in
    ``collate_fn_map`` (exact type first, then the first key it is an instance of); otherwise mappings,
    namedtuples and sequences are collated field by field, recursively."""
    elem = batch[0]
    if collate_fn_map is not None:
        if type(elem) in collate_fn_map:
            return collate_fn_map[type(elem)](batch, collate_fn_map=collate_fn_map)
        for kind, fn in collate_fn_map.items():
            if isinstance(elem, kind):
                return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {k: collate([d[k] for d in batch], collate_fn_map=collate_fn_map) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return _rebuild(elem, [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)])
    if isinstance(elem, collections.abc.Sequence):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return _rebuild(elem, [collate(s, collate_fn_map=collate_fn_map) for s in zip(*batch)])
    raise TypeError(_ERROR.format(type(elem)))


def default_collate(batch):
    """A list of samples as one batch: tensors stacked along a new first dimension, numpy arrays likewise
    (as tensors), Python ints an int64 tensor, floats a float64 tensor, bools a bool tensor, numpy scalars a
    tensor of their dtype, strings and bytes kept as a list; dicts, namedtuples, lists and tuples (tuples
    become lists) collated field by field.  The DataLoader's collate_fn when it batches."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
