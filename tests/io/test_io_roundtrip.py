"""Every format written and read back gives the same votes, ids and classes."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from _io_helpers import assert_same, plain

from crowdwise import Votes
from crowdwise.io import (from_dataframe, load_votes, read_answers, read_dense, read_peerannot,
                          save_votes, write_answers, write_dense, write_peerannot, write_table)
from crowdwise.io import peerannot as peerannot_mod


def _no_duplicates(v: Votes) -> Votes:
    return v.take(~v.duplicated())


# --------------------------------------------------------------------------- peerannot
def test_folder_roundtrip_text_ids(str_votes, tmp_path):
    v = plain(_no_duplicates(str_votes))
    folder = write_peerannot(v, tmp_path / "toy")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta == {"name": "toy", "n_classes": 3, "n_workers": 3, "n_tasks": 4,
                    "classes": ["cat", "dog", "owl"]}
    answers = json.loads((folder / "answers.json").read_text())
    assert answers["t99"] == {}  # the task without vote is kept
    assert answers["t1"] == {"w1": 0, "w2": 1}  # labels are class indices
    back = read_peerannot(folder)
    assert_same(back, v)
    assert back.name == "toy"


def test_folder_roundtrip_integer_ids(int_votes, tmp_path):
    folder = save_votes(int_votes, tmp_path / "ints")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta == {"name": "ints", "n_classes": 4, "n_workers": 4, "n_tasks": 5}  # no "classes": 0..K-1
    back = load_votes(folder)
    assert_same(back, int_votes)
    assert back.task_ids.dtype.kind == "i" and back.classes.tolist() == [0, 1, 2, 3]


def test_folder_declares_tasks_from_metadata(tmp_path):
    """Tasks 0..n_tasks-1 are declared even when answers.json omits them (peerannot)."""
    d = tmp_path / "p"
    d.mkdir()
    (d / "answers.json").write_text(json.dumps({"0": {"5": 1}, "2": {"7": 0, "5": 0}}))
    (d / "metadata.json").write_text(json.dumps({"name": "p", "n_classes": 3, "n_tasks": 4}))
    v = read_peerannot(d)
    assert v.task_ids.tolist() == [0, 1, 2, 3]
    assert v.classes.tolist() == [0, 1, 2]
    assert v.worker_ids.tolist() == [5, 7]
    assert v.votes_per_task().tolist() == [1, 0, 2, 0]


def test_folder_without_metadata_classes_are_indices(tmp_path):
    d = tmp_path / "nometa"
    d.mkdir()
    (d / "answers.json").write_text(json.dumps({"1": {"a": 0}, "0": {"a": 2, "b": 2}}))
    v = read_peerannot(d)
    assert v.classes.tolist() == [0, 1, 2]  # index 1 exists although nobody chose it
    assert v.name == "nometa"
    assert v.counts().toarray().tolist() == [[0, 0, 2], [1, 0, 0]]


def test_folder_metadata_class_names(tmp_path):
    d = tmp_path / "named"
    d.mkdir()
    (d / "answers.json").write_text(json.dumps({"0": {"a": 1}, "1": {"a": 0}}))
    (d / "metadata.json").write_text(json.dumps({"n_classes": 3, "classes": ["x", "y", "z"]}))
    v = read_peerannot(d)
    assert v.classes.tolist() == ["x", "y", "z"]
    assert v.to_frame()["label"].tolist() == ["y", "x"]


@pytest.mark.parametrize("use_orjson", [True, False])
def test_json_file_roundtrip(str_votes, tmp_path, monkeypatch, use_orjson):
    if not use_orjson:
        monkeypatch.setattr(peerannot_mod, "_orjson", None)
    v = plain(_no_duplicates(str_votes))
    save_votes(v, tmp_path / "answers.json")
    assert (tmp_path / "metadata.json").is_file()
    assert_same(load_votes(tmp_path / "answers.json"), v)
    # another name: the metadata goes to <stem>.metadata.json, never over metadata.json
    (tmp_path / "metadata.json").write_text(json.dumps({"n_classes": 9}))
    write_answers(v, tmp_path / "crowd.json")
    assert json.loads((tmp_path / "metadata.json").read_text()) == {"n_classes": 9}
    assert (tmp_path / "crowd.metadata.json").is_file()
    back = read_answers(tmp_path / "crowd.json")
    assert_same(back, v)
    assert back.name == "toy"


def test_json_text_labels_without_metadata(tmp_path):
    f = tmp_path / "votes.json"
    f.write_text(json.dumps({"a": {"w1": "dog", "w2": "cat"}, "b": {"w1": "cat"}}))
    v = load_votes(f)
    assert v.classes.tolist() == ["cat", "dog"]
    assert v.to_frame()["label"].tolist() == ["dog", "cat", "cat"]


def test_json_repeated_pairs_are_refused(str_votes, tmp_path):
    from crowdwise import InputError

    with pytest.raises(InputError, match="repeated") as err:
        write_peerannot(str_votes, tmp_path / "dup")
    assert "duplicates='first'" in str(err.value)
    assert not (tmp_path / "dup" / "answers.json").exists()


# --------------------------------------------------------------------------- tables
@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.gz", ".txt"])
def test_text_table_roundtrip(str_votes, tmp_path, suffix):
    path = write_table(str_votes, tmp_path / f"crowd{suffix}")
    back = load_votes(path)
    # a text table cannot declare the class 'owl' nor the task 't99' that have no vote
    expected = Votes.from_records(str_votes.task_ids[str_votes.task], str_votes.worker_ids[str_votes.worker],
                                  str_votes.classes[str_votes.label], extra=dict(str_votes.extra))
    assert_same(back, expected)
    assert back.extra["author"].tolist() == [1, 0, 0, 1, 0, 0]
    assert back.name == "crowd"


def test_csv_keeps_declared_classes_given_back(str_votes, tmp_path):
    path = save_votes(str_votes, tmp_path / "v.csv")
    back = load_votes(path, classes=["cat", "dog", "owl"])
    assert back.classes.tolist() == ["cat", "dog", "owl"]
    assert back.n_votes == 6


def test_csv_quotes_only_when_needed(tmp_path):
    v = Votes.from_records(['a,"b"', "c"], ["w\nx", "w"], ["l", "m"])
    path = save_votes(v, tmp_path / "q.csv")
    back = load_votes(path)
    assert back.task_ids.tolist() == ['a,"b"', "c"]
    assert back.worker_ids.tolist() == ["w", "w\nx"]
    plain_text = save_votes(Votes.from_records(["a"], ["b"], ["c"]), tmp_path / "p.csv").read_text()
    assert plain_text == "task,worker,label\na,b,c\n"


def test_parquet_roundtrip_keeps_everything(str_votes, int_votes, tmp_path):
    pytest.importorskip("pyarrow")
    back = load_votes(save_votes(str_votes, tmp_path / "toy.parquet"))
    assert_same(back, str_votes)  # class 'owl', task 't99', extras and the name
    assert back.name == "toy"
    assert back.extra["author"].tolist() == [1, 0, 0, 1, 0, 0]
    back = load_votes(save_votes(int_votes, tmp_path / "ints.parquet"))
    assert_same(back, int_votes)  # worker 3 without vote too


def test_natural_order_and_leading_zeros(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("task,worker,label\n10,007,2\n2,7,10\n")
    v = load_votes(f)
    assert v.task_ids.tolist() == [2, 10]           # integers sort as integers
    assert v.worker_ids.tolist() == ["7", "007"]    # "007" is not 7 (text ids: plain integers first)
    assert v.classes.tolist() == [2, 10]


def test_pandas_dataframe(str_votes):
    df = str_votes.to_frame()
    v = from_dataframe(df, classes=["cat", "dog", "owl"], name="toy")
    expected = Votes.from_records(df.task, df.worker, df.label, classes=["cat", "dog", "owl"],
                                  extra={"author": df.author.to_numpy()}, name="toy")
    assert_same(v, expected)
    assert v.name == "toy"


def test_pandas_dataframe_crowdkit_names_and_mapping():
    df = pd.DataFrame({"task": [3, 1], "performer": ["a", "b"], "label": [1, 0]})
    v = from_dataframe(df)
    assert v.task_ids.tolist() == [1, 3] and v.worker_ids.tolist() == ["a", "b"]
    df2 = pd.DataFrame({"item": ["x"], "user": ["u"], "answer": ["yes"]})
    v2 = from_dataframe(df2, columns={"task": "item", "worker": "user", "label": "answer"})
    assert v2.to_frame().values.tolist() == [["x", "u", "yes"]]


def test_polars_dataframe(str_votes):
    pl = pytest.importorskip("polars")
    df = pl.from_pandas(str_votes.to_frame())
    v = from_dataframe(df, classes=["cat", "dog", "owl"])
    pdf = str_votes.to_frame()
    expected = Votes.from_records(pdf.task, pdf.worker, pdf.label, classes=["cat", "dog", "owl"],
                                  extra={"author": pdf.author.to_numpy()})
    assert_same(v, expected)
    v_int = from_dataframe(pl.DataFrame({"task": [2, 10, 2], "worker": [1, 1, 2], "label": [0, 1, 1]}))
    assert v_int.task_ids.tolist() == [2, 10]


# --------------------------------------------------------------------------- dense
def test_dense_roundtrip(int_votes, tmp_path):
    path = write_dense(int_votes, tmp_path / "answers.txt")
    assert path.read_text().splitlines()[3] == "-1 -1 -1 -1"  # task 3 has no vote
    back = load_votes(path, n_classes=4)  # a matrix cannot say that class 3 exists
    assert_same(back, int_votes)
    assert read_dense(path).classes.tolist() == [0, 1, 2]


def test_dense_from_array_and_missing_marker():
    m = np.array([[9, 1], [0, 9]])
    v = read_dense(m, missing=9)
    assert v.to_frame().values.tolist() == [[0, 1, 1], [1, 0, 0]]


def test_dense_refuses_huge_matrices():
    from crowdwise.errors import TooLargeError

    v = Votes(task=np.array([0]), worker=np.array([0]), label=np.array([0]), task_ids=np.arange(20_000),
              worker_ids=np.arange(10_000), classes=np.arange(2))
    with pytest.raises(TooLargeError, match=r"2e\+08 entries .*GB"):
        write_dense(v, "never.txt")


# --------------------------------------------------------------------------- dispatch
def test_save_load_dispatch(int_votes, tmp_path):
    for target in ["f", "f.csv", "f.tsv", "f.parquet", "answers.json", "f.json", "f.txt"]:
        out = save_votes(int_votes, tmp_path / target)
        back = load_votes(out, n_classes=4)
        assert back.equals(int_votes) or target in ("f.csv", "f.tsv"), target
        assert back.n_votes == int_votes.n_votes


def test_folder_with_votes_csv(tmp_path, str_votes):
    d = tmp_path / "my_set"
    write_table(str_votes, d / "votes.csv")
    v = load_votes(d)
    assert v.name == "my_set" and v.n_votes == 6


@pytest.mark.parametrize("seed", range(3))
def test_random_roundtrips(tmp_path, seed):
    rng = np.random.default_rng(seed)
    n = 500
    t = rng.integers(0, 80, n)
    w = rng.integers(0, 30, n)
    key = np.unique(t * 100 + w, return_index=True)[1]
    t, w = t[key], w[key]
    lab = rng.integers(0, 5, t.size)
    ids = np.array([f"task{i}" for i in range(80)])
    v = Votes.from_records(ids[t], w, np.array(list("abcde"))[lab], classes=list("abcdef"))
    for target in ["r", "r.parquet", "answers.json"]:
        assert_same(load_votes(save_votes(v, tmp_path / target)), v)
    assert load_votes(save_votes(v, tmp_path / "r.csv")).equals(
        Votes.from_records(ids[t], w, np.array(list("abcde"))[lab]))


def test_no_pyarrow_fallback(str_votes, tmp_path, monkeypatch):
    """Without pyarrow, text tables go through the pandas C engine with the same result."""
    path = write_table(str_votes, tmp_path / "v.csv")
    with_arrow = load_votes(path)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    from crowdwise.io._common import have_pyarrow

    assert not have_pyarrow()
    without = load_votes(path)
    assert_same(without, with_arrow)
    assert without.extra["author"].tolist() == with_arrow.extra["author"].tolist()
    write_table(str_votes, tmp_path / "w.csv")
    assert_same(load_votes(tmp_path / "w.csv"), with_arrow)


@pytest.mark.slow
def test_million_votes_roundtrip(tmp_path):
    """Scale check (``pytest -m slow``): 1M votes through every O(votes) format."""
    import time

    rng = np.random.default_rng(0)
    n = 1_000_000
    t, w = rng.integers(0, 600_000, n), rng.integers(0, 80_000, n)
    keep = np.unique(t * 80_000 + w, return_index=True)[1]
    df = pd.DataFrame({"task": t[keep], "worker": np.char.add("u", w[keep].astype(str)),
                       "label": rng.integers(0, 5000, keep.size)})
    df.to_csv(tmp_path / "big.csv", index=False)
    t0 = time.perf_counter()
    v = load_votes(tmp_path / "big.csv")
    print(f"load csv: {time.perf_counter() - t0:.2f} s")
    for target in ["big.parquet", "big_folder", "big2.csv"]:
        t0 = time.perf_counter()
        back = load_votes(save_votes(v, tmp_path / target))
        print(f"{target}: {time.perf_counter() - t0:.2f} s")
        order_a = np.lexsort((v.worker, v.task))
        order_b = np.lexsort((back.worker, back.task))
        assert back.task_ids.tolist() == v.task_ids.tolist()
        assert back.worker_ids.tolist() == v.worker_ids.tolist()
        assert np.array_equal(v.label[order_a], back.label[order_b])
