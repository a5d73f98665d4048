"""crowdwise: learning from crowdsourced classification labels.

>>> import crowdwise
>>> v = crowdwise.Votes.from_records(["t1", "t1", "t2"], ["a", "b", "a"], ["x", "x", "y"])
>>> crowdwise.aggregate.MajorityVote().fit(v).labels_.tolist()
[0, 1]
"""

from . import aggregate
from .errors import CrowdwiseError, InputError
from .votes import Votes

__version__ = "0.1.0"
__all__ = ["Votes", "aggregate", "CrowdwiseError", "InputError", "__version__"]
