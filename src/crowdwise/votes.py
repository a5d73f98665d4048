"""The Votes model: the one object every part of crowdwise shares.

A crowd data set is a list of votes ``(task, worker, label)``, never a tasks x workers
matrix. :class:`Votes` stores three integer arrays of equal length (one entry per vote)
that index into the original identifiers (``task_ids``, ``worker_ids``, ``classes``).
Memory is O(votes); every algorithm works from these arrays with ``np.bincount`` or
sparse products.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
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


_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
#: the most classes crowdwise accepts (class indices are below it): 2^24 = 16,777,216,
#: three orders of magnitude above the largest real crowd (Pl@ntNet, K = 11,425)
MAX_CLASSES = 2**24
#: an integer written plainly: no sign "+", no leading zero, no decimal point ("-0" is not)
_PLAIN_INT = re.compile(r"0|-?[1-9][0-9]*")
#: a decimal number as text: "1", "01", "+1", "1.0", ".5", "1e3" (spaces around allowed)
_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")


def _plain_ints(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ints, ok)`` for an array of texts: whether each is an integer written plainly
    (``"42"``, ``"-5"``; not ``"007"``, ``"+5"``, ``"1.0"``) that fits in int64, and its value."""
    ints = np.zeros(text.size, dtype=np.int64)
    ok = np.zeros(text.size, dtype=bool)
    match = _PLAIN_INT.fullmatch
    for i, t in enumerate(text.tolist()):
        if len(t) <= 20 and match(t):
            v = int(t)
            if _I64_MIN <= v <= _I64_MAX:
                ints[i] = v
                ok[i] = True
    return ints, ok


def _as_text(arr: np.ndarray) -> np.ndarray:
    """Values as the text they are written with (integers in decimal, text as it is)."""
    if arr.dtype.kind == "U":
        return arr
    if arr.dtype.kind == "O":
        return np.array([v if isinstance(v, str) else str(v.item() if isinstance(v, np.generic) else v)
                         for v in arr.tolist()], dtype=str) if arr.size else np.zeros(0, dtype=str)
    return arr.astype(str)


def natural_sort(values: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(rank, ids)``: the distinct ids in natural order, and the position in ``ids`` of
    each value. The rule of every reader:

    - an integer column (or a float column of whole numbers), or a text column whose every
      value is an integer written plainly (``"42"``, ``"-5"``) that fits in int64, gives
      int64 ids sorted by value;
    - otherwise every id is text, compared as written (``"007"`` and ``"7"`` are two ids;
      the integer ``1`` and the text ``"1"`` are one), ordered with the plainly written
      integers first, by value, then the other ids in code-point order. One odd id
      (``"b"``, or an integer beyond int64) therefore never reorders the integer ids.

    >>> natural_sort(["10", "2", "b", "007", "10"])[1].tolist()
    ['2', '10', '007', 'b']
    """
    arr = np.asarray(values)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    if arr.dtype.kind == "u" and arr.size and int(arr.max()) > _I64_MAX:
        arr = arr.astype(str)
    elif arr.dtype.kind in "iu":
        ids, rank = np.unique(arr.astype(np.int64, copy=False), return_inverse=True)
        return rank.reshape(-1).astype(np.int64, copy=False), ids
    if arr.dtype.kind == "f":
        whole = np.isfinite(arr) & (arr == np.round(arr)) & (np.abs(arr) < 2.0**63)
        if whole.all():
            ids, rank = np.unique(arr.astype(np.int64), return_inverse=True)
            return rank.reshape(-1).astype(np.int64, copy=False), ids
    text = _as_text(arr)
    if text.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=str)
    uniq, inv = np.unique(text, return_inverse=True)  # merges 1 and "1" (same text)
    inv = inv.reshape(-1).astype(np.int64, copy=False)
    ints, ok = _plain_ints(uniq)
    if ok.all():
        order = np.argsort(ints, kind="stable")
        ids: np.ndarray = ints[order]
    else:
        first = np.flatnonzero(ok)
        order = np.concatenate([first[np.argsort(ints[first], kind="stable")], np.flatnonzero(~ok)])
        ids = uniq[order]
    pos = np.empty(order.size, dtype=np.int64)
    pos[order] = np.arange(order.size, dtype=np.int64)
    return pos[inv], ids


def as_number(v: Any) -> int | float | None:
    """The number a label stands for: an integer or a finite float, or text written as a
    decimal number (``"1"``, ``"01"``, ``"+1"``, ``"1.0"``, ``"1e0"``, spaces around
    allowed; not ``"nan"``, ``"inf"`` nor ``"1_000"``). None for anything else (booleans
    included)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, str) and len(v) < 400 and _NUMBER.fullmatch(v):
        t = v.strip()
        try:
            return int(t)
        except ValueError:
            f = float(t)
            return f if math.isfinite(f) else None
    return None


def _numbers_as_array(nums: list[int | float]) -> np.ndarray:
    """int64 when every number is whole and fits in int64, else float64."""
    if all(isinstance(x, int) or x.is_integer() for x in nums):
        ints = [int(x) for x in nums]
        if all(_I64_MIN <= x <= _I64_MAX for x in ints):
            return np.array(ints, dtype=np.int64)
    return np.array([float(x) for x in nums], dtype=np.float64)


def label_order(values: Any, *, source: str | None = None,
                position: Callable[[int], str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(rank, classes)`` of label values, the class rule of every table reader:

    - when every label is a number (:func:`as_number`), the classes are numbers and equal
      numbers are one class (``1``, ``1.0``, ``01`` and ``"+1"`` are class ``1``);
      classes are int64 when every label is a whole number that fits in int64, else
      float64; sorted by value;
    - otherwise labels are compared as text, in the order of :func:`natural_sort`, and
      two spellings of one number (``"1"`` and ``"1.0"`` beside ``"cat"``) are refused
      with an :class:`InputError`: they would silently become two classes.

    ``position(j)`` says where the ``j``-th value is (for the error message).

    >>> label_order(["1", "1.0", "01", "2"])[1].tolist()
    [1, 2]
    >>> label_order(["0.5", "1"])[1].tolist()
    [0.5, 1.0]
    """
    arr = np.asarray(values)
    kind = arr.dtype.kind
    if kind in "iub" or (kind == "f" and np.isfinite(arr).all()):
        if kind == "f" and not (np.all(arr == np.round(arr)) and np.all(np.abs(arr) < 2.0**63)):
            classes, rank = np.unique(arr.astype(np.float64), return_inverse=True)
            return rank.reshape(-1).astype(np.int64, copy=False), classes
        return natural_sort(arr)
    vals = arr.tolist()
    nums = [as_number(v) for v in vals]
    if vals and all(x is not None for x in nums):
        classes, rank = np.unique(_numbers_as_array(nums), return_inverse=True)
        return rank.reshape(-1).astype(np.int64, copy=False), classes
    spelled: dict[Any, str] = {}
    for j, x in enumerate(nums):
        if x is None:
            continue
        text = str(_as_text(np.array([vals[j]], dtype=object))[0])
        if spelled.setdefault(x, text) != text:
            other = next(v for v, n in zip(vals, nums) if n is None)
            raise InputError(
                f"labels {spelled[x]!r} and {text!r} are the same number, but some labels are not numbers "
                f"(e.g. {_show(other)}), so labels are compared as text and these two would become two classes",
                source=source, position=position(j) if position else None,
                fix="write each class one way (e.g. always 1), or declare the classes (classes=...)")
    return natural_sort(arr)


#: memory taken while reading by each id a count declares (the ids, their codes, the hash
#: table that merges them with the ids seen): a bound on what a declared count may ask
BYTES_PER_DECLARED_ID = 40


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``, else the free
    physical pages), or None when the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # pragma: no cover


def declared_count(value: Any, key: str, *, low: int = 0, source: str | None = None,
                   position: str | None = None) -> int:
    """A declared count (``n_classes``, ``n_tasks``, ``n_workers``) as an int, checked up
    front, before anything of that size is made.

    It must be a whole number ``>= low``; ``n_classes`` at most :data:`MAX_CLASSES`
    (2^24); and the ids it declares must fit in the memory available
    (:data:`BYTES_PER_DECLARED_ID` bytes each while reading), so that a typo such as
    ``n_classes: 1000000000000`` is one clear error naming the key, not an attempt to
    allocate terabytes. (Whether the count agrees with the votes is checked by the reader,
    once the votes are read.)
    """
    what = key[2:] if key.startswith("n_") else key
    whole = (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))) or (
        isinstance(value, (float, np.floating)) and math.isfinite(value) and float(value).is_integer())
    if not whole or value < low:
        kind = "a positive integer" if low else "a non-negative integer"
        raise InputError(f"{key} must be {kind}, got {value!r}", source=source, position=position,
                         fix=f"write the number of {what} as a whole number >= {low}")
    n = int(value)
    if key == "n_classes" and n > MAX_CLASSES:
        raise InputError(f"n_classes={n:,} is more classes than crowdwise handles (at most {MAX_CLASSES:,})",
                         source=source, position=position,
                         fix="correct n_classes: it is the number of classes (the largest class index + 1), "
                             "or remove it to take the classes from the votes")
    need = n * BYTES_PER_DECLARED_ID
    avail = available_memory()
    if avail is not None and need > avail:
        raise InputError(f"{key}={n:,} declares more {what} than fit in memory: their ids would take about "
                         f"{_bytes(need)} while reading, and {_bytes(avail)} is available",
                         source=source, position=position,
                         fix=f"correct {key} (the number of {what} of the data set), or remove it")
    return n


def _kind_of(x: Any) -> str:
    """``'a dict'``, ``'the int 3'``: what a bad argument is, for a message."""
    if x is None:
        return "None"
    name = type(x).__name__
    if isinstance(x, (str, bytes, int, float, complex, np.generic)):
        return f"the {name} {_show(x)[:40]}"
    return f"a {name}"


def as_column(values: Any, what: str, *, source: str | None = None) -> Any:
    """``values`` as one column of per-vote values (a list, a 1-D array, a pandas or
    polars Series, an Arrow array; an iterator is read into a list); InputError with
    the fix for anything else: None, a scalar, a text, a dict, a set, a 2-D array."""
    fix = (f"pass one {what} per vote: a list, a 1-D NumPy array or a pandas Series of length "
           "n_votes")
    if values is None or isinstance(values, (str, bytes, int, float, complex, np.generic)):
        raise InputError(f"{what} must be a column of values, one per vote, got {_kind_of(values)}",
                         source=source, fix=fix)
    if isinstance(values, (Mapping, set, frozenset)):
        raise InputError(f"{what} must be a column of values, one per vote, got {_kind_of(values)} "
                         "(its order is not the order of the votes)", source=source,
                         fix=f"{fix}, e.g. list(d.values()) when the dict is in vote order")
    if isinstance(values, Iterator):
        values = list(values)
    if not hasattr(values, "__len__"):
        raise InputError(f"{what} must be a column of values, one per vote, got {_kind_of(values)}",
                         source=source, fix=fix)
    ndim = getattr(values, "ndim", 1)
    if ndim != 1:
        shape = getattr(values, "shape", None)
        raise InputError(f"{what} must be one-dimensional (one value per vote), got {ndim} dimensions"
                         + (f" (shape {tuple(shape)})" if shape is not None else ""), source=source,
                         fix=f"{fix}; a tasks x workers matrix is read by crowdwise.io.read_dense")
    return values


def _series(values: Any, what: str, source: str | None) -> pd.Series:
    values = as_column(values, what, source=source)
    try:
        return pd.Series(values, copy=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} is not a column of single values ({str(exc).splitlines()[0]})", source=source,
                         fix=f"give one {what} per vote (a number or a text)") from None


def _factorize(s: pd.Series, what: str, source: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Codes in order of first appearance and the distinct values; a missing value or a
    value that is not a single value (a list, a dict) is an InputError naming its row."""
    missing = s.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        raise InputError(
            f"{what} is missing (NaN or empty) in {int(missing.sum())} row(s), the first at row {row}",
            source=source, position=f"row {row}", fix=f"give every vote a {what}, or drop those rows")
    try:
        codes, uniq = pd.factorize(s, sort=False)
    except TypeError:
        row = next(i for i, v in enumerate(s.tolist()) if not _hashable(v))
        raise InputError(f"{what} {_show(s.iloc[row])[:60]} is not a single value", source=source,
                         position=f"row {row}", fix=f"give one {what} per vote (a number or a text)") from None
    values = np.asarray(uniq)
    if values.dtype.kind not in "iufb":
        values = np.asarray(uniq, dtype=object)
    return np.asarray(codes, dtype=np.int64), values


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def factorize_ids(values: Any, *, what: str = "id", source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Map identifiers to ``0..n-1`` in natural sorted order (:func:`natural_sort`).

    Plainly written integer ids that fit in int64 sort numerically (``2 < 10``); when some
    id is not such an integer, all ids are text, the integers first by value, then the
    others in text order. Sorting (rather than order of appearance) makes every result
    independent of row order.

    Returns
    -------
    codes : ndarray of int64, same length as ``values``
    uniques : ndarray, the sorted distinct ids (int64 when integer-like, else str)

    Examples
    --------
    >>> codes, uniq = factorize_ids(["10", "2", "10", "b"])
    >>> codes.tolist(), uniq.tolist()
    ([1, 0, 1, 2], ['2', '10', 'b'])
    >>> codes, uniq = factorize_ids(["10", "2", "10"])
    >>> codes.tolist(), uniq.tolist()
    ([1, 0, 1], [2, 10])
    """
    s = _series(values, what, source)
    codes, uniq = _factorize(s, what, source)
    # hash once, then order only the distinct values (fast on millions of votes)
    rank, ids = natural_sort(uniq)
    return rank[codes], ids


def _first_rows(codes: np.ndarray, n: int) -> np.ndarray:
    """Row of the first appearance of each code ``0..n-1``."""
    first = np.full(n, codes.size, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(codes.size, dtype=np.int64))
    return first


def _encode_labels(
    label: Any, classes: np.ndarray | None, source: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """Encode labels as indices into ``classes`` (inferred by :func:`label_order` when None)."""
    s = _series(label, "label", source)
    codes, uniq = _factorize(s, "label", source)
    if classes is None:
        rank, cls = label_order(uniq, source=source,
                                position=lambda j: f"row {int(_first_rows(codes, len(uniq))[j])}")
        return rank[codes], cls
    idx = match_classes(uniq, classes)
    bad = idx < 0
    if bad.any():
        j = int(np.argmax(bad))
        row = int(_first_rows(codes, len(uniq))[j])
        raise InputError(
            f"label {_show(uniq[j])} is not one of the {len(classes)} declared classes "
            f"({', '.join(map(str, classes[:10]))}{', ...' if len(classes) > 10 else ''})",
            source=source,
            position=f"row {row}",
            fix="correct the label, or declare the class (metadata.json 'n_classes'/'classes', or classes=...)",
        )
    return idx[codes], classes


def int_like(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ints, ok)``: integer value of each entry, and whether it is a plain integer.

    Integers, whole floats and integer text written plainly ("3", not "03" or "3.0"),
    within int64.
    """
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        if values.dtype.kind == "u" and values.size and int(values.max()) > _I64_MAX:
            ok = values <= _I64_MAX
            return np.where(ok, values, 0).astype(np.int64), ok
        return values.astype(np.int64), np.ones(values.size, dtype=bool)
    if values.dtype.kind == "f":
        ok = np.isfinite(values) & (values == np.round(values)) & (np.abs(values) < 2.0**63)
        return np.where(ok, values, 0).astype(np.int64), ok
    ints = np.zeros(values.size, dtype=np.int64)
    ok = np.zeros(values.size, dtype=bool)
    for i, v in enumerate(values.tolist()):
        if isinstance(v, bool):
            continue
        if isinstance(v, int):
            iv = v
        elif isinstance(v, float) and math.isfinite(v) and v == round(v):
            iv = int(v)
        elif isinstance(v, str) and len(v) <= 20 and _PLAIN_INT.fullmatch(v):
            iv = int(v)
        else:
            continue
        if _I64_MIN <= iv <= _I64_MAX:
            ints[i], ok[i] = iv, True
    return ints, ok


def match_classes(values: Any, classes: np.ndarray) -> np.ndarray:
    """Index of each value in ``classes`` (-1 when absent).

    A value matches a class equal to it, a class written with the same text (``"b"``,
    ``"3"`` for 3), or a class that is the same number (``"1.0"`` and ``"01"`` match class
    ``1``; text classes ``"1"`` match the number 1.0 when no other class is that number).
    """
    values = np.asarray(values) if not isinstance(values, list) else np.asarray(values, dtype=object)
    classes = np.asarray(classes)
    lookup = pd.Index(classes)
    try:
        idx = np.asarray(lookup.get_indexer(values), dtype=np.int64)
    except (TypeError, ValueError):
        idx = np.full(values.size, -1, dtype=np.int64)
    miss = idx < 0
    if not miss.any():
        return idx
    vals = values[miss]
    if classes.dtype.kind not in "iuf":
        text = np.array([str(v.item() if isinstance(v, np.generic) else v) for v in vals.tolist()], dtype=object)
        idx[miss] = pd.Index(classes.astype(str)).get_indexer(text)
        miss = idx < 0
        if not miss.any():
            return idx
        vals = values[miss]
    # the same number written another way
    by_number: dict[Any, int] = {}
    for i, c in enumerate(classes.tolist()):
        x = as_number(c)
        if x is not None:
            by_number[x] = -2 if x in by_number else i  # -2: two classes are this number
    if by_number:
        found = [by_number.get(as_number(v), -1) if as_number(v) is not None else -1 for v in vals.tolist()]
        idx[miss] = np.maximum(np.asarray(found, dtype=np.int64), -1)
    return idx


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
    if ids.ndim == 1 and ids.dtype.kind == "O" and ids.size < 2:
        for v in ids.tolist():
            hash(v)  # TypeError for a list or a dict, as pandas raises for larger arrays
    return bool(pd.Index(ids).is_unique)


def _id_array(ids: Any, what: str, source: str | None = None) -> np.ndarray:
    """Declared ids (task_ids, worker_ids, classes) as a 1-D array of single values."""
    if ids is None or isinstance(ids, (str, bytes, Mapping, set, frozenset)) or np.isscalar(ids):
        raise InputError(f"{what} must be a list of ids, got {_kind_of(ids)}", source=source,
                         fix=f"pass {what} as a list or a 1-D array, each id once")
    try:
        arr = np.asarray(list(ids) if isinstance(ids, Iterator) else ids)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1:
        shape = "" if arr is None else f" (shape {arr.shape})"
        raise InputError(f"{what} must be a flat list of single ids{shape}", source=source,
                         fix=f"pass {what} as a list or a 1-D array of numbers or texts, each id once")
    return arr


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
                dup = pd.Index(ids)[pd.Index(ids).duplicated()][0]
                raise InputError(f"{nm} contains {_show(dup)} more than once",
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
        if not isinstance(duplicates, str) or duplicates not in _DUPLICATE_POLICIES:
            raise InputError(f"duplicates={duplicates!r} is not a policy",
                             fix=f"use one of {', '.join(_DUPLICATE_POLICIES)}")
        task = as_column(task, "task", source=source)
        worker = as_column(worker, "worker", source=source)
        label = as_column(label, "label", source=source)
        n = len(task)
        if len(worker) != n or len(label) != n:
            raise InputError(
                f"task, worker and label columns differ in length ({n}, {len(worker)}, {len(label)})",
                source=source, fix="give one task, one worker and one label per vote (columns of equal length)")
        if name is not None and not isinstance(name, str):
            raise InputError(f"name must be a text, got {_kind_of(name)}", source=source,
                             fix="name the data set with a str, e.g. name=str(x), or leave it None")
        cls_arr = None if classes is None else _id_array(classes, "classes", source)
        if cls_arr is not None and cls_arr.size == 0:
            raise InputError("classes is empty", source=source, fix="declare at least one class, or leave classes None")
        if n_classes is not None:
            n_classes = declared_count(n_classes, "n_classes", low=1, source=source)
            if cls_arr is not None and len(cls_arr) != n_classes:
                raise InputError(f"{len(cls_arr)} class names given but n_classes={n_classes}",
                                 source=source, fix="make the two agree")
            if cls_arr is None:
                cls_arr = np.arange(n_classes)
        elif cls_arr is not None and len(cls_arr) > MAX_CLASSES:
            raise InputError(f"{len(cls_arr):,} classes declared, more than crowdwise handles ({MAX_CLASSES:,})",
                             source=source, fix="declare the classes of the task only")
        t_codes, t_ids = _encode_declared(task, task_ids, "task", source)
        w_codes, w_ids = _encode_declared(worker, worker_ids, "worker", source)
        for ids, what in ((t_ids, "task"), (w_ids, "worker")):
            _refuse_blank_ids(ids, what, source)
        l_codes, cls_arr = _encode_labels(label, cls_arr, source)
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
        key = self.task * max(self.n_workers, 1) + self.worker
        return pd.Series(key).duplicated(keep="first").to_numpy()

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
        ids, known = np.asarray(ids), np.asarray(known)
        if ids.size == 0 or known.size == 0:
            return np.full(ids.size, -1, np.int64)
        idx = np.asarray(pd.Index(known).get_indexer(ids), dtype=np.int64)
        miss = idx < 0
        if miss.any():
            idx[miss] = pd.Index(known.astype(str)).get_indexer(ids[miss].astype(str))
        return idx

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


def _refuse_blank_ids(ids: np.ndarray, what: str, source: str | None) -> None:
    """InputError for a text id made only of white space: every file reader takes a blank
    field for a missing one, so such an id could be written but never read back."""
    if ids.dtype.kind not in "OUS" or ids.size == 0:
        return
    text = ids.astype(str)
    blank = np.char.strip(text) == ""
    if blank.any():
        raise InputError(f"{what} id {str(text[blank][0])!r} is blank (white space only): files read it as a missing "
                         f"{what}", source=source, fix=f"give every {what} a visible id")


def _encode_declared(values: Any, declared: Sequence[Any] | None, what: str,
                     source: str | None) -> tuple[np.ndarray, np.ndarray]:
    if declared is None:
        return factorize_ids(values, what=what, source=source)
    declared_arr = _id_array(declared, f"{what}_ids", source)
    try:
        idx = pd.Index(declared_arr)
        unique = idx.is_unique
    except TypeError:
        raise InputError(f"{what}_ids must hold single ids (numbers or texts), not lists or dicts", source=source,
                         fix=f"pass {what}_ids as a flat list of numbers or texts") from None
    if not unique:
        raise InputError(f"declared {what} ids contain duplicates", source=source, fix="list each id once")
    s = _series(values, what, source)
    codes_v, uniq = _factorize(s, what, source)
    codes = np.asarray(idx.get_indexer(uniq), dtype=np.int64)
    if (codes < 0).any():
        codes2 = pd.Index(_as_text(declared_arr)).get_indexer(_as_text(uniq))
        codes = np.where(codes < 0, codes2, codes)
    if (codes < 0).any():
        j = int(np.flatnonzero(codes < 0)[0])
        row = int(_first_rows(codes_v, len(uniq))[j])
        raise InputError(f"{what} {_show(uniq[j])} is not among the declared {what} ids",
                         source=source, position=f"row {row}", fix=f"declare it, or leave {what}_ids unset")
    return codes[codes_v], declared_arr


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
