"""WDS: a vote weighted by the Dawid-Skene diagonal.

The rule of peerannot's ``WDS`` strategy (Lefort et al.): fit Dawid-Skene, then weight
each vote by the fitted probability that its worker answers the voted class when it is
the true one, ``pi_j[l, l]``, and normalise per task:

``p_ik ∝ sum_{votes (i, j, l = k)} pi_j[k, k]``.

A weighted majority vote with DS-learnt, class-specific worker weights: the support of
the soft label is the set of voted classes (unlike the DS posterior, which can move a
task to a class nobody voted for).
"""

from __future__ import annotations

import numpy as np

from ..votes import Votes
from ._base import argmax_ties, normalize_rows
from ._driver import check_same_classes
from .dawid_skene import DawidSkene
from .registry import register

__all__ = ["WDS"]


@register("WDS")
class WDS(DawidSkene):
    """Weighted vote with the Dawid-Skene diagonal (peerannot's WDS).

    1. fit :class:`~crowdwise.aggregate.DawidSkene` (same parameters);
    2. ``s_ik = sum_{votes (i, j, k)} pi_j[k, k]``;
    3. ``probas_[i] = s_i / sum_k s_ik``; a task whose voters all have weight 0 falls back
       to its vote shares (peerannot leaves that row at 0); a task without vote is uniform.

    Parameters
    ----------
    max_iter, tol, prior, init, tie, random_state, memory_budget, accelerate, n_jobs
        As in :class:`~crowdwise.aggregate.DawidSkene` (``tie`` and ``random_state``
        break the ties of the weighted vote). No ``sparse``: the weighted vote needs the
        dense confusions, so the fit always runs DS's dense mode.

    Attributes
    ----------
    probas_ : ndarray (n_tasks, n_classes)
        The weighted vote shares.
    labels_ : ndarray (n_tasks,)
        Their argmax.
    ds_probas_ : ndarray (n_tasks, n_classes)
        The Dawid-Skene posterior behind the weights.
    confusions_, priors_, log_likelihood_, n_iter_, converged_, votes_
        Of the Dawid-Skene fit; :meth:`partial_fit` continues it and re-weights.

    References
    ----------
    T. Lefort, B. Charlier, A. Joly and J. Salmon, "Peerannot: classification for
    crowdsourced image datasets with Python", Computo, 2024 (strategy ``WDS``).
    A. P. Dawid and A. M. Skene, JRSS C 28(1), 1979.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> import numpy as np
    >>> v = Votes.from_records(np.repeat(np.arange(5), 3), ["a", "b", "c"] * 5,
    ...                        [0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1], n_classes=2)
    >>> m = WDS(prior=0.5, tie="smallest").fit(v)
    >>> np.einsum("wkk->wk", m.confusions_).round(2).tolist()  # the weights
    [[0.77, 0.63], [0.63, 0.77], [0.43, 0.57]]
    >>> m.probas_[0].round(3).tolist()  # a (0.77) and b (0.63) vote 0, c (0.57) votes 1
    [0.711, 0.289]
    >>> m.labels_.tolist()
    [0, 1, 0, 1, 1]
    """

    _sparse_capable = False  # its own state / weighted-vote output need the dense confusions
    description = "Weighted vote: each vote weighted by its worker's Dawid-Skene confusion diagonal (peerannot)."

    # DawidSkene's parameters but ``sparse``: WDS has no sparse mode, so it does not take the
    # parameter (``crowdwise agginfo`` lists the signature; ``WDS[sparse=...]`` is refused
    # as an unknown parameter rather than accepted and then refused at fit)
    def __init__(self, max_iter: int = 100, tol: float = 1e-6, prior: float = 0.0, init: str = "naivesoft",
                 tie: str = "random", random_state: int | None = None, memory_budget: float | None = None,
                 accelerate: bool = True, n_jobs: int | None = None):
        self.accelerate = accelerate
        self.n_jobs = n_jobs
        self.max_iter = max_iter
        self.tol = tol
        self.prior = prior
        self.init = init
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    def _finish(self, votes: Votes, ctx, params, T: np.ndarray) -> None:
        super()._finish(votes, ctx, params, T)
        self.ds_probas_ = self.probas_
        self.probas_ = self._weighted_vote(votes, np.einsum("wkk->wk", self.confusions_))
        self.labels_ = argmax_ties(self.probas_, tie=self.tie, random_state=self.random_state)

    @staticmethod
    def _weighted_vote(votes: Votes, diag: np.ndarray) -> np.ndarray:
        """Weighted shares ``∝ sum diag[worker, label]``; zero-weight rows use vote shares."""
        scores = votes.counts(weights=diag[votes.worker, votes.label]).toarray()
        dead = scores.sum(axis=1) <= 0
        if dead.any():
            scores[dead] = votes.counts().toarray()[dead]
        return normalize_rows(scores)

    def _predict_proba(self, votes: Votes) -> np.ndarray:
        """Weighted vote of new votes with the fitted confusions (an unseen worker: the
        vote-weighted mean confusion of the fitted workers)."""
        check_same_classes(votes, self.classes_)
        # the weights of the fit: the reported confusions (a class a worker never met is a
        # uniform row there, weight 1/K), not the rows the DS E-step rules out
        conf = self._fitted_confusions_for(votes, rule_out_never_met=False)
        return self._weighted_vote(votes, np.einsum("wkk->wk", conf))
