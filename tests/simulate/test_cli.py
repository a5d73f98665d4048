"""``crowdwise simulate`` through typer's test runner and through main()."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from crowdwise.cli.main import app, main
from crowdwise.errors import InputError

runner = CliRunner()


@pytest.mark.parametrize("strategy", ["independent-confusion", "hammer-spammer", "student-teacher",
                                      "discrete-difficulty"])
def test_each_strategy_writes_a_folder(tmp_path, strategy):
    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", "-s", strategy, "--n-worker", "8", "--n-task", "60",
                              "--n-classes", "3", "--feedback", "4", "--ratio", "0.5", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "majority vote accuracy" in res.output and strategy in res.output
    answers = json.loads((out / "answers.json").read_text())
    assert len(answers) == 60 and all(len(ws) == 4 for ws in answers.values())
    meta = json.loads((out / "metadata.json").read_text())
    assert (meta["n_workers"], meta["n_tasks"], meta["n_classes"], meta["strategy"]) == (8, 60, 3, strategy)
    assert np.load(out / "ground_truth.npy").shape == (60,)


def test_options_reach_the_simulation(tmp_path):
    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", "-s", "discrete-difficulty", "--n-worker", "10", "--n-task", "200",
                              "-K", "4", "--feedback", "6", "--imbalance-votes", "--ratio", "0.3",
                              "--ratio-diff", "0", "--random", "0.5", "--spammers", "0.2", "--seed", "7",
                              "-o", str(out)])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["imbalance_votes"] is True and meta["spammer_fraction"] == 0.2 and meta["seed"] == 7
    assert meta["ratio"] == 0.3 and meta["ratio_diff"] == 0.0 and meta["p_random"] == 0.5
    diff = np.load(out / "difficulties.npy")
    assert "easy" not in diff.tolist() and "random" in diff.tolist()
    counts = [len(ws) for ws in json.loads((out / "answers.json").read_text()).values()]
    assert min(counts) >= 1 and max(counts) <= 6 and len(set(counts)) > 1
    assert "spammer" in res.output


def test_same_seed_same_files(tmp_path):
    args = ["simulate", "--n-worker", "6", "--n-task", "50", "--feedback", "3", "--seed", "3", "-q"]
    assert runner.invoke(app, args + ["-o", str(tmp_path / "a")]).exit_code == 0
    assert runner.invoke(app, args + ["-o", str(tmp_path / "b")]).exit_code == 0
    assert (tmp_path / "a" / "answers.json").read_bytes() == (tmp_path / "b" / "answers.json").read_bytes()


def test_quiet_prints_nothing(tmp_path):
    res = runner.invoke(app, ["simulate", "-q", "--out-dir", str(tmp_path / "q")])
    assert res.exit_code == 0 and res.output == ""
    assert (tmp_path / "q" / "answers.json").exists()


def test_matrix_file(tmp_path):
    conf = np.tile(np.eye(3), (5, 1, 1))
    np.save(tmp_path / "m.npy", conf)
    out = tmp_path / "sim"
    res = runner.invoke(app, ["simulate", "--n-worker", "5", "-K", "3", "--n-task", "30",
                              "--matrix-file", str(tmp_path / "m.npy"), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    truth = np.load(out / "ground_truth.npy")
    answers = json.loads((out / "answers.json").read_text())
    assert all(lab == truth[int(t)] for t, ws in answers.items() for lab in ws.values())


@pytest.mark.parametrize("extra, match", [
    (["--ratio", "1.5"], "--ratio"),
    (["--feedback", "12"], "more than the 10 workers"),
    (["--n-classes", "1"], "at least 2"),
    (["--spammers", "-0.1"], "spammer_fraction"),
    (["-s", "student-teacher", "--ratio", "1"], "no teacher"),
    (["-s", "discrete-difficulty", "--ratio-diff", "-2"], "ratio_diff"),
])
def test_invalid_combinations_raise_input_error(tmp_path, extra, match):
    res = runner.invoke(app, ["simulate", "--out-dir", str(tmp_path / "x"), *extra])
    assert isinstance(res.exception, InputError), res.output
    assert match in str(res.exception) and "Fix:" in str(res.exception)
    assert not (tmp_path / "x" / "answers.json").exists()


def test_unreadable_matrix_file_is_an_input_error_naming_it(tmp_path):
    empty = tmp_path / "m.npy"
    empty.write_bytes(b"")  # np.load raises EOFError, which click turned into a bare "Aborted."
    res = runner.invoke(app, ["simulate", "--matrix-file", str(empty), "--out-dir", str(tmp_path / "x")])
    assert isinstance(res.exception, InputError), res.output
    assert "m.npy" in str(res.exception) and "not a readable .npy" in str(res.exception)
    assert not (tmp_path / "x").exists()


def test_matrix_file_with_other_strategy(tmp_path):
    np.save(tmp_path / "m.npy", np.tile(np.eye(2), (10, 1, 1)))
    res = runner.invoke(app, ["simulate", "-s", "student-teacher", "--matrix-file", str(tmp_path / "m.npy"),
                              "-o", str(tmp_path / "x")])
    assert isinstance(res.exception, InputError) and "independent-confusion only" in str(res.exception)


def test_unknown_strategy_is_a_usage_error(tmp_path):
    res = runner.invoke(app, ["simulate", "-s", "nope", "--out-dir", str(tmp_path / "x")])
    assert res.exit_code == 2


def test_main_turns_input_error_into_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["crowdwise", "simulate", "--feedback", "99", "--out-dir", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
