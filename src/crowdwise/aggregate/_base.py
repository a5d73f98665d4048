"""The strategy contract shared by every aggregation strategy.

scikit-learn's conventions: hyper-parameters stored as given in ``__init__``, nothing
learnt there; ``fit(votes)`` validates once and returns ``self``; learnt state lives in
attributes ending with ``_``: ``probas_`` (soft labels), ``labels_`` (hard labels) and
model-specific ones (``weights_``, ``valid_``, ``confusions_``...).
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

import numpy as np
from scipy import sparse

from ..errors import CrowdwiseError, InputError
from ..votes import Votes

__all__ = [
    "Aggregator",
    "NotFittedError",
    "DENSE_PROBAS_LIMIT",
    "check_random_state",
    "class_ranks",
    "argmax_ties",
    "argmax_shares",
    "normalize_rows",
    "as_probas",
    "dense_probas",
    "worker_values_for",
    "fit_progress",
]


#: the progress callback of the enclosing fit_progress block (per thread / async context)
_PROGRESS: contextvars.ContextVar[Callable[[int, int, float | None], None] | None] = \
    contextvars.ContextVar("crowdwise_fit_progress", default=None)


@contextmanager
def fit_progress(callback: Callable[[int, int, float | None], None] | None) -> Iterator[None]:
    """Call ``callback(iteration, max_iter, objective)`` after each iteration of the fits run
    inside the block (iterative strategies; ``objective`` is None when a strategy has none).

    The model is not modified, so a fit stays reentrant and picklable.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> from crowdwise.aggregate import DawidSkene
    >>> seen = []
    >>> v = Votes.from_records([0, 0, 1, 1], ["a", "b", "a", "b"], [0, 0, 1, 0])
    >>> with fit_progress(lambda it, n, obj: seen.append(it)):
    ...     _ = DawidSkene(max_iter=5).fit(v)
    >>> seen[:2]
    [1, 2]
    """
    token = _PROGRESS.set(callback)
    try:
        yield
    finally:
        _PROGRESS.reset(token)

#: Above this many entries (n_tasks x n_classes), soft labels are kept as a sparse CSR
#: matrix instead of a dense array (2**25 float64 entries = 256 MiB).
DENSE_PROBAS_LIMIT = 2**25


class NotFittedError(CrowdwiseError, AttributeError):
    """The strategy was used before ``fit``."""


def check_random_state(seed: None | int | np.random.Generator) -> np.random.Generator:
    """A numpy Generator from a seed; never touches the global RNG."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (int, np.integer)):
        return np.random.default_rng(seed)
    raise InputError(f"random_state must be None, an int or a numpy Generator, got {seed!r}")


def class_ranks(classes: np.ndarray) -> np.ndarray:
    """Rank of each class id among the sorted ids (``str`` order when they do not sort).

    A key for per-class random draws (and fingerprints) that follows the class, not its
    index: with the classes listed in another order, every class keeps its rank. Classes
    inferred from the votes are listed in sorted order: there the rank is usually the
    index.

    Examples
    --------
    >>> class_ranks(np.array(["dog", "cat", "owl"])).tolist()
    [1, 0, 2]
    """
    ids = np.asarray(classes)
    try:
        order = np.argsort(ids, kind="stable")
    except TypeError:  # ids of mixed types
        order = np.argsort(ids.astype(str), kind="stable")
    rank = np.empty(ids.size, np.int64)
    rank[order] = np.arange(ids.size)
    return rank


def normalize_rows(m: np.ndarray | sparse.sparray, empty: str = "uniform") -> np.ndarray | sparse.csr_array:
    """Rows scaled to sum to 1; an all-zero row becomes uniform (``empty="uniform"``).

    Works on dense arrays and CSR matrices; the sparse form stays sparse (an empty row of
    a sparse matrix stays empty and is read as uniform by :func:`dense_probas`).
    """
    if sparse.issparse(m):
        m = sparse.csr_array(m, dtype=float, copy=True)
        s = np.asarray(m.sum(axis=1)).ravel()
        nz = s > 0
        scale = np.zeros_like(s)
        scale[nz] = 1.0 / s[nz]
        m.data *= np.repeat(scale, np.diff(m.indptr))
        return m
    m = np.asarray(m, dtype=float)
    s = m.sum(axis=1, keepdims=True)
    out = np.divide(m, s, out=np.zeros_like(m), where=s > 0)
    if empty == "uniform" and m.shape[1]:
        out[(s <= 0).ravel()] = 1.0 / m.shape[1]
    return out


def as_probas(scores: sparse.sparray | np.ndarray, *, dense: bool | None = None) -> np.ndarray | sparse.csr_array:
    """Normalised soft labels in the form the size calls for.

    Dense ``(n_tasks, K)`` array when ``n_tasks * K <= DENSE_PROBAS_LIMIT`` (or
    ``dense=True``), CSR matrix otherwise (or ``dense=False``). In the sparse form an
    empty row stands for the uniform distribution.
    """
    n, k = scores.shape
    if dense is None:
        dense = n * k <= DENSE_PROBAS_LIMIT
    if dense:
        arr = scores.toarray() if sparse.issparse(scores) else np.asarray(scores, dtype=float)
        return normalize_rows(arr)
    return normalize_rows(sparse.csr_array(scores))


def dense_probas(probas: np.ndarray | sparse.sparray) -> np.ndarray:
    """Dense copy of soft labels; empty sparse rows become uniform."""
    if not sparse.issparse(probas):
        return np.asarray(probas, dtype=float)
    out = probas.toarray()
    return normalize_rows(out)


def argmax_ties(
    scores: np.ndarray | sparse.sparray,
    tie: str = "random",
    random_state: None | int | np.random.Generator = None,
    rtol: float = 1e-12,
) -> np.ndarray:
    """Row-wise argmax with an explicit tie rule, dense or CSR, fully vectorised.

    Entries within ``rtol`` (relative) of the row maximum are tied. ``tie="smallest"``
    takes the smallest class index among them, ``tie="random"`` draws one uniformly with
    ``random_state``. A row with no vote (all zero; for a sparse matrix, no positive
    entry) is tied over all classes. Sparse scores must be non-negative.

    Examples
    --------
    >>> argmax_ties(np.array([[1., 3., 3.], [2., 0., 1.], [0., 0., 0.]]), tie="smallest").tolist()
    [1, 0, 0]
    """
    if tie not in ("random", "smallest"):
        raise InputError(f"tie={tie!r} is not a tie rule", fix="use 'random' or 'smallest'")
    rng = check_random_state(random_state) if tie == "random" else None
    n, k = scores.shape
    if sparse.issparse(scores):
        m = sparse.csr_array(scores)
        m.sum_duplicates()
        m.sort_indices()
        lengths = np.diff(m.indptr)
        row_of = np.repeat(np.arange(n), lengths)
        data = m.data
        starts = m.indptr[:-1]
        has = lengths > 0
        rowmax = np.full(n, -np.inf)
        if data.size:
            rowmax[has] = np.maximum.reduceat(data, starts[has])
        ok = (data >= rowmax[row_of] - rtol * np.abs(rowmax[row_of])) & (data > 0)
        if tie == "smallest":
            key = np.where(ok, -m.indices.astype(float), -np.inf)
        else:
            key = np.where(ok, rng.random(data.size), -np.inf)
        best = np.full(n, -np.inf)
        if data.size:
            best[has] = np.maximum.reduceat(key, starts[has])
        pick = ok & (key == best[row_of])
        labels = np.zeros(n, dtype=np.int64)
        # first picked entry of each row (keys are distinct within a row almost surely)
        picked = np.flatnonzero(pick)  # sorted by row, as CSR entries are
        rp = row_of[picked]
        first = np.r_[True, rp[1:] != rp[:-1]] if rp.size else np.zeros(0, bool)
        rows_picked = rp[first]
        labels[rows_picked] = m.indices[picked[first]]
        empty = np.ones(n, dtype=bool)
        empty[rows_picked] = False
    else:
        s = np.asarray(scores)  # float64 block by block: no full copy of float32 or int scores
        labels = np.zeros(n, dtype=np.int64)
        empty = np.ones(n, dtype=bool)
        # blocks of rows keep the (rows, K) temporaries cache-sized instead of 3 arrays the
        # size of the scores; the random draws come in the same order as one (n, K) draw
        step = max(1, (1 << 16) // max(k, 1))
        for a in range(0, n if k else 0, step):
            b = np.asarray(s[a:a + step], dtype=float)
            rowmax = b.max(axis=1)
            ok = b >= (rowmax - rtol * np.abs(rowmax))[:, None]
            empty[a:a + step] = ~np.any(b != 0, axis=1)
            if tie == "smallest":
                labels[a:a + step] = np.argmax(ok, axis=1)
            else:
                labels[a:a + step] = np.argmax(np.where(ok, rng.random(b.shape), -1.0), axis=1)
    if empty.any():
        if tie == "smallest" or k == 0:
            labels[empty] = 0
        else:
            labels[empty] = rng.integers(0, k, size=int(empty.sum()))
    return labels


def argmax_shares(scores: np.ndarray | sparse.sparray, rtol: float = 1e-12) -> np.ndarray | sparse.csr_array:
    """The tied maxima of each row sharing its mass: ``1/m`` on each of the ``m`` entries
    :func:`argmax_ties` calls tied at the top of the row, 0 elsewhere.

    It is what ``argmax_ties(tie="random")`` gives on average, without drawing: a step that
    feeds a hard label back into a fit (a majority-vote start, a C-step, agreement with a
    majority vote) uses it so that a tie decides nothing by index or by the order in which
    a random stream reaches the rows. Renaming or reordering tasks, workers or classes then
    cannot change the fit. An untied row is the one-hot vector of its argmax.

    Dense scores give a dense array, a row with no non-zero entry being tied over all
    classes (uniform). CSR scores (non-negative) give a CSR matrix on the same pattern
    (explicit zeros kept, so that ``out.data`` lines up with ``scores.data`` of a
    canonical matrix); a row without a positive entry stays all zero (read as uniform, as
    by :func:`dense_probas`).

    Examples
    --------
    >>> argmax_shares(np.array([[1., 3., 3.], [2., 0., 1.], [0., 0., 0.]])).round(3).tolist()
    [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0], [0.333, 0.333, 0.333]]
    """
    n, k = scores.shape
    if sparse.issparse(scores):
        m = sparse.csr_array(scores, dtype=float, copy=True)
        m.sum_duplicates()
        m.sort_indices()
        lengths = np.diff(m.indptr)
        row_of = np.repeat(np.arange(n), lengths)
        has = lengths > 0
        rowmax = np.full(n, -np.inf)
        if m.data.size:
            rowmax[has] = np.maximum.reduceat(m.data, m.indptr[:-1][has])
        top = rowmax[row_of]
        ok = (m.data >= top - rtol * np.abs(top)) & (m.data > 0)
        n_top = np.bincount(row_of, weights=ok, minlength=n)
        m.data = np.divide(ok, n_top[row_of], out=np.zeros(m.data.size), where=ok)
        return m
    s = np.asarray(scores)
    out = np.zeros((n, k))
    step = max(1, (1 << 16) // max(k, 1))
    for a in range(0, n if k else 0, step):
        b = np.asarray(s[a:a + step], dtype=float)
        rowmax = b.max(axis=1)
        ok = b >= (rowmax - rtol * np.abs(rowmax))[:, None]
        ok[~np.any(b != 0, axis=1)] = True
        out[a:a + step] = ok / ok.sum(axis=1, keepdims=True)
    return out


class Aggregator:
    """Base class of aggregation strategies.

    Subclasses implement :meth:`_fit` which sets ``probas_`` and ``labels_`` (and
    model-specific attributes). Class attributes:

    ``name``
        registry name (``"MV"``), and ``description`` a one-line summary.
    ``scales_to_many_classes``
        True when memory is O(votes) whatever K (no K x K matrix per worker).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    scales_to_many_classes: ClassVar[bool] = True
    soft: ClassVar[bool] = True
    #: False for latent-variable models whose estimate with a single vote per task is not
    #: identifiable (e.g. Dawid-Skene may then relabel tasks): the common checks then only
    #: require finite, normalised outputs.
    single_vote_is_label: ClassVar[bool] = True
    #: True for methods defined for two classes only (the common checks then use K = 2).
    binary_only: ClassVar[bool] = False
    #: False for a method that is by nature not symmetric in the classes (e.g. a prior
    #: ordered by class index): the common checks then skip listing the classes in
    #: another order. Say why in a comment where a strategy sets it.
    class_symmetric: ClassVar[bool] = True

    # -------------------------------------------------------------- sklearn-like params
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p.name for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__``."""
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params: Any) -> "Aggregator":
        """Set hyper-parameters (unknown names raise)."""
        valid = set(self._param_names())
        for k, v in params.items():
            if k not in valid:
                raise InputError(f"{type(self).__name__} has no parameter {k!r}",
                                 fix=f"use one of {', '.join(sorted(valid)) or '(none)'}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        sig = inspect.signature(type(self).__init__)
        parts = []
        for p in self._param_names():
            v = getattr(self, p, None)
            default = sig.parameters[p].default
            if default is inspect.Parameter.empty or not _same(v, default):
                parts.append(f"{p}={v!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    # -------------------------------------------------------------- API
    def fit(self, votes: Votes) -> "Aggregator":
        """Learn from ``votes``; returns ``self``."""
        votes = self._check_votes(votes)
        self._remember_ids(votes)
        self._fit(votes)
        return self

    def fit_predict(self, votes: Votes) -> np.ndarray:
        """``fit(votes).labels_``."""
        return self.fit(votes).labels_

    def fit_predict_proba(self, votes: Votes) -> np.ndarray | sparse.csr_array:
        """``fit(votes).probas_``."""
        return self.fit(votes).probas_

    def predict_proba(self, votes: Votes) -> np.ndarray | sparse.csr_array:
        """Soft labels of the tasks of ``votes`` using the fitted worker parameters.

        Strategies without worker parameters simply aggregate ``votes``.
        """
        self._check_fitted()
        votes = self._check_votes(votes)
        if votes.n_classes != len(self.classes_) or not np.array_equal(
                np.asarray(votes.classes).astype(str), np.asarray(self.classes_).astype(str)):
            raise InputError("new votes declare other classes than the fitted ones "
                             f"({votes.n_classes} vs {len(self.classes_)})",
                             fix="build them with classes=model.classes_")
        return self._predict_proba(votes)

    def predict(self, votes: Votes) -> np.ndarray:
        """Hard labels of the tasks of ``votes`` (tie rule of the strategy)."""
        return argmax_ties(self.predict_proba(votes), tie=getattr(self, "tie", "smallest"),
                           random_state=getattr(self, "random_state", None))

    # -------------------------------------------------------------- hooks
    def _tick(self, iteration: int, total: int, objective: float | None = None) -> None:
        """Report an iteration to the callback of the enclosing :func:`fit_progress`
        block (the CLI's progress bar uses it); nothing otherwise."""
        callback = _PROGRESS.get()
        if callback is not None:
            callback(iteration, total, objective)

    def _fit(self, votes: Votes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_proba(self, votes: Votes) -> np.ndarray | sparse.csr_array:
        return type(self)(**self.get_params()).fit(votes).probas_

    def _remember_ids(self, votes: Votes) -> None:
        """The sizes, classes and ids of the votes of the fit (``n_tasks_``, ``classes_``...)."""
        self.n_tasks_, self.n_classes_ = votes.n_tasks, votes.n_classes
        self.classes_ = votes.classes
        self.task_ids_ = votes.task_ids
        self.worker_ids_ = votes.worker_ids

    def _check_votes(self, votes: Votes) -> Votes:
        if not isinstance(votes, Votes):
            raise InputError(f"{type(self).__name__}.fit expects a crowdwise.Votes, got {type(votes).__name__}",
                             fix="build one with crowdwise.Votes.from_records(...) or crowdwise.io.load_votes(path)")
        return votes

    def _check_fitted(self) -> None:
        if not hasattr(self, "labels_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet: call fit(votes) first.")


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return a is b


def worker_values_for(model: Aggregator, votes: Votes, values: np.ndarray, default: float) -> np.ndarray:
    """Per-worker values learnt by a fitted ``model``, looked up by the worker ids of ``votes``.

    Used by ``predict_proba(new_votes)`` to reuse fitted worker parameters; workers unseen
    at fit time get ``default``. Ids match as by :meth:`~crowdwise.Votes.match_ids` (the
    rule of every fitted model: ``"7"`` is worker ``7``). Returns an array of shape
    ``(votes.n_workers,)``.
    """
    out = np.full(votes.n_workers, default, dtype=float)
    fitted_ids = getattr(model, "worker_ids_", None)
    if fitted_ids is None or votes.n_workers == 0:
        return out
    idx = Votes.match_ids(votes.worker_ids, fitted_ids)
    known = idx >= 0
    out[known] = np.asarray(values, dtype=float)[idx[known]]
    return out
