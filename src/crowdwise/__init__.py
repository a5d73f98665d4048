"""crowdwise: learning from crowdsourced classification labels.

>>> import crowdwise
>>> v = crowdwise.Votes.from_records(["t1", "t1", "t2"], ["a", "b", "a"], ["x", "x", "y"])
>>> crowdwise.aggregate.MajorityVote().fit(v).labels_.tolist()
[0, 1]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import CrowdwiseError, InputError

if TYPE_CHECKING:  # pragma: no cover - imported on first use below
    from . import aggregate
    from .votes import Votes

__version__ = "0.1.0"
__all__ = ["Votes", "aggregate", "CrowdwiseError", "InputError", "__version__",
           # the public submodules, imported on first use like aggregate
           "calibration", "datasets", "evaluate", "identify", "io", "learn", "plots", "simulate"]


#: Submodules imported on first attribute access (``crowdwise.io`` after ``import crowdwise``).
_SUBMODULES = ("aggregate", "calibration", "datasets", "evaluate", "identify", "io", "learn", "plots", "simulate", "votes")


def __getattr__(name: str) -> Any:
    """``crowdwise.Votes``, ``crowdwise.aggregate`` and the other submodules are imported on
    first use (PEP 562), so that ``import crowdwise`` and ``crowdwise --help`` do not load
    pandas and SciPy. The name is then bound in the module, so later accesses are direct."""
    if name == "Votes":
        from .votes import Votes as value
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'crowdwise' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
