"""Hand-computed cases for MV, NaiveSoft and TwoThird (WAWA: test_wawa.py)."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import WAWA, MajorityVote, NaiveSoft, TwoThird, argmax_ties, make_strategy
from crowdwise.errors import InputError


def V(task, worker, label, **kw):
    return Votes.from_records(task, worker, label, **kw)


def test_mv_counts_and_smallest_tie():
    # task 0: 1,1,0 -> 1 ; task 1: 0,1 tie -> 0 (smallest) ; task 2: 2 -> 2
    v = V([0, 0, 0, 1, 1, 2], [0, 1, 2, 0, 1, 2], [1, 1, 0, 0, 1, 2], n_classes=3)
    m = MajorityVote(tie="smallest").fit(v)
    assert m.labels_.tolist() == [1, 0, 2]
    np.testing.assert_allclose(m.probas_, [[1 / 3, 2 / 3, 0], [.5, .5, 0], [0, 0, 1]])


def test_mv_random_tie_uses_the_seed_and_both_sides_happen():
    v = V([0, 0], [0, 1], [0, 1], n_classes=3)
    picks = {int(MajorityVote(random_state=s).fit(v).labels_[0]) for s in range(40)}
    assert picks == {0, 1}  # never the unvoted class 2, both tied classes reachable
    assert all(MajorityVote(random_state=5).fit(v).labels_[0] == MajorityVote(random_state=5).fit(v).labels_[0]
               for _ in range(3))


def test_mv_random_tie_is_fair():
    # 3-way tie on 3000 tasks: each class about 1/3
    n = 3000
    v = V(np.repeat(np.arange(n), 3), np.tile([0, 1, 2], n), np.tile([0, 1, 2], n), n_classes=3)
    share = np.bincount(MajorityVote(random_state=0).fit(v).labels_, minlength=3) / n
    # binomial sd sqrt(1/3*2/3/3000) = 0.0086; 5 sd
    np.testing.assert_allclose(share, 1 / 3, atol=0.043)


def test_mv_single_vote_and_unvoted_class():
    v = V(["x"], ["w"], ["b"], classes=["a", "b", "c"])
    m = MajorityVote().fit(v)
    assert m.labels_.tolist() == [1]
    np.testing.assert_allclose(m.probas_, [[0, 1, 0]])


def test_unknown_tie_rule_is_a_clear_error():
    v = V([0], [0], [0])
    with pytest.raises(InputError, match="tie rule"):
        MajorityVote(tie="largest").fit(v)


def test_naivesoft_distribution():
    v = V([0, 0, 0, 0, 1], [0, 1, 2, 3, 0], [0, 2, 2, 2, 1], n_classes=4)
    m = NaiveSoft().fit(v)
    np.testing.assert_allclose(m.probas_, [[.25, 0, .75, 0], [0, 1, 0, 0]])
    assert m.labels_.tolist() == [2, 1]


@pytest.mark.parametrize("labels, valid", [
    ([1, 1, 0], True),          # 2/3 exactly
    ([1], False),               # a single vote is never valid
    ([1, 1], True),             # 2 of 2
    ([1, 0], False),            # 1/2
    ([1, 1, 1, 0, 0], False),   # 3/5 = 0.6 < 2/3
    ([1, 1, 1, 1, 0, 0], True),  # 4/6
])
def test_twothird_validity(labels, valid):
    n = len(labels)
    m = TwoThird(tie="smallest").fit(V([0] * n, list(range(n)), labels, n_classes=2))
    assert bool(m.valid_[0]) is valid
    assert m.labels_[0] == np.argmax(np.bincount(labels, minlength=2))  # ties to smallest


# WAWA (ties shared by the tied classes) is tested by hand in test_wawa.py


def test_argmax_ties_dense_and_sparse_agree():
    from scipy import sparse

    rng = np.random.default_rng(0)
    M = rng.integers(0, 3, size=(500, 7)).astype(float)
    M[::50] = 0
    for tie in ("smallest", "random"):
        a = argmax_ties(M, tie=tie, random_state=0)
        b = argmax_ties(sparse.csr_array(M), tie=tie, random_state=0)
        rowmax = M.max(axis=1)
        voted = rowmax > 0
        assert np.all(M[np.arange(500)[voted], a[voted]] == rowmax[voted])
        assert np.all(M[np.arange(500)[voted], b[voted]] == rowmax[voted])
        if tie == "smallest":
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a[voted], np.argmax(M, axis=1)[voted])


def test_strategy_spec_parsing():
    m = make_strategy("MV[tie=smallest]")
    assert isinstance(m, MajorityVote) and m.tie == "smallest"
    assert isinstance(make_strategy("twothird"), TwoThird)
    with pytest.raises(InputError, match="Did you mean MV"):
        make_strategy("MVV")
    with pytest.raises(InputError, match="no parameter"):
        make_strategy("MV[alpha=1]")


def test_predict_proba_refuses_other_classes():
    v = V(["t0", "t0"], ["a", "b"], [0, 1], n_classes=3)
    for model in (MajorityVote(), WAWA()):
        model.fit(v)
        with pytest.raises(InputError, match="other classes"):
            model.predict_proba(V(["n"], ["a"], [0], n_classes=2))


def test_argmax_ties_in_row_blocks_equals_one_draw_over_all_rows():
    # the dense rule works in blocks of rows; the labels must be those of one (n, K) draw,
    # across several block boundaries, for both tie rules (reference written out here)
    rng = np.random.default_rng(1)
    for n, k in [(20000, 10), (70000, 2), (5, 3)]:
        s = rng.integers(0, 3, (n, k)).astype(float)
        s[::7] = 0.0  # rows without any vote
        ok = s >= s.max(axis=1, keepdims=True) * (1 - 1e-12)
        empty = ~(s != 0).any(axis=1)
        gen = np.random.default_rng(9)
        ref = np.argmax(np.where(ok, gen.random(s.shape), -1.0), axis=1)
        ref[empty] = gen.integers(0, k, size=int(empty.sum()))
        np.testing.assert_array_equal(argmax_ties(s, tie="random", random_state=9), ref)
        smallest = np.argmax(ok, axis=1)
        smallest[empty] = 0
        np.testing.assert_array_equal(argmax_ties(s, tie="smallest"), smallest)


def test_argmax_ties_reads_int_and_float32_scores_as_float64():
    s = np.random.default_rng(3).integers(0, 3, (20000, 7))
    ref = argmax_ties(s.astype(float), tie="random", random_state=2)
    for scores in (s, s.astype(np.float32)):
        np.testing.assert_array_equal(argmax_ties(scores, tie="random", random_state=2), ref)
