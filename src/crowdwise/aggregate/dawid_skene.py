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

DS runs on the EM driver (:class:`~crowdwise.aggregate._driver.EMStrategy`, with every
other iterative strategy): the loop, SQUAREM, gold clamping, ``predict_proba`` on new
votes and ``partial_fit`` live there; this module writes DS's hooks (initial state, M-step,
E-step, fitted attributes), its sparse mode (:mod:`crowdwise.aggregate._sparse_ds`) and
its initialisation from a worker history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..votes import Votes
from ._base import Options, Real, Satisfies, argmax_ties
from . import _em
from ._driver import NO_GOLD, EMContext, EMStrategy, GoldLabels, check_same_classes
from ._em import (DEFAULT_MEMORY_BUDGET, add_csr_product, check_budget, N_JOBS, class_priors,
                  csr_row_blocks, float32_pays, group_index, initial_posteriors, log_normalize, n_threads,
                  run_blocks, safe_log, vote_incidence)
from . import _sparse_ds as _sds
from ._sparse_ds import FixedPattern, SparseParams, closure_step, sparse_confusions, sparse_initial_posteriors
from .registry import register

__all__ = ["DawidSkene", "DSParams", "DSContext", "history_confusions",
           # the sparse-mode kernels, for the Dask engine (crowdwise.distributed)
           "FixedPattern", "SparseParams", "closure_step", "sparse_confusions", "sparse_initial_posteriors"]

_ONE_COIN_ALTERNATIVES = "MV, NaiveSoft, WAWA, TwoThird, PlantNet, OneCoinDS"


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
            G -= np.log(tot + k * a).take(seg, axis=0)  # take: faster than [seg] for a (pairs, K) gather
            return G
        G = _em.log_nonnegative(S, fast=fast, min_size=0)
        G -= np.log(tot).take(seg, axis=0)
    if not (tot > 0).all():
        G[tot[seg] <= 0] = -np.inf  # 0/0: a zero row, as EM's permanent zeros (not NaN)
    return G


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
class DSContext(EMContext):
    """What DS's steps share during one fit (besides the driver's :class:`EMContext`)."""

    by_task: _Keys
    by_pair: _Keys
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
    sparse_mode: bool = False  # the fit starts from sparse posteriors (see ``sparse``)


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
        2014); ``a > 0`` keeps workers with few votes from getting 0/1 confusions. For a
        prior learnt from the pool (each worker shrunk toward a population confusion, the
        remedy for sparse crowds) use :class:`~crowdwise.aggregate.EBDS`.
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
        inside joblib workers, pass ``n_jobs=1``. The M-step and the sparse mode run on one
        thread (docs/dev/performance.md).

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
        Whether the stop test was met before ``max_iter`` (if not, with ``tol > 0``, the
        fit warns with a :class:`~crowdwise.aggregate.ConvergenceWarning`, as every
        strategy on the EM driver does).
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

    #: the per-fit context class (FastDS adds its own bookkeeping)
    _context_type: ClassVar[type] = DSContext

    def _start(self) -> Any:
        """The initialisation asked for (``init``; FastDS resolves its ``"auto"``)."""
        return self.init

    parameter_rules = {
        "prior": Real(0, help="the Dirichlet smoothing count added to each confusion cell (for a prior learnt "
                              "from all workers, use the strategy EBDS)"),
        "init": Options("naivesoft", "mv", noun="an initialisation")
        | Satisfies(lambda v: hasattr(v, "confusions_"), "a fitted DS model")
        | Satisfies(lambda v: isinstance(v, Mapping), "a {worker id: K x K confusion} mapping"),
        "sparse": Options("auto", True, False, noun="a sparse mode"),
        "n_jobs": N_JOBS,
    }

    def _validate(self, votes: Votes) -> None:
        history = not isinstance(self._start(), str)
        k, w = votes.n_classes, votes.n_workers
        mode = self._sparse_param()
        if history and mode is True:
            raise InputError("an initial worker history needs the dense mode", fix="set sparse=False or 'auto'")
        if mode is True and not self._sparse_capable:
            raise InputError(f"{type(self).__name__} has no sparse mode", fix="use DS[sparse=True] or sparse=False")
        if mode is True and self.prior > 0:
            raise InputError("the sparse mode is exact only without smoothing (prior=0)",
                             fix="set prior=0 or sparse=False")
        if self._runs_sparse(votes):
            check_budget(self._budget_name, 2 * 8.0 * w * k + 64.0 * votes.n_votes, self.memory_budget,
                         what=f"{w:,} workers x {k:,} class totals", alternatives=_ONE_COIN_ALTERNATIVES)
            return
        hint = (" (DS with prior=0 runs sparse: memory O(votes + workers x K))"
                if self._sparse_capable and self.prior > 0 else "")
        check_budget(self._budget_name, 3 * 8.0 * w * k * k, self.memory_budget,
                     what=f"{w:,} workers x {k:,}^2 confusion entries",
                     alternatives=_ONE_COIN_ALTERNATIVES + hint)

    def _sparse_param(self) -> bool | str:
        """``sparse`` as given (False for the subclasses without the parameter)."""
        return self.sparse if "sparse" in self._param_names() else False

    def _runs_sparse(self, votes: Votes) -> bool:
        """Whether a fit on ``votes`` starts from sparse posteriors: ``sparse=True``, or
        ``"auto"`` with ``prior=0`` when the dense confusions would exceed the budget."""
        mode = self._sparse_param()
        if not self._sparse_capable or not isinstance(self._start(), str):
            return False
        k, w = votes.n_classes, votes.n_workers
        dense_bytes = 3 * 8.0 * w * k * k + 8.0 * 4 * votes.n_tasks * k
        budget = DEFAULT_MEMORY_BUDGET if self.memory_budget is None else self.memory_budget
        return mode is True or (mode == "auto" and self.prior == 0 and dense_bytes > budget)

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> DSContext:
        k = votes.n_classes
        pair_keys, pair_of_vote = group_index(votes.worker * k + votes.label, votes.n_workers * k)
        n_pairs = pair_keys.size
        by_pair = _Keys(pair_keys)
        task_pair = vote_incidence(votes.task, pair_of_vote, votes.n_tasks, n_pairs)
        pw, pl = np.divmod(by_pair.keys, k)
        starts = np.flatnonzero(np.r_[True, pw[1:] != pw[:-1]]) if n_pairs else np.zeros(0, np.int64)
        voted = np.flatnonzero(np.diff(task_pair.indptr) > 0)
        seg = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, n_pairs]))
        return self._context_type(_Keys(voted), by_pair, task_pair, task_pair.T, pw, pl, starts, pair_seg=seg,
                                  gold_idx=gold.idx, gold_lab=gold.lab, sparse_mode=self._runs_sparse(votes))

    def _init_state(self, votes: Votes, ctx: DSContext) -> np.ndarray:
        if not isinstance(self.init, str):
            priors, conf = history_confusions(self.init, votes)
            return self._e_step(votes, ctx, (priors, safe_log(conf)), None)[0]
        if ctx.sparse_mode:
            return _sds.sparse_initial_posteriors(votes.counts(), votes.n_classes, self.init)
        return initial_posteriors(votes, self.init)

    @staticmethod
    def _sparse_n_votes(ctx: DSContext) -> np.ndarray:
        if ctx.n_votes is None:
            ctx.n_votes = ctx.task_pair.sum(axis=1)
        return ctx.n_votes

    def _clamp(self, ctx: DSContext, T: np.ndarray) -> np.ndarray:
        if sparse.issparse(T):
            if ctx.fixed is not None and ctx.fixed.matches(T):
                return ctx.fixed.clamp(T, ctx.gold_idx, ctx.gold_lab)
            return _sds.sparse_clamp(T, ctx.gold_idx, ctx.gold_lab)
        if ctx.gold_idx.size:
            T[ctx.gold_idx] = 0.0
            T[ctx.gold_idx, ctx.gold_lab] = 1.0
        return T

    def _m_step(self, votes: Votes, ctx: DSContext, T: np.ndarray) -> "DSParams":
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
        fast = ctx.iterating and self._exact_final_e_step and float32_pays(S.size, self.tol)
        G = _pair_log_confusions(S, tot, ctx.pair_seg, a, k, fast=fast)  # over S when a = 0
        # S is kept only for the MAP prior term (a > 0): without smoothing the confusions
        # are exp(G), and two parameter sets alive in SQUAREM's cycle cost 2 x pairs x K less
        return DSParams(class_priors(T, ctx.by_task.keys), G, S if a > 0 else None, tot, votes.n_workers)

    def _log_scores(self, votes: Votes, ctx: DSContext, params: "DSParams | tuple") -> np.ndarray:
        """``log rho_k + sum_votes log pi_j[k, l]``, shape (n_tasks, K).

        ``params[1]`` is either the per-pair ``(n_pairs, K)`` log-confusions of the
        M-step or full ``(n_workers, K, K)`` log-confusions (fitted ones, for new votes).
        """
        G, log_rho = self._score_terms(ctx, params)
        L = np.empty((ctx.task_pair.shape[0], log_rho.size))
        self._fill_scores(ctx.task_pair, G, log_rho, L)
        return L

    @staticmethod
    def _score_terms(ctx: DSContext, params: "DSParams | tuple") -> tuple[np.ndarray, np.ndarray]:
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

    def _e_step(self, votes: Votes, ctx: DSContext, params: "DSParams",
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
        fast = self._uses_float32_exp(ctx, n * k)  # decided on the whole array: the same path for any split

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

    def _uses_float32_exp(self, ctx: DSContext, n_cells: int) -> bool:
        """Whether this E-step takes the float32 exp: inside the EM loop, on an array big
        enough for its blocks to pay (the final E-step in _finish is then recomputed)."""
        return ctx.iterating and float32_pays(n_cells, self.tol)

    def _row_blocks(self, ctx: DSContext, n_cells: int) -> list:
        """Row blocks of the E-step, one per thread (see ``n_jobs``), made once per context."""
        n = ctx.task_pair.shape[0]
        want = n_threads(self.n_jobs, n_cells, n)
        if ctx.row_blocks is None or ctx.row_blocks_want != want:
            ctx.row_blocks = (csr_row_blocks(ctx.task_pair, want) if want > 1
                              else [(slice(0, n), ctx.task_pair)])
            ctx.row_blocks_want = want  # (the cuts may give fewer blocks: keep them anyway)
        return ctx.row_blocks

    def _log_prior(self, ctx: DSContext, params: "DSParams") -> float:
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

    def _dense_confusions(self, votes: Votes, ctx: DSContext, params: "DSParams") -> np.ndarray:
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

    def _exact_log_pi(self, votes: Votes, ctx: DSContext, params: "DSParams") -> np.ndarray:
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

    def _finish(self, votes: Votes, ctx: DSContext, params: "DSParams", T: np.ndarray) -> None:
        if self._exact_final_e_step and isinstance(params, DSParams) and isinstance(T, np.ndarray) and T.ndim == 2:
            # the loop's M-steps may have taken the float32 log: with smoothing, the
            # reported confusions are the exact (S + a) / (n_jk + K a), so their logarithm
            # is recomputed (without, the confusions are exp(log_pi) themselves)
            fast_m = float32_pays(params.log_pi.size, self.tol)
            if fast_m:
                params = params._replace(log_pi=self._exact_log_pi(votes, ctx, params))
            if fast_m or float32_pays(T.size, self.tol):
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
        self.probas_ = T
        self.labels_ = argmax_ties(T, tie=self.tie, random_state=self.random_state)

    def _probas_of(self, T: np.ndarray, ctx: Any = None) -> np.ndarray:
        return T

    def confusions_frame(self) -> Any:
        """The fitted confusions as a tidy pandas DataFrame: one row per (worker, true
        class, answered class) with columns ``worker``, ``true``, ``observed`` (worker ids
        and class values) and ``p``; in sparse mode only the stored cells.

        >>> from crowdwise import Votes
        >>> v = Votes.from_records([0, 0, 1, 1], ["a", "b", "a", "b"], ["x", "x", "y", "y"])
        >>> DawidSkene().fit(v).confusions_frame().head(2)
          worker true observed    p
        0      a    x        x  1.0
        1      a    x        y  0.0
        """
        from .._lazy import pd

        self._check_fitted()
        k = len(self.classes_)
        conf = self.confusions_
        if sparse.issparse(conf):
            coo = sparse.coo_matrix(conf)
            w, t, o, p = coo.row // k, coo.row % k, coo.col, coo.data
        else:
            w, t, o = np.unravel_index(np.arange(conf.size), conf.shape)
            p = conf.ravel()
        cls = np.asarray(self.classes_, dtype=object)
        return pd.DataFrame({"worker": np.asarray(self.worker_ids_, dtype=object)[w], "true": cls[t],
                             "observed": cls[o], "p": np.asarray(p, dtype=float)})

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
        never = self.never_met_
        if rule_out_never_met and never is not None and never.any():
            conf = np.where(never[:, :, None], 0.0, conf)
        if wts.sum() > 0:
            mean_conf = np.tensordot(wts / wts.sum(), conf, axes=1)
        else:
            mean_conf = conf.mean(axis=0)
        mean_conf = _normalise_rows_kept_zero(mean_conf)
        return np.where((idx >= 0)[:, None, None], conf[np.maximum(idx, 0)], mean_conf)


# ---------------------------------------------------------------------- initialisation from a history
def history_confusions(history: Any, votes: Votes) -> tuple[np.ndarray, np.ndarray]:
    """Class shares and ``(n_workers, K, K)`` confusions of ``votes``' workers from a
    worker history: a fitted DS-family model or ``{worker id: (K, K) confusion}``.

    A worker the history does not know gets the mean of its confusions (weighted by the
    fitted model's votes per worker; equal weights for a mapping).
    """
    k = votes.n_classes
    if hasattr(history, "confusions_"):
        check_same_classes(votes, history.classes_)
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
    idx = Votes.match_ids(votes.worker_ids, ids)
    mean = np.tensordot(wts / wts.sum(), conf, axes=1) if wts.sum() > 0 else conf.mean(axis=0)
    out = np.where((idx >= 0)[:, None, None], conf[np.maximum(idx, 0)], mean)
    return priors, out


def _normalise_rows_kept_zero(conf: np.ndarray) -> np.ndarray:
    """Rows of a (K, K) confusion scaled to sum to 1; a zero row stays 0."""
    tot = conf.sum(axis=-1, keepdims=True)
    return np.divide(conf, tot, out=np.zeros_like(conf), where=tot > 0)
