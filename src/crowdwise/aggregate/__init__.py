"""Aggregation strategies: turn crowd votes into labels.

One module per strategy family; every strategy registers its CLI name in
:mod:`crowdwise.aggregate.registry`.
"""

from ._base import Aggregator, NotFittedError, argmax_ties, as_probas, dense_probas
from .registry import available, get_strategy, make_strategy, parse_spec, register
from .voting import MajorityVote, NaiveSoft, TwoThird
from .wawa import WAWA
from .dawid_skene import DawidSkene

__all__ = [
    "Aggregator",
    "NotFittedError",
    "argmax_ties",
    "as_probas",
    "dense_probas",
    "available",
    "get_strategy",
    "make_strategy",
    "parse_spec",
    "register",
    "MajorityVote",
    "NaiveSoft",
    "TwoThird",
    "WAWA",
    "DawidSkene",
]
