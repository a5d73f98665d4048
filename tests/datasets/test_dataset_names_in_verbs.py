"""A registered, installed data set works as DATASET in every verb; outputs never go into the cache."""

from __future__ import annotations

import hashlib

import numpy as np
from typer.testing import CliRunner

from crowdwise import datasets
from crowdwise.aggregate import DawidSkene
from crowdwise.cli.main import app
from crowdwise.io import load_votes

runner = CliRunner()


def _tree_digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file() and ".lock" not in p.name:
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def test_a_registered_name_is_a_dataset_and_outputs_go_to_the_current_folder(mirror, tmp_path, monkeypatch):
    datasets.install(["bluebirds"], progress=False)
    cache = datasets.path("bluebirds")
    before = _tree_digest(cache.parent)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    res = runner.invoke(app, ["aggregate", "bluebirds", "-s", "DS"])
    assert res.exit_code == 0, res.output
    got = np.load(work / "labels" / "labels_bluebirds_ds.npy")
    np.testing.assert_allclose(got, DawidSkene(random_state=0).fit(load_votes(cache)).probas_)
    assert "accuracy against truth.csv: 0.8981" in res.output  # accuracy.md's DS figure on bluebirds
    res = runner.invoke(app, ["identify", "BlueBirds", "-s", "entropy", "-q"])
    assert res.exit_code == 0, res.output
    assert (work / "identification" / "entropy.npy").is_file()
    assert _tree_digest(cache.parent) == before  # nothing written into the cache


def test_a_registered_name_not_installed_says_how_to_install_it(cache, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["aggregate", "rte"])
    assert res.exit_code != 0
    assert "crowdwise install rte" in str(res.exception)
