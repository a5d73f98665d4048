"""The items of a crowd data set: feature matrices, truth files, image folders, and
training targets, lined up with the tasks of the votes (NumPy only, no torch).

A crowd data set pairs votes (a :class:`~crowdwise.Votes`) with the items they are
about. This module reads the items and lines them up with the tasks of the votes, so
that row ``i`` of the training split is task ``votes.task_ids[i]`` and the labels a
strategy wrote (``labels_<data>_<strategy>.npy``, one row per task) can be used as
training targets as they are. :mod:`crowdwise.learn.data` turns the result into torch
data sets.

Two kinds of items
------------------
**Image folders** (peerannot's layout)::

    ROOT/train/<class>/<name>-<task>.<ext>     training images; <task> links to the votes
    ROOT/val/<class>/<file>.<ext>              validation images, true class = folder
    ROOT/test/<class>/<file>.<ext>             test images, true class = folder

The task key is the part of the file stem after the *last* dash (``cat-12.png`` is
task ``12``; ``my-cat-a7.jpg`` is task ``a7``). The class folder of a training image is
kept as its true label (peerannot's data sets put each training image under its true
class; use it only to measure, or to train the gold upper bound). Class folder names
are matched with ``votes.classes`` (``"3"`` matches class 3); when the votes only know
the indices ``0..K-1`` and the folders carry names, the sorted folder names are the
classes, as in torchvision's ``ImageFolder``. Only the file names are read here; the
images are opened when a torch data set fetches them.

**Feature matrices**, one row per task, one file per split:

- ``.npy`` (2-D float): row ``i`` of the training matrix is task ``votes.task_ids[i]``
  (tasks in the votes' order: for integer task ids ``0..n-1`` that is task ``i``). Truth
  for any split comes from a separate file (``LabelMe_Z_test.txt``: one class index per
  line, or a ``.npy`` of class indices).
- ``.csv`` / ``.tsv`` (optionally ``.gz``) / ``.parquet``: an id column (``id_column``;
  by default ``id`` or ``task``) matched with the task ids of the votes, an optional
  truth column (``label_column``; by default ``class``, ``label`` or ``truth``) holding
  class values, every other column a numeric feature. Tables are read by the table
  reader of :mod:`crowdwise.io` (:func:`~crowdwise.io.tables.read_text_table`): ids and
  class values as text (spreadsheet-escaped cells unescaped, ``007`` stays ``007``),
  only empty cells missing, errors located at the line an editor shows.

The data sets in ``../shared/datasets`` load as::

    from crowdwise import io
    F = "../shared/datasets/labelme/features/"
    votes = io.load_votes("../shared/datasets/labelme")
    data = io.load_features(F + "LabelMe_VGG_avg_train.npy", votes=votes,
                            val=F + "LabelMe_VGG_avg_valid.npy", val_truth=F + "LabelMe_Z_valid.txt",
                            test=F + "LabelMe_VGG_avg_test.npy", test_truth=F + "LabelMe_Z_test.txt",
                            train_truth=F + "LabelMe_Z_train.txt")
    M = "../shared/datasets/music_genre/features/"
    votes = io.load_votes("../shared/datasets/music_genre")
    data = io.load_features(M + "music_genre_gold.csv", test=M + "music_genre_test.csv", votes=votes)

Mismatches are errors, never silent: a task with votes but no image / feature row, an
image or row whose task has no votes, a repeated task key, an unknown class. Every
problem is an :class:`~crowdwise.errors.InputError` naming the file (and the line or
row) and how to fix it.

Training targets (:func:`read_targets`) are the label files ``crowdwise aggregate``
writes, hard or soft, aligned with ``votes.task_ids``.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from .._lazy import pd
from ..errors import InputError
from ..votes import Votes, factorize_ids
from ._common import check_exists, kind_of, source_name
from ._encode import as_path, encode_ids, match_classes, reading, show
from .labels import read_labels
from .tables import (TableData, _split, first_line, read_parquet_table, read_text_table, resolve_columns,
                     sniff_delimiter)
from .truth import (
    ids_as_text,
    integer_array,
    load_npy,
    looks_like_index_lines,
    read_index_lines,
    task_index,
)

__all__ = ["Split", "TaskData", "FeatureTable", "load_features", "load_image_folder", "load_task_data",
           "read_feature_table", "read_targets", "IMAGE_EXTENSIONS", "ID_COLUMNS", "LABEL_COLUMNS"]

#: file extensions read as images (case-insensitive)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: default id columns of a feature table, the first present is used
ID_COLUMNS = ("id", "task")
#: default truth columns of a feature table, the first present is used
LABEL_COLUMNS = ("class", "label", "truth")
#: columns of a ``task,label`` truth table, the first present of each is used
_TRUTH_TASK_COLUMNS = ("task", "id")
_TRUTH_LABEL_COLUMNS = ("label", "class", "truth", "gold")

Locate = Callable[[int], str]


# --------------------------------------------------------------------------- containers
@dataclass(frozen=True, eq=False)
class Split:
    """One part (train, val or test) of a task data set.

    Attributes
    ----------
    name : str
        ``"train"``, ``"val"`` or ``"test"``.
    task_ids : ndarray, shape (n,)
        Identifier of each row: the task id for the training split (equal to
        ``votes.task_ids`` when loaded with votes), the file key or row number otherwise.
    truth : ndarray of int64, shape (n,)
        True class index of each row, -1 where unknown.
    features : ndarray of float32, shape (n, d), or None
        Feature matrix (feature data sets).
    paths : tuple of Path, or None
        One image file per row (image data sets).
    """

    name: str
    task_ids: np.ndarray
    truth: np.ndarray
    features: np.ndarray | None = None
    paths: tuple[Path, ...] | None = None

    def __post_init__(self) -> None:
        n = len(self.task_ids)
        if self.truth.shape != (n,):
            raise ValueError(f"truth has shape {self.truth.shape}, expected ({n},)")
        if (self.features is None) == (self.paths is None):
            raise ValueError("a Split holds either features or image paths")
        if self.features is not None and self.features.shape[0] != n:
            raise ValueError(f"{self.features.shape[0]} feature rows for {n} ids")
        if self.paths is not None and len(self.paths) != n:
            raise ValueError(f"{len(self.paths)} paths for {n} ids")

    @property
    def kind(self) -> str:
        """``"features"`` or ``"images"``."""
        return "features" if self.features is not None else "images"

    @property
    def has_truth(self) -> bool:
        """Whether some row has a known true class."""
        return bool((self.truth >= 0).any())

    def __len__(self) -> int:
        return len(self.task_ids)

    def __repr__(self) -> str:
        what = f"features {self.features.shape[1]}" if self.features is not None else "images"
        return f"Split({self.name!r}, n={len(self)}, {what}, truth={int((self.truth >= 0).sum())})"


@dataclass(frozen=True, eq=False)
class TaskData:
    """The items of a crowd data set, split into train / val / test.

    Attributes
    ----------
    train : Split
        Crowd-labelled items; row ``i`` is task ``task_ids[i]`` (= ``votes.task_ids[i]``
        when loaded with votes).
    val, test : Split or None
        Held-out items with known classes (when given).
    classes : ndarray
        Class values; ``truth`` and every label array index into it.
    kind : str
        ``"features"`` or ``"images"``.
    """

    train: Split
    val: Split | None
    test: Split | None
    classes: np.ndarray
    kind: str = field(default="features")

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def task_ids(self) -> np.ndarray:
        """Task ids of the training rows."""
        return self.train.task_ids

    @property
    def n_features(self) -> int | None:
        """Columns of the feature matrices (None for images)."""
        return None if self.train.features is None else int(self.train.features.shape[1])

    def splits(self) -> list[Split]:
        """The splits present, in the order train, val, test."""
        return [s for s in (self.train, self.val, self.test) if s is not None]

    def __repr__(self) -> str:
        parts = ", ".join(f"{s.name}={len(s)}" for s in self.splits())
        return f"TaskData({self.kind}, {parts}, n_classes={self.n_classes})"


@dataclass(frozen=True, eq=False)
class FeatureTable:
    """One feature file as read by :func:`read_feature_table`.

    Attributes
    ----------
    x : ndarray of float32, shape (n, d)
        The features, all finite, in file order.
    ids : ndarray or None
        The id column (int64 when every id is a plainly written integer, else the ids as
        written, as objects); None for a ``.npy`` matrix (rows are positions).
    labels : ndarray of object or None
        The truth column as written (None or blank where unknown); None without one.
    source : str
        The file, for messages.
    locate : callable
        ``locate(i)`` is the position of row ``i`` in the file (``"line 5"``, ``"row 3"``).
    """

    x: np.ndarray
    ids: np.ndarray | None
    labels: np.ndarray | None
    source: str
    locate: Locate


# --------------------------------------------------------------------------- helpers
def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _shown_classes(classes: np.ndarray) -> str:
    return ", ".join(map(str, classes[:10].tolist())) + (", ..." if len(classes) > 10 else "")


def _align_to_votes(ids: np.ndarray, votes: Votes, *, source: Any, locate: Locate) -> np.ndarray:
    """Permutation ``order`` such that ``ids[order]`` equals ``votes.task_ids``.

    Raises an InputError for a row whose task has no votes, a repeated id, or a task of
    the votes without a row.
    """
    known = pd.Index(ids_as_text(votes.task_ids))
    txt = ids_as_text(ids)
    pos = np.asarray(known.get_indexer(txt), dtype=np.int64)
    if (pos < 0).any():
        i = int(np.argmax(pos < 0))
        raise InputError(f"task {show(ids[i])} is not a task of the votes ({int((pos < 0).sum())} such "
                         "item(s), this is the first)", source=source, position=locate(i),
                         fix="remove the items nobody voted on, or declare these tasks in the votes "
                             "(metadata.json n_tasks / a votes file that lists them)")
    dup = pd.Index(pos).duplicated()
    if dup.any():
        i = int(np.argmax(dup))
        first = int(np.flatnonzero(pos == pos[i])[0])
        raise InputError(f"task {show(ids[i])} appears twice (also at {locate(first)})", source=source,
                         position=locate(i), fix="keep one item per task")
    if pos.size != votes.n_tasks:
        have = np.zeros(votes.n_tasks, dtype=bool)
        have[pos] = True
        t = int(np.argmax(~have))
        raise InputError(f"task {show(votes.task_ids[t])} has votes but no item here "
                         f"({votes.n_tasks - pos.size} such task(s), this is the first)", source=source,
                         fix="add its image / feature row, or drop its votes")
    order = np.empty(votes.n_tasks, dtype=np.int64)
    order[pos] = np.arange(pos.size)
    return order


def _class_lookup(names: Sequence[Any], classes: np.ndarray | None, *, source: Any) -> tuple[np.ndarray, np.ndarray]:
    """Class index of each name, and the classes (from the names when not given)."""
    names_arr = np.asarray(list(names), dtype=object)
    if classes is None:
        uniq = factorize_ids(names_arr, what="class")[1] if names_arr.size else np.zeros(0, dtype=object)
        classes = np.asarray(uniq)
    idx = match_classes(names_arr, classes) if names_arr.size else np.zeros(0, np.int64)
    if (idx < 0).any():
        bad = names_arr[int(np.argmax(idx < 0))]
        raise InputError(f"class {show(bad)} is not one of the {len(classes)} classes ({_shown_classes(classes)})",
                         source=source,
                         fix="name the class folders / truth values after the classes of the votes")
    return idx, classes


def _values_to_index(values: np.ndarray, classes: np.ndarray, source: str, locate: Locate) -> np.ndarray:
    """Class index of each class value (-1 where missing); InputError for an unknown one."""
    missing = np.array([_is_missing(v) for v in values.tolist()], dtype=bool)
    out = np.full(values.size, -1, dtype=np.int64)
    if (~missing).any():
        idx = match_classes(values[~missing], classes)
        if (idx < 0).any():
            i = int(np.flatnonzero(~missing)[int(np.argmax(idx < 0))])
            raise InputError(f"true class {show(values[i])} is not one of the {len(classes)} classes "
                             f"({_shown_classes(classes)})", source=source, position=locate(i),
                             fix="use the class values of the votes")
        out[~missing] = idx
    return out


def _read_any_table(path: Path, aliases: dict[str, tuple[str, ...]], *, columns: dict[str, str] | None = None,
                    text_roles: Sequence[str]) -> tuple[TableData, dict[str, int]]:
    """A CSV / TSV (``.gz``) or Parquet table through the io table readers, every role
    optional (``columns`` maps roles to exact column names)."""
    suffix = kind_of(path)[0]
    optional = tuple(aliases)
    with reading(path):
        if suffix == ".parquet":
            tbl = read_parquet_table(path)
            return tbl, resolve_columns(tbl, aliases, columns, optional=optional)
        return read_text_table(path, aliases, text_roles=text_roles, columns=columns, optional=optional)


def _first_role(roles: dict[str, int], candidates: Sequence[str]) -> int | None:
    return next((roles[c] for c in candidates if c in roles), None)


def _column_list(tbl: TableData) -> str:
    return ", ".join(map(repr, tbl.names[:8])) + (", ..." if len(tbl.names) > 8 else "")


def _numbers(tbl: TableData, i: int, *, fix: str) -> np.ndarray:
    """Column ``i`` as float64 (NaN where empty); InputError at a cell that is not a number."""
    vals = tbl.to_numpy(i)
    if vals.dtype.kind in "fiub":
        return vals.astype(np.float64)
    obj = np.asarray(vals, dtype=object)
    cell = np.array([not _is_null(v) for v in obj.tolist()], dtype=bool)
    if vals.dtype.kind == "O":  # text (some cell is not a number to the parser), None where empty
        num = np.asarray(pd.to_numeric(pd.Series(obj, dtype=object), errors="coerce"), dtype=np.float64)
    else:  # dates, durations...: not features
        num = np.full(obj.size, np.nan)
    bad = np.isnan(num) & cell
    if bad.any():
        row = int(np.argmax(bad))
        cell_text = obj[row] if isinstance(obj[row], (str, int, float)) else str(obj[row])  # a date: as written
        raise InputError(f"column {tbl.names[i]!r} holds {show(cell_text)}, not a number", source=tbl.source,
                         position=tbl.locate(row), fix=fix)
    return num


def _check_finite(x: np.ndarray, source: str, locate: Locate) -> None:
    ok = np.isfinite(x).all(axis=1)
    if not ok.all():
        i = int(np.argmax(~ok))
        raise InputError("missing or infinite feature value", source=source, position=locate(i),
                         fix="impute or drop that row")


# --------------------------------------------------------------------------- images
_KEY = re.compile(r"-([^-]+)$")


def _scan_images(folder: Path, split: str) -> tuple[list[Path], list[str]]:
    """Image files under ``folder/<class>/`` (sorted) and their class folder names."""
    if not folder.is_dir():
        raise InputError(f"no {split}/ folder", source=folder.parent,
                         fix=f"put the images in {split}/<class>/<name>-<task>.<ext>")
    paths: list[Path] = []
    labels: list[str] = []
    with reading(folder):
        for cdir in sorted(p for p in folder.iterdir() if p.is_dir()):
            files = sorted(f for f in cdir.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
            paths += files
            labels += [cdir.name] * len(files)
        stray = [f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS]
    if stray:
        raise InputError("image outside a class folder", source=stray[0],
                         fix=f"move it into {split}/<class>/ (its true class, or any class folder for "
                             "training images without truth)")
    if not paths:
        raise InputError(f"no image found in {split}/<class>/", source=folder,
                         fix=f"images must be {', '.join(IMAGE_EXTENSIONS)} files in class folders")
    return paths, labels


def _task_keys(paths: Sequence[Path]) -> np.ndarray:
    keys = []
    for p in paths:
        m = _KEY.search(p.stem)
        if m is None:
            raise InputError("no task key in the file name", source=p,
                             fix="name training images <name>-<task>.<ext>: the part after the last dash "
                                 "is the task id of the votes")
        keys.append(m.group(1))
    return np.asarray(keys, dtype=object)


def load_image_folder(root: str | Path, votes: Votes | None = None, *,
                      classes: Sequence[Any] | None = None) -> TaskData:
    """Read a peerannot image folder: ``train/``, and ``val/`` and ``test/`` when present.

    Parameters
    ----------
    root : str or Path
        The data-set folder holding ``train/<class>/<name>-<task>.<ext>`` (and optionally
        ``val/<class>/...``, ``test/<class>/...``).
    votes : Votes, optional
        Align the training images with ``votes.task_ids`` (every task with votes needs one
        image, every image a task of the votes) and name the classes after
        ``votes.classes``. Without votes the training rows are in natural task-id order.
    classes : sequence, optional
        The classes, when there are no votes (default: the class folder names, in
        natural order).

    Returns
    -------
    TaskData
        ``kind="images"``; each split's ``paths`` are the image files, ``truth`` their
        class folder.

    Raises
    ------
    InputError
        No ``train/`` folder or no image; a training file name without ``-<task>``; a
        task key twice; an image whose task has no votes or a task with votes but no
        image; a class folder that is not a class; more class folders than classes (the
        folders without a voted training image are named).
    """
    root = as_path(root, "data-set folder")
    if not root.is_dir():
        raise InputError("no such folder", source=root, fix="pass the data-set folder that holds train/")
    scanned = {s: _scan_images(root / s, s) for s in ("train", "val", "test") if s == "train" or (root / s).is_dir()}
    all_names = sorted({n for _, labs in scanned.values() for n in labs})
    cls = _resolve_image_classes(all_names, votes, classes, root, train=scanned["train"])
    splits: dict[str, Split] = {}
    for name, (paths, labs) in scanned.items():
        idx, _ = _class_lookup(labs, cls, source=root / name)
        if name == "train":
            keys = _task_keys(paths)
            if votes is not None:
                order = _align_to_votes(keys, votes, source=root / "train",
                                        locate=lambda i, paths=paths: f"file {paths[i].relative_to(root)}")
                ids = votes.task_ids
            else:
                txt = ids_as_text(keys)
                dup = pd.Index(txt).duplicated()
                if dup.any():
                    i = int(np.argmax(dup))
                    raise InputError(f"task {keys[i]!r} appears twice", source=paths[i],
                                     fix="give each training image its own task key")
                codes, uniq = factorize_ids(keys, what="task")
                order = np.argsort(codes, kind="stable")
                ids = np.asarray(uniq)[codes[order]]
            splits[name] = Split(name, np.asarray(ids), idx[order].astype(np.int64),
                                 paths=tuple(paths[i] for i in order))
        else:
            keys = np.asarray([p.stem for p in paths], dtype=object)
            splits[name] = Split(name, keys, idx.astype(np.int64), paths=tuple(paths))
    return TaskData(splits["train"], splits.get("val"), splits.get("test"), cls, kind="images")


def _folders_without_votes(names: list[str], votes: Votes, train: tuple[list[Path], list[str]]) -> list[str]:
    """The class folders none of whose training images is a task with a vote (a folder only
    val/ or test/ has counts as one)."""
    paths, labs = train
    voted_ids = pd.Index(ids_as_text(votes.task_ids[votes.votes_per_task() > 0]))
    keys = [m.group(1) if (m := _KEY.search(p.stem)) else None for p in paths]
    has_key = np.asarray([k is not None for k in keys], dtype=bool)
    voted = np.zeros(len(paths), dtype=bool)
    if has_key.any():
        txt = ids_as_text(np.asarray([k for k in keys if k is not None], dtype=object))
        voted[has_key] = voted_ids.get_indexer(txt) >= 0
    with_votes = {lab for lab, v in zip(labs, voted) if v}
    return [n for n in names if n not in with_votes]


def _resolve_image_classes(names: list[str], votes: Votes | None, classes: Sequence[Any] | None,
                           root: Path, train: tuple[list[Path], list[str]] | None = None) -> np.ndarray:
    if classes is not None:
        cls = np.asarray(list(classes))
    elif votes is not None:
        cls = votes.classes
    else:
        return np.asarray(factorize_ids(np.asarray(names, dtype=object), what="class")[1])
    idx = match_classes(np.asarray(names, dtype=object), cls)
    if (idx >= 0).all():
        return cls
    # votes with bare indices 0..K-1 and folders with names: ImageFolder's sorted order
    plain = cls.dtype.kind in "iu" and np.array_equal(cls, np.arange(len(cls)))
    if plain and (idx < 0).all() and len(names) <= len(cls):
        named = np.asarray(names + [str(i) for i in range(len(names), len(cls))], dtype=object)
        return named.astype(str)
    shown_cls = _shown_classes(cls)
    if plain and (idx < 0).all():
        # more folder names than classes: no folder is "wrong", there are too many of them; the
        # folders holding no voted training image are the ones to look at
        unvoted = _folders_without_votes(names, votes, train) if votes is not None and train is not None else []
        quoted = ", ".join(map(repr, unvoted[:10])) + (", ..." if len(unvoted) > 10 else "")
        if unvoted and len(unvoted) < len(names):
            raise InputError(f"{len(names)} class folders for the {len(cls)} classes of the votes ({shown_cls}); "
                             f"without votes: {quoted} (no training image of a task with a vote)", source=root,
                             fix="remove the class folder(s) without votes, or name the classes of the votes "
                                 "after the folders (metadata.json 'classes')")
        all_names = ", ".join(map(repr, names[:10])) + (", ..." if len(names) > 10 else "")
        which = ", all with voted images" if votes is not None and train is not None and not unvoted else ""
        raise InputError(f"{len(names)} class folders ({all_names}) for the {len(cls)} classes of the votes "
                         f"({shown_cls}){which}", source=root,
                         fix="name the classes of the votes after the folders (metadata.json 'classes'), or "
                             "merge the folders of one class")
    bad = names[int(np.argmax(idx < 0))]
    raise InputError(f"class folder {bad!r} is not one of the {len(cls)} classes of the votes ({shown_cls})",
                     source=root,
                     fix="name the class folders after the classes (metadata.json 'classes')")


# --------------------------------------------------------------------------- features
def read_feature_table(path: str | Path, *, id_column: str | None = None,
                       label_column: str | None = None) -> FeatureTable:
    """Read one feature file: a ``.npy`` matrix, or a ``.csv`` / ``.tsv`` (``.gz``) /
    ``.parquet`` table with an id column, an optional truth column and feature columns.

    Parameters
    ----------
    path : str or Path
    id_column, label_column : str, optional
        Column names in tables. Default: ``id`` or ``task`` for ids; ``class``, ``label``
        or ``truth`` for the true class (a column absent is simply not used). Every
        other column is a feature.

    Returns
    -------
    FeatureTable
        Rows in file order (nothing is aligned with votes here: see :func:`load_features`).

    Raises
    ------
    InputError
        A matrix that is not 2-D numbers; a cell that is not a number, a missing or
        infinite value (with the line); an empty id; an unknown column name; no feature
        column; a file that cannot be read or parsed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "f.csv"
    >>> _ = f.write_text("id,f1,f2,class\\n007,1,2,dog\\n8,3,4,\\n")
    >>> t = read_feature_table(f)
    >>> t.x.tolist(), t.ids.tolist(), t.labels.tolist()
    ([[1.0, 2.0], [3.0, 4.0]], ['007', '8'], ['dog', None])
    """
    path = as_path(path, "feature matrix")
    source = source_name(path)
    check_exists(path)
    suffix = kind_of(path)[0]
    if suffix == ".npy":
        arr = load_npy(path)
        if arr.ndim != 2:
            raise InputError(f"a feature matrix must be 2-D (one row per task), got shape {arr.shape}",
                             source=source, fix="save an (n_tasks, n_features) array")
        if arr.dtype.kind not in "fiub":
            raise InputError(f"features must be numbers, got dtype {arr.dtype}", source=source,
                             fix="save a float array")
        x = arr.astype(np.float32)
        locate: Locate = lambda i: f"row {i}"
        _check_finite(x, source, locate)
        return FeatureTable(x, None, None, source, locate)
    if suffix not in (".csv", ".tsv", ".parquet"):
        raise InputError(f"unknown extension {''.join(path.suffixes)!r} for a feature matrix", source=source,
                         fix="use .npy, .csv, .tsv (optionally .gz) or .parquet")
    aliases: dict[str, tuple[str, ...]] = {}
    columns: dict[str, str] = {}
    for given, defaults, role in ((id_column, ID_COLUMNS, "id_column"), (label_column, LABEL_COLUMNS, "label_column")):
        if given is not None:
            aliases[role], columns[role] = (), str(given)
        else:
            aliases.update({d: (d,) for d in defaults})
    tbl, roles = _read_any_table(path, aliases, columns=columns, text_roles=tuple(aliases))
    for given, role in ((id_column, "id_column"), (label_column, "label_column")):
        if given is not None and role not in roles:
            raise InputError(f"no column {given!r}; columns: {_column_list(tbl)}", source=source,
                             position=tbl.header_position, fix=f"pass the right {role}")
    idc = roles.get("id_column", _first_role(roles, ID_COLUMNS))
    lac = roles.get("label_column", _first_role(roles, LABEL_COLUMNS))
    feat = [j for j in range(len(tbl.names)) if j not in (idc, lac)]
    if not feat:
        raise InputError("no feature column", source=source, position=tbl.header_position,
                         fix="one numeric column per feature besides the id and class columns")
    fix = ("features must be numbers; name the id column with id_column= (--id-column) and the class column "
           "with label_column= (--label-column)")
    x = np.empty((tbl.n_rows, len(feat)), dtype=np.float32)
    for k, j in enumerate(feat):
        x[:, k] = _numbers(tbl, j, fix=fix)
    _check_finite(x, source, tbl.locate)
    ids = None
    if idc is not None:
        raw = np.asarray(tbl.to_numpy(idc), dtype=object)
        empty = np.array([_is_null(v) for v in raw.tolist()], dtype=bool)
        if empty.any():
            i = int(np.argmax(empty))
            raise InputError(f"empty id in column {tbl.names[idc]!r}", source=source, position=tbl.locate(i),
                             fix="give every row its task id")
        codes, uniq = encode_ids(tbl.column(idc), what="task", source=source, locate=tbl.locate)
        ids = uniq[codes] if codes.size else np.zeros(0, dtype=object)
        if ids.dtype.kind not in "iu":
            ids = ids.astype(object)
    labels = np.asarray(tbl.to_numpy(lac), dtype=object) if lac is not None else None
    return FeatureTable(x, ids, labels, source, tbl.locate)


@dataclass(frozen=True, eq=False)
class _Values:
    """Class values of a split's rows (``task`` None: row by row) or of a ``task,label``
    truth table (``task``: the task of each value)."""

    values: np.ndarray
    task: np.ndarray | None
    source: str
    locate: Locate


def _read_split_truth(path: Any, n: int, classes: np.ndarray | None, *, ids: np.ndarray | None
                      ) -> np.ndarray | _Values:
    """Truth of a split from a file: class indices (.txt/.npy, one per row; int64) or a
    ``task,label`` table of class values matched later on ``ids``."""
    path = as_path(path, "truth file")
    source = source_name(path)
    check_exists(path)
    suffix = kind_of(path)[0]
    if suffix == ".npy":
        arr = load_npy(path)
        if arr.ndim != 1:
            raise InputError(f"truth must be 1-D (one class index per row), got shape {arr.shape}", source=source,
                             fix="save the true class index of each row, -1 for unknown")
        arr = integer_array(arr, source)
    elif suffix == ".txt" and looks_like_index_lines(path):
        arr = read_index_lines(path)
    else:
        if ids is None:
            raise InputError("a truth table (task,label) needs task ids on the feature rows", source=source,
                             fix="give truth as one class index per line (.txt / .npy) for a .npy matrix")
        return _read_truth_table(path)
    if arr.shape[0] != n:
        raise InputError(f"{arr.shape[0]} truth values for {n} rows", source=source,
                         fix="one class index per row of the feature matrix, in the same order")
    if classes is not None:
        bad = (arr < -1) | (arr >= len(classes))
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"class index {arr[i]} is outside 0..{len(classes) - 1} (-1 = unknown)", source=source,
                             position=f"line {i + 1}" if suffix == ".txt" else f"entry {i}",
                             fix="use class indices of the votes' classes")
    return arr


def _read_truth_table(path: Path) -> _Values:
    source = source_name(path)
    suffix = kind_of(path)[0]
    if suffix not in (".csv", ".tsv", ".txt", ".parquet"):
        raise InputError(f"unknown extension {''.join(path.suffixes)!r} for a truth file", source=source,
                         fix="use .txt or .npy (class indices), or a .csv, .tsv (optionally .gz) or .parquet "
                             "table task,label")
    aliases = {c: (c,) for c in _TRUTH_TASK_COLUMNS + _TRUTH_LABEL_COLUMNS}
    tbl, roles = _read_any_table(path, aliases, text_roles=tuple(aliases))
    t = _first_role(roles, _TRUTH_TASK_COLUMNS)
    lab = _first_role(roles, _TRUTH_LABEL_COLUMNS)
    if t is None or lab is None:
        raise InputError(f"a truth table needs a task (or id) and a label (or class) column; found "
                         f"{', '.join(map(str, tbl.names))}", source=source, position=tbl.header_position,
                         fix="write task,label")
    return _Values(np.asarray(tbl.to_numpy(lab), dtype=object), np.asarray(tbl.to_numpy(t), dtype=object),
                   source, tbl.locate)


def load_features(train: str | Path, *, votes: Votes | None = None, val: str | Path | None = None,
                  test: str | Path | None = None, train_truth: str | Path | None = None,
                  val_truth: str | Path | None = None, test_truth: str | Path | None = None,
                  classes: Sequence[Any] | None = None, id_column: str | None = None,
                  label_column: str | None = None) -> TaskData:
    """Read feature matrices (one row per task) for train and, optionally, val and test.

    Parameters
    ----------
    train : str or Path
        Features of the crowd-labelled tasks: ``.npy`` (row i = ``votes.task_ids[i]``)
        or a ``.csv`` / ``.tsv`` / ``.parquet`` table with an id column.
    votes : Votes, optional
        The votes: training rows are re-ordered to ``votes.task_ids`` and their classes
        are ``votes.classes``. Every task with votes needs a row and every row a task.
        Without votes, training rows keep the file order (a ``.npy`` then has ids
        ``0..n-1``).
    val, test : str or Path, optional
        Held-out features, same formats.
    train_truth, val_truth, test_truth : str or Path, optional
        True classes of a split when its file does not carry them: ``.txt`` (one class
        index per line, as ``LabelMe_Z_test.txt``), ``.npy`` (class indices), or a
        ``task,label`` table of class values (tables with ids only).
    classes : sequence, optional
        The classes when there are no votes (default: the truth values seen, in natural
        order; with only index files, ``0..max``).
    id_column, label_column : str, optional
        Column names in tables. Default: ``id`` or ``task`` for ids; ``class``, ``label``
        or ``truth`` for the true class (a column absent is simply not used).

    Returns
    -------
    TaskData
        ``kind="features"``; ``train.features`` float32 ``(n_tasks, d)`` aligned with the
        votes.

    Raises
    ------
    InputError
        Non-numeric or missing feature values (with the file and line), a different
        number of columns between splits, ids that do not match the votes (either way),
        a truth file of the wrong length, an unknown class.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crowdwise import Votes
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "train.csv").write_text("id,f1,f2,class\\nb,1,2,dog\\na,3,4,cat\\n")
    >>> v = Votes.from_records(["a", "b", "b"], ["w1", "w1", "w2"], ["cat", "dog", "cat"])
    >>> data = load_features(d / "train.csv", votes=v)
    >>> data.train.features.tolist(), data.train.truth.tolist()
    ([[3.0, 4.0], [1.0, 2.0]], [0, 1])
    """
    if train is None:
        raise InputError("no training features", fix="pass the feature matrix of the crowd-labelled tasks (train=...)")
    specs = {"train": (train, train_truth), "val": (val, val_truth), "test": (test, test_truth)}
    tables: dict[str, FeatureTable] = {}
    for name, (path, truth_path) in specs.items():
        if path is None:
            if truth_path is not None:
                raise InputError(f"{name} truth given without {name} features", source=truth_path,
                                 fix=f"pass the {name} feature matrix too")
            continue
        tables[name] = read_feature_table(path, id_column=id_column, label_column=label_column)
    d = tables["train"].x.shape[1]
    for name, t in tables.items():
        if t.x.shape[1] != d:
            raise InputError(f"{t.x.shape[1]} feature columns, but the training matrix has {d}", source=t.source,
                             fix="use the same features for every split")
    cls = None if classes is None else np.asarray(list(classes))
    if cls is None and votes is not None:
        cls = votes.classes
    # truth: raw values first (table columns or truth tables), indices from index files
    raw_truth: dict[str, np.ndarray | _Values] = {}
    for name, t in tables.items():
        tp = specs[name][1]
        if tp is not None:
            raw_truth[name] = _read_split_truth(tp, t.x.shape[0], cls, ids=t.ids)
        elif t.labels is not None:
            raw_truth[name] = _Values(t.labels, None, t.source, t.locate)
    if cls is None:
        values = [v for r in raw_truth.values() if isinstance(r, _Values) for v in r.values.tolist()
                  if not _is_missing(v)]
        if values:
            cls = np.asarray(factorize_ids(np.asarray(values, dtype=object), what="class")[1])
        else:
            top = max([int(a.max()) for a in raw_truth.values() if isinstance(a, np.ndarray) and a.size] + [0])
            cls = np.arange(top + 1, dtype=np.int64)
    splits: dict[str, Split] = {}
    for name, t in tables.items():
        n = t.x.shape[0]
        truth = np.full(n, -1, dtype=np.int64)
        r = raw_truth.get(name)
        if isinstance(r, np.ndarray):
            if (r >= len(cls)).any():
                i = int(np.argmax(r >= len(cls)))
                raise InputError(f"class index {r[i]} is outside the {len(cls)} classes", source=specs[name][1],
                                 position=f"entry {i}", fix="use class indices of the classes")
            truth = r
        elif r is not None and r.task is None:
            truth = _values_to_index(r.values, cls, r.source, r.locate)
        elif r is not None:
            task = np.array(["" if _is_null(v) else v for v in r.task.tolist()], dtype=object)
            pos = pd.Index(ids_as_text(t.ids)).get_indexer(ids_as_text(task))
            lab = _values_to_index(r.values, cls, r.source, r.locate)
            ok = pos >= 0
            truth[pos[ok]] = lab[ok]
        if name == "train" and votes is not None:
            if t.ids is None:
                if n != votes.n_tasks:
                    raise InputError(f"{n} feature rows but the votes have {votes.n_tasks} tasks", source=t.source,
                                     fix="row i of a .npy matrix is task votes.task_ids[i]: save one row per task "
                                         "in that order, or use a table with an id column")
                order = np.arange(n)
            else:
                order = _align_to_votes(t.ids, votes, source=t.source, locate=t.locate)
            ids = votes.task_ids
        else:
            order = np.arange(n)
            ids = t.ids if t.ids is not None else np.arange(n)
        splits[name] = Split(name, np.asarray(ids), truth[order], features=np.ascontiguousarray(t.x[order]))
    return TaskData(splits["train"], splits.get("val"), splits.get("test"), cls, kind="features")


# --------------------------------------------------------------------------- dispatch
def load_task_data(root: str | Path | None = None, votes: Votes | None = None, *,
                   features_train: str | Path | None = None, features_val: str | Path | None = None,
                   features_test: str | Path | None = None, train_truth: str | Path | None = None,
                   val_truth: str | Path | None = None, test_truth: str | Path | None = None,
                   id_column: str | None = None, label_column: str | None = None,
                   classes: Sequence[Any] | None = None) -> TaskData:
    """Feature matrices when ``features_train`` is given, else the image folder ``root``.

    This is what ``crowdwise train`` calls; see :func:`load_features` and
    :func:`load_image_folder` for the parameters.
    """
    if features_train is not None:
        return load_features(features_train, votes=votes, val=features_val, test=features_test,
                             train_truth=train_truth, val_truth=val_truth, test_truth=test_truth,
                             classes=classes, id_column=id_column, label_column=label_column)
    others = [p for p in (features_val, features_test) if p is not None]
    if others:
        raise InputError("val / test features given without training features", source=others[0],
                         fix="pass the training matrix too (--features-train)")
    if root is None or not (as_path(root, "data-set folder") / "train").is_dir():
        raise InputError("no items to learn from: no train/ image folder and no feature matrix",
                         source=root, fix="give --features-train X (one row per task), or put the images in "
                                          "train/<class>/<name>-<task>.<ext> inside the data-set folder")
    if train_truth is not None or val_truth is not None or test_truth is not None:
        raise InputError("truth files are for feature matrices; the true class of an image is its folder",
                         fix="drop --train-truth / --val-truth / --test-truth")
    return load_image_folder(root, votes, classes=classes)


# --------------------------------------------------------------------------- training targets
def read_targets(path: str | Path, votes: Votes) -> np.ndarray:
    """Training targets aligned with ``votes.task_ids``, from a file ``crowdwise aggregate`` wrote.

    Parameters
    ----------
    path : str or Path
        - ``.npy``: hard labels ``(n_tasks,)`` (class indices, -1 = no label) or soft
          labels ``(n_tasks, K)``, rows in the order of ``votes.task_ids``;
        - ``.npz``: sparse soft labels (``labels_<data>_<strategy>_probas.npz``);
        - ``.csv`` / ``.tsv`` / ``.parquet`` keyed by task ids (``task`` column): soft
          when it has a ``p_<class>`` column for every class, else hard from
          ``label_index`` or ``label`` (see :func:`crowdwise.io.read_labels`, which reads
          and checks the table; tasks absent from the table get no label, rows with
          ``valid`` false neither).
    votes : Votes

    Returns
    -------
    ndarray
        int64 ``(n_tasks,)`` or float64 ``(n_tasks, K)``.
    """
    path = as_path(path, "labels file")
    source = source_name(path)
    check_exists(path)
    suffix = kind_of(path)[0]
    n, k = votes.n_tasks, votes.n_classes
    if suffix == ".npy":
        arr = load_npy(path)
        if arr.ndim == 2:
            if arr.shape != (n, k):
                raise InputError(f"soft labels have shape {arr.shape}, expected ({n}, {k}) for these votes",
                                 source=source, fix="use the labels aggregated from these votes")
            if arr.dtype.kind not in "fiu":
                raise InputError(f"soft labels must be numbers, got dtype {arr.dtype}", source=source,
                                 fix="save probabilities")
            return arr.astype(np.float64)
        return read_labels(path, votes)[0]
    if suffix == ".npz":
        try:
            with reading(path):
                m = sparse.load_npz(path)
        except (ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise InputError(f"not a sparse matrix archive ({exc})", source=source,
                             fix="save soft labels with scipy.sparse.save_npz") from None
        if m.shape != (n, k):
            raise InputError(f"soft labels have shape {m.shape}, expected ({n}, {k}) for these votes", source=source,
                             fix="use the labels aggregated from these votes")
        return np.asarray(m.toarray(), dtype=np.float64)
    hard, valid = read_labels(path, votes)  # reads and checks the table: tasks, label_index / label, valid
    soft = _soft_columns(path, votes) if _has_proba_columns(path, votes) else None
    if soft is not None:
        if valid is not None:
            soft[~valid] = 0.0
        return soft
    if valid is not None:
        hard = np.where(valid, hard, -1)
    return hard


def _proba_roles(votes: Votes) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """Roles ``p0..p{K-1}`` mapped to the exact names ``p_<class>``, and ``task``."""
    aliases: dict[str, tuple[str, ...]] = {"task": ("task",)}
    columns: dict[str, str] = {}
    for j, c in enumerate(votes.classes.tolist()):
        aliases[f"p{j}"], columns[f"p{j}"] = (), f"p_{c}"
    return aliases, columns


def _has_proba_columns(path: Path, votes: Votes) -> bool:
    """Whether the table has ``task`` and a ``p_<class>`` column for every class, from its
    header alone (a Parquet file is read whole, its columns are cheap)."""
    aliases, columns = _proba_roles(votes)
    if kind_of(path)[0] == ".parquet":
        with reading(path):
            tbl = read_parquet_table(path)
    else:
        header, line = first_line(path)
        names = [n.strip() for n in _split(header, sniff_delimiter(header, kind_of(path)[0]))]
        tbl = TableData(source=source_name(path), names=names, n_rows=0, column=lambda i: None,
                        locate=lambda r: f"row {r}", header_position=f"line {line} (header)")
    roles = resolve_columns(tbl, aliases, columns, optional=tuple(aliases))
    return len(roles) == len(aliases)


def _soft_columns(path: Path, votes: Votes) -> np.ndarray:
    """Soft labels ``(n_tasks, K)`` from the ``p_<class>`` columns of a labels table (rows of
    tasks absent from the table are zero)."""
    aliases, columns = _proba_roles(votes)
    tbl, roles = _read_any_table(path, aliases, columns=columns, text_roles=("task",))
    t_idx = task_index(tbl.column(roles["task"]), votes, source=tbl.source, locate=tbl.locate)
    soft = np.zeros((votes.n_tasks, votes.n_classes))
    fix = "write probabilities in the p_<class> columns (crowdwise.io.write_labels_table)"
    vals = np.column_stack([_numbers(tbl, roles[f"p{j}"], fix=fix) for j in range(votes.n_classes)]
                           ) if votes.n_classes else np.zeros((tbl.n_rows, 0))
    ok = t_idx >= 0
    soft[t_idx[ok]] = vals[ok]
    return soft
