"""The benchmark runner: values against a direct computation, seeds, errors, Markdown, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from crowdwise.aggregate import MajorityVote
from crowdwise.cli.main import app
from crowdwise.evaluate.benchmark import load_benchmark_data, run_benchmark, summary_table, to_markdown
from crowdwise.simulate import independent_confusion, write_simulation


def _folder(tmp_path, k=3, seed=0, name="sim"):
    sim = independent_confusion(200, 12, k, feedback=3, spammer_fraction=0.3, seed=seed)
    return write_simulation(sim, tmp_path / name)["answers"].parent, sim


def test_runner_matches_direct_computation_and_seeds(tmp_path):
    folder, sim = _folder(tmp_path)
    data = load_benchmark_data(folder)
    np.testing.assert_array_equal(data.truth, sim.truth)
    runs = run_benchmark([data], ["MV", "MV[tie=smallest]"], seeds=[0, 1, 2])
    assert len(runs) == 6
    for seed in range(3):
        acc = np.mean(MajorityVote(random_state=seed).fit(sim.votes).labels_ == sim.truth)
        row = runs[(runs.strategy == "MV") & (runs.seed == seed)].iloc[0]
        assert row["accuracy"] == acc and row["time_s"] >= 0 and row["peak_mb"] > 0
    s = summary_table(runs).set_index("strategy")
    # random ties vary with the seed (3 votes, 3 classes: ties happen), smallest does not
    assert s.loc["MV[tie=smallest]", "accuracy_sd"] == 0
    assert s.loc["MV", "accuracy_sd"] > 0


def test_strategy_that_cannot_run_is_reported_not_crashed(tmp_path):
    folder, _ = _folder(tmp_path, k=4)
    runs = run_benchmark([load_benchmark_data(folder)], ["DS[memory_budget=1]", "MV"])
    bad = runs[runs.strategy == "DS[memory_budget=1]"].iloc[0]
    assert "memory budget" in bad["error"] and np.isnan(bad["accuracy"])
    md = to_markdown(runs, "crowdwise benchmark x")
    assert "| sim | n/a |" in md and "DS[memory_budget=1] on sim" in md
    assert md.startswith("Produced by `crowdwise benchmark x`")


def test_cli_writes_markdown_and_runs(tmp_path):
    a, _ = _folder(tmp_path, seed=1, name="a")
    b, _ = _folder(tmp_path, seed=2, name="b")
    out = tmp_path / "acc.md"
    res = CliRunner().invoke(app, ["benchmark", str(a), str(b), "-s", "MV,WAWA", "--seeds", "2", "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "| a |" in text and "| b |" in text and "**mean**" in text
    runs = pd.read_csv(out.with_suffix(".runs.csv"))
    assert len(runs) == 2 * 2 * 2
