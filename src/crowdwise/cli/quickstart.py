"""`crowdwise quickstart`: a built-in example, end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

DEFAULT_STRATEGIES = "auto,MV,WAWA,TwoThird,PlantNet,DS,EBDS,OneCoinDS,GLAD"


def command(
    n_task: Annotated[int, typer.Option("--n-task", help="Tasks to simulate.")] = 2000,
    n_worker: Annotated[int, typer.Option("--n-worker", help="Workers to simulate.")] = 50,
    n_classes: Annotated[int, typer.Option("--n-classes", "-K", help="Classes.")] = 5,
    feedback: Annotated[int, typer.Option("--feedback", help="Votes per task.")] = 5,
    spammers: Annotated[float, typer.Option("--spammers", help="Share of workers answering at random.")] = 0.3,
    concentration: Annotated[float, typer.Option("--concentration", help="Dirichlet concentration of the "
                                                 "workers' confusion rows: smaller means sharper workers.")] = 0.3,
    strategies: Annotated[str, typer.Option("--strategies", "-s", help="Comma-separated strategies.")] = DEFAULT_STRATEGIES,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Also write the simulated data set "
                                                    "here (peerannot folder with its ground_truth.npy).")] = None,
    old_folder: Annotated[Optional[Path], typer.Option("--folder", "-o", hidden=True)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation and of the strategies.")] = 0,
) -> None:
    """Simulate a crowd (with spammers), aggregate it with several strategies and print
    their accuracy against the simulated truth."""
    from rich.markup import escape
    from rich.table import Table

    from .. import simulate
    from ..aggregate import make_strategy
    from ..evaluate import evaluate_labels
    from ..evaluate.benchmark import split_specs
    from ._common import console
    from ._options import pick_folder

    folder = pick_folder("quickstart", out_dir, old_folder, "-o/--folder")
    # commas inside brackets belong to one spec: 'PlantNet[theta_conf=2, theta_acc=0.7]'
    specs = [s.strip() for s in split_specs(strategies) if s.strip()]
    models = [make_strategy(spec, random_state=seed) for spec in specs]  # a bad name fails before simulating
    sim = simulate.independent_confusion(n_tasks=n_task, n_workers=n_worker, n_classes=n_classes,
                                         feedback=feedback, spammer_fraction=spammers,
                                         concentration=concentration, seed=seed)
    votes, truth = sim.votes, sim.truth
    console.print(f"Simulated {votes!r}: {feedback} votes per task, {spammers:.0%} spammers (seed {seed}).")
    if folder is not None:
        from ..io import output_set

        with output_set():
            simulate.write_simulation(sim, folder)
        console.print(f"wrote the data set to {folder}")
    table = Table(title="Accuracy against the simulated truth")
    for col in ("strategy", "accuracy", "tasks kept as valid", "time (s)"):
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for spec, model in zip(specs, models):
        t0 = time.perf_counter()
        model.fit(votes)
        dt = time.perf_counter() - t0
        valid = getattr(model, "valid_", None)
        r = evaluate_labels(model.labels_, truth, valid, n_classes=votes.n_classes)
        table.add_row(escape(spec), f"{r.accuracy:.4f}", f"{r.share_valid:.1%}", f"{dt:.3f}")
    console.print(table)
    console.print("Next: `crowdwise simulate --help`, `crowdwise aggregate --help`, `crowdwise agginfo`.")
