"""Faults of the installer: each is one InputError with a fix, and the cache keeps the sets
it had (none listed as installed that is incomplete)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import copy_set_files, require_mirror, serve
from crowdwise import datasets
from crowdwise.datasets import _install
from crowdwise.errors import InputError


def _listing(cache):
    """Everything in the cache but the resumable partial downloads."""
    if not cache.exists():
        return []
    return sorted(str(p.relative_to(cache)) for p in cache.rglob("*")
                  if not p.name.endswith(".part") and p.name not in (".downloads", ".lock"))


def test_unknown_name_suggests_the_closest(cache):
    with pytest.raises(InputError, match=r"unknown data set 'zheng_dgo'.*did you mean 'zheng_dog'"):
        datasets.install("zheng_dgo")
    with pytest.raises(InputError, match=r"did you mean 'zheng_relevance', 'web_relevance' or 'relevance-2'\?"):
        datasets.info("relevance")
    with pytest.raises(InputError, match="unknown data set 'cifar-10h'.*did you mean 'cifar10h'.*lists the 22"):
        datasets.load("cifar-10h")
    # registered but unverified (no pinned checksum): refused before anything is fetched
    with pytest.raises(InputError, match="'cifar10h' cannot be installed yet"):
        datasets.load("cifar10h")
    assert not cache.exists()


def test_an_unknown_name_among_known_ones_installs_nothing(mirror, cache):
    with pytest.raises(InputError, match="'bluebird'"):
        datasets.install(["leaves", "bluebird"])
    assert mirror.requests == [] and datasets.installed() == []


def test_checksum_mismatch_from_a_tampered_mirror(serve_dir, cache, tmp_path):
    files = copy_set_files("bluebirds", tmp_path / "tampered")
    labels = files["demo/bluebirds/labels.yaml"]
    data = bytearray(labels.read_bytes())
    data[100:105] = b"false" if data[100:105] != b"false" else b"true,"
    labels.write_bytes(bytes(data))  # same size, other bytes
    serve_dir(tmp_path / "tampered")
    with pytest.raises(InputError, match=r"labels\.yaml: checksum mismatch.*Fix: .*CROWDWISE_MIRROR"):
        datasets.install("bluebirds")
    assert datasets.installed() == [] and not (cache / "bluebirds").exists()
    assert _listing(cache) == []  # the bad file is not kept


def test_a_longer_file_is_a_checksum_mismatch(serve_dir, cache, tmp_path):
    files = copy_set_files("leaves", tmp_path / "m")
    f = files["data/leaves/leaves.gold.txt"]
    f.write_bytes(f.read_bytes() + b"999\t1\n")
    serve_dir(tmp_path / "m")
    with pytest.raises(InputError, match="checksum mismatch"):
        datasets.install("leaves")
    assert datasets.installed() == [] and _listing(cache) == []


def test_404_names_the_url_and_the_mirror(serve_dir, cache, tmp_path):
    (tmp_path / "empty").mkdir()
    server = serve_dir(tmp_path / "empty")
    with pytest.raises(InputError) as err:
        datasets.install("zheng_face")
    msg = str(err.value)
    assert "not found (HTTP 404)" in msg and server.base_url in msg and "s4_Face%20Sentiment" in msg
    assert "Fix: the mirror does not hold this file" in msg
    assert datasets.installed() == [] and _listing(cache) == []


def test_no_network(cache, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CROWDWISE_MIRROR", f"http://127.0.0.1:{port}")
    with pytest.raises(InputError, match=r"cannot reach the server.*Fix: check the network"):
        datasets.install("leaves")
    assert datasets.installed() == [] and _listing(cache) == []


def test_truncated_file_on_the_server(serve_dir, cache, tmp_path):
    files = copy_set_files("leaves", tmp_path / "m")
    f = files["data/leaves/leaves.response.txt"]
    f.write_bytes(f.read_bytes()[:1000])
    serve_dir(tmp_path / "m")
    with pytest.raises(InputError, match=r"truncated download: 1000 of 31702 bytes.*Fix: run the same command"):
        datasets.install("leaves")
    assert datasets.installed() == [] and _listing(cache) == []


def test_a_dropped_connection_resumes_with_a_range_request(serve_dir, cache, tmp_path):
    mirror = require_mirror()
    path = "data/leaves/leaves.response.txt"
    with serve(mirror, cut={"leaves.response.txt": 5000}) as broken:
        os.environ["CROWDWISE_MIRROR"] = broken.base_url
        with pytest.raises(InputError, match=r"(interrupted|truncated).*run the same command again"):
            datasets.install("leaves")
    assert datasets.installed() == [] and _listing(cache) == []
    parts = list((cache / ".downloads").glob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size == 5000
    good = serve_dir(mirror, ranges=True)
    datasets.install("leaves")
    assert ("/JunjieChiang/Label-Aggregation/d153fa4c651d3f4e495a0d5f8929de7af1128608/" + path,
            "bytes=5000-") in good.requests
    assert datasets.installed() == ["leaves"]
    assert sorted(p.name for p in cache.iterdir() if p.name != ".lock") == ["leaves"]  # downloads removed once installed


def test_a_server_without_ranges_restarts_the_download(mirror, cache):
    info = datasets.info("leaves")
    downloads = cache / ".downloads"
    downloads.mkdir(parents=True)
    (downloads / f"{info.files[0].sha256}.part").write_bytes(b"garbage that is not the file")
    datasets.install("leaves")  # SimpleHTTPRequestHandler ignores Range: a 200 restarts the file
    assert datasets.installed() == ["leaves"]
    assert not downloads.exists()


def test_an_interrupted_install_leaves_nothing_listed(mirror, cache, monkeypatch):
    def convert_then_die(info, raw, staging):
        (staging / "votes.csv").write_text("task,worker,label\n")
        raise KeyboardInterrupt

    monkeypatch.setattr(_install, "_convert", convert_then_die)
    with pytest.raises(KeyboardInterrupt):
        datasets.install("bluebirds")
    assert datasets.installed() == [] and not (cache / "bluebirds").exists()
    assert not list(cache.glob(".tmp-*"))
    monkeypatch.undo()
    os.environ["CROWDWISE_DATA"], os.environ["CROWDWISE_MIRROR"] = str(cache), mirror.base_url
    datasets.install("bluebirds")  # the next install starts afresh and completes
    assert datasets.installed() == ["bluebirds"]


def test_a_killed_install_is_cleaned_by_the_next(mirror, cache):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = cache / f".tmp-bluebirds-{int(dead.stdout)}-abc"
    stale.mkdir(parents=True)
    (stale / "votes.csv").write_text("half")
    assert datasets.installed() == []
    datasets.install("leaves")
    assert not stale.exists() and datasets.installed() == ["leaves"]


def test_install_twice_is_a_no_op_unless_force(mirror, cache):
    datasets.install("bluebirds")
    votes = cache / "bluebirds" / "votes.csv"
    stamp, n = votes.stat().st_mtime_ns, len(mirror.requests)
    assert datasets.install(["bluebirds", "bluebirds"]) == [cache / "bluebirds"]
    assert len(mirror.requests) == n and votes.stat().st_mtime_ns == stamp
    datasets.install("bluebirds", force=True)
    assert len(mirror.requests) > n and datasets.installed() == ["bluebirds"]
    assert sorted(p.name for p in cache.iterdir() if p.name != ".lock") == ["bluebirds"]


def test_a_corrupt_cache_entry_is_reported_and_force_repairs_it(mirror, cache):
    datasets.install("bluebirds")
    votes = cache / "bluebirds" / "votes.csv"
    good = votes.read_bytes()
    votes.write_bytes(good.replace(b"11573,39,1", b"11573,39,0"))
    with pytest.raises(InputError, match=r"corrupt: votes\.csv differs.*--force"):
        datasets.load("bluebirds")
    votes.unlink()
    with pytest.raises(InputError, match=r"corrupt: votes\.csv is missing.*crowdwise install bluebirds --force"):
        datasets.path("bluebirds")
    (cache / "bluebirds" / "metadata.json").write_text("{not json")
    with pytest.raises(InputError, match=r"corrupt: metadata\.json cannot be read"):
        datasets.path("bluebirds")
    datasets.install("bluebirds", force=True)
    assert votes.read_bytes() == good
    assert json.loads((cache / "bluebirds" / "metadata.json").read_text())["name"] == "bluebirds"
    datasets.load("bluebirds")


def test_a_full_disk_is_one_clear_error(mirror, cache, monkeypatch):
    import errno

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_install, "_fsync_tree", no_space)
    with pytest.raises(InputError, match=r"no space left.*Fix: free some space.*CROWDWISE_DATA"):
        datasets.install("bluebirds")
    assert datasets.installed() == [] and not list(cache.glob(".tmp-*"))


def test_a_converter_refuses_a_file_of_another_layout():
    from crowdwise.datasets._convert import CONVERTERS

    with pytest.raises(ValueError, match="expected"):
        CONVERTERS["question_worker_answer"]({"votes": b"a,b\n1,2\n", "truth": b"question,truth\n1,2\n"})
    with pytest.raises(ValueError, match="two gold labels"):
        CONVERTERS["active_crowd_csv"]({"votes": b"w1,t1,0,0\nw2,t1,1,1\n"})
    with pytest.raises(ValueError, match="YAML boolean"):
        CONVERTERS["cubam_yaml"]({"votes": b"3: {1: maybe}\n", "truth": b"{1: true}\n"})
    out = CONVERTERS["tab_worker_task_label"]({"votes": b"w\tt\t1\r\nv\tt\t2\r\n", "truth": b"t\t1\r\n"})
    assert out == {"votes.csv": b"task,worker,label\nt,w,1\nt,v,2\n", "truth.csv": b"task,label\nt,1\n"}


def test_two_processes_installing_at_once_both_succeed(mirror, cache):
    code = "from crowdwise import datasets; datasets.install(['zheng_product', 'bluebirds'], progress=False)"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True) for _ in range(3)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    assert datasets.installed() == ["bluebirds", "zheng_product"]
    datasets.load("zheng_product", install_missing=False)  # complete and checked
    assert sorted(p.name for p in cache.iterdir() if p.name != ".lock") == ["bluebirds", "zheng_product"]
