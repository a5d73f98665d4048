"""Strategy specifications as typed on the command line."""

from __future__ import annotations

import pytest

from crowdwise.aggregate import make_strategy
from crowdwise.errors import InputError


@pytest.mark.parametrize("spec,param,kind", [
    ("DS[max_iter=abc]", "max_iter", "a number"),
    ("DS[tol=abc]", "tol", "a number"),
    ("GLAD[alpha_prior=abc]", "alpha_prior", "a number"),
    ("TwoThird[threshold=abc]", "threshold", "a number"),
    ("TwoThird[min_votes=two]", "min_votes", "a number"),
    ("MACE[alpha=abc]", "alpha", "a number"),
    ("PlantNet-AIfixed[ai_weight=heavy]", "ai_weight", "a number"),
    ("DS[accelerate=abc]", "accelerate", "True or False"),
])
def test_text_where_a_number_or_boolean_is_expected_is_a_clear_error(spec, param, kind):
    with pytest.raises(InputError) as err:
        make_strategy(spec)
    msg = str(err.value)
    assert f"parameter {param} of strategy" in msg and f"must be {kind}" in msg and "Fix:" in msg


def test_well_typed_values_still_build():
    m = make_strategy("DS[max_iter=7, tol=1e-3, accelerate=False]")
    assert (m.max_iter, m.tol, m.accelerate) == (7, 1e-3, False)
    assert make_strategy("TwoThird[threshold=0.5, min_votes=3]").min_votes == 3
    assert make_strategy("MV[tie=smallest]").tie == "smallest"  # text parameters stay text
    assert make_strategy("DS[init=mv]").init == "mv"
