"""`crowdwise plot`: the figures of the report, one PNG each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .._constants import DEFAULT_STRATEGIES
from ._options import Columns, Duplicates, Strict


def _figure_list() -> str:
    from ..plots.figures import FIGURES

    return "\n".join(f"{name:17} {spec.description}" for name, spec in FIGURES.items())


def command(
    dataset: Annotated[Optional[Path], typer.Argument(help="A peerannot folder or a votes file (as for "
                                                           "`crowdwise aggregate`).")] = None,
    figures: Annotated[Optional[list[str]], typer.Argument(help="Figure names (see --list), or 'all'.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", file_okay=False,
                                                    help="Folder of the PNG files (created if needed). Default: "
                                                         "the current folder.")] = None,
    old_output: Annotated[Optional[Path], typer.Option("--output", "-o", file_okay=False, hidden=True)] = None,
    truth: Annotated[Optional[Path], typer.Option("--truth", "-t", help="Ground truth, for the 'strategies' "
                                                  "figure. Default: ground_truth.npy or truth.csv of the "
                                                  "data-set folder when present.")] = None,
    strategies: Annotated[str, typer.Option("--strategies", "-s", help="Strategies of the 'strategies' figure, "
                                            "comma-separated.")] = ",".join(DEFAULT_STRATEGIES),
    seeds: Annotated[int, typer.Option("--seeds", help="Repeat each strategy with seeds 0..N-1.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="random_state of the DS and GLAD fits.")] = 0,
    dpi: Annotated[float, typer.Option("--dpi", help="Resolution of the PNG files.")] = 100,
    duplicates: Duplicates = "keep",
    columns: Columns = None,
    strict: Strict = False,
    list_: Annotated[bool, typer.Option("--list", help="List the figure names and exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Write figures of DATASET as PNG files OUT_DIR/<figure>.png, the same figures as in `crowdwise report`.

    Figures: votes-per-task, votes-per-worker, entropy, trace-spam, agreement, glad-ability, confusions, doubt, strategies (needs --truth), or all. `crowdwise plot --list` describes them. Needs matplotlib (pip install "crowdwise\\[report]").
    """  # noqa: E501 (one line per paragraph: the help formatter keeps line breaks)
    from .. import io
    from ..errors import InputError
    from ..io import output_set
    from ._common import input_files
    from ..evaluate.benchmark import check_strategies, split_specs
    from ..plots import require_matplotlib, to_png
    from ..plots.analysis import CrowdAnalysis
    from ..plots.figures import FIGURES, make_figure
    from ._common import console, folder_truth, load_dataset_votes, progress, resolve_dataset
    from ._options import pick_folder

    output = pick_folder("plot", out_dir, old_output, "-o/--output") or Path(".")
    if list_:
        print(_figure_list())
        return
    if seeds < 1 or not dpi > 0:
        raise InputError(f"--seeds must be at least 1 and --dpi positive, got {seeds} and {dpi}",
                         fix="e.g. --seeds 3 --dpi 150")
    names = [n.strip().lower() for f in (figures or []) for n in f.split(",") if n.strip()]
    if dataset is None or not names:
        raise InputError("name the data set and at least one figure",
                         fix=f"crowdwise plot DATASET FIGURE... --out-dir DIR, figures: {', '.join(FIGURES)} or all")
    dataset, _ = resolve_dataset(dataset)  # a registered name: read from the cache
    truth = folder_truth(dataset, truth)  # the folder's ground_truth.npy / truth.csv when -t is not given
    if "all" in names:
        names = [n for n, spec in FIGURES.items() if truth is not None or not spec.needs_truth]
    bad = [n for n in names if n not in FIGURES]
    if bad:
        raise InputError(f"unknown figure {', '.join(map(repr, bad))}",
                         fix=f"use one or more of {', '.join(FIGURES)} (or all); `crowdwise plot --list` describes them")
    names = list(dict.fromkeys(names))
    if truth is None and any(FIGURES[n].needs_truth for n in names):
        raise InputError("figure 'strategies' compares strategies against the truth", fix="add --truth FILE")
    if output.exists() and not output.is_dir():
        raise InputError("is a file", source=output, fix="give --out-dir the folder of the PNG files")
    require_matplotlib()
    specs = [s.strip() for s in split_specs(strategies) if s.strip()]
    if "strategies" in names:
        check_strategies(specs)
    votes = load_dataset_votes(dataset, duplicates=duplicates, strict=strict, columns=columns)
    truth_arr = io.load_truth(truth, votes) if truth is not None else None
    analysis = CrowdAnalysis(votes, truth_arr, strategies=specs, seeds=range(seeds), random_state=seed)
    written = []
    with progress("figures", quiet=quiet, total=len(names)) as advance, output_set(input_files(dataset, truth)):
        for name in names:
            png = to_png(make_figure(name, analysis), dpi=dpi)
            path = output / f"{name}.png"
            with io.atomic_write(path, "wb") as f:
                f.write(png)
            written.append(path)
            advance()
    if not quiet:
        for p in written:
            console.print(f"wrote {p}", soft_wrap=True, markup=False, highlight=False)
