"""The object every simulation returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..votes import Votes

__all__ = ["SimulationResult"]


@dataclass(frozen=True, eq=False, repr=False)
class SimulationResult:
    """A synthetic crowd: the votes, the truth, and the parameters that generated them.

    Attributes
    ----------
    votes : Votes
        The simulated votes, sorted by task then worker. Task ids are ``0..n_tasks-1``,
        worker ids ``0..n_workers-1`` and classes ``0..K-1`` (integers).
    truth : ndarray of int, shape (n_tasks,)
        The true class of each task.
    strategy : str
        Name of the strategy (its CLI name, e.g. ``"independent-confusion"``).
    params : dict
        The arguments of the call (JSON-friendly), seed included.
    worker_type : ndarray of str, shape (n_workers,)
        Role of each worker: ``"confusion"``, ``"hammer"``, ``"teacher"``, ``"student"``,
        ``"good"``, ``"bad"`` or ``"spammer"``.
    confusions : ndarray of shape (n_workers, K, K) or None
        The confusion matrix of each worker actually used (rows = true class, columns =
        answered class; a spammer's is uniform, a hammer's the identity, a student's its
        teacher's). None when ``n_workers * K * K`` exceeds
        ``crowdwise.simulate._engine.CONFUSION_LIMIT``: only the rows that some vote
        needed were drawn, and they are not kept.
    task_difficulty : ndarray of str, shape (n_tasks,), or None
        ``"easy"``, ``"hard"`` or ``"random"`` (discrete-difficulty only).
    teacher : ndarray of int, shape (n_workers,), or None
        The teacher each student copies, -1 for other workers (student-teacher only).
    """

    votes: Votes
    truth: np.ndarray
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    worker_type: np.ndarray | None = None
    confusions: np.ndarray | None = None
    task_difficulty: np.ndarray | None = None
    teacher: np.ndarray | None = None

    @property
    def n_tasks(self) -> int:
        return self.votes.n_tasks

    @property
    def n_workers(self) -> int:
        return self.votes.n_workers

    @property
    def n_classes(self) -> int:
        return self.votes.n_classes

    @property
    def n_votes(self) -> int:
        return self.votes.n_votes

    def __repr__(self) -> str:
        return (f"SimulationResult(strategy={self.strategy!r}, n_tasks={self.n_tasks}, "
                f"n_workers={self.n_workers}, n_classes={self.n_classes}, n_votes={self.n_votes})")
