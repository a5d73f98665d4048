"""Identification scores: hand-computed values on tiny crowds, invariance to renaming,
agreement with the krippendorff package on real data sets."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.errors import InputError
from crowdwise.identify import (krippendorff_alpha, needs_another_vote, task_difficulty_glad, task_entropy,
                                worker_ability_glad, worker_agreement, worker_spam_score, worker_trace_ds)
from crowdwise.identify.workers import spam_score_of
from crowdwise.simulate import independent_confusion

THESIS = [[0, 0, 0], [1, 1, 2], [1, 1], [2, 2, 2], [1, 0, 0, 2]]


def votes_of(per_task, n_classes, workers=None):
    task = [i for i, lab in enumerate(per_task) for _ in lab]
    worker = workers or [j for lab in per_task for j in range(len(lab))]
    return Votes.from_records(task, worker, sum(per_task, []), n_classes=n_classes)


# ---------------------------------------------------------------- tasks
def test_entropy_by_hand():
    v = Votes.from_records([0, 0, 0, 1, 1, 2, 2], [0, 1, 2, 0, 1, 0, 1], [0, 0, 1, 2, 2, 0, 1],
                           n_classes=3, task_ids=[0, 1, 2, 3])
    h = task_entropy(v)
    expected = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))
    np.testing.assert_allclose(h, [expected, 0.0, np.log(2), np.log(3)], atol=1e-12)
    assert h[1] == 0.0  # unanimous: exactly 0


def test_needs_another_vote_rule():
    # unanimous (3 votes), split (3 votes), a single vote, no vote; K = 2
    v = Votes.from_records([0, 0, 0, 1, 1, 1, 2], [0, 1, 2, 0, 1, 2, 0], [0, 0, 0, 0, 1, 1, 1],
                           n_classes=2, task_ids=[0, 1, 2, 3])
    s = needs_another_vote(v)
    np.testing.assert_allclose(s, [(1 - 4 / 5) / 2, (1 - 3 / 5) / 2, (1 - 2 / 3) / np.sqrt(2), 0.5])
    assert list(np.argsort(-s, kind="stable")) == [3, 2, 1, 0]
    # with a posterior given (dense or sparse): 1 - max p over sqrt(n + 1)
    p = np.array([[1.0, 0.0], [0.5, 0.5], [0.9, 0.1], [0.5, 0.5]])
    np.testing.assert_allclose(needs_another_vote(v, p), [0, 0.25, 0.1 / np.sqrt(2), 0.5])
    from scipy import sparse
    np.testing.assert_allclose(needs_another_vote(v, sparse.csr_array(p)), needs_another_vote(v, p))
    with pytest.raises(InputError, match="shape"):
        needs_another_vote(v, p[:2])


def test_glad_difficulty_orders_tasks():
    v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 0, 0, 1, 1])
    beta = task_difficulty_glad(v)
    assert beta.shape == (2,) and np.all(beta > 0) and beta[0] > beta[1]


# ---------------------------------------------------------------- workers
def test_agreement_by_hand():
    # MV: task 0 -> 0, task 1 -> 1
    v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2], ["a", "b", "c", "a", "b", "c", "a", "b"],
                           [0, 0, 1, 1, 1, 2, 0, 1], n_classes=3)
    share, n = worker_agreement(v)
    # task 2 is a tie 0/1 -> class 0 (smallest): a agrees, b does not
    np.testing.assert_allclose(share, [3 / 3, 2 / 3, 0 / 2])
    assert n.tolist() == [3, 3, 2]
    share, n = worker_agreement(v, labels=np.array([1, 2, -1]))
    np.testing.assert_allclose(share, [0 / 2, 0 / 2, 2 / 2])  # task 2 left out
    assert n.tolist() == [2, 2, 2]
    with pytest.raises(InputError):
        worker_agreement(v, labels=np.array([0, 1]))


def test_trace_by_hand():
    v = Votes.from_records([0, 1, 2], [0, 1, 2], [0, 1, 2], n_classes=3, worker_ids=[0, 1, 2, 3])
    conf = np.array([np.eye(3), np.full((3, 3), 1 / 3),
                     [[0.8, 0.1, 0.1], [0.2, 0.5, 0.3], [0.0, 0.1, 0.9]], np.eye(3)])
    t = worker_trace_ds(v, confusions=conf)
    np.testing.assert_allclose(t[:3], [1.0, 1 / 3, (0.8 + 0.5 + 0.9) / 3])
    assert np.isnan(t[3])  # no vote
    with pytest.raises(InputError, match="shape"):
        worker_trace_ds(v, confusions=conf[:2])


def test_trace_from_ds_on_a_perfect_crowd():
    # three perfect workers on 30 tasks: DS finds identity confusions
    truth = np.arange(30) % 3
    v = Votes.from_records(np.repeat(np.arange(30), 3), np.tile([0, 1, 2], 30), np.repeat(truth, 3),
                           n_classes=3)
    np.testing.assert_allclose(worker_trace_ds(v), 1.0, atol=1e-9)
    np.testing.assert_allclose(worker_spam_score(v), 1.0, atol=1e-9)


def test_spam_score_direction_and_formula():
    v = Votes.from_records([0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 0, 1], n_classes=3)
    spammer = np.tile([0.2, 0.5, 0.3], (3, 1))
    always_first = np.tile([1.0, 0.0, 0.0], (3, 1))
    conf = np.array([np.eye(3), spammer, always_first, np.eye(3)[[2, 0, 1]]])
    s = worker_spam_score(v, confusions=conf)
    np.testing.assert_allclose(s, [1.0, 0.0, 0.0, 1.0], atol=1e-12)  # perfect = 1, spammers = 0
    # the definition of Raykar & Yu, pair by pair, on random confusions
    rng = np.random.default_rng(0)
    for k in (2, 3, 5):
        a = rng.dirichlet(np.ones(k), size=(4, k))
        pairs = sum(((a[:, c] - a[:, d]) ** 2).sum(axis=1) for c in range(k) for d in range(c + 1, k))
        np.testing.assert_allclose(spam_score_of(a), pairs / (k * (k - 1)))
        assert np.all((spam_score_of(a) >= 0) & (spam_score_of(a) <= 1))
    # two classes: (sensitivity + specificity - 1)^2
    a = np.array([[[0.9, 0.1], [0.3, 0.7]]])
    np.testing.assert_allclose(spam_score_of(a), (0.9 + 0.7 - 1) ** 2)


def test_spammers_score_low_on_a_simulated_crowd():
    sim = independent_confusion(400, 12, 3, feedback=6, spammer_fraction=0.25, concentration=0.3, seed=4)
    s = worker_spam_score(sim.votes)
    spam = sim.worker_type == "spammer"
    assert spam.sum() == 3 and s[spam].max() < s[~spam].min()
    np.testing.assert_allclose(s, worker_spam_score(sim.votes, confusions=None, random_state=0))
    alpha = worker_ability_glad(sim.votes)
    assert alpha[spam].mean() < alpha[~spam].mean()


# ---------------------------------------------------------------- data set
def test_krippendorff_thesis_example():
    v = votes_of(THESIS, 3)
    a = krippendorff_alpha(v)
    # by hand: n = 15, sum o_cc = 3 + 1 + 2 + 3 + 2/3, n_c = (5, 5, 5)
    assert a == pytest.approx(1 - 14 * (15 - 29 / 3) / (15**2 - 75))
    assert round(a, 4) == 0.5022
    # a task with a single vote is not pairable: adding one changes nothing
    assert krippendorff_alpha(votes_of(THESIS + [[2]], 3)) == pytest.approx(a)
    assert krippendorff_alpha(votes_of([[1, 1], [0, 0, 0]], 3)) == 1.0
    assert np.isnan(krippendorff_alpha(votes_of([[1, 1], [1]], 3)))  # no expected disagreement


# ---------------------------------------------------------------- renaming
def test_scores_do_not_depend_on_names_or_order():
    sim = independent_confusion(60, 8, 3, feedback=4, seed=2)
    v = sim.votes
    rng = np.random.default_rng(0)
    t_names = np.array([f"task-{x}" for x in rng.permutation(v.n_tasks)])
    w_names = np.array([f"w{x:03d}" for x in rng.permutation(v.n_workers)])
    rows = rng.permutation(v.n_votes)
    r = Votes.from_records(t_names[v.task[rows]], w_names[v.worker[rows]], v.label[rows], n_classes=3)
    t_map = np.searchsorted(r.task_ids, t_names)  # index in r of each original task
    w_map = np.searchsorted(r.worker_ids, w_names)
    assert np.array_equal(r.task_ids[t_map], t_names) and np.array_equal(r.worker_ids[w_map], w_names)
    for f in (task_entropy, needs_another_vote, task_difficulty_glad):
        np.testing.assert_allclose(f(r)[t_map], f(v), rtol=1e-6, atol=1e-9, err_msg=f.__name__)
    for f in (worker_trace_ds, worker_spam_score, worker_ability_glad, lambda x: worker_agreement(x)[0]):
        np.testing.assert_allclose(f(r)[w_map], f(v), rtol=1e-6, atol=1e-9)
    assert krippendorff_alpha(r) == pytest.approx(krippendorff_alpha(v))


def test_functions_refuse_other_input():
    for f in (task_entropy, needs_another_vote, worker_agreement, krippendorff_alpha, worker_spam_score):
        with pytest.raises(InputError, match="Votes"):
            f([[0, 1]])


# ---------------------------------------------------------------- krippendorff package
@pytest.mark.parametrize("name", ["bluebirds", "temp", "rte", "weather_sentiment_amt", "labelme"])
def test_krippendorff_matches_the_package(name):
    kp = pytest.importorskip("krippendorff")
    from _data import DATASETS_DIR
    import crowdwise.io as cio

    path = DATASETS_DIR / name / "votes.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    v = cio.load_votes(path, duplicates="first")  # the dense matrix holds one value per pair
    dense = np.full((v.n_workers, v.n_tasks), np.nan)  # small sets only, in this test only
    dense[v.worker, v.task] = v.label
    expected = kp.alpha(reliability_data=dense, level_of_measurement="nominal")
    assert krippendorff_alpha(v) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_worker_scores_from_sparse_mode_ds_equal_the_dense_ones(monkeypatch):
    from crowdwise.aggregate import DawidSkene
    from crowdwise.identify import worker_spam_score, worker_trace_ds
    from crowdwise.identify import workers as W

    v = independent_confusion(n_workers=20, n_tasks=300, n_classes=4, feedback=3, seed=1).votes
    dense = DawidSkene(sparse=False, accelerate=False).fit(v).confusions_
    sp = DawidSkene(sparse=True, accelerate=False).fit(v).confusions_
    assert sp.shape == (20 * 4, 4)
    np.testing.assert_allclose(worker_trace_ds(v, confusions=sp), worker_trace_ds(v, confusions=dense), atol=1e-12)
    np.testing.assert_allclose(worker_spam_score(v, confusions=sp), worker_spam_score(v, confusions=dense),
                               atol=1e-12)
    # a class a worker never met is a uniform row in both forms (1/K on the diagonal)
    one = Votes.from_records(["t1", "t1", "t2", "t2"], ["a", "b", "a", "b"], [0, 0, 1, 1], n_classes=3)
    np.testing.assert_allclose(worker_trace_ds(one, confusions=DawidSkene(sparse=True).fit(one).confusions_),
                               worker_trace_ds(one, confusions=DawidSkene(sparse=False).fit(one).confusions_))
    # full matrices that would not fit: a clear error, while the trace still works
    monkeypatch.setattr(W, "DENSE_CONFUSIONS_LIMIT", 100)
    with pytest.raises(InputError, match="sparse mode"):
        worker_spam_score(v, confusions=sp)
    assert np.isfinite(worker_trace_ds(v, confusions=sp)).all()


def test_identify_cli_methods_agree_with_the_library_table():
    from crowdwise.cli.identify import METHODS
    from crowdwise.identify import SCORES

    assert {k: v[:2] for k, v in METHODS.items()} == SCORES


def test_score_shares_one_ds_fit_and_matches_the_single_functions():
    from crowdwise import identify
    from crowdwise.simulate import simulate

    v = simulate("independent-confusion", 60, 8, 3, seed=1).votes
    s = identify.CrowdScores(v, random_state=0)
    assert np.array_equal(s.get("trace").values, identify.worker_trace_ds(v, random_state=0))
    assert np.array_equal(s.get("spam-score").values, identify.worker_spam_score(v, random_state=0))
    assert vars(s)["ds"] is s.ds  # fitted once, kept
    out = identify.score(v, ["entropy", "agreement", "krippendorff"])
    assert np.array_equal(out["entropy"].values, identify.task_entropy(v))
    assert np.array_equal(out["agreement"].n_votes, identify.worker_agreement(v)[1])
    assert out["krippendorff"].values == identify.krippendorff_alpha(v)


def test_drop_spammers_keeps_workers_with_too_few_votes():
    from crowdwise import Votes, identify

    # c always answers 0 (spam score 0); d answered once, wrongly: kept with min_votes=2
    t = [i for i in range(6) for _ in range(3)] + [0]
    w = list("abc") * 6 + ["d"]
    lab = [x for i in range(6) for x in (i % 2, i % 2, 0)] + [1]
    v = Votes.from_records(t, w, lab)
    r = identify.drop_spammers(v, 0.5, min_votes=2)
    assert sorted(r.votes.worker_ids.tolist()) == ["a", "b", "d"] and r.n_votes_dropped == 6
    assert r.votes.n_tasks == v.n_tasks and list(r.votes.task_ids) == list(v.task_ids)
