"""The readers of the items to learn from (crowdwise.io.features): feature tables through
the io table reader (text ids and classes, spreadsheet escapes, gzip, Parquet, errors at
the editor's line), truth files, training targets through read_labels; the module
imports without torch, and learn/ reads files only through it."""

from __future__ import annotations

import ast
import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _data import require_datasets

from crowdwise import Votes, io
from crowdwise.errors import InputError
from crowdwise.io.features import (FeatureTable, Split, TaskData, load_features, load_task_data,
                                   read_feature_table, read_targets)

SRC = Path(__file__).resolve().parents[2] / "src" / "crowdwise"


@pytest.fixture
def votes() -> Votes:
    return Votes.from_records(["t1", "t2", "007", "=x"], ["w"] * 4, ["cat", "dog", "cat", "dog"])


# --------------------------------------------------------------------------- boundaries
def test_imports_without_torch_nor_pandas():
    code = ("import sys\n"
            "sys.modules['torch'] = None\n"
            "import crowdwise.io.features, crowdwise.io\n"
            "assert crowdwise.io.load_features is crowdwise.io.features.load_features\n"
            "print('pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _io_imports(tree: ast.AST, module_package: str) -> list[tuple[str, str]]:
    """(module, name) of every ``from X import name`` whose X is crowdwise.io or below."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = module_package.split(".")[: len(module_package.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if mod == "crowdwise.io" or mod.startswith("crowdwise.io."):
                found += [(mod, a.name) for a in node.names]
        elif isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.startswith("crowdwise.io")]
    return found


def test_learn_uses_only_public_io_names_and_no_csv_parser_of_its_own():
    for path in sorted((SRC / "learn").glob("*.py")):
        text = path.read_text()
        for mod, name in _io_imports(ast.parse(text), "crowdwise.learn"):
            assert not any(part.startswith("_") for part in mod.split(".")), f"{path.name} imports {mod}"
            assert not name.startswith("_"), f"{path.name} imports {name} from {mod}"
        assert "read_csv" not in text and "read_parquet" not in text, f"{path.name} parses tables itself"


def test_learn_data_keeps_its_names():
    from crowdwise.learn import data as ld

    for name in ("Split", "TaskData", "load_features", "load_image_folder", "load_task_data", "IMAGE_EXTENSIONS"):
        assert getattr(ld, name) is getattr(sys.modules["crowdwise.io.features"], name)
    assert ld.load_labels is read_targets
    assert set(ld.__all__) >= {"make_dataset", "standardize", "load_labels", "TaskDataset", "image_transform"}


# --------------------------------------------------------------------------- feature tables
def test_csv_ids_and_classes_are_text_as_written(tmp_path, votes):
    # '007' stays '007' (pandas made it 7) and a spreadsheet-escaped id is unescaped
    (tmp_path / "f.csv").write_text("id,a,class\nt1,1,cat\nt2,2,dog\n007,3,\n'=x,4,dog\n")
    data = load_features(tmp_path / "f.csv", votes=votes)
    assert data.train.task_ids.tolist() == votes.task_ids.tolist()
    order = [["t1", "t2", "007", "=x"].index(t) for t in votes.task_ids.tolist()]
    assert data.train.features[:, 0].tolist() == [[1., 2., 3., 4.][i] for i in order]
    assert data.train.truth.tolist() == [[0, 1, -1, 1][i] for i in order]


def test_read_feature_table_file_order(tmp_path):
    (tmp_path / "f.tsv").write_text("task\tx\ty\tlabel\n10\t1.5\t2\tb\n2\t3\t4e-3\t\n")
    t = read_feature_table(tmp_path / "f.tsv")
    assert isinstance(t, FeatureTable) and t.x.dtype == np.float32
    assert t.x.tolist() == [[1.5, 2.0], [3.0, np.float32(4e-3)]]
    assert t.ids.dtype == np.int64 and t.ids.tolist() == [10, 2]  # plainly written integers: int64 ids
    assert t.labels.tolist() == ["b", None]


def test_gzip_and_parquet_tables(tmp_path, votes):
    text = "id,a,b\nt1,1,2\nt2,3,4\n007,5,6\n'=x,7,8\n"
    with gzip.open(tmp_path / "f.csv.gz", "wt") as f:
        f.write(text)
    (tmp_path / "f.csv").write_text(text)
    plain = load_features(tmp_path / "f.csv", votes=votes)
    np.testing.assert_array_equal(load_features(tmp_path / "f.csv.gz", votes=votes).train.features,
                                  plain.train.features)
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": ["t1", "t2", "007", "=x"], "a": [1, 3, 5, 7], "b": [2., 4., 6., 8.]}),
                   tmp_path / "f.parquet")
    np.testing.assert_array_equal(load_features(tmp_path / "f.parquet", votes=votes).train.features,
                                  plain.train.features)


def test_named_columns(tmp_path, votes):
    (tmp_path / "f.csv").write_text("key,a,genre,id\nt1,1,cat,9\nt2,2,dog,9\n007,3,cat,9\n'=x,4,dog,9\n")
    data = load_features(tmp_path / "f.csv", votes=votes, id_column="key", label_column="genre")
    assert data.n_features == 2  # 'id' is a feature here
    with pytest.raises(InputError, match=r"f\.csv, line 1 \(header\): no column 'item'; columns: 'key', 'a'"
                                         r".*pass the right id_column"):
        load_features(tmp_path / "f.csv", votes=votes, id_column="item")


@pytest.mark.parametrize("text, message", [
    ("id,a\nt1,1\nt2,NA\n", r"f\.csv, line 3: column 'a' holds 'NA', not a number"),
    ("id,a\nt1,1\nt2,inf\n", r"f\.csv, line 3: missing or infinite feature value"),
    ("id,a\nt1,1\n\nt2,\n", r"f\.csv, line 4: missing or infinite feature value"),  # a blank line counted
    ("id,a\nt1,1,3\nt2,2\n", r"f\.csv, line 2: 3 field\(s\) where the header has 2"),
    ("id,a\nt1,2020-01-01\n", r"f\.csv, line 2: column 'a' holds '2020-01-01', not a number"),
    ("id,a\nt1,1\n,2\n", r"f\.csv, line 3: empty id in column 'id'"),
    ("id,class\nt1,cat\n", r"f\.csv, line 1 \(header\): no feature column"),
    ("", r"f\.csv, line 1: the file is empty"),
])
def test_bad_tables_are_located(tmp_path, text, message):
    (tmp_path / "f.csv").write_text(text)
    with pytest.raises(InputError, match=message) as err:
        read_feature_table(tmp_path / "f.csv")
    assert err.value.fix


def test_unreadable_and_bad_arguments(tmp_path, votes):
    with gzip.open(tmp_path / "f.csv.gz", "wt") as f:
        f.write("id,a\n" + "".join(f"t{i},{i * 0.37}\n" for i in range(20000)))
    data = (tmp_path / "f.csv.gz").read_bytes()
    (tmp_path / "f.csv.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"f\.csv\.gz.*truncated"):
        read_feature_table(tmp_path / "f.csv.gz")
    with pytest.raises(InputError, match="no training features"):
        load_features(None, votes=votes)
    with pytest.raises(InputError, match="expected the path of a feature matrix"):
        read_feature_table(3)
    with pytest.raises(InputError, match="expected the path of a labels file"):
        read_targets(None, votes)
    with pytest.raises(InputError, match=r"f\.json: unknown extension '\.json' for a feature matrix"):
        (tmp_path / "f.json").write_text("{}")
        read_feature_table(tmp_path / "f.json")
    with pytest.raises(InputError, match=r"no such file"):
        load_task_data(tmp_path, votes, features_train=tmp_path / "nope.npy")


# --------------------------------------------------------------------------- truth
def test_truth_table_for_a_csv_split(tmp_path, votes):
    (tmp_path / "f.csv").write_text("id,a\nt1,1\nt2,2\n007,3\n'=x,4\n")
    (tmp_path / "truth.csv").write_text("task,label\n'=x,cat\n007,dog\nzzz,cat\n")
    data = load_features(tmp_path / "f.csv", votes=votes, train_truth=tmp_path / "truth.csv")
    want = {"=x": 0, "007": 1, "t1": -1, "t2": -1}
    assert data.train.truth.tolist() == [want[t] for t in votes.task_ids.tolist()]
    (tmp_path / "truth.csv").write_text("task,label\nt1,fish\n")
    with pytest.raises(InputError, match=r"truth\.csv, line 2: true class 'fish' is not one of the 2 classes"):
        load_features(tmp_path / "f.csv", votes=votes, train_truth=tmp_path / "truth.csv")
    (tmp_path / "truth.csv").write_text("item,answer\nt1,cat\n")
    with pytest.raises(InputError, match=r"truth\.csv, line 1 \(header\): a truth table needs a task"):
        load_features(tmp_path / "f.csv", votes=votes, train_truth=tmp_path / "truth.csv")


def test_index_truth_for_a_npy_matrix(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(6, dtype=np.float64).reshape(3, 2))
    (tmp_path / "y.txt").write_text("2\n-1\n0\n")
    data = load_features(tmp_path / "x.npy", train_truth=tmp_path / "y.txt")
    assert isinstance(data, TaskData) and isinstance(data.train, Split)
    assert data.train.truth.tolist() == [2, -1, 0] and data.classes.tolist() == [0, 1, 2]
    assert data.train.task_ids.tolist() == [0, 1, 2]


# --------------------------------------------------------------------------- training targets
def _soft_votes() -> Votes:
    return Votes.from_records(["t2", "t1", "t1", "t10"], ["a", "a", "b", "a"], ["A", "a", "a", "A"],
                              classes=["A", "a", "z"])


@pytest.mark.parametrize("name", ["l.csv", "l.tsv", "l.csv.gz"])
def test_read_targets_tables(tmp_path, name):
    v = _soft_votes()  # classes 'A' and 'a': columns p_A and p_a are told apart
    p = np.array([[.125, .625, .25], [.5, .5, 0.], [1 / 3, 0., 2 / 3]])
    io.write_labels_table(tmp_path / name, v, [1, 0, 2], probas=p, valid=[True, False, True])
    soft = read_targets(tmp_path / name, v)
    np.testing.assert_array_equal(soft, np.where([[True], [False], [True]], p, 0.0))  # bit for bit
    io.write_labels_table(tmp_path / name, v, [1, -1, 2])
    assert read_targets(tmp_path / name, v).tolist() == [1, -1, 2]


def test_read_targets_bad_probability_cell(tmp_path):
    v = _soft_votes()
    io.write_labels_table(tmp_path / "l.csv", v, [1, 0, 2], probas=np.eye(3))
    lines = (tmp_path / "l.csv").read_text().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ",high"
    (tmp_path / "l.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"l\.csv, line 3: column 'p_z' holds 'high', not a number"):
        read_targets(tmp_path / "l.csv", v)


# --------------------------------------------------------------------------- real data
def test_real_features_are_the_files_numbers():
    root = require_datasets()
    f = root / "labelme" / "features"
    data = load_features(f / "LabelMe_VGG_avg_train.npy", votes=io.load_votes(root / "labelme"),
                         test=f / "LabelMe_VGG_avg_test.npy", test_truth=f / "LabelMe_Z_test.txt")
    np.testing.assert_array_equal(data.train.features, np.load(f / "LabelMe_VGG_avg_train.npy").astype(np.float32))
    m = root / "music_genre" / "features" / "music_genre_test.csv"
    t = read_feature_table(m)
    rows = [line.split(",") for line in m.read_text().splitlines()]
    want = np.array([[float(c) for c in r[1:-1]] for r in rows[1:]]).astype(np.float32)
    assert rows[0][0] == "id" and rows[0][-1] == "class"
    np.testing.assert_array_equal(t.x, want)
    assert t.ids.tolist() == [r[0] for r in rows[1:]] and t.labels.tolist() == [r[-1] for r in rows[1:]]
