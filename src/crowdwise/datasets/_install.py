"""Download, verify, convert and cache the registered data sets.

The cache folder (:func:`cache_dir`) holds one folder per installed set and two kinds of
hidden working entries::

    <cache>/
      bluebirds/                 an installed set: votes.csv, truth.csv, metadata.json,
        votes.csv                [features/, source/ (licence, data README), extra tables]
        truth.csv
        metadata.json            provenance: raw files (URL, bytes, sha256), licence,
        source/LICENSE.TXT       citation, conversion, sha256 of every file written
      .downloads/<sha256>        a verified raw file, until the sets reading it are installed
      .downloads/<sha256>.part   an interrupted download, resumed by the next install
      .tmp-<name>-<pid>-<rand>/  a set being converted (renamed to <name>/ when complete)
      .lock                      held by the install running (one at a time per cache)

A set is installed when ``<cache>/<name>/metadata.json`` exists: it is written last in the
temporary folder, which is then renamed into place in one step, so an error, Ctrl-C or
``kill`` never leaves a set that :func:`installed` lists and that is incomplete. Raw files
are checked (size and SHA-256) before any conversion; a file that fails is deleted.

Downloads use the standard library (``urllib``): every source is one static file at an
immutable URL, so resuming needs an HTTP ``Range`` request and nothing more; pooch would
add a dependency for the same result (see :func:`fetch`).
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InputError
from ._convert import CONVERTERS
from ._registry import GITHUB_RAW, REGISTRY, DatasetInfo, RawFile

#: seconds without a byte before a download is given up
TIMEOUT = 60.0
CHUNK = 1 << 16
METADATA = "metadata.json"
LOCK = ".lock"
DOWNLOADS = ".downloads"
_TMP_PREFIX = ".tmp-"
_OLD_PREFIX = ".old-"

#: called with the number of bytes just received
Advance = Callable[[int], None]


# --------------------------------------------------------------------------- places
def cache_dir() -> Path:
    """The cache folder: ``$CROWDWISE_DATA`` when set, else the user data folder
    (platformdirs' ``user_data_dir("crowdwise")`` when platformdirs is installed, else
    ``~/.local/share/crowdwise``). Not created here."""
    env = os.environ.get("CROWDWISE_DATA")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs
    except ImportError:
        return Path.home() / ".local" / "share" / "crowdwise"
    return Path(platformdirs.user_data_dir("crowdwise", appauthor=False))


def base_url() -> str:
    """Where raw files are fetched from: ``$CROWDWISE_MIRROR`` when set (a mirror laid out
    as ``<owner>/<repo>/<commit>/<path>``), else ``https://raw.githubusercontent.com``."""
    return (os.environ.get("CROWDWISE_MIRROR") or GITHUB_RAW).rstrip("/")


def file_url(f: RawFile) -> str:
    """Where ``f`` is fetched from: the mirror when CROWDWISE_MIRROR is set, else its public URL."""
    if os.environ.get("CROWDWISE_MIRROR") or not f.direct_url:
        return f"{base_url()}/{f.relative_url}"
    return f.url


def check_pinned(info: DatasetInfo) -> None:
    """An :class:`InputError` when a raw file of ``info`` has no recorded size and SHA-256:
    the bytes received could not be checked, so the set is not installed."""
    loose = [f for f in info.files if f.fetched and not f.pinned]
    if loose:
        published = f" (the source publishes {loose[0].published_checksum})" if loose[0].published_checksum else ""
        raise InputError(f"data set {info.name!r} cannot be installed yet: its raw file {loose[0].url} has no "
                         f"pinned size and SHA-256 in crowdwise's registry (status: unverified; the entry and "
                         f"its converter were written from the source's documentation){published}",
                         fix=f"`crowdwise install {info.name} --allow-unpinned` installs it anyway and records the "
                         "SHA-256 received (trust on first use; in Python: install(..., allow_unpinned=True))")


def get(name: str) -> DatasetInfo:
    """The registry entry of ``name``, or an :class:`InputError` naming the closest names."""
    if not isinstance(name, str):
        raise InputError(f"a data-set name must be a string, not {type(name).__name__}",
                         fix="pass one of the names `crowdwise datasets` lists")
    try:
        return REGISTRY[name]
    except KeyError:
        pass
    key = name.lower().strip()
    close = [n for n in REGISTRY if key and key in n]  # 'relevance' -> the sets named so
    close = close[:3] or difflib.get_close_matches(key, list(REGISTRY), n=3, cutoff=0.5)
    quoted = [repr(c) for c in close]
    hint = (f"did you mean {', '.join(quoted[:-1]) + ' or ' if len(quoted) > 1 else ''}{quoted[-1]}? "
            if close else "")
    raise InputError(f"unknown data set {name!r}",
                     fix=f"{hint}`crowdwise datasets` lists the {len(REGISTRY)} registered names")


def set_dir(name: str, root: Path | None = None) -> Path:
    return (root or cache_dir()) / get(name).name


def is_installed(name: str, root: Path | None = None) -> bool:
    return (set_dir(name, root) / METADATA).is_file()


def installed(root: Path | None = None) -> list[str]:
    """Names of the installed sets, in registry order."""
    root = root or cache_dir()
    return [n for n in REGISTRY if (root / n / METADATA).is_file()]


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- checks
def check_installed(name: str, *, root: Path | None = None, full: bool = True) -> Path:
    """The folder of an installed set, checked against its ``metadata.json`` (every file
    present with its size, and with ``full`` its SHA-256). An :class:`InputError` says
    how to install or repair it."""
    info = get(name)
    folder = set_dir(info.name, root)
    meta_path = folder / METADATA
    if not meta_path.is_file():
        raise InputError(f"data set {info.name!r} is not installed", source=folder.parent,
                         fix=f"run `crowdwise install {info.name}` (or crowdwise.datasets.install)")
    repair = f"reinstall it with `crowdwise install {info.name} --force`"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        written = meta["written"]
        items = [(str(k), int(v["bytes"]), str(v["sha256"])) for k, v in written.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"the cache entry is corrupt: {METADATA} cannot be read ({exc})",
                         source=meta_path, fix=repair) from None
    for rel, size, sha in items:
        p = folder / rel
        if not p.is_file() or Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise InputError(f"the cache entry is corrupt: {rel} is missing", source=folder, fix=repair)
        if p.stat().st_size != size or (full and sha256_of(p) != sha):
            raise InputError(f"the cache entry is corrupt: {rel} differs from what was installed "
                             "(size or SHA-256)", source=folder, fix=repair)
    return folder


# ------------------------------------------------------------------------ downloads
def _disk_error(exc: OSError, where: Path) -> InputError:
    import errno

    if exc.errno == errno.ENOSPC:
        return InputError("no space left on the device", source=where,
                          fix="free some space, or set CROWDWISE_DATA to a folder on another disk")
    return InputError(f"cannot write the cache ({exc.strerror or exc})", source=where,
                      fix="check the folder's permissions and free space, or set CROWDWISE_DATA")


def fetch(f: RawFile, downloads: Path, advance: Advance = lambda n: None) -> Path:
    """Download ``f`` into ``downloads/<sha256>`` and verify it (size, then SHA-256).

    A verified file already there is reused. An interrupted download leaves
    ``<sha256>.part``, which the next call resumes with an HTTP ``Range`` request (a
    server that ignores it sends the whole file, which restarts the download). A file of
    the wrong size or checksum is deleted. Every failure is an :class:`InputError`.
    """
    final = downloads / f.sha256
    if final.is_file():
        if final.stat().st_size == f.bytes and sha256_of(final) == f.sha256:
            advance(f.bytes)
            return final
        final.unlink()  # not what it should be: fetch it again
    part = downloads / f"{f.sha256}.part"
    have = part.stat().st_size if part.is_file() else 0
    if have > f.bytes:
        part.unlink()
        have = 0
    url = file_url(f)
    if have < f.bytes:
        have = _download(url, f, part, have, advance)
    else:
        advance(have)
    size = part.stat().st_size
    if size < f.bytes:
        raise InputError(f"truncated download: {size} of {f.bytes} bytes received", source=url,
                         fix="run the same command again to resume it; if it stops at the same size, "
                             "the server holds a truncated copy (check CROWDWISE_MIRROR)")
    got = sha256_of(part)
    if size > f.bytes or got != f.sha256:
        part.unlink()
        raise InputError(f"checksum mismatch: the file received ({size} bytes, sha256 {got[:12]}...) is not "
                         f"the pinned one ({f.bytes} bytes, sha256 {f.sha256[:12]}...); nothing was installed",
                         source=url,
                         fix="the server holds a different file: check CROWDWISE_MIRROR (unset it to use "
                             "the original source); if the original source changed, report it to crowdwise")
    os.replace(part, final)
    return final


def fetch_unpinned(f: RawFile, downloads: Path, advance: Advance = lambda n: None) -> tuple[Path, int, str]:
    """Download a raw file whose size and SHA-256 the registry does not hold (trust on first
    use, asked for with ``allow_unpinned``); return ``(path, bytes, sha256)`` of what was
    received, to be recorded in the set's ``metadata.json``.

    When the source publishes an MD5 file (``published_checksum = "md5: <URL>"``, as
    crowd-kit's archives do), it is fetched and compared first: a mismatch deletes the file
    and raises. An interrupted download restarts from zero (no size to resume against).
    """
    url = file_url(f)
    part = downloads / f"unpinned-{hashlib.sha256(url.encode()).hexdigest()[:16]}.part"
    part.unlink(missing_ok=True)
    _download(url, f, part, 0, advance)
    size = part.stat().st_size
    if size == 0:
        part.unlink()
        raise InputError("download failed: the server sent an empty file", source=url,
                         fix="check the URL in `crowdwise datasets info` (and CROWDWISE_MIRROR)")
    md5_url = f.published_checksum[len("md5:"):].strip() if f.published_checksum.startswith("md5:") else ""
    if md5_url.startswith(("http://", "https://")):
        published = _published_md5(md5_url)
        h = hashlib.md5(usedforsecurity=False)
        with open(part, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                h.update(chunk)
        if h.hexdigest() != published:
            part.unlink()
            raise InputError(f"checksum mismatch: the file received has md5 {h.hexdigest()}, the source "
                             f"publishes {published} ({md5_url}); nothing was installed", source=url,
                             fix="the server holds a different file: check CROWDWISE_MIRROR, or try again")
    sha = sha256_of(part)
    final = downloads / sha
    os.replace(part, final)
    return final, size, sha


def _published_md5(url: str) -> str:
    """The first 32-hex-digit token of a published ``.md5`` file."""
    if os.environ.get("CROWDWISE_MIRROR"):  # a mirror holds it as <host>/<path>, like a direct URL
        parts = urlsplit(url)
        url = f"{base_url()}/{parts.netloc}{parts.path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            text = response.read(4096).decode("ascii", "replace")
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        raise InputError(f"cannot read the published checksum ({getattr(exc, 'reason', exc)})", source=url,
                         fix="check the network connection; the raw file was not installed") from None
    m = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    if not m:
        raise InputError("the published checksum file holds no MD5", source=url,
                         fix="report it to crowdwise; the raw file was not installed")
    return m.group(0).lower()


def _download(url: str, f: RawFile, part: Path, have: int, advance: Advance) -> int:
    """Fetch ``url`` into ``part`` (appending from byte ``have`` when the server honours the
    range). Returns the number of bytes now in ``part``."""
    from .. import __version__

    headers = {"User-Agent": f"crowdwise/{__version__} (+data-set installer)"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the range is past the end: start over
            part.unlink(missing_ok=True)
            return _download(url, f, part, 0, advance)
        what = {404: "not found (HTTP 404)", 403: "access refused (HTTP 403)"}.get(
            exc.code, f"HTTP error {exc.code} ({exc.reason})")
        fix = ("the mirror does not hold this file: check CROWDWISE_MIRROR (its layout must be "
               "<owner>/<repo>/<commit>/<path>)" if os.environ.get("CROWDWISE_MIRROR") else
               "the source may have moved or be down for a while; try again later, or set "
               "CROWDWISE_MIRROR to a mirror of the raw files")
        raise InputError(f"download failed: {what}", source=url, fix=fix) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"cannot reach the server ({reason})", source=url,
                         fix="check the network connection (and a proxy: HTTPS_PROXY), or set "
                             "CROWDWISE_MIRROR to a reachable mirror of the raw files") from None
    with response:
        status = getattr(response, "status", 200)
        if have and status != 206:  # the server sent the whole file: restart
            have = 0
        received = have
        try:
            with open(part, "ab" if have else "wb") as out:
                advance(have)
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    advance(len(chunk))
                    if f.pinned and received > f.bytes:  # more than the pinned file: stop, the checksum fails
                        break
        except OSError as exc:
            if isinstance(exc, (socket.timeout, TimeoutError, ConnectionError)):
                raise InputError(f"the download was interrupted ({exc}) after {received} of {f.bytes} bytes",
                                 source=url, fix="run the same command again to resume it") from None
            raise _disk_error(exc, part) from None
        except http.client.HTTPException as exc:
            raise InputError(f"the download was interrupted ({type(exc).__name__}) after {received} of "
                             f"{f.bytes} bytes", source=url, fix="run the same command again to resume it") from None
    return part.stat().st_size


# -------------------------------------------------------------------------- install
def _clean_leftovers(root: Path) -> None:
    """Remove the temporary folders of installs whose process is gone (a ``kill -9``)."""
    for p in root.glob(f"{_TMP_PREFIX}*") if root.is_dir() else ():
        m = re.match(rf"{re.escape(_TMP_PREFIX)}.+-(\d+)-[^-]+$", p.name)
        pid = int(m.group(1)) if m else -1
        if pid == os.getpid():
            continue
        if pid > 0:
            try:
                os.kill(pid, 0)
                continue  # still running: another install
            except ProcessLookupError:
                pass
            except OSError:
                continue
        shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(f"{_OLD_PREFIX}*") if root.is_dir() else ():
        shutil.rmtree(p, ignore_errors=True)


class _RawInputs(Mapping):
    """What a converter receives: ``files[role]`` reads the verified file's bytes when asked
    for, ``files[role + "@path"]`` is its path (for archives read member by member)."""

    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = paths

    def __getitem__(self, key: str) -> bytes | Path:
        if key.endswith("@path"):
            return self._paths[key[: -len("@path")]]
        return self._paths[key].read_bytes()

    def __iter__(self) -> Iterator[str]:
        return iter([*self._paths, *(f"{k}@path" for k in self._paths)])

    def __len__(self) -> int:
        return 2 * len(self._paths)


def _convert(info: DatasetInfo, raw: dict[RawFile, Path], staging: Path) -> dict[str, dict]:
    """Run the converter, write its tables, copy features and source files into
    ``staging``; return ``{relative path: {bytes, sha256}}`` of what was written."""
    inputs = _RawInputs({f.role: raw[f] for f in info.files
                         if f.role in ("votes", "truth", "filenames", "class_names")})
    try:
        tables = CONVERTERS[info.converter](inputs)
    except (ValueError, KeyError, IndexError, UnicodeDecodeError) as exc:
        raise InputError(f"the raw files of {info.name!r} could not be converted ({exc})",
                         fix=f"reinstall with `crowdwise install {info.name} --force`; if it fails "
                             "again, report it to crowdwise") from None
    written: dict[str, dict] = {}

    def put(rel: str, data: bytes) -> None:
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as out:
            out.write(data)
        written[rel] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    for name, data in tables.items():
        put(name, data)
    for f in info.files:
        if f.role == "features":
            put(f"features/{f.name}", raw[f].read_bytes())
        elif f.role == "metadata":
            put(f"source/{f.name}", raw[f].read_bytes())
    return written


def _metadata(info: DatasetInfo, written: dict[str, dict], received: dict[RawFile, tuple[int, str]]) -> dict:
    from .. import __version__

    def source(f: RawFile) -> dict:
        out = {"url": f.url, "repo": f.repo, "commit": f.commit, "path": f.path, "bytes": f.bytes,
               "sha256": f.sha256, "role": f.role, "downloaded": f.fetched}
        if f in received:  # trust on first use: what was received, not a pinned value
            out.update(bytes=received[f][0], sha256=received[f][1], pinned=False)
        return out

    return {
        "name": info.name, "title": info.title,
        "n_tasks": info.n_tasks, "n_workers": info.n_workers, "n_classes": info.n_classes,
        "n_votes": info.n_votes, "n_truth": info.n_truth,
        "licence": info.licence, "citation": info.citation, "conversion": info.conversion,
        "features": info.features, "notes": info.notes,
        "sources": [source(f) for f in info.files],
        "downloaded_from": base_url(),
        "written": written,
        "installed_by": f"crowdwise {__version__}",
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


@contextmanager
def _cache_lock(root: Path) -> Iterator[None]:
    """One install at a time per cache folder (``<cache>/.lock``, an advisory lock where the
    platform has ``fcntl``): two processes never write the same partial download."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(root / LOCK, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def install_one(info: DatasetInfo, *, root: Path, force: bool = False, advance: Advance = lambda n: None,
                allow_unpinned: bool = False) -> bool:
    """Install one set into ``root``; False when it was already installed (no-op).

    ``allow_unpinned``: a raw file with no pinned size and SHA-256 is downloaded anyway
    (checked against the MD5 its source publishes, when there is one) and the SHA-256 of
    what was received is recorded in ``metadata.json`` with ``"pinned": false``."""
    target = root / info.name
    if (target / METADATA).is_file() and not force:
        return False
    if not allow_unpinned:
        check_pinned(info)
    downloads = root / DOWNLOADS
    try:
        downloads.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _disk_error(exc, downloads) from None
    with _cache_lock(root):
        if (target / METADATA).is_file() and not force:  # another process installed it meanwhile
            _remove_if_empty(downloads)
            return False
        return _install_locked(info, root, target, downloads, advance)


def _install_locked(info: DatasetInfo, root: Path, target: Path, downloads: Path, advance: Advance) -> bool:
    _clean_leftovers(root)
    raw: dict[RawFile, Path] = {}
    new: list[Path] = []  # verified files this call fetched: removed again if the install fails
    received: dict[RawFile, tuple[int, str]] = {}  # unpinned files: (bytes, sha256) as received
    try:
        for f in info.files:
            if f.fetched and f not in raw:
                if not f.pinned:
                    raw[f], size, sha = fetch_unpinned(f, downloads, advance)
                    received[f] = (size, sha)
                    new.append(raw[f])
                    continue
                existed = (downloads / f.sha256).is_file()
                raw[f] = fetch(f, downloads, advance)
                if not existed:
                    new.append(raw[f])
        done = _build(info, raw, root, target, received)
        for f in received:  # kept under no name the registry knows: not reused, so not kept
            raw[f].unlink(missing_ok=True)
        _remove_if_empty(downloads)
        return done
    except BaseException:
        for p in new:
            p.unlink(missing_ok=True)
        _remove_if_empty(downloads)
        raise


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _build(info: DatasetInfo, raw: dict[RawFile, Path], root: Path, target: Path,
           received: dict[RawFile, tuple[int, str]] | None = None) -> bool:
    """Convert into a temporary folder of ``root`` and rename it to ``target``."""
    staging = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{info.name}-{os.getpid()}-", dir=root))
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp's 0o700 would make the set private
        try:
            written = _convert(info, raw, staging)
            meta = json.dumps(_metadata(info, written, received or {}), indent=2, ensure_ascii=False) + "\n"
            with open(staging / METADATA, "w", encoding="utf-8") as out:
                out.write(meta)
            _fsync_tree(staging)
        except OSError as exc:
            raise _disk_error(exc, staging) from None
        old = None
        if target.exists() or target.is_symlink():
            old = root / f"{_OLD_PREFIX}{info.name}-{os.getpid()}-{time.time_ns()}"
            os.replace(target, old)
        try:
            os.replace(staging, target)
        except OSError:
            if old is not None and not target.exists():
                os.replace(old, target)  # put the previous set back
                old = None
            if (target / METADATA).is_file():  # another process installed it meanwhile
                return False
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return True


def remove_downloads(infos: Iterable[DatasetInfo], root: Path) -> None:
    """Delete the verified raw files of these sets (they are installed, and their bytes are
    recorded in each set's metadata)."""
    for info in infos:
        for f in info.files:
            if f.pinned:
                (root / DOWNLOADS / f.sha256).unlink(missing_ok=True)
    _remove_if_empty(root / DOWNLOADS)


def progress_display(show: bool | None):
    """A rich progress display on stderr (bytes, speed), or None when not shown: ``show``
    None shows it when stderr is a terminal."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    console = Console(stderr=True)
    if show is None:
        show = console.is_terminal
    if not show:
        return None
    return Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                    console=console, transient=True)

