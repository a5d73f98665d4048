"""`crowdwise calibrate` end to end on small made files, and its errors."""

from __future__ import annotations

import json
import math
import signal
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

import crowdwise.io as cio
from crowdwise.aggregate import PlantNet
from crowdwise.calibration import calibrate_ai
from crowdwise.cli.main import app, main

from ._crowd import overconfident_crowd

runner = CliRunner()

SMALL = ("task,worker,label,ai_score\n"
         "o1,ann,a,\no1,bob,a,\no1,AI,a,0.9\n"
         "o2,ann,b,\no2,bob,b,\no2,AI,a,0.9\n"
         "o3,ann,c,\no3,bob,c,\no3,AI,c,0.9\n"
         "o4,AI,b,0.9\n")


def cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """``crowdwise ARGS`` in this process through the command's entry point (its one-line
    errors): the exit code and stderr."""
    monkeypatch.setattr(sys, "argv", ["crowdwise", *args])
    monkeypatch.setattr(signal, "signal", lambda *a: None)  # main() would install its handlers for good
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main()
        raise SystemExit(0)
    return int(exc.value.code or 0), capsys.readouterr().err


def test_hand_computed_from_the_command_line(tmp_path):
    (tmp_path / "obs.csv").write_text(SMALL)
    (tmp_path / "experts.csv").write_text("task,label\no1,a\no2,b\no3,c\n")
    res = runner.invoke(app, ["calibrate", str(tmp_path / "obs.csv"), "-t", str(tmp_path / "experts.csv"),
                              "--plot", str(tmp_path / "rel.png")], terminal_width=200)
    assert res.exit_code == 0, res.output
    # 3 trusted AI votes at 0.9, 2 right, K = 3: calibrated 2/3, T = log 18 / log 4
    report = json.loads((tmp_path / "obs_calibrated.calibration.json").read_text())
    assert report["temperature"] == pytest.approx(math.log(18) / math.log(4), rel=1e-5)
    assert report["n_trusted_ai_votes"] == 3 and report["n_ai_votes"] == 4
    assert report["trusted_labels"] == "expert labels of experts.csv"
    assert report["ece_before"] == pytest.approx(0.9 - 2 / 3) and report["ece_after"] == pytest.approx(0, abs=1e-6)
    assert report["nll_before"] == pytest.approx((-2 * math.log(0.9) - math.log(0.05)) / 3)
    assert "T = 2.085" in res.output and "expert labels of experts.csv: 3 of the 4 AI votes" in res.output
    out = cio.load_votes(tmp_path / "obs_calibrated.csv")
    ai = out.worker == list(out.worker_ids).index("AI")
    assert np.allclose(out.extra["ai_score"][ai], 2 / 3, atol=1e-6) and np.isnan(out.extra["ai_score"][~ai]).all()
    assert (tmp_path / "rel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_end_to_end_then_aggregate_the_calibrated_votes(tmp_path):
    votes, _ = overconfident_crowd(n_obs=800, n_users=150, seed=1)
    cio.save_votes(votes, tmp_path / "crowd.parquet")
    # without --truth: the tasks PlantNet validates on the human votes
    res = runner.invoke(app, ["calibrate", str(tmp_path / "crowd.parquet"), "-q"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "crowd_calibrated.parquet"              # the input's format
    ref = calibrate_ai(cio.load_votes(tmp_path / "crowd.parquet"))
    report = json.loads((tmp_path / "crowd_calibrated.calibration.json").read_text())
    assert report["temperature"] == pytest.approx(ref.calibrator.temperature_)
    assert report["trusted_labels"].startswith("the tasks PlantNet validates on the human votes")
    assert report["ai_votes_above_theta_after"] < report["ai_votes_above_theta_before"]
    back = cio.load_votes(out)
    assert np.allclose(back.extra["ai_score"], ref.votes.extra["ai_score"], equal_nan=True)
    res = runner.invoke(app, ["aggregate", str(out), "-s", "PlantNet-AIconfident", "--hard", "-o",
                              str(tmp_path / "labels.csv"), "-q"])
    assert res.exit_code == 0, res.output
    labels, _ = cio.read_labels(tmp_path / "labels.npy", back)
    model = PlantNet(ai="confident").fit(ref.votes)
    assert np.array_equal(labels, np.where(model.valid_, model.labels_, -1))


def test_vector_scaling_and_full_scores_from_the_command_line(tmp_path):
    (tmp_path / "obs.csv").write_text(SMALL)
    (tmp_path / "experts.csv").write_text("task,label\no1,a\no2,b\no3,c\n")
    vec = np.array([[0.9, 0.05, 0.05], [0.9, 0.05, 0.05], [0.05, 0.05, 0.9], [0.05, 0.9, 0.05]])
    np.save(tmp_path / "scores.npy", vec)
    res = runner.invoke(app, ["calibrate", str(tmp_path / "obs.csv"), "-t", str(tmp_path / "experts.csv"),
                              "--scores", str(tmp_path / "scores.npy"), "-o", str(tmp_path / "cal.csv"), "-q"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "cal.calibration.json").read_text())
    assert report["scores"] == "vectors" and report["temperature"] == pytest.approx(math.log(18) / math.log(4),
                                                                                       rel=1e-5)
    res = runner.invoke(app, ["calibrate", str(tmp_path / "obs.csv"), "-t", str(tmp_path / "experts.csv"),
                              "--vector", "-o", str(tmp_path / "vec.tsv"), "-q"])
    assert res.exit_code == 0, res.output
    report = json.loads((tmp_path / "vec.calibration.json").read_text())
    assert report["method"] == "vector" and len(report["scale"]) == 3 and report["classes"] == ["a", "b", "c"]


@pytest.mark.parametrize("extra, truth, expect", [
    (["--ai-worker", "robot"], "task,label\no1,a\n", "no vote by the AI worker 'robot'"),
    ([], "task,label\no9,a\n", "none of the 1 row(s) names a task of the votes"),          # mismatched tasks
    ([], None, "no AI vote is on a task with a trusted label (the tasks PlantNet validates"),  # nothing validated
    (["-o", "x.json"], "task,label\no1,a\n", "must be a vote table"),
    (["--scores", "scores.npy"], "task,label\no1,a\n", "expected (4, 3)"),
])
def test_errors_are_one_line_and_write_nothing(tmp_path, monkeypatch, capsys, extra, truth, expect):
    (tmp_path / "obs.csv").write_text(SMALL)
    np.save(tmp_path / "scores.npy", np.ones((2, 3)) / 3)
    args = ["calibrate", str(tmp_path / "obs.csv"), *[str(tmp_path / a) if a.endswith((".json", ".npy")) else a
                                                       for a in extra]]
    if truth is not None:
        (tmp_path / "t.csv").write_text(truth)
        args += ["-t", str(tmp_path / "t.csv")]
    code, err = cli(monkeypatch, capsys, *args)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Fix:" in lines[0] and expect in lines[0], err
    inputs = ["obs.csv", "scores.npy"] + (["t.csv"] if truth else [])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(inputs)
