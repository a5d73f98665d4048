"""`crowdwise.datasets`: install the 16 registered sets from a local mirror of their raw
files and get the team's reference tables byte for byte; the Python API."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from _data import REFERENCE_DIR

import crowdwise.io as cio
from conftest import RAW_MIRROR, require_mirror
from crowdwise import datasets
from crowdwise.errors import InputError

NAMES = [d.name for d in datasets.available() if d.status == "tested"]  # the 16 open sets
SMALL = ["bluebirds", "leaves", "labelme"]  # three formats, features included


def _require_reference() -> None:
    if not all((REFERENCE_DIR / n / "votes.csv").is_file() for n in NAMES):
        pytest.skip(f"reference data sets not found at {REFERENCE_DIR} (../shared/datasets beside the repository)")


def _same_bytes(name: str, folder) -> None:
    for table in ("votes.csv", "truth.csv", *datasets.info(name).extra_tables):
        assert (folder / table).read_bytes() == (REFERENCE_DIR / name / table).read_bytes(), (name, table)
    ref_features = REFERENCE_DIR / name / "features"
    if ref_features.is_dir():
        for f in ref_features.iterdir():
            assert (folder / "features" / f.name).read_bytes() == f.read_bytes(), (name, f.name)


def test_the_registry_holds_the_16_sets_with_every_raw_file_of_the_manifest():
    assert len(NAMES) == 16 and len(set(NAMES)) == 16
    manifest = require_mirror() / "MANIFEST.tsv"
    rows = list(csv.DictReader(manifest.open(encoding="utf-8"), delimiter="\t"))
    assert {r["dataset"] for r in rows} == set(NAMES)
    roles = {"votes+truth": {"votes"}, "names": {"filenames", "class_names"}, "metadata": {"metadata", "crosscheck"}}
    for r in rows:
        entry = datasets.info(r["dataset"])
        match = [f for f in entry.files if (f.repo, f.commit, f.path) == (r["repo"], r["commit"], r["path"])]
        assert match, r
        assert all((f.bytes, f.sha256) == (int(r["bytes"]), r["sha256"]) for f in match), r
        assert {f.role for f in match} & roles.get(r["role"], {r["role"]}), (r, [f.role for f in match])
    for d in datasets.available():  # nothing registered as tested that the manifest does not pin
        if d.status != "tested":
            assert d.name not in NAMES and not d.verified and not all(f.pinned for f in d.files)
            assert d.licence and d.citation and d.conversion and all(f.url.startswith("https://") or d.name == "labelme_images" for f in d.files)  # its host serves http only
            continue
        for f in d.files:
            assert any((f.repo, f.commit, f.path, r["dataset"]) == (r["repo"], r["commit"], r["path"], d.name)
                       for r in rows), (d.name, f.path)
            assert f.url.startswith("https://raw.githubusercontent.com/") and f.commit in f.url
        assert d.licence and d.citation and d.conversion


def test_install_all_16_from_the_mirror_reproduces_the_reference_sets_byte_for_byte(mirror, cache):
    _require_reference()
    paths = datasets.install(NAMES, progress=False)
    assert paths == [cache / n for n in NAMES]
    assert datasets.installed() == NAMES
    for name, folder in zip(NAMES, paths):
        _same_bytes(name, folder)
    # nothing left behind but the sets: no raw download, no temporary folder
    assert sorted(p.name for p in cache.iterdir() if p.name != ".lock") == sorted(NAMES)
    # every request went to the pinned <owner>/<repo>/<commit>/<path>
    assert all(path.count("/") >= 4 for path, _ in mirror.requests)


@pytest.mark.parametrize("name", NAMES)
def test_registered_sizes_are_those_of_the_reference_set(name):
    _require_reference()
    d = datasets.info(name)
    votes = cio.load_votes(REFERENCE_DIR / name / "votes.csv")
    truth = cio.load_truth(REFERENCE_DIR / name / "truth.csv", votes)
    assert (votes.n_tasks, votes.n_workers, votes.n_classes, votes.n_votes) == (
        d.n_tasks, d.n_workers, d.n_classes, d.n_votes)
    assert int((truth >= 0).sum()) == d.n_truth


def test_install_a_few_small_sets_with_a_progress_bar(mirror, cache, capsys):
    _require_reference()
    datasets.install(SMALL, progress=True)
    for name in SMALL:
        _same_bytes(name, cache / name)
        meta = json.loads((cache / name / "metadata.json").read_text())
        assert meta["name"] == name and meta["licence"] == datasets.info(name).licence
        assert {s["sha256"] for s in meta["sources"]} == {f.sha256 for f in datasets.info(name).files}
        assert set(meta["written"]) >= {"votes.csv", "truth.csv"}
    assert (cache / "bluebirds" / "source" / "LICENSE.TXT").is_file()
    assert datasets.path("labelme") == cache / "labelme"


def test_load_installs_on_first_use_and_returns_votes_and_truth(mirror, cache):
    votes, truth = datasets.load("bluebirds")
    assert (votes.n_tasks, votes.n_workers, votes.n_classes, votes.n_votes) == (108, 39, 2, 4212)
    assert truth.shape == (108,) and truth.dtype == np.int64 and (truth >= 0).all()
    assert votes.name == "bluebirds"
    assert datasets.installed() == ["bluebirds"]
    n = len(mirror.requests)
    _, truth2 = datasets.load("bluebirds")  # installed: nothing fetched
    assert len(mirror.requests) == n and np.array_equal(truth, truth2)


def test_load_without_install_missing_says_how_to_install(cache):
    with pytest.raises(InputError, match=r"not installed.*crowdwise install zheng_dog"):
        datasets.load("zheng_dog", install_missing=False)


def test_cache_dir_follows_crowdwise_data_else_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("CROWDWISE_DATA", str(tmp_path / "x"))
    assert datasets.cache_dir() == tmp_path / "x"
    monkeypatch.delenv("CROWDWISE_DATA")
    assert datasets.cache_dir().name == "crowdwise"


def test_mirror_replaces_the_github_prefix(monkeypatch):
    from crowdwise.datasets._install import file_url

    f = datasets.info("zheng_dog").files[0]
    monkeypatch.delenv("CROWDWISE_MIRROR", raising=False)
    assert file_url(f) == f.url
    monkeypatch.setenv("CROWDWISE_MIRROR", "http://mirror.example/raw/")
    assert file_url(f) == ("http://mirror.example/raw/zhydhkcws/crowd_truth_infer/"
                           "8d216471071f09b9e474ee19f8d692447f982f88/datasets/s4_Dog%20data/answer.csv")


def test_raw_mirror_is_where_tests_look():
    assert RAW_MIRROR.name == "raw-mirror"
