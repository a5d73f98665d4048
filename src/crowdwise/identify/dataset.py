"""Data-set scores: Krippendorff's alpha."""

from __future__ import annotations

import numpy as np

from ..votes import Votes
from ._check import check_votes

__all__ = ["krippendorff_alpha"]


def krippendorff_alpha(votes: Votes) -> float:
    r"""Krippendorff's alpha for nominal labels, from the coincidence matrix.

    With :math:`n_{uc}` the votes for class :math:`c` on task (unit) :math:`u` and
    :math:`m_u = \sum_c n_{uc}`, only the tasks with :math:`m_u \ge 2` are pairable. The
    coincidence matrix is

    .. math::

        o_{ck} = \sum_{u:\,m_u \ge 2} \frac{n_{uc} (n_{uk} - [c = k])}{m_u - 1},
        \qquad n_c = \sum_k o_{ck} = \sum_{u:\,m_u\ge 2} n_{uc}, \qquad n = \sum_c n_c,

    and for the nominal distance :math:`[c \ne k]`

    .. math::

        \alpha = 1 - \frac{D_o}{D_e} = 1 - (n - 1)\,
        \frac{n - \sum_c o_{cc}}{n^2 - \sum_c n_c^2}.

    Only the diagonal :math:`o_{cc} = \sum_u n_{uc}(n_{uc} - 1)/(m_u - 1)` and the margins
    :math:`n_c` are needed, so the cost is O(votes) whatever K (no K x K matrix). Two votes
    of one worker on one task count as two values of the unit.

    Parameters
    ----------
    votes : Votes

    Returns
    -------
    float
        1 for perfect agreement, 0 for agreement at chance level, negative below it.
        NaN when fewer than two pairable values exist or when every pairable vote has the
        same class (no expected disagreement).

    References
    ----------
    K. Krippendorff, "Computing Krippendorff's alpha-reliability", 2011 (University of
    Pennsylvania, Departmental Papers); Content Analysis, 4th ed., Sage, 2018, ch. 12.

    Examples
    --------
    The worked example of the peerannot documentation (K = 3):

    >>> from crowdwise import Votes
    >>> labels = [[0, 0, 0], [1, 1, 2], [1, 1], [2, 2, 2], [1, 0, 0, 2]]
    >>> task = [i for i, lab in enumerate(labels) for _ in lab]
    >>> worker = [j for lab in labels for j in range(len(lab))]
    >>> v = Votes.from_records(task, worker, sum(labels, []), n_classes=3)
    >>> round(krippendorff_alpha(v), 4)
    0.5022
    """
    votes = check_votes(votes, "krippendorff_alpha")
    counts = votes.counts()  # (n_tasks, K) sparse: n_uc
    m = votes.votes_per_task().astype(float)
    row_of = np.repeat(np.arange(votes.n_tasks), np.diff(counts.indptr))
    n_uc = counts.data
    keep = m[row_of] >= 2
    n_uc, rows, cls = n_uc[keep], row_of[keep], counts.indices[keep]
    n_c = np.bincount(cls, weights=n_uc, minlength=votes.n_classes)
    n = float(n_c.sum())
    if n < 2:
        return float("nan")
    o_diag = float(np.sum(n_uc * (n_uc - 1.0) / (m[rows] - 1.0)))
    expected = n * n - float(np.sum(n_c * n_c))
    if expected <= 0:
        return float("nan")
    return float(1.0 - (n - 1.0) * (n - o_diag) / expected)
