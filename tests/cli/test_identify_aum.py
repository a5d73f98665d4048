"""`crowdwise identify -s aum|aumc|waum` with features, and `--prune` writing a smaller data set."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from _cli import run, runner, simulate_folder  # noqa: E402
from crowdwise import io  # noqa: E402
from crowdwise.cli.main import app  # noqa: E402
from crowdwise.errors import InputError  # noqa: E402

TRAIN = ["--hidden", "8", "--epochs", "4", "--threads", "1", "--quiet"]


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    root = tmp_path_factory.mktemp("aum")
    folder = simulate_folder(root / "sim", n_task=100, n_worker=6, n_classes=3, spammers=0.2, seed=4, feedback=3)
    truth = np.load(folder / "ground_truth.npy")
    rng = np.random.default_rng(1)
    x = (np.eye(3, 4)[truth] * 3.0 + 0.7 * rng.standard_normal((truth.size, 4))).astype(np.float32)
    np.save(root / "x.npy", x)
    return folder, root / "x.npy"


def test_scores_are_written_by_task_id_and_equal_the_library(crowd, tmp_path):
    from crowdwise.cli._options import make_config
    from crowdwise.learn.aum import waum_scores
    from crowdwise.learn.data import load_features

    folder, x = crowd
    run("identify", str(folder), "-s", "waum,entropy", "--features-train", str(x), "--out-dir", str(tmp_path), *TRAIN)
    votes = io.load_votes(folder)
    data = load_features(x, votes=votes)
    cfg = make_config(epochs=4, batch_size=64, optimizer="adam", lr=1e-3, momentum=0.9, weight_decay=0.0,
                      scheduler="none", milestones=None, seed=0, device=None, threads=1)
    opts = {"hidden": (8,), "dropout": 0.0}
    want_w = waum_scores(votes, data, confusions="DS", model_options=opts, config=cfg).scores
    for stem, want in (("waum", want_w),):
        table = pd.read_csv(tmp_path / f"{stem}.csv")
        assert table["task"].tolist() == votes.task_ids.tolist()
        np.testing.assert_allclose(table[stem].to_numpy(), want, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(np.load(tmp_path / f"{stem}.npy"), want, rtol=1e-6, atol=1e-9)
    assert (tmp_path / "entropy.csv").is_file()  # learnt and vote-based scores in one call


def test_prune_writes_a_smaller_data_set_that_loads_again(crowd, tmp_path):
    from crowdwise.learn.aum import prune_mask
    from crowdwise.learn.data import load_features

    folder, x = crowd
    new = tmp_path / "pruned"
    run("identify", str(folder), "-s", "waum", "--features-train", str(x), "--out-dir", str(tmp_path / "id"),
        "--prune", "0.1", "--new-dataset", str(new), *TRAIN)
    votes = io.load_votes(folder)
    scores = np.load(tmp_path / "id" / "waum.npy")
    keep = prune_mask(scores, 0.1)
    assert (~keep).sum() == 10  # 100 distinct scores: the 10 lowest are at or below the 0.1-quantile
    pruned = io.load_votes(new)
    assert pruned.n_tasks == 90
    assert pruned.task_ids.tolist() == votes.task_ids[keep].tolist()
    assert pruned.n_votes == int(keep[votes.task].sum())
    feats = np.load(new / "features_train.npy")
    np.testing.assert_array_equal(feats, np.load(x)[keep])
    np.testing.assert_array_equal(np.load(new / "ground_truth.npy"), np.load(folder / "ground_truth.npy")[keep])
    table = pd.read_csv(new / "pruned.csv")
    assert table["kept"].tolist() == keep.tolist()
    assert load_features(new / "features_train.npy", votes=pruned).n_features == 4
    assert json.loads((new / "metadata.json").read_text())["n_tasks"] == 90
    # the input is untouched
    assert io.load_votes(folder).n_tasks == 100


def test_prune_per_class_removes_the_quantile_of_each_class(crowd, tmp_path):
    from crowdwise.aggregate import MajorityVote
    from crowdwise.learn.aum import prune_mask

    folder, x = crowd
    new = tmp_path / "pc"
    run("identify", str(folder), "-s", "aumc", "--features-train", str(x), "--out-dir", str(tmp_path / "id"),
        "--prune", "0.2", "--per-class", "--new-dataset", str(new), "--margin", "psi1", *TRAIN)  # logit margins: no ties
    votes = io.load_votes(folder)
    scores = np.load(tmp_path / "id" / "aumc.npy")
    mv = MajorityVote(random_state=0).fit(votes).labels_
    keep = prune_mask(scores, 0.2, classes=mv)
    assert io.load_votes(new).n_tasks == int(keep.sum())
    for c in range(3):
        n_c = int((mv == c).sum())
        removed = int((~keep[mv == c]).sum())
        # distinct scores: floor(0.2 (n_c - 1)) + 1 tasks at or below the quantile
        assert removed == int(np.floor(0.2 * (n_c - 1))) + 1


def test_aum_with_labels_file_and_bad_requests(crowd, tmp_path):
    folder, x = crowd
    run("identify", str(folder), "-s", "aum", "--labels", str(folder / "ground_truth.npy"), "--features-train",
        str(x), "--out-dir", str(tmp_path), "--margin", "psi1", *TRAIN)
    aum = np.load(tmp_path / "aum.npy")
    assert aum.shape == (100,) and np.isfinite(aum).all()

    def fails(*args):
        res = runner.invoke(app, ["identify", str(folder), *args])
        assert res.exit_code != 0
        return str(res.exception)

    assert "aum needs the labels" in fails("-s", "aum", "--features-train", str(x))
    assert "exactly one of" in fails("-s", "aum,waum", "--labels", str(folder / "ground_truth.npy"), "--prune",
                                     "0.1", "--new-dataset", str(tmp_path / "z"), "--features-train", str(x))
    assert "overwrite the input" in fails("-s", "waum", "--prune", "0.1", "--new-dataset", str(folder), "--features-train", str(x))
    assert "--per-class applies to --prune" in fails("-s", "waum", "--per-class", "--features-train", str(x))
    assert "unknown margin" in fails("-s", "aumc", "--margin", "psi9", "--features-train", str(x), "--out-dir",
                                     str(tmp_path), *TRAIN)


def test_unreadable_or_misshapen_labels_and_confusions_name_the_file(crowd, tmp_path):
    folder, x = crowd
    empty, scalar, big = tmp_path / "empty.npy", tmp_path / "scalar.npy", tmp_path / "big.npy"
    empty.write_bytes(b"")  # np.load raises EOFError: click printed a bare "Aborted."
    np.save(scalar, np.array(3))  # 0-d: indexing its shape raised IndexError
    np.save(big, np.full(100, 3))  # class 3 of a 3-class crowd
    for args, expected in (
            (("-s", "aum", "--labels", str(empty)), "empty.npy: not a readable .npy file"),
            (("-s", "aum", "--labels", str(scalar)), "scalar.npy: expected one label per task, shape (100,)"),
            (("-s", "aum", "--labels", str(big)), "big.npy, task 0: label index 3 is outside 0..2"),
            (("-s", "waum", "--confusions", str(empty)), "empty.npy: not a readable .npy file")):
        res = runner.invoke(app, ["identify", str(folder), *args, "--features-train", str(x),
                                  "--out-dir", str(tmp_path / "scores"), *TRAIN])
        assert isinstance(res.exception, InputError), (args, res.output)
        assert expected in str(res.exception)
    assert not (tmp_path / "scores").exists()


def test_prune_on_an_image_folder_links_the_kept_images(tmp_path):
    from PIL import Image

    from crowdwise.simulate import independent_confusion

    sim = independent_confusion(16, 4, 2, feedback=2, seed=0)
    root = tmp_path / "imgs"
    io.write_peerannot(sim.votes, root)
    rng = np.random.default_rng(0)
    for part, truth in (("train", sim.truth), ("test", np.array([0, 1, 0, 1]))):
        for i, t in enumerate(truth):
            d = root / part / str(t)
            d.mkdir(parents=True, exist_ok=True)
            pixels = (rng.random((8, 8, 3)) * 127 * (t + 1)).astype(np.uint8)
            Image.fromarray(pixels).save(d / f"img-{i}.png")
    new = tmp_path / "pruned"
    run("identify", str(root), "-s", "aumc", "-m", "resnet18", "--img-size", "16", "--epochs", "1", "--batch-size",
        "8", "--margin", "psi1", "--prune", "0.25", "--new-dataset", str(new), "--out-dir", str(tmp_path / "id"),
        "--threads", "1", "--quiet")
    kept = pd.read_csv(new / "pruned.csv")["kept"].to_numpy()
    assert (~kept).sum() == 4  # 16 distinct logit margins: floor(0.25 * 15) + 1
    links = sorted(new.glob("train/*/*.png"))
    assert len(links) == 12 and all(p.is_symlink() for p in links)
    assert (new / "test").is_symlink()
    assert io.load_votes(new).n_tasks == 12


def test_standardize_scores_on_scaled_features_and_prunes_the_original_ones(crowd, tmp_path):
    from crowdwise.cli._options import make_config
    from crowdwise.learn.aum import waum_scores
    from crowdwise.learn.data import load_features, standardize

    folder, x = crowd
    far = tmp_path / "far.npy"
    np.save(far, (np.load(x) * 20.0 + 500.0).astype(np.float32))
    new = tmp_path / "pruned"
    run("identify", str(folder), "-s", "waum", "--features-train", str(far), "--standardize",
        "--out-dir", str(tmp_path / "id"), "--prune", "0.1", "--new-dataset", str(new), *TRAIN)
    votes = io.load_votes(folder)
    cfg = make_config(epochs=4, batch_size=64, optimizer="adam", lr=1e-3, momentum=0.9, weight_decay=0.0,
                      scheduler="none", milestones=None, seed=0, device=None, threads=1)
    want = waum_scores(votes, standardize(load_features(far, votes=votes))[0], confusions="DS",
                       model_options={"hidden": (8,), "dropout": 0.0}, config=cfg).scores
    np.testing.assert_allclose(np.load(tmp_path / "id" / "waum.npy"), want, rtol=1e-6, atol=1e-9)
    # the pruned data set keeps the features as given, not the scaled copy the networks saw
    kept = pd.read_csv(new / "pruned.csv")
    rows = kept.loc[kept["kept"].astype(bool), "task"].map({t: i for i, t in enumerate(votes.task_ids)}).to_numpy()
    np.testing.assert_array_equal(np.load(new / "features_train.npy"), np.load(far)[np.sort(rows)])
