"""The EM driver: the loop every iterative strategy runs on.

As scikit-learn's ``BaseMixture`` serves all its mixtures, :class:`EMStrategy` serves the
Dawid-Skene family (DS, FastDS/HybridDS, WDS, OneCoinDS, DSWC), GLAD, MACE and KOS: the
convergence loop and its bookkeeping, SQUAREM acceleration, restarts (``n_init``) keeping
the best run, the :class:`ConvergenceWarning` when the iteration limit stops a run, gold
clamping, progress reports (:func:`~crowdwise.aggregate.fit_progress`, ``verbose``),
``predict_proba`` on new votes and ``partial_fit`` (warm-started EM on
``votes_.append(new votes)``) live here once. A strategy writes its steps as hooks.

Per-fit state travels in an :class:`EMContext` that the strategy builds (``_context``;
its own subclass holds what the steps precompute from the votes) and the driver passes
to every hook; nothing is set on the model halfway through ``fit``, so fits are
reentrant (two threads may fit the same model object) and need no ``getattr`` guards.

Hooks (``ctx`` is the strategy's :class:`EMContext`):

- ``_validate(votes)``: the checks the ``parameter_rules`` cannot express (several
  parameters together, the votes) and the memory budget, once per fit;
- ``_context(votes, gold=NO_GOLD) -> ctx``: what the steps precompute from the votes,
  with the gold labels resolved (:func:`gold_indices`) in ``ctx.gold_idx, ctx.gold_lab``;
- ``_init_state(votes, ctx)``: the initial state of a run (restart ``ctx.restart``, seeded
  by ``ctx.seed`` for a strategy with ``random_starts``);
- ``_warm_state(votes, ctx)``: the initial state of ``partial_fit`` (default: the E-step of
  the fitted parameters, ``_params_for``);
- ``_m_step(votes, ctx, state) -> params``;
- ``_e_step(votes, ctx, params, state) -> (state, objective)``; ``state`` is None when the
  E-step runs from fitted parameters only (``predict_proba``, warm start); ``objective``
  is None for a method without one (KOS);
- ``_log_prior(ctx, params)``: the term added to the objective (MAP prior, minus a KL);
- ``_clamp(ctx, state)``: impose the gold labels;
- ``_converged(ctx, history, objective, old, new)``: the stopping rule (default: relative
  change of the objective at most ``tol``, :class:`~crowdwise.aggregate._em.EMHistory`);
- ``_begin(votes, ctx)``: reset per-run bookkeeping held in ``ctx``;
- ``_initial_objective(ctx, state)``: an objective recorded before the first iteration
  (None: nothing recorded);
- ``_params_for(votes)``: fitted parameters looked up for the workers of ``votes``;
- ``_finish(votes, ctx, params, state)``: set the fitted attributes (``probas_``...);
- ``_probas_of(state, ctx)``: the soft labels of a state (for ``predict_proba``).

A run is ``M, E, clamp, record`` until the stopping rule or ``max_iter``: the final state
is the E-step of the final parameters, so ``predict_proba(fitted votes)`` reproduces
``probas_``.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple

import numpy as np
from scipy import sparse

from .._lazy import pd
from ..errors import ConvergenceWarning, InputError
from ..votes import Votes
from ._base import Aggregator, Boolean, Integer, Real, check_random_state
from ._em import EMHistory, row_sum

__all__ = ["EMStrategy", "EMContext", "EMRun", "ConvergenceWarning", "GoldLabels", "NO_GOLD", "gold_indices",
           "check_same_classes", "restart_seeds", "squarem_point", "data_on_pattern", "sum_squares"]



class GoldLabels(NamedTuple):
    """Gold labels resolved on the votes: task indices and their class indices."""

    idx: np.ndarray
    lab: np.ndarray


def _no_index() -> np.ndarray:
    return np.zeros(0, np.int64)


#: no gold label (the default of ``_context``)
NO_GOLD = GoldLabels(_no_index(), _no_index())


def gold_indices(gold: Any, votes: Votes) -> GoldLabels:
    """``gold`` (a mapping or a pandas Series, task id -> class value) as task and class
    indices of ``votes`` (ids and classes matched as by :meth:`Votes.match_ids`)."""
    if gold is None:
        return GoldLabels(_no_index(), _no_index())
    s = pd.Series(gold)
    t_idx = Votes.match_ids(np.asarray(s.index), votes.task_ids)
    c_idx = Votes.match_ids(s.to_numpy(), votes.classes)
    bad = (t_idx < 0) | (c_idx < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"gold entry {s.index[i]!r} -> {s.iloc[i]!r} names an unknown task or class",
                         position=f"gold entry {i}", fix="use task ids and class values of the votes")
    return GoldLabels(t_idx, c_idx)


def check_same_classes(votes: Votes, classes: np.ndarray) -> None:
    """New votes (``predict_proba``, ``partial_fit``) must declare the fitted classes."""
    if not np.array_equal(np.asarray(votes.classes), np.asarray(classes)):
        raise InputError("new votes declare other classes than the fitted ones",
                         fix="build them with classes=model.classes_")


def restart_seeds(random_state: Any, n: int) -> list[np.random.SeedSequence]:
    """One independent seed per restart, spawned from ``random_state``
    (``np.random.SeedSequence(random_state).spawn(n)``; a Generator gives one draw)."""
    if isinstance(random_state, np.random.Generator):
        random_state = int(random_state.integers(0, 2**63))
    elif random_state is not None:
        check_random_state(random_state)  # validates the type
        random_state = int(random_state)
    return np.random.SeedSequence(random_state).spawn(n)


@dataclass(kw_only=True)
class EMContext:
    """Per-fit state, built by the strategy's ``_context`` and passed by the driver to
    every hook; a strategy subclasses it with what its steps precompute.

    Attributes
    ----------
    gold_idx, gold_lab : ndarray of int
        Tasks with a gold label and their class (empty without gold).
    iterating : bool
        True while the loop iterates: a step may then take shortcuts that ``_finish``
        undoes (DS's float32 ``exp`` and ``log``).
    restart : int
        Index of the current run among the ``n_init`` restarts.
    seed : numpy.random.SeedSequence or None
        The current run's seed (strategies with ``random_starts``).
    rng : numpy.random.Generator or None
        A random stream for the whole fit, for strategies that need one (set by their
        ``_context``).
    started : float
        ``time.perf_counter()`` at the start of the fit (for ``verbose``).
    """

    gold_idx: np.ndarray = field(default_factory=_no_index)
    gold_lab: np.ndarray = field(default_factory=_no_index)
    iterating: bool = False
    restart: int = 0
    seed: np.random.SeedSequence | None = None
    rng: np.random.Generator | None = None
    started: float = 0.0


@dataclass
class EMRun:
    """One run of the loop: its last parameters and state, objective history, iterations
    and whether the stopping rule was met; ``index`` is its restart."""

    params: Any
    state: Any
    history: list[float]
    n_iter: int
    converged: bool
    index: int = 0


class EMStrategy(Aggregator):
    """Base class of the iterative strategies: the EM driver (not registered itself).

    See the module docstring for the hooks a strategy implements. Class attributes a
    subclass may set:

    ``n_init``
        Runs from the initial state, the one with the best final objective kept (the
        first among equals within 1e-9 relative). MACE maps it to ``n_restarts``.
    ``random_starts``
        Each run draws its start from its own seed ``ctx.seed``
        (:func:`restart_seeds` of ``random_state``); the fit then records
        ``restart_log_likelihoods_`` and ``best_restart_``.
    ``supports_gold``
        ``fit(votes, gold=...)`` clamps known tasks (False: gold is refused).
    ``has_objective``
        The steps return an objective, recorded in ``log_likelihood_`` (False for KOS).
    ``accelerate``
        SQUAREM on the state (a posterior array, dense or CSR): DS's parameter.
    ``verbose``
        Print each iteration's objective on standard error (GLAD's parameter).
    """

    n_init: int = 1
    random_starts: ClassVar[bool] = False
    supports_gold: ClassVar[bool] = True
    has_objective: ClassVar[bool] = True
    accelerate: bool = False
    verbose: bool = False
    #: the rules of the parameters the iterative strategies share (see ``Aggregator``)
    parameter_rules = {
        "max_iter": Integer(1, example=100, help="the most iterations to run"),
        "tol": Real(0, example=1e-6, help="the relative change of the objective that stops the iterations"),
        "accelerate": Boolean(),
        "verbose": Boolean(),
        "memory_budget": Real(0, help="the memory the fit may take, in bytes (None: the default budget)") | None,
    }

    # ------------------------------------------------------------------ public API
    def fit(self, votes: Votes, gold: Any = None) -> "EMStrategy":
        """Fit on ``votes``; ``gold`` optionally clamps known tasks.

        ``gold`` maps task ids to class values (dict or pandas Series); those tasks keep a
        one-hot posterior at every iteration.
        """
        votes = self._check_votes(votes)
        self._check_gold(gold)
        return self._fit_em(votes, gold, warm=False)

    def partial_fit(self, votes: Votes, gold: Any = None) -> "EMStrategy":
        """Continue the fit with more votes: EM on ``previous votes + votes``, warm-started.

        The fit continues on the union of the votes seen so far (kept in ``votes_``) and
        the new ``votes`` (``votes_.append(votes)``: new tasks and workers are appended,
        votes on known tasks join them), starting from the fitted parameters: the first
        E-step uses the fitted worker models (a new worker starts from the vote-weighted
        mean of the fitted ones) instead of the cold initialisation, in one run (no
        restarts). It climbs the same objective as a cold ``fit`` on the union and reaches
        the same optimum when EM has a single one, usually in fewer iterations (about
        half on the tests' crowds); where the likelihood has several optima (often with
        ``prior=0``) the two starts may stop at different ones. ``n_iter_`` and
        ``log_likelihood_`` describe this run only.

        ``gold`` applies to the union; None keeps the gold of the previous fit. Before any
        fit, ``partial_fit`` is ``fit``. Classes must be the fitted ones.
        """
        if not hasattr(self, "labels_"):
            return self.fit(votes, gold=gold)
        votes = self._check_votes(votes, classes=self.classes_)
        self._check_gold(gold)
        merged = self.votes_.append(votes)
        if gold is None and self.supports_gold:
            gold = self.gold_
        return self._fit_em(merged, gold, warm=True)

    # ------------------------------------------------------------------ driver
    def _fit(self, votes: Votes) -> None:
        self._fit_em(votes, None, warm=False)

    def _check_gold(self, gold: Any) -> None:
        if gold is not None and not self.supports_gold:
            raise InputError(f"{type(self).__name__} takes no gold labels",
                             fix="fit without gold=..., or use a strategy that clamps gold tasks "
                                 "(DS, FastDS, OneCoinDS, DSWC, GLAD)")

    def _fit_em(self, votes: Votes, gold: Any, *, warm: bool) -> "EMStrategy":
        """Validate, build the context, run (``n_init`` times from ``_init_state``, or once
        from ``_warm_state``), keep the best run and set the fitted attributes."""
        started = time.perf_counter()
        self.validate_params()
        self._validate(votes)
        ctx = self._context(votes, gold_indices(gold, votes))
        ctx.started = started
        # the warm start reads the previous fit; a list, so that the run holds the only reference
        starts = [self._warm_state(votes, ctx)] if warm else []
        n_runs = 1 if warm else int(self.n_init)
        seeds = restart_seeds(self.random_state, n_runs) if self.random_starts and not warm else [None] * n_runs
        _, max_iter = self._iteration_limit()
        best, histories = None, []
        for r in range(n_runs):
            ctx.restart, ctx.seed = r, seeds[r]
            # no name here keeps the starting state alive during the run (SQUAREM overwrites
            # it, and a kept copy would add a state to the peak)
            run = self._iterate(votes, ctx, starts.pop() if warm else self._init_state(votes, ctx),
                                offset=r * max_iter, total=n_runs * max_iter)
            run.index = r
            histories.append(run.history)
            # strictly better beyond rounding: equal runs keep the first one
            if best is None or (run.history and best.history and run.history[-1] > best.history[-1] + 1e-9 * max(
                    1.0, abs(best.history[-1]))):
                best = run
            run = None  # only the best run stays alive while the next one runs
        # the model changes only now: the runs kept their state in ctx and in their frames
        self._remember_ids(votes)
        self.n_iter_ = best.n_iter
        self.converged_ = best.converged
        if self.has_objective:
            self.log_likelihood_ = best.history
        if self.random_starts:
            self.restart_log_likelihoods_ = histories
            self.best_restart_ = best.index
        self._finish(votes, ctx, best.params, best.state)
        self.votes_ = votes
        if self.supports_gold:
            self.gold_ = gold
        rule = self._stop_rule()
        if not best.converged and rule is not None:
            name, limit = self._iteration_limit()
            what = f"the best of {n_runs} runs of {type(self).__name__}" if n_runs > 1 else type(self).__name__
            warnings.warn(f"{what} reached {name}={limit} before its stopping rule ({rule}) was met: the result "
                          f"may be short of a fixed point. Raise {name}, or loosen the rule.",
                          ConvergenceWarning, stacklevel=3)
        return self

    def _iterate(self, votes: Votes, ctx: Any, state: Any, *, offset: int = 0, total: int | None = None) -> EMRun:
        """One run from ``state``: ``M, E, clamp, record`` (with SQUAREM jumps when
        ``accelerate``) until the stopping rule or the iteration limit."""
        self._begin(votes, ctx)
        state = self._clamp(ctx, state)
        hist = EMHistory(self.tol if self.has_objective else 0.0)
        first = self._initial_objective(ctx, state)
        if first is not None:
            hist.update(first)
        _, max_iter = self._iteration_limit()
        total = max_iter if total is None else total
        n_eval = 0

        def em_map(s: Any) -> tuple[Any, Any, float | None]:
            """One EM iteration from state ``s``: (params, new state, objective)."""
            nonlocal n_eval
            n_eval += 1
            p = self._m_step(votes, ctx, s)
            new, obj = self._e_step(votes, ctx, p, s)
            return p, self._clamp(ctx, new), None if obj is None else obj + self._log_prior(ctx, p)

        def accept(p: Any, new: Any, obj: float | None, check: bool = True) -> bool:
            """Make ``new`` the current state; True when converged.

            An extrapolated point is recorded without the stop test (``check=False``): a
            jump that gains little says nothing about EM having converged, only plain EM
            steps do.
            """
            nonlocal state, params
            if check:
                stop = self._converged(ctx, hist, obj, state, new)
            else:
                hist.values.append(float(obj))
                stop = False
            state, params = new, p
            self._report(ctx, offset + n_eval, total, obj)
            return stop

        params = None
        converged = False
        accelerate = bool(self.accelerate) and (isinstance(state, np.ndarray) or sparse.issparse(state))
        ctx.iterating = True  # E- and M-steps may take shortcuts meanwhile (DawidSkene)
        try:
            while n_eval < max_iter and not converged:
                s0 = state
                params = None  # the M-step makes new ones: the old need not live through it
                converged = accept(*em_map(s0))
                if converged or not accelerate or n_eval >= max_iter:
                    continue
                s1 = state
                params = None
                converged = accept(*em_map(s1))
                if converged or n_eval >= max_iter:
                    continue
                s2, obj2 = state, hist.values[-1]
                jump = squarem_point(s0, s1, s2)  # overwrites s0 and s1: drop our names for them
                s0 = s1 = s2 = None
                if jump is None:
                    continue
                p3, s3, obj3 = em_map(self._clamp(ctx, jump))
                jump = None
                if obj3 >= obj2:  # keep the objective monotone: a worse jump is dropped
                    converged = accept(p3, s3, obj3, check=False)
                else:
                    self._report(ctx, offset + n_eval, total, obj2)
                p3 = s3 = None
        finally:
            ctx.iterating = False
        return EMRun(params, state, hist.values, n_eval, converged)

    def _report(self, ctx: EMContext, iteration: int, total: int, objective: float | None) -> None:
        """Progress of the loop: to :func:`~crowdwise.aggregate.fit_progress` (``_tick``),
        and on standard error with ``verbose``."""
        if self.verbose:
            obj = "none" if objective is None else f"{objective:.6f}"
            print(f"{type(self).__name__} iteration {iteration}: objective {obj} "
                  f"({time.perf_counter() - ctx.started:.2f} s)", file=sys.stderr)
        self._tick(iteration, total, objective)

    # ------------------------------------------------------------------ defaults
    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> EMContext:
        return EMContext(gold_idx=gold.idx, gold_lab=gold.lab)

    def _iteration_limit(self) -> tuple[str, int]:
        """The parameter that bounds the iterations of a run, and its value."""
        return "max_iter", int(self.max_iter)

    def _stop_rule(self) -> str | None:
        """The stopping rule, in words, or None when the run is meant to go to the limit
        (``tol=0``): then reaching it is no cause for a :class:`ConvergenceWarning`."""
        return f"tol={self.tol!r}" if float(self.tol) > 0 else None

    def _begin(self, votes: Votes, ctx: Any) -> None:
        """Called before the first iteration of each run (reset per-run bookkeeping)."""

    def _initial_objective(self, ctx: Any, state: Any) -> float | None:
        """An objective recorded before the first iteration (None: none)."""
        return None

    def _converged(self, ctx: Any, hist: EMHistory, objective: float, old: Any, new: Any) -> bool:
        return hist.update(objective)

    def _clamp(self, ctx: Any, state: Any) -> Any:
        return state

    def _log_prior(self, ctx: Any, params: Any) -> float:
        return 0.0

    def _warm_state(self, votes: Votes, ctx: Any) -> Any:
        """Initial state of ``partial_fit``: the E-step of the fitted parameters."""
        return self._e_step(votes, ctx, self._params_for(votes), None)[0]

    def _predict_proba(self, votes: Votes):
        """Soft labels of the tasks of ``votes`` from the fitted worker models (one E-step).

        Workers unseen at fit time use the vote-weighted mean of the fitted workers.
        """
        check_same_classes(votes, self.classes_)
        ctx = self._context(votes)
        state, _ = self._e_step(votes, ctx, self._params_for(votes), None)
        return self._probas_of(state, ctx)

    def _fitted_worker_index(self, votes: Votes) -> np.ndarray:
        """Index of each worker of ``votes`` among the fitted workers (-1 when unseen)."""
        return Votes.match_ids(votes.worker_ids, self.worker_ids_)

    def _fitted_worker_votes(self) -> np.ndarray:
        """Votes per fitted worker: weights of the 'unknown worker' average."""
        return self.votes_.votes_per_worker().astype(float)


# ---------------------------------------------------------------------- SQUAREM
def squarem_point(s0: Any, s1: Any, s2: Any, rows: np.ndarray | None = None,
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
        d0, d1 = data_on_pattern(s0, s2), data_on_pattern(s1, s2)
        if d0 is None or d1 is None:
            return None
        rows = np.repeat(np.arange(s2.shape[0]), np.diff(s2.indptr))
        point = squarem_point(d0[:, None], d1[:, None], s2.data[:, None], rows=rows,
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
        nr2 += sum_squares(r[b])
        nv2 += sum_squares(v)
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


def data_on_pattern(x: Any, pattern: Any) -> np.ndarray | None:
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


def sum_squares(x: np.ndarray) -> float:
    """``sum(x ** 2)`` without BLAS: a threaded ``ddot`` wakes OpenBLAS's threads, which
    then spin on the other core for the rest of the fit (docs/dev/performance.md)."""
    return float(np.einsum("ij,ij->", x, x))
