"""Zero-Based Skill: a weighted majority vote whose weights chase the workers' agreement.

Start from the majority vote, measure each worker's agreement with it, re-vote with those
agreements as weights, and move the weights towards the new agreements with a decaying
learning rate (crowd-kit's ``ZeroBasedSkill``). The loop is shared with
:class:`~crowdwise.aggregate.IWMV`, which is the same iteration at a constant rate of 1.

Each iteration is two passes over the votes: one ``np.bincount`` of the weights into the
voted (task, class) cells (``Votes.counts``), the top of each task shared by its tied
classes (``argmax_shares``), and one ``np.bincount`` of the agreements by worker. Memory
is O(votes); any number of classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
from scipy import sparse

from ..utils import argmax_shares, argmax_ties
from ..votes import Votes
from ._base import Aggregator, Integer, Real, as_probas, worker_values_for
from .registry import register

__all__ = ["ZeroBasedSkill"]


def weighted_scores(votes: Votes, weights: np.ndarray) -> sparse.csr_array:
    """``s_ik = sum_{votes (i, j, k)} w_j``, a sparse ``(n_tasks, K)`` matrix on the voted
    cells. A task whose voters all weigh 0 (or less) keeps its vote counts instead, so that
    it still has a majority vote."""
    scores = votes.counts(weights=np.asarray(weights, dtype=float)[votes.worker])
    tot = np.asarray(scores.sum(axis=1)).ravel()
    zero = tot <= 0
    if zero.any():
        counts = votes.counts()
        rows = np.repeat(zero, np.diff(scores.indptr))
        scores.data[rows] = counts.data[rows]  # same pattern: the voted cells of the votes
    return scores


def agreement(votes: Votes, weights: np.ndarray) -> np.ndarray:
    """Share of each worker's votes that agree with the weighted vote of ``weights``.

    A vote agrees by ``1/m`` when its class is one of ``m`` classes tied at the top of its
    task (``argmax_shares``): what a random tie-break gives on average, without a draw, so
    that no class, task or worker order and no seed moves the weights. A worker without
    vote gets ``nan`` (the callers replace it).
    """
    shares = argmax_shares(weighted_scores(votes, weights))
    agree = shares.data[votes.task_label_pattern()[2]]
    n = np.bincount(votes.worker, minlength=votes.n_workers).astype(float)
    hits = np.bincount(votes.worker, weights=agree, minlength=votes.n_workers)
    return np.divide(hits, n, out=np.full(votes.n_workers, np.nan), where=n > 0)


def iterate_skills(votes: Votes, skills: np.ndarray, rates: Iterable[float],
                   tick: Callable[[int, float | None], None] | None = None) -> tuple[np.ndarray, int]:
    """``s <- s + r_t (a(s) - s)`` for each rate ``r_t``, ``a(s)`` the workers' agreement
    with the weighted vote of ``s``; stops early at an exact fixed point (``a(s) = s``,
    after which every step is a no-op). Returns the skills and the number of steps run.
    Workers without vote keep their starting skill."""
    skills = np.asarray(skills, dtype=float).copy()
    voted = np.bincount(votes.worker, minlength=votes.n_workers) > 0
    t = 0
    for t, rate in enumerate(rates, start=1):
        acc = agreement(votes, skills)
        new = skills.copy()
        new[voted] = skills[voted] + rate * (acc[voted] - skills[voted])
        if tick is not None:
            tick(t, None)
        if np.array_equal(new, skills):
            break
        skills = new
    return skills, t


def mean_skill(votes: Votes, skills: np.ndarray) -> float:
    """Mean skill of the workers who voted (the weight of a worker the fit never saw)."""
    voted = np.bincount(votes.worker, minlength=votes.n_workers) > 0
    return float(np.mean(skills[voted])) if voted.any() else 1.0


class SkillWeightedVote(Aggregator):
    """Base of the strategies whose labels are a vote weighted by one skill per worker (ZBS,
    IWMV): the fitted state from the skills, and ``predict_proba`` on new votes with them
    (a worker not seen in the fit gets the mean skill)."""

    def _set_skills(self, votes: Votes, skills: np.ndarray) -> None:
        voted = np.bincount(votes.worker, minlength=votes.n_workers) > 0
        skills[~voted] = mean_skill(votes, skills)
        self.skills_ = skills
        scores = weighted_scores(votes, skills)
        self.probas_ = as_probas(scores, dense=self.dense)
        self.labels_ = argmax_ties(scores, tie=self.tie, random_state=self.random_state)

    def _predict_proba(self, votes: Votes):
        default = float(np.mean(self.skills_)) if self.skills_.size else 1.0
        skills = worker_values_for(self, votes, self.skills_, default=default)
        return as_probas(weighted_scores(votes, skills), dense=self.dense)


@register("ZBS")
class ZeroBasedSkill(SkillWeightedVote):
    r"""Zero-Based Skill (ZBS): weighted majority vote with skills fitted by a decaying-rate
    fixed-point iteration.

    Starting from equal skills ``s_j^0 = 1 / K'`` (``K'`` the classes somebody voted for),
    iteration ``t = 1..n_iter`` runs

    .. math::

        \hat y^t_i = \arg\max_k \sum_{(i, j, k)} s^{t-1}_j, \qquad
        a^t_j = \frac{1}{n_j} \sum_{(i, j, l)} [l = \hat y^t_i], \qquad
        s^t_j = s^{t-1}_j + \eta_t\,(a^t_j - s^{t-1}_j),

    with ``eta_t = lr_init * lr_reduce_factor ** floor(t / lr_steps_to_reduce)`` (the
    rate is reduced at every ``lr_steps_to_reduce``-th step), i.e. one gradient step on the
    squared error between the skills and the agreements with the current labels. The
    labels are the weighted vote of the final skills:
    ``y_i = argmax_k sum_{(i, j, k)} s_j``.

    Two choices where crowd-kit leaves it to the order of the data:

    - a vote on a task whose weighted vote is tied between ``m`` classes agrees by
      ``1/m`` when it is one of them (crowd-kit's ``idxmax`` takes the first class in its
      column order): the skills, and hence the labels of untied tasks, do not depend on
      how tasks, workers or classes are ordered, nor on the seed;
    - a task whose voters all have skill 0 keeps its vote counts (crowd-kit divides by
      0 there).

    The loop stops early at an exact fixed point (agreements equal to the skills, after
    which no step changes anything); crowd-kit always runs ``n_iter`` steps, to the same
    result. crowd-kit's starting skill adds ``eps = 1e-5`` to ``1/K'``; with the default
    ``lr_init = 1`` the first step replaces the start, so it is left out.

    ``probas_`` are the weighted scores normalised per task, as crowd-kit's
    ``MajorityVote(skills)``.

    Parameters
    ----------
    n_iter : int, default=100
        Number of steps.
    lr_init : float, default=1.0
        Initial learning rate.
    lr_steps_to_reduce : int, default=20
        The rate is multiplied by ``lr_reduce_factor`` every this many steps.
    lr_reduce_factor : float, default=0.5
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_`` (the final vote only; ties inside the loop are shared).
    random_state : int, Generator or None
    dense : bool or None
        Form of ``probas_`` (see :class:`~crowdwise.aggregate.MajorityVote`).

    Attributes
    ----------
    skills_ : ndarray of shape (n_workers,)
        Final skill of each worker (the weight of its votes); a worker without vote gets
        the mean skill of those who voted.
    n_iter_ : int
        Steps run.
    labels_, probas_

    Notes
    -----
    Where crowd-kit's result depends on the order of the classes (ties of the first
    majority vote), ours does not, so the two can differ on sets with many ties. The
    comparison with crowd-kit (accuracy on the real sets, fit time at 500k votes) is in
    ``docs/benchmarks/accuracy.md`` and ``docs/benchmarks/speed.md``; the figures once
    quoted here are in ``docs/dev/performance.md`` ("Figures behind docstrings").

    References
    ----------
    Ustalov, Pavlichenko & Tseitlin, "Learning from crowds with Crowd-Kit", JOSS 2024,
    ``crowdkit.aggregation.ZeroBasedSkill``.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c", "a", "b", "c"], [0, 0, 1, 1, 1, 0])
    >>> m = ZeroBasedSkill(tie="smallest").fit(v)
    >>> m.skills_.round(3).tolist(), m.labels_.tolist()
    ([1.0, 1.0, 0.0], [0, 1])
    """

    description = "Zero-Based Skill: weighted vote, skills moved towards agreement with it at a decaying rate."
    parameter_rules = {
        "n_iter": Integer(0, help="the number of steps"),
        "lr_init": Real(0, help="the first learning rate"),
        "lr_steps_to_reduce": Integer(1, help="the steps between two reductions of the rate"),
        "lr_reduce_factor": Real(0, help="the factor of each reduction"),
    }

    def __init__(self, n_iter: int = 100, lr_init: float = 1.0, lr_steps_to_reduce: int = 20,
                 lr_reduce_factor: float = 0.5, tie: str = "random", random_state: int | None = None,
                 dense: bool | None = None):
        self.n_iter = n_iter
        self.lr_init = lr_init
        self.lr_steps_to_reduce = lr_steps_to_reduce
        self.lr_reduce_factor = lr_reduce_factor
        self.tie = tie
        self.random_state = random_state
        self.dense = dense

    def _rates(self) -> list[float]:
        steps = np.arange(1, int(self.n_iter) + 1)
        return (float(self.lr_init) * float(self.lr_reduce_factor) ** (steps // int(self.lr_steps_to_reduce))).tolist()

    def _fit(self, votes: Votes) -> None:
        rates = self._rates()
        k_voted = max(int(np.count_nonzero(np.bincount(votes.label, minlength=votes.n_classes))), 1)
        start = np.full(votes.n_workers, 1.0 / k_voted)
        skills, self.n_iter_ = iterate_skills(votes, start, rates, tick=lambda t, obj: self._tick(t, len(rates), obj))
        self._set_skills(votes, skills)
