"""KL divergence KL(p || q) between distributions, looked up by the pair of types (``register_kl``)."""
import functools
import math
import warnings

from ..creation import full_like
from ..functions import where
from ..nn.functional import softplus
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical
from .distribution import Distribution, _sum_rightmost
from .independent import Independent
from .normal import Normal
from .uniform import Uniform

_KL_REGISTRY = {}  # (type_p, type_q) -> function(p, q)
_KL_MEMOIZE = {}   # (type(p), type(q)) -> the function found for them


def register_kl(type_p, type_q):
    """Decorator registering ``fn(p, q)`` as KL(p || q) for p of type ``type_p`` and q of type ``type_q``
    (subclasses included, the most specific registered pair wins)."""
    for name, t in (("type_p", type_p), ("type_q", type_q)):
        if not (isinstance(t, type) and issubclass(t, Distribution)):
            raise TypeError(f"Expected {name} to be a Distribution subclass but got {t}")

    def decorator(fun):
        _KL_REGISTRY[type_p, type_q] = fun
        _KL_MEMOIZE.clear()  # a more specific pair may now win
        return fun

    return decorator


def _more_specific(a, b):
    """Order two registered pairs: the one whose first differing type is a subclass of the other's comes first."""
    for x, y in zip(a, b):
        if x is not y:
            return -1 if issubclass(x, y) else 1 if issubclass(y, x) else 0
    return 0


def _dispatch_kl(type_p, type_q):
    """The function of the most specific registered pair matching (type_p, type_q), or None; warns
    (RuntimeWarning) when ordering by p first and by q first disagree."""
    matches = [(p, q) for p, q in _KL_REGISTRY if issubclass(type_p, p) and issubclass(type_q, q)]
    if not matches:
        return None
    key = functools.cmp_to_key(_more_specific)
    left_p, left_q = min(matches, key=key)
    right_q, right_p = min([(q, p) for p, q in matches], key=key)
    left, right = _KL_REGISTRY[left_p, left_q], _KL_REGISTRY[right_p, right_q]
    if left is not right:
        warnings.warn(f"Ambiguous kl_divergence({type_p.__name__}, {type_q.__name__}). Please "
                      f"register_kl({left_p.__name__}, {right_q.__name__})", RuntimeWarning, stacklevel=3)
    return left


def kl_divergence(p, q):
    """KL(p || q) = E_p[log p(x) - log q(x)], over the batch shape; NotImplementedError for an
    unregistered pair of types."""
    key = (type(p), type(q))
    if key not in _KL_MEMOIZE:
        _KL_MEMOIZE[key] = _dispatch_kl(*key)
    fun = _KL_MEMOIZE[key]
    if fun is None:
        raise NotImplementedError(f"No KL(p || q) is implemented for p type {type(p).__name__} and q type "
                                  f"{type(q).__name__}")
    return fun(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    # 0.5 * (r + ((mu_p - mu_q) / s_q)^2 - 1 - log r), r = (s_p / s_q)^2
    ratio = (p.scale / q.scale).pow(2)
    shift = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (ratio + shift - 1 - ratio.log())


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    # sum p (log p - log q): inf where q = 0 < p, and a class with p = 0 adds 0
    t = p.probs * (p.logits - q.logits)
    t = where((q.probs == 0).expand_as(t), math.inf, t)
    return where((p.probs == 0).expand_as(t), 0.0, t).sum(-1)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehotcategorical_onehotcategorical(p, q):
    return _kl_categorical_categorical(p._categorical, q._categorical)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    # p log(p/q) + (1-p) log((1-p)/(1-q)) with log p = -softplus(-logit), log(1-p) = -softplus(logit)
    ones = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    ones = where(p.probs == 0, 0.0, where(q.probs == 0, math.inf, ones))
    zeros = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    zeros = where(p.probs == 1, 0.0, where(q.probs == 1, math.inf, zeros))
    return ones + zeros


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    # log((high_q - low_q) / (high_p - low_p)), inf unless [low_p, high_p] lies inside [low_q, high_q]
    result = ((q.high - q.low) / (p.high - p.low)).log()
    return where((q.low > p.low) | (q.high < p.high), math.inf, result)


@register_kl(Normal, Uniform)
def _kl_normal_uniform(p, q):
    # a Normal puts mass outside any bounded interval: infinite everywhere (in p's shape, as torch)
    return full_like(p.loc, math.inf)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    # -H(p) - E_p[log q(x)] with width w = high - low, centre m = (low + high) / 2:
    # log(sqrt(2 pi) s / w) + (w^2 / 12 + (m - mu)^2) / (2 s^2)
    width = p.high - p.low
    centre = (p.high + p.low) / 2
    return (math.sqrt(2 * math.pi) * q.scale / width).log() + (width.pow(2) / 12 + (centre - q.loc).pow(2)) / (
        2 * q.scale.pow(2))


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
