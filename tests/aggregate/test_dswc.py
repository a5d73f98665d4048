"""DSWC: monotone ELBO (checked against a dense formula), L = 1 is Dawid-Skene with one
shared confusion, recovery of clusters and confusions on data from its own model, the
k-means start, predict on new votes, gold, partial_fit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.special import xlogy

from crowdwise import Votes
from crowdwise.aggregate import DSWC, DawidSkene, MajorityVote, make_strategy
from crowdwise.aggregate.dswc import kmeans_confusions


def clustered_crowd(n_tasks=3000, n_workers=60, L=3, k=3, per_task=5, seed=0):
    """Votes drawn from the worker-clustering model (vectorised)."""
    rng = np.random.default_rng(seed)
    eye = np.eye(k)
    lam = np.stack([
        0.85 * eye + 0.15 / k,                                   # experts
        0.45 * eye + 0.55 * rng.dirichlet(np.ones(k), size=k),   # noisy, class-dependent
        0.9 * np.roll(eye, 1, axis=1) + 0.1 / k,                 # confused: answer the next class
    ][:L])
    lam /= lam.sum(axis=2, keepdims=True)
    z = np.arange(n_workers) % L
    prior = np.full(k, 1.0 / k)
    truth = rng.integers(0, k, n_tasks)
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.ravel()
    cdf = np.cumsum(lam[z[worker], truth[task]], axis=1)
    label = np.minimum((rng.random(task.size)[:, None] > cdf).sum(axis=1), k - 1)
    return Votes.from_records(task, worker, label, n_classes=k), truth, lam, z, prior


def dense_elbo(votes, theta, phi, rho, tau, lam, prior=0.0):
    """The ELBO written term by term with explicit (n_votes, K, L) arrays."""
    voted_t = np.unique(votes.task)
    voted_w = np.unique(votes.worker)
    th, ph = theta[voted_t], phi[voted_w]
    with np.errstate(divide="ignore"):
        log_lam = np.log(lam)  # (L, K, K)
    cross = np.einsum("vk,vl,lkv->", theta[votes.task], phi[votes.worker],
                      np.where(np.isinf(log_lam), 0.0, log_lam)[:, :, votes.label])
    value = (np.sum(xlogy(th, rho)) - np.sum(xlogy(th, th)) + np.sum(xlogy(ph, tau)) - np.sum(xlogy(ph, ph))
             + cross)
    return value + (prior * np.log(lam).sum() if prior > 0 else 0.0)


@pytest.mark.parametrize("L,prior", [(2, 0.0), (3, 0.0), (3, 0.5)])
def test_elbo_never_decreases_and_matches_the_dense_formula(L, prior):
    votes, *_ = clustered_crowd(n_tasks=600, n_workers=24, seed=1)
    m = DSWC(L=L, prior=prior, tol=1e-12, max_iter=300, random_state=0).fit(votes)
    elbo = np.array(m.log_likelihood_)
    assert elbo.size > 3
    assert np.all(np.diff(elbo) >= -1e-9 * np.abs(elbo[1:])), np.diff(elbo).min()
    dense = dense_elbo(votes, m.probas_, m.memberships_, m.priors_, m.cluster_priors_, m.cluster_confusions_,
                       prior)
    # the fitted state is one more ascent step on theta after the last recorded value
    assert dense >= elbo[-1] - 1e-9 * abs(elbo[-1])
    np.testing.assert_allclose(dense, elbo[-1], rtol=1e-8)


def test_one_cluster_is_dawid_skene_with_one_shared_confusion():
    votes, *_ = clustered_crowd(n_tasks=500, n_workers=20, seed=2)
    m = DSWC(L=1, tol=1e-12, max_iter=500).fit(votes)
    pooled = Votes.from_records(votes.task, np.zeros(votes.n_votes, int), votes.label, n_classes=votes.n_classes)
    ds = DawidSkene(tol=1e-12, max_iter=500, accelerate=False).fit(pooled)  # the same plain EM path
    np.testing.assert_allclose(m.cluster_confusions_[0], ds.confusions_[0], atol=1e-6)
    np.testing.assert_allclose(m.probas_, ds.probas_, atol=1e-6)
    # with one cluster the bound is tight: the ELBO is the observed log-likelihood
    np.testing.assert_allclose(m.log_likelihood_[-1], ds.log_likelihood_[-1], rtol=1e-9)


def test_recovers_clusters_and_confusions_from_its_own_model():
    votes, truth, lam, z, prior = clustered_crowd()
    m = DSWC(L=3, random_state=0, tie="smallest").fit(votes)
    mv = MajorityVote(tie="smallest").fit(votes)
    assert m.converged_
    assert np.mean(m.labels_ == truth) >= np.mean(mv.labels_ == truth) + 0.05  # the confused cluster
    # clusters are found up to a relabelling: take the best permutation
    z_fit = m.clusters_[np.argsort(votes.worker_ids)]
    best = max(itertools.permutations(range(3)), key=lambda p: np.mean(np.array(p)[z] == z_fit))
    assert np.mean(np.array(best)[z] == z_fit) == 1.0
    # each cluster answers 3000 * 5 / 3 = 5000 votes, each confusion row >= 1500: the s.e.
    # of an entry is <= sqrt(.25 / 1500) = 0.013; the largest of 27 entries within 0.05
    assert np.abs(m.cluster_confusions_[list(best)] - lam).max() < 0.05
    np.testing.assert_allclose(m.priors_, prior, atol=0.03)
    np.testing.assert_allclose(m.cluster_priors_[list(best)], [1 / 3] * 3, atol=0.02)


def test_kmeans_start_separates_obvious_groups_and_is_seeded():
    votes, _, _, z, _ = clustered_crowd(n_tasks=1500, n_workers=30, seed=3)
    a = kmeans_confusions(votes, 3, np.random.default_rng(0))
    b = kmeans_confusions(votes, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    z_fit = a[np.argsort(votes.worker_ids)]
    # the same partition as the truth (up to relabelling)
    pairs_true = z[:, None] == z[None, :]
    pairs_fit = z_fit[:, None] == z_fit[None, :]
    assert np.mean(pairs_true == pairs_fit) > 0.95
    assert np.all(kmeans_confusions(votes, 1, np.random.default_rng(0)) == 0)


def test_more_clusters_than_distinct_workers():
    votes = Votes.from_records([0, 0, 1, 1], ["a", "b", "a", "b"], [0, 0, 1, 1], n_classes=2)
    m = DSWC(L=5, random_state=0, tie="smallest").fit(votes)
    assert np.all(np.isfinite(m.probas_)) and m.labels_.tolist() == [0, 1]
    np.testing.assert_allclose(m.cluster_priors_.sum(), 1.0)


def test_registry_spec_and_predict_on_new_votes():
    votes, *_ = clustered_crowd(n_tasks=400, n_workers=12, seed=4)
    m = make_strategy("DSWC[L=3]", random_state=0).fit(votes)
    assert m.L == 3 and m.cluster_confusions_.shape == (3, 3, 3)
    np.testing.assert_allclose(m.predict_proba(votes), m.probas_, atol=1e-12)
    new = Votes.from_records(["x"], ["stranger"], [2], n_classes=3)
    lam, tau = m.cluster_confusions_, m.cluster_priors_
    expected = m.priors_ * np.exp(np.einsum("l,lk->k", tau, np.log(lam[:, :, 2])))
    np.testing.assert_allclose(m.predict_proba(new)[0], expected / expected.sum())


def test_gold_and_partial_fit():
    votes, truth, *_ = clustered_crowd(n_tasks=1500, n_workers=30, seed=5)
    gold = {int(t): int((truth[i] + 1) % 3) for i, t in enumerate(votes.task_ids[:10])}
    g = DSWC(L=3, random_state=0, tie="smallest").fit(votes, gold=gold)
    assert g.labels_[:10].tolist() == list(gold.values())
    assert np.all(np.diff(g.log_likelihood_) >= -1e-9 * np.abs(np.array(g.log_likelihood_[1:])))
    rng = np.random.default_rng(0)
    first = rng.random(votes.n_votes) < 0.9
    old, new = votes.take(first, compact=True), votes.take(~first, compact=True)
    cold = DSWC(L=3, random_state=0, tol=1e-10, max_iter=500, tie="smallest").fit(votes)
    warm = DSWC(L=3, random_state=0, tol=1e-10, max_iter=500, tie="smallest").fit(old).partial_fit(new)
    assert warm.converged_ and warm.n_iter_ < cold.n_iter_
    np.testing.assert_allclose(warm.log_likelihood_[-1], cold.log_likelihood_[-1], rtol=1e-7)
    pos = {t: i for i, t in enumerate(warm.task_ids_)}
    np.testing.assert_allclose(warm.probas_[[pos[t] for t in cold.task_ids_]], cold.probas_, atol=1e-3)


def test_bad_parameters_are_refused():
    votes, *_ = clustered_crowd(n_tasks=20, n_workers=6, seed=6)
    for kw in ({"L": 0}, {"L": 1.5}, {"L": "five"}, {"init": "kmeans"}):
        with pytest.raises(ValueError):
            DSWC(**kw).fit(votes)
