"""`crowdwise calibrate`: calibrate the AI's scores (temperature or vector scaling) on trusted labels."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._options import AnswersFile, Columns, Duplicates, MetadataPath, NClasses, Strict

#: vote-table suffixes the calibrated votes can be written as (they keep the ai_score column)
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".csv.gz", ".tsv.gz")


def _table_suffix(path: Path) -> str | None:
    """The vote-table suffix of ``path`` (``.csv.gz`` included), or None."""
    name = path.name.lower()
    return next((s for s in sorted(TABLE_SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)


def _stem(path: Path) -> str:
    suffix = _table_suffix(path) or path.suffix
    return path.name[: len(path.name) - len(suffix)] if suffix else path.name


def _default_output(dataset: Path, name: str, folder: Path) -> Path:
    """``<votes>_calibrated.<same format>`` in ``folder`` (beside the votes; the current
    folder for a registered data set); a CSV when the votes are no table (answers.json and
    dense matrices cannot hold a per-vote score)."""
    if dataset.is_dir():
        table = next((dataset / f for f in ("votes.csv", "votes.parquet", "votes.tsv", "votes.csv.gz")
                      if (dataset / f).is_file()), None)
        if table is None or (dataset / "answers.json").is_file():
            return folder / f"{name}_calibrated.csv"
        dataset = table
    suffix = _table_suffix(dataset)
    if suffix is None:
        return folder / f"{name}_calibrated.csv"
    return folder / f"{_stem(dataset)}_calibrated{dataset.name[len(dataset.name) - len(suffix):]}"


def command(
    dataset: Annotated[Path, typer.Argument(help="A vote table (CSV/TSV/Parquet: task,worker,label,ai_score) or a "
                                                 "data-set folder holding one; the AI is one of its workers.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="The calibrated vote table (.csv, .tsv, "
                                                   ".parquet): the same votes, the AI votes' ai_score replaced by "
                                                   "calibrated values. Default: <votes>_calibrated.<same format> "
                                                   "beside the votes.")] = None,
    truth: Annotated[Optional[Path], typer.Option("--truth", "-t", help="Trusted (expert) labels to fit on: CSV "
                                                  "task,label (or a .npy aligned with the tasks). Default: the tasks "
                                                  "that -s validates on the human votes (a truth file of the folder "
                                                  "is not used).")] = None,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="Without --truth: the strategy whose valid "
                                          "labels, on the votes without the AI's, are the trusted ones (every "
                                          "label for a strategy without a validity rule).")] = "PlantNet",
    vector: Annotated[bool, typer.Option("--vector", help="Vector scaling: a temperature and a bias per class "
                                         "(the class the AI voted), instead of one temperature.")] = False,
    scores: Annotated[Optional[Path], typer.Option("--scores", help="The AI's full score vectors (probabilities), a "
                                                   ".npy of shape (AI votes, K): one row per AI vote in the order "
                                                   "the votes are read (a table's row order), one column per class. "
                                                   "Default: the ai_score column (top-1).")] = None,
    ai_worker: Annotated[str, typer.Option("--ai-worker", help="Worker id of the AI.")] = "AI",
    report: Annotated[Optional[Path], typer.Option("--report", help="JSON report: the fitted parameters, NLL and "
                                                   "ECE before and after, the trusted tasks and where they come "
                                                   "from. Default: <output>.calibration.json beside -o.")] = None,
    plot: Annotated[Optional[Path], typer.Option("--plot", help="Reliability diagrams before and after "
                                                 "calibration, as a PNG file (needs matplotlib).")] = None,
    n_bins: Annotated[int, typer.Option("--n-bins", help="Equal-width bins of the ECE and the diagrams.")] = 15,
    theta_score: Annotated[float, typer.Option("--theta-score", help="Report how many AI votes score above it "
                                               "before and after (PlantNet-AIconfident's threshold).")] = 0.7,
    seed: Annotated[int, typer.Option("--seed", help="random_state of -s (tie rule).")] = 0,
    duplicates: Duplicates = "keep",
    columns: Columns = None,
    strict: Strict = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")] = False,
    answers_file: AnswersFile = None,
    metadata_path: MetadataPath = None,
    n_classes: NClasses = None,
) -> None:
    """Calibrate the AI's scores of DATASET on trusted labels and write the calibrated votes.

    Fits temperature scaling (one T; --vector: a temperature and a bias per class, Guo et al.
    2017) of the AI's scores by the negative log-likelihood of trusted labels: the expert
    labels of --truth, or else the tasks that -s (PlantNet) validates from the human votes.
    A top-1 score p of K classes is read as the vector (p on the voted class, (1 - p)/(K - 1)
    elsewhere). Writes the votes with the AI's calibrated ai_score (read by `crowdwise
    aggregate CALIBRATED -s PlantNet-AIconfident`), a JSON report, and with --plot the
    reliability diagrams before and after.
    """
    import json

    import numpy as np

    from .. import io
    from ..calibration import calibrate_ai, reliability_diagram
    from ..errors import InputError
    from ..io import atomic_write, check_output_path, output_set, safe_name
    from ._common import console, input_files, load_dataset_votes, peerannot_files, progress, resolve_dataset

    if output is not None and _table_suffix(output) is None:
        kind = "".join(output.suffixes) or "a suffix-less file"
        raise InputError(f"the calibrated votes must be a vote table, not {kind}", source=output,
                         fix="use .csv, .tsv or .parquet (answers.json cannot hold the ai_score column)")
    if report is not None and report.suffix.lower() != ".json":
        raise InputError("the report is a JSON file", source=report, fix="name it with .json")
    if plot is not None and plot.suffix.lower() != ".png":
        raise InputError("the reliability diagram is a PNG file", source=plot, fix="name it with .png")
    for p, what in ((truth, "truth file"), (scores, "score file")):
        if p is not None and not p.is_file():
            raise InputError(f"{what} not found", source=p, fix="check the path")
    if scores is not None and scores.suffix.lower() != ".npy":
        raise InputError("the score vectors must be a .npy file", source=scores,
                         fix="save them with numpy.save, shape (AI votes, K)")
    if n_bins < 1:
        raise InputError(f"--n-bins {n_bins} must be a positive integer", fix="use 15 (the usual choice)")
    if plot is not None:
        from ..plots import require_matplotlib

        require_matplotlib()
    if truth is None:  # the strategy is checked before the data are read
        from ..aggregate import make_strategy

        make_strategy(strategy, random_state=seed)

    dataset, folder = resolve_dataset(dataset)  # a registered name: read from the cache, write here
    with progress(f"reading {dataset}", quiet=quiet):
        votes = load_dataset_votes(dataset, duplicates=duplicates, strict=strict, columns=columns,
                                   answers_file=answers_file, metadata_path=metadata_path,
                                   **({} if n_classes is None else {"n_classes": n_classes}))
    name = safe_name(votes.name or dataset.stem)
    output = output or _default_output(dataset, name, folder)
    report = report or output.parent / f"{_stem(output)}.calibration.json"
    inputs = input_files(dataset, truth, scores, *peerannot_files(dataset, answers_file, metadata_path))
    planned = [output, report] + ([plot] if plot is not None else [])
    if len({p.resolve() for p in planned}) < len(planned):
        raise InputError("two outputs have the same path", source=str(output),
                         fix="give -o, --report and --plot different paths")
    for p in planned:
        check_output_path(p, inputs)

    truth_arr = io.load_truth(truth, votes) if truth is not None else None
    full = None
    if scores is not None:
        try:
            full = np.load(scores, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise InputError(f"not a readable .npy file ({exc})", source=scores,
                             fix="save the score vectors with numpy.save") from None
    with progress("calibrating the AI's scores", quiet=quiet):
        res = calibrate_ai(votes, truth_arr, method="vector" if vector else "temperature", strategy=strategy,
                           ai_worker=ai_worker, scores=full, n_bins=n_bins, theta_score=theta_score,
                           random_state=seed)
    if truth is not None:
        res.source = f"expert labels of {truth.name}"
    summary = res.to_dict()
    summary["votes"] = str(dataset)
    summary["output"] = str(output)
    figure = reliability_diagram(res.before, res.after, theta_score=theta_score) if plot is not None else None

    with output_set(inputs):
        io.save_votes(res.votes, output)
        with atomic_write(report, "w") as f:
            json.dump(summary, f, indent=2, allow_nan=False)
            f.write("\n")
        if figure is not None:
            from ..plots import to_png

            with atomic_write(plot, "wb") as f:
                f.write(to_png(figure))

    if quiet:
        return
    for line in res.summary():
        console.print(line, highlight=False, soft_wrap=True)
    for p in planned:
        console.print(f"wrote {p}", highlight=False, soft_wrap=True)
