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
__all__ = ["Votes", "aggregate", "CrowdwiseError", "InputError", "__version__"]


def __getattr__(name: str) -> Any:
    """``crowdwise.Votes`` and ``crowdwise.aggregate`` are imported on first use (PEP 562),
    so that ``import crowdwise`` and ``crowdwise --help`` do not load pandas and SciPy."""
    if name == "Votes":
        from .votes import Votes

        return Votes
    if name == "aggregate":
        return importlib.import_module(".aggregate", __name__)
    raise AttributeError(f"module 'crowdwise' has no attribute {name!r}")
