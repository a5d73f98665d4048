"""Dawid-Skene: monotone EM, parameter recovery on data from the model, gold clamping,
memory budget, predict on new votes."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import DawidSkene, MajorityVote
from crowdwise.errors import TooLargeError


def ds_crowd(n_tasks=3000, n_workers=12, k=3, per_task=6, seed=0):
    """Votes drawn from the DS model itself, with known confusions."""
    rng = np.random.default_rng(seed)
    conf = rng.dirichlet(np.ones(k) * 0.6, size=(n_workers, k))
    # make each row diagonally dominant: add mass on the diagonal
    conf = 0.5 * conf + 0.5 * np.eye(k)[None]
    prior = np.array([0.5, 0.3, 0.2])[:k]
    truth = rng.choice(k, size=n_tasks, p=prior / prior.sum())
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.ravel()
    cdf = np.cumsum(conf[worker, truth[task]], axis=1)
    label = (rng.random(task.size)[:, None] > cdf).sum(axis=1)
    votes = Votes.from_records(task, worker, np.minimum(label, k - 1), n_classes=k)
    return votes, truth, conf


def test_log_likelihood_never_decreases():
    votes, _, _ = ds_crowd(n_tasks=800, seed=1)
    for prior in (0.0, 0.5):
        ds = DawidSkene(max_iter=200, tol=1e-12, prior=prior).fit(votes)
        ll = np.array(ds.log_likelihood_)
        assert ll.size > 3
        assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:])), np.diff(ll).min()


def test_recovers_truth_and_confusions_from_its_own_model():
    votes, truth, conf = ds_crowd()
    ds = DawidSkene(tie="smallest").fit(votes)
    mv = MajorityVote(tie="smallest").fit(votes)
    acc_ds = np.mean(ds.labels_ == truth)
    assert acc_ds >= np.mean(mv.labels_ == truth)
    assert ds.converged_
    # each worker answers ~1500 tasks, so each confusion row rests on >= 300 votes: the
    # binomial standard error is <= sqrt(.25/300) = 0.029; allow 0.06 (about 2 s.e.)
    assert np.abs(ds.confusions_ - conf).max() < 0.06
    np.testing.assert_allclose(ds.priors_, [0.5, 0.3, 0.2], atol=0.03)


def test_gold_labels_are_clamped():
    votes, truth, _ = ds_crowd(n_tasks=300, seed=2)
    gold = {int(t): int((truth[i] + 1) % 3) for i, t in enumerate(votes.task_ids[:20])}  # deliberately wrong
    ds = DawidSkene(tie="smallest").fit(votes, gold=gold)
    assert ds.labels_[:20].tolist() == list(gold.values())
    np.testing.assert_allclose(ds.probas_[:20].max(axis=1), 1.0)


def test_memory_budget_refuses_with_alternatives():
    votes = Votes.from_records([0, 1], [0, 1], [0, 1], n_classes=2000)
    with pytest.raises(TooLargeError, match=r"memory budget.*MV, NaiveSoft, WAWA"):
        DawidSkene(memory_budget=1e6).fit(votes)


def test_predict_proba_on_new_votes_uses_fitted_confusions():
    votes, truth, _ = ds_crowd(n_tasks=1000, seed=3)
    ds = DawidSkene().fit(votes)
    # a new task answered by worker 0 only: posterior = prior * conf[0][:, label], normalised
    new = Votes.from_records(["new"], [votes.worker_ids[0]], [1], n_classes=3)
    expected = ds.priors_ * ds.confusions_[0][:, 1]
    np.testing.assert_allclose(ds.predict_proba(new)[0], expected / expected.sum())
