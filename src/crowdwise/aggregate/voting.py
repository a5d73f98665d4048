"""Voting strategies: majority vote, naive soft labels, two-third agreement.

All three read the per-task vote counts ``n_ik = #{votes on task i for class k}``, one
sparse ``(n_tasks, K)`` matrix built in O(votes); they never build a tasks x workers array
and run with any number of classes.
"""

from __future__ import annotations

import numpy as np

from ..votes import Votes
from ._base import Aggregator, Integer, Real, argmax_ties, as_probas
from .registry import register

__all__ = ["MajorityVote", "NaiveSoft", "TwoThird"]


@register("MV")
class MajorityVote(Aggregator):
    """Majority vote: the most voted class of each task.

    ``y_i = argmax_k n_ik`` where ``n_ik`` counts the votes for class ``k`` on task ``i``.
    ``probas_`` holds the vote shares ``n_ik / sum_l n_il`` (the NaiveSoft distribution).

    Parameters
    ----------
    tie : {"random", "smallest"}, default="random"
        Ties are broken uniformly at random with ``random_state``, or towards the
        smallest class index (the convention of the published tables).
    random_state : int, Generator or None
        Seed of the tie rule.
    dense : bool or None
        Form of ``probas_``: None chooses a dense array when ``n_tasks * K`` is small
        and a CSR matrix otherwise (Pl@ntNet scale).

    Attributes
    ----------
    probas_ : ndarray or csr_array of shape (n_tasks, n_classes)
    labels_ : ndarray of int, shape (n_tasks,)
        A task with no vote gets a class by the tie rule among all classes.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1], [0, 1, 2, 0, 1], [1, 1, 0, 0, 1], n_classes=3)
    >>> MajorityVote(tie="smallest").fit(v).labels_.tolist()
    [1, 0]
    """

    description = "Majority vote: most voted class per task (ties random with the seed, or tie=smallest)."
    soft = False

    def __init__(self, tie: str = "random", random_state: int | None = None, dense: bool | None = None):
        self.tie = tie
        self.random_state = random_state
        self.dense = dense

    def _fit(self, votes: Votes) -> None:
        counts = votes.counts()
        self.probas_ = as_probas(counts, dense=self.dense)
        self.labels_ = argmax_ties(counts, tie=self.tie, random_state=self.random_state)


@register("NaiveSoft")
class NaiveSoft(MajorityVote):
    """Naive soft labels: the distribution of the votes of each task.

    ``p_ik = n_ik / sum_l n_il``; a task without vote is uniform. ``labels_`` is its
    argmax (the majority vote, same tie rule).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0], [0, 1, 2], [1, 1, 0], n_classes=3)
    >>> NaiveSoft().fit(v).probas_.round(3).tolist()
    [[0.333, 0.667, 0.0]]
    """

    description = "Naive soft labels: the share of votes for each class."
    soft = True


@register("TwoThird")
class TwoThird(Aggregator):
    """Two-third agreement: a label is valid when at least 2 votes and 2/3 of them agree.

    ``valid_i = (sum_k n_ik >= min_votes) and (max_k n_ik / sum_k n_ik >= 2/3)``.
    ``labels_`` is the majority vote on every task (whether valid or not), ``valid_``
    says which tasks reach the agreement. This is the rule Pl@ntNet compares against
    (Lefort et al., "Weighted majority vote for Pl@ntNet", 2024).

    Parameters
    ----------
    threshold : float, default=2/3
    min_votes : int, default=2
    tie, random_state, dense : as in :class:`MajorityVote`

    Attributes
    ----------
    labels_, probas_ : as in :class:`MajorityVote`
    valid_ : ndarray of bool, shape (n_tasks,)

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 2, 2, 2], [0, 1, 2, 0, 0, 1, 2],
    ...                        [1, 1, 0, 0, 0, 1, 2], n_classes=3)
    >>> TwoThird().fit(v).valid_.tolist()
    [True, False, False]
    """

    description = "Two-third agreement: label valid when >= 2 votes and >= 2/3 of them agree."
    soft = False
    parameter_rules = {
        "threshold": Real(0, 1, help="the share of the votes the label needs"),
        "min_votes": Integer(0, help="the votes a task needs"),
    }

    def __init__(self, threshold: float = 2 / 3, min_votes: int = 2, tie: str = "random",
                 random_state: int | None = None, dense: bool | None = None):
        self.threshold = threshold
        self.min_votes = min_votes
        self.tie = tie
        self.random_state = random_state
        self.dense = dense

    def _fit(self, votes: Votes) -> None:
        counts = votes.counts()
        n = np.bincount(votes.task, minlength=votes.n_tasks)
        top = counts.max(axis=1).toarray().ravel() if counts.nnz else np.zeros(votes.n_tasks)
        share = np.divide(top, n, out=np.zeros(votes.n_tasks), where=n > 0)
        # small tolerance so that 2 of 3 counts as 2/3 despite rounding
        self.valid_ = (n >= self.min_votes) & (share >= self.threshold - 1e-12)
        self.probas_ = as_probas(counts, dense=self.dense)
        self.labels_ = argmax_ties(counts, tie=self.tie, random_state=self.random_state)
