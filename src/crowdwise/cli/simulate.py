"""``crowdwise simulate``: write a synthetic crowd with known truth as a peerannot folder."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer


class Strategy(str, Enum):
    independent_confusion = "independent-confusion"
    hammer_spammer = "hammer-spammer"
    student_teacher = "student-teacher"
    discrete_difficulty = "discrete-difficulty"


def command(
    out_dir: Annotated[Optional[Path], typer.Option(
        "--out-dir", file_okay=False,
        help="Output folder (created if needed; files already there are replaced).")] = None,
    old_folder: Annotated[Optional[Path], typer.Option("--folder", "-o", file_okay=False, hidden=True)] = None,
    strategy: Annotated[Strategy, typer.Option(
        "--strategy", "-s", case_sensitive=False,
        help="independent-confusion: one diagonally dominant confusion matrix per worker; "
             "hammer-spammer: perfect workers and random ones; student-teacher: students "
             "copy a teacher's confusion matrix; discrete-difficulty: good/bad workers on "
             "easy/hard tasks.")] = Strategy.independent_confusion,
    n_worker: Annotated[int, typer.Option("--n-worker", help="Number of workers.")] = 10,
    n_task: Annotated[int, typer.Option("--n-task", help="Number of tasks.")] = 20,
    n_classes: Annotated[int, typer.Option("--n-classes", "-K", help="Number of classes (>= 2).")] = 2,
    feedback: Annotated[Optional[int], typer.Option(
        "--feedback", help="Votes per task, by distinct workers (default: every worker answers every task).",
        show_default=False)] = None,
    imbalance_votes: Annotated[bool, typer.Option(
        "--imbalance-votes", help="Draw the number of votes of each task uniformly in 1..feedback.")] = False,
    ratio: Annotated[float, typer.Option(
        "--ratio", "-r", help="Share of spammers (hammer-spammer), of students (student-teacher) or of "
                              "good workers (discrete-difficulty), in [0, 1].")] = 0.1,
    ratio_diff: Annotated[float, typer.Option(
        "--ratio-diff", help="discrete-difficulty: odds of an easy task against a hard one (>= 0).")] = 1.0,
    p_random: Annotated[float, typer.Option(
        "--random", help="discrete-difficulty: probability that a task is unidentifiable "
                         "(everyone answers at random).")] = 0.0,
    spammers: Annotated[float, typer.Option(
        "--spammers", help="Share of workers, chosen at random, who answer uniformly at random "
                           "(any strategy), in [0, 1].")] = 0.0,
    matrix_file: Annotated[Optional[Path], typer.Option(
        "--matrix-file", exists=True, dir_okay=False,
        help="independent-confusion: .npy file of confusion matrices (n_worker, K, K) to use "
             "instead of drawing them.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same crowd.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Simulate a crowd with known truth and write it as a peerannot folder.

    Writes answers.json ({task: {worker: label}}), metadata.json and ground_truth.npy, plus matrices.npy (confusion matrices, when small), difficulties.npy or student_teacher_association.npy when the strategy has them.
    """  # noqa: E501 (one line per paragraph: the help formatter keeps line breaks)
    import numpy as np

    from ..errors import InputError
    from ..simulate import simulate, write_simulation
    from ..io import output_set
    from ._common import console, input_files, progress
    from ._options import pick_folder

    folder = pick_folder("simulate", out_dir, old_folder, "-o/--folder")
    if folder is None:
        raise InputError("needs the folder to write the data set to", fix="add --out-dir DIR")
    if not 0.0 <= ratio <= 1.0:
        raise InputError(f"--ratio {ratio} is not a fraction", fix="give --ratio between 0 and 1")
    options: dict = dict(feedback=feedback, imbalance_votes=imbalance_votes, spammer_fraction=spammers, seed=seed)
    if strategy is not Strategy.independent_confusion:
        options["ratio"] = ratio
    if strategy is Strategy.discrete_difficulty:
        options.update(ratio_diff=ratio_diff, p_random=p_random)
    if matrix_file is not None:
        if strategy is not Strategy.independent_confusion:
            raise InputError(f"--matrix-file is used by independent-confusion only, not {strategy.value}",
                             fix="add --strategy independent-confusion, or drop --matrix-file")
        from ..io.truth import load_npy

        options["confusions"] = load_npy(matrix_file)

    with progress(f"Simulating {strategy.value}", quiet=quiet):
        result = simulate(strategy.value, n_task, n_worker, n_classes, **options)
        with output_set(input_files(matrix_file)):
            paths = write_simulation(result, folder)
    if quiet:
        return

    from ..aggregate import MajorityVote

    v = result.votes
    per_task = v.votes_per_task()
    # as `crowdwise aggregate -s MV` computes it: ties drawn with its default --seed 0
    mv = MajorityVote(tie="random", random_state=0).fit(v).labels_
    accuracy = float(np.mean(mv == result.truth))
    spread = (f"{per_task.min()} per task" if per_task.min() == per_task.max()
              else f"{per_task.min()}-{per_task.max()} per task, mean {per_task.mean():.1f}")
    console.print(f"[bold]{result.strategy}[/] crowd (seed {seed}): {v.n_tasks} tasks, {v.n_workers} workers, "
                  f"{v.n_classes} classes, {v.n_votes} votes ({spread})", highlight=False)
    kinds, counts = np.unique(result.worker_type, return_counts=True)
    console.print("  workers: " + ", ".join(f"{c} {k}" for k, c in zip(kinds, counts)), highlight=False)
    if result.task_difficulty is not None:
        kinds, counts = np.unique(result.task_difficulty, return_counts=True)
        console.print("  tasks: " + ", ".join(f"{c} {k}" for k, c in zip(kinds, counts)), highlight=False)
    console.print(f"  majority vote accuracy against the truth: [bold]{accuracy:.3f}[/] (as `crowdwise aggregate "
                  "-s MV`: ties drawn with its --seed 0)", highlight=False)
    console.print(f"  wrote {folder}/ {', '.join(p.name for p in paths.values())}", highlight=False, soft_wrap=True)
