"""Ground truth aligned with the tasks of a :class:`~crowdwise.Votes`."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from .._lazy import pd

from ..errors import InputError
from ..votes import Votes
from ._common import PathLike, check_exists, kind_of, open_text, source_name
from ._encode import Uniques, as_path, int_like, match_classes, raw_factorize, reading, show
from .tables import TableData, read_parquet_table, read_text_table, resolve_columns

__all__ = ["load_truth"]

logger = logging.getLogger("crowdwise.io")

TRUTH_ALIASES = {"task": ("task",), "label": ("label", "truth", "gold", "true_label")}


def ids_as_text(values: np.ndarray) -> np.ndarray:
    """Ids as the text they are written with (integral floats lose their ``.0``)."""
    values = np.asarray(values)
    if values.dtype.kind in "iuU":
        return values.astype(str)
    if values.dtype.kind == "f":
        ints, ok = int_like(values)
        return np.where(ok, ints.astype(str), values.astype(str))
    ints, ok = int_like(values)
    return np.array([str(i) if k and not isinstance(v, str) else str(v)
                     for v, i, k in zip(values.tolist(), ints.tolist(), ok.tolist())], dtype=str)


def task_index(col: Any, votes: Votes, *, source: str, locate: Any) -> np.ndarray:
    """Index of each row's task in ``votes.task_ids`` (-1 when the votes do not have it)."""
    codes, uniq = raw_factorize(col, what="task", source=source, locate=locate)
    missing = codes < 0
    if missing.any():
        row = int(np.argmax(missing))
        raise InputError(f"task is missing (empty) in {int(missing.sum())} row(s), the first here",
                         source=source, position=locate(row), fix="give every row a task id, or drop those rows")
    known = pd.Index(ids_as_text(votes.task_ids))
    u_idx = np.asarray(known.get_indexer(ids_as_text(_values(uniq))), dtype=np.int64)
    return u_idx[codes] if codes.size else codes


def _values(uniq: Uniques) -> np.ndarray:
    return uniq.values


def read_columns(path: Path, aliases: dict[str, tuple[str, ...]], *, optional: tuple[str, ...] = (),
                 text_roles: tuple[str, ...]) -> tuple[TableData, dict[str, int]]:
    """A CSV / TSV / text / Parquet table and the columns playing ``aliases`` roles."""
    suffix = kind_of(path)[0]
    if suffix == ".parquet":
        tbl = read_parquet_table(path)
        return tbl, resolve_columns(tbl, aliases, optional=optional)
    if suffix in (".csv", ".tsv", ".txt"):
        return read_text_table(path, aliases, text_roles=text_roles, optional=optional)
    raise InputError(f"unknown extension {''.join(path.suffixes)!r}", source=source_name(path),
                     fix="use .npy, .csv, .tsv, .txt (optionally .gz) or .parquet")


def looks_like_index_lines(path: Path) -> bool:
    """Whether a text file holds one class index per line (its first non-blank line is an
    integer, as peerannot's ``LabelMe_Z_test.txt``) rather than a table with a header."""
    import re

    with reading(path), open_text(path) as f:
        for line in f:
            if line.strip():
                return bool(re.fullmatch(r"\s*-?\d+(\.0*)?\s*", line))
    return True


def read_index_lines(path: Path) -> np.ndarray:
    """One class index per line of a text file, as int64 (-1: unknown)."""
    source = source_name(path)
    try:
        with reading(path), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "input contained no data": said below
            arr = np.loadtxt(path, dtype=np.float64, ndmin=1)
    except ValueError as exc:
        raise InputError(f"not one class index per line ({exc})", source=source,
                         fix="write one integer per line, -1 for unknown") from None
    if arr.size == 0:
        raise InputError("the truth file holds no line", source=source,
                         fix="write the true class index of each task, one per line (-1 for unknown), or point "
                             "to the right file")
    if arr.ndim != 1:
        raise InputError(f"expected one class index per line, got {arr.shape[1]} columns", source=source,
                         fix="write one integer per line")
    return integer_array(arr, source)


def load_truth(path: PathLike, votes: Votes | None) -> np.ndarray:
    """Ground-truth class index of each task of ``votes`` (-1 where unknown).

    Parameters
    ----------
    path : str or Path
        - ``.npy`` (e.g. peerannot's ``ground_truth.npy``): class indices aligned by
          position with ``votes.task_ids``, length ``n_tasks``, -1 for unknown.
        - ``.txt`` holding one integer per line (no header; as ``train --test-truth``
          reads it): the same, one class index per line.
        - ``.csv`` / ``.tsv`` / ``.txt`` / ``.parquet``: columns ``task`` and ``label``
          (also accepted: ``truth``, ``gold``, ``true_label``), the label a class value.
          Text ``"3"`` matches class 3. Rows of tasks the votes do not have are ignored
          (their number is logged on the ``crowdwise.io`` logger); an empty label means
          unknown.
    votes : Votes or None
        The votes to align with. ``None`` is accepted for a ``.npy`` (or a ``.txt`` of
        indices) only, returned as it is (checked to hold class indices or -1).

    Returns
    -------
    ndarray of int64, shape (votes.n_tasks,)

    Raises
    ------
    InputError
        A label that is not a class of ``votes`` (for a task the votes have), two
        different labels for one task, a length or value out of range in a ``.npy``; a
        truth without any row (a table with only its header, an empty file) or whose
        label column is empty, which would give an accuracy on 0 tasks; a file that
        cannot be read (truncated ``.gz``, permission).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crowdwise import Votes
    >>> v = Votes.from_records(["a", "b", "c"], ["w", "w", "w"], [1, 2, 2], classes=[1, 2, 3])
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "truth.csv"
    >>> _ = f.write_text("task,label\\nc,3\\na,1\\nzzz,2\\n")
    >>> load_truth(f, v).tolist()
    [0, -1, 2]
    """
    path = as_path(path, "truth file")
    with reading(path):
        return _load_truth(path, votes)


def _load_truth(path: Path, votes: Votes | None) -> np.ndarray:
    source = source_name(path)
    check_exists(path)
    index_lines = kind_of(path)[0] == ".txt" and looks_like_index_lines(path)
    if votes is None and (kind_of(path)[0] == ".npy" or index_lines):
        arr = read_index_lines(path) if index_lines else load_npy(path)
        if arr.ndim != 1:
            raise InputError(f"expected one class index per task (1-D), got shape {arr.shape}", source=source,
                             fix="save the true class index of each task, -1 for unknown")
        arr = integer_array(arr, source)
        if (arr < -1).any():
            i = int(np.argmax(arr < -1))
            raise InputError(f"value {arr[i]} is not a class index nor -1 (unknown)", source=source,
                             position=f"entry {i}", fix="use class indices, -1 for unknown")
        return arr
    if not isinstance(votes, Votes):
        raise InputError(f"load_truth needs the crowdwise.Votes to align with, got {type(votes).__name__}",
                         source=source, fix="pass the votes (a truth table is matched on their task ids)")
    if kind_of(path)[0] == ".npy" or index_lines:
        return _truth_npy(path, votes, read_index_lines(path) if index_lines else None)
    tbl, roles = read_columns(path, TRUTH_ALIASES, text_roles=("task", "label"))
    locate = tbl.locate
    if tbl.n_rows == 0:
        raise InputError("the truth holds no row (only its header)", source=source,
                         position=tbl.header_position,
                         fix="add one row 'task,label' per task whose true label is known, or point to the "
                             "right truth file")
    t_idx = task_index(tbl.column(roles["task"]), votes, source=source, locate=locate)
    l_codes, l_uniq = raw_factorize(tbl.column(roles["label"]), what="label", source=source, locate=locate)
    u_match = match_classes(l_uniq.values, votes.classes) if len(l_uniq) else np.zeros(0, np.int64)
    l_idx = np.where(l_codes >= 0, u_match[np.maximum(l_codes, 0)] if u_match.size else -1, -1)
    known = t_idx >= 0
    if t_idx.size and not known.any():
        _, task_uniq = raw_factorize(tbl.column(roles["task"]), what="task", source=source, locate=locate)
        seen = ", ".join(repr(str(x)) for x in ids_as_text(_values(task_uniq))[:3])
        raise InputError(f"none of the {t_idx.size} row(s) names a task of the votes (truth tasks: {seen}...; "
                         f"tasks of the votes: {', '.join(repr(str(x)) for x in votes.task_ids[:3])}...)",
                         source=source, fix="check that the truth and the votes come from the same data set")
    bad = known & (l_codes >= 0) & (l_idx < 0)
    if bad.any():
        row = int(np.argmax(bad))
        shown = ", ".join(map(str, votes.classes[:10].tolist())) + (", ..." if votes.n_classes > 10 else "")
        raise InputError(f"true label {show(l_uniq.values[l_codes[row]])} is not one of the {votes.n_classes} "
                         f"classes of the votes ({shown})", source=source, position=locate(row),
                         fix="correct the label, or declare the class when loading the votes (classes=...)")
    sel = known & (l_idx >= 0)
    rows = np.flatnonzero(sel)
    pairs = pd.DataFrame({"t": t_idx[rows], "l": l_idx[rows]})
    first = ~pairs.duplicated().to_numpy()
    conflict = pairs["t"][first].duplicated().to_numpy()
    if conflict.any():
        row = int(rows[np.flatnonzero(first)[np.argmax(conflict)]])
        t = int(t_idx[row])
        raise InputError(f"task {show(votes.task_ids[t])} has two different true labels", source=source,
                         position=locate(row), fix="keep one true label per task")
    if t_idx.size and not (l_codes >= 0).any():
        raise InputError(f"none of the {t_idx.size} row(s) gives a true label (the label column is empty)",
                         source=source, fix="fill in the label of each task whose true label is known, or point "
                                            "to the right truth file")
    truth = np.full(votes.n_tasks, -1, dtype=np.int64)
    truth[t_idx[rows]] = l_idx[rows]
    ignored = int((~known).sum())
    if ignored:
        logger.info("%s: %d truth row(s) name tasks absent from the votes; ignored", source, ignored)
    return truth


def _truth_npy(path: Path, votes: Votes, arr: np.ndarray | None = None) -> np.ndarray:
    """Class indices aligned by position with the tasks of ``votes`` (from ``path``, a
    ``.npy``, unless ``arr`` is given), checked."""
    source = source_name(path)
    arr = load_npy(path) if arr is None else arr
    if arr.ndim != 1 or arr.shape[0] != votes.n_tasks:
        raise InputError(f"expected one class index per task, shape ({votes.n_tasks},), got shape {arr.shape}",
                         source=source, fix="align the truth with the tasks of the votes (declare tasks "
                                             "without votes, e.g. metadata.json 'n_tasks')")
    arr = integer_array(arr, source)
    bad = (arr < -1) | (arr >= votes.n_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"value {arr[i]} is not a class index (0..{votes.n_classes - 1}) nor -1 (unknown)",
                         source=source, position=f"entry {i}", fix="use class indices, -1 for unknown")
    return arr


def load_npy(path: Path) -> np.ndarray:
    """``np.load`` without pickles; unreadable files become InputErrors."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"not a readable .npy file ({str(exc).splitlines()[0] if str(exc) else 'empty'})",
                         source=source_name(path), fix="save it with numpy.save (no object arrays)") from None
    if not isinstance(arr, np.ndarray):
        raise InputError("expected one array, found an .npz archive", source=source_name(path),
                         fix="save a single array with numpy.save")
    return arr


def integer_array(arr: np.ndarray, source: str) -> np.ndarray:
    """int64 copy of an integer (or integral float) array; InputError otherwise."""
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        ok = np.isfinite(arr) & (arr == np.round(arr))
        if not ok.all():
            i = int(np.argmax(~ok))
            raise InputError(f"value {show(arr.flat[i])} is not an integer", source=source, position=f"entry {i}",
                             fix="store class indices (integers), -1 for none")
        return arr.astype(np.int64)
    raise InputError(f"expected integers, got dtype {arr.dtype}", source=source,
                     fix="store class indices (integers), -1 for none")
