"""Bad input through the command line: one line ``error: WHERE: WHAT. Fix: HOW``, exit 2, nothing written.

Each case builds its inputs in a fresh folder, runs the real command in a child process
and checks the message and that the folder holds no file the command wrote.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from security._sec import cli, files_under, votes_csv


def _csv(text: str):
    return lambda d: (d / "v.csv").write_text(text)


def _gz(d: Path, *, cut: bool = False, bad_crc: bool = False) -> None:
    raw = gzip.compress(("task,worker,label\n" + "".join(f"t{i},w{i % 3},{i % 2}\n" for i in range(2000))).encode())
    if cut:
        raw = raw[: len(raw) // 2]
    if bad_crc:
        raw = raw[:-8] + bytes([raw[-8] ^ 0xFF]) + raw[-7:]
    (d / "v.csv.gz").write_bytes(raw)


def _folder(answers, meta) -> callable:
    def make(d: Path) -> None:
        (d / "crowd").mkdir()
        (d / "crowd" / "answers.json").write_text(answers if isinstance(answers, str) else json.dumps(answers))
        if meta is not None:
            (d / "crowd" / "metadata.json").write_text(meta if isinstance(meta, str) else json.dumps(meta))
    return make


GOOD = {"0": {"a": 0, "b": 1}, "1": {"a": 1}}


def _good(d: Path) -> None:
    votes_csv(d / "v.csv")


def _labels(shape):
    def make(d: Path) -> None:
        votes_csv(d / "v.csv")
        np.save(d / "l.npy", np.zeros(shape, dtype=int))
        np.save(d / "t.npy", np.zeros(30, dtype=int))
    return make


def _truth_header(d: Path) -> None:
    votes_csv(d / "v.csv")
    (d / "t.csv").write_text("task,label\n")


def _symlink(d: Path) -> None:
    votes_csv(d / "v.csv")
    (d / "target.csv").write_text("x\n")
    (d / "link.csv").symlink_to(d / "target.csv")


CASES = {
    "no such data set": (lambda d: None, ["aggregate", "{d}/missing.csv"]),
    "empty csv": (_csv(""), ["aggregate", "{d}/v.csv"]),
    "blank csv": (_csv("\n \n"), ["aggregate", "{d}/v.csv"]),
    "header only": (_csv("task,worker,label\n"), ["aggregate", "{d}/v.csv"]),
    "missing column": (_csv("task,worker\n1,a\n"), ["aggregate", "{d}/v.csv"]),
    "missing field": (_csv("task,worker,label\n1,a,0\n2,b\n"), ["aggregate", "{d}/v.csv"]),
    "empty label": (_csv("task,worker,label\n1,a,0\n2,b,\n"), ["aggregate", "{d}/v.csv", "--duplicates", "error"]),
    "binary garbage csv": (lambda d: (d / "v.csv").write_bytes(b"\x00\x01\x02\xff" * 100), ["aggregate", "{d}/v.csv"]),
    "truncated gzip": (lambda d: _gz(d, cut=True), ["aggregate", "{d}/v.csv.gz"]),
    "gzip bad crc": (lambda d: _gz(d, bad_crc=True), ["aggregate", "{d}/v.csv.gz"]),
    "not gzip": (_csv("task,worker,label\n1,a,0\n") and (lambda d: (d / "v.csv.gz").write_text("plain")),
                 ["aggregate", "{d}/v.csv.gz"]),
    "not parquet": (lambda d: (d / "v.parquet").write_bytes(b"not parquet at all"), ["aggregate", "{d}/v.parquet"]),
    "unknown suffix": (lambda d: (d / "v.xlsx").write_text("x"), ["aggregate", "{d}/v.xlsx"]),
    "folder without votes": (lambda d: (d / "crowd").mkdir(), ["aggregate", "{d}/crowd"]),
    "answers not json": (_folder("{not json", {"n_classes": 2}), ["aggregate", "{d}/crowd"]),
    "answers a list": (_folder([1, 2], {"n_classes": 2}), ["aggregate", "{d}/crowd"]),
    "answers text label": (_folder({"0": {"a": "cat"}}, {"n_classes": 2}), ["aggregate", "{d}/crowd"]),
    "answers float label": (_folder({"0": {"a": 1.5}}, {"n_classes": 2}), ["aggregate", "{d}/crowd"]),
    "metadata not json": (_folder(GOOD, "{oops"), ["aggregate", "{d}/crowd"]),
    "metadata huge n_classes": (_folder(GOOD, {"n_classes": 10**12}), ["aggregate", "{d}/crowd", "-s", "DS"]),
    "metadata huge n_tasks": (_folder(GOOD, {"n_classes": 2, "n_tasks": 10**12}), ["aggregate", "{d}/crowd"]),
    "metadata negative n_classes": (_folder(GOOD, {"n_classes": -3}), ["aggregate", "{d}/crowd"]),
    "metadata text n_classes": (_folder(GOOD, {"n_classes": "two"}), ["aggregate", "{d}/crowd"]),
    "unknown strategy": (_good, ["aggregate", "{d}/v.csv", "-s", "NoSuchThing"]),
    "bad strategy value": (_good, ["aggregate", "{d}/v.csv", "-s", "DS[max_iter=-1]"]),
    "unknown strategy option": (_good, ["aggregate", "{d}/v.csv", "-s", "DS[foo=1]"]),
    "unclosed bracket": (_good, ["aggregate", "{d}/v.csv", "-s", "DS[max_iter=3"]),
    "binary-only strategy": (_good, ["aggregate", "{d}/v.csv", "-s", "KOS"]),
    "bad table extension": (_good, ["aggregate", "{d}/v.csv", "-o", "{d}/out.xlsx"]),
    "output is the input": (_good, ["aggregate", "{d}/v.csv", "-o", "{d}/v.csv"]),
    "output is a link": (_symlink, ["aggregate", "{d}/v.csv", "-o", "{d}/link.csv"]),
    "output under a file": (_good, ["aggregate", "{d}/v.csv", "--out-dir", "{d}/v.csv/sub"]),
    "truth missing": (_good, ["aggregate", "{d}/v.csv", "--truth", "{d}/nothing.npy"]),
    "truth header only": (_truth_header, ["aggregate", "{d}/v.csv", "--truth", "{d}/t.csv"]),
    "bad duplicates policy": (_good, ["aggregate", "{d}/v.csv", "--duplicates", "sometimes"]),
    "duplicates refused": (_csv("task,worker,label\n1,a,0\n1,a,1\n"), ["aggregate", "{d}/v.csv", "--duplicates",
                                                                        "error"]),
    "evaluate labels of another size": (_labels(7), ["evaluate", "{d}/l.npy", "--truth", "{d}/t.npy"]),
    "evaluate labels missing": (_good, ["evaluate", "{d}/none.npy", "--truth", "{d}/v.csv"]),
    "identify unknown method": (_good, ["identify", "{d}/v.csv", "-s", "vibes"]),
    "identify drop without -o": (_good, ["identify", "{d}/v.csv", "--drop-spammers", "0.1"]),
    "identify drop into the input": (_good, ["identify", "{d}/v.csv", "--drop-spammers", "0.1", "--new-dataset", "{d}"]),
    "simulate zero tasks": (lambda d: None, ["simulate", "--n-task", "0", "--out-dir", "{d}/sim"]),
    "simulate bad ratio": (lambda d: None, ["simulate", "--ratio", "2", "--out-dir", "{d}/sim"]),
    "report into a folder": (_good, ["report", "{d}/v.csv", "-o", "{d}"]),
    "plot unknown figure": (_good, ["plot", "{d}/v.csv", "nonsense", "--out-dir", "{d}/figs"]),
    "benchmark without truth": (_good, ["benchmark", "{d}/v.csv", "-s", "MV"]),
    "install unknown data set": (lambda d: None, ["install", "bluebrids"]),
    "datasets info unknown name": (lambda d: None, ["datasets", "info", "labelmee"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_cli_input_is_one_clear_error_and_writes_nothing(tmp_path, case):
    setup, args = CASES[case]
    setup(tmp_path)
    before = files_under(tmp_path)
    res = cli(*(a.format(d=tmp_path) for a in args), cwd=tmp_path)
    err = res.stderr.strip()
    assert res.returncode == 2, (res.returncode, err[-2000:])
    assert "Traceback" not in err, err[-2000:]
    lines = err.splitlines()
    assert len(lines) == 1 or lines[0].startswith(("Usage:", "error:")), err  # click's usage errors are framed
    if lines[0].startswith("error:"):
        assert "Fix:" in err, err
    assert files_under(tmp_path) == before, files_under(tmp_path) - before
