"""Helpers shared by the CLI verbs: console, progress bars."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


@contextmanager
def progress(description: str, *, quiet: bool = False, total: float | None = None) -> Iterator:
    """A rich progress bar (spinner when ``total`` is None); silent when ``quiet``.

    Yields a callable ``advance(n=1)``.
    """
    if quiet:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True) as prog:
        tid = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(tid, n)
