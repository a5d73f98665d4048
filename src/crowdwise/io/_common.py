"""Shared plumbing of the readers and writers: atomic writes, paths, optional deps."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import IO, Any


from ..errors import InputError
from ._output import atomic_write, make_dir, output_set, safe_name, save_npy, save_sparse  # noqa: F401 (re-exported)

__all__ = ["atomic_write", "save_npy", "save_sparse", "output_set", "safe_name"]

PathLike = str | os.PathLike

def source_name(path: PathLike) -> str:
    """The file name used in error messages (the path as the user gave it)."""
    return str(path)


def have_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
        import pyarrow.compute  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the environment
        return False
    return True


def require_pyarrow(source: str | None, what: str = "Parquet files") -> Any:
    """Import pyarrow or raise an InputError with the pip command that fixes it."""
    try:
        import pyarrow
    except ImportError:  # pragma: no cover - depends on the environment
        raise InputError(f"reading or writing {what} needs the optional dependency pyarrow",
                         source=source, fix="pip install 'crowdwise[parquet]'") from None
    return pyarrow


def kind_of(path: Path) -> tuple[str, bool]:
    """``(suffix, gzipped)``: ``data/votes.csv.gz`` gives ``(".csv", True)``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        return (suffixes[-2] if len(suffixes) > 1 else ""), True
    return (suffixes[-1] if suffixes else ""), False


def open_text(path: Path) -> IO[str]:
    """Open a (possibly gzipped) text file, skipping a UTF-8 byte-order mark."""
    if kind_of(path)[1]:
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


def check_exists(path: Path, what: str = "file") -> None:
    """InputError when ``path`` does not exist (naming the closest existing folder)."""
    if path.exists():
        return
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():  # the path goes through a file
        raise InputError(f"no such {what}: {str(parent)!r} on its way is a file, not a folder",
                         source=source_name(path), fix="check the path")
    raise InputError(f"no such {what}", source=source_name(path),
                     fix=f"check the path (the nearest existing folder is {str(parent)!r})")


def check_file_not_empty(path: Path) -> None:
    """InputError when the file holds no data (0 bytes, or whitespace only)."""
    if path.stat().st_size == 0:
        raise InputError("the file is empty", source=source_name(path), position="line 1",
                         fix="write the data into it, or point to the right file")
    try:
        with open_text(path) as f:
            head = f.read(1 << 16)
            while head and not head.strip():
                head = f.read(1 << 16)
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc})", source=source_name(path),
                         fix="check that it is a readable (gzip) text file") from None
    if not head.strip():
        raise InputError("the file is empty (only white space)", source=source_name(path),
                         position="line 1", fix="write the data into it, or point to the right file")


def default_name(path: Path) -> str:
    """Data-set name from a path: the folder name, or the file stem (``.gz`` dropped).

    peerannot's ``answers.json`` takes the name of its folder, as the folder would.
    """
    if path.is_dir():
        return path.resolve().name
    name = path.name
    if name.lower().endswith(".gz"):
        name = name[:-3]
    if name == "answers.json" and path.resolve().parent.name:
        return path.resolve().parent.name
    return Path(name).stem
