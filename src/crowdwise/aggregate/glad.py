"""GLAD: worker abilities and task difficulties, fitted by EM in log space.

Model (Whitehill et al. 2009, with the multi-class extension of their paper): the true
class of task i is ``y_i ~ Categorical(rho)``; worker j with ability ``alpha_j`` in R
answers task i, of inverse difficulty ``beta_i = exp(b_i) > 0``, correctly with
probability ``sigma(alpha_j beta_i)``, and otherwise gives one of the other ``K - 1``
classes uniformly. Gaussian priors ``alpha_j ~ N(1, 1/alpha_prior)`` and
``b_i ~ N(beta_mean, 1/beta_prior)`` (``beta_mean = 1`` by default, as in crowd-kit) keep
the estimates finite (a task on which everybody agrees would otherwise get ``beta =
inf``). EM alternates

- E-step: ``log T_ik = log rho_k + sum_{votes (i, j, l)} ([l = k] log sigma(s_v)
  + [l != k] (log sigma(-s_v) - log(K - 1))) - log Z_i`` with ``s_v = alpha_j beta_i``;
- M-step: (alpha, b) increase
  ``Q = sum_v (q_v s_v - softplus(s_v)) + log prior(alpha, b)`` where ``q_v = T_{i, l_v}``
  is the posterior probability that vote v is right (``Q`` is the expected complete
  log-likelihood up to terms free of alpha and b). The class shares ``rho`` are fixed
  (uniform by default, as in crowd-kit) or re-estimated, ``rho_k ∝ sum_i T_ik``.

The M-step has no closed form. Given b, ``Q`` is a sum of independent concave functions,
one per ``alpha_j``; given alpha, a sum of independent functions, one per ``b_i``. So the
M-step takes rounds of blockwise Newton steps: one step on every ``alpha_j`` at once, then
one on every ``b_i``, repeated until no parameter moves by more than 1e-3 (at most
``m_step_iter`` rounds, 3 by default); within a block the Hessian is diagonal, so a step
is a few ``np.bincount`` over the votes with the exact curvature of each coordinate. (A
joint gradient method, L-BFGS or conjugate gradient over the concatenated vector as in
crowd-kit, would have to learn curvatures that differ by orders of magnitude between a
worker with 5,000 votes and a task with 5.) Each coordinate's step is halved until that
coordinate's term of ``Q`` gains at least 0.45 of what the step's linear model promises
(Armijo's rule; a Newton step on a quadratic gains 0.5, one that jumps far past the
maximum much less, and is halved), so ``Q`` never decreases, and this generalised EM never
decreases its objective: the log marginal likelihood ``sum_i log P(votes_i)`` plus the log
priors of alpha and b (up to an additive constant).

The E-step works on the distinct (task, label) pairs of the votes: in a one-coin model the
classes without a vote on a task share one likelihood. An iteration is O(votes + n_tasks +
n_workers + K) in time and memory, whatever K; only ``probas_`` is a dense (n_tasks, K)
array, built once at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, TooLargeError
from ..votes import Votes
from ._base import Integer, Options, Real, Satisfies, argmax_ties
from ._driver import NO_GOLD, EMContext, EMStrategy, GoldLabels
from ._em import DEFAULT_MEMORY_BUDGET, Segments, safe_log
from .registry import register

__all__ = ["GLAD"]

#: prior mean of the abilities (the paper's choice: a worker is better than chance a priori)
ALPHA_MEAN = 1.0
#: bound on |b| = |log beta| so that exp(b) never overflows (beta in [3e-7, 3.3e6])
_B_BOUND = 15.0
#: largest Newton step on one coordinate (alpha, b) per M-step; the next M-step goes on
_MAX_STEP_ALPHA, _MAX_STEP_B = 4.0, 2.0
_HALVINGS = 20
#: a step is kept when it gains at least this share of what its linear model promises
#: (Armijo). A Newton step on a quadratic gains 1/2 of it; a step that overshoots far past
#: the maximum gains much less (from the start, alpha 1 -> -1 where the maximum is near
#: -0.3, accepted at 0.25, halved to alpha = 0 at 0.45)
_ARMIJO = 0.45
#: an M-step stops its rounds when no coordinate moves by more than this
_M_STEP_TOL = 1e-3


@register("GLAD")
class GLAD(EMStrategy):
    """GLAD (Generative model of Labels, Abilities and Difficulties), multi-class.

    ``P(worker j answers the true class of task i) = sigma(alpha_j beta_i)``, wrong
    answers uniform over the other ``K - 1`` classes; ``alpha_j`` in R is the ability of
    worker j (negative: adversarial), ``beta_i = exp(b_i) > 0`` the inverse difficulty of
    task i (small beta: even good workers answer at random). Fitted by a generalised EM
    in log space whose objective never decreases; see the module docstring for the steps.
    ``fit(votes, gold=...)`` clamps known tasks and ``partial_fit`` continues a fit with
    more votes, as for the other EM strategies (:class:`~crowdwise.aggregate._driver.EMStrategy`).

    Parameters
    ----------
    max_iter : int, default=100
        Number of EM iterations at most.
    tol : float, default=1e-6
        Stop when the relative change of the objective is below ``tol``.
    alpha_prior : float, default=1.0
        Precision (inverse variance) of the Gaussian prior ``N(1, 1/alpha_prior)`` on the
        abilities; 0 removes it (maximum likelihood).
    beta_prior : float, default=1.0
        Precision of the Gaussian prior ``N(beta_mean, 1/beta_prior)`` on ``b = log
        beta``; 0 removes it (then a unanimous task drifts to a very large ``beta``,
        bounded at ``exp(15)``).
    beta_mean : float, default=1.0
        Prior mean of ``b = log beta``, also the starting value of every ``b``. 1 (a
        task's inverse difficulty ``e`` a priori) is crowd-kit's choice; it matches
        crowd-kit's accuracy on the 500k-vote benchmark crowd and costs nothing on the
        real sets (figures: ``docs/dev/performance.md``, "Figures behind docstrings").
    class_priors : {"uniform", "learn"} or array-like of shape (n_classes,), default="uniform"
        Class shares ``rho``. ``"uniform"`` keeps them fixed and equal over the classes
        that received at least one vote (0 for a class nobody voted for), as crowd-kit
        does; ``"learn"`` re-estimates them at each M-step (``rho_k ∝ sum_i
        T_ik``); an array fixes them (normalised). Learning them can run away towards
        the most voted class (as on bluebirds: ``docs/dev/performance.md``, "Figures
        behind docstrings"), hence the fixed default.
    m_step_iter : int, default=3
        Rounds of blockwise Newton steps (alpha then b) per M-step at most; the M-step
        stops earlier once no alpha or b moves by more than 1e-3 in a round. Three rounds
        reach the objective of 20 rounds on peerannot's simulated crowds at a fraction of
        the time. One round was not always enough: with one round and a step kept as soon
        as it did not decrease ``Q`` (before issue 16), the first step from the start
        (``alpha = 1``, ``beta = e``, saturated sigmoids) overshot the abilities below 0
        and EM climbed to a much worse optimum. The step control now avoids that
        overshoot, and the extra rounds bring the M-step closer to its optimum. The
        measurements behind this default are in ``docs/dev/performance.md`` ("Figures
        behind docstrings").
    init : {"naivesoft", "mv"}, default="naivesoft"
        Initial task posteriors: vote shares, or one-hot majority vote (a tie shared
        equally by its classes, never broken by class index). Abilities start at 1,
        difficulties at the prior mean ``b = beta_mean``.
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_`` (argmax of ``probas_``).
    random_state : int or None
        Seed of the tie rule.
    verbose : bool, default=False
        Print the objective at each iteration on standard error (the EM driver's report;
        :func:`~crowdwise.aggregate.fit_progress` takes the same reports as a callback).
    memory_budget : float or None
        Bytes allowed for the dense ``(n_tasks, K)`` output ``probas_`` and its work copy
        (default 4 GiB); above, ``fit`` refuses with a clear message. The iterations
        themselves need O(votes + n_tasks + K) memory.

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes)
        Posterior ``T``. A task without a vote gets ``priors_``.
    labels_ : ndarray (n_tasks,)
    abilities_ : ndarray (n_workers,)
        ``alpha``; a worker without a vote keeps the prior mean 1.
    difficulties_ : ndarray (n_tasks,)
        ``beta = exp(b) > 0`` (inverse difficulty: large is easy); ``exp(beta_mean)``
        (e by default) for a task without a vote.
    priors_ : ndarray (n_classes,)
        Class shares ``rho`` (fixed or learnt, see ``class_priors``).
    log_likelihood_ : list of float
        Objective after each E-step: log marginal likelihood (of the votes, and of the
        gold labels when given) plus log priors of alpha and b (up to a constant);
        non-decreasing.
    n_iter_ : int
    converged_ : bool
    votes_ : Votes
        The votes of the fit (a reference, not a copy), kept for :meth:`partial_fit`.
    gold_ : mapping or None
        The gold labels of the fit.

    Notes
    -----
    ``predict_proba(new_votes)`` runs one E-step with the fitted abilities (a worker
    unseen at fit time gets the vote-weighted mean ability), the fitted difficulty of a
    task seen at fit time and the prior mean ``b = beta_mean`` for a new task, and
    ``priors_``; it does not refit. ``partial_fit`` starts from the same values.

    With two classes the model is symmetric under ``alpha -> -alpha`` with the labels
    swapped; starting from ``alpha = 1`` and the vote shares selects the solution in
    which workers are better than chance on average.

    References
    ----------
    J. Whitehill, P. Ruvolo, T. Wu, J. Bergsma and J. Movellan, "Whose vote should count
    more: optimal integration of labels from labelers of unknown expertise", NIPS 2009.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2, 2], ["a", "b", "c"] * 3,
    ...                        [0, 0, 1, 1, 1, 1, 0, 0, 0])
    >>> glad = GLAD(tie="smallest").fit(v)
    >>> glad.labels_.tolist(), bool(glad.converged_)
    ([0, 1, 0], True)
    >>> bool(glad.abilities_[0] > glad.abilities_[2])  # "c" disagreed once
    True
    >>> bool(glad.difficulties_[0] < glad.difficulties_[1])  # task 0 is the harder one
    True
    """

    description = "GLAD: worker ability x task difficulty (one-coin, sigmoid), EM with blockwise Newton M-step."
    scales_to_many_classes = True
    # with fixed uniform class shares a lone vote decides its task (its class gets
    # sigma(alpha beta) against (1 - sigma)/(K - 1) for each other class, and nothing
    # pulls alpha below its prior mean); with class_priors="learn" the shares may take over
    single_vote_is_label = True

    def __init__(self, max_iter: int = 100, tol: float = 1e-6, alpha_prior: float = 1.0,
                 beta_prior: float = 1.0, class_priors: Any = "uniform", m_step_iter: int = 3,
                 init: str = "naivesoft", tie: str = "random", random_state: int | None = None,
                 verbose: bool = False, memory_budget: float | None = None, beta_mean: float = 1.0):
        self.max_iter = max_iter
        self.tol = tol
        self.alpha_prior = alpha_prior
        self.beta_prior = beta_prior
        self.beta_mean = beta_mean
        self.class_priors = class_priors
        self.m_step_iter = m_step_iter
        self.init = init
        self.tie = tie
        self.random_state = random_state
        self.verbose = verbose
        self.memory_budget = memory_budget

    # ------------------------------------------------------------------ hooks
    parameter_rules = {
        "alpha_prior": Real(0, help="the precision of the Gaussian prior on the abilities (0: none)"),
        "beta_prior": Real(0, help="the precision of the Gaussian prior on b = log beta (0: none)"),
        "beta_mean": Real(-_B_BOUND, _B_BOUND, help="the prior mean of b = log beta, within the bounds of b "
                          "(1: crowd-kit's, the default; 0: beta = 1 a priori)"),
        "m_step_iter": Integer(1, help="the rounds of Newton steps per M-step"),
        "init": Options("naivesoft", "mv", noun="an initialisation"),
        # the length (one share per class) is checked against the votes in _fixed_priors
        "class_priors": Options("uniform", "learn", noun="a choice of class priors") | Satisfies(
            lambda v: not isinstance(v, str) and np.asarray(v, dtype=float).ndim == 1,
            "an array of one non-negative share per class"),
    }

    def _validate(self, votes: Votes) -> None:
        self._fixed_priors(votes)
        _check_dense_budget(votes.n_tasks, votes.n_classes, self.memory_budget)

    def _fixed_priors(self, votes: Votes) -> np.ndarray | None:
        """The fixed class shares, or None when they are learnt."""
        k = votes.n_classes
        cp = self.class_priors
        if isinstance(cp, str):
            if cp == "learn":
                return None
            if cp == "uniform":
                seen = (np.bincount(votes.label, minlength=k) > 0).astype(float)
                return seen / seen.sum() if seen.sum() > 0 else np.full(k, 1.0 / k)
            raise InputError(f"class_priors={cp!r} is not a choice",
                             fix="use 'uniform', 'learn' or an array of one share per class")
        p = np.asarray(cp, dtype=float)
        if p.shape != (k,) or not np.all(np.isfinite(p)) or np.any(p < 0) or p.sum() <= 0:
            raise InputError(f"class_priors must hold {k} non-negative shares (one per class) with a "
                             f"positive sum, got {cp!r}")
        return p / p.sum()

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> _Cells:
        return _Cells.from_votes(votes, gold.idx, gold.lab)

    def _init_state(self, votes: Votes, c: _Cells) -> _GladState:
        n, k = votes.n_tasks, votes.n_classes
        if self.init == "mv":  # the most voted cells of each task, a tie shared equally
            top = np.zeros(n)
            if c.count.size:
                starts = np.flatnonzero(np.r_[True, c.task[1:] != c.task[:-1]])
                top[c.task[starts]] = np.maximum.reduceat(c.count, starts)
            post = ((c.count == top[c.task]) & (c.count > 0)).astype(float)
        else:
            post = c.count.copy()
        tot = np.bincount(c.task, weights=post, minlength=n)
        post = np.divide(post, tot[c.task], out=np.zeros_like(post), where=tot[c.task] > 0)
        # the initial posteriors give no mass to the classes without a vote on a task
        log_z = np.where(tot > 0, np.inf, 0.0)
        priors = self._fixed_priors(votes)
        if priors is None:
            colsum = np.bincount(c.label, weights=post, minlength=k)
            priors = colsum / colsum.sum() if colsum.sum() > 0 else np.full(k, 1.0 / k)
        alpha, b = np.full(votes.n_workers, ALPHA_MEAN), np.full(n, float(self.beta_mean))
        return _GladState(post, log_z, priors, alpha, b, _vote_state(alpha[votes.worker] * np.exp(b)[votes.task]))

    def _clamp(self, c: _Cells, s: _GladState) -> _GladState:
        if c.gold_idx.size:
            is_gold = np.zeros(s.log_z.size, bool)
            is_gold[c.gold_idx] = True
            s.post[is_gold[c.task]] = 0.0
            s.post[c.gold_cell] = 1.0
            s.log_z[c.gold_idx] = np.inf  # the classes without a cell get exp(-inf) = 0
        return s

    def _m_step(self, votes: Votes, c: _Cells, s: _GladState) -> _GladParams:
        """Class shares (closed form, when learnt), then blockwise Newton on alpha and b."""
        priors = self._fixed_priors(votes)
        if priors is None:
            priors = c.class_totals(s.post, s.log_z, s.priors)
            priors = priors / priors.sum()
        task, worker = votes.task, votes.worker
        q = s.post[c.of_vote]
        alpha, b, state = s.alpha, s.b, s.votes
        lam_a, lam_b = float(self.alpha_prior), float(self.beta_prior)
        for _ in range(int(self.m_step_iter)):
            alpha, state, da = _newton_block(alpha, worker, np.exp(b)[task], q, lam_a, ALPHA_MEAN, state,
                                             log_scale=False, max_step=_MAX_STEP_ALPHA)
            b, state, db = _newton_block(b, task, alpha[worker], q, lam_b, float(self.beta_mean), state,
                                         log_scale=True, max_step=_MAX_STEP_B)
            if max(da, db) <= _M_STEP_TOL:
                break
        return _GladParams(priors, alpha, b, state)

    def _e_step(self, votes: Votes, c: _Cells, params: _GladParams, state: Any) -> tuple[_GladState, float]:
        vs = params.votes
        if vs is None:  # from fitted parameters (predict_proba, warm start)
            vs = _vote_state(params.alpha[votes.worker] * np.exp(params.b)[votes.task])
        post, log_z, loglik = c.e_step(vs, params.priors)
        return _GladState(post, log_z, params.priors, params.alpha, params.b, vs), loglik

    def _log_prior(self, c: _Cells, params: _GladParams) -> float:
        """Gaussian log priors of alpha and b, without their constants."""
        return float(-0.5 * self.alpha_prior * np.sum((params.alpha - ALPHA_MEAN) ** 2)
                     - 0.5 * self.beta_prior * np.sum((params.b - float(self.beta_mean)) ** 2))

    def _finish(self, votes: Votes, c: _Cells, params: _GladParams, s: _GladState) -> None:
        self.priors_ = s.priors
        self.abilities_ = s.alpha
        self.difficulties_ = np.exp(s.b)
        self.probas_ = self._probas_of(s, c)
        self.labels_ = argmax_ties(self.probas_, tie=self.tie, random_state=self.random_state)

    def _probas_of(self, s: _GladState, c: _Cells) -> np.ndarray:
        _check_dense_budget(c.n_tasks, c.n_classes, self.memory_budget)
        return c.dense(s.post, s.log_z, s.priors)

    def _params_for(self, votes: Votes) -> _GladParams:
        """Fitted abilities of the workers of ``votes`` (unseen: the vote-weighted mean),
        fitted ``b`` of its tasks (unseen: the prior mean ``beta_mean``), fitted class shares."""
        idx = self._fitted_worker_index(votes)
        wts = self._fitted_worker_votes()
        default = float(np.sum(self.abilities_ * wts) / wts.sum()) if wts.sum() > 0 else ALPHA_MEAN
        alpha = np.where(idx >= 0, self.abilities_[np.maximum(idx, 0)], default)
        t_idx = Votes.match_ids(votes.task_ids, self.task_ids_)  # a new task: the prior mean
        b = np.full(votes.n_tasks, float(self.beta_mean))
        b[t_idx >= 0] = np.log(self.difficulties_)[t_idx[t_idx >= 0]]
        return _GladParams(self.priors_, alpha, b, None)


# ---------------------------------------------------------------------- kernels
#
# Per vote, the kernels keep a "state" (s, e, sp): s = alpha_j beta_i, e = exp(-|s|) and
# sp = softplus(s) = log(1 + exp(s)) = max(s, 0) + log1p(e), so that log sigma(s) =
# s - sp and log sigma(-s) = -sp never overflow nor take log(0). From e, sigma(s) and
# sigma(s) sigma(-s) follow by arithmetic, so a state costs one exp and one log1p per
# vote (these transcendental functions are most of the time of an iteration), and each
# block step hands the next one, and the E-step, the state at the new parameters.
_State = tuple[np.ndarray, np.ndarray, np.ndarray]


def _vote_state(s: np.ndarray) -> _State:
    """``(s, exp(-|s|), softplus(s))``."""
    # in place where possible: fresh per-vote temporaries cost page faults at 1M votes
    e = np.abs(s)
    np.negative(e, out=e)
    np.exp(e, out=e)
    sp = np.maximum(s, 0.0)
    sp += np.log1p(e)
    return s, e, sp


def _sigmoids(state: _State) -> tuple[np.ndarray, np.ndarray]:
    """``sigma(s)`` and ``sigma(s) sigma(-s)`` from a state, by arithmetic only."""
    s, e, _ = state
    inv = 1.0 + e
    np.reciprocal(inv, out=inv)
    # sigma(s) = 1/(1+e) for s >= 0 and e/(1+e) for s < 0, i.e. 1/2 +- (1-e)/(2(1+e))
    sig = 1.0 - e
    sig *= inv
    sig *= 0.5
    np.copysign(sig, s, out=sig)
    sig += 0.5
    var = e * inv
    var *= inv
    return sig, var


@dataclass
class _GladParams:
    """Parameters of an M-step, and the vote state at them (None: compute it)."""

    priors: np.ndarray  # (K,) rho
    alpha: np.ndarray  # (n_workers,)
    b: np.ndarray  # (n_tasks,) log beta
    votes: _State | None


@dataclass
class _GladState:
    """Posterior (``post`` on the cells, ``rho_k exp(-log_z_i)`` on the other classes) and
    the parameters it comes from, where the next M-step starts its Newton steps."""

    post: np.ndarray
    log_z: np.ndarray
    priors: np.ndarray
    alpha: np.ndarray
    b: np.ndarray
    votes: _State


@dataclass
class _Cells(EMContext):
    """The distinct (task, label) pairs of the votes and of the gold labels ("cells"),
    sorted by task: the per-fit context of GLAD.

    In a one-coin model all the classes nobody voted for on task i share one likelihood,
    so the posterior of task i is its value on each cell plus one number per task
    (``log Z'_i``): the E-step is O(votes) whatever K, and only the output is dense.
    """

    n_tasks: int
    n_classes: int
    task: np.ndarray  # (n_cells,) task of each cell, sorted
    label: np.ndarray  # (n_cells,)
    count: np.ndarray  # (n_cells,) votes in each cell (0 for a gold-only cell)
    of_vote: np.ndarray  # (n_votes,) cell of each vote
    task_of_vote: np.ndarray  # (n_votes,)
    by_task: Segments  # the cells of each task with a cell
    gold_cell: np.ndarray  # the cell of each gold label (``gold_idx``, ``gold_lab``)

    @classmethod
    def from_votes(cls, votes: Votes, gold_idx: np.ndarray | None = None,
                   gold_lab: np.ndarray | None = None) -> "_Cells":
        k, nv = votes.n_classes, votes.n_votes
        gold_idx = np.zeros(0, np.int64) if gold_idx is None else gold_idx
        gold_lab = np.zeros(0, np.int64) if gold_lab is None else gold_lab
        keys, inverse = np.unique(np.concatenate([votes.task * k + votes.label, gold_idx * k + gold_lab]),
                                  return_inverse=True)
        inverse = inverse.ravel()
        of_vote = inverse[:nv]
        task, label = np.divmod(keys, k)
        count = np.bincount(of_vote, minlength=keys.size).astype(float)
        return cls(votes.n_tasks, k, task, label, count, of_vote, votes.task, Segments.from_keys(task),
                   inverse[nv:], gold_idx=gold_idx, gold_lab=gold_lab)

    def e_step(self, state: _State, priors: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """Posterior of each cell, ``log Z'_i`` per task, and the log marginal likelihood
        (of the votes and of the gold labels, when there are some).

        A vote of task i adds ``log sigma(-s_v) - log(K-1)`` to every class of task i and
        ``log sigma(s_v) - log sigma(-s_v) + log(K-1) = s_v + log(K-1)`` more to its own
        label. So ``log P(votes_i, y_i = k) = C_i + log rho_k + D_ik`` with ``C_i`` the sum
        of the first terms and ``D_ik`` the sum of ``s_v + log(K-1)`` over the votes for k
        (0 when k got no vote), and ``log P(votes_i) = C_i + log Z'_i`` with
        ``Z'_i = sum_{voted k} rho_k exp(D_ik) + U_i``, ``U_i`` the prior mass of the
        classes without a vote on task i, each of which has posterior
        ``rho_k exp(-log Z'_i)``.
        """
        s, _, sp = state
        n, k = self.n_tasks, self.n_classes
        log_k1 = np.log(k - 1) if k > 1 else 0.0  # K = 1: the only class is certain anyway
        c = np.bincount(self.task_of_vote, weights=-sp - log_k1, minlength=n)
        d = np.bincount(self.of_vote, weights=s + log_k1, minlength=self.task.size)
        r = safe_log(priors)[self.label] + d  # log rho_k + D_ik on the cells (-inf where rho_k = 0)
        unvoted = np.maximum(1.0 - np.bincount(self.task, weights=priors[self.label], minlength=n), 0.0)
        log_u = safe_log(unvoted)
        m = log_u.copy()  # per-task maximum, for a log-sum-exp without overflow
        seg = self.by_task
        if seg.keys.size:
            m[seg.keys] = np.maximum(m[seg.keys], np.maximum.reduceat(r, seg.starts))
        tot = np.bincount(self.task, weights=np.exp(r - m[self.task]), minlength=n) + np.exp(log_u - m)
        log_z = m + np.log(tot)  # tot >= 1: one of its terms is exp(0)
        post = np.exp(r - log_z[self.task])
        # a gold task is observed with its label: its term is log P(votes_i, y_i = gold)
        log_p = log_z.copy()
        log_p[self.gold_idx] = r[self.gold_cell]
        return post, log_z, float(np.sum(c + log_p))

    def class_totals(self, post: np.ndarray, log_z: np.ndarray, priors: np.ndarray) -> np.ndarray:
        """``sum_i T_ik`` over the tasks with a vote (the M-step of ``rho``), in O(cells + K).

        A class without a vote on task i has posterior ``rho_k exp(-log Z'_i)``: its total
        is ``rho_k`` times the sum of ``exp(-log Z'_i)`` over the voted tasks less the
        terms of the tasks where k was voted (clipped at 0 against rounding).
        """
        k = self.n_classes
        has = self.by_task.keys
        w_task = np.zeros(self.n_tasks)
        w_task[has] = np.exp(np.minimum(-log_z[has], 700.0))
        rest = w_task.sum() - np.bincount(self.label, weights=w_task[self.task], minlength=k)
        return np.bincount(self.label, weights=post, minlength=k) + priors * np.maximum(rest, 0.0)

    def dense(self, post: np.ndarray, log_z: np.ndarray, priors: np.ndarray) -> np.ndarray:
        """The ``(n_tasks, K)`` posteriors; a task without a vote gets ``priors``."""
        T = np.exp(safe_log(priors)[None, :] - log_z[:, None])
        T[self.task, self.label] = post
        return T


def _block_terms(theta: np.ndarray, idx: np.ndarray, coef: np.ndarray, q: np.ndarray, lam: float,
                 mean: float, state: _State, log_scale: bool
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`block_derivatives` from the vote state at ``theta``."""
    n = theta.size
    s, _, sp = state
    r, var = _sigmoids(state)
    np.subtract(q, r, out=r)  # q - sigma(s): d/ds of the vote's term q s - softplus(s)
    ds = s if log_scale else coef
    dev = theta - mean
    w = q * s
    w -= sp
    f = np.bincount(idx, weights=w, minlength=n) - 0.5 * lam * dev * dev
    np.multiply(r, ds, out=w)
    grad = np.bincount(idx, weights=w, minlength=n) - lam * dev
    var *= ds
    var *= ds
    fisher = np.bincount(idx, weights=var, minlength=n) + lam
    # log scale: d2s/db2 = s adds sum_v (q - sigma) s to the second derivative
    curv = fisher - np.bincount(idx, weights=np.multiply(r, s, out=w), minlength=n) if log_scale else fisher
    return f, grad, curv, fisher


def block_derivatives(theta: np.ndarray, idx: np.ndarray, coef: np.ndarray, q: np.ndarray,
                      lam: float, mean: float, *, log_scale: bool
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Terms of the M-step objective for one block of parameters, and their derivatives.

    The block is alpha (``idx`` = worker of each vote, ``coef`` = beta of its task,
    ``s = theta[idx] * coef``) or b (``idx`` = task, ``coef`` = alpha of its worker,
    ``s = coef * exp(theta[idx])``, ``log_scale=True``). Given the other block, the
    objective ``Q = sum_v (q_v s_v - softplus(s_v)) - lam/2 sum (theta - mean)^2`` is a sum
    of one term per coordinate, so the Hessian of the block is diagonal.

    Returns
    -------
    f : (n,) term of each coordinate (votes of that worker / task, plus its prior)
    grad : (n,) ``dQ/dtheta``
    curv : (n,) ``-d2Q/dtheta2`` (may be <= 0 in the b block, where Q is not concave)
    fisher : (n,) ``sum_v sigma(s) sigma(-s) (ds/dtheta)^2 + lam``
    """
    s = theta[idx] * coef if not log_scale else coef * np.exp(theta[idx])
    return _block_terms(theta, idx, coef, q, lam, mean, _vote_state(s), log_scale)


def _newton_block(theta: np.ndarray, idx: np.ndarray, coef: np.ndarray, q: np.ndarray, lam: float,
                  mean: float, state: _State, *, log_scale: bool, max_step: float
                  ) -> tuple[np.ndarray, _State, float]:
    """One Newton step on every coordinate of a block, halved per coordinate until its
    term of Q gains at least ``_ARMIJO`` times the linear prediction ``t grad step`` (then
    Q as a whole does not decrease).

    Where the b block is not locally concave, the Fisher curvature replaces the Hessian; a
    step is at most ``max_step``. Halvings only touch the votes of the coordinates still
    rejected. Returns the new parameters, the vote state there and the largest move.
    """
    f0, grad, curv, fisher = _block_terms(theta, idx, coef, q, lam, mean, state, log_scale)
    h = np.maximum(curv, 0.5 * fisher)
    step = np.divide(grad, h, out=np.zeros_like(grad), where=h > 0)
    np.clip(step, -max_step, max_step, out=step)
    active = step != 0
    if not active.any():
        return theta, state, 0.0
    gain = grad * step  # >= 0: what the linear model promises for the full step
    new = theta.copy()
    out: list[np.ndarray] = []  # vote state at the new parameters
    sel: Any = slice(None)  # votes evaluated: all at first, then those of rejected coordinates
    t = 1.0
    for _ in range(_HALVINGS):
        cand = theta + t * step
        if log_scale:
            np.clip(cand, -_B_BOUND, _B_BOUND, out=cand)
        i_sel = idx[sel]
        s_c = cand[i_sel]
        if log_scale:
            np.exp(s_c, out=s_c)
        s_c *= coef[sel]
        st = _vote_state(s_c)
        dev = cand - mean
        w = q[sel] * s_c
        w -= st[2]
        f1 = np.bincount(i_sel, weights=w, minlength=theta.size) - 0.5 * lam * dev * dev
        ok = active & (f1 >= f0 + _ARMIJO * t * gain)
        new[ok] = cand[ok]
        active &= ~ok
        if not out:  # first try, on every vote: keep it, restore the votes of rejected coordinates
            out = list(st)
            sel = np.flatnonzero(active[idx])
            for a, old in zip(out, state):
                a[sel] = old[sel]
        else:
            took = ok[i_sel]
            for a, a_c in zip(out, st):
                a[sel[took]] = a_c[took]
            sel = sel[~took]
        if not active.any():
            break
        t *= 0.5
    return new, (out[0], out[1], out[2]), float(np.max(np.abs(new - theta)))


def _check_dense_budget(n_tasks: int, k: int, budget: float | None) -> None:
    budget = DEFAULT_MEMORY_BUDGET if budget is None else budget
    need = 2 * 8.0 * n_tasks * k  # the dense posteriors and one temporary of their size
    if need > budget:
        raise TooLargeError(
            f"GLAD keeps dense (n_tasks, K) posteriors: {n_tasks:,} tasks x {k:,} classes need about "
            f"{need / 2**30:.1f} GiB, above the memory budget of {budget / 2**30:.1f} GiB. At this size use "
            f"MV, NaiveSoft, WAWA, TwoThird or PlantNet (sparse soft labels), or raise the budget with "
            f"memory_budget=... if the machine has the memory.")
