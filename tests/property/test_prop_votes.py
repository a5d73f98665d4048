"""Property tests of ``Votes``: building is independent of the row order, subsets and
renamings keep the counts, and the simple strategies give proper distributions."""

from __future__ import annotations

import numpy as np
from _strategies import build, crowds, raw_crowds, texts, triples
from hypothesis import given
from hypothesis import strategies as st

from crowdwise import Votes
from crowdwise.aggregate import MajorityVote, NaiveSoft, dense_probas


@given(raw=raw_crowds(), data=st.data())
def test_from_records_ignores_row_order(raw, data):
    task, worker, label = raw
    perm = data.draw(st.permutations(range(len(task))))
    v = build(task, worker, label)
    w = build([task[i] for i in perm], [worker[i] for i in perm], [label[i] for i in perm])
    # the same ids and classes in the same order (natural order, not order of appearance)
    assert texts(w.task_ids) == texts(v.task_ids)
    assert texts(w.worker_ids) == texts(v.worker_ids)
    assert texts(w.classes) == texts(v.classes)
    assert w.task_ids.dtype == v.task_ids.dtype and w.classes.dtype == v.classes.dtype
    assert triples(w) == triples(v)
    assert np.array_equal(w.counts().toarray(), v.counts().toarray())
    assert np.array_equal(w.votes_per_worker(), v.votes_per_worker())
    assert int(w.duplicated().sum()) == int(v.duplicated().sum())
    assert w.equals(v)


@given(v=crowds(), data=st.data())
def test_take_keeps_the_selected_votes(v, data):
    mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=v.n_votes, max_size=v.n_votes)), dtype=bool)
    sub = v.take(mask)
    assert sub.n_votes == int(mask.sum())
    assert (sub.n_tasks, sub.n_workers, sub.n_classes) == (v.n_tasks, v.n_workers, v.n_classes)
    # counts of the subset = counts of the original weighted by the mask
    assert np.array_equal(sub.counts().toarray(), v.counts(weights=mask.astype(float)).toarray())
    assert np.array_equal(sub.votes_per_worker(), np.bincount(v.worker[mask], minlength=v.n_workers))
    assert sub.to_frame().astype(str).values.tolist() == v.to_frame()[mask].astype(str).values.tolist()
    # positions select the same votes as the mask
    assert triples(v.take(np.flatnonzero(mask))) == triples(sub)
    compact = v.take(mask, compact=True)
    assert triples(compact) == triples(sub)
    assert compact.n_tasks == len(np.unique(v.task[mask])) and compact.n_workers == len(np.unique(v.worker[mask]))
    assert (compact.votes_per_task() > 0).all() and (compact.votes_per_worker() > 0).all()
    assert int(compact.counts().sum()) == int(mask.sum())


_new_ids = st.one_of(st.text(min_size=1, max_size=4).filter(lambda s: s.strip() != "" and "\x00" not in s),
                    st.integers(-(2**63), 2**63 - 1).map(str))
# class names that are not numbers (two spellings of one number would be one class)
# (no NUL at the end: NumPy's text arrays drop it, so crowdwise refuses such a value)
_new_classes = st.one_of(st.text(max_size=3).filter(lambda s: not s.endswith("\x00")).map("c".__add__),
                         st.integers(-(2**63), 2**63 - 1))


@given(v=crowds(), data=st.data())
def test_renaming_ids_and_classes_keeps_counts(v, data):
    """Any one-to-one renaming of tasks, workers and classes changes only the names."""

    def renaming(ids, names):
        new = data.draw(st.lists(names, min_size=len(ids), max_size=len(ids), unique_by=str))
        return np.asarray(new, dtype=object)

    nt, nw = renaming(v.task_ids, _new_ids), renaming(v.worker_ids, _new_ids)
    nc = renaming(v.classes, data.draw(st.sampled_from([_new_classes.map(str), st.integers(-5, 50)])))
    r = build(nt[v.task].tolist(), nw[v.worker].tolist(), nc[v.label].tolist())
    assert (r.n_votes, r.n_tasks, r.n_workers, r.n_classes) == (v.n_votes, v.n_tasks, v.n_workers, v.n_classes)
    # each renamed (task, class) cell counts what the original cell counts
    rows = {t: i for i, t in enumerate(texts(r.task_ids))}
    cols = {c: j for j, c in enumerate(texts(r.classes))}
    perm_rows = [rows[t] for t in texts(nt)]
    perm_cols = [cols[c] for c in texts(nc)]
    assert np.array_equal(r.counts().toarray()[np.ix_(perm_rows, perm_cols)], v.counts().toarray())
    workers = {w: i for i, w in enumerate(texts(r.worker_ids))}
    assert np.array_equal(r.votes_per_worker()[[workers[w] for w in texts(nw)]], v.votes_per_worker())


@given(v=crowds(max_votes=15, min_votes=1), n_silent=st.integers(0, 2), dense=st.sampled_from([None, True, False]),
       tie=st.sampled_from(["random", "smallest"]), seed=st.integers(0, 2**32 - 1))
def test_majority_vote_and_naive_soft_are_distributions(v, n_silent, dense, tie, seed):
    """For any crowd (one vote, tasks without vote, many classes): every row of
    ``probas_`` sums to 1 without NaN, and ``labels_`` is one of its most likely classes."""
    if n_silent:  # tasks nobody voted on
        v = Votes(task=v.task, worker=v.worker, label=v.label,
                  task_ids=np.concatenate([v.task_ids.astype(str), [f"silent {i}" for i in range(n_silent)]]),
                  worker_ids=v.worker_ids, classes=v.classes)
    counts = v.counts().toarray()
    for model in (MajorityVote(tie=tie, random_state=seed, dense=dense), NaiveSoft(tie=tie, random_state=seed,
                                                                                    dense=dense)):
        model.fit(v)
        p = dense_probas(model.probas_)
        assert p.shape == (v.n_tasks, v.n_classes)
        assert np.isfinite(p).all() and (p >= 0).all()
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
        labels = np.asarray(model.labels_)
        assert labels.shape == (v.n_tasks,) and ((labels >= 0) & (labels < v.n_classes)).all()
        rows = np.arange(v.n_tasks)
        assert (counts[rows, labels] == counts.max(axis=1)).all()  # a most voted class
        voted = counts.sum(axis=1) > 0
        np.testing.assert_allclose(p[voted], counts[voted] / counts[voted].sum(axis=1, keepdims=True))
        np.testing.assert_allclose(p[~voted], 1.0 / v.n_classes)
        if tie == "smallest":
            assert (labels == np.argmax(counts, axis=1)).all()
