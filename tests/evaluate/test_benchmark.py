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


def test_console_marks_strategies_scored_on_their_valid_tasks_only(tmp_path):
    folder, _ = _folder(tmp_path, seed=3)
    res = CliRunner().invoke(app, ["benchmark", str(folder), "-s", "MV,TwoThird"])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())  # rich wraps long lines
    mean = flat[flat.index("mean accuracy over data sets"):]
    assert "TwoThird" in mean and mean.count("(on its valid tasks only)") == 1
    assert mean.index("(on its valid tasks only)") > mean.index("TwoThird") > mean.index("MV")
    assert "% valid)" in flat  # the TwoThird row gives its share of valid tasks


# ----------------------------------------------------------------------------- crowd-kit option
import sys  # noqa: E402

import pytest  # noqa: E402

from crowdwise.errors import InputError  # noqa: E402
from crowdwise.evaluate.benchmark import (CROWDKIT_METHODS, BenchmarkData, _crowdkit_frame,  # noqa: E402
                                          _crowdkit_labels, check_strategies, crowdkit_specs, split_specs)


def test_crowdkit_names_are_parsed_and_checked():
    assert crowdkit_specs("dawidskene, ck:GLAD[n_iter=5, tol=0.1]") == ["ck:DawidSkene", "ck:GLAD[n_iter=5, tol=0.1]"]
    assert crowdkit_specs("all") == ["ck:" + m for m in CROWDKIT_METHODS]
    with pytest.raises(InputError, match="unknown crowd-kit strategy 'Dawid'.*ck:DawidSkene"):
        crowdkit_specs("Dawid")
    assert split_specs("PlantNet[theta_conf=2, theta_acc=0.7],MV") == ["PlantNet[theta_conf=2, theta_acc=0.7]", "MV"]


def test_crowdkit_input_is_exactly_the_votes_and_output_is_aligned():
    v = independent_confusion(30, 5, 3, feedback=3, seed=1).votes
    df = _crowdkit_frame(v)
    assert list(df.columns) == ["task", "worker", "label"]
    for c in ("task", "worker", "label"):
        np.testing.assert_array_equal(df[c].to_numpy(), getattr(v, c))
    # labels by task index, in any order, some missing or NaN -> -1
    lab = _crowdkit_labels(pd.Series([2.0, np.nan, 0.0], index=[3, 1, 0]), 5)
    assert lab.tolist() == [0, -1, -1, 2, -1]


def test_crowdkit_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "crowdkit", None)
    monkeypatch.setitem(sys.modules, "crowdkit.aggregation", None)
    with pytest.raises(InputError, match="crowd-kit is not importable.*separate virtual environment"):
        check_strategies(["MV", "ck:DawidSkene"])
    folder, _ = _folder(tmp_path)
    with pytest.raises(InputError, match="crowd-kit is not importable"):
        CliRunner().invoke(app, ["benchmark", str(folder), "-s", "MV", "--crowdkit", "DawidSkene", "-q"],
                           catch_exceptions=False)


def test_crowdkit_strategies_run_on_the_same_votes(tmp_path):
    pytest.importorskip("crowdkit.aggregation")
    # binary, 5 votes per task: the majority is never tied, so both majority votes must agree exactly
    sim = independent_confusion(150, 10, 2, feedback=5, spammer_fraction=0.2, seed=4)
    data = BenchmarkData("bin", sim.votes, sim.truth)
    runs = run_benchmark([data], ["MV", "ck:MajorityVote", "DS", "ck:DawidSkene", "ck:KOS"], seeds=[0])
    r = runs.set_index("strategy")
    assert r["error"].isna().all(), r["error"].tolist()
    assert r.loc["ck:MajorityVote", "accuracy"] == r.loc["MV", "accuracy"]
    assert abs(r.loc["ck:DawidSkene", "accuracy"] - r.loc["DS", "accuracy"]) <= 0.02
    assert r.loc["ck:DawidSkene", "n_iter"] >= 1 and r.loc["ck:DawidSkene", "time_s"] > 0
    # a method that refuses the data is a row with its reason, not a crash
    multi = independent_confusion(60, 6, 3, feedback=3, seed=2)
    bad = run_benchmark([BenchmarkData("k3", multi.votes, multi.truth)], ["ck:KOS"]).iloc[0]
    assert bad["error"].startswith("crowd-kit:") and np.isnan(bad["accuracy"])
    # the CLI names them ck:<class> in the table
    folder, _ = _folder(tmp_path, k=2)
    res = CliRunner().invoke(app, ["benchmark", str(folder), "-s", "MV", "--crowdkit", "MajorityVote,Wawa", "-q"])
    assert res.exit_code == 0, res.output
    assert "ck:MajorityVote" in res.output and "ck:Wawa" in res.output


# ------------------------------------------------------------------------ --invalid-as-wrong
def _twothird_folder(tmp_path):
    """4 tasks, truth a,a,b,b. TwoThird: t1 (3 votes a) valid a; t2 (a,b) invalid; t3 (b,b,a)
    valid b; t4 (1 vote b) invalid (fewer than 2 votes). MV[tie=smallest]: a, a, b, b."""
    folder = tmp_path / "tt"
    folder.mkdir()
    rows = [("t1", "w1", "a"), ("t1", "w2", "a"), ("t1", "w3", "a"),
            ("t2", "w1", "a"), ("t2", "w2", "b"),
            ("t3", "w1", "b"), ("t3", "w2", "b"), ("t3", "w3", "a"),
            ("t4", "w1", "b")]
    (folder / "votes.csv").write_text("task,worker,label\n" + "".join(f"{t},{w},{l}\n" for t, w, l in rows))
    (folder / "truth.csv").write_text("task,label\nt1,a\nt2,a\nt3,b\nt4,b\n")
    return folder


def test_runner_invalid_as_wrong_hand_computed(tmp_path):
    data = load_benchmark_data(_twothird_folder(tmp_path))
    plain = run_benchmark([data], ["TwoThird", "MV[tie=smallest]"]).set_index("strategy")
    strict = run_benchmark([data], ["TwoThird", "MV[tie=smallest]"], invalid_as_wrong=True).set_index("strategy")
    # TwoThird: 2 valid tasks, both right -> 1.0 on valid tasks, 2/4 with invalid counted wrong
    assert plain.loc["TwoThird", "accuracy"] == 1.0 and plain.loc["TwoThird", "share_valid"] == 0.5
    assert strict.loc["TwoThird", "accuracy"] == 0.5 and strict.loc["TwoThird", "accuracy_valid"] == 1.0
    assert strict.loc["TwoThird", "classes_retrieved"] == 1.0
    # MV labels every task: a, a, b, b -> 4/4 either way
    assert plain.loc["MV[tie=smallest]", "accuracy"] == strict.loc["MV[tie=smallest]", "accuracy"] == 1.0
    md = to_markdown(strict.reset_index(), "crowdwise benchmark tt --invalid-as-wrong", published=None,
                     invalid_as_wrong=True)
    assert "counts as wrong (--invalid-as-wrong)" in md
    assert "| tt | 0.5000 (50%) | **1.0000** |" in md
    assert "Accuracy on the valid tasks alone" in md and "| tt | 1.0000 | 1.0000 |" in md
    assert "Share of the classes of the truth retrieved" in md
    assert "counts as wrong" not in to_markdown(plain.reset_index(), "x", published=None)


def test_cli_benchmark_and_evaluate_invalid_as_wrong(tmp_path):
    folder = _twothird_folder(tmp_path)
    out = tmp_path / "acc.md"
    res = CliRunner().invoke(app, ["benchmark", str(folder), "-s", "TwoThird", "--invalid-as-wrong", "-q",
                                   "-o", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "a task left invalid counts as wrong" in flat and "0.5000 ±" in flat and "1.0000" in flat
    assert "(on its valid tasks only)" not in flat and "TwoThird 0.5000" in flat
    runs = pd.read_csv(out.with_suffix(".runs.csv"))
    assert runs.loc[0, "accuracy"] == 0.5 and runs.loc[0, "accuracy_valid"] == 1.0
    # evaluate: TwoThird's labels written by aggregate, scored both ways
    import json

    labels_csv = tmp_path / "tt_labels.csv"
    agg = CliRunner().invoke(app, ["aggregate", str(folder / "votes.csv"), "-s", "TwoThird", "--hard",
                                   "-o", str(labels_csv), "-q"])
    assert agg.exit_code == 0, agg.output
    hard = next(tmp_path.glob("tt_labels*.csv"))
    plain = CliRunner().invoke(app, ["evaluate", str(hard), "--truth", str(folder / "truth.csv"), "--json"])
    strict = CliRunner().invoke(app, ["evaluate", str(hard), "--truth", str(folder / "truth.csv"), "--json",
                                      "--invalid-as-wrong"])
    p, s = json.loads(plain.output), json.loads(strict.output)
    assert p["accuracy"] == 1.0 and p["share_valid"] == 0.5 and not p["invalid_as_wrong"]
    assert s["accuracy"] == 0.5 and s["accuracy_valid"] == 1.0 and s["invalid_as_wrong"]
    table = CliRunner().invoke(app, ["evaluate", str(hard), "--truth", str(folder / "truth.csv"),
                                     "--invalid-as-wrong"], terminal_width=200)
    assert "accuracy (invalid counted wrong)" in table.output and "accuracy on valid tasks" in table.output
