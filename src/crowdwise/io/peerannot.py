"""peerannot data-set folders: ``answers.json`` + ``metadata.json``.

``answers.json`` maps each task to the votes it received, ``{task: {worker: label}}``,
with task and worker ids as text keys and labels as class *indices* ``0..K-1``.
``metadata.json`` holds ``name``, ``n_classes``, ``n_tasks``, ``n_workers`` and,
optionally, ``classes`` (the class names in index order).

Reading rules
-------------
- Labels are class indices. ``n_classes`` (or ``classes``) in the metadata declares the
  classes, including classes nobody voted for; without metadata the classes are
  ``0..max(label)``. Labels that are not integers are looked up among the class names,
  or, with nothing declared, become the classes themselves in natural order.
- A task key with an empty ``{}`` is a task without vote. When the task keys are
  integers below ``n_tasks``, the tasks ``0..n_tasks-1`` are all declared, so that row
  ``i`` of a labels ``.npy`` is task ``i`` as in peerannot; workers likewise with
  ``n_workers``.
- Declared counts are checked up front, before anything of their size is made: whole
  numbers, ``n_classes`` at most 2^24, and no count whose ids would not fit in the memory
  available (about 40 bytes each while reading): ``"n_classes": 1000000000000`` is an
  error naming ``metadata.json`` and ``key 'n_classes'``, not an attempt to allocate
  7 TiB. ``n_tasks`` / ``n_workers`` below the ids the answers hold are errors too.
- Metadata that disagrees with the answers in a way that can be repaired is read with a
  one-line :class:`~crowdwise.errors.InputWarning` naming the file, what it declares and
  what the answers hold, or refused (:class:`InputError`) with ``strict=True``:

  * ``n_classes`` below the class indices used (peerannot's own ``krippendorff-data``
    declares 4 classes and uses labels 0..4): the classes are extended to
    ``0..max(label)``. Only bare indices are extended: with ``classes`` names declared a
    label beyond them is an error (a name cannot be made up), and so is a label that is
    not an integer where integers are declared, a negative label, and a label beyond
    ``classes=`` / ``n_classes=`` given as arguments (your own declaration);
  * ``n_tasks`` / ``n_workers`` above the ids seen while the ids are not the integers
    ``0..n-1``: the missing ids cannot be named and are left out.
- ``answers.json.gz`` (any ``.json.gz``) is read and written gzip-compressed; a
  truncated or damaged file, or one that cannot be read (permissions), is an
  :class:`InputError` naming the file.
- Error positions: ``line L, column C`` for JSON syntax, ``task '12', worker '3'`` for a
  bad vote, ``key 'n_classes'`` for the metadata.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import warnings
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..votes import DuplicatePolicy, Votes
from ..errors import InputWarning
from ._common import PathLike, atomic_write, check_exists, default_name, have_pyarrow, kind_of, make_dir, source_name
from ._encode import (arrow_text, build_votes, show, check_duplicates_policy, declared_count, encode_ids, encode_labels,
                      extend_ids, as_path, reading, resolve_classes)

__all__ = ["read_peerannot", "write_peerannot", "read_answers", "write_answers", "read_metadata"]

try:  # orjson parses answers.json several times faster; json is the fallback
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None


# --------------------------------------------------------------------------- JSON
def load_json(path: Path) -> Any:
    """Parse a JSON file; syntax errors become InputErrors with line and column."""
    return _load_json_bytes(path)[0]


def _load_json_bytes(path: Path) -> tuple[Any, bytes]:
    """:func:`load_json` and the bytes it parsed (BOM removed)."""
    source = source_name(path)
    check_exists(path)
    if path.is_dir():
        raise InputError("is a folder, not a JSON file", source=source, fix="point to the .json file")
    with reading(path):
        if kind_of(path)[1]:
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise InputError("the file is empty", source=source, position="line 1",
                         fix="write the JSON data into it, or point to the right file")
    try:
        if _orjson is not None:
            return _orjson.loads(data), data
        return json.loads(data.decode("utf-8")), data
    except json.JSONDecodeError as exc:  # orjson's error is a subclass
        msg = exc.msg.split(": line ")[0] if exc.msg else "syntax error"
        raise InputError(f"not valid JSON: {msg}", source=source,
                         position=f"line {exc.lineno}, column {exc.colno}",
                         fix="repair the JSON syntax there (a missing or extra comma, quote or brace "
                             "is the usual cause)") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", source=source,
                         fix="save the file as UTF-8") from None


def _dumps(obj: Any) -> bytes:
    if _orjson is not None:
        return _orjson.dumps(obj)
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_SPACED_KEY = re.compile(rb'"\s+:')  # a key end with white space before its colon


def _n_key_ends(raw: bytes) -> int:
    """Number of ``"`` + optional white space + ``:`` in ``raw``: one ``bytes.count`` for
    the compact and the usual pretty-printed forms, a regular expression only when some
    key puts white space before its colon."""
    n = raw.count(b'":')
    if _SPACED_KEY.search(raw):
        n += sum(1 for _ in _SPACED_KEY.finditer(raw))
    return n


def _repeated_keys(raw: bytes, data: dict, source: str, duplicates: str) -> dict:
    """``data`` when no task or worker key of ``answers.json`` is written twice in one
    object; otherwise the policy decides: ``"last"`` keeps ``data`` (the parser kept the
    last value, JSON's own rule), ``"first"`` parses again keeping the first value, and
    ``"keep"`` or ``"error"`` raise an :class:`InputError` naming the first repeated key
    (a JSON object cannot hold both votes).

    Every key of ``{task: {worker: label}}`` ends with a quote and a colon, so the file
    holds at least (tasks + votes) such ends, and exactly that many when no key repeats and
    no string contains ``":`` (:func:`_n_key_ends`). Only when it is
    higher is the file parsed again, with the standard library's pair hook, to look for a
    repeat.
    """
    n_keys = len(data) + sum(len(v) for v in data.values() if isinstance(v, dict))
    if duplicates == "last" or _n_key_ends(raw) <= n_keys:
        return data
    repeats: list[tuple[str, dict]] = []  # (key, the object it is repeated in)

    def pairs(items: list[tuple[str, Any]]) -> dict:
        if duplicates == "first":
            obj: dict = {}
            for key, value in items:
                obj.setdefault(key, value)
        else:
            obj = dict(items)
        if len(obj) < len(items):
            seen: set[str] = set()
            repeats.append((next(k for k, _ in items if k in seen or seen.add(k)), obj))
        return obj

    try:
        top = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs)
    except ValueError:  # pragma: no cover - the first parse accepted the file
        return data
    if not isinstance(top, dict):
        return data  # a shape error, reported by the caller
    task_of = {id(votes): task for task, votes in top.items() if isinstance(votes, dict)}
    # only the top level (tasks) and the task objects (workers) hold keys of ours: a repeat
    # deeper down (inside a label) is a shape error the caller reports
    ours = [(key, obj) for key, obj in repeats if obj is top or id(obj) in task_of]
    if not ours:
        return data
    if duplicates == "first":
        return top
    key, obj = ours[0]
    if obj is top:
        where, what = f"task {key!r}", "task"
    else:
        where, what = f"task {task_of[id(obj)]!r}, worker {key!r}", "worker"
    raise InputError(f"a {what} key is written twice in one object; a JSON object keeps one value per key, "
                     "so the other votes would be dropped silently", source=source, position=where,
                     fix="write each task once and each worker once per task; to keep repeated votes, use a "
                         "task,worker,label table (CSV or Parquet); or choose which value to read with "
                         "duplicates='first' or 'last' (--duplicates first|last)")


# --------------------------------------------------------------------------- metadata
def read_metadata(path: PathLike) -> dict[str, Any]:
    """Read and check a peerannot ``metadata.json``.

    Counts (``n_classes``, ``n_tasks``, ``n_workers``) must be whole numbers (``n_classes``
    at least 1), ``classes`` a list of distinct names agreeing with ``n_classes``.
    Other keys are kept as they are.
    """
    path = as_path(path, "metadata.json file")
    source = source_name(path)
    meta = load_json(path)
    if not isinstance(meta, dict):
        raise InputError(f"metadata must be a JSON object, found a {type(meta).__name__}", source=source,
                         position="top level", fix='write {"name": ..., "n_classes": K, ...}')
    for key, low in (("n_classes", 1), ("n_tasks", 0), ("n_workers", 0)):
        if key not in meta or meta[key] is None:
            continue
        v = meta[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < low:
            what = "a positive integer" if low else "a non-negative integer"
            raise InputError(f"{key} must be {what}, got {v!r}", source=source, position=f"key '{key}'",
                             fix=f"write the number of {key[2:]} as a whole number >= {low}")
        # up front, before anything of that size is made: a count beyond what can be held
        declared_count(v, key, low=low, source=source, position=f"key '{key}'")
    if meta.get("classes") is not None:
        if not isinstance(meta["classes"], list):
            raise InputError(f"classes must be a list of class names, got {type(meta['classes']).__name__}",
                             source=source, position="key 'classes'", fix="list the class names in index order")
        resolve_classes(meta["classes"], meta.get("n_classes"), source=source, where="metadata")
    if "name" in meta and meta["name"] is not None and not isinstance(meta["name"], str):
        meta["name"] = str(meta["name"])
    return meta


# --------------------------------------------------------------------------- answers.json
def read_answers(
    path: PathLike,
    *,
    metadata: dict[str, Any] | PathLike | None = None,
    duplicates: DuplicatePolicy = "keep",
    classes: Any = None,
    n_classes: int | None = None,
    name: str | None = None,
    strict: bool = False,
) -> Votes:
    """Read one ``answers.json`` (``{task: {worker: label}}``).

    Parameters
    ----------
    path : str or Path
    metadata : dict or path, optional
        A peerannot metadata (as read by :func:`read_metadata`) or its file. By default
        ``<stem>.metadata.json`` or else ``metadata.json`` next to ``path`` is read when
        it exists.
    duplicates : {"keep", "first", "last", "error"}
        A JSON object holds one value per key, so a task or a worker written twice in
        the same object cannot be kept: a parser keeps the last one and drops the others
        without a word. ``"last"`` reads such a file as JSON does, ``"first"`` keeps the
        first value instead, and ``"keep"`` (the default) or ``"error"`` raise an
        :class:`InputError` naming the first repeated key (convert the votes to a
        task,worker,label table to keep repeated votes).
    classes, n_classes : optional
        Declare the classes, overriding the metadata. Labels stay class indices:
        ``classes`` names them.
    name : str, optional
        Default: metadata ``name``, else the folder name of an ``answers.json``, else the
        file stem.
    strict : bool
        What to do when the metadata disagrees with the answers in a way crowdwise can
        repair (see the module documentation): by default read the data with an
        :class:`~crowdwise.errors.InputWarning` saying what was changed; with
        ``strict=True`` raise an :class:`InputError` instead.
    """
    path = as_path(path, "answers.json file")
    source = source_name(path)
    check_duplicates_policy(duplicates)
    if metadata is not None and not isinstance(metadata, (dict, str, os.PathLike)):
        raise InputError(f"metadata must be a dict or the path of a metadata.json, got {type(metadata).__name__}",
                         source=source, fix="pass metadata=read_metadata(path), a path, or None to find it beside")
    meta_source = None
    if metadata is None:
        metadata = _metadata_beside(path)
    if metadata is not None and not isinstance(metadata, dict):
        meta_source = source_name(metadata)
        metadata = read_metadata(metadata)
    meta: dict[str, Any] = metadata or {}
    meta_source = meta_source or "metadata"
    data, raw = _load_json_bytes(path)
    if isinstance(data, dict):
        data = _repeated_keys(raw, data, source, duplicates)
    del raw
    if not isinstance(data, dict):
        raise InputError(f"answers must map each task to {{worker: label}}, found a {type(data).__name__} "
                         "at the top level", source=source, position="top level",
                         fix='write {"task id": {"worker id": label, ...}, ...}')
    keys = list(data)
    values = list(data.values())
    if not set(map(type, values)) <= {dict}:
        bad = next(i for i, v in enumerate(values) if type(v) is not dict)
        raise InputError(f"the votes of a task must be an object {{worker: label}}, found a "
                         f"{type(values[bad]).__name__}", source=source, position=f"task {keys[bad]!r}",
                         fix='write {"worker id": label, ...} for this task (use {} for a task without votes)')
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    workers = list(chain.from_iterable(values))
    labels_list = list(chain.from_iterable(map(dict.values, values)))
    ends = np.cumsum(lengths)

    def locate(row: int) -> str:
        t = int(np.searchsorted(ends, row, side="right"))
        return f"task {keys[t]!r}, worker {workers[row]!r}"

    types = set(map(type, labels_list))
    if types <= {int}:
        labels: Any = np.fromiter(labels_list, dtype=np.int64, count=len(labels_list))
    else:
        import pandas as pd

        bad_type = next((i for i, x in enumerate(labels_list)
                         if not isinstance(x, (int, float, str)) or isinstance(x, bool)), None)
        if bad_type is not None and labels_list[bad_type] is not None:
            raise InputError(f"label {labels_list[bad_type]!r} is not a class index",
                             source=source, position=locate(bad_type),
                             fix="write each label as a class index 0..K-1 (or a class name)")
        labels = pd.Series(labels_list, dtype=object)
    if have_pyarrow():
        key_col: Any = arrow_text(keys)  # (pa.array would import pandas)
        worker_col: Any = arrow_text(workers)
    else:  # pragma: no cover - depends on the environment
        key_col = np.asarray(keys, dtype=object)
        worker_col = np.asarray(workers, dtype=object)
    key_codes, task_ids = encode_ids(key_col, what="task", source=source,
                                     locate=lambda i: f"task key {keys[i]!r} (task number {i + 1})")
    w_codes, worker_ids = encode_ids(worker_col, what="worker", source=source, locate=locate)
    user_declared = resolve_classes(classes, n_classes, source=source)
    declared = user_declared
    if declared is None:
        declared = resolve_classes(meta.get("classes"), meta.get("n_classes"), source=meta_source,
                                   where="metadata")
    where = "classes=... or n_classes=..." if user_declared is not None else \
        "metadata.json 'n_classes' or 'classes'"
    # a metadata n_classes below the class indices used (peerannot's own krippendorff-data
    # says 4 classes and uses 0..4) is repaired, with a warning; an argument is not
    lenient = user_declared is None and declared is not None and not strict
    l_codes, cls = encode_labels(labels, classes=declared, as_indices=True, source=source, locate=locate,
                                 declared_by=where + ("" if user_declared is not None or not strict else
                                                      ", or read without strict=True to extend them"),
                                 extend=lenient)
    if declared is not None and cls.size > declared.size:
        warnings.warn(f"{meta_source}: n_classes is {declared.size} but {source} uses class indices up to "
                      f"{cls.size - 1}, so {cls.size} classes are read (0..{cls.size - 1}); correct n_classes "
                      f"to {cls.size}, or read with strict=True to refuse such data", InputWarning, stacklevel=3)
    t_codes = np.repeat(key_codes, lengths)
    t_codes, task_ids = _declare_count(t_codes, task_ids, meta.get("n_tasks"), "task", meta_source, strict)
    w_codes, worker_ids = _declare_count(w_codes, worker_ids, meta.get("n_workers"), "worker", meta_source, strict)
    if name is None:
        name = meta.get("name") or default_name(path)
    return build_votes(t_codes, task_ids, w_codes, worker_ids, l_codes, cls, duplicates=duplicates,
                       name=name, source=source, locate=locate)


def _metadata_beside(path: Path) -> Path | None:
    """``<stem>.metadata.json`` (written by :func:`write_answers` for a file not named
    answers.json), else ``metadata.json`` in the same folder, else None."""
    cands = [] if _plain_name(path) == "answers.json" else [path.with_name(f"{_stem(path)}.metadata.json")]
    cands.append(path.parent / "metadata.json")
    for cand in cands:
        if cand.is_file() and cand.resolve() != path.resolve():
            return cand
    return None


def _plain_name(path: Path) -> str:
    """The file name without a ``.gz`` ending (``answers.json.gz`` -> ``answers.json``)."""
    return path.name[:-3] if path.name.lower().endswith(".gz") else path.name


def _stem(path: Path) -> str:
    """The stem of the name without ``.gz`` (``crowd.json.gz`` -> ``crowd``)."""
    return Path(_plain_name(path)).stem


def _declare_count(codes: np.ndarray, ids: np.ndarray, n: int | None, what: str,
                   meta_source: str, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Declare ids ``0..n-1`` (metadata ``n_tasks`` / ``n_workers``) when the ids allow it."""
    if n is None or n == len(ids):
        return codes, ids
    if n < len(ids):
        raise InputError(f"n_{what}s is {n} but the answers hold {len(ids)} distinct {what}s",
                         source=meta_source, position=f"key 'n_{what}s'",
                         fix=f"set n_{what}s to {len(ids)} (or more), or remove it")
    if ids.dtype.kind in "iu" and (ids.size == 0 or (ids.min() >= 0 and ids.max() < n)):
        return extend_ids(codes, ids, np.arange(n, dtype=np.int64))
    problem = (f"n_{what}s={n} declares {n - len(ids)} {what}(s) without votes, but the {what} ids are not "
               f"the integers 0..{n - 1}, so they cannot be named")
    if strict:
        raise InputError(problem, source=meta_source, position=f"key 'n_{what}s'",
                         fix=f"set n_{what}s to {len(ids)}, remove it, or read without strict=True to leave "
                             "those ids out")
    warnings.warn(f"{meta_source}: {problem}; they are left out", InputWarning, stacklevel=4)
    return codes, ids


# --------------------------------------------------------------------------- writing
def _vote_order(votes: Votes, source: str) -> np.ndarray:
    """Votes ordered by task then worker; InputError on a repeated (task, worker) pair."""
    key = votes.task * max(votes.n_workers, 1) + votes.worker
    order = np.argsort(key, kind="stable")
    same = np.flatnonzero(np.diff(key[order]) == 0)
    if same.size:
        row = int(order[same[0] + 1])
        raise InputError(
            f"{same.size} repeated (task, worker) pair(s), e.g. worker "
            f"{show(votes.worker_ids[votes.worker[row]])} on task {show(votes.task_ids[votes.task[row]])}: "
            "answers.json holds one label per worker and task", source=source, position=f"vote {row}",
            fix="load with duplicates='first' or 'last', or save as CSV/Parquet")
    return order


def _answers_chunks(votes: Votes, source: str) -> Any:
    """The bytes of answers.json, in pieces (labels as class indices)."""
    order = _vote_order(votes, source)
    bounds = np.concatenate([[0], np.cumsum(np.bincount(votes.task, minlength=votes.n_tasks))])
    if not have_pyarrow():  # pragma: no cover - depends on the environment
        w_text = votes.worker_ids.astype(str)[votes.worker[order]].tolist()
        labs = votes.label[order].tolist()
        t_text = votes.task_ids.astype(str).tolist()
        b = bounds.tolist()
        yield _dumps({t_text[i]: dict(zip(w_text[b[i]:b[i + 1]], labs[b[i]:b[i + 1]]))
                      for i in range(votes.n_tasks)})
        return
    # Arrow builds the text in C: no Python dict per task, no Python string per vote
    import pyarrow as pa
    import pyarrow.compute as pc

    w_keys = _json_keys(votes.worker_ids)
    t_keys = _json_keys(votes.task_ids)
    labels = pc.cast(pa.array(votes.label[order]), pa.large_string())
    def lit(x: str) -> Any:
        return pa.scalar(x, pa.large_string())

    entries = pc.binary_join_element_wise(w_keys.take(pa.array(votes.worker[order])), labels, lit(":"))
    per_task = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(bounds, pa.int64()), entries), lit(","))
    objects = pc.binary_join_element_wise(t_keys, lit(":{"), per_task, lit("}"), lit(""))
    yield b"{"
    step = 1 << 20
    for start in range(0, len(objects), step):
        chunk = objects.slice(start, step)
        joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array([0, len(chunk)], pa.int64()), chunk),
                                lit(","))
        if start:
            yield b","
        yield joined[0].as_buffer().to_pybytes()
    yield b"}"


def _json_keys(ids: np.ndarray) -> Any:
    """Arrow array of the ids as quoted JSON strings (escaped where needed)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if ids.dtype.kind in "iu":
        text = pc.cast(pa.array(ids.astype(np.int64)), pa.large_string())
    else:
        text = pa.array(ids.astype(str).astype(object), type=pa.large_string())
        special = np.asarray(pc.match_substring_regex(text, r'["\\\x00-\x1f]').to_numpy(zero_copy_only=False),
                             dtype=bool)
        if special.any():  # rare: let json escape those few
            vals = text.to_numpy(zero_copy_only=False).astype(object)
            idx = np.flatnonzero(special)
            vals[idx] = [json.dumps(str(v), ensure_ascii=False)[1:-1] for v in vals[idx]]
            text = pa.array(vals, type=pa.large_string())
    quote = pa.scalar('"', pa.large_string())
    return pc.binary_join_element_wise(quote, text, quote, pa.scalar("", pa.large_string()))


def metadata_of(votes: Votes, name: str | None = None) -> dict[str, Any]:
    """peerannot metadata of ``votes`` (``classes`` only when they are not ``0..K-1``)."""
    meta: dict[str, Any] = {"name": name or votes.name or "crowd", "n_classes": votes.n_classes,
                            "n_workers": votes.n_workers, "n_tasks": votes.n_tasks}
    cls = votes.classes
    if not (cls.dtype.kind in "iu" and np.array_equal(cls, np.arange(votes.n_classes))):
        meta["classes"] = cls.tolist()
    return meta


def write_answers(votes: Votes, path: PathLike, *, metadata: bool | None = None) -> Path:
    """Write ``answers.json`` atomically (labels as class indices).

    Tasks without votes are written as ``{}``. With ``metadata=True`` (the default) the
    metadata is written beside it: ``metadata.json`` for a file named ``answers.json``
    (peerannot layout), else ``<stem>.metadata.json`` (so that another data set's
    ``metadata.json`` is never overwritten); :func:`read_answers` reads either. A name
    ending in ``.gz`` (``answers.json.gz``) is written gzip-compressed, its metadata
    beside it as for the name without ``.gz``.
    """
    path = Path(path)
    if not isinstance(votes, Votes):
        raise InputError(f"expected a crowdwise.Votes, got {type(votes).__name__}",
                         fix="pass the Votes that load_votes or Votes.from_records returns")
    chunks = _answers_chunks(votes, source_name(path))
    first = next(chunks)  # raises on repeated pairs before any file is opened
    with atomic_write(path, "wb") as raw:
        f = gzip.GzipFile(filename=_plain_name(path), fileobj=raw, mode="wb") if kind_of(path)[1] else raw
        try:
            f.write(first)
            for piece in chunks:
                f.write(piece)
        finally:
            if f is not raw:
                f.close()
    if metadata is None or metadata:
        name = votes.name or default_name(path)
        target = path.parent / ("metadata.json" if _plain_name(path) == "answers.json"
                                else f"{_stem(path)}.metadata.json")
        with atomic_write(target, "wb") as f:
            f.write(json.dumps(metadata_of(votes, name), indent=2, ensure_ascii=False).encode("utf-8"))
    return path


def read_peerannot(
    folder: PathLike,
    *,
    duplicates: DuplicatePolicy = "keep",
    classes: Any = None,
    n_classes: int | None = None,
    name: str | None = None,
    strict: bool = False,
) -> Votes:
    """Read a peerannot data-set folder (``answers.json`` + optional ``metadata.json``).

    See the module documentation for the rules. ``classes`` / ``n_classes`` override
    the metadata; the name defaults to metadata ``name``, else the folder name.
    ``strict=True`` refuses metadata that disagrees with the answers (see
    :func:`read_answers`) instead of repairing it with an
    :class:`~crowdwise.errors.InputWarning`.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "toy"
    >>> d.mkdir()
    >>> _ = (d / "answers.json").write_text(json.dumps({"0": {"0": 1, "1": 1}, "2": {"1": 0}}))
    >>> _ = (d / "metadata.json").write_text(json.dumps({"n_classes": 3, "n_tasks": 4}))
    >>> v = read_peerannot(d)
    >>> v, v.task_ids.tolist(), v.classes.tolist()
    (Votes(name='toy', n_votes=3, n_tasks=4, n_workers=2, n_classes=3), [0, 1, 2, 3], [0, 1, 2])
    """
    folder = as_path(folder, "folder")
    check_exists(folder, "folder")
    if not folder.is_dir():
        raise InputError("is not a folder", source=source_name(folder),
                         fix="point to a peerannot folder holding answers.json (or use load_votes for files)")
    answers = folder / "answers.json"
    if not answers.is_file():
        with reading(folder):
            found = sorted(p.name for p in folder.iterdir())[:10]
        raise InputError(f"no answers.json in this folder (found: {', '.join(found) or 'nothing'})",
                         source=source_name(folder), fix="point to a peerannot data-set folder")
    meta_path = folder / "metadata.json"
    return read_answers(answers, metadata=meta_path if meta_path.is_file() else {}, duplicates=duplicates,
                        classes=classes, n_classes=n_classes, name=name, strict=strict)


def write_peerannot(votes: Votes, folder: PathLike) -> Path:
    """Write a peerannot folder: ``answers.json`` and ``metadata.json`` (each atomic).

    ``metadata.json`` holds ``name``, ``n_classes``, ``n_workers``, ``n_tasks`` and
    ``classes`` when the classes are not ``0..K-1``. Per-vote extra columns are not
    written (the format has no place for them). Returns the folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> v = Votes.from_records(["a", "a", "b"], ["w1", "w2", "w1"], ["cat", "dog", "dog"],
    ...                        classes=["cat", "dog", "owl"], name="pets")
    >>> d = write_peerannot(v, pathlib.Path(tempfile.mkdtemp()) / "pets")
    >>> (d / "answers.json").read_text()
    '{"a":{"w1":0,"w2":1},"b":{"w1":1}}'
    >>> read_peerannot(d).equals(v)
    True
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder", source=source_name(folder),
                         fix="give a folder path for a peerannot data set")
    make_dir(folder)
    name = votes.name or folder.resolve().name
    write_answers(votes, folder / "answers.json", metadata=False)
    with atomic_write(folder / "metadata.json", "wb") as f:
        f.write(json.dumps(metadata_of(votes, name), indent=2, ensure_ascii=False).encode("utf-8"))
    return folder
