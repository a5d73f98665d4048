"""Input check shared by the identification functions."""

from __future__ import annotations

from ..errors import InputError
from ..votes import Votes


def check_votes(votes: object, func: str) -> Votes:
    if not isinstance(votes, Votes):
        raise InputError(f"{func} expects a crowdwise.Votes, got {type(votes).__name__}",
                         fix="build one with crowdwise.Votes.from_records(...) or crowdwise.io.load_votes(path)")
    return votes
