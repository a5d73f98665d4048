"""Fast Dawid-Skene (Sinha, Rao & Balasubramanian, 2018): Dawid-Skene with a hard E-step.

FDS is classification EM on the Dawid-Skene model: the M-step is the one of
:class:`~crowdwise.aggregate.DawidSkene` and the E-step replaces the posterior ``T_i`` by
the one-hot vector of its argmax (the "C-step"). The hybrid of the same paper runs the
usual soft EM first and switches to hard steps once the class marginals stop moving.

Ties. A C-step (and the majority-vote start) gives a task tied between m classes the
weight 1/m on each of them (:func:`~crowdwise.aggregate._base.argmax_shares`) instead of
one class drawn by the tie rule: a draw follows the order of the tasks and classes (the
seeded stream reaches the rows in task order, ``tie="smallest"`` favours the first
class), and the next M-step carries it to every other task, so renaming tasks or
reordering classes moved untied labels (15 of 807 on zheng_dog). Shared weights leave
the complete-data objective below unchanged (it is linear in the one-hot vector and the
tied classes score the same), so the hard phase stays monotone; the tie rule only draws
the reported ``labels_`` of tied tasks.

What is monotone. Hard EM does not climb the observed likelihood; it climbs the
*complete-data* (classification) log-likelihood

``CL(y, theta) = sum_i [log rho_{y_i} + sum_{votes (i, j, l)} log pi_j[y_i, l]]``

(plus ``a sum log pi`` with smoothing ``a``): the C-step maximises it over the labels y
for fixed parameters, the M-step over the parameters for fixed labels. It is recorded in
``complete_log_likelihood_`` and never decreases in the hard phase; the observed
log-likelihood is recorded in ``log_likelihood_`` all the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..votes import Votes
from ._base import Options, Real, argmax_shares, argmax_ties, check_random_state
from ._driver import NO_GOLD, GoldLabels
from ._em import EMHistory, initial_posteriors, log_normalize
from .dawid_skene import DawidSkene, DSContext, DSParams
from .registry import register

__all__ = ["FastDS"]

_MODES = ("hard", "hybrid")


@dataclass
class _State:
    T: np.ndarray                 # what the next M-step reads: argmax_shares(soft) when hard
    soft: np.ndarray              # posterior of the E-step's parameters
    labels: np.ndarray            # hard labels (argmax of soft by the tie rule, gold imposed)
    hard: bool                    # T is the tie-sharing one-hot of the argmax
    priors: np.ndarray | None     # rho of the M-step that produced this state
    cl: float                     # complete-data objective at (labels, parameters)


@dataclass
class FastDSContext(DSContext):
    """DS's context, with the fit's random stream (``rng``, drawn for the labels of each
    E-step) and the bookkeeping of the run: complete-data objectives and the switch."""

    cl: list = field(default_factory=list)   # complete_log_likelihood_ of the run
    switch: int | None = None                 # switched_at_ of the run


@register("HybridDS", mode="hybrid",
          description="Hybrid Dawid-Skene: soft EM until the class marginals settle, then Fast-DS hard steps.")
@register("FastDS")
class FastDS(DawidSkene):
    """Fast Dawid-Skene: hard (classification) EM, or the soft-then-hard hybrid.

    Registered twice: ``FastDS`` (``mode="hard"``) and ``HybridDS`` (``mode="hybrid"``).

    Parameters
    ----------
    mode : {"hard", "hybrid"}, default="hard"
        ``"hard"``: every E-step is a C-step (FDS). ``"hybrid"``: soft E-steps (plain
        Dawid-Skene) until ``max_k |rho_k(t) - rho_k(t-1)| < switch_tol``, hard after.
    switch_tol : float, default=0.005
        Threshold of the hybrid switch on the class marginals (sup norm; the paper's code
        uses 0.005 on the L1 norm).
    max_iter : int, default=100
    tol : float, default=1e-6
        Convergence of a soft phase (relative change of the log-likelihood). A hard phase
        has converged when two successive hard steps give the same one-hot labels, tied
        classes sharing (a fixed point of classification EM).
    prior : float, default=0.0
        Dirichlet smoothing of the confusion counts (as in DawidSkene).
    init : {"auto", "mv", "naivesoft"}, default="auto"
        ``"auto"``: majority vote for ``mode="hard"`` (as the paper), vote shares for the
        hybrid (its soft phase is Dawid-Skene).
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``. Inside the fit a tie is never drawn: the tied classes
        share the task's weight (see the module docstring), in the majority-vote start
        and in the C-steps alike.
    random_state : int or None
    memory_budget : float or None
        As in DawidSkene.

    Attributes
    ----------
    labels_ : ndarray (n_tasks,)
        The labels of the last C-step (the argmax of the last soft posterior if the hybrid
        stopped before switching).
    probas_ : ndarray (n_tasks, n_classes)
        Posterior of the fitted parameters (soft, although the fit used hard labels).
    confusions_, priors_
        Fitted parameters (the M-step of ``labels_`` at a hard fixed point).
    log_likelihood_ : list of float
        Observed-data log-likelihood after each E-step (non-decreasing in soft steps only).
    complete_log_likelihood_ : list of float
        ``CL(labels, parameters)`` after each E-step: non-decreasing from the first hard
        step on.
    switched_at_ : int or None
        Iteration of the first hard step (1 for ``mode="hard"``), None if never.
    n_iter_, converged_, votes_, gold_
        As in DawidSkene; ``fit(votes, gold=...)`` and :meth:`partial_fit` as there (a
        hybrid's ``partial_fit`` restarts with soft steps).

    References
    ----------
    V. B. Sinha, S. Rao and V. N. Balasubramanian, "Fast Dawid-Skene: a fast vote
    aggregation scheme for sentiment classification", KDD WISDOM workshop, 2018.
    G. Celeux and G. Govaert, "A classification EM algorithm for clustering and two
    stochastic versions", CSDA 14(3), 1992 (classification EM and its monotone objective).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2, 2], ["a", "b", "c"] * 3,
    ...                        [0, 0, 1, 1, 1, 0, 1, 1, 1], n_classes=2)
    >>> m = FastDS(tie="smallest").fit(v)
    >>> m.labels_.tolist(), m.n_iter_, bool(m.converged_)  # the majority vote is a fixed point
    ([0, 1, 1], 1, True)
    """

    _sparse_capable = False  # its own state / weighted-vote output need the dense confusions
    _exact_final_e_step = False  # its own E-step (exact exp); the final state is its own
    _context_type = FastDSContext
    description = "Fast Dawid-Skene: Dawid-Skene with a hard E-step (classification EM); converges in few steps."

    def __init__(self, mode: str = "hard", switch_tol: float = 0.005, max_iter: int = 100, tol: float = 1e-6,
                 prior: float = 0.0, init: str = "auto", tie: str = "random", random_state: int | None = None,
                 memory_budget: float | None = None):
        self.mode = mode
        self.switch_tol = switch_tol
        self.max_iter = max_iter
        self.tol = tol
        self.prior = prior
        self.init = init
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    @property
    def _budget_name(self) -> str:
        """The strategy the user asked for, in a refusal (``HybridDS`` for the hybrid)."""
        return "HybridDS" if self.mode == "hybrid" else "FastDS"

    parameter_rules = {
        "mode": Options(*_MODES, noun="a mode of FastDS"),
        "switch_tol": Real(0, help="the threshold of the hybrid switch on the class marginals"),
        "init": Options("auto", "mv", "naivesoft", noun="an initialisation"),
    }

    def _start(self) -> str:
        return "naivesoft" if self.init == "auto" else self.init

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> FastDSContext:
        ctx = super()._context(votes, gold)
        ctx.rng = check_random_state(self.random_state)  # one stream for the whole fit (or predict)
        return ctx

    # ------------------------------------------------------------------ steps
    def _init_state(self, votes: Votes, ctx: FastDSContext) -> _State:
        init = self.init if self.init != "auto" else ("mv" if self.mode == "hard" else "naivesoft")
        T = initial_posteriors(votes, "naivesoft")
        if init == "mv":
            # the majority vote, a tie shared by its classes (a task without vote: uniform)
            T = argmax_shares(T)
            labels = argmax_ties(T, tie=self.tie, random_state=ctx.rng)
            return _State(T, T.copy(), labels, True, None, float("nan"))
        labels = argmax_ties(T, tie=self.tie, random_state=ctx.rng)
        return _State(T, T.copy(), labels, False, None, float("nan"))

    def _m_step(self, votes: Votes, ctx: FastDSContext, state: _State) -> tuple[np.ndarray, np.ndarray]:
        return super()._m_step(votes, ctx, state.T)

    def _e_step(self, votes: Votes, ctx: FastDSContext, params: tuple[np.ndarray, np.ndarray],
                state: _State | None) -> tuple[_State, float]:
        priors = params[0]
        L = self._log_scores(votes, ctx, params)
        soft, lognorm = log_normalize(L)
        observed = float(lognorm[np.isfinite(lognorm)].sum())
        if self.mode == "hard":
            hard = True
        elif state is None:
            hard = False
        else:
            hard = state.hard or (state.priors is not None
                                  and float(np.max(np.abs(priors - state.priors))) < self.switch_tol)
        labels = argmax_ties(soft, tie=self.tie, random_state=ctx.rng)
        # C-step: the argmax, a tie shared by its classes (never drawn: see the module doc)
        T = argmax_shares(soft) if hard else soft
        new = self._clamp(ctx, _State(T, soft, labels, hard, priors, 0.0))
        voted = ctx.by_task.keys
        # (new votes in predict_proba come with plain (priors, log_pi): no MAP term there)
        prior_term = self._log_prior(ctx, params) if isinstance(params, DSParams) else 0.0
        new.cl = float(L[voted, new.labels[voted]].sum()) + prior_term
        return new, observed

    def _clamp(self, ctx: FastDSContext, state: _State) -> _State:
        if ctx.gold_idx.size:
            state.labels[ctx.gold_idx] = ctx.gold_lab
            for arr in (state.T, state.soft) if state.T is not state.soft else (state.T,):
                arr[ctx.gold_idx] = 0.0
                arr[ctx.gold_idx, ctx.gold_lab] = 1.0
        return state

    def _begin(self, votes: Votes, ctx: FastDSContext) -> None:
        ctx.cl = []
        ctx.switch = 1 if self.mode == "hard" else None

    def _converged(self, ctx: FastDSContext, hist: EMHistory, objective: float, old: _State, new: _State) -> bool:
        soft_done = hist.update(objective)
        ctx.cl.append(new.cl)
        if new.hard and ctx.switch is None:
            ctx.switch = len(hist.values)
        if new.hard:  # a fixed point of the C-step (labels_ may redraw ties: not compared)
            return old.hard and np.array_equal(old.T, new.T)
        return soft_done

    def _finish(self, votes: Votes, ctx: FastDSContext, params, state: _State) -> None:
        super()._finish(votes, ctx, params, state.soft)
        self.labels_ = state.labels
        self.complete_log_likelihood_ = ctx.cl
        self.switched_at_ = ctx.switch

    def _probas_of(self, state: _State, ctx: Any = None) -> np.ndarray:
        return state.soft
