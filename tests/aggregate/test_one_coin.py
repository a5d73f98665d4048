"""One-coin Dawid-Skene: exact against a dense reference, monotone EM, parameter recovery
on data from its own model, sparse posterior at large K, gold, partial_fit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from crowdwise import Votes
from crowdwise.aggregate import MajorityVote, OneCoinDS
from crowdwise.aggregate._em import safe_log


def one_coin_crowd(n_tasks=4000, n_workers=30, k=5, per_task=5, seed=0, acc=(0.35, 0.9)):
    """Votes drawn from the one-coin model itself (vectorised), with known accuracies."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(*acc, n_workers)
    prior = rng.dirichlet(np.full(k, 5.0))
    truth = rng.choice(k, size=n_tasks, p=prior)
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.ravel()
    right = rng.random(task.size) < p[worker]
    wrong = (truth[task] + rng.integers(1, k, task.size)) % k
    label = np.where(right, truth[task], wrong)
    return Votes.from_records(task, worker, label, n_classes=k), truth, p, prior


def dense_reference(votes: Votes, priors: np.ndarray, acc: np.ndarray):
    """Posterior and log-likelihood from explicit (n_tasks, K) scores: the textbook E-step."""
    k = votes.n_classes
    wrong = np.log1p(-acc) - np.log(k - 1) if k > 1 else np.zeros_like(acc)
    per_vote = np.where(np.arange(k)[None, :] == votes.label[:, None], safe_log(acc)[votes.worker, None],
                        wrong[votes.worker, None])
    L = np.tile(safe_log(priors), (votes.n_tasks, 1))
    np.add.at(L, votes.task, per_vote)
    m = L.max(axis=1, keepdims=True)
    z = np.exp(L - m).sum(axis=1)
    return np.exp(L - m) / z[:, None], float(np.sum(np.log(z) + m.ravel()))


@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # tol=1e-10: max_iter reached on purpose
def test_posterior_and_objective_match_the_dense_e_step():
    votes, *_ = one_coin_crowd(n_tasks=300, k=6, per_task=3, seed=1)
    for prior in (0.0, 1.0):
        m = OneCoinDS(prior=prior, tol=1e-10, probas="full").fit(votes)
        P, ll = dense_reference(votes, m.priors_, m.accuracies_)
        np.testing.assert_allclose(m.probas_, P, atol=1e-12)
        voted = np.bincount(votes.worker, minlength=votes.n_workers) > 0
        a = m.accuracies_[voted]
        log_prior = prior * np.sum(np.log(a) + np.log1p(-a)) if prior > 0 else 0.0
        np.testing.assert_allclose(m.log_likelihood_[-1], ll + log_prior, rtol=1e-12)
        # the M-step fixed point: p_j = (sum_votes T_il + a) / (n_j + 2a)
        t = P[votes.task, votes.label]
        n_j = np.bincount(votes.worker, minlength=votes.n_workers)
        expected = (np.bincount(votes.worker, t, minlength=votes.n_workers) + prior) / (n_j + 2 * prior)
        np.testing.assert_allclose(m.accuracies_, expected, atol=1e-4)
        np.testing.assert_allclose(m.unvoted_mass_,
                                   1 - sparse.csr_array(votes.counts() > 0).multiply(P).sum(axis=1), atol=1e-12)


def test_objective_never_decreases():
    votes, *_ = one_coin_crowd(n_tasks=1500, k=4, seed=2)
    for prior in (0.0, 1.0, 5.0):
        m = OneCoinDS(prior=prior, max_iter=300, tol=1e-13).fit(votes)
        ll = np.array(m.log_likelihood_)
        assert ll.size > 5
        assert np.all(np.diff(ll) >= -1e-10 * np.abs(ll[1:])), np.diff(ll).min()


def test_recovers_accuracies_priors_and_truth_from_its_own_model():
    votes, truth, p, prior = one_coin_crowd()
    m = OneCoinDS(tie="smallest", fit_priors=True).fit(votes)
    mv = MajorityVote(tie="smallest").fit(votes)
    assert m.converged_
    acc_oc, acc_mv = np.mean(m.labels_ == truth), np.mean(mv.labels_ == truth)
    assert acc_oc >= acc_mv + 0.02, (acc_oc, acc_mv)  # weak workers get down-weighted
    # each worker answers ~670 tasks: the binomial s.e. of p_j is <= sqrt(.25/670) = 0.019;
    # 0.06 is ~3 s.e. (the posterior is not the truth, a small extra error)
    assert np.abs(m.accuracies_ - p).max() < 0.06
    # 4000 tasks: s.e. of a class share <= sqrt(.25/4000) = 0.008
    np.testing.assert_allclose(m.priors_, prior, atol=0.03)


def test_voted_form_is_the_full_posterior_restricted_to_the_voted_classes():
    votes, *_ = one_coin_crowd(n_tasks=400, k=7, per_task=3, seed=3)
    full = OneCoinDS(probas="full", tie="smallest").fit(votes)
    voted = OneCoinDS(probas="voted", tie="smallest").fit(votes)
    assert isinstance(full.probas_, np.ndarray) and sparse.issparse(voted.probas_)
    mask = (votes.counts() > 0).toarray()
    restricted = np.where(mask, full.probas_, 0.0)
    restricted /= restricted.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(voted.probas_.toarray(), restricted, atol=1e-12)
    np.testing.assert_allclose(voted.unvoted_mass_, 1 - np.where(mask, full.probas_, 0).sum(axis=1), atol=1e-12)
    np.testing.assert_array_equal(voted.labels_, full.labels_)
    assert voted.probas_.nnz == mask.sum()


def test_label_is_the_exact_argmax_even_when_an_unvoted_class_wins():
    # three good workers agree on 200 tasks; "liar" always votes the next class: its p -> 0,
    # so on a task voted by the liar alone the best class is one nobody voted for
    k, n = 4, 200
    rng = np.random.default_rng(4)
    truth = rng.choice(k, size=n, p=[0.1, 0.6, 0.2, 0.1])
    task = np.concatenate([np.repeat(np.arange(n), 4), [n, n + 1]])
    worker = np.concatenate([np.tile(["g1", "g2", "g3", "liar"], n), ["liar", "liar"]])
    lab = np.repeat(truth, 4)
    lab[3::4] = (truth + 1) % k
    label = np.concatenate([lab, [1, 2]])
    votes = Votes.from_records(task, worker, label, n_classes=k)
    m = OneCoinDS(prior=0.0, tie="smallest", probas="full", fit_priors=True).fit(votes)
    assert m.accuracies_[list(votes.worker_ids).index("liar")] < 1e-6
    np.testing.assert_array_equal(m.labels_, m.probas_.argmax(axis=1))
    assert m.labels_[n] != 1 and m.labels_[n + 1] != 2  # the liar's vote loses
    assert m.labels_[n] == 2 and m.labels_[n + 1] == 1  # the most likely class it did not vote
    sparse_form = OneCoinDS(prior=0.0, tie="smallest", probas="voted", fit_priors=True).fit(votes)
    np.testing.assert_array_equal(sparse_form.labels_, m.labels_)


def test_certain_workers_and_no_nan():
    # prior=0: "a" only votes on unanimous tasks, gets p = 1 exactly, and every class but
    # its vote becomes impossible on its tasks (log p(other) = -inf, handled without NaN)
    votes = Votes.from_records([0, 0, 1, 1, 2, 2, 3], ["a", "b", "a", "b", "b", "c", "c"],
                               [0, 0, 1, 1, 2, 1, 0], n_classes=3)
    for form in ("full", "voted"):
        m = OneCoinDS(prior=0.0, tie="smallest", probas=form).fit(votes)
        P = m.probas_ if form == "full" else m.probas_.toarray()
        assert np.all(np.isfinite(P)) and np.all(np.isfinite(m.log_likelihood_))
        np.testing.assert_allclose(P.sum(axis=1), 1.0)
        assert m.accuracies_[0] == 1.0
        np.testing.assert_array_equal(P[:2], np.eye(3)[:2])
        assert m.unvoted_mass_[:2].tolist() == [0.0, 0.0]
        assert m.labels_[:2].tolist() == [0, 1]


def test_many_classes_stay_sparse_and_fast():
    # K = 5000, 60k votes: the posterior lives on the voted cells only
    rng = np.random.default_rng(5)
    n, k, w = 20_000, 5000, 3000
    truth = rng.integers(0, k, n)
    task = np.repeat(np.arange(n), 3)
    worker = rng.integers(0, w, task.size)
    right = rng.random(task.size) < rng.uniform(0.2, 0.95, w)[worker]
    label = np.where(right, truth[task], rng.integers(0, k, task.size))
    votes = Votes.from_records(task, worker, label, n_classes=k)
    m = OneCoinDS(tie="smallest", random_state=0).fit(votes)  # auto: 1e8 cells -> sparse
    assert sparse.issparse(m.probas_) and m.probas_.nnz <= votes.n_votes
    assert np.mean(m.labels_ == truth) > np.mean(MajorityVote(tie="smallest").fit(votes).labels_ == truth)
    assert m.converged_
    new = votes.take(np.arange(30))
    np.testing.assert_allclose(m.predict_proba(new).toarray()[:10], m.probas_[:10].toarray(), atol=1e-9)


def test_gold_labels_are_clamped_even_on_an_unvoted_class():
    votes, truth, *_ = one_coin_crowd(n_tasks=300, k=5, seed=6)
    voted = (votes.counts() > 0).toarray()
    t0 = int(np.flatnonzero(~voted[0])[0])  # a class nobody voted for on task 0
    gold = {votes.task_ids[0]: t0, votes.task_ids[1]: int(truth[1])}
    for form in ("full", "voted"):
        m = OneCoinDS(tie="smallest", probas=form).fit(votes, gold=gold)
        P = m.probas_ if form == "full" else m.probas_.toarray()
        assert m.labels_[0] == t0 and P[0, t0] == pytest.approx(1.0)
        assert m.unvoted_mass_[0] == 0.0 and m.labels_[1] == truth[1]


def test_partial_fit_warm_start():
    votes, *_ = one_coin_crowd(n_tasks=3000, seed=7)
    rng = np.random.default_rng(0)
    first = rng.random(votes.n_votes) < 0.9
    old, new = votes.take(first, compact=True), votes.take(~first, compact=True)
    cold = OneCoinDS(tol=1e-12, max_iter=500, tie="smallest").fit(votes)
    warm = OneCoinDS(tol=1e-12, max_iter=500, tie="smallest").fit(old).partial_fit(new)
    assert warm.converged_ and warm.n_iter_ < cold.n_iter_
    np.testing.assert_allclose(warm.log_likelihood_[-1], cold.log_likelihood_[-1], rtol=1e-9)
    pos = {w: i for i, w in enumerate(warm.worker_ids_)}
    np.testing.assert_allclose(warm.accuracies_[[pos[w] for w in cold.worker_ids_]], cold.accuracies_, atol=1e-4)


def test_bad_parameters_are_refused():
    votes, *_ = one_coin_crowd(n_tasks=20, seed=8)
    for kw in ({"probas": "dense"}, {"init": "random"}, {"prior": -1}, {"max_iter": 0}):
        with pytest.raises(ValueError):
            OneCoinDS(**kw).fit(votes)


def test_fixed_uniform_priors():
    votes, *_ = one_coin_crowd(n_tasks=500, k=4, seed=9)
    m = OneCoinDS(fit_priors=False, probas="full", tol=1e-10).fit(votes)
    np.testing.assert_array_equal(m.priors_, np.full(4, 0.25))
    P, ll = dense_reference(votes, m.priors_, m.accuracies_)
    np.testing.assert_allclose(m.probas_, P, atol=1e-12)
    assert np.all(np.diff(m.log_likelihood_) >= -1e-10 * np.abs(np.array(m.log_likelihood_[1:])))
