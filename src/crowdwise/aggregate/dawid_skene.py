"""Dawid & Skene: one full confusion matrix per worker, fitted by EM in log space.

Model (Dawid & Skene 1979): the true class of task i is ``y_i ~ Categorical(rho)``;
worker j answering task i gives class l with probability ``pi_j[y_i, l]``, independently
of the other votes. EM alternates

- E-step: ``log T_ik = log rho_k + sum_{votes (i, j, l)} log pi_j[k, l] - log Z_i``;
- M-step: ``rho_k ∝ sum_i T_ik`` and
  ``pi_j[k, l] = (sum_{votes (i, j, l)} T_ik + a) / (sum_{votes (i, j, .)} T_ik + K a)``,

where ``a >= 0`` is the Dirichlet smoothing of Passonneau & Carpenter (2014) (``prior``).
The objective is the observed-data log-likelihood ``sum_i log Z_i`` (plus
``a * sum log pi`` when ``a > 0``: the MAP objective), which EM never decreases.

Both steps are segment sums over the vote arrays (see :mod:`crowdwise.aggregate._em`):
memory is O(votes + n_workers K^2 + n_tasks K); no tasks x workers array is built.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError
from ..votes import Votes
from ._base import Aggregator, argmax_ties
from ._em import EMHistory, Segments, check_budget, log_normalize, safe_log, segment_sum_gather
from .registry import register

__all__ = ["DawidSkene"]

_ONE_COIN_ALTERNATIVES = "MV, NaiveSoft, WAWA, TwoThird, PlantNet (and the one-coin models when available)"


@register("DS")
class DawidSkene(Aggregator):
    """Dawid & Skene EM with full per-worker confusion matrices.

    Parameters
    ----------
    max_iter : int, default=100
    tol : float, default=1e-6
        Stop when the relative change of the objective is below ``tol``.
    prior : float, default=0.0
        Dirichlet smoothing ``a`` added to every confusion count (Passonneau & Carpenter
        2014); ``a > 0`` keeps workers with few votes from getting 0/1 confusions.
    init : {"naivesoft", "mv"}, default="naivesoft"
        Initial task posteriors: vote shares, or one-hot majority vote.
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_`` (argmax of ``probas_``).
    random_state : int or None
    memory_budget : float or None
        Bytes allowed for the confusion matrices (default 4 GiB); above, ``fit`` refuses
        with a message naming the methods that can run.

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes)
        Posterior ``T``.
    labels_ : ndarray (n_tasks,)
    confusions_ : ndarray (n_workers, n_classes, n_classes)
        ``confusions_[j, k, l] = P(worker j answers l | true class k)``.
    priors_ : ndarray (n_classes,)
    log_likelihood_ : list of float
        Objective after each E-step (non-decreasing).
    n_iter_ : int
    converged_ : bool

    References
    ----------
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates
    using the EM algorithm", JRSS C 28(1), 1979.
    R. J. Passonneau and B. Carpenter, "The benefits of a model of annotation", TACL 2014.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 1, 1, 1, 0])
    >>> ds = DawidSkene(tie="smallest").fit(v)
    >>> ds.labels_.tolist(), bool(ds.converged_)
    ([0, 1], True)
    """

    description = "Dawid-Skene EM: a full confusion matrix per worker (log space, sparse, Dirichlet smoothing)."
    scales_to_many_classes = False
    single_vote_is_label = False  # one vote per task does not identify the confusions

    def __init__(self, max_iter: int = 100, tol: float = 1e-6, prior: float = 0.0, init: str = "naivesoft",
                 tie: str = "random", random_state: int | None = None, memory_budget: float | None = None):
        self.max_iter = max_iter
        self.tol = tol
        self.prior = prior
        self.init = init
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    # ------------------------------------------------------------------ fit
    def fit(self, votes: Votes, gold: Any = None) -> "DawidSkene":
        """Fit on ``votes``; ``gold`` optionally clamps known tasks.

        ``gold`` maps task ids to class values (dict or pandas Series); those tasks keep a
        one-hot posterior at every iteration.
        """
        self._gold = gold
        try:
            return super().fit(votes)
        finally:
            del self._gold

    def _validate(self, votes: Votes) -> None:
        if self.prior < 0:
            raise InputError(f"prior must be >= 0, got {self.prior}")
        if self.init not in ("naivesoft", "mv"):
            raise InputError(f"init={self.init!r} is not an initialisation", fix="use 'naivesoft' or 'mv'")
        k, w = votes.n_classes, votes.n_workers
        check_budget("DS", 3 * 8.0 * w * k * k, self.memory_budget,
                     what=f"{w:,} workers x {k:,}^2 confusion entries", alternatives=_ONE_COIN_ALTERNATIVES)

    def _fit(self, votes: Votes) -> None:
        self._validate(votes)
        k = votes.n_classes
        self._prepare(votes)
        counts = votes.counts().toarray()
        if self.init == "mv":
            lab = argmax_ties(counts, tie="smallest")
            T = np.zeros_like(counts)
            T[np.arange(votes.n_tasks), lab] = 1.0
        else:
            T = counts
        T = _rows_to_simplex(T, k)
        gold_idx, gold_lab = _gold_indices(self._gold, votes)
        T[gold_idx] = np.eye(k)[gold_lab]
        hist = EMHistory(self.tol)
        self.converged_ = False
        for it in range(1, self.max_iter + 1):
            priors, log_pi = self._m_step(votes, T)
            T, objective = self._e_step(votes, priors, log_pi)
            T[gold_idx] = np.eye(k)[gold_lab]
            if self.prior > 0:
                objective += self.prior * float(log_pi.sum())
            if hist.update(objective):
                self.converged_ = True
                break
        self.n_iter_ = it
        self.log_likelihood_ = hist.values
        self.priors_ = priors
        self.confusions_ = np.exp(log_pi)
        self.probas_ = T
        self.labels_ = argmax_ties(T, tie=self.tie, random_state=self.random_state)
        del self._by_task, self._by_pair

    def _prepare(self, votes: Votes) -> None:
        k = votes.n_classes
        self._by_task = Segments.from_keys(votes.task)
        self._by_pair = Segments.from_keys(votes.worker * k + votes.label)

    def _m_step(self, votes: Votes, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k, w = votes.n_classes, votes.n_workers
        sums = segment_sum_gather(self._by_pair, lambda idx: T[votes.task[idx]], k)  # (pairs, K_true)
        counts = np.zeros((w, k, k))
        pw, pl = np.divmod(self._by_pair.keys, k)
        counts[pw, :, pl] = sums
        counts += self.prior
        tot = counts.sum(axis=2, keepdims=True)
        pi = np.divide(counts, tot, out=np.full_like(counts, 1.0 / k), where=tot > 0)
        # tasks without a vote carry no information on the class shares
        priors = T[self._by_task.keys].sum(axis=0)
        priors = priors / priors.sum() if priors.sum() > 0 else np.full(k, 1.0 / k)
        return priors, safe_log(pi)

    def _e_step(self, votes: Votes, priors: np.ndarray, log_pi: np.ndarray) -> tuple[np.ndarray, float]:
        k = votes.n_classes
        L = np.tile(safe_log(priors), (votes.n_tasks, 1))
        seg = self._by_task
        L[seg.keys] += segment_sum_gather(seg, lambda idx: log_pi[votes.worker[idx], :, votes.label[idx]], k)
        T, lognorm = log_normalize(L)
        return T, float(lognorm[np.isfinite(lognorm)].sum())

    # ------------------------------------------------------------------ predict
    def _predict_proba(self, votes: Votes) -> np.ndarray:
        """Posterior of new tasks with the fitted confusions; unknown workers use the
        vote-weighted mean confusion of the fitted workers."""
        if not np.array_equal(np.asarray(votes.classes), np.asarray(self.classes_)):
            raise InputError("new votes declare other classes than the fitted ones",
                             fix="build them with classes=model.classes_")
        idx = pd.Index(self.worker_ids_).get_indexer(votes.worker_ids)
        mean_conf = self.confusions_.mean(axis=0)
        conf = np.where((idx >= 0)[:, None, None], self.confusions_[np.maximum(idx, 0)], mean_conf)
        seg = Segments.from_keys(votes.task)
        log_pi = safe_log(conf)
        L = np.tile(safe_log(self.priors_), (votes.n_tasks, 1))
        L[seg.keys] += segment_sum_gather(seg, lambda i: log_pi[votes.worker[i], :, votes.label[i]],
                                          votes.n_classes)
        return log_normalize(L)[0]


def _rows_to_simplex(T: np.ndarray, k: int) -> np.ndarray:
    s = T.sum(axis=1, keepdims=True)
    return np.divide(T, s, out=np.full_like(T, 1.0 / k), where=s > 0)


def _gold_indices(gold: Any, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    if gold is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    s = pd.Series(gold)
    t_idx = pd.Index(votes.task_ids).get_indexer(s.index)
    if (t_idx < 0).any():
        t_idx2 = pd.Index(votes.task_ids.astype(str)).get_indexer(s.index.astype(str))
        t_idx = np.where(t_idx < 0, t_idx2, t_idx)
    c_idx = pd.Index(votes.classes).get_indexer(s.to_numpy())
    if (c_idx < 0).any():
        c_idx2 = pd.Index(votes.classes.astype(str)).get_indexer(s.astype(str).to_numpy())
        c_idx = np.where(c_idx < 0, c_idx2, c_idx)
    bad = (t_idx < 0) | (c_idx < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"gold entry {s.index[i]!r} -> {s.iloc[i]!r} names an unknown task or class",
                         position=f"gold entry {i}", fix="use task ids and class values of the votes")
    return t_idx.astype(np.int64), c_idx.astype(np.int64)

