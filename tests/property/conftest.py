"""Hypothesis settings of the property tests.

The ``crowdwise`` profile keeps the default run fast and leaves nothing in the checkout
(no ``.hypothesis/`` example database); a failure prints the seed to reproduce it
(``@reproduce_failure``). ``HYPOTHESIS_PROFILE=thorough python -m pytest tests/property``
tries many more examples.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("crowdwise", max_examples=50, **_COMMON)
settings.register_profile("thorough", max_examples=1000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "crowdwise"))
