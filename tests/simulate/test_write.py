"""write_simulation: the peerannot folder round-trips through the json module."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crowdwise.simulate import discrete_difficulty, independent_confusion, student_teacher, write_simulation


def _read_answers(path):
    answers = json.loads(path.read_text())
    rows = [(int(t), int(w), lab) for t, ws in answers.items() for w, lab in ws.items()]
    return answers, np.array(sorted(rows), dtype=np.int64).reshape(-1, 3)


@pytest.mark.parametrize("imbalance", [False, True])
def test_answers_round_trip(tmp_path, imbalance):
    sim = independent_confusion(120, 9, 4, feedback=5, imbalance_votes=imbalance, spammer_fraction=0.3, seed=1)
    paths = write_simulation(sim, tmp_path / "new" / "folder")
    answers, rows = _read_answers(paths["answers"])
    assert list(answers) == [str(i) for i in range(120)]  # every task, in order, string keys
    assert all(isinstance(w, str) and type(lab) is int for ws in answers.values() for w, lab in ws.items())
    v = sim.votes
    assert np.array_equal(rows, np.column_stack([v.task, v.worker, v.label]))

    meta = json.loads(paths["metadata"].read_text())
    assert meta["name"] == "folder" and meta["strategy"] == "independent-confusion"
    assert (meta["n_classes"], meta["n_workers"], meta["n_tasks"], meta["n_task"]) == (4, 9, 120, 120)
    assert meta["seed"] == 1 and meta["feedback"] == 5 and meta["imbalance_votes"] is imbalance
    truth = np.load(paths["ground_truth"])
    assert truth.dtype == np.int64 and np.array_equal(truth, sim.truth)
    assert np.array_equal(np.load(paths["matrices"]), sim.confusions)
    assert sorted(p.name for p in (tmp_path / "new" / "folder").iterdir()) == sorted(
        p.name for p in paths.values())  # no temporary file left behind


def test_strategy_specific_files(tmp_path):
    dd = discrete_difficulty(50, 6, 3, ratio=0.5, seed=2)
    paths = write_simulation(dd, tmp_path / "dd", name="my-crowd")
    assert np.array_equal(np.load(paths["difficulties"]), dd.task_difficulty)
    assert json.loads(paths["metadata"].read_text())["name"] == "my-crowd"

    st = student_teacher(50, 10, 3, ratio=0.3, seed=3)
    paths = write_simulation(st, tmp_path / "st")
    assoc = np.load(paths["student_teacher_association"])
    assert assoc.tolist() == [[s, int(st.teacher[s])] for s in (7, 8, 9)]


def test_overwrites_and_skips_missing_confusions(tmp_path, monkeypatch):
    from crowdwise.simulate import _engine

    first = independent_confusion(30, 5, 2, seed=4)
    write_simulation(first, tmp_path)
    monkeypatch.setattr(_engine, "CONFUSION_LIMIT", 0)
    second = independent_confusion(40, 5, 2, seed=5)
    assert second.confusions is None
    paths = write_simulation(second, tmp_path)
    assert "matrices" not in paths
    _, rows = _read_answers(paths["answers"])
    assert rows.shape[0] == second.votes.n_votes
    assert np.array_equal(np.load(paths["ground_truth"]), second.truth)
