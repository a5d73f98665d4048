"""WDS: the weighted-vote rule against a hand loop, fallback rows, accuracy on data from the
Dawid-Skene model, predict on new votes, partial_fit."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import WDS, DawidSkene, MajorityVote

from .test_dawid_skene import ds_crowd, split_votes


def reference_wds(votes: Votes, confusions: np.ndarray) -> np.ndarray:
    """peerannot's rule written as a loop over votes."""
    out = np.zeros((votes.n_tasks, votes.n_classes))
    for t, w, lab in zip(votes.task, votes.worker, votes.label):
        out[t, lab] += confusions[w, lab, lab]
    return out / out.sum(axis=1, keepdims=True)


def test_rule_is_the_diagonal_weighted_vote_of_the_ds_fit():
    votes, _, _ = ds_crowd(n_tasks=400, seed=11)
    m = WDS(prior=0.5, tie="smallest").fit(votes)
    ds = DawidSkene(prior=0.5, tie="smallest").fit(votes)
    np.testing.assert_allclose(m.confusions_, ds.confusions_)
    np.testing.assert_allclose(m.ds_probas_, ds.probas_)
    np.testing.assert_allclose(m.probas_, reference_wds(votes, m.confusions_), atol=1e-12)
    np.testing.assert_array_equal(m.labels_, m.probas_.argmax(axis=1))
    # the soft label lives on the voted classes only
    assert np.all(m.probas_[votes.counts().toarray() == 0] == 0)


def test_likelihood_of_the_underlying_ds_never_decreases():
    votes, _, _ = ds_crowd(n_tasks=600, seed=12)
    ll = np.array(WDS(tol=1e-12, max_iter=200).fit(votes).log_likelihood_)
    assert ll.size > 3 and np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:]))


def test_accuracy_at_least_mv_and_confusions_recovered_on_the_ds_model():
    votes, truth, conf = ds_crowd(n_tasks=3000, seed=13)
    m = WDS(tie="smallest").fit(votes)
    mv = MajorityVote(tie="smallest").fit(votes)
    assert np.mean(m.labels_ == truth) >= np.mean(mv.labels_ == truth)
    # as in test_dawid_skene: >= 300 votes per confusion row, s.e. <= 0.029; the largest of
    # the 108 entry errors is ~3 s.e., so 0.1 (3.5 s.e.) for the max and 0.02 for the mean
    err = np.abs(m.confusions_ - conf)
    assert err.max() < 0.1 and err.mean() < 0.02


def test_voters_without_weight_fall_back_to_vote_shares():
    # with prior=0, worker "z" always contradicts a and b: its diagonal goes to 0 (exactly
    # for class 0), and a task z votes on alone keeps z's vote (peerannot: a zero row)
    t = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4]
    w = ["a", "b", "z"] * 4 + ["z"]
    lab = [0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1]
    votes = Votes.from_records(t, w, lab, n_classes=2)
    m = WDS(tie="smallest").fit(votes)
    z = list(votes.worker_ids).index("z")
    assert m.confusions_[z, 0, 0] == 0.0 and m.confusions_[z, 1, 1] < 1e-5
    np.testing.assert_allclose(m.probas_[4], [0.0, 1.0])
    lone = Votes.from_records(["new"], ["z"], [0], n_classes=2)  # weight exactly 0
    np.testing.assert_allclose(m.predict_proba(lone), [[1.0, 0.0]])
    np.testing.assert_allclose(m.probas_.sum(axis=1), 1.0)


def test_predict_proba_on_new_votes_uses_the_fitted_diagonals():
    votes, _, _ = ds_crowd(n_tasks=500, seed=14)
    m = WDS().fit(votes)
    w0, w1 = votes.worker_ids[:2]
    new = Votes.from_records(["x", "x", "y"], [w0, w1, "stranger"], [0, 1, 2], n_classes=3)
    P = m.predict_proba(new)
    d0, d1 = m.confusions_[0, 0, 0], m.confusions_[1, 1, 1]
    np.testing.assert_allclose(P[0], [d0 / (d0 + d1), d1 / (d0 + d1), 0.0])
    np.testing.assert_allclose(P[1], [0.0, 0.0, 1.0])


def test_partial_fit_matches_a_cold_fit_on_all_votes():
    # smoothing (prior > 0) gives EM a single optimum here; with prior=0 this crowd has
    # several, and a warm start may stop at another one than the cold start
    votes, _, _ = ds_crowd(n_tasks=1500, seed=15)
    old, new = split_votes(votes, 0.85, seed=2)
    cold = WDS(tol=1e-12, max_iter=500, prior=0.5, tie="smallest").fit(votes)
    warm = WDS(tol=1e-12, max_iter=500, prior=0.5, tie="smallest").fit(old).partial_fit(new)
    assert warm.n_iter_ < cold.n_iter_  # 21 vs 31
    np.testing.assert_allclose(warm.log_likelihood_[-1], cold.log_likelihood_[-1], rtol=1e-9)
    pos = {t: i for i, t in enumerate(warm.task_ids_)}
    np.testing.assert_allclose(warm.probas_[[pos[t] for t in cold.task_ids_]], cold.probas_, atol=1e-3)


def test_wds_takes_no_sparse_parameter():
    # WDS has no sparse mode: it does not take the parameter (agginfo lists the signature)
    assert "sparse" not in WDS._param_names() and "sparse" in DawidSkene._param_names()
    with pytest.raises(TypeError):
        WDS(sparse=True)


def test_a_vote_for_a_class_its_worker_never_met_weighs_1_over_k_in_fit_and_predict():
    # e answers 2 only on task 0, where a's answer 0 rules class 2 out: e never meets class
    # 2 (n_e2 = 0). DS rules class 2 out for e's answers; its reported row is uniform, so
    # e's vote weighs 1/K, in the fit and in predict_proba alike
    t = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4]
    w = ["a", "b", "c", "e", "a", "b", "c", "a", "b", "d", "a", "b", "b", "d"]
    lab = [0, 0, 0, 2, 0, 0, 0, 1, 1, 2, 1, 2, 2, 2]
    votes = Votes.from_records(t, w, lab, n_classes=3)
    m = WDS(tie="smallest").fit(votes)
    e = list(votes.worker_ids).index("e")
    assert m.never_met_[e, 2]
    np.testing.assert_array_equal(m.confusions_[e, 2], [1 / 3] * 3)
    np.testing.assert_allclose(m.probas_, reference_wds(votes, m.confusions_), atol=1e-12)
    np.testing.assert_allclose(m.predict_proba(votes), m.probas_, atol=1e-12)
