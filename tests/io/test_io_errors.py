"""Bad input: an InputError naming the file, the position and the fix, never a traceback
from inside numpy or pandas."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from crowdwise import InputError, Votes
from crowdwise.io import (from_dataframe, load_truth, load_votes, read_dense, read_labels, read_peerannot,
                          read_table, save_votes)
from crowdwise.io import peerannot as peerannot_mod


def error_of(fn, *args, **kwargs) -> str:
    with pytest.raises(InputError) as err:
        fn(*args, **kwargs)
    msg = str(err.value)
    assert "Fix:" in msg, msg
    return msg


def folder(tmp_path, answers, metadata=None, name="set"):
    d = tmp_path / name
    d.mkdir()
    (d / "answers.json").write_text(answers if isinstance(answers, str) else json.dumps(answers))
    if metadata is not None:
        (d / "metadata.json").write_text(metadata if isinstance(metadata, str) else json.dumps(metadata))
    return d


# --------------------------------------------------------------------------- JSON
def test_class_indices_mixed_with_another_value_is_an_error(tmp_path):
    # without metadata, 2.5 became a class "2.5" and the indices 0..3 became the text classes "0".."3"
    d = folder(tmp_path, {"t1": {"a": 0, "b": 2.5}, "t2": {"a": 3, "c": 1}})
    msg = error_of(load_votes, d)
    assert "answers.json" in msg and "task 't1', worker 'b'" in msg
    assert "label 2.5 is not a class index, while other labels are (e.g. 0)" in msg
    v = load_votes(folder(tmp_path, {"t1": {"a": "cat", "b": "dog"}}, name="names"))  # names only: still fine
    assert v.classes.tolist() == ["cat", "dog"]
    assert load_votes(folder(tmp_path, {"t1": {"a": 0, "b": "2"}}, name="digits")).n_classes == 3


@pytest.mark.parametrize("use_orjson", [True, False])
def test_malformed_json_reports_line_and_column(tmp_path, monkeypatch, use_orjson):
    if not use_orjson:
        monkeypatch.setattr(peerannot_mod, "_orjson", None)
    d = folder(tmp_path, '{"0": {"a": 1},\n "1": {"a": 0,}\n}')
    msg = error_of(read_peerannot, d)
    assert "answers.json" in msg and "line 2, column" in msg and "not valid JSON" in msg


@pytest.mark.parametrize("use_orjson", [True, False])
def test_a_key_written_twice_in_answers_is_an_error_not_a_dropped_vote(tmp_path, monkeypatch, use_orjson):
    if not use_orjson:
        monkeypatch.setattr(peerannot_mod, "_orjson", None)

    def labels_of(v):
        return {(r.task, r.worker): r.label for r in v.to_frame().itertuples()}

    # worker w1 voted twice on t2: a JSON parser keeps the last value and drops the other
    d = folder(tmp_path, '{"t1": {"w1": 0, "w2": 1}, "t2": {"w1": 1, "w3": 0, "w1": 0}}', name="worker")
    msg = error_of(load_votes, d)
    assert "answers.json" in msg and "task 't2', worker 'w1'" in msg and "twice" in msg
    assert "duplicates='first' or 'last'" in msg and "--duplicates first|last" in msg
    assert labels_of(load_votes(d, duplicates="last"))[("t2", "w1")] == 0  # JSON's own rule, asked for
    assert labels_of(load_votes(d, duplicates="first"))[("t2", "w1")] == 1
    assert load_votes(d, duplicates="first").n_votes == 4
    # a task written twice loses all the votes of its first copy (whose own repeat is hidden)
    d = folder(tmp_path, '{"t1": {"w1": 0, "w1": 2}, "t2": {"w1": 1}, "t1": {"w2": 1}}', name="task")
    msg = error_of(load_votes, d)
    assert "task 't1'" in msg and "a task key is written twice" in msg
    assert labels_of(load_votes(d, duplicates="first")) == {("t1", "w1"): 0, ("t2", "w1"): 1}
    assert labels_of(load_votes(d, duplicates="last")) == {("t1", "w2"): 1, ("t2", "w1"): 1}
    # colons and quotes inside ids are not repeated keys
    v = load_votes(folder(tmp_path, '{"http://t/1": {"w\\":1": 0, "w2": 1}, "t2": {"w\\":1": 1}}',
                          name="colons"))
    assert v.n_votes == 3 and 'w":1' in v.worker_ids.tolist()
    # white space before the colons (a key style some writers use) is still seen
    d = folder(tmp_path, '{"t1" : {"w1" : 0, "w1" : 1}}', name="spaced")
    assert "task 't1', worker 'w1'" in error_of(load_votes, d)
    # a repeat inside a label is not a task or worker repeat: the label's own error is given
    msg = error_of(load_votes, folder(tmp_path, '{"t1": {"w1": {"a": 1, "a": 2}}}', name="deep"))
    assert "task 't1', worker 'w1'" in msg and "is not a class index" in msg and "written twice" not in msg


def test_answers_not_a_dict_of_dicts(tmp_path):
    msg = error_of(load_votes, folder(tmp_path, [[0, 1, 2]], name="a"))
    assert "answers.json" in msg and "top level" in msg
    msg = error_of(load_votes, folder(tmp_path, {"t0": {"a": 1}, "t1": [1, 2]}, name="b"))
    assert "answers.json" in msg and "task 't1'" in msg and "{worker: label}" in msg


def test_bad_label_value_in_answers(tmp_path):
    msg = error_of(load_votes, folder(tmp_path, {"t0": {"a": 1, "b": [2]}}, name="a"))
    assert "answers.json" in msg and "task 't0', worker 'b'" in msg
    msg = error_of(load_votes, folder(tmp_path, {"t0": {"a": 1}, "t1": {"b": None}}, name="b"))
    assert "task 't1', worker 'b'" in msg and "missing" in msg


def test_label_outside_declared_classes(tmp_path):
    # metadata n_classes below the labels: refused with strict=True (read with a warning by default,
    # see test_io_peerannot_lenient.py); n_classes given as an argument is always refused
    d = folder(tmp_path, {"0": {"a": 1}, "1": {"a": 0, "b": 5}}, {"n_classes": 3})
    msg = error_of(read_peerannot, d, strict=True)
    assert "answers.json" in msg and "task '1', worker 'b'" in msg and "label 5" in msg
    assert "n_classes" in msg
    msg = error_of(read_peerannot, d, n_classes=3)
    assert "task '1', worker 'b'" in msg and "label 5" in msg
    # with class names, a text label that is none of them
    d = folder(tmp_path, {"0": {"a": "owl"}}, {"n_classes": 2, "classes": ["cat", "dog"]}, name="named")
    msg = error_of(read_peerannot, d)
    assert "task '0', worker 'a'" in msg and "'owl'" in msg


@pytest.mark.parametrize("key,value", [("n_classes", -1), ("n_classes", 0), ("n_tasks", 2.5),
                                       ("n_workers", "3"), ("n_tasks", -4), ("n_workers", True)])
def test_bad_counts_in_metadata(tmp_path, key, value):
    d = folder(tmp_path, {"0": {"a": 1}}, {"name": "x", key: value})
    msg = error_of(read_peerannot, d)
    assert "metadata.json" in msg and f"key '{key}'" in msg


def test_metadata_counts_below_what_answers_hold(tmp_path):
    d = folder(tmp_path, {"0": {"a": 1}, "1": {"b": 1}, "2": {"a": 0}}, {"n_tasks": 2})
    msg = error_of(read_peerannot, d)
    assert "metadata.json" in msg and "key 'n_tasks'" in msg and "3 distinct tasks" in msg


def test_metadata_classes_disagree(tmp_path):
    d = folder(tmp_path, {"0": {"a": 1}}, {"n_classes": 3, "classes": ["x", "y"]})
    msg = error_of(read_peerannot, d)
    assert "metadata.json" in msg and "key 'classes'" in msg


def test_malformed_metadata(tmp_path):
    d = folder(tmp_path, {"0": {"a": 1}}, '{"n_classes": 3,,}')
    msg = error_of(read_peerannot, d)
    assert "metadata.json" in msg and "line 1, column" in msg


def test_unnameable_declared_tasks_warn(tmp_path):
    d = folder(tmp_path, {"x": {"a": 1}}, {"n_tasks": 3})
    with pytest.warns(UserWarning, match="cannot be named"):
        v = read_peerannot(d)
    assert v.n_tasks == 1


def test_folder_without_answers(tmp_path):
    (tmp_path / "empty_set").mkdir()
    (tmp_path / "empty_set" / "readme.txt").write_text("hi")
    msg = error_of(load_votes, tmp_path / "empty_set")
    assert "empty_set" in msg and "answers.json" in msg and "readme.txt" in msg


# --------------------------------------------------------------------------- tables
def test_missing_column_lists_found_and_expected(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("task,user,label\n1,a,0\n")
    msg = error_of(load_votes, f)
    assert "v.csv" in msg and "line 1 (header)" in msg
    assert "'worker'" in msg and "columns found: 'task', 'user', 'label'" in msg and "'performer'" in msg


def test_headerless_table_hint(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("0,20,3\n0,30,1\n")
    msg = error_of(load_votes, f)
    assert "v.csv" in msg and "line 1" in msg and "looks like data" in msg


def test_missing_column_in_frames_and_parquet(tmp_path):
    msg = error_of(from_dataframe, pd.DataFrame({"task": [1], "label": [0]}))
    assert "DataFrame" in msg and "columns" in msg and "'worker'" in msg
    pytest.importorskip("pyarrow")
    pd.DataFrame({"task": [1], "label": [0]}).to_parquet(tmp_path / "v.parquet")
    msg = error_of(load_votes, tmp_path / "v.parquet")
    assert "v.parquet" in msg and "'worker'" in msg


@pytest.mark.parametrize("name,content", [("e.csv", ""), ("e.json", ""), ("e.txt", "\n\n  \n"),
                                          ("e.tsv", "   ")])
def test_empty_files(tmp_path, name, content):
    f = tmp_path / name
    f.write_text(content)
    msg = error_of(load_votes, f)
    assert name in msg and "empty" in msg and "line 1" in msg


def test_header_only_table_is_zero_votes(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("task,worker,label\n")
    assert load_votes(f).n_votes == 0


@pytest.mark.parametrize("with_arrow", [True, False])
def test_empty_ids_report_the_file_line(tmp_path, monkeypatch, with_arrow):
    if not with_arrow:
        monkeypatch.setitem(sys.modules, "pyarrow", None)
    f = tmp_path / "v.csv"
    # line 1 header, line 2 vote, line 3 blank, line 4 vote, line 5 vote without worker
    f.write_text("task,worker,label\n1,a,0\n\n2,b,1\n3,,1\n4,  ,0\n")
    msg = error_of(load_votes, f)
    assert "v.csv" in msg and "line 5" in msg and "worker is missing" in msg and "2 row(s)" in msg
    f.write_text("task,worker,label\n1,a,0\n,b,1\n")
    msg = error_of(load_votes, f)
    assert "line 3" in msg and "task is missing" in msg
    f.write_text("task,worker,label\n1,a,0\n2,b,\n")
    msg = error_of(load_votes, f)
    assert "line 3" in msg and "label is missing" in msg


def test_nan_ids_in_frames_and_parquet(tmp_path):
    df = pd.DataFrame({"task": [1.0, np.nan, 3.0], "worker": ["a", "b", "c"], "label": [0, 1, 0]})
    msg = error_of(from_dataframe, df)
    assert "DataFrame" in msg and "row 1" in msg and "task is missing" in msg
    df = pd.DataFrame({"task": [1, 2, 3], "worker": ["a", None, ""], "label": [0, 1, 0]})
    msg = error_of(from_dataframe, df)
    assert "row 1" in msg and "worker is missing (empty) in 2 row(s)" in msg
    pytest.importorskip("pyarrow")
    pd.DataFrame({"task": ["x", "y", None], "worker": ["a", "b", "c"], "label": [0, 1, 0]}).to_parquet(
        tmp_path / "n.parquet")
    msg = error_of(load_votes, tmp_path / "n.parquet")
    assert "n.parquet" in msg and "row 2" in msg


def test_label_outside_declared_classes_in_a_table(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("task,worker,label\n1,a,cat\n1,b,dog\n2,a,cow\n")
    msg = error_of(load_votes, f, classes=["cat", "dog"])
    assert "v.csv" in msg and "line 4" in msg and "'cow'" in msg
    msg = error_of(load_votes, f, n_classes=2)
    assert "line 2" in msg and "'cat'" in msg


def test_repeated_votes_policy_error(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("task,worker,label\n1,a,0\n1,b,1\n1,a,1\n")
    msg = error_of(load_votes, f, duplicates="error")
    assert "v.csv" in msg and "line 4" in msg and "voted twice" in msg
    assert load_votes(f, duplicates="first").to_frame()["label"].tolist() == [0, 1]
    assert load_votes(f, duplicates="last").to_frame()["label"].tolist() == [1, 1]
    msg = error_of(load_votes, f, duplicates="most")
    assert "duplicates='most'" in msg


def test_ragged_and_unparsable_tables(tmp_path):
    f = tmp_path / "r.csv"
    f.write_text("task,worker,label\n1,a,0\n1,b,1,extra\n")
    msg = error_of(load_votes, f)
    assert "r.csv" in msg and "line 3" in msg and "4 field(s)" in msg
    g = tmp_path / "u.csv"
    g.write_bytes(b"task,worker,label\n1,a,\xff\xfe\n")
    msg = error_of(load_votes, g)
    assert "u.csv" in msg and "UTF-8" in msg


def test_not_a_parquet_file(tmp_path):
    pytest.importorskip("pyarrow")
    f = tmp_path / "bad.parquet"
    f.write_text("task,worker,label\n")
    msg = error_of(load_votes, f)
    assert "bad.parquet" in msg and "Parquet" in msg


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    f = tmp_path / "x.parquet"
    f.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    msg = error_of(read_table, f)
    assert "x.parquet" in msg and "pip install 'crowdwise[parquet]'" in msg


def test_missing_file_and_folder(tmp_path):
    msg = error_of(load_votes, tmp_path / "nope" / "votes.csv")
    assert "votes.csv" in msg and "no such file" in msg and str(tmp_path) in msg
    msg = error_of(read_peerannot, tmp_path / "nowhere")
    assert "nowhere" in msg and "no such folder" in msg
    # a path through a file: the message says which part is a file, not "nearest folder"
    (tmp_path / "afile").write_text("x")
    msg = error_of(load_votes, tmp_path / "afile" / "votes.csv")
    assert "afile" in msg and "is a file, not a folder" in msg and "nearest existing folder" not in msg


def test_unknown_extension(tmp_path):
    f = tmp_path / "votes.xlsx"
    f.write_text("x")
    msg = error_of(load_votes, f)
    assert "votes.xlsx" in msg and ".xlsx" in msg and ".csv" in msg
    msg = error_of(save_votes, Votes.from_records([1], [1], [1]), tmp_path / "out.xlsx")
    assert "out.xlsx" in msg


# --------------------------------------------------------------------------- dense
def test_dense_errors(tmp_path):
    f = tmp_path / "m.txt"
    f.write_text("0 -1 2\n1 x 0\n")
    msg = error_of(read_dense, f)
    assert "m.txt" in msg and "line 2, column 2" in msg and "'x'" in msg
    f.write_text("0 -1 2\n\n1 0\n")
    msg = error_of(read_dense, f)
    assert "line 3" in msg and "2 values" in msg
    f.write_text("0 -1 2\n\n1 -3 0\n")
    msg = error_of(read_dense, f)
    assert "line 3, column 2 (task 1, worker 1)" in msg and "-3" in msg
    f.write_text("0 -1 2\n1 5 0\n")
    msg = error_of(read_dense, f, n_classes=3)
    assert "line 2, column 2" in msg and "label 5" in msg
    msg = error_of(read_dense, np.array([[0.5, 1]]))
    assert "array" in msg and "row 0, column 0" in msg


def test_dense_sniffing(tmp_path):
    """A .txt whose first line is only integers is a matrix; otherwise a table with a header."""
    f = tmp_path / "a.txt"
    f.write_text("1 -1\n-1 0\n")
    assert load_votes(f).n_tasks == 2
    f.write_text("task worker label\n1 a 0\n")
    assert load_votes(f).worker_ids.tolist() == ["a"]
    f.write_text("task\tworker\tlabel\n1\ta b\t0\n")
    assert load_votes(f).worker_ids.tolist() == ["a b"]


# --------------------------------------------------------------------------- truth and labels
def test_truth_errors(tmp_path):
    v = Votes.from_records(["a", "b"], ["w", "w"], [0, 1], n_classes=3)
    f = tmp_path / "truth.csv"
    f.write_text("task,label\na,1\nb,7\n")
    msg = error_of(load_truth, f, v)
    assert "truth.csv" in msg and "line 3" in msg and "true label 7" in msg
    f.write_text("task,label\na,1\nb,2\na,0\n")
    msg = error_of(load_truth, f, v)
    assert "line 4" in msg and "two different true labels" in msg
    f.write_text("task,truth_label\na,1\n")
    msg = error_of(load_truth, f, v)
    assert "'label'" in msg and "'truth_label'" in msg
    g = tmp_path / "gt.npy"
    np.save(g, np.array([0, 1, 2]))
    msg = error_of(load_truth, g, v)
    assert "gt.npy" in msg and "(2,)" in msg
    np.save(g, np.array([0, 5]))
    msg = error_of(load_truth, g, v)
    assert "entry 1" in msg
    g.write_bytes(b"not numpy")
    msg = error_of(load_truth, g, v)
    assert "gt.npy" in msg and ".npy" in msg


def test_labels_errors(tmp_path):
    v = Votes.from_records(["a", "b"], ["w", "w"], [0, 1])
    f = tmp_path / "labels.csv"
    f.write_text("task,label_index\na,0\nzz,1\n")
    msg = error_of(read_labels, f, v)
    assert "labels.csv" in msg and "line 3" in msg
    f.write_text("task,label_index\na,0\nb,1.5\n")
    msg = error_of(read_labels, f, v)
    assert "line 3" in msg
    g = tmp_path / "l.npy"
    np.save(g, np.array([0, 1, 1]))
    msg = error_of(read_labels, g, v)
    assert "l.npy" in msg and "3 labels for 2 tasks" in msg


def test_negative_label_in_answers(tmp_path):
    msg = error_of(load_votes, folder(tmp_path, {"0": {"a": 1}, "1": {"b": -1}}))
    assert "answers.json" in msg and "task '1', worker 'b'" in msg and "negative" in msg


def test_nullable_and_mixed_columns(tmp_path):
    df = pd.DataFrame({"task": pd.array([3, None, 1], dtype="Int64"), "worker": ["a", "b", "c"],
                       "label": [1, 2, 3]})
    msg = error_of(from_dataframe, df)
    assert "row 1" in msg and "task is missing" in msg
    v = Votes.from_records([1, 2], ["a", "b"], [0, 1], extra={"note": np.array([1, "x"], dtype=object)})
    pytest.importorskip("pyarrow")
    msg = error_of(save_votes, v, tmp_path / "v.parquet")
    assert "v.parquet" in msg and "'note'" in msg
    assert not (tmp_path / "v.parquet").exists()
    assert load_votes(save_votes(v, tmp_path / "v.csv")).extra["note"].tolist() == ["1", "x"]
