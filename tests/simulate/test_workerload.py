"""peerannot's ``--workerload``: each worker answers at most that many tasks; tasks are served
in order from the workers still under their load, so later tasks get fewer votes, and a task
left with no worker is an error."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from crowdwise import InputError
from crowdwise.cli.main import app
from crowdwise.simulate import STRATEGIES, simulate
from crowdwise.simulate._engine import assign_capped


def _sequential(rng: np.random.Generator, n_workers: int, n_tasks: int, feedback: int, workerload: int):
    """The specification, one task at a time (as peerannot's loop): votes per task, or None
    when a task finds no worker left."""
    load = np.zeros(n_workers, int)
    per_task = []
    for _ in range(n_tasks):
        available = np.flatnonzero(load < workerload)
        m = min(feedback, available.size)
        if m == 0:
            return None
        load[rng.choice(available, size=m, replace=False)] += 1
        per_task.append(m)
    return np.array(per_task)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_no_worker_exceeds_its_load_and_tasks_take_what_is_left(strategy):
    for seed in range(5):
        sim = simulate(strategy, 57, 12, 3, feedback=4, workerload=19, seed=seed)
        v = sim.votes
        assert np.bincount(v.worker, minlength=12).max() <= 19
        per_task = v.votes_per_task()
        assert per_task.max() == 4 and (np.diff(per_task) <= 0).all()   # later tasks never get more
        key = v.task * 12 + v.worker
        assert np.unique(key).size == v.n_votes                          # distinct workers per task
        # a task gets fewer than feedback only once fewer than feedback workers were left
        # 12 x 19 = 228 answers for 57 x 4 = 228 asked: the last tasks find fewer than 4 workers left,
        # and a task gets fewer than feedback only when fewer than feedback workers were left
        short = np.flatnonzero(per_task < 4)
        assert short.size and short[-1] == 56
        before = np.bincount(v.worker[v.task < short[0]], minlength=12)
        assert (before < 19).sum() == per_task[short[0]]
        assert sim.params["workerload"] == 19


def test_same_law_as_the_sequential_process():
    # 4 workers, 3 votes per task, 6 tasks each, 8 tasks: the first six always get 3 votes,
    # the last two fewer once some workers are full (1000 draws of each: standard error ~0.015)
    ours = np.mean([np.bincount(assign_capped(np.random.default_rng(s), 4, 8, 3, 6)[0], minlength=8)
                    for s in range(1000)], axis=0)
    rng = np.random.default_rng(12345)
    spec = np.mean([_sequential(rng, 4, 8, 3, 6) for _ in range(1000)], axis=0)
    assert (ours[:6] == 3).all() and (spec[:6] == 3).all()
    assert ours[6:] == pytest.approx(spec[6:], abs=0.08)
    assert 2.0 < ours[7] < 2.3 < ours[6] < 3.0


def test_imbalance_votes_draw_below_what_is_left():
    sim = simulate("hammer-spammer", 200, 10, 2, feedback=5, imbalance_votes=True, workerload=70, seed=1)
    per_task = sim.votes.votes_per_task()
    assert per_task.min() >= 1 and per_task.max() <= 5 and len(set(per_task.tolist())) > 2
    assert np.bincount(sim.votes.worker).max() <= 70


def test_a_load_that_binds_nobody_changes_nothing():
    a = simulate("independent-confusion", 30, 6, 3, feedback=3, seed=4)
    b = simulate("independent-confusion", 30, 6, 3, feedback=3, workerload=30, seed=4)
    assert a.votes.equals(b.votes, check_order=True)


def test_running_out_of_workers_is_one_clear_error():
    with pytest.raises(InputError, match="run out of answers at task 1 of 2"):
        simulate("hammer-spammer", 2, 2, 2, feedback=2, workerload=1, seed=0)
    with pytest.raises(InputError, match="n_workers x workerload must cover"):
        simulate("hammer-spammer", 100, 3, 2, feedback=1, workerload=10, seed=0)
    with pytest.raises(InputError, match="workerload"):
        simulate("hammer-spammer", 10, 3, 2, workerload=0)


def test_cli_workerload(tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["simulate", "--n-task", "40", "--n-worker", "5", "--feedback", "3", "--workerload",
                              "25", "--seed", "2", "--out-dir", str(tmp_path / "w")])
    assert res.exit_code == 0, res.output
    import json

    answers = json.loads((tmp_path / "w" / "answers.json").read_text())
    loads = np.bincount([int(w) for ws in answers.values() for w in ws], minlength=5)
    assert loads.max() <= 25 and sum(loads) == sum(len(ws) for ws in answers.values())
    assert json.loads((tmp_path / "w" / "metadata.json").read_text())["workerload"] == 25
    res = runner.invoke(app, ["simulate", "--n-task", "40", "--n-worker", "2", "--workerload", "5",
                              "--out-dir", str(tmp_path / "x")])
    assert res.exit_code != 0 and not (tmp_path / "x" / "answers.json").exists()
