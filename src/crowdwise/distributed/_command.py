"""`crowdwise aggregate --engine dask`: what the verb does on a Dask cluster.

The verb module (``crowdwise.cli.aggregate``) parses the options and calls
:func:`aggregate_command` when ``--engine dask`` is given; the in-memory path never imports
Dask. Progress and summary go to the terminal as the in-memory verb prints them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from ..errors import InputError

ENGINES = ("memory", "dask")


def check_engine_options(engine: str, *, scheduler: Optional[str], workers: Optional[int],
                         memory_limit: Optional[str]) -> None:
    """Refuse an unknown engine, and the Dask options without ``--engine dask``."""
    if engine not in ENGINES:
        raise InputError(f"--engine {engine!r} is not an engine", fix="use --engine memory or --engine dask")
    if engine == "memory" and (scheduler or workers is not None or memory_limit is not None):
        raise InputError("--scheduler, --workers and --memory-limit run the aggregation on Dask",
                         fix="add --engine dask")


def _input_of(dataset: Path) -> Any:
    """A folder of Parquet parts as it is; one Parquet or CSV file as a Dask DataFrame."""
    if dataset.is_dir():
        return dataset
    if not dataset.exists():
        raise InputError("not found", source=dataset, fix="give a folder of Parquet parts (or a .parquet/.csv file)")
    import dask.dataframe as dd

    suffix = dataset.suffix.lower()
    if suffix == ".parquet":
        return dd.read_parquet(str(dataset))
    if suffix == ".csv":
        return dd.read_csv(str(dataset), dtype={"label": object}, blocksize="64MB")
    raise InputError(f"--engine dask reads a folder of Parquet parts, or a .parquet or .csv file, not {suffix!r}",
                     source=dataset, fix="convert the votes to Parquet parts (see docs/guide/distributed.md)")


def aggregate_command(dataset: Path, *, strategy: str, out_dir: Optional[Path], output: Optional[Path], seed: int,
                   scheduler: Optional[str], workers: Optional[int], memory_limit: Optional[str], quiet: bool,
                   n_classes: Optional[int] = None, unsupported: dict | None = None) -> None:
    """Fit ``strategy`` on Dask and write its Parquet parts into ``out_dir`` (default
    ``labels/labels_<data>_<strategy>/`` beside the input)."""
    from rich.console import Console

    from ..aggregate import fit_progress, make_strategy
    from ..io import output_stem, safe_name
    from . import aggregate, dashboard_link, require_dask, start_client

    console, err_console = Console(), Console(stderr=True)

    require_dask()
    for flag, given in (unsupported or {}).items():
        if given:
            raise InputError(f"{flag} is not available with --engine dask",
                             fix=f"leave out {flag}, or run with --engine memory")
    if output is not None:
        raise InputError("--engine dask writes a folder of Parquet parts, not one file",
                         fix="give the folder with --out-dir instead of -o")
    if strategy == "auto":
        strategy = "OneCoinDS"
    model = make_strategy(strategy, random_state=seed)
    dataset = Path(dataset)
    name = safe_name(dataset.stem if dataset.is_file() else dataset.name)
    if out_dir is None:
        out_dir = dataset.resolve().parent / "labels" / f"labels_{name}_{output_stem(strategy)}"
    out = Path(out_dir).resolve()
    src = dataset.resolve()
    if out == src or src in out.parents or (src.is_file() and out == src.parent):
        raise InputError("the output folder is the input or inside it", source=out_dir,
                         fix="write the parts to another folder (--out-dir)")
    data = _input_of(dataset)
    t0 = time.perf_counter()
    client = start_client(scheduler, n_workers=workers, memory_limit=memory_limit)
    try:
        link = dashboard_link(client)
        if link and not quiet:
            err_console.print(f"Dask dashboard: {link}")
        classes = None if n_classes is None else list(range(n_classes))
        if quiet:
            result = aggregate(data, model, client=client, out_dir=out, classes=classes)
        else:
            from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            total = getattr(model, "max_iter", None)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                          TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                          console=err_console, transient=True, disable=not err_console.is_terminal) as prog:
                tid = prog.add_task(f"{strategy} on Dask", total=total, info="")

                def on_iteration(iteration: int, n: int, objective: float | None) -> None:
                    info = f"iteration {iteration}" + ("" if objective is None else f", objective {objective:.6g}")
                    prog.update(tid, completed=iteration, total=n, info=info)

                with fit_progress(on_iteration):
                    result = aggregate(data, model, client=client, out_dir=out, classes=classes)
        elapsed = time.perf_counter() - t0
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and not scheduler:
            cluster.close()
    if quiet:
        return
    console.print(f"[bold]{model!r}[/] on Dask: {result.n_votes_:,} votes, {result.n_tasks_:,} tasks, "
                  f"{elapsed:.2f} s")
    if getattr(result, "n_iter_", None) is not None:
        console.print(f"iterations: {result.n_iter_} (converged: {getattr(result, 'converged_', None)})")
    console.print(f"wrote {len(result.written_)} Parquet parts to {out}")
