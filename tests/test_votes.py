"""The Votes model: encoding, natural order, duplicates policy, immutability, errors."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.errors import InputError
from crowdwise.votes import factorize_ids


def test_natural_order_of_integer_ids_and_text_ids():
    v = Votes.from_records(["10", "2", "2"], ["b", "a", "b"], ["1", "0", "1"])
    assert v.task_ids.tolist() == [2, 10]
    assert v.worker_ids.tolist() == ["a", "b"]
    assert v.classes.tolist() == [0, 1]
    assert v.task.tolist() == [1, 0, 0]


def test_zero_padded_ids_stay_text():
    # "007" is not 7: the ids are text, the plainly written integers first by value
    codes, uniq = factorize_ids(["007", "7", "10"])
    assert uniq.tolist() == ["7", "10", "007"]
    assert codes.tolist() == [2, 0, 1]


def test_declared_classes_and_n_classes():
    v = Votes.from_records([0, 1], [0, 0], [0, 2], n_classes=5)
    assert v.n_classes == 5 and v.counts().shape == (2, 5)
    v = Votes.from_records([0], [0], ["b"], classes=["a", "b", "c"])
    assert v.label.tolist() == [1]


def test_label_outside_declared_classes_names_the_row():
    with pytest.raises(InputError, match=r"row 2.*label 7 is not one of the 3 declared classes"):
        Votes.from_records([0, 1, 2], [0, 0, 0], [0, 1, 7], n_classes=3, source="x.csv")
    with pytest.raises(InputError, match=r"x\.csv, row 1"):
        Votes.from_records([0, 1], [0, 0], ["a", "zz"], classes=["a", "b"], source="x.csv")


def test_missing_ids_name_the_row():
    with pytest.raises(InputError, match=r"task is missing.*row 1"):
        Votes.from_records(["a", None], ["w", "w"], [0, 1])
    with pytest.raises(InputError, match=r"worker is missing.*row 0"):
        Votes.from_records(["a", "b"], [np.nan, "w"], [0, 1])


@pytest.mark.parametrize("policy, expected", [
    ("keep", [0, 1, 1]),
    ("first", [0, 1]),
    ("last", [1, 1]),
])
def test_duplicate_policies(policy, expected):
    # worker w votes twice on task a: first 0 then 1
    v = Votes.from_records(["a", "b", "a"], ["w", "w", "w"], [0, 1, 1], duplicates=policy)
    df = v.to_frame().sort_values(["task"], kind="stable")
    assert df["label"].tolist() == expected


def test_duplicate_error_names_pair_and_row():
    with pytest.raises(InputError, match=r"row 2.*'w' voted twice on task 'a'"):
        Votes.from_records(["a", "b", "a"], ["w", "w", "w"], [0, 1, 1], duplicates="error")
    with pytest.raises(InputError, match="not a policy"):
        Votes.from_records(["a"], ["w"], [0], duplicates="drop")


def test_immutable():
    v = Votes.from_records([0, 1], [0, 1], [0, 1])
    with pytest.raises(ValueError):
        v.task[0] = 5
    with pytest.raises(AttributeError):
        v.task = np.array([1, 1])


def test_index_checks_in_direct_constructor():
    with pytest.raises(InputError, match="outside"):
        Votes(task=np.array([0, 3]), worker=np.array([0, 0]), label=np.array([0, 0]),
              task_ids=np.array(["a", "b"]), worker_ids=np.array(["w"]), classes=np.array([0, 1]))


def test_counts_weights_take_and_frame():
    v = Votes.from_records(["a", "a", "b"], ["x", "y", "x"], [0, 1, 1], extra={"author": [True, False, True]})
    np.testing.assert_array_equal(v.counts().toarray(), [[1, 1], [0, 1]])
    np.testing.assert_array_equal(v.counts(weights=[2.0, 0.5, 1.0]).toarray(), [[2, .5], [0, 1]])
    assert v.votes_per_task().tolist() == [2, 1] and v.votes_per_worker().tolist() == [2, 1]
    sub = v.take(v.extra["author"], compact=True)
    assert sub.n_votes == 2 and sub.worker_ids.tolist() == ["x"] and sub.task_ids.tolist() == ["a", "b"]
    assert v.to_frame().columns.tolist() == ["task", "worker", "label", "author"]
    assert v.equals(Votes.from_records(["b", "a", "a"], ["x", "y", "x"], [1, 1, 0],
                                       extra={"author": [True, False, True]}))


def test_caller_cannot_change_votes_after_construction():
    lab = np.array([0, 1, 1])
    v = Votes(task=np.array([0, 0, 1]), worker=np.array([0, 1, 0]), label=lab,
              task_ids=np.array(["a", "b"]), worker_ids=np.array(["x", "y"]), classes=np.array(["c", "d"]))
    lab[0] = 7
    assert v.label.tolist() == [0, 1, 1]
    with pytest.raises(TypeError):
        v.extra["foo"] = np.arange(3)


def test_direct_constructor_refuses_repeated_ids():
    with pytest.raises(InputError, match="task_ids contains 'a' more than once"):
        Votes(task=np.array([0, 1]), worker=np.array([0, 0]), label=np.array([0, 0]),
              task_ids=np.array(["a", "a"]), worker_ids=np.array(["x"]), classes=np.array(["c"]))


def test_votes_pickle_round_trip_keeps_everything_and_stays_read_only():
    import pickle

    v = Votes.from_records(["a", "a", "b"], ["w1", "w2", "w1"], ["cat", "dog", "dog"],
                           classes=["cat", "dog", "owl"], extra={"t": [3, 1, 2]}, name="pets")
    v.counts()  # a cached pattern must not travel (nor break the pickle)
    w = pickle.loads(pickle.dumps(v))
    for nm in ("task", "worker", "label", "task_ids", "worker_ids", "classes"):
        np.testing.assert_array_equal(getattr(w, nm), getattr(v, nm))
    assert w.name == "pets" and w.extra["t"].tolist() == [3, 1, 2] and w.classes.tolist()[-1] == "owl"
    assert not w.task.flags.writeable
    np.testing.assert_array_equal(w.counts().toarray(), v.counts().toarray())


def test_package_attributes_are_imported_on_first_use():
    import crowdwise

    assert crowdwise.Votes is Votes and "Votes" in dir(crowdwise) and "io" in dir(crowdwise)
    assert crowdwise.votes.Votes is Votes and callable(crowdwise.io.load_votes)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        crowdwise.nope


# ---------------------------------------------------------------- append and id matching
def test_append_votes_keeps_old_indices_and_merges_ids():
    a = Votes.from_records([1, 2], [10, 10], [0, 1], n_classes=3)
    b = Votes.from_records(["2", "3"], ["11", "10"], [2, 2], n_classes=3)  # text ids of the same ints
    m = a.append(b)
    assert m.task.tolist() == [0, 1, 1, 2] and m.worker.tolist() == [0, 0, 1, 0]
    assert [str(t) for t in m.task_ids] == ["1", "2", "3"]
    assert m.label.tolist() == [0, 1, 2, 2]


def test_append_keeps_shared_extra_columns_and_refuses_other_classes():
    a = Votes.from_records(["t1"], ["w1"], [0], n_classes=2, extra={"ts": [5], "only_a": [1]}, name="a")
    b = Votes.from_records(["t2", "t1"], ["w1", "w2"], [1, 1], n_classes=2, extra={"ts": [6, 7]})
    m = a.append(b)
    assert m.name == "a" and set(m.extra) == {"ts"} and m.extra["ts"].tolist() == [5, 6, 7]
    assert m.task_ids.tolist() == ["t1", "t2"] and m.worker_ids.tolist() == ["w1", "w2"]
    same = a.append(Votes.from_records([], [], [], n_classes=2))
    assert same.task.tolist() == [0] and same.task_ids.tolist() == ["t1"] and same.worker_ids.tolist() == ["w1"]
    with pytest.raises(InputError, match="other classes"):
        a.append(Votes.from_records(["t3"], ["w1"], ["x"], classes=["x", "y"]))


def test_match_ids_exact_first_then_the_same_text():
    known = np.array([7, 8, 9])
    assert Votes.match_ids(np.array(["9", "7", "x"]), known).tolist() == [2, 0, -1]
    assert Votes.match_ids(np.array([8, 10]), known).tolist() == [1, -1]
    mixed = np.array(["7", 7], dtype=object)  # an exact match wins over the text one
    assert Votes.match_ids(np.array([7], dtype=object), mixed).tolist() == [1]
    assert Votes.match_ids(np.array(["a"]), np.array([])).tolist() == [-1]
    assert Votes.match_ids(np.array([]), known).dtype == np.int64


def test_every_fitted_lookup_matches_ids_the_same_way():
    # worker ids read as numbers at fit time and as text later: WAWA's (worker_values_for)
    # lookup now finds them as DS's, GLAD's and MACE's do
    from crowdwise.aggregate import make_strategy

    # workers 1 and 3 agree with the majority, worker 2 never does
    fit = Votes.from_records(np.repeat(np.arange(4), 3), [1, 2, 3] * 4, [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
                             n_classes=2)
    new_int = Votes.from_records(["n", "n"], [1, 2], [1, 0], n_classes=2)
    new = Votes(task=new_int.task, worker=new_int.worker, label=new_int.label, task_ids=new_int.task_ids,
                worker_ids=np.array(["1", "2"]), classes=new_int.classes)  # the same workers, as text
    for name in ("WAWA", "DS", "GLAD", "MACE", "OneCoinDS"):
        m = make_strategy(name, random_state=0).fit(fit)
        p = m.predict_proba(new)
        assert p[0, 1] > p[0, 0], name  # worker 1 outweighs worker 2: found by its text id
        np.testing.assert_allclose(p, m.predict_proba(new_int), err_msg=name)
