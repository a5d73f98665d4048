"""The 16 real data sets of ../shared/datasets load with the sizes of their README."""

from __future__ import annotations

import numpy as np
import pytest
from _data import dataset_names, require_datasets

from crowdwise.io import load_truth, load_votes, read_dense, read_table, save_votes, write_dense

# name: (tasks, workers, K, votes, tasks with truth), from ../shared/datasets/README.md
EXPECTED = {
    "bluebirds": (108, 39, 2, 4212, 108),
    "rte": (800, 164, 2, 8000, 800),
    "temp": (462, 76, 2, 4620, 462),
    "zheng_dog": (807, 109, 4, 8070, 807),
    "zheng_face": (584, 27, 4, 5242, 584),
    "zheng_product": (8315, 176, 2, 24945, 8315),
    "zheng_sentiment": (1000, 85, 2, 20000, 1000),
    "zheng_relevance": (20232, 766, 4, 98453, 4460),
    "adult_content2": (11040, 825, 4, 92721, 333),
    "web_relevance": (2665, 177, 5, 15567, 2653),
    "sentiment_polarity": (4999, 203, 2, 27746, 4999),
    "weather_sentiment_amt": (300, 110, 5, 6030, 300),
    "labelme": (1000, 59, 8, 2547, 1000),
    "music_genre": (700, 44, 10, 2945, 700),
    "leaves": (384, 83, 6, 3840, 384),
    "ruters": (1786, 38, 8, 5410, 1786),
}


def test_all_datasets_are_listed():
    root = require_datasets()
    assert sorted(EXPECTED) == dataset_names(), root


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dataset_loads_with_readme_sizes(name):
    root = require_datasets()
    if name not in dataset_names():
        pytest.skip(f"{name} not in {root}")
    n_tasks, n_workers, k, n_votes, n_truth = EXPECTED[name]
    votes = load_votes(root / name / "votes.csv")
    assert (votes.n_tasks, votes.n_workers, votes.n_classes, votes.n_votes) == (n_tasks, n_workers, k, n_votes)
    assert votes.name == "votes"  # the file stem
    truth = load_truth(root / name / "truth.csv", votes)
    assert truth.shape == (n_tasks,) and truth.dtype == np.int64
    assert int((truth >= 0).sum()) == n_truth
    assert truth.max() < votes.n_classes


def test_folder_of_a_dataset_reads_its_votes_csv():
    root = require_datasets()
    v = load_votes(root / "bluebirds")
    assert v.n_votes == 4212 and v.name == "bluebirds"


def test_labelme_as_a_dense_matrix(tmp_path):
    """LabelMe was released as a 1000 x 59 matrix (-1 = no answer): write one, read it back."""
    root = require_datasets()
    votes = read_table(root / "labelme" / "votes.csv")
    path = write_dense(votes, tmp_path / "answers.txt")
    lines = path.read_text().splitlines()
    assert len(lines) == 1000 and all(len(line.split()) == 59 for line in lines)
    back = load_votes(path)  # sniffed as dense: integers only on the first line
    assert back.equals(votes)
    assert back.task_ids.tolist() == votes.task_ids.tolist() == list(range(1000))
    assert read_dense(path, n_classes=8).classes.tolist() == list(range(8))
    truth = load_truth(root / "labelme" / "truth.csv", back)
    assert (truth >= 0).sum() == 1000


@pytest.mark.parametrize("name", ["adult_content2", "music_genre"])
def test_text_id_datasets_roundtrip_through_peerannot(name, tmp_path):
    root = require_datasets()
    votes = load_votes(root / name / "votes.csv", duplicates="first")
    back = load_votes(save_votes(votes, tmp_path / name))
    assert back.equals(votes)
    assert back.classes.tolist() == votes.classes.tolist()
    assert back.task_ids.tolist() == votes.task_ids.tolist()
