"""tinybptt.special: torch.special's names.

Most are the functions tinybptt has already (``expit`` is ``sigmoid``, ``gammaln`` is ``lgamma``,
``psi`` is ``digamma``, ...).  Defined here: ``entr``, ``ndtr``, ``ndtri``, ``log_ndtr`` and
``multigammaln``.  The numpy implementations of erfc, erfinv, lgamma and digamma are in
tinybptt/_special_functions.py.  Not provided: the Bessel, orthogonal-polynomial, gamma-incomplete,
zeta, polygamma, erfcx and xlog1py functions.
"""
import math

import numpy as np

from . import ops
from ._special_functions import erfc as _erfc
from .functions import (digamma, erf, erfc, erfinv, exp2, expm1, lgamma, log1p, logit, logsumexp, round, sinc,
                        sigmoid, xlogy)
from .nn.functional import log_softmax as _log_softmax, softmax as _softmax
from .tensor import Tensor

expit = sigmoid
gammaln = lgamma
psi = digamma
__all__ = ["digamma", "entr", "erf", "erfc", "erfinv", "exp2", "expit", "expm1", "gammaln", "log1p", "log_ndtr",
           "log_softmax", "logit", "logsumexp", "multigammaln", "ndtr", "ndtri", "psi", "round", "sinc", "softmax",
           "xlogy"]
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def softmax(input, dim, *, dtype=None):
    """exp(input) normalised to sum to 1 along ``dim`` (cast to ``dtype`` first if given)."""
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    """input - logsumexp(input) along ``dim`` (cast to ``dtype`` first if given)."""
    return _log_softmax(input, dim, dtype=dtype)


def _entr(a):
    """-a log a: 0 at 0, -inf below 0, NaN at NaN."""
    with np.errstate(all="ignore"):
        return np.where(a > 0, -a * np.log(a), np.where(a == 0, 0, np.where(a < 0, -np.inf, a))).astype(a.dtype)


def _log_ndtr(a):
    """log Phi(a) in float64: log(erfc(-a / sqrt 2) / 2), log1p(-erfc(a / sqrt 2) / 2) above 0 (where Phi(a)
    rounds to 1), and below a = -20 (where erfc nears underflow)
    the asymptotic series log Phi(a) = -a^2/2 - log(-a) - log sqrt(2 pi) + log(1 - 1/a^2 + 3/a^4 - 15/a^6 + ...)
    (Abramowitz & Stegun 26.2.12)."""
    x = np.asarray(a, np.float64)
    tail = x < -20
    with np.errstate(all="ignore"):
        out = np.where(x > 0, np.log1p(-_erfc(x / math.sqrt(2)) / 2), np.log(_erfc(-x / math.sqrt(2)) / 2))
        t, z2, term, series = x[tail], 1 / x[tail] ** 2, np.ones(tail.sum()), np.ones(tail.sum())
        for k in range(1, 8):
            term = -term * (2 * k - 1) * z2
            series += term
        out[tail] = -t * t / 2 - np.log(-t) - _LOG_SQRT_2PI + np.log(series)
    return out.astype(a.dtype, copy=False)


def _ndtr_ratio(a):
    """d/da log Phi(a) = phi(a) / Phi(a), as exp(log phi(a) - log Phi(a)) so the tails neither overflow nor
    divide 0 by 0."""
    x = np.asarray(a, np.float64)
    return np.exp(-x * x / 2 - _LOG_SQRT_2PI - _log_ndtr(x)).astype(a.dtype, copy=False)


# -a log a has derivative -(1 + log a): inf at 0 and NaN below, as torch's
_Entr = type("Entr", (ops._Unary,), {"f": staticmethod(_entr),
                                     "df": staticmethod(lambda a: -(1 + np.log(np.where(a < 0, np.nan, a))))})
_LogNdtr = type("LogNdtr", (ops._Unary,), {"f": staticmethod(_log_ndtr), "df": staticmethod(_ndtr_ratio)})


def _float(input):
    return (input if isinstance(input, Tensor) else Tensor(input))._floating()


def entr(input):
    """Elementwise entropy term -x log x (0 at 0, -inf for x < 0); gradient -(1 + log x)."""
    return _Entr.apply(_float(input))


def ndtr(input):
    """The standard normal CDF, Phi(x) = (1 + erf(x / sqrt 2)) / 2, computed as torch computes it: in the
    lower tail it loses its relative precision and is 0 below about -8.3 (float64); use ``log_ndtr`` there."""
    return (erf(_float(input) * math.sqrt(0.5)) + 1) * 0.5


def ndtri(input):
    """The inverse of ``ndtr`` on [0, 1]: sqrt 2 erfinv(2p - 1) (-inf at 0, inf at 1, NaN outside)."""
    return erfinv(_float(input) * 2 - 1) * math.sqrt(2)


def log_ndtr(input):
    """log Phi(x), accurate far into the lower tail (where Phi(x) underflows); gradient phi(x) / Phi(x)."""
    return _LogNdtr.apply(_float(input))


def multigammaln(input, p):
    """The log multivariate gamma function of dimension ``p``:
    p (p - 1) / 4 log(pi) + sum_{i < p} lgamma(input - i / 2).  RuntimeError for p < 1; as torch 2.13,
    elements <= (p - 1) / 2 (outside the domain) are not checked and give lgamma's values there."""
    x = _float(input)
    if p < 1:
        raise RuntimeError(f"multigammaln: p has to be greater than or equal to 1, got p={p}")
    out = lgamma(x)
    for i in range(1, p):
        out = out + lgamma(x - i / 2)
    return out + p * (p - 1) / 4 * math.log(math.pi)
