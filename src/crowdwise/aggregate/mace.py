"""MACE: Multi-Annotator Competence Estimation, by EM or variational Bayes, in log space.

Model (Hovy, Berg-Kirkpatrick, Vaswani & Hovy 2013): the true class of task i is
``T_i ~ Uniform(K)``; on each vote worker j either knows the answer (probability
``theta_j``, its *competence*) and gives ``T_i``, or spams (probability ``1 - theta_j``) and
draws a class from its own *spamming distribution* ``xi_j``. So

    ``P(worker j answers l | T_i = k) = theta_j [l = k] + (1 - theta_j) xi_jl``.

Every vote ``(i, j, l)`` contributes ``c = (1 - theta_j) xi_jl`` to every class and
``theta_j`` more to class ``l``, so with ``g = log(theta_j + c) - log c >= 0``

    ``log P(T_i = k | votes) = const_i + sum_{votes (i, j, k)} g_jk``:

a per-(task, class) sum over the *(task, class) pairs that received a vote*, the other
classes of the task sharing one value. The E-step is therefore a sparse product over the
votes and the M-step a count per (worker, class) pair: O(votes) work and memory per
iteration, whatever K, and no loop over votes, tasks or workers.

EM (``method="em"``) adds ``smoothing`` to the expected counts (MAP with Beta/Dirichlet
priors of shape ``1 + smoothing``) and maximises ``sum_i log P(votes_i) + smoothing *
(sum log theta + sum log(1 - theta) + sum log xi)``. Variational Bayes (``method="vb"``,
the default of the MACE tool) puts ``1 - theta_j ~ Beta(alpha, beta)`` and ``xi_j ~
Dirichlet(dirichlet)`` and maximises the evidence lower bound
``ELBO = sum_i log Z~_i - sum_j KL(q(theta_j) || p) - sum_j KL(q(xi_j) || p)``, where
``Z~_i`` is the normaliser of task i computed with ``exp E_q[log theta]``, ``exp E_q[log(1 -
theta)]`` and ``exp E_q[log xi]`` (mean-field coordinate ascent: never decreases).

``partial_fit(new_votes)`` continues on the union of the votes, one run started from the
fitted worker parameters (a new worker from their vote-weighted mean) instead of the
random restarts. The iterations, the restarts (``n_restarts``: the driver's ``n_init``)
and ``partial_fit`` are those of the EM driver (:mod:`crowdwise.aggregate._driver`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import sparse
from scipy.special import digamma, gammaln

from ..votes import Votes
from ._base import Integer, Options, Real, argmax_ties, class_ranks
from ._driver import NO_GOLD, EMContext, EMStrategy, GoldLabels, check_same_classes
from ._em import check_budget, group_index, hashed_uniforms, vote_profile_fingerprints
from .registry import register

__all__ = ["MACE"]

_LOG_TINY = float(np.log(np.finfo(float).tiny))  # floor of log c: keeps g finite when c -> 0
_ALTERNATIVES = "MV, NaiveSoft, WAWA, TwoThird, PlantNet (O(votes) whatever K)"


@register("MACE")
class MACE(EMStrategy):
    """MACE: a competence and a spamming distribution per worker (EM or variational Bayes).

    Each worker j knows the answer with probability ``theta_j`` (``competences_``) and
    otherwise answers from its spamming distribution ``xi_j`` (``spam_distributions_``);
    the true labels have a uniform prior over the classes that received a vote (the label
    set of the MACE tool: a class nobody voted for gets probability 0).

    Parameters
    ----------
    method : {"vb", "em"}, default="vb"
        Variational Bayes with Beta / Dirichlet priors (the default of the MACE tool since
        version 0.3), or EM with ``smoothing``.
    n_restarts : int, default=10
        Random restarts (MACE's default); restart r starts from ``1 - theta_j, theta_j ∝
        1 + init_noise * u`` and ``xi_jl ∝ 1 + init_noise * u`` with uniforms ``u`` drawn from
        its own seed ``np.random.SeedSequence(random_state).spawn(n_restarts)[r]``. The
        restart with the highest final objective is kept (the first one among equals
        within 1e-9 relative): the EM driver's restarts (``n_init``).
    max_iter : int, default=50
        Iterations per restart (MACE runs 50).
    tol : float, default=1e-6
        Stop a restart when the relative change of its objective is below ``tol``
        (``tol=0`` runs ``max_iter`` iterations, as MACE does).
    smoothing : float or None, default=None
        EM only: added to every expected count; None means ``0.01 / K`` (MACE's default,
        with ``K`` the number of classes that received a vote).
    alpha, beta : float, default=0.5
        VB only: ``1 - theta_j ~ Beta(alpha, beta)``, i.e. ``theta_j ~ Beta(beta, alpha)``
        (MACE's convention: ``alpha > beta`` expects most workers to spam; 0.5 and 0.5
        favour the extremes: a worker either tries or does not).
    dirichlet : float, default=10.0
        VB only: symmetric Dirichlet prior of each ``xi_j`` (the MACE tool's value).
    init_noise : float, default=0.5
        Amplitude of the random initialisation (MACE's default).
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``.
    random_state : int, Generator or None
    memory_budget : float or None
        Bytes allowed for the dense outputs ``probas_`` and ``spam_distributions_``
        (default 4 GiB); above, ``fit`` refuses with a message naming methods that can run.

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes)
        Posterior of the true labels (``q(T)`` for VB).
    labels_ : ndarray (n_tasks,)
    competences_ : ndarray (n_workers,)
        ``theta_j`` (VB: posterior mean ``E_q[theta_j]``). A worker without vote gets the
        prior value.
    spam_distributions_ : ndarray (n_workers, n_classes)
        ``xi_j`` (VB: posterior mean); 0 for classes outside the label set.
    log_likelihood_ : list of float
        Objective of the kept restart after each E-step: the (smoothed) log-likelihood for
        EM, starting at the initial parameters; the ELBO for VB, from the first iteration.
        Never decreases.
    restart_log_likelihoods_ : list of list of float
        The objective history of every restart.
    best_restart_ : int
        Index of the kept restart.
    n_iter_ : int
        Iterations of the kept restart.
    converged_ : bool
        Whether the kept restart met ``tol`` before ``max_iter`` (if not, with ``tol > 0``,
        the fit warns with a :class:`~crowdwise.aggregate.ConvergenceWarning`).
    votes_ : Votes
        The votes of the fit (a reference, not a copy), kept for :meth:`partial_fit`,
        which continues the fit on ``votes_`` plus new votes from the fitted parameters
        (one warm run instead of the restarts).

    Notes
    -----
    Invariance: the random draws of a worker are a function of the restart's seed and of
    the worker's vote profile (its number of votes for each class), never of its id or of
    its position, so the result does not depend on how tasks and workers are named or
    ordered. Workers with the same profile start from the same values. Classes enter the
    draws (the profile, and the draw of ``xi_jl``) by their rank among the class ids, not
    by their index, so listing the classes in another order permutes the fit with them.

    References
    ----------
    D. Hovy, T. Berg-Kirkpatrick, A. Vaswani and E. Hovy, "Learning whom to trust with
    MACE", NAACL-HLT 2013, pp. 1120-1130.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2, 2], ["a", "b", "c"] * 3,
    ...                        [0, 0, 1, 1, 1, 1, 0, 0, 0])
    >>> m = MACE(random_state=0, tie="smallest").fit(v)
    >>> m.labels_.tolist()
    [0, 1, 0]
    >>> bool(m.competences_[2] < m.competences_[0])
    True
    """

    description = "MACE: per-worker competence and spamming distribution (Hovy et al. 2013), VB or EM, restarts."
    scales_to_many_classes = False  # the kernels are O(votes), but the outputs are dense (n, K)
    random_starts = True  # each restart draws its start from its own seed (the driver's n_init runs)
    supports_gold = False

    def __init__(self, method: str = "vb", n_restarts: int = 10, max_iter: int = 50, tol: float = 1e-6,
                 smoothing: float | None = None, alpha: float = 0.5, beta: float = 0.5,
                 dirichlet: float = 10.0, init_noise: float = 0.5, tie: str = "random",
                 random_state: int | None = None, memory_budget: float | None = None):
        self.method = method
        self.n_restarts = n_restarts
        self.max_iter = max_iter
        self.tol = tol
        self.smoothing = smoothing
        self.alpha = alpha
        self.beta = beta
        self.dirichlet = dirichlet
        self.init_noise = init_noise
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    # ------------------------------------------------------------------ validation
    parameter_rules = {
        "method": Options("vb", "em", noun="a MACE training method"),
        "n_restarts": Integer(1, help="the random restarts (the best run is kept)"),
        "smoothing": Real(0, help="the count EM adds to every expected count (None: 0.01 / K)") | None,
        "alpha": Real(0, low_open=True, help="the first shape of the Beta prior on 1 - theta (VB)"),
        "beta": Real(0, low_open=True, help="the second shape of the Beta prior on 1 - theta (VB)"),
        "dirichlet": Real(0, low_open=True, help="the symmetric Dirichlet prior of each xi_j (VB)"),
        "init_noise": Real(0, help="the amplitude of the random initialisation"),
    }

    def _validate(self, votes: Votes) -> None:
        k, n, w = votes.n_classes, votes.n_tasks, votes.n_workers
        check_budget("MACE", 8.0 * k * (2 * n + 2 * w), self.memory_budget,
                     what=f"dense ({n:,} tasks + {w:,} workers) x {k:,} classes outputs",
                     alternatives=_ALTERNATIVES)

    # ------------------------------------------------------------------ driver hooks
    @property
    def n_init(self) -> int:
        """The driver's restarts: ``n_restarts``."""
        return self.n_restarts

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> "_Graph":
        g = _Graph.build(votes)
        g.smoothing = (0.01 / max(g.k_eff, 1)) if self.smoothing is None else float(self.smoothing)
        return g

    def _init_state(self, votes: Votes, g: "_Graph") -> "_Posterior":
        """The E-step of MACE's random start, drawn from the restart's seed ``g.seed``."""
        if g.fp is None:
            # classes enter the draws by their id, not their position: permuting the classes
            # permutes the starts along with them
            g.rank = class_ranks(votes.classes)
            g.fp = vote_profile_fingerprints(votes.worker, g.rank[votes.label], votes.n_workers, votes.n_classes)
        return self._start_from(g, _random_start(g, g.fp, g.rank, np.random.default_rng(g.seed), self.init_noise))

    def _warm_state(self, votes: Votes, g: "_Graph") -> "_Posterior":
        return self._start_from(g, self._warm_params(g))

    @staticmethod
    def _start_from(g: "_Graph", weights: tuple[np.ndarray, ...]) -> "_Posterior":
        post = g.e_step(*weights)
        post.start = weights  # for the objective of the start (EM)
        return post

    def _initial_objective(self, g: "_Graph", post: "_Posterior") -> float | None:
        """EM records the (smoothed) log-likelihood of the starting parameters; VB's first
        ELBO follows the first M-step."""
        weights, post.start = post.start, None
        if self.method == "vb":
            return None
        return post.log_z + self._em_log_prior(g, weights, g.smoothing)

    def _m_step(self, votes: Votes, g: "_Graph", post: "_Posterior") -> "_Params":
        if self.method == "vb":
            weights, means, kl = self._vb_m_step(g, post.know_wl)
            return _Params(weights, means, kl)
        return _Params(self._em_m_step(g, post.know_wl, g.smoothing), None, 0.0)

    def _e_step(self, votes: Votes, g: "_Graph", p: "_Params", state: Any) -> tuple["_Posterior", float]:
        post = g.e_step(*p.weights)
        return post, post.log_z

    def _log_prior(self, g: "_Graph", p: "_Params") -> float:
        """VB: minus the KL terms of the ELBO; EM: the smoothing's MAP term."""
        if self.method == "vb":
            return -p.kl
        return self._em_log_prior(g, p.weights, g.smoothing)

    def _finish(self, votes: Votes, g: "_Graph", p: "_Params", post: "_Posterior") -> None:
        # EM: the means are the parameters themselves
        means = p.means if p.means is not None else tuple(np.exp(w) for w in (p.weights[0], p.weights[2],
                                                                             p.weights[3]))
        self._set_outputs(votes, g, p.weights, means, post)

    def partial_fit(self, votes: Votes) -> "MACE":
        """Continue the fit with more votes: one run on ``votes_ + votes``, warm-started.

        The votes are merged with those of the previous fit (kept in ``votes_``): known
        tasks and workers keep their indices, new ones are appended in the order of
        ``votes`` (``votes_.append(votes)``). The run starts from the fitted worker parameters
        instead of a random start, i.e. its first E-step computes

            ``log P(T_i = k | votes) = const_i + sum_{votes (i, j, k)} log(1 + w_j / c_jk)``,
            ``c_jl = s_j xi_jl``

        with the E-step weights of the fit: ``w_j = theta_j``, ``s_j = 1 - theta_j`` and
        ``xi_jl`` for EM; ``w_j = exp E_q[log theta_j]``, ``s_j = exp E_q[log(1 - theta_j)]``
        and ``xi_jl = exp E_q[log xi_jl]`` for VB (for VB that E-step is only the initial ``q(T)``: the first recorded ELBO
        follows the first M-step). A worker the fit never saw starts from the
        *vote-weighted mean* of the fitted workers, ``sum_j n_j w_j / sum_j n_j`` with
        ``n_j`` its number of votes in ``votes_`` (per class for ``xi``): the crowd's typical
        worker rather than the prior mean, which for the default ``alpha = beta = 0.5`` is a
        coin flip between careful and spamming (the prior mean ``theta = 1/2``, uniform
        ``xi``, is used only when the fit saw no vote). A known worker voting for a class
        it had not used starts from its own ``xi`` of unused classes. For EM, the classes a
        worker does not vote for in the union (one shared value per worker in the model)
        then share the mass ``1 - sum_{l used} xi_jl`` equally (when it is not positive,
        ``xi_j`` is rescaled to sum to 1), so that the first recorded objective is a true
        (smoothed) log-likelihood and the history never decreases; for a fitted worker
        voting for the same classes as before over the same label set, nothing changes.

        One run, no restarts: the restarts of ``fit`` look for a good basin from random
        starts, the warm start *is* the chosen basin (that of the best restart so far), so
        restarting from random points again would redo the cold fit. Same ``method``,
        hyper-parameters, ``max_iter`` and ``tol`` as ``fit``. It climbs the same objective
        as a cold ``fit`` on the union and usually needs fewer iterations; as MACE has
        several optima, the two may stop at different (nearby) ones. ``log_likelihood_``,
        ``n_iter_`` and ``converged_`` describe this run only; ``restart_log_likelihoods_``
        is ``[log_likelihood_]`` and ``best_restart_`` is 0.

        Before any fit, ``partial_fit`` is ``fit``. ``votes`` must declare the fitted
        classes (``InputError`` otherwise).

        Parameters
        ----------
        votes : Votes
            New votes, on known or new tasks and workers.

        Returns
        -------
        self : MACE
        """
        return super().partial_fit(votes)

    def _warm_params(self, g: "_Graph") -> tuple[np.ndarray, ...]:
        """The fitted E-step weights laid out on the merged graph ``g`` (see
        :meth:`partial_fit`): ``(log w_know, log w_spam, log xi per (worker, class) pair,
        log xi of the other classes)``, a new worker getting the vote-weighted mean."""
        log_know, log_spam, wl_keys, log_xi_wl, log_xi_rest, _, _ = self._weights
        k, w_old = g.space.size, log_know.size
        # dense (fitted workers, K) weights: the worker's own value, else its unused-class value
        xi = np.repeat(np.exp(log_xi_rest)[:, None], k, axis=1)
        ow, ol = np.divmod(wl_keys, k)
        xi[ow, ol] = np.exp(log_xi_wl)
        n = self.votes_.votes_per_worker().astype(float)
        cols = np.c_[np.exp(log_know), np.exp(log_spam), np.exp(log_xi_rest), xi]
        if n.sum() > 0:
            mean = n @ cols / n.sum()
        else:  # no vote in the fit: the prior mean, theta = 1/2 and a uniform xi
            mean = np.r_[0.5, 0.5, np.full(k + 1, 1.0 / max(g.k_eff, 1))]
        cols = np.vstack([cols, mean])
        row = np.minimum(np.arange(g.n_workers), w_old)  # new workers -> the mean row
        know, spam, rest = cols[row, 0], cols[row, 1], cols[row, 2]
        xi_wl = cols[row[g.wl_worker], 3 + g.wl_label]
        if self.method == "em":  # a proper distribution over the union's label set
            used = np.bincount(g.wl_worker, xi_wl, minlength=g.n_workers)
            free = g.k_eff - g.pairs_per_worker
            share = (free > 0) & (used < 1.0)
            # unused classes share the mass the used ones leave (no-op for a fitted worker
            # voting as before); otherwise everything is rescaled
            rest = np.where(share, _ratio(1.0 - used, free, 0.0), rest)
            tot = np.where(share, 1.0, used + free * rest)
            uniform = 1.0 / max(g.k_eff, 1)
            xi_wl = _ratio(xi_wl, tot[g.wl_worker], uniform)
            rest = _ratio(rest, tot, uniform)
            ks = know + spam
            know, spam = _ratio(know, ks, 0.5), _ratio(spam, ks, 0.5)
        with np.errstate(divide="ignore"):
            return np.log(know), np.log(spam), np.log(xi_wl), np.log(rest)

    # ------------------------------------------------------------------ M-steps
    @staticmethod
    def _em_m_step(g: "_Graph", know_wl: np.ndarray, s: float) -> tuple[np.ndarray, ...]:
        know = np.bincount(g.wl_worker, know_wl, minlength=g.n_workers)
        spam = g.votes_per_worker - know
        theta = _ratio(know + s, g.votes_per_worker + 2 * s, 0.5)
        spam_wl = g.wl_count - know_wl
        denom = spam + g.k_eff * s
        xi_wl = _ratio(spam_wl + s, denom[g.wl_worker], 1.0 / max(g.k_eff, 1))
        xi_rest = _ratio(np.full(g.n_workers, s), denom, 1.0 / max(g.k_eff, 1))
        with np.errstate(divide="ignore"):
            return np.log(theta), np.log1p(-theta), np.log(xi_wl), np.log(xi_rest)

    @staticmethod
    def _em_log_prior(g: "_Graph", params: tuple[np.ndarray, ...], s: float) -> float:
        """``s * (sum log theta + sum log(1 - theta) + sum_jl log xi_jl)``: the MAP term of
        the smoothed EM objective (0 when ``s = 0``)."""
        if s == 0:
            return 0.0
        log_know, log_spam, log_xi_wl, log_xi_rest = params
        rest = (g.k_eff - g.pairs_per_worker) * log_xi_rest
        return s * float(log_know.sum() + log_spam.sum() + log_xi_wl.sum() + rest.sum())

    def _vb_m_step(self, g: "_Graph", know_wl: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], float]:
        """q(theta), q(xi) from the expected counts: the ``E_q log`` weights, the posterior
        means ``(E theta, E xi per pair, E xi elsewhere)`` and the KL terms of the ELBO."""
        a0, b0, d0 = float(self.beta), float(self.alpha), float(self.dirichlet)
        know = np.bincount(g.wl_worker, know_wl, minlength=g.n_workers)
        a = know + a0                           # q(theta_j) = Beta(a, b)
        b = (g.votes_per_worker - know) + b0
        psi_ab = digamma(a + b)
        log_know, log_spam = digamma(a) - psi_ab, digamma(b) - psi_ab
        c_wl = (g.wl_count - know_wl) + d0      # q(xi_j) = Dirichlet(c), c = d0 off the pairs
        c_tot = (g.votes_per_worker - know) + g.k_eff * d0
        psi_tot = digamma(c_tot)
        psi_wl = digamma(c_wl)
        log_xi_wl = psi_wl - psi_tot[g.wl_worker]
        log_xi_rest = digamma(d0) - psi_tot
        kl_beta = (_log_beta(a0, b0) - _log_beta(a, b) + (a - a0) * digamma(a) + (b - b0) * digamma(b)
                   - (a + b - a0 - b0) * psi_ab).sum()
        kl_dir = ((gammaln(c_tot) - gammaln(g.k_eff * d0)).sum()
                  - (gammaln(c_wl) - gammaln(d0)).sum()
                  + ((c_wl - d0) * log_xi_wl).sum())
        means = (a / (a + b), c_wl / c_tot[g.wl_worker], d0 / c_tot)
        return (log_know, log_spam, log_xi_wl, log_xi_rest), means, float(kl_beta + kl_dir)

    # ------------------------------------------------------------------ outputs
    def _set_outputs(self, votes: Votes, g: "_Graph", weights: tuple[np.ndarray, ...],
                     means: tuple[np.ndarray, ...], post: "_Posterior") -> None:
        log_know, log_spam, log_xi_wl, log_xi_rest = weights
        k, w = votes.n_classes, votes.n_workers
        # the parameters (VB: posterior means of the q) of the final E-step, so that
        # competences, spamming distributions and probas_ belong together
        self.competences_, xi_wl, xi_rest = means
        xi = np.zeros((w, k))
        xi[:, g.space] = xi_rest[:, None]
        xi[g.wl_worker, g.wl_label] = xi_wl
        self.spam_distributions_ = xi
        self.probas_ = g.dense_probas(post, k)
        self.labels_ = argmax_ties(self.probas_, tie=self.tie, random_state=self.random_state)
        # the exp E[log] weights the final E-step used, for predict_proba
        voted = g.votes_per_worker > 0
        unknown = (np.log(np.mean(np.exp(log_know[voted]))), np.log(np.mean(np.exp(log_spam[voted])))) \
            if voted.any() else (np.log(0.5), np.log(0.5))
        self._weights = (log_know, log_spam, g.wl_keys, log_xi_wl, log_xi_rest, g.space, unknown)

    # ------------------------------------------------------------------ predict
    def _predict_proba(self, votes: Votes) -> np.ndarray:
        """Posterior of the tasks of ``votes`` with the fitted worker parameters.

        Unknown workers get the mean competence of the fitted workers and a uniform
        spamming distribution; votes for a class outside the fitted label set carry no
        information (that class gets probability 0).
        """
        check_same_classes(votes, self.classes_)
        log_know, log_spam, wl_keys, log_xi_wl, log_xi_rest, space, unknown = self._weights
        k, k_eff = votes.n_classes, int(space.sum())
        keep = space[votes.label]
        task, worker, label = votes.task[keep], votes.worker[keep], votes.label[keep]
        idx = Votes.match_ids(votes.worker_ids, self.worker_ids_)[worker]
        known = idx >= 0
        fi = np.maximum(idx, 0)
        lk, ls = np.full(idx.size, unknown[0]), np.full(idx.size, unknown[1])
        lx = np.full(idx.size, -np.log(max(k_eff, 1)))
        lk[known], ls[known], lx[known] = log_know[fi[known]], log_spam[fi[known]], log_xi_rest[fi[known]]
        if wl_keys.size:  # (worker, class) pairs seen at fit time
            key = fi * k + label
            pos = np.minimum(np.searchsorted(wl_keys, key), wl_keys.size - 1)
            found = known & (wl_keys[pos] == key)
            lx = np.where(found, log_xi_wl[pos], lx)
        tl = _Pairs.build(task, label, votes.n_tasks, k)
        logc = np.maximum(ls + lx, _LOG_TINY)
        gain = np.logaddexp(lk, logc) - logc
        post = _task_posterior(tl, np.bincount(tl.inverse, gain, minlength=tl.size), k_eff, votes.n_tasks)
        return _dense(tl, post, space, votes.n_tasks, k)


# ---------------------------------------------------------------------- kernels
def _ratio(num: np.ndarray, den: np.ndarray, default: float) -> np.ndarray:
    num = np.asarray(num, dtype=float)
    return np.divide(num, den, out=np.full(np.broadcast(num, den).shape, default), where=den > 0)


def _log_beta(a: Any, b: Any) -> Any:
    return gammaln(a) + gammaln(b) - gammaln(a + b)


class _Pairs:
    """Distinct (task, class) pairs that received a vote, sorted by task then class."""

    __slots__ = ("task", "label", "inverse", "size", "starts", "task_of_start", "per_task")

    @classmethod
    def build(cls, task: np.ndarray, label: np.ndarray, n_tasks: int, k: int) -> "_Pairs":
        p = cls()
        keys, p.inverse = np.unique(task * k + label, return_inverse=True)
        p.inverse = p.inverse.ravel()
        p.task, p.label = np.divmod(keys, k)
        p.size = keys.size
        p.starts = np.flatnonzero(np.r_[True, p.task[1:] != p.task[:-1]]) if keys.size else np.zeros(0, np.int64)
        p.task_of_start = p.task[p.starts]
        p.per_task = np.bincount(p.task, minlength=n_tasks)
        return p


class _Posterior:
    """Result of an E-step: ``post_tl`` per voted (task, class) pair, ``post_rest`` for each
    other class of the label set, per task; ``log_z`` the objective's data term (and, for
    the start of a run, ``start``: the weights it comes from)."""

    __slots__ = ("post_tl", "post_rest", "log_z", "know_wl", "start")


def _task_posterior(tl: _Pairs, gain_tl: np.ndarray, k_eff: int, n_tasks: int,
                    gain_bound: float = np.inf) -> _Posterior:
    """Normalise ``log P(T_i = k) = const + gain_tl`` (0 for unvoted classes) per task.

    ``gain_tl`` is overwritten (it becomes ``post_tl``).

    Returns the posterior and ``sum_i (m_i + log s_i)``: the log-normaliser of the tasks
    relative to their constant. ``gain >= 0``, so the largest term of a task is >= 1 and a
    shift is only needed against overflow: when ``gain_bound`` (an upper bound of the
    per-task gains, e.g. the largest gain of a vote times the largest number of votes of
    a task) or else the exact per-task totals stay below 700, nothing is shifted;
    otherwise every task is shifted by its largest gain.
    """
    big = gain_bound > 700.0 and tl.size and np.bincount(tl.task, gain_tl, minlength=n_tasks).max() > 700.0
    # consumed in place (callers pass a fresh array): no per-pair temporaries; float even
    # when empty (np.bincount of no vote is int64)
    e = np.asarray(gain_tl, dtype=float)
    if big:
        m = np.zeros(n_tasks)
        m[tl.task_of_start] = np.maximum.reduceat(gain_tl, tl.starts)
        e -= m[tl.task]
        rest = np.exp(-m)
    else:
        m, rest = None, np.ones(n_tasks)
    np.exp(e, out=e)
    s = np.bincount(tl.task, e, minlength=n_tasks) + (k_eff - tl.per_task) * rest
    if k_eff == 0:  # no vote at all
        s[:] = 1.0
    inv = 1.0 / s
    out = _Posterior()
    e *= inv[tl.task]
    out.post_tl = e
    out.post_rest = rest * inv
    voted = tl.per_task > 0
    out.log_z = float(np.log(s[voted]).sum() + (m[voted].sum() if m is not None else 0.0))
    return out


def _dense(tl: _Pairs, post: _Posterior, space: np.ndarray, n_tasks: int, k: int) -> np.ndarray:
    P = np.zeros((n_tasks, k))
    if space.any():
        P[:, space] = post.post_rest[:, None]
        P[tl.task, tl.label] = post.post_tl
    else:
        P[:] = 1.0 / max(k, 1)
    return P


class _Params(NamedTuple):
    """An M-step: the E-step weights ``(log w_know, log w_spam, log xi per (worker, class)
    pair, log xi of the other classes)``; VB's posterior means and KL term (EM: None, 0)."""

    weights: tuple
    means: tuple | None
    kl: float


class _Graph(EMContext):
    """The votes as (task, class) pairs and (worker, class) pairs, built once per fit: the
    per-fit context of MACE (with the smoothing and, once drawn, the workers' vote-profile
    fingerprints ``fp`` and the class ranks ``rank`` of the random starts)."""

    smoothing: float = 0.0
    fp: np.ndarray | None = None
    rank: np.ndarray | None = None

    @classmethod
    def build(cls, votes: Votes) -> "_Graph":
        g = cls()
        k = votes.n_classes
        g.n_tasks, g.n_workers = votes.n_tasks, votes.n_workers
        g.space = np.bincount(votes.label, minlength=k) > 0  # the label set: classes voted for
        g.k_eff = int(g.space.sum())
        g.tl = _Pairs.build(votes.task, votes.label, votes.n_tasks, k)
        wl_keys, wl_inv = group_index(votes.worker * k + votes.label, votes.n_workers * k)
        g.wl_keys = wl_keys
        g.wl_worker, g.wl_label = np.divmod(wl_keys, k)
        g.wl_count = np.bincount(wl_inv, minlength=wl_keys.size).astype(float)
        g.votes_per_worker = np.bincount(votes.worker, minlength=g.n_workers).astype(float)
        g.pairs_per_worker = np.bincount(g.wl_worker, minlength=g.n_workers)
        # incidence (task-class pair) x (worker-class pair), one entry per vote, built as CSR
        # directly (a stable sort of the votes by pair) with 32-bit indices when they fit
        inv, g.tl.inverse = g.tl.inverse, None  # the vote -> pair index is not needed later (None from here)
        order = np.argsort(inv, kind="stable")
        idx = np.int32 if max(votes.n_votes, wl_keys.size) < 2**31 - 1 else np.int64
        indices = wl_inv[order].astype(idx)
        del order, wl_inv
        indptr = np.zeros(g.tl.size + 1, dtype=idx)
        np.cumsum(np.bincount(inv, minlength=g.tl.size), out=indptr[1:])
        del inv
        g.inc = sparse.csr_array((np.ones(indices.size), indices, indptr), shape=(g.tl.size, wl_keys.size))
        g.inc.sum_duplicates()  # a worker who gave the same class twice on a task
        # the transposed product goes through the CSC view of inc: no second copy, and it
        # walks the (task, class) pairs in order
        g.inc_t = g.inc.T
        g.max_task_votes = int(np.bincount(votes.task).max(initial=0)) if votes.n_votes else 0
        g.n_voted = int((g.tl.per_task > 0).sum())
        return g

    def e_step(self, log_know: np.ndarray, log_spam: np.ndarray, log_xi_wl: np.ndarray,
               log_xi_rest: np.ndarray) -> _Posterior:
        """Posterior of the true labels and expected 'knowing' counts per (worker, class).

        Per (worker, class) pair: ``log c = log(1 - theta) + log xi``, ``log d = log(theta + c)``,
        gain ``g = log d - log c``; per (task, class) pair the gain sums over its votes (one
        sparse product). A vote (i, j, l) is 'knowing' with probability
        ``P(T_i = l) * theta_j / d``, so the per-pair expected count is
        ``theta / d * sum of P(T_i = l)`` over its votes (the transposed product).
        """
        wk = log_know[self.wl_worker]
        logc = np.maximum(log_spam[self.wl_worker] + log_xi_wl, _LOG_TINY)
        logd = np.logaddexp(wk, logc)
        gain = logd - logc
        post = _task_posterior(self.tl, self.inc @ gain, self.k_eff, self.n_tasks,
                               gain_bound=float(gain.max(initial=0.0)) * self.max_task_votes)
        # objective: sum_i [-log K + sum_votes log c + m_i + log s_i]
        # (a plain sum, not a BLAS dot: threaded BLAS on small vectors costs more than it saves)
        post.log_z += float((self.wl_count * logc).sum()) - self.n_voted * np.log(max(self.k_eff, 1))
        post.know_wl = np.exp(wk - logd) * (self.inc_t @ post.post_tl)
        return post

    def dense_probas(self, post: _Posterior, k: int) -> np.ndarray:
        return _dense(self.tl, post, self.space, self.n_tasks, k)


# ---------------------------------------------------------------------- restarts
def _random_start(g: _Graph, fp: np.ndarray, rank: np.ndarray, rng: np.random.Generator,
                  noise: float) -> tuple[np.ndarray, ...]:
    """MACE's random start: ``(1 - theta, theta) ∝ (1 + noise u, 1 + noise u')`` and
    ``xi_jl ∝ 1 + noise u_jl`` (``1 + noise / 2``, the mean, for classes j never used).

    ``fp`` holds the workers' vote-profile fingerprints and ``rank`` the class ranks
    (:func:`~crowdwise.aggregate._base.class_ranks`): ``u_jl`` is drawn for class l by
    its rank."""
    salt = rng.integers(0, 2**63, size=g.space.size + 2, dtype=np.uint64)
    spam = 1.0 + noise * hashed_uniforms(fp, salt[0])
    know = 1.0 + noise * hashed_uniforms(fp, salt[1])
    xi_wl = 1.0 + noise * hashed_uniforms(fp[g.wl_worker] ^ salt[2 + rank[g.wl_label]], 0)
    rest = 1.0 + noise / 2
    tot = np.bincount(g.wl_worker, xi_wl, minlength=g.n_workers) + (g.k_eff - g.pairs_per_worker) * rest
    log_tot = np.log(tot)
    log_ks = np.log(spam + know)
    return (np.log(know) - log_ks, np.log(spam) - log_ks, np.log(xi_wl) - log_tot[g.wl_worker],
            np.log(rest) - log_tot)
