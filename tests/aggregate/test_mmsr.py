"""MMSR: pair counts, the trimming rule and one M-MSR step by hand, the rank-one fixed point,
adversaries found by the sign determination, the 2-cycle cut, capped pairs on huge tasks,
the posterior and its two forms, crowd-kit's accuracy with ``crowdkit_compat``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from crowdwise import Votes
from crowdwise.aggregate import MMSR, make_strategy
from crowdwise.aggregate.mmsr import _Ratios, co_votes, msr
from crowdwise.errors import InputError

from ._crowd import make_crowd


def V(task, worker, label, **kw):
    return Votes.from_records(task, worker, label, **kw)


def test_pair_counts_by_hand():
    # t0: a 0, b 0, c 1 ; t1: a 1, b 1 ; t2: a votes 0 and 1 (half each), b 0
    v = V(["t0", "t0", "t0", "t1", "t1", "t2", "t2", "t2"], list("abcab") + list("aab"), [0, 0, 1, 1, 1, 0, 1, 0],
          n_classes=2)
    common, agree = co_votes(v, None)
    np.testing.assert_array_equal(common.toarray(), [[0, 3, 1], [3, 0, 1], [1, 1, 0]])
    A = sparse.csr_array((agree, common.indices, common.indptr), shape=common.shape).toarray()
    np.testing.assert_allclose(A, [[0, 2.5, 0], [2.5, 0, 0], [0, 0, 0]])


def ratios_row(values, F, current, other=None):
    """_Ratios on one row holding ``values`` (columns 1..), the other rows empty."""
    n = len(values) + 1
    X = sparse.csr_array((np.asarray(values, float), (np.zeros(len(values), int), np.arange(1, n))), shape=(n, n))
    other = np.ones(n) if other is None else np.asarray(other, float)
    return _Ratios(X, F, n_tasks=4).step(other, np.full(n, float(current)))[0]


@pytest.mark.parametrize("F,a,expected", [
    (0, 3.0, 4.0),               # no trimming: mean(1, 2, 3, 4, 10)
    (1, 3.0, 3.0),               # drop 1 and 10
    (2, 1.5, 2.5),               # one value below a (< F): drop it; two largest (10, 4) go
    (2, 9.0, 3.5),               # two smallest go; one value above a (< F): drop it
    (2, 3.0, 3.0),               # two at each end: mean(3)
])
def test_trimming_rule_by_hand(F, a, expected):
    assert ratios_row([1, 2, 3, 4, 10], F, a) == pytest.approx(expected)


def test_trimming_special_cases():
    assert ratios_row([1, 2, 3, 4, 10], -1, 3.0) == 10.0  # crowd-kit's F = -1: the largest alone
    assert ratios_row([0.0], 0, 3.0) == 0.5  # a single 0 becomes 1/sqrt(n_tasks)
    # a neighbour whose value is 0 carries no information: its ratio is left out
    assert ratios_row([1, 2, 3, 4, 10], 0, 3.0, other=[1, 1, 1, 1, 1, 0]) == pytest.approx(2.5)


def test_one_step_by_hand_and_the_rank_one_fixed_point():
    s = np.array([1.0, 0.8, 0.6])
    X = sparse.csr_array(np.outer(s, s) * (1 - np.eye(3)))
    # from u = v = 1: v = row means (0.7, 0.64, 0.54); u_i = mean_l X_il / v_l
    x, it, hist = msr(X, 0, 100, n_iter=1, tol=0.0)
    v = np.array([0.7, 0.64, 0.54])
    u = np.array([np.mean([0.8 / 0.64, 0.6 / 0.54]), np.mean([0.8 / 0.7, 0.48 / 0.54]),
                  np.mean([0.6 / 0.7, 0.48 / 0.64])])
    np.testing.assert_allclose(x, u * np.sqrt(np.linalg.norm(v) / np.linalg.norm(u)))
    # exact rank one: the fixed point is s itself (u = c s, v = s / c)
    x, it, hist = msr(X, 0, 100, n_iter=10000, tol=1e-12)
    np.testing.assert_allclose(x, s, rtol=1e-9)
    assert hist[-1] < 1e-12 and it < 10000


def test_a_two_cycle_is_cut_with_the_state_of_the_same_parity():
    # two tasks of 100 votes, pairs capped at 10: the trimmed means alternate for good
    rng = np.random.default_rng(0)
    n = 100
    votes = V(np.r_[np.zeros(n, int), np.ones(n, int)], np.r_[np.arange(n), np.arange(n)],
              np.r_[(rng.random(n) < 0.7), (rng.random(n) < 0.2)].astype(int), n_classes=2)
    common, agree = co_votes(votes, 10, 0)
    X = sparse.csr_array((np.abs(2 * agree / common.data - 1), common.indices, common.indptr), shape=common.shape)
    F = max(int(np.diff(X.indptr).min()) // 2 - 1, 0)
    for n_iter in (40, 41):
        x, it, hist = msr(X, F, 2, n_iter=n_iter, tol=1e-10)
        assert it < n_iter and hist[-1] > 1e-10  # cut short, not converged
        trim = _Ratios(X, F, 2)  # the plain loop, run to the end
        u = v = np.ones(X.shape[0])
        for _ in range(n_iter):
            v = trim.step(u, v)
            u = trim.step(v, u)
        np.testing.assert_allclose(x, u * np.sqrt(np.linalg.norm(v) / np.linalg.norm(u)), rtol=1e-9)


def adversarial_crowd():
    """Three good workers (always right) and two adversaries (always wrong), K = 2: six
    tasks answered by all five, four by g1 and both adversaries (their majority is wrong)."""
    truth = np.array([0, 1, 0, 1, 1, 0, 0, 1, 1, 0])
    task, worker, label = [], [], []
    for t in range(10):
        for w in (["g1", "g2", "g3", "a1", "a2"] if t < 6 else ["g1", "a1", "a2"]):
            task.append(t)
            worker.append(w)
            label.append(truth[t] if w[0] == "g" else 1 - truth[t])
    return V(task, worker, label, n_classes=2), truth


def test_adversaries_get_negative_weights():
    votes, truth = adversarial_crowd()
    m = MMSR(tie="smallest").fit(votes)
    ids = list(votes.worker_ids)
    assert all(m.skills_[ids.index(w)] < 0 for w in ("a1", "a2"))
    assert all(m.skills_[ids.index(w)] > 0 for w in ("g1", "g2", "g3"))
    np.testing.assert_array_equal(m.labels_, truth)  # the four tasks the majority gets wrong too
    # every worker taken as better than chance: the weighted vote follows the adversaries there
    pos = MMSR(signs="positive", tie="smallest").fit(votes)
    assert np.all(pos.skills_ > 0)
    assert np.all(pos.labels_[6:] != truth[6:])


def test_posterior_and_its_voted_form():
    votes, _ = make_crowd(n_tasks=60, n_workers=12, n_classes=4, per_task=3, seed=5)
    v = Votes.from_records(votes.to_frame()["task"], votes.to_frame()["worker"], votes.to_frame()["label"],
                           classes=list(votes.classes) + [99])  # a class nobody voted for
    full = MMSR(probas="full", tie="smallest").fit(v)
    voted = MMSR(probas="voted", tie="smallest").fit(v)
    # P(y_i = k) ∝ exp(sum of the weights of the votes for k) over the classes voted somewhere
    scores = np.zeros((v.n_tasks, v.n_classes))
    np.add.at(scores, (v.task, v.label), full.skills_[v.worker])
    post = np.exp(scores - scores.max(axis=1, keepdims=True))
    post[:, -1] = 0.0
    np.testing.assert_allclose(full.probas_, post / post.sum(axis=1, keepdims=True), atol=1e-12)
    # the voted form: the same values on each task's voted classes, renormalised
    P = voted.probas_.toarray()
    cells = P > 0
    np.testing.assert_allclose(P[cells], (full.probas_ / (1 - full.unvoted_mass_)[:, None])[cells], rtol=1e-12)
    np.testing.assert_allclose(voted.unvoted_mass_, full.unvoted_mass_)
    np.testing.assert_array_equal(voted.labels_, full.labels_)
    np.testing.assert_allclose(full.predict_proba(v), full.probas_, atol=1e-12)


def test_a_task_whose_voters_are_all_adversaries_gets_an_unvoted_class():
    votes, _ = adversarial_crowd()
    m = MMSR(tie="smallest").fit(votes)
    extra = Votes.from_records(["x", "x"], ["a1", "a2"], [1, 1], classes=votes.classes)
    assert m.predict_proba(extra)[0].argmax() == 0  # two adversaries said 1


def test_predict_reuses_weights_and_gives_unknown_workers_the_mean():
    votes, _ = adversarial_crowd()
    m = MMSR().fit(votes)
    ids = list(votes.worker_ids)
    new = Votes.from_records(["n", "n"], ["g2", "somebody"], [0, 1], classes=votes.classes)
    w_g2, w_new = m.skills_[ids.index("g2")], float(np.mean(m.skills_))
    p = np.exp([w_g2, w_new] - np.max([w_g2, w_new]))
    np.testing.assert_allclose(m.predict_proba(new), [p / p.sum()])


def pairs_by_id(votes: Votes, cap: int, seed: int) -> dict:
    common, agree = co_votes(votes, cap, random_state=seed)
    rows = np.repeat(np.arange(common.shape[0]), np.diff(common.indptr))
    ids = np.asarray(votes.worker_ids)
    return {(ids[a], ids[b]): (c, g) for a, b, c, g in zip(rows, common.indices, common.data, agree)}


def test_capped_pairs_on_a_huge_task():
    n = 40
    rng = np.random.default_rng(1)
    votes = V(np.zeros(n, int), [f"w{i:02d}" for i in range(n)], rng.integers(0, 3, n), n_classes=3)
    common, _ = co_votes(votes, 10, random_state=3)
    assert np.all(np.diff(common.indptr) == 10)  # each vote against 5 on each side
    np.testing.assert_array_equal(common.toarray(), common.toarray().T)
    # keyed by worker id: the rows in another order give the same pairs
    perm = rng.permutation(n)
    v2 = V(np.zeros(n, int), np.asarray(votes.worker_ids)[votes.worker][perm], votes.label[perm], n_classes=3)
    assert pairs_by_id(v2, 10, 3) == pairs_by_id(votes, 10, 3)
    assert pairs_by_id(votes, 10, 4) != pairs_by_id(votes, 10, 3)  # the seed draws the order


@pytest.mark.parametrize("bad", [{"n_iter": -1}, {"tol": -1.0}, {"n_trim": -1}, {"signs": "crowdkit"},
                                 {"crowdkit_compat": "yes"}, {"max_co_voters": 1}, {"probas": "dense"}])
def test_bad_parameters_raise_input_errors(bad):
    votes, _ = adversarial_crowd()
    with pytest.raises(InputError):
        MMSR(**bad).fit(votes)


#: crowd-kit 1.4.2 MMSR on the same votes (benchmarks/new_methods_vs_crowdkit.py); its
#: documentation publishes zheng_sentiment .937, adult_content2 .751, zheng_relevance .425
CROWDKIT_MMSR = {"rte": 0.8575, "zheng_sentiment": 0.937, "zheng_dog": 0.8278, "music_genre": 0.7429,
                 "web_relevance": 0.6834, "temp": 0.9242}


@pytest.mark.parametrize("name", sorted(CROWDKIT_MMSR))
def test_crowdkit_compat_gives_crowdkit_accuracy(name):
    from _data import require_datasets

    from crowdwise.evaluate.benchmark import load_benchmark_data

    folder = require_datasets() / name
    if not (folder / "votes.csv").is_file():
        pytest.skip(f"{name} not found in {folder.parent}")
    d = load_benchmark_data(folder)
    m = make_strategy("MMSR[crowdkit_compat=True]", tie="smallest").fit(d.votes)
    ok = d.truth >= 0
    assert abs(np.mean(m.labels_[ok] == d.truth[ok]) - CROWDKIT_MMSR[name]) <= 0.005
