"""Reading files into :class:`~crowdwise.Votes`: the errors of reading a file (gzip damage,
permissions, a folder where a file was expected) become InputErrors (:func:`reading`,
:func:`read_error`), and text built for Arrow without pandas (:func:`arrow_text`).

Ids, labels and the duplicates policy are encoded by :mod:`crowdwise.votes_encoding`, the one
implementation that ``Votes.from_records`` uses too, re-exported here for the readers:
:func:`encode_ids` (natural order), :func:`encode_labels` (equal numbers are one class,
declared classes matched by value or text), :func:`raw_factorize`, :func:`resolve_classes`,
:func:`extend_ids`, :func:`arrow_to_numpy`; :func:`build_votes` (``crowdwise.votes``)
applies the duplicates policy.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..votes_encoding import (  # noqa: F401  (the encoding core, imported from here by the readers)
    MAX_CLASS_INDEX, MAX_CLASSES, Locate, Uniques, arrow_to_numpy, check_duplicates_policy, declared_count,
    encode_ids, encode_labels, extend_ids, factorize_ids, have_pyarrow, ids_are_unique, int_like, label_order,
    match_classes, natural_order, raw_factorize, resolve_classes, show)
from ..errors import InputError
from ..votes import Votes, build_votes  # noqa: F401
from ._common import kind_of, source_name


# --------------------------------------------------------------------------- reading files
def read_error(path: Any, exc: BaseException) -> InputError:
    """The InputError for a file that cannot be read: a truncated or damaged gzip stream
    (``EOFError``, ``BadGzipFile``, ``zlib.error``, or Arrow's messages for them), a
    permission denied, a folder where a file was expected, another ``OSError``. It names
    the file the error came from when the system says (a file inside a folder)."""
    filename = getattr(exc, "filename", None)
    source = str(filename) if filename else source_name(path)
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = msg.lower()
    check = "`gzip -t FILE` tests a .gz file"
    if isinstance(exc, EOFError) or "truncated" in low or "end-of-stream" in low:
        return InputError("the compressed data end too early: the file is truncated", source=source,
                          fix=f"the file was cut short (an interrupted download, copy or write): fetch or write it "
                              f"again ({check})")
    if isinstance(exc, gzip.BadGzipFile) and "not a gzipped file" in low:
        return InputError("the file is not gzip-compressed, although its name ends with .gz", source=source,
                          fix="rename it without .gz, or compress it with gzip")
    if isinstance(exc, (gzip.BadGzipFile, zlib.error)) or any(
            k in low for k in ("zlib", "gzip", "crc check", "incorrect data check", "invalid block",
                               "invalid distance", "inflate")):
        return InputError(f"the compressed data are damaged ({msg})", source=source,
                          fix=f"the file is corrupt: fetch or write it again ({check})")
    if isinstance(exc, PermissionError):
        return InputError("permission denied: the file cannot be read", source=source,
                          fix="make it readable (chmod u+r), or run as a user who may read it")
    if isinstance(exc, IsADirectoryError):
        return InputError("is a folder, not a file", source=source, fix="point to the file")
    if isinstance(exc, FileNotFoundError):
        return InputError("no such file", source=source, fix="check the path")
    return InputError(f"cannot read the file ({getattr(exc, 'strerror', None) or msg})", source=source,
                      fix="check the file and the disk it is on")


def as_path(path: Any, what: str = "file") -> Path:
    """``path`` as a Path; InputError for anything that is not a path (None, a number, a
    DataFrame...), naming the readers that take those."""
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        return Path(path)
    kind = "None" if path is None else f"a {type(path).__name__}"
    fix = f"pass the path of the {what} as a str or pathlib.Path"
    if type(path).__module__.split(".")[0] in ("pandas", "polars", "pyarrow"):
        fix += "; a table of votes in memory is read by crowdwise.io.from_dataframe (or load_votes)"
    elif isinstance(path, np.ndarray) or isinstance(path, (list, tuple)):
        fix += ("; votes in memory are built by Votes.from_records(task, worker, label), a tasks x workers "
                "matrix by crowdwise.io.read_dense")
    return _raise(InputError(f"expected the path of a {what}, got {kind}", fix=fix))


def _raise(err: InputError) -> Any:
    raise err


@contextmanager
def reading(path: Any) -> Iterator[None]:
    """Turn the errors of reading ``path`` (file system, gzip) into :func:`read_error`'s
    InputError: never a traceback, never click's ``Aborted.`` for an ``EOFError``."""
    try:
        yield
    except (EOFError, zlib.error, OSError) as exc:
        raise read_error(path, exc) from None


def check_gzip(path: Path) -> None:
    """Read a ``.gz`` file to its end (its CRC is checked there), discarding the data;
    InputError when it is truncated or damaged. For the error path of a parser, which
    may stop at a garbled line before reaching the damage."""
    if not kind_of(path)[1]:
        return
    with reading(path), gzip.open(path, "rb") as f:
        while f.read(1 << 22):
            pass


# --------------------------------------------------------------------------- Arrow text
def arrow_text(values: Sequence[str]) -> Any:
    """An Arrow string array of Python strings, built from its buffers.

    ``pa.array`` loads pandas on first use (its cost: ``docs/dev/performance.md``), which reading answers.json
    does not otherwise need. Strings that cannot be encoded as UTF-8 (lone surrogates
    from a JSON ``\\ud800``) raise ``UnicodeEncodeError``, as ``pa.array`` would fail.
    """
    import pyarrow as pa

    enc = [v.encode("utf-8") for v in values]
    n = len(enc)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.fromiter(map(len, enc), dtype=np.int64, count=n), out=offsets[1:])
    data = pa.py_buffer(b"".join(enc))
    if offsets[-1] < 2**31 - 1:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), data)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data)
