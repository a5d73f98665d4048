"""peerannot folders with more classes than declared: a one-line warning, or an error with --strict."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np


def _crowdwise(*args):
    return subprocess.run([sys.executable, "-c", "from crowdwise.cli.main import main; main()", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def _krippendorff_like(folder):
    """peerannot's krippendorff-data layout: metadata says 4 classes, the answers use 0..4."""
    folder.mkdir()
    answers = {str(t): {str(w): (t + w) % 5 for w in range(3)} for t in range(10)}
    (folder / "answers.json").write_text(json.dumps(answers))
    (folder / "metadata.json").write_text(json.dumps({"name": "krippendorff", "n_classes": 4}))
    return folder


def test_extra_class_is_one_warning_line_and_the_labels_have_five_classes(tmp_path):
    data = _krippendorff_like(tmp_path / "kd")
    res = _crowdwise("aggregate", data, "-s", "NaiveSoft", "--out-dir", tmp_path / "out", "-q")
    assert res.returncode == 0, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ")
    assert "metadata.json" in lines[0] and "n_classes is 4" in lines[0] and "5 classes" in lines[0]
    assert "--strict" in lines[0] and "strict=True" not in lines[0]
    assert np.load(tmp_path / "out" / "labels_krippendorff_naivesoft.npy").shape == (10, 5)


def test_strict_refuses_it_and_writes_nothing(tmp_path):
    data = _krippendorff_like(tmp_path / "kd")
    for verb in (["aggregate", data, "-s", "MV", "--out-dir", tmp_path / "out"],
                 ["identify", data, "-s", "entropy", "--out-dir", tmp_path / "out"]):
        res = _crowdwise(*verb, "--strict")
        assert res.returncode == 2 and res.stderr.startswith("error: ") and "--strict" in res.stderr
        assert "outside the 4 declared classes" in res.stderr
    assert not (tmp_path / "out").exists()


def test_a_header_only_truth_is_refused_even_with_quiet(tmp_path):
    votes = tmp_path / "v.csv"
    votes.write_text("task,worker,label\n1,a,0\n2,a,1\n")
    (tmp_path / "t.csv").write_text("task,label\n")
    for quiet in ([], ["-q"]):
        res = _crowdwise("aggregate", votes, "--truth", tmp_path / "t.csv", "-o", tmp_path / "o.csv", *quiet)
        assert res.returncode == 2 and "t.csv" in res.stderr and "no row" in res.stderr
        assert not (tmp_path / "o.csv").exists() and not (tmp_path / "o.npy").exists()


def test_repeated_votes_are_counted_in_one_warning_line_and_kept(tmp_path):
    votes = tmp_path / "v.csv"
    votes.write_text("task,worker,label\n1,a,0\n1,a,1\n1,b,1\n2,a,1\n2,a,1\n2,a,1\n")
    res = _crowdwise("aggregate", votes, "-s", "NaiveSoft", "-o", tmp_path / "o.csv", "-q")
    assert res.returncode == 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: ") and "3 vote(s) (50.0%) repeat" in lines[0]
    assert np.load(tmp_path / "o.npy").tolist() == [[1 / 3, 2 / 3], [0.0, 1.0]]  # kept: a counts twice on 1
    res = _crowdwise("aggregate", votes, "-s", "NaiveSoft", "-o", tmp_path / "f.csv", "-q", "--duplicates", "first")
    assert res.returncode == 0 and res.stderr == ""
    assert np.load(tmp_path / "f.npy").tolist() == [[0.5, 0.5], [0.0, 1.0]]
