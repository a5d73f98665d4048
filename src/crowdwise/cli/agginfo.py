"""`crowdwise agginfo`: list the aggregation strategies."""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def command(
    name: Annotated[Optional[str], typer.Argument(help="A strategy name: show its parameters, their "
                                                  "defaults and the values each accepts.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="Tab-separated lines instead of a table.")] = False,
) -> None:
    """List every aggregation strategy with a one-line description and its parameters (with NAME:
    that strategy's parameters, defaults and accepted values)."""
    import inspect

    from ..aggregate import available, get_strategy
    from ..aggregate.registry import aliases_of

    def described(info) -> str:
        also = aliases_of(info.name)
        return info.description + (f" Also named: {', '.join(also)}." if also else "")
    from ._common import console

    if name is not None:
        info = get_strategy(name)
        sig = inspect.signature(info.cls.__init__)
        rules = info.rules
        lines = [(p, repr(info.defaults.get(p, sig.parameters[p].default)), rules.get(p, ""))
                 for p in info.cls._param_names()]
        if plain:
            print(f"{info.name}\t{described(info)}")
            for r in lines:
                print("\t".join(r))
            return
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"{info.name}: {described(info)}")
        for c in ("parameter", "default", "accepts"):
            table.add_column(c)
        for r in lines:
            table.add_row(*(escape(c) for c in r))
        console.print(table)
        return

    rows = []
    for info in available():
        sig = inspect.signature(info.cls.__init__)
        params = ", ".join(
            f"{p}={info.defaults.get(p, sig.parameters[p].default)!r}" for p in info.cls._param_names())
        rows.append((info.name, described(info), params))
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
