"""ZeroBasedSkill (ZBS): hand-computed skills with crowd-kit's learning-rate schedule, ties
of the running vote shared, new votes on fitted skills, crowd-kit's accuracy on real sets."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import MajorityVote, ZeroBasedSkill, make_strategy


def V(task, worker, label, **kw):
    return Votes.from_records(task, worker, label, **kw)


@pytest.fixture
def tied():
    # t0: a 0, b 0, c 1 -> 0 ; t1: a 1, b 1, c 0 -> 1 ; t2: a 0, c 1 and t3: b 1, c 0 are
    # 1-1 ties of the majority vote
    return V(["t0"] * 3 + ["t1"] * 3 + ["t2"] * 2 + ["t3"] * 2, list("abcabc") + list("acbc"),
             [0, 0, 1, 1, 1, 0, 0, 1, 1, 0], n_classes=2)


def test_hand_computed_at_rate_one(tied):
    # step 1 (equal skills = majority vote; the ties share): a = (1 + 1 + 1/2) / 3 = 5/6,
    # b = 5/6, c = (0 + 0 + 1/2 + 1/2) / 4 = 1/4 ; step 2: t2 -> 0 (a), t3 -> 1 (b), so
    # a = b = 1, c = 0 ; step 3 changes nothing: a fixed point after 3 steps
    m = ZeroBasedSkill(tie="smallest").fit(tied)
    np.testing.assert_allclose(m.skills_, [1.0, 1.0, 0.0])
    assert m.n_iter_ == 3
    assert m.labels_.tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(m.probas_, [[1, 0], [0, 1], [1, 0], [0, 1]])


def test_hand_computed_learning_rate_schedule(tied):
    # rates lr_init * factor ** (t // steps): 0.5, 0.25, 0.25 ; start 1/K' = 1/2
    # s1 = 1/2 + 0.5 (acc1 - 1/2) with acc1 = (5/6, 5/6, 1/4): (2/3, 2/3, 3/8)
    # s2 = s1 + 0.25 (acc2 - s1) with acc2 = (1, 1, 0): (3/4, 3/4, 9/32)
    # s3 = s2 + 0.25 (acc3 - s2), acc3 = acc2: (13/16, 13/16, 27/128)
    m = ZeroBasedSkill(n_iter=3, lr_init=0.5, lr_steps_to_reduce=2, lr_reduce_factor=0.5).fit(tied)
    np.testing.assert_allclose(m.skills_, [13 / 16, 13 / 16, 27 / 128])
    assert m.n_iter_ == 3
    # the final vote weighs the final skills: t2 -> a (13/16) against c (27/128)
    np.testing.assert_allclose(m.probas_[2], [13 / 16 / (13 / 16 + 27 / 128), 27 / 128 / (13 / 16 + 27 / 128)])


def test_no_step_is_the_majority_vote(tied):
    m = ZeroBasedSkill(n_iter=0, tie="smallest").fit(tied)
    np.testing.assert_allclose(m.probas_, MajorityVote().fit(tied).probas_)
    assert m.n_iter_ == 0


def test_tasks_whose_voters_all_weigh_zero_keep_their_counts():
    from crowdwise.aggregate.zbs import weighted_scores

    v = V(["t0", "t0", "t1", "t1", "t1"], ["a", "b", "a", "c", "d"], [0, 1, 1, 1, 0], n_classes=2)
    # t0: a and b weigh 0 -> its vote counts ; t1: c = 2, d = 1 -> weighted
    s = weighted_scores(v, np.array([0.0, 0.0, 2.0, 1.0])).toarray()
    np.testing.assert_allclose(s, [[1, 1], [1, 2]])


def test_predict_reuses_skills_unknown_workers_get_the_mean(tied):
    m = ZeroBasedSkill(tie="smallest").fit(tied)
    new = V(["n", "n", "n"], ["a", "c", "zz"], [0, 1, 1], n_classes=2)
    # a = 1 for class 0 ; c = 0 and zz = mean(1, 1, 0) = 2/3 for class 1
    np.testing.assert_allclose(m.predict_proba(new), [[1 / (1 + 2 / 3), (2 / 3) / (1 + 2 / 3)]])


@pytest.mark.parametrize("bad", [{"n_iter": -1}, {"lr_init": -1.0}, {"lr_steps_to_reduce": 0},
                                 {"lr_reduce_factor": float("nan")}, {"n_iter": 2.5}])
def test_bad_parameters_raise_input_errors(tied, bad):
    from crowdwise.errors import InputError

    with pytest.raises(InputError):
        ZeroBasedSkill(**bad).fit(tied)


#: crowd-kit 1.4.2 ZeroBasedSkill on the same votes (benchmarks/new_methods_vs_crowdkit.py)
CROWDKIT_ZBS = {"bluebirds": 0.7593, "rte": 0.92125, "zheng_dog": 0.8302, "zheng_sentiment": 0.953,
                "weather_sentiment_amt": 0.8567, "music_genre": 0.80}


@pytest.mark.parametrize("name", sorted(CROWDKIT_ZBS))
def test_crowdkit_accuracy_on_real_sets(name):
    from _data import require_datasets

    from crowdwise.evaluate.benchmark import load_benchmark_data

    folder = require_datasets() / name
    if not (folder / "votes.csv").is_file():
        pytest.skip(f"{name} not found in {folder.parent}")
    d = load_benchmark_data(folder)
    m = make_strategy("ZBS", tie="smallest").fit(d.votes)
    ok = d.truth >= 0
    assert abs(np.mean(m.labels_[ok] == d.truth[ok]) - CROWDKIT_ZBS[name]) <= 0.005
