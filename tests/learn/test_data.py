"""Task data: image folders (task keys, alignment with the votes, truth from folders,
mismatch errors), feature matrices (.npy + truth files, CSV keyed by ids), the real
LabelMe and Music features, and the torch data sets (-1 and empty soft rows left out)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from _data import require_datasets  # noqa: E402
from crowdwise import Votes, io  # noqa: E402
from crowdwise.errors import InputError  # noqa: E402
from crowdwise.learn.data import (  # noqa: E402
    Split, load_features, load_image_folder, load_task_data, make_dataset)
from learn._tiny import make_feature_dataset, make_image_dataset  # noqa: E402


@pytest.fixture
def images(tmp_path):
    info = make_image_dataset(tmp_path, n_train=12, n_val=6, n_test=9)
    return tmp_path, info


# --------------------------------------------------------------------------- images
def test_image_folder_aligned_with_votes(images):
    root, info = images
    votes = io.load_votes(root / "votes.csv")
    data = load_image_folder(root, votes)
    assert data.kind == "images" and data.classes.tolist() == ["blue", "green", "red"]
    assert len(data.train) == 12 and len(data.val) == 6 and len(data.test) == 9
    # row i is task votes.task_ids[i] (0..11 in numeric order, 10 after 9), whose file
    # is .../sq-<task>.png under its true colour folder
    assert data.train.task_ids.tolist() == votes.task_ids.tolist() == list(range(12))
    for i, p in enumerate(data.train.paths):
        assert p.name == f"sq-{i}.png"
        assert p.parent.name == info["classes"][info["truth"][i]]
    assert data.train.truth.tolist() == info["truth"].tolist()
    assert data.test.truth.tolist() == [data.classes.tolist().index(p.parent.name) for p in data.test.paths]


def test_task_key_is_after_the_last_dash(tmp_path):
    make_image_dataset(tmp_path, n_train=3, n_val=0, n_test=0)
    (tmp_path / "train" / "blue" / "sq-0.png").rename(tmp_path / "train" / "blue" / "my-blue-sq-a7.png")
    v = Votes.from_records(["a7", "1", "2"], ["w", "w", "w"], ["blue", "green", "red"])
    data = load_image_folder(tmp_path, v)
    assert data.train.paths[data.train.task_ids.tolist().index("a7")].name == "my-blue-sq-a7.png"
    assert data.val is None and data.test is None


def test_image_without_votes_is_an_error(images):
    root, _ = images
    votes = io.load_votes(root / "votes.csv")
    extra = root / "train" / "red" / "sq-99.png"
    extra.write_bytes((root / "train" / "red" / "sq-2.png").read_bytes())
    with pytest.raises(InputError, match=r"file train/red/sq-99\.png: task '99' is not a task of the votes"):
        load_image_folder(root, votes)


def test_task_with_votes_but_no_image_is_an_error(images):
    root, info = images
    votes = io.load_votes(root / "votes.csv")
    (root / "train" / info["classes"][info["truth"][5]] / "sq-5.png").unlink()
    with pytest.raises(InputError, match=r"task 5 has votes but no item"):
        load_image_folder(root, votes)


def test_file_name_without_task_key(images):
    root, _ = images
    (root / "train" / "red" / "sq-2.png").rename(root / "train" / "red" / "nodash.png")
    with pytest.raises(InputError, match=r"nodash\.png: no task key.*<name>-<task>"):
        load_image_folder(root, io.load_votes(root / "votes.csv"))


def test_repeated_task_key(images):
    root, _ = images
    (root / "train" / "red" / "sq-2.png").rename(root / "train" / "red" / "copy-3.png")
    with pytest.raises(InputError, match=r"copy-3\.png: task .3. appears twice"):
        load_image_folder(root)


def test_unknown_class_folder(images):
    root, _ = images
    (root / "test" / "red").rename(root / "test" / "purple")
    with pytest.raises(InputError, match="'purple' is not one of the 3 classes"):
        load_image_folder(root, io.load_votes(root / "votes.csv"))


def _index_votes(root):
    """The votes of the tiny image set with classes 0, 1, 2 instead of colour names."""
    df = pd.read_csv(root / "votes.csv")
    df["label"] = df["label"].map({"blue": 0, "green": 1, "red": 2})
    return Votes.from_records(df.task, df.worker, df.label)


def test_extra_class_folder_without_votes_is_named(images):
    # issue 21: votes with classes 0..2, folders blue/green/red with voted images and an extra
    # train/fish/ whose image nobody voted on: the error counts the folders and names fish
    # (it used to name 'blue', a valid folder)
    root, _ = images
    (root / "train" / "fish").mkdir()
    (root / "train" / "fish" / "sq-99.png").write_bytes((root / "train" / "red" / "sq-2.png").read_bytes())
    with pytest.raises(InputError) as err:
        load_image_folder(root, _index_votes(root))
    msg = str(err.value)
    assert "4 class folders for the 3 classes of the votes" in msg
    assert "without votes: 'fish'" in msg and "'blue'" not in msg
    # a class folder that only val/ or test/ has holds no voted image either
    (root / "train" / "fish" / "sq-99.png").unlink()
    (root / "train" / "fish").rmdir()
    (root / "test" / "owl").mkdir()
    (root / "test" / "owl" / "img0.png").write_bytes((root / "train" / "red" / "sq-2.png").read_bytes())
    with pytest.raises(InputError, match=r"4 class folders for the 3 classes of the votes .*without votes: 'owl'"):
        load_image_folder(root, _index_votes(root))


def test_more_voted_class_folders_than_classes(images):
    # every folder holds voted images: nothing to single out, the count and the folders are given
    root, info = images
    moved = root / "train" / "fish"
    moved.mkdir()
    (root / "train" / "red" / "sq-2.png").rename(moved / "sq-2.png")
    with pytest.raises(InputError, match=r"4 class folders \('blue', 'fish', 'green', 'red'\) for the 3 classes "
                                         r"of the votes \(0, 1, 2\), all with voted images"):
        load_image_folder(root, _index_votes(root))


def test_index_classes_and_named_folders_follow_sorted_folders(images):
    root, info = images
    df = pd.read_csv(root / "votes.csv")
    df["label"] = df["label"].map({"blue": 0, "green": 1, "red": 2})
    v = Votes.from_records(df.task, df.worker, df.label)
    data = load_image_folder(root, v)
    assert data.classes.tolist() == ["blue", "green", "red"]
    assert data.train.truth.tolist() == info["truth"].tolist()


def test_images_without_votes_sorted_by_task(images):
    root, info = images
    data = load_image_folder(root)
    assert data.train.task_ids.tolist() == list(range(12))
    assert data.train.truth.tolist() == info["truth"].tolist()


def test_image_dataset_items(images):
    root, _ = images
    data = load_image_folder(root, io.load_votes(root / "votes.csv"))
    labels = np.array([0, -1, 2] + [1] * 9)
    ds = make_dataset(data.train, labels, img_size=10)
    assert len(ds) == 11 and ds.rows.tolist() == [0] + list(range(2, 12))
    x, t, idx = ds[1]
    assert x.shape == (3, 10, 10) and int(t) == 2 and idx == 2
    # the square's colour survives: red channel of a red image above its mean
    x_red = ds[1][0]
    assert float(x_red[0].max()) > float(x_red[2].max())


# --------------------------------------------------------------------------- features
def test_npy_features_with_truth_files(tmp_path):
    arr = make_feature_dataset(tmp_path, n_train=30, n_val=9, n_test=12)
    votes = io.load_votes(tmp_path / "votes.csv")
    data = load_task_data(tmp_path, votes, features_train=tmp_path / "train.npy",
                          features_val=tmp_path / "val.npy", val_truth=tmp_path / "val_truth.txt",
                          features_test=tmp_path / "test.npy", test_truth=tmp_path / "test_truth.txt",
                          train_truth=tmp_path / "train_truth.txt")
    assert data.kind == "features" and data.n_features == 5 and data.n_classes == 3
    np.testing.assert_array_equal(data.train.features, arr["x_train"])
    assert data.train.truth.tolist() == arr["y_train"].tolist()
    assert data.test.truth.tolist() == arr["y_test"].tolist() and len(data.val) == 9


def test_npy_row_count_must_match_votes(tmp_path):
    make_feature_dataset(tmp_path, n_train=30)
    votes = io.load_votes(tmp_path / "votes.csv")
    np.save(tmp_path / "short.npy", np.zeros((29, 5), np.float32))
    with pytest.raises(InputError, match="29 feature rows but the votes have 30 tasks"):
        load_features(tmp_path / "short.npy", votes=votes)


def test_truth_file_length_and_range(tmp_path):
    make_feature_dataset(tmp_path, n_train=30, n_test=12)
    votes = io.load_votes(tmp_path / "votes.csv")
    (tmp_path / "bad.txt").write_text("0\n1\n")
    with pytest.raises(InputError, match="2 truth values for 12 rows"):
        load_features(tmp_path / "train.npy", votes=votes, test=tmp_path / "test.npy", test_truth=tmp_path / "bad.txt")
    (tmp_path / "bad.txt").write_text("0\n7\n" + "0\n" * 10)
    with pytest.raises(InputError, match=r"bad\.txt, line 2: class index 7 is outside 0\.\.2"):
        load_features(tmp_path / "train.npy", votes=votes, test=tmp_path / "test.npy", test_truth=tmp_path / "bad.txt")


def test_csv_features_keyed_by_id_are_reordered(tmp_path):
    (tmp_path / "f.csv").write_text("id,a,b,class\nt10,1,2,dog\nt2,3,4,cat\nt1,5,6,\n")
    v = Votes.from_records(["t1", "t2", "t10", "t10"], ["w", "w", "w", "u"], ["cat", "cat", "dog", "cat"])
    data = load_features(tmp_path / "f.csv", votes=v)
    assert data.train.task_ids.tolist() == ["t1", "t10", "t2"]  # the votes' (text) order
    assert data.train.features.tolist() == [[5, 6], [1, 2], [3, 4]]
    assert data.train.truth.tolist() == [-1, 1, 0]  # empty class = unknown


def test_csv_row_without_votes_and_bad_cells(tmp_path):
    v = Votes.from_records(["t1", "t2"], ["w", "w"], ["cat", "dog"])
    (tmp_path / "f.csv").write_text("id,a\nt1,1\nt2,2\nt3,3\n")
    with pytest.raises(InputError, match=r"f\.csv, line 4: task 't3' is not a task of the votes"):
        load_features(tmp_path / "f.csv", votes=v)
    (tmp_path / "f.csv").write_text("id,a\nt1,1\n")
    with pytest.raises(InputError, match="task 't2' has votes but no item"):
        load_features(tmp_path / "f.csv", votes=v)
    (tmp_path / "f.csv").write_text("id,a,b\nt1,1,x\nt2,2,3\n")
    with pytest.raises(InputError, match=r"line 2: column 'b' holds 'x', not a number"):
        load_features(tmp_path / "f.csv", votes=v)
    (tmp_path / "f.csv").write_text("id,a\nt1,1\nt2,\n")
    with pytest.raises(InputError, match=r"line 3: missing or infinite feature value"):
        load_features(tmp_path / "f.csv", votes=v)
    (tmp_path / "g.csv").write_text("id,a,b\nx,1,2\n")
    (tmp_path / "f.csv").write_text("id,a\nt1,1\nt2,2\n")
    with pytest.raises(InputError, match="2 feature columns, but the training matrix has 1"):
        load_features(tmp_path / "f.csv", votes=v, test=tmp_path / "g.csv")


def test_no_items_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no train/ image folder and no feature matrix"):
        load_task_data(tmp_path, None)


def test_real_labelme_features():
    root = require_datasets() / "labelme"
    f = root / "features"
    votes = io.load_votes(root)
    data = load_features(f / "LabelMe_VGG_avg_train.npy", votes=votes, val=f / "LabelMe_VGG_avg_valid.npy",
                         val_truth=f / "LabelMe_Z_valid.txt", test=f / "LabelMe_VGG_avg_test.npy",
                         test_truth=f / "LabelMe_Z_test.txt", train_truth=f / "LabelMe_Z_train.txt")
    assert (len(data.train), len(data.val), len(data.test), data.n_features) == (1000, 500, 1188, 512)
    # the train truth file agrees with truth.csv of the votes
    assert data.train.truth.tolist() == io.load_truth(root / "truth.csv", votes).tolist()


def test_real_music_features():
    root = require_datasets() / "music_genre"
    votes = io.load_votes(root)
    data = load_features(root / "features" / "music_genre_gold.csv", votes=votes,
                         test=root / "features" / "music_genre_test.csv")
    assert (len(data.train), len(data.test), data.n_features) == (700, 300, 124)
    assert data.val is None and data.classes.tolist() == votes.classes.tolist()
    raw = pd.read_csv(root / "features" / "music_genre_gold.csv").set_index("id")
    t = votes.task_ids[17]
    np.testing.assert_allclose(data.train.features[17], raw.loc[t].drop("class").to_numpy(float), rtol=1e-6)
    assert data.classes[data.train.truth[17]] == raw.loc[t, "class"]
    assert data.train.truth.tolist() == io.load_truth(root / "truth.csv", votes).tolist()


# --------------------------------------------------------------------------- torch data sets
def test_make_dataset_hard_soft_and_missing_rows():
    split = Split("train", np.arange(4), np.array([0, 1, -1, 1]), features=np.eye(4, dtype=np.float32))
    ds = make_dataset(split, np.array([1, -1, 0, 2]))
    assert ds.rows.tolist() == [0, 2, 3] and not ds.soft
    assert [int(ds[i][1]) for i in range(3)] == [1, 0, 2] and [ds[i][2] for i in range(3)] == [0, 2, 3]
    soft = np.array([[2., 2.], [0., 0.], [1., 3.], [np.nan, 1.]])
    ds = make_dataset(split, soft)
    assert ds.soft and ds.rows.tolist() == [0, 2, 3]
    assert ds[1][1].tolist() == [.25, .75] and ds[2][1].tolist() == [0., 1.]
    ds = make_dataset(split)  # the truth, unknown left out
    assert ds.rows.tolist() == [0, 1, 3]
    with pytest.raises(InputError, match="negative"):
        make_dataset(split, np.array([0, -2, 0, 0]))
    with pytest.raises(InputError, match=r"shape \(3,\)"):
        make_dataset(split, np.array([0, 1, 0]))


# --------------------------------------------------------------------------- labels, scaling
def test_load_labels_every_format(tmp_path):
    from scipy import sparse

    from crowdwise.aggregate import MajorityVote, NaiveSoft
    from crowdwise.learn.data import load_labels

    v = Votes.from_records(["t2", "t1", "t1", "t10"], ["a", "a", "b", "a"], ["y", "x", "x", "y"],
                           classes=["x", "y", "z"])
    ns = NaiveSoft().fit(v)
    np.save(tmp_path / "soft.npy", ns.probas_)
    np.testing.assert_array_equal(load_labels(tmp_path / "soft.npy", v), ns.probas_)
    np.save(tmp_path / "hard.npy", np.array([0, -1, 1]))
    assert load_labels(tmp_path / "hard.npy", v).tolist() == [0, -1, 1]
    sparse.save_npz(tmp_path / "p.npz", sparse.csr_array(ns.probas_))
    np.testing.assert_array_equal(load_labels(tmp_path / "p.npz", v), ns.probas_)
    # tables keyed by task id, in another row order: soft from the p_ columns, hard otherwise
    io.write_labels_table(tmp_path / "l.csv", v, ns.labels_, probas=ns.probas_)
    lines = (tmp_path / "l.csv").read_text().splitlines()
    (tmp_path / "l.csv").write_text("\n".join([lines[0]] + lines[1:][::-1]) + "\n")
    np.testing.assert_allclose(load_labels(tmp_path / "l.csv", v), ns.probas_)
    mv = MajorityVote(tie="smallest").fit(v)
    io.write_labels_table(tmp_path / "h.csv", v, mv.labels_)
    assert load_labels(tmp_path / "h.csv", v).tolist() == mv.labels_.tolist()
    np.save(tmp_path / "wrong.npy", np.ones((3, 2)))
    with pytest.raises(InputError, match=r"shape \(3, 2\), expected \(3, 3\)"):
        load_labels(tmp_path / "wrong.npy", v)


def test_standardize_uses_training_statistics():
    from crowdwise.learn.data import TaskData, standardize

    tr = Split("train", np.arange(3), np.zeros(3, np.int64), features=np.array([[1., 5.], [2., 5.], [3., 5.]],
                                                                              np.float32))
    te = Split("test", np.arange(1), np.zeros(1, np.int64), features=np.array([[4., 6.]], np.float32))
    out, mean, sd = standardize(TaskData(tr, None, te, np.array([0])))
    assert mean.tolist() == [2., 5.] and sd[1] == 1.0  # a constant column is only centred
    np.testing.assert_allclose(out.train.features[:, 0], [-1.2247449, 0, 1.2247449], rtol=1e-6)
    np.testing.assert_allclose(out.test.features[0], [2 / np.sqrt(2 / 3), 1.0], rtol=1e-6)
