"""IBCC: independent Bayesian classifier combination, fitted by mean-field variational Bayes.

Model (Kim & Ghahramani 2012; the variational treatment of Simpson et al. 2013): the true
class of task i is ``y_i ~ Categorical(rho)``, ``rho ~ Dirichlet(alpha0)``; worker j
answering task i gives class l with probability ``pi_j[y_i, l]``, each confusion row
``pi_j[k, :] ~ Dirichlet(beta0[k, :])``, votes independent given the classes. This is the
Dawid-Skene model with Dirichlet priors on all its parameters, and the posterior is
approximated by ``q(y) q(rho) q(pi)`` (mean field). Coordinate ascent alternates

- the "M-step" (update of the Dirichlet posteriors from the task posteriors ``T``):
  ``q(rho) = Dir(a)``, ``a_k = alpha0 + sum_i T_ik``; ``q(pi_j[k, :]) = Dir(B_jk)``,
  ``B_jk[l] = beta0[k, l] + N_jk[l]``, ``N_jk[l] = sum_{votes (i, j, l)} T_ik``;
- the "E-step": ``T_ik ∝ exp(E[log rho_k] + sum_{votes (i, j, l)} E[log pi_j[k, l]])``
  with ``E[log rho_k] = psi(a_k) - psi(sum a)`` and ``E[log pi_j[k, l]] = psi(B_jk[l]) -
  psi(sum_l B_jk[l])`` (``psi``: digamma).

The objective is the evidence lower bound, computed in full:
``ELBO = sum_i log Z_i - KL(q(rho) || p(rho)) - sum_{j, k} KL(q(pi_j[k]) || p(pi_j[k]))``,
where ``log Z_i`` is the log-normaliser of task i's E-step (at the optimal ``q(y_i)`` it
equals the expected log joint of the task's class and votes plus the entropy of
``q(y_i)``). Each step maximises it over one factor, so it never decreases.

Both steps are sparse-dense products over the (task, (worker, label) pair) incidence
matrix of the votes (:func:`~crowdwise.aggregate._em.vote_incidence`), as in
:mod:`crowdwise.aggregate.dawid_skene`: ``E[log pi]`` is formed only at the voted
(worker, label) pairs, and the KL of a confusion row only needs those pairs (a cell
without votes has ``B = beta0``: it adds nothing). Memory O(votes + n_workers K^2 +
n_tasks K); no tasks x workers array is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from ..votes import Votes
from ._base import Integer, Options, Real, argmax_ties, class_ranks
from ._driver import NO_GOLD, EMContext, EMStrategy, GoldLabels
from ._em import (add_csr_product, check_budget, group_index, hashed_uniforms, initial_posteriors, log_normalize,
                  splitmix64, vote_incidence, vote_profile_fingerprints)
from .registry import register

__all__ = ["IBCC"]

_ALTERNATIVES = "MV, NaiveSoft, WAWA, TwoThird, PlantNet, OneCoinDS"


class _VBParams(NamedTuple):
    """One update of the Dirichlet posteriors (or fitted ones, for new votes)."""

    alpha: np.ndarray          # (K,) q(rho) = Dir(alpha); 0 on a class outside the model
    elog_rho: np.ndarray       # (K,) E[log rho] (-inf outside the model)
    elog_pi: np.ndarray        # (n_pairs, K) E[log pi_j[k, l]] at each voted pair (j, l),
    #                            or (n_workers, K, K) for fitted workers (new votes)
    pair_sums: np.ndarray | None     # (n_pairs, K) N_jk[l] at the voted pairs (None: fitted)
    worker_totals: np.ndarray | None  # (workers with votes, K): sum_l N_jk[l]


@dataclass
class _Context(EMContext):
    """What IBCC's steps share during one fit (besides the driver's :class:`EMContext`)."""

    task_pair: Any = None      # CSR (n_tasks, n_pairs): votes of each (worker, label) pair per task
    pair_task: Any = None      # its transpose (a CSC view, no copy) for the M-step's product
    pair_worker: Any = None    # (n_pairs,) worker of each pair
    pair_label: Any = None     # (n_pairs,) label of each pair
    worker_starts: Any = None  # first pair of each worker with votes (pairs sorted by worker)
    pair_seg: Any = None       # (n_pairs,) rank of each pair's worker among the workers with votes
    in_model: Any = None       # (n_tasks,) bool: tasks with a vote or a gold label
    model_weight: Any = None   # in_model as 0.0 / 1.0 (the class counts' weights)
    active: Any = None         # (K,) bool: classes with a vote or a gold label
    alpha0: Any = None         # (K,) prior of rho (0 outside ``active``)
    beta0: Any = None          # (K, K) prior of each confusion row


def _dirichlet_kl(post: np.ndarray, prior: np.ndarray) -> float:
    """``KL(Dir(post) || Dir(prior))`` of one Dirichlet (1-D parameters, all > 0)."""
    a, a0 = post.sum(), prior.sum()
    return float(gammaln(a) - gammaln(a0) - np.sum(gammaln(post) - gammaln(prior))
                 + np.sum((post - prior) * (digamma(post) - digamma(a))))


@register("IBCC")
class IBCC(EMStrategy):
    """Independent Bayesian classifier combination (IBCC), mean-field variational Bayes.

    The Dawid-Skene model with Dirichlet priors: ``y_i ~ Cat(rho)``, ``rho ~
    Dir(alpha0)``, ``pi_j[k, :] ~ Dir(beta0[k, :])`` with ``beta0[k, l] = beta_diag`` if
    ``l == k`` else ``beta_off``, worker j answering l on a task of class k with
    probability ``pi_j[k, l]``. The posterior is approximated by ``q(y) q(rho) q(pi)``:

    - ``q(rho) = Dir(alpha0 + sum_i q(y_i))``;
    - ``q(pi_j[k, :]) = Dir(beta0[k, :] + N_jk)``, ``N_jk[l] = sum_{votes (i, j, l)} q(y_i = k)``;
    - ``q(y_i = k) ∝ exp(E[log rho_k] + sum_{votes (i, j, l)} E[log pi_j[k, l]])``, with
      ``E[log pi_j[k, l]] = psi(beta0[k, l] + N_jk[l]) - psi(sum_l beta0[k, l] + N_jk[l])``.

    The updates run on the EM driver (the Dirichlet updates as M-step, ``q(y)`` as
    E-step) and climb the evidence lower bound ``sum_i log Z_i - KL(q(rho) || p(rho)) -
    sum_{j,k} KL(q(pi_j[k]) || p(pi_j[k]))`` (see the module docstring), which never
    decreases. Unlike DS, a worker with few votes keeps a confusion close to the prior
    instead of a 0/1 one, and the uncertainty on each confusion enters the posteriors
    through ``E[log pi]`` (the digamma is below the log of the posterior mean, more so for
    rows with few counts).

    Parameters
    ----------
    alpha0 : float, default=1.0
        Symmetric Dirichlet prior on the class shares ``rho`` (1: uniform).
    beta_diag : float, default=2.0
        Prior count on the diagonal of every confusion row (answering the true class).
    beta_off : float, default=1.0
        Prior count on each off-diagonal cell. The defaults ``(2, 1)`` are the usual
        weakly diagonal prior of IBCC's implementations and papers (a worker is a priori
        better than chance, prior accuracy ``2 / (K + 1)``, worth ``K + 1`` pseudo-votes
        per row): weak enough that a worker with tens of votes is judged on them, strong
        enough to keep a worker with one or two votes near the crowd's chance-plus level.
        They were chosen before looking at any data set's truth and are not tuned per set;
        with them IBCC gives exactly the published IBCC accuracies of adult_content2
        (.7447), bluebirds (.8889), zheng_dog (.8389) and zheng_sentiment (.960), and is
        within 0.2 point of those of zheng_product, zheng_face, rte and sentiment_polarity.
    init : {"naivesoft", "mv"}, default="naivesoft"
        Initial ``q(y)``: vote shares, or one-hot majority vote (a tie shared equally
        between its classes). The first update of the Dirichlet posteriors starts there.
    n_init : int, default=1
        Runs, the one with the highest final ELBO kept. Run 0 starts from ``init``
        (deterministic); each further run from a random perturbation of it drawn from its
        own seed (``random_state``): half vote shares, half a Dirichlet(1) draw over the
        classes in the model, the draws keyed by each task's vote profile and the class
        ids (so renaming or reordering tasks, workers or classes moves nothing).
        ``restart_log_likelihoods_`` and ``best_restart_`` record the runs.
    max_iter : int, default=200
        Most updates (Dirichlet update + ``q(y)`` pairs) per run.
    tol : float, default=1e-7
        Stop when one update changes the ELBO by at most ``tol`` relative.
    accelerate : bool, default=True
        SQUAREM on ``q(y)`` (as DS): a jump is kept only when it does not lower the ELBO,
        so the ELBO stays monotone and the fixed points are those of plain coordinate
        ascent.
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``.
    random_state : int or None
        Seeds the restarts (``n_init > 1``) and the random tie rule.
    memory_budget : float or None
        Bytes allowed for the ``(n_workers, K, K)`` arrays (default 4 GiB).

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes)
        ``q(y_i)``. A task without vote (and without gold) gets the posterior mean of
        ``rho``, its posterior predictive.
    labels_ : ndarray (n_tasks,)
    confusions_ : ndarray (n_workers, n_classes, n_classes)
        Posterior mean ``E[pi_j[k, l]] = B_jk[l] / sum_l B_jk[l]`` (a worker without votes
        has the prior mean).
    confusion_counts_ : ndarray (n_workers, n_classes, n_classes)
        The posterior Dirichlet parameters ``B_jk`` (prior + expected counts).
    priors_ : ndarray (n_classes,)
        Posterior mean of ``rho``. 0 for a class nobody voted for (see Notes).
    class_counts_ : ndarray (n_classes,)
        The posterior Dirichlet parameters ``a`` of ``rho`` (0 for a class outside the model).
    log_likelihood_ : list of float
        The ELBO after each update (non-decreasing; a dropped SQUAREM jump is not listed).
    elbo_ : float
        The final ELBO (``log_likelihood_[-1]``), a lower bound of the log evidence.
    n_iter_ : int
        Updates run in the kept run.
    converged_ : bool
        Whether the stop test was met before ``max_iter`` (otherwise a
        :class:`~crowdwise.aggregate.ConvergenceWarning`).
    restart_log_likelihoods_, best_restart_
        The ELBO history of every run and the index of the kept one.
    votes_, gold_
        As in :class:`~crowdwise.aggregate.DawidSkene`; ``fit(votes, gold=...)`` clamps
        known tasks (their ``q(y)`` is one-hot, and the ELBO treats their class as
        observed) and :meth:`partial_fit` warm-starts from the fitted posteriors (a new
        worker starts from the prior ``beta0``).

    Notes
    -----
    **Classes nobody voted for.** The model's classes are those that received a vote (or
    a gold label): a declared class nobody chose has ``rho_k = 0`` (no data could tell
    the prior of such a class from the posterior), so it gets no posterior mass, its
    confusion rows stay at the prior and ``class_counts_``/``priors_`` are 0 there. It
    can still be *answered* on new votes (its columns have the prior ``beta_off``).

    **Tasks without a vote** are not part of the fit (they carry no information on
    ``rho`` in the data, and would only pull ``q(rho)`` toward itself); their soft label
    is the posterior mean of ``rho``.

    References
    ----------
    H.-C. Kim and Z. Ghahramani, "Bayesian classifier combination", AISTATS 2012.
    E. Simpson, S. Roberts, I. Psorakis and A. Smith, "Dynamic Bayesian combination of
    multiple imperfect classifiers", in Decision Making and Imperfection, Springer 2013.
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates
    using the EM algorithm", JRSS C 28(1), 1979.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 1, 1, 1, 0])
    >>> m = IBCC(tie="smallest").fit(v)
    >>> m.labels_.tolist(), bool(m.converged_)
    ([0, 1], True)
    >>> bool(m.elbo_ == m.log_likelihood_[-1]) and bool(all(np.diff(m.log_likelihood_) >= 0))
    True
    """

    description = ("IBCC: Bayesian Dawid-Skene (Dirichlet priors on class shares and confusions), "
                   "variational Bayes on the ELBO.")
    scales_to_many_classes = False  # (n_workers, K, K) confusions
    single_vote_is_label = False    # one vote per task does not identify the confusions
    random_starts = True

    def __init__(self, alpha0: float = 1.0, beta_diag: float = 2.0, beta_off: float = 1.0, init: str = "naivesoft",
                 n_init: int = 1, max_iter: int = 200, tol: float = 1e-7, accelerate: bool = True,
                 tie: str = "random", random_state: int | None = None, memory_budget: float | None = None):
        self.alpha0 = alpha0
        self.beta_diag = beta_diag
        self.beta_off = beta_off
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.accelerate = accelerate
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    parameter_rules = {
        "alpha0": Real(0, low_open=True, example=1.0, help="the Dirichlet prior count of each class share"),
        "beta_diag": Real(0, low_open=True, example=2.0,
                          help="the prior count on the diagonal of each confusion row"),
        "beta_off": Real(0, low_open=True, example=1.0,
                         help="the prior count on each off-diagonal cell of a confusion row"),
        "init": Options("naivesoft", "mv", noun="an initialisation"),
        "n_init": Integer(1, example=1, help="the number of runs (the best ELBO is kept)"),
    }

    # ------------------------------------------------------------------ hooks
    def _validate(self, votes: Votes) -> None:
        k, w = votes.n_classes, votes.n_workers
        check_budget("IBCC", 3 * 8.0 * w * k * k, self.memory_budget,
                     what=f"{w:,} workers x {k:,}^2 confusion entries", alternatives=_ALTERNATIVES)

    def _prior_matrix(self, k: int) -> np.ndarray:
        beta0 = np.full((k, k), float(self.beta_off))
        np.fill_diagonal(beta0, float(self.beta_diag))
        return beta0

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> _Context:
        k = votes.n_classes
        pair_keys, pair_of_vote = group_index(votes.worker * k + votes.label, votes.n_workers * k)
        n_pairs = pair_keys.size
        task_pair = vote_incidence(votes.task, pair_of_vote, votes.n_tasks, n_pairs)
        pw, pl = np.divmod(pair_keys, k)
        starts = np.flatnonzero(np.r_[True, pw[1:] != pw[:-1]]) if n_pairs else np.zeros(0, np.int64)
        seg = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n_pairs]))
        in_model = np.diff(task_pair.indptr) > 0
        in_model[gold.idx] = True
        active = np.zeros(k, bool)
        active[votes.label] = True
        active[gold.lab] = True
        if not active.any():
            active[:] = True
        alpha0 = np.where(active, float(self.alpha0), 0.0)
        return _Context(task_pair=task_pair, pair_task=task_pair.T, pair_worker=pw, pair_label=pl,
                        worker_starts=starts, pair_seg=seg, in_model=in_model,
                        model_weight=in_model.astype(float), active=active, alpha0=alpha0,
                        beta0=self._prior_matrix(k), gold_idx=gold.idx, gold_lab=gold.lab)

    def _init_state(self, votes: Votes, ctx: _Context) -> np.ndarray:
        T = initial_posteriors(votes, self.init)
        if ctx.restart == 0 or ctx.seed is None:
            return T
        # a seeded perturbation, keyed by the task's vote profile and the class ids (not positions)
        k = votes.n_classes
        rank = class_ranks(votes.classes)
        fp = vote_profile_fingerprints(votes.task, rank[votes.label], votes.n_tasks, k)
        salt = np.random.default_rng(ctx.seed).integers(0, 2**63, dtype=np.uint64)
        codes = splitmix64(rank.astype(np.uint64) + np.uint64(1))
        u = hashed_uniforms(fp[:, None] ^ codes[None, :], salt) + 2.0**-54  # (n_tasks, K) in (0, 1)
        draw = -np.log(u) * ctx.active  # Dirichlet(1) over the classes in the model
        draw /= draw.sum(axis=1, keepdims=True)
        return 0.5 * T + 0.5 * draw

    def _clamp(self, ctx: _Context, T: np.ndarray) -> np.ndarray:
        if ctx.gold_idx.size:
            T[ctx.gold_idx] = 0.0
            T[ctx.gold_idx, ctx.gold_lab] = 1.0
        return T

    def _m_step(self, votes: Votes, ctx: _Context, T: np.ndarray) -> _VBParams:
        """The Dirichlet posteriors given ``q(y) = T``, and the expectations the E-step reads."""
        k = votes.n_classes
        S = ctx.pair_task @ T  # (pairs, K): N_jk[l] at the voted pair (j, l)
        tot = np.add.reduceat(S, ctx.worker_starts, axis=0) if S.shape[0] else np.zeros((0, k))
        B = S + ctx.beta0.T[ctx.pair_label]           # beta0[k, l_p] + N
        row = tot + ctx.beta0.sum(axis=1)[None, :]    # sum_l B_jk[l], per worker with votes
        G = digamma(B)
        G -= digamma(row).take(ctx.pair_seg, axis=0)
        counts = np.einsum("i,ij->j", ctx.model_weight, T)  # sum of T over the tasks in the model
        alpha = np.where(ctx.active, ctx.alpha0 + counts, 0.0)
        return _VBParams(alpha, _elog_rho(alpha), G, S, tot)

    def _e_step(self, votes: Votes, ctx: _Context, params: _VBParams, state: Any) -> tuple[np.ndarray, float]:
        n, k = ctx.task_pair.shape[0], votes.n_classes
        G = params.elog_pi
        if G.ndim == 3:  # fitted (n_workers, K, K) expectations: gather them at the voted pairs
            G = np.ascontiguousarray(G[ctx.pair_worker, :, ctx.pair_label])
        L = np.empty((n, k))
        L[...] = params.elog_rho
        with np.errstate(invalid="ignore"):
            add_csr_product(ctx.task_pair, G, L)
        gold_term = float(L[ctx.gold_idx, ctx.gold_lab].sum()) if ctx.gold_idx.size else 0.0
        T, lognorm = log_normalize(L, overwrite=True)
        in_model = ctx.in_model.copy()
        in_model[ctx.gold_idx] = False  # a gold task adds E[log p(y_i = gold, votes_i)] (gold_term)
        outside = ~ctx.in_model
        if outside.any():  # no vote, no gold: the posterior mean of rho
            tot = params.alpha.sum()
            T[outside] = params.alpha / tot if tot > 0 else 1.0 / k
        fin = np.isfinite(lognorm) & in_model
        return T, float(lognorm[fin].sum()) + gold_term

    def _log_prior(self, ctx: _Context, params: _VBParams) -> float:
        """``-KL(q(rho) || p(rho)) - sum_{j,k} KL(q(pi_j[k]) || p(pi_j[k]))``.

        A confusion row's KL, with ``B = beta0 + N`` and ``N`` zero outside the voted pairs::

            log G(sum B) - log G(sum beta0) - sum_pairs [log G(B) - log G(beta0)]
            + sum_pairs N (psi(B) - psi(sum B))

        (``G``: the gamma function); the last sum is ``sum N * E[log pi]``. A worker without
        votes, or a row without counts, adds 0.
        """
        if params.pair_sums is None:
            return 0.0
        act = ctx.active
        kl = _dirichlet_kl(params.alpha[act], ctx.alpha0[act])
        S, tot = params.pair_sums, params.worker_totals
        if S.shape[0]:
            b0 = ctx.beta0.T[ctx.pair_label]
            row0 = ctx.beta0.sum(axis=1)
            kl += float(np.sum(gammaln(tot + row0[None, :]) - gammaln(row0)[None, :]))
            kl -= float(np.sum(gammaln(S + b0) - gammaln(b0)))
            kl += float(np.einsum("ij,ij->", S, params.elog_pi))
        return -kl

    def _finish(self, votes: Votes, ctx: _Context, params: _VBParams, T: np.ndarray) -> None:
        k, w = votes.n_classes, votes.n_workers
        counts = np.broadcast_to(ctx.beta0, (w, k, k)).copy()
        counts[ctx.pair_worker, :, ctx.pair_label] += params.pair_sums
        self.confusion_counts_ = counts
        self.confusions_ = counts / counts.sum(axis=2, keepdims=True)
        self.class_counts_ = params.alpha
        tot = params.alpha.sum()
        self.priors_ = params.alpha / tot if tot > 0 else np.full(k, 1.0 / k)
        self.elbo_ = float(self.log_likelihood_[-1]) if self.log_likelihood_ else float("nan")
        self.probas_ = T
        self.labels_ = argmax_ties(T, tie=self.tie, random_state=self.random_state)

    def _probas_of(self, T: np.ndarray, ctx: Any = None) -> np.ndarray:
        return T

    def _params_for(self, votes: Votes) -> _VBParams:
        """Fitted posteriors for the workers of ``votes``: a fitted worker's ``B_j``, the
        prior ``beta0`` for a worker the fit never saw."""
        idx = self._fitted_worker_index(votes)
        k = votes.n_classes
        counts = np.where((idx >= 0)[:, None, None], self.confusion_counts_[np.maximum(idx, 0)],
                          self._prior_matrix(k)[None])
        elog_pi = digamma(counts) - digamma(counts.sum(axis=2, keepdims=True))
        alpha = np.asarray(self.class_counts_, dtype=float)
        return _VBParams(alpha, _elog_rho(alpha), elog_pi, None, None)


def _elog_rho(alpha: np.ndarray) -> np.ndarray:
    """``E[log rho_k] = psi(a_k) - psi(sum a)``; ``-inf`` where ``a_k = 0`` (outside the model)."""
    out = np.full(alpha.shape, -np.inf)
    live = alpha > 0
    if live.any():
        out[live] = digamma(alpha[live]) - digamma(alpha[live].sum())
    return out
