"""Small synthetic crowds for the strategy tests (independent of crowdwise.simulate)."""

from __future__ import annotations

import numpy as np

from crowdwise import Votes


def make_crowd(n_tasks: int = 60, n_workers: int = 15, n_classes: int = 3, per_task: int = 5,
               seed: int = 0, accuracy: tuple[float, float] = (0.55, 0.95), **kw) -> tuple[Votes, np.ndarray]:
    """A one-coin crowd: worker j answers right with prob acc_j, else uniformly among the others.

    Ids are strings (``t<i>``, ``w<j>``) so that renaming can change their sort order.
    """
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, n_tasks)
    acc = rng.uniform(*accuracy, n_workers)
    keys = rng.random((n_tasks, n_workers))
    workers = np.argsort(keys, axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.ravel()
    right = rng.random(task.size) < acc[worker]
    wrong = (truth[task] + rng.integers(1, n_classes, task.size)) % n_classes
    label = np.where(right, truth[task], wrong)
    votes = Votes.from_records([f"t{i:03d}" for i in task], [f"w{j:03d}" for j in worker], label,
                               n_classes=n_classes, **kw)
    # truth aligned with votes.task_ids (sorted "t000"...)
    return votes, truth
