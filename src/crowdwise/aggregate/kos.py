"""KOS: Karger, Oh & Shah's iterative message passing for binary crowdsourcing.

Model (Karger, Oh & Shah 2011): tasks have a true label ``t_i = ±1``; worker j answers
right with probability ``p_j``, independently. Votes are ``A_ij = ±1`` on the edges of the
task-worker bipartite graph. Messages live on the edges and alternate

- ``x_{i->j} = sum_{j' in ∂i, j' != j} A_ij' y_{j'->i}`` (task to worker),
- ``y_{j->i} = sum_{i' in ∂j, i' != i} A_i'j x_{i'->j}`` (worker to task),

from ``y_{j->i} ~ N(1, 1)`` (or 1); the estimate is ``sign(sum_{j in ∂i} A_ij y_{j->i})``.
It is a power iteration on the non-backtracking edge operator: on a regular graph ``y``
tends to the workers' reliabilities ``2 p_j - 1`` up to a common factor, with no prior
and no parameter to fit.

Each message update is one ``np.bincount`` over the votes (the sum over all the edges of
a node) minus the edge's own term: O(votes) per iteration, no tasks x workers array.

The analysis (and the method) assumes a random regular assignment: every task has l
votes, every worker r. On real crowds, whose workers range from 10 to 800 votes, the
summed messages concentrate on the busiest workers as the iterations go on (the
eigenvector localises) and accuracy can fall to chance (as on RTE:
``docs/dev/performance.md``, "Figures behind docstrings"). ``messages="mean"`` divides each message by the number of terms it
sums (``deg - 1``), which keeps the fixed points of regular graphs and repairs this; it
is the default, since on the regular graphs the paper analyses both rules give the same
labels. ``messages="sum"`` is the paper's update, as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import expit, ndtri

from ..errors import InputError
from ..votes import Votes
from ._base import Aggregator, Integer, Options, argmax_ties, check_random_state, class_ranks, normalize_rows
from ._driver import NO_GOLD, EMContext, EMStrategy, GoldLabels
from ._em import hashed_uniforms, splitmix64, vote_profile_fingerprints
from .registry import register

__all__ = ["KOS"]


@register("KOS")
class KOS(EMStrategy):
    """Karger-Oh-Shah iterative learning (binary tasks only).

    The two declared classes are read as ``-1`` (``classes[0]``) and ``+1``
    (``classes[1]``). After at most ``n_iter`` rounds of message passing (see the module
    docstring), the score of task i is ``s_i = sum_j A_ij y_{j->i}`` and its label the
    sign of ``s_i``.

    The messages are divided by their root mean square after every half-iteration, so
    they never overflow; this changes no sign and so no estimate.

    ``probas_`` are **not calibrated probabilities**: KOS estimates signs, not odds.
    They are the monotone map ``P(classes[1]) = expit(s_i / rms(s))`` of the score in units
    of its root mean square over the tasks with votes, so that ``labels_`` is their
    argmax and the ordering of the tasks by confidence is kept; use a calibrated model
    (DS, MACE, GLAD) when the probabilities themselves matter. A task whose score is
    exactly 0 (no vote, or voters who share no other task, e.g. one vote per task) gets
    its vote shares instead, and its label by the tie rule among the most voted classes.

    Parameters
    ----------
    n_iter : int, default=20
        Maximum number of iterations (``k_max`` of the paper).
    patience : int or None, default=3
        Stop early once the signs of all task scores are unchanged for ``patience``
        consecutive iterations; None always runs ``n_iter`` iterations.
    messages : {"mean", "sum"}, default="mean"
        ``"sum"`` is the paper's update; ``"mean"`` divides each message by its number of
        terms, so that crowds whose workers differ much in number of votes do not collapse
        onto the busiest workers (see the module docstring). Same labels on regular graphs.
    init : {"ones", "normal"}, default="ones"
        Initial worker messages ``y_{j->i}``: all 1, or ``N(1, 1)`` draws seeded by
        ``random_state`` as in the paper. Both have the positive mean the analysis
        needs. The draw of a vote is a function of the seed and of the vote itself (the
        vote profiles of its task and of its worker, and its class by the rank of its
        id), never of its position, so neither start depends on the names and order of
        tasks, workers, votes and classes; votes alike in all of these share a draw.
    tie : {"random", "smallest"}, default="random"
    random_state : int, Generator or None
        Seed of the tie rule and of ``init="normal"``.

    Attributes
    ----------
    probas_ : ndarray (n_tasks, 2)
        The monotone, uncalibrated map of ``scores_`` described above.
    labels_ : ndarray (n_tasks,)
    scores_ : ndarray (n_tasks,)
        ``s_i = sum_j A_ij y_{j->i}``, divided by its root mean square (0 without vote).
    worker_reliability_ : ndarray (n_workers,)
        Mean over the worker's votes of ``A_ij x_{i->j}`` (its agreement with the final
        task messages: the worker's message before leaving an edge out, per vote),
        divided by its largest absolute value: in ``[-1, 1]``, positive for workers who
        agree with the estimate, negative for adversarial ones, 0 without vote.
    n_iter_ : int
    converged_ : bool
        Whether the signs were stable for ``patience`` iterations within ``n_iter`` (if
        not, the fit warns with a :class:`~crowdwise.aggregate.ConvergenceWarning`;
        ``patience=None`` asks for ``n_iter`` rounds and never warns).
    votes_ : Votes
        The votes of the fit (with those of every ``partial_fit`` since).

    Notes
    -----
    KOS is transductive: ``predict_proba(new_votes)`` runs it again on the new votes;
    ``partial_fit(new_votes)`` runs it on the union, warm-started from the fitted workers.
    The rounds run on the EM driver (:mod:`crowdwise.aggregate._driver`): the two
    half-steps of message passing take the places of its M- and E-steps.

    Raises
    ------
    InputError
        When the votes do not declare exactly two classes.

    References
    ----------
    D. R. Karger, S. Oh and D. Shah, "Iterative learning for reliable crowdsourcing
    systems", NIPS 2011.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2, 2], ["a", "b", "c"] * 3,
    ...                        ["no", "no", "yes", "yes", "yes", "no", "no", "no", "yes"])
    >>> m = KOS().fit(v)
    >>> m.classes_[m.labels_].tolist()
    ['no', 'yes', 'no']
    >>> (m.worker_reliability_ > 0).tolist()
    [True, True, False]
    """

    description = "KOS: Karger-Oh-Shah message passing on the task-worker graph (binary tasks only)."
    single_vote_is_label = True  # via the fallback to the vote shares (see probas_)
    #: KOS only handles two classes; the common checks feed such strategies binary crowds.
    binary_only: ClassVar[bool] = True
    supports_gold = False
    has_objective = False  # no log_likelihood_: message passing climbs no objective

    def __init__(self, n_iter: int = 20, patience: int | None = 3, messages: str = "mean",
                 init: str = "ones", tie: str = "random", random_state: int | None = None):
        self.n_iter = n_iter
        self.patience = patience
        self.messages = messages
        self.init = init
        self.tie = tie
        self.random_state = random_state

    parameter_rules = {
        "n_iter": Integer(1, help="the most iterations to run"),
        "patience": Integer(1, help="the iterations with unchanged signs that stop the run") | None,
        "messages": Options("sum", "mean", noun="a message rule"),
        "init": Options("ones", "normal", noun="an initialisation"),
    }

    def _validate(self, votes: Votes) -> None:
        if votes.n_classes != 2:
            raise InputError(
                f"KOS is a method for binary tasks (two classes), but the votes declare "
                f"{votes.n_classes} class(es)",
                fix="for K classes use MV, WAWA, DS, OneCoinDS, GLAD or MACE, or make the task binary "
                    "(one class against the rest)")

    def partial_fit(self, votes: Votes) -> "KOS":
        """Continue with more votes: message passing on ``votes_ + votes``, warm-started.

        The votes are merged with those of the previous fit (``votes_.append(votes)``: known
        tasks and workers keep their indices, new ones are appended in the order of
        ``votes``). Instead of ``init``, the worker-to-task messages start from what the
        fit learnt: ``y_{j->i} = r_j`` on every vote of a fitted worker j
        (``worker_reliability_``, so an adversarial worker starts negative), and for a
        worker the fit never saw (or saw without vote) the vote-weighted mean ``sum_j n_j
        r_j / sum_j n_j`` over the fitted workers (1 when that mean is not positive: the
        analysis needs a positive start). The iteration is a power iteration, so a start
        near the leading direction settles the signs in fewer rounds; on the union it
        reaches the labels of a cold ``fit`` whenever both converge to the same leading
        direction (tested on simulated crowds). ``n_iter_`` and ``converged_`` describe
        this run only.

        Before any fit, ``partial_fit`` is ``fit``. ``votes`` must declare the fitted
        classes (``InputError`` otherwise).
        """
        return super().partial_fit(votes)

    # ------------------------------------------------------------------ driver hooks
    # The two half-steps of message passing take the places of the M-step (task -> worker
    # messages x) and the E-step (worker -> task messages y, and the signs of the scores);
    # there is no objective, and the stopping rule is ``patience`` stable rounds.
    def _iteration_limit(self) -> tuple[str, int]:
        return "n_iter", int(self.n_iter)

    def _stop_rule(self) -> str | None:
        return None if self.patience is None else f"signs stable for patience={self.patience} rounds"

    def _context(self, votes: Votes, gold: GoldLabels = NO_GOLD) -> "_Graph":
        rng = check_random_state(self.random_state)  # one stream: the normal start, then the tie rule
        task, worker = votes.task, votes.worker
        n, w = votes.n_tasks, votes.n_workers
        deg_t = np.bincount(task, minlength=n)
        deg_w = np.bincount(worker, minlength=w)
        if self.messages == "mean":                      # 1 / (number of terms), 0 for none
            scale_x = _inverse(deg_t[task] - 1.0)
            scale_y = _inverse(deg_w[worker] - 1.0)
        else:
            scale_x = scale_y = None
        a = (2 * votes.label - 1).astype(np.int8)        # A_ij: classes[0] -> -1, classes[1] -> +1
        return _Graph(task, worker, n, w, a, deg_t, deg_w, scale_x, scale_y, rng=rng)

    def _init_state(self, votes: Votes, g: "_Graph") -> "_Messages":
        y = _normal_start(votes, g.rng) if self.init == "normal" else np.ones(votes.n_votes)
        return _Messages.start(y)

    def _warm_state(self, votes: Votes, g: "_Graph") -> "_Messages":
        """The fitted reliabilities as the first worker messages (see :meth:`partial_fit`)."""
        fitted = np.asarray(self.worker_reliability_, dtype=float)
        n_fit = np.bincount(self.votes_.worker, minlength=fitted.size).astype(float)
        mean = float(n_fit @ fitted / n_fit.sum()) if n_fit.sum() > 0 else 0.0
        start = np.full(votes.n_workers, mean if mean > 0 else 1.0)
        known = np.flatnonzero(n_fit > 0)
        start[known] = fitted[known]
        return _Messages.start(start[votes.worker])

    def _m_step(self, votes: Votes, g: "_Graph", m: "_Messages") -> None:
        g.half_step(m.y, g.task, g.n, g.scale_x, m.x, m.av)      # task -> worker messages x_{i->j}
        return None

    def _e_step(self, votes: Votes, g: "_Graph", params: None, m: "_Messages") -> tuple["_Messages", None]:
        g.half_step(m.x, g.worker, g.w, g.scale_y, m.y, m.av)    # worker -> task messages y_{j->i}
        new_signs = np.sign(np.bincount(g.task, g.signed(m.y, m.av), minlength=g.n))
        m.stable = m.stable + 1 if m.signs is not None and np.array_equal(new_signs, m.signs) else 0
        m.signs = new_signs
        return m, None

    def _converged(self, g: "_Graph", hist: Any, objective: None, old: "_Messages", new: "_Messages") -> bool:
        return self.patience is not None and new.stable >= self.patience

    def _finish(self, votes: Votes, g: "_Graph", params: None, m: "_Messages") -> None:
        n, w = g.n, g.w
        self.scores_ = _rms_normalize(np.bincount(g.task, g.signed(m.y, m.av), minlength=n), where=g.deg_t > 0)
        reliability = np.bincount(g.worker, g.signed(m.x, m.av), minlength=w) * _inverse(g.deg_w)
        top = np.abs(reliability).max() if w else 0.0
        self.worker_reliability_ = reliability / top if top > 0 else reliability
        p1 = expit(self.scores_)
        probas = np.column_stack([1.0 - p1, p1])
        # a score of exactly 0 carries no information (no vote, or voters who share no
        # other task): such tasks fall back to their vote shares, then the tie rule
        blank = self.scores_ == 0
        if blank.any():
            probas[blank] = normalize_rows(votes.counts().toarray()[blank])
        self.probas_ = probas
        self.labels_ = argmax_ties(probas, tie=self.tie, random_state=g.rng)

    def _predict_proba(self, votes: Votes) -> np.ndarray:
        """KOS is transductive: it runs again on the new votes."""
        return Aggregator._predict_proba(self, votes)


@dataclass
class _Graph(EMContext):
    """The task-worker graph of the votes (one edge per vote): the per-fit context of KOS."""

    task: np.ndarray
    worker: np.ndarray
    n: int
    w: int
    a: np.ndarray                 # A_ij = ±1 per vote, kept as int8 (1 byte per vote, not 8)
    deg_t: np.ndarray
    deg_w: np.ndarray
    scale_x: np.ndarray | None    # 1 / (terms of each message) with messages="mean", else None
    scale_y: np.ndarray | None

    def signed(self, m: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = A * m``, exact."""
        return np.multiply(self.a, m, out=out)

    def half_step(self, message: np.ndarray, owner: np.ndarray, n_owner: int, scale: np.ndarray | None,
                  out: np.ndarray, av: np.ndarray) -> None:
        """``out`` on each edge: the sum of ``A * message`` over the other edges of its
        owner (task or worker), times ``scale``, RMS-normalised; in place (five per-vote
        float arrays in all: the two scales, x, y and ``av``, the one per-vote temporary).
        ``mode="clip"`` lets ``np.take`` write into ``out`` without a buffer (the indices
        are valid)."""
        self.signed(message, av)
        totals = np.bincount(owner, av, minlength=n_owner).astype(float, copy=False)  # int64 when empty
        np.take(totals, owner, out=out, mode="clip")
        out -= av                                                    # all edges but this one
        if scale is not None:
            out *= scale
        _rms_normalize(out, in_place=True)


@dataclass
class _Messages:
    """The messages on the edges (updated in place), and the sign bookkeeping."""

    y: np.ndarray                 # worker -> task, one per vote
    x: np.ndarray                 # task -> worker
    av: np.ndarray                # A * (the other message): the one per-vote temporary
    signs: np.ndarray | None = None
    stable: int = 0               # rounds the signs have not changed

    @classmethod
    def start(cls, y: np.ndarray) -> "_Messages":
        y = np.array(y, dtype=float, copy=True)  # updated in place: never the caller's
        return cls(y, np.zeros(y.size), np.empty(y.size))


def _normal_start(votes: Votes, rng: np.random.Generator) -> np.ndarray:
    """``N(1, 1)`` per vote, drawn from the seed and the vote, not its position: a hash of
    the vote profiles of its task and of its worker and of its class's rank, salted by two
    numbers from ``rng``, turned into a normal by the inverse CDF."""
    rank = class_ranks(votes.classes)[votes.label]
    fp_task = vote_profile_fingerprints(votes.task, rank, votes.n_tasks, votes.n_classes)
    fp_worker = vote_profile_fingerprints(votes.worker, rank, votes.n_workers, votes.n_classes)
    salt = rng.integers(0, 2**63, size=2, dtype=np.uint64)
    key = splitmix64(fp_task[votes.task] ^ salt[0]) ^ fp_worker[votes.worker]
    u = hashed_uniforms(key ^ rank.astype(np.uint64), salt[1]) + 2.0**-54  # in (0, 1)
    return 1.0 + ndtri(u)


def _inverse(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d, dtype=float)
    return np.divide(1.0, d, out=np.zeros_like(d), where=d > 0)


def _rms_normalize(v: np.ndarray, where: np.ndarray | None = None, *, in_place: bool = False) -> np.ndarray:
    """``v`` divided by its root mean square (over ``where``); unchanged when it is 0.
    ``in_place=True`` divides ``v`` itself."""
    sel = v if where is None else v[where]
    if sel.size == 0:
        return v
    rms = np.sqrt(np.mean(sel * sel))
    if not (rms > 0 and np.isfinite(rms)):
        return v
    if in_place:
        v /= rms
        return v
    return v / rms
