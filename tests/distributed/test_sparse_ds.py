"""DS's sparse mode on Dask gives the in-memory ``DawidSkene(sparse=True)``: labels
identical, probabilities, class shares and confusions within 1e-9, the same iterations,
on a simulated crowd, on a crowd with many classes and on real data sets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from conftest import simulated_crowd

from crowdwise.aggregate import make_strategy
from crowdwise.distributed import aggregate, encode_votes
from crowdwise.errors import InputError
from crowdwise.io import from_dataframe


def _encode(df, client, n_blocks=None):
    import dask.dataframe as dd

    return from_dataframe(df), encode_votes(dd.from_pandas(df, npartitions=3, sort=False), client, n_blocks=n_blocks)


def check_same_sparse(mem, dist) -> None:
    assert mem.sparse_mode_ and dist.sparse_mode_ is True
    assert mem.never_met_ is None and dist.never_met_ is None
    np.testing.assert_array_equal(dist.labels_, mem.labels_)
    P, Q = dist.probas_, mem.probas_
    assert sparse.issparse(P) and P.shape == Q.shape
    assert abs(P - Q).max() <= 1e-9
    # the same fixed pattern: the same stored entries, in the same order
    np.testing.assert_array_equal(P.indptr, Q.indptr)
    np.testing.assert_array_equal(P.indices, Q.indices)
    C, D = dist.confusions_, mem.confusions_
    assert sparse.issparse(C) and C.shape == D.shape and C.nnz == D.nnz
    assert abs(C - D).max() <= 1e-9
    np.testing.assert_allclose(dist.priors_, mem.priors_, rtol=0, atol=1e-9)
    assert dist.n_iter_ == mem.n_iter_ and dist.converged_ == mem.converged_
    np.testing.assert_allclose(dist.log_likelihood_, mem.log_likelihood_, rtol=1e-12)


@pytest.fixture(scope="module")
def crowd(client):
    return _encode(simulated_crowd(), client, n_blocks=4)


@pytest.mark.parametrize("spec", ["DS[sparse=True]", "DS[sparse=True,accelerate=False,tie=smallest]",
                                  "DS[sparse=True,init=mv]"])
def test_simulated_crowd(client, crowd, spec):
    votes, enc = crowd
    mem = make_strategy(spec, random_state=7).fit(votes)
    check_same_sparse(mem, aggregate(enc, spec, client=client, random_state=7))


def many_classes(seed: int = 5, n_tasks: int = 1500, n_workers: int = 2500, k: int = 300, per_task: int = 4):
    """A crowd of 2,500 workers over 300 classes (4 votes per task, accuracy 0.4 to 0.95,
    a wrong answer among 3 classes confused with the true one): the dense confusions
    (2,500 x 300^2 cells, 5.4 GB) exceed the default budget, so ``sparse="auto"`` runs sparse."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    acc = rng.uniform(0.4, 0.95, n_workers)
    truth = rng.integers(0, k, n_tasks)
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = np.concatenate([rng.choice(n_workers, per_task, replace=False) for _ in range(n_tasks)])
    wrong = (truth[task] + rng.integers(1, 4, task.size)) % k
    label = np.where(rng.random(task.size) < acc[worker], truth[task], wrong)
    return pd.DataFrame({"task": task, "worker": worker, "label": label}), truth


def test_many_classes_auto_runs_sparse(client):
    df, _ = many_classes()
    votes, enc = _encode(df, client, n_blocks=3)
    mem = make_strategy("DS", random_state=0).fit(votes)
    dist = aggregate(enc, "DS", client=client, random_state=0)
    assert mem.sparse_mode_  # "auto" at this size, in memory and on Dask
    check_same_sparse(mem, dist)
    # the confusions are CSR (n_workers * K, K): a worker's rows hold only the classes it met
    w, k = votes.n_workers, votes.n_classes
    assert k == 300 and dist.confusions_.shape == (w * k, k) and dist.confusions_.nnz < w * k


def test_auto_picks_the_in_memory_mode(client):
    """``sparse="auto"`` switches on the memory budget (prior=0 only): on 50 workers x 40
    classes the dense confusions take 2.3 MB, so a budget of 1 MB runs sparse, on Dask as
    in memory, and a budget of 3 MB (or the default) dense."""
    df, _ = many_classes(n_tasks=300, n_workers=50, k=40, per_task=3)
    votes, enc = _encode(df, client, n_blocks=2)
    modes = {}
    for spec in ("DS", "DS[memory_budget=1e6]", "DS[memory_budget=3e6]"):
        mem = make_strategy(spec, random_state=3).fit(votes)
        dist = aggregate(enc, spec, client=client, random_state=3)
        assert dist.sparse_mode_ == mem.sparse_mode_
        np.testing.assert_array_equal(dist.labels_, mem.labels_)
        if mem.sparse_mode_:
            check_same_sparse(mem, dist)
        modes[spec] = dist.sparse_mode_
    assert modes == {"DS": False, "DS[memory_budget=1e6]": True, "DS[memory_budget=3e6]": False}


def test_sparse_with_smoothing_is_refused(client, crowd):
    _, enc = crowd
    with pytest.raises(InputError, match="prior=0"):
        aggregate(enc, "DS[sparse=True,prior=1]", client=client)


def tied_crowd(n_pairs: int = 8, reps: int = 3):
    """Pairs of workers (a, b), each pair over its own two classes (x, y): as many tasks
    where a says x and b says y as the reverse, and as many agreeing on x as on y.
    Swapping a with b and x with y maps the crowd to itself, so every disagreeing task is
    an exact tie."""
    import pandas as pd

    rows = []
    for p in range(n_pairs):  # test data only
        x, y = 2 * p, 2 * p + 1
        for r in range(reps):
            for t, (la, lb) in enumerate([(x, x), (y, y), (x, y), (y, x)]):
                task = f"p{p}t{t}r{r}"
                rows += [(task, f"a{p}", la), (task, f"b{p}", lb)]
    return pd.DataFrame(rows, columns=["task", "worker", "label"])


def test_ties_are_broken_as_in_memory(client):
    votes, enc = _encode(tied_crowd(), client, n_blocks=3)
    labels = {}
    for seed in (1, 2):
        mem = make_strategy("DS[sparse=True]", random_state=seed).fit(votes)
        dist = aggregate(enc, "DS[sparse=True]", client=client, random_state=seed)
        check_same_sparse(mem, dist)
        labels[seed] = dist.labels_
    # half of the 96 tasks are ties: the seed decides them
    assert (labels[1] != labels[2]).sum() > 5


def _real(name, client):
    import pandas as pd
    from _data import require_datasets

    folder = require_datasets()
    if not (folder / name / "votes.csv").is_file():
        pytest.skip(f"{name} is absent")
    return _encode(pd.read_csv(folder / name / "votes.csv"), client)


@pytest.mark.parametrize("name", ["bluebirds", "zheng_sentiment", "labelme"])
def test_real_sets(client, name):
    votes, enc = _real(name, client)
    mem = make_strategy("DS[sparse=True]", random_state=0).fit(votes)
    check_same_sparse(mem, aggregate(enc, "DS[sparse=True]", client=client, random_state=0))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["music_genre", "rte", "web_relevance", "zheng_relevance"])
def test_more_real_sets(client, name):
    votes, enc = _real(name, client)
    for spec in ("DS[sparse=True]", "DS[sparse=True,tie=smallest,accelerate=False]"):
        mem = make_strategy(spec, random_state=0).fit(votes)
        check_same_sparse(mem, aggregate(enc, spec, client=client, random_state=0))


@pytest.mark.slow
def test_a_worker_killed_mid_fit_does_not_change_the_result(tmp_path):
    """The blocks' patterns and posteriors are recomputed from the parts when a worker dies."""
    import os
    import signal

    from distributed import Client, LocalCluster

    from crowdwise.aggregate import fit_progress

    df = simulated_crowd(seed=11)
    parts = tmp_path / "parts"
    parts.mkdir()
    for i in range(3):
        df.iloc[i::3].to_parquet(parts / f"part-{i}.parquet")
    mem = make_strategy("DS[sparse=True]", random_state=0).fit(from_dataframe(df))
    killed = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=50) as cluster, Client(cluster) as c:

        def kill_one(iteration, total, objective):
            if iteration == 2 and not killed:
                address, pid = sorted(c.run(os.getpid).items())[0]
                os.kill(pid, signal.SIGKILL)
                killed.append(address)

        with fit_progress(kill_one):
            dist = aggregate(parts, "DS[sparse=True]", client=c, random_state=0)
        assert killed
        check_same_sparse(mem, dist)
