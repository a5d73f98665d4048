"""`crowdwise evaluate`: score a labels file against the truth."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer


#: files that make a folder a data set for `io.load_votes`
VOTE_FILES = ("answers.json", "votes.csv", "votes.parquet", "votes.tsv", "votes.csv.gz")


def command(
    labels: Annotated[Path, typer.Argument(help="Labels written by `crowdwise aggregate`: the .npy (hard or soft) "
                                                "or the CSV/Parquet keyed by task ids.")],
    truth: Annotated[Path, typer.Option("--truth", "-t", help="Ground truth: .npy aligned with the tasks, or a "
                                        "CSV/Parquet with columns task,label.")],
    dataset: Annotated[Optional[Path], typer.Option("--dataset", "-d", help="The data set the labels come from, "
                                                    "to align a .npy with task ids. Default: the folder above "
                                                    "labels/ when the file sits there.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the scores as JSON.")] = False,
    invalid_as_wrong: Annotated[bool, typer.Option(
        "--invalid-as-wrong", help="Count a task with a truth but no valid label (a validity rule such as "
                                   "TwoThird or PlantNet left it invalid) as wrong, as the Pl@ntNet study does, "
                                   "instead of leaving it out; the accuracy on valid tasks is printed too.")] = False,
) -> None:
    """Print accuracy, macro precision/recall, share of classes retrieved and share of
    tasks kept as valid, against a truth file (tasks without truth are not scored).
    With --invalid-as-wrong, a task left without a valid label counts as wrong."""
    from .. import io
    from ..errors import InputError
    from ..evaluate import align_labels_by_id, evaluate_labels
    from ._common import console

    for p in (labels, truth):
        if not p.exists():
            raise InputError("file not found", source=p, fix="check the path")
    keyed = labels.suffix.lower() in (".csv", ".tsv", ".parquet")
    truth_keyed = truth.suffix.lower() != ".npy"
    if keyed and truth_keyed:
        pred_df = io.read_table_frame(labels)
        truth_df = io.read_table_frame(truth)
        lab, tru, valid, k = align_labels_by_id(pred_df, truth_df, sources=(labels, truth))
    else:
        if dataset is None and labels.parent.name == "labels":
            guess = labels.parent.parent  # peerannot's place; not aggregate-deep's -o folder, which holds no votes
            if any((guess / f).is_file() for f in VOTE_FILES):
                dataset = guess
        votes = io.load_votes(dataset) if dataset is not None else None
        if votes is None and truth_keyed:
            raise InputError("a .npy of labels has no task ids to match the truth table", source=labels,
                             fix="pass --dataset DATASET, or evaluate the CSV written beside it")
        lab, valid = io.read_labels(labels, votes)
        tru = io.load_truth(truth, votes) if votes is not None else io.load_truth(truth, None)
        k = votes.n_classes if votes is not None else None
    r = evaluate_labels(lab, tru, valid, n_classes=k, invalid_as_wrong=invalid_as_wrong)
    if r.n_truth == 0 or r.n_evaluated == 0:
        raise InputError(f"none of the {r.n_truth} task(s) with a truth has a valid label in {labels.name}",
                         source=truth,
                         fix="check that the labels and the truth come from the same data set")
    if as_json:
        print(json.dumps(r.as_dict(), indent=2, allow_nan=False))
        return
    from rich.table import Table

    table = Table(title=f"{labels.name} against {truth.name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if invalid_as_wrong:
        table.add_row("accuracy (invalid counted wrong)", f"{r.accuracy:.4f}")
        table.add_row("accuracy on valid tasks", f"{r.accuracy_valid:.4f}")
    else:
        table.add_row("accuracy", f"{r.accuracy:.4f}")
    table.add_row("macro precision", f"{r.macro_precision:.4f}")
    table.add_row("macro recall", f"{r.macro_recall:.4f}")
    table.add_row("classes retrieved", f"{r.classes_retrieved:.4f}")
    table.add_row("tasks kept as valid", f"{r.share_valid:.4f}")
    table.add_row("tasks scored / with truth", f"{r.n_evaluated:,} / {r.n_truth:,}")
    console.print(table)
