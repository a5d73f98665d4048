"""The distributed fit gives the in-memory result: labels identical, probabilities and
worker parameters within 1e-9, same iterations, for every distributed strategy, on a
simulated crowd and on the real data sets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from conftest import simulated_crowd

from crowdwise.aggregate import make_strategy
from crowdwise.distributed import aggregate, encode_votes
from crowdwise.io import from_dataframe

ONE_PASS = ("MV", "NaiveSoft", "TwoThird", "WAWA")
ITERATIVE = ("PlantNet", "OneCoinDS", "DS", "GLAD")
ALL = ONE_PASS + ("PlantNet", "PlantNet-AIconfident", "PlantNet-AIinvalidating", "PlantNet-AIfixed",
                  "PlantNet-AIworker", "OneCoinDS", "DS", "GLAD", "DS[prior=1]", "OneCoinDS[fit_priors=True]",
                  "GLAD[class_priors=learn]", "MV[tie=smallest]")
WORKER_PARAMS = ("skills_", "weights_", "n_correct_", "accuracies_", "priors_", "confusions_", "abilities_",
                 "difficulties_")


def dense(p):
    return p.toarray() if sparse.issparse(p) else np.asarray(p)


def check_same(mem, dist) -> None:
    np.testing.assert_array_equal(dist.labels_, mem.labels_)
    assert np.max(np.abs(dense(dist.probas_) - dense(mem.probas_))) <= 1e-9
    for name in ("valid_", "confidence_", "accuracy_", "unvoted_mass_"):
        if hasattr(mem, name):
            np.testing.assert_allclose(getattr(dist, name), getattr(mem, name), rtol=0, atol=1e-9)
    for name in WORKER_PARAMS:
        if hasattr(mem, name):
            np.testing.assert_allclose(getattr(dist, name), getattr(mem, name), rtol=0, atol=1e-9, err_msg=name)
    for name in ("n_iter_", "converged_"):
        if hasattr(mem, name):
            assert getattr(dist, name) == getattr(mem, name), name
    if hasattr(mem, "log_likelihood_"):
        np.testing.assert_allclose(dist.log_likelihood_, mem.log_likelihood_, rtol=1e-12)


@pytest.fixture(scope="module")
def crowd(client):
    import dask.dataframe as dd

    df = simulated_crowd()
    return from_dataframe(df), encode_votes(dd.from_pandas(df, npartitions=3, sort=False), client, n_blocks=4)


@pytest.mark.parametrize("spec", ALL)
def test_simulated_crowd(client, crowd, spec):
    votes, enc = crowd
    mem = make_strategy(spec, random_state=7).fit(votes)
    dist = aggregate(enc, spec, client=client, random_state=7)
    check_same(mem, dist)


def test_the_simulated_crowd_has_ties_the_seed_breaks(client, crowd):
    """MV's random tie rule draws per block at the in-memory offsets: with another seed
    some labels change, and each seed gives the in-memory labels."""
    votes, enc = crowd
    a = aggregate(enc, "MV", client=client, random_state=1).labels_
    b = aggregate(enc, "MV", client=client, random_state=2).labels_
    assert (a != b).sum() > 5
    np.testing.assert_array_equal(b, make_strategy("MV", random_state=2).fit(votes).labels_)


def test_ids_come_back_in_the_in_memory_order(client, crowd):
    votes, enc = crowd
    assert enc.task_ids.tolist() == votes.task_ids.tolist()
    assert enc.worker_ids.tolist() == votes.worker_ids.tolist()
    assert enc.classes.tolist() == votes.classes.tolist() == ["ant", "bee", "cat", "dog"]
    # a task's votes live in one block, the blocks cover the tasks in code order
    assert enc.bounds[0] == 0 and enc.bounds[-1] == votes.n_tasks and np.all(np.diff(enc.bounds) > 0)
    assert int(enc.n_votes.sum()) == votes.n_votes


def _real_sets():
    from _data import dataset_names

    return dataset_names() or ["(none)"]


def _real(name, client):
    import dask.dataframe as dd
    import pandas as pd
    from _data import require_datasets

    folder = require_datasets()
    if not (folder / name / "votes.csv").is_file():
        pytest.skip(f"{name} is absent")
    df = pd.read_csv(folder / name / "votes.csv")
    return from_dataframe(df), encode_votes(dd.from_pandas(df, npartitions=3, sort=False), client)


@pytest.mark.parametrize("name", _real_sets())
def test_real_sets_one_pass_strategies(client, name):
    votes, enc = _real(name, client)
    for spec in ONE_PASS:
        check_same(make_strategy(spec, random_state=0).fit(votes), aggregate(enc, spec, client=client, random_state=0))


@pytest.mark.parametrize("name", ["bluebirds", "zheng_sentiment"])
def test_real_sets_iterative_strategies(client, name):
    votes, enc = _real(name, client)
    for spec in ITERATIVE:
        check_same(make_strategy(spec, random_state=0).fit(votes), aggregate(enc, spec, client=client, random_state=0))


@pytest.mark.slow
@pytest.mark.parametrize("name", _real_sets())
def test_all_real_sets_iterative_strategies(client, name):
    votes, enc = _real(name, client)
    for spec in ITERATIVE + ("PlantNet-AIworker",):
        check_same(make_strategy(spec, random_state=0).fit(votes), aggregate(enc, spec, client=client, random_state=0))
