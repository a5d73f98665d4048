"""The command line as a user runs it: simulate -> aggregate -> evaluate, agginfo, quickstart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crowdwise.io as cio
from crowdwise.aggregate import make_strategy
from crowdwise.evaluate import evaluate_labels
from _cli import run, simulate_folder

@pytest.fixture(scope="module")
def simulated(tmp_path_factory) -> Path:
    return simulate_folder(tmp_path_factory.mktemp("sim") / "crowd", n_task=300, n_worker=20, n_classes=4,
                           spammers=0.2, seed=3)


def test_help_lists_the_verbs():
    out = run("--help").output
    for verb in ("quickstart", "simulate", "aggregate", "agginfo", "evaluate"):
        assert verb in out


def test_agginfo_lists_every_strategy_with_a_line():
    lines = run("agginfo", "--plain").output.strip().splitlines()
    names = [ln.split("\t")[0] for ln in lines]
    for n in ("MV", "NaiveSoft", "WAWA", "TwoThird", "PlantNet"):
        assert n in names
    assert all(len(ln.split("\t")[1]) > 10 for ln in lines)


@pytest.mark.parametrize("spec, soft", [("MV", False), ("NaiveSoft", True), ("WAWA", True), ("TwoThird", False)])
def test_aggregate_folder_writes_peerannot_npy_and_csv(simulated, spec, soft):
    run("aggregate", str(simulated), "-s", spec, "--quiet")
    stem = f"labels_crowd_{spec.lower()}"
    npy = np.load(simulated / "labels" / f"{stem}.npy")
    votes = cio.load_votes(simulated)
    model = make_strategy(spec, random_state=0).fit(votes)
    if soft:
        assert npy.shape == (votes.n_tasks, votes.n_classes)
        np.testing.assert_allclose(npy, model.probas_)
    else:
        expected = model.labels_.copy()
        if hasattr(model, "valid_"):
            expected[~model.valid_] = -1
        np.testing.assert_array_equal(npy, expected)
    table = pd.read_csv(simulated / "labels" / f"{stem}.csv")
    assert table["task"].tolist() == votes.task_ids.tolist()
    assert table["label"].tolist() == votes.classes[model.labels_].tolist()


def test_aggregate_strategy_options_and_output_path(tmp_path):
    simulated = simulate_folder(tmp_path / "data" / "crowd", n_task=300, n_worker=20, n_classes=4,
                                spammers=0.2, seed=3)
    tmp_path = tmp_path / "out"
    out = tmp_path / "twothird.csv"
    run("aggregate", str(simulated), "-s", "TwoThird[threshold=0.8]", "-o", str(out), "--quiet")
    votes = cio.load_votes(simulated)
    model = make_strategy("TwoThird[threshold=0.8]", random_state=0).fit(votes)
    table = pd.read_csv(out)
    np.testing.assert_array_equal(table["valid"].to_numpy(), model.valid_)
    # -o alone writes nothing into the data-set folder: the .npy lies beside the table
    assert not (simulated / "labels").exists()
    expected = model.labels_.copy()
    expected[~model.valid_] = -1
    np.testing.assert_array_equal(np.load(tmp_path / "twothird.npy"), expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["twothird.csv", "twothird.npy"]
    # with --out-dir as well, the .npy keeps peerannot's name in that folder
    other = tmp_path / "npy"
    run("aggregate", str(simulated), "-s", "TwoThird[threshold=0.8]", "-o", str(tmp_path / "t2.parquet"),
        "--out-dir", str(other), "--quiet")
    assert sorted(p.name for p in other.iterdir()) == ["labels_crowd_twothird[threshold=0.8].npy"]
    assert (tmp_path / "t2.parquet").exists() and not (simulated / "labels").exists()


def test_evaluate_prints_accuracy_of_the_labels(simulated):
    run("aggregate", str(simulated), "-s", "MV", "--quiet")
    npy = simulated / "labels" / "labels_crowd_mv.npy"
    res = run("evaluate", str(npy), "--truth", str(simulated / "ground_truth.npy"), "--json")
    scores = json.loads(res.output)
    truth = np.load(simulated / "ground_truth.npy")
    expected = evaluate_labels(np.load(npy), truth).accuracy
    assert scores["accuracy"] == pytest.approx(expected)
    assert 0.5 < scores["accuracy"] <= 1.0


def test_evaluate_csv_against_truth_csv(simulated, tmp_path):
    run("aggregate", str(simulated), "-s", "MV", "--quiet")
    votes = cio.load_votes(simulated)
    truth = np.load(simulated / "ground_truth.npy")
    tfile = tmp_path / "truth.csv"
    pd.DataFrame({"task": votes.task_ids, "label": votes.classes[truth]}).to_csv(tfile, index=False)
    res = run("evaluate", str(simulated / "labels" / "labels_crowd_mv.csv"), "--truth", str(tfile), "--json")
    lab = make_strategy("MV", random_state=0).fit(votes).labels_
    assert json.loads(res.output)["accuracy"] == pytest.approx(np.mean(lab == truth))


def test_aggregate_a_csv_votes_file(tmp_path):
    f = tmp_path / "votes.csv"
    f.write_text("task,worker,label\nq1,ann,cat\nq1,bob,cat\nq1,cy,dog\nq2,ann,dog\n")
    run("aggregate", str(f), "-s", "MV", "--quiet")
    table = pd.read_csv(tmp_path / "labels" / "labels_votes_mv.csv")
    assert dict(zip(table["task"], table["label"])) == {"q1": "cat", "q2": "dog"}


def _cli(*args: str) -> subprocess.CompletedProcess:
    """``crowdwise ARGS`` in a new process: for what only a real process shows (its stderr
    at exit, a pipe for stderr, fresh imports)."""
    return subprocess.run([sys.executable, "-m", "crowdwise.cli.main", *args], capture_output=True, text=True)


@pytest.fixture
def main_cli(monkeypatch, capfd):
    """``crowdwise ARGS`` in this process through ``main()``, the console entry point (its
    one-line errors and exit codes, unlike CliRunner on ``app``); returns ``(exit code,
    stdout, stderr)`` captured at the file-descriptor level, as a subprocess pipe would.
    The signal handlers and ``warnings.showwarning`` that ``main()`` installs are restored."""
    import signal
    import warnings

    from crowdwise.cli.main import main

    signals = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
    handlers = {s: signal.getsignal(s) for s in signals}
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)

    def invoke(*args: str) -> tuple[int, str, str]:
        capfd.readouterr()
        monkeypatch.setattr(sys, "argv", ["crowdwise", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capfd.readouterr()
        return code, out, err

    yield invoke
    for s, h in handlers.items():
        signal.signal(s, h)


def test_bad_input_is_one_clear_line_not_a_traceback(tmp_path, main_cli):
    # (in this process: an exception main() let through would fail the test with its traceback;
    # test_strict.py sees the same error line from a real process)
    f = tmp_path / "votes.csv"
    f.write_text("task,worker,label\nq1,ann,cat\n")
    code, _, err = main_cli("aggregate", str(f), "-s", "NoSuchMethod", "--quiet")
    assert code == 2
    assert "unknown strategy 'NoSuchMethod'" in err and "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    code, _, err = main_cli("aggregate", str(empty), "-s", "MV", "--quiet")
    assert code == 2 and "empty.csv" in err and "Traceback" not in err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "labels" / "labels_empty_mv.npy").exists()


def test_progress_leaves_nothing_on_a_stderr_that_is_not_a_terminal(simulated, tmp_path):
    # a log file or a pipe: no bar and no blank lines left behind; results still on stdout
    res = _cli("aggregate", str(simulated), "-s", "DS", "--out-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert "wrote" in res.stdout and (tmp_path / "labels_crowd_ds.npy").is_file()


def test_quickstart_prints_accuracies_that_beat_chance():
    res = run("quickstart", "--n-task", "400", "--n-worker", "20", "--strategies", "MV,WAWA,TwoThird")
    rows = [ln for ln in res.output.splitlines() if ln.strip().startswith(("│ MV", "│ WAWA", "│ TwoThird"))]
    assert len(rows) == 3
    accs = [float(r.split("│")[2]) for r in rows]
    assert all(0.4 < a <= 1 for a in accs)  # 5 classes: chance is 0.2


def test_quickstart_takes_specs_with_commas_inside_brackets():
    res = run("quickstart", "--n-task", "200", "--n-worker", "20", "-s", "MV,PlantNet[theta_conf=2, theta_acc=0.7]")
    rows = [ln.split("│") for ln in res.output.splitlines() if ln.strip().startswith("│")]
    assert [r[1].strip() for r in rows if r[2].strip()] == ["MV", "PlantNet[theta_conf=2,"], res.output
    assert 0 < float(rows[1][4].strip().rstrip("%")) < 100  # PlantNet's validity rule ran: some tasks invalid


def test_aggregate_out_dir_and_truth_csv_detected(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "votes.csv").write_text("task,worker,label\nq1,ann,cat\nq1,bob,cat\nq1,cy,dog\nq2,ann,dog\nq2,cy,dog\n")
    (data / "truth.csv").write_text("task,label\nq1,cat\nq2,cat\n")
    out = tmp_path / "out"
    res = run("aggregate", str(data), "-s", "MV", "--out-dir", str(out))
    assert (out / "labels_data_mv.npy").exists() and not (data / "labels").exists()
    assert "accuracy against truth.csv: 0.5000 on 2 tasks" in res.output.replace("\n", " ")


def test_aggregate_with_a_bad_truth_writes_no_labels(tmp_path):
    from _cli import runner
    from crowdwise.cli.main import app
    from crowdwise.errors import InputError

    f = tmp_path / "votes.csv"
    f.write_text("task,worker,label\nq1,ann,cat\nq1,bob,cat\nq2,ann,dog\n")
    (tmp_path / "truth.csv").write_text("task,label\nq1,owl\n")  # not a class of the votes
    res = runner.invoke(app, ["aggregate", str(f), "--out-dir", str(tmp_path / "out")])
    assert isinstance(res.exception, InputError) and "'owl'" in str(res.exception), res.output
    assert not (tmp_path / "out").exists()  # exit 2 used to come after the labels were written


def test_fit_with_progress_reports_each_em_iteration():
    from crowdwise.aggregate import DawidSkene
    from crowdwise.cli import _common
    from crowdwise.simulate import independent_confusion

    sim_votes = independent_confusion(200, 10, 3, feedback=4, seed=0).votes
    seen = []

    class Recorder:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def add_task(self, *a, **k):
            return 0

        def update(self, tid, completed, total, info):
            seen.append((completed, total))

    import rich.progress

    original = rich.progress.Progress
    rich.progress.Progress = Recorder
    try:
        model = _common.fit_with_progress(DawidSkene(max_iter=30), sim_votes, "DS")
    finally:
        rich.progress.Progress = original
    assert [c for c, _ in seen] == list(range(1, model.n_iter_ + 1))
    assert all(t == 30 for _, t in seen)
    assert "_progress_callback" not in vars(model)


def test_version():
    from crowdwise import __version__

    assert run("--version").output.strip() == f"crowdwise {__version__}"


def test_an_output_folder_that_is_a_file_is_one_clear_line(tmp_path, main_cli):
    f = tmp_path / "votes.csv"
    f.write_text("task,worker,label\nq1,ann,cat\nq1,bob,cat\n")
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    for args in (("aggregate", str(f), "--out-dir", str(blocker)),
                 ("identify", str(f), "-s", "entropy", "--out-dir", str(blocker / "scores")),
                 ("simulate", "--out-dir", str(blocker / "crowd"))):
        code, _, err = main_cli(*args, "--quiet")
        assert code == 2 and "Traceback" not in err, err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert "taken is a file" in err or "it is a file" in err
    assert blocker.read_text() == "x"


@pytest.mark.parametrize("verb", [("aggregate", "-s", "DS"), ("aggregate", "-s", "GLAD"), ("identify", "-s", "trace"),
                                  ("report", "-o", "r.html"), ("plot", "all", "--out-dir", "figs")])
def test_a_data_set_without_any_vote_is_one_clear_error(tmp_path, verb):
    from _cli import runner
    from crowdwise.cli.main import app
    from crowdwise.errors import InputError

    f = tmp_path / "votes.csv"
    f.write_text("task,worker,label\n")  # the header alone: zero votes (DS divided by K = 0)
    args = [verb[0], str(f), *verb[1:]]
    args = [str(tmp_path / a) if a in ("r.html", "figs") else a for a in args]
    res = runner.invoke(app, [*args, "--quiet"] if verb[0] != "plot" else [*args, "-q"])
    assert isinstance(res.exception, InputError), res.output
    assert "votes.csv: holds no vote" in str(res.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["votes.csv"]  # nothing written


def test_plot_and_benchmark_refuse_zero_seeds_and_bad_dpi(simulated, tmp_path):
    from _cli import runner
    from crowdwise.cli.main import app
    from crowdwise.errors import InputError

    for args, match in ((["plot", str(simulated), "entropy", "--dpi", "0", "--out-dir", str(tmp_path / "f")], "--dpi"),
                        (["plot", str(simulated), "strategies", "--seeds", "0", "--out-dir", str(tmp_path / "f")], "--seeds"),
                        (["benchmark", str(simulated), "-s", "MV", "--seeds", "0", "-q"], "--seeds")):
        res = runner.invoke(app, args)
        assert isinstance(res.exception, InputError) and match in str(res.exception), res.output
    assert not (tmp_path / "f").exists()


def test_evaluate_npy_in_a_labels_folder_without_votes_above(tmp_path):
    # aggregate-deep -o OUT writes OUT/labels/labels_<data>_<strategy>.npy, and OUT holds no votes
    from _cli import runner
    from crowdwise.cli.main import app
    from crowdwise.errors import InputError

    (tmp_path / "out" / "labels").mkdir(parents=True)
    npy = tmp_path / "out" / "labels" / "labels_x_crowdlayer.npy"
    np.save(npy, np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]))
    np.save(tmp_path / "truth.npy", np.array([0, 1, 1]))
    (tmp_path / "truth.csv").write_text("task,label\n0,0\n")
    res = run("evaluate", str(npy), "--truth", str(tmp_path / "truth.npy"), "--json")
    assert json.loads(res.output)["accuracy"] == pytest.approx(2 / 3)  # was: "no answers.json in .../out"
    res = runner.invoke(app, ["evaluate", str(npy), "--truth", str(tmp_path / "truth.csv")])
    assert isinstance(res.exception, InputError) and "pass --dataset DATASET" in str(res.exception)


def test_help_and_import_do_not_load_pandas_or_scipy():
    # `crowdwise --help` used to take 1.2 s importing pandas; `import crowdwise` is light too
    import subprocess
    import sys

    code = ("import sys, crowdwise\n"
            "from typer.testing import CliRunner\n"
            "from crowdwise.cli.main import app\n"
            "out = CliRunner().invoke(app, ['--help'])\n"
            "assert out.exit_code == 0 and 'aggregate' in out.output, out.output\n"
            "print(sorted(m for m in ('pandas', 'scipy', 'crowdwise.aggregate', 'crowdwise.votes') if m in sys.modules))\n"
            "v = crowdwise.Votes.from_records(['t'], ['w'], [0])\n"
            "print(v.n_votes, crowdwise.aggregate.MajorityVote().fit(v).labels_.tolist())\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.splitlines() == ["[]", "1 [0]"]


def test_agginfo_name_lists_parameters_defaults_and_accepted_values():
    lines = run("agginfo", "DS", "--plain").output.strip().splitlines()
    assert lines[0].startswith("DS\t")
    rows = {ln.split("\t")[0]: ln.split("\t")[1:] for ln in lines[1:]}
    assert rows["max_iter"] == ["100", "an integer >= 1"]
    assert rows["tie"][1] == "'random' or 'smallest'"
