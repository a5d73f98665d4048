"""Dawid-Skene EM with sparse posteriors and sparse confusions, for many classes.

Without smoothing (``prior = 0``) the Dawid-Skene posterior of task i is positive on a
class k only when every vote (j, l) on i has ``pi_j[k, l] > 0``, and the M-step makes
``pi_j[k, l] > 0`` only when some task that j answered with l has ``T_ik > 0``. Both
therefore live on sparse supports that EM never needs to leave:

- M-step: ``S = A_pt @ T`` (pairs x K, sparse @ sparse), ``n_jk = sum_l S[(j, l), k]``
  and ``log pi = log S - log n_jk`` at the stored entries only;
- E-step: one sparse product of the task x pair incidence with the per-pair
  log-confusions gives, for every (task, class) reached by at least one vote, both the
  number of votes whose pair has that class and the sum of their log-confusions (the
  two are carried as the real and imaginary parts of one complex product, so they share
  one sparsity pattern); a class is possible for the task iff every vote reaches it,
  and its score is ``log rho_k + sum of log pi``. Rows are normalised in log space.

This is exactly the EM of :class:`~crowdwise.aggregate.dawid_skene.DawidSkene` with
``prior=0`` (the same iterates, up to rounding: classes with posterior below the
smallest positive double are dropped, as the dense E-step underflows them to 0). A class
a worker never met (``n_jk = 0``) has no stored entry: it is ruled out for that worker's
answers, the rule of both modes (see the Notes of ``DawidSkene``). A uniform row there
would make the class possible on every task of the worker and fill the supports.
Memory is O(votes x support + workers x K) instead of O(workers x K^2 + tasks x K).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import sparse

__all__ = ["SparseParams", "sparse_initial_posteriors", "sparse_m_step", "sparse_e_step", "sparse_clamp",
           "sparse_confusions", "sparse_pair_log_confusions",
           "support_closure", "FixedPattern"]


class SparseParams(NamedTuple):
    """One sparse M-step: class shares and log-confusions at the voted pairs."""

    priors: np.ndarray       # (K,)
    log_pi: sparse.csr_array  # (n_pairs, K): log pi_j[k, l] at the stored (pair, k) entries
    pair_sums: sparse.csr_array  # (n_pairs, K): S
    n_workers: int


def _csr(n: int, k: int, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> sparse.csr_array:
    m = sparse.csr_array((vals, (rows, cols)), shape=(n, k))
    m.sum_duplicates()
    return m


def sparse_initial_posteriors(counts: sparse.csr_array, n_classes: int, init: str,
                              priors: np.ndarray | None = None) -> sparse.csr_array:
    """Vote shares (``naivesoft``) or majority vote (``mv``: one-hot, a tie shared
    equally between the m tied classes, 1/m each, as the dense
    ``dawid_skene.initial_posteriors``) as a CSR matrix; a task without vote gets
    ``priors`` (uniform when None)."""
    from ._base import argmax_shares

    c = sparse.csr_array(counts, dtype=float, copy=True)
    c.sum_duplicates()
    c.eliminate_zeros()
    n = c.shape[0]
    has = np.diff(c.indptr) > 0
    if init == "mv":
        T = argmax_shares(c)  # on c's pattern: 1/m at the tied top, explicit 0 elsewhere
        T.eliminate_zeros()
    else:
        tot = np.add.reduceat(c.data, c.indptr[:-1][has]) if c.nnz else np.zeros(0)
        scale = np.zeros(n)
        scale[has] = 1.0 / tot
        T = sparse.csr_array(sparse.diags_array(scale) @ c)
    return _fill_empty_rows(T, has, priors)


def _fill_empty_rows(T: sparse.csr_array, has: np.ndarray, priors: np.ndarray | None) -> sparse.csr_array:
    """Rows of tasks without votes get the class shares (the posterior of no evidence)."""
    n, k = T.shape
    empty = np.flatnonzero(~has)
    if empty.size == 0:
        return T
    p = np.full(k, 1.0 / k) if priors is None else np.asarray(priors, dtype=float)
    cls = np.flatnonzero(p > 0)
    coo = T.tocoo()
    rows = np.r_[coo.row, np.repeat(empty, cls.size)]
    cols = np.r_[coo.col, np.tile(cls, empty.size)]
    vals = np.r_[coo.data, np.tile(p[cls] / p[cls].sum(), empty.size)]
    return _csr(n, k, rows, cols, vals)


def sparse_m_step(T: sparse.csr_array, pair_task: sparse.csr_array, pair_worker: np.ndarray,
                  voted_tasks: np.ndarray, n_workers: int) -> SparseParams:
    """``S = A_pt @ T``, ``n_jk`` and ``log pi = log S - log n_jk`` at the entries of S."""
    n_tasks, k = T.shape
    S = sparse.csr_array(pair_task @ T)
    S.sum_duplicates()
    S.eliminate_zeros()
    S.sort_indices()
    pair_of_entry = np.repeat(np.arange(S.shape[0]), np.diff(S.indptr))
    key = pair_worker[pair_of_entry] * k + S.indices
    tot = np.bincount(key, weights=S.data, minlength=n_workers * k)
    log_pi = sparse.csr_array((np.log(S.data) - np.log(tot[key]), S.indices, S.indptr), shape=S.shape)
    # rho over the tasks with a vote (rows of T are distributions)
    voted = T[voted_tasks] if voted_tasks.size != n_tasks else T
    shares = np.bincount(voted.indices, weights=voted.data, minlength=k)
    total = shares.sum()
    priors = shares / total if total > 0 else np.full(k, 1.0 / k)
    return SparseParams(priors, log_pi, S, n_workers)


def sparse_e_step(task_pair: sparse.csr_array, log_pi: sparse.csr_array, priors: np.ndarray,
                  n_votes: np.ndarray) -> tuple[sparse.csr_array, float]:
    """Posterior ``T`` (CSR) and the log-likelihood ``sum_i log Z_i`` over voted tasks.

    ``n_votes[i]`` is the number of votes of task i (with multiplicity, the row sums of
    ``task_pair``). A voted task that no class can explain (a pair the fit never saw, for
    new votes) gets the class shares and adds nothing to the objective.
    """
    n, k = task_pair.shape[0], log_pi.shape[1]
    fin = np.isfinite(log_pi.data)
    if not fin.all():  # pi = 0 cells: not stored, the class is impossible there
        rows_of = np.repeat(np.arange(log_pi.shape[0]), np.diff(log_pi.indptr))[fin]
        log_pi = sparse.csr_array((log_pi.data[fin], log_pi.indices[fin],
                                   np.r_[0, np.cumsum(np.bincount(rows_of, minlength=log_pi.shape[0]))]),
                                  shape=log_pi.shape)
    # real part: 1 per vote reaching (task, k); imaginary part: log pi - 1 < 0, so no sum
    # cancels and both parts share one sparsity pattern
    both = sparse.csr_array((1.0 + 1j * (log_pi.data - 1.0), log_pi.indices, log_pi.indptr), shape=log_pi.shape)
    P = sparse.csr_array(task_pair.astype(np.complex128) @ both)
    P.sum_duplicates()
    rows = np.repeat(np.arange(n), np.diff(P.indptr))
    reach = P.data.real
    ok = np.abs(reach - n_votes[rows]) < 0.5
    with np.errstate(divide="ignore"):
        log_rho = np.log(priors)
    score = P.data.imag[ok] + reach[ok] + log_rho[P.indices[ok]]
    rows, cols = rows[ok], P.indices[ok]
    fin = np.isfinite(score)
    rows, cols, score = rows[fin], cols[fin], score[fin]
    counts = np.bincount(rows, minlength=n)
    indptr = np.r_[0, np.cumsum(counts)]
    has = counts > 0
    starts = indptr[:-1][has]
    row_max = np.full(n, -np.inf)
    if score.size:
        row_max[has] = np.maximum.reduceat(score, starts)
    e = np.exp(score - row_max[rows])
    z = np.zeros(n)
    if e.size:
        z[has] = np.add.reduceat(e, starts)
    e /= z[rows]
    T = sparse.csr_array((e, cols, indptr), shape=(n, k))
    T.eliminate_zeros()
    log_z = np.log(z[has]) + row_max[has]
    return _fill_empty_rows(T, has, priors), float(log_z.sum())


def sparse_clamp(T: sparse.csr_array, gold_idx: np.ndarray, gold_lab: np.ndarray) -> sparse.csr_array:
    """Rows of gold tasks replaced by their one-hot gold class."""
    if gold_idx.size == 0:
        return T
    n, k = T.shape
    coo = T.tocoo()
    keep = ~np.isin(coo.row, gold_idx)
    return _csr(n, k, np.r_[coo.row[keep], gold_idx], np.r_[coo.col[keep], gold_lab],
                np.r_[coo.data[keep], np.ones(gold_idx.size)])


def sparse_confusions(params: SparseParams, pair_worker: np.ndarray, pair_label: np.ndarray,
                      n_workers: int, k: int) -> sparse.csr_array:
    """Confusions as a CSR ``(n_workers * K, K)`` matrix: row ``j * K + k`` is
    ``pi_j[k, :]``; a class a worker never met has an empty row."""
    lp = params.log_pi
    pair_of_entry = np.repeat(np.arange(lp.shape[0]), np.diff(lp.indptr))
    rows = pair_worker[pair_of_entry] * k + lp.indices
    keep = np.isfinite(lp.data)  # pi = 0 cells are not stored
    return _csr(n_workers * k, k, rows[keep], pair_label[pair_of_entry][keep], np.exp(lp.data[keep]))


def sparse_pair_log_confusions(confusions: sparse.csr_array, worker_index: np.ndarray, weights: np.ndarray,
                               pair_worker: np.ndarray, pair_label: np.ndarray, k: int) -> sparse.csr_array:
    """Per-pair log-confusions ``(n_pairs, K)`` of new votes from fitted sparse confusions.

    ``worker_index[j]`` is the fitted index of worker j of the new votes (-1: unseen; it
    gets the ``weights``-weighted mean of the fitted confusions, each row renormalised:
    an empty row of a fitted worker does not pull a class down). A fitted worker without
    any stored cell (declared without votes) answers uniformly, ``-log K`` for every class,
    as in the dense fit; a class a fitted worker never met stays impossible (no cell).
    """
    conf = sparse.csr_array(confusions)
    n_fit = conf.shape[0] // max(k, 1)
    wts = np.asarray(weights, dtype=float)
    wts = wts / wts.sum() if wts.sum() > 0 else np.full(n_fit, 1.0 / max(n_fit, 1))
    coo = conf.tocoo()
    worker, true = coo.row // k, coo.row % k
    mean = _csr(k, k, true, coo.col, coo.data * wts[worker]).tocoo()
    row_tot = np.bincount(mean.row, weights=mean.data, minlength=k)
    mean.data = mean.data / np.where(row_tot > 0, row_tot, 1.0)[mean.row]
    # every stored cell keyed by (worker, answer); the mean is pseudo-worker n_fit
    e_key = np.r_[worker * k + coo.col, n_fit * k + mean.col]
    e_true = np.r_[true, mean.row]
    e_val = np.r_[coo.data, mean.data]
    order = np.argsort(e_key, kind="stable")
    e_key, e_true, e_val = e_key[order], e_true[order], e_val[order]
    widx = np.where(worker_index[pair_worker] >= 0, worker_index[pair_worker], n_fit)
    p_key = widx * k + pair_label
    lo = np.searchsorted(e_key, p_key, side="left")
    hi = np.searchsorted(e_key, p_key, side="right")
    lengths = hi - lo
    pair_of = np.repeat(np.arange(p_key.size), lengths)
    at = np.arange(pair_of.size) - np.repeat(np.cumsum(lengths) - lengths, lengths) + np.repeat(lo, lengths)
    with np.errstate(divide="ignore"):
        vals = np.log(e_val[at])
    rows, cols = pair_of, e_true[at]
    has_cells = np.bincount(worker, minlength=n_fit) > 0
    fitted = widx < n_fit
    pair_idle = np.zeros(p_key.size, bool)
    pair_idle[fitted] = ~has_cells[widx[fitted]]  # a fitted worker without a single cell
    idle_pairs = np.flatnonzero(pair_idle)
    if idle_pairs.size:
        rows = np.r_[rows, np.repeat(idle_pairs, k)]
        cols = np.r_[cols, np.tile(np.arange(k), idle_pairs.size)]
        vals = np.r_[vals, np.full(idle_pairs.size * k, -np.log(k))]
    return _csr(pair_label.size, k, rows, cols, vals)


def support_closure(T: sparse.csr_array, task_pair: sparse.csr_array, pair_task: sparse.csr_array,
                    n_votes: np.ndarray) -> sparse.csr_array:
    """The smallest pattern P containing the support of ``T`` that EM cannot leave.

    One EM step maps a posterior support P to at most ``F(P) = {(i, k): every vote cell
    p of task i has some task i' with cell p and (i', k) in P}`` (a class is possible
    for i only if each of its (worker, label) pairs was seen with k). ``F(P)`` contains
    P (a task's own cells), so iterating F from ``supp T`` grows to a fixed point P*,
    and every later EM iterate has its support inside P*. Returned as a CSR pattern
    (data all ones, sorted indices); rows of tasks without votes are kept as given.
    """
    P = sparse.csr_array((np.ones(T.nnz), T.indices.copy(), T.indptr.copy()), shape=T.shape)
    P.sum_duplicates()
    pair_task = sparse.csr_array(pair_task)  # once here, not at every product below
    while True:
        new = closure_step(P, task_pair, pair_task @ P, n_votes)
        if new.nnz == P.nnz:
            return new
        P = new


def closure_step(P: sparse.csr_array, task_pair: sparse.csr_array, reach: sparse.csr_array,
                 n_votes: np.ndarray) -> sparse.csr_array:
    """One application of ``F`` (:func:`support_closure`) to the pattern ``P``: task i keeps
    class k when each of its ``n_votes[i]`` vote cells reaches k, ``reach`` being the
    (pairs x K) pattern of the classes each (worker, label) pair was seen with
    (``pair_task @ P``); rows of tasks without votes keep their cells of ``P``."""
    n, k = P.shape
    Q = sparse.csr_array((np.ones(reach.nnz), reach.indices, reach.indptr), shape=reach.shape)
    C = sparse.csr_array(task_pair @ Q)
    C.sum_duplicates()
    rows = np.repeat(np.arange(n), np.diff(C.indptr))
    ok = np.abs(C.data - n_votes[rows]) < 0.5
    coo = P.tocoo()
    keep_unvoted = ~(n_votes > 0)[coo.row]
    new = _csr(n, k, np.r_[rows[ok], coo.row[keep_unvoted]], np.r_[C.indices[ok], coo.col[keep_unvoted]],
               np.ones(int(ok.sum()) + int(keep_unvoted.sum())))
    new.data[:] = 1.0
    new.sort_indices()
    return new


class FixedPattern:
    """EM steps on a frozen sparsity pattern: every step is a few bincounts.

    The pattern is :func:`support_closure` of the starting posterior: no EM iterate
    leaves it, so the posterior and the pair sums ``S`` live on fixed index sets and
    every product is a gather over the precomputed (pattern entry, vote cell) pairs:

    - M-step: ``S[q] = sum over pairs (e, c) with pos = q of mult_c T[e]``;
    - E-step: ``score[e] = log rho_k + sum over pairs (e, c) of mult_c log pi[pos]``.

    Entries whose posterior is 0 stay stored (as 0): the result is exactly EM's.
    The pairs number ``sum_i |P*_i| x cells_i``: about (support x votes).
    """

    def __init__(self, P: sparse.csr_array, task_pair: sparse.csr_array, pair_worker: np.ndarray,
                 voted_tasks: np.ndarray, n_workers: int):
        n, k = P.shape
        self.shape, self.k, self.n_workers = P.shape, k, n_workers
        self.indptr, self.indices = P.indptr, P.indices
        tp = sparse.csr_array(task_pair)
        tp.sort_indices()
        n_cells = np.diff(tp.indptr)                      # vote cells of each task
        ent_row = np.repeat(np.arange(n), np.diff(P.indptr))
        per_ent = n_cells[ent_row]                         # cells each entry meets
        self.ent = np.repeat(np.arange(ent_row.size), per_ent)
        first = np.repeat(tp.indptr[:-1][ent_row], per_ent)
        offset = np.arange(self.ent.size) - np.repeat(np.cumsum(per_ent) - per_ent, per_ent)
        cell = first + offset
        self.mult = tp.data[cell]
        self.unit = bool(np.all(self.mult == 1))
        pair = tp.indices[cell]
        key = pair * k + P.indices[self.ent]
        s_keys, self.pos = np.unique(key, return_inverse=True)
        s_pair, s_col = np.divmod(s_keys, k)
        n_pairs = task_pair.shape[1]
        self.s_indptr = np.r_[0, np.cumsum(np.bincount(s_pair, minlength=n_pairs))]
        self.s_indices = s_col
        self.s_shape = (n_pairs, k)
        self.wkey = pair_worker[s_pair] * k + s_col
        has_vote = np.zeros(n, bool)
        has_vote[voted_tasks] = True
        self.voted_ent = has_vote[ent_row]
        self.voted_rows = has_vote
        self.ent_row = ent_row
        self.keys = ent_row * k + P.indices  # sorted: rows, then sorted columns

    def embed(self, T: sparse.csr_array) -> sparse.csr_array:
        """``T`` (support inside the pattern) written on the pattern."""
        coo = T.tocoo()
        at = np.searchsorted(self.keys, coo.row.astype(np.int64) * self.k + coo.col)
        data = np.zeros(self.keys.size)
        data[at] = coo.data
        return sparse.csr_array((data, self.indices, self.indptr), shape=self.shape)

    def clamp(self, T: sparse.csr_array, gold_idx: np.ndarray, gold_lab: np.ndarray) -> sparse.csr_array:
        """Gold rows set to their one-hot class (the class is in the pattern)."""
        if gold_idx.size == 0:
            return T
        rows = np.zeros(self.shape[0], bool)
        rows[gold_idx] = True
        data = T.data.copy()
        data[rows[self.ent_row]] = 0.0
        data[np.searchsorted(self.keys, gold_idx.astype(np.int64) * self.k + gold_lab)] = 1.0
        return sparse.csr_array((data, self.indices, self.indptr), shape=self.shape)

    def matches(self, T: sparse.csr_array) -> bool:
        """Whether ``T`` is stored on this pattern (scipy may copy index arrays)."""
        return (T.shape == self.shape and T.nnz == self.indices.size
                and np.array_equal(T.indptr, self.indptr) and np.array_equal(T.indices, self.indices))

    def owns(self, params: SparseParams) -> bool:
        """Whether ``params`` came from :meth:`m_step` of this pattern."""
        lp = params.log_pi
        return lp.nnz == self.s_indices.size and np.array_equal(lp.indptr, self.s_indptr)

    def m_step(self, T: sparse.csr_array) -> SparseParams:
        w = T.data[self.ent]
        if not self.unit:
            w = w * self.mult
        S = np.bincount(self.pos, weights=w, minlength=self.wkey.size)
        tot = np.bincount(self.wkey, weights=S, minlength=self.n_workers * self.k)
        with np.errstate(divide="ignore", invalid="ignore"):
            lp = np.log(S) - np.log(tot[self.wkey])
        lp[np.isnan(lp)] = -np.inf  # a class with no mass anywhere for this worker
        shares = np.bincount(self.indices[self.voted_ent], weights=T.data[self.voted_ent], minlength=self.k)
        total = shares.sum()
        priors = shares / total if total > 0 else np.full(self.k, 1.0 / self.k)
        mk = lambda d: sparse.csr_array((d, self.s_indices, self.s_indptr), shape=self.s_shape)  # noqa: E731
        return SparseParams(priors, mk(lp), mk(S), self.n_workers)

    def e_step(self, params: SparseParams) -> tuple[sparse.csr_array, float]:
        g = params.log_pi.data[self.pos]
        if not self.unit:
            g = g * self.mult
        score = np.bincount(self.ent, weights=g, minlength=self.indices.size)
        with np.errstate(divide="ignore"):
            score += np.log(params.priors)[self.indices]
        starts = self.indptr[:-1]
        nonempty = np.diff(self.indptr) > 0
        row_max = np.full(self.shape[0], -np.inf)
        row_max[nonempty] = np.maximum.reduceat(score, starts[nonempty])
        safe_max = np.where(np.isfinite(row_max), row_max, 0.0)
        e = np.exp(score - safe_max[self.ent_row])
        z = np.zeros(self.shape[0])
        z[nonempty] = np.add.reduceat(e, starts[nonempty])
        with np.errstate(divide="ignore", invalid="ignore"):
            e /= z[self.ent_row]
            log_z = np.log(z) + safe_max
        T = sparse.csr_array((e, self.indices, self.indptr), shape=self.shape)
        good = self.voted_rows & (z > 0)
        return T, float(log_z[good].sum())
