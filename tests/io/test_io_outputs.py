"""Ground truth, label files and atomic writes."""

from __future__ import annotations

import logging
import os
import stat

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from crowdwise import InputError, Votes
from crowdwise.io import atomic_write, load_truth, read_labels, save_npy, write_labels_table


@pytest.fixture
def votes() -> Votes:
    return Votes.from_records(["t2", "t10", "t1", "t1"], ["a", "a", "a", "b"], [3, 5, 3, 5],
                              classes=[3, 5, 7], task_ids=["t1", "t10", "t2", "t3"])


# --------------------------------------------------------------------------- truth
def test_truth_csv_matches_ids_and_integer_text(votes, tmp_path, caplog):
    f = tmp_path / "truth.csv"
    f.write_text("task,label\nt2,7\nt1,3\nother,5\nt3,\nt2,7\n")
    with caplog.at_level(logging.INFO, logger="crowdwise.io"):
        truth = load_truth(f, votes)
    assert truth.dtype == np.int64
    assert truth.tolist() == [0, -1, 2, -1]  # t1 -> class 3, t10 unknown, t2 -> 7, t3 empty label
    assert "1 truth row(s)" in caplog.text


def test_truth_table_naming_no_task_of_the_votes_is_an_error(votes, tmp_path):
    f = tmp_path / "other_truth.csv"
    f.write_text("task,label\n1,3\n2,5\n")  # another data set's ids: every truth would be unknown (NaN accuracy)
    with pytest.raises(InputError) as err:
        load_truth(f, votes)
    msg = str(err.value)
    assert "other_truth.csv" in msg and "none of the 2 row(s) names a task of the votes" in msg
    assert "'1', '2'" in msg and "'t1', 't10', 't2'" in msg and "Fix:" in msg
    f.write_text("task,label\n")  # no row at all: a truth that knows nothing is refused too
    with pytest.raises(InputError, match="holds no row"):
        load_truth(f, votes)


def test_truth_parquet_and_npy(votes, tmp_path):
    pytest.importorskip("pyarrow")
    pd.DataFrame({"task": ["t10"], "label": [5]}).to_parquet(tmp_path / "t.parquet")
    assert load_truth(tmp_path / "t.parquet", votes).tolist() == [-1, 1, -1, -1]
    np.save(tmp_path / "ground_truth.npy", np.array([2, -1, 0, 1]))
    assert load_truth(tmp_path / "ground_truth.npy", votes).tolist() == [2, -1, 0, 1]
    np.save(tmp_path / "float.npy", np.array([2.0, -1.0, 0.0, 1.0]))
    assert load_truth(tmp_path / "float.npy", votes).dtype == np.int64


def test_truth_txt_of_class_indices_is_read_by_position_like_train_does(votes, tmp_path):
    f = tmp_path / "truth.txt"
    f.write_text("2\n-1\n0\n1\n")  # one class index per line, no header (as LabelMe_Z_test.txt)
    assert load_truth(f, votes).tolist() == [2, -1, 0, 1]
    assert load_truth(f, None).tolist() == [2, -1, 0, 1]
    f.write_text("2\n0\n")
    with pytest.raises(InputError, match=r"truth.txt: expected one class index per task, shape \(4,\)"):
        load_truth(f, votes)
    f.write_text("2\n-1\n0\n3\n")  # 3 classes: index 3 is out of range
    with pytest.raises(InputError, match="value 3 is not a class index"):
        load_truth(f, votes)
    f.write_text("task,label\nt2,7\n")  # a header: still a table matched on ids
    assert load_truth(f, votes).tolist() == [-1, -1, 2, -1]


def test_truth_text_classes(tmp_path):
    v = Votes.from_records(["1", "2"], ["w", "w"], ["cat", "dog"])
    f = tmp_path / "truth.tsv"
    f.write_text("task\tlabel\n2\tcat\n1\tdog\n")
    assert load_truth(f, v).tolist() == [1, 0]


# --------------------------------------------------------------------------- labels tables
def test_labels_table_csv(votes, tmp_path):
    probas = np.array([[1.0, 0, 0], [0.2, 0.5, 0.3], [0, 0, 1], [1 / 3, 1 / 3, 1 / 3]])
    labels = np.array([0, 1, 2, -1])
    valid = np.array([True, True, True, False])
    out = write_labels_table(tmp_path / "out" / "labels.csv", votes, labels, probas=probas, valid=valid)
    df = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert list(df.columns) == ["task", "label", "label_index", "valid", "p_3", "p_5", "p_7"]
    assert df["task"].tolist() == ["t1", "t10", "t2", "t3"]
    assert df["label"].tolist() == ["3", "5", "7", ""]
    assert df["label_index"].tolist() == ["0", "1", "2", "-1"]
    np.testing.assert_allclose(df["p_5"].astype(float), probas[:, 1])
    lab, ok = read_labels(out, votes)
    assert lab.tolist() == labels.tolist() and ok.tolist() == valid.tolist()
    lab, ok = read_labels(out)  # file order without votes
    assert lab.tolist() == labels.tolist()


def test_labels_table_parquet_sparse_and_many_classes(tmp_path):
    pytest.importorskip("pyarrow")
    k = 60
    v = Votes.from_records([0, 1, 2], [0, 0, 0], [0, 5, 59], n_classes=k)
    p = sparse.csr_array(([0.7, 0.3, 1.0], ([0, 0, 1], [0, 5, 5])), shape=(3, k))
    out = write_labels_table(tmp_path / "l.parquet", v, [0, 5, 0], probas=p)
    df = pd.read_parquet(out)
    assert list(df.columns) == ["task", "label", "label_index", "confidence"]
    np.testing.assert_allclose(df["confidence"], [0.7, 1.0, 1 / k])  # empty row = uniform
    dense = np.full((3, k), 1 / k)
    out = write_labels_table(tmp_path / "d.csv", v, [0, 5, 0], probas=dense)
    assert list(pd.read_csv(out).columns) == ["task", "label", "label_index", "confidence"]
    assert read_labels(tmp_path / "l.parquet", v)[0].tolist() == [0, 5, 0]


def test_labels_table_with_label_only(votes, tmp_path):
    f = tmp_path / "mine.csv"
    f.write_text("task,label\nt10,7\nt1,3\n")
    lab, ok = read_labels(f, votes)
    assert lab.tolist() == [0, 2, -1, -1] and ok.tolist() == [True, True, False, False]
    with pytest.raises(InputError, match="pass the votes"):
        read_labels(f)


def test_labels_table_bad_shapes(votes, tmp_path):
    with pytest.raises(InputError, match=r"shape \(4,\)"):
        write_labels_table(tmp_path / "x.csv", votes, [0, 1])
    with pytest.raises(InputError, match="outside"):
        write_labels_table(tmp_path / "x.csv", votes, [0, 1, 2, 3])
    with pytest.raises(InputError, match="probas have shape"):
        write_labels_table(tmp_path / "x.csv", votes, [0, 1, 2, 0], probas=np.ones((4, 2)))
    assert not (tmp_path / "x.csv").exists()


# --------------------------------------------------------------------------- label arrays
def test_read_labels_npy(votes, tmp_path):
    save_npy(tmp_path / "hard.npy", np.array([0, 2, -1, 1]))
    lab, ok = read_labels(tmp_path / "hard.npy", votes)
    assert lab.tolist() == [0, 2, -1, 1] and ok.tolist() == [True, True, False, True]
    save_npy(tmp_path / "all.npy", np.array([0, 2, 1, 1]))
    assert read_labels(tmp_path / "all.npy")[1] is None
    soft = np.array([[0.1, 0.9, 0], [0.5, 0.5, 0], [0, 0, 0], [np.nan, np.nan, np.nan]])
    save_npy(tmp_path / "soft.npy", soft)
    lab, ok = read_labels(tmp_path / "soft.npy", votes)
    assert lab.tolist() == [1, 0, -1, -1] and ok.tolist() == [True, True, False, False]
    sparse.save_npz(tmp_path / "soft.npz", sparse.csr_matrix(np.array([[0, 0.2, 0.8], [0.6, 0.4, 0],
                                                                        [0, 0, 0], [0, 1, 0]])))
    lab, _ = read_labels(tmp_path / "soft.npz", votes)
    assert lab.tolist() == [2, 0, 0, 1]


# --------------------------------------------------------------------------- atomic writes
def test_atomic_write_replaces_only_on_success(tmp_path):
    f = tmp_path / "sub" / "out.txt"
    with atomic_write(f) as fh:
        fh.write("first")
    assert f.read_text() == "first"
    with pytest.raises(RuntimeError):
        with atomic_write(f) as fh:
            fh.write("second, half")
            raise RuntimeError("interrupted")
    assert f.read_text() == "first"
    assert sorted(p.name for p in f.parent.iterdir()) == ["out.txt"]  # no temp file left
    with atomic_write(f, "wb") as fh:
        fh.write(b"\x00\x01")
    assert f.read_bytes() == b"\x00\x01"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask
    with pytest.raises(InputError, match="mode"):
        with atomic_write(f, "a"):
            pass


def test_a_file_in_the_way_of_an_output_folder_is_named(tmp_path):
    from crowdwise.io import make_dir

    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert make_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()
    for target, where in ((blocker, "it is a file"), (blocker / "sub" / "deeper", ".../taken is a file")):
        with pytest.raises(InputError) as err:
            make_dir(target)
        assert where in str(err.value) and str(blocker) in str(err.value)
    with pytest.raises(InputError, match="is a file, not a folder"):  # atomic_write creates the parent the same way
        save_npy(blocker / "labels.npy", np.zeros(2))
    assert blocker.read_text() == "x"


def test_failed_writers_leave_nothing(tmp_path):
    v = Votes.from_records([0, 0], [0, 0], [0, 1])  # a repeated pair: not writable as JSON
    from crowdwise.io import save_votes

    with pytest.raises(InputError):
        save_votes(v, tmp_path / "answers.json")
    with pytest.raises(InputError):
        save_votes(v, tmp_path / "m.txt")
    assert list(tmp_path.iterdir()) == []


def test_save_npy(tmp_path):
    save_npy(tmp_path / "labels" / "labels_x_MV.npy", np.eye(2))
    assert np.load(tmp_path / "labels" / "labels_x_MV.npy").tolist() == [[1, 0], [0, 1]]
    with pytest.raises(InputError, match="objects"):
        save_npy(tmp_path / "o.npy", np.array([{}], dtype=object))


def test_save_sparse(tmp_path):
    from crowdwise.io import save_sparse

    m = sparse.csr_array(np.array([[0, 0.5, 0.5], [1, 0, 0]]))
    save_sparse(tmp_path / "p.npz", m)
    assert sparse.load_npz(tmp_path / "p.npz").toarray().tolist() == m.toarray().tolist()
    with pytest.raises(InputError, match="save_npy"):
        save_sparse(tmp_path / "d.npz", np.eye(2))
    assert not (tmp_path / "d.npz").exists()


def test_read_table_frame(tmp_path):
    from crowdwise.io import read_table_frame

    f = tmp_path / "t.tsv"
    f.write_text("task\tlabel\tvalid\n007\t3\ttrue\n8\t\tfalse\n")
    df = read_table_frame(f)
    assert df["task"].tolist() == ["007", "8"]
    assert df["label"].tolist()[0] == "3" and pd.isna(df["label"].tolist()[1])
    assert df["valid"].tolist() == [True, False]
    with pytest.raises(InputError, match="line 3"):
        (tmp_path / "r.csv").write_text("task,label\n1,2\n1,2,3\n")
        read_table_frame(tmp_path / "r.csv")


def test_truth_npy_without_votes(tmp_path):
    np.save(tmp_path / "gt.npy", np.array([1, -1, 0]))
    assert load_truth(tmp_path / "gt.npy", None).tolist() == [1, -1, 0]
    (tmp_path / "t.csv").write_text("task,label\na,1\n")
    with pytest.raises(InputError, match="pass the votes"):
        load_truth(tmp_path / "t.csv", None)


def test_save_labels_dense_soft_sparse_soft_hard_and_validity(tmp_path):
    from types import SimpleNamespace

    from scipy import sparse

    from crowdwise import Votes
    from crowdwise.io import save_labels

    v = Votes.from_records(["a", "a", "b", "c"], ["w", "x", "w", "w"], [0, 1, 1, 0])
    p = np.array([[.5, .5], [0., 1.], [1., 0.]])
    soft = SimpleNamespace(soft=True, labels_=np.array([0, 1, 0]), probas_=p)
    paths = save_labels(soft, v, tmp_path / "s.npy", tmp_path / "s.csv")
    assert [x.name for x in paths] == ["s.npy", "s.csv"] and np.array_equal(np.load(paths[0]), p)
    paths = save_labels(soft, v, tmp_path / "h.npy", hard=True)
    assert [x.name for x in paths] == ["h.npy"] and np.load(paths[0]).tolist() == [0, 1, 0]
    sp = SimpleNamespace(soft=True, labels_=np.array([0, 1, 0]), probas_=sparse.csr_array(p))
    paths = save_labels(sp, v, tmp_path / "k.npy")
    assert [x.name for x in paths] == ["k.npy", "k_probas.npz"]
    assert np.load(paths[0]).tolist() == [0, 1, 0] and np.array_equal(sparse.load_npz(paths[1]).toarray(), p)
    valid = SimpleNamespace(soft=False, labels_=np.array([0, 1, 0]), probas_=p, valid_=np.array([True, False, True]))
    save_labels(valid, v, tmp_path / "v.npy", tmp_path / "v.csv")
    assert np.load(tmp_path / "v.npy").tolist() == [0, -1, 0]
    assert "valid" in (tmp_path / "v.csv").read_text().splitlines()[0]
