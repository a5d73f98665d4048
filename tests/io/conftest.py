"""Fixtures of the io tests: small vote sets that exercise what each format can carry."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # makes tests/_data.py importable as `_data`
    sys.path.insert(0, _TESTS)

from crowdwise import Votes  # noqa: E402


@pytest.fixture
def str_votes() -> Votes:
    """Text ids, a class nobody voted for ('owl'), a task without vote ('t99'),
    a repeated (task, worker) pair and a per-vote column."""
    return Votes.from_records(
        task=["t1", "t1", "t2", "t10", "t10", "t10"],
        worker=["w1", "w2", "w1", "w2", "w3", "w3"],
        label=["cat", "dog", "dog", "cat", "cat", "dog"],
        classes=["cat", "dog", "owl"],
        task_ids=["t1", "t10", "t2", "t99"],  # natural (text) order
        extra={"author": np.array([1, 0, 0, 1, 0, 0])},
        name="toy",
    )


@pytest.fixture
def int_votes() -> Votes:
    """peerannot-like: ids 0..n-1 with task 3 and worker 3 without vote, class 3 unused."""
    return Votes.from_records(
        task=[0, 0, 1, 2, 2, 4],
        worker=[0, 1, 0, 1, 2, 2],
        label=[0, 1, 1, 2, 0, 2],
        n_classes=4,
        task_ids=[0, 1, 2, 3, 4],
        worker_ids=[0, 1, 2, 3],
        name="ints",
    )
