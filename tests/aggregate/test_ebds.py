"""EBDS: Dawid-Skene with an empirical-Bayes (population) prior and leave-one-out updates."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import EBDS, DawidSkene, MajorityVote
from crowdwise.aggregate.ebds import population_confusion
from crowdwise.errors import InputError


def _sparse_crowd(seed: int, n_tasks: int = 400, k: int = 3, n_workers: int = 800, per_task: int = 5):
    """Many workers with a handful of votes (Zipf activity), accuracies Beta(2, 2)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n_tasks)
    activity = 1.0 / np.arange(1, n_workers + 1)
    activity /= activity.sum()
    acc = rng.beta(2, 2, n_workers)
    task = np.repeat(np.arange(n_tasks), per_task)
    gumbel = np.log(activity)[None, :] + rng.gumbel(size=(n_tasks, n_workers))
    worker = np.argpartition(-gumbel, per_task, axis=1)[:, :per_task].ravel()
    right = rng.random(task.size) < acc[worker]
    wrong = (truth[task] + rng.integers(1, k, task.size)) % k
    label = np.where(right, truth[task], wrong)
    return Votes.from_records(task, worker, label, n_classes=k), truth


def _update_by_hand(votes: Votes, T: np.ndarray, s: float) -> np.ndarray:
    """One leave-one-out update written with loops over the votes (the module docstring's formulas)."""
    k = votes.n_classes
    S = np.zeros((votes.n_workers, k, k))
    for i, j, l in zip(votes.task, votes.worker, votes.label):
        S[j, :, l] += T[i]
    q = (sum(S[j, c, c] for j in range(votes.n_workers) for c in range(k)) + 1) / (votes.n_votes + 2)
    m = np.full((k, k), (1 - q) / (k - 1))
    np.fill_diagonal(m, q)
    rho = T.sum(axis=0) / T.sum()
    out = np.zeros_like(T)
    for i in range(votes.n_tasks):
        logp = np.log(rho)
        for v in np.flatnonzero(votes.task == i):
            j, l = votes.worker[v], votes.label[v]
            for c in range(k):
                a = S[j, c, l] - T[i, c] + s * m[c, l]
                b = S[j, c].sum() - T[i, c] + s
                logp[c] += np.log(a / b)
        p = np.exp(logp - logp.max())
        out[i] = p / p.sum()
    return out


def test_one_update_matches_the_formulas_written_by_hand():
    v = Votes.from_records([0, 0, 0, 1, 1, 2, 2, 2, 3], ["a", "b", "c", "a", "b", "a", "c", "d", "d"],
                           [0, 0, 1, 1, 1, 2, 2, 0, 2], n_classes=3)
    model = EBDS(strength=3.0)
    ctx = model._context(v)
    T0 = np.array([[.6, .3, .1], [.2, .7, .1], [.3, .1, .6], [.2, .2, .6]])
    params = model._m_step(v, ctx, T0)
    T1, _ = model._e_step(v, ctx, params, T0)
    np.testing.assert_allclose(T1, _update_by_hand(v, T0, 3.0), rtol=1e-12)


def test_a_lone_one_vote_worker_is_read_through_the_population():
    # task 2 has one vote, by a worker who gave no other: the term is m_k[l] exactly
    v = Votes.from_records([0, 0, 0, 1, 1, 1, 2], ["a", "b", "c", "a", "b", "c", "z"], [0, 0, 0, 1, 1, 0, 1],
                           n_classes=2)
    model = EBDS().fit(v)
    m = population_confusion(model.population_accuracy_, 2)
    expect = model.priors_ * m[:, 1]
    np.testing.assert_allclose(model.probas_[2], expect / expect.sum(), rtol=1e-9)


def test_repeated_votes_use_the_gamma_ratio():
    # a worker voting twice for one label on a task: the product of the two successive
    # predictive terms, (a (a + 1)) / (b (b + 1)), not the square of one
    v = Votes.from_records([0, 0, 0, 1, 1], ["a", "a", "b", "a", "b"], [1, 1, 1, 0, 0], n_classes=2)
    model = EBDS(strength=2.0)
    ctx = model._context(v)
    T0 = np.array([[.3, .7], [.8, .2]])
    params = model._m_step(v, ctx, T0)
    T1, _ = model._e_step(v, ctx, params, T0)
    S_a = np.zeros((2, 2))
    S_a[:, 1] += 2 * T0[0]
    S_a[:, 0] += T0[1]
    q = params.accuracy
    m = population_confusion(q, 2)
    a = S_a[:, 1] - 2 * T0[0] + 2.0 * m[:, 1]
    b = S_a.sum(axis=1) - 2 * T0[0] + 2.0
    term_a = a * (a + 1) / (b * (b + 1))
    S_b = np.array([[T0[0, 0], T0[1, 0]], [T0[0, 1], T0[1, 1]]])  # rows: true class; cols: label 1 (task 0), 0 (task 1)
    a_b = S_b[:, 0] - T0[0] + 2.0 * m[:, 1]
    b_b = S_b.sum(axis=1) - T0[0] + 2.0
    p = params.priors * term_a * (a_b / b_b)
    np.testing.assert_allclose(T1[0], p / p.sum(), rtol=1e-10)


def test_converges_and_stops_on_the_posteriors():
    v, _ = _sparse_crowd(0)
    model = EBDS().fit(v)
    assert model.converged_ and model.n_iter_ < model.max_iter
    ctx = model._context(v)
    again, _ = model._e_step(v, ctx, model._m_step(v, ctx, model.probas_), model.probas_)
    # one more update moves no posterior by much more than tol
    assert np.abs(again - model.probas_).max() < 1e-4
    assert len(model.log_likelihood_) == model.n_iter_


def test_beats_ds_and_majority_vote_on_sparse_crowds():
    gains_mv, gains_ds = [], []
    for seed in range(3):
        v, truth = _sparse_crowd(seed)
        eb = np.mean(EBDS(random_state=0).fit(v).labels_ == truth)
        mv = np.mean(MajorityVote(random_state=0).fit(v).labels_ == truth)
        ds = np.mean(DawidSkene(random_state=0).fit(v).labels_ == truth)
        gains_mv.append(eb - mv)
        gains_ds.append(eb - ds)
    assert min(gains_mv) > 0.0 and np.mean(gains_mv) > 0.03, gains_mv
    assert np.mean(gains_ds) > 0.03, gains_ds


def test_an_infinitely_strong_prior_is_the_pooled_one_coin_vote():
    # every worker reads through the population: T_ik ∝ rho_k (q / ((1 - q) / (K - 1)))^(votes for k),
    # so the labels are the majority vote's wherever the majority is strict and rho nearly uniform
    v, _ = _sparse_crowd(1, k=3)
    model = EBDS(strength=1e9).fit(v)
    counts = v.counts().toarray() if hasattr(v.counts(), "toarray") else np.asarray(v.counts())
    top = np.sort(counts, axis=1)
    strict = top[:, -1] - top[:, -2] >= 2
    np.testing.assert_array_equal(model.labels_[strict], counts[strict].argmax(axis=1))


def test_predict_proba_of_an_unseen_worker_uses_the_population():
    v, _ = _sparse_crowd(2)
    model = EBDS().fit(v)
    new = Votes.from_records([0], ["never seen"], [1], classes=v.classes)
    m = model.population_confusion_
    expect = model.priors_ * m[:, 1]
    np.testing.assert_allclose(model.predict_proba(new)[0], expect / expect.sum(), rtol=1e-9)


def test_confusions_are_the_posterior_means():
    v, _ = _sparse_crowd(3)
    model = EBDS(strength=4.0).fit(v)
    np.testing.assert_allclose(model.confusions_.sum(axis=2), 1.0)
    # a worker without votes would be the population; a one-vote worker is close to it
    one = np.flatnonzero(v.votes_per_worker() == 1)[0]
    assert np.abs(model.confusions_[one] - model.population_confusion_).max() <= 1.0 / (1.0 + 4.0) + 1e-12


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_strength_must_be_positive(bad):
    v, _ = _sparse_crowd(0)
    with pytest.raises(InputError, match="strength"):
        EBDS(strength=bad).fit(v)


def test_ds_prior_auto_points_to_ebds():
    from crowdwise.aggregate import make_strategy

    with pytest.raises(InputError, match="use the strategy EBDS"):
        make_strategy("DS[prior=auto]")
