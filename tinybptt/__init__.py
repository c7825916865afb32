"""tinybptt: a small tape-based autograd framework for backpropagation through time.

>>> import tinybptt as tb
>>> x = tb.tensor([1.0, 2.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4.])
"""
import numpy as np

from .autograd import (current_scope, detect_anomaly, enable_grad, inference_mode, is_anomaly_check_nan_enabled,
                       is_anomaly_enabled, is_grad_enabled, no_grad, scope, set_grad_enabled)
from .creation import (arange, as_tensor, empty, empty_like, eye, from_dlpack, from_numpy, full, full_like,
                       get_default_dtype, linspace, ones, ones_like, rand, rand_like, randint, randint_like, randn,
                       randn_like, randperm, set_default_dtype, tensor, tril_indices, triu_indices, zeros,
                       zeros_like)
from .functions import (abs, allclose, argmax, bmm, cat, chunk, clamp, concat, exp, flatten, is_tensor, log,
                        log_softmax, masked_fill, matmul, max, maximum, mean, min, minimum, numel, permute, pow,
                        relu, reshape, sigmoid, softmax, split, sqrt, squeeze, stack, sum, tanh, transpose, unsqueeze,
                        where, mm, tril, triu, isnan, isinf, isfinite, equal, neg, flip, var, std, var_mean,
                        std_mean, norm, logsumexp, prod, cumsum, argmin, amax, amin, gather, narrow, select,
                        index_select, masked_select, movedim, moveaxis, swapaxes, unflatten, clamp_min, clamp_max,
                        clip, sign, floor, ceil, round, isclose, sort, argsort, topk, unbind, any, all, logical_not,
                        logical_and, logical_or, square, log1p, sin, cos, multinomial, cumprod, roll,
                        repeat_interleave, diff, count_nonzero, outer, ger, scatter, scatter_add, index_add,
                        einsum, add, sub, subtract, mul, multiply, div, divide, true_divide, floor_divide, remainder,
                        fmod, clone, detach, eq, ne, lt, le, gt, ge, rsqrt, reciprocal, unique, bincount, nonzero,
                        lerp, argwhere, isin, masked_scatter, logical_xor, erf, exp2, expm1, log2, log10, trunc,
                        frac, nan_to_num, broadcast_to, diag, tile, median, bernoulli, take_along_dim, dist,
                        meshgrid, hstack, vstack, searchsorted, bucketize, cdist, finfo, iinfo, tan, asin, acos,
                        atan, sinh, cosh, asinh, acosh, atanh, arcsin, arccos, arctan, arcsinh, arccosh,
                        arctanh, atan2, arctan2)
from .functions import (nansum, nanmean, nanmedian, quantile, nanquantile, kthvalue, mode, cummax, cummin,  # noqa
                        logcumsumexp, aminmax, addmm, addmv, addmv_, addr, addbmm, baddbmm, addcmul, addcdiv, dot,
                        vdot, mv, inner, cross, kron, tensordot, trace, diagonal, diag_embed, diagflat, erfc, erfc_,
                        erfinv, lgamma, digamma, xlogy, xlogy_, logit, logit_, logaddexp, logaddexp2, hypot, sinc,
                        sinc_, heaviside, fmax, fmin, float_power, copysign, deg2rad, deg2rad_, rad2deg, rad2deg_, sgn,
                        signbit, negative, negative_, positive, fix, fix_, isposinf, isneginf, isreal, nextafter,
                        ldexp, ldexp_, frexp, tensor_split, hsplit, vsplit, dsplit, split_with_sizes, rot90, fliplr,
                        flipud, ravel, index_copy, index_fill, index_put, index_put_, scatter_reduce, take,
                        narrow_copy, histc, nonzero_static, unique_consecutive, is_complex, is_signed, is_nonzero,
                        is_same_size)
from .devices import device
from .gradcheck import GradcheckError, gradcheck
from .random import Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import Tensor
from . import cuda  # noqa: E402
from . import nn  # noqa: E402
from . import optim  # noqa: E402
from . import models  # noqa: E402
from . import bptt  # noqa: E402
from . import linalg  # noqa: E402
from .linalg._tensor_forms import (cholesky, det, inverse, logdet, matrix_exp,  # noqa: E402
                                   matrix_power, pinverse, qr, slogdet, svd)
from . import viz  # noqa: E402
from . import distributions, utils  # noqa: E402
from .serialization import load, save  # noqa: E402
from . import backends, special, testing  # noqa: E402
from .compat import (are_deterministic_algorithms_enabled, compile, get_float32_matmul_precision,  # noqa: E402
                     is_deterministic_algorithms_warn_only_enabled, is_floating_point, set_float32_matmul_precision,
                     use_deterministic_algorithms)
from .legacy import BoolTensor, ByteTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor  # noqa: E402
from .printing import set_printoptions  # noqa: E402
from .size import Size  # noqa: E402
from .threads import get_num_interop_threads, get_num_threads, set_num_interop_threads, set_num_threads  # noqa

float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int64 = long = np.dtype(np.int64)
int32 = int = np.dtype(np.int32)
int16 = short = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)  # the dtype of get_rng_state()
bool = np.dtype(np.bool_)

__version__ = "0.1.0"

from .malloc import keep_freed_memory  # noqa: E402

keep_freed_memory()  # reuse freed arrays' memory instead of page-faulting it back in every step

