"""Aggregation strategies: turn crowd votes into labels.

One module per strategy family. Every public module of this package is imported here and
every strategy it registers (see :mod:`crowdwise.aggregate.registry`) is exported under
its class name, so a new strategy module needs no edit of this file.
"""

from __future__ import annotations

import importlib
import pkgutil

from ._base import Aggregator, NotFittedError, argmax_ties, as_probas, dense_probas, fit_progress
from ._driver import ConvergenceWarning, EMStrategy
from .registry import available, get_strategy, make_strategy, parse_spec, register

__all__ = [
    "Aggregator",
    "EMStrategy",
    "ConvergenceWarning",
    "NotFittedError",
    "argmax_ties",
    "as_probas",
    "dense_probas",
    "fit_progress",
    "available",
    "get_strategy",
    "make_strategy",
    "parse_spec",
    "register",
]


# families listed first by `crowdwise agginfo`, in this order; other modules follow by name
_FIRST = ["voting", "wawa", "plantnet", "dawid_skene"]


def _discover() -> None:
    def rank(m: pkgutil.ModuleInfo) -> tuple[int, str]:
        return (_FIRST.index(m.name) if m.name in _FIRST else len(_FIRST), m.name)

    for mod in sorted(pkgutil.iter_modules(__path__), key=rank):
        if not mod.name.startswith("_") and mod.name != "registry":
            importlib.import_module(f"{__name__}.{mod.name}")
    for info in available():
        name = info.cls.__name__
        if name not in globals():
            globals()[name] = info.cls
            __all__.append(name)


_discover()
