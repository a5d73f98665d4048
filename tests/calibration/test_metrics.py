"""ECE and reliability data of top-1 scores and of score vectors, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise.calibration import expected_calibration_error, reliability
from crowdwise.errors import InputError
from crowdwise.learn.metrics import expected_calibration_error as ece_vectors


def test_ece_of_top1_scores_by_hand():
    # 5 bins of width 0.2: (0, .2], (.2, .4], (.4, .6], (.6, .8], (.8, 1]
    scores = [0.1, 0.35, 0.4, 0.65, 0.9, 0.95, 1.0]
    predicted = [0, 1, 2, 0, 1, 2, 0]
    labels = [1, 1, 0, 0, 1, 1, 0]          # right: no, yes, no, yes, yes, no, yes
    r = reliability(scores, labels, predicted=predicted, n_bins=5)
    assert r.counts.tolist() == [1, 2, 0, 1, 3]       # 0.4 sits in (.2, .4]: bins are closed on the right
    assert np.allclose(r.confidence[[0, 1, 3, 4]], [0.1, 0.375, 0.65, 2.85 / 3])
    assert np.allclose(r.accuracy[[0, 1, 3, 4]], [0.0, 0.5, 1.0, 2 / 3])
    assert np.isnan(r.confidence[2]) and np.isnan(r.accuracy[2])
    # sum over bins of |right - sum of scores|, over n = 7
    by_hand = (abs(0 - 0.1) + abs(1 - 0.75) + abs(1 - 0.65) + abs(2 - 2.85)) / 7
    assert r.ece == pytest.approx(by_hand)
    assert expected_calibration_error(scores, labels, predicted=predicted, n_bins=5) == pytest.approx(0.2214285714)


def test_unknown_labels_are_left_out_and_zero_goes_to_the_first_bin():
    r = reliability([0.0, 0.5, 0.9], [0, -1, 1], predicted=[0, 0, 0], n_bins=2)
    assert r.counts.tolist() == [1, 1]
    assert r.ece == pytest.approx((abs(1 - 0.0) + abs(0 - 0.9)) / 2)


def test_default_is_fifteen_bins():
    r = reliability([0.5], [0], predicted=[0])
    assert r.n_bins == 15 and r.edges[1] == pytest.approx(1 / 15)


def test_score_vectors_agree_with_learn_metrics():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=500)
    y = rng.integers(0, 4, 500)
    assert expected_calibration_error(p, y) == pytest.approx(ece_vectors(y, p))
    # the same vectors as top-1 scores give the same ECE
    assert expected_calibration_error(p.max(axis=1), y, predicted=p.argmax(axis=1)) == pytest.approx(ece_vectors(y, p))


@pytest.mark.parametrize("kwargs, match", [
    ({"scores": [0.5, 1.2], "labels": [0, 0], "predicted": [0, 0]}, "not a probability"),
    ({"scores": [0.5], "labels": [0]}, "predicted="),
    ({"scores": [0.5], "labels": [0], "predicted": [0], "n_bins": 0}, "n_bins"),
    ({"scores": [0.5, 0.6], "labels": [0], "predicted": [0, 0]}, "shape"),
])
def test_bad_input_is_a_clear_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        reliability(**kwargs)
