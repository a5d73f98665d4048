"""Property tests of the readers and writers: whatever the ids and labels (ints, unicode,
commas, quotes, a leading ``=`` or ``-``...), what ``save_votes`` writes ``load_votes``
reads back as the same votes; what ``write_labels_table`` writes ``read_labels`` reads back."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from _strategies import build, crowds, raw_crowds, text_ids, texts, triples
from hypothesis import given
from hypothesis import strategies as st

from crowdwise import Votes
from crowdwise.io import load_votes, read_labels, save_votes, write_labels_table

pytest.importorskip("pyarrow")

# answers.json (and a peerannot folder) hold one label per (task, worker) pair
FORMATS = {"csv": ("v.csv", False), "tsv": ("v.tsv", False), "csv.gz": ("v.csv.gz", False),
           "tsv.gz": ("v.tsv.gz", False), "parquet": ("v.parquet", False),
           "answers.json": ("answers.json", True), "peerannot folder": ("crowd", True)}


def _roundtrip(v: Votes, target: str) -> Votes:
    with tempfile.TemporaryDirectory() as d:
        return load_votes(save_votes(v, Path(d) / target))


@pytest.mark.parametrize("fmt", list(FORMATS))
@given(data=st.data())
def test_save_load_roundtrip(fmt, data):
    target, unique_pairs = FORMATS[fmt]
    v = data.draw(crowds(unique_pairs=unique_pairs))
    back = _roundtrip(v, target)
    assert triples(back) == triples(v)
    # ids and classes come back in the same (natural) order, not only as the same sets
    assert texts(back.task_ids) == texts(v.task_ids)
    assert texts(back.worker_ids) == texts(v.worker_ids)
    assert texts(back.classes) == texts(v.classes)
    assert back.counts().toarray().tolist() == v.counts().toarray().tolist()
    assert back.equals(v)


@given(raw=raw_crowds(), extra_tasks=st.lists(text_ids, max_size=2), extra_workers=st.lists(text_ids, max_size=2),
       extra_classes=st.lists(st.sampled_from(["zebra", "=owl", "-1", "é"]), max_size=2))
def test_parquet_keeps_ids_and_classes_without_votes(raw, extra_tasks, extra_workers, extra_classes):
    """Parquet (unlike CSV) keeps the tasks, workers and classes nobody voted for."""
    task, worker, label = raw
    as_text = lambda col: [str(x) for x in col]  # noqa: E731 - declared text ids need text votes
    task, worker, label = as_text(task), as_text(worker), as_text(label)
    t_ids = list(dict.fromkeys(task + extra_tasks))
    w_ids = list(dict.fromkeys(worker + extra_workers))
    classes = list(dict.fromkeys(label + extra_classes))
    v = build(task, worker, label, task_ids=t_ids, worker_ids=w_ids, classes=classes)
    back = _roundtrip(v, "v.parquet")
    assert triples(back) == triples(v)
    assert sorted(texts(back.task_ids)) == sorted(texts(v.task_ids))
    assert sorted(texts(back.worker_ids)) == sorted(texts(v.worker_ids))
    assert texts(back.classes) == texts(v.classes)  # declared classes keep their order


@pytest.mark.parametrize("target", ["labels.csv", "labels.tsv", "labels.csv.gz", "labels.parquet"])
@given(data=st.data())
def test_labels_table_roundtrip(target, data):
    v = data.draw(crowds())
    k = v.n_classes
    labels = np.asarray(data.draw(st.lists(st.integers(-1, k - 1), min_size=v.n_tasks, max_size=v.n_tasks)),
                        dtype=np.int64)
    # (a line break in a class breaks the p_<class> header: see test_prop_known_bugs.py)
    with_probas = data.draw(st.booleans()) and not any(("\r" in str(c) or "\n" in str(c))
                                                       for c in v.classes.tolist())
    probas = None
    if with_probas:
        raw = np.asarray(data.draw(st.lists(st.floats(0, 1), min_size=v.n_tasks * k, max_size=v.n_tasks * k)))
        probas = raw.reshape(v.n_tasks, k)
    with tempfile.TemporaryDirectory() as d:
        path = write_labels_table(Path(d) / target, v, labels, probas=probas)
        got, valid = read_labels(path, v)
        order, _ = read_labels(path)  # without the votes: file order
    assert got.tolist() == labels.tolist()
    assert order.tolist() == labels.tolist()
    if (labels < 0).any():
        assert valid.tolist() == (labels >= 0).tolist()
