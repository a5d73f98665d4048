"""Task, worker and data-set scores computed from crowd votes.

Every function reads the vote arrays of a :class:`~crowdwise.Votes` (per-task and
per-worker sums with ``np.bincount`` or sparse products); none builds a tasks x workers
array.

=====================  =============================================================
tasks                  :func:`task_entropy`, :func:`task_difficulty_glad`,
                       :func:`needs_another_vote`
workers                :func:`worker_trace_ds`, :func:`worker_spam_score`,
                       :func:`worker_ability_glad`, :func:`worker_agreement`
data set               :func:`krippendorff_alpha`
=====================  =============================================================
"""

from .dataset import krippendorff_alpha
from .tasks import needs_another_vote, task_difficulty_glad, task_entropy
from .workers import worker_ability_glad, worker_agreement, worker_spam_score, worker_trace_ds

__all__ = [
    "task_entropy",
    "task_difficulty_glad",
    "needs_another_vote",
    "worker_trace_ds",
    "worker_spam_score",
    "worker_ability_glad",
    "worker_agreement",
    "krippendorff_alpha",
]
