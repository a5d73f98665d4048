"""EBCC: Enhanced Bayesian Classifier Combination, by mean-field variational Bayes.

Model (Li, Rubinstein & Cohn 2019). Each true class k has ``M`` latent *subtypes*; a
subtype gathers the tasks on which the workers err alike, so that the correlation between
workers becomes a mixture of independent (Dawid-Skene-like) models:

- class shares ``tau ~ Dirichlet(alpha 1_K)``, task class ``y_i ~ Categorical(tau)``;
- subtype weights of class k ``pi_k ~ Dirichlet((a / M) 1_M)``, subtype
  ``z_i | y_i = k ~ Categorical(pi_k)``;
- confusion of worker j for class k and subtype m, ``v_jkm ~ Dirichlet(beta_k)`` with
  ``beta_kl = b_diag`` on the diagonal (``l = k``) and ``b_off`` elsewhere;
- vote ``(i, j, l)``: ``l ~ Categorical(v_{j y_i z_i})``, independently given ``(y_i, z_i)``.

Mean-field VB with ``q(y, z) = prod_i q_i(y_i, z_i)`` and Dirichlet factors for ``tau``,
``pi_k`` and ``v_jkm`` alternates

- "M-step" (the Dirichlet posteriors): ``nu_k = alpha + sum_i q_i(k)``,
  ``eta_km = a / M + sum_i q_i(k, m)``, ``mu_jkml = beta_kl + sum_{votes (i, j, l)} q_i(k, m)``;
- "E-step": ``log q_i(k, m) = E log tau_k + E log pi_km + sum_{votes (i, j, l)} E log v_jkml
  - log Z_i`` with ``E log`` of a Dirichlet ``digamma(c) - digamma(sum c)``;

and the objective is the evidence lower bound, computed in full:

    ``ELBO = sum_i log Z_i - KL(q(tau) || p(tau)) - sum_k KL(q(pi_k) || p(pi_k))
             - sum_{j, k, m} KL(q(v_jkm) || p(v_jkm))``

(``sum_i log Z_i`` is the expected complete log-likelihood plus the entropy of ``q(y, z)``
at the E-step's optimum). Each step maximises the ELBO in its own factors, so it never
decreases. The subtypes start from a random split of the vote shares, so restarts differ:
the run with the best final ELBO is kept, as the authors do (best of 40 seeds).

Both steps are sparse products over the votes, grouped by (worker, label) pair as in
:mod:`crowdwise.aggregate.dawid_skene`: memory O(votes + pairs K M + tasks K M + workers
K M K), no tasks x workers array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from ..votes import Votes
from ._base import Boolean, Integer, Options, Real, argmax_ties, class_ranks
from ._driver import NO_GOLD, EMContext, EMStrategy, GoldLabels, check_same_classes
from ._em import (
    add_csr_product,
    check_budget,
    group_index,
    log_normalize,
    row_sum,
    splitmix64,
    vote_incidence,
    vote_profile_fingerprints,
)
from .registry import register

__all__ = ["EBCC"]

_ALTERNATIVES = "MV, NaiveSoft, WAWA, PlantNet, OneCoinDS, or EBCC with fewer n_subtypes"


class EBCCParams(NamedTuple):
    """One update of the Dirichlet posteriors, on the label space of the fit (``Ks``
    classes) and the voted (worker, label) pairs of the votes."""

    log_tau: np.ndarray  # (Ks,) E log tau_k
    log_pi: np.ndarray   # (Ks, M) E log pi_km
    G: np.ndarray        # (pairs, Ks * M) E log v_{j k m l} at each voted pair (j, l)
    nu: np.ndarray       # (Ks,) Dirichlet posterior of tau
    eta: np.ndarray      # (Ks, M) Dirichlet posteriors of pi_k
    S: np.ndarray | None  # (pairs, Ks * M) expected counts of the pairs (None: from a fitted model)
    kl: float            # the KL terms of the ELBO


@dataclass(kw_only=True)
class EBCCContext(EMContext):
    """What the steps precompute from the votes (besides the driver's :class:`EMContext`)."""

    space: Any = None        # (K,) bool: the label space (classes voted for, and gold classes)
    n_sub: int = 1           # M
    task_pair: Any = None    # CSR (tasks, pairs): votes of each (worker, label) pair per task
    pair_task: Any = None    # its CSC transpose (the M-step product)
    pair_worker: Any = None  # (pairs,) worker of each pair
    pair_label: Any = None   # (pairs,) label of each pair, as an index of the label space
    worker_starts: Any = None  # first pair of each worker with votes (pairs sorted by worker)
    pair_seg: Any = None     # (pairs,) rank of each pair's worker among the workers with votes
    beta_pair: Any = None    # (pairs, Ks * M): beta_{k, l} of each pair's label l
    beta_row: Any = None     # (Ks * M,): sum_l beta_kl
    kl_const: float = 0.0    # the prior's share of the worker KL terms (constant over a fit)
    gold_c: Any = None       # gold classes as indices of the label space
    task_fp: Any = None      # (tasks,) uint64 fingerprints keying the random starts (made on first use)
    rank: Any = None         # (Ks,) rank of each class of the space among the class ids
    shares: Any = None       # (tasks, Ks) vote shares (gold tasks: one-hot; no vote: uniform)
    alpha: Any = None        # (Ks,) Dirichlet prior of the class shares


@register("EBCC")
class EBCC(EMStrategy):
    """Enhanced Bayesian Classifier Combination (Li, Rubinstein & Cohn 2019).

    Each class has ``n_subtypes`` latent subtypes and each worker a confusion per (class,
    subtype), so that workers who err together on some tasks are modelled; fitted by
    mean-field variational Bayes (see the module docstring for the model and updates),
    the evidence lower bound (ELBO) as objective, random restarts keeping the best ELBO.

    Parameters
    ----------
    n_subtypes : int, default=10
        ``M``, the subtypes per class (the authors' default).
    subtype_prior : float, default=0.1
        ``a``: total concentration of the symmetric Dirichlet prior of the subtype
        weights of each class (``a / M`` per subtype; the authors' ``a_pi``). Small values
        let a class use few subtypes.
    class_prior : "empirical" or float, default="empirical"
        ``alpha``: Dirichlet prior of the class shares. ``"empirical"`` (the setting of
        the authors' published figures) sets ``alpha_k = sum_i s_ik``, the vote shares
        ``s_ik`` of the tasks summed (a gold task counts as one-hot, a task without votes
        as uniform): a prior as strong as the data, which keeps a class from being
        emptied into the subtypes of another; a number is a symmetric prior.
    diagonal_prior : float, default=4.0
        ``b_diag``: prior count of the right answer in each confusion row (the authors' ``a_v``).
    off_diagonal_prior : float, default=1.0
        ``b_off``: prior count of each wrong answer (the authors' ``b_v``).
    n_init : int, default=40
        Random restarts; the run with the highest final ELBO is kept (the first among
        equals within 1e-9 relative). Restart r draws its start from its own seed
        ``np.random.SeedSequence(random_state).spawn(n_init)[r]``. 40 is the authors'
        setting (best ELBO of 40 seeds): the 16 public sets take about 85 s in all (the
        largest, adult_content2's 93k votes, about 30 s). Fewer restarts cost accuracy where
        the ELBO has many optima: on zheng_face, 10 restarts give .625-.632 over four
        seeds, 20 give .627-.635, 40 give .632-.635 (the published .6353).
    max_iter : int, default=500
        Iterations per restart (the authors' limit).
    tol : float, default=1e-6
        Stop a restart when the relative change of the ELBO is at most ``tol``.
    accelerate : bool, default=False
        SQUAREM on ``q(y, z)`` (a jump is kept only when the ELBO does not decrease).
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``.
    random_state : int, Generator or None
        Seed of the restarts.
    memory_budget : float or None
        Bytes allowed for the largest arrays (default 4 GiB); above, ``fit`` refuses with
        a message naming methods that can run.

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes)
        ``q(y_i = k) = sum_m q_i(k, m)``; 0 on a class outside the label space.
    labels_ : ndarray (n_tasks,)
    confusions_ : ndarray (n_workers, n_classes, n_classes)
        Posterior-mean confusion of each worker, marginalised over the subtypes with the
        posterior-mean subtype weights: ``sum_m E[pi_km] E[v_jkm l]``. A worker without
        votes gets the prior mean; a class outside the label space a uniform row.
    priors_ : ndarray (n_classes,)
        ``E[tau_k]`` (0 outside the label space).
    subtype_weights_ : ndarray (n_classes, n_subtypes)
        ``E[pi_km]`` (uniform outside the label space).
    dirichlet_counts_ : ndarray (n_workers, n_classes, n_subtypes, n_classes)
        ``mu_jkml``, the Dirichlet posterior of each worker's confusion per (class,
        subtype): the prior ``beta_kl`` plus the expected counts of the last update (the
        prior alone for a worker without votes or a class outside the label space).
    log_likelihood_ : list of float
        The ELBO after each iteration of the kept restart (never decreases).
    restart_log_likelihoods_ : list of list of float
        The ELBO history of every restart.
    best_restart_ : int
        Index of the kept restart.
    n_iter_ : int
        Iterations of the kept restart.
    converged_ : bool
        Whether the kept restart met ``tol`` before ``max_iter`` (if not, the fit warns
        with a :class:`~crowdwise.aggregate.ConvergenceWarning`).
    votes_ : Votes
        The votes of the fit (kept for :meth:`partial_fit`).
    gold_ : mapping or None
        The gold labels of the fit.

    Notes
    -----
    **Label space.** The model runs on the classes that received a vote (and the classes
    of gold labels): a declared class nobody voted for gets probability 0, as in MACE.

    **Start.** ``q(y_i)`` starts at the vote shares of task i (uniform without votes) and
    is split over the subtypes by a Dirichlet(1, ..., 1) draw per (task, class), as the
    authors do. The draws are keyed by a fingerprint of each task (a hash of who voted
    what, workers being known by their own vote profiles, refined once through their
    tasks) and by the rank of each class id (:func:`~crowdwise.utils.class_ranks`), never
    by positions: renaming or reordering tasks, workers or votes, or listing the classes
    in another order, gives the same fit. Tasks with the same fingerprint start alike.

    **Stopping.** The authors stop when no ``q(y_i = k)`` moves by more than 1e-3 (at
    most 500 iterations); here the ELBO's relative change (``tol``), the rule of every
    strategy on the EM driver.

    **New votes.** ``predict_proba`` runs one E-step from the fitted Dirichlet
    posteriors; a worker the fit never saw gets the prior ``Dirichlet(beta_k)`` (the
    Bayesian predictive: nothing is known of it). ``partial_fit`` continues from that
    E-step on the union of the votes, one run (no restarts).

    References
    ----------
    Y. Li, B. I. P. Rubinstein and T. Cohn, "Exploiting worker correlation for label
    aggregation in crowdsourcing", ICML 2019, PMLR 97, pp. 3886-3895.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2, 2], ["a", "b", "c"] * 3,
    ...                        [0, 0, 1, 1, 1, 1, 0, 0, 0])
    >>> m = EBCC(n_init=2, random_state=0, tie="smallest").fit(v)
    >>> m.labels_.tolist()
    [0, 1, 0]
    >>> bool(all(b >= a - 1e-9 * abs(a) for a, b in zip(m.log_likelihood_, m.log_likelihood_[1:])))
    True
    """

    description = ("EBCC: worker correlation through latent class subtypes (Li et al. 2019), "
                   "variational Bayes, best ELBO of random restarts.")
    scales_to_many_classes = False  # workers x K x M x K posterior counts
    single_vote_is_label = False    # a latent-variable model: one vote per task may be relabelled
    random_starts = True

    def __init__(self, n_subtypes: int = 10, subtype_prior: float = 0.1, class_prior: float | str = "empirical",
                 diagonal_prior: float = 4.0, off_diagonal_prior: float = 1.0, n_init: int = 40,
                 max_iter: int = 500, tol: float = 1e-6, accelerate: bool = False, tie: str = "random",
                 random_state: int | None = None, memory_budget: float | None = None):
        self.n_subtypes = n_subtypes
        self.subtype_prior = subtype_prior
        self.class_prior = class_prior
        self.diagonal_prior = diagonal_prior
        self.off_diagonal_prior = off_diagonal_prior
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.accelerate = accelerate
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    parameter_rules = {
        "n_subtypes": Integer(1, example=10, help="the latent subtypes of each class (M)"),
        "subtype_prior": Real(0, low_open=True, example=0.1,
                              help="the total concentration of the Dirichlet prior of the subtype weights"),
        "class_prior": Options("empirical", noun="an empirical prior")
        | Real(0, low_open=True, help="the symmetric Dirichlet prior of the class shares"),
        "diagonal_prior": Real(0, low_open=True, example=4.0,
                               help="the prior count of the right answer in each confusion row"),
        "off_diagonal_prior": Real(0, low_open=True, example=1.0,
                                   help="the prior count of each wrong answer in each confusion row"),
        "n_init": Integer(1, example=40, help="the random restarts (the best ELBO is kept)"),
        "accelerate": Boolean(),
    }

    # ------------------------------------------------------------------ validation
    def _validate(self, votes: Votes) -> None:
        k, n, w, m = votes.n_classes, votes.n_tasks, votes.n_workers, int(self.n_subtypes)
        pairs = min(votes.n_votes, w * k)
        # q(y, z) and its E-step scores (x2 more with SQUAREM), the per-pair sums and
        # expectations, the fitted (workers, K, M, K) posterior counts and confusions
        states = 5 if self.accelerate else 3
        need = 8.0 * (states * n * k * m + 4 * pairs * k * m + w * k * m * k + w * k * k)
        check_budget("EBCC", need, self.memory_budget,
                     what=f"({n:,} tasks + {w:,} workers x {k:,}) x {k:,} classes x {m:,} subtypes",
                     alternatives=_ALTERNATIVES)

    # ------------------------------------------------------------------ context
    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD, space: np.ndarray | None = None) -> EBCCContext:
        k, m = votes.n_classes, int(self.n_subtypes)
        if space is None:
            space = np.bincount(votes.label, minlength=k) > 0
            space[gold.lab] = True
            if not space.any():  # no vote at all: every class
                space[:] = True
        ks = int(space.sum())
        compact = np.full(k, -1, np.int64)
        compact[space] = np.arange(ks)
        keep = space[votes.label]
        task, worker, label = votes.task, votes.worker, compact[votes.label]
        if not keep.all():  # new votes for a class outside the fitted space carry no information
            task, worker, label = task[keep], worker[keep], label[keep]
        pair_keys, pair_of_vote = group_index(worker * ks + label, votes.n_workers * max(ks, 1))
        n_pairs = pair_keys.size
        task_pair = vote_incidence(task, pair_of_vote, votes.n_tasks, n_pairs)
        pw, pl = np.divmod(pair_keys, max(ks, 1))
        starts = np.flatnonzero(np.r_[True, pw[1:] != pw[:-1]]) if n_pairs else np.zeros(0, np.int64)
        seg = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n_pairs]))
        beta = self._beta(ks)
        beta_pair = np.repeat(beta[:, pl].T, m, axis=1) if n_pairs else np.zeros((0, ks * m))
        # vote shares: the start of q(y), and the empirical prior of the class shares
        shares = np.bincount(task * ks + label, minlength=votes.n_tasks * ks).astype(float).reshape(-1, ks)
        counts = row_sum(shares)
        empty = ~(counts > 0)
        counts[empty] = 1.0
        shares /= counts[:, None]
        shares[empty] = 1.0 / max(ks, 1)
        gold_c = compact[gold.lab]
        if gold.idx.size:
            shares[gold.idx] = 0.0
            shares[gold.idx, gold_c] = 1.0
        if isinstance(self.class_prior, str):  # "empirical"
            alpha = np.einsum("ij->j", shares)
        else:
            alpha = np.full(ks, float(self.class_prior))
        beta_row = np.repeat(beta.sum(axis=1), m)
        kl_const = float(gammaln(beta_pair).sum() - starts.size * gammaln(beta_row).sum())
        return EBCCContext(space=space, n_sub=m, task_pair=task_pair, pair_task=task_pair.T, pair_worker=pw,
                           pair_label=pl, worker_starts=starts, pair_seg=seg, beta_pair=np.ascontiguousarray(beta_pair),
                           beta_row=beta_row, kl_const=kl_const, gold_idx=gold.idx, gold_lab=gold.lab,
                           gold_c=gold_c, rank=class_ranks(votes.classes)[space], shares=shares, alpha=alpha)

    def _beta(self, ks: int) -> np.ndarray:
        """The prior counts ``beta_kl`` of a confusion row on ``ks`` classes."""
        return np.where(np.eye(ks, dtype=bool), float(self.diagonal_prior), float(self.off_diagonal_prior))

    # ------------------------------------------------------------------ start
    def _init_state(self, votes: Votes, ctx: EBCCContext) -> np.ndarray:
        """Vote shares split over the subtypes by Dirichlet(1) draws keyed by task
        fingerprint, class rank and subtype (see Notes), from the restart's seed."""
        n, ks, m = votes.n_tasks, int(ctx.space.sum()), ctx.n_sub
        if ctx.task_fp is None:
            ctx.task_fp = _task_fingerprints(votes, class_ranks(votes.classes))
        rng = np.random.default_rng(ctx.seed)
        # one salt per (class rank, subtype): the draws follow the class, not its index
        salt = rng.integers(0, 2**63, size=(int(ctx.rank.max(initial=0)) + 1, m), dtype=np.uint64)[ctx.rank]
        Q = np.empty((n, ks * m))
        with np.errstate(over="ignore"):
            for c in range(ks):  # a column block at a time: no (n, K M) uint64 temporary
                z = splitmix64(ctx.task_fp[:, None] ^ salt[c][None, :])
                u = (z >> np.uint64(11)).astype(float) * 2.0**-53
                Q[:, c * m:(c + 1) * m] = -np.log1p(-u)  # Exp(1) draws: normalised, a Dirichlet(1)
        E = Q.reshape(n, ks, m)
        E /= E.sum(axis=2, keepdims=True)
        E *= ctx.shares[:, :, None]
        return Q

    def _clamp(self, ctx: EBCCContext, Q: np.ndarray) -> np.ndarray:
        if ctx.gold_idx.size:
            m = ctx.n_sub
            E = Q.reshape(Q.shape[0], -1, m)
            keep = E[ctx.gold_idx, ctx.gold_c].copy()
            tot = keep.sum(axis=1, keepdims=True)
            keep = np.divide(keep, tot, out=np.full_like(keep, 1.0 / m), where=tot > 0)
            E[ctx.gold_idx] = 0.0
            E[ctx.gold_idx, ctx.gold_c] = keep
        return Q

    # ------------------------------------------------------------------ steps
    def _m_step(self, votes: Votes, ctx: EBCCContext, Q: np.ndarray) -> EBCCParams:
        """The Dirichlet posteriors of ``tau``, ``pi_k`` and ``v_jkm`` given ``q(y, z)``,
        their ``E log`` and the KL terms of the ELBO; the worker counts only at the voted
        (worker, label) pairs: ``S = pair_task @ Q``."""
        ks, m = int(ctx.space.sum()), ctx.n_sub
        a, alpha = float(self.subtype_prior) / m, ctx.alpha
        N = np.einsum("ij->j", Q).reshape(ks, m)
        eta = a + N
        nu = alpha + N.sum(axis=1)
        S = ctx.pair_task @ Q  # (pairs, Ks M)
        G, kl_v = self._log_v(ctx, S)
        log_pi, kl_pi = _dirichlet_terms(eta, a)
        log_tau, kl_tau = _dirichlet_terms(nu[None, :], alpha[None, :])
        return EBCCParams(log_tau[0], log_pi, G, nu, eta, S, kl_v + kl_pi + kl_tau)

    @staticmethod
    def _log_v(ctx: EBCCContext, S: np.ndarray) -> tuple[np.ndarray, float]:
        """``E log v_jkml`` at the voted pairs and ``sum KL(q(v_jkm) || p(v_jkm))``.

        With ``mu = beta + S`` at the voted pairs (``beta`` elsewhere) and row totals
        ``A_jkm = sum_l beta_kl + n_jkm``, each KL is ``log Gamma(A) - log Gamma(B) - sum_l
        [log Gamma(mu) - log Gamma(beta)] + sum_l (mu - beta) E log v``: the unvoted
        cells add nothing, and a worker without votes nothing at all."""
        if not S.shape[0]:
            return S, 0.0
        n_jkm = np.add.reduceat(S, ctx.worker_starts, axis=0)
        A = n_jkm + ctx.beta_row
        mu = S + ctx.beta_pair
        G = digamma(mu)
        G -= digamma(A).take(ctx.pair_seg, axis=0)
        kl = float(gammaln(A).sum() - gammaln(mu).sum() + np.einsum("ij,ij->", S, G)) + ctx.kl_const
        return G, kl

    def _e_step(self, votes: Votes, ctx: EBCCContext, p: EBCCParams, state: Any) -> tuple[np.ndarray, float]:
        """``log q_i(k, m) = E log tau_k + E log pi_km + sum_votes E log v_jkml - log Z_i``;
        returns ``q`` and ``sum_i log Z_i``. A gold task keeps its class: the others are
        ruled out before normalising, so ``log Z_i`` is that of the observed class."""
        n = votes.n_tasks
        L = np.empty((n, p.G.shape[1]))
        L[...] = (p.log_tau[:, None] + p.log_pi).ravel()
        if p.G.shape[0]:
            add_csr_product(ctx.task_pair, p.G, L)
        if ctx.gold_idx.size:
            m = ctx.n_sub
            E = L.reshape(n, -1, m)
            keep = E[ctx.gold_idx, ctx.gold_c].copy()
            E[ctx.gold_idx] = -np.inf
            E[ctx.gold_idx, ctx.gold_c] = keep
        Q, lognorm = log_normalize(L, overwrite=True)
        return Q, float(lognorm.sum())

    def _log_prior(self, ctx: EBCCContext, p: EBCCParams) -> float:
        """Minus the KL terms of the ELBO."""
        return -p.kl

    # ------------------------------------------------------------------ outputs
    def _probas_of(self, Q: np.ndarray, ctx: EBCCContext) -> np.ndarray:
        n = Q.shape[0]
        P = np.zeros((n, ctx.space.size))
        P[:, ctx.space] = Q.reshape(n, -1, ctx.n_sub).sum(axis=2)
        return P

    def _finish(self, votes: Votes, ctx: EBCCContext, p: EBCCParams, Q: np.ndarray) -> None:
        k, m, w = votes.n_classes, ctx.n_sub, votes.n_workers
        space = ctx.space
        ks = int(space.sum())
        self.probas_ = self._probas_of(Q, ctx)
        self.labels_ = argmax_ties(self.probas_, tie=self.tie, random_state=self.random_state)
        # the Dirichlet posteriors on all K classes: prior values outside the label space
        a = float(self.subtype_prior) / m
        # a class outside the space: 1 (it only enters the warm start of partial_fit)
        nu = np.full(k, 1.0 if isinstance(self.class_prior, str) else float(self.class_prior))
        nu[space] = p.nu
        eta = np.full((k, m), a)
        eta[space] = p.eta
        beta = self._beta(k)
        mu = np.broadcast_to(beta[None, :, None, :], (w, k, m, k)).copy()  # (workers, K, M, K)
        if p.S is not None and p.S.shape[0]:
            sub = mu[:, space][:, :, :, space]  # a copy: filled, then written back
            sub[ctx.pair_worker, :, :, ctx.pair_label] += p.S.reshape(-1, ks, m)
            mu[np.ix_(np.arange(w), space, np.arange(m), space)] = sub
        self.dirichlet_counts_ = mu
        self._nu, self._eta = nu, eta
        self.priors_ = np.where(space, nu, 0.0) / nu[space].sum()
        weights = eta / eta.sum(axis=1, keepdims=True)
        self.subtype_weights_ = np.where(space[:, None], weights, 1.0 / m)
        conf = np.einsum("km,jkml->jkl", weights, mu / mu.sum(axis=3, keepdims=True))
        conf[:, ~space] = 1.0 / k
        sub = conf[:, space]
        sub[:, :, ~space] = 0.0
        sub /= sub.sum(axis=2, keepdims=True)
        conf[:, space] = sub
        self.confusions_ = conf
        self._space = space

    # ------------------------------------------------------------------ new votes
    def _fitted_params(self, votes: Votes, ctx: EBCCContext) -> EBCCParams:
        """The fitted Dirichlet posteriors on the label space and pairs of ``ctx`` (a
        class outside the fitted space, or a worker the fit never saw: the prior)."""
        space, m = ctx.space, ctx.n_sub
        ks = int(space.sum())
        log_tau = _e_log(self._nu[space])
        log_pi = _e_log(self._eta[space])
        idx = self._fitted_worker_index(votes)
        if ctx.pair_worker.size:
            fi = idx[ctx.pair_worker]
            mu = self.dirichlet_counts_[:, space][:, :, :, space]       # (W_fit, Ks, M, Ks)
            prior = self._beta(ks)[:, None, :]                             # (Ks, 1, Ks)
            tot = np.concatenate([mu.sum(axis=3), np.broadcast_to(prior.sum(axis=2), (1, ks, m))])
            cells = np.concatenate([mu, np.broadcast_to(prior, (1, ks, m, ks))])
            row = np.where(fi >= 0, fi, mu.shape[0])                       # unseen -> the prior row
            G = digamma(cells[row, :, :, ctx.pair_label]) - digamma(tot[row])
            G = np.ascontiguousarray(G.reshape(-1, ks * m))
        else:
            G = np.zeros((0, ks * m))
        return EBCCParams(log_tau, log_pi, G, None, None, None, 0.0)

    def _params_for(self, votes: Votes) -> EBCCParams:
        return self._fitted_params(votes, self._context(votes, space=self._space))

    def _warm_state(self, votes: Votes, ctx: EBCCContext) -> np.ndarray:
        """The E-step of the fitted posteriors on the union's label space."""
        return self._e_step(votes, ctx, self._fitted_params(votes, ctx), None)[0]

    def _predict_proba(self, votes: Votes) -> np.ndarray:
        """``q(y)`` of the tasks of ``votes`` from one E-step with the fitted posteriors
        (a worker the fit never saw: the prior; a vote for a class outside the fitted
        label space carries no information)."""
        check_same_classes(votes, self.classes_)
        ctx = self._context(votes, space=self._space)
        Q, _ = self._e_step(votes, ctx, self._fitted_params(votes, ctx), None)
        return self._probas_of(Q, ctx)

    def partial_fit(self, votes: Votes, gold: Any = None) -> EBCC:
        """Continue the fit with more votes: one run on ``votes_ + votes`` started from the
        E-step of the fitted posteriors (a new worker: the prior), no restarts."""
        return super().partial_fit(votes, gold=gold)


# ---------------------------------------------------------------------- helpers
def _e_log(c: np.ndarray) -> np.ndarray:
    """``E log x`` under ``Dirichlet(c)``, along the last axis."""
    return digamma(c) - digamma(c.sum(axis=-1, keepdims=True))


def _dirichlet_terms(c: np.ndarray, c0: float | np.ndarray) -> tuple[np.ndarray, float]:
    """``E log`` of each row's ``Dirichlet(c)`` and the sum over the rows of
    ``KL(Dir(c) || Dir(c0))`` (``c0`` a number or a row broadcast to ``c``)."""
    c0 = np.broadcast_to(np.asarray(c0, dtype=float), c.shape)
    tot = c.sum(axis=1)
    e_log = digamma(c) - digamma(tot)[:, None]
    kl = (gammaln(tot) - gammaln(c0.sum(axis=1)) - (gammaln(c) - gammaln(c0)).sum(axis=1)
          + ((c - c0) * e_log).sum(axis=1)).sum()
    return e_log, float(kl)


def _owner_hash(owner: np.ndarray, terms: np.ndarray, n: int) -> np.ndarray:
    """``sum of terms`` (uint64, modulo 2**64: order-free) per owner; 0 for none."""
    out = np.zeros(n, dtype=np.uint64)
    if owner.size == 0:
        return out
    order = np.argsort(owner, kind="stable")
    so = owner[order]
    starts = np.flatnonzero(np.r_[True, so[1:] != so[:-1]])
    with np.errstate(over="ignore"):
        out[so[starts]] = np.add.reduceat(terms[order], starts)
    return out


def _task_fingerprints(votes: Votes, rank: np.ndarray) -> np.ndarray:
    """A 64-bit key per task that no renaming or reordering changes: a hash of the
    multiset of (worker key, class rank) of its votes, where a worker's key is its vote
    profile refined once through the tasks it answered (two rounds of colour refinement
    on the vote graph). Classes enter by their rank among the class ids."""
    k = votes.n_classes
    lab = rank[votes.label].astype(np.uint64)
    codes = splitmix64(np.arange(1, k + 1, dtype=np.uint64) * np.uint64(0x51ED27))
    with np.errstate(over="ignore"):
        w0 = vote_profile_fingerprints(votes.worker, rank[votes.label], votes.n_workers, k)
        t1 = _owner_hash(votes.task, splitmix64(w0[votes.worker] ^ codes[lab]), votes.n_tasks)
        w1 = _owner_hash(votes.worker, splitmix64(t1[votes.task] + codes[lab]), votes.n_workers) ^ w0
        t2 = _owner_hash(votes.task, splitmix64(w1[votes.worker] ^ codes[lab]), votes.n_tasks)
    return splitmix64(t2)
