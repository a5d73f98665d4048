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
    taxonomy: Annotated[Optional[Path], typer.Option(
        "--taxonomy", help="Score the labels of `crowdwise aggregate --taxonomy` (a table with a 'rank' column) per "
                           "rank: a genus label is right when the true species is in that genus. Prints the tasks "
                           "and the accuracy of each rank, the accuracy at the label's rank and the species "
                           "accuracy (coarser labels counted as not species-correct).")] = None,
) -> None:
    """Print accuracy, macro precision/recall, share of classes retrieved and share of
    tasks kept as valid, against a truth file (tasks without truth are not scored).
    With --invalid-as-wrong, a task left without a valid label counts as wrong."""
    from .. import io
    from ..errors import InputError
    from ..evaluate import align_labels_by_id, evaluate_labels
    from ._common import console

    for p in (labels, truth, *([taxonomy] if taxonomy is not None else [])):
        if not p.exists():
            raise InputError("file not found", source=p, fix="check the path")
    if taxonomy is not None:
        _taxonomy_scores(labels, truth, dataset, taxonomy, as_json=as_json, invalid_as_wrong=invalid_as_wrong)
        return
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


def _taxonomy_scores(labels: Path, truth: Path, dataset: Optional[Path], taxonomy: Path, *, as_json: bool,
                     invalid_as_wrong: bool) -> None:
    """`evaluate --taxonomy`: per-rank scores of a labels table with a 'rank' column."""
    from .. import io
    from .._lazy import pd
    from ..errors import InputError
    from ..evaluate.taxonomy import align_taxon_labels, evaluate_taxonomy
    from ..io.taxonomy import Taxonomy
    from ._common import console

    if labels.suffix.lower() not in (".csv", ".tsv", ".parquet"):
        raise InputError("a labels .npy holds no ranks", source=labels,
                         fix="evaluate the table written by `crowdwise aggregate --taxonomy` (.csv beside the .npy)")
    tax = Taxonomy.from_csv(taxonomy)
    pred = io.read_table_frame(labels, text_columns=("task", "label", "rank"))
    if truth.suffix.lower() == ".npy":
        if dataset is None and labels.parent.name == "labels" and any(
                (labels.parent.parent / f).is_file() for f in VOTE_FILES):
            dataset = labels.parent.parent
        if dataset is None:
            raise InputError("a truth .npy has no task ids to match the labels table", source=truth,
                             fix="pass --dataset DATASET, or give the truth as a table task,label")
        votes = io.load_votes(dataset)
        idx = io.load_truth(truth, votes)
        names = pd.Series(votes.classes[idx.clip(0)].astype(str) if votes.n_classes else [""] * idx.size)
        true = pd.DataFrame({"task": votes.task_ids, "label": names.where(idx >= 0, "")})
    else:
        true = io.read_table_frame(truth, text_columns=("task", "label"))
    lab, rk, tru, ids = align_taxon_labels(pred, true, sources=(labels, truth))
    r = evaluate_taxonomy(lab, rk, tru, tax, invalid_as_wrong=invalid_as_wrong, task_ids=ids)
    if r.n_truth == 0:
        raise InputError(f"no task of the truth has a label in {labels.name}", source=truth,
                         fix="check that the labels and the truth come from the same data set")
    if as_json:
        def finite(x):
            return {k: finite(v) for k, v in x.items()} if isinstance(x, dict) else [finite(v) for v in x] \
                if isinstance(x, list) else (None if isinstance(x, float) and x != x else x)

        print(json.dumps(finite(r.as_dict()), indent=2, allow_nan=False))
        return
    from rich.table import Table

    def pct(x: float) -> str:
        return "-" if x != x else f"{x:.4f}"

    table = Table(title=f"{labels.name} against {truth.name}, per rank of {taxonomy.name}")
    for col, justify in (("rank", "left"), ("tasks labelled", "right"), ("correct at the rank", "right"),
                         ("accuracy", "right")):
        table.add_column(col, justify=justify)
    for s in r.per_rank:
        table.add_row(s.rank, f"{s.n_labelled:,}", f"{s.n_correct:,}", pct(s.accuracy))
    table.add_row("none", f"{r.n_none:,}", "", "")
    console.print(table)
    rule = " (unlabelled counted wrong)" if invalid_as_wrong else ""
    console.print(f"accuracy at the label's rank{rule}: {pct(r.accuracy_at_rank)}")
    console.print(f"species accuracy{rule}, coarser labels counted wrong: {pct(r.species_accuracy)}")
    console.print(f"tasks labelled at some rank: {r.n_labelled:,} / {r.n_truth:,} ({pct(r.share_labelled)})")
