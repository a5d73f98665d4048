"""Writing outputs safely: one place that every writer of crowdwise goes through.

The rules, in the order a write meets them:

1. **Names read from data are untrusted.** A data-set name (``metadata.json``'s ``name``,
   a Parquet file's crowdwise metadata) becomes part of a file name only through
   :func:`safe_name`: no separator, no ``..``, no control character, bounded length.
2. **An output is never an input, a link or a folder.** :func:`check_output_path`
   refuses a path that resolves (symbolic links and hard links included) to a file the
   command reads, a path whose last component is a symbolic link (crowdwise does not
   write through links: the file replaced would not be the one named), and a folder.
3. **A file is never seen half-written.** :func:`atomic_write` writes to a temporary
   ``.<name>.<pid>-<token>.tmp`` beside the target, flushes it to disk (``fsync``),
   gives it the permission bits of the file it replaces (or the umask's default for a
   new file), then renames it over the target and syncs the folder.
4. **A command's outputs are one set.** Inside :func:`output_set`, the renames wait
   until every file of the set is written and synced. The commit point is a journal
   ``.crowdwise-commit-<pid>-<token>.json`` (one copy in each folder of the set) that
   lists the renames; it is written (and synced) after the last temporary and removed
   after the last rename. An error, ``KeyboardInterrupt`` or a signal the CLI turns into
   an exit (SIGTERM, SIGHUP) before the journal removes every temporary: the old set
   stays. A process killed outright (SIGKILL, power loss) leaves temporaries (and maybe
   a journal) behind: the next write of a target in that folder rolls a finished
   journal forward (the new set) and removes the temporaries of dead processes (the old
   set). Temporaries of live processes are never touched, so concurrent writers do not
   break each other; their commits take a lock on the folders (``flock``), so the last set
   renamed wins whole.
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import stat
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import InputError

__all__ = ["safe_name", "output_stem", "check_output_path", "output_set", "atomic_write", "make_dir", "save_npy",
           "save_sparse", "OutputSet"]

PathLike = str | os.PathLike

#: longest file-name component :func:`safe_name` returns (file systems allow 255 bytes; the
#: rest is left for prefixes and suffixes such as ``labels_`` and ``_probas.npz``)
MAX_NAME_LENGTH = 100

_TMP = re.compile(r"^\.(?P<name>.+)\.(?:(?P<pid>\d+)-)?[0-9a-f]{12}\.tmp$")
_JOURNAL = re.compile(r"^\.crowdwise-commit-(?P<pid>\d+)-[0-9a-f]{12}\.json$")


def safe_name(text: Any, *, fallback: str = "data", max_length: int = MAX_NAME_LENGTH) -> str:
    """``text`` reduced to a safe file-name component.

    Letters, digits (any script, NFKC-normalised), ``.``, ``_``, ``-``, ``+`` and ``=``
    are kept; every other run of characters (separators, spaces, control characters...)
    becomes one ``_``; leading dots and underscores are dropped (no hidden file, never
    ``.`` or ``..``); the result is cut to ``max_length`` characters. An empty result is
    ``fallback``.

    Examples
    --------
    >>> safe_name("../../../../elsewhere/ESCAPED")
    'elsewhere_ESCAPED'
    >>> safe_name("my crowd (2024)")
    'my_crowd_2024'
    >>> safe_name(".."), safe_name("a\\x00b"), safe_name("C:\\\\x")
    ('data', 'a_b', 'C_x')
    """
    s = unicodedata.normalize("NFKC", str(text if text is not None else ""))
    s = re.sub(r"[^\w.+=-]+", "_", s, flags=re.UNICODE)
    s = re.sub(r"\.{2,}", ".", s)
    s = s.lstrip("._").rstrip("_")
    s = s[:max_length].rstrip("._")
    return s or fallback


def output_stem(spec: str) -> str:
    """File-name form of a strategy specification: peerannot's, the specification as
    typed in lower case with its brackets (``DSWC[L=5]`` -> ``dswc[l=5]``, so
    ``labels_<data>_dswc[l=5].npy`` as ``peerannot aggregate`` writes it), spaces
    removed, and every character other than letters, digits, ``._-+=[],`` made ``_``
    (no separator, no ``..``: one safe file-name component).

    Examples
    --------
    >>> output_stem("PlantNet[theta_conf=2]"), output_stem("../DS"), output_stem("DSWC[L=5, n_init=2]")
    ('plantnet[theta_conf=2]', 'ds', 'dswc[l=5,n_init=2]')
    """
    s = unicodedata.normalize("NFKC", spec).strip().lower().replace(" ", "")
    s = re.sub(r"[^\w.=+\-\[\],]+", "_", s, flags=re.UNICODE)
    s = re.sub(r"\.{2,}", ".", s).lstrip("._-").rstrip("_")
    return s[:MAX_NAME_LENGTH].rstrip("._") or "strategy"


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(path: PathLike, inputs: Iterable[PathLike] = ()) -> Path:
    """Refuse an output path that is an input, a symbolic link or a folder; return it as a Path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "votes.csv").write_text("task,worker,label\\n")
    >>> try:
    ...     check_output_path(d / "sub" / ".." / "votes.csv", inputs=[d / "votes.csv"])
    ... except InputError as exc:
    ...     print("refused")
    refused
    """
    path = Path(path)
    if path.is_symlink():
        raise InputError("is a symbolic link: crowdwise does not write through links (the file replaced "
                         f"would be {os.path.realpath(path)!r}, not the one named)", source=str(path),
                         fix="give the real path of the file, or remove the link first")
    if path.is_dir():
        raise InputError("is a folder, cannot write a file there", source=str(path), fix="give a file name")
    for inp in inputs:
        if _same_file(path, Path(inp)):
            raise InputError("is an input of this command: writing it would destroy the data read",
                             source=str(path), fix="write the output to another file")
    return path


class OutputSet:
    """The files of one command, renamed in place together (see the module documentation).

    Use :func:`output_set`; writers join the active set through :func:`atomic_write`.
    """

    def __init__(self, inputs: Iterable[PathLike] = ()) -> None:
        self.inputs = [Path(p) for p in inputs]
        self.token = uuid.uuid4().hex[:12]
        self.temps: list[Path] = []  # every temporary created, removed on failure
        self.pending: list[tuple[Path, Path]] = []  # (temporary, target), renamed on commit
        self.targets: set[Path] = set()

    def check(self, *paths: PathLike) -> None:
        """Check planned outputs up front (before a long fit): inputs, links, folders, repeats."""
        for p in paths:
            check_output_path(p, self.inputs)

    def _claim(self, path: Path) -> None:
        key = Path(os.path.abspath(path))
        if key in self.targets:
            raise InputError("is written twice by this command", source=str(path),
                             fix="give the outputs different names")
        self.targets.add(key)

    def commit(self) -> None:
        if not self.pending:
            return
        pairs = [(str(Path(t).absolute()), str(Path(p).absolute())) for t, p in self.pending]
        folders = list(dict.fromkeys(os.path.dirname(p) for _, p in pairs))
        journals = []
        with _locked(folders):  # concurrent commits into these folders: one set after the other
            if len(pairs) > 1:
                journals = [os.path.join(f, f".crowdwise-commit-{os.getpid()}-{self.token}.json") for f in folders]
                body = json.dumps({"pairs": pairs, "journals": journals}).encode("utf-8")
                for j in journals:
                    _write_synced(Path(j), body)
                for f in folders:
                    _fsync_dir(f)
            _apply(pairs, journals)
        self.pending.clear()
        self.temps.clear()

    def abort(self) -> None:
        for t in self.temps:
            Path(t).unlink(missing_ok=True)
        self.temps.clear()
        self.pending.clear()


_ACTIVE: contextvars.ContextVar[OutputSet | None] = contextvars.ContextVar("crowdwise_output_set", default=None)


@contextmanager
def output_set(inputs: Iterable[PathLike] = ()) -> Iterator[OutputSet]:
    """Make every :func:`atomic_write` inside the block part of one set of outputs.

    Nothing is renamed in place before the block ends normally; then all files are
    (see the module documentation). An exception (or an interrupt) inside the block
    removes every temporary and leaves the previous files as they were. ``inputs``:
    files the command reads, which no output may resolve to.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> try:
    ...     with output_set():
    ...         save_npy(d / "a.npy", np.arange(3))
    ...         raise KeyboardInterrupt  # e.g. while writing the second file
    ... except KeyboardInterrupt:
    ...     pass
    >>> sorted(p.name for p in d.iterdir())
    []
    >>> with output_set():
    ...     save_npy(d / "a.npy", np.arange(3))
    ...     save_npy(d / "b.npy", np.arange(2))
    >>> sorted(p.name for p in d.iterdir())
    ['a.npy', 'b.npy']
    """
    outer = _ACTIVE.get()
    if outer is not None:  # nested: one set, the outermost commits
        outer.inputs.extend(Path(p) for p in inputs)
        yield outer
        return
    s = OutputSet(inputs)
    tok = _ACTIVE.set(s)
    try:
        yield s
    except BaseException:
        s.abort()
        raise
    finally:
        _ACTIVE.reset(tok)
    try:
        s.commit()
    except BaseException:
        s.abort()
        raise


@contextmanager
def _locked(folders: list[str]) -> Iterator[None]:
    """An exclusive ``flock`` on each folder (sorted: no deadlock) while a set is renamed in place,
    so that two commands writing the same outputs at once leave one set or the other, never a mix.
    Where ``flock`` is missing (Windows), renames are not serialised."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fds = []
    try:
        for folder in sorted(folders):
            try:
                fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            except OSError:
                continue
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:  # a file system without locks: go on unserialised
                pass
        yield
    finally:
        for fd in reversed(fds):
            os.close(fd)  # closing releases the lock


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def _apply(pairs: list[tuple[str, str]], journals: list[str]) -> None:
    """Rename every temporary that is still there over its target, sync, drop the journals."""
    for tmp, target in pairs:
        if os.path.exists(tmp):
            os.replace(tmp, target)
    for folder in dict.fromkeys(os.path.dirname(p) for _, p in pairs):
        _fsync_dir(folder)
    for j in journals:
        try:
            os.unlink(j)
        except FileNotFoundError:
            pass


def clean_stale(folder: Path, name: str | None = None) -> None:
    """Finish or undo what dead processes left in ``folder``: a complete journal is rolled
    forward (its set was committed), then temporaries of ``name`` (all when None) whose
    process is gone are removed. Files of live processes are left alone."""
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for e in entries:
        m = _JOURNAL.match(e)
        if m and not _pid_alive(int(m["pid"])):
            path = os.path.join(folder, e)
            try:
                with open(path, "rb") as f:
                    data = json.loads(f.read())
                pairs = [(str(t), str(p)) for t, p in data["pairs"]]
                journals = [str(j) for j in data.get("journals", [path])]
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not ours, or not readable: leave it
            _apply(pairs, journals)
    for e in entries:
        m = _TMP.match(e)
        if m and (name is None or m["name"] == name) and (m["pid"] is None or not _pid_alive(int(m["pid"]))):
            try:
                os.unlink(os.path.join(folder, e))
            except OSError:
                pass


def _fsync_dir(folder: str | Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_synced(path: Path, body: bytes) -> None:
    with open(path, "wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())


def _fsync_file(f: IO[Any], tmp: Path) -> None:
    if not f.closed:
        f.flush()
        os.fsync(f.fileno())
        return
    fd = os.open(tmp, os.O_RDONLY)  # a writer (e.g. pyarrow) closed it: sync through a new descriptor
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _final_mode(path: Path) -> int:
    """Permission bits for ``path``: those of the file replaced, else the umask's default."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _os_error(exc: OSError, path: Path, what: str) -> InputError:
    if isinstance(exc, PermissionError):
        return InputError(f"cannot {what}: permission denied", source=str(path),
                          fix="choose an output folder you can write to (see -o / --out-dir)")
    reason = exc.strerror or type(exc).__name__
    return InputError(f"cannot {what}: {reason}", source=str(path),
                      fix="choose another output path (a regular folder you can write to, with free space)")


@contextmanager
def atomic_write(path: PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open ``path`` for writing so that it is never seen half-written.

    The data go to a temporary file in the same folder, synced and renamed over ``path``
    when the ``with`` block ends normally (inside :func:`output_set`: when the set
    ends); if the block raises, the temporary file is deleted and ``path`` is left as
    it was. Missing parent folders are created. The target keeps its permission bits.
    Text mode writes UTF-8 with ``\\n`` line ends. See the module documentation for
    the checks.

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
        raise InputError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}",
                         fix="use 'w' for text, 'wb' for bytes")
    path = Path(path)
    active = _ACTIVE.get()
    check_output_path(path, active.inputs if active is not None else ())
    if active is not None:
        active._claim(path)
    make_dir(path.parent)
    clean_stale(path.parent, path.name)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except OSError as exc:
        raise _os_error(exc, path, "write this file") from None
    if active is not None:
        active.temps.append(tmp)
    try:
        f = os.fdopen(fd, "w", encoding="utf-8", newline="\n") if mode == "w" else os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        with f:
            yield f
            _fsync_file(f, tmp)
        os.chmod(tmp, _final_mode(path))
        if active is not None:
            active.pending.append((tmp, path))
        else:
            os.replace(tmp, path)
            _fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _os_error(exc, path, "write this file") from None
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
        raise InputError(f"cannot create this folder: {where} is a file, not a folder", source=str(path),
                         fix=f"choose another output folder, or move the file {blocker} away") from None
    except PermissionError:
        raise InputError("cannot create this folder: permission denied", source=str(path),
                         fix="choose an output folder you can write to") from None
    except OSError as exc:
        raise _os_error(exc, path, "create this folder") from None
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
                         source=str(path), fix="convert the array to a numeric dtype first")
    with atomic_write(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)


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
                         source=str(path), fix="use save_npy for dense arrays")
    with atomic_write(path, "wb") as f:
        sparse.save_npz(f, matrix.tocsr() if matrix.format not in ("csr", "csc", "coo") else matrix)


#: first characters that make a spreadsheet read a CSV cell as a formula (and the quote that escapes them)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def escape_formulas(values: Any) -> np.ndarray:
    """Text cells of a CSV output made inert for spreadsheets (Excel, LibreOffice, Sheets).

    The rule: a text value whose first character is ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return gets one ``'`` in front, unless the whole value is a plain number
    (``-1``, ``+2.5e3``), which a spreadsheet reads as a number anyway; so does a value
    that already starts with ``'`` followed by one of those characters or ``'`` (so that
    reading back is exact). Numeric
    arrays are returned as they are; Parquet outputs are never escaped.
    :func:`unescape_formulas` undoes it (a text cell starting with ``'`` loses it), which
    is what crowdwise's CSV readers do: a text cell that starts with ``'`` followed by one of
    those characters loses the ``'`` (any other cell is read as it is).

    Examples
    --------
    >>> escape_formulas(np.array(["=1+2", "-1", "@SUM(A1)", "cat", "'x", "'=x"], dtype=object)).tolist()
    ["'=1+2", '-1', "'@SUM(A1)", 'cat', "'x", "''=x"]
    >>> unescape_formulas(escape_formulas(np.array(["=HYPERLINK()", "-x"]))).tolist()
    ['=HYPERLINK()', '-x']
    """
    arr = np.asarray(values)
    if arr.dtype.kind not in "OUS" or arr.size == 0:
        return arr
    text = arr.astype(str)
    hit = np.isin(text.astype("<U1"), FORMULA_STARTS)
    if not hit.any():
        return arr
    idx = np.flatnonzero(hit)  # the cells to look at closely: few in real data
    cand = text[idx]
    keep = np.fromiter((_PLAIN_NUMBER.match(s) is not None
                        or (s[:1] == "'" and (s[1:2] == "" or s[1:2] not in FORMULA_STARTS)) for s in cand),
                       bool, cand.size)
    idx = idx[~keep]
    if idx.size == 0:
        return arr
    out = arr.astype(object)
    out[idx] = np.char.add("'", text[idx]).astype(object)
    return out


def unescape_formulas(values: Any) -> Any:
    """Undo :func:`escape_formulas` on text read from a CSV: a cell that starts with ``'``
    followed by ``=``, ``+``, ``-``, ``@``, tab, carriage return or ``'`` loses its first
    ``'``. NumPy arrays, pandas Series and Arrow string arrays are accepted (and returned
    in kind); anything else is returned as it is."""
    typ = getattr(values, "type", None)
    if typ is not None and type(values).__module__.startswith("pyarrow"):
        import pyarrow as pa
        import pyarrow.compute as pc

        if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
            return values
        quoted = pc.match_substring_regex(values, pattern="^'[=+\\-@\t\r']")
        if not pc.any(quoted).as_py():
            return values
        return pc.if_else(quoted, pc.utf8_slice_codeunits(values, start=1), values)
    arr = np.asarray(values)
    if arr.dtype.kind not in "OUS" or arr.size == 0:
        return values
    text = arr.astype(str)
    hit = text.astype("<U1") == "'"
    if hit.any():
        idx = np.flatnonzero(hit)  # cells starting with a quote: few, checked one by one
        idx = idx[np.isin(np.array([s[1:2] for s in text[idx]], dtype=object), FORMULA_STARTS)]
        hit = np.zeros(arr.shape, bool)
        hit[idx] = True
    if not hit.any():
        return values
    out = arr.astype(object)
    out[hit] = np.array([s[1:] for s in text[hit]], dtype=object)
    if hasattr(values, "index") and hasattr(values, "iloc"):  # a pandas Series
        return type(values)(out, index=values.index, name=values.name)
    return out
