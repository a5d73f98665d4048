"""The vectorised machinery: worker assignment, rows, chunking, the large regime."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from crowdwise.simulate import _engine, independent_confusion, student_teacher

from ._bounds import hoeffding, mcdiarmid


def _check_assignment(task, worker, n_workers, per_task):
    assert np.array_equal(np.bincount(task, minlength=per_task.size), per_task)
    key = task * n_workers + worker
    assert np.all(np.diff(key) > 0), "sorted by (task, worker) and no pair twice"
    assert worker.min() >= 0 and worker.max() < n_workers


@pytest.mark.parametrize("m", [1, 3, 10, 11, 19, 20])
def test_assign_exact_sizes_sorted_distinct(m):
    # 20 workers: m <= 10 sparse (rejection), 10 < m < 20 dense (complement), 20 full
    rng = np.random.default_rng(0)
    per_task = np.full(500, m)
    task, worker = _engine.assign_workers(rng, 20, per_task)
    _check_assignment(task, worker, 20, per_task)


def test_assign_mixed_sizes():
    rng = np.random.default_rng(1)
    per_task = rng.integers(1, 31, size=2000)  # 30 workers: all three regimes at once
    task, worker = _engine.assign_workers(rng, 30, per_task)
    _check_assignment(task, worker, 30, per_task)


@pytest.mark.parametrize("m", [2, 4])
def test_assign_subsets_uniform(m):
    """Every m-subset of 6 workers equally likely, through rejection (m=2) or complement (m=4)."""
    n_tasks, n_workers = 30_000, 6
    rng = np.random.default_rng(2)
    task, worker = _engine.assign_workers(rng, n_workers, np.full(n_tasks, m))
    code = np.add.reduceat(1 << worker, np.arange(0, worker.size, m))
    subsets = [sum(1 << j for j in c) for c in combinations(range(n_workers), m)]
    freq = np.array([np.mean(code == s) for s in subsets])
    assert freq.sum() == pytest.approx(1.0)
    tol = hoeffding(n_tasks, checks=len(subsets))
    assert np.abs(freq - 1 / len(subsets)).max() < tol


def test_assign_loads_uniform_many_workers():
    """Sparse regime at a larger size: each worker answers a task with probability m / n."""
    n_tasks, n_workers, m = 20_000, 400, 7
    rng = np.random.default_rng(3)
    task, worker = _engine.assign_workers(rng, n_workers, np.full(n_tasks, m))
    _check_assignment(task, worker, n_workers, np.full(n_tasks, m))
    share = np.bincount(worker, minlength=n_workers) / n_tasks  # tasks are independent
    assert np.abs(share - m / n_workers).max() < hoeffding(n_tasks, checks=n_workers)


def test_distinct_workers_half():
    rng = np.random.default_rng(4)
    size = np.full(1000, 50)
    s, w = _engine.distinct_workers(rng, 100, size)
    assert np.array_equal(np.bincount(s), size)
    assert np.all(np.diff(s * 100 + w) > 0)


def test_dirichlet_rows_swap_and_normalised():
    rng = np.random.default_rng(5)
    n, k = 5000, 4
    cls = rng.integers(0, k, n)
    rows = _engine.dirichlet_rows(rng, np.full(n, 0.3), np.ones(n, bool), cls, k)
    assert np.allclose(rows.sum(axis=1), 1.0)
    assert np.all(rows[np.arange(n), cls] == rows.max(axis=1))
    # without the exchange, the true class is the mode only about 1/K of the time
    rows = _engine.dirichlet_rows(rng, np.full(n, 5.0), np.zeros(n, bool), cls, k)
    assert abs(np.mean(rows.argmax(axis=1) == cls) - 1 / k) < hoeffding(n)


def test_draw_from_rows_never_picks_zero_probability():
    rng = np.random.default_rng(6)
    table = np.array([[0.0, 0.5, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0]])
    row = rng.integers(0, 2, 50_000)
    out = np.empty(row.size, np.int64)
    _engine.draw_from_rows(rng, np.cumsum(table, axis=1), row, out)
    assert set(out[row == 0].tolist()) == {1, 3}
    assert set(out[row == 1].tolist()) == {2}
    assert abs(np.mean(out[row == 0] == 1) - 0.5) < hoeffding((row == 0).sum())


def test_chunking_does_not_change_the_crowd(monkeypatch):
    """Blocks only bound memory: in the small regime the crowd is the same for any block size."""
    kw = dict(n_tasks=300, n_workers=12, n_classes=3, feedback=9, imbalance_votes=True,
              spammer_fraction=0.2, seed=7)
    ref = independent_confusion(**kw)
    monkeypatch.setattr(_engine, "CHUNK", 7)
    small = independent_confusion(**kw)
    assert np.array_equal(ref.votes.worker, small.votes.worker)
    assert np.array_equal(ref.votes.label, small.votes.label)
    assert np.array_equal(ref.confusions, small.confusions)


def test_large_regime_without_tensor(monkeypatch):
    """Above CONFUSION_LIMIT only the needed rows are drawn; the model is unchanged.

    Every row is diagonally dominant, so each vote is right with probability
    E[max of Dirichlet(1_K)] = H_K / K whatever the assignment. The accuracy is a function
    of the independent rows (row r moves it by c_r / N, c_r = its votes) and of one
    uniform per vote (1 / N): McDiarmid gives the tolerance.
    """
    monkeypatch.setattr(_engine, "CONFUSION_LIMIT", 0)
    monkeypatch.setattr(_engine, "CHUNK", 64)  # several blocks of rows
    k = 3
    sim = independent_confusion(3000, 2000, k, feedback=4, seed=8)
    assert sim.confusions is None
    v = sim.votes
    assert not v.duplicated().any()
    assert np.array_equal(v.votes_per_task(), np.full(3000, 4))
    again = independent_confusion(3000, 2000, k, feedback=4, seed=8)
    assert np.array_equal(v.label, again.votes.label)
    n = v.n_votes
    pair_counts = np.bincount(v.worker * k + sim.truth[v.task])
    tol = mcdiarmid((np.sum(pair_counts.astype(float) ** 2) + n) / n**2)
    expected = sum(1 / i for i in range(1, k + 1)) / k
    acc = np.mean(v.label == sim.truth[v.task])
    assert abs(acc - expected) < tol


def test_large_regime_students_follow_teachers(monkeypatch):
    """In the large regime a student reads its teacher's rows (not rows of its own).

    Each student and its teacher then have the same per-class accuracy; their empirical
    accuracies, from independent votes, differ by less than the sum of two Hoeffding
    half-widths. Rows drawn independently would differ by about 0.17 on average.
    """
    monkeypatch.setattr(_engine, "CONFUSION_LIMIT", 0)
    k = 2
    sim = student_teacher(6000, 6, k, ratio=0.5, seed=9)  # 3 teachers, 3 students
    assert sim.confusions is None
    v = sim.votes
    right = v.label == sim.truth[v.task]
    y = sim.truth[v.task]
    students = np.flatnonzero(sim.teacher >= 0)
    assert students.size == 3
    for s in students:
        t = sim.teacher[s]
        for c in range(k):
            a = right[(v.worker == s) & (y == c)]
            b = right[(v.worker == t) & (y == c)]
            tol = hoeffding(a.size, checks=2 * k * 3) + hoeffding(b.size, checks=2 * k * 3)
            assert abs(a.mean() - b.mean()) < tol


def test_n_of_floor_without_float_noise():
    assert _engine.n_of(0.29, 100) == 29  # 0.29 * 100 = 28.999999999999996
    assert _engine.n_of(0.5, 7) == 3
    assert _engine.n_of(1.0, 7) == 7
    assert math.floor(0.29 * 100) == 28  # the noise being avoided


@pytest.mark.parametrize("alpha", [0.2, 1.0, 5.0])
def test_dirichlet_rows_moments(alpha):
    """Second moment of a symmetric Dirichlet: E[p_k^2] = alpha (alpha + 1) / (K alpha (K alpha + 1))."""
    rng = np.random.default_rng(10)
    n, k = 40_000, 3
    rows = _engine.dirichlet_rows(rng, np.full(n, alpha), np.zeros(n, bool), np.zeros(n, np.int64), k)
    expected = alpha * (alpha + 1) / (k * alpha * (k * alpha + 1))
    assert np.abs((rows**2).mean(axis=0) - expected).max() < hoeffding(n, checks=k)
    assert np.abs(rows.mean(axis=0) - 1 / k).max() < hoeffding(n, checks=k)


def test_dirichlet_rows_tiny_concentration_does_not_underflow():
    rng = np.random.default_rng(11)
    rows = _engine.dirichlet_rows(rng, np.full(1000, 1e-3), np.ones(1000, bool), np.zeros(1000, np.int64), 4)
    assert np.all(np.isfinite(rows)) and np.allclose(rows.sum(axis=1), 1.0)
    assert np.mean(rows[:, 0] > 0.99) > 0.95  # nearly one-hot, on the true class
