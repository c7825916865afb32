"""PyTorch's global switches that training-script boilerplate sets: deterministic algorithms,
float32 matmul precision and ``compile``.

tinybptt computes on the CPU with numpy and numba in the dtype asked for, reproducibly, and has no
graph compiler, so these store what they are told and report it back; results never change.
"""
import warnings

_deterministic = {"mode": False, "warn_only": False}
_matmul_precision = ["highest"]
_MATMUL_PRECISIONS = ("highest", "high", "medium")
_COMPILE_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
_BACKENDS = ("inductor", "eager", "aot_eager", "cudagraphs", "openxla", "tvm", "ts", "aot_ts")


def _check_bool(name, arg, value, position=""):
    if not isinstance(value, bool):
        raise TypeError(f"{name}(): argument '{arg}'{position} must be bool, not {type(value).__name__}")


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ask for deterministic algorithms (``mode``), warning instead of raising on nondeterministic
    ones when ``warn_only``.  tinybptt's operations are all deterministic on the CPU already, so the
    flags are only stored (see ``are_deterministic_algorithms_enabled``)."""
    _check_bool("use_deterministic_algorithms", "mode", mode, " (position 1)")
    _check_bool("use_deterministic_algorithms", "warn_only", warn_only)
    _deterministic.update(mode=mode, warn_only=warn_only)


def are_deterministic_algorithms_enabled():
    """The ``mode`` last given to ``use_deterministic_algorithms`` (False by default)."""
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    """The ``warn_only`` last given to ``use_deterministic_algorithms`` (False by default)."""
    return _deterministic["warn_only"]


def set_float32_matmul_precision(precision):
    """Store 'highest', 'high' or 'medium' (any other string warns and changes nothing, as torch).
    tinybptt always multiplies float32 matrices in full float32 (no TF32 or bfloat16 passes)."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}")
    if precision not in _MATMUL_PRECISIONS:
        warnings.warn(f"set_float32_matmul_precision: {precision} is not one of 'highest', 'high', or 'medium'; "
                      f"the call has no effect.", UserWarning, stacklevel=2)
        return
    _matmul_precision[0] = precision


def get_float32_matmul_precision():
    """The precision last set by ``set_float32_matmul_precision`` ('highest' by default)."""
    return _matmul_precision[0]


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None, options=None, name=None,
            disable=False, recompile_limit=None, isolate_recompiles=False, shapes_spec=None):
    """torch.compile's signature; returns ``model`` (a Module or function) itself.

    tinybptt has no graph compiler: its hot paths already run as numba kernels, and the results of a
    compiled model are meant to be those of eager mode, which is what running ``model`` unchanged
    gives.  Works as ``compile(model)``, ``@compile`` and ``@compile(...)``.  As torch: ``mode`` must be
    one of torch's modes and cannot be combined with ``options``; an unknown backend name is a
    RuntimeError; ``model`` must be callable (AssertionError).  ``backend`` None means 'inductor'.
    """
    if model is None:
        def decorate(fn):
            return compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode, options=options,
                           name=name, disable=disable, recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return decorate
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if isinstance(backend, str) and backend not in _BACKENDS:
        raise RuntimeError(f"compile: Invalid backend: {backend!r} (tinybptt knows {', '.join(_BACKENDS)})")
    backend = "inductor" if backend is None else backend
    if backend == "inductor" and mode is not None and options is not None:
        raise RuntimeError("compile: Either mode or options can be specified, but both can't be specified at the "
                           "same time.")
    if backend == "inductor" and mode is not None and mode not in _COMPILE_MODES:
        raise RuntimeError(f"compile: Unrecognized mode={mode}, should be one of: {', '.join(_COMPILE_MODES)}")
    return model


def is_floating_point(input):
    """True when ``input`` (a Tensor) has a floating-point dtype."""
    from .tensor import Tensor
    if not isinstance(input, Tensor):
        raise TypeError(f"is_floating_point(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input.is_floating_point()
