"""Real crowdsourced data sets, one call away: a registry, a verified download, a cache.

Sixteen open sets of the field are registered and tested end to end (:func:`available`;
``DatasetInfo.status`` is ``tested``). Each one's raw files
are fetched from their original public location at a pinned commit
(``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>``), checked against
their pinned size and SHA-256 before anything is converted, converted once into
``votes.csv`` (``task,worker,label``) and ``truth.csv`` (``task,label``) and cached.

- :func:`load` returns ``(votes, truth)``, installing the set on first use;
- :func:`install` installs sets (a no-op for an installed one unless ``force``);
- :func:`info` gives a set's entry: sources, checksums, licence, citation, sizes;
- :func:`path` the folder of an installed set; :func:`installed` the names installed.

The cache folder is ``$CROWDWISE_DATA`` when set, else the user data folder
(platformdirs' ``user_data_dir("crowdwise")``, or ``~/.local/share/crowdwise`` without
platformdirs). ``$CROWDWISE_MIRROR`` replaces ``https://raw.githubusercontent.com``: a
mirror laid out as ``<owner>/<repo>/<commit>/<path>`` serves the same files (for an
organisation without access to GitHub, or a test). The layout of an installed set::

    <cache>/<name>/votes.csv        one row per vote, values as the source spells them
    <cache>/<name>/truth.csv        the released ground truth (some sets: a subset of tasks)
    <cache>/<name>/metadata.json    provenance: every raw file's URL, bytes, sha256; licence,
                                    citation, conversion; sha256 of every file written
    <cache>/<name>/source/          the licence / data README files the source ships
    <cache>/<name>/features/        task features, for the sets that have them

More entries (CIFAR-10H, crowd-kit's relevance sets, Pl@ntNet-CrowdSWE) are registered
with the status ``unverified``: their URLs, format, licence and citation are recorded and
their converters tested on files made in the source's format, but their bytes were never
fetched, so no checksum is pinned and :func:`install` refuses them with one line.

Every failure (unknown name, no network, HTTP 404, truncated download, checksum mismatch,
full disk, corrupt cache entry) is one :class:`crowdwise.errors.InputError` saying what
to do, and leaves the installed sets as they were.

Examples
--------
>>> from crowdwise import datasets
>>> [d.name for d in datasets.available()][:3]
['bluebirds', 'rte', 'temp']
>>> d = datasets.info("bluebirds")
>>> (d.n_tasks, d.n_workers, d.n_classes, d.n_votes)
(108, 39, 2, 4212)
>>> d.files[0].url
'https://raw.githubusercontent.com/welinder/cubam/fe5ba700f1adbb489c69af311558d64370d73d36/demo/bluebirds/labels.yaml'
>>> datasets.info("bluebird")
Traceback (most recent call last):
...
crowdwise.errors.InputError: unknown data set 'bluebird'. Fix: did you mean 'bluebirds'? `crowdwise datasets` lists the 22 registered names.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ._install import (
    base_url,
    cache_dir,
    check_installed,
    check_pinned,
    get,
    install_one,
    progress_display,
    remove_downloads,
)
from ._install import installed as _installed
from ._registry import DATASETS, DatasetInfo, RawFile

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from ..votes import Votes

__all__ = [
    "DatasetInfo",
    "RawFile",
    "available",
    "base_url",
    "cache_dir",
    "info",
    "install",
    "installed",
    "load",
    "path",
]


def available() -> list[DatasetInfo]:
    """The registered data sets, in registry order (installed or not)."""
    return list(DATASETS)


def info(name: str) -> DatasetInfo:
    """The registry entry of ``name``: title, sizes, licence, citation, conversion and every
    raw file (URL, bytes, SHA-256, role). An unknown name raises an :class:`InputError`
    that suggests the closest registered names."""
    return get(name)


def installed() -> list[str]:
    """Names of the sets installed in :func:`cache_dir`."""
    return _installed(cache_dir())


def path(name: str) -> Path:
    """The folder of an installed set (checked: every file present, with its size).
    Raises an :class:`InputError` when it is not installed or its cache entry is corrupt."""
    return check_installed(name, full=False)


def install(names: str | Iterable[str], *, force: bool = False, progress: bool | None = None,
            allow_unpinned: bool = False) -> list[Path]:
    """Download, verify, convert and cache these sets; return their folders.

    Parameters
    ----------
    names : str or iterable of str
        Registered names (:func:`available`). All are checked before anything is fetched.
    force : bool
        Reinstall a set already installed (by default that is a no-op). The new copy
        replaces the old one only once it is complete.
    progress : bool, optional
        Show a progress bar on stderr; by default when stderr is a terminal.
    allow_unpinned : bool
        Install a set whose raw files have no pinned size and SHA-256 in the registry
        (status ``unverified``; refused by default): the bytes received are checked against
        the MD5 the source publishes when there is one, and their SHA-256 is recorded in
        the set's ``metadata.json`` (``"pinned": false``) -- trust on first use.

    Raises
    ------
    InputError
        An unknown name (with the closest names), no network, an HTTP error, a truncated
        download, a checksum mismatch, a full disk. The sets installed before stay
        installed; the one that failed is not listed as installed.
    """
    names = [names] if isinstance(names, str) else list(names)
    infos = [get(n) for n in names]
    infos = list({i.name: i for i in infos}.values())
    root = cache_dir()
    for i in infos:  # a set whose raw files are not pinned is refused before anything is fetched
        if (force or not (root / i.name / "metadata.json").is_file()) and not allow_unpinned:
            check_pinned(i)
    done = []
    display = progress_display(progress)
    try:
        if display is not None:
            display.start()
        for i in infos:
            if display is not None:
                tid = display.add_task(i.name, total=i.download_bytes)
                advance = lambda n, tid=tid: display.advance(tid, n)
            else:
                advance = lambda n: None
            install_one(i, root=root, force=force, advance=advance, allow_unpinned=allow_unpinned)
            done.append(i)
    finally:
        if display is not None:
            display.stop()
        remove_downloads(done, root)
    return [root / i.name for i in infos]


def load(name: str, *, install_missing: bool = True) -> tuple[Votes, np.ndarray]:
    """The votes and the ground truth of a registered set, installing it on first use.

    Returns
    -------
    votes : Votes
        Read from the set's ``votes.csv`` (``votes.parquet`` for the largest sets) as
        :func:`crowdwise.io.load_votes` reads it.
    truth : ndarray of int64, shape (votes.n_tasks,)
        Class index of each task (-1 where the set has no truth for it).

    Examples
    --------
    >>> from crowdwise import datasets
    >>> votes, truth = datasets.load("bluebirds")   # doctest: +SKIP
    >>> votes.n_tasks, int((truth >= 0).sum())      # doctest: +SKIP
    (108, 108)
    """
    entry = get(name)
    if install_missing and entry.name not in installed():
        install(entry.name)
    folder = check_installed(entry.name, full=True)
    from ..io import load_truth, load_votes

    table = folder / "votes.parquet" if (folder / "votes.parquet").is_file() else folder / "votes.csv"
    votes = load_votes(table, name=entry.name)
    return votes, load_truth(folder / "truth.csv", votes)
