"""`crowdwise agginfo`: list the aggregation strategies."""

from __future__ import annotations

from typing import Annotated

import typer


def command(
    plain: Annotated[bool, typer.Option("--plain", help="Tab-separated lines instead of a table.")] = False,
) -> None:
    """List every aggregation strategy with a one-line description and its parameters."""
    import inspect

    from ..aggregate import available
    from ._common import console

    rows = []
    for info in available():
        sig = inspect.signature(info.cls.__init__)
        params = ", ".join(
            f"{p}={info.defaults.get(p, sig.parameters[p].default)!r}" for p in info.cls._param_names())
        rows.append((info.name, info.description, params))
    if plain:
        for r in rows:
            print("\t".join(r))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Aggregation strategies (use as -s NAME or -s 'NAME\\[param=value]')")
    table.add_column("name", style="bold cyan", no_wrap=True)
    table.add_column("description")
    table.add_column("parameters", style="dim")
    for r in rows:
        table.add_row(*(escape(c) for c in r))
    console.print(table)
