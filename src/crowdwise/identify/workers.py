"""Worker scores: trace and spammer score of the Dawid-Skene confusion, GLAD ability,
agreement with the aggregate."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..votes import Votes
from ._check import check_votes

__all__ = ["worker_trace_ds", "worker_spam_score", "worker_ability_glad", "worker_agreement",
           "ds_confusions"]


def ds_confusions(votes: Votes, **ds_params: Any) -> np.ndarray:
    """Confusion matrices ``(n_workers, K, K)`` of a Dawid-Skene fit with ``ds_params``."""
    from ..aggregate.dawid_skene import DawidSkene

    ds_params.setdefault("random_state", 0)
    return DawidSkene(**ds_params).fit(votes).confusions_


#: largest dense (n_workers, K, K) array made from sparse-mode DS confusions: 2 GiB
DENSE_CONFUSIONS_LIMIT = 2 * 2**30


def check_confusions(votes: Votes, confusions: Any) -> np.ndarray:
    """``confusions`` as a float ``(n_workers, K, K)`` array for ``votes``, or a clear
    InputError naming the expected shape.

    Sparse-mode DS confusions (CSR ``(n_workers * K, K)``) are made dense when that takes
    at most 2 GiB; a class a worker never met (an empty row) becomes uniform, as in the
    dense fit.
    """
    k = votes.n_classes
    if sparse.issparse(confusions):
        w = votes.n_workers
        if confusions.shape != (w * k, k):
            raise InputError(f"sparse confusions must have shape (n_workers * K, K) = ({w * k}, {k}), "
                             f"got {confusions.shape}", fix="pass DawidSkene(...).fit(votes).confusions_")
        need = 8.0 * w * k * k
        if need > DENSE_CONFUSIONS_LIMIT:
            raise InputError(f"this score needs every worker's full {k} x {k} confusion: {need / 2**30:.1f} GiB "
                             f"for {w:,} workers (DS ran in its sparse mode)",
                             fix="use the scores that do not need them (trace, agreement, glad-ability), or "
                                 "fewer classes / workers")
        m = sparse.csr_array(confusions)
        dense = m.toarray()
        dense[np.diff(m.indptr) == 0] = 1.0 / k
        return dense.reshape(w, k, k)
    c = np.asarray(confusions, dtype=float)
    if c.shape != (votes.n_workers, k, k):
        raise InputError(f"confusions must have shape (n_workers, K, K) = ({votes.n_workers}, {k}, {k}), "
                         f"got {c.shape}", fix="pass DawidSkene().fit(votes).confusions_ (one K x K matrix "
                         "per worker)")
    return c


def _confusions(votes: Votes, confusions: Any, ds_params: dict[str, Any]) -> np.ndarray:
    if confusions is None:
        return ds_confusions(votes, **ds_params)
    return check_confusions(votes, confusions)


def _no_vote_is_nan(votes: Votes, score: np.ndarray) -> np.ndarray:
    score = np.asarray(score, dtype=float).copy()
    score[votes.votes_per_worker() == 0] = np.nan
    return score


def worker_trace_ds(votes: Votes, *, confusions: Any = None, **ds_params: Any) -> np.ndarray:
    r"""Normalised trace of each worker's Dawid-Skene confusion matrix, in [0, 1].

    .. math::

        t_j = \frac{1}{K} \operatorname{tr} \pi^{(j)} = \frac{1}{K} \sum_k \pi^{(j)}_{kk},

    the worker's accuracy averaged over the true classes (class-balanced accuracy): 1 for
    a perfect worker, :math:`1/K` for one answering uniformly at random, 0 for one who is
    always wrong.

    Parameters
    ----------
    votes : Votes
    confusions : ndarray (n_workers, K, K), optional
        Fitted confusions to reuse (``DawidSkene(...).fit(votes).confusions_``); by
        default :class:`~crowdwise.aggregate.dawid_skene.DawidSkene` is fitted with
        ``ds_params`` (``random_state=0`` unless given).

    Returns
    -------
    ndarray of float, shape (n_workers,)
        NaN for a worker without vote. A row of the confusion that no vote of the worker
        informs stays uniform (with ``prior=0``), which counts :math:`1/K` in the trace.

    References
    ----------
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates
    using the EM algorithm", JRSS C 28(1), 1979; T. Lefort et al., "Peerannot", Computo
    2024 (``trace_confusion``).

    Examples
    --------
    >>> import numpy as np
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 1], [0, 1], [0, 1], n_classes=2)
    >>> worker_trace_ds(v, confusions=np.array([np.eye(2), [[.5, .5], [.5, .5]]])).tolist()
    [1.0, 0.5]
    """
    votes = check_votes(votes, "worker_trace_ds")
    k = max(votes.n_classes, 1)
    if confusions is None:
        confusions = ds_confusions(votes, **ds_params)
    if sparse.issparse(confusions) and confusions.shape == (votes.n_workers * k, k):
        # sparse-mode DS: the diagonal straight from the stored cells (any size);
        # a class the worker never met is a uniform row, 1/K on the diagonal
        m = sparse.csr_array(confusions).tocoo()
        on_diag = m.row % k == m.col
        diag = np.bincount(m.row[on_diag] // k, weights=m.data[on_diag], minlength=votes.n_workers)
        empty = np.diff(sparse.csr_array(confusions).indptr) == 0
        diag += np.bincount(np.flatnonzero(empty) // k, minlength=votes.n_workers) / k
        return _no_vote_is_nan(votes, diag / k)
    c = _confusions(votes, confusions, ds_params)
    return _no_vote_is_nan(votes, np.trace(c, axis1=1, axis2=2) / k)


def spam_score_of(confusions: np.ndarray) -> np.ndarray:
    r"""Raykar & Yu spammer score of confusion matrices ``(..., K, K)`` (see
    :func:`worker_spam_score`), in O(K^2) per matrix.

    Uses :math:`\sum_{c<c'} \sum_k (a_{ck} - a_{c'k})^2
    = K \sum_{c,k} (a_{ck} - \bar a_k)^2` with :math:`\bar a_k` the mean of column
    :math:`k`, so no pair of rows is formed.
    """
    a = np.asarray(confusions, dtype=float)
    k = a.shape[-1]
    if k < 2:
        return np.zeros(a.shape[:-2])
    dev = a - a.mean(axis=-2, keepdims=True)
    return (dev * dev).sum(axis=(-2, -1)) / (k - 1)


def worker_spam_score(votes: Votes, *, confusions: Any = None, **ds_params: Any) -> np.ndarray:
    r"""Spammer score of Raykar & Yu: distance of the confusion to a spammer's, in [0, 1].

    A spammer answers without looking at the task: every row of its confusion matrix
    :math:`A = \pi^{(j)}` (:math:`a_{ck} = P(\text{answer } k \mid \text{true } c)`) is the
    same vector :math:`v`, i.e. :math:`A = e v^\top` has rank one. The score is the squared
    Frobenius distance to the closest such matrix, :math:`\min_v \|A - e v^\top\|_F^2`
    (reached at :math:`v_k = \frac1K \sum_c a_{ck}`), which equals
    :math:`\frac1K \sum_{c<c'} \sum_k (a_{ck} - a_{c'k})^2`, normalised (Raykar & Yu
    2012, eq. for the categorical case) to

    .. math::

        S_j = \frac{1}{K(K-1)} \sum_{c < c'} \sum_k (a_{ck} - a_{c'k})^2 \in [0, 1].

    Direction: **0 for a spammer** (identical rows, whatever they are), **1 for a perfect
    worker** (:math:`A = I`; also for any permutation matrix, i.e. a worker who always
    answers the same wrong class for each class is not a spammer: his votes carry full
    information). Each pair of rows adds at most 2, hence the bound 1. With two classes,
    :math:`S_j = (\alpha_j + \beta_j - 1)^2` with sensitivity :math:`\alpha_j = a_{11}`
    and specificity :math:`\beta_j = a_{00}`, the binary score of the paper. Low scores
    flag the workers to drop (``crowdwise identify --drop-spammers THRESHOLD``).

    **True classes a worker never met.** Row :math:`c` of a Dawid-Skene confusion is
    estimated from the worker's votes on the tasks of class :math:`c` (weighted by the
    posteriors). When none of the worker's votes is on such a task, the row is 0/0:
    crowdwise's DS makes it **uniform** (:math:`1/K` everywhere), peerannot's leaves it
    at **0**, and the two scores differ. On peerannot's ``toy-data`` (2 classes, 4
    workers) crowdwise gives ``[0, 0, 1, 1]`` and peerannot ``[0, 0.25, 1, 1]``: worker 1
    voted once for each class on two tasks of class 1, so its class-1 row is
    ``[0.5, 0.5]`` and its class-0 row is not informed. Uniform, that row equals the other
    one and the worker scores 0, a spammer: all we know of them is a coin flip. At 0, the
    distance between ``[0.5, 0.5]`` and ``[0, 0]`` adds 0.25: the score rewards the
    missing row, not the worker. Reasons for the uniform row: (i) a confusion row is a
    probability distribution, and a row of zeros is not one: the score is the distance to
    the closest spammer (identical rows) only for rows on the simplex, and its bound
    :math:`[0, 1]` only holds there; (ii) with zero rows the score grows with the classes
    a worker did not meet (a worker answering uniformly at random on one class, the
    textbook spammer, scores :math:`1/K^2` instead of 0); (iii) it is the row DS reports
    in ``confusions_`` and the one :func:`worker_trace_ds` counts (:math:`1/K` on the
    diagonal). (DS's E-step itself rules class :math:`c` out for the worker's answers
    when nothing informs the row, with ``prior=0``: see ``DawidSkene.never_met_``; a
    score is about the worker, and an uninformed row says nothing about them.) To reproduce peerannot's figures, pass ``confusions=`` with those rows
    set to 0.

    Parameters
    ----------
    votes : Votes
    confusions : ndarray (n_workers, K, K), optional
        Fitted confusions to reuse; by default Dawid-Skene is fitted with ``ds_params``
        (a class the worker never met is a uniform row, see above).

    Returns
    -------
    ndarray of float, shape (n_workers,)
        NaN for a worker without vote.

    References
    ----------
    V. C. Raykar and S. Yu, "Ranking annotators for crowdsourced labeling tasks", NIPS
    2011; and "Eliminating spammers and ranking annotators for crowdsourced labeling
    tasks", JMLR 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 1, 2], [0, 1, 2], [0, 1, 2], n_classes=3)
    >>> spammer = np.tile([0.2, 0.5, 0.3], (3, 1))
    >>> worker_spam_score(v, confusions=np.array([np.eye(3), spammer, np.eye(3)[[1, 2, 0]]])).round(12).tolist()
    [1.0, 0.0, 1.0]

    peerannot's ``toy-data`` (task: {worker: label}), and worker 1's two rows as crowdwise
    and peerannot fill them:

    >>> answers = {0: {0: 1, 1: 0, 2: 1, 3: 1}, 1: {0: 1, 2: 0, 3: 0}, 2: {1: 1, 3: 1}}
    >>> t, w, lab = zip(*[(i, j, y) for i, d in answers.items() for j, y in d.items()])
    >>> toy = Votes.from_records(list(t), list(w), list(lab), n_classes=2)
    >>> worker_spam_score(toy).round(12).tolist()
    [0.0, 0.0, 1.0, 1.0]
    >>> spam_score_of(np.array([[[0.5, 0.5], [0.5, 0.5]], [[0.0, 0.0], [0.5, 0.5]]])).tolist()
    [0.0, 0.25]
    """
    votes = check_votes(votes, "worker_spam_score")
    c = _confusions(votes, confusions, ds_params)
    return _no_vote_is_nan(votes, np.clip(spam_score_of(c), 0.0, 1.0))


def worker_ability_glad(votes: Votes, **glad_params: Any) -> np.ndarray:
    r"""GLAD ability :math:`\alpha_j` of each worker (larger is better).

    GLAD models the chance that worker :math:`j` answers task :math:`i` right as
    :math:`\sigma(\alpha_j \beta_i)`: :math:`\alpha_j > 0` better than chance,
    :math:`\alpha_j = 0` random, :math:`\alpha_j < 0` adversarial. This fits
    :class:`~crowdwise.aggregate.glad.GLAD` with ``glad_params`` and returns its
    ``abilities_`` (NaN for a worker without vote, whose fitted value is only the prior
    mean).

    References
    ----------
    J. Whitehill, P. Ruvolo, T. Wu, J. Bergsma and J. Movellan, "Whose vote should count
    more: optimal integration of labels from labelers of unknown expertise", NIPS 2009.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2, 2, 2], ["a", "b", "c"] * 3,
    ...                        [0, 0, 1, 1, 1, 1, 0, 0, 0])
    >>> alpha = worker_ability_glad(v)
    >>> bool(alpha[0] > alpha[2])   # "c" disagreed once
    True
    """
    from ..aggregate.glad import GLAD

    votes = check_votes(votes, "worker_ability_glad")
    glad_params.setdefault("random_state", 0)
    return _no_vote_is_nan(votes, GLAD(**glad_params).fit(votes).abilities_)


def worker_agreement(votes: Votes, labels: Any = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Share of each worker's votes equal to the aggregated label of their task.

    .. math::

        a_j = \frac{\#\{\text{votes } (i, j, l) : l = \hat y_i\}}{\#\{\text{votes } (i, j, \cdot) : \hat y_i \text{ defined}\}}

    with :math:`\hat y` the majority vote by default (ties to the smallest class index,
    so that the score does not depend on a seed nor on the order of tasks and workers).
    The worker's own vote takes part in the majority, as in peerannot's agreement; on
    tasks with few votes this favours every worker a little.

    Parameters
    ----------
    votes : Votes
    labels : array-like of int, shape (n_tasks,), optional
        Class indices of an aggregate (``model.labels_``); ``-1`` (no label) leaves the
        task's votes out.

    Returns
    -------
    agreement : ndarray of float, shape (n_workers,)
        NaN for a worker without a vote on a labelled task.
    n_votes : ndarray of int, shape (n_workers,)
        The number of votes each share rests on.

    References
    ----------
    T. Lefort et al., "Peerannot: classification for crowdsourced image datasets with
    Python", Computo, 2024 (worker identification by agreement with the aggregate).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 1, 1, 1, 1])
    >>> share, n = worker_agreement(v)
    >>> share.tolist(), n.tolist()
    ([1.0, 1.0, 0.5], [2, 2, 2])
    """
    votes = check_votes(votes, "worker_agreement")
    if labels is None:
        from ..utils import argmax_ties

        labels = argmax_ties(votes.counts(), tie="smallest")
        labels[votes.votes_per_task() == 0] = -1
    else:
        labels = np.asarray(labels)
        if labels.shape != (votes.n_tasks,) or (labels.size and labels.dtype.kind not in "iu"):
            raise InputError(f"labels must be {votes.n_tasks} class indices (one per task), got "
                             f"shape {labels.shape} and dtype {labels.dtype}",
                             fix="pass model.labels_ of a strategy fitted on these votes")
        if labels.size and (labels.max() >= votes.n_classes or labels.min() < -1):
            raise InputError(f"labels must be class indices in 0..{votes.n_classes - 1} or -1",
                             fix="pass model.labels_ of a strategy fitted on these votes")
    y = labels[votes.task]
    used = y >= 0
    n = np.bincount(votes.worker[used], minlength=votes.n_workers)
    hit = np.bincount(votes.worker, weights=(votes.label == y).astype(float), minlength=votes.n_workers)
    share = np.divide(hit, n, out=np.full(votes.n_workers, np.nan), where=n > 0)
    return share, n
