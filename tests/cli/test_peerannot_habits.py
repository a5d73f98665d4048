"""The peerannot user's habits: its strategy names, its label file names, its options."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from crowdwise.aggregate import ALIASES, DSWC, IWMV, DawidSkene, MajorityVote, available, get_strategy, make_strategy
from crowdwise.cli.main import app
from crowdwise.io import load_votes

runner = CliRunner()

#: peerannot's aggregation strategies (the keys of peerannot.models.agg_strategies, which its
#: CLI lower-cases) and the crowdwise strategy each one is
PEERANNOT = {"mv": "MV", "naivesoft": "NaiveSoft", "ds": "DS", "dswc": "DSWC", "glad": "GLAD", "wds": "WDS",
             "plantnet": "PlantNet", "twothird": "TwoThird", "iterativewawa": "IWMV", "wawa": "WAWA"}


def run(*args: str):
    res = runner.invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res


@pytest.fixture
def folder(tmp_path):
    run("simulate", "--out-dir", str(tmp_path / "crowd"), "--n-task", "60", "--n-worker", "8", "--seed", "1", "-q")
    return tmp_path / "crowd"


@pytest.mark.parametrize("name, ours", sorted(PEERANNOT.items()))
def test_every_peerannot_strategy_name_is_a_crowdwise_strategy(name, ours):
    assert get_strategy(name).name == ours
    assert get_strategy(name.upper()).name == ours


def test_aliases_name_registered_strategies_and_are_not_listed_twice():
    names = {info.name for info in available()}
    assert set(ALIASES.values()) <= names
    assert not set(ALIASES) & {n.lower() for n in names}
    assert type(make_strategy("majority_voting[tie=smallest]")) is MajorityVote
    assert type(make_strategy("dawid_skene")) is DawidSkene and type(make_strategy("IterativeWawa")) is IWMV


def test_aggregate_writes_the_file_names_peerannot_writes(folder):
    # peerannot: labels/labels_{metadata name}_{strategy as typed, lower-cased}.npy (+ "_hard")
    run("aggregate", str(folder), "-s", "dawid_skene", "-q")
    run("aggregate", str(folder), "-s", "DSWC[L=2]", "-q")
    run("aggregate", str(folder), "-s", "MV", "--hard", "-q")
    names = sorted(p.name for p in (folder / "labels").glob("*.npy"))
    assert names == ["labels_crowd_dawid_skene.npy", "labels_crowd_dswc[l=2].npy", "labels_crowd_mv_hard.npy"]
    votes = load_votes(folder)
    np.testing.assert_allclose(np.load(folder / "labels" / "labels_crowd_dawid_skene.npy"),
                               DawidSkene(random_state=0).fit(votes).probas_)
    np.testing.assert_allclose(np.load(folder / "labels" / "labels_crowd_dswc[l=2].npy"),
                               DSWC(L=2, random_state=0).fit(votes).probas_)


def test_answers_file_metadata_path_and_n_classes(folder, tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    answers = json.loads((folder / "answers.json").read_text())
    first = sorted(answers, key=int)[:30]
    (folder / "half.json").write_text(json.dumps({t: answers[t] for t in first}))
    meta = json.loads((folder / "metadata.json").read_text())
    meta["name"] = "renamed"
    (other / "meta.json").write_text(json.dumps(meta))
    run("aggregate", str(folder), "-s", "NaiveSoft", "--answers-file", "half.json", "--metadata_path",
        str(other / "meta.json"), "-K", "4", "-q")
    got = np.load(folder / "labels" / "labels_renamed_naivesoft.npy")
    # the metadata declares 60 tasks (those without a vote in half.json are kept), K = 4 from -K
    assert got.shape == (60, 4)
    half = load_votes(folder / "half.json", n_classes=4)
    np.testing.assert_allclose(got[:30], half.counts().toarray()[:30] / half.counts().toarray()[:30].sum(1, keepdims=True))
    assert np.all(got[30:].sum(axis=1) <= 1.0 + 1e-12)
    run("aggregate", str(folder), "-s", "NaiveSoft", "--metadata-path", str(other / "meta.json"), "-q")
    assert np.load(folder / "labels" / "labels_renamed_naivesoft.npy").shape == (60, meta["n_classes"])


def test_a_missing_answers_file_is_one_clear_error(folder):
    res = subprocess.run([sys.executable, "-m", "crowdwise", "aggregate", str(folder), "--answers-file",
                          "nope.json"], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.startswith("error: ")
    assert "nope.json" in res.stderr and "--answers-file" in res.stderr


def test_peerannot_names_in_agginfo():
    res = run("agginfo", "--plain")
    line = next(l for l in res.stdout.splitlines() if l.startswith("DS\t"))
    assert "dawid_skene" in line
