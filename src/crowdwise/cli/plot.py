"""`crowdwise plot`: the figures of the report, one PNG each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .._constants import DEFAULT_STRATEGIES
from ._options import Columns, Duplicates, Strict


def _figure_list() -> str:
    from ..plots.figures import FIGURES
    from ..plots.thesis import THESIS_FIGURES

    specs = {**FIGURES, **THESIS_FIGURES}
    return "\n".join(f"{name:17} {spec.description}" for name, spec in specs.items())


def _all_names() -> list[str]:
    from ..plots.figures import FIGURES
    from ..plots.thesis import THESIS_FIGURES

    return [*FIGURES, *THESIS_FIGURES]


def command(
    dataset: Annotated[Optional[Path], typer.Argument(help="A peerannot folder or a votes file (as for "
                                                           "`crowdwise aggregate`).")] = None,
    figures: Annotated[Optional[list[str]], typer.Argument(help="Figure names (see --list), or 'all'.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", file_okay=False,
                                                    help="Folder of the PNG files (created if needed). Default: "
                                                         "the current folder.")] = None,
    old_output: Annotated[Optional[Path], typer.Option("--output", "-o", file_okay=False, hidden=True)] = None,
    truth: Annotated[Optional[Path], typer.Option("--truth", "-t", help="Ground truth, for the 'strategies' "
                                                  "and 'accuracy-classes' figures (and the colours of "
                                                  "'entropy-waum'). Default: ground_truth.npy or truth.csv of the "
                                                  "data-set folder when present.")] = None,
    strategies: Annotated[str, typer.Option("--strategies", "-s", help="Strategies of the 'strategies' and "
                                            "'accuracy-classes' figures, comma-separated.")] = ",".join(DEFAULT_STRATEGIES),
    seeds: Annotated[int, typer.Option("--seeds", help="Repeat each strategy with seeds 0..N-1.")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="random_state of the DS and GLAD fits.")] = 0,
    dpi: Annotated[float, typer.Option("--dpi", help="Resolution of the PNG files.")] = 100,
    waum: Annotated[Optional[Path], typer.Option("--waum", dir_okay=False,
                                                 help="WAUM score file of the 'entropy-waum' and 'worst-waum' "
                                                      "figures: identification/waum.csv (or waum.npy) written by "
                                                      "`crowdwise identify -s waum`.")] = None,
    n_images: Annotated[int, typer.Option("--n-images", help="'worst-waum': images per class (at most 30 "
                                          "classes: those whose lowest WAUM is lowest).")] = 8,
    group_by: Annotated[str, typer.Option("--group-by", help="'worst-waum': the class of a task is its majority "
                                          "vote (mv) or the class folder of its image (folder: "
                                          "train/<class>/).")] = "mv",
    duplicates: Duplicates = "keep",
    columns: Columns = None,
    strict: Strict = False,
    list_: Annotated[bool, typer.Option("--list", help="List the figure names and exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Write figures of DATASET as PNG files OUT_DIR/<figure>.png, the same figures as in `crowdwise report`.

    Figures: votes-per-task, votes-per-worker, entropy, trace-spam, agreement, glad-ability, confusions, doubt, strategies (needs --truth), contributions, user-weights, or all (every figure of this list). `crowdwise plot --list` describes them. Needs matplotlib (pip install "crowdwise\\[report]").

    Figures of Lefort's thesis (not in 'all'): accuracy-classes (accuracy against the share of classes retrieved, one point per strategy of -s, a task without a valid label counting as wrong; needs --truth; Fig. 4.16), entropy-waum (vote entropy against WAUM per task, coloured by whether the majority vote is the truth when it is known; needs --waum; Fig. 2.5), worst-waum (the --n-images images of lowest WAUM of each class, DATASET a peerannot folder with train/<class>/<name>-<task>.<ext> images; needs --waum; Figs. 2.11, 2.14, 3.8).
    """  # noqa: E501 (one line per paragraph: the help formatter keeps line breaks)
    from .. import io
    from ..errors import InputError
    from ..io import output_set
    from ._common import input_files
    from ..evaluate.benchmark import check_strategies, split_specs
    from ..plots import require_matplotlib, to_png
    from ..plots.analysis import CrowdAnalysis
    from ..plots.figures import FIGURES, make_figure
    from ..plots.thesis import THESIS_FIGURES, read_task_score, thesis_figure
    from ._common import console, folder_truth, load_dataset_votes, progress, resolve_dataset
    from ._options import pick_folder

    output = pick_folder("plot", out_dir, old_output, "-o/--output") or Path(".")
    if list_:
        print(_figure_list())
        return
    if seeds < 1 or not dpi > 0:
        raise InputError(f"--seeds must be at least 1 and --dpi positive, got {seeds} and {dpi}",
                         fix="e.g. --seeds 3 --dpi 150")
    if n_images < 1 or group_by not in ("mv", "folder"):
        raise InputError(f"--n-images must be at least 1 and --group-by mv or folder, got {n_images} and "
                         f"{group_by!r}", fix="e.g. --n-images 8 --group-by mv")
    names = [n.strip().lower() for f in (figures or []) for n in f.split(",") if n.strip()]
    if dataset is None or not names:
        raise InputError("name the data set and at least one figure",
                         fix=f"crowdwise plot DATASET FIGURE... --out-dir DIR, figures: {', '.join(_all_names())} "
                             "or all")
    dataset, _ = resolve_dataset(dataset)  # a registered name: read from the cache
    truth = folder_truth(dataset, truth)  # the folder's ground_truth.npy / truth.csv when -t is not given
    if "all" in names:
        names = [n for n, spec in FIGURES.items() if truth is not None or not spec.needs_truth]
    bad = [n for n in names if n not in FIGURES and n not in THESIS_FIGURES]
    if bad:
        raise InputError(f"unknown figure {', '.join(map(repr, bad))}",
                         fix=f"use one or more of {', '.join(_all_names())} (or all); `crowdwise plot --list` and "
                             "`crowdwise plot --help` describe them")
    names = list(dict.fromkeys(names))
    spec_of = {**FIGURES, **THESIS_FIGURES}
    if truth is None and any(spec_of[n].needs_truth for n in names):
        which = next(n for n in names if spec_of[n].needs_truth)
        raise InputError(f"figure {which!r} compares strategies against the truth", fix="add --truth FILE")
    thesis = [n for n in names if n in THESIS_FIGURES]
    if waum is None and any(THESIS_FIGURES[n].needs_waum for n in thesis):
        which = next(n for n in thesis if THESIS_FIGURES[n].needs_waum)
        raise InputError(f"figure {which!r} draws the WAUM of each task",
                         fix="add --waum FILE (identification/waum.csv, written by crowdwise identify -s waum)")
    if waum is not None and not waum.is_file():
        raise InputError("WAUM file not found", source=waum,
                         fix="give the waum.csv (or waum.npy) crowdwise identify -s waum wrote")
    image_root = dataset if dataset.is_dir() else dataset.parent  # a folder, or its answers.json
    if "worst-waum" in names and not (image_root / "train").is_dir():
        raise InputError("figure 'worst-waum' shows the training images, and there is no train/ folder",
                         source=image_root,
                         fix="give a peerannot folder with train/<class>/<name>-<task>.<ext> images")
    if output.exists() and not output.is_dir():
        raise InputError("is a file", source=output, fix="give --out-dir the folder of the PNG files")
    require_matplotlib()
    specs = [s.strip() for s in split_specs(strategies) if s.strip()]
    if "strategies" in names or "accuracy-classes" in names:
        check_strategies(specs)
    votes = load_dataset_votes(dataset, duplicates=duplicates, strict=strict, columns=columns)
    truth_arr = io.load_truth(truth, votes) if truth is not None else None
    analysis = CrowdAnalysis(votes, truth_arr, strategies=specs, seeds=range(seeds), random_state=seed)
    waum_arr = read_task_score(waum, votes, "waum") if waum is not None else None
    images = io.load_image_folder(image_root, votes) if "worst-waum" in names else None
    written = []
    with progress("figures", quiet=quiet, total=len(names)) as advance, \
            output_set(input_files(dataset, truth, waum)):
        for name in names:
            if name in THESIS_FIGURES:
                fig, _ = thesis_figure(name, votes, truth=truth_arr, waum=waum_arr, images=images, strategies=specs,
                                       seeds=range(seeds), n_images=n_images, group_by=group_by, random_state=seed)
            else:
                fig = make_figure(name, analysis)
            png = to_png(fig, dpi=dpi)
            path = output / f"{name}.png"
            with io.atomic_write(path, "wb") as f:
                f.write(png)
            written.append(path)
            advance()
    if not quiet:
        for p in written:
            console.print(f"wrote {p}", soft_wrap=True, markup=False, highlight=False)
