"""Probability distributions with PyTorch's interface (torch.distributions), for sampling from and
training recurrent models: Categorical and OneHotCategorical (characters from a language model, discrete
actions), Bernoulli, Normal and Uniform (with reparametrised ``rsample``), Independent, and
``kl_divergence`` with ``register_kl``.  Draws come from tinybptt's generator (``manual_seed``)."""
from . import constraints
from .bernoulli import Bernoulli
from .categorical import Categorical, OneHotCategorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform

__all__ = ["Bernoulli", "Categorical", "Distribution", "Independent", "Normal", "OneHotCategorical", "Uniform",
           "constraints", "kl_divergence", "register_kl"]
