"""Write a simulated crowd as a peerannot data-set folder.

A small private writer so that ``simulate`` does not depend on ``crowdwise.io`` while it
is being written; every file goes through a temporary file and a rename, so an
interrupt never leaves half a file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from ._result import SimulationResult

__all__ = ["write_simulation"]


def _atomic(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    # a fresh name next to the target ("x": never reuse a file), default permissions
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _json(path: Path, obj: Any) -> None:
    _atomic(path, lambda f: f.write(json.dumps(obj, separators=(",", ":")).encode()))


def _npy(path: Path, arr: np.ndarray) -> None:
    _atomic(path, lambda f: np.save(f, np.asarray(arr), allow_pickle=False))


def answers_dict(result: SimulationResult) -> dict[str, dict[str, int]]:
    """``{task: {worker: label}}`` with string keys and int labels, tasks in order."""
    v = result.votes
    bounds = np.concatenate([[0], np.cumsum(v.votes_per_task())]).tolist()  # votes are sorted by task
    wid = [str(w) for w in v.worker_ids.tolist()]
    workers, labels = v.worker.tolist(), v.label.tolist()
    tids = [str(t) for t in v.task_ids.tolist()]
    return {tids[i]: {wid[w]: lab for w, lab in zip(workers[bounds[i]:bounds[i + 1]], labels[bounds[i]:bounds[i + 1]])}
            for i in range(v.n_tasks)}


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
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"answers": folder / "answers.json", "metadata": folder / "metadata.json",
             "ground_truth": folder / "ground_truth.npy"}
    _json(paths["answers"], answers_dict(result))
    meta = {"name": name or folder.resolve().name or result.strategy, "n_classes": result.n_classes,
            "n_workers": result.n_workers, "n_tasks": result.n_tasks, "n_task": result.n_tasks,
            "strategy": result.strategy,
            **{k: v for k, v in result.params.items() if k not in ("n_tasks", "n_workers", "n_classes")}}
    _json(paths["metadata"], meta)
    _npy(paths["ground_truth"], result.truth.astype(np.int64))
    if result.confusions is not None:
        paths["matrices"] = folder / "matrices.npy"
        _npy(paths["matrices"], result.confusions)
    if result.task_difficulty is not None:
        paths["difficulties"] = folder / "difficulties.npy"
        _npy(paths["difficulties"], result.task_difficulty)
    if result.teacher is not None:
        students = np.flatnonzero(result.teacher >= 0)
        paths["student_teacher_association"] = folder / "student_teacher_association.npy"
        _npy(paths["student_teacher_association"], np.column_stack([students, result.teacher[students]]))
    return paths
