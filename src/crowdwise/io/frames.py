"""Results in the user's terms: labels and soft labels as pandas, polars or Arrow tables
keyed by the original task ids and class values.

A strategy fitted on a DataFrame answers ``fit_predict`` with a labels Series (pandas)
or a two-column frame (polars, Arrow) and ``fit_predict_proba`` with one column per
class, so that a crowd-kit user gets what crowd-kit gives; a strategy fitted on a
:class:`~crowdwise.Votes` keeps answering with arrays. :func:`frame_kind` tells which.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from .._lazy import pd

__all__ = ["frame_kind", "labels_frame", "probas_frame", "LABEL_COLUMN"]

#: name of the labels Series / column (crowd-kit's)
LABEL_COLUMN = "agg_label"


def frame_kind(data: Any) -> str | None:
    """``"pandas"``, ``"polars"`` or ``"arrow"`` for a table of votes, None otherwise."""
    mod = type(data).__module__
    if mod.startswith("polars") and hasattr(data, "to_arrow"):
        return "polars"
    if mod.startswith("pyarrow") and hasattr(data, "column_names"):
        return "arrow"
    if mod.startswith("pandas") and hasattr(data, "columns") and hasattr(data, "iloc"):
        return "pandas"
    return None


def _class_values(labels: np.ndarray, classes: np.ndarray) -> list[Any]:
    """Class value of each label index; None for -1 (no valid label)."""
    values = np.asarray(classes, dtype=object)[np.maximum(labels, 0)]
    values[labels < 0] = None
    return values.tolist()


def labels_frame(labels: np.ndarray, task_ids: np.ndarray, classes: np.ndarray, kind: str) -> Any:
    """Hard labels as class values keyed by task id.

    pandas: a Series named ``agg_label`` indexed by ``task``; polars / Arrow: a table with
    columns ``task`` and ``agg_label``. A task without a valid label (-1) is missing.

    >>> import numpy as np
    >>> s = labels_frame(np.array([1, -1]), np.array(["t1", "t2"]), np.array(["cat", "dog"]), "pandas")
    >>> s.name, s.index.name, s["t1"], s.isna().tolist()
    ('agg_label', 'task', 'dog', [False, True])
    """
    labels = np.asarray(labels)
    values = _class_values(labels, classes)
    tasks = np.asarray(task_ids).tolist()
    if kind == "pandas":
        numeric = np.asarray(classes).dtype.kind in "iuf" and (labels >= 0).all()
        data = np.asarray(classes)[labels] if numeric else values
        return pd.Series(data, index=pd.Index(tasks, name="task"), name=LABEL_COLUMN)
    if kind == "polars":
        import polars as pl

        return pl.DataFrame({"task": tasks, LABEL_COLUMN: values}, strict=False)
    import pyarrow as pa

    return pa.table({"task": tasks, LABEL_COLUMN: values})


def probas_frame(probas: Any, task_ids: np.ndarray, classes: np.ndarray, kind: str) -> Any:
    """Soft labels, one column per class value (named by it; text for polars and Arrow),
    one row per task (pandas: indexed by ``task``; polars / Arrow: a first column
    ``task``). Sparse soft labels give a pandas frame of sparse columns."""
    tasks = np.asarray(task_ids).tolist()
    cls = np.asarray(classes).tolist()
    if kind == "pandas":
        index = pd.Index(tasks, name="task")
        columns = pd.Index(cls, name="label")
        if sparse.issparse(probas):
            return pd.DataFrame.sparse.from_spmatrix(sparse.csr_matrix(probas), index=index, columns=columns)
        return pd.DataFrame(np.asarray(probas), index=index, columns=columns)
    dense = np.asarray(probas.toarray() if sparse.issparse(probas) else probas, dtype=float)
    data: dict[str, Any] = {"task": tasks}
    for j, c in enumerate(cls):
        data[str(c)] = dense[:, j]
    if kind == "polars":
        import polars as pl

        return pl.DataFrame(data, strict=False)
    import pyarrow as pa

    return pa.table(data)
