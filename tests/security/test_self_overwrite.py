"""No verb writes over a file it reads (issue 14, item 2): one guard, symlinks and hard links included."""

from __future__ import annotations

import os

import numpy as np
import pytest

from crowdwise.errors import InputError
from crowdwise.io._output import check_output_path
from security._sec import cli, votes_csv


def test_aggregate_refuses_to_write_its_table_over_its_votes(tmp_path):
    votes = votes_csv(tmp_path / "d" / "votes.csv")
    before = votes.read_bytes()
    res = cli("aggregate", votes, "-o", votes)
    assert res.returncode == 2
    assert "is an input of this command" in res.stderr and str(votes) in res.stderr
    assert votes.read_bytes() == before
    assert sorted(p.name for p in votes.parent.iterdir()) == ["votes.csv"]  # no .npy either


def test_aggregate_refuses_an_output_that_resolves_to_the_input(tmp_path):
    votes = votes_csv(tmp_path / "d" / "votes.csv")
    before = votes.read_bytes()
    (tmp_path / "e").mkdir()
    res = cli("aggregate", votes, "-o", tmp_path / "e" / ".." / "d" / "votes.csv")
    assert res.returncode == 2 and "is an input" in res.stderr
    os.link(votes, tmp_path / "e" / "hard.csv")  # a hard link is the same file under another name
    res = cli("aggregate", votes, "-o", tmp_path / "e" / "hard.csv")
    assert res.returncode == 2 and "is an input" in res.stderr
    assert votes.read_bytes() == before


def test_aggregate_refuses_an_npy_beside_the_table_that_is_the_truth(tmp_path):
    votes = votes_csv(tmp_path / "d" / "votes.csv")
    truth = tmp_path / "d" / "truth.npy"
    np.save(truth, np.arange(30) % 3)
    before = truth.read_bytes()
    res = cli("aggregate", votes, "--truth", truth, "-o", tmp_path / "d" / "truth.csv")
    assert res.returncode == 2 and "truth.npy" in res.stderr and "is an input" in res.stderr
    assert truth.read_bytes() == before


def test_aggregate_refuses_to_replace_a_peerannot_folders_files(tmp_path):
    from security._sec import peerannot_folder

    data = peerannot_folder(tmp_path / "crowd", "crowd")
    before = (data / "metadata.json").read_bytes()
    res = cli("aggregate", data, "-o", data / "metadata.csv", "--out-dir", data, "-s", "MV")
    assert res.returncode == 0, res.stderr  # new files in the folder are fine
    np.save(data / "ground_truth.npy", np.zeros(30, dtype=int))
    res = cli("aggregate", data, "-o", data / "ground_truth.csv")
    assert res.returncode == 2 and "ground_truth.npy" in res.stderr
    assert (data / "metadata.json").read_bytes() == before


def test_identify_refuses_a_score_file_that_is_its_input(tmp_path):
    votes = votes_csv(tmp_path / "d" / "entropy.csv")
    before = votes.read_bytes()
    res = cli("identify", votes, "-s", "entropy", "--out-dir", tmp_path / "d")
    assert res.returncode == 2 and "is an input" in res.stderr
    assert votes.read_bytes() == before


def test_report_refuses_to_write_over_its_input(tmp_path):
    pytest.importorskip("matplotlib")
    votes = votes_csv(tmp_path / "d" / "votes.csv")
    before = votes.read_bytes()
    res = cli("report", votes, "-o", votes)
    assert res.returncode == 2 and "is an input" in res.stderr
    assert votes.read_bytes() == before


def test_the_guard_itself(tmp_path):
    f = tmp_path / "in.csv"
    f.write_text("x")
    with pytest.raises(InputError, match="is an input"):
        check_output_path(tmp_path / "." / "in.csv", inputs=[f])
    assert check_output_path(tmp_path / "out.csv", inputs=[f]) == tmp_path / "out.csv"
