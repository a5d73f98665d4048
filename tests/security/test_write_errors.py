"""Writing errors are one clear line, exit 2, nothing written (issue 14, items 8 and 11)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from crowdwise import io
from crowdwise.errors import InputError
from security._sec import cli, votes_csv


def test_output_in_proc_is_one_clear_error(tmp_path):
    votes = votes_csv(tmp_path / "votes.csv")
    res = cli("aggregate", votes, "-o", "/proc/self/x.csv")
    assert res.returncode == 2
    assert res.stderr.startswith("error: /proc/self/x.") and "Fix:" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_read_only_output_folder_is_one_clear_error(tmp_path, monkeypatch):
    from crowdwise.io import _output

    real_open = os.open

    def denied(path, flags, *a):  # a read-only folder (tests may run as root, who may write anyway)
        if str(path).startswith(str(tmp_path / "ro")) and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *a)

    monkeypatch.setattr(_output.os, "open", denied)
    (tmp_path / "ro").mkdir()
    with pytest.raises(InputError, match=r"ro/x\.npy: cannot write this file: permission denied.*Fix"):
        io.save_npy(tmp_path / "ro" / "x.npy", np.arange(3))
    assert list((tmp_path / "ro").iterdir()) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_through_the_cli(tmp_path):
    votes = votes_csv(tmp_path / "votes.csv")
    (tmp_path / "ro").mkdir()
    os.chmod(tmp_path / "ro", 0o555)
    res = cli("aggregate", votes, "-o", tmp_path / "ro" / "x.csv")
    assert res.returncode == 2 and "permission denied" in res.stderr and "Traceback" not in res.stderr


def test_a_file_system_error_nobody_caught_is_still_one_line(tmp_path, monkeypatch, capsys):
    """The CLI's last net: an OSError becomes ``error: FILE: reason. Fix: ...``, exit 2."""
    import crowdwise.cli.main as m

    def boom(**kwargs):
        raise IsADirectoryError(21, "Is a directory", "/some/where")

    monkeypatch.setattr(m, "app", boom)
    with pytest.raises(SystemExit) as exc:
        m.main()
    assert exc.value.code == 2
    assert capsys.readouterr().err == ("error: /some/where: Is a directory. Fix: check the path, its permissions "
                                       "and the free space.\n")


def test_identify_spam_score_at_a_size_it_cannot_run_is_refused_before_ds(tmp_path):
    k, w = 1000, 300  # 300 x 1000 x 1000 float64 confusions: 2.2 GiB, above the 2 GiB limit
    answers = {str(t): {str(t % w): t % k} for t in range(w)}
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "answers.json").write_text(json.dumps(answers))
    (tmp_path / "d" / "metadata.json").write_text(json.dumps({"name": "big", "n_classes": k}))
    res = cli("identify", tmp_path / "d", "-s", "trace,spam-score")
    assert res.returncode == 2
    msg = res.stderr
    assert "spam-score needs every worker's full 1,000 x 1,000 confusion matrix" in msg
    assert "leave spam-score out of -s" in msg and "agreement, glad-ability" in msg
    assert "(scores that can run at this size: trace" not in msg  # trace was asked: not offered back
    assert not (tmp_path / "d" / "identification").exists()
