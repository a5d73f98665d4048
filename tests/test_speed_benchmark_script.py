"""The bookkeeping of benchmarks/speed.py (run by hand, never timed here): combining
repeated runs and deciding what ``--resume`` reuses."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "speed.py"


@pytest.fixture(scope="module")
def speed():
    spec = importlib.util.spec_from_file_location("speed_benchmark", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(fit_s, peak=100.0, status="ok"):
    return {"status": status, "fit_s": fit_s, "accuracy": 0.9, "peak_mb": peak, "fit_mb": peak / 2}


def test_repeated_runs_keep_the_least_or_median_time_and_the_largest_memory(speed):
    runs = [run(3.0, 110), run(1.0, 120), run(2.0, 100), run(4.0, 90)]
    assert speed.combine_runs(runs)["fit_s"] == 1.0  # the least time by default
    out = speed.combine_runs(runs, stat="median")
    assert out["fit_s"] == 2.0  # the lower median of 1, 2, 3, 4
    assert out["fit_s_runs"] == [3.0, 1.0, 2.0, 4.0] and out["peak_mb"] == 120 and out["fit_mb"] == 60
    assert out["n_runs"] == 4 and speed.runs_held(out) == 4
    assert speed.runs_held(speed.combine_runs([run(1.0)])) == 1


def test_resume_runs_an_interrupted_repeat_again(speed):
    partial = speed.combine_runs([run(1.0), run(2.0)])  # interrupted after 2 of 5
    assert not speed.reusable(partial, 5) and speed.reusable(partial, 2) and speed.reusable(partial, 1)
    # results saved before n_runs existed: counted from their fit times and failures
    old = {"status": "ok", "fit_s": 1.0, "fit_s_runs": [1.0, 1.1, 0.9], "failed_runs": 2}
    assert speed.runs_held(old) == 5 and speed.reusable(old, 5)
    assert speed.runs_held({"status": "ok", "fit_s": 1.0}) == 1
    # a timeout is never launched again
    assert speed.reusable({"status": "timeout"}, 5)
