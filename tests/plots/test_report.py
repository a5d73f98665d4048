"""The HTML report: contents equal to the library's results, escaping, self-containment,
and rendering in headless Chromium."""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from crowdwise import Votes, identify
from crowdwise.errors import TooLargeError
from crowdwise.evaluate.benchmark import BenchmarkData, run_benchmark
from crowdwise.plots import CrowdAnalysis, build_report, write_report
from crowdwise.plots.report import report_steps
from crowdwise.simulate import independent_confusion

IMG = re.compile(r'<img data-figure="([^"]+)"[^>]*src="data:image/png;base64,([^"]+)"')


@pytest.fixture(scope="module")
def sim():
    return independent_confusion(200, 12, 3, feedback=5, spammer_fraction=0.25, seed=11)


@pytest.fixture(scope="module")
def page(sim, tmp_path_factory) -> tuple[Path, str]:
    a = CrowdAnalysis(sim.votes, sim.truth, strategies=["MV[tie=smallest]", "WAWA"], seeds=[0, 1])
    steps = []
    out = write_report(tmp_path_factory.mktemp("rep") / "report.html", a, n_doubt=7, dpi=40,
                       progress=lambda done, total, step: steps.append((done, total, step)))
    assert steps[0] == (0, len(report_steps(a)), "summary") and steps[-1][0] == steps[-1][1]
    fits = [s for _, _, s in steps if s.startswith("strategies (")]
    assert fits == ["strategies (1/4, MV[tie=smallest] done)", "strategies (2/4, MV[tie=smallest] done)",
                    "strategies (3/4, WAWA done)", "strategies (4/4, WAWA done)"]
    return out, out.read_text()


def test_summary_holds_the_library_values(sim, page):
    _, text = page
    alpha = identify.krippendorff_alpha(sim.votes)
    assert f'<span id="krippendorff-alpha">{alpha:.4f}</span>' in text
    for what, n in (("tasks", 200), ("workers", 12), ("classes", 3), ("votes", sim.votes.n_votes)):
        assert f"<tr><th>{what}</th><td>{n:,}</td></tr>" in text


def test_figures_are_embedded_png(page):
    _, text = page
    figs = IMG.findall(text)
    assert [name for name, _ in figs] == ["votes-per-task", "votes-per-worker", "entropy", "trace-spam",
                                          "agreement", "glad-ability", "confusions", "strategies"]
    for _, data in figs:
        assert base64.b64decode(data)[:8] == b"\x89PNG\r\n\x1a\n"
    # self-contained: no external reference, no script
    assert not re.search(r'(src|href)="(?!data:)', text) and "<script" not in text and "http" not in text


def test_doubt_table_ranks_by_needs_another_vote(sim, page):
    _, text = page
    a = CrowdAnalysis(sim.votes)
    score = identify.needs_another_vote(sim.votes, probas=a.ds.probas_)
    top = np.argsort(-score, kind="stable")[:7]
    ids = re.findall(r'<td class="task-id">([^<]*)</td>', text)
    assert ids == [str(sim.votes.task_ids[i]) for i in top]
    assert f"{score[top[0]]:.4f}" in text


def test_strategy_table_matches_the_runner(sim, page):
    _, text = page
    runs = run_benchmark([BenchmarkData("x", sim.votes, sim.truth)], ["MV[tie=smallest]", "WAWA"], seeds=[0, 1])
    for strat, grp in runs.groupby("strategy"):
        acc = grp["accuracy"]
        assert f"<td>{html.escape(strat)}</td><td class=\"num\">{acc.mean():.4f} ± {acc.std():.4f}</td>" in text


def test_ids_and_names_from_the_data_are_escaped(tmp_path):
    evil = "<script>alert('x')</script>"
    v = Votes.from_records([evil, evil, evil, "t&2", "t&2"], ["<b>w1</b>", "w\"2", "w3", "<b>w1</b>", "w3"],
                           ["<i>cat</i>", "<i>cat</i>", "dog", "dog", "<i>cat</i>"], name="<h1>set</h1>")
    text = build_report(CrowdAnalysis(v, np.array([0, 1]), strategies=["MV"]), dpi=30)
    assert "<script" not in text and "<b>w1" not in text and "<i>cat" not in text and "<h1>set" not in text
    assert html.escape(evil) in text and "&lt;i&gt;cat&lt;/i&gt;" in text and "t&amp;2" in text
    assert "<title>Crowd report: &lt;h1&gt;set&lt;/h1&gt;</title>" in text


def test_a_figure_that_cannot_be_made_becomes_a_note(sim):
    class NoDS(CrowdAnalysis):
        @property
        def ds(self):
            raise TooLargeError("DS would need 9 GB (memory budget 2 GB)")

    text = build_report(NoDS(sim.votes), dpi=30)
    assert text.count('class="note"') == 2  # trace-spam and confusions
    assert "DS would need 9 GB" in text
    assert "posterior: Laplace-smoothed vote shares" in text  # the doubt table falls back
    assert len(IMG.findall(text)) == 5


def test_write_is_atomic(sim, tmp_path, monkeypatch):
    out = tmp_path / "r.html"
    out.write_text("old")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("crowdwise.plots.report._summary_html", boom)
    with pytest.raises(KeyboardInterrupt):
        write_report(out, CrowdAnalysis(sim.votes))
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["r.html"]


CHECK = """<script>
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  document.body.setAttribute('data-rendered',
    imgs.length + ':' + imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length +
    ':' + imgs.map(function (i) { return i.naturalWidth + 'x' + i.naturalHeight; }).join(','));
});
</script>"""


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_report_renders_with_its_images_in_headless_chromium(page, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run installs it)")
    _, text = page
    n_img = len(IMG.findall(text))
    # the page itself runs no script: the check is added to a copy
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace("</body>", CHECK + "</body>"))
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
           probe.as_uri()]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    m = re.search(r'data-rendered="(\d+):(\d+):([^"]*)"', res.stdout)
    assert m, f"no render marker (exit {res.returncode}): {res.stderr[-500:]}"
    total, ok, sizes = int(m.group(1)), int(m.group(2)), m.group(3).split(",")
    assert total == n_img == 8 and ok == total
    # each image has the pixel size of its PNG (figure inches x dpi)
    for (_, data), size in zip(IMG.findall(text), sizes):
        png = base64.b64decode(data)
        w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert size == f"{w}x{h}"
