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
    classifiers = "classifiers"


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
             "easy/hard tasks; classifiers: scikit-learn classifiers, each trained on its own part of a "
             "feature set (--features), label the tasks.")] = Strategy.independent_confusion,
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
    workerload: Annotated[Optional[int], typer.Option(
        "--workerload", "-wl", help="peerannot's option: each worker answers at most this many tasks; tasks are "
                                    "served in order from the workers still under their load, so later tasks get "
                                    "fewer votes once workers run out (an error when one would get none).",
        show_default=False)] = None,
    features: Annotated[str, typer.Option(
        "--features", help="classifiers: the feature set, two-moons or three-circles (generated: each classifier "
                           "learns from its own fresh draw), or a feature file (.npy, or a table with an id "
                           "column) with its truth (-t); the tasks are its rows, each classifier learns from "
                           "its own part of them and does not vote on it.")] = "two-moons",
    classifiers: Annotated[str, typer.Option(
        "--classifiers", help="classifiers: comma-separated, repeated in turn up to --n-worker: linear-svc, "
                              "rbf-svc, boosting, tree, knn, logistic, naive-bayes.")] = "linear-svc,rbf-svc,boosting",
    n_fit: Annotated[Optional[int], typer.Option(
        "--n-fit", help="classifiers: training points per classifier (default: --n-task for a generated set, "
                        "rows / workers for a feature file).", show_default=False)] = None,
    noise: Annotated[Optional[float], typer.Option(
        "--noise", help="classifiers: sd of the Gaussian noise of a generated set (default 0.2 for two-moons, "
                        "0.13 for three-circles).", show_default=False)] = None,
    truth: Annotated[Optional[Path], typer.Option(
        "--truth", "-t", exists=True, dir_okay=False,
        help="classifiers with a feature file: the true class of each row (.txt one index per line, .npy, or a "
             "task,label table), when the file has no truth column.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same crowd.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Simulate a crowd with known truth and write it as a peerannot folder.

    Writes answers.json ({task: {worker: label}}), metadata.json and ground_truth.npy, plus matrices.npy (confusion matrices, when small), difficulties.npy or student_teacher_association.npy when the strategy has them; features.npy (one row per task) with --strategy classifiers.
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
    if workerload is not None and workerload < 1:
        raise InputError(f"--workerload {workerload} lets no worker answer", fix="give --workerload >= 1")
    if strategy is Strategy.classifiers:
        if matrix_file is not None or spammers:
            raise InputError("--matrix-file and --spammers describe confusion-matrix workers, not classifiers",
                             fix="drop them, or choose another --strategy")
        return _classifiers(folder, n_task=n_task, n_worker=n_worker, feedback=feedback,
                            imbalance_votes=imbalance_votes, workerload=workerload, features=features,
                            classifiers=classifiers, n_fit=n_fit, noise=noise, truth=truth, seed=seed, quiet=quiet)
    options: dict = dict(feedback=feedback, imbalance_votes=imbalance_votes, spammer_fraction=spammers, seed=seed,
                         workerload=workerload)
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


def _classifiers(folder: Path, *, n_task: int, n_worker: int, feedback: Optional[int], imbalance_votes: bool,
                 workerload: Optional[int], features: str, classifiers: str, n_fit: Optional[int],
                 noise: Optional[float], truth: Optional[Path], seed: int, quiet: bool) -> None:
    """``--strategy classifiers``: a crowd of scikit-learn classifiers, written with its features."""
    import numpy as np

    from ..errors import InputError
    from ..io import output_set, save_npy
    from ..simulate import write_simulation
    from ..simulate.classifiers import FEATURE_SETS, classifier_crowd, require_sklearn
    from ._common import console, input_files, progress

    require_sklearn()
    names = [c.strip() for c in classifiers.split(",") if c.strip()]
    if not names:
        raise InputError("--classifiers names no classifier", fix="e.g. --classifiers linear-svc,rbf-svc,boosting")
    generated = features.strip().lower().replace("_", "-") in FEATURE_SETS
    source = None
    if generated:
        if truth is not None:
            raise InputError(f"-t/--truth is for a feature file; {features} makes its own truth",
                             fix="drop -t, or give --features FILE")
        x, y = features, None
    else:
        from ..io import load_features

        source = Path(features)
        if not source.is_file():
            raise InputError("is neither a generated feature set nor a feature file", source=source,
                             fix=f"use {' or '.join(FEATURE_SETS)}, or the path of a .npy / table of features")
        data = load_features(source, train_truth=truth)
        if data.train.truth is None or (np.asarray(data.train.truth) < 0).any():
            raise InputError("the classifiers learn from labelled rows, and some rows have no truth", source=source,
                             fix="give every row's class: a truth column in the table, or -t TRUTH")
        x, y = data.train.features, np.asarray(data.classes)[np.asarray(data.train.truth)]
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with progress("Fitting the classifiers", quiet=quiet), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        crowd = classifier_crowd(x, y, n_tasks=n_task, n_workers=n_worker, classifiers=names, n_fit=n_fit,
                                 noise=noise, feedback=feedback, imbalance_votes=imbalance_votes,
                                 workerload=workerload, seed=seed)
    with output_set(input_files(source, truth)):
        paths = write_simulation(crowd, folder)
        paths["features"] = folder / "features.npy"
        save_npy(paths["features"], np.asarray(crowd.features, dtype=np.float32))
    for w in caught:  # scikit-learn's convergence notices in one line; other warnings as they are
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    n_conv = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    if n_conv and not quiet:
        from ._common import err_console

        err_console.print(f"warning: {n_conv} classifier fit(s) stopped before converging (scikit-learn's "
                          "ConvergenceWarning); their votes are used as they are (standardised features help)",
                          highlight=False, soft_wrap=True)
    if quiet:
        return
    from ..aggregate import MajorityVote

    v = crowd.votes
    mv = MajorityVote(tie="random", random_state=0).fit(v).labels_
    console.print(f"[bold]classifiers[/] crowd (seed {seed}) on {'the ' + features if generated else source}: "
                  f"{v.n_tasks} tasks, {v.n_workers} workers, {v.n_classes} classes, {v.n_votes} votes",
                  highlight=False)
    accs = ", ".join(f"{n} {a:.3f}" for n, a in zip(crowd.worker_type, crowd.worker_accuracy))
    console.print(f"  accuracy of each classifier on the tasks: {accs}", highlight=False)
    console.print(f"  majority vote accuracy against the truth: [bold]{float(np.mean(mv == crowd.truth)):.3f}[/] "
                  "(ties drawn with seed 0)", highlight=False)
    console.print(f"  wrote {folder}/ {', '.join(p.name for p in paths.values())}", highlight=False, soft_wrap=True)
