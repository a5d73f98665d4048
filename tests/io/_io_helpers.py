"""Helpers shared by the io tests (imported as ``_io_helpers``)."""

from __future__ import annotations

from crowdwise import Votes


def plain(votes: Votes) -> Votes:
    """The same votes without per-vote columns (for formats that cannot carry them)."""
    return Votes(task=votes.task, worker=votes.worker, label=votes.label, task_ids=votes.task_ids,
                 worker_ids=votes.worker_ids, classes=votes.classes, name=votes.name)


def assert_same(back: Votes, expected: Votes) -> None:
    """Equal votes and the same ids and classes, in the same order."""
    assert back.equals(expected), (back, expected)
    assert back.task_ids.tolist() == expected.task_ids.tolist()
    assert back.worker_ids.tolist() == expected.worker_ids.tolist()
    assert back.classes.tolist() == expected.classes.tolist()
    assert sorted(back.extra) == sorted(expected.extra)
