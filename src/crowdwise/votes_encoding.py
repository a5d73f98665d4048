"""Raw id and label columns to the integer codes of :class:`~crowdwise.Votes`: the one
implementation behind ``Votes.from_records`` and every reader of :mod:`crowdwise.io`.

The rules (documented for users in :mod:`crowdwise.io`):

- **ids** (:func:`encode_ids`, :func:`natural_order`): int64 and sorted by value when every
  id is an integer (an integer column, or text written plainly, ``42``/``-5``) fitting
  int64; otherwise text, compared as written, the plainly written integers first by
  value, then the others in code-point order. A missing id (null, NaN, empty or
  white-space text) is refused. Declared ids (:func:`encode_declared_ids`) keep their
  order and match an id equal to them or written the same (:func:`match_ids`).
- **labels** (:func:`encode_labels`): equal numbers are one class (:func:`label_order`);
  declared classes (:func:`resolve_classes`) match a label equal to them, written the
  same, or the same number (:func:`match_classes`).
- **duplicates** (:func:`duplicates_mask`): one policy and one error text.

This module sits below both ``crowdwise.votes`` and ``crowdwise.io`` (it imports neither),
so that ``Votes.from_records`` uses it without importing the readers (``io`` imports
``votes``, never the other way). It is a public module, as the public/private line asks of
a module two packages share (``tests/test_layout.py``); users build Votes through
``Votes.from_records`` and :func:`crowdwise.io.load_votes`, and a new reader through the
functions below. With pyarrow, the
reader path never imports pandas (DEVELOPERS.md, item 10): Arrow columns are hashed by
Arrow and converted through :func:`arrow_to_numpy`; pandas (from ``crowdwise._lazy``) is
used for pandas Series, Python lists and object arrays. The work is done once per
*distinct* value where possible: a column of 9M votes is hashed once (Arrow's dictionary
encoding, or ``pd.factorize``), and only its distinct values are sorted and checked.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ._lazy import is_pandas, pd
from .errors import InputError

__all__ = [
    "factorize_ids", "natural_sort", "label_order", "as_number", "int_like", "match_ids", "match_classes",
    "raw_factorize", "Uniques", "natural_order", "encode_ids", "encode_declared_ids", "extend_ids",
    "resolve_classes", "encode_labels", "declared_count", "duplicates_mask", "check_duplicates_policy",
    "arrow_to_numpy", "MAX_CLASSES",
]

#: ``locate(row)`` turns a 0-based data row into a position text ("line 12", "row 3"...)
Locate = Callable[[int], str]

_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1
#: the most classes crowdwise accepts (class indices are below it): 2^24 = 16,777,216,
#: three orders of magnitude above the largest real crowd (Pl@ntNet, K = 11,425)
MAX_CLASSES = 2**24
#: a class index is below this (answers.json, dense matrices): 2^24, as ``n_classes``
MAX_CLASS_INDEX = MAX_CLASSES
#: an integer written plainly: no sign "+", no leading zero, no decimal point ("-0" is not)
_PLAIN_INT = re.compile(r"0|-?[1-9][0-9]*")
#: the same, as Arrow's regular expression
_PLAIN_INT_RE = "^(?:0|-?[1-9][0-9]*)$"
#: a decimal number as text: "1", "01", "+1", "1.0", ".5", "1e3" (spaces around allowed)
_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
DUPLICATE_POLICIES = ("keep", "first", "last", "error")


def show(x: Any) -> str:
    """``repr`` of a value with numpy scalars shown as plain Python values (``5``, ``'a'``)."""
    return repr(x.item() if isinstance(x, np.generic) else x)


def describe(x: Any) -> str:
    """``'a dict'``, ``'the int 3'``: what a bad argument is, for a message."""
    if x is None:
        return "None"
    name = type(x).__name__
    if isinstance(x, (str, bytes, int, float, complex, np.generic)):
        return f"the {name} {show(x)[:40]}"
    return f"a {name}"


def have_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.compute  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        return False
    return True


# --------------------------------------------------------------------------- the text rules
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
    match = _PLAIN_INT.fullmatch
    for i, v in enumerate(values.tolist()):
        if isinstance(v, str):
            if len(v) > 20 or not match(v):
                continue
            iv = int(v)
        elif isinstance(v, bool):
            continue
        elif isinstance(v, int):
            iv = v
        elif isinstance(v, float) and math.isfinite(v) and v == round(v):
            iv = int(v)
        else:
            continue
        if _I64_MIN <= iv <= _I64_MAX:
            ints[i], ok[i] = iv, True
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
    """``(rank, ids)``: the distinct values in natural order, and the position in ``ids``
    of each value.

    - an integer array (or a float array of whole numbers: labels ``1.0``, ``2.0``), or
      text whose every value is an integer written plainly (``"42"``, ``"-5"``) that fits
      in int64, gives int64 values sorted by value;
    - otherwise every value is text, compared as written (``"007"`` and ``"7"`` are two;
      the integer ``1`` and the text ``"1"`` are one), ordered with the plainly written
      integers first, by value, then the others in code-point order. One odd id (``"b"``,
      or an integer beyond int64) therefore never reorders the integer ids.

    (A float *id* column never reaches the float case: the readers and
    :func:`raw_factorize` hand its values over as objects, so ``1.0`` is the text
    ``'1.0'``, not the integer 1.)

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
    ints, ok = int_like(uniq)
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
                f"(e.g. {show(other)}), so labels are compared as text and these two would become two classes",
                source=source, position=position(j) if position else None,
                fix="write each class one way (e.g. always 1), or declare the classes (classes=...)")
    return natural_sort(arr)


# --------------------------------------------------------------------------- declared counts
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


# --------------------------------------------------------------------------- columns and id lists
def as_column(values: Any, what: str, *, source: str | None = None) -> Any:
    """``values`` as one column of per-vote values (a list, a 1-D array, a pandas or
    polars Series, an Arrow array; an iterator is read into a list); InputError with
    the fix for anything else: None, a scalar, a text, a dict, a set, a 2-D array."""
    fix = (f"pass one {what} per vote: a list, a 1-D NumPy array or a pandas Series of length "
           "n_votes")
    if values is None or isinstance(values, (str, bytes, int, float, complex, np.generic)):
        raise InputError(f"{what} must be a column of values, one per vote, got {describe(values)}",
                         source=source, fix=fix)
    if isinstance(values, (Mapping, set, frozenset)):
        raise InputError(f"{what} must be a column of values, one per vote, got {describe(values)} "
                         "(its order is not the order of the votes)", source=source,
                         fix=f"{fix}, e.g. list(d.values()) when the dict is in vote order")
    if isinstance(values, Iterator):
        values = list(values)
    if not hasattr(values, "__len__"):
        raise InputError(f"{what} must be a column of values, one per vote, got {describe(values)}",
                         source=source, fix=fix)
    ndim = getattr(values, "ndim", 1)
    if ndim != 1:
        shape = getattr(values, "shape", None)
        raise InputError(f"{what} must be one-dimensional (one value per vote), got {ndim} dimensions"
                         + (f" (shape {tuple(shape)})" if shape is not None else ""), source=source,
                         fix=f"{fix}; a tasks x workers matrix is read by crowdwise.io.read_dense")
    return values


def column(values: Any, what: str, *, source: str | None = None) -> Any:
    """A column given in memory (:func:`as_column`) ready for :func:`raw_factorize`: NumPy
    arrays, pandas Series and Arrow arrays as they are; anything else (a Python list, a
    polars Series...) through ``pd.Series``, which gives its values one type where they
    have one (a list of ints is an int64 column)."""
    values = as_column(values, what, source=source)
    if isinstance(values, np.ndarray) or is_pandas(values, "Series") or _is_arrow(values):
        return values
    try:
        return pd.Series(values, copy=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} is not a column of single values ({str(exc).splitlines()[0]})", source=source,
                         fix=f"give one {what} per vote (a number or a text)") from None


def id_array(ids: Any, what: str, source: str | None = None) -> np.ndarray:
    """Declared ids (``task_ids``, ``worker_ids``) as a 1-D array of single values."""
    if ids is None or isinstance(ids, (str, bytes, Mapping, set, frozenset)) or np.isscalar(ids):
        raise InputError(f"{what} must be a list of ids, got {describe(ids)}", source=source,
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


def first_repeat(ids: np.ndarray) -> Any:
    """The first id listed a second time (``ids`` not unique)."""
    return pd.Index(ids)[pd.Index(ids).duplicated()][0]


def match_ids(ids: Any, known: Any) -> np.ndarray:
    """Position of each of ``ids`` among ``known`` (int64, -1 when absent): an equal id
    first, else the id written with the same text (``"7"`` and ``7``). The one id rule
    (:meth:`Votes.match_ids <crowdwise.Votes.match_ids>`)."""
    ids, known = np.asarray(ids), np.asarray(known)
    if ids.size == 0 or known.size == 0:
        return np.full(ids.size, -1, np.int64)
    idx = np.asarray(pd.Index(known).get_indexer(ids), dtype=np.int64)
    miss = idx < 0
    if miss.any():
        idx[miss] = pd.Index(_as_text(known)).get_indexer(_as_text(ids[miss]))
    return idx


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


# --------------------------------------------------------------------------- raw codes
class Uniques:
    """Distinct values of a column, in order of first appearance (sorted, and
    ``is_sorted`` set, for integer columns).

    ``values`` is a numpy array; ``arrow`` keeps the Arrow string array when the column
    came from Arrow (faster to sort and to parse); ``kind`` is ``"int"`` (int64 values),
    ``"str"`` (all text) or ``"obj"`` (anything else).
    """

    def __init__(self, values: np.ndarray | None, kind: str, arrow: Any = None,
                 is_sorted: bool = False) -> None:
        self._values = values
        self.kind = kind
        self.arrow = arrow
        self.is_sorted = is_sorted

    @property
    def values(self) -> np.ndarray:
        if self._values is None:
            self._values = np.asarray(arrow_to_numpy(self.arrow), dtype=object)
        return self._values

    def __len__(self) -> int:
        return len(self.arrow) if self._values is None else len(self._values)


def _is_arrow(col: Any) -> bool:
    return type(col).__module__.startswith("pyarrow")


def arrow_to_numpy(arr: Any, *, nulls_as_stored: bool = False) -> np.ndarray:
    """An Arrow array (or chunked array) as a NumPy array, without importing pandas.

    pyarrow's ``to_numpy`` loads pandas on first use (its cost: ``docs/dev/performance.md``,
    "Reading without pandas"), which reading a vote table does not otherwise need. Numbers and booleans without nulls are
    read from the data buffer (``np.frombuffer``, read-only, no copy for numbers); text
    comes through ``to_pylist`` as an object array; numbers with nulls come with NaN at
    the nulls, integers as float64 (as ``to_numpy`` gives them). Anything else (text or
    booleans with nulls, dates...) falls back to ``to_numpy``. ``nulls_as_stored=True``
    reads a numeric array's buffer even with nulls (their slots hold whatever Arrow
    stored there: the caller masks them).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    t = arr.type
    n = len(arr)
    if not arr.null_count or nulls_as_stored:
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            kind = "f" if pa.types.is_floating(t) else ("i" if pa.types.is_signed_integer(t) else "u")
            dt = np.dtype(f"{kind}{t.bit_width // 8}")
            buf = arr.buffers()[1]
            if buf is None or n == 0:
                return np.zeros(n, dtype=dt)
            out = np.frombuffer(buf, dtype=dt, count=n, offset=arr.offset * dt.itemsize)
            out.flags.writeable = False  # Arrow's memory: never written through
            return out
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        # nulls: NaN there, integers as float64, as pyarrow's to_numpy gives them; the cast
        # is NumPy's (Arrow's safe cast refuses integers above 2^53, pyarrow rounds them)
        stored = arrow_to_numpy(arr, nulls_as_stored=True)
        vals = stored.astype(np.float64 if pa.types.is_integer(t) else stored.dtype)
        vals[arrow_to_numpy(arr.is_null())] = np.nan
        return vals
    if not arr.null_count:
        if pa.types.is_boolean(t):
            return arrow_to_numpy(pc.cast(arr, pa.uint8())).astype(bool)
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            out = np.empty(n, dtype=object)
            out[:] = arr.to_pylist()
            return out
    return np.asarray(arr.to_numpy(zero_copy_only=False))


def _sorted_int_codes(vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes into the sorted distinct values of an int64 array.

    Ids are usually dense integers: then a presence table over ``min..max`` does it in
    O(n) without hashing or sorting; otherwise a sort (``np.unique``).
    """
    if vals.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = int(vals.min()), int(vals.max())
    span = hi - lo + 1
    if span <= 4 * vals.size + 1024:
        shifted = vals - lo
        present = np.zeros(span, dtype=bool)
        present[shifted] = True
        rank = np.cumsum(present, dtype=np.int64) - 1
        return rank[shifted], np.flatnonzero(present).astype(np.int64) + lo
    uniq, codes = np.unique(vals, return_inverse=True)
    return codes.reshape(-1).astype(np.int64, copy=False), uniq.astype(np.int64, copy=False)


def _factorize_ints(vals: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, Uniques]:
    """Codes of an integer column; the distinct values come out sorted."""
    vals = np.asarray(vals)
    if vals.dtype.kind == "u" and vals.size and int(vals.max()) > _I64_MAX:
        # beyond int64: the ids are text (natural_sort's rule)
        sel = vals if valid is None else vals[valid]
        uniq, c = np.unique(sel, return_inverse=True)
        codes = np.full(vals.size, -1, dtype=np.int64)
        codes[slice(None) if valid is None else valid] = c.reshape(-1)
        return codes, Uniques(np.array([str(v) for v in uniq.tolist()], dtype=object), "str")
    vals = vals.astype(np.int64, copy=False)
    if valid is None:
        codes, uniq = _sorted_int_codes(vals)
        return codes, Uniques(uniq, "int", is_sorted=True)
    codes = np.full(vals.size, -1, dtype=np.int64)
    c, uniq = _sorted_int_codes(vals[valid])
    codes[valid] = c
    return codes, Uniques(uniq, "int", is_sorted=True)


def _drop_blank(codes: np.ndarray, blank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of blank distinct values become -1 (missing); others are renumbered."""
    keep = ~blank
    new = np.cumsum(keep, dtype=np.int64) - 1
    new[blank] = -1
    out = np.full(codes.size, -1, dtype=np.int64)
    ok = codes >= 0
    out[ok] = new[codes[ok]]
    return out, keep


def _arrow_text_as_ints(arr: Any) -> np.ndarray | None:
    """int64 values when every entry of an Arrow text array is a plainly written integer."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(arr) == 0 or arr.null_count:
        return None
    try:
        # a failing cast of a long column is slow: try a small slice first
        if len(arr) > 4096:
            pc.cast(arr.slice(0, 4096), pa.int64())
        ints = pc.cast(arr, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    back = pc.cast(ints, arr.type)
    if not pc.all(pc.equal(back, arr)).as_py():  # "007", "+5" are not plain integers
        return None
    if isinstance(ints, pa.ChunkedArray):
        ints = ints.combine_chunks()
    return np.asarray(arrow_to_numpy(ints), dtype=np.int64)


def _raw_arrow(col: Any) -> tuple[np.ndarray, Uniques]:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    t = col.type
    if pa.types.is_dictionary(t):
        col = col.cast(t.value_type)
        t = col.type
    if pa.types.is_integer(t):
        if col.null_count:
            valid = ~arrow_to_numpy(col.is_null())
            vals = arrow_to_numpy(col.fill_null(0))
            return _factorize_ints(vals, valid)
        return _factorize_ints(arrow_to_numpy(col), None)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        if pa.types.is_string_view(t):
            col = col.cast(pa.large_string())
        ints = _arrow_text_as_ints(col)
        if ints is not None:
            return _factorize_ints(ints, None)
        enc = pc.dictionary_encode(col)
        idx = enc.indices
        if idx.null_count:  # (no fill_null(-1): a Python scalar sent to Arrow imports pandas)
            codes = np.array(arrow_to_numpy(idx, nulls_as_stored=True), dtype=np.int64)
            codes[arrow_to_numpy(idx.is_null())] = -1
        else:
            codes = np.asarray(arrow_to_numpy(idx), dtype=np.int64)
        dictionary = enc.dictionary
        # (lengths, not pc.equal(..., ""): a Python scalar sent to Arrow imports pandas)
        blank = arrow_to_numpy(pc.utf8_length(pc.utf8_trim_whitespace(dictionary))) == 0
        if blank.any():
            codes, keep = _drop_blank(codes, blank)
            dictionary = dictionary.filter(pa.array(keep))
        return codes, Uniques(None, "str", arrow=dictionary)
    return _raw_pandas(col.to_pandas())


def _raw_pandas(s: pd.Series, locate: Locate | None = None, what: str = "value",
                source: str | None = None) -> tuple[np.ndarray, Uniques]:
    if s.dtype.kind in "iu" and not s.hasnans:  # (nullable Int64 with NA: general path)
        return _factorize_ints(s.to_numpy(), None)
    if have_pyarrow() and (isinstance(s.dtype, pd.StringDtype) or str(s.dtype) in ("str", "string")):
        import pyarrow as pa
        try:
            return _raw_arrow(pa.array(s))
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
            pass
    try:
        codes, uniq = pd.factorize(s, use_na_sentinel=True)
    except TypeError:
        row = next(i for i, v in enumerate(s) if not _hashable(v))
        raise InputError(f"{what} {show(s.iloc[row])[:60]} is not a single value", source=source,
                         position=locate(row) if locate else f"row {row}",
                         fix=f"give one {what} per vote (a number or a text)") from None
    codes = np.asarray(codes, dtype=np.int64)
    if isinstance(uniq, pd.Index):
        values = uniq.to_numpy(dtype=object) if uniq.dtype.kind not in "iub" else uniq.to_numpy()
    else:
        values = np.asarray(uniq, dtype=object)
    if values.dtype.kind in "iu":
        return codes, Uniques(values.astype(np.int64), "int")  # not sorted
    blank = np.fromiter((isinstance(v, str) and not v.strip() for v in values), dtype=bool,
                        count=len(values))
    if blank.any():
        codes, keep = _drop_blank(codes, blank)
        values = values[keep]
    kind = "str" if all(isinstance(v, str) for v in values) else "obj"
    return codes, Uniques(values, kind)


def _hashable(v: Any) -> bool:
    try:
        hash(v)
    except TypeError:
        return False
    return True


def raw_factorize(col: Any, *, what: str = "value", source: str | None = None,
                  locate: Locate | None = None) -> tuple[np.ndarray, Uniques]:
    """Codes in order of first appearance (-1 = missing: null, NaN, empty or blank text)
    of an Arrow array, a pandas Series or a NumPy array."""
    if _is_arrow(col):
        codes, uniques = _raw_arrow(col)
        return codes, _no_trailing_nul(codes, uniques, what, source, locate)
    if not is_pandas(col, "Series"):
        arr = np.asarray(col) if not isinstance(col, list) else np.asarray(col, dtype=object)
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > _I64_MAX:
            arr = arr.astype(str)  # beyond int64: ids as text (natural_sort's rule)
        if arr.dtype.kind in "iu":
            return _factorize_ints(arr, None)
        col = pd.Series(arr, copy=False)
    codes, uniques = _raw_pandas(col, locate, what, source)
    return codes, _no_trailing_nul(codes, uniques, what, source, locate)


_ENDS_WITH_NUL = np.frompyfunc(lambda v: isinstance(v, str) and v.endswith("\x00"), 1, 1)


def _arrow_ends_with_nul(arr: Any) -> np.ndarray | None:
    """Which values of an Arrow (large) string array end with a NUL byte, from its offsets
    and data buffers (no Python object, no pandas); None for another type."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    n = len(arr)
    if n == 0:
        return np.zeros(0, dtype=bool)
    _, off_buf, data_buf = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(off_buf, dtype=width)[arr.offset:arr.offset + n + 1].astype(np.int64)
    if data_buf is None or offsets[-1] == offsets[0]:
        return np.zeros(n, dtype=bool)
    data = np.frombuffer(data_buf, dtype=np.uint8)
    ends = offsets[1:]
    bad = (ends > offsets[:-1]) & (data[np.maximum(ends - 1, 0)] == 0)
    if arr.null_count:
        bad &= ~np.asarray(arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    return bad


def _no_trailing_nul(codes: np.ndarray, uniques: Uniques, what: str, source: str | None,
                     locate: Locate | None) -> Uniques:
    """InputError for a text value ending in a NUL character: NumPy's text arrays drop
    trailing NULs, so ``"a\\x00"`` would silently become ``"a"`` (and merge with it)."""
    if uniques.kind == "int":
        return uniques
    if uniques.arrow is not None:  # Arrow text: the last byte of each value, read from its buffers
        bad = _arrow_ends_with_nul(uniques.arrow)
        if bad is None:
            return uniques
        values = uniques.arrow
    else:
        if not len(uniques.values):
            return uniques
        values = np.asarray(uniques.values, dtype=object)
        bad = _ENDS_WITH_NUL(values).astype(bool)  # over the distinct values only
    if bad.any():
        value = str(values[int(np.flatnonzero(bad)[0])])
        row = first_row(codes, bad)
        raise InputError(f"{what} {value!r} ends with a NUL character, which crowdwise's text arrays cannot keep "
                         f"(it would become {value.rstrip(chr(0))!r})", source=source,
                         position=locate(row) if locate is not None else f"vote {row}",
                         fix=f"remove the NUL characters (\\x00) from the {what}s")
    return uniques


def first_row(codes: np.ndarray, mask_of_codes: np.ndarray) -> int:
    """First row whose code is flagged in ``mask_of_codes`` (codes may be -1)."""
    hit = np.zeros(codes.size, dtype=bool)
    ok = codes >= 0
    hit[ok] = mask_of_codes[codes[ok]]
    return int(np.argmax(hit))


def refuse_missing(codes: np.ndarray, what: str, source: str | None, locate: Locate) -> None:
    """InputError when some row has no value (code -1: null, NaN, empty or blank text)."""
    missing = codes < 0
    if missing.any():
        row = int(np.argmax(missing))
        raise InputError(f"{what} is missing (empty) in {int(missing.sum())} row(s), the first at {locate(row)}",
                         source=source,
                         fix=f"give every vote a {what} (a text of white space only counts as missing), "
                             "or drop those rows")


def _row(r: int) -> str:
    return f"row {r}"


# --------------------------------------------------------------------------- ids
def natural_order(uniq: Uniques) -> tuple[np.ndarray, np.ndarray]:
    """``(rank, ids)``: ``ids`` the distinct values in natural order (:func:`natural_sort`'s
    rule), ``rank[j]`` the position of distinct value ``j`` in ``ids``."""
    n = len(uniq)
    if uniq.kind == "str" and uniq.arrow is not None:
        import pyarrow.compute as pc

        ints = _arrow_text_as_ints(uniq.arrow)
        if ints is None:
            order_arrow = pc.sort_indices(uniq.arrow)  # taken as Arrow: a NumPy index would import pandas
            in_order = uniq.arrow.take(order_arrow)
            ids = arrow_to_numpy(in_order).astype(str)
            order = np.asarray(arrow_to_numpy(order_arrow), dtype=np.int64)
            # the plainly written integers first, by value (as natural_sort): Arrow finds them
            plain = arrow_to_numpy(pc.match_substring_regex(in_order, _PLAIN_INT_RE))
            if plain.any():
                at = np.flatnonzero(plain)
                vals, ok = int_like(ids[at].astype(object))  # only those: few Python calls
                at = at[ok]
                first = at[np.argsort(vals[ok], kind="stable")]
                rest = np.ones(n, dtype=bool)
                rest[first] = False
                perm = np.concatenate([first, np.flatnonzero(rest)])
                ids, order = ids[perm], order[perm]
            rank = np.empty(n, dtype=np.int64)
            rank[order] = np.arange(n, dtype=np.int64)
            return rank, ids
        uniq = Uniques(ints, "int")
    if uniq.kind == "int":
        if uniq.is_sorted:
            return np.arange(n, dtype=np.int64), np.asarray(uniq.values, dtype=np.int64)
        order = np.argsort(uniq.values)  # distinct values: stability is moot
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n, dtype=np.int64)
        return rank, np.asarray(uniq.values[order], dtype=np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=str)
    return natural_sort(uniq.values)


def encode_ids(col: Any, *, what: str, source: str | None, locate: Locate) -> tuple[np.ndarray, np.ndarray]:
    """Codes (natural order) and the sorted ids of a task or worker column."""
    codes, uniq = raw_factorize(col, what=what, source=source, locate=locate)
    refuse_missing(codes, what, source, locate)
    if uniq.kind == "int" and uniq.is_sorted:
        return codes, np.asarray(uniq.values, dtype=np.int64)
    rank, ids = natural_order(uniq)
    return rank[codes] if codes.size else codes, ids


def factorize_ids(values: Any, *, what: str = "id", source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Map identifiers to ``0..n-1`` in natural sorted order: the id rule of
    ``Votes.from_records`` and of every reader (:func:`encode_ids`).

    Plainly written integer ids that fit in int64 (or an integer column) sort numerically
    (``2 < 10``); when some id is not such an integer, all ids are text, the integers first
    by value, then the others in text order. Sorting (rather than order of appearance)
    makes every result independent of row order. A missing id (None, NaN, empty or
    white-space text) is an :class:`InputError` naming its row.

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
    return encode_ids(column(values, what, source=source), what=what, source=source, locate=_row)


def _refuse_blank_ids(ids: np.ndarray, what: str, source: str | None) -> None:
    """InputError for a declared text id made only of white space: every file reader takes
    a blank field for a missing one, so such an id could be written but never read back."""
    if ids.dtype.kind not in "OUS" or ids.size == 0:
        return
    text = ids.astype(str)
    blank = np.char.strip(text) == ""
    if blank.any():
        raise InputError(f"{what} id {str(text[blank][0])!r} is blank (white space only): files read it as a missing "
                         f"{what}", source=source, fix=f"give every {what} a visible id")


def encode_declared_ids(col: Any, declared: Any, *, what: str, source: str | None,
                        locate: Locate = _row) -> tuple[np.ndarray, np.ndarray]:
    """Codes into declared ids (``task_ids=``, ``worker_ids=``), kept in the order given.
    Each id of the column must be among them, equal or written the same
    (:func:`match_ids`)."""
    declared_arr = id_array(declared, f"{what}_ids", source)
    try:
        unique = ids_are_unique(declared_arr)
    except TypeError:
        raise InputError(f"{what}_ids must hold single ids (numbers or texts), not lists or dicts", source=source,
                         fix=f"pass {what}_ids as a flat list of numbers or texts") from None
    if not unique:
        raise InputError(f"declared {what} ids contain duplicates ({show(first_repeat(declared_arr))} "
                         "more than once)", source=source, fix="list each id once")
    _refuse_blank_ids(declared_arr, what, source)
    codes, uniq = raw_factorize(col, what=what, source=source, locate=locate)
    refuse_missing(codes, what, source, locate)
    pos = match_ids(uniq.values, declared_arr)
    bad = pos < 0
    if bad.any():
        row = first_row(codes, bad)
        raise InputError(f"{what} {show(uniq.values[codes[row]])} is not among the declared {what} ids",
                         source=source, position=locate(row),
                         fix=f"declare it, or leave {what}_ids unset")
    return pos[codes] if codes.size else codes, declared_arr


def extend_ids(codes: np.ndarray, ids: np.ndarray, declared: Any) -> tuple[np.ndarray, np.ndarray]:
    """Add declared ids (that may have no vote); the result keeps the natural order."""
    declared = np.asarray(declared)
    if declared.size == 0:
        return codes, ids
    if ids.dtype.kind in "iu" and declared.dtype.kind in "iu":
        c, allids = pd.factorize(np.concatenate([ids.astype(np.int64), declared.astype(np.int64)]), sort=True)
        allids = np.asarray(allids, dtype=np.int64)
    else:
        c, allids = factorize_ids(np.concatenate([ids.astype(object), declared.astype(object)]))
    return np.asarray(c[: len(ids)], dtype=np.int64)[codes], allids


# --------------------------------------------------------------------------- labels
def resolve_classes(classes: Sequence[Any] | np.ndarray | None, n_classes: Any, *,
                    source: str | None = None, where: str = "argument") -> np.ndarray | None:
    """The declared classes as an array (None when nothing is declared)."""
    pos_n = "key 'n_classes'" if where == "metadata" else None
    pos_c = "key 'classes'" if where == "metadata" else None
    if n_classes is not None:
        if isinstance(n_classes, (float, np.floating)):  # a whole float is still not a count here
            raise InputError(f"n_classes must be a positive integer, got {n_classes!r}", source=source,
                             position=pos_n, fix="declare the number of classes as a whole number >= 1")
        n_classes = declared_count(n_classes, "n_classes", low=1, source=source, position=pos_n)
    if classes is None:
        return None if n_classes is None else np.arange(n_classes, dtype=np.int64)
    fix_c = "list the class names (or values) in index order, e.g. classes=['cat', 'dog']"
    if isinstance(classes, (str, bytes, dict, set, frozenset)) or np.isscalar(classes):
        raise InputError(f"classes must be a list of class names, got {type(classes).__name__} {show(classes)[:40]}",
                         source=source, position=pos_c, fix=fix_c)
    try:
        arr = np.asarray(list(classes) if not isinstance(classes, np.ndarray) else classes)
    except (TypeError, ValueError):
        raise InputError(f"classes must be a flat list of class names, got {type(classes).__name__}",
                         source=source, position=pos_c, fix=fix_c) from None
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"classes must be a non-empty flat list, got {len(arr)} item(s) of shape {arr.shape}",
                         source=source, position=pos_c, fix="list the class names in index order")
    if arr.size > MAX_CLASSES:
        raise InputError(f"{arr.size:,} classes declared, more than crowdwise handles ({MAX_CLASSES:,})",
                         source=source, position=pos_c, fix="declare the classes of the task only")
    if arr.dtype.kind == "O":
        vals = arr.tolist()
        if all(isinstance(v, str) for v in vals):
            arr = arr.astype(str)
        elif all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in vals):
            arr = arr.astype(np.int64)
    elif arr.dtype.kind in "iu":
        arr = arr.astype(np.int64)
    try:
        unique = ids_are_unique(arr)
    except TypeError:
        raise InputError("classes must be single names (numbers or texts), not lists or dicts", source=source,
                         position=pos_c, fix=fix_c) from None
    if not unique:
        raise InputError(f"class {show(first_repeat(arr))} is declared twice", source=source, position=pos_c,
                         fix="list each class once")
    if n_classes is not None and arr.size != n_classes:
        raise InputError(f"{arr.size} class names given but n_classes={n_classes}", source=source,
                         position=pos_c, fix="make the two agree")
    return arr


def _class_list(classes: np.ndarray) -> str:
    shown = ", ".join(map(str, classes[:10].tolist()))
    return shown + (", ..." if classes.size > 10 else "")


def encode_labels(col: Any, *, classes: np.ndarray | None, as_indices: bool, source: str | None,
                  locate: Locate, what: str = "label",
                  declared_by: str = "classes=... or n_classes=...",
                  extend: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Label codes and classes.

    With ``as_indices`` (answers.json, dense matrices) integer labels are class indices
    and ``classes`` names them; otherwise labels are class values found in ``classes``
    (:func:`match_classes`), or, when nothing is declared, the classes are the labels
    seen, by :func:`label_order` (equal numbers are one class).

    ``extend=True`` (class indices only): when the declared classes are the indices
    ``0..K-1`` (no names), an integer label ``>= K`` extends them to ``0..max(label)``
    instead of being refused (the caller compares the sizes and warns).
    """
    codes, uniq = raw_factorize(col, what=what, source=source, locate=locate)
    refuse_missing(codes, what, source, locate)
    values = uniq.values
    if as_indices:
        ints, ok = int_like(values)
        negative = ok & (ints < 0)
        if negative.any():
            row = first_row(codes, negative)
            raise InputError(f"label {show(values[codes[row]])} is negative: labels here are "
                             "class indices 0..K-1", source=source, position=locate(row),
                             fix="leave out the vote (a worker who gave no label has no entry)")
        if classes is None and ok.all():
            top = int(ints.max()) if ints.size else -1
            if top >= MAX_CLASS_INDEX:
                row = first_row(codes, ints == top)
                raise InputError(f"label {top} is too large to be a class index", source=source,
                                 position=locate(row),
                                 fix=f"labels here are class indices 0..K-1; declare the classes ({declared_by})")
            return ints[codes] if codes.size else codes, np.arange(top + 1, dtype=np.int64)
        if classes is not None and extend and ok.any() and _are_indices(classes):
            top = int(ints[ok].max())
            if top >= classes.size:
                if top >= MAX_CLASS_INDEX:
                    row = first_row(codes, ok & (ints == top))
                    raise InputError(f"label {top} is too large to be a class index", source=source,
                                     position=locate(row),
                                     fix=f"labels here are class indices 0..K-1; correct the label ({declared_by})")
                classes = np.arange(top + 1, dtype=np.int64)
        if classes is not None:
            idx = np.where(ok & (ints >= 0) & (ints < classes.size), ints, -1)
            names = ~ok
            if names.any():  # text labels: look them up among the class names
                idx[names] = match_classes(values[names], classes)
            bad = idx < 0
            if bad.any():
                row = first_row(codes, bad)
                j = codes[row]
                if ok[j]:
                    problem = (f"label {show(values[j])} is outside the {classes.size} declared classes "
                               f"(indices 0..{classes.size - 1})")
                else:
                    problem = (f"label {show(values[j])} is neither a class index nor one of the "
                               f"{classes.size} declared classes ({_class_list(classes)})")
                raise InputError(problem, source=source, position=locate(row),
                                 fix=f"correct the label, or declare more classes ({declared_by})")
            return idx[codes], classes
        if classes is None and ok.any():
            # class indices mixed with other values (2.5, "cat"): the indices would silently become
            # class *values* and the odd one a class of its own
            row = first_row(codes, ~ok)
            j = codes[row]
            raise InputError(f"label {show(values[j])} is not a class index, while other labels are "
                             f"(e.g. {show(values[int(np.argmax(ok))])})", source=source, position=locate(row),
                             fix=f"correct the label, or declare the class names ({declared_by}) "
                                 "to use names instead of indices")
        # text labels only and nothing declared: fall through to natural classes
    if classes is None:
        if uniq.kind == "int" or (uniq.kind == "str" and uniq.arrow is not None
                                  and _arrow_text_as_ints(uniq.arrow) is not None):
            rank, ids = natural_order(uniq)  # plain integers: the fast path, no Python per value
        else:
            rank, ids = label_order(values, source=source,
                                    position=lambda j: locate(first_row(codes, np.arange(len(uniq)) == j)))
        return rank[codes] if codes.size else codes, ids
    idx = match_classes(values, classes)
    bad = idx < 0
    if bad.any():
        row = first_row(codes, bad)
        j = codes[row]
        raise InputError(f"label {show(values[j])} is not one of the {classes.size} declared classes "
                         f"({_class_list(classes)})", source=source, position=locate(row),
                         fix=f"correct the label, or declare the class ({declared_by})")
    return idx[codes], classes


def _are_indices(classes: np.ndarray) -> bool:
    """Whether declared classes are the bare indices ``0..K-1`` (no names)."""
    return classes.dtype.kind in "iu" and bool(np.array_equal(classes, np.arange(classes.size)))


# --------------------------------------------------------------------------- duplicates
def check_duplicates_policy(duplicates: Any) -> None:
    if not isinstance(duplicates, str) or duplicates not in DUPLICATE_POLICIES:
        raise InputError(f"duplicates={duplicates!r} is not a policy",
                         fix=f"use one of {', '.join(DUPLICATE_POLICIES)}")


def repeated(task: np.ndarray, worker: np.ndarray, n_workers: int, keep: str = "first") -> np.ndarray:
    """Boolean mask of the votes repeating a (task, worker) pair: all but the first
    (``keep="first"``) or all but the last (``keep="last"``) vote of each pair."""
    key = task * max(n_workers, 1) + worker
    return pd.Series(key).duplicated(keep=keep).to_numpy()


def duplicates_mask(task: np.ndarray, worker: np.ndarray, task_ids: np.ndarray, worker_ids: np.ndarray,
                    policy: str, *, source: str | None = None, locate: Locate = _row) -> np.ndarray | None:
    """The votes to keep under the duplicates policy (None: all of them).

    ``keep``: every vote; ``first`` / ``last``: the first / last vote of each (task, worker)
    pair in row order; ``error``: an InputError naming the first repeated pair and its row.
    """
    if policy == "keep" or task.size == 0:
        return None
    dup = repeated(task, worker, len(worker_ids), keep="last" if policy == "last" else "first")
    if not dup.any():
        return None
    if policy == "error":
        row = int(np.argmax(dup))
        raise InputError(
            f"worker {show(worker_ids[worker[row]])} voted twice on task {show(task_ids[task[row]])} "
            f"({int(dup.sum())} repeated pair(s) in all)",
            source=source, position=locate(row),
            fix="remove the repeats, or choose duplicates='keep', 'first' or 'last' "
                "(on the command line: --duplicates keep|first|last)")
    return ~dup
