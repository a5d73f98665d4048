"""WAWA: Worker Agreement With Aggregate.

A two-pass weighted majority vote (Appen's "worker agreement with aggregate", the
baseline of crowd-kit): majority vote first, then each worker is weighted by how often
it agrees with that vote, and a second, weighted, vote gives the labels.
"""

from __future__ import annotations

import numpy as np

from ..votes import Votes
from ._base import Aggregator, argmax_shares, argmax_ties, as_probas, worker_values_for
from .registry import register

__all__ = ["WAWA"]


@register("WAWA")
class WAWA(Aggregator):
    """Worker Agreement With Aggregate.

    1. ``M_i = argmax_k n_ik``, the classes of the majority vote (several on a tie);
    2. ``s_j = sum_{votes (i, j, l)} [l in M_i] / |M_i|  /  #{votes of j}`` (agreement of
       worker j);
    3. ``y_i = argmax_k sum_{votes (i, j, k)} s_j``.

    A vote on a task whose majority vote is tied agrees by ``1 / |M_i|`` when it is one of
    the tied classes: the agreement a random tie-break gives on average, with no draw.
    The skills, hence the labels of the untied tasks, do not depend on how classes, tasks
    or workers are ordered or on the seed; only the labels of tasks tied in step 3 are
    drawn by the tie rule.

    ``probas_`` are the weighted scores of step 3, normalised per task. A task whose
    voters all have skill 0 falls back to its majority vote distribution.

    Parameters
    ----------
    tie : {"random", "smallest"}
        Tie rule of ``labels_`` (step 3).
    random_state : int or None
    dense : bool or None
        Form of ``probas_`` (see :class:`~crowdwise.aggregate.MajorityVote`).

    Attributes
    ----------
    skills_ : ndarray of shape (n_workers,)
        Agreement of each worker with the majority vote (0 for a worker without vote;
        ties of the majority vote count as above).
    labels_, probas_

    References
    ----------
    Appen, "Calculating worker agreement with aggregate (WAWA)"; Ustalov et al.,
    "Learning from crowds with Crowd-Kit", JOSS 2024 (baseline implementation).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 2], ["a", "b", "c", "a", "b", "c"], [1, 1, 0, 0, 1, 0])
    >>> m = WAWA(tie="smallest").fit(v)
    >>> m.skills_.round(2).tolist()  # task 1 is a tie: a and b agree by 1/2 there
    [0.75, 0.75, 0.5]
    >>> m.labels_.tolist()
    [1, 0, 0]
    """

    description = "Worker Agreement With Aggregate: votes weighted by agreement with the majority vote."
    soft = True

    def __init__(self, tie: str = "random", random_state: int | None = None, dense: bool | None = None):
        self.tie = tie
        self.random_state = random_state
        self.dense = dense

    def _fit(self, votes: Votes) -> None:
        counts = votes.counts()
        # share of the majority vote of each voted (task, class) cell: 1/m on the m tied
        # classes; counts.data lines up with the cells of task_label_pattern
        agree = argmax_shares(counts).data[votes.task_label_pattern()[2]]
        n_votes = np.bincount(votes.worker, minlength=votes.n_workers)
        hits = np.bincount(votes.worker, weights=agree, minlength=votes.n_workers)
        self.skills_ = np.divide(hits, n_votes, out=np.zeros(votes.n_workers), where=n_votes > 0)
        scores = _weighted_scores(votes, self.skills_, counts)
        self.probas_ = as_probas(scores, dense=self.dense)
        self.labels_ = argmax_ties(scores, tie=self.tie, random_state=self.random_state)

    def _predict_proba(self, votes: Votes):
        """Weighted vote on new votes with the fitted skills (unknown workers: mean skill)."""
        default = float(np.mean(self.skills_)) if self.skills_.size else 1.0
        skills = worker_values_for(self, votes, self.skills_, default=default)
        return as_probas(_weighted_scores(votes, skills, votes.counts()), dense=self.dense)


def _weighted_scores(votes: Votes, skills: np.ndarray, counts):
    """``sum_j s_j [vote of j = k]`` per task; tasks whose voters all weigh 0 keep their counts."""
    scores = votes.counts(weights=skills[votes.worker])
    zero = np.asarray(scores.sum(axis=1)).ravel() <= 0
    if zero.any():
        scores = (scores + counts.multiply(zero[:, None].astype(float))).tocsr()
    return scores

