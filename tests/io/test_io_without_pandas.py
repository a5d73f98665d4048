"""Reading a vote table and fitting a strategy never imports pandas (~60 MB, 0.4 s), and
the Arrow -> NumPy conversions that replace pyarrow's ``to_numpy`` are exact."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")


def _write_tables(tmp_path):
    rng = np.random.default_rng(0)
    n = 3000
    t, w = rng.integers(0, 400, n), rng.integers(0, 60, n)
    keep = np.sort(np.unique(t * 60 + w, return_index=True)[1])  # one vote per (task, worker)
    task = t[keep] * 1_000_003  # sparse integer ids: the sort path
    worker = np.array([f"w{i}" for i in w[keep]])  # text ids: Arrow dictionary path
    label = rng.choice(["cat", "dog", "cow"], keep.size)
    score = np.where(np.arange(task.size) % 7 == 0, None, np.arange(task.size)).tolist()  # empty cells
    table = pa.table({"task": task, "worker": worker, "label": label, "score": pa.array(score, pa.int64())})
    pq.write_table(table, tmp_path / "votes.parquet")
    lines = ["task,worker,label,score"] + [f"{t},{w},{lab},{'' if s is None else s}"
                                           for t, w, lab, s in zip(task, worker, label, score)]
    (tmp_path / "votes.csv").write_text("\n".join(lines) + "\n")
    import crowdwise.io as cio

    cio.save_votes(cio.load_votes(tmp_path / "votes.csv"), tmp_path / "answers.json")  # peerannot format


def test_reading_and_fitting_do_not_import_pandas(tmp_path):
    _write_tables(tmp_path)
    code = (
        "import sys, json\n"
        "import numpy as np\n"
        "import crowdwise.io as cio\n"
        "from crowdwise.aggregate import make_strategy\n"
        "out = {}\n"
        "for name in ('votes.parquet', 'votes.csv', 'answers.json'):\n"
        "    v = cio.load_votes(sys.argv[1] + '/' + name)\n"
        "    for m in ('MV', 'WAWA', 'DS', 'OneCoinDS', 'GLAD', 'MACE'):\n"
        "        out[name + m] = make_strategy(m, random_state=0).fit(v).labels_.tolist()\n"
        "    out[name] = [v.task_ids.tolist(), v.worker_ids.tolist(), v.classes.tolist(), v.task.tolist(),\n"
        "                 v.worker.tolist(), v.label.tolist()]\n"
        "    out[name + 'score'] = int(np.isnan(v.extra['score']).sum()) if 'score' in v.extra else -1\n"
        "print(json.dumps({'pandas': 'pandas' in sys.modules, **out}))\n")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    import json

    got = json.loads(res.stdout)
    assert got.pop("pandas") is False
    # the same votes and labels as read here, where pandas is loaded
    import crowdwise.io as cio
    from crowdwise.aggregate import make_strategy

    for name in ("votes.parquet", "votes.csv", "answers.json"):
        v = cio.load_votes(tmp_path / name)
        assert got[name] == [v.task_ids.tolist(), v.worker_ids.tolist(), v.classes.tolist(), v.task.tolist(),
                             v.worker.tolist(), v.label.tolist()]
        assert len(got[name][1]) == 60 and got[name][2] == ["cat", "cow", "dog"]
        if name != "answers.json":  # the extra column with empty cells was read, as NaN
            assert got[name + "score"] == int(np.isnan(v.extra["score"]).sum()) > 0
        for m in ("MV", "DS", "MACE"):
            assert got[name + m] == make_strategy(m, random_state=0).fit(v).labels_.tolist()


def test_arrow_to_numpy_matches_to_numpy():
    from crowdwise.io._encode import arrow_to_numpy

    ints = pa.array(np.arange(-5, 20, dtype=np.int16))
    for arr in (ints, ints.slice(3, 7), pa.array(np.linspace(0, 1, 9)).slice(2),
                pa.array(np.arange(10, dtype=np.uint32)), pa.chunked_array([ints.slice(0, 4), ints.slice(10, 3)])):
        got = arrow_to_numpy(arr)
        want = arr.to_numpy()
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(arrow_to_numpy(pa.array([True, False, True]).slice(1)), [False, True])
    text = arrow_to_numpy(pa.array(["a", "", "ü"]))
    assert text.dtype == object and text.tolist() == ["a", "", "ü"]
    assert arrow_to_numpy(pa.array([], pa.int64())).size == 0
    with_nulls = pa.array([1, None, 3], pa.int32())
    np.testing.assert_array_equal(arrow_to_numpy(with_nulls), with_nulls.to_numpy(zero_copy_only=False))
    assert arrow_to_numpy(with_nulls).dtype == np.float64  # NaN at the null, as pyarrow does
    floats = pa.array([0.5, None, -2.0]).slice(1)
    np.testing.assert_array_equal(arrow_to_numpy(floats), [np.nan, -2.0])
    for arr in (pa.array([2**53 + 1, None], pa.int64()), pa.array([2**64 - 1, None], pa.uint64()),
                pa.array([1.5, None], pa.float32()), pa.array([None, None], pa.int16())):
        got, want = arrow_to_numpy(arr), arr.to_numpy(zero_copy_only=False)
        assert got.dtype == want.dtype  # big integers round as pyarrow rounds them; float32 stays
        np.testing.assert_array_equal(got, want)
    stored = arrow_to_numpy(with_nulls, nulls_as_stored=True)
    assert stored.dtype == np.int32 and stored[0] == 1 and stored[2] == 3
    assert arrow_to_numpy(pa.array(["x", None])).tolist() == ["x", None]


def test_arrow_text_builds_the_same_array_as_pa_array():
    from crowdwise.io._encode import arrow_text

    words = ["", "a", "héllo", "日本", "x" * 300]
    got = arrow_text(words)
    assert got.type == pa.string() and got.equals(pa.array(words, type=pa.string()))
    assert len(arrow_text([])) == 0
    with pytest.raises(UnicodeEncodeError):
        arrow_text(["\ud800"])


def test_a_parquet_folder_written_in_parts_still_reads(tmp_path):
    # ParquetFile reads one file; a folder of parts (Spark, Hive) goes through the dataset reader
    import crowdwise.io as cio
    from crowdwise.io.tables import read_table

    folder = tmp_path / "votes.parquet"
    folder.mkdir()
    pq.write_table(pa.table({"task": [1, 1], "worker": ["a", "b"], "label": ["x", "y"]}), folder / "part-0.parquet")
    pq.write_table(pa.table({"task": [2], "worker": ["a"], "label": ["y"]}), folder / "part-1.parquet")
    v = read_table(folder)
    assert v.n_votes == 3 and sorted(v.task_ids.tolist()) == [1, 2] and v.classes.tolist() == ["x", "y"]
    assert cio.load_votes(tmp_path / "votes.parquet").n_votes == 3
