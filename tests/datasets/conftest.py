"""Fixtures of the data-set installer tests: a local HTTP mirror of the raw files on
127.0.0.1 and a fresh cache folder, both through the environment variables a user sets
(``CROWDWISE_MIRROR``, ``CROWDWISE_DATA``).

The real raw files are ``../shared/raw-mirror`` beside ``../shared/datasets`` (found
through ``tests/_data.py``); tests that need them skip cleanly when they are absent. Fault
tests build their own small mirrors in ``tmp_path``.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _data import RAW_MIRROR


def require_mirror() -> Path:
    if not (RAW_MIRROR / "MANIFEST.tsv").is_file():
        pytest.skip(f"raw-file mirror not found at {RAW_MIRROR} (../shared/raw-mirror beside the repository)")
    return RAW_MIRROR


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; records every request (path, Range header); honours a simple
    ``Range: bytes=N-`` when the server's ``ranges`` flag is set; ``cut`` (path suffix ->
    bytes) sends a full Content-Length but closes the connection after that many bytes."""

    def log_message(self, *args):  # keep the test output clean
        pass

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Range")))
        cut = next((n for suffix, n in self.server.cut.items() if self.path.endswith(suffix)), None)
        rng = self.headers.get("Range")
        if cut is None and not (rng and self.server.ranges):
            return super().do_GET()
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            return self.send_error(404)
        data = path.read_bytes()
        start = int(rng.split("=")[1].rstrip("-")) if rng and self.server.ranges else 0
        if start >= len(data):
            return self.send_error(416)
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self.wfile.write(data[start:start + cut] if cut is not None else data[start:])
        self.wfile.flush()
        self.close_connection = True


@contextmanager
def serve(directory: Path, *, ranges: bool = False, cut: dict[str, int] | None = None) -> Iterator:
    """Serve ``directory`` on 127.0.0.1 (a free port) in a thread; yields the server, with
    ``base_url`` and the list of ``requests`` it received."""
    handler = functools.partial(Handler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests, server.ranges, server.cut = [], ranges, dict(cut or {})
    server.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def copy_set_files(name: str, dest: Path) -> dict[str, Path]:
    """Copy the raw files of one registered set from the real mirror into ``dest`` (same
    layout); returns {path in the repository: copied file}."""
    from crowdwise.datasets import info

    src = require_mirror()
    out = {}
    for f in info(name).files:
        if not f.fetched:
            continue
        rel = Path(f.repo) / f.commit / f.path
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)
        out[f.path] = dest / rel
    return out


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty cache folder, as CROWDWISE_DATA."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("CROWDWISE_DATA", str(folder))
    return folder


@pytest.fixture
def mirror(cache, monkeypatch):
    """The real raw-file mirror served on 127.0.0.1, as CROWDWISE_MIRROR (with a fresh cache)."""
    with serve(require_mirror()) as server:
        monkeypatch.setenv("CROWDWISE_MIRROR", server.base_url)
        yield server


@pytest.fixture
def serve_dir(cache, monkeypatch):
    """Serve a folder of your own as CROWDWISE_MIRROR: ``serve_dir(path, ranges=, cut=)``."""
    with contextmanager_stack() as stack:
        def start(directory: Path, **kw):
            server = stack.enter_context(serve(directory, **kw))
            monkeypatch.setenv("CROWDWISE_MIRROR", server.base_url)
            return server
        yield start


def contextmanager_stack():
    from contextlib import ExitStack

    return ExitStack()
