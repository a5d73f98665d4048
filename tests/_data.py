"""Where the real crowdsourced data sets live, for tests that read them.

The folder is the one named by the environment variable ``CROWDWISE_DATASETS``, else
``../shared/datasets`` beside the repository, else the cache of :mod:`crowdwise.datasets`
(``CROWDWISE_DATA`` or the user data folder), whose sets have the same layout and the same
bytes. Tests call :func:`require_datasets`: on a clone without ``../shared``, it installs
the 16 open sets from their public sources (or ``CROWDWISE_MIRROR``) the first time, and
skips the tests cleanly when that cannot be done (no network). Never copy the data into
the repository.

Import it from a test module with ``from _data import ...``: the ``tests`` folder is put
on ``sys.path`` by the conftest of the test folder (``sys.path.insert(0, tests_dir)``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

__all__ = ["DATASETS_DIR", "OPEN_SETS", "RAW_MIRROR", "REFERENCE_DIR", "dataset_names", "require_datasets"]

#: ../shared beside the repository: the team's reference sets and the raw public files
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
#: the reference conversions (``../shared/datasets``) the installer must reproduce byte for byte
REFERENCE_DIR = SHARED_DIR / "datasets"
#: the raw public files the reference sets were converted from, in the mirror layout
RAW_MIRROR = SHARED_DIR / "raw-mirror"

#: the 16 open sets of ../shared/datasets (registered in crowdwise.datasets)
OPEN_SETS = ("bluebirds", "rte", "temp", "zheng_dog", "zheng_face", "zheng_product", "zheng_sentiment",
             "zheng_relevance", "adult_content2", "web_relevance", "sentiment_polarity", "weather_sentiment_amt",
             "labelme", "music_genre", "leaves", "ruters")


def _find() -> Path:
    env = os.environ.get("CROWDWISE_DATASETS")
    if env:
        return Path(env)
    if REFERENCE_DIR.is_dir():
        return REFERENCE_DIR
    from crowdwise.datasets import cache_dir

    return cache_dir()  # the registry's cache: require_datasets installs the sets there


#: folder of the real data sets (it may not exist)
DATASETS_DIR: Path = _find()


def dataset_names() -> list[str]:
    """Names of the data sets present (folders holding a ``votes.csv``), sorted."""
    if not DATASETS_DIR.is_dir():
        return []
    return sorted(p.name for p in DATASETS_DIR.iterdir() if (p / "votes.csv").is_file())


def require_datasets() -> Path:
    """The data-set folder, or skip the calling test when the sets are absent and cannot be
    installed from the registry."""
    if len(dataset_names()) < 16 and "CROWDWISE_DATASETS" not in os.environ:
        try:
            from crowdwise import datasets
            from crowdwise.errors import CrowdwiseError

            if DATASETS_DIR.resolve() == datasets.cache_dir().resolve():
                datasets.install(OPEN_SETS, progress=False)
        except (CrowdwiseError, OSError) as exc:
            pytest.skip(f"real data sets not found at {DATASETS_DIR} and not installable ({exc})")
    if not DATASETS_DIR.is_dir() or not dataset_names():
        pytest.skip(f"real data sets not found at {DATASETS_DIR} (set CROWDWISE_DATASETS)")
    return DATASETS_DIR
