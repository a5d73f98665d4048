"""Every crowd-kit classification aggregator has a named crowdwise counterpart, or a stated reason."""

from __future__ import annotations

import inspect

import pytest

from crowdwise.aggregate import get_strategy
from crowdwise.aggregate.registry import CROWDKIT_COUNTERPARTS


@pytest.mark.parametrize("crowdkit_name, ours", sorted(CROWDKIT_COUNTERPARTS.items()))
def test_each_counterpart_is_a_strategy_or_a_reason(crowdkit_name, ours):
    if ours.startswith("none: "):
        assert len(ours) > 40  # a reason, not a placeholder
    else:
        assert get_strategy(ours).name == ours


def test_the_table_covers_crowdkits_classification_aggregators():
    aggregation = pytest.importorskip("crowdkit.aggregation")
    from crowdkit.aggregation.base import BaseClassificationAggregator

    theirs = {n for n in aggregation.__all__
              if inspect.isclass(getattr(aggregation, n)) and issubclass(getattr(aggregation, n), BaseClassificationAggregator)}
    assert theirs == set(CROWDKIT_COUNTERPARTS)


def test_crowdkit_class_names_resolve_where_a_counterpart_exists():
    for crowdkit_name, ours in CROWDKIT_COUNTERPARTS.items():
        if not ours.startswith("none"):
            assert get_strategy(crowdkit_name).name == ours
