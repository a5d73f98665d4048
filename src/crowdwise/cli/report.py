"""`crowdwise report`: one self-contained HTML page about a data set."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .._constants import DEFAULT_STRATEGIES
from ._options import Columns, Duplicates, Strict


def command(
    dataset: Annotated[Path, typer.Argument(help="A peerannot folder (answers.json + metadata.json) or a votes "
                                                 "file: CSV/TSV/Parquet (task,worker,label) or answers.json.")],
    output: Annotated[Path, typer.Option("--output", "-o", dir_okay=False,
                                         help="The HTML file to write (e.g. report.html).")],
    truth: Annotated[Optional[Path], typer.Option("--truth", "-t", help="Ground truth (.npy aligned with the "
                                                  "tasks, or CSV/Parquet task,label): adds the strategies "
                                                  "compared. Default: ground_truth.npy or truth.csv of the "
                                                  "data-set folder when present.")] = None,
    strategies: Annotated[str, typer.Option("--strategies", "-s", help="Strategies compared against the truth, "
                                            "comma-separated (ck:<class> for crowd-kit's, when installed).")]
    = ",".join(DEFAULT_STRATEGIES),
    seeds: Annotated[int, typer.Option("--seeds", help="Repeat each strategy with seeds 0..N-1.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="random_state of the DS and GLAD fits behind the worker "
                                      "scores.")] = 0,
    top: Annotated[int, typer.Option("--top", help="Rows of the table of tasks most in doubt.")] = 20,
    dpi: Annotated[float, typer.Option("--dpi", help="Resolution of the embedded figures.")] = 100,
    duplicates: Duplicates = "keep",
    columns: Columns = None,
    strict: Strict = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, print nothing.")] = False,
) -> None:
    """Write one self-contained HTML page about DATASET, to send to colleagues.

    Contents: summary (tasks, workers, classes, votes, Krippendorff's alpha), histograms of votes per task and per worker, task entropy, worker scores (DS trace vs spam score, agreement, GLAD ability), confusion matrices of the most and least reliable workers, the tasks most in doubt and, with --truth, the strategies compared (accuracy, time).

    Figures are embedded as PNG, the style inline: the file opens offline and can be mailed. Needs matplotlib (pip install "crowdwise\\[report]").
    """  # noqa: E501 (one line per paragraph: the help formatter keeps line breaks)
    from .. import io
    from ..errors import InputError
    from ..evaluate.benchmark import check_strategies, split_specs
    from ..plots import require_matplotlib
    from ..plots.analysis import CrowdAnalysis
    from ..plots.report import write_report
    from ..io import check_output_path, output_set
    from ._common import console, err_console, folder_truth, input_files, load_dataset_votes, resolve_dataset

    require_matplotlib()
    if output.exists() and output.is_dir():
        raise InputError("is a folder", source=output, fix="give -o the HTML file to write, e.g. -o report.html")
    if seeds < 1 or top < 1 or not dpi > 0:
        raise InputError(f"--seeds and --top must be at least 1 and --dpi positive, got {seeds}, {top} and {dpi}",
                         fix="e.g. --seeds 3 --top 20 --dpi 100")
    specs = [s.strip() for s in split_specs(strategies) if s.strip()]
    dataset, _ = resolve_dataset(dataset)  # a registered name: read from the cache
    truth = folder_truth(dataset, truth)  # the folder's ground_truth.npy / truth.csv when -t is not given
    if truth is not None:
        if not specs:
            raise InputError("no strategy to compare", fix="give -s MV,DS (or leave -s out for the default)")
        check_strategies(specs)
        if not truth.exists():
            raise InputError("file not found", source=truth, fix="check the path of --truth")
    inputs = input_files(dataset, truth)
    check_output_path(output, inputs)
    votes = load_dataset_votes(dataset, duplicates=duplicates, strict=strict, columns=columns)
    truth_arr = io.load_truth(truth, votes) if truth is not None else None
    analysis = CrowdAnalysis(votes, truth_arr, strategies=specs, seeds=range(seeds), random_state=seed)

    if quiet:
        with output_set(inputs):
            write_report(output, analysis, n_doubt=top, dpi=dpi)
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=not err_console.is_terminal) as prog:
        tid = prog.add_task("report", total=None)

        def on_step(done: int, total: int, step: str) -> None:
            prog.update(tid, completed=done, total=total, description=f"report: {step}")

        with output_set(inputs):
            write_report(output, analysis, n_doubt=top, dpi=dpi, progress=on_step)
    alpha = analysis.alpha
    console.print(f"{votes!r}", markup=False, highlight=False)
    if alpha == alpha:
        console.print(f"Krippendorff's alpha (nominal): {alpha:.4f}")
    console.print(f"wrote {output}", soft_wrap=True, markup=False, highlight=False)
