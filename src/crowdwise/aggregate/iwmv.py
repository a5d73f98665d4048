"""Iterative weighted majority vote (IWMV): re-vote with each worker weighted by its
agreement with the previous vote, a fixed number of times (peerannot's ``IWMV``).

The iteration is :class:`~crowdwise.aggregate.ZeroBasedSkill`'s at a constant rate of 1
(the loop lives once, in ``zbs.py``): two ``np.bincount`` passes over the votes per step,
O(votes) memory, any number of classes.
"""

from __future__ import annotations

import numpy as np

from ..votes import Votes
from ._base import Integer
from .registry import register
from .zbs import SkillWeightedVote, iterate_skills

__all__ = ["IWMV"]


@register("IWMV")
class IWMV(SkillWeightedVote):
    r"""Iterative weighted majority vote.

    Start from the majority vote :math:`\hat y^0`; then for ``t = 1..n_iter``

    .. math::

        \beta^t_j = \frac{1}{n_j} \sum_{(i, j, l)} [l = \hat y^{t-1}_i], \qquad
        \hat y^t_i = \arg\max_k \sum_{(i, j, k)} \beta^t_j ,

    i.e. each worker's weight is its accuracy against the previous labels, and the labels
    are ``labels_ = y^n_iter``. With ``n_iter = 1`` it is WAWA.

    As in peerannot, the weight is the accuracy itself. Li & Yu's IWMV weighs a worker by
    ``K beta_j - 1`` (the linearised log-odds of a one-coin worker, negative below
    chance) and iterates until the labels stop changing; the accuracy weight keeps every
    weight non-negative, so that ``probas_`` are the weighted vote shares.

    A vote on a task whose weighted vote is tied between ``m`` classes agrees by ``1/m``
    when it is one of them (peerannot draws one of the tied classes at random with the
    global NumPy generator): the expected agreement, so that no order of tasks, workers or
    classes and no seed moves the weights. The loop stops early at an exact fixed point
    (weights equal to the accuracies they give), where every further step is a no-op.
    A task whose voters all weigh 0 keeps its vote counts.

    Parameters
    ----------
    n_iter : int, default=10
        Number of re-weighted votes after the majority vote (peerannot's ``nb_iter``).
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_`` (the final vote only; ties inside the loop are shared).
    random_state : int, Generator or None
    dense : bool or None
        Form of ``probas_`` (see :class:`~crowdwise.aggregate.MajorityVote`).

    Attributes
    ----------
    skills_ : ndarray of shape (n_workers,)
        The weights of the final vote, ``beta^n_iter`` (a worker without vote gets the
        mean weight of those who voted).
    n_iter_ : int
        Re-weighted votes run before the fixed point (at most ``n_iter``).
    labels_, probas_
        The final weighted vote, and its scores normalised per task.

    References
    ----------
    Li & Yu, "Error rate bounds and iterative weighted majority voting for crowdsourcing",
    arXiv:1411.4086, 2014. Lefort, Charlier, Joly & Salmon, "Peerannot: classification
    for crowdsourced image datasets with Python", Computo 2024 (``IWMV``).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2], ["a", "b", "c", "a", "b", "c", "a", "c"],
    ...                        [0, 0, 1, 1, 1, 0, 1, 0])
    >>> m = IWMV(tie="smallest").fit(v)
    >>> m.skills_.round(3).tolist(), m.labels_.tolist()
    ([1.0, 1.0, 0.0], [0, 1, 1])
    """

    description = "Iterative weighted majority vote: workers weighted by their accuracy against the previous vote."
    parameter_rules = {"n_iter": Integer(0, help="the number of re-weighted votes")}

    def __init__(self, n_iter: int = 10, tie: str = "random", random_state: int | None = None,
                 dense: bool | None = None):
        self.n_iter = n_iter
        self.tie = tie
        self.random_state = random_state
        self.dense = dense

    def _fit(self, votes: Votes) -> None:
        n = int(self.n_iter)
        # step 1 of the shared loop turns the equal start into the majority-vote accuracies
        # (beta^1); each further step is one re-weighted vote
        skills, steps = iterate_skills(votes, np.ones(votes.n_workers), [1.0] * n,
                                       tick=lambda t, obj: self._tick(t, n, obj))
        self.n_iter_ = steps
        self._set_skills(votes, skills)
