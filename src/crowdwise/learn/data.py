"""Task data for learning from crowds: image folders or feature matrices, one interface.

A crowd data set pairs votes (a :class:`~crowdwise.Votes`) with the items they are
about. This module reads the items and lines them up with the tasks of the votes, so
that row ``i`` of the training split is task ``votes.task_ids[i]`` and the labels a
strategy wrote (``labels_<data>_<strategy>.npy``, one row per task) can be used as
training targets as they are.

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
classes, as in torchvision's ``ImageFolder``.

**Feature matrices**, one row per task, one file per split:

- ``.npy`` (2-D float): row ``i`` of the training matrix is task ``votes.task_ids[i]``
  (tasks in the votes' order: for integer task ids ``0..n-1`` that is task ``i``). Truth
  for any split comes from a separate file (``LabelMe_Z_test.txt``: one class index per
  line, or a ``.npy`` of class indices).
- ``.csv`` / ``.tsv`` / ``.parquet``: an id column (``id_column``; by default ``id`` or
  ``task``) matched with the task ids of the votes, an optional truth column
  (``label_column``; by default ``class``, ``label`` or ``truth``) holding class values,
  every other column a numeric feature.

The data sets in ``../shared/datasets`` load as::

    from crowdwise import io
    from crowdwise.learn.data import load_features
    F = "../shared/datasets/labelme/features/"
    votes = io.load_votes("../shared/datasets/labelme")
    data = load_features(F + "LabelMe_VGG_avg_train.npy", votes=votes,
                         val=F + "LabelMe_VGG_avg_valid.npy", val_truth=F + "LabelMe_Z_valid.txt",
                         test=F + "LabelMe_VGG_avg_test.npy", test_truth=F + "LabelMe_Z_test.txt",
                         train_truth=F + "LabelMe_Z_train.txt")
    M = "../shared/datasets/music_genre/features/"
    votes = io.load_votes("../shared/datasets/music_genre")
    data = load_features(M + "music_genre_gold.csv", test=M + "music_genre_test.csv", votes=votes)

Mismatches are errors, never silent: a task with votes but no image / feature row, an
image or row whose task has no votes, a repeated task key, an unknown class.

For PyTorch, :func:`make_dataset` wraps a split (and optional training targets) as a
``torch.utils.data.Dataset`` whose items are ``(x, target, index)``, ``index`` being the
row in the split (= the task index in the votes for the training split): crowd layers
use it to fetch the votes of a batch, AUM to record margins per task.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..votes import Votes, factorize_ids

__all__ = ["Split", "TaskData", "TaskDataset", "load_image_folder", "load_features", "load_task_data", "make_dataset",
           "load_labels", "standardize",
           "image_transform", "IMAGE_EXTENSIONS", "IMAGENET_MEAN", "IMAGENET_STD"]

#: file extensions read as images (case-insensitive)
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
#: normalisation of every image model (torchvision's ImageNet statistics)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

ID_COLUMNS = ("id", "task")
LABEL_COLUMNS = ("class", "label", "truth")


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
        return int(len(self.classes))

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


# --------------------------------------------------------------------------- helpers
def _text(values: Any) -> np.ndarray:
    from ..io.truth import ids_as_text

    return ids_as_text(np.asarray(values))


def _show(x: Any) -> str:
    return repr(x.item() if isinstance(x, np.generic) else x)


def _align_to_votes(ids: np.ndarray, votes: Votes, *, source: str, locate) -> np.ndarray:
    """Permutation ``order`` such that ``ids[order]`` equals ``votes.task_ids``.

    Raises an InputError for a row whose task has no votes, a repeated id, or a task of
    the votes without a row.
    """
    known = pd.Index(_text(votes.task_ids))
    txt = _text(ids)
    pos = np.asarray(known.get_indexer(txt), dtype=np.int64)
    if (pos < 0).any():
        i = int(np.argmax(pos < 0))
        raise InputError(f"task {_show(ids[i])} is not a task of the votes ({int((pos < 0).sum())} such "
                         "item(s), this is the first)", source=source, position=locate(i),
                         fix="remove the items nobody voted on, or declare these tasks in the votes "
                             "(metadata.json n_tasks / a votes file that lists them)")
    dup = pd.Index(pos).duplicated()
    if dup.any():
        i = int(np.argmax(dup))
        first = int(np.flatnonzero(pos == pos[i])[0])
        raise InputError(f"task {_show(ids[i])} appears twice (also at {locate(first)})", source=source,
                         position=locate(i), fix="keep one item per task")
    if pos.size != votes.n_tasks:
        have = np.zeros(votes.n_tasks, dtype=bool)
        have[pos] = True
        t = int(np.argmax(~have))
        raise InputError(f"task {_show(votes.task_ids[t])} has votes but no item here "
                         f"({votes.n_tasks - pos.size} such task(s), this is the first)", source=source,
                         fix="add its image / feature row, or drop its votes")
    order = np.empty(votes.n_tasks, dtype=np.int64)
    order[pos] = np.arange(pos.size)
    return order


def _class_lookup(names: Sequence[Any], classes: np.ndarray | None, *, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Class index of each name, and the classes (from the names when not given)."""
    from ..io._encode import match_classes

    names_arr = np.asarray(list(names), dtype=object)
    if classes is None:
        uniq = factorize_ids(names_arr, what="class")[1] if names_arr.size else np.zeros(0, dtype=object)
        classes = np.asarray(uniq)
    idx = match_classes(names_arr, classes) if names_arr.size else np.zeros(0, np.int64)
    if (idx < 0).any():
        bad = names_arr[int(np.argmax(idx < 0))]
        shown = ", ".join(map(str, classes[:10].tolist())) + (", ..." if len(classes) > 10 else "")
        raise InputError(f"class {_show(bad)} is not one of the {len(classes)} classes ({shown})", source=source,
                         fix="name the class folders / truth values after the classes of the votes")
    return idx, classes


# --------------------------------------------------------------------------- images
_KEY = re.compile(r"-([^-]+)$")


def _scan_images(folder: Path, split: str) -> tuple[list[Path], list[str]]:
    """Image files under ``folder/<class>/`` (sorted) and their class folder names."""
    if not folder.is_dir():
        raise InputError(f"no {split}/ folder", source=folder.parent,
                         fix=f"put the images in {split}/<class>/<name>-<task>.<ext>")
    paths: list[Path] = []
    labels: list[str] = []
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
    root = Path(root)
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
                txt = _text(keys)
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
    voted_ids = pd.Index(_text(votes.task_ids[votes.votes_per_task() > 0]))
    keys = [m.group(1) if (m := _KEY.search(p.stem)) else None for p in paths]
    has_key = np.asarray([k is not None for k in keys], dtype=bool)
    voted = np.zeros(len(paths), dtype=bool)
    if has_key.any():
        txt = _text(np.asarray([k for k in keys if k is not None], dtype=object))
        voted[has_key] = voted_ids.get_indexer(txt) >= 0
    with_votes = {lab for lab, v in zip(labs, voted) if v}
    return [n for n in names if n not in with_votes]


def _resolve_image_classes(names: list[str], votes: Votes | None, classes: Sequence[Any] | None,
                           root: Path, train: tuple[list[Path], list[str]] | None = None) -> np.ndarray:
    from ..io._encode import match_classes

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
    shown_cls = f"{', '.join(map(str, cls[:10].tolist()))}{', ...' if len(cls) > 10 else ''}"
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
@dataclass
class _Table:
    x: np.ndarray
    ids: np.ndarray | None
    labels: np.ndarray | None  # raw class values (object), None where absent
    source: str
    locate: Any


def _read_matrix(path: Path, *, id_column: str | None, label_column: str | None) -> _Table:
    from ..io._common import check_exists, kind_of
    from ..io.truth import load_npy

    check_exists(path)
    source = str(path)
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
        _check_finite(x, source, lambda i: f"row {i}")
        return _Table(x, None, None, source, lambda i: f"row {i}")
    if suffix in (".csv", ".tsv"):
        try:
            df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype={id_column: str} if id_column else None,
                             keep_default_na=True)
        except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
            raise InputError(f"cannot parse the table ({str(exc).splitlines()[0]})", source=source,
                             fix="write a CSV with a header line") from None
        locate = lambda i: f"line {i + 2}"  # noqa: E731  header = line 1
    elif suffix == ".parquet":
        from ..io._common import require_pyarrow

        require_pyarrow(source)
        df = pd.read_parquet(path)
        locate = lambda i: f"row {i}"  # noqa: E731
    else:
        raise InputError(f"unknown extension {''.join(path.suffixes)!r} for a feature matrix", source=source,
                         fix="use .npy, .csv, .tsv or .parquet")
    cols = [str(c) for c in df.columns]
    df.columns = cols
    idc = _pick_column(cols, id_column, ID_COLUMNS, "id_column", source)
    lac = _pick_column(cols, label_column, LABEL_COLUMNS, "label_column", source)
    feat_cols = [c for c in cols if c not in (idc, lac)]
    if not feat_cols:
        raise InputError("no feature column", source=source, position="line 1" if suffix != ".parquet" else None,
                         fix="one numeric column per feature besides the id and class columns")
    x = np.empty((len(df), len(feat_cols)), dtype=np.float32)
    for j, c in enumerate(feat_cols):
        col = pd.to_numeric(df[c], errors="coerce")
        bad = col.isna() & df[c].notna()
        if bad.any():
            i = int(np.argmax(bad.to_numpy()))
            raise InputError(f"column {c!r} holds {_show(df[c].iloc[i])}, not a number", source=source,
                             position=locate(i), fix=f"features must be numbers; name the id column with "
                                                     f"id_column= (--id-column) and the class column with "
                                                     f"label_column= (--label-column)")
        x[:, j] = col.to_numpy(dtype=np.float32, na_value=np.nan)
    _check_finite(x, source, locate)
    ids = None
    if idc is not None:
        if df[idc].isna().any():
            i = int(np.argmax(df[idc].isna().to_numpy()))
            raise InputError(f"empty id in column {idc!r}", source=source, position=locate(i),
                             fix="give every row its task id")
        ids = df[idc].to_numpy(dtype=object)
    labels = df[lac].to_numpy(dtype=object) if lac is not None else None
    return _Table(x, ids, labels, source, locate)


def _check_finite(x: np.ndarray, source: str, locate) -> None:
    ok = np.isfinite(x).all(axis=1)
    if not ok.all():
        i = int(np.argmax(~ok))
        raise InputError("missing or infinite feature value", source=source, position=locate(i),
                         fix="impute or drop that row")


def _pick_column(cols: list[str], given: str | None, defaults: tuple[str, ...], what: str, source: str) -> str | None:
    if given is not None:
        if given not in cols:
            raise InputError(f"no column {given!r}; columns: {', '.join(cols[:8])}{', ...' if len(cols) > 8 else ''}",
                             source=source, fix=f"pass the right {what}")
        return given
    lower = {c.lower(): c for c in cols}
    return next((lower[d] for d in defaults if d in lower), None)


def _read_truth_file(path: Path, n: int, classes: np.ndarray | None, *, ids: np.ndarray | None) -> Any:
    """Truth of a split from a file: class indices (.txt/.npy, one per row) or a
    ``task,label`` table matched on ``ids``. Returns an int64 index array (classes known)
    or an object array of class values to be matched later."""
    from ..io._common import check_exists, kind_of
    from ..io.truth import integer_array, load_npy, looks_like_index_lines, read_index_lines

    check_exists(path)
    source = str(path)
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
        tbl = _read_matrix_free_table(path)
        return ("table", tbl)
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


def _read_matrix_free_table(path: Path) -> pd.DataFrame:
    from ..io._common import kind_of

    suffix = kind_of(path)[0]
    if suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
    cols = {str(c).lower(): c for c in df.columns}
    t = next((cols[c] for c in ("task", "id") if c in cols), None)
    lab = next((cols[c] for c in ("label", "class", "truth", "gold") if c in cols), None)
    if t is None or lab is None:
        raise InputError(f"a truth table needs a task (or id) and a label (or class) column; found "
                         f"{', '.join(map(str, df.columns))}", source=path, position="line 1",
                         fix="write task,label")
    return pd.DataFrame({"task": df[t].to_numpy(dtype=object), "label": df[lab].to_numpy(dtype=object)})


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
    specs = {"train": (train, train_truth), "val": (val, val_truth), "test": (test, test_truth)}
    tables: dict[str, _Table] = {}
    for name, (path, truth_path) in specs.items():
        if path is None:
            if truth_path is not None:
                raise InputError(f"{name} truth given without {name} features", source=truth_path,
                                 fix=f"pass the {name} feature matrix too")
            continue
        tables[name] = _read_matrix(Path(path), id_column=id_column, label_column=label_column)
    d = tables["train"].x.shape[1]
    for name, t in tables.items():
        if t.x.shape[1] != d:
            raise InputError(f"{t.x.shape[1]} feature columns, but the training matrix has {d}", source=t.source,
                             fix="use the same features for every split")
    cls = None if classes is None else np.asarray(list(classes))
    if cls is None and votes is not None:
        cls = votes.classes
    # truth: raw values first (table columns or truth tables), indices from index files
    raw_truth: dict[str, Any] = {}
    for name, t in tables.items():
        tp = specs[name][1]
        if tp is not None:
            raw_truth[name] = _read_truth_file(Path(tp), t.x.shape[0], cls, ids=t.ids)
        elif t.labels is not None:
            raw_truth[name] = ("values", t.labels)
    if cls is None:
        values = [v for kind_v in raw_truth.values() if isinstance(kind_v, tuple)
                  for v in (kind_v[1]["label"] if kind_v[0] == "table" else kind_v[1]).tolist()
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
        elif r is not None and r[0] == "values":
            truth = _values_to_index(r[1], cls, t.source, t.locate)
        elif r is not None:
            df = r[1]
            pos = pd.Index(_text(t.ids)).get_indexer(_text(df["task"].to_numpy()))
            lab = _values_to_index(df["label"].to_numpy(dtype=object), cls, str(specs[name][1]),
                                   lambda i: f"line {i + 2}")
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


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def _values_to_index(values: np.ndarray, classes: np.ndarray, source: str, locate) -> np.ndarray:
    from ..io._encode import match_classes

    missing = np.array([_is_missing(v) for v in values.tolist()], dtype=bool)
    out = np.full(values.size, -1, dtype=np.int64)
    if (~missing).any():
        idx = match_classes(values[~missing], classes)
        if (idx < 0).any():
            i = int(np.flatnonzero(~missing)[int(np.argmax(idx < 0))])
            shown = ", ".join(map(str, classes[:10].tolist())) + (", ..." if len(classes) > 10 else "")
            raise InputError(f"true class {_show(values[i])} is not one of the {len(classes)} classes ({shown})",
                             source=source, position=locate(i), fix="use the class values of the votes")
        out[~missing] = idx
    return out


# --------------------------------------------------------------------------- labels, scaling
def load_labels(path: str | Path, votes: Votes) -> np.ndarray:
    """Training targets aligned with ``votes.task_ids``, from a file ``crowdwise aggregate`` wrote.

    Parameters
    ----------
    path : str or Path
        - ``.npy``: hard labels ``(n_tasks,)`` (class indices, -1 = no label) or soft
          labels ``(n_tasks, K)``, rows in the order of ``votes.task_ids``;
        - ``.npz``: sparse soft labels (``labels_<data>_<strategy>_probas.npz``);
        - ``.csv`` / ``.tsv`` / ``.parquet`` keyed by task ids (``task`` column): soft
          when it has a ``p_<class>`` column for every class, else hard from
          ``label_index`` or ``label`` (see :func:`crowdwise.io.read_labels`); tasks absent
          from the table get no label.
    votes : Votes

    Returns
    -------
    ndarray
        int64 ``(n_tasks,)`` or float64 ``(n_tasks, K)``.
    """
    from scipy import sparse

    from .. import io
    from ..io._common import check_exists, kind_of
    from ..io.truth import load_npy

    path = Path(path)
    check_exists(path)
    suffix = kind_of(path)[0]
    n, k = votes.n_tasks, votes.n_classes
    if suffix == ".npy":
        arr = load_npy(path)
        if arr.ndim == 2:
            if arr.shape != (n, k):
                raise InputError(f"soft labels have shape {arr.shape}, expected ({n}, {k}) for these votes",
                                 source=path, fix="use the labels aggregated from these votes")
            if arr.dtype.kind not in "fiu":
                raise InputError(f"soft labels must be numbers, got dtype {arr.dtype}", source=path,
                                 fix="save probabilities")
            return arr.astype(np.float64)
        return io.read_labels(path, votes)[0]
    if suffix == ".npz":
        try:
            m = sparse.load_npz(path)
        except (ValueError, OSError, KeyError) as exc:
            raise InputError(f"not a sparse matrix archive ({exc})", source=path,
                             fix="save soft labels with scipy.sparse.save_npz") from None
        if m.shape != (n, k):
            raise InputError(f"soft labels have shape {m.shape}, expected ({n}, {k}) for these votes", source=path,
                             fix="use the labels aggregated from these votes")
        return np.asarray(m.toarray(), dtype=np.float64)
    hard, valid = io.read_labels(path, votes)
    if suffix == ".parquet":
        df = pd.read_parquet(path)
    else:
        df = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype={"task": str})
    pcols = [f"p_{c}" for c in votes.classes.tolist()]
    if "task" in df.columns and all(c in df.columns for c in pcols):
        pos = pd.Index(_text(votes.task_ids)).get_indexer(_text(df["task"].to_numpy(dtype=object)))
        soft = np.zeros((n, k))
        vals = df[pcols].to_numpy(dtype=np.float64)
        ok = pos >= 0
        soft[pos[ok]] = vals[ok]
        if valid is not None:
            soft[~valid] = 0.0
        return soft
    if valid is not None:
        hard = np.where(valid, hard, -1)
    return hard


def standardize(data: TaskData) -> tuple[TaskData, np.ndarray, np.ndarray]:
    """Centre and scale every feature with the training mean and standard deviation.

    ``x' = (x - mean_train) / sd_train`` on every split (a constant column is only
    centred). Returns the new data and ``(mean, sd)``.
    """
    if data.kind != "features":
        raise InputError("only feature matrices can be standardised", fix="drop --standardize for images")
    x = data.train.features.astype(np.float64)
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)

    def scaled(s: Split | None) -> Split | None:
        if s is None:
            return None
        f = ((s.features - mean) / sd).astype(np.float32)
        return Split(s.name, s.task_ids, s.truth, features=f)

    return (TaskData(scaled(data.train), scaled(data.val), scaled(data.test), data.classes, kind=data.kind),
            mean, sd)


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
    if root is None or not (Path(root) / "train").is_dir():
        raise InputError("no items to learn from: no train/ image folder and no feature matrix",
                         source=root, fix="give --features-train X (one row per task), or put the images in "
                                          "train/<class>/<name>-<task>.<ext> inside the data-set folder")
    if train_truth is not None or val_truth is not None or test_truth is not None:
        raise InputError("truth files are for feature matrices; the true class of an image is its folder",
                         fix="drop --train-truth / --val-truth / --test-truth")
    return load_image_folder(root, votes, classes=classes)


# --------------------------------------------------------------------------- torch side
def image_transform(img_size: int = 224, *, augment: bool = False):
    """The torchvision transform of every image: resize to ``img_size`` squared, tensor,
    ImageNet normalisation; with ``augment``, a random crop (padding ``img_size // 8``)
    and a random horizontal flip first (the CIFAR recipe used by peerannot)."""
    from torchvision import transforms as T

    steps: list[Any] = [T.Resize((img_size, img_size))]
    if augment:
        steps += [T.RandomCrop(img_size, padding=max(1, img_size // 8)), T.RandomHorizontalFlip()]
    steps += [T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)]
    return T.Compose(steps)


class TaskDataset:
    """Items ``(x, target, index)`` of a :class:`Split` (a map-style torch data set).

    ``index`` is the row in the split (the task index in the votes for the training
    split), ``target`` the training target of that row: an int64 class (hard), a float32
    vector summing to 1 (soft), or the true class when made without targets. Rows without
    a target are left out: ``rows`` lists the rows kept, in order, and item ``i`` is row
    ``rows[i]``. Build it with :func:`make_dataset`.
    """

    def __init__(self, split: Split, targets: np.ndarray, rows: np.ndarray, transform: Any = None) -> None:
        import torch

        self.split = split
        self.rows = rows
        self.transform = transform
        self.soft = targets.ndim == 2
        self.targets = torch.as_tensor(targets, dtype=torch.float32 if self.soft else torch.int64)
        self.features = None if split.features is None else torch.from_numpy(split.features)

    def __len__(self) -> int:
        return int(self.rows.size)

    def __getitem__(self, i: int):
        r = int(self.rows[i])
        if self.features is not None:
            x = self.features[r]
        else:
            from PIL import Image

            try:
                with Image.open(self.split.paths[r]) as im:
                    x = self.transform(im.convert("RGB"))
            except OSError as exc:
                raise InputError(f"cannot read the image ({exc})", source=self.split.paths[r],
                                 fix="replace or remove the file") from None
        return x, self.targets[r], r

    def __getitems__(self, items: list[int]):
        """A whole batch at once for feature matrices (one indexing, no per-item
        stacking); images go item by item. Used by torch's DataLoader with
        :meth:`collate`."""
        if self.features is None:
            return [self[i] for i in items]
        import torch

        rows = torch.as_tensor(self.rows[np.asarray(items, dtype=np.int64)])
        return _Batch((self.features[rows], self.targets[rows], rows))

    @staticmethod
    def collate(batch: Any):
        """``collate_fn`` of the DataLoader: a batch fetched whole is passed as it is,
        a list of items is stacked by torch's default collate."""
        if isinstance(batch, _Batch):
            return list(batch)
        from torch.utils.data import default_collate

        return default_collate(batch)

    def __repr__(self) -> str:
        return f"TaskDataset({self.split.name!r}, n={len(self)}, {'soft' if self.soft else 'hard'} targets)"


class _Batch(tuple):
    """``(x, target, index)`` of a whole batch (marks it for :meth:`TaskDataset.collate`)."""


def make_dataset(split: Split, targets: Any = None, *, augment: bool = False, img_size: int = 224,
                 transform: Any = None):
    """A ``torch.utils.data.Dataset`` of ``(x, target, index)`` over a split.

    Parameters
    ----------
    split : Split
    targets : array, optional
        Training targets aligned with the rows of ``split``: hard labels ``(n,)`` (class
        indices, -1 = no label) or soft labels ``(n, K)`` (rows renormalised to sum to 1).
        Rows without a label (-1, or a soft row without positive finite mass) are left
        out. Default: the split's truth (rows of unknown truth left out).
    augment : bool
        Random crop + flip (images only).
    img_size : int
        Side of the square images fed to the network.
    transform : callable, optional
        A torchvision transform replacing the default one (images only).

    Returns
    -------
    TaskDataset
        With attributes ``rows`` (the rows kept, int64) and ``soft``.
    """
    n = len(split)
    if targets is None:
        t = split.truth.astype(np.int64)
    else:
        t = np.asarray(targets)
        if t.ndim not in (1, 2) or t.shape[0] != n:
            raise InputError(f"targets have shape {t.shape}, expected ({n},) or ({n}, K): one per {split.name} row",
                             fix="use the labels computed from the votes of these tasks")
    if t.ndim == 1:
        if t.dtype.kind == "f":
            if not np.all(np.isfinite(t) & (t == np.round(t))):
                raise InputError("hard labels must be integers (-1 = no label)", fix="save class indices")
        elif t.dtype.kind not in "iu":
            raise InputError(f"labels must be class indices, got dtype {t.dtype}", fix="save class indices")
        t = t.astype(np.int64)
        if (t < -1).any():
            i = int(np.argmax(t < -1))
            raise InputError(f"label {t[i]} at row {i} is negative (only -1 means no label)", fix="use -1 for none")
        rows = np.flatnonzero(t >= 0)
    else:
        t = np.asarray(t, dtype=np.float64)
        finite = np.isfinite(t)
        if (finite & (t < 0)).any():
            i = int(np.argwhere(finite & (t < 0))[0, 0])
            raise InputError(f"soft label row {i} has a negative probability", fix="soft labels are probabilities")
        t = np.where(finite, t, 0.0)
        mass = t.sum(axis=1)
        rows = np.flatnonzero(mass > 0)
        t = (t / np.where(mass > 0, mass, 1.0)[:, None]).astype(np.float32)
    tf = None
    if split.kind == "images":
        tf = transform if transform is not None else image_transform(img_size, augment=augment)
    return TaskDataset(split, t, rows.astype(np.int64), tf)
