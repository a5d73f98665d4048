"""``crowdwise simulate-collection``: replay a label collection under a budget, per policy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ._options import Quiet


def command(
    dataset: Annotated[Path, typer.Argument(
        help="Data set whose votes are replayed: a folder (answers.json or votes.csv, with truth.csv or "
             "ground_truth.npy), a votes file with -t, or a registered data-set name (`crowdwise datasets`).")],
    strategies: Annotated[str, typer.Option(
        "--strategies", "-s", help="Comma-separated aggregation strategies, each fitted after every round and "
                                   "scored against the truth.")] = "MV,DS",
    policies: Annotated[str, typer.Option(
        "--policies", help="Comma-separated policies choosing the tasks of the next votes: random, needs-vote "
                           "(the score of `identify -s needs-vote`), uncertainty (posterior entropy of the "
                           "strategy), disagreement (entropy of the votes).")] = "random,needs-vote,uncertainty,"
                                                                                   "disagreement",
    budget: Annotated[Optional[int], typer.Option(
        "--budget", help="Votes to collect after the start (default: every vote of the data set).",
        show_default=False)] = None,
    batch: Annotated[Optional[int], typer.Option(
        "--batch", help="Votes per round, one per task (default: budget / 20, at most a quarter of the tasks; a "
                        "batch as large as the tasks left gives each a vote, whatever the policy).",
        show_default=False)] = None,
    initial: Annotated[int, typer.Option("--initial", help="Votes per task at the start, from random "
                                                           "workers.")] = 1,
    worker_choice: Annotated[str, typer.Option(
        "--worker-choice", help="Who gives a new vote: random (among the task's votes not revealed yet) or "
                                "reliable (the one whose worker has the best current reliability).")] = "random",
    seeds: Annotated[int, typer.Option("--seeds", help="Repeat each run with seeds 0..N-1 (starting votes, tie "
                                                       "breaks, worker draws).")] = 3,
    truth: Annotated[Optional[Path], typer.Option(
        "--truth", "-t", exists=True, dir_okay=False,
        help="Truth file (truth.csv task,label or ground_truth.npy); default the data set's.")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", help="Write the table (one row per policy, strategy, seed and round) as CSV.")] = None,
    plot: Annotated[Optional[Path], typer.Option(
        "--plot", help="Write the budget curves as a PNG figure (needs matplotlib: crowdwise[report]).")] = None,
    invalid_as_wrong: Annotated[bool, typer.Option(
        "--invalid-as-wrong", help="A task a validity rule (TwoThird, PlantNet) leaves without a valid label "
                                   "counts as wrong.")] = False,
    quiet: Quiet = False,
) -> None:
    """Replay the collection of DATASET's votes under a budget: from one vote per task, each round gives one
    more vote to the tasks a policy ranks first (only votes that exist in the data set, never twice), refits
    each strategy and scores it against the truth. Prints accuracy against the budget per policy and strategy
    (mean over seeds); -o writes the table, --plot the figure."""
    from .. import io
    from ..errors import InputError
    from ..evaluate.benchmark import split_specs
    from ..io import atomic_write, escape_formulas, output_set
    from ..simulate.collection import POLICIES, WORKER_CHOICES, n_rounds, simulate_collection
    from ._common import console, folder_truth, input_files, load_dataset_votes, progress, resolve_dataset

    if seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {seeds}", fix="e.g. --seeds 3 (runs with seeds 0, 1, 2)")
    specs = [s.strip() for s in split_specs(strategies) if s.strip()]
    if not specs:
        raise InputError("-s names no strategy", fix="e.g. -s MV,DS")
    from ..aggregate import make_strategy

    for s in specs:
        make_strategy(s)  # a wrong name before any data is read
    pols = [p.strip().lower() for p in policies.split(",") if p.strip()]
    for p in pols:
        if p not in POLICIES:
            raise InputError(f"--policies: unknown policy {p!r}", fix=f"use some of {', '.join(POLICIES)}")
    if not pols:
        raise InputError("--policies names no policy", fix=f"e.g. --policies {','.join(POLICIES)}")
    if worker_choice.lower() not in WORKER_CHOICES:
        raise InputError(f"--worker-choice {worker_choice!r} is not known", fix="use random or reliable")
    for name, value, low in (("--budget", budget, 0), ("--batch", batch, 1), ("--initial", initial, 1)):
        if value is not None and value < low:
            raise InputError(f"{name} must be at least {low}, got {value}", fix=f"give {name} >= {low}")
    if plot is not None:
        from ..plots import require_matplotlib

        require_matplotlib()
    path, _ = resolve_dataset(dataset)
    if not path.exists():
        raise InputError("no such file or folder", source=path,
                         fix="give a data-set folder, a votes file with -t, or a name `crowdwise datasets` lists")
    truth_path = folder_truth(path, truth)
    if truth_path is None:
        raise InputError("has no truth file, and the collection is scored against the truth", source=path,
                         fix="add -t TRUTH (truth.csv task,label or ground_truth.npy)")
    inputs = input_files(path, truth_path)
    for out in (output, plot):
        if out is not None:
            io.check_output_path(out, inputs)
    votes = load_dataset_votes(path)
    y = io.load_truth(truth_path, votes)
    total = seeds * len(specs) * len(pols) * (n_rounds(votes, budget=budget, batch=batch, initial=initial) + 1)
    with progress("collection rounds", quiet=quiet, total=total) as advance:
        table = simulate_collection(votes, y, policies=pols, strategies=specs, budget=budget, batch=batch,
                                    worker_choice=worker_choice.lower(), seeds=range(seeds), initial=initial,
                                    invalid_as_wrong=invalid_as_wrong, callback=advance)
    if not quiet:
        _print_summary(console, table, path)
    if output is None and plot is None:
        return
    fig = None
    if plot is not None:
        from ..plots.collection import collection_figure

        name = votes.name or Path(path).stem
        fig = collection_figure(table, title=f"{name}: accuracy against the budget ({worker_choice} worker)")
    with output_set(inputs):
        if output is not None:
            safe = table.assign(strategy=escape_formulas(table["strategy"].to_numpy().astype(object)))
            with atomic_write(output, "w") as f:
                safe.to_csv(f, index=False, lineterminator="\n")
        if plot is not None:
            with atomic_write(plot, "wb") as f:
                fig.savefig(f, format="png", dpi=110)
    if not quiet:
        console.print("wrote " + ", ".join(str(p) for p in (output, plot) if p is not None), highlight=False,
                      soft_wrap=True)


def _print_summary(console, table, path) -> None:
    """Accuracy (mean over seeds) at five budgets, one column per policy, per strategy: each
    policy's last round that spent at most that budget."""
    from rich.markup import escape
    from rich.table import Table

    mean = table.groupby(["strategy", "policy", "round"], sort=False).agg(
        spent=("budget_spent", "mean"), vpt=("votes_per_task", "mean"), accuracy=("accuracy", "mean"),
        valid=("share_valid", "mean")).reset_index()
    levels = sorted(mean["spent"].unique())
    show = sorted({levels[int(round(i * (len(levels) - 1) / 4))] for i in range(5)}) if len(levels) > 5 else levels
    policies = list(dict.fromkeys(table["policy"]))
    n_tasks = table["n_votes"].iloc[0] / table["votes_per_task"].iloc[0]
    for strategy in dict.fromkeys(table["strategy"]):
        sub = mean[mean["strategy"] == strategy]
        t = Table(title=f"{escape(str(strategy))}: accuracy (mean over {table['seed'].nunique()} seed(s)) against "
                        "the votes spent")
        t.add_column("budget spent", justify="right")
        t.add_column("votes/task", justify="right")
        for p in policies:
            t.add_column(p, justify="right")
        for level in show:
            cells = []
            for p in policies:
                rows = sub[(sub["policy"] == p) & (sub["spent"] <= level + 1e-9)]
                if not len(rows):
                    cells.append("")
                    continue
                r = rows.iloc[-1]
                cells.append(f"{r['accuracy']:.4f}" + (f" ({r['valid']:.0%} valid)" if r["valid"] < 1 - 1e-12 else ""))
            start = table["n_votes"].min() / n_tasks
            t.add_row(f"{level:.0f}", f"{start + level / n_tasks:.2f}", *cells)
        console.print(t)
