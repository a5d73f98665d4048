"""`crowdwise plot`: one PNG per figure, the same figure as the library draws."""

from __future__ import annotations

import pytest

import crowdwise.io as cio
from crowdwise.errors import InputError
from crowdwise.plots import FIGURES, CrowdAnalysis, make_figure, to_png
from _cli import run, runner, simulate_folder
from crowdwise.cli.main import app

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    return simulate_folder(tmp_path_factory.mktemp("plot") / "crowd", n_task=100, n_worker=8, n_classes=3,
                           spammers=0.2, seed=2)


def _size(png: bytes) -> tuple[int, int]:
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_plot_writes_the_named_figures_as_png(crowd, tmp_path):
    out = tmp_path / "figs"
    res = run("plot", str(crowd), "votes-per-task", "confusions", "--out-dir", str(out), "--dpi", "50")
    assert sorted(p.name for p in out.iterdir()) == ["confusions.png", "votes-per-task.png"]
    votes = cio.load_votes(crowd)
    a = CrowdAnalysis(votes)
    for name in ("votes-per-task", "confusions"):
        png = (out / f"{name}.png").read_bytes()
        assert png[:8] == PNG and len(png) > 1000
        fig = make_figure(name, a)
        w, h = fig.get_size_inches() * 50
        assert _size(png) == (round(w), round(h))
        assert png == to_png(fig, dpi=50)  # byte for byte the library's figure
        assert f"{name}.png" in res.output


def test_plot_all_with_truth_includes_strategies(crowd, tmp_path):
    run("plot", str(crowd), "all", "--out-dir", str(tmp_path), "-t", str(crowd / "ground_truth.npy"), "-s", "MV", "-q",
        "--dpi", "30")
    assert sorted(p.stem for p in tmp_path.iterdir()) == sorted(FIGURES)
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("task,worker,label\nt1,a,x\nt1,b,y\nt2,a,x\n")
    run("plot", str(tiny), "all", "--out-dir", str(tmp_path / "nt"), "-q", "--dpi", "20")
    assert sorted(p.stem for p in (tmp_path / "nt").iterdir()) == sorted(set(FIGURES) - {"strategies"})


def test_plot_list_and_errors_name_the_figures(crowd, tmp_path):
    res = run("plot", "--list")
    from crowdwise.plots.thesis import THESIS_FIGURES

    assert [line.split()[0] for line in res.output.strip().splitlines()] == [*FIGURES, *THESIS_FIGURES]
    with pytest.raises(InputError, match="unknown figure 'histo'.*votes-per-task, votes-per-worker, entropy"):
        runner.invoke(app, ["plot", str(crowd), "histo", "--out-dir", str(tmp_path)], catch_exceptions=False)
    with pytest.raises(InputError, match="at least one figure.*trace-spam"):
        runner.invoke(app, ["plot", str(crowd), "--out-dir", str(tmp_path)], catch_exceptions=False)
    import shutil

    bare = tmp_path.parent / (tmp_path.name + "-bare")  # the crowd without its ground_truth.npy
    bare.mkdir()
    for name in ("answers.json", "metadata.json"):
        shutil.copy(crowd / name, bare / name)
    with pytest.raises(InputError, match="--truth"):
        runner.invoke(app, ["plot", str(bare), "strategies", "--out-dir", str(tmp_path)], catch_exceptions=False)
    assert list(tmp_path.iterdir()) == []
    # with the folder's own ground_truth.npy, 'strategies' needs no --truth
    run("plot", str(crowd), "strategies", "--out-dir", str(tmp_path / "auto"), "-s", "MV", "-q", "--dpi", "20")
    assert [p.name for p in (tmp_path / "auto").iterdir()] == ["strategies.png"]
