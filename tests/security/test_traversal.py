"""A data-set name read from data never leads a writer outside its output folder (issue 14, item 1)."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import io
from crowdwise.io._output import MAX_NAME_LENGTH, safe_name
from security._sec import cli, files_under, peerannot_folder

EVIL = "../../../../elsewhere/ESCAPED"


@pytest.mark.parametrize("text, expected", [
    (EVIL, "elsewhere_ESCAPED"),
    ("/etc/passwd", "etc_passwd"),
    ("..", "data"),
    ("...", "data"),
    (".hidden", "hidden"),
    ("a/../b", "a_.._b".replace("..", ".")),
    ("C:\\Windows\\x", "C_Windows_x"),
    ("tab\tnew\nline\x00nul\x7f", "tab_new_line_nul"),
    ("", "data"),
    (None, "data"),
    ("zheng_product", "zheng_product"),
    ("Pl@ntNet 2024", "Pl_ntNet_2024"),
    ("ｆｕｌｌ／ｗｉｄｔｈ", "full_width"),
])
def test_safe_name_reduces_to_one_harmless_component(text, expected):
    s = safe_name(text)
    assert s == expected
    assert "/" not in s and "\\" not in s and s not in (".", "..") and not s.startswith(".")
    assert all(c.isprintable() and not c.isspace() for c in s)


def test_safe_name_bounds_the_length():
    s = safe_name("x" * 10_000)
    assert len(s) == MAX_NAME_LENGTH
    assert len(safe_name("é" * 500).encode("utf-8")) <= 255  # within a file system's limit


def test_aggregate_keeps_an_evil_metadata_name_inside_the_output_folder(tmp_path):
    root = tmp_path / "a" / "b" / "c" / "d"
    data = peerannot_folder(root / "data", EVIL)
    before = files_under(tmp_path)
    res = cli("aggregate", data, "-s", "DS", "-q", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    new = files_under(tmp_path) - before
    assert new == {"a/b/c/d/data/labels", "a/b/c/d/data/labels/labels_elsewhere_ESCAPED_ds.npy",
                   "a/b/c/d/data/labels/labels_elsewhere_ESCAPED_ds.csv"}
    assert not (tmp_path / "elsewhere").exists() and not (root.parent / "elsewhere").exists()


def test_aggregate_keeps_an_evil_parquet_name_inside_the_out_dir(tmp_path):
    pytest.importorskip("pyarrow")
    v = io.load_votes(peerannot_folder(tmp_path / "src", "x"))
    v = type(v)(task=v.task, worker=v.worker, label=v.label, task_ids=v.task_ids, worker_ids=v.worker_ids,
                classes=v.classes, name=EVIL)
    deep = tmp_path / "p" / "q" / "r" / "s"
    deep.mkdir(parents=True)
    io.save_votes(v, deep / "votes.parquet")
    assert io.load_votes(deep / "votes.parquet").name == EVIL  # the name travels in the schema metadata
    before = files_under(tmp_path)
    res = cli("aggregate", deep / "votes.parquet", "-s", "MV", "--out-dir", deep / "out", "-q")
    assert res.returncode == 0, res.stderr
    assert files_under(tmp_path) - before == {"p/q/r/s/out", "p/q/r/s/out/labels_elsewhere_ESCAPED_mv.npy",
                                              "p/q/r/s/out/labels_elsewhere_ESCAPED_mv.csv"}


def test_aggregate_deep_keeps_an_evil_name_inside_its_output_folder(tmp_path):
    pytest.importorskip("torch")
    root = tmp_path / "a" / "b" / "c" / "d"
    data = peerannot_folder(root / "data", EVIL, n_tasks=30)
    rng = np.random.default_rng(0)
    np.save(root / "train.npy", rng.standard_normal((30, 4)).astype(np.float32))
    out = root / "out"
    before = files_under(tmp_path)
    res = cli("aggregate-deep", data, "-s", "CrowdLayer", "-m", "mlp", "--hidden", "4", "--epochs", "1",
              "--features-train", root / "train.npy", "--threads", "1", "-o", out, "-q")
    assert res.returncode == 0, res.stderr
    new = {p for p in files_under(tmp_path) - before}
    assert new and all(p.startswith("a/b/c/d/out/") or p == "a/b/c/d/out" for p in new), new
    stem = "elsewhere_ESCAPED_crowdlayer"
    assert {f"a/b/c/d/out/labels/labels_{stem}.npy", f"a/b/c/d/out/models/{stem}.pth",
            f"a/b/c/d/out/results/{stem}.json"} <= new
