"""Metrics of aggregated labels against a (partial) ground truth.

Conventions: labels and truth are class indices per task; ``-1`` in the truth means
"unknown" (the task is not evaluated); ``-1`` in the labels, or ``valid=False``, means the
strategy gave no valid label (the task counts in ``share_valid`` but not in accuracy).

``invalid_as_wrong=True`` is the Pl@ntNet study's rule (Lefort et al. 2024): a task with a
known truth that a validity rule (``TwoThird``, ``PlantNet``) leaves without a valid label
counts as wrong, so that every strategy is scored on the same tasks and a strategy cannot
gain accuracy by refusing the hard ones. ``accuracy_valid`` keeps the accuracy on the valid
tasks alone either way.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from .._lazy import pd

from ..errors import InputError

__all__ = ["EvaluationResult", "evaluate_labels", "align_labels_by_id"]


@dataclass(frozen=True)
class EvaluationResult:
    """Scores of a labelling; every share is in [0, 1] (NaN when undefined).

    Attributes
    ----------
    accuracy : float
        Share of evaluated tasks (known truth, valid label) whose label is the truth; with
        ``invalid_as_wrong``, share of the tasks with a known truth (a task without a valid
        label counts as wrong).
    macro_precision, macro_recall : float
        Unweighted means over classes. Recall of class k = correct k / truth k, over the
        classes present in the evaluated truth (with ``invalid_as_wrong``: in the whole
        known truth, a task left invalid counting as missed); precision of class k =
        correct k / predicted k, over the classes predicted at least once.
    classes_retrieved : float
        Share of the classes present in the truth that are correctly given to at least
        one task (the "classes retrieved" of the Pl@ntNet study).
    share_valid : float
        Share of tasks with known truth that received a valid label.
    n_evaluated : int
        Tasks with known truth and a valid label.
    n_truth : int
        Tasks with known truth.
    accuracy_valid : float
        Share of evaluated tasks whose label is the truth (``accuracy`` without
        ``invalid_as_wrong``).
    invalid_as_wrong : bool
        The rule ``accuracy`` and ``macro_recall`` were computed with.
    """

    accuracy: float
    macro_precision: float
    macro_recall: float
    classes_retrieved: float
    share_valid: float
    n_evaluated: int
    n_truth: int
    accuracy_valid: float = float("nan")
    invalid_as_wrong: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate_labels(labels: np.ndarray, truth: np.ndarray, valid: np.ndarray | None = None,
                    n_classes: int | None = None, *, invalid_as_wrong: bool = False) -> EvaluationResult:
    """Score hard labels against the truth, both as class indices aligned by task.

    ``invalid_as_wrong``: a task with a known truth and no valid label counts as wrong
    (in ``accuracy`` and ``macro_recall``) instead of being left out; ``accuracy_valid``
    is the accuracy on the valid tasks either way.

    Examples
    --------
    >>> r = evaluate_labels(np.array([0, 1, 1, -1]), np.array([0, 1, 0, 2]))
    >>> r.accuracy, r.share_valid, r.classes_retrieved
    (0.6666666666666666, 0.75, 0.6666666666666666)
    >>> evaluate_labels(np.array([0, 1, 1, -1]), np.array([0, 1, 0, 2]), invalid_as_wrong=True).accuracy
    0.5
    """
    labels = np.asarray(labels)
    truth = np.asarray(truth)
    if labels.shape != truth.shape or labels.ndim != 1:
        raise InputError(f"labels (shape {labels.shape}) and truth (shape {truth.shape}) do not match",
                         fix="give one label and one truth per task, in the same task order")
    labels = labels.astype(np.int64)
    truth = truth.astype(np.int64)
    ok = np.ones(labels.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool).copy()
    ok &= labels >= 0
    known = truth >= 0
    ev = known & ok
    n_truth, n_ev = int(known.sum()), int(ev.sum())
    k = int(max(n_classes or 0, labels.max(initial=-1) + 1, truth.max(initial=-1) + 1, 1))
    t, p = truth[ev], labels[ev]
    correct = t == p
    acc_valid = float(correct.mean()) if n_ev else float("nan")
    if invalid_as_wrong:
        acc = float(correct.sum() / n_truth) if n_truth else float("nan")
        truth_k = np.bincount(truth[known], minlength=k)  # a task left invalid is a miss of its class
    else:
        acc = acc_valid
        truth_k = np.bincount(t, minlength=k)
    pred_k = np.bincount(p, minlength=k)
    hit_k = np.bincount(t[correct], minlength=k)
    present = np.bincount(truth[known], minlength=k) > 0
    rec = hit_k[truth_k > 0] / truth_k[truth_k > 0]
    prec = hit_k[pred_k > 0] / pred_k[pred_k > 0]
    return EvaluationResult(
        accuracy=acc,
        macro_precision=float(prec.mean()) if prec.size else float("nan"),
        macro_recall=float(rec.mean()) if rec.size else float("nan"),
        classes_retrieved=float((hit_k[present] > 0).mean()) if present.any() else float("nan"),
        share_valid=float(ok[known].mean()) if n_truth else float("nan"),
        n_evaluated=n_ev,
        n_truth=n_truth,
        accuracy_valid=acc_valid,
        invalid_as_wrong=bool(invalid_as_wrong),
    )


def align_labels_by_id(pred: pd.DataFrame, truth: pd.DataFrame, *, sources: tuple[Any, Any] = (None, None),
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Join predicted and true labels on the task id (both tables keyed by original ids).

    ``pred`` has columns ``task``, ``label`` (and optionally ``valid``); ``truth`` has
    ``task``, ``label``. Ids and labels are compared as text, so ``3`` matches ``"3"``.
    Returns ``(labels, truth, valid, n_classes)`` as class indices over the union of the
    label values, for :func:`evaluate_labels`. Tasks of the truth without a prediction
    count as not valid. ``sources`` (the files the two tables come from) name them in errors.
    """
    for name, df, source in (("labels", pred, sources[0]), ("truth", truth, sources[1])):
        missing = {"task", "label"} - set(df.columns)
        if missing:
            raise InputError(f"the {name} table has no column {', '.join(sorted(missing))} "
                             f"(columns: {', '.join(map(str, df.columns))})", source=source,
                             position="line 1 (header)" if source is not None else None,
                             fix="give a table with columns task,label")
    p = pd.DataFrame({"task": _canonical(pred["task"]), "label": _canonical(pred["label"])})
    p["valid"] = pred["valid"].astype(bool).to_numpy() if "valid" in pred else True
    p = p[~_missing(pred["label"]).to_numpy()]  # an empty label: no prediction for that task
    t = pd.DataFrame({"task": _canonical(truth["task"]), "truth": _canonical(truth["label"])})
    t = t[~_missing(truth["label"]).to_numpy()]  # an empty truth cell: the task is not scored
    if not set(p["label"]).intersection(t["truth"]):
        raise InputError(f"no predicted label is a label of the truth (predicted: "
                         f"{', '.join(sorted(map(str, set(p['label'])))[:5])}; truth: "
                         f"{', '.join(sorted(map(str, set(t['truth'])))[:5])})",
                         fix="check that both files come from the same data set and label the same classes")
    m = t.merge(p.drop_duplicates("task"), on="task", how="left")
    has = m["label"].notna().to_numpy()
    values = pd.Index(pd.unique(pd.concat([m["truth"], m["label"].dropna()])))
    lab = np.where(has, values.get_indexer(m["label"].fillna("")), -1)
    tru = values.get_indexer(m["truth"])
    valid = has & m["valid"].fillna(False).astype(bool).to_numpy()
    return lab.astype(np.int64), tru.astype(np.int64), valid, len(values)


def _missing(col: pd.Series) -> pd.Series:
    """Cells with no value: NaN/None, or empty text."""
    return col.isna() | (col.astype(str).str.strip() == "")


def _canonical(col: pd.Series) -> pd.Series:
    """Values as text, with numbers written one way (``1``, ``1.0`` and ``"1"`` all ``"1"``)."""
    text = col.astype(str).str.strip()
    num = pd.to_numeric(text, errors="coerce")
    integral = num.notna() & (num == num.round())
    out = text.copy()
    out[integral] = num[integral].astype("int64").astype(str)
    return out
