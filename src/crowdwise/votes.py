"""The Votes model: the one object every part of crowdwise shares.

A crowd data set is a list of votes ``(task, worker, label)``, never a tasks x workers
matrix. :class:`Votes` stores three integer arrays of equal length (one entry per vote)
that index into the original identifiers (``task_ids``, ``worker_ids``, ``classes``).
Memory is O(votes); every algorithm works from these arrays with ``np.bincount`` or
sparse products.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from ._lazy import pd
from scipy import sparse

from .errors import InputError

__all__ = ["Votes", "DuplicatePolicy", "factorize_ids"]

DuplicatePolicy = Literal["keep", "first", "last", "error"]
_DUPLICATE_POLICIES = ("keep", "first", "last", "error")


def _readonly(a: np.ndarray) -> np.ndarray:
    """A read-only array nobody else can write to: writable input is copied first (a
    read-only view of the caller's array would still change when the caller writes)."""
    a = np.asarray(a)
    if a.flags.writeable or not a.flags.c_contiguous:
        a = np.array(a, order="C", copy=True)
        a.flags.writeable = False
    return a


def _show(x: Any) -> str:
    """repr of a value without numpy's type wrapper (``'a'``, not ``np.str_('a')``)."""
    return repr(x.item() if isinstance(x, np.generic) else x)


def _natural_uniques(values: Any) -> np.ndarray | None:
    """Integer version of ``values`` when every value is an integer written plainly.

    ``"10"`` becomes 10 so that ids sort 2 < 10, but ``"007"`` stays a string (turning it
    into 7 would merge it with ``"7"``). Returns None when the values are not all such
    integers.
    """
    s = pd.Series(values, copy=False)
    if s.dtype.kind in "iu":
        return s.to_numpy()
    if s.dtype.kind == "b":
        return s.to_numpy().astype(np.int64)
    if s.dtype.kind == "f":
        arr = s.to_numpy()
        if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            return arr.astype(np.int64)
        return None
    if s.dtype.kind not in "OUT" and str(s.dtype) not in ("string", "str"):
        return None
    if len(s) == 0:
        return None
    as_str = s.astype(str)
    num = pd.to_numeric(as_str, errors="coerce")
    if num.isna().any():
        return None
    numv = num.to_numpy()
    if not np.all(numv == np.round(numv)) or np.abs(numv).max() > 2**62:
        return None
    ints = numv.astype(np.int64)
    # only when writing the integer back gives the same text ("007" != "7", "1.0" != "1")
    if not np.array_equal(pd.Series(ints).astype(str).to_numpy(), as_str.to_numpy()):
        return None
    return ints


def factorize_ids(values: Any, *, what: str = "id", source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Map identifiers to ``0..n-1`` in natural sorted order.

    Integer-looking ids sort numerically (``2 < 10``), other ids sort as text. Sorting
    (rather than order of appearance) makes every result independent of row order.

    Returns
    -------
    codes : ndarray of int64, same length as ``values``
    uniques : ndarray, the sorted distinct ids (int64 when integer-like, else str)

    Examples
    --------
    >>> codes, uniq = factorize_ids(["10", "2", "10", "b"])
    >>> codes.tolist(), uniq.tolist()
    ([0, 1, 0, 2], ['10', '2', 'b'])
    >>> codes, uniq = factorize_ids(["10", "2", "10"])
    >>> codes.tolist(), uniq.tolist()
    ([1, 0, 1], [2, 10])
    """
    s = pd.Series(values, copy=False)
    missing = s.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InputError(
            f"{what} is missing (NaN or empty) in {int(missing.sum())} row(s), the first at row {row}",
            source=source,
            position=f"row {row}",
            fix=f"give every vote a {what}, or drop those rows",
        )
    # hash once, then order only the distinct values (fast on millions of votes)
    codes, uniq = pd.factorize(s, sort=False)
    uniq = np.asarray(uniq)
    ints = _natural_uniques(uniq)
    key = ints if ints is not None else np.asarray(uniq, dtype=object).astype(str)
    # np.unique also merges values that differ in type but not in text (1 and "1")
    ids, rank = np.unique(key, return_inverse=True)
    return rank.astype(np.int64, copy=False)[codes], ids


def _encode_labels(
    label: Any, classes: np.ndarray | None, source: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Encode labels as indices into ``classes`` (inferred when None)."""
    if classes is None:
        return factorize_ids(label, what="label", source=source)
    classes = np.asarray(classes)
    s = pd.Series(label, copy=False)
    if s.isna().any():
        row = int(np.flatnonzero(s.isna().to_numpy())[0])
        raise InputError("label is missing", source=source, position=f"row {row}",
                         fix="give every vote a label, or drop those rows")
    lookup = pd.Index(classes)
    if not lookup.is_unique:
        raise InputError("declared classes contain duplicates", source=source,
                         fix="list each class once")
    codes = lookup.get_indexer(s.to_numpy())
    if (codes < 0).any():
        # the text of an integer label may differ from the declared ints ("3" vs 3)
        alt = _natural_uniques(s)
        if alt is not None and classes.dtype.kind in "iu":
            codes = lookup.get_indexer(alt)
        elif classes.dtype.kind in "iu":
            pass
        else:
            codes2 = pd.Index(classes.astype(str)).get_indexer(s.astype(str).to_numpy())
            codes = np.where(codes < 0, codes2, codes)
    bad = codes < 0
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"label {_show(s.iloc[row])} is not one of the {len(classes)} declared classes "
            f"({', '.join(map(str, classes[:10]))}{', ...' if len(classes) > 10 else ''})",
            source=source,
            position=f"row {row}",
            fix="correct the label, or declare the class (metadata.json 'n_classes'/'classes', or classes=...)",
        )
    return codes.astype(np.int64), classes


def ids_are_unique(ids: np.ndarray) -> bool:
    """No id listed twice. Numbers are checked with NumPy (O(n) when already increasing,
    as the readers make them), text with a set; other ids (objects) through a pandas
    hash index. (pandas is imported only when needed: see ``crowdwise._lazy``.)"""
    if ids.ndim == 1 and ids.dtype.kind in "iufb":
        if ids.size < 2:
            return True
        if ids.dtype.kind != "f" and bool(np.all(ids[1:] > ids[:-1])):
            return True
        return bool(np.unique(ids).size == ids.size)  # NaN counts once, as in pandas
    if ids.ndim == 1 and ids.dtype.kind in "US":  # text: a hash set, as fast as pandas' index
        return len(set(ids.tolist())) == ids.size
    return bool(pd.Index(ids).is_unique)


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
            a = np.asarray(getattr(self, nm))
            if a.ndim != 1:
                raise InputError(f"'{nm}' must be one-dimensional, got shape {a.shape}")
            if a.size and a.dtype.kind not in "iu":
                raise InputError(f"'{nm}' must hold integer indices, got dtype {a.dtype}",
                                 fix="use Votes.from_records(...) to encode raw identifiers")
            arrays[nm] = a.astype(np.int64, copy=False)
        n = arrays["task"].size
        if arrays["worker"].size != n or arrays["label"].size != n:
            raise InputError(
                f"task, worker and label must have the same length, got "
                f"{n}, {arrays['worker'].size}, {arrays['label'].size}")
        for nm, ids in (("task", self.task_ids), ("worker", self.worker_ids), ("label", self.classes)):
            a = arrays[nm]
            size = len(ids)
            if a.size and (a.min() < 0 or a.max() >= size):
                row = int(np.flatnonzero((a < 0) | (a >= size))[0])
                raise InputError(
                    f"{nm} index {a[row]} is outside 0..{size - 1}", position=f"vote {row}",
                    fix=f"indices must point into the {size} declared {nm} ids")
            object.__setattr__(self, nm, _readonly(a))
        for nm in ("task_ids", "worker_ids", "classes"):
            ids = _readonly(np.asarray(getattr(self, nm)))
            if not ids_are_unique(ids):
                dup = pd.Index(ids)[pd.Index(ids).duplicated()][0]
                raise InputError(f"{nm} contains {_show(dup)} more than once",
                                 fix=f"list each of the {nm} once")
            object.__setattr__(self, nm, ids)
        extra = {}
        for k, v in dict(self.extra).items():
            v = np.asarray(v)
            if v.shape[:1] != (n,):
                raise InputError(f"per-vote column '{k}' has length {len(v)}, expected {n} (one per vote)")
            extra[k] = _readonly(v)
        object.__setattr__(self, "extra", MappingProxyType(extra))

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

        Parameters
        ----------
        task, worker, label : array-like of length n_votes
        classes : sequence, optional
            Declared classes in their index order. Labels must belong to them.
        n_classes : int, optional
            Declare classes ``0..n_classes-1`` (labels must be integers in that range).
            When neither is given, classes are the labels seen, in natural sorted order.
        task_ids, worker_ids : sequence, optional
            Declare ids that may have no vote (kept in the output). Must contain all ids
            seen; the order given is kept.
        duplicates : {"keep", "first", "last", "error"}
            What to do with several votes of one worker on one task: keep them all
            (default), keep the first or the last in row order, or raise.
        extra : mapping of per-vote columns
        name : data-set name
        source : file name used in error messages
        """
        if duplicates not in _DUPLICATE_POLICIES:
            raise InputError(f"duplicates={duplicates!r} is not a policy",
                             fix=f"use one of {', '.join(_DUPLICATE_POLICIES)}")
        n = len(task)
        if len(worker) != n or len(label) != n:
            raise InputError(
                f"task, worker and label columns differ in length ({n}, {len(worker)}, {len(label)})",
                source=source)
        if n_classes is not None:
            if int(n_classes) != n_classes or n_classes < 1:
                raise InputError(f"n_classes must be a positive integer, got {n_classes!r}",
                                 source=source, fix="declare at least one class")
            if classes is not None and len(classes) != n_classes:
                raise InputError(f"{len(classes)} class names given but n_classes={n_classes}",
                                 source=source, fix="make the two agree")
            if classes is None:
                classes = np.arange(int(n_classes))
        cls_arr = None if classes is None else np.asarray(classes)
        t_codes, t_ids = _encode_declared(task, task_ids, "task", source)
        w_codes, w_ids = _encode_declared(worker, worker_ids, "worker", source)
        l_codes, cls_arr = _encode_labels(label, cls_arr, source)
        extra_arrays = {k: np.asarray(v) for k, v in (extra or {}).items()}
        for k, v in extra_arrays.items():
            if len(v) != n:
                raise InputError(f"per-vote column '{k}' has length {len(v)}, expected {n}", source=source)
        keep = _duplicate_mask(t_codes, w_codes, len(w_ids), duplicates, source, t_ids, w_ids)
        if keep is not None:
            t_codes, w_codes, l_codes = t_codes[keep], w_codes[keep], l_codes[keep]
            extra_arrays = {k: v[keep] for k, v in extra_arrays.items()}
        return cls(task=t_codes, worker=w_codes, label=l_codes, task_ids=t_ids, worker_ids=w_ids,
                   classes=cls_arr, extra=extra_arrays, name=name)

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
        w = None if weights is None else np.asarray(weights, dtype=float)
        if w is not None and w.shape != (self.n_votes,):
            raise InputError(f"weights must have one entry per vote ({self.n_votes}), got shape {w.shape}")
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
        key = self.task * max(self.n_workers, 1) + self.worker
        return pd.Series(key).duplicated(keep="first").to_numpy()

    # ------------------------------------------------------------------ transforms
    def take(self, index: np.ndarray, *, compact: bool = False) -> "Votes":
        """A subset of the votes (boolean mask or integer index).

        With ``compact=True`` tasks and workers left without a vote are dropped from the
        id lists; otherwise the id lists are kept as they are.
        """
        index = np.asarray(index)
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


def _encode_declared(values: Any, declared: Sequence[Any] | None, what: str,
                     source: str | None) -> tuple[np.ndarray, np.ndarray]:
    if declared is None:
        return factorize_ids(values, what=what, source=source)
    declared_arr = np.asarray(declared)
    idx = pd.Index(declared_arr)
    if not idx.is_unique:
        raise InputError(f"declared {what} ids contain duplicates", source=source, fix="list each id once")
    codes = idx.get_indexer(pd.Series(values, copy=False).to_numpy())
    if (codes < 0).any():
        codes2 = pd.Index(declared_arr.astype(str)).get_indexer(pd.Series(values).astype(str).to_numpy())
        codes = np.where(codes < 0, codes2, codes)
    if (codes < 0).any():
        row = int(np.flatnonzero(codes < 0)[0])
        raise InputError(f"{what} {_show(pd.Series(values).iloc[row])} is not among the declared {what} ids",
                         source=source, position=f"row {row}", fix=f"declare it, or leave {what}_ids unset")
    return codes.astype(np.int64), declared_arr


def _duplicate_mask(task: np.ndarray, worker: np.ndarray, n_workers: int, policy: str,
                    source: str | None, task_ids: np.ndarray, worker_ids: np.ndarray) -> np.ndarray | None:
    if policy == "keep" or task.size == 0:
        return None
    key = pd.Series(task * max(n_workers, 1) + worker)
    if policy == "error":
        dup = key.duplicated(keep="first").to_numpy()
        if dup.any():
            row = int(np.flatnonzero(dup)[0])
            raise InputError(
                f"worker {_show(worker_ids[worker[row]])} voted twice on task {_show(task_ids[task[row]])} "
                f"({int(dup.sum())} repeated pair(s) in all)",
                source=source, position=f"row {row}",
                fix="remove the repeats, or choose duplicates='keep', 'first' or 'last' "
                    "(on the command line: --duplicates keep|first|last)")
        return None
    return ~key.duplicated(keep=policy).to_numpy()
