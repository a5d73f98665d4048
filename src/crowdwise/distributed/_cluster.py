"""Cluster start-up: the Dask client a distributed fit runs on.

Without a scheduler address, a :class:`distributed.LocalCluster` of worker *processes* is
started (one thread each, a memory limit per worker), so that one machine runs out of
core: Dask spills partitions to disk above the limit. With an address (``tcp://host:8786``)
the client connects to an existing scheduler (``dask scheduler``, dask-jobqueue,
dask-kubernetes; see ``docs/guide/distributed.md``).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from ..errors import InputError

__all__ = ["require_dask", "start_client", "client_for", "dashboard_link"]


def require_dask() -> None:
    """Raise a clear error when ``dask[distributed]`` is not installed."""
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise InputError("the distributed engine needs dask and distributed, which are not installed",
                         fix='pip install "crowdwise[distributed]"') from None


def parse_memory(limit: str | int | float | None) -> int | str | None:
    """``"2GB"``, ``"500MiB"``, a number of bytes, or None/"auto" (Dask's default)."""
    if limit is None or limit == "auto":
        return "auto"
    if isinstance(limit, (int, float)):
        return int(limit)
    from dask.utils import parse_bytes

    try:
        return int(parse_bytes(str(limit)))
    except (ValueError, TypeError):
        raise InputError(f"memory limit {limit!r} is not a size",
                         fix="write it as 2GB, 1.5GiB, 800MB or a number of bytes") from None


def start_client(scheduler: str | None = None, *, n_workers: int | None = None, memory_limit: Any = None,
                 threads_per_worker: int = 1, processes: bool = True, local_directory: str | None = None,
                 quiet: bool = True) -> Any:
    """A :class:`distributed.Client`: connected to ``scheduler`` when given, else on a new
    ``LocalCluster`` of ``n_workers`` processes (default 2) with ``memory_limit`` each.

    The client owns its local cluster: ``client.close()`` followed by
    ``client.cluster.close()`` (or using it as a context manager through
    :func:`client_for`) stops it.
    """
    require_dask()
    from distributed import Client, LocalCluster

    if scheduler:
        if n_workers is not None or memory_limit is not None:
            raise InputError("--workers and --memory-limit start a local cluster; with --scheduler the "
                             "cluster already exists", fix="give either --scheduler or --workers/--memory-limit")
        try:
            return Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({exc})",
                             fix="check the address (tcp://host:8786) and that `dask scheduler` runs there") from None
    n = 2 if n_workers is None else int(n_workers)
    if n < 1:
        raise InputError(f"--workers {n} is not a number of worker processes", fix="use 1 or more")
    kwargs: dict[str, Any] = {}
    if local_directory is not None:
        kwargs["local_directory"] = local_directory
    cluster = LocalCluster(n_workers=n, threads_per_worker=int(threads_per_worker), processes=processes,
                           memory_limit=parse_memory(memory_limit), dashboard_address=":0",
                           silence_logs=50 if quiet else 30, **kwargs)
    return Client(cluster)


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard address of ``client`` (None when it has none)."""
    try:
        return client.dashboard_link
    except Exception:  # noqa: BLE001 - a cluster without a dashboard
        return None


@contextlib.contextmanager
def client_for(client: Any = None, *, scheduler: str | None = None, n_workers: int | None = None,
               memory_limit: Any = None, announce: bool = False) -> Iterator[Any]:
    """The client to use: ``client`` as given (left open), or one started here (closed,
    with its local cluster, on exit)."""
    if client is not None:
        yield client
        return
    own = start_client(scheduler, n_workers=n_workers, memory_limit=memory_limit)
    if announce:
        link = dashboard_link(own)
        if link:
            print(f"Dask dashboard: {link}", file=sys.stderr)
    try:
        yield own
    finally:
        cluster = getattr(own, "cluster", None)
        own.close()
        if cluster is not None and not scheduler:
            cluster.close()
