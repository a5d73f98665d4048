"""`crowdwise aggregate`: turn votes into labels with one strategy."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ._options import Columns, AnswersFile, Duplicates, MetadataPath, NClasses, Strict


def command(
    dataset: Annotated[Path, typer.Argument(help="A peerannot folder (answers.json + metadata.json) or a votes "
                                                 "file: CSV/TSV/Parquet (task,worker,label) or answers.json.")],
    strategy: Annotated[str, typer.Option("--strategy", "-s", help="Strategy name, with options in brackets: "
                                          "MV, DS, 'PlantNet\\[theta_conf=2]'. See `crowdwise agginfo`. Default: auto "
                                          "(EBDS, or WAWA when its confusions would not fit in memory; see "
                                          "docs/benchmarks/accuracy.md).")] = "auto",
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Labels table keyed by the original "
                                                   "task ids (.csv, .tsv or .parquet); the .npy is then written beside "
                                                   "it with the same name (out.csv -> out.npy, replaced if present) "
                                                   "unless --out-dir is given. Default: labels/labels_<data>_<strategy>.csv beside the "
                                                   ".npy.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Folder of the .npy (and of the table "
                                                    "when -o is not given). Default: labels/ inside the data-set "
                                                    "folder (peerannot's place), or the folder of -o.")] = None,
    hard: Annotated[bool, typer.Option("--hard", help="Write hard labels (n_tasks,), even for a soft strategy, to "
                                       "labels_<data>_<strategy>_hard.npy/.csv (peerannot's name) (the soft files are left as they "
                                       "are).")] = False,
    seed: Annotated[int, typer.Option("--seed", help="random_state of the strategy (tie rule, initialisation).")] = 0,
    duplicates: Duplicates = "keep",
    columns: Columns = None,
    strict: Strict = False,
    truth: Annotated[Optional[Path], typer.Option("--truth", "-t", help="Ground truth to report accuracy against "
                                                  "(.npy or CSV task,label). Default: ground_truth.npy or "
                                                  "truth.csv of the folder when present.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar, no summary.")] = False,
    answers_file: AnswersFile = None,
    metadata_path: MetadataPath = None,
    n_classes: NClasses = None,
    taxonomy: Annotated[Optional[Path], typer.Option("--taxonomy", help="Taxonomy CSV (header: ranks from the finest "
                                                     "to the coarsest, e.g. species,genus,family; optional 'accepted' "
                                                     "column for synonyms): a task without a valid species label gets "
                                                     "the deepest valid rank's label; the table gets a 'rank' column. "
                                                     "See docs/guide/taxonomy.md.")] = None,
    unknown_taxa: Annotated[str, typer.Option("--unknown-taxa", help="With --taxonomy, a vote label absent from "
                                              "the taxonomy: 'error', or 'own' (a taxon of its own, labelled at the "
                                              "species rank only).")] = "error",
    min_confidence: Annotated[float, typer.Option("--min-confidence", help="With --taxonomy, the validity rule of "
                                                  "strategies without one (all but PlantNet, TwoThird): the label "
                                                  "must hold more than this share of the posterior.")] = 0.5,
    engine: Annotated[str, typer.Option("--engine", help="memory (one process, the default) or dask: DATASET is "
                                        "then a folder of Parquet parts, and the labels are written as Parquet "
                                        "parts into --out-dir (see docs/guide/distributed.md).")] = "memory",
    scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="With --engine dask, the address of a "
                                                     "running Dask scheduler (tcp://host:8786). Default: a local "
                                                     "cluster of --workers processes.")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", help="With --engine dask and no --scheduler, the "
                                                   "worker processes of the local cluster (default 2).")] = None,
    memory_limit: Annotated[Optional[str], typer.Option("--memory-limit", help="With --engine dask and no "
                                                        "--scheduler, the memory of each worker process, e.g. 2GB "
                                                        "(above it Dask spills to disk).")] = None,
) -> None:
    """Aggregate the votes of DATASET with a strategy and write the labels.

    Writes labels/labels_<data>_<strategy>.npy like peerannot (soft labels (n_tasks, K)
    for soft strategies, hard labels (n_tasks,) otherwise, -1 where a strategy with a
    validity rule gives no valid label) and a CSV keyed by the original task ids. With
    -o FILE (and no --out-dir) nothing is written into the data-set folder: the .npy goes
    beside FILE under its name.
    """
    import numpy as np

    from .. import io
    from ..aggregate import make_strategy
    from ..io import check_output_path, output_set, output_stem, safe_name
    from ._common import (console, fit_with_progress, folder_truth, input_files, load_dataset_votes, peerannot_files,
                          progress, resolve_dataset)

    from ..errors import InputError
    from ..distributed import aggregate_command, check_engine_options

    check_engine_options(engine, scheduler=scheduler, workers=workers, memory_limit=memory_limit)
    if engine == "dask":
        return aggregate_command(dataset, strategy=strategy, out_dir=out_dir, output=output, seed=seed,
                              scheduler=scheduler, workers=workers, memory_limit=memory_limit, quiet=quiet,
                              n_classes=n_classes, unsupported={"--truth": truth is not None, "--hard": hard,
                                                                "--taxonomy": taxonomy is not None,
                                                                "--columns": bool(columns),
                                                                "--duplicates": duplicates != "keep"})
    if output is not None and output.suffix.lower() not in (".csv", ".tsv", ".parquet"):
        raise InputError(f"unknown extension {output.suffix!r} for the labels table", source=output,
                         fix="use .csv, .tsv or .parquet")
    if truth is not None and not truth.exists():
        raise InputError("truth file not found", source=truth, fix="check the path")
    model = make_strategy(strategy, random_state=seed)
    if taxonomy is not None:  # the strategy runs at each rank, from the species up
        from ..aggregate import Taxonomy, TaxonomyFallback

        model = TaxonomyFallback(model, taxonomy=Taxonomy.from_csv(taxonomy), min_confidence=min_confidence,
                                 unknown=unknown_taxa)
        model.validate_params()
    dataset, folder = resolve_dataset(dataset)  # a registered name: read from the cache, write here
    with progress(f"reading {dataset}", quiet=quiet):
        votes = load_dataset_votes(dataset, duplicates=duplicates, strict=strict, columns=columns, answers_file=answers_file,
                                   metadata_path=metadata_path, **({} if n_classes is None else {"n_classes": n_classes}))
    name = safe_name(votes.name or dataset.stem)
    # --hard: its own file (peerannot's name), so that the soft labels of an earlier run stay
    suffix = ("_hard" if hard else "") + ("_taxonomy" if taxonomy is not None else "")
    if output is not None and out_dir is None:  # all beside the table the user named
        out_dir, stem = output.parent, output.stem
    else:
        out_dir = out_dir or folder / "labels"
        stem = f"labels_{name}_{output_stem(strategy)}{suffix}"
    npy = out_dir / f"{stem}.npy"
    table = output or out_dir / f"{stem}.csv"
    inputs = input_files(dataset, truth, folder_truth(dataset, truth), *peerannot_files(dataset, answers_file, metadata_path),
                         taxonomy)
    for p in (npy, table):  # before the fit: a wrong output path costs no computation
        check_output_path(p, inputs)

    t0 = time.perf_counter()
    fit_with_progress(model, votes, f"{strategy} on {votes.n_votes:,} votes", quiet=quiet)
    elapsed = time.perf_counter() - t0
    # the truth is read before anything is written: a wrong truth file leaves no labels behind
    truth_file = truth if quiet else folder_truth(dataset, truth)  # a truth the user named is always checked
    truth_arr = io.load_truth(truth_file, votes) if truth_file is not None and taxonomy is None else None
    tax_eval = None
    if taxonomy is not None and truth_file is not None:  # scored before writing: a bad truth leaves no labels
        from ..evaluate.taxonomy import evaluate_taxonomy, truth_names

        tax_eval = evaluate_taxonomy(model.classes_[model.labels_], model.rank_, truth_names(truth_file, votes),
                                     model.taxonomy, task_ids=votes.task_ids)

    with output_set(inputs):
        if taxonomy is not None:
            from ..io.taxonomy import save_taxon_labels

            written = save_taxon_labels(model, votes, npy, table)
        else:
            written = io.save_labels(model, votes, npy, table, hard=hard)

    if quiet:
        return
    valid = getattr(model, "valid_", None)
    hard_labels = np.where(valid, model.labels_, -1) if valid is not None else model.labels_
    console.print(f"[bold]{model!r}[/] on {votes!r}: {elapsed:.2f} s")
    if valid is not None:
        console.print(f"valid labels: {int(valid.sum()):,} of {votes.n_tasks:,} tasks ({valid.mean():.1%})")
    if taxonomy is not None:
        ranks = ", ".join(f"{n:,} {r}" for r, n in zip(model.taxonomy.ranks, model.n_labelled_.tolist()))
        console.print(f"labelled at each rank: {ranks}, {int((~model.valid_).sum()):,} none")
    if tax_eval is not None:
        console.print(f"against {truth_file.name}: accuracy at the label's rank {tax_eval.accuracy_at_rank:.4f}, "
                      f"species accuracy {tax_eval.species_accuracy:.4f} on {tax_eval.n_labelled:,} labelled tasks")
    elif truth_arr is not None:
        from ..evaluate import evaluate_labels

        r = evaluate_labels(hard_labels, truth_arr, n_classes=votes.n_classes)
        console.print(f"accuracy against {truth_file.name}: {r.accuracy:.4f} on {r.n_evaluated:,} tasks")
    for p in written:
        console.print(f"wrote {p}")
