"""One way from raw ids to Votes (issue 15, item 2): ``Votes.from_records`` and every reader
call the same encoding (``crowdwise.votes_encoding``), so the same rows give the same Votes and
the same problem the same error, whatever the entry point."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdwise import InputError, Votes, votes_encoding
from crowdwise.io import _encode, from_dataframe, load_votes

ARRAYS = ("task", "worker", "label", "task_ids", "worker_ids", "classes")


def same(a: Votes, b: Votes) -> bool:
    return all(np.array_equal(getattr(a, f), getattr(b, f)) and getattr(a, f).dtype.kind == getattr(b, f).dtype.kind
               for f in ARRAYS)


def problem(call) -> str:
    with pytest.raises(InputError) as exc:
        call()
    return exc.value.problem + " | " + str(exc.value.fix)


def test_the_readers_and_from_records_share_one_implementation():
    for name in ("encode_ids", "encode_labels", "raw_factorize", "resolve_classes", "match_classes",
                 "check_duplicates_policy", "arrow_to_numpy", "factorize_ids"):
        assert getattr(_encode, name) is getattr(votes_encoding, name)
    import crowdwise.votes as votes_mod

    assert _encode.build_votes is votes_mod.build_votes
    assert votes_mod.natural_sort is votes_encoding.natural_sort and votes_mod.label_order is votes_encoding.label_order


ROWS = {
    "text ids, numbers as labels": (["10", "2", "007", "b", "2"], ["w1", "w2", "w1", "w2", "w1"],
                                    ["1", "1.0", "2", "01", "2"]),
    "integer ids": ([10, 2, 3, 2], [5, 5, 7, 7], ["cat", "dog", "cat", "owl"]),
    "plain integers written as text": (["10", "2", "-3"], ["1", "1", "2"], ["0", "1", "1"]),
    "one id beyond int64": ([str(2**63), "5", "5"], ["a", "a", "b"], ["x", "y", "x"]),
}


@pytest.mark.parametrize("rows", ROWS.values(), ids=list(ROWS))
def test_the_same_rows_give_the_same_votes_everywhere(tmp_path, rows):
    t, w, lab = rows
    v = Votes.from_records(t, w, lab)
    assert same(v, from_dataframe(pd.DataFrame({"task": t, "worker": w, "label": lab})))
    f = tmp_path / "v.csv"
    f.write_text("task,worker,label\n" + "".join(f"{a},{b},{c}\n" for a, b, c in zip(t, w, lab)))
    assert same(v, load_votes(f))
    assert same(v, Votes.from_records(np.asarray(t), np.asarray(w), np.asarray(lab)))
    assert same(v, Votes.from_records(pd.Series(t), pd.Series(w), pd.Series(lab)))


def test_float_ids_are_text_on_every_path():
    # an id is numeric only when it is an integer: 1.0 is the text '1.0' (from_records made it 1)
    v = Votes.from_records([1.0, 2.0, 1.0], ["a", "b", "a"], [0, 1, 1])
    assert v.task_ids.tolist() == ["1.0", "2.0"]
    assert same(v, from_dataframe(pd.DataFrame({"task": [1.0, 2.0, 1.0], "worker": ["a", "b", "a"],
                                                "label": [0, 1, 1]})))
    # labels are class values: equal numbers are one class, whole floats are integers
    assert Votes.from_records(["a", "b"], ["w", "w"], [1.0, 2.0]).classes.tolist() == [1, 2]


@pytest.mark.parametrize("column, bad", [("task", ""), ("task", "  "), ("worker", " \t"), ("worker", None),
                                         ("label", ""), ("label", "  "), ("label", np.nan)])
def test_a_missing_value_is_one_error_everywhere(column, bad):
    cols = {"task": ["a", "b", "c"], "worker": ["w", "w", "v"], "label": ["x", "y", "x"]}
    cols[column] = list(cols[column])
    cols[column][1] = bad
    rec = problem(lambda: Votes.from_records(cols["task"], cols["worker"], cols["label"]))
    frame = problem(lambda: from_dataframe(pd.DataFrame(cols)))
    assert rec == frame  # before: blank labels were a class of from_records, blank ids had their own text
    assert rec.startswith(f"{column} is missing (empty) in 1 row(s), the first at row 1")


def test_the_duplicates_policy_is_one_with_one_error_text(tmp_path):
    t, w, lab = ["a", "b", "a", "a"], ["w", "w", "w", "v"], [0, 1, 1, 0]
    df = pd.DataFrame({"task": t, "worker": w, "label": lab})
    for policy in ("keep", "first", "last"):
        assert same(Votes.from_records(t, w, lab, duplicates=policy), from_dataframe(df, duplicates=policy))
    rec = problem(lambda: Votes.from_records(t, w, lab, duplicates="error"))
    assert rec == problem(lambda: from_dataframe(df, duplicates="error"))
    assert rec.startswith("worker 'w' voted twice on task 'a' (1 repeated pair(s) in all)")
    f = tmp_path / "v.csv"
    df.to_csv(f, index=False)
    with pytest.raises(InputError, match=r"v\.csv, line 4: worker 'w' voted twice"):
        load_votes(f, duplicates="error")
    assert problem(lambda: Votes.from_records(t, w, lab, duplicates="drop")) == \
        problem(lambda: from_dataframe(df, duplicates="drop"))


def test_declared_classes_match_by_value_or_text_everywhere(tmp_path):
    t, w, lab = ["a", "b", "c"], ["w", "w", "w"], ["1.0", "2", "01"]
    for classes in ([1, 2, 3], ["1", "2", "3"], np.array([1, 2, 3], dtype=object)):
        v = Votes.from_records(t, w, lab, classes=classes)
        assert v.label.tolist() == [0, 1, 0] and v.classes.tolist() == list(np.asarray(classes).tolist())
        assert same(v, from_dataframe(pd.DataFrame({"task": t, "worker": w, "label": lab}), classes=classes))
    with pytest.raises(InputError, match="class 'x' is declared twice"):  # before: pandas' InvalidIndexError
        Votes.from_records(t, w, lab, classes=["x", "x", "y"])


def test_an_error_names_the_value_found_on_the_row_it_names():
    # distinct integers are sorted: the row and the value reported used to come from two different votes
    msg = str(pytest.raises(InputError, Votes.from_records, ["a", "b"], ["w", "w"], [5, 3], n_classes=2).value)
    assert msg.startswith("row 0: label 5 is not one of the 2 declared classes")
    msg = str(pytest.raises(InputError, Votes.from_records, [3, 1, 2], ["w"] * 3, [0, 1, 1], task_ids=[2]).value)
    assert msg.startswith("row 0: task 3 is not among the declared task ids")


def test_declared_ids_match_as_written():
    v = Votes.from_records(["7", 8], ["w", "w"], [0, 1], task_ids=[8, 7, 9])  # "7" is 7, written the same
    assert v.task.tolist() == [1, 0] and v.task_ids.tolist() == [8, 7, 9]
    with pytest.raises(InputError, match="is not among the declared task ids"):  # b'a' is not written 'a'
        Votes.from_records([b"a"], ["w"], [0], task_ids=["a"])
    with pytest.raises(InputError, match="is not among the declared task ids"):  # before: a raw ValueError
        Votes.from_records([("a", 1)], ["w"], [0], task_ids=["a"])
    with pytest.raises(InputError, match=r"declared worker ids contain duplicates \('w' more than once\)"):
        Votes.from_records(["a"], ["w"], [0], worker_ids=["w", "w"])
    with pytest.raises(InputError, match="worker id ' ' is blank"):
        Votes.from_records(["a"], ["w"], [0], worker_ids=["w", " "])
