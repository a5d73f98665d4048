"""Figures of Lefort's thesis: accuracy against classes retrieved (Fig. 4.16), entropy
against WAUM (Fig. 2.5) and the grids of the lowest-WAUM images of each class (Figs. 2.11,
2.14, 3.8): the data behind each figure, by hand, and the PNG files of `crowdwise plot`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib")

from _cli import run, runner  # noqa: E402
from crowdwise import Votes, io  # noqa: E402
from crowdwise.cli.main import app  # noqa: E402
from crowdwise.errors import InputError  # noqa: E402
from crowdwise.plots import to_png  # noqa: E402
from crowdwise.plots.thesis import (THESIS_FIGURES, accuracy_classes_figure, accuracy_classes_points,  # noqa: E402
                                    entropy_waum_figure, entropy_waum_points, image_classes, read_task_score,
                                    thesis_figure, worst_waum_figure, worst_waum_images)

PNG = b"\x89PNG\r\n\x1a\n"
LOG3 = np.log(3.0)
H_2_1 = -(2 / 3 * np.log(2 / 3) + 1 / 3 * np.log(1 / 3))  # entropy of votes (a, a, b)


def _retrieval_crowd() -> tuple[Votes, np.ndarray]:
    """Six tasks, four classes, truth known on five.

    ==== ======== ===== ============ ===========================
    task votes    truth MV           TwoThird (>= 2 votes, 2/3)
    ==== ======== ===== ============ ===========================
    t0   0 0 0    0     0 right      0 valid, right
    t1   1        1     1 right      invalid (one vote): wrong
    t2   2 2 0    2     2 right      2 valid (2/3), right
    t3   0 0 3    3     0 wrong      0 valid, wrong
    t4   2 2      2     2 right      2 valid, right
    t5   0        -     (no truth)
    ==== ======== ===== ============ ===========================

    MV: accuracy 4/5, classes of the truth {0, 1, 2, 3} retrieved {0, 1, 2}: 3/4.
    TwoThird (invalid as wrong): accuracy 3/5, retrieved {0, 2}: 2/4, valid 4/5, accuracy on
    the valid tasks 3/4.
    """
    rows = [("t0", "a", 0), ("t0", "b", 0), ("t0", "c", 0), ("t1", "a", 1), ("t2", "a", 2), ("t2", "b", 2),
            ("t2", "c", 0), ("t3", "a", 0), ("t3", "b", 0), ("t3", "c", 3), ("t4", "b", 2), ("t4", "c", 2),
            ("t5", "a", 0)]
    t, w, lab = zip(*rows)
    votes = Votes.from_records(list(t), list(w), list(lab), n_classes=4)
    return votes, np.array([0, 1, 2, 3, 2, -1])


def test_accuracy_and_classes_retrieved_by_hand():
    votes, truth = _retrieval_crowd()
    p = accuracy_classes_points(votes, truth, ["MV", "TwoThird"]).set_index("strategy")
    assert p.loc["MV", "accuracy"] == pytest.approx(4 / 5)
    assert p.loc["MV", "classes_retrieved"] == pytest.approx(3 / 4)
    assert p.loc["MV", "n_classes_retrieved"] == pytest.approx(3)
    assert p.loc["TwoThird", "accuracy"] == pytest.approx(3 / 5)  # t1, left invalid, counts as wrong
    assert p.loc["TwoThird", "classes_retrieved"] == pytest.approx(2 / 4)
    assert p.loc["TwoThird", "share_valid"] == pytest.approx(4 / 5)
    assert p.loc["TwoThird", "accuracy_valid"] == pytest.approx(3 / 4)
    assert (p["n_classes_truth"] == 4).all() and p["error"].isna().all()

    fig = accuracy_classes_figure(p.reset_index())
    ax = fig.axes[0]
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [[75.0, 0.8], [50.0, 0.6]])
    assert [t.get_text() for t in ax.texts] == ["MV (3/4)", "TwoThird (2/4)"]


def test_accuracy_classes_names_a_strategy_that_cannot_run():
    votes, truth = _retrieval_crowd()
    fig, p = thesis_figure("accuracy-classes", votes, truth=truth, strategies=["MV", "KOS"])
    assert p["strategy"].tolist() == ["MV", "KOS"]
    assert isinstance(p.loc[1, "error"], str)  # KOS is binary, the crowd has 4 classes
    assert len(fig.axes[0].collections[0].get_offsets()) == 1
    assert "could not run: KOS" in fig.axes[0].get_title()


def test_entropy_and_mv_correctness_per_task():
    votes = Votes.from_records(["a", "a", "b", "b", "b", "c", "c", "c"], [0, 1, 0, 1, 2, 0, 1, 2],
                               [0, 0, 0, 1, 2, 1, 1, 0], n_classes=3)
    waum = np.array([0.9, -0.4, 0.1])
    p = entropy_waum_points(votes, waum, truth=np.array([0, -1, 0]))
    np.testing.assert_allclose(p["entropy"], [0.0, LOG3, H_2_1], rtol=1e-12)
    assert p["task"].tolist() == ["a", "b", "c"] and p["n_votes"].tolist() == [2, 3, 3]
    assert p["mv"].tolist()[::2] == [0, 1]  # task b is a three-way tie
    assert p["mv_correct"].tolist()[0] is True and p["mv_correct"].tolist()[2] is False
    assert pd.isna(p["mv_correct"][1])  # truth unknown
    fig = entropy_waum_figure(p)
    ax = fig.axes[0]
    drawn = {c.get_label(): c.get_offsets().data.tolist() for c in ax.collections}
    assert drawn == {"majority vote = truth (1)": [[0.9, 0.0]],
                     "majority vote ≠ truth (1)": [[0.1, pytest.approx(H_2_1)]],
                     "truth unknown (1)": [[-0.4, pytest.approx(LOG3)]]}
    assert "3 tasks" in ax.get_title()


def test_read_waum_from_the_files_identify_writes(tmp_path):
    votes = Votes.from_records(["7", "10", "10", "2"], ["a", "a", "b", "b"], [0, 1, 1, 0])  # tasks 2, 7, 10
    f = tmp_path / "waum.csv"
    f.write_text("task,waum,n_votes\n10,-0.25,2\n2,1.5,1\n")
    np.testing.assert_array_equal(read_task_score(f, votes), [1.5, np.nan, -0.25])
    np.save(tmp_path / "waum.npy", np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(read_task_score(tmp_path / "waum.npy", votes), [1.0, 2.0, 3.0])
    np.save(tmp_path / "short.npy", np.array([1.0, 2.0]))
    with pytest.raises(InputError, match=r"short\.npy: expected one waum value per task, shape \(3,\)"):
        read_task_score(tmp_path / "short.npy", votes)
    (tmp_path / "other.csv").write_text("task,waum\n10,1\n99,0.5\n")
    with pytest.raises(InputError, match=r"other\.csv, line 3: task '99' is not a task of the votes"):
        read_task_score(tmp_path / "other.csv", votes)
    (tmp_path / "text.csv").write_text("task,waum\n10,high\n")
    with pytest.raises(InputError, match=r"text\.csv, line 2: waum value 'high' is not a number"):
        read_task_score(tmp_path / "text.csv", votes)
    (tmp_path / "twice.csv").write_text("task,waum\n10,1\n10,2\n")
    with pytest.raises(InputError, match=r"twice\.csv, line 3: task '10' appears twice"):
        read_task_score(tmp_path / "twice.csv", votes)


def test_worst_waum_images_lowest_per_class_ties_by_task():
    waum = np.array([0.3, -1.0, 0.3, np.nan, 0.3, 2.0, -0.5, 0.0])
    classes = np.array([0, 0, 0, 0, 1, 1, 1, -1])
    t = worst_waum_images(waum, classes, n=2, task_ids=list("abcdefgh"), class_names=["cat", "dog"])
    # class 0: b (-1.0), then a and c tie at 0.3: a first (task order); d has no WAUM
    # class 1: g (-0.5), e (0.3); h has no class
    assert t[["class", "rank", "task", "waum"]].values.tolist() == [
        ["cat", 0, "b", -1.0], ["cat", 1, "a", 0.3], ["dog", 0, "g", -0.5], ["dog", 1, "e", 0.3]]
    t3 = worst_waum_images(waum, classes, n=3)
    assert t3["task_index"].tolist() == [1, 0, 2, 6, 4, 5]
    with pytest.raises(InputError, match="images per class"):
        worst_waum_images(waum, classes, n=0)


def _image_folder(root: Path, *, size: int = 6) -> tuple[Path, Votes, np.ndarray]:
    """A peerannot folder: 3 classes, 4 tasks each, train/<class>/img-<task>.png of a plain
    colour, votes (task i: the true class from 3 workers, and a wrong vote on task 1 and 5),
    its truth and a WAUM file."""
    from PIL import Image

    classes = ["cat", "dog", "fox"]
    colours = {"cat": (200, 30, 30), "dog": (30, 200, 30), "fox": (30, 30, 200)}
    truth = np.repeat(np.arange(3), 4)
    rows = []
    for i, k in enumerate(truth):
        folder = root / "train" / classes[k]
        folder.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (size, size), colours[classes[k]]).save(folder / f"img-{i}.png")
        rows += [(i, w, classes[k]) for w in ("a", "b", "c")]
    rows += [(1, "d", "dog"), (5, "d", "fox")]
    t, w, lab = zip(*rows)
    votes = Votes.from_records(list(t), list(w), list(lab), classes=classes)
    io.write_peerannot(votes, root)
    np.save(root / "ground_truth.npy", truth)
    waum = np.array([0.5, -0.2, 0.1, 0.9, 0.4, -0.3, 0.4, 1.0, 0.8, 0.7, 0.6, 0.5])
    pd.DataFrame({"task": votes.task_ids, "waum": waum, "n_votes": votes.votes_per_task()}).to_csv(
        root / "waum.csv", index=False)
    return root, votes, waum


def test_worst_waum_grid_from_an_image_folder(tmp_path):
    root, votes, waum = _image_folder(tmp_path / "set")
    data = io.load_image_folder(root, votes)
    np.testing.assert_array_equal(image_classes(votes, data, by="mv"), np.repeat(np.arange(3), 4))
    fig, chosen = thesis_figure("worst-waum", votes, waum=waum, images=data, n_images=2, group_by="folder")
    assert chosen[["class", "task"]].values.tolist() == [["cat", 1], ["cat", 2], ["dog", 5], ["dog", 4],
                                                         ["fox", 11], ["fox", 10]]
    assert [Path(p).name for p in chosen["path"]] == ["img-1.png", "img-2.png", "img-5.png", "img-4.png",
                                                      "img-11.png", "img-10.png"]
    axes = fig.axes
    assert len(axes) == 6 and [ax.get_label() for ax in axes] == ["1", "2", "5", "4", "11", "10"]
    assert axes[0].get_title() == "1\nWAUM -0.200" and axes[0].get_ylabel() == "cat"
    pixel = axes[2].images[0].get_array()[0, 0]
    assert tuple(int(v) for v in pixel) == (30, 200, 30)  # task 5's image: a dog, drawn green


def test_thesis_figures_need_their_inputs():
    votes, truth = _retrieval_crowd()
    with pytest.raises(InputError, match="truth"):
        thesis_figure("accuracy-classes", votes)
    with pytest.raises(InputError, match="--waum"):
        thesis_figure("entropy-waum", votes, truth=truth)
    with pytest.raises(InputError, match="train/<class>"):
        thesis_figure("worst-waum", votes, waum=np.zeros(votes.n_tasks))
    with pytest.raises(InputError, match="one number .* per task"):
        entropy_waum_points(votes, np.zeros(3))
    assert set(THESIS_FIGURES) == {"accuracy-classes", "entropy-waum", "worst-waum"}


def test_cli_writes_the_three_figures(tmp_path):
    root, votes, waum = _image_folder(tmp_path / "set")
    out = tmp_path / "figs"
    res = run("plot", str(root), "accuracy-classes", "entropy-waum", "worst-waum", "--waum", str(root / "waum.csv"),
              "-s", "MV,TwoThird", "--n-images", "3", "--out-dir", str(out), "--dpi", "40")
    assert sorted(p.name for p in out.iterdir()) == ["accuracy-classes.png", "entropy-waum.png", "worst-waum.png"]
    truth = np.load(root / "ground_truth.npy")  # the folder's ground_truth.npy is the truth without -t
    data = io.load_image_folder(root, votes)
    for name in ("accuracy-classes", "entropy-waum", "worst-waum"):
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == PNG and len(png) > 1000 and f"{name}.png" in res.output
        fig, _ = thesis_figure(name, votes, truth=truth, waum=waum, images=data, strategies=["MV", "TwoThird"],
                               n_images=3)
        assert png == to_png(fig, dpi=40)  # byte for byte the library's figure


def test_cli_refuses_missing_inputs_before_writing(tmp_path):
    root, _, _ = _image_folder(tmp_path / "set")
    out = tmp_path / "figs"
    for args, match in ((["entropy-waum"], "figure 'entropy-waum' draws the WAUM.*--waum FILE"),
                        (["worst-waum", "--waum", str(tmp_path / "nope.csv")], "WAUM file not found"),
                        (["worst-waum", "--waum", str(root / "waum.csv"), "--group-by", "truth"], "--group-by"),
                        (["figure-4.16"], "unknown figure 'figure-4.16'.*accuracy-classes")):
        with pytest.raises(InputError, match=match):
            runner.invoke(app, ["plot", str(root), *args, "--out-dir", str(out)], catch_exceptions=False)
    csv = tmp_path / "votes.csv"
    csv.write_text("task,worker,label\n0,a,cat\n")
    with pytest.raises(InputError, match="no train/ folder"):
        runner.invoke(app, ["plot", str(csv), "worst-waum", "--waum", str(root / "waum.csv"), "--out-dir", str(out)],
                      catch_exceptions=False)
    assert not out.exists()


def test_worst_waum_keeps_the_classes_of_lowest_waum():
    waum = np.array([0.3, -1.0, 0.2, 0.5, -2.0, 0.0])
    classes = np.array([0, 0, 1, 1, 2, 3])
    # lowest WAUM per class: 0 -> -1.0, 1 -> 0.2, 2 -> -2.0, 3 -> 0.0; keep 2 then 0 then 3
    t = worst_waum_images(waum, classes, n=5, max_classes=3)
    assert t["class_index"].tolist() == [0, 0, 2, 3] and t["task_index"].tolist() == [1, 0, 4, 5]
    assert worst_waum_images(waum, classes, n=1, max_classes=1)["task_index"].tolist() == [4]
    assert t.attrs["n_classes"] == 4
    assert "(3 of 4 classes: those of lowest WAUM)" in worst_waum_figure(t)._suptitle.get_text()
