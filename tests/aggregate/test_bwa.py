"""BWA: one round by hand, the authors' per-class loop written densely (each class with
its own stopping test), the published accuracies, scores of new votes, the memory check."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import BWA
from crowdwise.errors import InputError, TooLargeError

from ._crowd import make_crowd


def V(task, worker, label, **kw):
    return Votes.from_records(task, worker, label, **kw)


def test_one_round_by_hand():
    # t0: a 0, b 0 ; t1: a 1, b 0 ; K = 2. Shares z0: t0 (1, 0), t1 (1/2, 1/2);
    # b_k = 15 * 4 (1 - 1/2) * (2 * 0 + 2 * 1/4) / 4 = 3.75 for both classes.
    # mu = (3/4, 1/4); every worker has one residual of 1/4 per class:
    # v = (15 + 2) / (3.75 + 0.25) = 4.25 ; then z_ik = (mu_k + sum_j v y) / (1 + 8.5)
    v = V(["t0", "t0", "t1", "t1"], ["a", "b", "a", "b"], [0, 0, 1, 0], n_classes=2)
    m = BWA(max_iter=1, tie="smallest").fit(v)
    np.testing.assert_allclose(m.prior_scale_, [3.75, 3.75])
    np.testing.assert_allclose(m.precisions_, np.full((2, 2), 4.25))
    np.testing.assert_allclose(m.class_means_, [0.75, 0.25])
    np.testing.assert_allclose(m.scores_, np.array([[9.25, 0.25], [5.0, 4.5]]) / 9.5)
    np.testing.assert_allclose(m.probas_, m.scores_ / m.scores_.sum(axis=1, keepdims=True))
    assert m.labels_.tolist() == [0, 0]
    assert m.n_iter_.tolist() == [1, 1] and not m.converged_


def authors_loop(votes: Votes, a_v=15.0, lam=1.0, tol=1e-3, max_iter=500):
    """The per-class loop of the authors' ``bwa.py`` (dense, one class at a time)."""
    n, w, k = votes.n_tasks, votes.n_workers, votes.n_classes
    exists = np.zeros((n, w))
    exists[votes.task, votes.worker] = 1.0
    n_i, n_j = exists.sum(axis=1), exists.sum(axis=0)
    z_all, iters = np.zeros((n, k)), np.zeros(k, int)
    for c in range(k):
        y = np.zeros((n, w))
        y[votes.task[votes.label == c], votes.worker[votes.label == c]] = 1.0
        z = y.sum(axis=1) / n_i
        b = a_v * (n_i @ (z * (1 - z))) / exists.sum() * 4 * (1 - 1 / k)
        for it in range(1, max_iter + 1):
            last = z.copy()
            mu = z.mean()
            v = (a_v + n_j) / (b + ((exists * z[:, None] - y) ** 2).sum(axis=0))
            z = (lam * mu + y @ v) / (lam + exists @ v)
            if np.allclose(last, z, rtol=tol):
                break
        z_all[:, c], iters[c] = z, it
    return z_all, iters


@pytest.mark.parametrize("seed,k", [(0, 2), (1, 3), (2, 5)])
def test_the_authors_loop(seed, k):
    votes, _ = make_crowd(n_tasks=150, n_workers=20, n_classes=k, per_task=4, seed=seed, accuracy=(0.3, 0.9))
    z, iters = authors_loop(votes)
    m = BWA().fit(votes)
    np.testing.assert_allclose(m.scores_, z, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(m.n_iter_, iters)  # each class stopped by its own test
    if (seed, k) == (1, 3):  # a crowd whose classes stop at different rounds
        assert len(set(iters.tolist())) > 1


def test_repeated_votes_count_once_shared_between_their_classes():
    once = V(["t0", "t0", "t1", "t1", "t2", "t2"], ["a", "b", "a", "b", "a", "b"], [0, 0, 1, 0, 1, 1], n_classes=2)
    twice = V(["t0", "t0", "t0", "t1", "t1", "t2", "t2"], ["a", "a", "b", "a", "b", "a", "b"],
              [0, 0, 0, 1, 0, 1, 1], n_classes=2)
    np.testing.assert_allclose(BWA().fit(twice).scores_, BWA().fit(once).scores_)


def test_classes_nobody_voted_for_and_tasks_without_vote():
    v = V(["t0", "t0", "t1", "t1", "t2"], ["a", "b", "a", "b", "a"], [0, 0, 1, 0, 1], classes=[0, 1, 2],
          task_ids=["t0", "t1", "t2", "t3"])
    m = BWA().fit(v)
    assert np.all(m.scores_[:, 2] == 0) and m.n_iter_[2] == 0
    np.testing.assert_allclose(m.scores_[3], [m.class_means_[0], m.class_means_[1], 0.0])  # its prior mean


def test_unanimous_votes_keep_their_shares():
    # every task unanimous: b = 0 for both classes, the shares are the answer
    v = V(["t0", "t0", "t1", "t1"], ["a", "b", "a", "b"], [0, 0, 1, 1], n_classes=2)
    m = BWA().fit(v)
    np.testing.assert_allclose(m.probas_, [[1, 0], [0, 1]])
    assert m.converged_


def test_predict_uses_fitted_precisions_and_the_prior_for_unknown_workers():
    votes, _ = make_crowd(n_tasks=100, n_workers=10, n_classes=3, per_task=4, seed=3)
    m = BWA().fit(votes)
    np.testing.assert_allclose(m.predict_proba(votes), m.probas_, atol=1e-12)
    new = Votes.from_records(["n", "n"], [votes.worker_ids[0], "stranger"], [m.classes_[1], m.classes_[2]],
                             classes=m.classes_)
    v0, prior = m.precisions_[0], 15.0 / m.prior_scale_
    num = np.array([0.0, v0[1], prior[2]])
    z = (m.class_means_ + num) / (1.0 + v0 + prior)
    np.testing.assert_allclose(m.predict_proba(new), [z / z.sum()])


def test_memory_check_and_bad_parameters():
    v = V(["t0", "t1"], ["a", "a"], [0, 1], n_classes=2)
    with pytest.raises(TooLargeError, match="MV, WAWA"):
        BWA(memory_budget=10).fit(v)
    for bad in ({"a_v": 0}, {"lam": -1}, {"max_iter": 0}, {"tol": float("nan")}, {"prior_correction": "yes"}):
        with pytest.raises(InputError):
            BWA(**bad).fit(v)


#: Li, Rubinstein & Cohn (WWW 2019), the authors' notebook test_bwa.ipynb
PUBLISHED = {"zheng_product": 0.919423, "zheng_sentiment": 0.956, "zheng_face": 0.618151, "adult_content2": 0.741742,
             "bluebirds": 0.759259, "zheng_dog": 0.831475, "rte": 0.9275, "web_relevance": 0.822465,
             "weather_sentiment_amt": 0.86, "music_genre": 0.785714, "sentiment_polarity": 0.916983}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_accuracy(name):
    from _data import require_datasets

    from crowdwise.evaluate.benchmark import load_benchmark_data

    folder = require_datasets() / name
    if not (folder / "votes.csv").is_file():
        pytest.skip(f"{name} not found in {folder.parent}")
    d = load_benchmark_data(folder)
    m = BWA(tie="smallest").fit(d.votes)
    ok = d.truth >= 0
    assert np.mean(m.labels_[ok] == d.truth[ok]) == pytest.approx(PUBLISHED[name], abs=5e-5)
