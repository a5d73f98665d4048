"""`crowdwise datasets`: the registered real data sets (list, one set's entry, its folder)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

ACTIONS = ("list", "info", "path")


def command(
    action: Annotated[Optional[str], typer.Argument(
        help="list (the default): every registered set; info NAME: one set's sources, checksums, licence, "
             "citation and conversion; path NAME: the folder of an installed set.")] = None,
    name: Annotated[Optional[str], typer.Argument(help="A registered data-set name (for info and path).")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Tab-separated lines instead of a table.")] = False,
) -> None:
    """List the registered real data sets: tasks, workers, classes, votes, tasks with a truth,
    licence and whether each is installed (`crowdwise install NAME` downloads one). `crowdwise
    datasets info NAME` shows a set's sources and how it was converted; `crowdwise datasets path
    NAME` prints the folder of an installed set. The cache is $CROWDWISE_DATA, else the user data
    folder; $CROWDWISE_MIRROR replaces https://raw.githubusercontent.com."""
    from .. import datasets
    from ..errors import InputError

    action = action or "list"
    if action not in ACTIONS:
        if name is None and action in {d.name for d in datasets.available()}:
            name, action = action, "info"  # `crowdwise datasets bluebirds` shows its entry
        else:
            raise InputError(f"unknown action {action!r} of `crowdwise datasets`",
                             fix="use `crowdwise datasets`, `crowdwise datasets info NAME` or "
                                 "`crowdwise datasets path NAME`")
    if action == "list":
        if name is not None:
            raise InputError("`crowdwise datasets list` takes no name",
                             fix=f"use `crowdwise datasets info {name}`")
        _list(datasets, plain)
        return
    if name is None:
        raise InputError(f"`crowdwise datasets {action}` needs a data-set name",
                         fix=f"e.g. `crowdwise datasets {action} bluebirds`; `crowdwise datasets` lists them")
    if action == "path":
        print(datasets.path(name))
    else:
        _info(datasets, name)


def _list(datasets, plain: bool) -> None:
    from ._common import console

    have = set(datasets.installed())
    def n(x: int) -> str:
        return str(x) if x else "?"  # 0: not published by the source

    rows = [(d.name, n(d.n_tasks), n(d.n_workers), n(d.n_classes), n(d.n_votes), n(d.n_truth),
             "features" if d.features else "", d.licence_short, "yes" if d.name in have else "no", d.status)
            for d in datasets.available()]
    header = ("name", "tasks", "workers", "classes", "votes", "truth", "extra", "licence", "installed", "status")
    if plain:
        for r in (header, *rows):
            print("\t".join(r))
        return
    from rich import box
    from rich.table import Table

    table = Table(title="Registered data sets", caption=f"cache: {datasets.cache_dir()}", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    shown = ("name", "tasks", "workers", "classes", "votes", "licence", "installed")  # all: --plain
    for col in shown:
        numeric = col in ("tasks", "workers", "classes", "votes", "truth")
        table.add_column(col, justify="right" if numeric else "left", no_wrap=col != "licence",
                         overflow="fold", min_width=7 if col == "licence" else None)
    for r in rows:
        cells = dict(zip(header, r))
        if cells["status"] != "tested" and cells["installed"] == "no":
            cells["installed"] = "unverified"  # not installable yet: no pinned checksum
        table.add_row(*(cells[col] for col in shown))
    console.print(table)
    console.print("`crowdwise datasets info NAME` for a set's sources and citation; "
                  "`crowdwise install NAME` (or --all) to download it. status: tested = installed end to end "
                  "from its pinned raw files; unverified = entry and converter written from the source's "
                  "format, bytes never fetched, no checksum pinned (not installable yet).")


def _info(datasets, name: str) -> None:
    from rich.markup import escape

    from ._common import console

    d = datasets.info(name)
    where = (str(datasets.cache_dir() / d.name) if d.name in datasets.installed() else
             f"not installed (`crowdwise install {d.name}`)")
    lines = [
        ("name", d.name), ("title", d.title),
        ("size", f"{d.n_tasks} tasks, {d.n_workers} workers, {d.n_classes} classes, {d.n_votes} votes, "
                 f"truth for {d.n_truth} tasks"),
        ("licence", d.licence), ("citation", d.citation), ("conversion", d.conversion),
    ]
    if d.features:
        lines.append(("features", d.features))
    if d.notes:
        lines.append(("notes", d.notes))
    lines.append(("status", d.status))
    lines.append(("installed", where))
    for key, value in lines:
        console.print(f"[bold]{key}[/bold]: {escape(value)}", soft_wrap=True)
    console.print("[bold]sources[/bold] (role, bytes, sha256, URL):")
    for f in d.files:
        note = "" if f.fetched else " (recorded, not downloaded)"
        if not f.pinned:
            note += " (size and sha256 not pinned" + (f"; published: {f.published_checksum}" if f.published_checksum
                                                      else "") + ")"
        console.print(f"  {f.role}\t{f.bytes or '?'}\t{f.sha256 or '?'}\t{escape(f.url)}{escape(note)}",
                      soft_wrap=True, highlight=False)
