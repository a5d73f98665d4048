"""Results of a distributed fit, and their Parquet parts keyed by the original ids.

A :class:`DistributedResult` reads like a fitted in-memory strategy (``labels_``,
``probas_``, ``valid_``, the worker parameters such as ``accuracies_`` or ``weights_``,
``n_iter_``, ``log_likelihood_``): the per-task outputs stay on the cluster, one piece per
block, until they are asked for (then gathered in task order) or written with
:meth:`DistributedResult.to_parquet`, one part per block, by the workers.

Parts are written into a hidden folder beside the target and renamed into place once every
part is written: a failed or interrupted run leaves no partial output (an earlier result
in the target folder stays as it was until the new one is complete).
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError

__all__ = ["DistributedResult", "DEFAULT_TOP_K", "ALL_CLASSES_UP_TO"]

#: with at most this many classes every class gets a probability column; above, the top-k
ALL_CLASSES_UP_TO = 20
#: probability columns kept per task above ``ALL_CLASSES_UP_TO`` classes
DEFAULT_TOP_K = 3
_PER_TASK = ("labels", "probas", "valid", "confidence", "accuracy", "unvoted_mass")


class DistributedResult:
    """A strategy fitted on Dask (see the module docstring).

    Attributes
    ----------
    model : Aggregator
        The in-memory strategy object the fit used (its hyper-parameters).
    task_ids_, worker_ids_, classes_ : ndarray
        The ids, in code order (the order of the in-memory :class:`~crowdwise.Votes`).
    labels_, probas_, valid_ ... : gathered on first access, in task order.
    """

    def __init__(self, model: Any, enc: Any, client: Any, fitted: dict) -> None:
        self.model = model
        self.client = client
        self.task_ids_ = enc.task_ids
        self.worker_ids_ = enc.worker_ids
        self.classes_ = enc.classes
        self.n_tasks_, self.n_classes_ = enc.n_tasks, enc.n_classes
        self.n_votes_ = int(enc.n_votes.sum())
        self._bounds = enc.bounds
        self._parts = fitted.pop("parts")
        self._gathered: dict[str, Any] = {}
        run = fitted.pop("run", None)
        if run is not None:
            fitted.update(n_iter_=run.n_iter, converged_=run.converged, log_likelihood_=run.history)
        for k, v in fitted.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        return f"DistributedResult({self.model!r}, n_tasks={self.n_tasks_:,}, n_blocks={len(self._parts)})"

    # ------------------------------------------------------------------ per-task outputs
    def _piece(self, key: str) -> list:
        if key not in self._gathered:
            if self._parts is None:
                raise InputError(f"{key} is not available: the cluster that held it was closed",
                                 fix="pass client=... to keep the results on the cluster, or collect=True")
            futs = self.client.map(_get, self._parts, [key] * len(self._parts), pure=False)
            self._gathered[key] = self.client.gather(futs)
        return self._gathered[key]

    def _has(self, key: str) -> bool:
        if key in self._gathered:
            return self._gathered[key] is not None and self._gathered[key][0] is not None
        return bool(self.client.gather(self.client.submit(_has_key, self._parts[0], key, pure=False)))

    def collect(self) -> "DistributedResult":
        """Gather every per-task output into the client (before the cluster is closed)."""
        for key in _PER_TASK:
            if self._parts is not None and self._has(key):
                self._piece(key)
        for key in _PER_TASK:
            self._gathered.setdefault(key, None)
        self._parts = None
        return self

    def _concat(self, key: str) -> Any:
        pieces = self._piece(key)
        if pieces is None:
            raise AttributeError(f"{type(self.model).__name__} has no {key}")
        if sparse.issparse(pieces[0]):
            return sparse.csr_array(sparse.vstack(pieces, format="csr"))
        return np.concatenate(pieces) if pieces[0].ndim == 1 else np.vstack(pieces)

    @property
    def labels_(self) -> np.ndarray:
        return self._concat("labels")

    @property
    def probas_(self) -> Any:
        return self._concat("probas")

    @property
    def valid_(self) -> np.ndarray:
        return self._concat("valid")

    @property
    def confidence_(self) -> np.ndarray:
        return self._concat("confidence")

    @property
    def accuracy_(self) -> np.ndarray:
        return self._concat("accuracy")

    @property
    def unvoted_mass_(self) -> np.ndarray:
        return self._concat("unvoted_mass")

    # ------------------------------------------------------------------ Parquet parts
    def to_parquet(self, folder: str | Path, *, top_k: int | None = None) -> list[Path]:
        """Write one Parquet part per block into ``folder``: ``task`` (original id),
        ``label`` (class value; null where a validity rule refuses it), ``valid`` when the
        strategy has a validity rule, and the probabilities: one ``proba_<class>`` column
        per class up to 20 classes, else the ``top_k`` (default 3) most probable classes as
        ``top<j>_label`` / ``top<j>_proba`` (sparse soft labels at large K).

        The parts are written by the workers (the folder must be on storage they share
        with the client) into a hidden folder, renamed into place when all are written.
        """
        if self._parts is None:
            raise InputError("the per-task outputs were collected and the cluster closed",
                             fix="write the parts before closing the client (aggregate(..., out_dir=...))")
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise InputError("the output exists and is not a folder", source=folder,
                             fix="choose a folder for the Parquet parts")
        if folder.is_dir() and any(p for p in folder.iterdir() if not p.name.startswith("part-")):
            raise InputError("the output folder holds files that are not Parquet parts of a result", source=folder,
                             fix="choose a new or empty folder (a previous result's parts are replaced)")
        k = self.n_classes_
        if top_k is None:
            top_k = 0 if k <= ALL_CLASSES_UP_TO else DEFAULT_TOP_K
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            ids = [self.task_ids_[a:b] for a, b in zip(self._bounds[:-1], self._bounds[1:])]
            paths = [str(tmp / f"part-{i:05d}.parquet") for i in range(len(self._parts))]
            with warnings.catch_warnings():  # the task ids travel inside the tasks
                warnings.filterwarnings("ignore", message=".*large graph.*")
                futs = self.client.map(_write_part, self._parts, ids, [self.classes_] * len(ids), paths,
                                       [int(top_k)] * len(ids), pure=False)
            self.client.gather(futs)
            old = None
            if folder.exists():
                old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
                os.replace(folder, old)
            os.replace(tmp, folder)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return sorted(folder.glob("part-*.parquet"))


def _get(out: dict, key: str) -> Any:
    return out.get(key)


def _has_key(out: dict, key: str) -> bool:
    return out.get(key) is not None


def _column_name(value: Any) -> str:
    return str(value)


def _write_part(out: dict, task_ids: np.ndarray, classes: np.ndarray, path: str, top_k: int) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = out["labels"]
    valid = out.get("valid")
    cols: dict[str, Any] = {"task": pa.array(task_ids.tolist() if task_ids.dtype == object else task_ids)}
    lab = classes[labels]
    mask = None if valid is None else ~np.asarray(valid, bool)
    cols["label"] = pa.array(lab.tolist() if lab.dtype == object else lab, mask=mask)
    if valid is not None:
        cols["valid"] = pa.array(np.asarray(valid, bool))
    P = out.get("probas")
    if P is not None:
        k = classes.size
        if top_k <= 0:
            D = P.toarray() if sparse.issparse(P) else np.asarray(P)
            if sparse.issparse(P):  # an empty sparse row stands for the uniform distribution
                empty = np.diff(P.indptr) == 0
                D[empty] = 1.0 / max(k, 1)
            for j in range(k):
                cols[f"proba_{_column_name(classes[j])}"] = pa.array(D[:, j])
        else:
            top_lab, top_p = _top_k(P, top_k, k)
            for j in range(top_k):
                tl = top_lab[:, j]
                cls = classes[np.maximum(tl, 0)]
                cols[f"top{j + 1}_label"] = pa.array(cls.tolist() if cls.dtype == object else cls, mask=tl < 0)
                cols[f"top{j + 1}_proba"] = pa.array(top_p[:, j])
    pq.write_table(pa.table(cols), path)
    return path


def _top_k(P: Any, top_k: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``top_k`` largest probabilities of each row and their classes (-1 / 0 past the
    stored entries of a sparse row), without a dense (n, K) array for a sparse ``P``."""
    n = P.shape[0]
    lab = np.full((n, top_k), -1, np.int64)
    val = np.zeros((n, top_k))
    if not sparse.issparse(P):
        P = np.asarray(P)
        order = np.argsort(-P, axis=1, kind="stable")[:, :top_k]
        lab[:, :order.shape[1]] = order
        val[:, :order.shape[1]] = np.take_along_axis(P, order, axis=1)
        return lab, val
    P = sparse.csr_array(P)
    rows = np.repeat(np.arange(n), np.diff(P.indptr))
    order = np.lexsort((P.indices, -P.data, rows))  # by row, then decreasing value, then class
    rank = np.arange(order.size) - P.indptr[rows[order]]
    keep = rank < top_k
    o = order[keep]
    lab[rows[o], rank[keep]] = P.indices[o]
    val[rows[o], rank[keep]] = P.data[o]
    empty = np.diff(P.indptr) == 0  # uniform row
    if empty.any():
        lab[empty, :min(top_k, k)] = np.arange(min(top_k, k))
        val[empty, :min(top_k, k)] = 1.0 / max(k, 1)
    return lab, val
