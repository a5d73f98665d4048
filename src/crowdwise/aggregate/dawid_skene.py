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

The EM driver (:class:`EMStrategy`) is shared by every Dawid-Skene variant (one-coin,
Fast-DS, WDS, DSWC): gold clamping, the convergence loop and its bookkeeping,
``predict_proba`` on new votes and ``partial_fit`` (warm-started EM on the union of the
old and the new votes) live here once; a variant only writes its initial state, its
M-step, its E-step (which returns the objective) and the fitted attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse
from .._lazy import pd

from ..errors import InputError
from ..votes import Votes
from ._base import Aggregator, argmax_shares, argmax_ties
from . import _em
from ._em import (EMHistory, Segments, add_csr_product, check_budget, check_n_jobs, csr_row_blocks, group_index,
                  log_normalize, n_threads, row_sum, run_blocks, safe_log, segment_sum_gather, vote_incidence)
from . import _sparse_ds as _sds
from .registry import register

__all__ = ["DawidSkene", "EMStrategy", "append_votes"]

_ONE_COIN_ALTERNATIVES = "MV, NaiveSoft, WAWA, TwoThird, PlantNet, OneCoinDS"


# ---------------------------------------------------------------------- shared driver
class EMStrategy(Aggregator):
    """Shared EM driver of the Dawid-Skene family (not registered itself).

    A subclass implements the hooks

    - ``_validate(votes)``: parameter checks and the memory budget (once per fit);
    - ``_context(votes)``: what the steps precompute from the votes (sort orders...);
    - ``_init_state(votes, ctx)``: the initial posterior state;
    - ``_m_step(votes, ctx, state) -> params``;
    - ``_e_step(votes, ctx, params, state) -> (state, objective)``; ``state`` is None when
      the E-step runs from fitted parameters only (``predict_proba``, warm start);
    - ``_log_prior(params)``: the log-prior term of a MAP objective (0 for ML);
    - ``_clamp(ctx, state)``: impose the gold labels (``ctx.gold_idx``, ``ctx.gold_lab``);
    - ``_params_for(votes)``: fitted parameters looked up for the workers of ``votes``;
    - ``_finish(votes, ctx, params, state)``: set the fitted attributes (``probas_``...);
    - ``_probas_of(state, ctx)``: the soft labels of a state (for ``predict_proba``).

    and may override ``_converged`` (default: relative change of the objective below
    ``tol``). The loop is ``M, E, clamp, record``: the final state is the E-step of the
    final parameters, so ``predict_proba(fitted votes)`` reproduces ``probas_``.
    """

    # ------------------------------------------------------------------ public API
    def fit(self, votes: Votes, gold: Any = None) -> "EMStrategy":
        """Fit on ``votes``; ``gold`` optionally clamps known tasks.

        ``gold`` maps task ids to class values (dict or pandas Series); those tasks keep a
        one-hot posterior at every iteration.
        """
        self._gold = gold
        try:
            return super().fit(votes)
        finally:
            del self._gold

    def partial_fit(self, votes: Votes, gold: Any = None) -> "EMStrategy":
        """Continue the fit with more votes: EM on ``previous votes + votes``, warm-started.

        The fit continues on the union of the votes seen so far (kept in ``votes_``) and
        the new ``votes`` (new tasks and workers are appended, votes on known tasks join
        them), starting from the fitted parameters: the first E-step uses the fitted
        worker models (a new worker starts from the vote-weighted mean of the fitted ones)
        instead of the cold initialisation. It climbs the same objective as a cold ``fit``
        on the union and reaches the same optimum when EM has a single one, usually in
        fewer iterations (about half on the tests' crowds); where the likelihood has
        several optima (often with ``prior=0``) the two starts may stop at different ones. ``n_iter_`` and ``log_likelihood_`` describe this run only.

        ``gold`` applies to the union; None keeps the gold of the previous fit. Before any
        fit, ``partial_fit`` is ``fit``. Classes must be the fitted ones.
        """
        if not hasattr(self, "labels_"):
            return self.fit(votes, gold=gold)
        votes = self._check_votes(votes)
        merged = append_votes(self.votes_, votes)
        self._gold = self.gold_ if gold is None else gold
        try:
            self._validate(merged)
            ctx = self._context(merged)
            state = self._warm_state(merged, ctx)
            self.n_tasks_, self.n_classes_ = merged.n_tasks, merged.n_classes
            self.classes_ = merged.classes
            self.task_ids_ = merged.task_ids
            self.worker_ids_ = merged.worker_ids
            self._run_em(merged, ctx, state)
        finally:
            del self._gold
        return self

    # ------------------------------------------------------------------ driver
    def _fit(self, votes: Votes) -> None:
        self._validate(votes)
        ctx = self._context(votes)
        self._run_em(votes, ctx, self._init_state(votes, ctx))

    def _check_em_params(self) -> None:
        if int(self.max_iter) != self.max_iter or self.max_iter < 1:
            raise InputError(f"max_iter must be a positive integer, got {self.max_iter!r}",
                             fix="give the most EM iterations to run, e.g. max_iter=100")
        if not self.tol >= 0:
            raise InputError(f"tol must be >= 0, got {self.tol!r}",
                             fix="give the relative change of the objective that stops EM, e.g. tol=1e-6")
        if not self.prior >= 0:
            raise InputError(f"prior must be >= 0, got {self.prior!r}",
                             fix="give the Dirichlet smoothing count added to each confusion cell, e.g. prior=0 or 1")
        if self.tie not in ("random", "smallest"):
            raise InputError(f"tie={self.tie!r} is not a tie rule", fix="use 'random' or 'smallest'")

    def _run_em(self, votes: Votes, ctx: Any, state: Any) -> None:
        self._begin(votes, ctx)
        state = self._clamp(ctx, state)
        hist = EMHistory(self.tol)
        max_iter = int(self.max_iter)
        n_eval = 0

        def em_map(s: Any) -> tuple[Any, Any, float]:
            """One EM iteration from state ``s``: (params, new state, objective)."""
            nonlocal n_eval
            n_eval += 1
            p = self._m_step(votes, ctx, s)
            new, obj = self._e_step(votes, ctx, p, s)
            return p, self._clamp(ctx, new), obj + self._log_prior(p)

        def accept(p: Any, new: Any, obj: float, check: bool = True) -> bool:
            """Make ``new`` the current state; True when converged.

            An extrapolated point is recorded without the stop test (``check=False``): a
            jump that gains little says nothing about EM having converged, only plain EM
            steps do.
            """
            nonlocal state, params
            if check:
                stop = self._converged(hist, obj, state, new)
            else:
                hist.values.append(float(obj))
                stop = False
            state, params = new, p
            self._tick(n_eval, max_iter, obj)
            return stop

        params = None
        converged = False
        accelerate = bool(getattr(self, "accelerate", False)) and (
            isinstance(state, np.ndarray) or sparse.issparse(state))
        self._em_iterating = True  # E-steps may take shortcuts meanwhile (DawidSkene._e_step)
        try:
            while n_eval < max_iter and not converged:
                s0 = state
                converged = accept(*em_map(s0))
                if converged or not accelerate or n_eval >= max_iter:
                    continue
                s1, obj1 = state, hist.values[-1]
                converged = accept(*em_map(s1))
                if converged or n_eval >= max_iter:
                    continue
                s2, obj2 = state, hist.values[-1]
                jump = _squarem_point(s0, s1, s2)  # overwrites s0 and s1: drop our names for them
                s0 = s1 = s2 = None
                if jump is None:
                    continue
                p3, s3, obj3 = em_map(self._clamp(ctx, jump))
                jump = None
                if obj3 >= obj2:  # keep the objective monotone: a worse jump is dropped
                    converged = accept(p3, s3, obj3, check=False)
                else:
                    self._tick(n_eval, max_iter, obj2)
                p3 = s3 = None
        finally:
            self.__dict__.pop("_em_iterating", None)
        self.n_iter_ = n_eval
        self.converged_ = converged
        self.log_likelihood_ = hist.values
        self._finish(votes, ctx, params, state)
        self.votes_ = votes
        self.gold_ = getattr(self, "_gold", None)

    #: True while _run_em iterates (an instance attribute then): an E-step may trade the
    #: last digits for speed, since _finish recomputes the final posteriors exactly
    _em_iterating = False

    def _begin(self, votes: Votes, ctx: Any) -> None:
        """Called before the first iteration (reset per-run bookkeeping)."""

    def _converged(self, hist: EMHistory, objective: float, old: Any, new: Any) -> bool:
        return hist.update(objective)

    def _warm_state(self, votes: Votes, ctx: Any) -> Any:
        """Initial state of ``partial_fit``: the E-step of the fitted parameters."""
        return self._e_step(votes, ctx, self._params_for(votes), None)[0]

    def _predict_proba(self, votes: Votes):
        """Soft labels of the tasks of ``votes`` from the fitted worker models (one E-step).

        Workers unseen at fit time use the vote-weighted mean of the fitted workers.
        """
        _check_same_classes(votes, self.classes_)
        saved = getattr(self, "_gold", None)
        self._gold = None
        try:
            ctx = self._context(votes)
            state, _ = self._e_step(votes, ctx, self._params_for(votes), None)
        finally:
            if saved is None:
                del self._gold
            else:  # pragma: no cover - predict is never called inside fit
                self._gold = saved
        return self._probas_of(state, ctx)

    def _fitted_worker_index(self, votes: Votes) -> np.ndarray:
        """Index of each worker of ``votes`` among the fitted workers (-1 when unseen)."""
        idx = pd.Index(self.worker_ids_).get_indexer(votes.worker_ids)
        if (idx < 0).any() and votes.n_workers:
            alt = pd.Index(np.asarray(self.worker_ids_).astype(str)).get_indexer(
                np.asarray(votes.worker_ids).astype(str))
            idx = np.where(idx < 0, alt, idx)
        return idx

    def _fitted_worker_votes(self) -> np.ndarray:
        """Votes per fitted worker: weights of the 'unknown worker' average."""
        return self.votes_.votes_per_worker().astype(float)

    # ------------------------------------------------------------------ defaults
    def _log_prior(self, params: Any) -> float:
        return 0.0


def _squarem_point(s0: Any, s1: Any, s2: Any, rows: np.ndarray | None = None,
                   last: np.ndarray | None = None) -> Any:
    """The SQUAREM extrapolation of three successive EM states (Varadhan & Roland 2008).

    With ``r = s1 - s0`` and ``v = s2 - 2 s1 + s0``, the step length of scheme S3 is
    ``alpha = -||r|| / ||v||`` (at most -1, so that ``alpha = -1`` gives back ``s2``) and
    the point is ``s0 - 2 alpha r + alpha^2 v``. States here are task posteriors, so the
    point is clipped to ``>= 0`` and each row renormalised (a row that vanishes keeps
    ``s2``). Returns None when the states no longer move. Sparse states are taken on the
    pattern of ``s2`` (the frozen pattern of sparse DS): a state stored on another pattern
    whose support lies inside it (the starting posterior, before the pattern is frozen)
    is written on it first, so the jump is the dense one; otherwise no jump (None).

    Memory: the point is built in the buffer of ``s0`` and ``r`` in that of ``s1``, a
    block of rows at a time, so no full-size temporary is made; **s0 and s1 are
    overwritten** (the driver no longer needs them).
    """
    if sparse.issparse(s0) or sparse.issparse(s1) or sparse.issparse(s2):
        if not all(sparse.issparse(x) and x.shape == s2.shape for x in (s0, s1, s2)):
            return None
        d0, d1 = _data_on_pattern(s0, s2), _data_on_pattern(s1, s2)
        if d0 is None or d1 is None:
            return None
        rows = np.repeat(np.arange(s2.shape[0]), np.diff(s2.indptr))
        point = _squarem_point(d0[:, None], d1[:, None], s2.data[:, None], rows=rows,
                               last=s2.data[:, None])
        if point is None:
            return None
        return sparse.csr_array((point.ravel(), s2.indices, s2.indptr), shape=s2.shape)
    n = s0.shape[0]
    step = max(1, (1 << 16) // max(s0.shape[1], 1))  # 512 KB temporaries: cache-sized, no peak
    blocks = [slice(a, min(a + step, n)) for a in range(0, n, step)]
    r = s1
    nr2 = nv2 = 0.0
    for b in blocks:
        np.subtract(s1[b], s0[b], out=r[b])            # r = s1 - s0
        v = s2[b] - s0[b]
        v -= 2.0 * r[b]                                 # v = s2 - 2 s1 + s0
        nr2 += _sum_squares(r[b])
        nv2 += _sum_squares(v)
    if not (nv2 > 0 and np.isfinite(nr2) and np.isfinite(nv2)):
        return None
    alpha = min(-np.sqrt(nr2 / nv2), -1.0)
    a2 = alpha * alpha
    point = s0
    for b in blocks:  # s0 - 2a r + a^2 (s2 - s0 - 2r) = (1 - a^2) s0 - 2a(1 + a) r + a^2 s2
        p = point[b]
        p *= 1.0 - a2
        p += (-2.0 * alpha * (1.0 + alpha)) * r[b]
        p += a2 * s2[b]
        np.maximum(p, 0.0, out=p)
    if rows is not None:  # entries of a sparse matrix (one column): rows are segments
        tot = np.bincount(rows, weights=point[:, 0])
        bad = ~(tot > 0)
        tot[bad] = 1.0
        point[:, 0] /= tot[rows]
        fix = bad[rows]
        if fix.any():
            point[fix] = last[fix]
        return point
    tot = row_sum(point)
    bad = ~(tot > 0)
    tot[bad] = 1.0
    point /= tot[:, None]
    if bad.any():
        point[bad] = s2[bad]
    return point


def _data_on_pattern(x: Any, pattern: Any) -> np.ndarray | None:
    """The values of CSR ``x`` at the stored entries of CSR ``pattern`` (its own data
    array when the patterns are the same), or None when ``x`` has a non-zero outside."""
    if x.nnz == pattern.nnz and np.array_equal(x.indptr, pattern.indptr) and np.array_equal(
            x.indices, pattern.indices):
        return x.data
    k = pattern.shape[1]
    p_rows = np.repeat(np.arange(pattern.shape[0], dtype=np.int64), np.diff(pattern.indptr))
    p_keys = p_rows * k + pattern.indices
    if p_keys.size > 1 and not (np.diff(p_keys) > 0).all():
        return None  # unsorted or duplicated entries: not a pattern to search
    coo = sparse.coo_array(x)
    nz = coo.data != 0
    keys = coo.row[nz].astype(np.int64) * k + coo.col[nz]
    at = np.searchsorted(p_keys, keys)
    inside = at < p_keys.size
    if not inside.all() or not np.array_equal(p_keys[at], keys):
        return None
    out = np.zeros(pattern.nnz)
    np.add.at(out, at, coo.data[nz])
    return out


def _pair_log_confusions(S: np.ndarray, tot: np.ndarray, seg: np.ndarray, a: float, k: int, *,
                         fast: bool = False) -> np.ndarray:
    """``log pi = log(S + a) - log(n_jk + K a)`` at the voted (worker, label) pairs.

    ``S``: per-pair sums ``(pairs, K)``; ``tot``: their per-worker totals ``n_jk``;
    ``seg``: each pair's row of ``tot``. Without smoothing (``a = 0``) a class the worker
    never met (``n_jk = 0``) gets ``-inf`` at every pair of the worker: its answers rule
    that class out (see the Notes of :class:`DawidSkene`). ``fast``: the float32 log of
    :func:`~crowdwise.aggregate._em.log_nonnegative`. Without smoothing the result is
    written over ``S`` (the M-step does not keep it then).
    """
    with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 cells are reset below
        if a > 0:
            G = _em.log_nonnegative(S + a, fast=fast, min_size=0)
            G -= np.log(tot + k * a).take(seg, axis=0)  # take: 2x faster than [seg] here
            return G
        G = _em.log_nonnegative(S, fast=fast, min_size=0)
        G -= np.log(tot).take(seg, axis=0)
    if not (tot > 0).all():
        G[tot[seg] <= 0] = -np.inf  # 0/0: a zero row, as EM's permanent zeros (not NaN)
    return G


#: smallest ``tol`` at which the loop takes the float32 exp and log: their rounding (a few
#: 1e-7 relative per value) moves the log-likelihood by far less than ``1e-8 |L|``, but a
#: tighter stop test could be decided by it (a premature stop, measured at tol=1e-10)
FAST_MIN_TOL = 1e-8


def _float32_pays(n_cells: int, tol: float) -> bool:
    """Whether an E-step over ``n_cells`` posterior cells (or an M-step over as many
    per-pair cells) takes the float32 exp (log) in the loop; read at call time, so that
    tests can move the threshold."""
    return n_cells >= _em.FAST_EXP_MIN_SIZE and float(tol) >= FAST_MIN_TOL


def _sum_squares(x: np.ndarray) -> float:
    """``sum(x ** 2)`` without BLAS: a threaded ``ddot`` wakes OpenBLAS's threads, which
    then spin on the other core for the rest of the fit (measured: 1.4 s of CPU beside a
    2 s DS fit, and a slower fit when that core is busy)."""
    return float(np.einsum("ij,ij->", x, x))


def _check_same_classes(votes: Votes, classes: np.ndarray) -> None:
    if not np.array_equal(np.asarray(votes.classes), np.asarray(classes)):
        raise InputError("new votes declare other classes than the fitted ones",
                         fix="build them with classes=model.classes_")


# ---------------------------------------------------------------------- Dawid-Skene
class DSParams(NamedTuple):
    """Parameters of one M-step: class shares, per-pair log-confusions, and the sums they
    come from (kept, with smoothing, for the MAP prior term and the full confusions)."""

    priors: np.ndarray         # (K,)
    log_pi: np.ndarray         # (n_pairs, K): log pi_j[k, l] for each voted pair (j, l)
    pair_sums: np.ndarray | None  # (n_pairs, K): S when prior > 0 (None without smoothing)
    worker_totals: np.ndarray  # (n_workers with votes, K): n_jk
    n_workers: int             # workers declared (with or without votes)


class _Keys(NamedTuple):
    """The keys of groups present (voted tasks, voted (worker, label) pairs), sorted."""

    keys: np.ndarray


@dataclass
class _DSContext:
    by_task: _Keys
    by_pair: _Keys
    gold_idx: np.ndarray
    gold_lab: np.ndarray
    task_pair: Any = None   # CSR (n_tasks, n_pairs): votes of each (worker, label) pair per task
    pair_task: Any = None   # its transpose: a CSC view of task_pair (no copy; see _m_step)
    pair_worker: Any = None  # (n_pairs,) worker of each pair
    pair_label: Any = None   # (n_pairs,) label of each pair
    worker_starts: Any = None  # first pair of each worker with votes (pairs are sorted by worker)
    task_pair_c: Any = None  # task_pair as complex numbers (sparse mode, made on first use)
    n_votes: Any = None      # votes per task (sparse mode)
    fixed: Any = None        # _sds.FixedPattern once the supports stop growing
    pair_seg: Any = None     # (n_pairs,) rank of each pair's worker among the workers with votes
    row_blocks: Any = None   # [(row slice, CSR view of task_pair)], one per E-step thread
    row_blocks_want: int = 0  # the thread count they were cut for


@register("DS")
class DawidSkene(EMStrategy):
    """Dawid & Skene EM with full per-worker confusion matrices.

    Parameters
    ----------
    max_iter : int, default=100
    tol : float, default=1e-6
        Stop when the relative change of the objective is below ``tol``. From ``1e-8``
        up, the loop on a large crowd takes the float32 ``exp`` and ``log`` (see
        ``log_likelihood_``); a tighter ``tol`` runs it exact, since their rounding could
        then decide the stop test.
    prior : float, default=0.0
        Dirichlet smoothing ``a`` added to every confusion count (Passonneau & Carpenter
        2014); ``a > 0`` keeps workers with few votes from getting 0/1 confusions.
    init : {"naivesoft", "mv"}, fitted DS model, or mapping, default="naivesoft"
        Initial task posteriors: vote shares, one-hot majority vote (a tie shared
        equally between the tied classes, not broken by class index), or the posteriors
        given by a *worker history*: a fitted Dawid-Skene model (its ``confusions_`` and
        ``priors_``, e.g. last month's fit) or a mapping ``{worker id: (K, K) confusion}``
        (rows normalised; uniform class shares). The first E-step uses the history's
        confusion of each known worker and, for a worker the history does not know, the
        mean of the history's confusions (weighted by their votes for a fitted model);
        EM then runs on ``votes`` as usual. Dense mode only.
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_`` (argmax of ``probas_``).
    random_state : int or None
    memory_budget : float or None
        Bytes allowed for the confusion matrices (default 4 GiB); above, ``fit`` refuses
        with a message naming the methods that can run.
    sparse : {"auto", True, False}, default="auto"
        Sparse posteriors and confusions (exact for ``prior=0``, see
        :mod:`crowdwise.aggregate._sparse_ds`): memory O(votes + workers x K) instead of
        O(workers x K^2), for many classes. ``"auto"`` uses them when the dense
        confusions would exceed ``memory_budget`` and ``prior == 0``. Both modes run the
        same EM (the same iterates to 1e-9, see Notes), so the switch does not change the
        answer. In sparse mode ``confusions_`` is a CSR matrix of shape
        ``(n_workers * K, K)`` (row ``j * K + k`` is ``pi_j[k, :]``, empty for a class the
        worker never met) and ``probas_`` is CSR.
    accelerate : bool, default=True
        SQUAREM acceleration (Varadhan & Roland 2008) of the EM map on the task
        posteriors: every third iteration jumps along the extrapolated path and is kept
        only when the objective does not decrease, so the objective stays monotone and
        the fixed points are those of plain EM; it needs about half the iterations where
        EM crawls. ``False`` runs plain EM. Both stop when one plain EM step gains less
        than ``tol`` (relative); on a flat likelihood they may stop at different points
        within that tolerance (a few labels apart), so use ``False`` (or a smaller
        ``tol``) to reproduce another library's plain EM.
    n_jobs : int or None, default=None
        Threads of the dense E-step, which splits the tasks into row blocks (each task's
        posterior is computed alone, so **the result is the same for any** ``n_jobs``).
        ``None`` (unlike scikit-learn's, which means 1) uses every core the process may
        run on once the posterior array has ``2^17`` cells per thread (on one core below:
        threads would cost more than they share); ``1`` one thread; ``-1`` every core;
        inside joblib workers, pass ``n_jobs=1``. At 500k votes, K = 10 on 2 cores the
        E-step takes half the time (the M-step that follows reads rows another core
        wrote, which costs back part of it). The M-step and the sparse mode run on one
        thread (threads measured no faster there).

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes)
        Posterior ``T``.
    labels_ : ndarray (n_tasks,)
    confusions_ : ndarray (n_workers, n_classes, n_classes)
        ``confusions_[j, k, l] = P(worker j answers l | true class k)``. Every row sums
        to 1: the row of a class the worker never met (see Notes) and the rows of a
        declared worker without votes are uniform (nothing is known of them).
    never_met_ : ndarray of bool (n_workers, n_classes) or None
        ``never_met_[j, k]``: worker j has votes but never met class k (``n_jk = 0`` at
        the last M-step, ``prior=0`` only). Its reported row is uniform, but the fit ruled
        ``k`` out for j's answers, and ``predict_proba`` / ``partial_fit`` do the same, so
        that ``probas_`` is the E-step of ``confusions_`` with these rows set to 0. None in
        sparse mode, where these rows of ``confusions_`` are empty.
    priors_ : ndarray (n_classes,)
    log_likelihood_ : list of float
        Objective after each E-step (non-decreasing); an extrapolated step that did not
        improve it is dropped and not listed. On more than 2^14 posterior cells the
        loop's E-steps take a float32 ``exp`` (see :func:`~crowdwise.aggregate._em.exp_nonpositive`),
        and on more than 2^14 per-pair cells its M-steps a float32 ``log``
        (:func:`~crowdwise.aggregate._em.log_nonnegative`), so these values are exact to
        ~1e-9 relative. The reported state is exact again: with smoothing ``confusions_``
        are the exact count ratios of the last M-step; without, its ratios keep the
        float32 rounding (~1e-6 relative, far inside ``tol``) but every row sums to 1 to
        the last digits; ``probas_`` is the exact E-step of ``confusions_``.
    n_iter_ : int
        EM iterations run (M-step + E-step pairs, dropped extrapolations included).
    converged_ : bool
    votes_ : Votes
        The votes of the fit (a reference, not a copy), kept for :meth:`partial_fit`.
    gold_ : mapping or None
        The gold labels of the fit.

    Notes
    -----
    **A class a worker never met.** Without smoothing the M-step's confusion row
    ``pi_j[k, l] = S[(j, l), k] / n_jk`` is 0/0 when ``n_jk = sum_{votes of j} T_ik = 0``:
    no task worker j answered has any posterior mass on class k. The likelihood leaves that row
    free (its weight in the M-step is 0, so any row maximises it). The rule here, in both
    the dense and the sparse mode: **class k is ruled out for j's answers**
    (``pi_j[k, l] = 0`` at every label j gave; ``log pi = -inf``). A zero of ``S`` (and of
    ``n_jk``) then stays a zero, as EM's other zeros do, so the posterior never leaves the
    support closure of its start (:func:`~crowdwise.aggregate._sparse_ds.support_closure`).

    Why not the uniform row ``1/K`` (the dense mode's rule before, and the limit of
    smoothing ``prior -> 0``)? It gives class k the weight ``1/K`` on *every*
    answer of j, so k becomes possible on each task j answered where the other voters
    allow it; on a task that j answered alone, every class with ``rho_k > 0`` becomes
    possible. With many classes a worker has met a handful of them (Pl@ntNet: K = 11,425),
    so the posterior of such tasks would fill all K classes and the sparse mode, whose
    memory is O(votes) because that closure is sparse, would become dense. The two
    modes must give one answer (``sparse="auto"`` switches by memory), so both rule the
    class out; they agree to 1e-9 on the real sets (tested on web_relevance and
    zheng_relevance). Ruling out moved DS's accuracy on 4 of the 16 real sets by at most
    0.003 (music_genre .7729 -> .7757, web_relevance .8292 -> .8296, zheng_product .9396 ->
    .9397, zheng_relevance .6157 -> .6148; mean .8123 -> .8125).

    ``confusions_`` still *reports* such a row as uniform (an empty row in sparse mode):
    nothing is known of the worker on that class, and worker scores (trace, spammer score)
    read it so; ``never_met_`` says which rows the fit ruled out. A task that no class
    can explain (possible on new votes only: a label the worker never gave, or only
    classes it never met) gets the class shares ``priors_``, in both modes.

    References
    ----------
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates
    using the EM algorithm", JRSS C 28(1), 1979.
    R. J. Passonneau and B. Carpenter, "The benefits of a model of annotation", TACL 2014.
    R. Varadhan and C. Roland, "Simple and globally convergent methods for accelerating
    the convergence of any EM algorithm", Scand. J. Statist. 35(2), 2008.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 1, 1, 1, 0])
    >>> ds = DawidSkene(tie="smallest").fit(v)
    >>> ds.labels_.tolist(), bool(ds.converged_)
    ([0, 1], True)

    More votes later: the fit continues from the fitted confusions.

    >>> more = Votes.from_records([2, 2, 2], ["a", "b", "c"], [1, 1, 1], classes=v.classes)
    >>> ds.partial_fit(more).labels_.tolist()
    [0, 1, 1]
    """

    description = "Dawid-Skene EM: a full confusion matrix per worker (log space, sparse, Dirichlet smoothing)."
    n_jobs: int | None = None  # (a model pickled before the parameter existed reads it from here)
    scales_to_many_classes = False
    single_vote_is_label = False  # one vote per task does not identify the confusions

    def __init__(self, max_iter: int = 100, tol: float = 1e-6, prior: float = 0.0, init: str = "naivesoft",
                 tie: str = "random", random_state: int | None = None, memory_budget: float | None = None,
                 accelerate: bool = True, sparse: bool | str = "auto", n_jobs: int | None = None):
        self.accelerate = accelerate
        self.sparse = sparse
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.tol = tol
        self.prior = prior
        self.init = init
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    # ------------------------------------------------------------------ hooks
    _budget_name = "DS"

    #: whether this class can run the sparse kernels (its state is the plain posterior)
    _sparse_capable = True

    def _validate(self, votes: Votes) -> None:
        self._check_em_params()
        check_n_jobs(self.n_jobs)
        history = not isinstance(self.init, str)
        if history and not (hasattr(self.init, "confusions_") or isinstance(self.init, Mapping)):
            raise InputError(f"init={self.init!r} is not an initialisation",
                             fix="use 'naivesoft', 'mv', a fitted DS model or {worker id: K x K confusion}")
        if not history and self.init not in ("naivesoft", "mv"):
            raise InputError(f"init={self.init!r} is not an initialisation",
                             fix="use 'naivesoft', 'mv', a fitted DS model or {worker id: K x K confusion}")
        k, w = votes.n_classes, votes.n_workers
        mode = getattr(self, "sparse", False)
        if history and mode is True:
            raise InputError("an initial worker history needs the dense mode", fix="set sparse=False or 'auto'")
        if mode not in ("auto", True, False):
            raise InputError(f"sparse={mode!r} is not a mode", fix="use 'auto', True or False")
        dense_bytes = 3 * 8.0 * w * k * k + 8.0 * 4 * votes.n_tasks * k
        from ._em import DEFAULT_MEMORY_BUDGET
        budget = DEFAULT_MEMORY_BUDGET if self.memory_budget is None else self.memory_budget
        if mode is True and not self._sparse_capable:
            raise InputError(f"{type(self).__name__} has no sparse mode", fix="use DS[sparse=True] or sparse=False")
        if mode is True and self.prior > 0:
            raise InputError("the sparse mode is exact only without smoothing (prior=0)",
                             fix="set prior=0 or sparse=False")
        self._sparse_mode = self._sparse_capable and not history and (
            mode is True or (mode == "auto" and self.prior == 0 and dense_bytes > budget))
        if self._sparse_mode:
            check_budget(self._budget_name, 2 * 8.0 * w * k + 64.0 * votes.n_votes, self.memory_budget,
                         what=f"{w:,} workers x {k:,} class totals", alternatives=_ONE_COIN_ALTERNATIVES)
            return
        hint = (" (DS with prior=0 runs sparse: memory O(votes + workers x K))"
                if self._sparse_capable and self.prior > 0 else "")
        check_budget(self._budget_name, 3 * 8.0 * w * k * k, self.memory_budget,
                     what=f"{w:,} workers x {k:,}^2 confusion entries",
                     alternatives=_ONE_COIN_ALTERNATIVES + hint)

    def _context(self, votes: Votes) -> _DSContext:
        k = votes.n_classes
        gold_idx, gold_lab = _gold_indices(getattr(self, "_gold", None), votes)
        pair_keys, pair_of_vote = group_index(votes.worker * k + votes.label, votes.n_workers * k)
        n_pairs = pair_keys.size
        by_pair = _Keys(pair_keys)
        task_pair = vote_incidence(votes.task, pair_of_vote, votes.n_tasks, n_pairs)
        pw, pl = np.divmod(by_pair.keys, k)
        starts = np.flatnonzero(np.r_[True, pw[1:] != pw[:-1]]) if n_pairs else np.zeros(0, np.int64)
        voted = np.flatnonzero(np.diff(task_pair.indptr) > 0)
        seg = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n_pairs]))
        return _DSContext(_Keys(voted), by_pair, gold_idx, gold_lab,
                          task_pair, task_pair.T, pw, pl, starts, pair_seg=seg)

    def _init_state(self, votes: Votes, ctx: _DSContext) -> np.ndarray:
        if not isinstance(self.init, str):
            priors, conf = history_confusions(self.init, votes)
            return self._e_step(votes, ctx, (priors, safe_log(conf)), None)[0]
        if getattr(self, "_sparse_mode", False):
            return _sds.sparse_initial_posteriors(votes.counts(), votes.n_classes, self.init)
        return initial_posteriors(votes, self.init)

    @staticmethod
    def _sparse_n_votes(ctx: _DSContext) -> np.ndarray:
        if ctx.n_votes is None:
            ctx.n_votes = ctx.task_pair.sum(axis=1)
        return ctx.n_votes

    def _clamp(self, ctx: _DSContext, T: np.ndarray) -> np.ndarray:
        if sparse.issparse(T):
            if ctx.fixed is not None and ctx.fixed.matches(T):
                return ctx.fixed.clamp(T, ctx.gold_idx, ctx.gold_lab)
            return _sds.sparse_clamp(T, ctx.gold_idx, ctx.gold_lab)
        if ctx.gold_idx.size:
            T[ctx.gold_idx] = 0.0
            T[ctx.gold_idx, ctx.gold_lab] = 1.0
        return T

    def _m_step(self, votes: Votes, ctx: _DSContext, T: np.ndarray) -> "DSParams":
        """Confusions at the (worker, label) pairs that received votes.

        ``S[p, k] = sum of T[i, k] over the votes of pair p = (j, l)`` (one sparse-dense
        product) and ``n_jk = sum_l S[(j, l), k]`` (a segment sum over the pairs of j), so
        ``log pi_j[k, l] = log(S + a) - log(n_jk + K a)`` is only formed where the E-step
        reads it: O(pairs x K), never O(workers x K^2). A class k a worker never saw
        (``n_jk = 0``, ``a = 0``) gets a zero row: ``log pi = -inf`` at the worker's pairs
        (the rule of the class docstring, shared with the sparse mode).
        """
        if sparse.issparse(T):
            if ctx.fixed is None or not ctx.fixed.matches(T):
                # freeze the pattern EM cannot leave, then every step is a gather
                n_votes = self._sparse_n_votes(ctx)
                P = _sds.support_closure(T, ctx.task_pair, ctx.pair_task, n_votes)
                ctx.fixed = _sds.FixedPattern(P, ctx.task_pair, ctx.pair_worker, ctx.by_task.keys,
                                              votes.n_workers)
                T = ctx.fixed.embed(T)
            return ctx.fixed.m_step(T)
        k, a = votes.n_classes, float(self.prior)
        # pair_task is the CSC transpose of task_pair: the product walks the tasks in order,
        # reading each posterior row once and adding it into the (smaller) rows of S; a CSR
        # copy would gather posterior rows at random, 3.5x slower at 500k votes
        S = ctx.pair_task @ T  # (pairs, K_true)
        n_pairs = S.shape[0]
        tot = np.add.reduceat(S, ctx.worker_starts, axis=0) if n_pairs else np.zeros((0, k))
        # in the loop, the float32 log (under 1e-7 + 1.5e-7 |log| absolute; _em.log_nonnegative),
        # for a strategy whose _finish makes the reported state exact again
        fast = self._em_iterating and self._exact_final_e_step and _float32_pays(S.size, self.tol)
        G = _pair_log_confusions(S, tot, ctx.pair_seg, a, k, fast=fast)  # over S when a = 0
        # S is kept only for the MAP prior term (a > 0): without smoothing the confusions
        # are exp(G), and two parameter sets alive in SQUAREM's cycle cost 2 x pairs x K less
        return DSParams(class_priors(T, ctx.by_task.keys), G, S if a > 0 else None, tot, votes.n_workers)

    def _log_scores(self, votes: Votes, ctx: _DSContext, params: "DSParams | tuple") -> np.ndarray:
        """``log rho_k + sum_votes log pi_j[k, l]``, shape (n_tasks, K).

        ``params[1]`` is either the per-pair ``(n_pairs, K)`` log-confusions of the
        M-step or full ``(n_workers, K, K)`` log-confusions (fitted ones, for new votes).
        """
        G, log_rho = self._score_terms(ctx, params)
        L = np.empty((ctx.task_pair.shape[0], log_rho.size))
        self._fill_scores(ctx.task_pair, G, log_rho, L)
        return L

    @staticmethod
    def _score_terms(ctx: _DSContext, params: "DSParams | tuple") -> tuple[np.ndarray, np.ndarray]:
        """``(G, log rho)``: per-pair log-confusions ``(n_pairs, K)`` and log class shares."""
        priors, log_pi = params[0], params[1]
        G = log_pi[ctx.pair_worker, :, ctx.pair_label] if log_pi.ndim == 3 else log_pi
        return G, safe_log(priors)

    @staticmethod
    def _fill_scores(A: Any, G: np.ndarray, log_rho: np.ndarray, out: np.ndarray) -> None:
        """``out = log_rho + A @ G`` for the task rows of ``A``, written in place."""
        out[...] = log_rho
        with np.errstate(invalid="ignore"):  # -inf entries (impossible answers) stay -inf
            add_csr_product(A, G, out)

    def _e_step(self, votes: Votes, ctx: _DSContext, params: "DSParams",
                state: Any) -> tuple[np.ndarray, float]:
        if isinstance(params, _sds.SparseParams):
            if ctx.task_pair_c is None:
                ctx.task_pair_c = ctx.task_pair.astype(np.complex128)
            if ctx.fixed is not None and ctx.fixed.owns(params):
                return ctx.fixed.e_step(params)
            return _sds.sparse_e_step(ctx.task_pair_c, params.log_pi, params.priors, self._sparse_n_votes(ctx))
        G, log_rho = self._score_terms(ctx, params)
        n, k = ctx.task_pair.shape[0], log_rho.size
        blocks = self._row_blocks(ctx, n * k)
        T = np.empty((n, k))
        lognorm = np.empty(n)
        fast = self._uses_float32_exp(n * k)  # decided on the whole array: the same path for any split

        def rows(b: int) -> None:
            # every row is computed alone, so the result is the same for any split
            sl, A = blocks[b]
            Tb = T[sl]
            self._fill_scores(A, G, log_rho, Tb)
            out, lognorm[sl] = log_normalize(Tb, overwrite=True, fast_exp=fast)
            if out is not Tb:  # pragma: no cover - log_normalize works in place on a C-ordered block
                Tb[...] = out

        run_blocks(rows, len(blocks))
        fin = np.isfinite(lognorm)
        if not fin.all():
            # a task no class can explain (new votes only: a label the worker never gave,
            # or only classes it never met) gets the class shares, as in the sparse mode;
            # it adds nothing to the objective
            rho = np.asarray(params[0], dtype=float)
            T[~fin] = rho / rho.sum() if rho.sum() > 0 else 1.0 / k
        return T, float(lognorm[fin].sum())

    def _uses_float32_exp(self, n_cells: int) -> bool:
        """Whether this E-step takes the float32 exp: inside the EM loop, on an array big
        enough for its blocks to pay (the final E-step in _finish is then recomputed)."""
        return self._em_iterating and _float32_pays(n_cells, self.tol)

    def _row_blocks(self, ctx: _DSContext, n_cells: int) -> list:
        """Row blocks of the E-step, one per thread (see ``n_jobs``), made once per context."""
        n = ctx.task_pair.shape[0]
        want = n_threads(self.n_jobs, n_cells, n)
        if ctx.row_blocks is None or ctx.row_blocks_want != want:
            ctx.row_blocks = (csr_row_blocks(ctx.task_pair, want) if want > 1
                              else [(slice(0, n), ctx.task_pair)])
            ctx.row_blocks_want = want  # (the cuts may give fewer blocks: keep them anyway)
        return ctx.row_blocks

    def _log_prior(self, params: "DSParams") -> float:
        """``a * sum_{j,k,l} log pi_j[k, l]`` over every worker and cell (MAP objective).

        A cell of a pair without votes has ``pi = a / (n_jk + K a)``, so the sum is
        ``sum_pairs sum_k log(S + a) + (K W - pairs) K log a - K sum_{j,k} log(n_jk + K a)``
        over the ``W`` workers (a worker without votes adds ``K^2 log(1/K)``).
        """
        a = float(self.prior)
        if a <= 0 or isinstance(params, _sds.SparseParams):
            return 0.0
        S, tot = params.pair_sums, params.worker_totals
        k = len(params.priors)
        n_workers = params.n_workers
        total = float(np.log(S + a).sum())
        total += (n_workers * k - S.shape[0]) * k * np.log(a)
        total -= k * float(np.log(tot + k * a).sum())
        total -= k * k * (n_workers - tot.shape[0]) * np.log(k * a)
        return a * total

    def _dense_confusions(self, votes: Votes, ctx: _DSContext, params: "DSParams") -> np.ndarray:
        """The full ``(n_workers, K, K)`` confusions of per-pair parameters."""
        k, w, a = votes.n_classes, votes.n_workers, float(self.prior)
        if params.pair_sums is None:  # no smoothing: pi = S / n_jk = exp(log_pi) at the voted pairs
            conf = np.zeros((w, k, k))
            conf[ctx.pair_worker, :, ctx.pair_label] = np.exp(params.log_pi)
            # a class the worker never met (n_jk = 0: log_pi = -inf, ruled out for its
            # answers, see never_met_), or a worker without votes: reported as a uniform row
            dead_r, dead_k = np.nonzero(~(params.worker_totals > 0))
            if dead_r.size:
                conf[ctx.pair_worker[ctx.worker_starts[dead_r]], dead_k, :] = 1.0 / k
            conf[~(conf.sum(axis=2) > 0)] = 1.0 / k
            return conf
        counts = np.zeros((w, k, k))
        counts[ctx.pair_worker, :, ctx.pair_label] = params.pair_sums
        counts += a
        tot = counts.sum(axis=2, keepdims=True)
        return np.divide(counts, tot, out=np.full_like(counts, 1.0 / k), where=tot > 0)

    #: recompute the posteriors of the final parameters with the exact exp (the loop's
    #: E-steps use the float32 one); a subclass with its own E-step turns it off
    _exact_final_e_step = True

    def _exact_log_pi(self, votes: Votes, ctx: _DSContext, params: "DSParams") -> np.ndarray:
        """The per-pair log-confusions of an M-step that took the float32 log, made exact.

        With smoothing, from the kept sums: ``log(S + a) - log(n_jk + K a)``. Without,
        each confusion row ``(j, k)`` is renormalised over the worker's pairs, ``G -=
        log sum_l exp(G)``, and capped at 0: the float32 rounding (~1e-7) would otherwise
        leave rows that miss 1 by that much and cells of 1.0000002 (``S = n_jk``), which
        ``numpy.random.Generator.choice`` refuses as probabilities.
        """
        k = votes.n_classes
        if params.pair_sums is not None:
            return _pair_log_confusions(params.pair_sums, params.worker_totals, ctx.pair_seg, float(self.prior), k)
        G = params.log_pi  # in place: the loop is over, nothing else holds these parameters
        if not G.size:
            return G
        live = params.worker_totals > 0  # (workers with votes, K); dead rows keep -inf
        with np.errstate(divide="ignore"):
            row_tot = np.log(np.add.reduceat(np.exp(G), ctx.worker_starts, axis=0))
        row_tot[~live] = 0.0
        G -= row_tot.take(ctx.pair_seg, axis=0)
        np.minimum(G, 0.0, out=G)
        return G

    def _finish(self, votes: Votes, ctx: _DSContext, params: "DSParams", T: np.ndarray) -> None:
        if self._exact_final_e_step and isinstance(params, DSParams) and isinstance(T, np.ndarray) and T.ndim == 2:
            # the loop's M-steps may have taken the float32 log: with smoothing, the
            # reported confusions are the exact (S + a) / (n_jk + K a), so their logarithm
            # is recomputed (without, the confusions are exp(log_pi) themselves)
            fast_m = _float32_pays(params.log_pi.size, self.tol)
            if fast_m:
                params = params._replace(log_pi=self._exact_log_pi(votes, ctx, params))
            if fast_m or _float32_pays(T.size, self.tol):
                # the loop's E-steps took the float32 exp (under 8e-7 relative): the
                # posteriors of the final parameters are recomputed with the exact one
                T = self._clamp(ctx, self._e_step(votes, ctx, params, None)[0])
        self.priors_ = params.priors
        self.sparse_mode_ = isinstance(params, _sds.SparseParams)
        if self.sparse_mode_:
            self.confusions_ = _sds.sparse_confusions(params, ctx.pair_worker, ctx.pair_label,
                                                      votes.n_workers, votes.n_classes)
            self.never_met_ = None  # the empty rows of a worker with votes
        else:
            self.confusions_ = self._dense_confusions(votes, ctx, params)
            self.never_met_ = np.zeros((votes.n_workers, votes.n_classes), bool)
            if params.pair_sums is None and params.worker_totals.size:
                self.never_met_[ctx.pair_worker[ctx.worker_starts]] = ~(params.worker_totals > 0)
        self.__dict__.pop("_sparse_mode", None)
        self.probas_ = T
        self.labels_ = argmax_ties(T, tie=self.tie, random_state=self.random_state)

    def _probas_of(self, T: np.ndarray, ctx: Any = None) -> np.ndarray:
        return T

    def _params_for(self, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
        """Fitted priors and log-confusions for the workers of ``votes``, as the fit's
        E-step reads them: a class a fitted worker never met is ruled out for its answers
        (``never_met_``); an unseen worker gets the vote-weighted mean confusion of the
        fitted workers, each row over the workers who met that class."""
        if sparse.issparse(self.confusions_):
            idx = self._fitted_worker_index(votes)
            k = votes.n_classes
            pw, pl = np.divmod(np.unique(votes.worker * k + votes.label), k)
            log_pi = _sds.sparse_pair_log_confusions(self.confusions_, idx, self._fitted_worker_votes(), pw, pl, k)
            return _sds.SparseParams(self.priors_, log_pi, None, votes.n_workers)
        return self.priors_, safe_log(self._fitted_confusions_for(votes, rule_out_never_met=True))

    def _fitted_confusions_for(self, votes: Votes, *, rule_out_never_met: bool) -> np.ndarray:
        """Dense ``(n_workers of votes, K, K)`` fitted confusions of the workers of ``votes``
        (an unseen worker: the vote-weighted mean, rows renormalised). With
        ``rule_out_never_met`` the rows of ``never_met_`` are 0, as the fit used them;
        without, they are the reported uniform rows."""
        idx = self._fitted_worker_index(votes)
        wts = self._fitted_worker_votes()
        conf = self.confusions_
        never = getattr(self, "never_met_", None)  # (absent from a model pickled before it)
        if rule_out_never_met and never is not None and never.any():
            conf = np.where(never[:, :, None], 0.0, conf)
        if wts.sum() > 0:
            mean_conf = np.tensordot(wts / wts.sum(), conf, axes=1)
        else:
            mean_conf = conf.mean(axis=0)
        mean_conf = _normalise_rows_kept_zero(mean_conf)
        return np.where((idx >= 0)[:, None, None], conf[np.maximum(idx, 0)], mean_conf)


# ---------------------------------------------------------------------- shared pieces
def initial_posteriors(votes: Votes, init: str) -> np.ndarray:
    """Initial ``T`` (n_tasks, K): vote shares (``"naivesoft"``) or majority vote
    (``"mv"``: one-hot, a tie shared equally between the m tied classes, 1/m each); a
    task without vote is uniform.

    A tie is shared, not broken (:func:`~crowdwise.aggregate._base.argmax_shares`):
    breaking it towards the smallest class index made the whole fit depend on the order
    in which the classes are listed. The sparse mode starts from the same values
    (``_sparse_ds.sparse_initial_posteriors``)."""
    k, n = votes.n_classes, votes.n_tasks
    # the dense counts straight from the votes: no CSR pattern cached on the votes (8 MB
    # per 500k votes that the whole fit would then carry) and no second (n, K) array
    T = np.bincount(votes.task * k + votes.label, weights=np.ones(votes.n_votes), minlength=n * k)
    T = T.astype(float, copy=False).reshape(n, k)  # (an empty bincount is int64, weights or not)
    if init == "mv":
        # in place, by row blocks (no second (n, K) array); a row without vote is tied
        # over all classes: uniform. Not renormalised: 1/m exactly, as in sparse mode
        step = max(1, (1 << 16) // max(k, 1))
        for a in range(0, n if k else 0, step):
            T[a:a + step] = argmax_shares(T[a:a + step])
        return T
    s = row_sum(T)
    empty = ~(s > 0)
    s[empty] = 1.0
    T /= s[:, None]
    T[empty] = 1.0 / k
    return T


def history_confusions(history: Any, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """Class shares and ``(n_workers, K, K)`` confusions of ``votes``' workers from a
    worker history: a fitted DS-family model or ``{worker id: (K, K) confusion}``.

    A worker the history does not know gets the mean of its confusions (weighted by the
    fitted model's votes per worker; equal weights for a mapping).
    """
    k = votes.n_classes
    if hasattr(history, "confusions_"):
        _check_same_classes(votes, history.classes_)
        conf = history.confusions_
        if sparse.issparse(conf):
            raise InputError("the worker history is a sparse-mode fit (K x K per worker not stored densely)",
                             fix="fit the history with sparse=False, or pass {worker id: K x K confusion}")
        ids, conf = np.asarray(history.worker_ids_), np.asarray(conf, dtype=float)
        wts = history.votes_.votes_per_worker().astype(float) if hasattr(history, "votes_") else np.ones(len(ids))
        priors = np.asarray(history.priors_, dtype=float)
    else:
        items = list(history.items())
        if not items:
            raise InputError("the worker history is empty", fix="give at least one worker's K x K confusion")
        ids = np.asarray([key for key, _ in items], dtype=object)
        try:
            conf = np.stack([np.asarray(c, dtype=float) for _, c in items])
        except ValueError:
            conf = None
        if conf is None or conf.shape[1:] != (k, k) or not np.all(np.isfinite(conf)) or np.any(conf < 0):
            raise InputError(f"every confusion of the worker history must be a finite, non-negative {k} x {k} "
                             "array", fix="rows = true class, columns = answered class, in the order of votes.classes")
        tot = conf.sum(axis=2, keepdims=True)
        conf = np.divide(conf, tot, out=np.full_like(conf, 1.0 / k), where=tot > 0)
        wts = np.ones(len(ids))
        priors = np.full(k, 1.0 / k)
    idx = pd.Index(ids).get_indexer(votes.worker_ids)
    if (idx < 0).any() and len(ids):
        alt = pd.Index(np.asarray(ids).astype(str)).get_indexer(np.asarray(votes.worker_ids).astype(str))
        idx = np.where(idx < 0, alt, idx)
    mean = np.tensordot(wts / wts.sum(), conf, axes=1) if wts.sum() > 0 else conf.mean(axis=0)
    out = np.where((idx >= 0)[:, None, None], conf[np.maximum(idx, 0)], mean)
    return priors, out


def _normalise_rows_kept_zero(conf: np.ndarray) -> np.ndarray:
    """Rows of a (K, K) confusion scaled to sum to 1; a zero row stays 0."""
    tot = conf.sum(axis=-1, keepdims=True)
    return np.divide(conf, tot, out=np.zeros_like(conf), where=tot > 0)


def pair_sums(votes: Votes, by_pair: Segments, T: np.ndarray) -> np.ndarray:
    """``S[p] = sum over the votes of (worker, label) pair p of T[task]``: (pairs, K)."""
    return segment_sum_gather(by_pair, lambda idx: T[votes.task[idx]], T.shape[1])


def class_priors(T: np.ndarray, voted_tasks: np.ndarray) -> np.ndarray:
    """``rho ∝ sum_i T_i`` over the tasks with a vote (a task without vote carries no
    information on the class shares)."""
    k = T.shape[1]
    if voted_tasks.size == T.shape[0]:  # every task voted: no copy
        priors = np.einsum("ij->j", T)
    else:
        priors = T[voted_tasks].sum(axis=0)
    tot = priors.sum()
    return priors / tot if tot > 0 else np.full(k, 1.0 / k)


def append_votes(old: Votes, new: Votes) -> Votes:
    """The votes of ``old`` followed by those of ``new``, on the union of their ids.

    Tasks and workers of ``old`` keep their indices; ids only ``new`` has are appended in
    its order. Classes must be the same. Per-vote columns present in both are kept.

    Examples
    --------
    >>> a = Votes.from_records(["t1", "t2"], ["w1", "w1"], [0, 1], n_classes=2)
    >>> b = Votes.from_records(["t2", "t3"], ["w2", "w1"], [1, 1], n_classes=2)
    >>> m = append_votes(a, b)
    >>> m.task_ids.tolist(), m.task.tolist(), m.worker.tolist()
    (['t1', 't2', 't3'], [0, 1, 1, 2], [0, 0, 1, 0])
    """
    _check_same_classes(new, old.classes)

    def union(old_ids: np.ndarray, new_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = pd.Index(old_ids).get_indexer(new_ids)
        if (idx < 0).any() and len(new_ids):
            alt = pd.Index(np.asarray(old_ids).astype(str)).get_indexer(np.asarray(new_ids).astype(str))
            idx = np.where(idx < 0, alt, idx)
        fresh = idx < 0
        idx[fresh] = len(old_ids) + np.arange(int(fresh.sum()))
        ids = np.asarray(old_ids)
        add = np.asarray(new_ids)[fresh]
        if add.size:
            if ids.dtype.kind != add.dtype.kind:
                ids, add = ids.astype(str), add.astype(str)
            ids = np.concatenate([ids, add])
        return idx.astype(np.int64), ids

    t_map, t_ids = union(old.task_ids, new.task_ids)
    w_map, w_ids = union(old.worker_ids, new.worker_ids)
    extra = {k: np.concatenate([old.extra[k], new.extra[k]]) for k in old.extra if k in new.extra}
    return Votes(task=np.concatenate([old.task, t_map[new.task]]),
                 worker=np.concatenate([old.worker, w_map[new.worker]]),
                 label=np.concatenate([old.label, new.label]),
                 task_ids=t_ids, worker_ids=w_ids, classes=old.classes, extra=extra, name=old.name)


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
