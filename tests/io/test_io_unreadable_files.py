"""A file that cannot be read (truncated or damaged gzip data, permission denied) is one
InputError naming the file and the fix, from the library and from the command line (exit
code 2, one line on stderr, nothing written): never a traceback, never click's ``Aborted.``
for an ``EOFError``."""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import subprocess
import sys

import pytest

from crowdwise import InputError, Votes
from crowdwise.io import load_truth, load_votes, read_dense, read_peerannot, read_table, save_votes


def _csv_bytes(n: int = 3000) -> bytes:
    return ("task,worker,label\n" + "".join(f"{i},w{i % 7},{i % 3}\n" for i in range(n))).encode()


def _answers_bytes(n: int = 3000) -> bytes:
    return json.dumps({str(i): {f"w{i % 7}": i % 3, f"w{(i + 1) % 7}": (i + 1) % 3} for i in range(n)}).encode()


def damaged(data: bytes, how: str) -> bytes:
    """gzip ``data``, then cut it in the middle or flip a byte of its CRC."""
    packed = bytearray(gzip.compress(data))
    if how == "truncated":
        return bytes(packed[: len(packed) // 2])
    packed[-8] ^= 0xFF  # the CRC32 of the trailer
    return bytes(packed)


CASES = [("votes.csv.gz", _csv_bytes), ("answers.json.gz", _answers_bytes)]
EXPECTED = {"truncated": "the compressed data end too early: the file is truncated",
            "bad_crc": "the compressed data are damaged (CRC check failed"}


@pytest.mark.parametrize("size", [200, 60000], ids=["small", "large"])
@pytest.mark.parametrize("how", ["truncated", "bad_crc"])
@pytest.mark.parametrize("name, make", CASES, ids=["csv", "json"])
def test_damaged_gzip_is_one_input_error_naming_the_file(tmp_path, name, make, how, size):
    f = tmp_path / name
    f.write_bytes(damaged(make(size), how))
    with pytest.raises(InputError) as err:  # before: EOFError, BadGzipFile (or a garbled-line message)
        load_votes(f)
    msg = str(err.value)
    assert msg.startswith(str(f)) and EXPECTED[how] in msg and "Fix:" in msg and "gzip -t" in msg


def test_damaged_gzip_through_the_other_readers(tmp_path):
    f = tmp_path / "t.csv.gz"
    f.write_bytes(damaged(_csv_bytes(), "truncated"))
    with pytest.raises(InputError, match="truncated"):
        read_table(f)
    m = tmp_path / "m.txt.gz"
    m.write_bytes(damaged(("1 -1 0\n" * 5000).encode(), "bad_crc"))
    with pytest.raises(InputError, match="m.txt.gz: the compressed data are damaged"):
        read_dense(m)
    votes = Votes.from_records([0, 1], ["a", "a"], [0, 1])
    truth = tmp_path / "truth.csv.gz"
    truth.write_bytes(damaged(("task,label\n" + "0,1\n" * 5000).encode(), "truncated"))
    with pytest.raises(InputError, match="truth.csv.gz: the compressed data end too early"):
        load_truth(truth, votes)
    plain = tmp_path / "plain.csv.gz"
    plain.write_bytes(_csv_bytes(10))
    with pytest.raises(InputError, match="not gzip-compressed, although its name ends with .gz"):
        load_votes(plain)


def test_answers_json_gz_round_trip(tmp_path):
    v = Votes.from_records(["a", "a", "b"], ["w1", "w2", "w1"], [0, 1, 1], n_classes=3, name="toy")
    out = save_votes(v, tmp_path / "crowd.json.gz")
    assert out.read_bytes()[:2] == b"\x1f\x8b" and (tmp_path / "crowd.metadata.json").is_file()
    back = load_votes(out)
    assert back.equals(v) and back.n_classes == 3 and back.name == "toy"


def _deny(monkeypatch, name: str) -> None:
    """Simulate a file nobody may read (tests run as root, where chmod 000 does not block)."""
    real_open, real_read_bytes = pathlib.Path.open, pathlib.Path.read_bytes

    def read_bytes(self):
        if self.name == name:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", read_bytes)
    monkeypatch.setattr(pathlib.Path, "open", lambda self, *a, **k: (
        read_bytes(self) if self.name == name else real_open(self, *a, **k)))


@pytest.mark.parametrize("name", ["answers.json", "metadata.json"])
def test_unreadable_file_in_a_folder_names_that_file(tmp_path, monkeypatch, name):
    d = tmp_path / "set"
    d.mkdir()
    (d / "answers.json").write_text(json.dumps({"0": {"a": 1}}))
    (d / "metadata.json").write_text(json.dumps({"n_classes": 2}))
    _deny(monkeypatch, name)
    with pytest.raises(InputError) as err:  # before: a PermissionError traceback
        load_votes(d)
    msg = str(err.value)
    assert msg.startswith(str(d / name)) and "permission denied" in msg and "chmod u+r" in msg


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads a chmod 000 file")
def test_chmod_000_answers_json(tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    (d / "answers.json").write_text(json.dumps({"0": {"a": 1}}))
    (d / "answers.json").chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            read_peerannot(d)
        csv = tmp_path / "v.csv"
        csv.write_text("task,worker,label\n1,a,x\n")
        csv.chmod(0)
        with pytest.raises(InputError, match="v.csv: permission denied"):
            load_votes(csv)
    finally:
        (d / "answers.json").chmod(0o644)


# --------------------------------------------------------------------------- command line
def _cli(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crowdwise.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd)


@pytest.mark.parametrize("how", ["truncated", "bad_crc"])
@pytest.mark.parametrize("name, make", CASES, ids=["csv", "json"])
def test_command_line_exits_2_with_one_line_and_writes_nothing(tmp_path, name, make, how):
    f = tmp_path / name
    f.write_bytes(damaged(make(), how))
    before = sorted(p.name for p in tmp_path.iterdir())
    res = _cli("aggregate", str(f), "-s", "MV", "-o", str(tmp_path / "out.csv"), "--quiet", cwd=tmp_path)
    # before: "Aborted." with exit code 1 (EOFError), or a BadGzipFile traceback
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and EXPECTED[how] in lines[0] and "Fix:" in lines[0], res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
