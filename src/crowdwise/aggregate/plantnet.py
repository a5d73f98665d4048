"""Pl@ntNet aggregation: an iterative weighted majority vote with a validity filter.

Users are trusted according to the number of species they identified correctly (Lefort
et al., 2024): the trust of a user is a function of that number, labels are the weighted
majority vote, and an observation is *valid* when the weight behind its label is both
large enough and dominant enough. The two steps alternate until nothing changes.

Every step is a gather or a ``np.bincount`` over vote arrays (or over the distinct
(task, label) and (worker, label) pairs, computed once): memory is O(votes) and the cost
of an iteration is a few passes over the votes, whatever the number of classes. The
Pl@ntNet case (9M votes, 823k users, 6.7M observations, K = 11,425) runs on one machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..votes import Votes
from ._base import (Aggregator, Integer, Options, Real, Satisfies, argmax_shares, argmax_ties, as_probas,
                    check_random_state, worker_values_for)
from .registry import register

__all__ = ["PlantNet", "plantnet_weight", "AI_MODES", "WEIGHT_FORMS", "PENALTIES"]

#: How the AI votes can enter the aggregation (see :class:`PlantNet`).
AI_MODES = ("ignored", "worker", "fixed", "invalidating", "confident")

_LOG_2_1 = float(np.log(2.1))

#: scores within this relative distance of a task's top score tie with it: the tie test of
#: the labels (argmax_ties) and of the species credit, which must agree
_TIE_RTOL = 1e-12


def plantnet_weight(n: np.ndarray | float, alpha: float = 0.5, beta: float = 0.2,
                    gamma: float = _LOG_2_1) -> np.ndarray:
    """Trust of a user who identified ``n`` species: ``f(n) = n**alpha - n**beta + gamma``.

    ``f(0) = f(1) = gamma``; with the defaults a user becomes *self-validating*
    (``f(n) > 2``) at ``n = 8`` species.

    Examples
    --------
    >>> plantnet_weight([0, 1, 2, 7, 8]).round(3).tolist()
    [0.742, 0.742, 1.007, 1.912, 2.055]
    """
    n = np.asarray(n, dtype=float)
    return n**alpha - n**beta + gamma


def _log_weight(n: np.ndarray, gamma: float) -> np.ndarray:
    # log 0 is undefined: a user without a species weighs as one with a single species
    return np.log(np.maximum(n, 1.0)) + gamma


#: The named forms of the user weight ``f(n)`` of :class:`PlantNet` (``weight=``) other
#: than ``"power"``, each ``(n, gamma) -> weights`` on a float array of species counts
#: (Lefort's thesis, Table 4.1).
WEIGHT_FORMS = {
    "linear": lambda n, gamma: n + gamma,
    "sqrt": lambda n, gamma: n**0.5 + gamma,
    "pow075": lambda n, gamma: n**0.75 + gamma,
    "square": lambda n, gamma: n**2 + gamma,
    "log": _log_weight,
}

#: every name ``weight=`` accepts, ``"power"`` (the default) first
WEIGHT_NAMES = ("power", *WEIGHT_FORMS)

#: The penalised species counts of :class:`PlantNet` (``penalty=``; Lefort's thesis, §4.3.1)
PENALTIES = ("difference", "ratio", "accuracy")


@dataclass
class _Prepared:
    """The votes as the algorithm sees them, once the AI votes are sorted out."""

    task: np.ndarray          # votes that enter the weighted vote (humans, and the AI when it does)
    worker: np.ndarray
    label: np.ndarray
    for_n: np.ndarray         # bool over those votes: counts towards the voter's species number
    authored: np.ndarray      # bool over those votes: cast by the author of the observation
    inv_task: np.ndarray      # ai="invalidating": the AI votes, kept aside
    inv_label: np.ndarray
    ai_index: int             # index of the AI in worker_ids, -1 when absent
    n_ai_votes: int


# Registered under five names, one per way of using the AI votes. Decorators apply bottom
# up: "PlantNet" registers first and is listed first by `crowdwise agginfo`.
@register("PlantNet-AIconfident", ai="confident",
          description="Pl@ntNet with the AI vote counted (fixed weight) only when its score exceeds theta_score.")
@register("PlantNet-AIinvalidating", ai="invalidating",
          description="Pl@ntNet with an AI vote (fixed weight) that can only invalidate observations.")
@register("PlantNet-AIfixed", ai="fixed",
          description="Pl@ntNet with the AI as a voter of fixed weight ai_weight (1.7).")
@register("PlantNet-AIworker", ai="worker",
          description="Pl@ntNet with the AI as one more user, weighted like any other.")
@register("PlantNet")
class PlantNet(Aggregator):
    """Pl@ntNet aggregation: iterative weighted majority vote with a validity filter.

    Votes are ``(observation i, user u, species y_iu)``. Given user weights ``w_u``::

        score_i(k) = sum_{u voted on i} w_u [y_iu = k]
        y_i    = argmax_k score_i(k)                      (labels_, ties: tie rule)
        conf_i = score_i(y_i)                             (confidence_)
        acc_i  = conf_i / sum_k score_i(k)                (accuracy_)
        s_i    = [conf_i > theta_conf and acc_i > theta_acc]      (valid_)

    and each user's weight comes from the number of species they identified::

        n_u^author = #{k : u authored a valid i with y_iu = y_i = k}
        n_u^vote   = #{k : u voted y_iu = y_i = k on an i they did not author}
                     minus the species already counted in n_u^author
        n_u = Round(n_u^author + vote_factor * n_u^vote)  (n_correct_, halves round up)
        w_u = f(n_u)                                      (weights_)

    where the weight function ``f`` is chosen by ``weight`` (Lefort's thesis, §4.2-4.3
    and Table 4.1; ``n`` is the rounded species count ``n_u`` above)::

        "power"   f(n) = n**alpha - n**beta + gamma   (Pl@ntNet's, the default)
        "linear"  f(n) = n + gamma
        "sqrt"    f(n) = n**0.5 + gamma
        "pow075"  f(n) = n**0.75 + gamma
        "square"  f(n) = n**2 + gamma
        "log"     f(n) = log(n) + gamma, with log(0) read as log(1) = 0: f(0) = f(1) = gamma

    or any callable ``f(n) -> weights`` (from the API only): it receives the species
    counts of all users as one float NumPy array and must return an array of the same
    shape of finite weights > 0 (``gamma``, ``alpha`` and ``beta`` are then unused).
    ``alpha`` and ``beta`` act only on ``"power"``.

    **Penalised weights** (``penalty``; thesis §4.3.1, "Penalize the mistakes"): the
    weight function is applied to a penalised species count ``m_u`` (``n_effective_``)::

        None          m_u = n_u                          (Pl@ntNet's, the default)
        "difference"  m_u = max(n_u - n_u^wrong, 0)
        "ratio"       m_u = (n_u / n_u^proposed) * n_u
        "accuracy"    m_u = acc_u * n_u
        w_u = f(m_u)

    ``n_u^wrong`` (``n_wrong_``) counts the species ``u`` proposed wrongly, judged against
    the current labels, as ``n_u`` counts the right ones::

        n_u^wrong,author = #{k : u authored a valid i with y_iu = k != y_i}
        n_u^wrong,vote   = #{k : u voted y_iu = k != y_i on an i they did not author}
                           minus the species already counted in n_u^wrong,author
        n_u^wrong = Round(n_u^wrong,author + vote_factor * n_u^wrong,vote)

    (a species can be both right on one observation and wrong on another).
    ``n_u^proposed`` is the number of distinct species ``u`` voted, and ``acc_u`` the share
    of ``u``'s votes equal to the majority vote of their observation (WAWA's agreement: on
    an observation whose majority vote is tied between ``m`` species, a vote for one of
    them agrees by ``1/m``); both are fixed before the loop. ``m_u`` is fractional for
    ``"ratio"`` and ``"accuracy"``, and ``f`` is evaluated there as written (with
    ``"power"``, ``f(m) < gamma`` for ``0 < m < 1``; ``"log"`` reads ``m < 1`` as 1).
    The penalties apply to every ``ai`` mode, to the AI too when it is a user
    (``ai="worker"``).

    An observation whose top score is tied between species credits nobody with a species,
    neither its voters nor its author (a tie can be valid when ``theta_acc`` is below
    1/2, or at 1/2 up to rounding): which species is "right" would be the tie rule's
    pick, which follows the order of the species (``tie="smallest"``) or the order in
    which the random stream meets the observations (``"random"``), and through the
    weights it would move untied labels when species or observations are listed in
    another order. Its label (``labels_``) is still the tie rule's pick.

    Start from ``w_u = f(0)`` (``gamma`` for every named form; the first labels are the
    majority vote), then
    repeat: validity from (labels, weights), species counts from (labels, validity),
    weights, new labels; stop when labels and species counts no longer change
    (``converged_``), after ``max_iter`` rounds, or as soon as a state (labels, species
    counts) comes back: the rounds would then cycle for ever (``converged_`` False, the
    last state is kept). The reported ``valid_``, ``confidence_`` and ``accuracy_`` are
    those of the final labels and weights.

    A user needs ``f(n) > theta_conf``, i.e. 8 species with the default weights, to validate an
    observation alone (*self-validating*); a species identified by voting on someone
    else's observation counts ``vote_factor`` = 1/10 of an authored one, and an authored
    observation counts only once it is valid. (The 1/10 acts on the species count: in the
    weighted vote itself every vote of ``u`` weighs ``w_u``, authored or not.)

    **Authors.** The per-vote column ``votes.extra["author"]`` (bool: this vote is by the
    author of the observation) separates the two kinds of species. Without that column
    every vote is treated as authored: ``n_u`` is then the number of species ``u``
    identified correctly on valid observations. (peerannot, given no author file, treats
    every vote as a vote on someone else's observation instead.)

    **AI votes.** The AI is the worker whose id is ``ai_worker`` (default ``"AI"``), one
    vote per observation, its predicted probability in ``votes.extra["ai_score"]``
    (needed by ``ai="confident"`` only). ``ai`` chooses how its votes count:

    - ``"ignored"``: dropped (the plain strategy);
    - ``"worker"``: the AI is one more user, its weight learnt from its species count;
    - ``"fixed"``: its vote has the fixed weight ``ai_weight`` (1.7 < theta_conf: it can
      never validate alone), in the labels, the confidence and the accuracy;
    - ``"invalidating"``: labels and confidence are the human ones; an AI vote that
      disagrees with the label adds ``ai_weight`` to the accuracy denominator,
      ``acc_i = conf_i / (sum_k score_i(k) + ai_weight [y_i^AI != y_i])``, so it can turn a
      valid observation invalid but never the reverse;
    - ``"confident"``: as ``"fixed"``, for the AI votes whose score is ``> theta_score``
      only (``theta_score=1`` gives back the plain strategy).

    **theta_score on raw or calibrated scores.** ``theta_score`` reads the score as a
    probability of being right: "count the AI when it is right more than 70 % of the
    time". That holds only for calibrated scores; a network is usually over-confident, and
    on its raw scores the threshold lets in votes that are right far less often. Calibrate
    them first on trusted labels (``crowdwise calibrate``,
    :func:`crowdwise.calibration.calibrate_ai`): temperature scaling is monotone, so
    calibrated with ``T`` the rule keeps the AI votes whose raw score exceeds a higher
    threshold, ``sigmoid(T * m(theta_score) - log(K - 1))`` with ``m(p) = log(p / (1 - p))
    + log(K - 1)``, and with ``T > 1`` (over-confidence) fewer AI votes count. On a
    simulated crowd whose AI is over-confident by ``T = 3`` this gives more observations a
    valid and right label (``tests/calibration``; ``docs/guide/calibration.md``).

    The AI never counts towards a human's species number; with ``ai="worker"`` its own
    vote counts as authored only if the ``author`` column says so. Votes without any vote
    by ``ai_worker`` make every variant the plain strategy (``n_ai_votes_ == 0``).

    Parameters
    ----------
    theta_conf : float, default=2
        Confidence threshold (strict): total weight behind the label.
    theta_acc : float, default=0.7
        Accuracy threshold (strict): share of the weight behind the label.
    weight : {"power", "linear", "sqrt", "pow075", "square", "log"} or callable, default="power"
        The user weight function ``f(n)`` (formulas above); a callable maps a float array
        of species counts to an array of weights.
    alpha, beta, gamma : float, default=0.5, 0.2, log(2.1)
        Parameters of the named weight functions: ``gamma > 0`` (all named forms) and,
        for ``weight="power"`` only, ``alpha >= beta > 0`` keep every weight positive.
    vote_factor : float, default=0.1
        Value of a species identified on someone else's observation, relative to an
        authored one (also of a species proposed wrongly, ``penalty="difference"``).
    penalty : {None, "difference", "ratio", "accuracy"}, default=None
        Penalised species count the weight function is applied to (formulas above).
    ai : {"ignored", "worker", "fixed", "invalidating", "confident"}, default="ignored"
    ai_worker : str or None, default="AI"
        Worker id of the AI (None: no AI).
    ai_weight : float, default=1.7
        Fixed weight of the AI vote (``ai`` in fixed, invalidating, confident).
    theta_score : float, default=0.7
        ``ai="confident"``: the AI vote counts when its score is strictly above this.
    max_iter : int, default=100
    tie : {"smallest", "random"}, default="smallest"
        Tie rule of the weighted vote: smallest class index (as peerannot's argmax), or
        uniformly at random with ``random_state`` — drawn once per fit, so the same tie
        is broken the same way at every iteration and the loop can settle.
    random_state : int, Generator or None
    dense : bool or None
        Form of ``probas_``: None picks a dense array when ``n_tasks * K`` is small and a
        CSR matrix otherwise.

    Attributes
    ----------
    labels_ : ndarray of int, shape (n_tasks,)
        Weighted majority vote. A task without a counted vote gets a label by the tie rule
        (class 0 with ``tie="smallest"``) and is invalid.
    valid_ : ndarray of bool, shape (n_tasks,)
    confidence_, accuracy_ : ndarray of float, shape (n_tasks,)
        0 for a task without a counted vote.
    probas_ : ndarray or csr_array of shape (n_tasks, n_classes)
        Weighted scores normalised per task (the votes that make the labels).
    weights_ : ndarray of float, shape (n_workers,)
        Weight of each worker's votes: ``f(n_correct_)``; for the AI ``ai_weight`` when it
        has a fixed weight, 0 when its votes are ignored.
    n_correct_ : ndarray of int, shape (n_workers,)
        ``n_u``, the rounded number of species identified (0 for the AI unless
        ``ai="worker"``).
    n_effective_ : ndarray of float, shape (n_workers,)
        ``m_u``, the count the weights are computed from: ``n_correct_`` when ``penalty``
        is None, the penalised count otherwise.
    n_wrong_ : ndarray of int, shape (n_workers,), or None
        ``n_u^wrong``, the rounded number of species proposed wrongly
        (``penalty="difference"``; None otherwise).
    n_iter_ : int
    converged_ : bool
    n_ai_votes_ : int
        Number of votes by ``ai_worker`` found in the votes.

    Notes
    -----
    Choices where the sources differ (see the module tests for the hand-computed cases):

    - validity is strict (``>``) as in peerannot and the paper's text on self-validating
      users; the paper's Algorithm 1 writes ``>=``;
    - ``n_u^vote`` only counts votes on observations the user did not author, as in the
      paper's Algorithm 1 (peerannot also counts authored observations that are not
      valid); ``Round`` rounds halves up (peerannot: numpy's half-to-even);
    - an observation tied at the top credits no species (peerannot credits the voters
      of its argmax, the smallest class index);
    - the loop uses the current labels at each round (peerannot keeps the initial
      majority vote labels for the validity and the species counts);
    - ``"invalidating"``: the paper says the AI can only invalidate, and peerannot adds
      its weight to the denominator only; an agreeing AI vote is thus ignored here;
    - ``"confident"``: score ``> theta_score`` (the paper writes ``>=`` but states that
      ``theta_score = 1`` means no AI vote, which only ``>`` guarantees);
    - ``penalty="difference"``: the thesis writes ``f(min(n_u - n_u^wrong, 0))``, read here
      as ``max``: ``min`` would give every user a count <= 0, against its gloss "one's
      weight is great if they have more correct identifications than wrong ones";
      ``n_u^wrong,vote`` counts votes on observations the user did not author, valid or
      not, as ``n_u^vote`` does; on an observation tied at the top, a vote for one of the
      tied species is neither right nor wrong (a vote below the top is wrong);
    - ``penalty="accuracy"``: the majority vote is that of the votes that count towards
      the species numbers (the humans', and the AI's when ``ai="worker"``), computed once
      as in the thesis' formula (not the current labels).

    References
    ----------
    T. Lefort, A. Affouard, B. Charlier, J.-C. Lombardo, M. Chouet, H. Goëau, J. Salmon,
    P. Bonnet, A. Joly, "Cooperative learning of Pl@ntNet's Artificial Intelligence
    algorithm: how does it work and how can we improve it?", 2024, hal-04603038
    (arXiv:2406.03356), Algorithm 1 and the AI strategies. peerannot's
    ``peerannot/models/aggregation/plantnet.py``. T. Lefort, "Label ambiguity in
    crowdsourcing for classification and expert feedback", PhD thesis, Université de
    Montpellier, 2024, chapter 4: the weight functions of ``weight`` (§4.2-4.3, Table
    4.1) and the penalised counts of ``penalty`` (§4.3.1, "Penalize the mistakes").

    Examples
    --------
    Observation ``o1`` is authored by ``a``, who agrees with ``b`` and ``c``: 3 x 0.742 >
    2, valid. On ``o2`` a newcomer is alone: not valid.

    >>> from crowdwise import Votes
    >>> v = Votes.from_records(["o1", "o1", "o1", "o2"], ["a", "b", "c", "d"],
    ...                        ["rosa", "rosa", "rosa", "iris"],
    ...                        extra={"author": [True, False, False, True]})
    >>> m = PlantNet().fit(v)
    >>> m.labels_.tolist(), m.valid_.tolist()
    ([1, 0], [True, False])
    >>> m.n_correct_.tolist(), m.weights_.round(3).tolist()
    ([1, 0, 0, 0], [0.742, 0.742, 0.742, 0.742])
    >>> m.confidence_.round(3).tolist(), m.converged_
    ([2.226, 0.742], True)
    """

    name = "PlantNet"
    description = ("Pl@ntNet: iterative weighted majority vote, users weighted by the species they "
                   "identified, observations valid above confidence/accuracy thresholds.")
    soft = False

    def __init__(
        self,
        theta_conf: float = 2.0,
        theta_acc: float = 0.7,
        weight: str | Callable[[np.ndarray], np.ndarray] = "power",
        alpha: float = 0.5,
        beta: float = 0.2,
        gamma: float = _LOG_2_1,
        vote_factor: float = 0.1,
        penalty: str | None = None,
        ai: str = "ignored",
        ai_worker: str | None = "AI",
        ai_weight: float = 1.7,
        theta_score: float = 0.7,
        max_iter: int = 100,
        tie: str = "smallest",
        random_state: int | None = None,
        dense: bool | None = None,
    ):
        self.theta_conf = theta_conf
        self.theta_acc = theta_acc
        self.weight = weight
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.vote_factor = vote_factor
        self.penalty = penalty
        self.ai = ai
        self.ai_worker = ai_worker
        self.ai_weight = ai_weight
        self.theta_score = theta_score
        self.max_iter = max_iter
        self.tie = tie
        self.random_state = random_state
        self.dense = dense

    # ------------------------------------------------------------------ validation
    parameter_rules = {
        "theta_conf": Real(help="the confidence threshold (total weight behind the label)"),
        "theta_acc": Real(help="the accuracy threshold (share of the weight behind the label)"),
        "theta_score": Real(help="the AI score above which its vote counts (ai='confident')"),
        "vote_factor": Real(0, help="the value of a species identified on someone else's observation"),
        "ai_weight": Real(0, help="the fixed weight of the AI vote"),
        "weight": Options(*WEIGHT_NAMES, noun="a user weight function", help="the user weight function f(n)")
                  | Satisfies(callable, "a callable f(n) -> weights (from the API)"),
        "gamma": Real(0, low_open=True, help="gamma of the weight function, e.g. n + gamma"),
        "beta": Real(help="beta > 0 of the weight function n**alpha - n**beta + gamma (weight='power')"),
        "alpha": Real(help="alpha >= beta of the weight function n**alpha - n**beta + gamma (weight='power')"),
        "penalty": Options(None, *PENALTIES, noun="a penalty of the species count", example="difference",
                           help="the way wrong identifications lower a user's weight"),
        "ai": Options(*AI_MODES, noun="a way to use the AI votes"),
        "ai_worker": Satisfies(lambda v: v is None or isinstance(v, (str, int, np.integer)),
                               "the worker id of the AI (text or an integer), or None"),
        "max_iter": Integer(1, help="the most iterations to run"),
    }

    def validate_params(self) -> None:
        """The ``parameter_rules``, then what they cannot say (:meth:`_check_params`), so
        that ``make_strategy`` refuses those values too."""
        super().validate_params()
        self._check_params()

    def _check_params(self) -> None:
        """What the rules cannot say: ``alpha >= beta > 0`` for ``weight="power"`` only."""
        if not _is_power(self.weight):
            return
        name = type(self).__name__
        if not self.beta > 0:
            raise InputError(f"{name}: beta={self.beta!r} must be > 0 with weight='power' "
                             "(n**alpha - n**beta + gamma)",
                             fix="choose alpha >= beta > 0 (the paper: 0.5 and 0.2), or another weight, "
                                 "e.g. weight='linear' for n + gamma")
        if self.alpha < self.beta:
            raise InputError(f"{name}: alpha={self.alpha!r} < beta={self.beta!r} gives negative "
                             "weights to active users", fix="choose alpha >= beta > 0 (the paper: 0.5 and 0.2)")

    def _weight_of(self, n: np.ndarray) -> np.ndarray:
        """``f(n)``, a new float array, for the species counts ``n`` (any shape)."""
        if _is_power(self.weight):
            return plantnet_weight(n, self.alpha, self.beta, self.gamma)
        nf = np.asarray(n, dtype=float)
        if isinstance(self.weight, str):
            return np.asarray(WEIGHT_FORMS[self.weight](nf, float(self.gamma)), dtype=float)
        w = np.array(self.weight(nf.copy()), dtype=float)  # a copy: the AI's entry is written below
        if w.shape != nf.shape or not np.all(np.isfinite(w) & (w > 0)):
            raise InputError(f"{type(self).__name__}: the weight function {self.weight!r} must map an array of "
                             f"shape {nf.shape} to finite weights > 0 of the same shape, got "
                             f"{'shape ' + str(w.shape) if w.shape != nf.shape else 'a weight <= 0 or not finite'}",
                             fix="vectorise it over a NumPy array and keep every weight positive, "
                                 "e.g. weight=lambda n: n + 1")
        return w

    def _prepare(self, votes: Votes) -> _Prepared:
        """Split the AI votes from the human ones according to ``ai``; read the extra columns."""
        n = votes.n_votes
        ai_index = -1
        if self.ai_worker is not None and votes.n_workers:
            hit = np.flatnonzero(votes.worker_ids.astype(str) == str(self.ai_worker))
            ai_index = int(hit[0]) if hit.size else -1
        is_ai = votes.worker == ai_index if ai_index >= 0 else np.zeros(n, dtype=bool)
        n_ai = int(is_ai.sum())
        authored = _bool_column(votes, "author", default=True)
        empty = np.zeros(0, dtype=np.int64)
        inv_task, inv_label = empty, empty
        for_n = ~is_ai
        if self.ai == "worker":
            keep = np.ones(n, dtype=bool)
            for_n = keep
        elif self.ai == "fixed":
            keep = np.ones(n, dtype=bool)
        elif self.ai == "confident":
            keep = ~is_ai
            if n_ai:
                if "ai_score" not in votes.extra:
                    raise InputError("ai='confident' needs the AI's predicted probabilities in votes.extra['ai_score']",
                                     fix="add a per-vote 'ai_score' column (read on the AI's votes), "
                                         "or choose another ai mode")
                score = np.asarray(votes.extra["ai_score"])
                if score.dtype.kind not in "biuf":
                    raise InputError(f"votes.extra['ai_score'] must be numeric, got dtype {score.dtype}")
                keep = keep | (is_ai & (score.astype(float) > self.theta_score))
        else:  # ignored, invalidating
            keep = ~is_ai
            if self.ai == "invalidating":
                inv_task, inv_label = votes.task[is_ai], votes.label[is_ai]
        if keep.all():
            task, worker, label = votes.task, votes.worker, votes.label
        else:
            task, worker, label = votes.task[keep], votes.worker[keep], votes.label[keep]
            for_n, authored = for_n[keep], authored[keep]
        return _Prepared(task, worker, label, for_n, authored, inv_task, inv_label, ai_index, n_ai)

    def _worker_weights(self, n: np.ndarray, ai_index: int) -> np.ndarray:
        """``f(n)`` for the (penalised) species counts ``n``; the AI's fixed weight."""
        w = self._weight_of(n)
        if self.penalty is not None and not np.all(np.isfinite(w) & (w > 0)):
            # fractional counts reach parts of f that integer counts never do
            bad = np.flatnonzero(~(np.isfinite(w) & (w > 0)))[0]
            raise InputError(f"{type(self).__name__}: weight={self.weight!r} with penalty={self.penalty!r} gives a "
                             f"user a weight of {float(w[bad]):.4g} (penalised species count {float(n[bad]):.4g}); "
                             "weights must be > 0", fix="raise gamma, or choose weight='sqrt' (n**0.5 + gamma)")
        if ai_index >= 0 and self.ai != "worker":
            w[ai_index] = 0.0 if self.ai == "ignored" else float(self.ai_weight)
        return w

    # ------------------------------------------------------------------ fit
    def _fit(self, votes: Votes) -> None:
        prep = self._prepare(votes)
        n_tasks, n_classes, n_workers = votes.n_tasks, votes.n_classes, votes.n_workers
        theta_conf, theta_acc = float(self.theta_conf), float(self.theta_acc)

        # distinct (task, label) pairs, in CSR order: the weighted scores live on them
        pair_key, pair_of_vote = np.unique(prep.task * n_classes + prep.label, return_inverse=True)
        pair_of_vote = pair_of_vote.ravel()
        pair_task, pair_label = pair_key // n_classes, pair_key % n_classes
        small = max(pair_key.size, n_classes, n_tasks) < np.iinfo(np.int32).max
        idx_dtype = np.int32 if small else np.int64
        indices = pair_label.astype(idx_dtype)
        indptr = np.zeros(n_tasks + 1, dtype=idx_dtype)
        np.cumsum(np.bincount(pair_task, minlength=n_tasks), out=indptr[1:])

        def scores(w_votes: np.ndarray) -> sparse.csr_array:
            data = np.bincount(pair_of_vote, weights=w_votes, minlength=pair_key.size)
            return sparse.csr_array((data, indices, indptr), shape=(n_tasks, n_classes))

        # distinct (worker, label) pairs of the votes that count for the species numbers,
        # split once into authored votes (count when valid) and votes on others' observations
        sel = np.flatnonzero(prep.for_n)
        wl_key, wl_of = np.unique(prep.worker[sel] * n_classes + prep.label[sel], return_inverse=True)
        wl_of = wl_of.ravel()
        wl_worker = wl_key // n_classes
        auth = prep.authored[sel]
        a_sel, v_sel = sel[auth], sel[~auth]
        a_pair, a_task, a_wl = pair_of_vote[a_sel], prep.task[a_sel], wl_of[auth]
        v_pair, v_wl = pair_of_vote[v_sel], wl_of[~auth]
        penalty = self.penalty
        if penalty == "ratio":  # n_u^proposed: the distinct species u voted
            n_proposed = np.bincount(wl_worker, minlength=n_workers)
        elif penalty == "accuracy":  # acc_u: agreement with the majority vote of those votes
            mv = sparse.csr_array((np.bincount(pair_of_vote[sel], minlength=pair_key.size).astype(float),
                                   indices, indptr), shape=(n_tasks, n_classes))
            agree = argmax_shares(mv).data[pair_of_vote[sel]]
            n_own = np.bincount(prep.worker[sel], minlength=n_workers)
            voter_acc = np.divide(np.bincount(prep.worker[sel], weights=agree, minlength=n_workers), n_own,
                                  out=np.zeros(n_workers), where=n_own > 0)
            del mv, agree, n_own
        del sel, auth, a_sel, v_sel, wl_of

        if self.tie == "random":
            seed = int(check_random_state(self.random_state).integers(2**63 - 1))

        def labels_of(m: sparse.csr_array) -> np.ndarray:
            rng = np.random.default_rng(seed) if self.tie == "random" else None
            return argmax_ties(m, tie=self.tie, random_state=rng, rtol=_TIE_RTOL)

        def validity(m: sparse.csr_array, labels: np.ndarray):
            hit = pair_label == labels[pair_task]
            total = np.bincount(pair_task, weights=m.data, minlength=n_tasks)
            conf = np.bincount(pair_task, weights=np.where(hit, m.data, 0.0), minlength=n_tasks)
            if prep.inv_task.size:
                against = prep.inv_label != labels[prep.inv_task]
                total = total + float(self.ai_weight) * np.bincount(prep.inv_task[against], minlength=n_tasks)
            acc = np.divide(conf, total, out=np.zeros(n_tasks), where=total > 0)
            valid = (conf > theta_conf) & (acc > theta_acc)
            return hit, conf, acc, valid

        def sole_top(m: sparse.csr_array, conf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Per (task, label) pair: at the top of its task, and alone there, the only
            pairs that credit species (class docstring). ``conf`` is the score of each
            task's label, the top of the row up to ``_TIE_RTOL``: a row is tied iff a
            second positive score lies within ``_TIE_RTOL`` of it, the test of argmax_ties
            (and of argmax_shares, without its copy of the matrix; timing in
            ``docs/dev/performance.md``, "Figures behind docstrings")."""
            top = conf[pair_task]
            at_top = (m.data >= top - _TIE_RTOL * np.abs(top)) & (m.data > 0)
            n_top = np.bincount(pair_task, weights=at_top, minlength=n_tasks)
            return at_top, at_top & (n_top[pair_task] == 1)

        def effective(n_c: np.ndarray, n_w: np.ndarray | None) -> np.ndarray:
            """The count the weights come from: ``n_u`` or its penalised form."""
            if penalty == "difference":
                return np.maximum(n_c - n_w, 0)
            if penalty == "ratio":
                return np.divide(n_c, n_proposed, out=np.zeros(n_workers), where=n_proposed > 0) * n_c
            if penalty == "accuracy":
                return voter_acc * n_c
            return n_c

        def species_counts(hit: np.ndarray, valid: np.ndarray) -> np.ndarray:
            # hit[p]: the (task, label) pair p counts (right, or wrong for n_u^wrong);
            # has_a[p] / has_v[p]: worker-species pair p identified as author / as voter
            has_a = np.zeros(wl_key.size, dtype=bool)
            has_a[a_wl[hit[a_pair] & valid[a_task]]] = True
            has_v = np.zeros(wl_key.size, dtype=bool)
            has_v[v_wl[hit[v_pair]]] = True
            has_v &= ~has_a  # a species counts once, as author when it can
            n_a = np.bincount(wl_worker, weights=has_a, minlength=n_workers)
            n_v = np.bincount(wl_worker, weights=has_v, minlength=n_workers)
            # Round, halves up; the epsilon absorbs float error in vote_factor * n_v
            return np.floor(n_a + float(self.vote_factor) * n_v + 0.5 + 1e-9).astype(np.int64)

        n_correct = np.zeros(n_workers, dtype=np.int64)
        n_wrong = np.zeros(n_workers, dtype=np.int64) if penalty == "difference" else None
        n_eff = effective(n_correct, n_wrong)
        w = self._worker_weights(n_eff, prep.ai_index)
        m = scores(w[prep.worker])
        labels = labels_of(m)
        # (species counts, penalised counts, labels) is the whole state: a state seen
        # before means a cycle
        seen = {_digest(n_correct, n_eff, labels)}
        converged, it = False, 0
        for it in range(1, int(self.max_iter) + 1):
            hit, conf, _, valid = validity(m, labels)
            at_top, sole = sole_top(m, conf)
            n_new = species_counts(hit & sole, valid)
            if penalty == "difference":  # wrong: below the top of its observation
                n_wrong = species_counts(~at_top, valid)
            n_eff_new = effective(n_new, n_wrong)
            w = self._worker_weights(n_eff_new, prep.ai_index)
            m = scores(w[prep.worker])
            labels_new = labels_of(m)
            converged = (np.array_equal(n_new, n_correct) and np.array_equal(n_eff_new, n_eff)
                         and np.array_equal(labels_new, labels))
            n_correct, n_eff, labels = n_new, n_eff_new, labels_new
            if converged:
                break
            state = _digest(n_correct, n_eff, labels)
            if state in seen:
                break
            seen.add(state)

        _, conf, acc, valid = validity(m, labels)
        self.labels_ = labels
        self.valid_ = valid
        self.confidence_ = conf
        self.accuracy_ = acc
        self.weights_ = w
        self.n_correct_ = n_correct
        self.n_effective_ = np.asarray(n_eff, dtype=float)
        self.n_wrong_ = n_wrong
        self.n_iter_ = it
        self.converged_ = bool(converged)
        self.n_ai_votes_ = prep.n_ai_votes
        self.probas_ = as_probas(m, dense=self.dense)

    # ------------------------------------------------------------------ predict
    def _predict_proba(self, votes: Votes):
        """Weighted vote on new votes with the fitted weights (unknown users: ``f(0)``,
        ``gamma`` for every named weight function)."""
        if votes.n_classes != self.n_classes_:
            raise InputError(f"the votes have {votes.n_classes} classes, the model was fitted on {self.n_classes_}",
                             fix="declare the same classes as at fit time (classes=...)")
        prep = self._prepare(votes)
        w = worker_values_for(self, votes, self.weights_, default=float(self._weight_of(np.zeros(1))[0]))
        if prep.ai_index >= 0 and self.ai != "worker":
            w[prep.ai_index] = 0.0 if self.ai == "ignored" else float(self.ai_weight)
        m = sparse.csr_array((w[prep.worker], (prep.task, prep.label)), shape=(votes.n_tasks, votes.n_classes))
        m.sum_duplicates()
        return as_probas(m, dense=self.dense)


def _is_power(weight) -> bool:
    return isinstance(weight, str) and weight == "power"


def _digest(*arrays: np.ndarray) -> bytes:
    """Fingerprint of a state of the loop (sha1: the fastest hashlib digest here)."""
    h = hashlib.sha1(usedforsecurity=False)
    for a in arrays:
        h.update(np.ascontiguousarray(a).data)
    return h.digest()


def _bool_column(votes: Votes, name: str, *, default: bool) -> np.ndarray:
    """A per-vote flag from ``votes.extra[name]`` (bool, or 0/1), ``default`` when absent."""
    if name not in votes.extra:
        return np.full(votes.n_votes, default, dtype=bool)
    col = np.asarray(votes.extra[name])
    if col.dtype.kind == "b":
        return col
    if col.dtype.kind in "iuf" and np.all(np.isin(col, (0, 1))):
        return col.astype(bool)
    raise InputError(f"votes.extra[{name!r}] must be a boolean per-vote flag (True/False or 0/1), "
                     f"got dtype {col.dtype}", fix=f"convert the '{name}' column to booleans")
