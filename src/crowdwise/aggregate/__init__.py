"""Aggregation strategies: turn crowd votes into labels.

One module per strategy family, each imported below by name, in the order
``crowdwise agginfo`` lists them: a strategy registers itself (``@register``, see
:mod:`crowdwise.aggregate.registry`) when its module is imported, and the registry, the
one source of the strategies' command-line names, keeps that order. A new strategy module
is listed here (``tests/test_layout.py`` fails, naming it, until it is); one that is not
is still imported after the listed ones and its registered classes exported, so that it
works at once.

The array helpers the strategies share (``argmax_ties``...) live in :mod:`crowdwise.utils`;
``argmax_ties`` is re-exported here as before.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._base import (
    Aggregator,
    AnyOf,
    Boolean,
    Integer,
    NotFittedError,
    Options,
    Real,
    Rule,
    Satisfies,
    argmax_ties,
    as_probas,
    dense_probas,
    fit_progress,
)
from ._driver import ConvergenceWarning, EMStrategy
from .registry import ALIASES, available, get_strategy, make_strategy, parse_spec, register

# the strategy modules, in the order `crowdwise agginfo` lists their strategies
from .auto import Auto
from .voting import MajorityVote, NaiveSoft, TwoThird
from .wawa import WAWA
from .plantnet import PlantNet
from .dawid_skene import DawidSkene
from .ebds import EBDS
from .bwa import BWA
from .dswc import DSWC
from .fast_ds import FastDS
from .glad import GLAD
from .zbs import ZeroBasedSkill
from .iwmv import IWMV
from .kos import KOS
from .mace import MACE
from .mmsr import MMSR
from .one_coin import OneCoinDS
from .wds import WDS
from .bcc import IBCC
from .ebcc import EBCC
from .taxonomy import Taxonomy, TaxonomyFallback  # a wrapper of the strategies, not registered

__all__ = [
    "Aggregator",
    "EMStrategy",
    "ConvergenceWarning",
    "NotFittedError",
    "Rule",
    "Integer",
    "Real",
    "Options",
    "Boolean",
    "Satisfies",
    "AnyOf",
    "argmax_ties",
    "as_probas",
    "dense_probas",
    "fit_progress",
    "ALIASES",
    "available",
    "get_strategy",
    "make_strategy",
    "parse_spec",
    "register",
    # the strategies (tests/test_layout.py checks that these are the registered classes)
    "Auto",
    "EBDS",
    "MajorityVote",
    "NaiveSoft",
    "TwoThird",
    "WAWA",
    "PlantNet",
    "DawidSkene",
    "BWA",
    "DSWC",
    "FastDS",
    "GLAD",
    "ZeroBasedSkill",
    "IWMV",
    "KOS",
    "MACE",
    "MMSR",
    "OneCoinDS",
    "WDS",
    "IBCC",
    "EBCC",
    "Taxonomy",
    "TaxonomyFallback",
]

#: modules of this folder that hold no strategy
NOT_STRATEGY_MODULES = frozenset({"registry", "taxonomy"})


def _import_unlisted_modules() -> None:
    """The fallback for a strategy module not listed above: import it (after the listed
    ones, by name) and export the classes it registers."""
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.startswith("_") and mod.name not in NOT_STRATEGY_MODULES:
            importlib.import_module(f"{__name__}.{mod.name}")
    for info in available():
        name = info.cls.__name__
        if name not in globals():
            globals()[name] = info.cls
            __all__.append(name)


_import_unlisted_modules()
