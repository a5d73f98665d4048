"""The Votes model: the one object every part of crowdwise shares.

A crowd data set is a list of votes ``(task, worker, label)``, never a tasks x workers
matrix. :class:`Votes` stores three integer arrays of equal length (one entry per vote)
that index into the original identifiers (``task_ids``, ``worker_ids``, ``classes``).
Memory is O(votes); every algorithm works from these arrays with ``np.bincount`` or
sparse products.

Raw ids and labels become these arrays in :mod:`crowdwise.votes_encoding`, the one
implementation that :meth:`Votes.from_records` and every reader of :mod:`crowdwise.io`
call (the id order, the class rule, missing values, the duplicates policy);
:func:`build_votes` assembles the result.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from ._lazy import pd
from scipy import sparse

from .votes_encoding import (Locate, as_column, check_duplicates_policy, column, duplicates_mask,
                        encode_declared_ids, encode_ids, encode_labels, first_repeat, ids_are_unique, match_ids,
                        repeated, resolve_classes)
from .votes_encoding import describe as _kind_of
from .votes_encoding import id_array as _id_array
from .votes_encoding import show as _show
# the id and class rules, importable from here as before (their home is crowdwise.votes_encoding)
from .votes_encoding import (MAX_CLASSES, as_number, declared_count, factorize_ids, int_like,  # noqa: F401
                        label_order, match_classes, natural_sort)
from .errors import InputError

__all__ = ["Votes", "DuplicatePolicy", "factorize_ids"]

DuplicatePolicy = Literal["keep", "first", "last", "error"]
_I64_MAX = np.iinfo(np.int64).max


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only array nobody else can write to: writable input is copied first (a
    read-only view of the caller's array would still change when the caller writes)."""
    a = np.asarray(a)
    if a.flags.writeable or not a.flags.c_contiguous:
        a = np.array(a, order="C", copy=True)
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False, repr=False)
class Votes:
    """Sparse, integer, immutable crowd votes.

    Parameters
    ----------
    task, worker, label : ndarray of int, shape (n_votes,)
        Indices into ``task_ids``, ``worker_ids`` and ``classes``.
    task_ids, worker_ids : ndarray, shape (n_tasks,), (n_workers,)
        Original identifiers, kept for output. A task or worker may have no vote.
    classes : ndarray, shape (n_classes,)
        The declared classes; may contain classes nobody voted for.
    extra : mapping of str to ndarray of shape (n_votes,)
        Optional per-vote columns (``author`` flag, timestamps, AI scores...).
    name : str, optional
        Name of the data set (used in output file names).

    Use :meth:`from_records` to build one from raw identifiers.

    Examples
    --------
    >>> v = Votes.from_records(task=["a", "a", "b"], worker=["w1", "w2", "w1"],
    ...                        label=["cat", "dog", "dog"], classes=["cat", "dog", "owl"])
    >>> v
    Votes(n_votes=3, n_tasks=2, n_workers=2, n_classes=3)
    >>> v.counts().toarray()
    array([[1., 1., 0.],
           [0., 1., 0.]])
    """

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    task_ids: np.ndarray
    worker_ids: np.ndarray
    classes: np.ndarray
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)
    name: str | None = None

    def __post_init__(self) -> None:
        arrays = {}
        for nm in ("task", "worker", "label"):
            try:
                a = np.asarray(getattr(self, nm))
            except (TypeError, ValueError):  # ragged nested lists
                raise InputError(f"'{nm}' must be a flat array of integer indices, one per vote",
                                 fix="use Votes.from_records(task, worker, label) to encode raw "
                                     "identifiers") from None
            if a.ndim != 1:
                raise InputError(f"'{nm}' must be one-dimensional (one index per vote), got shape {a.shape}",
                                 fix="pass 1-D integer arrays, or use Votes.from_records(task, worker, label) "
                                     "to encode raw identifiers")
            if a.size and a.dtype.kind not in "iu":
                raise InputError(f"'{nm}' must hold integer indices, got dtype {a.dtype}",
                                 fix="use Votes.from_records(...) to encode raw identifiers")
            if a.dtype.kind == "u" and a.size and int(a.max()) > _I64_MAX:
                row = int(np.argmax(a > _I64_MAX))
                raise InputError(f"{nm} index {int(a[row])} is too large for an index", position=f"vote {row}",
                                 fix=f"indices must point into the declared {nm} ids")
            arrays[nm] = a.astype(np.int64, copy=False)
        n = arrays["task"].size
        if arrays["worker"].size != n or arrays["label"].size != n:
            raise InputError(
                f"task, worker and label must have the same length, got "
                f"{n}, {arrays['worker'].size}, {arrays['label'].size}",
                fix="give one task, one worker and one label per vote")
        id_arrays = {}
        for nm in ("task_ids", "worker_ids", "classes"):
            id_arrays[nm] = _id_array(getattr(self, nm), nm)
        for nm, ids in (("task", id_arrays["task_ids"]), ("worker", id_arrays["worker_ids"]),
                        ("label", id_arrays["classes"])):
            a = arrays[nm]
            size = len(ids)
            if a.size and (a.min() < 0 or a.max() >= size):
                row = int(np.flatnonzero((a < 0) | (a >= size))[0])
                raise InputError(
                    f"{nm} index {a[row]} is outside 0..{size - 1}", position=f"vote {row}",
                    fix=f"indices must point into the {size} declared {nm} ids")
            object.__setattr__(self, nm, _readonly(a))
        for nm in ("task_ids", "worker_ids", "classes"):
            ids = _readonly(id_arrays[nm])
            try:
                unique = ids_are_unique(ids)
            except TypeError:  # an id that is a list or a dict
                raise InputError(f"{nm} must hold single ids (numbers or texts), not lists or dicts",
                                 fix=f"pass {nm} as a flat list of numbers or texts") from None
            if not unique:
                raise InputError(f"{nm} contains {_show(first_repeat(ids))} more than once",
                                 fix=f"list each of the {nm} once")
            object.__setattr__(self, nm, ids)
        if not isinstance(self.extra, Mapping):
            raise InputError(f"extra must map column names to per-vote arrays, got {_kind_of(self.extra)}",
                             fix="pass extra={'name': values, ...} with one value per vote")
        extra = {}
        for k, v in dict(self.extra).items():
            v = np.asarray(v)
            if v.shape[:1] != (n,):
                got = f"length {len(v)}" if v.ndim else "a single value"
                raise InputError(f"per-vote column '{k}' has {got}, expected {n} (one per vote)",
                                 fix=f"give the column '{k}' one value per vote, or leave it out")
            extra[k] = _readonly(v)
        object.__setattr__(self, "extra", MappingProxyType(extra))
        if self.name is not None and not isinstance(self.name, str):
            raise InputError(f"name must be a text, got {_kind_of(self.name)}",
                             fix="name the data set with a str, e.g. name=str(x), or leave it None")

    def __reduce__(self) -> tuple:
        """Pickle support (joblib, multiprocessing): the arrays, ids and per-vote columns;
        unpickling checks them again and starts with empty caches."""
        return (Votes, (np.asarray(self.task), np.asarray(self.worker), np.asarray(self.label),
                        np.asarray(self.task_ids), np.asarray(self.worker_ids), np.asarray(self.classes),
                        dict(self.extra), self.name))

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_records(
        cls,
        task: Any,
        worker: Any,
        label: Any,
        *,
        classes: Sequence[Any] | np.ndarray | None = None,
        n_classes: int | None = None,
        task_ids: Sequence[Any] | None = None,
        worker_ids: Sequence[Any] | None = None,
        duplicates: DuplicatePolicy = "keep",
        extra: Mapping[str, Any] | None = None,
        name: str | None = None,
        source: str | None = None,
    ) -> "Votes":
        """Build votes from raw identifiers (any hashable ids, labels as given).

        The rules are those of every reader (:mod:`crowdwise.io`; the code is
        :mod:`crowdwise.votes_encoding`): ids are int64 sorted by value when every id is a plain
        integer fitting int64, else text in natural order; equal numbers are one class; a
        missing id or label (None, NaN, empty or white-space text) is an error naming its row.

        Parameters
        ----------
        task, worker, label : array-like of length n_votes
        classes : sequence, optional
            Declared classes in their index order. A label matches a class equal to it,
            written the same, or the same number (``"1.0"`` is class ``1``).
        n_classes : int, optional
            Declare classes ``0..n_classes-1`` (labels must be integers in that range).
            When neither is given, classes are the labels seen, in natural sorted order.
        task_ids, worker_ids : sequence, optional
            Declare ids that may have no vote (kept in the output). Must contain all ids
            seen (an id matches one equal to it or written the same, as in
            :meth:`match_ids`); the order given is kept.
        duplicates : {"keep", "first", "last", "error"}
            What to do with several votes of one worker on one task: keep them all
            (default), keep the first or the last in row order, or raise.
        extra : mapping of per-vote columns
        name : data-set name
        source : file name used in error messages
        """
        check_duplicates_policy(duplicates)
        task = column(task, "task", source=source)
        worker = column(worker, "worker", source=source)
        label = column(label, "label", source=source)
        n = len(task)
        if len(worker) != n or len(label) != n:
            raise InputError(
                f"task, worker and label columns differ in length ({n}, {len(worker)}, {len(label)})",
                source=source, fix="give one task, one worker and one label per vote (columns of equal length)")
        if name is not None and not isinstance(name, str):
            raise InputError(f"name must be a text, got {_kind_of(name)}", source=source,
                             fix="name the data set with a str, e.g. name=str(x), or leave it None")
        declared = resolve_classes(classes, n_classes, source=source)
        ids = []
        for col, given, what in ((task, task_ids, "task"), (worker, worker_ids, "worker")):
            if given is None:
                ids.append(encode_ids(col, what=what, source=source, locate=_row))
            else:
                ids.append(encode_declared_ids(col, given, what=what, source=source, locate=_row))
        (t_codes, t_ids), (w_codes, w_ids) = ids
        l_codes, cls_arr = encode_labels(label, classes=declared, as_indices=False, source=source, locate=_row)
        if extra is not None and not isinstance(extra, Mapping):
            raise InputError(f"extra must map column names to per-vote columns, got {_kind_of(extra)}",
                             source=source, fix="pass extra={'name': values, ...} with one value per vote")
        extra_arrays = {}
        for k, v in (extra or {}).items():
            v = np.asarray(as_column(v, f"per-vote column {k!r}", source=source))
            if len(v) != n:
                raise InputError(f"per-vote column '{k}' has length {len(v)}, expected {n}", source=source,
                                 fix=f"give the column '{k}' one value per vote, or leave it out")
            extra_arrays[k] = v
        votes = build_votes(t_codes, t_ids, w_codes, w_ids, l_codes, cls_arr, extra=extra_arrays,
                            duplicates=duplicates, name=name, source=source)
        if type(votes) is not cls:  # a subclass of Votes
            votes = cls(task=votes.task, worker=votes.worker, label=votes.label, task_ids=votes.task_ids,
                        worker_ids=votes.worker_ids, classes=votes.classes, extra=dict(votes.extra), name=name)
        return votes

    # ------------------------------------------------------------------ sizes
    @property
    def n_votes(self) -> int:
        return int(self.task.size)

    @property
    def n_tasks(self) -> int:
        return int(len(self.task_ids))

    @property
    def n_workers(self) -> int:
        return int(len(self.worker_ids))

    @property
    def n_classes(self) -> int:
        return int(len(self.classes))

    def __len__(self) -> int:
        return self.n_votes

    def __repr__(self) -> str:
        nm = f"name={self.name!r}, " if self.name else ""
        return (f"Votes({nm}n_votes={self.n_votes}, n_tasks={self.n_tasks}, "
                f"n_workers={self.n_workers}, n_classes={self.n_classes})")

    # ------------------------------------------------------------------ statistics
    def counts(self, weights: np.ndarray | None = None) -> sparse.csr_array:
        """Per-task class totals as a sparse ``(n_tasks, n_classes)`` matrix.

        ``weights`` (one per vote) replaces the count of 1 per vote.
        """
        try:
            w = None if weights is None else np.asarray(weights, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"weights must be numbers, one per vote, got {_kind_of(weights)}",
                             fix=f"pass a 1-D array of {self.n_votes} numbers, one weight per vote") from None
        if w is not None and w.shape != (self.n_votes,):
            raise InputError(f"weights must have one entry per vote ({self.n_votes}), got shape {w.shape}",
                             fix=f"pass a 1-D array of {self.n_votes} numbers, one weight per vote")
        indptr, indices, position = self.task_label_pattern()
        data = np.bincount(position, weights=w, minlength=indices.size).astype(float, copy=False)
        m = sparse.csr_array((data, indices, indptr), shape=(self.n_tasks, self.n_classes), copy=False)
        m.has_canonical_format = True  # sorted, no duplicate entries by construction
        return m

    def task_label_pattern(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR pattern of the distinct (task, label) cells, computed once and cached.

        Returns ``(indptr, indices, position)``: the CSR row pointer and column indices of
        the ``(n_tasks, n_classes)`` matrix of voted cells, and for each vote the index of
        its cell. Per-task class totals of any per-vote weight are then one
        ``np.bincount(position, weights)``: every strategy that re-weights votes at each
        iteration pays the sort only once.
        """
        cached = self.__dict__.get("_task_label_pattern")
        if cached is None:
            key = self.task * max(self.n_classes, 1) + self.label
            cells, position = np.unique(key, return_inverse=True)
            rows, indices = np.divmod(cells, max(self.n_classes, 1))
            indptr = np.zeros(self.n_tasks + 1, dtype=np.int64)
            np.cumsum(np.bincount(rows, minlength=self.n_tasks), out=indptr[1:])
            cached = (_readonly(indptr), _readonly(indices.astype(np.int32 if self.n_classes < 2**31 else np.int64)),
                      _readonly(position.astype(np.int64, copy=False)))
            object.__setattr__(self, "_task_label_pattern", cached)
        return cached

    def votes_per_task(self) -> np.ndarray:
        """Number of votes of each task, shape (n_tasks,)."""
        return np.bincount(self.task, minlength=self.n_tasks)

    def votes_per_worker(self) -> np.ndarray:
        """Number of votes of each worker, shape (n_workers,)."""
        return np.bincount(self.worker, minlength=self.n_workers)

    def duplicated(self) -> np.ndarray:
        """Boolean mask of votes repeating an earlier (task, worker) pair."""
        return repeated(self.task, self.worker, self.n_workers, keep="first")

    # ------------------------------------------------------------------ transforms
    def take(self, index: np.ndarray, *, compact: bool = False) -> "Votes":
        """A subset of the votes (boolean mask or integer index).

        With ``compact=True`` tasks and workers left without a vote are dropped from the
        id lists; otherwise the id lists are kept as they are.
        """
        index = _vote_index(index, self.n_votes)
        t, w, lab = self.task[index], self.worker[index], self.label[index]
        extra = {k: v[index] for k, v in self.extra.items()}
        t_ids, w_ids = self.task_ids, self.worker_ids
        if compact:
            tu, t = np.unique(t, return_inverse=True)
            wu, w = np.unique(w, return_inverse=True)
            t_ids, w_ids = t_ids[tu], w_ids[wu]
        return Votes(task=t, worker=w, label=lab, task_ids=t_ids, worker_ids=w_ids,
                     classes=self.classes, extra=extra, name=self.name)

    def with_extra(self, **columns: Any) -> "Votes":
        """A copy with per-vote columns added or replaced."""
        extra = dict(self.extra)
        extra.update({k: np.asarray(v) for k, v in columns.items()})
        return Votes(task=self.task, worker=self.worker, label=self.label, task_ids=self.task_ids,
                     worker_ids=self.worker_ids, classes=self.classes, extra=extra, name=self.name)

    def append(self, other: "Votes") -> "Votes":
        """These votes followed by those of ``other``, on the union of their ids.

        Tasks and workers of ``self`` keep their indices; ids only ``other`` has are
        appended in its order (an id matches as in :meth:`match_ids`: ``"7"`` is ``7``).
        Classes must be the same. Per-vote columns present in both are kept. This is how
        ``partial_fit`` continues a fit on ``model.votes_`` plus new votes.

        Examples
        --------
        >>> a = Votes.from_records(["t1", "t2"], ["w1", "w1"], [0, 1], n_classes=2)
        >>> b = Votes.from_records(["t2", "t3"], ["w2", "w1"], [1, 1], n_classes=2)
        >>> m = a.append(b)
        >>> m.task_ids.tolist(), m.task.tolist(), m.worker.tolist()
        (['t1', 't2', 't3'], [0, 1, 1, 2], [0, 0, 1, 0])
        """
        if not np.array_equal(np.asarray(other.classes), np.asarray(self.classes)):
            raise InputError("the new votes declare other classes than the votes they join (a fitted model's)",
                             fix="build them with classes=model.classes_ (or classes=votes.classes)")

        def union(old_ids: np.ndarray, new_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            idx = Votes.match_ids(new_ids, old_ids)
            fresh = idx < 0
            idx[fresh] = len(old_ids) + np.arange(int(fresh.sum()))
            ids = np.asarray(old_ids)
            add = np.asarray(new_ids)[fresh]
            if add.size:
                if ids.dtype.kind != add.dtype.kind:
                    ids, add = ids.astype(str), add.astype(str)
                ids = np.concatenate([ids, add])
            return idx, ids

        t_map, t_ids = union(self.task_ids, other.task_ids)
        w_map, w_ids = union(self.worker_ids, other.worker_ids)
        extra = {k: np.concatenate([self.extra[k], other.extra[k]]) for k in self.extra if k in other.extra}
        return Votes(task=np.concatenate([self.task, t_map[other.task]]),
                     worker=np.concatenate([self.worker, w_map[other.worker]]),
                     label=np.concatenate([self.label, other.label]),
                     task_ids=t_ids, worker_ids=w_ids, classes=self.classes, extra=extra, name=self.name)

    # ------------------------------------------------------------------ ids
    @staticmethod
    def match_ids(ids: Any, known: Any) -> np.ndarray:
        """Position of each of ``ids`` among ``known`` (int64, -1 when absent).

        An id matches an equal id first; one that matches none matches the id written
        with the same text (``"7"`` and ``7``: the same worker read as a number at fit time
        and as text later). The one rule by which fitted models find the workers, tasks,
        gold labels and worker histories of new votes.

        Examples
        --------
        >>> Votes.match_ids(["b", 7, "x"], np.array(["7", "a", "b"], dtype=object)).tolist()
        [2, 0, -1]
        """
        return match_ids(ids, known)

    def to_frame(self) -> pd.DataFrame:
        """Long table with the original ids: columns ``task, worker, label`` (+ extras)."""
        df = pd.DataFrame({
            "task": self.task_ids[self.task],
            "worker": self.worker_ids[self.worker],
            "label": self.classes[self.label],
        })
        for k, v in self.extra.items():
            df[k] = v
        return df

    def equals(self, other: "Votes", *, check_order: bool = False) -> bool:
        """Same votes (as a multiset of id triples), ids and classes."""
        if not isinstance(other, Votes):
            return False
        if not (np.array_equal(self.classes, other.classes)
                and np.array_equal(np.sort(self.task_ids.astype(str)), np.sort(other.task_ids.astype(str)))
                and np.array_equal(np.sort(self.worker_ids.astype(str)), np.sort(other.worker_ids.astype(str)))):
            return False
        a, b = self.to_frame(), other.to_frame()
        if len(a) != len(b):
            return False
        if not check_order:
            a = a.astype(str).sort_values(list(a.columns)).reset_index(drop=True)
            b = b.astype(str).sort_values(list(b.columns)).reset_index(drop=True)
        return bool(a.astype(str).equals(b.astype(str)))


def _vote_index(index: Any, n: int) -> np.ndarray:
    """A boolean mask of length ``n`` or integer positions in ``-n..n-1``; InputError otherwise."""
    fix = f"pass a boolean mask of length {n} (one per vote) or integer positions 0..{n - 1}"
    if index is None or isinstance(index, (str, bytes, Mapping, set, frozenset)):
        raise InputError(f"votes are selected by a mask or positions, got {_kind_of(index)}", fix=fix)
    try:
        arr = np.asarray(list(index) if isinstance(index, Iterator) else index)
    except (TypeError, ValueError):
        raise InputError("votes are selected by a flat mask or list of positions", fix=fix) from None
    if arr.ndim != 1:
        raise InputError(f"votes are selected by a 1-D mask or positions, got shape {arr.shape}", fix=fix)
    if arr.dtype.kind == "b":
        if arr.size != n:
            raise InputError(f"the mask has {arr.size} entries for {n} votes", fix=fix)
        return arr
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise InputError(f"vote positions must be integers, got dtype {arr.dtype}", fix=fix)
    bad = (arr < -n) | (arr >= n)
    if bad.any():
        raise InputError(f"vote position {int(arr[np.argmax(bad)])} is outside 0..{n - 1}", fix=fix)
    return arr


def _row(r: int) -> str:
    return f"row {r}"


def build_votes(task: np.ndarray, task_ids: np.ndarray, worker: np.ndarray, worker_ids: np.ndarray,
                label: np.ndarray, classes: np.ndarray, *, extra: Mapping[str, np.ndarray] | None = None,
                duplicates: str = "keep", name: str | None = None, source: str | None = None,
                locate: Locate = _row) -> Votes:
    """The Votes of encoded columns, with the duplicates policy applied
    (:func:`~crowdwise.votes_encoding.duplicates_mask`; rows reported through ``locate``): the
    last step of :meth:`Votes.from_records` and of every reader."""
    votes = Votes(task=task, worker=worker, label=label, task_ids=task_ids, worker_ids=worker_ids,
                  classes=classes, extra=dict(extra or {}), name=name)
    keep = duplicates_mask(votes.task, votes.worker, votes.task_ids, votes.worker_ids, duplicates,
                           source=source, locate=locate)
    return votes if keep is None else votes.take(keep)
