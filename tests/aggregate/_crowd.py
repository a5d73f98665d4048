"""Small synthetic crowds for the strategy tests (independent of crowdwise.simulate): the
one-coin crowd of the public common checks, ``crowdwise.testing.make_crowd``."""

from __future__ import annotations

from crowdwise.testing import make_crowd

__all__ = ["make_crowd"]
