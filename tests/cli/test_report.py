"""`crowdwise report` end to end: the page, its values, progress and errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

import crowdwise.io as cio
from crowdwise import identify
from crowdwise.errors import InputError
from crowdwise.evaluate.benchmark import load_benchmark_data, run_benchmark
from _cli import run, runner, simulate_folder
from crowdwise.cli.main import app
from crowdwise.plots import DEFAULT_STRATEGIES


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    return simulate_folder(tmp_path_factory.mktemp("rep") / "crowd", n_task=120, n_worker=10, n_classes=3,
                           spammers=0.2, seed=4)


def test_report_with_truth_writes_the_page(crowd, tmp_path):
    out = tmp_path / "sub" / "report.html"
    # no -s: the default strategies, the fast ones
    res = run("report", str(crowd), "--truth", str(crowd / "ground_truth.npy"), "-o", str(out), "--dpi", "30")
    text = out.read_text()
    votes = cio.load_votes(crowd)
    alpha = identify.krippendorff_alpha(votes)
    assert f'<span id="krippendorff-alpha">{alpha:.4f}</span>' in text
    assert f"{alpha:.4f}" in res.output and f"wrote {out}" in res.output
    assert len(re.findall(r'<img data-figure="', text)) == 8
    names = re.findall(r'<tr><td>([^<]+)</td><td class="num">', text)
    assert names == list(DEFAULT_STRATEGIES) == ["MV", "WAWA", "OneCoinDS", "DS"]
    runs = run_benchmark([load_benchmark_data(crowd)], DEFAULT_STRATEGIES)
    for _, r in runs.iterrows():
        assert f"<td>{r['strategy']}</td><td class=\"num\">{r['accuracy']:.4f}</td>" in text


def _without_truth(folder, tmp_path):
    """A copy of the peerannot folder without its ground_truth.npy."""
    import shutil

    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("answers.json", "metadata.json"):
        shutil.copy(folder / name, bare / name)
    return bare


def test_report_uses_the_folder_truth_when_no_truth_is_given(crowd, tmp_path):
    out = tmp_path / "auto.html"
    run("report", str(crowd), "-o", str(out), "-s", "MV", "--quiet", "--dpi", "30")
    text = out.read_text()
    assert "Strategies compared" in text and 'data-figure="strategies"' in text


def test_report_without_truth_has_no_comparison_and_quiet_prints_nothing(crowd, tmp_path):
    out = tmp_path / "r.html"
    res = run("report", str(_without_truth(crowd, tmp_path)), "-o", str(out), "--quiet", "--top", "3", "--dpi", "30")
    assert res.output == ""
    text = out.read_text()
    assert "Strategies compared" not in text and 'data-figure="strategies"' not in text
    assert len(re.findall(r'<td class="task-id">', text)) == 3


def test_report_errors_are_clear(crowd, tmp_path):
    with pytest.raises(InputError, match="unknown strategy 'Nope'"):
        runner.invoke(app, ["report", str(crowd), "-t", str(crowd / "ground_truth.npy"), "-s", "MV,Nope",
                            "-o", str(tmp_path / "r.html")], catch_exceptions=False)
    with pytest.raises(InputError, match="file not found"):
        runner.invoke(app, ["report", str(crowd), "-t", str(tmp_path / "none.npy"), "-o", str(tmp_path / "r.html")],
                      catch_exceptions=False)
    res = runner.invoke(app, ["report", str(crowd), "-o", str(tmp_path)])
    assert res.exit_code == 2 and "directory" in res.output
    assert not (tmp_path / "r.html").exists()


def test_report_escapes_ids_from_a_vote_table(tmp_path):
    table = tmp_path / "votes.csv"
    table.write_text('task,worker,label\n"<script>x</script>",w1,a\n"<script>x</script>",w2,b\nt2,w1,a\nt2,w2,a\n')
    out = tmp_path / "r.html"
    run("report", str(table), "-o", str(out), "-q", "--dpi", "30")
    text = out.read_text()
    assert "<script" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    np.testing.assert_equal(len(re.findall(r'<td class="task-id">', text)), 2)
