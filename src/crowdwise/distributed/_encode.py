"""Partitioning and encoding: raw vote partitions to dense codes, one task range per block.

Three passes, all on the cluster; only the distinct ids of each partition come back to the
client:

1. each input partition (a Parquet part, or a partition of a Dask DataFrame) is checked
   (columns ``task, worker, label``, no missing value, labels among the declared classes)
   and its distinct task ids, worker ids and labels are found with the encoding functions
   of :mod:`crowdwise.votes_encoding` (the ones every in-memory reader calls);
2. the client orders the distinct values of all partitions with the same functions: the ids
   sort by value, so the global codes are the codes the in-memory :class:`~crowdwise.Votes`
   of the whole data gives; each partition gets the map from its local codes to the global
   ones and encodes its votes;
3. the votes are regrouped by task: block ``q`` holds the tasks whose code lies in
   ``[bounds[q], bounds[q + 1])`` and every vote on them, in the order of the input
   (partition by partition, row by row). A task's votes thus live in one block, and the
   blocks taken in order list the tasks in code order, which is what makes the random tie
   draws of the in-memory code reproducible block by block.

A block is a :class:`~crowdwise.Votes` over its own tasks (``task_ids`` are the global task
codes) and its own workers (``worker_ids`` are the global worker codes, sorted, so local
worker order follows global order), with the global classes ``0..K-1``. The in-memory
strategies' kernels run on it unchanged. Everything is a Dask future computed from the
source: a lost block (a worker killed) is recomputed from the Parquet parts.
"""

from __future__ import annotations

import operator
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError

__all__ = ["Block", "Encoded", "encode", "list_parts"]

_ROLES = ("task", "worker", "label")
_ALIASES = {"performer": "worker"}


@dataclass
class Block:
    """The votes of one task range: local :class:`~crowdwise.Votes` and its offsets."""

    index: int
    t0: int              # global code of its first task
    votes: Any           # crowdwise.Votes: task_ids = global task codes, worker_ids = global worker codes
    vpos: Any = None     # position of each vote in the input (parts in order, rows in order)

    @property
    def gworker(self) -> np.ndarray:
        return np.asarray(self.votes.worker_ids)


@dataclass
class Encoded:
    """The encoded data on the cluster, and what the client knows of it."""

    blocks: list            # futures of Block, in task order
    task_ids: np.ndarray    # global ids, in code order
    worker_ids: np.ndarray
    classes: np.ndarray
    bounds: np.ndarray      # (n_blocks + 1,) task code ranges
    gworkers: list          # per block: global worker codes of its local workers
    n_votes: np.ndarray     # per block
    n_cells: np.ndarray     # per block: distinct (task, label) cells
    sources: list           # names of the input partitions
    extra_columns: list

    @property
    def n_tasks(self) -> int:
        return int(self.task_ids.size)

    @property
    def n_workers(self) -> int:
        return int(self.worker_ids.size)

    @property
    def n_classes(self) -> int:
        return int(self.classes.size)


def list_parts(folder: Path) -> list[Path]:
    """The Parquet parts of a folder (``*.parquet``, sorted by name)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("not a folder of Parquet parts", source=folder, fix="give the folder that holds part-*.parquet")
    parts = sorted(p for p in folder.iterdir() if p.suffix == ".parquet" and p.is_file())
    if not parts:
        raise InputError("the folder holds no .parquet part", source=folder,
                         fix="write the votes as Parquet parts (e.g. dask's to_parquet) into it")
    return parts


def _read_part(path: str) -> Any:
    import pandas as pd

    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad part
        raise InputError(f"cannot read this Parquet part ({str(exc).splitlines()[0]})", source=path,
                         fix="rewrite the part, or remove it from the folder") from None


def _roles(df: Any, source: str) -> dict[str, str]:
    cols = {str(c): c for c in df.columns}
    found = {}
    for c in cols:
        role = _ALIASES.get(c, c)
        if role in _ROLES and role not in found:
            found[role] = cols[c]
    missing = [r for r in _ROLES if r not in found]
    if missing:
        raise InputError(f"the column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                         f"{'are' if len(missing) > 1 else 'is'} missing (columns: {', '.join(map(str, cols)) or 'none'})",
                         source=source, fix="every part needs the columns task, worker, label")
    return found


def _locate(r: int) -> str:
    return f"row {r}"


def _local_codes(df: Any, source: str, declared: np.ndarray | None) -> tuple:
    """Local codes and distinct values of one partition (the in-memory encoding rules)."""
    from ..votes_encoding import encode_ids, encode_labels

    roles = _roles(df, source)
    t, tids = encode_ids(df[roles["task"]], what="task", source=source, locate=_locate)
    w, wids = encode_ids(df[roles["worker"]], what="worker", source=source, locate=_locate)
    lab, cls = encode_labels(df[roles["label"]], classes=declared, as_indices=False, source=source, locate=_locate)
    extra = {str(c): df[c].to_numpy() for c in df.columns if c not in roles.values()}
    return t, tids, w, wids, lab, cls, extra


def _uniques(df: Any, source: str, declared: np.ndarray | None) -> tuple:
    _, tids, _, wids, _, cls, extra = _local_codes(df, source, declared)
    return tids, wids, cls, len(df), sorted(extra)


def _split(df: Any, source: str, declared: np.ndarray | None, tmap: np.ndarray, wmap: np.ndarray,
           lmap: np.ndarray, bounds: np.ndarray, row0: int) -> list:
    """The votes of one partition in global codes, cut into one piece per task range."""
    t, _, w, _, lab, _, extra = _local_codes(df, source, declared)
    t, w, lab = tmap[t], wmap[w], lmap[lab]
    extra["\0vpos"] = np.arange(row0, row0 + t.size, dtype=np.int64)
    target = np.searchsorted(bounds, t, side="right") - 1
    order = np.argsort(target, kind="stable")  # keeps the input order within a piece
    cuts = np.searchsorted(target[order], np.arange(bounds.size))
    pieces = []
    for q in range(bounds.size - 1):
        sel = order[cuts[q]:cuts[q + 1]]
        pieces.append((t[sel], w[sel], lab[sel], {k: v[sel] for k, v in extra.items()}))
    return pieces


def _build_block(q: int, t0: int, t1: int, n_classes: int, *pieces: tuple) -> Block:
    from ..votes import Votes

    t = np.concatenate([p[0] for p in pieces]) if pieces else np.zeros(0, np.int64)
    w = np.concatenate([p[1] for p in pieces]) if pieces else np.zeros(0, np.int64)
    lab = np.concatenate([p[2] for p in pieces]) if pieces else np.zeros(0, np.int64)
    names = sorted({k for p in pieces for k in p[3]})
    extra = {k: np.concatenate([p[3][k] for p in pieces]) for k in names}
    vpos = extra.pop("\0vpos", None)
    gw, w_local = np.unique(w, return_inverse=True)
    votes = Votes(task=t - t0, worker=w_local.ravel(), label=lab, task_ids=np.arange(t0, t1, dtype=np.int64),
                  worker_ids=gw.astype(np.int64), classes=np.arange(n_classes, dtype=np.int64), extra=extra)
    return Block(q, t0, votes, vpos)


def _info(block: Block) -> tuple:
    v = block.votes
    return v.n_votes, int(v.task_label_pattern()[1].size), block.gworker


def _sources_of(data: Any, client: Any) -> tuple[list, list]:
    """Futures of pandas DataFrames, one per input partition, and their names."""
    if isinstance(data, (str, Path)):
        parts = list_parts(Path(data))
        futs = [client.submit(_read_part, str(p), pure=False) for p in parts]
        return futs, [str(p) for p in parts]
    try:
        import dask.dataframe as dd
    except ImportError:  # pragma: no cover - require_dask ran before
        raise
    if not isinstance(data, dd.DataFrame):
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            data = dd.from_pandas(data, npartitions=max(1, len(client.scheduler_info()["workers"])), sort=False)
        else:
            raise InputError(f"the distributed engine reads a folder of Parquet parts, a Dask or a pandas "
                             f"DataFrame, got {type(data).__name__}",
                             fix="pass dask.dataframe.read_parquet(...) or the folder's path")
    parts = data.to_delayed()
    futs = client.compute(parts)
    return futs, [f"partition {i}" for i in range(len(parts))]


def encode(data: Any, client: Any, *, n_blocks: int | None = None, classes: Any = None) -> Encoded:
    """Encode ``data`` (folder of Parquet parts, Dask or pandas DataFrame) on ``client``."""
    from ..votes_encoding import encode_ids, encode_labels, resolve_classes

    raw, sources = _sources_of(data, client)
    declared = None if classes is None else resolve_classes(classes, None)
    uniq = client.gather(client.map(_uniques, raw, sources, [declared] * len(raw), pure=False))
    tids_l, wids_l, cls_l = [u[0] for u in uniq], [u[1] for u in uniq], [u[2] for u in uniq]
    extras = [u[4] for u in uniq]
    for s, e in zip(sources, extras):
        if e != extras[0]:
            raise InputError(f"this part has the extra columns {e}, the first one {extras[0]}", source=s,
                             fix="give every part the same columns")

    def merge(values: list, what: str) -> tuple[np.ndarray, list]:
        cat = _concat(values)
        codes, ids = encode_ids(cat, what=what, source=None, locate=_locate)
        sizes = np.cumsum([0] + [len(v) for v in values])
        return ids, [codes[a:b] for a, b in zip(sizes[:-1], sizes[1:])]

    task_ids, tmaps = merge(tids_l, "task")
    worker_ids, wmaps = merge(wids_l, "worker")
    cat = _concat(cls_l)
    lcodes, cls = encode_labels(cat, classes=declared, as_indices=False, source=None, locate=_locate)
    sizes = np.cumsum([0] + [len(v) for v in cls_l])
    lmaps = [lcodes[a:b] for a, b in zip(sizes[:-1], sizes[1:])]
    n_tasks = task_ids.size
    if n_tasks == 0:
        raise InputError("the data holds no vote", source=sources[0] if sources else None,
                         fix="give a folder of non-empty Parquet parts")
    nb = len(raw) if n_blocks is None else int(n_blocks)
    nb = max(1, min(nb, n_tasks))
    bounds = np.unique(np.linspace(0, n_tasks, nb + 1).round().astype(np.int64))
    nb = bounds.size - 1
    rows0 = np.r_[0, np.cumsum([u[3] for u in uniq])[:-1]].astype(np.int64).tolist()
    # the maps travel inside the tasks (not scattered): a part lost with its worker is
    # then encoded again from its file
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*large graph.*")
        pieces = client.map(_split, raw, sources, [declared] * len(raw), tmaps, wmaps, lmaps,
                            [bounds] * len(raw), rows0, pure=False)
    blocks = []
    for q in range(nb):
        parts_q = [client.submit(operator.getitem, p, q) for p in pieces]
        blocks.append(client.submit(_build_block, q, int(bounds[q]), int(bounds[q + 1]), int(cls.size), *parts_q))
    info = client.gather(client.map(_info, blocks))
    return Encoded(blocks, task_ids, worker_ids, cls, bounds, [i[2] for i in info],
                   np.array([i[0] for i in info]), np.array([i[1] for i in info]), sources, extras[0])


def _concat(values: list) -> np.ndarray:
    """Distinct values of several partitions, concatenated (text when their kinds differ)."""
    arrays = [np.asarray(v) for v in values]
    kinds = {a.dtype.kind for a in arrays if a.size}
    if len(kinds) > 1:
        arrays = [a.astype(object) for a in arrays]
        return np.concatenate(arrays)
    return np.concatenate(arrays) if arrays else np.zeros(0)
