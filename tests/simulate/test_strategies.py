"""The strategies: determinism, the vote budget, and the generative model of each."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import InputError, Votes
from crowdwise.simulate import (
    STRATEGIES,
    SimulationResult,
    discrete_difficulty,
    hammer_spammer,
    independent_confusion,
    simulate,
    student_teacher,
)

from ._bounds import hoeffding

ALL = sorted(STRATEGIES)


def _arrays(sim: SimulationResult) -> list[np.ndarray]:
    out = [sim.votes.task, sim.votes.worker, sim.votes.label, sim.truth, sim.worker_type]
    out += [a for a in (sim.confusions, sim.task_difficulty, sim.teacher) if a is not None]
    return out


# --------------------------------------------------------------------------- common contract
@pytest.mark.parametrize("strategy", ALL)
def test_same_seed_same_crowd_other_seed_other_crowd(strategy):
    kw = dict(feedback=4, imbalance_votes=True, spammer_fraction=0.2)
    a = simulate(strategy, 200, 10, 3, seed=3, **kw)
    b = simulate(strategy, 200, 10, 3, seed=3, **kw)
    c = simulate(strategy, 200, 10, 3, seed=4, **kw)
    for x, y in zip(_arrays(a), _arrays(b), strict=True):
        assert np.array_equal(x, y)
    assert not np.array_equal(a.truth, c.truth)
    assert a.votes.n_votes != c.votes.n_votes or not np.array_equal(a.votes.label, c.votes.label)


@pytest.mark.parametrize("strategy", ALL)
def test_generator_seed_and_global_rng_untouched(strategy):
    np.random.seed(12345)
    expected = np.random.random()
    np.random.seed(12345)
    a = simulate(strategy, 50, 5, 2, seed=np.random.default_rng(1))
    assert np.random.random() == expected  # the global RNG did not move
    b = simulate(strategy, 50, 5, 2, seed=np.random.default_rng(1))
    assert np.array_equal(a.votes.label, b.votes.label)


@pytest.mark.parametrize("strategy", ALL)
@pytest.mark.parametrize("feedback, imbalance", [(None, False), (3, False), (7, True), (12, True), (1, False)])
def test_votes_are_well_formed(strategy, feedback, imbalance):
    sim = simulate(strategy, 150, 12, 4, feedback=feedback, imbalance_votes=imbalance, seed=0)
    v = sim.votes
    assert isinstance(v, Votes) and v.name == strategy
    assert (v.n_tasks, v.n_workers, v.n_classes) == (150, 12, 4)
    assert not v.duplicated().any(), "a worker answered a task twice"
    assert v.label.min() >= 0 and v.label.max() < 4
    assert sim.truth.shape == (150,) and sim.truth.dtype.kind == "i"
    assert sim.worker_type.shape == (12,)
    per_task = v.votes_per_task()
    f = 12 if feedback is None else feedback
    if imbalance:
        assert per_task.min() >= 1 and per_task.max() <= f
    else:
        assert np.all(per_task == f)
    if sim.confusions is not None:
        assert sim.confusions.shape == (12, 4, 4)
        assert np.allclose(sim.confusions.sum(axis=2), 1.0)


def test_feedback_exact_votes_per_task():
    sim = independent_confusion(1000, 50, 3, feedback=6, seed=1)
    assert np.all(sim.votes.votes_per_task() == 6)
    assert sim.votes.n_votes == 6000


def test_default_feedback_everyone_answers_everything():
    sim = independent_confusion(40, 7, 3, seed=1)
    assert sim.votes.n_votes == 40 * 7
    assert np.all(sim.votes.votes_per_worker() == 40)


def test_imbalance_votes_uniform_counts():
    n_tasks, f = 4000, 9
    sim = independent_confusion(n_tasks, 20, 3, feedback=f, imbalance_votes=True, seed=2)
    per_task = sim.votes.votes_per_task()
    assert per_task.min() >= 1 and per_task.max() <= f
    assert len(np.unique(per_task)) > 1, "counts should vary"
    # uniform on 1..f: each value has probability 1/f (counts of independent tasks)
    share = np.bincount(per_task, minlength=f + 1)[1:] / n_tasks
    assert np.abs(share - 1 / f).max() < hoeffding(n_tasks, checks=f)


def test_imbalance_without_feedback_ranges_over_all_workers():
    sim = independent_confusion(2000, 8, 2, imbalance_votes=True, seed=3)
    per_task = sim.votes.votes_per_task()
    assert per_task.min() == 1 and per_task.max() == 8


@pytest.mark.parametrize("strategy", ALL)
def test_spammers_answer_independently_of_the_truth(strategy):
    """Each spammer vote is uniform whatever the truth: for every true class c, the share
    of each label among spammer votes on class-c tasks is 1/K (independent draws given
    the assignment; Hoeffding with a union bound over the K^2 cells)."""
    k, n_workers = 3, 20
    sim = simulate(strategy, 3000, n_workers, k, feedback=10, spammer_fraction=0.25, seed=5)
    spam = sim.worker_type == "spammer"
    own = 2 if strategy == "hammer-spammer" else 0  # its own spammers: floor(0.1 * 20), the last ones
    assert spam.sum() == 5 + own  # plus floor(0.25 * 20) among the others
    v = sim.votes
    mask = spam[v.worker]
    y, lab = sim.truth[v.task[mask]], v.label[mask]
    assert abs(np.mean(y == lab) - 1 / k) < hoeffding(mask.sum())
    for c in range(k):
        n_c = (y == c).sum()
        share = np.bincount(lab[y == c], minlength=k) / n_c
        assert np.abs(share - 1 / k).max() < hoeffding(n_c, checks=k * k)
    if sim.confusions is not None:
        assert np.allclose(sim.confusions[spam], 1 / k)


# --------------------------------------------------------------------------- independent confusion
def test_independent_confusions_diagonally_dominant():
    sim = independent_confusion(10, 30, 5, seed=6)
    c = sim.confusions
    assert np.all(c.argmax(axis=2) == np.arange(5))
    assert np.all(np.diagonal(c, axis1=1, axis2=2) == c.max(axis=2))
    assert set(sim.worker_type.tolist()) == {"confusion"}


def test_independent_empirical_accuracy_matches_diagonal():
    """Given the confusions, truth and assignment, worker j's votes are independent and
    right with probability pi_j[y, y]: its empirical accuracy is within Hoeffding of the
    mean diagonal entry over its tasks (union bound over workers)."""
    n_workers = 15
    sim = independent_confusion(6000, n_workers, 4, feedback=8, seed=7)
    v = sim.votes
    y = sim.truth[v.task]
    right = (v.label == y).astype(float)
    p_right = sim.confusions[v.worker, y, y]
    n_j = np.bincount(v.worker, minlength=n_workers)
    acc = np.bincount(v.worker, right, minlength=n_workers) / n_j
    expected = np.bincount(v.worker, p_right, minlength=n_workers) / n_j
    assert np.all(np.abs(acc - expected) < hoeffding(n_j, checks=n_workers))
    # and close to the plain diagonal mean: the truth is uniform and independent of the
    # assignment, so each class share of j's tasks is within Hoeffding of 1/K, and
    # |expected - diag_mean| <= sum_c |share_jc - 1/K|
    k = 4
    diag_mean = np.diagonal(sim.confusions, axis1=1, axis2=2).mean(axis=1)
    tol = hoeffding(n_j, checks=2 * n_workers) + k * hoeffding(n_j, checks=2 * n_workers * k)
    assert np.all(np.abs(acc - diag_mean) < tol)


def test_independent_concentration_sharpens_workers():
    sharp = independent_confusion(10, 200, 3, concentration=0.1, seed=8).confusions
    flat = independent_confusion(10, 200, 3, concentration=10.0, seed=8).confusions
    d = lambda c: np.diagonal(c, axis1=1, axis2=2).mean()  # noqa: E731
    assert d(sharp) > 0.85 > 0.5 > d(flat)


def test_independent_given_confusions():
    k, n_workers = 3, 4
    conf = np.tile(np.eye(k), (n_workers, 1, 1))
    conf[3] = [[0, 1, 0], [0, 0, 1], [1, 0, 0]]  # worker 3 always answers the next class
    sim = independent_confusion(300, n_workers, k, confusions=conf, seed=9)
    v = sim.votes
    y = sim.truth[v.task]
    assert np.all(v.label[v.worker < 3] == y[v.worker < 3])
    assert np.all(v.label[v.worker == 3] == (y[v.worker == 3] + 1) % k)
    assert np.array_equal(sim.confusions, conf)
    assert sim.params["confusions_given"] is True


@pytest.mark.parametrize("bad, match", [
    (np.ones((4, 3, 2)) / 2, "shape"),
    (np.full((4, 3, 3), 0.5), "sums to"),
    (-np.tile(np.eye(3), (4, 1, 1)), "negative"),
])
def test_independent_given_confusions_checked(bad, match):
    with pytest.raises(InputError, match=match):
        independent_confusion(10, 4, 3, confusions=bad)


# --------------------------------------------------------------------------- hammer-spammer
def test_hammer_spammer_roles():
    sim = hammer_spammer(500, 10, 4, ratio=0.3, seed=10)
    assert sim.worker_type.tolist() == ["hammer"] * 7 + ["spammer"] * 3  # peerannot: spammers last
    v = sim.votes
    hammer = v.worker < 7
    assert np.all(v.label[hammer] == sim.truth[v.task[hammer]])
    assert np.allclose(sim.confusions[:7], np.eye(4)) and np.allclose(sim.confusions[7:], 0.25)
    n = (~hammer).sum()
    assert abs(np.mean(v.label[~hammer] == sim.truth[v.task[~hammer]]) - 0.25) < hoeffding(n)


# --------------------------------------------------------------------------- student-teacher
def test_student_teacher_roles():
    sim = student_teacher(20, 100, 3, ratio=0.29, seed=11)
    assert (sim.worker_type == "student").sum() == 29  # floor(0.29 * 100), no float noise
    assert np.all(sim.teacher[:71] == -1)
    assert np.all((sim.teacher[71:] >= 0) & (sim.teacher[71:] < 71))
    assert np.array_equal(sim.confusions[71:], sim.confusions[sim.teacher[71:]])
    assert np.all(sim.confusions.argmax(axis=2) == np.arange(3))  # teachers are diagonally dominant


def test_students_empirical_confusion_close_to_teacher():
    """Row c of a student's empirical confusion (its answers on class-c tasks) is within
    Hoeffding of row c of its teacher's matrix (union bound over all entries checked)."""
    k = 3
    sim = student_teacher(6000, 10, k, ratio=0.5, feedback=6, seed=12)
    v = sim.votes
    y = sim.truth[v.task]
    students = np.flatnonzero(sim.teacher >= 0)
    assert students.size == 5
    checks = students.size * k * k
    for s in students:
        mine = v.worker == s
        for c in range(k):
            lab = v.label[mine & (y == c)]
            share = np.bincount(lab, minlength=k) / lab.size
            target = sim.confusions[sim.teacher[s], c]
            assert np.abs(share - target).max() < hoeffding(lab.size, checks=checks)


def test_student_teacher_needs_a_teacher():
    with pytest.raises(InputError, match="no teacher"):
        student_teacher(10, 5, 2, ratio=1.0)


def test_spammer_teacher_still_teaches():
    sim = student_teacher(10, 40, 3, ratio=0.5, spammer_fraction=0.5, seed=13)
    spam_teachers = np.flatnonzero((sim.worker_type == "spammer") & (np.arange(40) < 20))
    followers = np.flatnonzero(np.isin(sim.teacher, spam_teachers) & (sim.worker_type == "student"))
    assert followers.size  # with this seed some students follow a teacher turned spammer
    assert np.all(sim.confusions[followers].argmax(axis=2) == np.arange(3))  # not uniform


# --------------------------------------------------------------------------- discrete difficulty
def test_discrete_difficulty_easy_tasks_always_right():
    sim = discrete_difficulty(2000, 10, 4, ratio=0.3, ratio_diff=1.0, feedback=5, seed=14)
    v = sim.votes
    easy = sim.task_difficulty[v.task] == "easy"
    assert easy.sum() > 1000
    assert np.all(v.label[easy] == sim.truth[v.task[easy]])


def test_discrete_difficulty_with_spammers_only_spammers_miss_easy_tasks():
    sim = discrete_difficulty(2000, 10, 4, ratio=0.5, feedback=5, spammer_fraction=0.3, seed=15)
    v = sim.votes
    easy = sim.task_difficulty[v.task] == "easy"
    spam = sim.worker_type[v.worker] == "spammer"
    assert np.all(v.label[easy & ~spam] == sim.truth[v.task[easy & ~spam]])
    assert np.mean(v.label[easy & spam] == sim.truth[v.task[easy & spam]]) < 0.5


@pytest.mark.parametrize("ratio_diff, p_random", [(1.0, 0.0), (3.0, 0.0), (0.0, 0.0), (1.0, 0.2)])
def test_discrete_difficulty_task_shares(ratio_diff, p_random):
    """P(easy) = rho (1 - p) / (rho + 1), P(hard) = (1 - p) / (rho + 1), P(random) = p."""
    n = 5000
    sim = discrete_difficulty(n, 4, 2, ratio_diff=ratio_diff, p_random=p_random, feedback=1, seed=16)
    p_hard = (1 - p_random) / (ratio_diff + 1)
    for name, p in (("easy", ratio_diff * p_hard), ("hard", p_hard), ("random", p_random)):
        assert abs(np.mean(sim.task_difficulty == name) - p) < hoeffding(n, checks=3)


def test_discrete_difficulty_workers():
    """Good workers (first floor(ratio n)) have sharp diagonally dominant rows and beat the
    bad ones on hard tasks; everybody is at chance on random tasks."""
    k = 3
    sim = discrete_difficulty(4000, 10, k, ratio=0.4, p_random=0.2, feedback=10, seed=17)
    assert sim.worker_type.tolist() == ["good"] * 4 + ["bad"] * 6
    assert np.all(sim.confusions[:4].argmax(axis=2) == np.arange(k))
    v = sim.votes
    y = sim.truth[v.task]
    right = v.label == y
    hard = sim.task_difficulty[v.task] == "hard"
    good = v.worker < 4
    assert right[hard & good].mean() > right[hard & ~good].mean() + 0.2
    rnd = sim.task_difficulty[v.task] == "random"
    assert abs(right[rnd].mean() - 1 / k) < hoeffding(rnd.sum())  # independent uniform draws


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_classes=1), "at least 2"),
    (dict(feedback=11), "more than the 10 workers"),
    (dict(feedback=0), "at least 1"),
    (dict(n_tasks=0), "at least 1"),
    (dict(n_workers=True), "integer"),
    (dict(n_tasks=2.5), "integer"),
    (dict(spammer_fraction=1.5), "fraction"),
    (dict(spammer_fraction=float("nan")), "fraction"),
])
def test_invalid_common_arguments(kwargs, match):
    args = dict(n_tasks=10, n_workers=10, n_classes=3) | kwargs
    with pytest.raises(InputError, match=match) as err:
        independent_confusion(**args)
    assert err.value.fix


@pytest.mark.parametrize("func, kwargs, match", [
    (hammer_spammer, dict(ratio=-0.1), "ratio"),
    (student_teacher, dict(ratio=2), "ratio"),
    (discrete_difficulty, dict(ratio=1.01), "ratio"),
    (discrete_difficulty, dict(ratio_diff=-1), "ratio_diff"),
    (discrete_difficulty, dict(p_random=2), "p_random"),
    (independent_confusion, dict(concentration=0), "concentration"),
])
def test_invalid_strategy_arguments(func, kwargs, match):
    with pytest.raises(InputError, match=match):
        func(10, 5, 2, **kwargs)


def test_unknown_strategy():
    with pytest.raises(InputError, match="unknown simulation strategy"):
        simulate("nope", 10, 5, 2)
    assert simulate("independent_confusion", 5, 2, 2).strategy == "independent-confusion"


def test_params_recorded():
    sim = discrete_difficulty(30, 6, 3, ratio=0.5, ratio_diff=2.0, feedback=4, seed=21)
    assert sim.params["seed"] == 21 and sim.params["ratio_diff"] == 2.0 and sim.params["feedback"] == 4
    assert repr(sim).startswith("SimulationResult(strategy='discrete-difficulty'")
