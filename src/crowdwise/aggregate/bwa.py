"""BWA: Bayesian weighted average (Li, Rubinstein & Cohn, WWW 2019).

Each class is a separate regression of the one-hot annotations on a per-task truth with
Gaussian noise of a per-worker precision; the estimate of a task's class score is a
precision-weighted average of its annotations shrunk towards the class mean, and a
worker's precision is a Gamma posterior mean from its squared residuals. The
iteration is per class, as in the authors' code, and runs here for all classes at once.

Every step is per vote: sparse-dense products of the (task, worker) incidence with the
``(n_workers, K)`` precisions and the ``(n_tasks, K)`` scores, and ``np.bincount`` over
the voted (pair, class) cells. Memory is ``O(votes + (n_tasks + n_workers) K)``: the
model has a score per task and class and a precision per worker and class, so it is
not meant for tens of thousands of classes (a budget check says so and names the
methods that can run there).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from ..errors import TooLargeError
from ..utils import argmax_ties
from ..votes import Votes
from ._base import Aggregator, Boolean, Integer, Real, as_probas
from ._em import DEFAULT_MEMORY_BUDGET
from .registry import register

__all__ = ["BWA"]


class _Pairs:
    """The distinct (task, worker) pairs and their class shares (one annotation per pair:
    a worker's several votes on a task are shared between their classes)."""

    def __init__(self, votes: Votes):
        n, w, k = votes.n_tasks, votes.n_workers, votes.n_classes
        key = votes.task.astype(np.int64) * max(w, 1) + votes.worker
        pairs, inv = np.unique(key, return_inverse=True)
        per_pair = np.bincount(inv, minlength=pairs.size).astype(float)
        self.task, self.worker = np.divmod(pairs, max(w, 1))
        # (pair, class) cells with the share of the pair's votes for the class
        ckey = inv.astype(np.int64) * max(k, 1) + votes.label
        cells, cinv = np.unique(ckey, return_inverse=True)
        self.cell_pair, self.cell_class = np.divmod(cells, max(k, 1))
        self.share = np.bincount(cinv, minlength=cells.size) / per_pair[self.cell_pair]
        self.cell_task = self.task[self.cell_pair]
        self.cell_worker = self.worker[self.cell_pair]
        self.task_worker = sparse.csr_array((np.ones(pairs.size), (self.task, self.worker)), shape=(n, w))
        self.worker_task = self.task_worker.T.tocsr()
        self.n_task = np.bincount(self.task, minlength=n).astype(float)  # annotators of each task
        self.n_worker = np.bincount(self.worker, minlength=w).astype(float)  # tasks of each worker

    def per_task_class(self, values: np.ndarray, n: int, k: int) -> np.ndarray:
        """``sum over cells of (task, class)`` of per-cell values, as an (n, k) array."""
        return np.bincount(self.cell_task * k + self.cell_class, weights=values, minlength=n * k).reshape(n, k)

    def per_worker_class(self, values: np.ndarray, w: int, k: int) -> np.ndarray:
        return np.bincount(self.cell_worker * k + self.cell_class, weights=values, minlength=w * k).reshape(w, k)


@register("BWA")
class BWA(Aggregator):
    r"""Bayesian weighted average.

    For each class ``k`` separately, the annotation ``y_ijk = [worker j labels task i as
    k]`` is modelled as ``N(z_ik, 1/v_jk)``, with a Gamma(``a_v``, ``b_k``) prior on the
    precision ``v_jk`` and a ``N(mu_k, 1/(lambda v))``-type prior pulling ``z_ik``
    towards the class mean. From ``z_ik`` = the share of the votes of task i for k, the
    coordinate updates are, until ``z_k`` moves by less than ``tol`` (relative, as
    ``numpy.allclose``) or ``max_iter`` rounds,

    .. math::

        \mu_k = \frac{1}{n} \sum_i z_{ik}, \qquad
        v_{jk} = \frac{a_v + N_j}{b_k + \sum_{i \in T_j} (z_{ik} - y_{ijk})^2}, \qquad
        z_{ik} = \frac{\lambda \mu_k + \sum_{j \in W_i} v_{jk}\, y_{ijk}}
                      {\lambda + \sum_{j \in W_i} v_{jk}},

    with ``N_j`` the tasks of worker j, ``T_j`` those tasks, ``W_i`` the workers of task
    i and the data-driven prior scale (``prior_correction``, the paper's default)

    .. math::

        b_k = a_v \cdot 4 \left(1 - \frac{1}{K}\right)
              \frac{\sum_i |W_i|\, z^0_{ik} (1 - z^0_{ik})}{\sum_i |W_i|},

    ``z^0`` the starting vote shares (without the correction, the factor ``4 (1 - 1/K)``
    is 1). ``probas_`` are the ``z_i`` normalised per task, ``labels_`` their argmax.

    As the authors' code (``bwa.py`` of ``yuan-li/truth-inference-at-scale``), each class
    has its own stopping test (a class that has converged is frozen while the others
    go on) and the defaults are ``a_v = 15``, ``lambda = 1``, ``tol = 1e-3``,
    ``max_iter = 500``. Differences:

    - one annotation per (task, worker): a worker's repeated votes on a task count once,
      shared between their classes (the authors' code drops repeated identical rows, and
      a pair with two different labels has ``y = 1`` for both);
    - ``K`` and the classes iterated are those somebody voted for: a declared class nobody
      chose has ``z = 0`` (its prior scale would be 0);
    - ``mu_k`` averages the tasks with a vote; a task without vote gets ``z_ik = mu_k``
      (its prior mean).

    Parameters
    ----------
    a_v : float, default=15
        Shape of the Gamma prior on the worker precisions.
    lam : float, default=1
        Weight of the class mean in each task's average.
    prior_correction : bool, default=True
        Scale ``b_k`` by ``4 (1 - 1/K)`` (the paper's calibration for K classes).
    tol : float, default=1e-3
        Relative tolerance of the stopping test (``atol = 1e-8``, as ``numpy.allclose``).
    max_iter : int, default=500
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``.
    random_state : int, Generator or None
    memory_budget : float or None
        Bytes the ``(n_tasks + n_workers) x K`` arrays may take (None: 4 GiB).

    Attributes
    ----------
    scores_ : ndarray of shape (n_tasks, n_classes)
        The class scores ``z_ik`` (not normalised).
    precisions_ : ndarray of shape (n_workers, n_classes)
        ``v_jk`` of the last update of each class.
    class_means_ : ndarray of shape (n_classes,)
        ``mu_k`` of the last update of each class.
    prior_scale_ : ndarray of shape (n_classes,)
        ``b_k``.
    n_iter_ : ndarray of int, shape (n_classes,)
        Rounds run per class (0 for a class nobody voted for).
    converged_ : bool
        Every class stopped before ``max_iter``.
    labels_, probas_

    Notes
    -----
    With the defaults, the accuracies the authors publish are reproduced to the fourth
    decimal on the 11 real sets they share with ours (``tests/aggregate/test_bwa.py``;
    the figures are in ``docs/benchmarks/accuracy.md``).

    References
    ----------
    Y. Li, B. I. P. Rubinstein and T. Cohn, "Truth inference at scale: a Bayesian model
    for adjudicating highly redundant crowd annotations", The Web Conference (WWW) 2019.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2, 2], ["a", "b", "c"] * 3, [0, 0, 1, 1, 1, 1, 0, 1, 0])
    >>> m = BWA(tie="smallest").fit(v)
    >>> m.labels_.tolist()
    [0, 1, 0]
    >>> m.probas_.sum(axis=1).round(6).tolist()
    [1.0, 1.0, 1.0]
    """

    description = "Bayesian weighted average: per-class Gaussian truth, per-worker Gamma precision (Li et al., 2019)."
    scales_to_many_classes = False  # a score per task and class, a precision per worker and class
    parameter_rules = {
        "a_v": Real(0, low_open=True, help="the shape of the Gamma prior on the precisions"),
        "lam": Real(0, help="the weight of the class mean in each task's average"),
        "prior_correction": Boolean(),
        "tol": Real(0, help="the relative change under which a class stops"),
        "max_iter": Integer(1, help="the most rounds per class"),
        "memory_budget": Real(0, help="the memory the fit may take, in bytes (None: the default budget)") | None,
    }

    def __init__(self, a_v: float = 15.0, lam: float = 1.0, prior_correction: bool = True, tol: float = 1e-3,
                 max_iter: int = 500, tie: str = "random", random_state: int | None = None,
                 memory_budget: float | None = None):
        self.a_v = a_v
        self.lam = lam
        self.prior_correction = prior_correction
        self.tol = tol
        self.max_iter = max_iter
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    def _validate(self, votes: Votes) -> None:
        need = 8.0 * votes.n_classes * (6 * votes.n_tasks + 4 * votes.n_workers)
        budget = DEFAULT_MEMORY_BUDGET if self.memory_budget is None else self.memory_budget
        if need > budget:
            raise TooLargeError(
                f"BWA would need about {need / 2**30:.1f} GiB for its {votes.n_tasks:,} tasks and "
                f"{votes.n_workers:,} workers x {votes.n_classes:,} classes (a score per task and class, a precision "
                f"per worker and class), above the memory budget of {budget / 2**30:.1f} GiB. Methods whose memory "
                "does not grow with K per task and worker can run here: MV, WAWA, ZBS, IWMV, OneCoinDS, MMSR. "
                "Or raise the budget with memory_budget=... if the machine has the memory.")

    def _fit(self, votes: Votes) -> None:
        self._validate(votes)
        n, w, k = votes.n_tasks, votes.n_workers, votes.n_classes
        pr = _Pairs(votes)
        voted_classes = np.bincount(votes.label, minlength=k) > 0
        k_voted = max(int(voted_classes.sum()), 1)
        has_votes = pr.n_task > 0
        a_v, lam = float(self.a_v), float(self.lam)
        # starting scores: the share of each task's annotations for each class
        z = np.divide(pr.per_task_class(pr.share, n, k), pr.n_task[:, None],
                      out=np.zeros((n, k)), where=has_votes[:, None])
        adj = 4.0 * (1.0 - 1.0 / k_voted) if self.prior_correction else 1.0
        tot = pr.n_task.sum()
        b = a_v * adj * np.einsum("i,ik->k", pr.n_task, z * (1.0 - z)) / max(tot, 1.0)
        active = voted_classes & (b > 0)
        # a voted class whose every task agrees (z0 in {0, 1} everywhere) has b = 0: the
        # residuals are 0 too, so the precisions would divide 0 by 0; it keeps its shares
        n_iter = np.zeros(k, np.int64)
        mu = np.zeros(k)
        v = np.zeros((w, k))
        n_voted = max(int(has_votes.sum()), 1)
        for it in range(1, int(self.max_iter) + 1):
            if not active.any():
                break
            # every class is computed, only the active ones are updated (the classes are
            # independent: a frozen class keeps the z, v and mu of its last round)
            mu_all = z[has_votes].sum(axis=0) / n_voted
            # sum over the worker's tasks of (z - y)^2 = sum z^2 - 2 sum z y + sum y^2
            zy = z[pr.cell_task, pr.cell_class] * pr.share
            resid = pr.worker_task @ (z * z) + pr.per_worker_class(pr.share * pr.share - 2.0 * zy, w, k)
            scale = np.where(active, b, 1.0)
            v_all = (a_v + pr.n_worker)[:, None] / (scale[None, :] + np.maximum(resid, 0.0))
            num = pr.per_task_class(pr.share * v_all[pr.cell_worker, pr.cell_class], n, k)
            z_new = (lam * mu_all[None, :] + num) / (lam + pr.task_worker @ v_all)
            done = np.all(np.abs(z - z_new) <= 1e-8 + float(self.tol) * np.abs(z_new), axis=0)
            z[:, active] = z_new[:, active]
            v[:, active] = v_all[:, active]
            mu[active] = mu_all[active]
            n_iter[active] = it
            active &= ~done
            self._tick(it, int(self.max_iter), None)
        self.n_iter_ = n_iter
        self.converged_ = not active.any()
        z[:, ~voted_classes] = 0.0
        self.scores_ = z
        self.precisions_ = v
        self.class_means_ = mu
        self.prior_scale_ = b
        self.probas_ = as_probas(z, dense=True)
        self.labels_ = argmax_ties(z, tie=self.tie, random_state=self.random_state)

    def _predict_proba(self, votes: Votes):
        """Scores of new votes with the fitted precisions and class means:
        ``z_ik = (lambda mu_k + sum_j v_jk y_ijk) / (lambda + sum_j v_jk)``; a worker the
        fit never saw has the prior mean precision ``a_v / b_k``."""
        n, w, k = votes.n_tasks, votes.n_workers, votes.n_classes
        pr = _Pairs(votes)
        prior = np.divide(float(self.a_v), self.prior_scale_, out=np.zeros(k), where=self.prior_scale_ > 0)
        v = np.tile(prior, (w, 1))
        fitted = getattr(self, "worker_ids_", None)
        if fitted is not None and w:
            idx = Votes.match_ids(votes.worker_ids, fitted)
            known = idx >= 0
            v[known] = self.precisions_[idx[known]]
        lam = float(self.lam)
        num = pr.per_task_class(pr.share * v[pr.cell_worker, pr.cell_class], n, k)
        den = pr.task_worker @ v
        z = (lam * self.class_means_[None, :] + num) / (lam + den)
        frozen = self.n_iter_ == 0  # classes nobody voted for, or agreed on everywhere
        z[:, frozen] = np.divide(pr.per_task_class(pr.share, n, k), pr.n_task[:, None],
                                 out=np.zeros((n, k)), where=pr.n_task[:, None] > 0)[:, frozen]
        return as_probas(z, dense=True)
