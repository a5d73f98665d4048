"""One CLI grammar: shared options spelled the same in every verb, -o a file and --out-dir a
folder, usage errors in the one-line form, old spellings deprecated but working."""

from __future__ import annotations

import collections
import re
import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from crowdwise.cli.main import VERBS, app

runner = CliRunner()


def _options() -> dict[str, dict[str, tuple[str, ...]]]:
    """option name -> {verb: its flags}, hidden (deprecated) options left out."""
    cmd = typer.main.get_command(app)
    out: dict[str, dict[str, tuple[str, ...]]] = collections.defaultdict(dict)
    for verb, sub in cmd.commands.items():
        for p in sub.params:
            if p.param_type_name == "option" and not getattr(p, "hidden", False):
                out[p.name][verb] = tuple(sorted(p.opts + p.secondary_opts))
    return out


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crowdwise", *args], capture_output=True, text=True, timeout=300)


def test_shared_options_are_spelled_the_same_in_every_verb():
    options = _options()
    for name in ("quiet", "seed", "truth", "epochs", "top_k", "out_dir", "duplicates", "strict", "n_classes"):
        spellings = set(options.get(name, {}).values())
        assert len(spellings) <= 1, (name, options[name])
    assert options["quiet"]["aggregate"] == ("--quiet", "-q") and options["truth"]["report"] == ("--truth", "-t")
    # one flag, one meaning: a flag is never two different options (-s: the strategies to run excepted)
    meaning = collections.defaultdict(set)
    for name, verbs in options.items():
        for flags in verbs.values():
            for f in flags:
                meaning[f].add(name)
    clashes = {f: names for f, names in meaning.items() if len(names) > 1 and f != "-s"}
    assert not clashes, clashes


def test_o_is_a_file_and_folders_are_out_dir():
    cmd = typer.main.get_command(app)
    for verb, sub in cmd.commands.items():
        for p in sub.params:
            if p.param_type_name != "option" or getattr(p, "hidden", False):
                continue
            if "-o" in p.opts:
                assert p.name == "output", (verb, p.name)
                assert "folder" not in (p.help or "").split(".")[0].lower(), (verb, p.help)
    for verb in ("simulate", "quickstart", "plot", "train", "aggregate-deep", "identify", "aggregate"):
        assert "out_dir" in {p.name for p in cmd.commands[verb].params}, verb


@pytest.mark.parametrize("verb", [v for v, _ in VERBS])
def test_no_metavar_on_flags(verb):
    res = runner.invoke(app, [verb, "--help"], terminal_width=200)
    assert res.exit_code == 0
    assert "<bool>" not in res.output


def test_usage_errors_are_one_line_with_a_fix():
    for args, expect in ((["aggregate", "x.csv", "--nope"], "No such option: --nope"),
                         (["aggregate", "x.csv", "--seed", "abc"], "'--seed'"),
                         (["frobnicate"], "No such command 'frobnicate'")):
        res = cli(*args)
        assert res.returncode == 2, res
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], res.stderr
        assert "Fix: see `crowdwise" in lines[0]


def test_python_dash_m_crowdwise_is_the_command():
    res = cli("--version")
    assert res.returncode == 0 and re.fullmatch(r"crowdwise \S+\n", res.stdout)


def test_old_o_of_a_folder_verb_works_with_a_deprecation_line(tmp_path):
    res = cli("simulate", "-o", str(tmp_path / "crowd"), "--n-task", "20", "-q")
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("warning: -o/--folder of `crowdwise simulate` is deprecated")
    assert (tmp_path / "crowd" / "answers.json").is_file()
    both = cli("simulate", "-o", str(tmp_path / "a"), "--out-dir", str(tmp_path / "b"), "-q")
    assert both.returncode == 2 and "--out-dir only" in both.stderr


def test_simulate_prints_the_majority_vote_accuracy_aggregate_finds(tmp_path):
    folder = tmp_path / "crowd"
    sim = runner.invoke(app, ["simulate", "--out-dir", str(folder), "--n-task", "300", "--n-worker", "6",
                              "--seed", "7"], terminal_width=200)
    said = float(re.search(r"majority vote accuracy against the truth: ([0-9.]+)", sim.output).group(1))
    agg = runner.invoke(app, ["aggregate", str(folder), "-s", "MV"], terminal_width=200)
    found = float(re.search(r"accuracy against ground_truth.npy: ([0-9.]+)", agg.output).group(1))
    assert said == pytest.approx(found, abs=5e-4)


def test_columns_maps_a_tables_columns_on_the_command_line(tmp_path):
    f = tmp_path / "odd.csv"
    f.write_text("item,annotator,answer\nq1,ann,cat\nq1,bob,cat\nq2,ann,dog\nq2,bob,cat\nq2,cid,dog\n")
    res = runner.invoke(app, ["aggregate", str(f), "-s", "MV", "-o", str(tmp_path / "out.csv"), "-q",
                              "--columns", "task=item,worker=annotator,label=answer"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out.csv").read_text().splitlines()[1:] == ["q1,cat,0,1,0",
                                                                   "q2,dog,1,0.3333333333333333,0.6666666666666666"]
    unmapped = cli("aggregate", str(f), "-o", str(tmp_path / "x.csv"))
    assert unmapped.returncode == 2 and "--columns task=" in unmapped.stderr
    bad = cli("aggregate", str(f), "--columns", "task=item,oops")
    assert bad.returncode == 2 and "'oops' is not ROLE=COLUMN" in bad.stderr
