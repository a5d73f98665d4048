"""``crowdwise simulate-collection``: the CLI gives the API's table, writes its outputs as one
set, and refuses bad options in one line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crowdwise import io
from crowdwise.cli.main import app
from crowdwise.simulate import independent_confusion, write_simulation
from crowdwise.simulate.collection import simulate_collection

runner = CliRunner()


@pytest.fixture()
def crowd(tmp_path):
    sim = independent_confusion(80, 8, 3, seed=2)      # every worker on every task: a dense pool
    folder = tmp_path / "crowd"
    write_simulation(sim, folder)
    return folder


def test_the_table_is_the_apis(crowd, tmp_path):
    out, fig = tmp_path / "t.csv", tmp_path / "t.png"
    res = runner.invoke(app, ["simulate-collection", str(crowd), "-s", "MV,DS", "--budget", "120", "--batch", "40",
                              "--seeds", "2", "--policies", "random,uncertainty", "-o", str(out), "--plot", str(fig)],
                        terminal_width=200)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    votes = io.load_votes(crowd)
    truth = io.load_truth(crowd / "ground_truth.npy", votes)
    api = simulate_collection(votes, truth, policies=["random", "uncertainty"], strategies=["MV", "DS"], budget=120,
                              batch=40, seeds=range(2))
    assert len(table) == len(api) == 2 * 2 * 2 * 4
    assert np.allclose(table["accuracy"], api["accuracy"]) and (table["budget_spent"] == api["budget_spent"]).all()
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the printed summary: the last row of MV under random is the mean of the table's
    last = api[(api["strategy"] == "MV") & (api["policy"] == "random") & (api["round"] == 3)]["accuracy"].mean()
    assert f"{last:.4f}" in res.output and "wrote" in res.output


def test_worker_choice_and_initial_reach_the_run(crowd, tmp_path):
    out = tmp_path / "r.csv"
    res = runner.invoke(app, ["simulate-collection", str(crowd), "-s", "MV", "--policies", "disagreement",
                              "--worker-choice", "reliable", "--initial", "2", "--budget", "30", "--seeds", "1",
                              "-q", "-o", str(out)])
    assert res.exit_code == 0 and res.output == ""
    table = pd.read_csv(out)
    assert (table["worker_choice"] == "reliable").all() and table["n_votes"].iloc[0] == 160
    assert table["budget_spent"].iloc[-1] == 30


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crowdwise", "simulate-collection", *args], capture_output=True,
                          text=True, timeout=120)


def test_bad_options_are_one_line_and_write_nothing(crowd, tmp_path):
    out = tmp_path / "never.csv"
    for args, expect in ((["--policies", "random,oops"], "unknown policy 'oops'"),
                         (["-s", "NoSuch"], "unknown strategy"),
                         (["--worker-choice", "best"], "--worker-choice"),
                         (["--batch", "0"], "--batch must be at least 1"),
                         (["--seeds", "0"], "--seeds must be at least 1")):
        res = cli(str(crowd), *args, "-o", str(out))
        lines = res.stderr.strip().splitlines()
        assert res.returncode != 0 and len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], \
            res.stderr
        assert "Fix:" in lines[0] and not out.exists()
    (tmp_path / "notruth").mkdir()
    (tmp_path / "notruth" / "votes.csv").write_text("task,worker,label\n1,a,x\n1,b,y\n")
    res = cli(str(tmp_path / "notruth"))
    assert res.returncode != 0 and "has no truth file" in res.stderr
    res = cli(str(crowd), "-o", str(crowd / "answers.json"))
    assert res.returncode != 0 and "is an input of this command" in res.stderr
