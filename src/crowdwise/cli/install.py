"""`crowdwise install`: download, verify and convert registered data sets (peerannot's verb)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ._options import Quiet


def command(
    names: Annotated[Optional[list[str]], typer.Argument(
        help="Registered data-set names (`crowdwise datasets` lists them).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Install every registered set that can be installed "
                                                     "(status tested; the unverified ones are named and skipped).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Reinstall a set already installed (the new copy "
                                                        "replaces the old one once complete).")] = False,
    allow_unpinned: Annotated[bool, typer.Option(
        "--allow-unpinned", help="Also install a set whose raw files have no pinned SHA-256 in the registry "
                                 "(status unverified): checked against the MD5 its source publishes when there "
                                 "is one, and the SHA-256 received is recorded in its metadata.json "
                                 "(trust on first use).")] = False,
    quiet: Quiet = False,
) -> None:
    """Download registered real data sets from their original public sources (pinned
    commits), verify every file's SHA-256, convert them to votes.csv and truth.csv and cache
    them ($CROWDWISE_DATA, else the user data folder; $CROWDWISE_MIRROR replaces
    https://raw.githubusercontent.com). A set already installed is left as it is unless
    --force. Prints each set's licence and citation."""
    from rich.markup import escape

    from .. import datasets
    from ..errors import InputError
    from ._common import console

    wanted = list(names or [])
    skipped = []
    if all_:
        wanted += [d.name for d in datasets.available() if d.status == "tested"]
        skipped = [d.name for d in datasets.available() if d.status != "tested" and d.name not in wanted]
    if not wanted:
        raise InputError("no data-set name given", fix="name one or more (`crowdwise datasets` lists them), or --all")
    entries = [datasets.info(n) for n in wanted]  # every name checked before anything is fetched
    entries = list({d.name: d for d in entries}.values())
    before = set(datasets.installed())
    paths = datasets.install([d.name for d in entries], force=force, progress=False if quiet else None,
                             allow_unpinned=allow_unpinned)
    if quiet:
        return
    if skipped:
        console.print(f"skipped (unverified, no pinned checksum): {', '.join(skipped)}", soft_wrap=True,
                      highlight=False)
    for d, path in zip(entries, paths):
        if d.name in before and not force:
            console.print(f"{d.name}: already installed in {escape(str(path))} (--force reinstalls it)",
                          soft_wrap=True, highlight=False)
            continue
        console.print(f"{d.name}: installed in {escape(str(path))} ({d.n_tasks} tasks, {d.n_workers} workers, "
                      f"{d.n_votes} votes)", soft_wrap=True, highlight=False)
        if d.status != "tested":
            import json

            meta = json.loads((path / "metadata.json").read_text(encoding="utf-8"))
            for src in meta["sources"]:
                if src.get("pinned") is False:
                    console.print(f"  warning: not pinned in the registry; recorded sha256 {src['sha256']} "
                                  f"({src['bytes']} bytes) of {escape(src['url'])}", soft_wrap=True, highlight=False)
        console.print(f"  licence: {escape(d.licence)}", soft_wrap=True, highlight=False)
        console.print(f"  cite: {escape(d.citation)}", soft_wrap=True, highlight=False)
