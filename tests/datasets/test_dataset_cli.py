"""`crowdwise datasets` (list, info NAME, path NAME) and `crowdwise install`."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from typer.testing import CliRunner

from crowdwise.cli.main import app
from crowdwise.evaluate.benchmark import load_benchmark_data, run_benchmark

runner = CliRunner()


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crowdwise", *args], capture_output=True, text=True, timeout=120)


def test_datasets_lists_the_registry_and_what_is_installed(mirror, cache):
    res = runner.invoke(app, ["datasets", "--plain"])
    assert res.exit_code == 0, res.output
    lines = [line.split("\t") for line in res.output.splitlines()]
    assert lines[0] == ["name", "tasks", "workers", "classes", "votes", "truth", "extra", "licence", "installed",
                        "status"]
    assert len(lines) == 1 + 16 + 6
    assert lines[1] == ["bluebirds", "108", "39", "2", "4212", "108", "", "BSD-style", "no", "tested"]
    assert ["labelme", "1000", "59", "8", "2547", "1000", "features", "not stated", "no", "tested"] in lines
    assert [r[-1] for r in lines[1:]] == ["tested"] * 16 + ["unverified"] * 6
    assert ["plantnet_swe", "6699593", "823251", "11425", "9005108", "26811", "", "not checked", "no",
            "unverified"] in lines
    assert ["relevance-2", "?", "?", "2", "?", "?", "", "not stated", "no", "unverified"] in lines
    runner.invoke(app, ["install", "bluebirds", "-q"])
    res = runner.invoke(app, ["datasets", "--plain"])
    assert res.output.splitlines()[1].endswith("\tyes\ttested")
    table = runner.invoke(app, ["datasets"], terminal_width=200)
    assert table.exit_code == 0 and "zheng_relevance" in table.output and "Apache" in table.output


def test_install_prints_licence_and_citation_then_is_a_no_op(mirror, cache):
    res = runner.invoke(app, ["install", "leaves", "zheng_dog"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert f"leaves: installed in {cache / 'leaves'}" in res.output
    assert "licence: not stated" in res.output and "cite: Zhang, Sheng" in res.output
    assert "cite: Zheng, Li, Li, Shan & Cheng (2017)" in res.output
    n = len(mirror.requests)
    again = runner.invoke(app, ["install", "leaves"], terminal_width=200)
    assert again.exit_code == 0 and "already installed" in again.output and "--force" in again.output
    assert len(mirror.requests) == n
    forced = runner.invoke(app, ["install", "leaves", "--force", "-q"])
    assert forced.exit_code == 0 and forced.output == "" and len(mirror.requests) > n


def test_install_all(mirror, cache):
    res = runner.invoke(app, ["install", "--all", "-q"])
    assert res.exit_code == 0, res.output
    from crowdwise import datasets

    assert datasets.installed() == [d.name for d in datasets.available() if d.status == "tested"]
    assert len(datasets.installed()) == 16


def test_datasets_info_and_path(mirror, cache):
    res = runner.invoke(app, ["datasets", "info", "zheng_face"], terminal_width=300)
    assert res.exit_code == 0, res.output
    assert "584 tasks, 27 workers, 4 classes, 5242 votes" in res.output
    assert ("https://raw.githubusercontent.com/zhydhkcws/crowd_truth_infer/8d216471071f09b9e474ee19f8d692447f982f88/"
            "datasets/s4_Face%20Sentiment%20Identification/answer.csv") in res.output
    assert "9e98c7c56ea1967ca9d3e2396b9abd469e96ee47a52a0103c917397adbb98f9b" in res.output
    assert "not installed (`crowdwise install zheng_face`)" in res.output
    runner.invoke(app, ["install", "zheng_face", "-q"])
    path = runner.invoke(app, ["datasets", "path", "zheng_face"])
    assert path.exit_code == 0 and path.output == f"{cache / 'zheng_face'}\n"
    music = runner.invoke(app, ["datasets", "info", "music_genre"], terminal_width=300)
    assert "(recorded, not downloaded)" in music.output and "features/" in music.output


def test_errors_are_one_line_with_a_fix(mirror, cache):
    for args, expect in ((["install", "bluebrids"], "unknown data set 'bluebrids'. Fix: did you mean 'bluebirds'?"),
                         (["install"], "no data-set name given"),
                         (["datasets", "info", "rtee"], "did you mean 'rte', 'ruters' or 'temp'?"),
                         (["datasets", "path", "temp"], "'temp' is not installed. Fix: run `crowdwise install temp`"),
                         (["datasets", "info"], "needs a data-set name"),
                         (["datasets", "frobnicate"], "unknown action 'frobnicate'")):
        res = cli(*args)
        lines = res.stderr.strip().splitlines()
        assert res.returncode == 2 and len(lines) == 1, (args, res.stderr)
        assert lines[0].startswith("error: ") and expect in lines[0] and "Fix:" in lines[0], (args, lines)
    assert not (cache / "temp").exists()


def test_install_from_a_mirror_without_the_file_is_one_line(serve_dir, cache, tmp_path):
    (tmp_path / "empty").mkdir()
    serve_dir(tmp_path / "empty")
    res = cli("install", "rte")
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and "not found (HTTP 404)" in res.stderr
    assert not (cache / "rte").exists()


def test_benchmark_takes_registered_names_installing_them(mirror, cache, tmp_path):
    from crowdwise import datasets

    runner.invoke(app, ["install", "leaves", "-q"])
    before = sorted(p.relative_to(cache) for p in cache.rglob("*"))
    out = tmp_path / "acc.md"
    res = runner.invoke(app, ["benchmark", "leaves", "bluebirds", "-s", "MV[tie=smallest]", "-q", "-o", str(out)],
                        terminal_width=200)
    assert res.exit_code == 0, res.output
    assert datasets.installed() == ["bluebirds", "leaves"]  # bluebirds installed on first use
    text = out.read_text()
    assert "| leaves |" in text and "| bluebirds |" in text
    # the figures are those of the same folders given as paths; nothing written into the cache
    by_path = runner.invoke(app, ["benchmark", str(cache / "bluebirds"), "-s", "MV[tie=smallest]", "-q"],
                            terminal_width=200)
    assert by_path.exit_code == 0
    runs = pd.read_csv(out.with_suffix(".runs.csv")).set_index("dataset")
    direct = run_benchmark([load_benchmark_data(cache / "bluebirds")], ["MV[tie=smallest]"])
    assert runs.loc["bluebirds", "accuracy"] == pytest.approx(direct.loc[0, "accuracy"])
    assert f"MV[tie=smallest] {runs['accuracy'].mean():.4f}" in " ".join(res.output.split())
    after = sorted(p.relative_to(cache) for p in cache.rglob("*") if not str(p.relative_to(cache)).startswith(
        ("bluebirds", ".lock")))
    assert after == [p for p in before if not str(p).startswith(".lock")]


def test_benchmark_unknown_name_is_one_line(cache):
    res = cli("benchmark", "bluebrids", "-s", "MV", "-q")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr
    assert "is neither a folder nor a registered data-set name" in lines[0] and "bluebirds" in lines[0]


def test_unverified_sets_are_listed_and_refused_in_one_line(cache):
    res = cli("install", "cifar10h")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and res.stdout == "", res.stderr
    assert "'cifar10h' cannot be installed yet" in lines[0] and "no pinned size and SHA-256" in lines[0]
    assert "https://raw.githubusercontent.com/jcpeterson/cifar-10h/" in lines[0] and "Fix:" in lines[0]
    # refused before anything is fetched, also beside an installable name
    both = cli("install", "bluebirds", "plantnet_swe")
    assert both.returncode == 2 and "'plantnet_swe' cannot be installed yet" in both.stderr
    assert "https://zenodo.org/records/10782465/files/plantnet_swe.zip" in both.stderr
    assert not cache.exists() or not any(cache.iterdir())
    info = runner.invoke(app, ["datasets", "info", "relevance-5"], terminal_width=400)
    assert "status: unverified" in info.output
    assert "https://tlk.s3.yandex.net/dataset/crowd-kit/relevance-5.zip" in info.output
    assert "relevance-5.md5" in info.output and "not pinned" in info.output
