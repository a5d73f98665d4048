"""Test metrics of a classifier: accuracy, top-k accuracy, calibration (ECE, reliability).

NumPy only (no torch), so that results can be scored anywhere. Every function takes the
true class indices ``y_true`` (shape ``(n,)``, ``-1`` = unknown: such rows are left out)
and the predicted probabilities ``proba`` (shape ``(n, K)``, rows summing to 1, e.g. a
softmax output).

References
----------
.. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger. "On calibration of modern neural
   networks". ICML 2017 (ECE with equal-width confidence bins, reliability diagrams).
.. [2] M. P. Naeini, G. Cooper and M. Hauskrecht. "Obtaining well calibrated
   probabilities using Bayesian binning". AAAI 2015.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["accuracy", "top_k_accuracy", "expected_calibration_error", "reliability_data",
           "ReliabilityData", "classification_report", "DEFAULT_N_BINS"]

#: number of equal-width confidence bins of the ECE (as in Guo et al. 2017 and peerannot)
DEFAULT_N_BINS = 15


def _check(y_true: Any, proba: Any, what: str = "proba") -> tuple[np.ndarray, np.ndarray]:
    """Known rows of ``(y_true, proba)`` as int64 / float64 arrays, validated."""
    y = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2:
        raise InputError(f"{what} must be 2-D (n_samples, n_classes), got shape {p.shape}",
                         fix="pass predicted probabilities, one row per sample")
    if y.ndim != 1 or y.shape[0] != p.shape[0]:
        raise InputError(f"y_true has shape {y.shape} but {what} has {p.shape[0]} rows",
                         fix="pass one true class index per row of the probabilities")
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and np.all(np.isfinite(y) & (y == np.round(y))):
            y = y.astype(np.int64)
        else:
            raise InputError(f"y_true must hold class indices (integers), got dtype {y.dtype}",
                             fix="map the true labels to class indices 0..K-1 (-1 = unknown)")
    y = y.astype(np.int64)
    if (y >= p.shape[1]).any() or (y < -1).any():
        i = int(np.argmax((y >= p.shape[1]) | (y < -1)))
        raise InputError(f"y_true[{i}] = {y[i]} is not a class index of {p.shape[1]} classes",
                         fix="use class indices 0..K-1, -1 for unknown")
    keep = y >= 0
    return y[keep], p[keep]


def accuracy(y_true: Any, proba: Any) -> float:
    """Share of known samples whose most probable class is the true one.

    Ties between top classes go to the smallest index (``np.argmax``). ``proba`` may also
    be a 1-D array of predicted class indices.

    Examples
    --------
    >>> accuracy([0, 1, 1, -1], [[.9, .1], [.6, .4], [.2, .8], [1., 0.]])
    0.6666666666666666
    >>> accuracy([0, 1], [0, 0])
    0.5
    """
    p = np.asarray(proba)
    if p.ndim == 1:
        y = np.asarray(y_true).astype(np.int64)
        if y.shape != p.shape:
            raise InputError(f"y_true has shape {y.shape}, predictions {p.shape}",
                             fix="pass one prediction per sample")
        keep = y >= 0
        return float(np.mean(y[keep] == p[keep])) if keep.any() else float("nan")
    y, p = _check(y_true, p)
    return float(np.mean(p.argmax(axis=1) == y)) if y.size else float("nan")


def top_k_accuracy(y_true: Any, proba: Any, k: int = 5) -> float:
    """Share of known samples whose true class is among the ``k`` most probable ones.

    A class tied with the k-th largest probability counts as within the top k only when
    it comes first in a stable sort (smaller index first), so that exactly k classes are
    retained per row. With ``k >= K`` the result is 1.

    Examples
    --------
    >>> top_k_accuracy([2, 0, 1], [[.5, .3, .2], [.1, .2, .7], [.3, .6, .1]], k=2)
    0.3333333333333333
    """
    y, p = _check(y_true, proba)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}", fix="use k = 1, 3, 5...")
    if not y.size:
        return float("nan")
    if k >= p.shape[1]:
        return 1.0
    # rank of the true class: number of classes strictly more probable, plus the tied
    # classes of smaller index (stable order)
    p_true = p[np.arange(y.size), y][:, None]
    cols = np.arange(p.shape[1])[None, :]
    rank = np.sum((p > p_true) | ((p == p_true) & (cols < y[:, None])), axis=1)
    return float(np.mean(rank < k))


@dataclass(frozen=True)
class ReliabilityData:
    """Per-bin calibration statistics (the data of a reliability diagram).

    Attributes
    ----------
    edges : ndarray, shape (n_bins + 1,)
        Bin edges on [0, 1], equal width; bin b holds confidences in
        ``(edges[b], edges[b+1]]`` (the first bin also holds 0).
    counts : ndarray of int, shape (n_bins,)
        Samples per bin.
    confidence : ndarray, shape (n_bins,)
        Mean top-1 probability in each bin (NaN for an empty bin).
    accuracy : ndarray, shape (n_bins,)
        Accuracy of the top-1 prediction in each bin (NaN for an empty bin).
    ece : float
        Expected calibration error, ``sum_b counts[b] / n * |accuracy[b] - confidence[b]|``.
    """

    edges: np.ndarray
    counts: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    ece: float

    @property
    def n_bins(self) -> int:
        return int(self.counts.size)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN for empty bins becomes ``None``)."""
        def clean(a: np.ndarray) -> list:
            return [None if not np.isfinite(v) else float(v) for v in a.tolist()]

        return {"edges": self.edges.tolist(), "counts": self.counts.tolist(),
                "confidence": clean(self.confidence), "accuracy": clean(self.accuracy), "ece": self.ece}


def reliability_data(y_true: Any, proba: Any, n_bins: int = DEFAULT_N_BINS) -> ReliabilityData:
    """Bin the samples by confidence (top-1 probability) into ``n_bins`` equal-width bins.

    Confidence ``c_i = max_k proba[i, k]`` and prediction ``argmax_k proba[i, k]``;
    sample i goes to bin ``b`` with ``b / B < c_i <= (b + 1) / B`` (Guo et al. 2017), a
    confidence of exactly 0 to the first bin. Then, over the ``n`` known samples,

    .. math:: \\mathrm{ECE} = \\sum_{b=1}^{B} \\frac{|B_b|}{n}\\,
              \\bigl|\\mathrm{acc}(B_b) - \\mathrm{conf}(B_b)\\bigr| .

    Examples
    --------
    >>> r = reliability_data([0, 1], [[.95, .05], [.7, .3]], n_bins=10)
    >>> r.counts.tolist()
    [0, 0, 0, 0, 0, 0, 1, 0, 0, 1]
    >>> round(r.ece, 6)  # (|0 - .7| + |1 - .95|) / 2
    0.375
    """
    if not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise InputError(f"n_bins must be a positive integer, got {n_bins!r}", fix="use 15 (the usual choice)")
    y, p = _check(y_true, proba)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    if not y.size:
        nan = np.full(n_bins, np.nan)
        return ReliabilityData(edges, np.zeros(n_bins, np.int64), nan, nan.copy(), float("nan"))
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    # right-closed bins (e_b, e_{b+1}] on the very edges reported (side="left")
    b = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    counts = np.bincount(b, minlength=n_bins)
    sum_conf = np.bincount(b, weights=conf, minlength=n_bins)
    sum_acc = np.bincount(b, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(counts > 0, sum_conf / np.maximum(counts, 1), np.nan)
        mean_acc = np.where(counts > 0, sum_acc / np.maximum(counts, 1), np.nan)
    ece = float(np.sum(np.abs(sum_acc - sum_conf)) / y.size)
    return ReliabilityData(edges, counts, mean_conf, mean_acc, ece)


def expected_calibration_error(y_true: Any, proba: Any, n_bins: int = DEFAULT_N_BINS) -> float:
    """Expected calibration error with ``n_bins`` equal-width bins (15 by default).

    See :func:`reliability_data` for the binning and the formula.

    Examples
    --------
    >>> expected_calibration_error([0, 1, 1], [[.9, .1], [.6, .4], [.2, .8]])
    0.3
    """
    return reliability_data(y_true, proba, n_bins).ece


def classification_report(y_true: Any, proba: Any, *, ks: tuple[int, ...] = (3, 5),
                          n_bins: int = DEFAULT_N_BINS, prefix: str = "test_") -> dict[str, Any]:
    """The metrics written to results JSON: ``{prefix}accuracy``, ``{prefix}ece``,
    ``{prefix}top{k}_accuracy`` for each ``k < K`` in ``ks``, and ``{prefix}n``.

    Examples
    --------
    >>> classification_report([0, 1, 1], [[.9, .1, 0.], [.6, .4, 0.], [.2, .8, 0.]], ks=(2,))
    {'test_accuracy': 0.6666666666666666, 'test_ece': 0.3, 'test_top2_accuracy': 1.0, 'test_n': 3}
    """
    y, p = _check(y_true, proba)
    out: dict[str, Any] = {f"{prefix}accuracy": accuracy(y, p),
                           f"{prefix}ece": expected_calibration_error(y, p, n_bins)}
    for k in ks:
        if k < p.shape[1]:
            out[f"{prefix}top{k}_accuracy"] = top_k_accuracy(y, p, k)
    out[f"{prefix}n"] = int(y.size)
    return out
