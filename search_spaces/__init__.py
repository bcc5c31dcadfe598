"""Declarative, reusable pieces of Ray Tune search spaces.

Each module returns plain dicts of Tune domains (``tune.loguniform`` ...) or fixed values that a
study merges into one ``param_space``. Fixed values in a space are copied into every trial's
config, so a trial's config always names everything that defines it.
"""

from search_spaces.mixtures import MIXTURE_KINDS, mixture_names, resolve_mixture
from search_spaces.model import model_space
from search_spaces.normalization import NORM_ARMS, norm_arm_config, norm_space
from search_spaces.optimization import optimizer_space

__all__ = [
    "MIXTURE_KINDS",
    "NORM_ARMS",
    "mixture_names",
    "model_space",
    "norm_arm_config",
    "norm_space",
    "optimizer_space",
    "resolve_mixture",
]
