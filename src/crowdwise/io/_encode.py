"""Turn raw id and label columns into the integer arrays of :class:`~crowdwise.Votes`.

Every reader goes through here, so that ids get the same natural order as
:func:`crowdwise.votes.factorize_ids` (:func:`~crowdwise.votes.natural_sort`: int64 ids
when every id is a plainly written integer fitting int64, else text ids with those
integers first) and labels the same classes as :func:`~crowdwise.votes.label_order`
(equal numbers are one class) whatever the file format, and so that every bad value is
reported at its place in the file. Errors of reading a file (gzip damage, permissions)
become InputErrors through :func:`reading`. The work is done once per *distinct* value where possible: a column of
9M votes is hashed once (Arrow's dictionary encoding, or ``pd.factorize``), and only
its distinct values are sorted and checked.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from .._lazy import is_pandas, pd

from ..errors import InputError
from ..votes import (MAX_CLASSES, Votes, declared_count, factorize_ids, ids_are_unique, int_like,  # noqa: F401
                     label_order, match_classes)  # (int_like, match_classes: imported from here by other modules)
from ._common import have_pyarrow, kind_of, source_name

#: ``locate(row)`` turns a 0-based data row into a position text ("line 12", "row 3"...)
Locate = Callable[[int], str]

_DUPLICATE_POLICIES = ("keep", "first", "last", "error")
_I64_MAX = 2**63 - 1
#: a class index is below this (answers.json, dense matrices): 2^24, as ``n_classes``
MAX_CLASS_INDEX = MAX_CLASSES
#: Arrow's regular expression for an integer written plainly (as votes._PLAIN_INT)
_PLAIN_INT_RE = "^(?:0|-?[1-9][0-9]*)$"


def show(x: Any) -> str:
    """``repr`` of a value with numpy scalars shown as plain Python values (``5``, ``'a'``)."""
    return repr(x.item() if isinstance(x, np.generic) else x)


def check_duplicates_policy(duplicates: str) -> None:
    if duplicates not in _DUPLICATE_POLICIES:
        raise InputError(f"duplicates={duplicates!r} is not a policy",
                         fix=f"use one of {', '.join(_DUPLICATE_POLICIES)}")


def _is_arrow(col: Any) -> bool:
    return type(col).__module__.startswith("pyarrow")


def _first_row(codes: np.ndarray, mask_of_codes: np.ndarray) -> int:
    """First row whose code is flagged in ``mask_of_codes`` (codes may be -1)."""
    hit = np.zeros(codes.size, dtype=bool)
    ok = codes >= 0
    hit[ok] = mask_of_codes[codes[ok]]
    return int(np.argmax(hit))


# --------------------------------------------------------------------------- reading files
def read_error(path: Any, exc: BaseException) -> InputError:
    """The InputError for a file that cannot be read: a truncated or damaged gzip stream
    (``EOFError``, ``BadGzipFile``, ``zlib.error``, or Arrow's messages for them), a
    permission denied, a folder where a file was expected, another ``OSError``. It names
    the file the error came from when the system says (a file inside a folder)."""
    filename = getattr(exc, "filename", None)
    source = str(filename) if filename else source_name(path)
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = msg.lower()
    check = "`gzip -t FILE` tests a .gz file"
    if isinstance(exc, EOFError) or "truncated" in low or "end-of-stream" in low:
        return InputError("the compressed data end too early: the file is truncated", source=source,
                          fix=f"the file was cut short (an interrupted download, copy or write): fetch or write it "
                              f"again ({check})")
    if isinstance(exc, gzip.BadGzipFile) and "not a gzipped file" in low:
        return InputError("the file is not gzip-compressed, although its name ends with .gz", source=source,
                          fix="rename it without .gz, or compress it with gzip")
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)) or any(
            k in low for k in ("zlib", "gzip", "crc check", "incorrect data check", "invalid block",
                               "invalid distance", "inflate")):
        return InputError(f"the compressed data are damaged ({msg})", source=source,
                          fix=f"the file is corrupt: fetch or write it again ({check})")
    if isinstance(exc, PermissionError):
        return InputError("permission denied: the file cannot be read", source=source,
                          fix="make it readable (chmod u+r), or run as a user who may read it")
    if isinstance(exc, IsADirectoryError):
        return InputError("is a folder, not a file", source=source, fix="point to the file")
    if isinstance(exc, FileNotFoundError):
        return InputError("no such file", source=source, fix="check the path")
    return InputError(f"cannot read the file ({getattr(exc, 'strerror', None) or msg})", source=source,
                      fix="check the file and the disk it is on")


def as_path(path: Any, what: str = "file") -> Path:
    """``path`` as a Path; InputError for anything that is not a path (None, a number, a
    DataFrame...), naming the readers that take those."""
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        return Path(path)
    kind = "None" if path is None else f"a {type(path).__name__}"
    fix = f"pass the path of the {what} as a str or pathlib.Path"
    if type(path).__module__.split(".")[0] in ("pandas", "polars", "pyarrow"):
        fix += "; a table of votes in memory is read by crowdwise.io.from_dataframe (or load_votes)"
    elif isinstance(path, np.ndarray) or isinstance(path, (list, tuple)):
        fix += ("; votes in memory are built by Votes.from_records(task, worker, label), a tasks x workers "
                "matrix by crowdwise.io.read_dense")
    return _raise(InputError(f"expected the path of a {what}, got {kind}", fix=fix))


def _raise(err: InputError) -> Any:
    raise err


@contextmanager
def reading(path: Any) -> Iterator[None]:
    """Turn the errors of reading ``path`` (file system, gzip) into :func:`read_error`'s
    InputError: never a traceback, never click's ``Aborted.`` for an ``EOFError``."""
    try:
        yield
    except (EOFError, zlib.error, OSError) as exc:
        raise read_error(path, exc) from None


def check_gzip(path: Path) -> None:
    """Read a ``.gz`` file to its end (its CRC is checked there), discarding the data;
    InputError when it is truncated or damaged. For the error path of a parser, which
    may stop at a garbled line before reaching the damage."""
    if not kind_of(path)[1]:
        return
    with reading(path), gzip.open(path, "rb") as f:
        while f.read(1 << 22):
            pass


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


def arrow_to_numpy(arr: Any, *, nulls_as_stored: bool = False) -> np.ndarray:
    """An Arrow array (or chunked array) as a NumPy array, without importing pandas.

    pyarrow's ``to_numpy`` loads pandas on first use (~60 MB of memory, 0.4 s), which
    reading a vote table does not otherwise need. Numbers and booleans without nulls are
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


def arrow_text(values: Sequence[str]) -> Any:
    """An Arrow string array of Python strings, built from its buffers.

    ``pa.array`` loads pandas on first use (~60 MB, 0.4 s), which reading answers.json
    does not otherwise need. Strings that cannot be encoded as UTF-8 (lone surrogates
    from a JSON ``\\ud800``) raise ``UnicodeEncodeError``, as ``pa.array`` would fail.
    """
    import pyarrow as pa

    enc = [v.encode("utf-8") for v in values]
    n = len(enc)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.fromiter(map(len, enc), dtype=np.int64, count=n), out=offsets[1:])
    data = pa.py_buffer(b"".join(enc))
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data)


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
        raise InputError(f"{what} {show(s.iloc[row])} is not a single value", source=source,
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
    """Codes in order of first appearance (-1 = missing: null, NaN, empty or blank text)."""
    if _is_arrow(col):
        return _raw_arrow(col)
    if not is_pandas(col, "Series"):
        arr = np.asarray(col) if not isinstance(col, list) else np.asarray(col, dtype=object)
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) > _I64_MAX:
            arr = arr.astype(str)  # beyond int64: ids as text (natural_sort's rule)
        if arr.dtype.kind in "iu":
            return _factorize_ints(arr, None)
        col = pd.Series(arr, copy=False)
    return _raw_pandas(col, locate, what, source)


# --------------------------------------------------------------------------- natural order
def natural_order(uniq: Uniques) -> tuple[np.ndarray, np.ndarray]:
    """``(rank, ids)``: ``ids`` the distinct values in natural order, ``rank[j]`` the
    position of distinct value ``j`` in ``ids``. Same order as ``factorize_ids``."""
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
    return factorize_ids(uniq.values)


def encode_ids(col: Any, *, what: str, source: str | None, locate: Locate) -> tuple[np.ndarray, np.ndarray]:
    """Codes (natural order) and the sorted ids of a task or worker column."""
    codes, uniq = raw_factorize(col, what=what, source=source, locate=locate)
    missing = codes < 0
    if missing.any():
        row = int(np.argmax(missing))
        raise InputError(f"{what} is missing (empty) in {int(missing.sum())} row(s), the first here",
                         source=source, position=locate(row),
                         fix=f"give every vote a {what}, or drop those rows")
    if uniq.kind == "int" and uniq.is_sorted:
        return codes, np.asarray(uniq.values, dtype=np.int64)
    rank, ids = natural_order(uniq)
    return rank[codes] if codes.size else codes, ids


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
    pos_n = f"key 'n_classes'" if where == "metadata" else None
    pos_c = f"key 'classes'" if where == "metadata" else None
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
        dup = pd.Index(arr)[pd.Index(arr).duplicated()][0]
        raise InputError(f"class {show(dup)} is declared twice", source=source, position=pos_c,
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
    (or, when nothing is declared, the classes are the labels seen, by
    :func:`~crowdwise.votes.label_order`: equal numbers are one class).

    ``extend=True`` (class indices only): when the declared classes are the indices
    ``0..K-1`` (no names), an integer label ``>= K`` extends them to ``0..max(label)``
    instead of being refused (the caller compares the sizes and warns).
    """
    codes, uniq = raw_factorize(col, what=what, source=source, locate=locate)
    missing = codes < 0
    if missing.any():
        row = int(np.argmax(missing))
        raise InputError(f"{what} is missing (empty) in {int(missing.sum())} row(s), the first here",
                         source=source, position=locate(row), fix=f"give every vote a {what}, or drop those rows")
    values = uniq.values
    if as_indices:
        ints, ok = int_like(values)
        negative = ok & (ints < 0)
        if negative.any():
            row = _first_row(codes, negative)
            raise InputError(f"label {show(values[int(np.argmax(negative))])} is negative: labels here are "
                             "class indices 0..K-1", source=source, position=locate(row),
                             fix="leave out the vote (a worker who gave no label has no entry)")
        if classes is None and ok.all():
            top = int(ints.max()) if ints.size else -1
            if top >= MAX_CLASS_INDEX:
                row = _first_row(codes, ints == top)
                raise InputError(f"label {top} is too large to be a class index", source=source,
                                 position=locate(row),
                                 fix=f"labels here are class indices 0..K-1; declare the classes ({declared_by})")
            return ints[codes] if codes.size else codes, np.arange(top + 1, dtype=np.int64)
        if classes is not None and extend and ok.any() and _are_indices(classes):
            top = int(ints[ok].max())
            if top >= classes.size:
                if top >= MAX_CLASS_INDEX:
                    row = _first_row(codes, ok & (ints == top))
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
                j = int(np.argmax(bad))
                row = _first_row(codes, bad)
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
            j = int(np.argmax(~ok))
            row = _first_row(codes, ~ok)
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
                                    position=lambda j: locate(_first_row(codes, np.arange(len(uniq)) == j)))
        return rank[codes] if codes.size else codes, ids
    idx = match_classes(values, classes)
    bad = idx < 0
    if bad.any():
        j = int(np.argmax(bad))
        row = _first_row(codes, bad)
        raise InputError(f"label {show(values[j])} is not one of the {classes.size} declared classes "
                         f"({_class_list(classes)})", source=source, position=locate(row),
                         fix=f"correct the label, or declare the class ({declared_by})")
    return idx[codes], classes


def _are_indices(classes: np.ndarray) -> bool:
    """Whether declared classes are the bare indices ``0..K-1`` (no names)."""
    return classes.dtype.kind in "iu" and bool(np.array_equal(classes, np.arange(classes.size)))


# --------------------------------------------------------------------------- assembly
def build_votes(task: np.ndarray, task_ids: np.ndarray, worker: np.ndarray, worker_ids: np.ndarray,
                label: np.ndarray, classes: np.ndarray, *, extra: Mapping[str, np.ndarray] | None = None,
                duplicates: str = "keep", name: str | None = None, source: str | None = None,
                locate: Locate = lambda r: f"row {r}") -> Votes:
    """The Votes, with the duplicate policy applied (rows reported through ``locate``)."""
    votes = Votes(task=task, worker=worker, label=label, task_ids=task_ids, worker_ids=worker_ids,
                  classes=classes, extra=dict(extra or {}), name=name)
    if duplicates == "keep" or votes.n_votes == 0:
        return votes
    key = pd.Series(votes.task * max(votes.n_workers, 1) + votes.worker)
    dup = key.duplicated(keep="last" if duplicates == "last" else "first").to_numpy()
    if not dup.any():
        return votes
    if duplicates == "error":
        row = int(np.argmax(dup))
        raise InputError(
            f"worker {show(votes.worker_ids[votes.worker[row]])} voted twice on task "
            f"{show(votes.task_ids[votes.task[row]])} ({int(dup.sum())} repeated pair(s) in all)",
            source=source, position=locate(row),
            fix="remove the repeats, or choose duplicates='keep', 'first' or 'last' "
                "(on the command line: --duplicates keep|first|last)")
    return votes.take(~dup)
