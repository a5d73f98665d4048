"""Synthetic crowds with known truth, for tests, benchmarks and teaching.

Each strategy returns a :class:`SimulationResult` (``votes``, ``truth`` and the
generating parameters), deterministic by ``seed``; :func:`write_simulation` saves it as
a peerannot folder (``answers.json``, ``metadata.json``, ``ground_truth.npy``).

``independent-confusion``
    :func:`independent_confusion`: one diagonally dominant confusion matrix per worker
    (Dawid & Skene).
``hammer-spammer``
    :func:`hammer_spammer`: perfect workers and spammers (peerannot's default).
``student-teacher``
    :func:`student_teacher`: students copy a teacher's confusion matrix.
``discrete-difficulty``
    :func:`discrete_difficulty`: good/bad workers, easy/hard/random tasks.
``classifiers``
    :func:`~crowdwise.simulate.classifiers.classifier_crowd`: scikit-learn classifiers,
    each trained on its own part of a feature set (two moons, three circles, or the
    user's), label the tasks (needs scikit-learn).

Every strategy takes ``workerload`` (peerannot's ``--workerload``): each worker answers at
most that many tasks, tasks being served in order from the workers still under their load.

:func:`~crowdwise.simulate.collection.simulate_collection` replays a label collection under
a budget (which task gets the next vote, from which worker) and scores each policy.

Generation is vectorised (no Python loop per vote or per task) and memory stays
O(votes): confusion matrices are kept only while ``n_workers * K * K`` is small.

Examples
--------
>>> from crowdwise.simulate import simulate
>>> sim = simulate("independent-confusion", n_tasks=1000, n_workers=20, n_classes=4,
...                feedback=5, seed=0)
>>> sorted(set(sim.votes.votes_per_task().tolist()))
[5]
>>> bool(sim.votes.duplicated().any())
False
"""

from ._result import SimulationResult
from ._write import write_simulation
from .classifiers import ClassifierCrowd, classifier_crowd
from .collection import POLICIES, collect, simulate_collection
from .strategies import (
    STRATEGIES,
    discrete_difficulty,
    hammer_spammer,
    independent_confusion,
    simulate,
    student_teacher,
)

__all__ = [
    "SimulationResult",
    "STRATEGIES",
    "simulate",
    "independent_confusion",
    "hammer_spammer",
    "student_teacher",
    "discrete_difficulty",
    "write_simulation",
    "ClassifierCrowd",
    "classifier_crowd",
    "POLICIES",
    "collect",
    "simulate_collection",
]
