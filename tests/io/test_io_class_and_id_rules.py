"""The class rule (equal numbers are one class) and the id rule (numeric only when every id
is a plainly written integer fitting int64; otherwise text, integers first), on every path
that encodes labels and ids: CSV through Arrow and through pandas, DataFrames,
``Votes.from_records``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdwise import InputError, Votes, votes_encoding
from crowdwise.io import from_dataframe, load_truth, load_votes, tables
from crowdwise.votes import factorize_ids, label_order, natural_sort


@pytest.fixture(params=["arrow", "pandas"])
def engine(request, monkeypatch):
    """Read CSV files through pyarrow (the default) or through pandas (no pyarrow)."""
    if request.param == "pandas":
        monkeypatch.setattr(tables, "have_pyarrow", lambda: False)
        monkeypatch.setattr(votes_encoding, "have_pyarrow", lambda: False)
    return request.param


def csv(tmp_path, text, name="v.csv"):
    f = tmp_path / name
    f.write_text(text)
    return f


# --------------------------------------------------------------------------- classes
def test_equal_numbers_are_one_class_in_a_csv(tmp_path, engine):
    # before: classes ['01', '1', '1.0'], three classes for one number
    f = csv(tmp_path, "task,worker,label\n1,a,1\n1,b,1.0\n2,a,01\n2,b,+1\n3,a,2\n")
    v = load_votes(f)
    assert v.classes.tolist() == [1, 2] and v.classes.dtype == np.int64
    assert v.label.tolist() == [0, 0, 0, 0, 1]


def test_fractional_labels_give_float_classes(tmp_path, engine):
    v = load_votes(csv(tmp_path, "task,worker,label\n1,a,0.5\n1,b,1\n2,a,1.0\n2,b,.5\n"))
    assert v.classes.tolist() == [0.5, 1.0] and v.classes.dtype == np.float64
    assert v.label.tolist() == [0, 1, 1, 0]


def test_two_spellings_of_one_number_beside_names_are_refused(tmp_path, engine):
    f = csv(tmp_path, "task,worker,label\n1,a,cat\n1,b,1\n2,a,1.0\n")
    with pytest.raises(InputError) as err:
        load_votes(f)
    msg = str(err.value)
    assert "v.csv" in msg and "line 4" in msg and "'1' and '1.0' are the same number" in msg and "Fix:" in msg
    # one spelling beside names is fine: text classes, integers first
    v = load_votes(csv(tmp_path, "task,worker,label\n1,a,cat\n1,b,10\n2,a,2\n", name="ok.csv"))
    assert v.classes.tolist() == ["2", "10", "cat"]


def test_equal_numbers_in_memory_and_in_dataframes():
    v = Votes.from_records([1, 1, 2], ["a", "b", "a"], ["1", "1.0", "01"])
    assert v.classes.tolist() == [1] and v.n_classes == 1
    df = pd.DataFrame({"task": [1, 1, 2], "worker": ["a", "b", "a"], "label": ["1", "1.0", "2"]})
    assert from_dataframe(df).classes.tolist() == [1, 2]
    df = pd.DataFrame({"task": [1, 1], "worker": ["a", "b"], "label": [0.5, 2.0]})
    assert from_dataframe(df).classes.tolist() == [0.5, 2.0]
    with pytest.raises(InputError, match="same number"):
        Votes.from_records([1, 1, 2], ["a", "b", "a"], ["1", "1.0", "cat"])


def test_declared_classes_match_the_same_number(tmp_path, engine):
    f = csv(tmp_path, "task,worker,label\n1,a,1.0\n1,b,02\n")
    v = load_votes(f, classes=[0, 1, 2])
    assert v.classes.tolist() == [0, 1, 2] and v.label.tolist() == [1, 2]
    v = Votes.from_records([1, 2], ["a", "a"], ["1.0", "2"], n_classes=3)
    assert v.label.tolist() == [1, 2]
    truth = csv(tmp_path, "task,label\n1,1.0\n", name="truth.csv")
    assert load_truth(truth, v).tolist()[0] == 1  # the truth follows the same rule


def test_label_order_rule_directly():
    assert label_order(np.array(["3", "03", "3.0", "1e1"], dtype=object))[1].tolist() == [3, 10]
    assert label_order(np.array(["nan", "1"], dtype=object))[1].tolist() == ["1", "nan"]  # nan is a name
    assert label_order(np.array([True, False]))[1].tolist() == [0, 1]


# --------------------------------------------------------------------------- ids
def test_id_above_2_62_keeps_the_ids_numeric(tmp_path, engine):
    # before: one id above 2^62 turned every id into text, and the rows into text order (1, 10, 2, ...)
    big = 2**62 + 5
    v = load_votes(csv(tmp_path, f"task,worker,label\n10,a,x\n{big},b,y\n2,a,x\n1,a,y\n"))
    assert v.task_ids.dtype == np.int64 and v.task_ids.tolist() == [1, 2, 10, big]
    top = 2**63 - 1  # the largest int64 is still a number
    assert load_votes(csv(tmp_path, f"task,worker,label\n{top},a,x\n2,a,x\n", name="top.csv")).task_ids.tolist() \
        == [2, top]


@pytest.mark.parametrize("odd", ["b", str(2**63), "007", "+5", "1.5"])
def test_one_text_id_does_not_reorder_the_integer_ids(tmp_path, engine, odd):
    rows = "".join(f"{t},w,x\n" for t in (10, 2, 1, 30))
    base = load_votes(csv(tmp_path, "task,worker,label\n" + rows, name="base.csv"))
    v = load_votes(csv(tmp_path, "task,worker,label\n" + rows + f"{odd},w,x\n"))
    # all ids are text now, but the integers keep their rows 0..3, the odd id comes after
    assert v.task_ids.tolist() == ["1", "2", "10", "30", odd]
    assert [str(t) for t in base.task_ids.tolist()] == v.task_ids.tolist()[:4]


def test_id_rule_in_memory_and_parquet(tmp_path):
    codes, ids = factorize_ids([2**62 + 1, 3, 2**62 + 1])
    assert ids.tolist() == [3, 2**62 + 1] and codes.tolist() == [1, 0, 1]
    codes, ids = factorize_ids(["10", "2", "x", str(2**62 + 1)])
    assert ids.tolist() == ["2", "10", str(2**62 + 1), "x"] and codes.tolist() == [1, 0, 3, 2]
    v = Votes.from_records(["b", "10", "2"], ["w", "w", "w"], [0, 1, 0])
    assert v.task_ids.tolist() == ["2", "10", "b"]
    assert natural_sort(np.array([2**64 - 1, 5], dtype=np.uint64))[1].tolist() == ["5", str(2**64 - 1)]
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"task": ["10", "2", "b"], "worker": ["w", "w", "w"], "label": [1, 1, 2]}),
                   tmp_path / "v.parquet")
    assert load_votes(tmp_path / "v.parquet").task_ids.tolist() == ["2", "10", "b"]
