"""WAWA: Worker Agreement With Aggregate.

A two-pass weighted majority vote (Appen's "worker agreement with aggregate", the
baseline of crowd-kit): majority vote first, then each worker is weighted by how often
it agrees with that vote, and a second, weighted, vote gives the labels.
"""

from __future__ import annotations

import numpy as np

from ..votes import Votes
from ._base import Aggregator, argmax_ties, as_probas, worker_values_for
from .registry import register

__all__ = ["WAWA"]


@register("WAWA")
class WAWA(Aggregator):
    """Worker Agreement With Aggregate.

    1. ``m_i = argmax_k n_ik`` (majority vote);
    2. ``s_j = #{votes of j equal to m_task} / #{votes of j}`` (agreement of worker j);
    3. ``y_i = argmax_k sum_{votes (i, j, k)} s_j``.

    ``probas_`` are the weighted scores of step 3, normalised per task. A task whose
    voters all have skill 0 falls back to its majority vote distribution.

    Parameters
    ----------
    tie : {"random", "smallest"}
        Tie rule of both votes.
    random_state : int or None
    dense : bool or None
        Form of ``probas_`` (see :class:`~crowdwise.aggregate.MajorityVote`).

    Attributes
    ----------
    skills_ : ndarray of shape (n_workers,)
        Agreement of each worker with the majority vote (0 for a worker without vote).
    labels_, probas_

    References
    ----------
    Appen, "Calculating worker agreement with aggregate (WAWA)"; Ustalov et al.,
    "Learning from crowds with Crowd-Kit", JOSS 2024 (baseline implementation).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1], ["a", "b", "c", "a", "b"], [1, 1, 0, 0, 1])
    >>> m = WAWA(tie="smallest").fit(v)
    >>> m.skills_.round(2).tolist()
    [1.0, 0.5, 0.0]
    >>> m.labels_.tolist()
    [1, 0]
    """

    description = "Worker Agreement With Aggregate: votes weighted by agreement with the majority vote."
    soft = True

    def __init__(self, tie: str = "random", random_state: int | None = None, dense: bool | None = None):
        self.tie = tie
        self.random_state = random_state
        self.dense = dense

    def _fit(self, votes: Votes) -> None:
        counts = votes.counts()
        mv = argmax_ties(counts, tie=self.tie, random_state=self.random_state)
        agree = (votes.label == mv[votes.task]).astype(float)
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

