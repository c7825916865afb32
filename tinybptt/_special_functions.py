"""Special functions on numpy arrays (no scipy): erfc, erfinv, lgamma, digamma and trigamma.

Each takes and returns a float array of the input's dtype, computed in float64.  erfc and lgamma
come from the C library through ``math``; erfinv, digamma and trigamma are computed here.
"""
import math

import numpy as np

_erf, _erfc, _lgamma = (np.frompyfunc(f, 1, 1) for f in (math.erf, math.erfc, math.lgamma))


def _apply(f, a):
    """``f`` (a frompyfunc of one float) elementwise, in float64, back in ``a``'s dtype."""
    return np.asarray(f(np.asarray(a, np.float64)), np.float64).astype(a.dtype, copy=False)


def erfc(a):
    """1 - erf(a), without the cancellation for large a."""
    return _apply(_erfc, a)


def lgamma(a):
    """log |Gamma(a)| (inf at 0 and the negative integers)."""
    x = np.asarray(a, np.float64)
    out = np.full(x.shape, np.inf)
    ok = ~((x <= 0) & (x == np.floor(x)))  # the poles: math.lgamma raises there
    out[ok] = np.asarray(_lgamma(x[ok]), np.float64)
    return out.astype(a.dtype, copy=False)


def erfinv(a):
    """The inverse of erf on [-1, 1] (+-inf at +-1, NaN outside): Giles' approximation (2010), then
    Newton steps on erf(y) = x (on log erfc(|y|) = log(1 - |x|) in the tails, where 1 - |x| is exact)."""
    x = np.asarray(a, np.float64)
    with np.errstate(all="ignore"):
        w = -np.log((1 - x) * (1 + x))
        small, big = w - 2.5, np.sqrt(w) - 3
        p1 = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                  -0.00417768164, 0.246640727, 1.50140941):
            p1 = c + p1 * small
        p2 = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            p2 = c + p2 * big
        y = np.where(w < 5, p1, p2) * x
        tail, ax = np.abs(x) > 0.5, np.abs(x)
        for _ in range(4):
            dens = 2 / math.sqrt(math.pi) * np.exp(-y * y)  # erf'(y)
            c = np.asarray(_erfc(np.abs(y)), np.float64)
            # centre: Newton on erf(y) = x; tails: on log erfc(|y|) = log(1 - |x|), fast where erfc is tiny
            step = np.where(tail, np.sign(x) * c * (np.log(c) - np.log1p(-ax)) / dens,
                            (x - np.asarray(_erf(y), np.float64)) / dens)
            y = y + np.where(np.isfinite(y), step, 0)
        y = np.where(np.abs(x) == 1, np.sign(x) * np.inf, np.where(np.abs(x) > 1, np.nan, y))
    return y.astype(a.dtype, copy=False)


def _shifted(x, n_min, series):
    """psi^(k)(x) for x >= n_min by the asymptotic ``series``, smaller x shifted up by the recurrence."""
    x = x.copy()
    acc = np.zeros_like(x)
    low = x < n_min
    while low.any():
        acc[low] += series.step(x[low])
        x[low] += 1
        low = x < n_min
    return acc + series.tail(x)


class _Digamma:
    """psi(x) = psi(x + 1) - 1/x; for large x, ln x - 1/(2x) - sum B_2k / (2k x^2k)."""

    @staticmethod
    def step(x):
        return -1 / x

    @staticmethod
    def tail(x):
        r = 1 / (x * x)
        s = r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r * (1 / 132 - r * (691 / 32760))))))
        return np.log(x) - 0.5 / x - s


class _Trigamma:
    """psi'(x) = psi'(x + 1) + 1/x^2; for large x, 1/x + 1/(2x^2) + sum B_2k / x^(2k+1)."""

    @staticmethod
    def step(x):
        return 1 / (x * x)

    @staticmethod
    def tail(x):
        r = 1 / (x * x)
        s = r * (1 / 6 - r * (1 / 30 - r * (1 / 42 - r * (1 / 30 - r * (5 / 66 - r * (691 / 2730))))))
        return 1 / x + 0.5 * r + s / x


def digamma(a):
    """The logarithmic derivative of Gamma: -inf at +0 and inf at -0 (as PyTorch), NaN at the negative integers; negative
    x by the reflection psi(x) = psi(1 - x) - pi / tan(pi x)."""
    x = np.asarray(a, np.float64)
    out = np.empty(x.shape)
    with np.errstate(all="ignore"):
        pos, neg = x > 0, x < 0
        out[pos] = _shifted(x[pos], 10, _Digamma)
        xn = x[neg]
        frac = np.modf(xn)[0]  # tan(pi x) from the fractional part: pi x itself would round
        out[neg] = np.where(frac == 0, np.nan, _shifted(1 - xn, 10, _Digamma) - np.pi / np.tan(np.pi * frac))
        out[x == 0] = np.where(np.signbit(x[x == 0]), np.inf, -np.inf)
        out[np.isnan(x)] = np.nan
        out[x == np.inf] = np.inf
    return out.astype(a.dtype, copy=False)


def trigamma(a):
    """The derivative of digamma (inf at 0 and the negative integers); negative x by the reflection
    psi'(x) = pi^2 / sin^2(pi x) - psi'(1 - x)."""
    x = np.asarray(a, np.float64)
    out = np.empty(x.shape)
    with np.errstate(all="ignore"):
        pos, neg = x > 0, x <= 0
        out[pos] = _shifted(x[pos], 10, _Trigamma)
        xn = x[neg]
        frac = np.modf(xn)[0]
        out[neg] = np.where(frac == 0, np.inf, (np.pi / np.sin(np.pi * frac)) ** 2 - _shifted(1 - xn, 10, _Trigamma))
        out[np.isnan(x)] = np.nan
        out[x == np.inf] = 0
    return out.astype(a.dtype, copy=False)
