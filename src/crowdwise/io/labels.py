"""Aggregated labels: tables keyed by the original task ids, and reading them back."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
from .._lazy import pd
from scipy import sparse

from ..errors import InputError
from ..votes import Votes
from ._common import PathLike, atomic_write, check_exists, kind_of, require_pyarrow, source_name
from ._output import escape_formulas
from ._encode import match_classes, raw_factorize, show
from .tables import _write_csv, arrow_array
from .truth import integer_array, load_npy, read_columns, task_index

__all__ = ["write_labels_table", "read_labels", "check_task_labels", "save_labels", "MAX_PROBA_COLUMNS"]

#: dense soft labels get one ``p_<class>`` column each up to this many classes
MAX_PROBA_COLUMNS = 50

LABEL_ALIASES = {"task": ("task",), "label_index": ("label_index",), "label": ("label",),
                 "valid": ("valid",)}


def check_task_labels(labels: Any, votes: Votes, source: str) -> np.ndarray:
    """``labels`` as one class index per task of ``votes`` (-1: no label); an InputError
    naming ``source`` and the task otherwise."""
    arr = np.asarray(labels)
    if arr.shape != (votes.n_tasks,):
        raise InputError(f"expected one label per task, shape ({votes.n_tasks},), got shape {arr.shape}",
                         source=source, fix="pass the hard labels of these votes (e.g. model.labels_)")
    arr = integer_array(arr, source)
    bad = (arr < -1) | (arr >= votes.n_classes)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"label index {arr[i]} is outside 0..{votes.n_classes - 1} (-1 = no label)",
                         source=source, position=f"task {show(votes.task_ids[i])}",
                         fix="labels must be class indices of these votes")
    return arr


def write_labels_table(path: PathLike, votes: Votes, labels: Any, *, probas: Any = None,
                       valid: Any = None) -> Path:
    """Write labels keyed by the original task ids, as CSV / TSV or Parquet (atomic).

    Columns: ``task`` (original id), ``label`` (original class value, empty where the
    index is -1), ``label_index``, then ``valid`` when given, then the soft labels:
    one ``p_<class>`` column per class when ``probas`` is dense with at most
    :data:`MAX_PROBA_COLUMNS` classes, otherwise (sparse CSR, or many classes) only
    ``confidence``, the top-1 probability (an empty sparse row counts as uniform).
    In CSV / TSV, a text id or label that a spreadsheet would run as a formula (first
    character ``=``, ``+``, ``-``, ``@``, tab, carriage return, or ``'``) is written with one
    ``'`` in front (:func:`~crowdwise.io._output.escape_formulas`); the CSV readers
    (:func:`read_labels`, :func:`~crowdwise.io.load_votes`) remove it. Parquet is written as it is.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv`` (optionally ``.gz``) or ``.parquet``.
    votes : Votes
    labels : array of int, shape (n_tasks,)
        Class indices, -1 for "no label".
    probas : array (n_tasks, K) or CSR matrix, optional
    valid : array of bool, shape (n_tasks,), optional

    Examples
    --------
    >>> import tempfile, pathlib
    >>> v = Votes.from_records(["t1", "t2"], ["w", "w"], ["cat", "dog"])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = write_labels_table(out, v, [0, 1], probas=np.array([[.75, .25], [0., 1.]]))
    >>> print(out.read_text().strip())
    task,label,label_index,p_cat,p_dog
    t1,cat,0,0.75,0.25
    t2,dog,1,0,1
    >>> read_labels(out, v)[0].tolist()
    [0, 1]
    """
    path = Path(path)
    source = source_name(path)
    if not isinstance(votes, Votes):
        raise InputError(f"write_labels_table expects a crowdwise.Votes, got {type(votes).__name__}",
                         fix="pass the Votes the labels were computed from (crowdwise.io.load_votes(...))")
    lab = check_task_labels(labels, votes, source)
    has = lab >= 0
    values = votes.classes[np.where(has, lab, 0)] if votes.n_classes else np.zeros(lab.size)
    cols: dict[str, Any] = {"task": votes.task_ids}
    cols["label"] = values if has.all() else np.where(has, values.astype(object), None)
    cols["label_index"] = lab
    if valid is not None:
        v = np.asarray(valid)
        if v.shape != (votes.n_tasks,) or v.dtype.kind not in "bui":
            raise InputError(f"valid must be a boolean array of shape ({votes.n_tasks},), got {v.dtype} "
                             f"of shape {v.shape}", source=source, fix="pass one True/False per task")
        cols["valid"] = v.astype(bool)
    if probas is not None:
        cols.update(_proba_columns(probas, votes, source))
    suffix, gz = kind_of(path)
    if suffix in (".csv", ".tsv"):  # text a spreadsheet would run as a formula is quoted (escape_formulas)
        for key in ("task", "label"):
            cols[key] = escape_formulas(cols[key])
    if suffix == ".parquet":
        pa = require_pyarrow(source)
        import pyarrow.parquet as pq

        table = pa.table({k: arrow_array(c) for k, c in cols.items()})
        with atomic_write(path, "wb") as f:
            pq.write_table(table, f)
        return path
    if suffix not in (".csv", ".tsv"):
        raise InputError(f"unknown extension {''.join(path.suffixes)!r} for a labels table", source=source,
                         fix="use .csv, .tsv (optionally .gz) or .parquet (or save_npy for .npy)")
    with atomic_write(path, "wb") as raw:
        f = gzip.GzipFile(fileobj=raw, mode="wb") if gz else raw
        try:
            _write_csv(cols, f, "\t" if suffix == ".tsv" else ",")
        finally:
            if gz:
                f.close()
    return path


def save_labels(model: Any, votes: Votes, npy: PathLike, table: PathLike | None = None, *,
                hard: bool = False) -> list[Path]:
    """Write a fitted strategy's labels: the ``.npy`` peerannot reads, and a table keyed by task ids.

    The ``.npy`` holds the soft labels ``(n_tasks, K)`` of a soft strategy, or the hard
    labels ``(n_tasks,)`` (-1 where a strategy with a validity rule gives no valid label)
    of a hard one or with ``hard=True``. Soft labels kept sparse (many classes) go to
    ``<stem>_probas.npz`` beside the hard ``.npy``. ``table`` (``.csv``, ``.tsv``,
    ``.parquet``) gets :func:`write_labels_table`'s columns. Returns the paths written, in
    that order; inside :func:`~crowdwise.io.output_set` they are renamed together.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crowdwise.aggregate import NaiveSoft
    >>> v = Votes.from_records(["t1", "t1", "t2"], ["a", "b", "a"], ["cat", "dog", "dog"])
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> paths = save_labels(NaiveSoft().fit(v), v, d / "labels.npy", d / "labels.csv")
    >>> [p.name for p in paths], np.load(paths[0]).tolist()
    (['labels.npy', 'labels.csv'], [[0.5, 0.5], [0.0, 1.0]])
    """
    from ._output import save_npy, save_sparse

    npy = Path(npy)
    valid = getattr(model, "valid_", None)
    hard_labels = np.array(model.labels_, copy=True)
    if valid is not None:
        hard_labels[~valid] = -1
    probas = model.probas_
    soft = bool(getattr(model, "soft", False)) and not hard
    written = [npy]
    if soft and not sparse.issparse(probas):
        save_npy(npy, np.asarray(probas))
    else:
        save_npy(npy, hard_labels)
        if soft:
            npz = npy.with_name(f"{npy.stem}_probas.npz")
            save_sparse(npz, probas)
            written.append(npz)
    if table is not None:
        written.append(write_labels_table(table, votes, model.labels_, probas=probas, valid=valid))
    return written


def _proba_columns(probas: Any, votes: Votes, source: str) -> dict[str, np.ndarray]:
    n, k = votes.n_tasks, votes.n_classes
    if sparse.issparse(probas):
        m = sparse.csr_array(probas)
        if m.shape != (n, k):
            raise InputError(f"probas have shape {m.shape}, expected ({n}, {k})", source=source,
                             fix="pass the soft labels of these votes")
        m.sum_duplicates()
        top = np.zeros(n)
        lengths = np.diff(m.indptr)
        has = lengths > 0
        if m.data.size:
            top[has] = np.maximum.reduceat(m.data, m.indptr[:-1][has])
        top[~has] = 1.0 / k if k else 0.0
        return {"confidence": top}
    p = np.asarray(probas, dtype=float)
    if p.shape != (n, k):
        raise InputError(f"probas have shape {p.shape}, expected ({n}, {k})", source=source,
                         fix="pass the soft labels of these votes")
    if k <= MAX_PROBA_COLUMNS:
        return {f"p_{c}": p[:, j] for j, c in enumerate(votes.classes.tolist())}
    return {"confidence": p.max(axis=1) if k else np.zeros(n)}


def read_labels(path: PathLike, votes: Votes | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Read labels back: a ``.npy`` / ``.npz`` label file or a table of :func:`write_labels_table`.

    Parameters
    ----------
    path : str or Path
        - ``.npy`` hard labels, shape (n_tasks,), -1 meaning no valid label;
        - ``.npy`` soft labels, shape (n_tasks, K): the argmax of each row (smallest
          index on ties; a row without positive finite mass gives -1);
        - ``.npz`` sparse soft labels (``scipy.sparse.save_npz``), same rule;
        - ``.csv`` / ``.tsv`` / ``.parquet`` with ``task`` and ``label_index`` (or
          ``label``, matched against ``votes.classes``), optionally ``valid``.
    votes : Votes, optional
        Align with ``votes.task_ids`` (tables) and check sizes (arrays). Required to read
        a table that has ``label`` but no ``label_index``.

    Returns
    -------
    labels : ndarray of int64
        Class indices (-1 = none), aligned with ``votes.task_ids`` when given, else in
        file order.
    valid : ndarray of bool or None
        The ``valid`` column when the file has one; else ``labels >= 0`` when some label
        is -1; else None.
    """
    path = Path(path)
    source = source_name(path)
    check_exists(path)
    suffix = kind_of(path)[0]
    if suffix == ".npy":
        arr = load_npy(path)
        if arr.ndim == 1:
            lab = integer_array(arr, source)
        elif arr.ndim == 2:
            if votes is not None and arr.shape[1] != votes.n_classes:
                raise InputError(f"soft labels have {arr.shape[1]} columns but the votes have "
                                 f"{votes.n_classes} classes", source=source, fix="use the labels of these votes")
            lab = _argmax_soft(np.asarray(arr, dtype=float))
        else:
            raise InputError(f"labels must be 1-D (hard) or 2-D (soft), got shape {arr.shape}", source=source,
                             fix="save model.labels_ or model.probas_")
        return _finish_array(lab, votes, source)
    if suffix == ".npz":
        try:
            m = sparse.load_npz(path)
        except (ValueError, OSError, KeyError) as exc:
            raise InputError(f"not a sparse matrix archive ({exc})", source=source,
                             fix="save soft labels with scipy.sparse.save_npz") from None
        from ..utils import argmax_ties

        m = sparse.csr_array(m)
        if votes is not None and m.shape[1] != votes.n_classes:
            raise InputError(f"soft labels have {m.shape[1]} columns but the votes have {votes.n_classes} "
                             "classes", source=source, fix="use the labels of these votes")
        return _finish_array(argmax_ties(m, tie="smallest"), votes, source)
    tbl, roles = read_columns(path, LABEL_ALIASES, optional=("label_index", "label", "valid"),
                              text_roles=("task", "label"))
    locate = tbl.locate

    def column(role: str) -> Any:
        return tbl.column(roles[role])

    if "label_index" in roles:
        li = pd.to_numeric(pd.Series(tbl.to_numpy(roles["label_index"])), errors="coerce")
        if (li.notna() & (li != li.round())).any():
            row = int(np.argmax((li.notna() & (li != li.round())).to_numpy()))
            raise InputError("label_index is not an integer", source=source, position=locate(row),
                             fix="write class indices (integers), -1 for none")
        lab = li.fillna(-1).to_numpy().astype(np.int64)
        bad = lab < -1
        if votes is not None:
            bad |= lab >= votes.n_classes
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(f"label_index {lab[row]} is not a class index", source=source, position=locate(row),
                             fix="use the labels written for these votes")
    elif "label" in roles:
        if votes is None:
            raise InputError("this table has 'label' but no 'label_index': pass the votes to match the "
                             "labels with their classes", source=source, position=tbl.header_position,
                             fix="read_labels(path, votes)")
        codes, uniq = raw_factorize(column("label"), what="label", source=source, locate=locate)
        u = match_classes(uniq.values, votes.classes) if len(uniq) else np.zeros(0, np.int64)
        lab = np.where(codes >= 0, u[np.maximum(codes, 0)] if u.size else -1, -1)
        bad = (codes >= 0) & (lab < 0)
        if bad.any():
            row = int(np.argmax(bad))
            raise InputError(f"label {show(uniq.values[codes[row]])} is not a class of the votes", source=source,
                             position=locate(row), fix="use the labels written for these votes")
    else:
        raise InputError(f"no 'label_index' nor 'label' column; columns found: {', '.join(map(repr, tbl.names))}",
                         source=source, position=tbl.header_position,
                         fix="read a table written by write_labels_table")
    valid = _valid_column(tbl, roles["valid"], source) if "valid" in roles else None
    if votes is None:
        if valid is None and (lab < 0).any():
            valid = lab >= 0
        return lab, valid
    t_idx = task_index(column("task"), votes, source=source, locate=locate)
    if (t_idx < 0).any():
        row = int(np.argmax(t_idx < 0))
        raise InputError("this task is not among the tasks of the votes", source=source, position=locate(row),
                         fix="read the labels with the votes they were computed from")
    out = np.full(votes.n_tasks, -1, dtype=np.int64)
    out[t_idx] = lab
    if valid is not None:
        v = np.zeros(votes.n_tasks, dtype=bool)
        v[t_idx] = valid
        return out, v
    return out, (out >= 0) if (out < 0).any() else None


def _valid_column(tbl: Any, i: int, source: str) -> np.ndarray:
    vals = tbl.to_numpy(i)
    if vals.dtype.kind == "b":
        return vals
    s = pd.Series(vals, dtype=object).map(lambda x: str(x).strip().lower())
    truthy, falsy = {"true", "1", "1.0", "yes"}, {"false", "0", "0.0", "no", "", "none", "nan"}
    bad = ~s.isin(truthy | falsy)
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise InputError(f"valid {show(vals[row])} is not true/false", source=source, position=tbl.locate(row),
                         fix="write true or false")
    return s.isin(truthy).to_numpy()


def _argmax_soft(p: np.ndarray) -> np.ndarray:
    finite = np.isfinite(p)
    q = np.where(finite, p, -np.inf)
    lab = np.argmax(q, axis=1).astype(np.int64) if p.shape[1] else np.full(p.shape[0], -1, np.int64)
    if p.shape[1]:
        top = q[np.arange(p.shape[0]), lab]
        lab[~(top > 0)] = -1
    return lab


def _finish_array(lab: np.ndarray, votes: Votes | None, source: str) -> tuple[np.ndarray, np.ndarray | None]:
    if votes is not None:
        if lab.shape != (votes.n_tasks,):
            raise InputError(f"{lab.shape[0]} labels for {votes.n_tasks} tasks", source=source,
                             fix="read the labels with the votes they were computed from")
        bad = lab >= votes.n_classes
        if bad.any():
            i = int(np.argmax(bad))
            raise InputError(f"label {lab[i]} is outside the {votes.n_classes} classes", source=source,
                             position=f"entry {i}", fix="read the labels with the votes they were computed from")
    bad = lab < -1
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(f"label {lab[i]} is negative (only -1 means no label)", source=source,
                         position=f"entry {i}", fix="use class indices, -1 for none")
    return lab, (lab >= 0) if (lab < 0).any() else None
