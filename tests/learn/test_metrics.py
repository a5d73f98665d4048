"""Metrics by hand: accuracy, top-k with ties, ECE with 15 equal-width bins, reliability
data, and the reliability diagram figure."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise.errors import InputError
from crowdwise.learn.metrics import (
    accuracy, classification_report, expected_calibration_error, reliability_data, top_k_accuracy)

# four samples, three classes:
#   A: conf .95, predicts 0, truth 0 (right)   -> bin 14 = (14/15, 1]
#   B: conf .95, predicts 1, truth 2 (wrong)   -> bin 14
#   C: conf .55, predicts 2, truth 2 (right)   -> bin 8  = (8/15, 9/15] = (.5333, .6]
#   D: conf .45, predicts 0, truth 1 (wrong)   -> bin 6  = (6/15, 7/15] = (.4, .4667]
Y = np.array([0, 2, 2, 1])
P = np.array([[.95, .03, .02], [.01, .95, .04], [.25, .20, .55], [.45, .30, .25]])


def test_ece_hand_example_15_bins():
    # bin 14: 2 samples, accuracy 1/2, confidence .95 -> 2/4 * .45
    # bin 8 : 1 sample,  accuracy 1,   confidence .55 -> 1/4 * .45
    # bin 6 : 1 sample,  accuracy 0,   confidence .45 -> 1/4 * .45
    assert expected_calibration_error(Y, P) == pytest.approx(.225 + .1125 + .1125, abs=1e-12)
    r = reliability_data(Y, P)
    assert r.n_bins == 15
    assert r.counts.tolist() == [0] * 6 + [1, 0, 1] + [0] * 5 + [2]
    assert r.accuracy[14] == .5 and r.confidence[14] == pytest.approx(.95)
    assert r.accuracy[6] == 0 and r.accuracy[8] == 1
    assert np.isnan(r.accuracy[0]) and np.isnan(r.confidence[0])
    assert r.edges[0] == 0 and r.edges[-1] == 1 and len(r.edges) == 16


def test_ece_other_bin_count_changes_the_value():
    # with 2 bins (0, .5] and (.5, 1]: D alone in bin 0 (|0-.45|), A, B, C in bin 1:
    # accuracy 2/3, confidence (.95+.95+.55)/3 = .81667 -> 3/4 * .15 + 1/4 * .45
    assert expected_calibration_error(Y, P, n_bins=2) == pytest.approx(.75 * (2.45 / 3 - 2 / 3) + .25 * .45)


def test_bins_are_right_closed_and_zero_goes_first():
    # a confidence on an edge belongs to the bin it closes; 1.0 to the last bin
    r = reliability_data([0, 0], [[0.4, 0.3, 0.3], [1.0, 0.0, 0.0]])
    assert r.counts[5] == 1 and r.counts[14] == 1  # 0.4 = 6/15 closes bin 5
    r = reliability_data([0], [[0.0, 0.0]], n_bins=4)  # degenerate row: confidence 0
    assert r.counts.tolist() == [1, 0, 0, 0]


def test_perfectly_calibrated_gives_zero():
    # 10 samples at confidence .8, 8 right -> ECE 0
    p = np.tile([.8, .2], (10, 1))
    y = np.array([0] * 8 + [1] * 2)
    assert expected_calibration_error(y, p) == pytest.approx(0.0, abs=1e-12)


def test_unknown_truth_rows_are_left_out():
    y = np.r_[Y, -1]
    p = np.vstack([P, [[0.0, 0.0, 1.0]]])
    assert expected_calibration_error(y, p) == pytest.approx(expected_calibration_error(Y, P))
    assert accuracy(y, p) == .5
    assert classification_report(y, p, ks=(2,))["test_n"] == 4


def test_accuracy_and_top_k():
    assert accuracy(Y, P) == .5
    # ranks of the truth: A 0, B 1 (.04 > .01), C 0, D 1
    assert top_k_accuracy(Y, P, k=1) == .5
    assert top_k_accuracy(Y, P, k=2) == 1.0
    # ties: the truth tied with a smaller class index ranks after it
    assert top_k_accuracy([1], [[.4, .4, .2]], k=1) == 0.0
    assert top_k_accuracy([0], [[.4, .4, .2]], k=1) == 1.0
    assert top_k_accuracy([2], [[.4, .4, .2]], k=3) == 1.0


def test_report_keys_and_values():
    rep = classification_report(Y, P, ks=(2, 5), prefix="val_")
    assert rep == {"val_accuracy": .5, "val_ece": pytest.approx(.45), "val_top2_accuracy": 1.0, "val_n": 4}


@pytest.mark.parametrize("y, p", [([0, 1], [[1.0, 0.0]]), ([0, 3], [[1., 0.], [0., 1.]]),
                                  ([0.5], [[1., 0.]]), ([0], [1., 0.])])
def test_bad_input_is_an_input_error(y, p):
    with pytest.raises(InputError):
        expected_calibration_error(y, p)


def test_reliability_figure_png(tmp_path):
    pytest.importorskip("matplotlib")
    from crowdwise.plots.reliability import reliability_figure, save_reliability

    r = reliability_data(Y, P)
    fig = reliability_figure(r, title="demo")
    heights = [round(float(b.get_height()), 3) for b in fig.axes[0].containers[0]]
    assert heights == [0.0, 1.0, 0.5]  # bins 6, 8, 14
    assert "ECE = 0.4500" in fig.axes[0].get_title()
    out = save_reliability(tmp_path / "rel.png", r)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
