"""Calibrating the AI of a crowd: trusted labels, the calibrated ai_score column, and the
confident-AI aggregation on raw against calibrated scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from crowdwise import Votes
from crowdwise.aggregate import PlantNet
from crowdwise.calibration import VectorScaling, add_ai_votes, ai_votes, calibrate_ai, simulate_ai, trusted_labels
from crowdwise.errors import InputError

from ._crowd import overconfident_crowd


def _small() -> Votes:
    # o1..o3: ann and bob agree; the AI votes on every observation with a score
    t = ["o1", "o1", "o1", "o2", "o2", "o2", "o3", "o3", "o3", "o4"]
    w = ["ann", "bob", "AI", "ann", "bob", "AI", "ann", "bob", "AI", "AI"]
    lab = ["a", "a", "a", "b", "b", "a", "c", "c", "c", "b"]
    s = [np.nan, np.nan, 0.9, np.nan, np.nan, 0.9, np.nan, np.nan, 0.9, 0.9]
    return Votes.from_records(t, w, lab, extra={"ai_score": s})


def test_expert_labels_by_hand():
    v = _small()
    truth = np.array([0, 1, 2, -1])   # o4 has no expert label
    res = calibrate_ai(v, truth)
    # three AI votes at 0.9 on trusted tasks, two right, K = 3: the calibrated score is 2/3,
    # sigmoid(log(18) / T - log 2) = 2/3, i.e. log(18) / T = log 4
    assert res.n_trusted == 3 and res.n_ai_votes == 4
    assert res.calibrator.temperature_ == pytest.approx(math.log(18) / math.log(4), rel=1e-5)
    col = res.votes.extra["ai_score"]
    ai = v.worker == list(v.worker_ids).index("AI")
    assert np.allclose(col[ai], 2 / 3, atol=1e-6)            # o4's vote too: the map applies to every AI vote
    assert np.isnan(col[~ai]).all()                           # human rows untouched
    assert np.array_equal(res.votes.label, v.label) and np.array_equal(res.votes.task, v.task)
    assert res.before.ece == pytest.approx(0.9 - 2 / 3) and res.after.ece == pytest.approx(0, abs=1e-6)
    assert (res.n_above_before, res.n_above_after) == (4, 0)  # 2/3 < theta_score = 0.7
    d = res.to_dict()
    assert d["method"] == "temperature" and d["n_trusted_ai_votes"] == 3 and d["scores"] == "top-1"


def test_trusted_labels_are_what_plantnet_validates_without_the_ai():
    v, _ = overconfident_crowd(n_obs=600, n_users=120, seed=4)
    labels, source = trusted_labels(v)
    human = v.take(v.worker != list(v.worker_ids).index("AI"))
    ref = PlantNet().fit(human)
    assert np.array_equal(labels, np.where(ref.valid_, ref.labels_, -1))
    assert "PlantNet validates on the human votes" in source
    # a strategy without a validity rule trusts every task with a human vote
    mv, src = trusted_labels(v, "MV")
    has_human = np.bincount(human.task, minlength=v.n_tasks) > 0
    assert ((mv >= 0) == has_human).all() and "MV labels" in src
    res = calibrate_ai(v)
    assert res.n_trusted == int(ref.valid_.sum()) and res.source == source


def test_vector_method_and_full_score_vectors():
    rng = np.random.default_rng(0)
    n, k = 3000, 4
    truth = rng.integers(0, k, n)
    label, score = simulate_ai(truth, k, temperature=2.0, random_state=0)
    v = Votes.from_records(np.arange(n), ["AI"] * n, label, n_classes=k, extra={"ai_score": score})
    res = calibrate_ai(v, truth, method="vector")
    assert isinstance(res.calibrator, VectorScaling)
    assert np.allclose(res.votes.extra["ai_score"], res.calibrator.transform(score, predicted=label))
    # full vectors: the implied ones give the same temperature as the top-1 scores
    vec = np.tile(((1 - score) / (k - 1))[:, None], (1, k))
    vec[np.arange(n), label] = score
    full = calibrate_ai(v, truth, scores=vec)
    top1 = calibrate_ai(v, truth)
    assert full.calibrator.temperature_ == pytest.approx(top1.calibrator.temperature_, rel=1e-5)
    assert np.allclose(full.votes.extra["ai_score"], top1.votes.extra["ai_score"], atol=1e-8)


def test_overconfident_ai_is_trusted_less_after_calibration():
    """An AI over-confident by T = 3 on the margin: calibrated on expert labels of a third of
    the observations, fewer of its votes pass theta_score = 0.7, and PlantNet-AIconfident
    gives more observations a valid and right label, with no loss of accuracy."""
    votes, truth = overconfident_crowd(temperature=3.0, seed=0)
    experts = np.where(np.arange(truth.size) % 3 == 0, truth, -1)
    res = calibrate_ai(votes, experts)
    # T recovered: 4 standard errors of the MLE (Fisher information of 1/T, at the true T)
    ai = ai_votes(votes)
    on = experts[votes.task[ai]] >= 0
    s = votes.extra["ai_score"][ai][on]
    m = np.log(s) - np.log((1 - s) / 19)
    p = expit(m / 3.0 - math.log(19))
    se = 9.0 / math.sqrt(np.sum(p * (1 - p) * m**2))
    assert abs(res.calibrator.temperature_ - 3.0) < 4 * se
    assert res.after.ece < res.before.ece / 4
    # fewer AI votes pass the threshold, and PlantNet-AIconfident counts exactly those
    assert res.n_above_after < res.n_above_before / 1.5
    raw, cal = (PlantNet(ai="confident").fit(v) for v in (votes, res.votes))
    acc = [float(np.mean(m.labels_ == truth)) for m in (raw, cal)]
    valid_right = [float(np.mean(m.valid_ & (m.labels_ == truth))) for m in (raw, cal)]
    assert acc[1] >= acc[0], acc
    assert valid_right[1] > valid_right[0] + 0.02, valid_right
    # temperature scaling is monotone: a calibrated score above 0.7 is a raw score above
    # sigmoid(T * m(0.7) - log(K - 1)), m(0.7) the margin of 0.7 (module documentation)
    t = res.calibrator.temperature_
    theta_raw = float(expit(t * (math.log(0.7 / 0.3) + math.log(19)) - math.log(19)))
    assert theta_raw > 0.99
    assert int(np.sum(votes.extra["ai_score"][ai] > theta_raw)) == res.n_above_after
    assert np.array_equal(PlantNet(ai="confident", theta_score=theta_raw).fit(votes).labels_, cal.labels_)


def test_overconfident_ai_over_ten_crowds():
    """Ten crowds: the share of valid right labels rises every time; the accuracy of the
    labels (invalid ones included) does not fall on average."""
    gains_acc, gains_vr = [], []
    for seed in range(10):
        votes, truth = overconfident_crowd(temperature=3.0, seed=seed)
        res = calibrate_ai(votes, np.where(np.arange(truth.size) % 3 == 0, truth, -1))
        assert res.n_above_after < res.n_above_before
        raw, cal = (PlantNet(ai="confident").fit(v) for v in (votes, res.votes))
        gains_acc.append(np.mean(cal.labels_ == truth) - np.mean(raw.labels_ == truth))
        gains_vr.append(np.mean(cal.valid_ & (cal.labels_ == truth)) - np.mean(raw.valid_ & (raw.labels_ == truth)))
    assert min(gains_vr) > 0, gains_vr
    assert np.mean(gains_acc) >= 0, gains_acc


def test_errors_no_ai_votes_no_trusted_task_mismatched_tasks():
    v = _small()
    with pytest.raises(InputError, match="no vote by the AI worker 'robot'"):
        calibrate_ai(v, np.array([0, 1, 2, -1]), ai_worker="robot")
    with pytest.raises(InputError, match="no AI vote is on a task with a trusted label"):
        calibrate_ai(v, np.array([-1, -1, -1, -1]))
    with pytest.raises(InputError, match="the votes 4 tasks"):
        calibrate_ai(v, np.array([0, 1, 2]))
    with pytest.raises(InputError, match="not a class index"):
        calibrate_ai(v, np.array([0, 1, 5, -1]))
    # the crowd validates nothing: ann and bob are newcomers (2 x 0.742 < theta_conf)
    with pytest.raises(InputError, match="PlantNet validates.*0 task"):
        calibrate_ai(v)
    no_score = Votes.from_records(["o1", "o1"], ["ann", "AI"], ["a", "a"])
    with pytest.raises(InputError, match="no 'ai_score' column"):
        calibrate_ai(no_score, np.array([0]))
    bad = v.with_extra(ai_score=np.where(np.isnan(v.extra["ai_score"]), np.nan, 1.5))
    with pytest.raises(InputError, match=r"vote 2: the AI vote on task 'o1' has ai_score 1.5, not a probability"):
        calibrate_ai(bad, np.array([0, 1, 2, -1]))
    with pytest.raises(InputError, match="shape"):
        calibrate_ai(v, np.array([0, 1, 2, -1]), scores=np.ones((3, 3)) / 3)
    with pytest.raises(InputError, match="method"):
        calibrate_ai(v, np.array([0, 1, 2, -1]), method="platt")


def test_add_ai_votes_keeps_the_crowd_and_adds_one_scored_vote_per_known_task():
    v = Votes.from_records(["t1", "t1", "t2", "t3"], ["ann", "bob", "ann", "bob"], ["x", "y", "y", "x"],
                           extra={"author": [True, False, True, True]})
    both = add_ai_votes(v, np.array([0, -1, 1]), temperature=2.0, random_state=0)
    ai = both.worker == list(both.worker_ids).index("AI")
    assert both.n_votes == 6 and both.task[ai].tolist() == [0, 2]   # t2 has no truth: no AI vote
    assert np.array_equal(both.label[~ai], v.label) and both.extra["author"].tolist()[4:] == [False, False]
    score = both.extra["ai_score"]
    assert np.isnan(score[~ai]).all() and ((score[ai] > 0) & (score[ai] < 1)).all()
    with pytest.raises(InputError, match="already have a worker 'ann'"):
        add_ai_votes(v, np.array([0, 1, 1]), ai_worker="ann")
