"""The common checks of aggregation strategies, for built-in and user-written ones.

:func:`check_strategy` runs on a strategy the checks every strategy registered in
:mod:`crowdwise.aggregate` passes (``tests/aggregate/test_common.py`` runs them all on
each), so that a strategy written outside crowdwise (an :class:`~crowdwise.aggregate.Aggregator`
subclass) can be held to the same contract:

- the same result when the tasks, the workers and the rows of the votes are renamed or
  reordered, and when the classes are listed in another order (labels compared on the
  tasks without a tie at the top, probabilities everywhere; a strategy that is not
  symmetric in the classes by design sets ``class_symmetric = False``);
- the same result twice with the same ``random_state``;
- finite, normalised outputs with one vote per task, with 10,000 votes on a task, with
  declared classes nobody voted for and a declared task without a vote;
- scikit-learn's conventions: ``fit`` returns the model and leaves the hyper-parameters as
  given, nothing learnt in ``__init__``, ``get_params`` / ``set_params``, a clone
  (``type(m)(**m.get_params())``, and ``sklearn.base.clone`` when scikit-learn is
  installed), a ``repr``, :class:`~crowdwise.aggregate.NotFittedError` before ``fit``;
- ``predict_proba`` on the fitted votes gives ``probas_``; sparse and dense soft labels
  agree (strategies with a ``dense`` parameter);
- a fitted model survives a pickle round trip (same outputs, same ``predict_proba``);
- ``partial_fit`` (where the strategy has it): before any fit it is ``fit``; after
  ``fit(A)``, ``partial_fit(B)`` gives valid soft labels on the union of the tasks, keeps
  the classes, refuses votes declaring other classes, and reaches the labels of a cold
  fit on the union on most tasks (an iterative model recording ``log_likelihood_``: an
  objective of the union too);
- the ``parameter_rules``: the defaults meet them, and a value a rule refuses makes
  ``fit`` raise an :class:`~crowdwise.errors.InputError` naming the strategy, the
  parameter and a fix.

Class attributes adapt the checks: ``binary_only`` (two classes), ``single_vote_is_label``
(False: one vote per task need not be the label), ``class_symmetric``.

This module needs neither pytest nor scikit-learn: a failed check raises
:class:`AssertionError` naming the strategy, the check and what went wrong; a check that
does not apply is reported as skipped.

Examples
--------
>>> from crowdwise.testing import check_strategy
>>> report = check_strategy("MV", checks=["deterministic", "one_vote_per_task", "pickle"])
>>> report.passed
['deterministic', 'one_vote_per_task', 'pickle']

A strategy written outside crowdwise:

>>> from crowdwise.aggregate import Aggregator, Options, as_probas, argmax_ties
>>> class Plurality(Aggregator):
...     parameter_rules = {"tie": Options("random", "smallest", noun="a tie rule")}
...     def __init__(self, tie="smallest", random_state=None):
...         self.tie = tie
...         self.random_state = random_state
...     def _fit(self, votes):
...         counts = votes.counts()
...         self.probas_ = as_probas(counts)
...         self.labels_ = argmax_ties(counts, tie=self.tie, random_state=self.random_state)
>>> everything_but_pickle = [c for c in CHECKS if c != "pickle"]  # pickle needs an importable class
>>> report = check_strategy(Plurality, everything_but_pickle)
>>> report.skipped
{'sparse_equals_dense': 'no dense parameter', 'partial_fit': 'no partial_fit'}
"""

from __future__ import annotations

import functools
import importlib.util
import pickle
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from .aggregate import Aggregator, NotFittedError, dense_probas, make_strategy
from .errors import InputError
from .votes import Votes

__all__ = ["check_strategy", "CHECKS", "CheckSkipped", "CheckReport", "StrategyFactory", "make_crowd",
           "make_tied_crowd", "relabel", "assert_same_results", "check_probas", "untied"]


class CheckSkipped(Exception):
    """Raised by a check that does not apply to the strategy; the message says why."""


def _require(condition: Any, message: str) -> None:
    """``assert`` that survives ``python -O``."""
    if not condition:
        raise AssertionError(message)


# ---------------------------------------------------------------------- crowds
def make_crowd(n_tasks: int = 60, n_workers: int = 15, n_classes: int = 3, per_task: int = 5, seed: int = 0,
               accuracy: tuple[float, float] = (0.55, 0.95), **votes_options: Any) -> tuple[Votes, np.ndarray]:
    """A one-coin crowd: worker j answers right with probability ``acc_j`` (uniform in
    ``accuracy``), else uniformly among the other classes; ``per_task`` distinct workers
    per task.

    Returns
    -------
    votes : Votes
        Ids are text (``"t000"``, ``"w000"``) so that renaming can change their order;
        classes are ``0 .. n_classes - 1``.
    truth : ndarray of int, shape (n_tasks,)
        The true class of each task, aligned with ``votes.task_ids``.
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_tasks)
    acc = rng.uniform(*accuracy, n_workers)
    keys = rng.random((n_tasks, n_workers))
    workers = np.argsort(keys, axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.ravel()
    right = rng.random(task.size) < acc[worker]
    wrong = (truth[task] + rng.integers(1, n_classes, task.size)) % n_classes
    label = np.where(right, truth[task], wrong)
    votes = Votes.from_records([f"t{i:03d}" for i in task], [f"w{j:03d}" for j in worker], label,
                               n_classes=n_classes, **votes_options)
    return votes, truth


def _columns(votes: Votes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Task ids, worker ids and label values of each vote, in row order."""
    return (np.asarray(votes.task_ids)[votes.task], np.asarray(votes.worker_ids)[votes.worker],
            np.asarray(votes.classes)[votes.label])


def make_tied_crowd(n_classes: int, seed: int = 5) -> Votes:
    """Weak workers, two votes on a third of the tasks and four on the others: about a
    third of the majority votes are ties (1-1, 2-2, 1-1-1-1...), so that a tie broken by
    class index, or by the order in which a random stream meets the tasks, moves untied
    labels if it is fed back into the fit."""
    votes, _ = make_crowd(n_tasks=150, n_workers=12, n_classes=n_classes, per_task=4, seed=seed,
                          accuracy=(0.3, 0.8))
    task, worker, label = _columns(votes)
    task_no = np.array([int(t[1:]) for t in task])
    order = np.argsort(task_no, kind="stable")  # rank of each vote among those of its task, in row order
    first = np.r_[True, task_no[order][1:] != task_no[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(order.size), 0))
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size) - start
    keep = (task_no % 3 != 0) | (rank < 2)
    return Votes.from_records(task[keep], worker[keep], label[keep], classes=votes.classes)


@functools.lru_cache(maxsize=8)
def _crowd(n_classes: int) -> Votes:
    return make_crowd(n_tasks=80, n_workers=20, n_classes=n_classes, per_task=5, seed=3)[0]


@functools.lru_cache(maxsize=8)
def _tied_crowd(n_classes: int) -> Votes:
    return make_tied_crowd(n_classes)


RELABELINGS = ("reorder_rows", "rename_tasks", "rename_workers_same_order", "rename_workers_new_order",
               "permute_classes")


def relabel(votes: Votes, how: str, seed: int = 11) -> tuple[Votes, dict]:
    """The same votes with renamed or reordered tasks, workers, rows or classes, and the
    map from old to new task ids.

    ``how`` is one of ``"reorder_rows"``, ``"rename_tasks"`` (new names sorting in another
    order), ``"rename_workers_same_order"``, ``"rename_workers_new_order"`` and
    ``"permute_classes"`` (the classes listed in another order, no class keeping its
    index; each vote keeps its class value, so its class index changes).
    """
    task, worker, label = _columns(votes)
    rng = np.random.default_rng(seed)
    task_map = {t: t for t in votes.task_ids}
    classes = np.asarray(votes.classes)
    extra = {c: np.asarray(v) for c, v in votes.extra.items()}
    if how == "reorder_rows":
        perm = rng.permutation(task.size)
        task, worker, label = task[perm], worker[perm], label[perm]
        extra = {c: v[perm] for c, v in extra.items()}
    elif how == "rename_tasks":
        perm = rng.permutation(votes.n_tasks)
        task_map = {t: f"q{perm[i]:06d}" for i, t in enumerate(votes.task_ids)}
        task = np.array([task_map[t] for t in task], dtype=object)
    elif how == "rename_workers_same_order":
        names = {w: f"user_{i:05d}" for i, w in enumerate(votes.worker_ids)}
        worker = np.array([names[w] for w in worker], dtype=object)
    elif how == "rename_workers_new_order":
        perm = rng.permutation(votes.n_workers)
        names = {w: f"u{perm[i]:05d}" for i, w in enumerate(votes.worker_ids)}
        worker = np.array([names[w] for w in worker], dtype=object)
    elif how == "permute_classes":
        k = votes.n_classes
        classes = classes[np.roll(rng.permutation(k), 1)] if k > 2 else classes[::-1]
        while k > 2 and np.any(classes == np.asarray(votes.classes)):
            classes = classes[rng.permutation(k)]
    else:
        raise ValueError(f"unknown relabeling {how!r}; use one of {', '.join(RELABELINGS)}")
    v2 = Votes.from_records(task, worker, label, classes=classes, extra=extra)
    if how == "permute_classes":
        _require(np.all(v2.label != votes.label), "permute_classes left a vote on its class index")
    return v2, task_map


# ---------------------------------------------------------------------- strategies
class StrategyFactory:
    """Fresh copies of the strategy under check.

    ``strategy`` is a registry specification (``"DS[init=mv]"``), an
    :class:`~crowdwise.aggregate.Aggregator` subclass (built with its defaults) or an
    instance (its hyper-parameters are copied; it is never fitted itself).
    """

    def __init__(self, strategy: str | type | Aggregator):
        if isinstance(strategy, str):
            self.label = strategy
            self._new: Callable[[], Aggregator] = lambda: make_strategy(strategy)
        elif isinstance(strategy, type) and issubclass(strategy, Aggregator):
            self.label = strategy.__name__
            self._new = strategy
        elif isinstance(strategy, Aggregator):
            cls, params = type(strategy), strategy.get_params()
            self.label = repr(strategy)
            self._new = lambda: cls(**params)
        else:
            raise InputError(f"cannot check {strategy!r}: not a strategy",
                             fix="pass a registry name such as 'DS', an Aggregator subclass or an instance")
        self.cls = type(self._new())

    def params(self) -> set[str]:
        """The names of the hyper-parameters."""
        return set(self._new().get_params())

    def build(self, **params: Any) -> Aggregator:
        """A new, unfitted strategy; ``params`` the strategy does not take are ignored."""
        model = self._new()
        names = set(model.get_params())
        model.set_params(**{k: v for k, v in params.items() if k in names})
        return model

    def fitted(self, votes: Votes, **params: Any) -> Aggregator:
        """``build(random_state=0, tie="smallest", **params).fit(votes)``."""
        return self.build(**{"random_state": 0, "tie": "smallest", **params}).fit(votes)

    def n_classes(self, k: int) -> int:
        """K of the test data: 2 for a binary-only strategy."""
        return 2 if self.cls.binary_only else k


# ---------------------------------------------------------------------- helpers
#: top-two gap of a task's probabilities under which its label is a tie the rule may break
#: either way
TIE_GAP = 1e-9


def untied(P: np.ndarray) -> np.ndarray:
    """Tasks whose largest probability beats the second by more than ``TIE_GAP``."""
    if P.shape[1] < 2:
        return np.ones(len(P), bool)
    top2 = np.sort(P, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0] > TIE_GAP


def assert_same_results(m1: Aggregator, v1: Votes, m2: Aggregator, v2: Votes, task_map: dict,
                        ties_too: bool = False) -> None:
    """Same label on every task untied in both fits (on every task with ``ties_too``),
    same soft labels on every task (to 1e-6); columns are matched by class value, so
    ``v2`` may list the classes in another order."""
    _require(len(v1.task_ids) == len(v2.task_ids), "the two fits have different numbers of tasks")
    row_of = {tid: i for i, tid in enumerate(v2.task_ids)}
    rows = np.array([row_of[task_map[t]] for t in v1.task_ids], dtype=np.int64)
    col_of = {str(c): j for j, c in enumerate(v2.classes)}
    cols = np.array([col_of[str(c)] for c in v1.classes], dtype=np.int64)
    P1, P2 = dense_probas(m1.probas_), dense_probas(m2.probas_)[rows][:, cols]
    lab1 = np.asarray(v1.classes)[m1.labels_].astype(str)
    lab2 = np.asarray(v2.classes)[m2.labels_[rows]].astype(str)
    sure = (untied(P1) & untied(P2)) | ties_too
    moved = np.flatnonzero(sure & (lab1 != lab2))
    _require(moved.size == 0, f"{moved.size} of {int(sure.sum())} {'' if ties_too else 'untied '}labels moved, "
                              f"e.g. task {v1.task_ids[moved[0]] if moved.size else ''}: "
                              f"{lab1[moved[0]] if moved.size else ''} -> {lab2[moved[0]] if moved.size else ''}")
    np.testing.assert_allclose(P1, P2, atol=1e-6, err_msg="soft labels differ")
    if hasattr(m1, "valid_"):
        np.testing.assert_array_equal(m1.valid_, m2.valid_[rows], err_msg="valid_ differs")


def check_probas(model: Aggregator, votes: Votes) -> np.ndarray:
    """``probas_`` of shape (n_tasks, K), finite, non-negative, rows summing to 1, and
    ``labels_`` class indices; returns the dense soft labels."""
    P = dense_probas(model.probas_)
    _require(P.shape == (votes.n_tasks, votes.n_classes),
             f"probas_ has shape {P.shape}, expected {(votes.n_tasks, votes.n_classes)}")
    _require(np.all(np.isfinite(P)), "probas_ holds NaN or inf")
    _require(np.all(P >= -1e-12), "probas_ holds negative values")
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-8, err_msg="rows of probas_ do not sum to 1")
    lab = np.asarray(model.labels_)
    _require(lab.shape == (votes.n_tasks,) and lab.dtype.kind in "iu",
             f"labels_ must be {votes.n_tasks} class indices, got shape {lab.shape} and dtype {lab.dtype}")
    _require(lab.size == 0 or (lab.min() >= 0 and lab.max() < votes.n_classes), "labels_ out of the class range")
    return P


def _equal(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - a value that cannot compare is different
        return False


# ---------------------------------------------------------------------- the checks
def _check_invariance(f: StrategyFactory, how: str, tie: str) -> None:
    if tie == "smallest" and "tie" not in f.params():
        raise CheckSkipped("no tie parameter: the tie=random variant covers it")
    if how == "permute_classes" and not f.cls.class_symmetric:
        raise CheckSkipped(f"{f.cls.__name__} is not symmetric in the classes (class_symmetric = False)")
    votes = _tied_crowd(f.n_classes(4))
    v2, task_map = relabel(votes, how)
    m1 = f.fitted(votes, tie=tie)
    _require(untied(dense_probas(m1.probas_)).mean() > 0.5,
             "fewer than half the tasks of the test crowd are untied: too few labels to compare")
    # ties to the smallest class index: the classes keep their indices when only tasks,
    # workers or rows change, so even the tied labels must not move
    ties_too = tie == "smallest" and how != "permute_classes" and "tie" in f.params()
    assert_same_results(m1, votes, f.fitted(v2, tie=tie), v2, task_map, ties_too=ties_too)


def check_deterministic(f: StrategyFactory) -> None:
    """Two fits with the same ``random_state`` (the default tie rule) give the same output."""
    votes = _crowd(f.n_classes(4))
    a = f.build(random_state=7).fit(votes)
    b = f.build(random_state=7).fit(votes)
    np.testing.assert_array_equal(a.labels_, b.labels_, err_msg="labels_ differ between two fits")
    np.testing.assert_array_equal(dense_probas(a.probas_), dense_probas(b.probas_),
                                  err_msg="probas_ differ between two fits")


def check_one_vote_per_task(f: StrategyFactory) -> None:
    """One vote per task: valid outputs, and the label is the vote (``single_vote_is_label``)."""
    k = f.n_classes(3)
    labels = [0, 1, 2, 1] if k == 3 else [0, 1, 0, 1]
    votes = Votes.from_records(["a", "b", "c", "d"], ["w1", "w2", "w1", "w3"], labels, n_classes=k)
    m = f.fitted(votes)
    check_probas(m, votes)
    if f.cls.single_vote_is_label:
        _require(m.labels_.tolist() == labels,
                 f"with one vote per task the labels are the votes {labels}, got {m.labels_.tolist()} "
                 "(a latent-variable model that may relabel sets single_vote_is_label = False)")


def check_ten_thousand_votes_on_a_task(f: StrategyFactory) -> None:
    """10,000 votes on each of two tasks: valid outputs, the clear majority wins."""
    rng = np.random.default_rng(0)
    n = 10_000
    task = np.r_[np.zeros(n, int), np.ones(n, int), [2, 2]]
    worker = np.r_[np.arange(n), np.arange(n), [0, 1]]
    label = np.r_[(rng.random(n) < 0.7).astype(int), (rng.random(n) < 0.2).astype(int), [1, 1]]
    votes = Votes.from_records(task, worker, label, n_classes=2)
    m = f.fitted(votes)
    check_probas(m, votes)
    _require(m.labels_[0] == 1 and m.labels_[1] == 0,
             f"a 70 % majority for class 1 and an 80 % one for class 0 gave labels {m.labels_[:2].tolist()}")


def check_unvoted_classes_and_task_without_vote(f: StrategyFactory) -> None:
    """Two declared classes nobody voted for and a declared task without a vote: valid
    outputs, and the voted tasks get (almost) no mass on the unvoted classes."""
    if f.cls.binary_only:
        raise CheckSkipped("a binary-only strategy cannot have a class nobody voted for besides its two")
    votes = _crowd(4)
    task, worker, label = _columns(votes)
    classes = np.arange(votes.n_classes + 2)
    task_ids = list(votes.task_ids) + ["t_empty"]
    v = Votes.from_records(task, worker, label, classes=classes, task_ids=task_ids)
    m = f.fitted(v)
    P = check_probas(m, v)
    voted = slice(0, votes.n_tasks)
    _require(np.all(m.labels_[voted] < votes.n_classes), "a voted task got a class nobody voted for")
    _require(np.all(P[voted, votes.n_classes:] < 1e-6), "a voted task has mass on a class nobody voted for")


def check_sklearn_conventions(f: StrategyFactory) -> None:
    """``NotFittedError`` before ``fit``; ``fit`` returns the model and keeps the
    hyper-parameters; nothing learnt in ``__init__``; ``set_params`` returns the model and
    refuses unknown names with a ``ValueError``; a clone has the same parameters, unfitted;
    a ``repr``."""
    votes = _crowd(f.n_classes(4))
    model = f.build()
    name = type(model).__name__
    try:
        model.predict(votes)
    except NotFittedError:
        pass
    else:
        raise AssertionError("predict before fit must raise crowdwise.aggregate.NotFittedError")
    params = model.get_params()
    _require(model.fit(votes) is model, "fit must return the model")
    changed = [k for k, v in model.get_params().items() if not _equal(v, params[k])]
    _require(not changed, f"fit must not change hyper-parameters, changed: {changed}")
    fresh = type(model)(**params)
    learnt = [k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")]
    _require(not learnt, f"__init__ must only store the hyper-parameters, it set {learnt}")
    not_stored = [k for k, v in params.items() if getattr(fresh, k, object()) is not v]
    _require(not not_stored, f"__init__ must store each hyper-parameter as given: {not_stored} "
                             "(a clone, as sklearn.base.clone builds it, would differ)")
    _require(model.set_params(**params) is model, "set_params must return the model")
    try:
        model.set_params(no_such_parameter=1)
    except ValueError:
        pass
    else:
        raise AssertionError("set_params(no_such_parameter=1) must raise a ValueError (crowdwise.InputError)")
    _require(not hasattr(fresh, "labels_"), "a clone must not be fitted")
    if importlib.util.find_spec("sklearn") is not None:
        from sklearn.base import clone

        copy = clone(model)
        _require(type(copy) is type(model) and not hasattr(copy, "labels_"), "sklearn.base.clone gave a fitted copy")
    text = repr(model)
    _require(text.startswith(name + "(") and text.endswith(")"), f"repr must read {name}(...), got {text!r}")


def check_predict_proba_matches_fit(f: StrategyFactory) -> None:
    """``predict_proba`` on the fitted votes gives ``probas_`` (to 1e-6)."""
    votes = _crowd(f.n_classes(4))
    m = f.fitted(votes)
    np.testing.assert_allclose(dense_probas(m.predict_proba(votes)), dense_probas(m.probas_), atol=1e-6,
                               err_msg="predict_proba(fitted votes) differs from probas_")


def check_sparse_equals_dense(f: StrategyFactory) -> None:
    """``dense=True`` and ``dense=False`` give the same soft labels, as an array and as CSR."""
    if "dense" not in f.params():
        raise CheckSkipped("no dense parameter")
    votes = _crowd(f.n_classes(4))
    d = f.fitted(votes, dense=True)
    s = f.fitted(votes, dense=False)
    _require(isinstance(d.probas_, np.ndarray), "dense=True must give a NumPy array")
    _require(sparse.issparse(s.probas_), "dense=False must give a sparse matrix")
    np.testing.assert_allclose(dense_probas(s.probas_), d.probas_, atol=1e-12, err_msg="sparse and dense differ")
    np.testing.assert_array_equal(d.labels_, s.labels_, err_msg="labels differ between dense and sparse")


def check_pickle(f: StrategyFactory) -> None:
    """A model pickled before and after ``fit`` comes back with the same parameters,
    outputs and ``predict_proba``."""
    votes = _crowd(f.n_classes(4))
    ref = f.build().get_params()
    blank = pickle.loads(pickle.dumps(f.build()))
    _require(all(_equal(v, ref[k]) for k, v in blank.get_params().items()),
             "an unfitted model changed its parameters through pickle")
    m = f.fitted(votes)
    back = pickle.loads(pickle.dumps(m))
    _require(type(back) is type(m), "pickle gave another type")
    np.testing.assert_array_equal(back.labels_, m.labels_, err_msg="labels_ changed through pickle")
    np.testing.assert_array_equal(dense_probas(back.probas_), dense_probas(m.probas_),
                                  err_msg="probas_ changed through pickle")
    np.testing.assert_allclose(dense_probas(back.predict_proba(votes)), dense_probas(m.predict_proba(votes)),
                               atol=1e-12, err_msg="predict_proba changed through pickle")


#: the least share of the tasks untied in both fits on which ``fit(A).partial_fit(B)`` and
#: a cold fit on ``A + B`` agree on the test crowd. Both climb the same objective, but where
#: it has several optima the two starts may stop at different ones; a partial_fit that lost
#: the first votes or mixed up the tasks agrees on about 1/K of them. The bound lies
#: between the two, below the agreement the strategies reach (their figures:
#: ``docs/dev/performance.md``, "Figures behind docstrings").
PARTIAL_FIT_AGREEMENT = 0.7
#: the largest relative gap between the final objectives of the two fits, above the gap of
#: two fits stopping at different optima (see the same section) and far below that of an
#: objective of the new votes alone against the union's
PARTIAL_FIT_OBJECTIVE_GAP = 0.2


def check_partial_fit(f: StrategyFactory) -> None:
    """``partial_fit``: before any fit it is ``fit``; after ``fit(A)``, ``partial_fit(B)``
    returns the model, fitted on the union of the tasks (valid soft labels, the same
    classes); votes declaring other classes are refused; it reaches the labels of a cold
    fit on the union on most tasks, and (a model recording ``log_likelihood_``) an
    objective of the union."""
    if not callable(getattr(f.build(), "partial_fit", None)):
        raise CheckSkipped("no partial_fit")
    votes = _crowd(f.n_classes(4))
    first = f.fitted(votes)
    only = f.build(random_state=0, tie="smallest").partial_fit(votes)
    np.testing.assert_allclose(dense_probas(only.probas_), dense_probas(first.probas_), atol=1e-12,
                               err_msg="partial_fit before any fit must be fit")
    mask = np.random.default_rng(0).random(votes.n_votes) < 0.7
    old, new = votes.take(mask, compact=True), votes.take(~mask, compact=True)
    m = f.fitted(old)
    _require(m.partial_fit(new) is m, "partial_fit must return the model")
    union = old.append(new)
    P = check_probas(m, union)
    if hasattr(m, "task_ids_"):
        _require(set(map(str, m.task_ids_)) == set(map(str, votes.task_ids)),
                 "after partial_fit the tasks must be those of both batches")
    if hasattr(m, "classes_"):
        _require(np.array_equal(np.asarray(m.classes_), np.asarray(votes.classes)), "partial_fit changed the classes")
    if hasattr(m, "votes_"):
        _require(m.votes_.n_votes == votes.n_votes, f"votes_ holds {m.votes_.n_votes} votes, both batches "
                                                    f"{votes.n_votes}")
    other = Votes.from_records(["x"], ["y"], [0], n_classes=votes.n_classes + 1)
    try:
        f.fitted(old).partial_fit(other)
    except ValueError:
        pass
    else:
        raise AssertionError("partial_fit of votes declaring other classes must raise a ValueError "
                             "(crowdwise.InputError)")
    cold = f.fitted(union)
    sure = untied(P) & untied(dense_probas(cold.probas_))
    agree = float(np.mean(m.labels_[sure] == cold.labels_[sure])) if sure.any() else 1.0
    _require(agree >= PARTIAL_FIT_AGREEMENT,
             f"fit(A).partial_fit(B) agrees with a cold fit on A + B on {agree:.0%} of the untied tasks "
             f"(at least {PARTIAL_FIT_AGREEMENT:.0%} expected)")
    if getattr(m, "log_likelihood_", None) and getattr(cold, "log_likelihood_", None):
        warm_end, cold_end = m.log_likelihood_[-1], cold.log_likelihood_[-1]
        _require(abs(warm_end - cold_end) <= PARTIAL_FIT_OBJECTIVE_GAP * abs(cold_end),
                 f"the objective partial_fit reached ({warm_end:.6g}) is not that of the union of the votes, "
                 f"where a cold fit reaches {cold_end:.6g}")


def check_parameter_rules(f: StrategyFactory) -> None:
    """The defaults meet the ``parameter_rules``; a value a rule refuses makes ``fit``
    raise an ``InputError`` naming the strategy, the parameter and a fix."""
    model = f.build()
    rules = type(model).all_parameter_rules()
    if not rules:
        raise CheckSkipped("no parameter_rules")
    try:
        model.validate_params()
    except InputError as exc:
        raise AssertionError(f"the default parameters break the rules: {exc}") from None
    votes = _crowd(f.n_classes(4))
    cls = type(model).__name__
    for name, rule in rules.items():
        bad = rule.bad_value()
        if bad is None:
            continue
        m = f.build()
        m.set_params(**{name: bad})
        try:
            m.fit(votes)
        except InputError as exc:
            msg = str(exc)
            _require(cls in msg and name in msg and "Fix:" in msg,
                     f"{name}={bad!r}: the error must name {cls}, {name} and a fix, got {msg!r}")
        else:
            raise AssertionError(f"fit with {name}={bad!r} ({rule.describe()} expected) did not raise an InputError")


def _invariance_checks() -> dict[str, Callable[[StrategyFactory], None]]:
    out = {}
    for how in RELABELINGS:
        for tie in ("random", "smallest"):
            fn = functools.partial(_check_invariance, how=how, tie=tie)
            fn.__doc__ = (f"The same fit after {how.replace('_', ' ')} (tie={tie!r}): labels equal on the untied "
                          "tasks (on every task with tie='smallest' when the class indices stay), "
                          "probabilities everywhere.")
            out[f"invariance:{how}:tie={tie}"] = fn
    return out


#: every check, by name, in the order :func:`check_strategy` runs them
CHECKS: dict[str, Callable[[StrategyFactory], None]] = {
    **_invariance_checks(),
    "deterministic": check_deterministic,
    "one_vote_per_task": check_one_vote_per_task,
    "ten_thousand_votes_on_a_task": check_ten_thousand_votes_on_a_task,
    "unvoted_classes_and_task_without_vote": check_unvoted_classes_and_task_without_vote,
    "sklearn_conventions": check_sklearn_conventions,
    "predict_proba_matches_fit": check_predict_proba_matches_fit,
    "sparse_equals_dense": check_sparse_equals_dense,
    "pickle": check_pickle,
    "partial_fit": check_partial_fit,
    "parameter_rules": check_parameter_rules,
}


@dataclass
class CheckReport:
    """What :func:`check_strategy` ran: the checks passed, skipped (with the reason) and
    failed (only with ``raise_on_failure=False``: name -> message)."""

    strategy: str
    passed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    failed: list[tuple[str, str]] = field(default_factory=list)


def check_strategy(strategy: str | type | Aggregator, checks: Iterable[str] | None = None, *,
                   raise_on_failure: bool = True) -> CheckReport:
    """Run the common checks on ``strategy``.

    Parameters
    ----------
    strategy : str, Aggregator subclass or Aggregator
        A registry specification (``"MV"``, ``"DS[init=mv]"``), a class (built with its
        defaults) or an instance (its hyper-parameters are copied; it is not fitted).
    checks : iterable of str, optional
        Names from :data:`CHECKS` (default: all of them, in that order).
    raise_on_failure : bool, default=True
        Raise at the first failed check; with False, run them all and list the failures
        in the report.

    Returns
    -------
    CheckReport

    Raises
    ------
    AssertionError
        A check failed (or raised: a pickling error, a crash in ``fit``...): the message
        names the strategy, the check and what went wrong.
    crowdwise.InputError
        ``strategy`` is not a strategy, or a check name is unknown.
    """
    factory = StrategyFactory(strategy)
    names = list(CHECKS) if checks is None else list(checks)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        raise InputError(f"unknown check(s) {', '.join(map(repr, unknown))}",
                         fix=f"use names from crowdwise.testing.CHECKS: {', '.join(CHECKS)}")
    report = CheckReport(factory.label)
    for name in names:
        try:
            CHECKS[name](factory)
        except CheckSkipped as why:
            report.skipped[name] = str(why)
        except Exception as exc:  # a crash inside a check is its failure
            what = str(exc) if isinstance(exc, AssertionError) else f"{type(exc).__name__}: {exc}"
            message = f"check_strategy({factory.label}): check {name!r} failed: {what}"
            if raise_on_failure:
                raise AssertionError(message) from exc
            report.failed.append((name, message))
        else:
            report.passed.append(name)
    return report
