"""`crowdwise agginfo` lists, for each strategy, only parameters that strategy accepts."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import available, make_strategy
from crowdwise.errors import InputError
from _cli import run


def listed() -> dict[str, list[str]]:
    """Strategy name -> names of the parameters `agginfo --plain` lists for it."""
    out = {}
    for line in run("agginfo", "--plain").output.strip().splitlines():
        name, _, params = line.split("\t")
        out[name] = [p.split("=", 1)[0].strip() for p in params.split(", ") if "=" in p]
    return out


def test_wds_lists_no_sparse_mode_and_refuses_it_as_an_unknown_parameter():
    # WDS used to list sparse='auto' (inherited from DS) and then answer "WDS has no sparse
    # mode" when given sparse=True
    params = listed()
    assert "sparse" in params["DS"] and "sparse" not in params["WDS"]
    with pytest.raises(InputError, match="WDS has no parameter 'sparse'"):
        make_strategy("WDS[sparse=True]")


def test_the_listed_parameters_are_those_of_the_constructor():
    params = listed()
    for info in available():
        assert params[info.name] == info.cls._param_names()
        make_strategy(info.name)  # and the listed defaults build


@pytest.mark.parametrize("name", [i.name for i in available() if "sparse" in i.cls._param_names()])
def test_every_strategy_listing_a_sparse_mode_runs_it(name):
    assert "sparse" in listed()[name]
    rng = np.random.default_rng(0)
    task = np.repeat(np.arange(30), 3)
    votes = Votes.from_records(task, rng.integers(0, 6, task.size), rng.integers(0, 3, task.size), n_classes=3)
    m = make_strategy(f"{name}[sparse=True]", random_state=0).fit(votes)
    assert m.labels_.shape == (30,)
