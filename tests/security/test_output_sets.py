"""A command's outputs are one set: all new or all old, no temporary left behind (items 3 and 12)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from crowdwise import io
from crowdwise.io import _output
from security._sec import cli, votes_csv


def _state(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def first_run(tmp_path):
    """votes.csv and the outputs of a first `aggregate -s MV -o out/labels.csv`."""
    votes = votes_csv(tmp_path / "votes.csv")
    out = tmp_path / "out"
    res = cli("aggregate", votes, "-s", "MV", "-o", out / "labels.csv", "-q")
    assert res.returncode == 0, res.stderr
    return votes, out, _state(out)


KILL_DURING_TABLE = """
import os, signal, sys, time
import crowdwise.io.labels as L
real = L._write_csv
def dying(*a, **k):
    real(*a, **k)  # the whole table is in its temporary file: now die
    os.kill(os.getpid(), signal.{sig})
    time.sleep(30)
L._write_csv = dying
from crowdwise.cli.main import main
sys.argv = ["crowdwise"] + sys.argv[1:]
main()
"""


def _run_dying(sig, *args):
    code = textwrap.dedent(KILL_DURING_TABLE.format(sig=sig))
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_sigkill_during_the_table_keeps_the_old_set_and_the_next_run_cleans(first_run):
    votes, out, before = first_run
    res = _run_dying("SIGKILL", "aggregate", votes, "-s", "WAWA", "-o", out / "labels.csv", "-q")
    assert res.returncode == -signal.SIGKILL
    visible = {k: v for k, v in _state(out).items() if not k.startswith(".")}
    assert visible == before  # the old .npy and .csv, untouched: never the new .npy beside the old .csv
    assert any(k.startswith(".") and k.endswith(".tmp") for k in _state(out))  # a kill leaves temporaries
    res = cli("aggregate", votes, "-s", "WAWA", "-o", out / "labels.csv", "-q")
    assert res.returncode == 0, res.stderr
    assert sorted(_state(out)) == ["labels.csv", "labels.npy"]  # stale temporaries removed
    assert np.load(out / "labels.npy").ndim == 2


def test_sigterm_during_the_table_keeps_the_old_set_and_removes_the_temporaries(first_run):
    votes, out, before = first_run
    res = _run_dying("SIGTERM", "aggregate", votes, "-s", "WAWA", "-o", out / "labels.csv", "-q")
    assert res.returncode == 128 + signal.SIGTERM
    assert _state(out) == before  # nothing else in the folder: temporaries removed at once


def test_interrupt_in_process_keeps_the_old_set(first_run, monkeypatch):
    votes, out, before = first_run
    import crowdwise.io.labels as L
    from typer.testing import CliRunner

    from crowdwise.cli.main import app

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(L, "_write_csv", interrupted)
    res = CliRunner().invoke(app, ["aggregate", str(votes), "-s", "WAWA", "-o", str(out / "labels.csv"), "-q"])
    assert res.exit_code != 0
    assert _state(out) == before


def test_output_table_that_is_a_folder_leaves_nothing(tmp_path):
    votes = votes_csv(tmp_path / "votes.csv")
    (tmp_path / "outdir.csv").mkdir()
    res = cli("aggregate", votes, "-o", tmp_path / "outdir.csv")
    assert res.returncode == 2 and "is a folder" in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outdir.csv", "votes.csv"]


def test_a_failure_in_the_second_file_removes_the_first(tmp_path):
    with pytest.raises(ValueError):
        with _output.output_set():
            io.save_npy(tmp_path / "a.npy", np.arange(3))
            raise ValueError("boom")
    assert list(tmp_path.iterdir()) == []


def test_files_are_synced_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    calls = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(_output.os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(_output.os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1])
    io.save_npy(tmp_path / "a.npy", np.arange(3))
    assert calls == ["fsync", "replace", "fsync"]  # the file, the rename, its folder
    calls.clear()
    with _output.output_set():
        io.save_npy(tmp_path / "b.npy", np.arange(3))
        io.save_npy(tmp_path / "c.npy", np.arange(3))
    # two files synced, the journal written and synced (+ its folder), two renames, the folder
    assert calls.index("replace") > 3 and calls.count("replace") == 2 and calls[-1] == "fsync"


ROLL = """
import os, signal, sys
import numpy as np
from crowdwise import io
from crowdwise.io import _output
real = os.replace
n = [0]
def replace(a, b):
    real(a, b)
    n[0] += 1
    if n[0] == 1:  # killed between the two renames of the set
        os.kill(os.getpid(), signal.SIGKILL)
_output.os.replace = replace
folder = sys.argv[1]
with _output.output_set():
    io.save_npy(folder + "/a.npy", np.full(3, 7))
    io.save_npy(folder + "/b.npy", np.full(3, 7))
"""


def test_a_kill_between_renames_is_rolled_forward_by_the_next_write(tmp_path):
    io.save_npy(tmp_path / "a.npy", np.zeros(3))
    io.save_npy(tmp_path / "b.npy", np.zeros(3))
    res = subprocess.run([sys.executable, "-c", ROLL, str(tmp_path)], capture_output=True, timeout=120)
    assert res.returncode == -signal.SIGKILL
    assert np.load(tmp_path / "a.npy").tolist() == [7, 7, 7] and np.load(tmp_path / "b.npy").tolist() == [0, 0, 0]
    io.save_npy(tmp_path / "c.npy", np.zeros(1))  # any later write in the folder finishes the committed set
    assert np.load(tmp_path / "b.npy").tolist() == [7, 7, 7]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy", "c.npy"]


def test_temporaries_of_a_live_process_are_left_alone(tmp_path):
    mine = tmp_path / f".x.npy.{os.getpid()}-0123456789ab.tmp"
    mine.write_bytes(b"being written")
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
    dead = tmp_path / f".x.npy.{dead_pid}-0123456789ab.tmp"
    dead.write_bytes(b"left by a kill")
    legacy = tmp_path / ".x.npy.0123456789ab.tmp"  # name of older versions
    legacy.write_bytes(b"old")
    other = tmp_path / f".y.npy.{dead_pid}-0123456789ab.tmp"  # another target: not ours to clean
    other.write_bytes(b"other")
    io.save_npy(tmp_path / "x.npy", np.arange(2))
    assert mine.exists() and other.exists() and not dead.exists() and not legacy.exists()


def test_hard_labels_go_to_their_own_file(tmp_path):
    votes = votes_csv(tmp_path / "d" / "votes.csv")
    out = tmp_path / "labels"
    assert cli("aggregate", votes, "-s", "DS", "--out-dir", out, "-q").returncode == 0
    soft = (out / "labels_votes_ds.npy").read_bytes()
    res = cli("aggregate", votes, "-s", "DS", "--out-dir", out, "--hard", "-q")
    assert res.returncode == 0, res.stderr
    assert (out / "labels_votes_ds.npy").read_bytes() == soft  # the soft labels are still there
    hard = np.load(out / "labels_votes_ds_hard.npy")
    assert hard.shape == (30,) and hard.dtype.kind == "i"
    np.testing.assert_array_equal(hard, np.load(out / "labels_votes_ds.npy").argmax(1))
    assert sorted(p.name for p in out.iterdir()) == ["labels_votes_ds.csv", "labels_votes_ds.npy",
                                                    "labels_votes_ds_hard.csv", "labels_votes_ds_hard.npy"]


def test_concurrent_writers_leave_one_whole_set(tmp_path):
    """Two commands writing the same outputs at once: both succeed, and the files left are one
    command's whole set (never MV's .npy beside WAWA's table), with no temporary behind."""
    votes = votes_csv(tmp_path / "votes.csv", n_tasks=3000)
    out = tmp_path / "out" / "labels.csv"
    sets = {}
    for s in ("MV", "WAWA"):  # each command's set, written alone
        assert cli("aggregate", votes, "-s", s, "-o", out, "-q").returncode == 0
        sets[s] = (out.with_suffix(".npy").read_bytes(), out.read_bytes())
    assert sets["MV"][0] != sets["WAWA"][0] and sets["MV"][1] != sets["WAWA"][1]
    for _ in range(3):
        procs = [subprocess.Popen([sys.executable, "-c", "from crowdwise.cli.main import main; main()",
                                   "aggregate", str(votes), "-s", s, "-o", str(out), "-q"],
                                  stderr=subprocess.PIPE, text=True) for s in ("MV", "WAWA")]
        for p in procs:
            assert p.wait(timeout=300) == 0, p.stderr.read()
        assert (out.with_suffix(".npy").read_bytes(), out.read_bytes()) in sets.values()
        assert sorted(p.name for p in out.parent.iterdir()) == ["labels.csv", "labels.npy"]


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(1.0)
open(os.path.join(sys.argv[2], "released"), "w").close()
os.close(fd)
"""


def test_a_set_is_renamed_only_while_holding_the_folders_lock(tmp_path):
    pytest.importorskip("fcntl")
    out, marks = tmp_path / "out", tmp_path / "marks"
    out.mkdir()
    marks.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out), str(marks)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "locked"
    with _output.output_set():
        io.save_npy(out / "a.npy", np.arange(2))
        io.save_npy(out / "b.npy", np.arange(2))
    assert (marks / "released").exists()  # the renames waited for the other writer's commit
    assert holder.wait(timeout=60) == 0
