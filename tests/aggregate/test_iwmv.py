"""IWMV: hand-computed weights, peerannot's loop on a crowd without ties, WAWA and MV as its
first steps, weights reused on new votes."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import IWMV, WAWA, MajorityVote, ZeroBasedSkill

from ._crowd import make_crowd


def V(task, worker, label, **kw):
    return Votes.from_records(task, worker, label, **kw)


def peerannot_iwmv(votes: Votes, n_iter: int):
    """peerannot's IWMV.run, written densely: MV, accuracies, then n_iter weighted votes each
    followed by the accuracies (its ties are drawn at random: use crowds without ties)."""
    n, w, k = votes.n_tasks, votes.n_workers, votes.n_classes

    def vote(weight):
        base = np.zeros((n, k))
        np.add.at(base, (votes.task, votes.label), weight[votes.worker])
        top = base == base.max(axis=1, keepdims=True)
        assert np.all(top.sum(axis=1) == 1), "the reference needs a crowd without ties"
        return base.argmax(axis=1), base

    def accuracy(ans):
        hits = np.bincount(votes.worker, weights=votes.label == ans[votes.task], minlength=w)
        return hits / np.bincount(votes.worker, minlength=w)

    ans, base = vote(np.ones(w))
    score = accuracy(ans)
    weights = np.ones(w)
    for _ in range(n_iter):
        weights = score
        ans, base = vote(weights)
        score = accuracy(ans)
    return ans, weights, base / base.sum(axis=1, keepdims=True)


def test_hand_computed():
    # t0: a 0, b 0, c 1 ; t1: a 1, b 1, c 0 ; t2: a 1, c 0 (a 1-1 tie of the majority vote)
    v = V([0, 0, 0, 1, 1, 1, 2, 2], ["a", "b", "c", "a", "b", "c", "a", "c"], [0, 0, 1, 1, 1, 0, 1, 0])
    # beta^1 (against the MV, t2 shared): a = (1 + 1 + 1/2) / 3 = 5/6, b = 1, c = (1/2) / 3 = 1/6
    m1 = IWMV(n_iter=1, tie="smallest").fit(v)
    np.testing.assert_allclose(m1.skills_, [5 / 6, 1.0, 1 / 6])
    np.testing.assert_allclose(m1.probas_[2], [(1 / 6) / 1.0, (5 / 6) / 1.0])
    # beta^2 (against y^1: t2 -> 1): a = 1, b = 1, c = 0 ; then a fixed point
    m = IWMV(tie="smallest").fit(v)
    np.testing.assert_allclose(m.skills_, [1.0, 1.0, 0.0])
    assert m.labels_.tolist() == [0, 1, 1]
    assert m.n_iter_ == 3  # beta^3 = beta^2 is seen at the third step


def test_one_step_is_wawa_and_none_is_the_majority_vote():
    votes, _ = make_crowd(n_tasks=120, n_workers=15, n_classes=3, per_task=4, seed=2)
    w1 = IWMV(n_iter=1, tie="smallest").fit(votes)
    wawa = WAWA(tie="smallest").fit(votes)
    np.testing.assert_allclose(w1.skills_, wawa.skills_)
    np.testing.assert_allclose(w1.probas_, wawa.probas_)
    np.testing.assert_array_equal(w1.labels_, wawa.labels_)
    m0 = IWMV(n_iter=0).fit(votes)
    np.testing.assert_allclose(m0.probas_, MajorityVote().fit(votes).probas_)


@pytest.mark.parametrize("n_iter", [1, 3, 10])
def test_peerannot_loop_on_a_crowd_without_ties(n_iter):
    # 5 votes per task, 2 classes: the plain vote is never tied; accuracies as weights
    # leave no tie either on this crowd (checked by the reference)
    votes, _ = make_crowd(n_tasks=200, n_workers=12, n_classes=2, per_task=5, seed=7)
    ans, weights, probas = peerannot_iwmv(votes, n_iter)
    m = IWMV(n_iter=n_iter, tie="smallest").fit(votes)
    np.testing.assert_array_equal(m.labels_, ans)
    np.testing.assert_allclose(m.skills_, weights)
    np.testing.assert_allclose(m.probas_, probas)


def test_same_iteration_as_zbs_at_rate_one():
    votes, _ = make_crowd(n_tasks=150, n_workers=10, n_classes=4, per_task=3, seed=4)
    a = IWMV(n_iter=10).fit(votes)
    b = ZeroBasedSkill(n_iter=10, lr_init=1.0).fit(votes)
    np.testing.assert_allclose(a.skills_, b.skills_)
    np.testing.assert_allclose(a.probas_, b.probas_)


def test_predict_reuses_the_weights():
    v = V([0, 0, 0, 1, 1, 1, 2, 2], ["a", "b", "c", "a", "b", "c", "a", "c"], [0, 0, 1, 1, 1, 0, 1, 0])
    m = IWMV().fit(v)
    new = V(["n", "n", "n"], ["c", "b", "new"], [1, 0, 1], n_classes=2)
    # c = 0 and the unknown worker = mean(1, 1, 0) = 2/3 for class 1 ; b = 1 for class 0
    np.testing.assert_allclose(m.predict_proba(new), [[1 / (1 + 2 / 3), (2 / 3) / (1 + 2 / 3)]])


def test_bad_n_iter():
    from crowdwise.errors import InputError

    with pytest.raises(InputError):
        IWMV(n_iter=-2).fit(V([0], ["a"], [0]))
