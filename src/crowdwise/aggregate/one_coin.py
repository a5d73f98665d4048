"""One-coin Dawid-Skene: one accuracy per worker, errors uniform over the other classes.

Model: the true class of task i is ``y_i ~ Categorical(rho)``; worker j answers the true
class with probability ``p_j`` and each of the ``K - 1`` other classes with probability
``(1 - p_j) / (K - 1)``. EM in log space:

- E-step: ``log T_ik = log rho_k + sum_{votes (i, j, l)} ([l = k] log p_j
  + [l != k] (log(1 - p_j) - log(K - 1))) - log Z_i``;
- M-step: ``p_j = (sum_{votes (i, j, l)} T_il + a) / (n_j + 2 a)`` (``a``: the ``prior``,
  a Beta(a + 1, a + 1) prior on ``p_j``) and ``rho_k ∝ sum_i T_ik``.

The objective is ``sum_i log Z_i + a sum_j (log p_j + log(1 - p_j))``, never decreasing.

No (n_votes, K) block is ever built. With ``q_j = log(1 - p_j) - log(K - 1)``, the
score of class k on task i is ``log rho_k + A_i + B_ik`` with the per-task scalar
``A_i = sum_votes q_j`` and the sparse correction ``B_ik = sum_{votes for k} (log p_j -
q_j)`` on the classes voted on task i (a ``np.bincount`` over the distinct (task, class)
cells). A class nobody voted for on task i has posterior ``T_ik = c_i rho_k`` with one
number ``c_i`` per task, so the posterior is stored *exactly* as the values on the voted
cells plus the mass ``U_i`` left to the unvoted classes: O(votes + n_tasks + K) memory
and a few passes over the votes per iteration, whatever K. This is the Dawid-Skene model
that runs at Pl@ntNet scale (9M votes, 823k users, 6.7M observations, K = 11,425).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ..votes import Votes
from ._base import DENSE_PROBAS_LIMIT, Boolean, Options, Real, argmax_ties, as_probas
from ._driver import NO_GOLD, EMContext, EMStrategy, GoldLabels
from ._em import Segments, check_budget, safe_log
from .registry import register

__all__ = ["OneCoinDS"]

_PROBAS_FORMS = ("auto", "full", "voted")


@dataclass
class _Cells(EMContext):
    """The distinct (task, class) cells that carry votes (or gold), in CSR order, and the
    votes sorted by cell (so that every per-cell sum reads memory in order): the per-fit
    context of OneCoinDS."""

    vote_cell: np.ndarray      # (n_votes,) cell of each vote, non-decreasing (votes sorted by cell)
    vote_worker: np.ndarray    # (n_votes,) worker of each vote, same order
    cell_votes: np.ndarray     # (n_cells,) votes per cell (0 for a gold-only cell)
    task: np.ndarray           # (n_cells,) task of each cell (sorted)
    label: np.ndarray          # (n_cells,) class of each cell (sorted within a task)
    indptr: np.ndarray         # (n_tasks + 1,) CSR row pointers
    voted: np.ndarray          # tasks with at least one cell
    starts: np.ndarray         # first cell of each task of ``voted``
    n_cells: np.ndarray        # (n_tasks,) cells per task
    n_per_worker: np.ndarray   # (n_workers,) votes per worker
    voted_workers: np.ndarray  # (n_workers,) bool: workers with a vote (the prior term's)
    gold_cell: np.ndarray      # cell of each gold label (``gold_idx``, ``gold_lab``)


@dataclass
class _State:
    """Posterior: ``T`` on the voted cells, and ``T_ik = unvoted_i * rho_k / rest_i`` on
    every class k without a cell on task i (``rest_i``: prior mass of those classes)."""

    t_cell: np.ndarray         # (n_cells,)
    unvoted: np.ndarray        # (n_tasks,) U_i, posterior mass of the classes without a cell
    rest: np.ndarray           # (n_tasks,) R_i = sum of rho over the classes without a cell
    priors: np.ndarray         # (K,) the rho of the E-step

    def scale(self) -> np.ndarray:
        """``c_i = U_i / R_i``: ``T_ik = c_i rho_k`` off the voted cells."""
        return np.divide(self.unvoted, self.rest, out=np.zeros_like(self.unvoted), where=self.rest > 0)


@register("OneCoinDS")
class OneCoinDS(EMStrategy):
    """One-coin Dawid-Skene: one accuracy ``p_j`` per worker, O(votes) per iteration.

    Parameters
    ----------
    max_iter : int, default=100
    tol : float, default=1e-6
        Stop when the relative change of the objective is below ``tol``.
    prior : float, default=1.0
        ``a`` in ``p_j = (sum T_il + a) / (n_j + 2 a)``: a Beta(a + 1, a + 1) prior on the
        accuracies (MAP). The default keeps a worker with a single vote, who always
        agrees with himself, from getting ``p_j = 1`` (most Pl@ntNet users vote once).
        ``prior=0`` gives maximum likelihood.
    init : {"naivesoft", "mv"}, default="naivesoft"
        Initial posteriors: vote shares, or one-hot majority vote (a tie shared equally
        by its classes, never broken by class index).
    fit_priors : bool, default=False
        Learn the class shares ``rho`` (the model's maximum likelihood) instead of keeping
        them uniform over the classes that received a vote (a declared class nobody ever
        chose gets 0). The one-coin model cannot express a crowd that over-uses one class;
        its likelihood then prefers a ``rho`` concentrated on that class, which can cost a
        lot of accuracy (bluebirds: .58 learnt vs .72 uniform; zheng_relevance .26 vs
        .45). Uniform shares were as good or better on each of the 8 real sets we tried,
        hence the default; set True when the class shares really are unequal and the
        crowd does not over-use a class.
    probas : {"auto", "full", "voted"}, default="auto"
        Form of ``probas_``. ``"full"``: the exact posterior as a dense ``(n_tasks, K)``
        array. ``"voted"``: a CSR matrix on the classes voted on each task, renormalised
        — the posterior *given that the true class is one of the voted ones*; the mass left
        out is ``unvoted_mass_`` and every left-out class k has exactly
        ``unvoted_mass_[i] * priors_[k] / (sum of priors_ over the classes not voted on
        i)`` (a task without vote is an empty row, read as uniform). ``"auto"``: full
        when ``n_tasks * K <= 2**25``, voted otherwise. This is a documented truncation,
        not a different container: the two forms differ by the unvoted mass.
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``.
    random_state : int or None
    memory_budget : float or None
        Bytes allowed for a dense ``probas_`` (default 4 GiB).

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes) or csr_array
        See ``probas``.
    labels_ : ndarray (n_tasks,)
        Argmax of the *exact* posterior over all K classes (a class nobody voted for wins
        when the voters are worse than chance, ``p_j < 1 / K``). Among several unvoted
        classes of equal prior, the smallest index stands for them.
    accuracies_ : ndarray (n_workers,)
        ``p_j``. A worker without vote gets the vote-weighted mean (as an unseen worker
        in ``predict_proba``).
    priors_ : ndarray (n_classes,)
    unvoted_mass_ : ndarray (n_tasks,)
        Posterior mass of the classes nobody voted for on the task (1 without vote).
    log_likelihood_ : list of float
        Objective after each E-step (non-decreasing).
    n_iter_, converged_, votes_, gold_
        As in :class:`~crowdwise.aggregate.DawidSkene`. ``fit(votes, gold=...)`` and
        :meth:`partial_fit` work as there.

    Notes
    -----
    The votes are sorted by (task, class) cell once; an iteration is then two gathers of
    per-worker values, a handful of ``np.bincount`` and ``reduceat`` passes over the votes
    and the cells, and never a (n_votes, K) block. Measured on a 2-core machine: 1M votes,
    300k tasks, 50k workers, K = 1,000 in 0.6 s (6 iterations, 0.3 GB peak); a
    Pl@ntNet-shaped crowd (9M votes, 823k workers, 6.7M tasks, K = 11,425) in 20-40 s
    (11-14 iterations, 2.9 GB peak including the votes).

    References
    ----------
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates
    using the EM algorithm", JRSS C 28(1), 1979.
    Y. Zhang, X. Chen, D. Zhou and M. I. Jordan, "Spectral methods meet EM: a provably
    optimal algorithm for crowdsourcing", JMLR 17, 2016 (the one-coin model).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2], ["a", "b", "c", "a", "b", "c", "a", "c"],
    ...                        [0, 0, 1, 1, 1, 2, 2, 2], n_classes=4)
    >>> m = OneCoinDS(tie="smallest").fit(v)
    >>> m.labels_.tolist()
    [0, 1, 2]
    >>> m.accuracies_.round(2).tolist()
    [0.77, 0.73, 0.39]

    Task 2 got votes for class 2 only: classes 0 and 1 share the rest of its posterior
    (class 3, never voted anywhere, has prior 0).

    >>> round(float(m.unvoted_mass_[2]), 3), m.probas_[2].round(3).tolist()
    (0.096, [0.048, 0.048, 0.904, 0.0])
    """

    description = "One-coin Dawid-Skene: one accuracy per worker; O(votes) per iteration, any number of classes."
    scales_to_many_classes = True
    single_vote_is_label = False  # one vote per task does not identify the accuracies

    def __init__(self, max_iter: int = 100, tol: float = 1e-6, prior: float = 1.0, init: str = "naivesoft",
                 fit_priors: bool = False, probas: str = "auto", tie: str = "random",
                 random_state: int | None = None, memory_budget: float | None = None):
        self.max_iter = max_iter
        self.tol = tol
        self.prior = prior
        self.init = init
        self.fit_priors = fit_priors
        self.probas = probas
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    # ------------------------------------------------------------------ hooks
    parameter_rules = {
        "prior": Real(0, help="a in the Beta(a + 1, a + 1) prior on the accuracies (0: maximum likelihood)"),
        "init": Options("naivesoft", "mv", noun="an initialisation"),
        "fit_priors": Boolean(),
        "probas": Options(*_PROBAS_FORMS, noun="a form of soft labels"),
    }

    def _validate(self, votes: Votes) -> None:
        if self._dense_probas_n(votes.n_tasks, votes.n_classes):
            check_budget("OneCoinDS with probas='full'", 8.0 * votes.n_tasks * votes.n_classes,
                         self.memory_budget, what=f"{votes.n_tasks:,} x {votes.n_classes:,} soft labels",
                         alternatives="OneCoinDS[probas=voted] (the voted classes, exactly, plus unvoted_mass_)")

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> _Cells:
        k, n, nv = votes.n_classes, votes.n_tasks, votes.n_votes
        gold_idx, gold_lab = gold
        key = np.concatenate([votes.task * k + votes.label, gold_idx * k + gold_lab])
        seg = Segments.from_keys(key)
        n_cells = seg.keys.size
        cell_of_key = np.repeat(np.arange(n_cells), np.diff(np.r_[seg.starts, key.size]))
        is_vote = seg.order < nv
        vote_order = seg.order[is_vote]
        vote_cell = cell_of_key[is_vote]
        gold_cell = np.empty(gold_idx.size, np.int64)
        gold_cell[seg.order[~is_vote] - nv] = cell_of_key[~is_vote]
        cell_task, cell_label = np.divmod(seg.keys, k)
        per_task = np.bincount(cell_task, minlength=n)
        indptr = np.r_[0, np.cumsum(per_task)].astype(np.int64)
        voted = np.flatnonzero(per_task)
        idx_type = np.int32 if votes.n_workers < 2**31 else np.int64
        n_per_worker = votes.votes_per_worker().astype(float)
        return _Cells(vote_cell, votes.worker[vote_order].astype(idx_type),
                      np.bincount(vote_cell, minlength=n_cells).astype(float), cell_task, cell_label, indptr,
                      voted, indptr[voted], per_task, n_per_worker, n_per_worker > 0, gold_cell,
                      gold_idx=gold_idx, gold_lab=gold_lab)

    def _init_state(self, votes: Votes, c: _Cells) -> _State:
        n, k = votes.n_tasks, votes.n_classes
        t_cell = c.cell_votes.copy()
        if self.init == "mv":  # the most voted cells of each task, a tie shared equally
            top = np.zeros(n)
            if c.voted.size:
                top[c.voted] = np.maximum.reduceat(t_cell, c.starts)
            t_cell = ((t_cell == top[c.task]) & (t_cell > 0)).astype(float)
        tot = np.bincount(c.task, t_cell, minlength=n)
        t_cell = np.divide(t_cell, tot[c.task], out=np.zeros_like(t_cell), where=tot[c.task] > 0)
        unvoted = (c.n_cells == 0).astype(float)
        return _State(t_cell, unvoted, np.ones(n), np.full(k, 1.0 / k))

    def _clamp(self, c: _Cells, s: _State) -> _State:
        if c.gold_idx.size:
            is_gold = np.zeros(s.unvoted.size, bool)
            is_gold[c.gold_idx] = True
            s.t_cell[is_gold[c.task]] = 0.0
            s.t_cell[c.gold_cell] = 1.0
            s.unvoted[c.gold_idx] = 0.0
        return s

    def _m_step(self, votes: Votes, c: _Cells, s: _State) -> tuple[np.ndarray, np.ndarray]:
        k, w = votes.n_classes, votes.n_workers
        right = np.bincount(c.vote_worker, s.t_cell[c.vote_cell], minlength=w)
        a = float(self.prior)
        den = c.n_per_worker + 2 * a
        acc = np.divide(right + a, den, out=np.full(w, 0.5), where=den > 0)
        if not self.fit_priors:
            # uniform over the classes somebody voted for: a class nobody ever chose gets 0
            seen = np.bincount(c.label, minlength=k) > 0
            return seen / max(seen.sum(), 1), np.clip(acc, 0.0, 1.0)
        # rho_k ∝ sum over voted tasks of T_ik = (cells of class k) + rho_k (sum_i c_i - cells' c_i)
        g = s.scale()
        on_cells = np.bincount(c.label, s.t_cell, minlength=k)
        off = g[c.voted].sum() - np.bincount(c.label, g[c.task], minlength=k)
        priors = on_cells + s.priors * np.maximum(off, 0.0)
        tot = priors.sum()
        priors = priors / tot if tot > 0 else np.full(k, 1.0 / k)
        return priors, np.clip(acc, 0.0, 1.0)

    def _e_step(self, votes: Votes, c: _Cells, params: tuple[np.ndarray, np.ndarray],
                state: Any) -> tuple[_State, float]:
        priors, acc = params
        n, k = votes.n_tasks, votes.n_classes
        n_cells = c.task.size
        log_p = safe_log(acc)
        if k > 1:
            log_q = safe_log(1.0 - acc) - np.log(k - 1.0)
        else:  # one class: every vote is "right", the wrong-answer term never applies
            log_q = np.zeros_like(acc)
        certain = np.isneginf(log_q)  # workers with p_j = 1
        log_q[certain] = 0.0
        # per cell: sum of the "wrong" terms, and of the corrections log p_j - q_j
        cell_q = np.bincount(c.vote_cell, log_q[c.vote_worker], minlength=n_cells)
        s = safe_log(priors)[c.label] + np.bincount(c.vote_cell, (log_p - log_q)[c.vote_worker],
                                                    minlength=n_cells)
        A = np.bincount(c.task, cell_q, minlength=n)
        rest = 1.0 - np.bincount(c.task, priors[c.label], minlength=n)
        rest = np.where(c.n_cells >= k, 0.0, np.clip(rest, 0.0, 1.0))
        r = safe_log(rest)
        if certain.any():  # a class other than a certain worker's vote is impossible
            cell_cert = np.bincount(c.vote_cell, certain[c.vote_worker], minlength=n_cells)
            n_cert = np.bincount(c.task, cell_cert, minlength=n)
            s[n_cert[c.task] > cell_cert] = -np.inf
            r[n_cert > 0] = -np.inf
        m = np.maximum(r, _per_task(c, np.maximum, s, -np.inf))
        ok = np.isfinite(m)
        m0 = np.where(ok, m, 0.0)
        e_cell = np.exp(s - m0[c.task])
        z = np.exp(r - m0)
        e_rest = z.copy()
        z += _per_task(c, np.add, e_cell, 0.0)
        good = z > 0
        t_cell = np.divide(e_cell, z[c.task], out=np.zeros(n_cells), where=good[c.task])
        unvoted = np.divide(e_rest, z, out=np.zeros(n), where=good)
        # a task no class can explain (log Z = -inf): shares of its voted cells
        if not good.all():
            tot = np.bincount(c.task, c.cell_votes, minlength=n)
            fix = ~good[c.task]
            t_cell[fix] = np.divide(c.cell_votes, tot[c.task], out=np.zeros(n_cells), where=tot[c.task] > 0)[fix]
        with np.errstate(divide="ignore"):
            log_z = A + m0 + np.log(np.where(good, z, 1.0))
        objective = float(log_z[good & ok].sum())
        return _State(t_cell, unvoted, rest, priors), objective

    def _log_prior(self, c: _Cells, params: tuple[np.ndarray, np.ndarray]) -> float:
        if self.prior <= 0:
            return 0.0
        acc = params[1]
        voted = c.voted_workers
        return self.prior * float(np.sum(safe_log(acc[voted]) + safe_log(1.0 - acc[voted])))

    def _finish(self, votes: Votes, c: _Cells, params: tuple[np.ndarray, np.ndarray], s: _State) -> None:
        priors, acc = params
        acc = acc.copy()
        n_w = c.n_per_worker
        if (n_w == 0).any():
            acc[n_w == 0] = float(np.sum(acc * n_w) / n_w.sum()) if n_w.sum() > 0 else 0.5
        self.priors_ = priors
        self.accuracies_ = acc
        self.unvoted_mass_ = s.unvoted.copy()
        self.probas_ = self._probas_of(s, c)
        self.labels_ = self._labels_of(s, c)

    # ------------------------------------------------------------------ outputs
    def _probas_of(self, s: _State, c: _Cells) -> np.ndarray | sparse.csr_array:
        n, k = s.unvoted.size, s.priors.size
        if self._dense_probas_n(n, k):
            P = np.outer(s.scale(), s.priors)
            P[c.task, c.label] = s.t_cell
            return P
        m = sparse.csr_array((s.t_cell, c.label, c.indptr), shape=(n, k))
        return as_probas(m, dense=False)

    def _dense_probas_n(self, n: int, k: int) -> bool:
        if self.probas == "auto":
            return n * k <= DENSE_PROBAS_LIMIT
        return self.probas == "full"

    def _labels_of(self, s: _State, c: _Cells) -> np.ndarray:
        """Argmax of the exact posterior: the voted cells against the best unvoted class."""
        n, k = s.unvoted.size, s.priors.size
        # classes by decreasing prior (smallest index first among equals); the best class
        # without a cell on task i is the first one in this order that is not a cell of i
        order = np.lexsort((np.arange(k), -s.priors))
        rank = np.empty(k, np.int64)
        rank[order] = np.arange(k)
        cr = rank[c.label]
        mex = np.zeros(n, np.int64)
        active = np.zeros(n, bool)
        active[c.task[cr == 0]] = True
        sub = np.flatnonzero(active[c.task])  # cells of the tasks still searching
        r = 0
        while sub.size:
            r += 1
            mex[active] = r
            has = np.zeros(n, bool)
            has[c.task[sub[cr[sub] == r]]] = True
            active &= has
            sub = sub[active[c.task[sub]]]
        best = order[np.minimum(mex, k - 1)]
        val = np.where(mex < k, s.scale() * s.priors[best], 0.0)
        # keep only the entries argmax_ties could call tied with the row maximum (rtol 1e-12)
        top = np.maximum(val, _per_task(c, np.maximum, s.t_cell, 0.0))
        floor = top - 1e-12 * np.abs(top)
        keep_cell = s.t_cell >= floor[c.task]
        keep_best = (val >= floor) & (val > 0)
        rows = np.concatenate([c.task[keep_cell], np.flatnonzero(keep_best)])
        cols = np.concatenate([c.label[keep_cell], best[keep_best]])
        data = np.concatenate([s.t_cell[keep_cell], val[keep_best]])
        scores = sparse.csr_array((data, (rows, cols)), shape=(n, k))
        return argmax_ties(scores, tie=self.tie, random_state=self.random_state)

    # ------------------------------------------------------------------ predict
    def _params_for(self, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
        idx = self._fitted_worker_index(votes)
        wts = self._fitted_worker_votes()
        default = float(np.sum(self.accuracies_ * wts) / wts.sum()) if wts.sum() > 0 else 0.5
        acc = np.where(idx >= 0, self.accuracies_[np.maximum(idx, 0)], default)
        return self.priors_, acc


def _per_task(c: _Cells, ufunc: np.ufunc, values: np.ndarray, empty: float) -> np.ndarray:
    """``ufunc`` reduced over the cells of each task (``empty`` for a task without cell)."""
    n = c.n_cells.size
    if c.voted.size == n:  # every task has a cell: no scatter needed
        return ufunc.reduceat(values, c.starts) if n else np.zeros(0)
    out = np.full(n, empty)
    if c.voted.size:
        out[c.voted] = ufunc.reduceat(values, c.starts)
    return out
