import math

import numpy as np
import pandas as pd
import pytest

from crowdwise.errors import InputError
from crowdwise.evaluate import align_labels_by_id, evaluate_labels


def test_hand_computed_scores():
    truth = np.array([0, 0, 1, 1, 2, -1])
    labels = np.array([0, 1, 1, 1, -1, 0])
    r = evaluate_labels(labels, truth, n_classes=4)
    # evaluated: tasks 0..3 (task 4 has no valid label, task 5 no truth)
    assert r.n_truth == 5 and r.n_evaluated == 4
    assert r.accuracy == pytest.approx(3 / 4)
    # recall: class0 1/2, class1 2/2 -> 0.75 ; precision: pred0 1/1, pred1 2/3 -> 0.8333
    assert r.macro_recall == pytest.approx(0.75)
    assert r.macro_precision == pytest.approx((1 + 2 / 3) / 2)
    # classes in truth: 0,1,2 ; retrieved 0 and 1
    assert r.classes_retrieved == pytest.approx(2 / 3)
    assert r.share_valid == pytest.approx(4 / 5)


def test_valid_mask_excludes_tasks():
    r = evaluate_labels(np.array([0, 1]), np.array([0, 0]), valid=np.array([True, False]))
    assert r.accuracy == 1.0 and r.share_valid == 0.5


def test_nothing_to_evaluate_gives_nan_not_error():
    r = evaluate_labels(np.array([0]), np.array([-1]))
    assert math.isnan(r.accuracy) and r.n_truth == 0


def test_shape_mismatch_is_clear():
    with pytest.raises(InputError, match="do not match"):
        evaluate_labels(np.array([0, 1]), np.array([0]))


def test_align_by_id_text_matching():
    pred = pd.DataFrame({"task": [1, 2, 3], "label": [5, 7, 5], "valid": [True, True, False]})
    truth = pd.DataFrame({"task": ["2", "1", "3", "9"], "label": ["7", "7", "5", "5"]})
    lab, tru, valid, k = align_labels_by_id(pred, truth)
    r = evaluate_labels(lab, tru, valid, n_classes=k)
    # task 2 right, task 1 wrong, task 3 invalid, task 9 not predicted
    assert r.n_truth == 4 and r.n_evaluated == 2 and r.accuracy == 0.5 and r.share_valid == 0.5


def test_align_by_id_empty_cells_are_no_truth_and_no_prediction(tmp_path):
    # read from CSV as a user's files are: an empty truth cell is a task without truth (not
    # the text "nan" or "None" scored as a wrong class); an empty label is no prediction
    (tmp_path / "truth.csv").write_text("task,label\na,x\nb,\nc,y\n")
    (tmp_path / "labels.csv").write_text("task,label\na,x\nb,y\nc,\n")
    truth = pd.read_csv(tmp_path / "truth.csv", dtype=str)
    pred = pd.read_csv(tmp_path / "labels.csv", dtype=str)
    lab, tru, valid, k = align_labels_by_id(pred, truth)
    r = evaluate_labels(lab, tru, valid, n_classes=k)
    assert (r.n_truth, r.n_evaluated, r.accuracy, r.share_valid) == (2, 1, 1.0, 0.5)


def test_align_by_id_numbers_written_differently_match():
    pred = pd.DataFrame({"task": ["1", "2"], "label": [1.0, 0.0]})
    truth = pd.DataFrame({"task": [1, 2], "label": ["1", "1"]})
    lab, tru, valid, k = align_labels_by_id(pred, truth)
    assert evaluate_labels(lab, tru, valid, n_classes=k).accuracy == 0.5


def test_align_by_id_without_common_label_is_an_error():
    pred = pd.DataFrame({"task": ["1"], "label": ["cat"]})
    truth = pd.DataFrame({"task": ["1"], "label": ["dog"]})
    with pytest.raises(InputError, match="no predicted label is a label of the truth"):
        align_labels_by_id(pred, truth)


def test_align_by_id_missing_column_names_the_file():
    pred = pd.DataFrame({"task": ["1"], "worker": ["w"]})  # a votes table passed as labels
    truth = pd.DataFrame({"task": ["1"], "label": ["dog"]})
    with pytest.raises(InputError) as err:
        align_labels_by_id(pred, truth, sources=("votes.csv", "truth.csv"))
    assert str(err.value).startswith("votes.csv, line 1 (header): the labels table has no column label")
    with pytest.raises(InputError, match="^the truth table has no column label"):  # no source: as before
        align_labels_by_id(truth, pred)


# ------------------------------------------------------------- invalid as wrong (Pl@ntNet's rule)
def test_invalid_as_wrong_hand_computed():
    # 6 tasks with truth, 1 without; tasks 3 and 4 invalid (valid mask / label -1)
    truth = np.array([0, 0, 1, 1, 2, 2, -1])
    labels = np.array([0, 1, 1, 1, 2, -1, 0])
    valid = np.array([True, True, True, False, True, True, True])
    base = evaluate_labels(labels, truth, valid, n_classes=3)
    r = evaluate_labels(labels, truth, valid, n_classes=3, invalid_as_wrong=True)
    # valid and known: tasks 0, 1, 2, 4 -> correct 0, 2, 4 (3 of 4)
    assert base.accuracy == pytest.approx(3 / 4) and base.accuracy_valid == pytest.approx(3 / 4)
    # invalid counted wrong: 3 correct of the 6 tasks with truth
    assert r.accuracy == pytest.approx(3 / 6) and r.accuracy_valid == pytest.approx(3 / 4)
    assert r.invalid_as_wrong and not base.invalid_as_wrong
    # recall over the whole truth: class0 1/2, class1 1/2 (task 3 invalid), class2 1/2 (task 5 invalid)
    assert r.macro_recall == pytest.approx(0.5)
    # without the rule: class0 1/2, class1 1/1, class2 1/1
    assert base.macro_recall == pytest.approx((0.5 + 1 + 1) / 3)
    # precision, classes retrieved and the share valid do not depend on the rule
    assert r.macro_precision == base.macro_precision == pytest.approx((1 + 1 / 2 + 1) / 3)
    assert r.classes_retrieved == base.classes_retrieved == 1.0
    assert r.share_valid == base.share_valid == pytest.approx(4 / 6)
    assert r.n_evaluated == 4 and r.n_truth == 6


def test_invalid_as_wrong_classes_retrieved_and_nothing_valid():
    truth = np.array([0, 1, 2, 2])
    r = evaluate_labels(np.array([0, -1, -1, 2]), truth, invalid_as_wrong=True)
    assert r.accuracy == 0.5 and r.accuracy_valid == 1.0
    assert r.classes_retrieved == pytest.approx(2 / 3)  # class 1 never given a valid label
    none = evaluate_labels(np.array([-1, -1, -1, -1]), truth, invalid_as_wrong=True)
    assert none.accuracy == 0.0 and math.isnan(none.accuracy_valid) and none.classes_retrieved == 0.0
    # every label valid: the two rules agree
    full = np.array([0, 1, 1, 2])
    assert evaluate_labels(full, truth, invalid_as_wrong=True).accuracy == evaluate_labels(full, truth).accuracy == 0.75
