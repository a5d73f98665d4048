"""Long vote tables: CSV / TSV / text files, Parquet, pandas and polars DataFrames.

One row per vote with columns ``task``, ``worker``, ``label`` (crowd-kit's names; its
older ``performer`` is accepted for ``worker``; names match case-insensitively and
ignoring surrounding spaces, and ``columns=`` maps other names). Any other column becomes
a per-vote column of :attr:`Votes.extra` (e.g. Pl@ntNet's ``author`` flag).

Reading
-------
Ids and labels are read as text, then given the rules of :mod:`crowdwise.io`:

- classes: when every label is a number, equal numbers are one class (``1``, ``1.0``,
  ``01`` are class ``1``; int64 classes when all are whole numbers that fit, else
  float64); when some label is a name, labels are compared as text, and two spellings
  of one number are an error;
- ids: numeric (int64, sorted by value) only when every id is an integer written plainly
  that fits in int64; otherwise every id is text, the plainly written integers first by
  value, then the others in code-point order (``"2" < "10" < "007" < "b"``: ``"007"``
  stays text, distinct from ``"7"``).

Only empty (or blank) fields count as missing: ``NA`` or ``null`` are ordinary ids. With pyarrow installed the file is parsed
by Arrow's multi-threaded CSV reader (a 9M-vote table in about a second), otherwise by
the pandas C engine. ``.gz`` files are read transparently.

Positions in error messages: in text files, ``line N`` is the line number an editor
shows (the header is line 1, the first vote line 2); in Parquet files and DataFrames,
``row i`` is the 0-based position of the vote (``df.iloc[i]``).

Delimiters: ``.csv`` uses ``,`` and ``.tsv`` a tab, unless the header line clearly
uses another of ``, TAB ; |``; a ``.txt`` table takes the one its header uses, or runs
of white space when it has none.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from .._lazy import pd

from ..errors import InputError
from ..votes import DuplicatePolicy, Votes
from ._output import escape_formulas, unescape_formulas
from ._common import (PathLike, atomic_write, check_exists, check_file_not_empty, default_name, have_pyarrow,
                      kind_of, open_text, require_pyarrow, source_name)
from ._encode import (Locate, arrow_to_numpy, build_votes, check_duplicates_policy, check_gzip, encode_ids, encode_labels,
                      extend_ids, as_path, read_error, reading, resolve_classes)

__all__ = ["read_table", "write_table", "from_dataframe", "read_table_frame"]

VOTE_ALIASES: dict[str, tuple[str, ...]] = {
    "task": ("task",),
    "worker": ("worker", "performer"),
    "label": ("label",),
}
#: key of the crowdwise metadata in a Parquet file's schema
PARQUET_META_KEY = b"crowdwise"
_DELIMITERS = (",", "\t", ";", "|")


@dataclass
class TableData:
    """A table read from somewhere, with how to point at its rows in messages."""

    source: str
    names: list[str]
    n_rows: int
    column: Callable[[int], Any]
    locate: Locate
    header_position: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_numpy(self, i: int) -> np.ndarray:
        col = self.column(i)
        if hasattr(col, "to_numpy") and type(col).__module__.startswith("pyarrow"):
            return arrow_to_numpy(col)
        return np.asarray(col.to_numpy() if hasattr(col, "to_numpy") else col)


# --------------------------------------------------------------------------- columns
def resolve_columns(tbl: TableData, aliases: Mapping[str, Sequence[str]],
                    columns: Mapping[str, str] | None = None, *,
                    optional: Sequence[str] = ()) -> dict[str, int]:
    """Index of the column playing each role; InputError listing what was found.

    Roles in ``optional`` may be absent (they are then left out of the result).
    """
    if columns is not None and not isinstance(columns, Mapping):
        raise InputError(f"columns= must map roles to column names, got a {type(columns).__name__}",
                         fix="pass e.g. columns={'task': 'item', 'worker': 'user', 'label': 'answer'}")
    columns = dict(columns or {})
    unknown_roles = set(columns) - set(aliases)
    if unknown_roles:
        raise InputError(f"columns= has unknown role(s) {sorted(unknown_roles)}",
                         fix=f"map only {', '.join(aliases)} to column names")
    norm = [str(n).strip().lower() for n in tbl.names]
    found: dict[str, int] = {}
    missing = []
    for role, names in aliases.items():
        if role in columns:
            want = str(columns[role])
            hits = [i for i, n in enumerate(tbl.names) if str(n) == want]
            if not hits:
                hits = [i for i, n in enumerate(norm) if n == want.strip().lower()]
        else:
            hits = [i for i, n in enumerate(norm) if n in names]
        if len(hits) > 1:
            raise InputError(f"several columns can be the {role} column: "
                             f"{', '.join(repr(tbl.names[i]) for i in hits)}",
                             source=tbl.source, position=tbl.header_position,
                             fix=f"keep one of them, or choose with columns={{'{role}': ...}} (Python) or "
                                 f"--columns {role}=COLUMN (command line)")
        if hits:
            found[role] = hits[0]
        elif role not in optional:
            missing.append(role)
    if missing:
        expected = "; ".join(f"{r}: {' or '.join(repr(a) for a in aliases[r])}" for r in aliases
                             if r not in optional)
        shown = ", ".join(repr(str(n)) for n in tbl.names[:20]) + (", ..." if len(tbl.names) > 20 else "")
        hint = ""
        if tbl.names and all(_looks_numeric(n) for n in tbl.names):
            hint = (" (the first line looks like data, not a header: add a header line; a "
                    "tasks x workers matrix is read by read_dense)")
        raise InputError(f"missing column(s) {', '.join(repr(m) for m in missing)}; columns found: {shown}",
                         source=tbl.source, position=tbl.header_position,
                         fix=f"name the columns ({expected}), or map yours with columns={{...}} (Python) or "
                             f"--columns task=...,worker=...,label=... (command line){hint}")
    return found


def _looks_numeric(name: Any) -> bool:
    try:
        float(str(name))
    except ValueError:
        return False
    return True


# --------------------------------------------------------------------------- text files
def first_line(path: Path) -> tuple[str, int]:
    """The first non-blank line of a text file and its 1-based number; a quoted field that
    holds a line break (a header cell such as ``"p_a\nb"``) continues on the next lines."""
    with reading(path), open_text(path) as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                while line.count('"') % 2:  # inside quotes: the record goes on
                    more = f.readline()
                    if not more:
                        break
                    line += more
                return line.rstrip("\r\n"), i
    return "", 0


def sniff_delimiter(header: str, suffix: str, sep: str | None = None) -> str | None:
    """Delimiter of a table from its header line (None = runs of white space)."""
    if sep is not None:
        return None if sep.strip() == "" and len(sep) != 1 else sep
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    default = "\t" if suffix == ".tsv" else ","
    if counts[default] > 0 or counts[best] == 0:
        if counts[best] == 0 and suffix == ".txt" and len(header.split()) > 1:
            return None
        return default
    return best


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    return next(csv.reader([line], delimiter=delim))


def _records(path: Path, delim: str | None):
    """Yield ``(first line number, fields)`` of each non-empty record of a text table."""
    with open_text(path) as f:
        if delim is None:
            for i, line in enumerate(f, 1):
                if line.strip():
                    yield i, line.split()
            return
        reader = csv.reader(f, delimiter=delim)
        prev = 0
        for rec in reader:
            start, prev = prev + 1, reader.line_num
            if rec and not (len(rec) == 1 and not rec[0].strip()):
                yield start, rec


def line_of_row(path: Path, delim: str | None, row: int) -> str:
    """Position text of data row ``row`` (0-based, header excluded) of a text table."""
    for k, (line, _) in enumerate(_records(path, delim)):
        if k == row + 1:
            return f"line {line}"
    return f"data row {row + 1}"


def _diagnose(path: Path, delim: str | None, exc: Exception) -> InputError:
    """An InputError locating what the parser choked on."""
    source = source_name(path)
    n_fields = None
    try:
        for line, rec in _records(path, delim):
            if n_fields is None:
                n_fields = len(rec)
            elif len(rec) != n_fields:
                shown = (delim or " ").join(rec)
                return InputError(
                    f"{len(rec)} field(s) where the header has {n_fields}: {shown[:80]!r}",
                    source=source, position=f"line {line}",
                    fix="check the delimiter and the quoting of this line (a text holding the "
                        "delimiter must be quoted)")
    except (csv.Error, UnicodeError) as err:
        return InputError(f"cannot parse the file ({err})", source=source,
                          fix="save it as UTF-8 CSV")
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "UTF8" in msg or "utf-8" in msg.lower():
        return InputError(f"the file is not valid UTF-8 text ({msg})", source=source,
                          fix="save it as UTF-8")
    return InputError(f"cannot parse the file ({msg})", source=source,
                      fix="check that it is a delimited text table with a header line")


def read_text_table(path: Path, aliases: Mapping[str, Sequence[str]], *, text_roles: Sequence[str],
                    columns: Mapping[str, str] | None = None, sep: str | None = None,
                    optional: Sequence[str] = ()) -> tuple[TableData, dict[str, int]]:
    """Read a delimited text table; the columns of ``text_roles`` are read as text."""
    source = source_name(path)
    check_exists(path)
    if sep is not None and not isinstance(sep, str):
        raise InputError(f"sep must be a text (the delimiter), got {type(sep).__name__} {sep!r}", source=source,
                         fix="pass e.g. sep=',' or sep='\\t', or leave it None to sniff it from the header")
    suffix, gz = kind_of(path)
    if gz:  # a damaged start (or a small file, read to its CRC) is reported as such
        with reading(path), gzip.open(path, "rb") as f:
            f.read(1 << 16)
    with reading(path):
        check_file_not_empty(path)
    header, header_line = first_line(path)
    delim = sniff_delimiter(header, suffix, sep)
    names = [n.strip() for n in _split(header, delim)]
    probe = TableData(source=source, names=names, n_rows=0, column=lambda i: None,
                      locate=lambda r: f"row {r}", header_position=f"line {header_line} (header)")
    roles = resolve_columns(probe, aliases, columns, optional=optional)  # fail fast, before parsing
    text_cols = [names[roles[r]] for r in text_roles if r in roles]
    locate: Locate = lambda r: line_of_row(path, delim, r)  # noqa: E731 - only on errors
    if delim is not None and have_pyarrow():
        import pyarrow as pa
        import pyarrow.csv as pcsv

        raw_names = _split(header, delim)
        def parse(newlines: bool) -> Any:
            return pcsv.read_csv(
                str(path),
                read_options=pcsv.ReadOptions(use_threads=True, block_size=1 << 24),
                parse_options=pcsv.ParseOptions(delimiter=delim, newlines_in_values=newlines),
                convert_options=pcsv.ConvertOptions(
                    column_types={raw_names[names.index(c)]: pa.string() for c in text_cols},
                    strings_can_be_null=True, null_values=[""], quoted_strings_can_be_null=True),
            )

        try:
            try:
                table = parse(False)
            except pa.ArrowInvalid:  # quoted line breaks (in ids, labels or the header) need the slower parser
                table = parse(True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeError) as exc:
            check_gzip(path)  # a damaged .gz is said as such, not as the garbled line it led to
            if isinstance(exc, OSError) and not isinstance(exc, UnicodeError):
                low = str(exc).lower()
                if isinstance(exc, PermissionError) or "permission" in low or "no such file" in low:
                    raise read_error(path, exc) from None
            with reading(path):
                raise _diagnose(path, delim, exc) from None
        if table.num_columns != len(names):
            raise _diagnose(path, delim, ValueError("header and data disagree"))
        text_idx = {names.index(c) for c in text_cols}  # cells escaped for spreadsheets (escape_formulas)
        tbl = TableData(source=source, names=names, n_rows=table.num_rows,
                        column=lambda i: unescape_formulas(table.column(i)) if i in text_idx else table.column(i),
                        locate=locate, header_position=probe.header_position)
        return tbl, roles
    try:
        df = pd.read_csv(path, sep=delim if delim is not None else r"\s+", engine="c",
                         dtype={c: object for c in text_cols}, keep_default_na=False, na_values=[""],
                         skipinitialspace=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, UnicodeError, OSError, EOFError,
            zlib.error) as exc:
        check_gzip(path)
        if isinstance(exc, (PermissionError, IsADirectoryError)):
            raise read_error(path, exc) from None
        with reading(path):
            raise _diagnose(path, delim, exc) from None
    df.columns = names if len(df.columns) == len(names) else [str(c).strip() for c in df.columns]
    text_idx = {i for i, c in enumerate(df.columns) if c in text_cols}
    tbl = TableData(source=source, names=list(df.columns), n_rows=len(df),
                    column=lambda i: unescape_formulas(df.iloc[:, i]) if i in text_idx else df.iloc[:, i],
                    locate=locate, header_position=probe.header_position)
    return tbl, roles


def read_parquet_table(path: Path) -> TableData:
    """Read a Parquet file (needs pyarrow)."""
    source = source_name(path)
    check_exists(path)
    pa = require_pyarrow(source)
    import pyarrow.parquet as pq

    with reading(path):
        if path.stat().st_size == 0:
            raise InputError("the file is empty", source=source, fix="point to a Parquet file")
    try:
        # ParquetFile reads the one file without pyarrow.dataset, whose import loads
        # pandas (see docs/dev/performance.md, "Reading without pandas") that this path
        # does not need
        if path.is_dir():  # a data set written in parts (Spark, Hive): the dataset reader
            table = pq.read_table(path)
        else:
            with pq.ParquetFile(path) as pf:
                table = pf.read()
    except (pa.ArrowInvalid, OSError) as exc:
        if isinstance(exc, PermissionError) or "permission denied" in str(exc).lower():
            raise read_error(path, exc) from None
        raise InputError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", source=source,
                         fix="check the file (was it fully written?) or its extension") from None
    meta: dict[str, Any] = {}
    raw = (table.schema.metadata or {}).get(PARQUET_META_KEY)
    if raw:
        try:
            meta = json.loads(raw)
            if not isinstance(meta, dict):
                raise ValueError
        except ValueError:
            warnings.warn(f"{source}: ignoring unreadable crowdwise metadata in the Parquet schema",
                          stacklevel=3)
            meta = {}
    return TableData(source=source, names=[str(n) for n in table.column_names], n_rows=table.num_rows,
                     column=table.column, locate=lambda r: f"row {r}", header_position="columns",
                     metadata=meta)


def frame_table(df: Any, source: str = "DataFrame") -> TableData:
    """A pandas / polars DataFrame or an Arrow table as TableData (row i = 0-based)."""
    mod = type(df).__module__
    if mod.startswith("polars"):
        if have_pyarrow():
            df = df.to_arrow()
            mod = type(df).__module__
        else:  # pragma: no cover - polars without pyarrow
            df = pd.DataFrame(df.to_dict(as_series=False))
            mod = "pandas"
    if mod.startswith("pyarrow") and hasattr(df, "column_names"):
        return TableData(source=source, names=[str(n) for n in df.column_names], n_rows=df.num_rows,
                         column=df.column, locate=lambda r: f"row {r}", header_position="columns")
    if isinstance(df, pd.DataFrame):
        return TableData(source=source, names=[str(c) for c in df.columns], n_rows=len(df),
                         column=lambda i: df.iloc[:, i], locate=lambda r: f"row {r}",
                         header_position="columns")
    raise InputError(f"expected a pandas or polars DataFrame (or a pyarrow Table), got {type(df).__name__}",
                     source=source, fix="pass a DataFrame with columns task, worker, label")


def _votes_from(tbl: TableData, roles: dict[str, int], *, duplicates: str, classes: Any, n_classes: Any,
                name: str | None) -> Votes:
    src, locate = tbl.source, tbl.locate
    t_codes, t_ids = encode_ids(tbl.column(roles["task"]), what="task", source=src, locate=locate)
    w_codes, w_ids = encode_ids(tbl.column(roles["worker"]), what="worker", source=src, locate=locate)
    declared = resolve_classes(classes, n_classes, source=src)
    meta = tbl.metadata
    if declared is None and meta.get("classes") is not None:
        declared = resolve_classes(meta["classes"], None, source=src, where="metadata")
    l_codes, cls = encode_labels(tbl.column(roles["label"]), classes=declared, as_indices=False,
                                 source=src, locate=locate)
    if meta.get("tasks_without_votes"):
        t_codes, t_ids = extend_ids(t_codes, t_ids, meta["tasks_without_votes"])
    if meta.get("workers_without_votes"):
        w_codes, w_ids = extend_ids(w_codes, w_ids, meta["workers_without_votes"])
    used = set(roles.values())
    extra = {tbl.names[i]: tbl.to_numpy(i) for i in range(len(tbl.names)) if i not in used}
    return build_votes(t_codes, t_ids, w_codes, w_ids, l_codes, cls, extra=extra, duplicates=duplicates,
                       name=name if name is not None else meta.get("name"), source=src, locate=locate)


# --------------------------------------------------------------------------- public API
def read_table(
    path: PathLike,
    *,
    duplicates: DuplicatePolicy = "keep",
    classes: Sequence[Any] | None = None,
    n_classes: int | None = None,
    name: str | None = None,
    columns: Mapping[str, str] | None = None,
    sep: str | None = None,
) -> Votes:
    """Read a long vote table: CSV, TSV, delimited text or Parquet.

    Labels that are all numbers give numeric classes, equal numbers being one class
    (``1``, ``1.0`` and ``01`` are class ``1``); otherwise labels are compared as text.
    An id column is numeric only when every id is a plainly written integer fitting in
    int64; otherwise all its ids are text, the integers first (by value), then the
    others (text order). See the :mod:`crowdwise.io` documentation. A truncated or
    damaged ``.gz`` is an :class:`~crowdwise.errors.InputError` naming the file.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv``, ``.txt`` (each possibly ``.gz``) or ``.parquet``.
    duplicates : {"keep", "first", "last", "error"}
        Several votes of one worker on one task: keep all, keep the first / last row, or
        raise.
    classes : sequence, optional
        Declared class values in index order (may include classes nobody voted for).
    n_classes : int, optional
        Declare classes ``0..n_classes-1`` (labels must be those integers).
    name : str, optional
        Data-set name; default the file stem.
    columns : mapping, optional
        Your column names for the roles, e.g. ``{"task": "item", "worker": "user"}``.
    sep : str, optional
        Delimiter of a text table (default: sniffed from the header line).

    Returns
    -------
    Votes
        Extra columns become per-vote columns (``votes.extra``). A Parquet file written by
        :func:`write_table` also restores declared classes and ids without votes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "crowd.csv"
    >>> _ = f.write_text("task,worker,label,author\\n10,ann,cat,1\\n2,bob,dog,0\\n10,bob,cat,0\\n")
    >>> v = read_table(f)
    >>> v, v.task_ids.tolist(), v.classes.tolist(), v.extra["author"].tolist()
    (Votes(name='crowd', n_votes=3, n_tasks=2, n_workers=2, n_classes=2), [2, 10], ['cat', 'dog'], [1, 0, 0])
    """
    path = as_path(path, "vote table")
    check_duplicates_policy(duplicates)
    suffix = kind_of(path)[0]
    if suffix == ".parquet":
        with reading(path):
            tbl = read_parquet_table(path)
        roles = resolve_columns(tbl, VOTE_ALIASES, columns)
    elif suffix in (".csv", ".tsv", ".txt"):
        with reading(path):
            tbl, roles = read_text_table(path, VOTE_ALIASES, text_roles=("task", "worker", "label"),
                                         columns=columns, sep=sep)
    else:
        raise InputError(f"unknown table extension {''.join(path.suffixes)!r}", source=source_name(path),
                         fix="use .csv, .tsv, .txt (optionally .gz) or .parquet")
    votes = _votes_from(tbl, roles, duplicates=duplicates, classes=classes, n_classes=n_classes,
                        name=name if name is not None else (tbl.metadata.get("name") or default_name(path)))
    if suffix == ".parquet":
        del tbl
        _release_arrow_memory()
    return votes


def _release_arrow_memory() -> None:
    """Give the memory Arrow's allocator keeps after a read back to the system, so that the
    fit that follows reuses it instead of adding to the peak (how much: ``docs/dev/performance.md``,
    "Reading without pandas")."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # pragma: no cover - an allocator without the call
        pass


def from_dataframe(
    df: Any,
    *,
    duplicates: DuplicatePolicy = "keep",
    classes: Sequence[Any] | None = None,
    n_classes: int | None = None,
    name: str | None = None,
    columns: Mapping[str, str] | None = None,
) -> Votes:
    """Votes from a pandas or polars DataFrame (or a pyarrow Table) of one row per vote.

    Same columns and parameters as :func:`read_table`; error positions are ``row i``,
    the 0-based row position. A polars frame goes through Arrow (no copy of the ids
    through Python objects).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"task": [1, 1, 2], "performer": ["a", "b", "a"], "label": [0, 1, 1]})
    >>> from_dataframe(df, n_classes=3)
    Votes(n_votes=3, n_tasks=2, n_workers=2, n_classes=3)
    """
    check_duplicates_policy(duplicates)
    tbl = frame_table(df)
    roles = resolve_columns(tbl, VOTE_ALIASES, columns)
    return _votes_from(tbl, roles, duplicates=duplicates, classes=classes, n_classes=n_classes, name=name)


def read_table_frame(path: PathLike, *, text_columns: Sequence[str] = ("task", "worker", "label")
                     ) -> pd.DataFrame:
    """Any table (CSV / TSV / text / Parquet) as a pandas DataFrame, with the checks of
    :func:`read_table` (missing or empty file, parse errors located by line).

    Columns named in ``text_columns`` (case-insensitively) are read as text, so that ids
    keep their exact spelling; only empty fields are missing. Other columns get their
    natural types.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "truth.csv"
    >>> _ = f.write_text("task,label,score\\n007,3,0.5\\n")
    >>> df = read_table_frame(f)
    >>> df["task"].tolist(), df["label"].tolist(), df["score"].tolist()
    (['007'], ['3'], [0.5])
    """
    path = as_path(path, "table")
    wanted = {str(c).strip().lower() for c in text_columns}
    suffix = kind_of(path)[0]
    if suffix == ".parquet":
        with reading(path):
            tbl = read_parquet_table(path)
    elif suffix in (".csv", ".tsv", ".txt"):
        aliases = {c: (c,) for c in wanted}
        with reading(path):
            tbl, _ = read_text_table(path, aliases, text_roles=tuple(wanted), optional=tuple(wanted))
    else:
        raise InputError(f"unknown table extension {''.join(path.suffixes)!r}", source=source_name(path),
                         fix="use .csv, .tsv, .txt (optionally .gz) or .parquet")
    data = {}
    for i, name in enumerate(tbl.names):
        col = tbl.column(i)
        if type(col).__module__.startswith("pyarrow"):
            if name.strip().lower() in wanted:
                col = pd.Series(col.to_numpy(zero_copy_only=False), dtype=object)
            else:
                col = col.to_pandas()
        data[name] = pd.Series(col).reset_index(drop=True)
    return pd.DataFrame(data)


def _vote_columns(votes: Votes) -> dict[str, np.ndarray]:
    cols = {"task": votes.task_ids[votes.task], "worker": votes.worker_ids[votes.worker],
            "label": votes.classes[votes.label]}
    for k, v in votes.extra.items():
        if k in cols:
            raise InputError(f"per-vote column {k!r} has the name of a vote column",
                             fix="rename it with votes.with_extra(...)")
        cols[k] = np.asarray(v)
    return cols


def _id_list(a: np.ndarray) -> list[Any]:
    return np.asarray(a).tolist()


def write_table(votes: Votes, path: PathLike) -> Path:
    """Write votes as a long table, atomically: ``.csv`` / ``.tsv`` / ``.txt`` (``.gz``) or ``.parquet``.

    Columns ``task, worker, label`` hold the original ids and class values, followed by
    the per-vote columns. A CSV cannot say which classes or ids have no vote; a Parquet
    file keeps them (and the data-set name) in its schema metadata under ``crowdwise``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crowdwise import Votes
    >>> v = Votes.from_records(["a", "b"], ["w", "w"], ["x", "y"], classes=["x", "y", "z"])
    >>> out = write_table(v, pathlib.Path(tempfile.mkdtemp()) / "v.csv")
    >>> print(out.read_text().strip())
    task,worker,label
    a,w,x
    b,w,y
    """
    path = Path(path)
    if not isinstance(votes, Votes):
        raise InputError(f"write_table expects a crowdwise.Votes, got {type(votes).__name__}",
                         fix="pass the Votes that load_votes or Votes.from_records returns")
    suffix, gz = kind_of(path)
    cols = _vote_columns(votes)
    if suffix == ".parquet":
        pa = require_pyarrow(source_name(path))
        import pyarrow.parquet as pq

        arrays = {}
        for k, v in cols.items():
            try:
                arrays[k] = arrow_array(v)
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
                raise InputError(f"column {k!r} cannot be stored in Parquet ({str(exc).splitlines()[0]})",
                                 source=source_name(path),
                                 fix="give the per-vote column one type, e.g. votes.with_extra(col=values.astype(str))"
                                 ) from None
        table = pa.table(arrays)
        t_has = np.bincount(votes.task, minlength=votes.n_tasks) > 0
        w_has = np.bincount(votes.worker, minlength=votes.n_workers) > 0
        meta = {"name": votes.name, "classes": _id_list(votes.classes),
                "tasks_without_votes": _id_list(votes.task_ids[~t_has]),
                "workers_without_votes": _id_list(votes.worker_ids[~w_has])}
        table = table.replace_schema_metadata({PARQUET_META_KEY: json.dumps(meta).encode()})
        with atomic_write(path, "wb") as f:
            pq.write_table(table, f)
        return path
    if suffix not in (".csv", ".tsv", ".txt"):
        raise InputError(f"unknown table extension {''.join(path.suffixes)!r}", source=source_name(path),
                         fix="use .csv, .tsv, .txt (optionally .gz) or .parquet")
    delim = "\t" if suffix == ".tsv" else ","
    for key in ("task", "worker", "label"):  # text a spreadsheet would run is quoted; read_table unquotes it
        cols[key] = escape_formulas(cols[key])
    with atomic_write(path, "wb") as raw:
        import gzip

        f = gzip.GzipFile(fileobj=raw, mode="wb") if gz else raw
        try:
            _write_csv(cols, f, delim)
        finally:
            if gz:
                f.close()
    return path


def arrow_array(values: np.ndarray) -> Any:
    """``pa.array`` of a column to write; NumPy text arrays go through Python strings, since
    pyarrow reads a ``'<U'`` array as C strings and would cut a value at a NUL character."""
    import pyarrow as pa

    values = np.asarray(values)
    return pa.array(values.astype(object) if values.dtype.kind == "U" else values)


def _write_csv(cols: Mapping[str, np.ndarray], f: Any, delim: str) -> None:
    """CSV through Arrow when possible (fast, quotes only when needed), else pandas."""
    if have_pyarrow():
        import pyarrow as pa
        import pyarrow.csv as pcsv

        import pyarrow.compute as pc

        try:
            table = pa.table({k: arrow_array(v) for k, v in cols.items()})
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
            table = None
        if table is not None:
            # quote nothing unless some text holds the delimiter, a quote or a line break
            special = any(
                pc.any(pc.match_substring_regex(table.column(i), f"[{re.escape(delim)}\"\r\n]")).as_py()
                for i in range(table.num_columns)
                if pa.types.is_string(table.schema.field(i).type)
                or pa.types.is_large_string(table.schema.field(i).type))
            # Arrow quotes every header name: write the header line ourselves
            buf = io.StringIO()
            cr = any("\r" in n for n in table.column_names)  # csv quotes "\n" (its line end), not "\r"
            csv.writer(buf, delimiter=delim, lineterminator="\n",
                       quoting=csv.QUOTE_ALL if cr else csv.QUOTE_MINIMAL).writerow(table.column_names)
            f.write(buf.getvalue().encode("utf-8"))
            opts = pcsv.WriteOptions(delimiter=delim, quoting_style="needed" if special else "none",
                                     include_header=False)
            pcsv.write_csv(table, f, write_options=opts)
            return
    pd.DataFrame(dict(cols)).to_csv(f, sep=delim, index=False, lineterminator="\n")
