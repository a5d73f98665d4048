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
several by name        :func:`score` (or :class:`CrowdScores`, each score computed once,
                       one Dawid-Skene fit shared); :func:`drop_spammers` cleans a crowd
=====================  =============================================================
"""

from .dataset import krippendorff_alpha
from .tasks import needs_another_vote, task_difficulty_glad, task_entropy
from .scores import SCORES, CrowdScores, DroppedSpammers, Score, drop_spammers, score
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
    "SCORES",
    "Score",
    "CrowdScores",
    "score",
    "drop_spammers",
    "DroppedSpammers",
]
