"""Converters of the registered sets whose raw bytes were never fetched here (status
``unverified``): each is run on a small file made in its source's exact format (the layout
read in the source's repository or record), with hand-written expected tables; one goes
through the installer end to end from a local mirror with the made file pinned."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import zipfile

import pyarrow.parquet as pq
import pytest

from crowdwise import datasets
from crowdwise.datasets._convert import CONVERTERS
from crowdwise.datasets._install import install_one
from crowdwise.errors import InputError


def _zip(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


def _run(name: str, data: bytes) -> dict[str, str]:
    entry = datasets.info(name)
    assert entry.status == "unverified"
    return {k: v.decode() for k, v in CONVERTERS[entry.converter]({"votes": data}).items()}


# CIFAR-10H: cifar10h-raw.zip holds cifar10h-raw.csv, one row per trial; attention checks
# have is_attn_check = 1 and cifar10_test_test_idx = -99999 (jcpeterson/cifar-10h)
CIFAR_CSV = (
    "annotator_id,amt_hit_id,question_number,is_attn_check,true_category,true_label,chosen_label,"
    "chosen_category,cifar10_test_test_idx,reaction_time\n"
    "0,A1,1,0,cat,3,3,cat,7,1021.5\n"
    "0,A1,2,1,airplane,0,0,airplane,-99999,800.0\n"
    "0,A1,3,0,ship,8,1,automobile,2,1500.0\n"
    "1,A2,1,0,ship,8,8,ship,2,700.1\n"
    "1,A2,2,0,cat,3,5,dog,7,900.0\n"
)


def test_cifar10h_converter_on_a_made_file():
    out = _run("cifar10h", _zip({"cifar10h-raw.csv": CIFAR_CSV}))
    assert out["votes.csv"] == "task,worker,label\n7,0,3\n2,0,1\n2,1,8\n7,1,5\n"
    assert out["truth.csv"] == "task,label\n2,8\n7,3\n"  # in test-set order


def test_cifar10h_converter_refuses_another_layout():
    with pytest.raises(ValueError, match="no column chosen_label"):
        _run("cifar10h", _zip({"cifar10h-raw.csv": "annotator_id,is_attn_check,cifar10_test_test_idx,true_label\n"}))
    with pytest.raises(ValueError, match="expected one member named 'cifar10h-raw.csv'"):
        _run("cifar10h", _zip({"other.csv": CIFAR_CSV}))
    with pytest.raises(ValueError, match="two gold labels"):
        _run("cifar10h", _zip({"cifar10h-raw.csv": CIFAR_CSV + "2,A3,1,0,dog,5,5,dog,7,10\n"}))


@pytest.mark.parametrize("name,worker_col", [("relevance-2", "performer"), ("relevance-5", "worker"),
                                             ("nist-trec-relevance", "worker")])
def test_crowdkit_converter_on_a_made_archive(name, worker_col):
    # crowd-kit's archives: <name>/crowd_labels.csv (performer or worker, task, label) and <name>/gt.csv
    data = _zip({f"{name}/crowd_labels.csv": f"{worker_col},task,label\nw1,t1,1\nw2,t1,0\nw1,t2,1\n",
                 f"{name}/gt.csv": "task,label\nt1,1\n"})
    out = _run(name, data)
    assert out["votes.csv"] == "task,worker,label\nt1,w1,1\nt1,w2,0\nt2,w1,1\n"
    assert out["truth.csv"] == "task,label\nt1,1\n"
    with pytest.raises(ValueError, match="gt.csv"):
        _run(name, _zip({f"{name}/crowd_labels.csv": "worker,task,label\nw,t,1\n"}))


# Pl@ntNet-CrowdSWE: plantnet_swe.zip, files under zenodo/ (Zenodo record 10782465):
# answers.json {task index: {user index: class index}} written with 3-space indents,
# ground_truth.txt one class per task line (-1 unknown), converters/tasks.json {obsID: index}
PLANTNET_ANSWERS = {"0": {"0": 0}, "1": {"1": 1, "2": 1}, "2": {"2": 2, "3": 0}, "3": {"4": 3}}
PLANTNET_TASKS = {"1018317831": 0, "1018491202": 1, "1018546184": 2, "1018657510": 3}


def _plantnet_zip() -> bytes:
    return _zip({"zenodo/answers/answers.json": json.dumps(PLANTNET_ANSWERS, indent=3),
                 "zenodo/answers/ground_truth.txt": "0\n1\n2\n-1\n",
                 "zenodo/converters/tasks.json": json.dumps(PLANTNET_TASKS, indent=3),
                 "zenodo/converters/classes.json": json.dumps({"Erinus alpinus L.": 0}, indent=3)})


def test_plantnet_converter_on_a_made_archive():
    entry = datasets.info("plantnet_swe")
    raw = CONVERTERS[entry.converter]({"votes": _plantnet_zip()})
    out = {k: v.decode() for k, v in raw.items() if k.endswith(".csv")}
    # the 9 million votes are written as Parquet (pyarrow is in the test extra), in file order
    votes = pq.read_table(io.BytesIO(raw["votes.parquet"])).to_pydict()
    assert list(zip(votes["task"], votes["worker"], votes["label"])) == [
        ("1018317831", "0", 0), ("1018491202", "1", 1), ("1018491202", "2", 1), ("1018546184", "2", 2),
        ("1018546184", "3", 0), ("1018657510", "4", 3)]
    # D_expert: tasks 0, 1, 2 have an expert label; D_multiple: >= 2 votes (1, 2); D_disagreement: 2
    assert out["truth.csv"] == "task,label\n1018317831,0\n1018491202,1\n1018546184,2\n"
    assert out["truth_multiple.csv"] == "task,label\n1018491202,1\n1018546184,2\n"
    assert out["truth_disagreement.csv"] == "task,label\n1018546184,2\n"
    bad = _zip({"zenodo/answers/answers.json": json.dumps({"9": {"0": 1}}),
                "zenodo/answers/ground_truth.txt": "0\n", "zenodo/converters/tasks.json": "{}"})
    with pytest.raises(ValueError, match="task 9 is not in converters/tasks.json"):
        _run("plantnet_swe", bad)


def test_plantnet_installs_end_to_end_from_a_mirror_once_pinned(serve_dir, cache, tmp_path):
    """The installer's path for a Zenodo file: mirror layout <host>/<path>, size and SHA-256
    checked, converted, extra truth tables written; with the made archive pinned."""
    data = _plantnet_zip()
    entry = datasets.info("plantnet_swe")
    raw = dataclasses.replace(entry.files[0], bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    pinned = dataclasses.replace(entry, files=(raw,), verified=True)
    assert pinned.status == "tested" and raw.relative_url == "zenodo.org/records/10782465/files/plantnet_swe.zip"
    target = tmp_path / "mirror" / raw.relative_url
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    serve_dir(tmp_path / "mirror")
    cache.mkdir()
    assert install_one(pinned, root=cache)
    folder = cache / "plantnet_swe"
    assert (folder / "truth_disagreement.csv").read_text() == "task,label\n1018546184,2\n"
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["sources"][0]["url"] == "https://zenodo.org/records/10782465/files/plantnet_swe.zip"
    from crowdwise.io import load_truth, load_votes

    votes = load_votes(folder / "votes.parquet")
    truth = load_truth(folder / "truth.csv", votes)
    assert votes.n_tasks == 4 and votes.n_votes == 6 and int((truth >= 0).sum()) == 3


# ----------------------------------------------------------- --allow-unpinned (trust on first use)
def _serve_made_file(tmp_path, serve_dir, entry, data: bytes, extra: dict[str, bytes] | None = None):
    target = tmp_path / "mirror" / entry.files[0].relative_url
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    for rel, content in (extra or {}).items():
        (tmp_path / "mirror" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "mirror" / rel).write_bytes(content)
    return serve_dir(tmp_path / "mirror")


def test_unpinned_set_is_refused_without_the_flag_and_installed_with_it(serve_dir, cache, tmp_path):
    data = _plantnet_zip()
    entry = datasets.info("plantnet_swe")
    server = _serve_made_file(tmp_path, serve_dir, entry, data)
    with pytest.raises(InputError, match="--allow-unpinned"):
        datasets.install("plantnet_swe", progress=False)
    assert not server.requests and "plantnet_swe" not in datasets.installed()
    [folder] = datasets.install("plantnet_swe", progress=False, allow_unpinned=True)
    assert (folder / "truth_disagreement.csv").read_text() == "task,label\n1018546184,2\n"
    source = json.loads((folder / "metadata.json").read_text())["sources"][0]
    # the bytes received are recorded, flagged as not pinned
    assert source["pinned"] is False and source["bytes"] == len(data)
    assert source["sha256"] == hashlib.sha256(data).hexdigest()
    assert not (cache / ".downloads").exists()  # the raw file is not kept under an unknown name
    assert datasets.installed() == ["plantnet_swe"]


def test_unpinned_crowdkit_archive_is_checked_against_its_published_md5(serve_dir, cache, tmp_path):
    from urllib.parse import urlsplit

    entry = datasets.info("relevance-2")
    data = _zip({"relevance-2/crowd_labels.csv": "performer,task,label\nw1,t1,1\nw2,t1,0\n",
                 "relevance-2/gt.csv": "task,label\nt1,1\n"})
    md5_url = entry.files[0].published_checksum.split(":", 1)[1].strip()
    md5_rel = "".join(urlsplit(md5_url)[1:3])
    good = hashlib.md5(data).hexdigest()
    _serve_made_file(tmp_path, serve_dir, entry, data, {md5_rel: f"{good}  relevance-2.zip\n".encode()})
    [folder] = datasets.install("relevance-2", progress=False, allow_unpinned=True)
    assert (folder / "votes.csv").read_text() == "task,worker,label\nt1,w1,1\nt1,w2,0\n"
    # a different published MD5: nothing installed, the cache as it was
    (tmp_path / "mirror" / md5_rel).write_text("0" * 32 + "  relevance-2.zip\n")
    with pytest.raises(InputError, match="checksum mismatch.*md5"):
        datasets.install("relevance-2", progress=False, allow_unpinned=True, force=True)
    assert (folder / "votes.csv").read_text() == "task,worker,label\nt1,w1,1\nt1,w2,0\n"
    assert not (cache / ".downloads").exists() or not any((cache / ".downloads").iterdir())


def test_cli_install_allow_unpinned_prints_the_recorded_checksum(serve_dir, cache, tmp_path):
    from _cli import run

    data = _plantnet_zip()
    _serve_made_file(tmp_path, serve_dir, datasets.info("plantnet_swe"), data)
    out = run("install", "plantnet_swe", "--allow-unpinned")
    assert f"recorded sha256 {hashlib.sha256(data).hexdigest()}" in out.stdout
    assert "plantnet_swe: installed" in out.stdout


# LabelMe images: deep_LabelMe.tar.gz (the archive peerannot's labelme.py downloads):
# LabelMe/{train,valid,test}/<class>/<image>, LabelMe/answers.txt, LabelMe/filenames_train.txt
def _labelme_tar() -> bytes:
    import tarfile

    members = {
        "LabelMe/train/street/a.jpg": b"A", "LabelMe/train/coast/b.jpg": b"BB",
        "LabelMe/valid/forest/v.jpg": b"V", "LabelMe/test/highway/t.jpg": b"T",
        # classes: 3 street, 5 coast, 1 insidecity
        "LabelMe/answers.txt": b"3 -1 5\n-1 5 1\n", "LabelMe/filenames_train.txt": b"a.jpg\nb.jpg\n",
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_labelme_images_converter_on_a_made_archive():
    out = CONVERTERS["labelme_images"]({"votes": _labelme_tar()})
    assert out["votes.csv"].decode() == "task,worker,label\n0,0,street\n0,2,coast\n1,1,coast\n1,2,insidecity\n"
    assert out["truth.csv"].decode() == "task,label\n0,street\n1,coast\n"
    assert out["train/street/a-0.jpg"] == b"A" and out["train/coast/b-1.jpg"] == b"BB"
    assert out["val/forest/v.jpg"] == b"V" and out["test/highway/t.jpg"] == b"T"
    with pytest.raises(ValueError, match="not a tar archive"):
        CONVERTERS["labelme_images"]({"votes": b"not a tar"})


def test_labelme_images_install_gives_an_image_folder_crowdwise_reads(serve_dir, cache, tmp_path):
    from crowdwise.io import load_votes
    from crowdwise.io.features import load_image_folder

    _serve_made_file(tmp_path, serve_dir, datasets.info("labelme_images"), _labelme_tar())
    [folder] = datasets.install("labelme_images", progress=False, allow_unpinned=True)
    from crowdwise.datasets._convert import LABELME_CLASSES

    votes = load_votes(folder / "votes.csv", classes=LABELME_CLASSES)  # the 8 classes, voted for or not
    data = load_image_folder(folder, votes)
    # each training image is linked to its task through the -<task> suffix, its class by its folder
    assert [p.name for p in data.train.paths] == ["a-0.jpg", "b-1.jpg"]
    assert list(data.classes[data.train.truth]) == ["street", "coast"]
    assert [p.name for p in data.test.paths] == ["t.jpg"] and list(data.classes[data.val.truth]) == ["forest"]
