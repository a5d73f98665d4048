"""Score files: what ``crowdwise identify`` writes for each score of :mod:`crowdwise.identify`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..votes import Votes
from ._output import atomic_write, escape_formulas, save_npy

__all__ = ["save_scores", "score_paths"]


def score_paths(name: str, kind: str, stem: str, folder: Path) -> list[Path]:
    """The files of one score in ``folder``: ``<stem>.npy`` and ``<stem>.csv`` for a task or
    worker score, ``<stem>.json`` for a data-set score (Krippendorff's alpha)."""
    folder = Path(folder)
    if kind == "dataset":
        return [folder / f"{stem}.json"]
    return [folder / f"{stem}.npy", folder / f"{stem}.csv"]


def save_scores(scores: Mapping[str, Any], votes: Votes, folder: str | Path) -> list[Path]:
    """Write each :class:`~crowdwise.identify.Score` into ``folder``; returns the paths.

    A task or worker score gives ``<stem>.npy`` (one float per task or worker, in index
    order, as peerannot writes) and ``<stem>.csv`` keyed by the original ids with the
    number of votes behind each value (ids a spreadsheet would run are quoted, see
    :func:`~crowdwise.io._output.escape_formulas`); Krippendorff's alpha gives
    ``krippendorff.json`` (alpha, level, pairable votes, votes). Each file is written
    atomically; inside :func:`~crowdwise.io.output_set` they are renamed together.

    Examples
    --------
    >>> import tempfile
    >>> from crowdwise import Votes
    >>> from crowdwise.identify import score
    >>> v = Votes.from_records([0, 0, 1, 1], ["a", "b", "a", "b"], [0, 1, 1, 1])
    >>> paths = save_scores(score(v, ["entropy", "krippendorff"]), v, tempfile.mkdtemp())
    >>> [p.name for p in paths]
    ['entropy.npy', 'entropy.csv', 'krippendorff.json']
    """
    folder = Path(folder)
    written: list[Path] = []
    for s in scores.values():
        paths = score_paths(s.name, s.kind, s.stem, folder)
        if s.kind == "dataset":
            n_task = votes.votes_per_task()
            alpha = float(s.values)
            with atomic_write(paths[0]) as f:
                json.dump({"krippendorff_alpha": None if np.isnan(alpha) else alpha, "level": "nominal",
                           "n_pairable_votes": int((n_task[votes.task] >= 2).sum()), "n_votes": votes.n_votes},
                          f, indent=2)
                f.write("\n")
        else:
            save_npy(paths[0], np.asarray(s.values, dtype=float))
            frame = s.to_frame()
            frame[s.kind] = escape_formulas(frame[s.kind].to_numpy())
            with atomic_write(paths[1]) as f:
                frame.to_csv(f, index=False, lineterminator="\n")
        written += paths
    return written
