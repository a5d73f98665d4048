"""`crowdwise identify` end to end on a simulated folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crowdwise.io as cio
from crowdwise import identify
from crowdwise.cli.identify import METHODS
from crowdwise.cli.main import app
from crowdwise.aggregate import DawidSkene
from crowdwise.errors import InputError
from _cli import run, runner, simulate_folder

@pytest.fixture(scope="module")
def crowd(tmp_path_factory) -> Path:
    return simulate_folder(tmp_path_factory.mktemp("idsim") / "crowd", n_task=150, n_worker=12, n_classes=3,
                           spammers=0.25, seed=5)


def test_every_score_written_and_equal_to_the_library(crowd, tmp_path):
    out = tmp_path / "ident"
    res = run("identify", str(crowd), "-s", ",".join(METHODS), "--out-dir", str(out))
    votes = cio.load_votes(crowd)
    alpha = identify.krippendorff_alpha(votes)
    assert f"{alpha:.4f}" in res.output and "spam-score" in res.output
    expected = {
        "entropy": (identify.task_entropy(votes), "task"),
        "glad_difficulty": (identify.task_difficulty_glad(votes), "task"),
        "needs_vote": (identify.needs_another_vote(votes, probas=DawidSkene(random_state=0).fit(votes).probas_),
                       "task"),
        "trace": (identify.worker_trace_ds(votes), "worker"),
        "spam_score": (identify.worker_spam_score(votes), "worker"),
        "glad_ability": (identify.worker_ability_glad(votes), "worker"),
        "agreement": (identify.worker_agreement(votes)[0], "worker"),
    }
    for stem, (values, kind) in expected.items():
        np.testing.assert_allclose(np.load(out / f"{stem}.npy"), values, err_msg=stem)
        table = pd.read_csv(out / f"{stem}.csv")
        assert list(table.columns) == [kind, stem, "n_votes"]
        ids = votes.task_ids if kind == "task" else votes.worker_ids
        assert table[kind].tolist() == ids.tolist()
        np.testing.assert_allclose(table[stem].to_numpy(), values, rtol=1e-12, err_msg=stem)
        n = votes.votes_per_task() if kind == "task" else votes.votes_per_worker()
        assert table["n_votes"].tolist() == n.tolist()
    js = json.loads((out / "krippendorff.json").read_text())
    assert js["krippendorff_alpha"] == pytest.approx(alpha)


def test_default_place_and_quiet(crowd):
    res = run("identify", str(crowd), "-s", "entropy", "--quiet")
    assert res.output.strip() == ""
    assert (crowd / "identification" / "entropy.npy").is_file()


def test_drop_spammers_writes_a_clean_copy(crowd, tmp_path):
    votes = cio.load_votes(crowd)
    spam = identify.worker_spam_score(votes)
    threshold = 0.1
    new = tmp_path / "clean"
    run("identify", str(crowd), "--drop-spammers", str(threshold), "--new-dataset", str(new), "-q")
    clean = cio.load_votes(new)
    kept = set(votes.worker_ids[spam >= threshold].tolist())
    assert set(clean.worker_ids.tolist()) == kept and 0 < len(kept) < votes.n_workers
    assert clean.n_votes == int(np.isin(votes.worker_ids[votes.worker], list(kept)).sum())
    assert clean.task_ids.tolist() == votes.task_ids.tolist()  # tasks kept: the truth still matches
    assert (new / "ground_truth.npy").is_file()
    assert cio.load_votes(crowd).equals(votes)  # the input is untouched


def test_min_votes_keeps_the_workers_with_too_few_votes_to_judge(crowd, tmp_path):
    votes = cio.load_votes(crowd)
    spam = identify.worker_spam_score(votes)
    n = np.bincount(votes.worker, minlength=votes.n_workers)
    threshold = 0.1
    limit = int(np.median(n[spam < threshold]))  # some low scorers below the limit, some above
    new = tmp_path / "clean"
    run("identify", str(crowd), "--drop-spammers", str(threshold), "--min-votes", str(limit), "--new-dataset", str(new), "-q")
    dropped = set(votes.worker_ids.tolist()) - set(cio.load_votes(new).worker_ids.tolist())
    want = set(votes.worker_ids[(spam < threshold) & (n >= limit)].tolist())
    assert dropped == want and 0 < len(want) < int((spam < threshold).sum())


@pytest.mark.parametrize("args, match", [
    (["--drop-spammers", "0.1", "--min-votes", "0", "--new-dataset", "x"], "below 1"),
    (["-s", "entropie"], "unknown identification method"),
    (["--drop-spammers", "0.1"], "needs the folder"),
    (["--drop-spammers", "1.5", "--new-dataset", "x"], "outside"),
    (["-s", "entropy", "--new-dataset", "x"], "--drop-spammers"),
])
def test_errors_name_a_fix(crowd, args, match):
    with pytest.raises(InputError, match=match) as err:
        runner.invoke(app, ["identify", str(crowd), *args], catch_exceptions=False)
    assert "Fix:" in str(err.value)


def test_drop_spammers_never_overwrites(crowd, tmp_path):
    with pytest.raises(InputError, match="overwrite the input"):
        runner.invoke(app, ["identify", str(crowd), "--drop-spammers", "0.1", "--new-dataset", str(crowd)],
                      catch_exceptions=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not an empty folder"):
        runner.invoke(app, ["identify", str(crowd), "--drop-spammers", "0.1", "--new-dataset", str(busy)],
                      catch_exceptions=False)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]


def test_without_scores_it_writes_the_default_set(crowd, tmp_path):
    from crowdwise.cli.identify import DEFAULT_METHODS

    out = tmp_path / "scores"
    res = runner.invoke(app, ["identify", str(crowd), "--out-dir", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert set(DEFAULT_METHODS) == {"entropy", "needs-vote", "trace", "spam-score", "agreement", "krippendorff"}
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["entropy.csv", "entropy.npy", "needs_vote.csv", "needs_vote.npy", "trace.csv", "trace.npy", "spam_score.csv",
         "spam_score.npy", "agreement.csv", "agreement.npy", "krippendorff.json"])
    votes = cio.load_votes(crowd)
    np.testing.assert_allclose(np.load(out / "entropy.npy"), identify.task_entropy(votes))


def test_the_old_o_still_works_with_a_deprecation_line(crowd, tmp_path):
    res = subprocess.run([sys.executable, "-m", "crowdwise", "identify", str(crowd), "--drop-spammers", "0.1", "-o",
                          str(tmp_path / "clean"), "-q"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("warning: -o/--output of `crowdwise identify` is deprecated")
    assert "--new-dataset" in res.stderr and (tmp_path / "clean" / "answers.json").is_file()


def test_needs_vote_posterior_shares_and_ds(crowd, tmp_path):
    votes = cio.load_votes(crowd)
    for source, want in (("shares", identify.needs_another_vote(votes)),
                         ("ds", identify.needs_another_vote(votes, probas=DawidSkene(random_state=0).fit(votes).probas_))):
        out = tmp_path / source
        res = runner.invoke(app, ["identify", str(crowd), "-s", "needs-vote", "--needs-vote-posterior", source,
                                  "--out-dir", str(out), "-q"])
        assert res.exit_code == 0, res.output
        np.testing.assert_allclose(np.load(out / "needs_vote.npy"), want)


def test_report_and_identify_give_one_needs_vote_score(crowd):
    from crowdwise.plots.analysis import CrowdAnalysis

    votes = cio.load_votes(crowd)
    analysis = CrowdAnalysis(votes)
    scores = identify.CrowdScores(votes)
    np.testing.assert_allclose(analysis.needs_vote, scores.needs_vote(), rtol=1e-6, atol=1e-12)
    assert analysis.needs_vote_posterior == scores.needs_vote_source == "Dawid-Skene"
