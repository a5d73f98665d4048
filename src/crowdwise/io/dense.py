"""Dense tasks x workers matrices (LabelMe's ``answers.txt``).

Row ``i`` is task ``i``, column ``j`` worker ``j``, each entry the class index the
worker gave, or the ``missing`` marker (-1) when they gave none. Values are separated by
white space; no header. Only for small data sets: the file has ``n_tasks * n_workers``
entries whatever the number of votes, so :func:`write_dense` refuses above
``max_cells`` (1e8) and :class:`~crowdwise.Votes` never holds the matrix.

Error positions are ``line L, column C``: the line number an editor shows and the
1-based value number on that line.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from .._lazy import pd

from ..errors import InputError, TooLargeError
from ..votes import Votes
from ._common import (PathLike, atomic_write, check_exists, check_file_not_empty, default_name, kind_of, open_text,
                      source_name)
from ._encode import check_gzip, encode_labels, reading, resolve_classes, show

__all__ = ["read_dense", "write_dense", "looks_dense"]

_INT_TOKEN = re.compile(r"[+-]?\d+")
_DENSE_LINE = re.compile(r"\s*[+-]?\d+(?:\s+[+-]?\d+)*\s*")


def looks_dense(first_line: str) -> bool:
    """True when a text file's first non-blank line is only integers separated by white space.

    This is how :func:`~crowdwise.io.load_votes` tells a dense matrix (``.txt``) from a
    long table, which must start with a header line naming its columns.

    >>> looks_dense("-1 3 -1 0"), looks_dense("task worker label"), looks_dense("1,2,3")
    (True, False, False)
    """
    return bool(_DENSE_LINE.fullmatch(first_line))


def _lines(path: Path):
    """``(line number, values)`` of each non-blank line."""
    with open_text(path) as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                yield i, line.split()


def _diagnose(path: Path, exc: Exception) -> InputError:
    source = source_name(path)
    width = None
    for line, toks in _lines(path):
        for j, tok in enumerate(toks):
            if not _INT_TOKEN.fullmatch(tok):
                return InputError(f"{tok[:40]!r} is not an integer", source=source,
                                  position=f"line {line}, column {j + 1}",
                                  fix="a dense matrix holds class indices and the missing marker only")
        if width is None:
            width = len(toks)
        elif len(toks) != width:
            return InputError(f"{len(toks)} values where the first line has {width}", source=source,
                              position=f"line {line}",
                              fix="give every task (line) one value per worker, the missing marker "
                                  "where the worker gave no label")
    return InputError(f"cannot read the matrix ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                      source=source, fix="write one line per task, white-space separated integers")


def _line_numbers(path: Path) -> np.ndarray:
    return np.array([line for line, _ in _lines(path)], dtype=np.int64)


def read_dense(
    path_or_array: PathLike | np.ndarray,
    missing: int = -1,
    *,
    classes: Any = None,
    n_classes: int | None = None,
    name: str | None = None,
) -> Votes:
    """Votes from a dense tasks x workers matrix (a text file or an array).

    Parameters
    ----------
    path_or_array : str, Path or 2-D array
        White-space separated integers, one line per task (LabelMe's ``answers.txt``).
    missing : int
        The entry meaning "no label" (default -1).
    classes, n_classes : optional
        Entries are class indices; ``classes`` names them, ``n_classes`` declares how
        many there are (default ``0..max``).
    name : str, optional
        Default: the file stem (``answers.txt`` takes its folder's name).

    Returns
    -------
    Votes
        Task ids ``0..n_rows-1`` and worker ids ``0..n_columns-1``, all declared (a task
        or worker without any vote is kept).

    Examples
    --------
    >>> v = read_dense([[1, -1, 0], [-1, -1, -1], [2, 2, -1]])
    >>> v, v.task_ids.tolist(), v.label.tolist()
    (Votes(n_votes=4, n_tasks=3, n_workers=3, n_classes=3), [0, 1, 2], [1, 0, 2, 2])
    """
    if not isinstance(missing, (int, np.integer)) or isinstance(missing, (bool, np.bool_)):
        raise InputError(f"missing must be an integer (the entry meaning 'no label'), got {missing!r}",
                         fix="pass missing=-1 (the default) or another integer outside the class indices")
    if isinstance(path_or_array, (str, os.PathLike)):
        path = Path(path_or_array)
        source = source_name(path)
        check_exists(path)
        with reading(path):
            if kind_of(path)[1]:  # a damaged start (or a small file, read to its CRC) said as such
                with gzip.open(path, "rb") as f:
                    f.read(1 << 16)
            check_file_not_empty(path)
        try:
            with reading(path):
                arr = pd.read_csv(path, sep=r"\s+", header=None, dtype=np.int64, engine="c",
                                  skip_blank_lines=True).to_numpy()
        except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError, OverflowError,
                UnicodeError) as exc:
            check_gzip(path)
            with reading(path):
                raise _diagnose(path, exc) from None
        line_cache: list[np.ndarray] = []

        def cell(r: int, c: int) -> str:
            if not line_cache:
                line_cache.append(_line_numbers(path))
            return f"line {int(line_cache[0][r])}, column {c + 1} (task {r}, worker {c})"

        if name is None:
            name = default_name(path)
    else:
        source = "array"
        try:
            arr = np.asarray(path_or_array)
        except ValueError:
            raise InputError("the rows of the matrix differ in length", source=source,
                             fix="give every task one entry per worker") from None

        def cell(r: int, c: int) -> str:
            return f"row {r}, column {c}"

    if arr.ndim != 2:
        raise InputError(f"a dense matrix must be 2-D (tasks x workers), got shape {arr.shape}",
                         source=source, fix="pass one row per task and one column per worker")
    if arr.dtype.kind == "f":
        nonint = ~(np.isfinite(arr) & (arr == np.round(arr)))
        if nonint.any():
            r, c = np.argwhere(nonint)[0]
            raise InputError(f"entry {show(arr[r, c])} is not an integer", source=source, position=cell(r, c),
                             fix="entries are class indices or the missing marker")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu":
        raise InputError(f"a dense matrix holds integers, got dtype {arr.dtype}", source=source,
                         fix="entries are class indices or the missing marker")
    arr = arr.astype(np.int64, copy=False)
    rows, cols = np.nonzero(arr != missing)
    labels = arr[rows, cols]
    neg = labels < 0
    if neg.any():
        k = int(np.argmax(neg))
        raise InputError(f"entry {labels[k]} is negative but not the missing marker {missing}",
                         source=source, position=cell(rows[k], cols[k]),
                         fix=f"use {missing} for 'no label', or pass missing=... to read_dense")
    declared = resolve_classes(classes, n_classes, source=source)
    codes, cls = encode_labels(labels, classes=declared, as_indices=True, source=source,
                               locate=lambda v: cell(rows[v], cols[v]),
                               declared_by="classes=... or n_classes=...")
    return Votes(task=rows, worker=cols, label=codes, task_ids=np.arange(arr.shape[0]),
                 worker_ids=np.arange(arr.shape[1]), classes=cls, name=name)


def write_dense(votes: Votes, path: PathLike, missing: int = -1, *, max_cells: float = 1e8) -> Path:
    """Write votes as a dense tasks x workers matrix of class indices (atomic).

    Rows follow ``votes.task_ids``, columns ``votes.worker_ids`` (the ids themselves are
    not written: they come back as ``0..n-1``). Refuses (``TooLargeError``) above
    ``max_cells`` entries, and refuses repeated (task, worker) pairs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> v = read_dense([[1, -1], [-1, 0]])
    >>> out = write_dense(v, pathlib.Path(tempfile.mkdtemp()) / "answers.txt")
    >>> print(out.read_text())
    1 -1
    -1 0
    <BLANKLINE>
    """
    path = Path(path)
    source = source_name(path)
    if not isinstance(votes, Votes):
        raise InputError(f"write_dense expects a crowdwise.Votes, got {type(votes).__name__}",
                         fix="pass the Votes that load_votes or Votes.from_records returns")
    cells = votes.n_tasks * votes.n_workers
    if cells > max_cells:
        width = max(len(str(votes.n_classes - 1)), len(str(missing))) + 1
        raise TooLargeError(
            f"{source}: a dense {votes.n_tasks} x {votes.n_workers} matrix has {cells:.3g} entries "
            f"(about {cells * width / 1e9:.1f} GB of text) for {votes.n_votes} votes, above the "
            f"limit of {max_cells:.3g}. Fix: save as CSV, Parquet or a peerannot folder (O(votes)), "
            "or raise max_cells.")
    if 0 <= missing < votes.n_classes:
        raise InputError(f"the missing marker {missing} is also a class index (0..{votes.n_classes - 1})",
                         source=source, fix="use missing=-1 (or another value outside the class indices)")
    dup = votes.duplicated()
    if dup.any():
        row = int(np.argmax(dup))
        raise InputError(f"{int(dup.sum())} repeated (task, worker) pair(s): a matrix holds one label per "
                         "worker and task", source=source, position=f"vote {row}",
                         fix="load with duplicates='first' or 'last', or save as CSV/Parquet")
    order = np.argsort(votes.task, kind="stable")
    task, worker, label = votes.task[order], votes.worker[order], votes.label[order]
    bounds = np.searchsorted(task, np.arange(votes.n_tasks + 1))
    step = max(1, 4_000_000 // max(votes.n_workers, 1))
    with atomic_write(path, "wb") as f:
        for start in range(0, votes.n_tasks, step):
            stop = min(start + step, votes.n_tasks)
            block = np.full((stop - start, votes.n_workers), missing, dtype=np.int64)
            a, b = bounds[start], bounds[stop]
            block[task[a:b] - start, worker[a:b]] = label[a:b]
            np.savetxt(f, block, fmt="%d", delimiter=" ")
    return path
