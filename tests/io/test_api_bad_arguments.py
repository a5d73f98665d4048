"""Bad arguments to the public API are InputErrors that say what to do, never a raw
TypeError / ValueError / IndexError from inside Python, NumPy or pandas; and
``load_votes`` reads a DataFrame (or an Arrow table) of votes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crowdwise import InputError, Votes
from crowdwise import io

A2 = np.array([[1, 2], [3, 4]])


def _v():
    return Votes.from_records([1, 2], ["a", "b"], [0, 1])


def _idx(**kw):
    base = dict(task=[0], worker=[0], label=[0], task_ids=[0], worker_ids=[0], classes=[0])
    base.update(kw)
    return Votes(**base)


def _objects(*values):
    """A 1-D object array holding ``values`` as they are (lists stay lists)."""
    arr = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        arr[i] = v
    return arr


BAD_CALLS = {
    # Votes.from_records: columns that are not columns of single values
    "from_records None": lambda: Votes.from_records(None, None, None),
    "from_records scalars": lambda: Votes.from_records(1, 2, 3),
    "from_records a text": lambda: Votes.from_records("ab", "cd", "ef"),
    "from_records 2-D task": lambda: Votes.from_records(A2, [1, 2], [0, 1]),
    "from_records 2-D label": lambda: Votes.from_records([1, 2], [1, 2], A2),
    "from_records list labels": lambda: Votes.from_records([1, 2], [1, 2], [[0], [1]]),
    "from_records dict labels": lambda: Votes.from_records([1, 2], [1, 2], [{"a": 1}, {"b": 2}]),
    "from_records list tasks": lambda: Votes.from_records([[1], [2]], [1, 2], [0, 1]),
    "from_records a set": lambda: Votes.from_records({1, 2}, {1, 2}, {0, 1}),
    "from_records a dict": lambda: Votes.from_records({1: 1, 2: 2}, [1, 2], [0, 1]),
    "from_records NaN label": lambda: Votes.from_records([1, 2], [1, 2], [0, np.nan]),
    "from_records NaN float id": lambda: Votes.from_records([1.0, np.nan], [1, 2], [0, 1]),
    "from_records lengths": lambda: Votes.from_records([1, 2, 3], [1, 2], [0, 1]),
    "from_records n_classes NaN": lambda: Votes.from_records([1], [1], [0], n_classes=float("nan")),
    "from_records n_classes text": lambda: Votes.from_records([1], [1], [0], n_classes="3"),
    "from_records classes 2-D": lambda: Votes.from_records([1, 2], [1, 2], [0, 1], classes=A2),
    "from_records classes scalar": lambda: Votes.from_records([1], [1], [0], classes=3),
    "from_records task_ids scalar": lambda: Votes.from_records([1], [1], [0], task_ids=3),
    "from_records task_ids 2-D": lambda: Votes.from_records([1, 2], [1, 2], [0, 1], task_ids=A2),
    "from_records extra scalar": lambda: Votes.from_records([1], [1], [0], extra={"a": 3}),
    "from_records extra list": lambda: Votes.from_records([1], [1], [0], extra=[1]),
    "from_records name number": lambda: Votes.from_records([1], [1], [0], name=3),
    "from_records 1 and 1.0 beside a name": lambda: Votes.from_records([1, 2, 3], [1, 1, 1], ["1", "1.0", "x"]),
    # Votes(...) direct
    "Votes negative index": lambda: _idx(task=[-1]),
    "Votes float index": lambda: _idx(task=[0.0]),
    "Votes bool index": lambda: _idx(task=[True]),
    "Votes None": lambda: Votes(None, None, None, None, None, None),
    "Votes ragged": lambda: _idx(task=[[0], [0, 1]]),
    "Votes scalar ids": lambda: _idx(task_ids=5),
    "Votes 2-D ids": lambda: _idx(task_ids=A2),
    "Votes list ids": lambda: _idx(worker_ids=_objects([0])),
    "Votes extra scalar": lambda: _idx(extra={"a": 1}),
    "Votes extra list": lambda: _idx(extra=[1]),
    "Votes uint64 index": lambda: _idx(task=np.array([2**63], dtype=np.uint64)),
    "take out of range": lambda: _v().take([5]),
    "take floats": lambda: _v().take([0.5]),
    "take text": lambda: _v().take("a"),
    "take short mask": lambda: _v().take([True]),
    "counts 2-D weights": lambda: _v().counts([[1.0, 2.0]]),
    "counts text weights": lambda: _v().counts(["a", "b"]),
    # io
    "load_votes None": lambda: io.load_votes(None),
    "load_votes number": lambda: io.load_votes(3),
    "load_votes 2-D array": lambda: io.load_votes(A2),
    "load_votes list": lambda: io.load_votes([1, 2]),
    "load_votes dict": lambda: io.load_votes({"a": 1}),
    "load_votes Votes": lambda: io.load_votes(_v()),
    "load_votes classes scalar": lambda: io.load_votes(pd.DataFrame({"task": [1], "worker": [1], "label": [0]}),
                                                       classes=3),
    "load_votes classes text": lambda: io.load_votes(pd.DataFrame({"task": [1], "worker": [1], "label": ["x"]}),
                                                     classes="xy"),
    "load_votes bad format": lambda: io.load_votes(".", format="xml"),
    "read_table None": lambda: io.read_table(None),
    "read_table columns list": lambda: io.read_table(_CSV, columns=["a"]),
    "read_table sep number": lambda: io.read_table(_CSV, sep=3),
    "read_peerannot None": lambda: io.read_peerannot(None),
    "read_peerannot number": lambda: io.read_peerannot(3),
    "read_answers None": lambda: io.read_answers(None),
    "read_answers metadata number": lambda: io.read_answers("answers.json", metadata=3),
    "read_metadata None": lambda: io.read_metadata(None),
    "load_truth None": lambda: io.load_truth(None, None),
    "load_truth votes number": lambda: io.load_truth(_CSV, 3),
    "from_dataframe None": lambda: io.from_dataframe(None),
    "from_dataframe array": lambda: io.from_dataframe(A2),
    "from_dataframe list labels": lambda: io.from_dataframe(
        pd.DataFrame({"task": [1, 2], "worker": [1, 2], "label": [[0], [1]]})),
    "from_dataframe NaN float id": lambda: io.from_dataframe(
        pd.DataFrame({"task": [1.0, np.nan], "worker": [1, 2], "label": [0, 1]})),
    "read_dense 3-D": lambda: io.read_dense(np.zeros((2, 2, 2))),
    "read_dense text": lambda: io.read_dense([["a", "b"]]),
    "read_dense NaN": lambda: io.read_dense([[1, np.nan]]),
    "read_dense missing text": lambda: io.read_dense([[1, 2]], missing="x"),
    "read_dense ragged": lambda: io.read_dense([[1, 2], [1]]),
    "save_votes not votes": lambda: io.save_votes(3, "x.csv"),
}
_CSV = None  # set by the fixture below (a real file for calls that must get past the path)


@pytest.fixture(autouse=True)
def _csv(tmp_path, monkeypatch):
    f = tmp_path / "ok.csv"
    f.write_text("task,worker,label\n1,a,x\n2,b,y\n")
    monkeypatch.setitem(globals(), "_CSV", f)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("call", list(BAD_CALLS.values()), ids=list(BAD_CALLS))
def test_bad_argument_is_an_input_error_with_a_fix(call):
    with pytest.raises(InputError) as err:  # before: TypeError, ValueError, IndexError, MemoryError...
        call()
    assert "Fix:" in str(err.value), str(err.value)


@pytest.mark.parametrize("make", ["pandas", "polars", "arrow"])
def test_load_votes_reads_a_dataframe(make):
    df = pd.DataFrame({"task": [10, 2, 10], "worker": ["a", "a", "b"], "label": ["cat", "dog", "cat"]})
    if make == "polars":
        df = pytest.importorskip("polars").from_pandas(df)
    elif make == "arrow":
        df = pytest.importorskip("pyarrow").Table.from_pandas(df, preserve_index=False)
    v = io.load_votes(df, classes=["cat", "dog", "owl"], name="frame")  # before: TypeError
    assert v.task_ids.tolist() == [2, 10] and v.classes.tolist() == ["cat", "dog", "owl"] and v.name == "frame"
    assert v.n_votes == 3 and v.equals(io.from_dataframe(df, classes=["cat", "dog", "owl"]))


@pytest.mark.parametrize("column", ["task", "worker", "label"])
def test_a_text_ending_in_nul_is_refused_not_merged(column):
    """NumPy's text arrays drop trailing NULs: 'a\\x00' would silently become 'a'."""
    from crowdwise import Votes
    from crowdwise.errors import InputError

    cols = {"task": ["t1", "t2"], "worker": ["w1", "w2"], "label": ["a", "b"]}
    cols[column] = [cols[column][0], cols[column][0] + "\x00"]
    with pytest.raises(InputError, match="NUL") as err:
        Votes.from_records(cols["task"], cols["worker"], cols["label"])
    assert "row 1" in str(err.value)
