"""Where the real crowdsourced data sets live, for tests that read them.

The folder is ``../shared/datasets`` beside the repository, or the one named by the
environment variable ``CROWDWISE_DATASETS``. Tests call :func:`require_datasets`, which
skips them cleanly when the folder is absent (never copy the data into the repository).

Import it from a test module with ``from _data import ...``: the ``tests`` folder is put
on ``sys.path`` by the conftest of the test folder (``sys.path.insert(0, tests_dir)``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["DATASETS_DIR", "dataset_names", "require_datasets"]


def _find() -> Path:
    env = os.environ.get("CROWDWISE_DATASETS")
    if env:
        return Path(env)
    # tests/_data.py -> repository -> its parent, which holds shared/datasets
    return Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


#: folder of the real data sets (it may not exist)
DATASETS_DIR: Path = _find()


def dataset_names() -> list[str]:
    """Names of the data sets present (folders holding a ``votes.csv``), sorted."""
    if not DATASETS_DIR.is_dir():
        return []
    return sorted(p.name for p in DATASETS_DIR.iterdir() if (p / "votes.csv").is_file())


def require_datasets() -> Path:
    """The data-set folder, or skip the calling test when it is absent."""
    if not DATASETS_DIR.is_dir() or not dataset_names():
        pytest.skip(f"real data sets not found at {DATASETS_DIR} (set CROWDWISE_DATASETS)")
    return DATASETS_DIR
