"""Task scores: entropy of the votes, GLAD difficulty, where to send the next votes."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..votes import Votes
from ._check import check_votes

__all__ = ["task_entropy", "task_difficulty_glad", "needs_another_vote"]


def task_entropy(votes: Votes) -> np.ndarray:
    r"""Entropy (natural log) of the NaiveSoft distribution of each task.

    With :math:`n_{ik}` the votes for class :math:`k` on task :math:`i` and
    :math:`n_i = \sum_k n_{ik}`, the NaiveSoft distribution is
    :math:`p_{ik} = n_{ik} / n_i` and

    .. math::

        H_i = -\sum_k p_{ik} \log p_{ik} = \log n_i - \frac{1}{n_i} \sum_{k:\,n_{ik}>0} n_{ik} \log n_{ik},

    computed on the non-zero cells of the sparse counts (O(votes), any K). A unanimous
    task has entropy 0, an even split over :math:`c` classes :math:`\log c`. A task
    without vote is uniform for NaiveSoft and gets the maximum :math:`\log K`.

    References
    ----------
    C. E. Shannon, "A mathematical theory of communication", 1948; used to rank
    ambiguous tasks in T. Lefort et al., "Peerannot: classification for crowdsourced
    image datasets with Python", Computo, 2024.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 1], n_classes=2)
    >>> task_entropy(v).round(4).tolist()
    [0.0, 0.6931]
    """
    votes = check_votes(votes, "task_entropy")
    counts = votes.counts()
    n_i = votes.votes_per_task().astype(float)
    c = counts.data
    rows = np.repeat(np.arange(votes.n_tasks), np.diff(counts.indptr))
    s = np.bincount(rows, weights=c * np.log(c), minlength=votes.n_tasks)
    out = np.full(votes.n_tasks, np.log(votes.n_classes) if votes.n_classes else 0.0)
    has = n_i > 0
    out[has] = np.log(n_i[has]) - s[has] / n_i[has]
    return np.maximum(out, 0.0)  # rounding can leave -1e-16 on a unanimous task


def task_difficulty_glad(votes: Votes, **glad_params: Any) -> np.ndarray:
    r"""GLAD inverse difficulty :math:`\beta_i` of each task (small is hard).

    GLAD models the chance that worker :math:`j` answers task :math:`i` right as
    :math:`\sigma(\alpha_j \beta_i)` with :math:`\beta_i = e^{b_i} > 0`, so a task with
    :math:`\beta_i \to 0` is answered at random even by good workers, and a task with a
    large :math:`\beta_i` is easy. This fits :class:`~crowdwise.aggregate.glad.GLAD` with
    ``glad_params`` and returns its ``difficulties_`` (1, the prior mean, for a task
    without vote).

    References
    ----------
    J. Whitehill, P. Ruvolo, T. Wu, J. Bergsma and J. Movellan, "Whose vote should count
    more: optimal integration of labels from labelers of unknown expertise", NIPS 2009.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 0, 0, 1, 1])
    >>> beta = task_difficulty_glad(v)
    >>> bool(beta[0] > beta[1])   # the unanimous task is the easier one
    True
    """
    from ..aggregate.glad import GLAD

    votes = check_votes(votes, "task_difficulty_glad")
    glad_params.setdefault("random_state", 0)
    return np.asarray(GLAD(**glad_params).fit(votes).difficulties_, dtype=float)


def needs_another_vote(votes: Votes, probas: Any = None) -> np.ndarray:
    r"""Priority of each task for the next vote: higher means ask there first.

    The rule is the expected reduction of the uncertainty of the label, approximated by

    .. math::

        s_i = \frac{1 - \max_k \hat p_{ik}}{\sqrt{n_i + 1}},

    where :math:`1 - \max_k \hat p_{ik}` is the probability that the current label of
    task :math:`i` is wrong and :math:`n_i` its number of votes: one more vote moves a
    posterior built on :math:`n_i` votes by about :math:`1/\sqrt{n_i + 1}` (the standard
    error of a share), so a doubtful task with few votes comes first, a doubtful task that
    has already many votes (a truly ambiguous one) later, and a confident task last.

    ``probas`` is a posterior from any strategy (``model.probas_``: dense or CSR, rows
    summing to 1). By default it is the posterior mean of the class of each task under a
    uniform Dirichlet prior, :math:`\hat p_{ik} = (n_{ik} + 1) / (n_i + K)` (Laplace
    smoothing of NaiveSoft), so that a task with one vote is not taken for certain and a
    task without vote gets the top score :math:`1 - 1/K`.

    Sort with ``np.argsort(-score, kind="stable")`` to get the routing order. The score
    needs O(votes) time and memory with the default posterior (only the non-zero counts
    are read); with ``probas`` given, its row maxima.

    Parameters
    ----------
    votes : Votes
    probas : ndarray or sparse matrix of shape (n_tasks, n_classes), optional

    Returns
    -------
    ndarray of float, shape (n_tasks,)

    References
    ----------
    V. S. Sheng, F. Provost and P. G. Ipeirotis, "Get another label? Improving data
    quality and data mining using multiple, noisy labelers", KDD 2008 (uncertainty-based
    selective repeated labelling); D. D. Lewis and W. A. Gale, "A sequential algorithm for
    training text classifiers", SIGIR 1994 (least-confidence sampling).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2], [0, 1, 2, 0, 1, 2, 0],
    ...                        [0, 0, 0, 0, 1, 1, 1], n_classes=2)
    >>> needs_another_vote(v).round(3).tolist()   # unanimous, split, one vote
    [0.1, 0.2, 0.236]
    """
    votes = check_votes(votes, "needs_another_vote")
    n_i = votes.votes_per_task().astype(float)
    k = votes.n_classes
    if probas is None:
        counts = votes.counts()
        top = np.zeros(votes.n_tasks)
        if counts.nnz:
            top = counts.max(axis=1).toarray().ravel()
        pmax = (top + 1.0) / (n_i + k)
    else:
        shape = getattr(probas, "shape", None)
        if shape is None or tuple(shape) != (votes.n_tasks, k):
            raise InputError(f"probas must have shape (n_tasks, n_classes) = ({votes.n_tasks}, {k}), "
                             f"got {shape}", fix="pass model.probas_ of a strategy fitted on these votes")
        if sparse.issparse(probas):
            m = sparse.csr_array(probas)
            pmax = m.max(axis=1).toarray().ravel() if m.nnz else np.zeros(votes.n_tasks)
            # an empty sparse row stands for the uniform distribution
            empty = np.diff(m.indptr) == 0
            pmax[empty] = 1.0 / k
        else:
            pmax = np.asarray(probas, dtype=float).max(axis=1)
    return np.clip(1.0 - pmax, 0.0, 1.0) / np.sqrt(n_i + 1.0)
