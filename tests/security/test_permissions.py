"""Overwriting keeps permission bits, links are refused, CSV cells never run in a spreadsheet (item 4)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pandas as pd
import pytest

from crowdwise import Votes, io
from crowdwise.io._output import escape_formulas, unescape_formulas
from security._sec import cli, votes_csv


def mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_overwriting_keeps_the_targets_permission_bits(tmp_path):
    votes = votes_csv(tmp_path / "votes.csv")
    out = tmp_path / "out" / "labels.csv"
    assert cli("aggregate", votes, "-o", out, "-q").returncode == 0
    os.chmod(out, 0o600)
    os.chmod(out.with_suffix(".npy"), 0o640)
    res = cli("aggregate", votes, "-s", "WAWA", "-o", out, "-q")
    assert res.returncode == 0, res.stderr
    assert mode(out) == 0o600 and mode(out.with_suffix(".npy")) == 0o640
    assert np.load(out.with_suffix(".npy")).ndim == 2  # replaced: WAWA's soft labels


def test_a_new_file_gets_the_umasks_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        io.save_npy(tmp_path / "a.npy", np.arange(3))
    finally:
        os.umask(old)
    assert mode(tmp_path / "a.npy") == 0o640


def test_a_temporary_is_never_readable_by_others_while_written(tmp_path):
    seen = []
    with io.atomic_write(tmp_path / "secret.txt") as f:
        seen += [mode(p) for p in tmp_path.iterdir()]
        f.write("x")
    assert seen == [0o600]


def test_an_output_that_is_a_symlink_is_refused_and_its_target_kept(tmp_path):
    votes = votes_csv(tmp_path / "votes.csv")
    victim = tmp_path / "victim.csv"
    victim.write_text("precious\n")
    (tmp_path / "out.csv").symlink_to(victim)
    res = cli("aggregate", votes, "-o", tmp_path / "out.csv")
    assert res.returncode == 2 and "symbolic link" in res.stderr
    assert victim.read_text() == "precious\n" and (tmp_path / "out.csv").is_symlink()
    assert not (tmp_path / "out.npy").exists()
    # the .npy beside the table too
    (tmp_path / "x.npy").symlink_to(victim)
    res = cli("aggregate", votes, "-o", tmp_path / "x.csv")
    assert res.returncode == 2 and "x.npy" in res.stderr and victim.read_text() == "precious\n"


@pytest.mark.parametrize("value, safe", [
    ("=1+2", "'=1+2"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"), ("-x", "'-x"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("'quoted", "'quoted"), ("'=x", "''=x"), ("''", "'''"), ("'", "'"),
    ("-1", "-1"), ("+2.5e3", "+2.5e3"), ("cat", "cat"), ("a=b", "a=b"),
])
def test_escape_rule(value, safe):
    assert escape_formulas(np.array([value], dtype=object)).tolist() == [safe]
    assert unescape_formulas(np.array([safe], dtype=object)).tolist() == [value]


def test_labels_csv_cells_do_not_run_in_a_spreadsheet_and_read_back(tmp_path):
    ids = ["=HYPERLINK(\"http://x\")", "@evil", "-2", "plain"]
    v = Votes.from_records(ids * 2, ["a"] * 4 + ["b"] * 4, ["+cmd", "ok", "ok", "+cmd"] * 2)
    path = tmp_path / "labels.csv"
    io.write_labels_table(path, v, np.array([0, 1, 1, 0]), probas=np.eye(2)[[0, 1, 1, 0]])
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("task", "label"):
        assert not table[col].str.match(r"^[=+@\t\r]").any()
        assert not table[col].str.match(r"^-[^0-9]").any()
    assert "'=HYPERLINK(\"http://x\")" in table["task"].tolist() and "-2" in table["task"].tolist()
    lab, _ = io.read_labels(path, v)
    assert lab.tolist() == [0, 1, 1, 0]


def test_parquet_labels_are_not_escaped(tmp_path):
    pytest.importorskip("pyarrow")
    v = Votes.from_records(["=a", "b"], ["w", "w"], ["+x", "y"])
    io.write_labels_table(tmp_path / "l.parquet", v, np.array([0, 1]))
    t = pd.read_parquet(tmp_path / "l.parquet")
    assert t["task"].tolist() == ["=a", "b"] and t["label"].tolist() == ["+x", "y"]


def test_identify_score_csv_is_escaped(tmp_path):
    path = tmp_path / "votes.csv"
    path.write_text("task,worker,label\n=1+1,@w,0\n=1+1,w2,1\nt2,@w,1\n")
    res = cli("identify", path, "-s", "entropy,agreement", "--out-dir", tmp_path / "id", "-q")
    assert res.returncode == 0, res.stderr
    tasks = pd.read_csv(tmp_path / "id" / "entropy.csv", dtype=str)["task"].tolist()
    workers = pd.read_csv(tmp_path / "id" / "agreement.csv", dtype=str)["worker"].tolist()
    assert "'=1+1" in tasks and "'@w" in workers


def test_votes_csv_is_escaped_and_reads_back_the_same_votes(tmp_path):
    v = Votes.from_records(["=1+1", "t2", "-3", "'q", "'hello"], ["@w", "w", "-w", "w", "w"],
                           ["+a", "b", "+a", "b", "b"])
    io.save_votes(v, tmp_path / "v.csv")
    cells = [c for line in (tmp_path / "v.csv").read_text().splitlines()[1:] for c in line.split(",")]
    assert not any(c[:1] in "=+@" or (c[:1] == "-" and not c[1:].isdigit()) for c in cells)
    assert "'hello" in cells  # a quote before a harmless character is data, left as it is
    back = io.load_votes(tmp_path / "v.csv")
    assert sorted(back.task_ids.tolist()) == sorted(v.task_ids.tolist())
    assert sorted(back.worker_ids.tolist()) == sorted(v.worker_ids.tolist())
    assert back.classes.tolist() == v.classes.tolist()
    pairs = {(back.task_ids[t], back.worker_ids[w], back.classes[c]) for t, w, c in
             zip(back.task, back.worker, back.label)}
    assert pairs == {(v.task_ids[t], v.worker_ids[w], v.classes[c]) for t, w, c in zip(v.task, v.worker, v.label)}
