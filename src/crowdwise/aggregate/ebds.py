"""Empirical-Bayes Dawid-Skene: worker confusions shrunk toward a population learnt from the pool.

Model. As Dawid & Skene (1979), the true class of task i is ``y_i ~ Categorical(rho)`` and
worker j answers class l with probability ``pi_j[y_i, l]``; each confusion row is drawn
from a population prior,

    pi_j[k, :] ~ Dirichlet(s * m_k),    m_k[l] = q if l == k else (1 - q) / (K - 1),

a one-coin population confusion of accuracy ``q`` (learnt from every worker's answers)
and strength ``s`` (pseudo-answers per row; ``strength``). A worker with many answers
gets its own confusion; a worker with one or two answers gets, in effect, the
population's: the remedy for Dawid-Skene's overfitting of sparse crowds (many workers
with a handful of votes each, where a free K x K confusion per worker is fitted from
those few answers and explains them by itself). The population is kept one-coin (one
number, ``q``) on purpose: a free population confusion lets one class's row drift to
the overall answer distribution and absorb the tasks nobody agrees on.

Fit: collapsed (leave-one-out) updates, the CVB0 scheme of Teh, Newman & Welling (2007)
applied to this model. With ``T`` the task posteriors, ``S_j[k, l] = sum_{votes (i, j, l)}
T_ik`` and ``n_jk = sum_l S_j[k, l]``, the posterior-predictive probability that worker j
answers l on a task of class k, *given its other answers*, is

    (S_j[k, l] - c T_ik + s m_k[l]) / (n_jk - c T_ik + s)

(``c``: j's votes for l on task i, normally 1; for ``c > 1`` the product of the ``c``
successive predictive terms, a ratio of gamma functions), and

    T_ik ∝ rho_k * prod_{votes (i, j, l)} of those terms,   rho_k ∝ sum_i T_ik,
    q = (sum_j sum_k S_j[k, k] + 1) / (n_votes + 2).

Removing task i's own share ``c T_ik`` from the worker's counts is what stops a worker's
vote from confirming itself (plugging in ``pi_j`` estimated with that vote, as EM does,
gives a one-vote worker a row that predicts its own answer with probability at least
``1 / (1 + s)``). The updates are iterated to a fixed point: they do not climb a
likelihood, so the stopping rule is on the posteriors (``max |T_new - T_old| <= tol``)
and ``log_likelihood_`` records the leave-one-out log predictive of the votes,
``sum_i log sum_k rho_k prod(terms)``, for information (it is not monotone).

Both steps are sums over the (task, (worker, label) pair) incidence of the votes, as in
:mod:`crowdwise.aggregate.dawid_skene`: memory O(votes x K + n_workers K^2 + n_tasks K).

References
----------
A. P. Dawid and A. M. Skene, JRSS C 28(1), 1979. Y. W. Teh, D. Newman and M. Welling, "A
collapsed variational Bayesian inference algorithm for latent Dirichlet allocation",
NeurIPS 2006 (CVB0: A. Asuncion et al., "On smoothing and inference for topic models",
UAI 2009). H.-C. Kim and Z. Ghahramani, "Bayesian classifier combination", AISTATS 2012
(Dirichlet priors on the confusion rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.special import gammaln

from ..votes import Votes
from ._base import Options, Real, argmax_ties
from ._driver import NO_GOLD, GoldLabels, check_same_classes
from ._em import EMHistory, check_budget, class_priors, safe_log
from .dawid_skene import DawidSkene, DSContext
from .registry import register

__all__ = ["EBDS"]


class EBParams(NamedTuple):
    """One update: class shares, the per-pair sums ``S`` and per-worker totals ``n_jk``
    they come from, the population accuracy ``q``."""

    priors: np.ndarray          # (K,)
    pair_sums: np.ndarray       # (n_pairs, K): S[(j, l), k]
    worker_totals: np.ndarray   # (n_workers with votes, K): n_jk
    accuracy: float             # q
    posteriors: np.ndarray      # (n_tasks, K): the T the sums come from (a reference)


@dataclass
class EBContext(DSContext):
    """DS's context, with each nonzero of the incidence matrix's task (for the leave-one-out)."""

    entry_task: Any = None      # (nnz,) task of each (task, pair) entry of task_pair
    entry_count: Any = None     # (nnz, 1) votes in the entry (c)
    repeated: Any = None        # (nnz,) bool: c > 1
    voted_rows: Any = None      # tasks with an entry
    entry_index: Any = None     # arange(nnz)
    entry_label: Any = None     # (nnz,) label of each entry's pair
    entry_seg: Any = None       # (nnz,) row of each entry's worker in the per-worker totals
    row_starts: Any = None      # first entry of each task of voted_rows


def population_confusion(q: float, k: int) -> np.ndarray:
    """The one-coin ``(K, K)`` confusion: ``q`` on the diagonal, ``(1 - q) / (K - 1)`` elsewhere."""
    if k == 1:
        return np.ones((1, 1))
    m = np.full((k, k), (1.0 - q) / (k - 1))
    np.fill_diagonal(m, q)
    return m


@register("EBDS")
class EBDS(DawidSkene):
    """Dawid-Skene with an empirical-Bayes prior: each worker's confusion is shrunk toward a
    one-coin population confusion learnt from all workers, fitted by leave-one-out updates.

    The remedy for sparse crowds (see the module docstring for the model and the
    updates): a worker with few votes is read through the population's accuracy, one with
    many through its own confusion; no worker's vote confirms itself.

    Parameters
    ----------
    max_iter : int, default=500
    tol : float, default=1e-6
        Stop when no task posterior moves by more than ``tol`` in one update.
    strength : float, default=4.0
        ``s``: pseudo-answers of the population confusion added to each of a worker's
        confusion rows. Chosen, with the one-coin population, on the 16 open data sets
        and on sparse simulated crowds (``docs/benchmarks/accuracy.md``).
    init : {"naivesoft", "mv"}, default="naivesoft"
        Initial posteriors: vote shares, or majority vote (ties shared).
    tie : {"random", "smallest"}, default="random"
    random_state : int or None
    memory_budget : float or None
        Bytes allowed for the confusions (default 4 GiB).

    Attributes
    ----------
    probas_, labels_, priors_
        As :class:`DawidSkene`.
    confusions_ : ndarray (n_workers, n_classes, n_classes)
        Posterior-mean confusions ``(S_j[k, l] + s m_k[l]) / (n_jk + s)``; a worker
        without votes gets the population's.
    population_accuracy_ : float
        ``q``.
    population_confusion_ : ndarray (n_classes, n_classes)
    log_likelihood_ : list of float
        Leave-one-out log predictive of the votes after each update (not monotone).
    n_iter_, converged_, votes_, gold_

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 1, 1, 1, 0])
    >>> EBDS(tie="smallest").fit(v).labels_.tolist()
    [0, 1]
    """

    description = ("Dawid-Skene with an empirical-Bayes prior: confusions shrunk toward a population learnt "
                   "from all workers (leave-one-out updates; for sparse crowds).")
    accelerate = False
    _sparse_capable = False
    _exact_final_e_step = False
    _context_type = EBContext
    _budget_name = "EBDS"

    parameter_rules = {
        "strength": Real(0, low_open=True, help="the population's pseudo-answers per confusion row"),
        "init": Options("naivesoft", "mv", noun="an initialisation"),
    }

    def __init__(self, max_iter: int = 500, tol: float = 1e-6, strength: float = 4.0, init: str = "naivesoft",
                 tie: str = "random", random_state: int | None = None, memory_budget: float | None = None):
        self.max_iter = max_iter
        self.tol = tol
        self.strength = strength
        self.init = init
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    # DS's attributes this model does not have
    prior = 0.0
    sparse = False
    n_jobs = 1

    @staticmethod
    def memory_needed(votes: Votes) -> float:
        """Bytes a fit on ``votes`` holds at its peak (estimate): three ``n_workers x K x K``
        arrays and four ``votes x K`` ones, in float64."""
        k = float(votes.n_classes)
        return 3 * 8.0 * votes.n_workers * k * k + 4 * 8.0 * votes.n_votes * k

    def _validate(self, votes: Votes) -> None:
        k, w = votes.n_classes, votes.n_workers
        check_budget(self._budget_name, self.memory_needed(votes), self.memory_budget,
                     what=f"{w:,} workers x {k:,}^2 confusion entries",
                     alternatives="MV, NaiveSoft, WAWA, TwoThird, PlantNet, OneCoinDS")

    def _runs_sparse(self, votes: Votes) -> bool:
        return False

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> EBContext:
        ctx = super()._context(votes, gold)
        A = ctx.task_pair
        counts = np.diff(A.indptr)
        ctx.entry_task = np.repeat(np.arange(A.shape[0]), counts)
        ctx.entry_count = np.asarray(A.data, dtype=float)[:, None]
        ctx.repeated = ctx.entry_count[:, 0] > 1
        ctx.voted_rows = np.flatnonzero(counts > 0)
        ctx.entry_index = np.arange(A.indices.size)
        ctx.entry_label = ctx.pair_label[A.indices]
        ctx.entry_seg = ctx.pair_seg[A.indices]
        ctx.row_starts = A.indptr[:-1][ctx.voted_rows]
        return ctx

    def _m_step(self, votes: Votes, ctx: EBContext, T: np.ndarray) -> EBParams:
        k = votes.n_classes
        S = ctx.pair_task @ T
        n_pairs = S.shape[0]
        tot = np.add.reduceat(S, ctx.worker_starts, axis=0) if n_pairs else np.zeros((0, k))
        agree = float(S[np.arange(n_pairs), ctx.pair_label].sum()) if n_pairs else 0.0
        q = (agree + 1.0) / (float(S.sum()) + 2.0)
        return EBParams(class_priors(T, ctx.by_task.keys), S, tot, q, T)

    def _e_step(self, votes: Votes, ctx: EBContext, params: Any, state: Any) -> tuple[np.ndarray, float]:
        if not isinstance(params, EBParams):  # fitted confusions (warm start of partial_fit): DS's E-step
            return super()._e_step(votes, ctx, params, None)
        own: Any = 0.0
        if state is not None:
            own = state.take(ctx.entry_task, axis=0)  # take: faster than [idx] for a row gather
            if ctx.repeated.any():
                own *= ctx.entry_count
        return self._predictive_step(votes, ctx, params.pair_sums.take(ctx.task_pair.indices, axis=0),
                                     params.worker_totals.take(ctx.entry_seg, axis=0), own,
                                     population_confusion(params.accuracy, votes.n_classes), params.priors)

    def _predictive_step(self, votes: Votes, ctx: EBContext, S: np.ndarray, tot: np.ndarray, own: Any,
                         m: np.ndarray, priors: np.ndarray) -> tuple[np.ndarray, float]:
        """Task posteriors from each entry's worker sums ``S`` (row ``(j, l)``, per true
        class), the worker's totals ``tot`` (both overwritten) and the task's own share
        ``own`` (removed):
        ``T_ik ∝ rho_k prod (S - own + s m_k[l]) / (tot - own + s)`` (gamma ratios for
        ``c > 1``). Returns the posteriors and the log predictive of the votes."""
        k, s = votes.n_classes, float(self.strength)
        # a = S - own + s m_k[l]: m is q on the diagonal (k = l) and (1 - q) / (K - 1) elsewhere
        off = float(m[0, 1]) if k > 1 else 0.0
        has_own = isinstance(own, np.ndarray)
        a = S  # S and tot are fresh gathers: used in place
        if has_own:
            a -= own
        a += s * off
        a[ctx.entry_index, ctx.entry_label] += s * (float(m[0, 0]) - off)
        b = tot
        if has_own:
            b -= own
        b += s
        np.maximum(a, 1e-300, out=a)  # rounding of S - c T: never below 0
        np.maximum(b, 1e-300, out=b)
        if ctx.repeated.any():  # c > 1 votes for one label: the product of c successive predictive terms
            r, c = ctx.repeated, ctx.entry_count[ctx.repeated]
            Gr = gammaln(a[r] + c) - gammaln(a[r]) - gammaln(b[r] + c) + gammaln(b[r])
        np.divide(a, b, out=a)
        G = np.log(a, out=a)
        if ctx.repeated.any():
            G[ctx.repeated] = Gr
        n = votes.n_tasks
        L = np.zeros((n, k))
        if ctx.voted_rows.size:
            L[ctx.voted_rows] = np.add.reduceat(G, ctx.row_starts, axis=0)
        L += safe_log(priors)
        top = L.max(axis=1, keepdims=True)
        fin = np.isfinite(top[:, 0])
        top[~fin] = 0.0
        E = np.exp(L - top)
        z = E.sum(axis=1, keepdims=True)
        T = np.divide(E, z, out=np.full((n, k), 1.0 / k), where=z > 0)
        ok = fin & (z[:, 0] > 0)
        return T, float((np.log(z[ok, 0]) + top[ok, 0]).sum())

    def _predict_proba(self, votes: Votes) -> np.ndarray:
        """The posteriors of the tasks of ``votes`` from the fitted workers' answer counts,
        with the update of the fit: a vote that was part of the fit (same task, worker and
        label) has its own share removed from its worker's counts, so that
        ``predict_proba(fitted votes)`` gives ``probas_``; an unseen worker answers through
        the population confusion."""
        check_same_classes(votes, self.classes_)
        ctx = self._context(votes)
        k = votes.n_classes
        counts = self._answer_counts            # (fitted workers, K, K): S_j without the prior
        widx = self._fitted_worker_index(votes)
        e_pair = ctx.task_pair.indices
        e_worker = widx[ctx.pair_worker[e_pair]]
        e_label = ctx.pair_label[e_pair]
        known = e_worker >= 0
        S = np.zeros((e_pair.size, k))
        S[known] = counts[e_worker[known], :, e_label[known]]
        tot = np.zeros((e_pair.size, k))
        tot[known] = counts.sum(axis=2)[e_worker[known]]
        # the fitted votes' share: c_fit * T of the fit, for the (task, worker, label) cells of the fit
        fitted = self.votes_
        w_fit = fitted.n_workers
        fkeys, fcounts = np.unique((fitted.task.astype(np.int64) * w_fit + fitted.worker) * k + fitted.label,
                                   return_counts=True)
        t_fit = Votes.match_ids(votes.task_ids, fitted.task_ids)[ctx.entry_task]
        valid = known & (t_fit >= 0)
        key = (np.maximum(t_fit, 0).astype(np.int64) * w_fit + np.maximum(e_worker, 0)) * k + e_label
        pos = np.minimum(np.searchsorted(fkeys, key), max(fkeys.size - 1, 0))
        hit = valid & (fkeys.size > 0) & (fkeys[pos] == key) if fkeys.size else np.zeros(key.size, bool)
        own = np.zeros((e_pair.size, k))
        own[hit] = fcounts[pos[hit], None] * self._count_posteriors[t_fit[hit]]
        T, _ = self._predictive_step(votes, ctx, S, tot, own, self.population_confusion_, self.priors_)
        return T

    def _log_prior(self, ctx: EBContext, params: Any) -> float:
        return 0.0

    def _converged(self, ctx: EBContext, hist: EMHistory, objective: float, old: Any, new: Any) -> bool:
        hist.values.append(float(objective))
        return bool(np.max(np.abs(new - old), initial=0.0) <= float(self.tol))

    def _stop_rule(self) -> str | None:
        return f"max |change of a posterior| <= tol={self.tol!r}" if float(self.tol) > 0 else None

    def _finish(self, votes: Votes, ctx: EBContext, params: Any, T: np.ndarray) -> None:
        k, w, s = votes.n_classes, votes.n_workers, float(self.strength)
        m = population_confusion(params.accuracy, k)
        counts = np.zeros((w, k, k))
        counts[ctx.pair_worker, :, ctx.pair_label] = params.pair_sums
        # what predict_proba needs to repeat the last update: the answer counts and the
        # posteriors they were summed from (the last update removed each task's share of them)
        self._answer_counts = counts.copy()
        self._count_posteriors = params.posteriors
        counts += s * m
        self.confusions_ = counts / counts.sum(axis=2, keepdims=True)
        self.never_met_ = np.zeros((w, k), bool)
        self.population_accuracy_ = float(params.accuracy)
        self.population_confusion_ = m
        self.priors_ = params.priors
        self.sparse_mode_ = False
        self.probas_ = T
        self.labels_ = argmax_ties(T, tie=self.tie, random_state=self.random_state)

    def _params_for(self, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
        """Fitted class shares and log-confusions of the workers of ``votes``; an unseen
        worker gets the population confusion (the prior of a worker without answers)."""
        idx = self._fitted_worker_index(votes)
        conf = np.where((idx >= 0)[:, None, None], self.confusions_[np.maximum(idx, 0)],
                        self.population_confusion_[None])
        return self.priors_, safe_log(conf)
