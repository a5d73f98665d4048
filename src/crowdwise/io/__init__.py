"""Readers and writers: peerannot folders, answers.json, CSV / Parquet tables, DataFrames,
dense matrices, ground truth and label files, and the items to learn from (feature
matrices, image folders, training targets: :mod:`crowdwise.io.features`).

Everything enters crowdwise as a :class:`~crowdwise.Votes` through :func:`load_votes`
and leaves through :func:`save_votes` (or :func:`write_labels_table` / :func:`save_npy`
for results). Every write goes through :mod:`crowdwise.io._output`: data go to a
temporary file in the same folder, synced and renamed into place only when complete;
inside :func:`output_set` the files of one command are renamed together (all new or all
old); an output that is an input, a symbolic link or a folder is refused
(:func:`check_output_path`); a name read from data becomes part of a file name only
through :func:`safe_name`; CSV text cells that a spreadsheet would run as a formula
(first character ``=``, ``+``, ``-``, ``@``, tab, carriage return) get a ``'`` in front,
which the CSV readers remove (Parquet is written as it is).

What :func:`load_votes` does with a path
----------------------------------------
=============================  ==============================================================
folder with ``answers.json``   peerannot data set (:func:`read_peerannot`)
folder with ``votes.csv``      (or ``votes.parquet``) a vote table (:func:`read_table`)
``*.json``                     ``{task: {worker: label}}``; ``<stem>.metadata.json`` or
                               ``metadata.json`` beside it is read when present
                               (:func:`read_answers`)
``*.csv``, ``*.tsv``           long table ``task, worker, label`` (+ extra columns)
``*.parquet``                  long table, one file or a folder of parts (needs pyarrow:
                               ``pip install 'crowdwise[parquet]'``)
``*.txt``                      dense tasks x workers matrix (:func:`read_dense`) when the
                               first non-blank line is only white-space separated integers;
                               otherwise a long table, which must start with a header line
a DataFrame                    pandas or polars DataFrame, or pyarrow Table, with columns
                               ``task, worker, label`` (:func:`from_dataframe`)
=============================  ==============================================================

``.gz`` tables and ``.json.gz`` answers are read and written transparently. A file that
cannot be read (truncated or damaged gzip data, permission denied) is an
:class:`~crowdwise.errors.InputError` naming the file and what to do, as is every bad
argument (``None``, a number, a 2-D array where a path or a column is expected).

Labels: in tables they are class *values* (``"cat"``, ``5``); in answers.json and dense
matrices they are class *indices* ``0..K-1`` (the peerannot convention), named by
metadata ``classes``.

Classes of a table (CSV, TSV, Parquet, DataFrame; also ``Votes.from_records``)
-------------------------------------------------------------------------------
- When every label is a number (a numeric column, or text written as a decimal number:
  ``1``, ``01``, ``+1``, ``1.0``, ``1e0``; not ``nan``/``inf``), **equal numbers are one
  class**: ``1``, ``1.0`` and ``01`` are all class ``1``. The classes are int64 when
  every label is a whole number that fits in int64, else float64, sorted by value.
- Otherwise (some label is a name such as ``cat``) labels are compared as the text they
  are written with, ordered as ids are (below); two spellings of one number in such a
  column (``1`` and ``1.0`` beside ``cat``) are an error, as they would silently make two
  classes.
- Declared classes (``classes=``, Parquet metadata) match a label equal to them, written
  the same, or the same number (``"1.0"`` is declared class ``1``).

Task and worker ids
-------------------
Ids are names, compared as written: ``007`` and ``7`` are two workers. An id column is
**numeric only when every id is an integer written plainly** (``42``, ``-5``: no ``+``,
no leading zero, no decimal point) **that fits in int64** (or a column of integers); its
ids are then int64, sorted by value, so that row ``i`` of a labels ``.npy`` is the
``i``-th task in numeric order. Otherwise every id is text, and the order is: the plainly
written integers first, by value, then the other ids in code-point order (``2, 10, 007,
b``). So one odd id (a name, an integer beyond int64) never reorders the integer ids: they
keep their rows, the others come after them.

Error positions: text tables say ``line N`` as an editor shows it (header = line 1);
Parquet files and DataFrames say ``row i``, the 0-based row position; JSON says
``line L, column C`` for syntax and ``task '12', worker '3'`` for a bad vote.

Examples
--------
>>> import tempfile, pathlib
>>> from crowdwise import Votes
>>> v = Votes.from_records(["t1", "t1", "t2"], ["a", "b", "a"], ["x", "y", "y"],
...                        classes=["x", "y", "z"], name="demo")
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for target in ["demo", "demo.parquet", "answers.json", "demo.csv"]:
...     back = load_votes(save_votes(v, d / target))
...     print(f"{target:13}", back.n_votes, back.classes.tolist(), back.equals(v))
demo          3 ['x', 'y', 'z'] True
demo.parquet  3 ['x', 'y', 'z'] True
answers.json  3 ['x', 'y', 'z'] True
demo.csv      3 ['x', 'y'] False

(a CSV cannot declare class ``'z'``, which nobody voted for).
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputError
from ..votes import DuplicatePolicy, Votes
from ._common import PathLike, atomic_write, check_exists, kind_of, make_dir, save_npy, save_sparse, source_name
from ._output import check_output_path, escape_formulas, output_set, output_stem, safe_name
from ._encode import as_path, reading
from .dense import looks_dense, read_dense, write_dense
from .features import load_features, load_image_folder, load_task_data, read_targets
from .labels import read_labels, save_labels, write_labels_table
from .peerannot import read_answers, read_metadata, read_peerannot, write_answers, write_peerannot
from .tables import first_line, from_dataframe, read_table, read_table_frame, write_table
from .truth import load_truth

__all__ = [
    "load_votes",
    "save_votes",
    "read_peerannot",
    "write_peerannot",
    "read_answers",
    "write_answers",
    "read_metadata",
    "read_table",
    "write_table",
    "from_dataframe",
    "read_dense",
    "write_dense",
    "load_truth",
    "atomic_write",
    "output_set",
    "check_output_path",
    "safe_name",
    "output_stem",
    "escape_formulas",
    "make_dir",
    "save_npy",
    "save_sparse",
    "read_table_frame",
    "write_labels_table",
    "save_labels",
    "read_labels",
    "load_features",
    "load_image_folder",
    "load_task_data",
    "read_targets",
]

_TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


def load_votes(
    path: PathLike,
    *,
    duplicates: DuplicatePolicy = "keep",
    classes: Any = None,
    n_classes: int | None = None,
    name: str | None = None,
    format: str | None = None,
    strict: bool = False,
    columns: Mapping[str, str] | None = None,
) -> Votes:
    """Read crowd votes from a folder or file, choosing the reader from the path.

    Classes and ids follow the rules of the module documentation: in a table, equal
    numbers are one class (``1``, ``1.0``, ``01``); an id column is numeric only when every
    id is a plainly written integer that fits in int64, otherwise all ids are text with
    the integers first (by value) and the other ids after them (in text order).

    Parameters
    ----------
    path : str, Path or DataFrame
        See the table in the module documentation. A pandas or polars DataFrame or a
        pyarrow Table of one vote per row is read by :func:`from_dataframe`.
    duplicates : {"keep", "first", "last", "error"}
        Several votes of one worker on one task (tables only: answers.json and dense
        matrices hold one label per pair).
    classes : sequence, optional
        Declared classes: class values in index order for tables; names of the class
        indices for answers.json and dense matrices. Overrides metadata.
    n_classes : int, optional
        Declare classes ``0..n_classes-1``.
    name : str, optional
        Data-set name (used in output file names). Default: metadata ``name``, else the
        folder name (for a folder, and for a file named ``answers.json``), else the file
        stem.
    format : {"peerannot", "json", "table", "dense"}, optional
        Skip the guess.
    strict : bool
        Refuse (:class:`~crowdwise.errors.InputError`) a peerannot ``metadata.json`` that
        disagrees with its answers, instead of repairing it with an
        :class:`~crowdwise.errors.InputWarning` (e.g. ``n_classes`` below the class indices
        used: the classes are extended). Other formats declare nothing to disagree with.
    columns : mapping, optional
        For a table or DataFrame, the column of each role when it is not named ``task``,
        ``worker`` (or ``performer``...), ``label``: e.g. ``{"task": "item", "worker":
        "annotator", "label": "answer"}`` (``--columns task=item,...`` on the command line).
        Not allowed for the other formats.

    Returns
    -------
    Votes
    """
    if _is_frame(path):
        if format not in (None, "table"):
            raise InputError(f"a {type(path).__name__} is a table of votes, not format={format!r}",
                             source="DataFrame", fix="leave format=None (or 'table')")
        return from_dataframe(path, duplicates=duplicates, classes=classes, n_classes=n_classes, name=name,
                              columns=columns)
    if isinstance(path, Votes):
        raise InputError("got a crowdwise.Votes: it is already loaded",
                         fix="use the Votes as it is (load_votes reads files, folders and DataFrames)")
    path = as_path(path, "votes file or folder")
    source = source_name(path)
    if format is not None and format not in _FORMATS:
        raise InputError(f"unknown format {format!r}", source=source,
                         fix="use format='peerannot', 'json', 'table' or 'dense' (or None to guess)")
    if not isinstance(strict, (bool, np.bool_)):
        raise InputError(f"strict must be True or False, got {strict!r}", fix="pass strict=True or strict=False")
    with reading(path):
        check_exists(path, "file or folder")
        fmt = format or _guess(path)
        kw: dict[str, Any] = {"classes": classes, "n_classes": n_classes, "name": name}
        table_kw: dict[str, Any] = {} if columns is None else {"columns": columns}
        is_table = fmt == "table" or (fmt == "peerannot" and path.is_dir() and not (path / "answers.json").is_file())
        if columns is not None and not is_table:
            raise InputError("columns= maps the columns of a vote table; this is not one", source=source,
                             fix="leave columns out (answers.json and dense matrices have no columns to map)")
        if fmt == "peerannot":
            if path.is_dir() and not (path / "answers.json").is_file():
                for cand in ("votes.csv", "votes.parquet", "votes.tsv", "votes.csv.gz"):
                    if (path / cand).is_file():
                        kw["name"] = name if name is not None else path.resolve().name
                        return read_table(path / cand, duplicates=duplicates, **kw, **table_kw)
            return read_peerannot(path, duplicates=duplicates, strict=bool(strict), **kw)
        if fmt == "json":
            return read_answers(path, duplicates=duplicates, strict=bool(strict), **kw)
        if fmt == "table":
            return read_table(path, duplicates=duplicates, **kw, **table_kw)
        return read_dense(path, classes=classes, n_classes=n_classes, name=name)


_FORMATS = ("peerannot", "json", "table", "dense")


def _is_frame(obj: Any) -> bool:
    """A pandas / polars DataFrame or a pyarrow Table (without importing any of them)."""
    mod = type(obj).__module__.split(".")[0]
    return (mod in ("pandas", "polars") and type(obj).__name__ == "DataFrame") or (
        mod == "pyarrow" and type(obj).__name__ == "Table")


def _guess(path: Path) -> str:
    if path.is_dir():
        # a folder named *.parquet holding parts (Spark, Hive) is one table
        return "table" if path.suffix == ".parquet" and not (path / "answers.json").exists() else "peerannot"
    suffix = kind_of(path)[0]
    if suffix == ".json":
        return "json"
    if suffix in _TABLE_SUFFIXES:
        return "table"
    if suffix == ".txt":
        line, _ = first_line(path)
        return "dense" if line and looks_dense(line) else "table"
    raise InputError(f"cannot tell the format of a {''.join(path.suffixes) or 'suffix-less'} file",
                     source=source_name(path),
                     fix="use a peerannot folder, .json, .csv, .tsv, .txt or .parquet (or pass format=...)")


def save_votes(votes: Votes, path: PathLike, *, format: str | None = None) -> Path:
    """Write votes, choosing the writer from the path; returns the path written.

    ``.csv`` / ``.tsv`` (``.gz``) and ``.parquet``: long table (:func:`write_table`);
    ``.json``: answers plus their metadata beside them (``metadata.json`` for
    ``answers.json``, else ``<stem>.metadata.json``; :func:`write_answers`);
    ``.txt``: dense matrix of class indices (:func:`write_dense`);
    an existing folder or a path without suffix: peerannot folder
    (:func:`write_peerannot`).
    """
    if not isinstance(votes, Votes):
        raise InputError(f"save_votes expects a crowdwise.Votes, got {type(votes).__name__}",
                         fix="pass the Votes that load_votes or Votes.from_records returns")
    path = Path(path)
    suffix = kind_of(path)[0]
    fmt = format
    if fmt is None:
        if path.is_dir() or not path.suffix:
            fmt = "peerannot"
        elif suffix == ".json":
            fmt = "json"
        elif suffix in _TABLE_SUFFIXES:
            fmt = "table"
        elif suffix == ".txt":
            fmt = "dense"
        else:
            raise InputError(f"cannot tell which format to write for {''.join(path.suffixes)!r}",
                             source=source_name(path),
                             fix="use a folder, .json, .csv, .tsv, .parquet or .txt (or pass format=...)")
    if fmt == "peerannot":
        return write_peerannot(votes, path)
    if fmt == "json":
        return write_answers(votes, path)
    if fmt == "table":
        return write_table(votes, path)
    if fmt == "dense":
        return write_dense(votes, path)
    raise InputError(f"unknown format {fmt!r}", source=source_name(path),
                     fix="use format='peerannot', 'json', 'table' or 'dense' (or None)")
