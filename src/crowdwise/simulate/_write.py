"""Write a simulated crowd as a peerannot data-set folder (through :mod:`crowdwise.io`,
so every file is written to a temporary file and renamed: an interrupt never leaves half
a file)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..io import atomic_write, make_dir, save_npy, write_answers
from ._result import SimulationResult

__all__ = ["write_simulation"]


def write_simulation(result: SimulationResult, folder: str | os.PathLike, *,
                     name: str | None = None) -> dict[str, Path]:
    """Write ``result`` as a peerannot folder.

    Files (peerannot's names):

    ``answers.json``
        ``{task: {worker: label}}``, string keys, integer labels.
    ``metadata.json``
        ``name``, ``n_classes``, ``n_workers``, ``n_tasks`` (and peerannot's spelling
        ``n_task``), ``strategy`` and every generating parameter.
    ``ground_truth.npy``
        The true labels, int64, shape (n_tasks,).
    ``matrices.npy``
        The confusion matrices ``(n_workers, K, K)``, when the result holds them.
    ``difficulties.npy``
        Task difficulties as strings (discrete-difficulty).
    ``student_teacher_association.npy``
        Rows ``(student, teacher)`` (student-teacher).

    Parameters
    ----------
    result : SimulationResult
    folder : path
        Created if needed; files already there are replaced.
    name : str, optional
        Data-set name in the metadata; default the folder's name, as ``crowdwise.io``
        names a folder without metadata (peerannot writes the strategy name, which stays
        under ``strategy``).

    Returns
    -------
    dict mapping each file's role to its path.

    Examples
    --------
    >>> import json, tempfile
    >>> from crowdwise.simulate import hammer_spammer, write_simulation
    >>> sim = hammer_spammer(3, 2, 2, ratio=0.0, seed=0)
    >>> with tempfile.TemporaryDirectory() as d:
    ...     paths = write_simulation(sim, d)
    ...     answers = json.loads(paths["answers"].read_text())
    >>> answers["0"] == {"0": int(sim.truth[0]), "1": int(sim.truth[0])}
    True
    """
    folder = make_dir(folder)
    paths = {"answers": folder / "answers.json", "metadata": folder / "metadata.json",
             "ground_truth": folder / "ground_truth.npy"}
    write_answers(result.votes, paths["answers"], metadata=False)
    meta = {"name": name or folder.resolve().name or result.strategy, "n_classes": result.n_classes,
            "n_workers": result.n_workers, "n_tasks": result.n_tasks, "n_task": result.n_tasks,
            "strategy": result.strategy,
            **{k: v for k, v in result.params.items() if k not in ("n_tasks", "n_workers", "n_classes")}}
    with atomic_write(paths["metadata"], "w") as f:
        f.write(json.dumps(meta))
    save_npy(paths["ground_truth"], result.truth.astype(np.int64))
    if result.confusions is not None:
        paths["matrices"] = folder / "matrices.npy"
        save_npy(paths["matrices"], result.confusions)
    if result.task_difficulty is not None:
        paths["difficulties"] = folder / "difficulties.npy"
        save_npy(paths["difficulties"], result.task_difficulty)
    if result.teacher is not None:
        students = np.flatnonzero(result.teacher >= 0)
        paths["student_teacher_association"] = folder / "student_teacher_association.npy"
        save_npy(paths["student_teacher_association"], np.column_stack([students, result.teacher[students]]))
    return paths
