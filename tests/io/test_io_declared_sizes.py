"""Declared sizes are checked up front (naming the file and the key), before anything of
that size is allocated; a truth without any row is refused instead of an accuracy on 0
tasks."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from crowdwise import InputError, Votes, votes_encoding
from crowdwise.io import load_truth, load_votes, read_dense, read_metadata


def folder(tmp_path, answers, metadata):
    d = tmp_path / "set"
    d.mkdir()
    (d / "answers.json").write_text(json.dumps(answers))
    (d / "metadata.json").write_text(json.dumps(metadata))
    return d


@pytest.mark.parametrize("key", ["n_classes", "n_tasks", "n_workers"])
def test_a_huge_declared_count_is_refused_naming_the_key(tmp_path, key):
    # before: numpy tried to allocate 7.28 TiB (MemoryError, a generic message at the CLI)
    d = folder(tmp_path, {"0": {"a": 1}, "1": {"b": 0}}, {"name": "x", "n_classes": 2, key: 10**12})
    start = time.perf_counter()
    with pytest.raises(InputError) as err:
        load_votes(d)
    assert time.perf_counter() - start < 5
    msg = str(err.value)
    assert msg.startswith(str(d / "metadata.json")) and f"key '{key}'" in msg and "1,000,000,000,000" in msg
    assert f"Fix: correct {key}" in msg
    with pytest.raises(InputError, match=f"key '{key}'"):
        read_metadata(d / "metadata.json")


def test_declared_counts_are_measured_against_the_memory_available(tmp_path, monkeypatch):
    d = folder(tmp_path, {"0": {"a": 1}}, {"n_tasks": 1_000_000})
    assert load_votes(d).n_tasks == 1_000_000
    monkeypatch.setattr(votes_encoding, "available_memory", lambda: 1 << 20)  # 1 MiB left
    with pytest.raises(InputError, match=r"n_tasks=1,000,000 declares more tasks than fit in memory.*1\.0 MiB"):
        load_votes(d)
    monkeypatch.setattr(votes_encoding, "available_memory", lambda: None)  # a system that does not say
    assert load_votes(d).n_tasks == 1_000_000


def test_n_classes_above_2_24_is_refused_everywhere(tmp_path):
    f = tmp_path / "v.csv"
    f.write_text("task,worker,label\n1,a,0\n")
    for call in (lambda: load_votes(f, n_classes=10**12),
                 lambda: Votes.from_records([1], ["a"], [0], n_classes=10**12),
                 lambda: read_dense([[0, 1]], n_classes=2**24 + 1)):
        with pytest.raises(InputError, match="more classes than crowdwise handles"):
            call()
    assert Votes.from_records([1], ["a"], [0], n_classes=1000).n_classes == 1000


def test_declared_counts_below_the_votes_are_still_refused(tmp_path):
    d = folder(tmp_path, {"0": {"a": 1}, "1": {"b": 0}, "2": {"a": 0}}, {"n_tasks": 2})
    with pytest.raises(InputError, match="key 'n_tasks'.*3 distinct tasks"):
        load_votes(d)


# --------------------------------------------------------------------------- truth
@pytest.fixture
def votes():
    return Votes.from_records(["t1", "t2"], ["w", "w"], ["cat", "dog"])


def test_a_header_only_truth_is_refused(tmp_path, votes):
    f = tmp_path / "truth.csv"
    f.write_text("task,label\n")
    with pytest.raises(InputError) as err:  # before: all -1, then "accuracy nan on 0 tasks", exit 0
        load_truth(f, votes)
    msg = str(err.value)
    assert msg.startswith(str(f)) and "holds no row" in msg and "Fix: add one row 'task,label'" in msg


def test_a_truth_without_any_label_is_refused(tmp_path, votes):
    f = tmp_path / "truth.csv"
    f.write_text("task,label\nt1,\nt2,\n")
    with pytest.raises(InputError, match="none of the 2 row.* gives a true label"):
        load_truth(f, votes)
    lines = tmp_path / "truth.txt"
    lines.write_text("\n\n")
    with pytest.raises(InputError, match="truth.txt: the truth file holds no line"):
        load_truth(lines, None)
    f.write_text("task,label\nt1,dog\nt2,\n")  # one known label is enough
    assert load_truth(f, votes).tolist() == [1, -1]


def test_command_line_refuses_a_header_only_truth(tmp_path):
    v = tmp_path / "v.csv"
    v.write_text("task,worker,label\nt1,a,cat\nt2,a,dog\n")
    t = tmp_path / "truth.csv"
    t.write_text("task,label\n")
    res = subprocess.run([sys.executable, "-m", "crowdwise.cli.main", "aggregate", str(v), "-s", "MV", "-o",
                          str(tmp_path / "out.csv"), "--truth", str(t)], capture_output=True, text=True)
    assert res.returncode == 2 and "truth.csv" in res.stderr and "holds no row" in res.stderr, res
    assert len(res.stderr.strip().splitlines()) == 1 and "nan" not in res.stdout
