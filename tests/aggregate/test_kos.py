"""KOS: message passing against a loop reference, reliable vs adversarial workers, the
spammer-hammer model of the paper, binary only, no overflow, invariance."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import MajorityVote
from crowdwise.aggregate.kos import KOS
from crowdwise.errors import InputError


def test_matches_a_loop_reference_of_the_paper():
    """Three rounds of the paper's updates written edge by edge, from y = 1."""
    task = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4]
    worker = [0, 1, 2, 0, 1, 3, 2, 3, 0, 2, 3, 1, 2]
    label = [1, 1, 0, 0, 0, 1, 1, 0, 1, 1, 0, 0, 1]
    votes = Votes.from_records(task, worker, label, n_classes=2)
    m = KOS(n_iter=3, messages="sum", patience=None, random_state=4).fit(votes)
    A = {(t, w): 2.0 * lab - 1 for t, w, lab in zip(task, worker, label)}
    y = dict.fromkeys(A, 1.0)
    for _ in range(3):
        x = {(i, j): sum(A[i, jj] * y[i, jj] for (ii, jj) in A if ii == i and jj != j) for (i, j) in A}
        y = {(i, j): sum(A[ii, j] * x[ii, j] for (ii, jj) in A if jj == j and ii != i) for (i, j) in A}
    score = np.array([sum(A[i, j] * y[i, j] for (ii, j) in A if ii == i) for i in range(5)])
    np.testing.assert_allclose(m.scores_, score / np.sqrt(np.mean(score**2)), rtol=1e-10)
    assert m.labels_.tolist() == (score > 0).astype(int).tolist()
    assert m.n_iter_ == 3 and not m.converged_


def test_reliable_workers_positive_adversarial_negative():
    # truth of 8 tasks; workers 0-2 are right except one slip each, worker 3 always flips
    truth = np.array([1, 0, 1, 1, 0, 0, 1, 0])
    task = np.repeat(np.arange(8), 4)
    worker = np.tile(np.arange(4), 8)
    label = truth[task].copy()
    label[worker == 3] = 1 - label[worker == 3]
    for t, w in [(0, 0), (3, 1), (6, 2)]:
        label[(task == t) & (worker == w)] ^= 1
    votes = Votes.from_records(task, worker, label, n_classes=2)
    m = KOS(random_state=0).fit(votes)
    assert m.labels_.tolist() == truth.tolist()
    assert np.all(m.worker_reliability_[:3] > 0) and m.worker_reliability_[3] < 0
    assert np.abs(m.worker_reliability_).max() == pytest.approx(1.0)
    assert m.converged_


def spammer_hammer(n_tasks=2000, n_workers=400, per_task=5, q=0.3, seed=0):
    """The paper's model: a worker is a hammer (always right) with probability q, else a
    spammer (uniform answers); tasks get workers through a random (l, r)-regular graph."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n_tasks)
    hammer = rng.random(n_workers) < q
    per_worker = n_tasks * per_task // n_workers
    worker = rng.permutation(np.repeat(np.arange(n_workers), per_worker))
    task = np.repeat(np.arange(n_tasks), per_task)
    label = np.where(hammer[worker], truth[task], rng.integers(0, 2, task.size))
    return Votes.from_records(task, worker, label, n_classes=2), truth, hammer


def test_beats_majority_vote_on_the_spammer_hammer_model():
    votes, truth, hammer = spammer_hammer()
    m = KOS(random_state=0).fit(votes)
    acc = np.mean(m.labels_ == truth)
    acc_mv = np.mean(MajorityVote(random_state=0).fit(votes).labels_ == truth)
    assert acc >= acc_mv + 0.03, (acc, acc_mv)
    # hammers are found: their reliability is above every spammer's but a few
    r = m.worker_reliability_
    assert np.mean(r[hammer]) > 0.5 > np.mean(np.abs(r[~hammer]))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_non_binary_votes_are_refused_with_the_methods_to_use(k):
    votes = Votes.from_records([0, 0, 1], [0, 1, 0], [0, 0, 0], n_classes=k)
    with pytest.raises(InputError, match=r"binary.*Fix: for K classes use MV, WAWA, DS"):
        KOS().fit(votes)


def test_ten_thousand_votes_on_a_task_stay_finite():
    rng = np.random.default_rng(1)
    n = 10_000
    # task 0: 10,000 votes; worker 0: 10,000 tasks; messages grow like n^2 before scaling
    task = np.r_[np.zeros(n, int), np.arange(1, n + 1), np.arange(1, n + 1)]
    worker = np.r_[np.arange(n), np.zeros(n, int), np.arange(1, n + 1)]
    truth = rng.integers(0, 2, n + 1)
    truth[0] = 1
    label = np.r_[(rng.random(n) < 0.8).astype(int), truth[1:], truth[1:]]
    votes = Votes.from_records(task, worker, label, n_classes=2)
    # the paper's summed messages are the ones that would overflow without rescaling
    m = KOS(n_iter=30, patience=None, messages="sum", random_state=0).fit(votes)
    assert np.all(np.isfinite(m.probas_)) and np.all(np.isfinite(m.worker_reliability_))
    np.testing.assert_allclose(m.probas_.sum(axis=1), 1.0)
    assert m.labels_[0] == 1
    assert np.mean(m.labels_[1:] == truth[1:]) == 1.0
    mean = KOS(n_iter=30, patience=None, random_state=0).fit(votes)
    assert np.all(np.isfinite(mean.probas_)) and np.all(np.isfinite(mean.worker_reliability_))
    assert mean.labels_[0] == 1


@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # n_iter reached: not the subject
def test_invariant_to_renaming_and_reordering():
    votes, _, _ = spammer_hammer(n_tasks=300, n_workers=60, seed=3)
    df = votes.to_frame()
    rng = np.random.default_rng(0)
    perm = rng.permutation(len(df))
    df2 = df.iloc[perm].copy()
    df2["task"] = df2["task"].map(lambda t: f"q{(7919 * t) % 1000:04d}")
    df2["worker"] = df2["worker"].map(lambda w: f"u{(104729 * w) % 997:04d}")
    v2 = Votes.from_records(df2["task"], df2["worker"], df2["label"], n_classes=2)
    a = KOS(random_state=5, tie="smallest").fit(votes)
    b = KOS(random_state=5, tie="smallest").fit(v2)
    pos = {t: i for i, t in enumerate(v2.task_ids)}
    order = [pos[f"q{(7919 * t) % 1000:04d}"] for t in votes.task_ids]
    np.testing.assert_allclose(a.probas_, b.probas_[order], atol=1e-9)
    np.testing.assert_array_equal(a.labels_, b.labels_[order])


@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # one round on purpose
def test_normal_start_is_seeded_and_reaches_the_same_labels():
    votes, truth, _ = spammer_hammer(n_tasks=300, n_workers=60, seed=4)
    a, b = KOS(init="normal", random_state=1).fit(votes), KOS(init="normal", random_state=1).fit(votes)
    np.testing.assert_array_equal(a.probas_, b.probas_)
    c = KOS(init="normal", random_state=2, n_iter=1).fit(votes)
    d = KOS(init="normal", random_state=1, n_iter=1).fit(votes)
    assert not np.allclose(c.scores_, d.scores_)  # the start really depends on the seed
    ones = KOS(n_iter=50, patience=None).fit(votes)
    normal = KOS(init="normal", n_iter=50, patience=None, random_state=2).fit(votes)
    assert np.mean(ones.labels_ == normal.labels_) > 0.98  # same fixed point, up to stragglers


def test_mean_messages_equal_sum_messages_on_a_regular_graph():
    """Every task has 5 votes and every worker 25: the division by (deg - 1) is one
    constant per half-step, which the RMS scaling removes."""
    votes, _, _ = spammer_hammer(n_tasks=400, n_workers=80, seed=6)
    assert len(set(votes.votes_per_worker())) == 1 and len(set(votes.votes_per_task())) == 1
    s = KOS(patience=None, messages="sum").fit(votes)
    m = KOS(patience=None, messages="mean").fit(votes)
    np.testing.assert_allclose(m.scores_, s.scores_, rtol=1e-9)
    np.testing.assert_array_equal(m.labels_, s.labels_)


def test_mean_messages_resist_a_busy_worker():
    """A worker who answers every task at random, among workers with 20 tasks each: the
    summed messages localise on the hub and fall to chance, the averaged ones stay at
    the level of majority vote (with 0.6-0.9 accurate workers there is little to gain)."""
    rng = np.random.default_rng(1)
    n_tasks, per_task, n_workers = 1000, 4, 200
    truth = rng.integers(0, 2, n_tasks)
    acc = rng.uniform(0.6, 0.9, n_workers)
    worker = rng.permutation(np.repeat(np.arange(n_workers), n_tasks * per_task // n_workers))
    task = np.repeat(np.arange(n_tasks), per_task)
    label = np.where(rng.random(task.size) < acc[worker], truth[task], 1 - truth[task])
    task = np.r_[task, np.arange(n_tasks)]
    worker = np.r_[worker, np.full(n_tasks, n_workers)]
    label = np.r_[label, rng.integers(0, 2, n_tasks)]
    votes = Votes.from_records(task, worker, label, n_classes=2)
    acc_sum = np.mean(KOS(patience=None, messages="sum").fit(votes).labels_ == truth)
    acc_mean = np.mean(KOS(messages="mean", patience=None).fit(votes).labels_ == truth)
    acc_mv = np.mean(MajorityVote(random_state=0).fit(votes).labels_ == truth)
    assert acc_sum < 0.6 < 0.8 < acc_mean
    assert acc_mean > acc_mv - 0.04


def test_one_vote_per_task_keeps_the_vote_and_probas_are_monotone():
    votes = Votes.from_records(["a", "b", "c"], ["w1", "w2", "w1"], ["yes", "no", "no"])
    m = KOS(random_state=0).fit(votes)
    assert m.classes_[m.labels_].tolist() == ["yes", "no", "no"]
    votes, _, _ = spammer_hammer(n_tasks=300, n_workers=60, seed=5)
    m = KOS(random_state=0).fit(votes)
    order = np.argsort(m.scores_)
    assert np.all(np.diff(m.probas_[order, 1]) >= 0)
    np.testing.assert_array_equal(m.labels_[m.scores_ > 0], 1)
    np.testing.assert_array_equal(m.labels_[m.scores_ < 0], 0)


def _run(model: KOS, votes: Votes, y_start: np.ndarray) -> None:
    """Message passing on ``votes`` from the worker messages ``y_start`` (one per vote), on
    the EM driver (as a fit does from its start)."""
    from crowdwise.aggregate.kos import _Messages

    model._validate(votes)
    ctx = model._context(votes)
    model._remember_ids(votes)
    run = model._iterate(votes, ctx, _Messages.start(y_start))
    model._finish(votes, ctx, run.params, run.state)


def _split(votes: Votes, frac: float, seed: int) -> tuple[Votes, Votes]:
    first = np.random.default_rng(seed).random(votes.n_votes) < frac
    return votes.take(first, compact=True), votes.take(~first, compact=True)


def test_partial_fit_reaches_the_cold_labels_in_fewer_rounds():
    cold_rounds = warm_rounds = 0
    for seed in range(4):
        votes, truth, _ = spammer_hammer(seed=seed)
        old, new = _split(votes, 0.8, seed)
        cold = KOS(random_state=0).fit(votes)
        warm = KOS(random_state=0).fit(old).partial_fit(new)
        assert warm.converged_ and cold.converged_
        assert warm.votes_.n_votes == votes.n_votes and len(warm.task_ids_) == len(cold.task_ids_)
        pos = {t: i for i, t in enumerate(warm.task_ids_)}
        order = np.array([pos[t] for t in cold.task_ids_])
        assert warm.labels_[order].tolist() == cold.labels_.tolist()
        cold_rounds += cold.n_iter_
        warm_rounds += warm.n_iter_
    assert warm_rounds < cold_rounds  # 37 vs 47 rounds over the four crowds


def test_partial_fit_starts_from_the_fitted_reliabilities():
    votes, _, _ = spammer_hammer(n_tasks=400, n_workers=80, seed=7)
    old, new = _split(votes, 0.7, 1)
    tasks = np.concatenate([np.asarray(new.task_ids)[new.task].astype(str), ["fresh-task"]])
    workers = np.concatenate([np.asarray(new.worker_ids)[new.worker].astype(str), ["fresh-worker"]])
    new = Votes.from_records(tasks, workers, np.concatenate([new.label, [1]]), n_classes=2)
    params = dict(n_iter=2, patience=None, messages="sum", tie="smallest")
    fitted = KOS(**params).fit(old)
    r, n_old = fitted.worker_reliability_.copy(), np.bincount(old.worker, minlength=old.n_workers)
    warm = KOS(**params).fit(old).partial_fit(new)
    merged = warm.votes_
    # by hand: a fitted worker starts from its reliability, the others from the vote-weighted mean
    start = np.full(merged.n_workers, (n_old @ r) / n_old.sum())
    start[:old.n_workers] = np.where(n_old > 0, r, start[:old.n_workers])
    assert merged.worker_ids[-1] == "fresh-worker" and (n_old @ r) / n_old.sum() > 0
    ref = KOS(**params)
    _run(ref, merged, start[merged.worker])
    np.testing.assert_allclose(warm.scores_, ref.scores_, rtol=1e-12)
    assert not np.allclose(warm.scores_, KOS(**params).fit(merged).scores_)  # the start matters


@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # n_iter reached: not the subject
def test_partial_fit_before_fit_is_fit_and_refuses_other_classes():
    votes, _, _ = spammer_hammer(n_tasks=300, n_workers=60, seed=3)
    a = KOS(random_state=0).partial_fit(votes)
    b = KOS(random_state=0).fit(votes)
    np.testing.assert_array_equal(a.probas_, b.probas_)
    with pytest.raises(InputError, match="other classes"):
        a.partial_fit(Votes.from_records(["x"], ["y"], ["cat"]))


def test_kos_without_votes_and_never_writes_into_the_start_messages():
    v = Votes.from_records([], [], [], classes=[0, 1], task_ids=["t9"])
    m = KOS(random_state=0).fit(v)  # a declared task without votes: vote shares, then the tie rule
    assert m.probas_.tolist() == [[0.5, 0.5]] and m.labels_.shape == (1,)
    votes = Votes.from_records(["t1", "t1", "t2", "t2"], ["a", "b", "a", "b"], [0, 0, 1, 1], classes=[0, 1])
    start = np.ones(4)
    _run(KOS(random_state=0), votes, start)  # messages are updated in place: on a copy
    np.testing.assert_array_equal(start, np.ones(4))
