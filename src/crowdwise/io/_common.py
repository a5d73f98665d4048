"""Shared plumbing of the readers and writers: atomic writes, paths, optional deps."""

from __future__ import annotations

import gzip
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import InputError

__all__ = ["atomic_write", "save_npy", "save_sparse"]

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


def save_sparse(path: PathLike, matrix: Any) -> None:
    """Save a scipy sparse matrix (e.g. CSR soft labels) as ``.npz``, atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from scipy import sparse
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "probas.npz"
    >>> save_sparse(out, sparse.csr_array([[0.0, 1.0], [0.5, 0.5]]))
    >>> sparse.load_npz(out).toarray().tolist()
    [[0.0, 1.0], [0.5, 0.5]]
    """
    from scipy import sparse

    if not sparse.issparse(matrix):
        raise InputError(f"save_sparse expects a scipy sparse matrix, got {type(matrix).__name__}",
                         source=source_name(path), fix="use save_npy for dense arrays")
    with atomic_write(path, "wb") as f:
        sparse.save_npz(f, matrix.tocsr() if matrix.format not in ("csr", "csc", "coo") else matrix)


@contextmanager
def atomic_write(path: PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it is never seen half-written.

    The data go to a temporary file in the same folder, renamed over ``path`` when the
    ``with`` block ends normally; if the block raises, the temporary file is deleted and
    ``path`` is left as it was. Missing parent folders are created. Text mode writes
    UTF-8 with ``\\n`` line ends.

    Parameters
    ----------
    path : str or Path
        Final file name.
    mode : {"w", "wb"}
        Text or binary.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "result.txt"
    >>> with atomic_write(out) as f:
    ...     _ = f.write("done")
    >>> out.read_text()
    'done'
    >>> try:
    ...     with atomic_write(out) as f:
    ...         _ = f.write("half")
    ...         raise KeyboardInterrupt
    ... except KeyboardInterrupt:
    ...     pass
    >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
    ('done', ['result.txt'])
    """
    if mode not in ("w", "wb"):
        raise InputError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    if path.is_dir():
        raise InputError("is a folder, cannot write a file there", source=source_name(path),
                         fix="give a file name")
    make_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    # os.open applies the umask, so the final file gets the usual permissions
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        if mode == "w":
            f = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        else:
            f = os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_dir(path: PathLike) -> Path:
    """Create the folder ``path`` and its parents; a file in the way is an InputError naming it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> make_dir(root / "a" / "b").is_dir()
    True
    >>> _ = (root / "f").write_text("x")
    >>> try:
    ...     make_dir(root / "f" / "sub")
    ... except InputError as exc:
    ...     print(str(exc).split(": ", 1)[1].split(". Fix")[0])
    cannot create this folder: .../f is a file, not a folder
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        where = "it" if blocker == path else f".../{blocker.name}"
        raise InputError(f"cannot create this folder: {where} is a file, not a folder", source=source_name(path),
                         fix=f"choose another output folder, or move the file {blocker} away") from None
    except PermissionError:
        raise InputError("cannot create this folder: permission denied", source=source_name(path),
                         fix="choose an output folder you can write to") from None
    return path


def save_npy(path: PathLike, array: Any) -> None:
    """Save ``array`` as a ``.npy`` file atomically (no pickles).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "labels" / "labels_toy_MV.npy"
    >>> save_npy(out, np.array([0, 2, 1]))
    >>> np.load(out).tolist()
    [0, 2, 1]
    """
    arr = np.asanyarray(array)
    if arr.dtype.kind == "O":
        raise InputError("save_npy writes numeric or text arrays, not Python objects",
                         source=source_name(path), fix="convert the array to a numeric dtype first")
    with atomic_write(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)


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
