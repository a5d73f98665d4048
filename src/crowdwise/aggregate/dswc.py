"""DSWC: Dawid-Skene with worker clustering (Imamura, Sato & Sugiyama, ICML 2018).

Model: L confusion matrices ``Lambda_1..Lambda_L`` are shared by the crowd; worker j
belongs to cluster ``z_j ~ Categorical(tau)`` and answers with ``Lambda_{z_j}``; the true
class of task i is ``y_i ~ Categorical(rho)``. As in the paper, both latent variables get
a mean-field posterior ``q(y_i) = theta_i``, ``q(z_j) = phi_j``, and variational EM
climbs the evidence lower bound

``ELBO = sum_i sum_k theta_ik (log rho_k - log theta_ik)
       + sum_j sum_l phi_jl (log tau_l - log phi_jl)
       + sum_{votes (i, j, m)} sum_{k, l} theta_ik phi_jl log Lambda_l[k, m]``

by coordinate ascent, one block at a time (so the bound never decreases):

- ``log theta_ik = log rho_k + sum_{votes (i, j, m)} sum_l phi_jl log Lambda_l[k, m] + c``;
- ``log phi_jl = log tau_l + sum_{votes (i, j, m)} sum_k theta_ik log Lambda_l[k, m] + c``;
- ``Lambda_l[k, m] ∝ sum_{votes (i, j, m)} theta_ik phi_jl + a``, ``rho ∝ sum theta``,
  ``tau ∝ sum phi``.

Everything goes through the per-(worker, label) sums of ``theta`` that Dawid-Skene's
M-step already computes: memory is O(votes + pairs K + L K^2 + n_workers L), never a
confusion matrix per worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from ..votes import Votes
from ._base import Integer, Options, Real, argmax_shares, argmax_ties, check_random_state, class_ranks
from ._driver import NO_GOLD, EMContext, EMStrategy, GoldLabels
from ._em import (Segments, check_budget, class_priors, initial_posteriors, log_normalize, pair_sums, safe_log,
                  segment_sum_gather, splitmix64)
from .registry import register

__all__ = ["DSWC"]


@dataclass
class _Context(EMContext):
    by_task: Segments
    by_pair: Segments
    pair_of_vote: np.ndarray      # (n_votes,) pair (worker, label) of each vote
    pair_worker: np.ndarray       # (pairs,)
    label_groups: list            # label m -> indices of the pairs with label m
    voted_workers: np.ndarray     # bool (n_workers,)


@dataclass
class _State:
    theta: np.ndarray             # (n_tasks, K)
    phi: np.ndarray               # (n_workers, L)
    S: np.ndarray                 # (pairs, K) sums of theta over the votes of each pair


@register("DSWC")
class DSWC(EMStrategy):
    """Dawid-Skene with L clusters of workers sharing a confusion matrix (variational EM).

    Parameters
    ----------
    L : int, default=2
        Number of clusters of workers (``DSWC[L=5]`` on the command line).
    max_iter : int, default=100
    tol : float, default=1e-6
        Stop when the relative change of the ELBO is below ``tol``.
    prior : float, default=0.0
        Dirichlet smoothing ``a`` of the cluster confusion counts (MAP; the ELBO then
        includes ``a sum log Lambda``).
    init : {"naivesoft", "mv"}, default="naivesoft"
        Initial task posteriors (vote shares, or the majority vote with a tie shared by
        its classes). The clusters start from a k-means of the workers' confusion
        matrices against the majority vote (greedy k-means++ seeding with ``random_state``,
        Lloyd iterations; rows a worker never met are left out of its distance), the
        memberships one-hot on it.
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``.
    random_state : int or None
        Seed of the k-means++ seeding (drawn over the workers ordered by their vote
        profile, so renaming workers or listing the classes in another order does not
        change the result) and of the tie rule.
    memory_budget : float or None

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes)
        ``theta`` (after a last update given the final memberships, so that
        ``predict_proba`` on the fitted votes gives it back).
    labels_ : ndarray (n_tasks,)
    cluster_confusions_ : ndarray (L, n_classes, n_classes)
        ``Lambda_l[k, m] = P(answer m | true class k, cluster l)``.
    cluster_priors_ : ndarray (L,)
        ``tau``.
    memberships_ : ndarray (n_workers, L)
        ``phi_j``; a worker without vote has ``tau``.
    clusters_ : ndarray (n_workers,)
        Most likely cluster of each worker (ties to the smallest index).
    priors_ : ndarray (n_classes,)
    log_likelihood_ : list of float
        ELBO after each iteration (non-decreasing).
    n_iter_, converged_, votes_, gold_
        As in :class:`~crowdwise.aggregate.DawidSkene`; ``fit(votes, gold=...)`` and
        :meth:`partial_fit` (new workers start from ``tau``) as there.

    References
    ----------
    H. Imamura, I. Sato and M. Sugiyama, "Analysis of minimax error rate for
    crowdsourcing and its application to worker clustering model", ICML 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from crowdwise import Votes
    >>> v = Votes.from_records(np.repeat(np.arange(6), 3), ["a", "b", "c"] * 6,
    ...                        [0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0], n_classes=2)
    >>> m = DSWC(L=2, random_state=0, tie="smallest").fit(v)
    >>> m.labels_.tolist(), m.clusters_.tolist()
    ([0, 1, 0, 1, 0, 1], [0, 0, 1])
    """

    description = "Dawid-Skene with worker clustering: L shared confusion matrices, memberships by variational EM."
    scales_to_many_classes = False
    single_vote_is_label = False

    def __init__(self, L: int = 2, max_iter: int = 100, tol: float = 1e-6, prior: float = 0.0,
                 init: str = "naivesoft", tie: str = "random", random_state: int | None = None,
                 memory_budget: float | None = None):
        self.L = L
        self.max_iter = max_iter
        self.tol = tol
        self.prior = prior
        self.init = init
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    # ------------------------------------------------------------------ hooks
    parameter_rules = {
        "L": Integer(1, help="the number of worker clusters"),
        "prior": Real(0, help="the Dirichlet smoothing count added to each confusion cell"),
        "init": Options("naivesoft", "mv", noun="an initialisation"),
    }

    def _validate(self, votes: Votes) -> None:
        k, n = votes.n_classes, votes.n_votes
        pairs = min(n, votes.n_workers * k)
        check_budget("DSWC", 8.0 * (3 * int(self.L) * k * k + 3 * pairs * k + 2 * votes.n_tasks * k),
                     self.memory_budget, what=f"{int(self.L)} x {k:,}^2 cluster confusions and {pairs:,} x {k:,} "
                     "pair sums", alternatives="MV, NaiveSoft, WAWA, TwoThird, PlantNet, OneCoinDS")

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> _Context:
        k = votes.n_classes
        by_pair = Segments.from_keys(votes.worker * k + votes.label)
        n_pairs = by_pair.keys.size
        pair_of_vote = np.empty(votes.n_votes, np.int64)
        pair_of_vote[by_pair.order] = np.repeat(np.arange(n_pairs), np.diff(np.r_[by_pair.starts, votes.n_votes]))
        pw, pl = np.divmod(by_pair.keys, k)
        order = np.argsort(pl, kind="stable")
        bounds = np.searchsorted(pl[order], np.arange(k + 1))
        groups = [order[bounds[m]:bounds[m + 1]] for m in range(k)]
        return _Context(Segments.from_keys(votes.task), by_pair, pair_of_vote, pw, groups,
                        votes.votes_per_worker() > 0, gold_idx=gold.idx, gold_lab=gold.lab)

    def _init_state(self, votes: Votes, ctx: _Context) -> _State:
        L = int(self.L)
        theta = initial_posteriors(votes, "naivesoft")
        if self.init == "mv":  # the majority vote, a tie shared by its classes
            theta = argmax_shares(theta)
        theta = self._clamp_theta(ctx, theta)
        clusters = kmeans_confusions(votes, L, check_random_state(self.random_state))
        phi = np.full((votes.n_workers, L), 1.0 / L)
        voted = clusters >= 0
        phi[voted] = np.eye(L)[clusters[voted]]
        return _State(theta, phi, pair_sums(votes, ctx.by_pair, theta))

    def _clamp_theta(self, ctx: _Context, theta: np.ndarray) -> np.ndarray:
        if ctx.gold_idx.size:
            theta[ctx.gold_idx] = 0.0
            theta[ctx.gold_idx, ctx.gold_lab] = 1.0
        return theta

    def _clamp(self, ctx: _Context, state: _State) -> _State:
        return state  # theta is clamped inside the E-step, before the memberships use it

    def _m_step(self, votes: Votes, ctx: _Context, state: _State):
        k, L = votes.n_classes, int(self.L)
        rho = class_priors(state.theta, ctx.by_task.keys)
        voted = ctx.voted_workers
        tau = state.phi[voted].sum(axis=0) if voted.any() else np.ones(L)
        tau = tau / tau.sum()
        counts = np.zeros((L, k, k))
        for m, idx in enumerate(ctx.label_groups):
            if idx.size:
                counts[:, :, m] = state.phi[ctx.pair_worker[idx]].T @ state.S[idx]
        counts += self.prior
        tot = counts.sum(axis=2, keepdims=True)
        lam = np.divide(counts, tot, out=np.full_like(counts, 1.0 / k), where=tot > 0)
        return rho, tau, safe_log(lam), None

    def _theta(self, votes: Votes, ctx: _Context, params, phi: np.ndarray) -> np.ndarray:
        """Mean-field update of ``theta`` given the memberships ``phi``."""
        rho, _, log_lam, _ = params
        k = votes.n_classes
        zero = np.isneginf(log_lam)
        safe = np.where(zero, 0.0, log_lam)
        pv = np.zeros((ctx.pair_worker.size, k))
        for m, idx in enumerate(ctx.label_groups):
            if idx.size:
                f = phi[ctx.pair_worker[idx]]
                pv[idx] = f @ safe[:, :, m]
                if zero[:, :, m].any():  # phi_jl > 0 on a zero Lambda_l[k, m]: class k impossible
                    pv[idx] = np.where((f > 0) @ zero[:, :, m] > 0, -np.inf, pv[idx])
        L_task = np.tile(safe_log(rho), (votes.n_tasks, 1))
        seg = ctx.by_task
        L_task[seg.keys] += segment_sum_gather(seg, lambda i: pv[ctx.pair_of_vote[i]], k)
        return self._clamp_theta(ctx, log_normalize(L_task)[0])

    def _e_step(self, votes: Votes, ctx: _Context, params, state: _State | None) -> tuple[_State, float]:
        rho, tau, log_lam, phi_fitted = params
        L = int(self.L)
        phi_old = state.phi if state is not None else phi_fitted
        theta = self._theta(votes, ctx, params, phi_old)
        S = pair_sums(votes, ctx.by_pair, theta)
        # G[j, l] = sum over the votes of j of sum_k theta_ik log Lambda_l[k, m]
        zero = np.isneginf(log_lam)
        safe = np.where(zero, 0.0, log_lam)
        G_pair = np.zeros((ctx.pair_worker.size, L))
        for m, idx in enumerate(ctx.label_groups):
            if idx.size:
                G_pair[idx] = S[idx] @ safe[:, :, m].T
                if zero[:, :, m].any():
                    G_pair[idx] = np.where((S[idx] > 0) @ zero[:, :, m].T > 0, -np.inf, G_pair[idx])
        W = votes.n_workers
        G = np.stack([np.bincount(ctx.pair_worker, G_pair[:, l], minlength=W) for l in range(L)], axis=1) \
            if G_pair.size else np.zeros((W, L))
        phi, lognorm = log_normalize(safe_log(tau)[None, :] + G)
        voted = ctx.voted_workers
        phi[~voted] = tau
        # ELBO: the theta terms, plus sum_j log sum_l tau_l exp(G_jl) (phi terms and the
        # cross term at the optimal phi)
        vt = ctx.by_task.keys
        th = theta[vt]
        pos = th > 0
        log_rho = safe_log(rho)
        task_part = float(np.sum(th[pos] * (np.broadcast_to(log_rho, th.shape)[pos] - np.log(th[pos]))))
        worker_part = float(lognorm[voted].sum())
        return _State(theta, phi, S), task_part + worker_part

    def _log_prior(self, ctx: _Context, params) -> float:
        return self.prior * float(params[2].sum()) if self.prior > 0 else 0.0

    def _finish(self, votes: Votes, ctx: _Context, params, state: _State) -> None:
        rho, tau, log_lam, _ = params
        theta = self._theta(votes, ctx, params, state.phi)  # one more ascent step on theta
        self.priors_ = rho
        self.cluster_priors_ = tau
        self.cluster_confusions_ = np.exp(log_lam)
        self.memberships_ = state.phi
        self.clusters_ = argmax_ties(state.phi, tie="smallest")
        self.probas_ = theta
        self.labels_ = argmax_ties(theta, tie=self.tie, random_state=self.random_state)

    def _probas_of(self, state: _State, ctx: Any = None) -> np.ndarray:
        return state.theta

    def _params_for(self, votes: Votes):
        """Fitted parameters, and the memberships of the workers of ``votes`` (an unseen
        worker: the cluster shares ``tau``)."""
        idx = self._fitted_worker_index(votes)
        phi = np.where((idx >= 0)[:, None], self.memberships_[np.maximum(idx, 0)], self.cluster_priors_)
        return self.priors_, self.cluster_priors_, safe_log(self.cluster_confusions_), phi

    def _warm_state(self, votes: Votes, ctx: _Context) -> _State:
        params = self._params_for(votes)
        theta = self._theta(votes, ctx, params, params[3])
        return _State(theta, params[3], pair_sums(votes, ctx.by_pair, theta))


# ---------------------------------------------------------------------- initialisation
def kmeans_confusions(votes: Votes, L: int, rng: np.random.Generator, max_iter: int = 100) -> np.ndarray:
    """Cluster the workers by their confusion matrix against the majority vote.

    Worker j has rows ``C_j[k] = n_j(k, .) / n_j(k)`` (its answers on the tasks whose
    majority vote is k; on a task whose majority vote is tied between m classes a vote
    counts 1/m for each of them, so no tie is broken by class index), weighted by
    ``w_jk = n_j(k) / n_j``; its distance to a centre ``M`` is
    ``sum_k w_jk ||C_j[k] - M[k]||^2`` (rows it never met do not count). Both the
    distances and the centre update (``M[k] = sum_j n_j(k, .) / n_j / sum_j w_jk``) are
    sparse products: O(votes + L K^2 + n_workers L) memory. Seeding is greedy k-means++
    (the best of ``2 + log L`` draws per centre) with ``rng``, over the workers in an
    order fixed by their vote profile (not their ids, nor the indices of the classes).
    Returns the cluster of each worker, -1 for a worker without vote.
    """
    W, K = votes.n_workers, votes.n_classes
    out = np.full(W, -1, np.int64)
    nj = votes.votes_per_worker().astype(float)
    voted = np.flatnonzero(nj > 0)
    if voted.size == 0:
        return out
    # the majority vote of each task, a tie shared by its m classes (each vote then counts
    # 1/m against each of them): no tie is broken by class index
    mv = argmax_shares(votes.counts())
    mv.eliminate_zeros()
    tied = np.diff(mv.indptr)  # m per task (>= 1 on a voted task)
    per_vote = tied[votes.task]
    v_of = np.repeat(np.arange(votes.n_votes), per_vote)  # one entry per (vote, tied class)
    first = np.cumsum(per_vote) - per_vote
    pos = mv.indptr[votes.task][v_of] + (np.arange(v_of.size) - first[v_of])
    y, wk, lab = mv.indices[pos].astype(np.int64), votes.worker[v_of], votes.label[v_of]
    inv = mv.data[pos] / nj[wk]
    F = sparse.csr_array((inv, (wk, y * K + lab)), shape=(W, K * K))
    F.sum_duplicates()
    Wr = sparse.csr_array((inv, (wk, y)), shape=(W, K))
    Wr.sum_duplicates()
    # per-worker constant sum_k w_jk ||C_j[k]||^2 = sum_{k,m} F_jkm^2 / w_jk
    rows = np.repeat(np.arange(W), np.diff(F.indptr))
    _, inv_g = np.unique(rows * K + F.indices // K, return_inverse=True)
    w_at = np.bincount(inv_g, F.data)[inv_g]
    const = np.bincount(rows, F.data**2 / w_at, minlength=W)
    tot_rows = np.asarray(Wr.sum(axis=0)).ravel()
    glob = np.asarray(F.sum(axis=0)).ravel().reshape(K, K)
    glob = np.divide(glob, tot_rows[:, None], out=np.full((K, K), 1.0 / K), where=tot_rows[:, None] > 0)

    def dist(centers: np.ndarray) -> np.ndarray:
        flat = centers.reshape(len(centers), K * K)
        d = const[:, None] - 2 * (F @ flat.T) + Wr @ (centers**2).sum(axis=2).T
        return np.maximum(d, 0.0)

    def centre_of(j: int) -> np.ndarray:
        c = glob.copy()
        lo, hi = F.indptr[j], F.indptr[j + 1]
        k_, m_ = np.divmod(F.indices[lo:hi], K)
        wk = np.bincount(k_, F.data[lo:hi], minlength=K)
        c[np.unique(k_)] = 0.0
        np.add.at(c, (k_, m_), F.data[lo:hi] / wk[k_])
        return c

    # canonical order: by the vote profile over (size of the MV tie, MV class, label), the
    # classes by the rank of their id (not their index), then number of votes; workers
    # equal on both have the same F row, so their order among themselves does not matter
    rank = class_ranks(votes.classes)
    fp = _profile_fingerprints(wk, ((tied[votes.task][v_of] - 1) * K + rank[y]) * K + rank[lab], W)
    canon = voted[np.lexsort((nj[voted], fp[voted]))]
    centers = [centre_of(int(canon[rng.integers(canon.size)]))]
    d2 = dist(centers[0][None])[:, 0]
    # greedy k-means++ (as scikit-learn): each new centre is the best of 2 + log L draws,
    # the one that lowers the summed distance most. With one draw, 172 of 1,200 seedings
    # of the tests' clustered crowds (3 groups, 30 workers) ended with two groups merged;
    # with the best of 3, 20
    trials = 2 + int(np.log(L))
    for _ in range(1, L):
        p = d2[canon]
        tot = p.sum()
        if tot > 0:
            picks = np.searchsorted(np.cumsum(p), rng.random(trials) * tot, side="right")
            picks = np.minimum(picks, canon.size - 1)
            cands = [centre_of(int(canon[q])) for q in picks]
            d2_cands = np.minimum(d2[:, None], dist(np.stack(cands)))
            best = int(np.argmin(d2_cands[voted].sum(axis=0)))  # the first among equals
            centers.append(cands[best])
            d2 = d2_cands[:, best]
        else:  # fewer distinct workers than clusters: a duplicate centre (its cluster stays empty)
            centers.append(centre_of(int(canon[0])))
            d2 = np.minimum(d2, dist(centers[-1][None])[:, 0])
    centers = np.stack(centers)
    assign = None
    for _ in range(max_iter):
        new = np.argmin(dist(centers)[voted], axis=1)
        if assign is not None and np.array_equal(new, assign):
            break
        assign = new
        A = sparse.csr_array((np.ones(voted.size), (voted, assign)), shape=(W, L))
        num, den = _dense(F.T @ A), _dense(Wr.T @ A)  # (K^2, L), (K, L)
        for l in np.unique(assign):
            c = np.divide(num[:, l].reshape(K, K), den[:, l][:, None], out=glob.copy(),
                          where=den[:, l][:, None] > 0)
            centers[l] = c
    out[voted] = assign
    return out


def _profile_fingerprints(owner: np.ndarray, key: np.ndarray, n_owners: int) -> np.ndarray:
    """A 64-bit hash per owner of its counts of each (non-negative int64) ``key``: equal
    for two owners with the same counts, whatever the order of the entries (0 without
    any). As ``_em.vote_profile_fingerprints``, without a code table per possible key."""
    fp = np.zeros(n_owners, dtype=np.uint64)
    if key.size == 0:
        return fp
    pairs, counts = np.unique(np.stack([owner, key]), axis=1, return_counts=True)
    own = pairs[0]
    with np.errstate(over="ignore"):
        terms = splitmix64(counts.astype(np.uint64) ^ splitmix64(pairs[1].astype(np.uint64) + np.uint64(1)))
        starts = np.flatnonzero(np.r_[True, own[1:] != own[:-1]])
        fp[own[starts]] = np.add.reduceat(terms, starts)  # sum modulo 2**64: order-free
    return fp


def _dense(m) -> np.ndarray:
    return m.toarray() if sparse.issparse(m) else np.asarray(m)
