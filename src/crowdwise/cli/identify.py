"""`crowdwise identify`: score tasks, workers and the data set; drop spammers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ._options import Columns, Duplicates, Strict

from ._options import (BatchSize, Device, Dropout, Epochs, FeaturesTest, FeaturesTrain, FeaturesVal, Hidden,
                             ImgSize, Lr, Milestones, Model, Momentum, Optim, Scheduler, Standardize, TestTruth,
                             Threads, TrainTruth, ValTruth, WeightDecay, Weights)

#: CLI name -> (what it scores, file stem, column title, rank the top 10 by the highest
#: value first?, what the top 10 shows)
METHODS: dict[str, tuple[str, str, bool, str]] = {
    "entropy": ("task", "entropy", True, "most ambiguous tasks (highest vote entropy)"),
    "glad-difficulty": ("task", "glad_difficulty", False, "hardest tasks (smallest GLAD beta)"),
    "needs-vote": ("task", "needs_vote", True, "tasks to send the next votes to"),
    "trace": ("worker", "trace", False, "weakest workers (smallest DS trace / K)"),
    "spam-score": ("worker", "spam_score", False, "likeliest spammers (smallest spam score)"),
    "glad-ability": ("worker", "glad_ability", False, "weakest workers (smallest GLAD alpha)"),
    "agreement": ("worker", "agreement", False, "workers agreeing least with the majority vote"),
    "krippendorff": ("dataset", "krippendorff", False, "Krippendorff's alpha (nominal)"),
}

#: the methods that train a network on the items of the tasks (PyTorch; --features-train ... or
#: the image folders), same columns as METHODS
LEARNING_METHODS: dict[str, tuple[str, str, bool, str]] = {
    "aum": ("task", "aum", False, "lowest AUM with the --labels given (likely mislabelled)"),
    "aumc": ("task", "aumc", False, "lowest AUM with the majority-vote labels (AUMC)"),
    "waum": ("task", "waum", False, "lowest WAUM (ambiguous tasks)"),
}
ALL_METHODS = {**METHODS, **LEARNING_METHODS}
#: the scores of `crowdwise identify` without -s: none trains a network
DEFAULT_METHODS = ("entropy", "needs-vote", "trace", "spam-score", "agreement", "krippendorff")


def _parse_methods(spec: Optional[str]) -> list[str]:
    from ..errors import InputError

    if spec is None:
        return []
    names = [s.strip().lower() for s in spec.split(",") if s.strip()]
    bad = [s for s in names if s not in ALL_METHODS]
    if bad or not names:
        raise InputError(f"unknown identification method {', '.join(map(repr, bad)) or repr(spec)}",
                         fix=f"use one or more of {', '.join(ALL_METHODS)}, comma-separated")
    return list(dict.fromkeys(names))


def _check_new_folder(out: Optional[Path], dataset: Path, option: str = "--drop-spammers") -> Path:
    """The folder of the cleaned data set: never the input, never a non-empty folder."""
    from ..errors import InputError

    if out is None:
        raise InputError(f"{option} needs the folder of the cleaned data set",
                         fix="add --new-dataset NEWFOLDER (a new or empty folder)")
    src = (dataset if dataset.is_dir() else dataset.parent).resolve()
    if out.resolve() == src:
        raise InputError("the cleaned data set would overwrite the input", source=out,
                         fix="give --new-dataset a new folder; crowdwise never rewrites a data set in place")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("exists and is not an empty folder", source=out,
                         fix="give --new-dataset a new or empty folder, or remove that one first")
    return out


def command(
    dataset: Annotated[Path, typer.Argument(help="A peerannot folder (answers.json + metadata.json) or a votes "
                                                 "file: CSV/TSV/Parquet (task,worker,label) or answers.json.")],
    method: Annotated[Optional[str], typer.Option(
        "--method", "-s", help="Scores to compute, comma-separated: " + ", ".join(ALL_METHODS) + ". Default (without "
                               "-s, --drop-spammers or --prune): " + ",".join(DEFAULT_METHODS) + " (spam-score "
                               "left out when the confusions would not fit in memory).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Folder of the score files. Default: "
                                                    "identification/ inside the data-set folder.")] = None,
    drop_spammers: Annotated[Optional[float], typer.Option(
        "--drop-spammers", help="Write a copy of the data set without the workers whose spam score "
                                "(Raykar & Yu, in [0, 1], 0 = spammer) is below THRESHOLD; needs --new-dataset. A worker with "
                                "few votes has a low, unreliable score (about 0.2 with one vote): see --min-votes.")]
    = None,
    min_votes: Annotated[int, typer.Option(
        "--min-votes", help="With --drop-spammers: never drop a worker with fewer votes than this (its spam "
                            "score rests on too little). Default 1: every worker with a vote can be dropped.")] = 1,
    new_dataset: Annotated[Optional[Path], typer.Option(
        "--new-dataset", file_okay=False, help="New (or empty) folder of the cleaned peerannot data set "
                                               "(with --drop-spammers or --prune).")] = None,
    old_output: Annotated[Optional[Path], typer.Option("--output", "-o", file_okay=False, hidden=True)] = None,
    prune: Annotated[Optional[float], typer.Option(
        "--prune", help="With one of aum, aumc, waum: write a copy of the data set without the tasks whose score is "
                        "at or below the ALPHA-quantile (e.g. 0.01); needs --new-dataset.")] = None,
    per_class: Annotated[bool, typer.Option("--per-class", help="--prune within each class (the class of the "
                                            "labels the score used; majority vote for waum).")] = False,
    labels: Annotated[Optional[Path], typer.Option("--labels", "-l", help="aum: the labels of the tasks (a labels file "
                                                   "of `crowdwise aggregate`, .npy or CSV; soft labels use their "
                                                   "argmax).")] = None,
    confusions_spec: Annotated[str, typer.Option("--confusions", help="waum: where the worker confusions come "
                                                 "from: a strategy (DS, FastDS, 'DSWC\\[L=3]'...) or a .npy of "
                                                 "shape (n_workers, K, K).")] = "DS",
    waum_form: Annotated[str, typer.Option("--waum-form", help="waum: stacked (one network on every (task, vote) "
                                           "pair) or per-worker (one network per worker).")] = "stacked",
    margin: Annotated[str, typer.Option("--margin", help="psi5 (softmax of the label minus the (k+1)-th largest), "
                                        "softmax (minus the largest other) or psi1 (logits, Pleiss et al.).")]
    = "psi5",
    topk: Annotated[int, typer.Option("--topk", help="k of the psi5 margin.")] = 1,
    burn_in: Annotated[int, typer.Option("--burn-in", help="First epochs left out of the margin average.")] = 0,
    features_train: FeaturesTrain = None, features_val: FeaturesVal = None, features_test: FeaturesTest = None,
    train_truth: TrainTruth = None, val_truth: ValTruth = None, test_truth: TestTruth = None,
    standardize: Standardize = False,
    model: Model = "mlp", hidden: Hidden = "128", dropout: Dropout = 0.0, weights: Weights = None,
    epochs: Epochs = 50, batch_size: BatchSize = 64, optimizer: Optim = "adam", lr: Lr = 1e-3,
    momentum: Momentum = 0.9, weight_decay: WeightDecay = 0.0, scheduler: Scheduler = "none",
    milestones: Milestones = None, device: Device = None, img_size: ImgSize = 224, threads: Threads = None,
    seed: Annotated[int, typer.Option("--seed", help="random_state of the DS and GLAD fits; seed of the networks.")]
    = 0,
    duplicates: Duplicates = "keep",
    columns: Columns = None,
    needs_vote_posterior: Annotated[str, typer.Option(
        "--needs-vote-posterior", help="Posterior of the needs-vote score: auto (Dawid-Skene when it can run, "
                                       "else vote shares; as `crowdwise report`), ds or shares.")] = "auto",
    strict: Strict = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Score the tasks, the workers and the data set DATASET.

    Task scores: entropy (of the vote shares), glad-difficulty (GLAD beta, small = hard), needs-vote (where to send the next votes). Learnt from the items (PyTorch; --features-train ... or the images of DATASET/train): aum (area under the margin with --labels, Pleiss et al. 2020), aumc (with majority-vote labels), waum (each vote's AUM weighted by the worker's trust <diag(pi_j), softmax>, Lefort et al. 2024), margins averaged over the --epochs of one training run. Worker scores: trace (DS confusion trace / K), spam-score (Raykar & Yu, 0 = spammer, 1 = perfect), glad-ability (GLAD alpha), agreement (share of votes equal to the majority vote). Data set: krippendorff (alpha, nominal).

    Writes identification/<score>.npy (one value per task or worker, in index order, like peerannot) and identification/<score>.csv keyed by the original ids (with n_votes), and identification/krippendorff.json. With --drop-spammers THRESHOLD --new-dataset NEWFOLDER, also writes a peerannot folder without the workers whose spam score is below THRESHOLD. With --prune ALPHA --new-dataset NEWFOLDER (one of aum, aumc, waum), writes a peerannot folder without the tasks whose score is at or below the ALPHA-quantile (--per-class: within each class), with the kept rows of the training features (features_train.npy; train_truth.txt only when the training classes are known, from --train-truth) or links to the kept images, the truth of the kept tasks, and pruned.csv (every task, its score, kept or not).
    """  # noqa: E501 (one line per paragraph: the help formatter keeps line breaks)
    import numpy as np

    from .. import identify, io
    from ..errors import InputError
    from ..identify.scores import CrowdScores, check_spam_score_size
    from ..io import check_output_path, output_set
    from ..io.scores import save_scores, score_paths
    from ._common import console, input_files, load_dataset_votes, progress, resolve_dataset
    from ._options import pick_folder

    output = pick_folder("identify", new_dataset, old_output, "-o/--output", new_flag="--new-dataset")
    dataset, folder = resolve_dataset(dataset)  # a registered name: read from the cache, write here
    methods = _parse_methods(method)
    learning = [m for m in methods if m in LEARNING_METHODS]
    if drop_spammers is None and prune is None and output is not None:
        raise InputError("--new-dataset is the folder of the cleaned data set of --drop-spammers or --prune",
                         fix="add --drop-spammers THRESHOLD or --prune ALPHA, or use --out-dir for the score files")
    if prune is not None:
        if drop_spammers is not None:
            raise InputError("--prune and --drop-spammers each write a data set; ask for one at a time",
                             fix="run identify twice, the second time on the first output")
        if len(learning) != 1:
            raise InputError(f"--prune needs exactly one of {', '.join(LEARNING_METHODS)} in -s "
                             f"(got {', '.join(learning) or 'none'})", fix="e.g. -s waum --prune 0.01 --new-dataset NEW")
        if not 0.0 <= prune < 1.0:
            raise InputError(f"--prune {prune} is outside [0, 1)", fix="give the quantile of tasks to remove, e.g. 0.01")
        output = _check_new_folder(output, dataset, "--prune")
    elif per_class:
        raise InputError("--per-class applies to --prune", fix="add --prune ALPHA --new-dataset NEWFOLDER")
    if "aum" in learning and labels is None:
        raise InputError("aum needs the labels of the tasks", fix="add --labels FILE (a labels file of `crowdwise "
                                                                  "aggregate`), or use aumc")
    if waum_form not in ("stacked", "per-worker"):
        raise InputError(f"--waum-form {waum_form!r} is neither stacked nor per-worker", fix="use one of the two")
    if drop_spammers is not None:
        if not 0.0 <= drop_spammers <= 1.0:
            raise InputError(f"--drop-spammers {drop_spammers} is outside [0, 1]",
                             fix="give a spam-score threshold between 0 (spammer) and 1 (perfect), e.g. 0.1")
        output = _check_new_folder(output, dataset, "--drop-spammers")
        if min_votes < 1:
            raise InputError(f"--min-votes {min_votes} is below 1", fix="give a number of votes, e.g. --min-votes 10")
    default_set = not methods and drop_spammers is None and prune is None

    with progress(f"reading {dataset}", quiet=quiet):
        votes = load_dataset_votes(dataset, duplicates=duplicates, strict=strict, columns=columns)
    if default_set:  # no -s: the scores that need no model training, spam-score where it fits
        from ..identify.scores import DENSE_CONFUSIONS_LIMIT

        methods = [m for m in DEFAULT_METHODS
                   if m != "spam-score" or 8.0 * votes.n_workers * votes.n_classes ** 2 <= DENSE_CONFUSIONS_LIMIT]
    out_dir = out_dir or folder / "identification"
    inputs = input_files(dataset, labels, features_train, features_val, features_test, train_truth, val_truth,
                         test_truth, Path(confusions_spec) if confusions_spec.lower().endswith(".npy") else None)
    for name in methods:  # before any computation: a wrong output path costs nothing
        kind, stem = ALL_METHODS[name][:2]
        for p in score_paths(name, kind, stem, out_dir):
            check_output_path(p, inputs)

    if "spam-score" in methods or drop_spammers is not None:  # refused up front, not after a long DS fit
        try:
            check_spam_score_size(votes, asked=methods)
        except InputError as exc:
            what = "" if "spam-score" in methods else " (--drop-spammers)"
            raise InputError(exc.problem + what, source=dataset,
                             fix=exc.fix.replace("leave spam-score out", "leave spam-score out of -s")) from None

    crowd = CrowdScores(votes, random_state=seed, needs_vote_posterior=needs_vote_posterior)
    scores: dict[str, Any] = {}  # name -> identify.Score
    for name in (m for m in methods if m not in LEARNING_METHODS):
        what = "Dawid-Skene" if name in ("trace", "spam-score") and "ds" not in vars(crowd) else name
        with progress(f"{what} on {votes.n_votes:,} votes", quiet=quiet):
            scores[name] = crowd.get(name)
    n_task = crowd.n_task

    data: Any = None
    groups: dict[str, np.ndarray] = {}  # learning method -> class of each task (for --per-class)
    if learning:
        data, groups = _learning_scores(
            learning, votes, dataset, scores, n_task, quiet=quiet, labels=labels,
            confusions_spec=confusions_spec, waum_form=waum_form, margin=margin, topk=topk, burn_in=burn_in,
            features=dict(features_train=features_train, features_val=features_val, features_test=features_test,
                          train_truth=train_truth, val_truth=val_truth, test_truth=test_truth),
            model=model, model_opts=(hidden, dropout, weights), img_size=img_size, standardize=standardize,
            cfg=dict(epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, momentum=momentum,
                     weight_decay=weight_decay, scheduler=scheduler, milestones=milestones, seed=seed,
                     device=device, threads=threads))

    written: list[Path] = []
    with output_set(inputs):
        written += save_scores(scores, votes, out_dir)

        dropped = None
        if drop_spammers is not None:
            with progress(f"spam scores on {votes.n_votes:,} votes", quiet=quiet):
                res = identify.drop_spammers(votes, drop_spammers, min_votes=min_votes,
                                             confusions=crowd.confusions)
            cleaned = res.votes
            io.write_peerannot(cleaned, output)
            for truth in ("ground_truth.npy", "truth.csv"):  # task ids are kept: the truth still matches
                if (folder / truth).is_file() and dataset.is_dir():
                    with io.atomic_write(output / truth, "wb") as f:
                        f.write((folder / truth).read_bytes())
            dropped = (res.n_workers_dropped, res.n_votes_dropped, cleaned)
            written.append(output)

        pruned = None
        if prune is not None:
            from ..learn.aum import prune_mask

            name = learning[0]
            values = scores[name].values
            keep = prune_mask(values, prune, classes=groups[name] if per_class else None)
            pruned = _write_pruned(votes, keep, values, name, output, folder, dataset, data)
            written.append(output)

    if quiet:
        return
    from rich.table import Table

    console.print(f"{votes!r}")
    if "krippendorff" in scores:
        console.print(f"Krippendorff's alpha (nominal): [bold]{scores['krippendorff'].values:.4f}[/]")
    for name, sc in scores.items():
        if sc.kind == "dataset":
            continue
        values, n = sc.values, sc.n_votes
        kind, stem, highest, what = ALL_METHODS[name]
        ids = votes.task_ids if kind == "task" else votes.worker_ids
        vals = np.asarray(values, dtype=float)
        ok = np.flatnonzero(~np.isnan(vals))
        order = ok[np.argsort(-vals[ok] if highest else vals[ok], kind="stable")][:10]
        console.print(f"[bold]{name}[/]: {what}")
        table = Table()
        table.add_column(kind)
        table.add_column(stem, justify="right")
        table.add_column("n_votes", justify="right")
        for i in order:
            table.add_row(str(ids[i]), f"{vals[i]:.4f}", str(int(n[i])))
        console.print(table)
    if dropped is not None:
        least = f" and at least {min_votes} votes" if min_votes > 1 else ""
        console.print(f"dropped {dropped[0]:,} worker(s) with spam score < {drop_spammers}{least} "
                      f"({dropped[1]:,} votes); kept {dropped[2]!r}")
    if pruned is not None:
        console.print(f"pruned {int(votes.n_tasks - pruned[0].sum()):,} task(s) at or below the {prune}-quantile of "
                      f"{learning[0]}{' within each class' if per_class else ''}; kept {pruned[1]!r}")
    for p in written:
        console.print(f"wrote {p}")


def _read_task_labels(path: Path, votes: Any) -> Any:
    """Hard labels of the tasks from a labels file (hard or soft: argmax) or a truth file."""
    import numpy as np

    from .. import io
    from ..errors import InputError

    if not path.exists():
        raise InputError("labels file not found", source=path, fix="check the path")
    if path.suffix.lower() == ".npy":
        from ..io.truth import load_npy

        arr = load_npy(path)
        shape = arr.shape
        if arr.ndim == 2 and arr.dtype.kind in "iuf":
            ok = np.isfinite(arr).all(1) & (arr.sum(1) > 0)
            arr = np.where(ok, np.argmax(arr, axis=1), -1)
        if arr.shape != (votes.n_tasks,):
            raise InputError(f"expected one label per task, shape ({votes.n_tasks},) or soft labels "
                             f"({votes.n_tasks}, K), got shape {shape}", source=path,
                             fix="give one label per task, in the order of the votes' tasks")
        return io.labels.check_task_labels(arr, votes, str(path))
    hard, _ = io.read_labels(path, votes)
    return np.asarray(hard, dtype=np.int64)


def _learning_scores(learning: list[str], votes: Any, dataset: Path, scores: dict, n_task: Any, *,
                     quiet: bool, labels: Optional[Path], confusions_spec: str, waum_form: str, margin: str,
                     topk: int, burn_in: int, features: dict, model: str, model_opts: tuple, img_size: int,
                     cfg: dict, standardize: bool = False) -> tuple[Any, dict]:
    """AUM / AUMC / WAUM scores into ``scores``; returns the task data (as read: a pruned data set
    keeps the original features) and each score's classes. ``standardize``: the networks see
    the features scaled by the training mean and sd."""
    import numpy as np

    from ..aggregate import MajorityVote
    from ..errors import InputError
    from ..identify import Score
    from ._common import progress
    from ._options import load_learning_data, make_config, model_options

    config = make_config(**cfg)
    lab = _read_task_labels(labels, votes) if "aum" in learning else None
    conf: object = confusions_spec
    if "waum" in learning and confusions_spec.lower().endswith(".npy"):
        p = Path(confusions_spec)
        if not p.is_file():
            raise InputError("confusions file not found", source=p, fix="give a .npy of shape (n_workers, K, K)")
        from ..io.truth import load_npy

        conf = load_npy(p)
    with progress("reading the items of the tasks", quiet=quiet):
        data = load_learning_data(dataset, votes, **features)
    seen = data
    if standardize:
        from ..learn.data import standardize as scale

        seen = scale(data)[0]
    from ..learn import aum as A

    common = dict(model=model, model_options=model_options(*model_opts), config=config, kind=margin, topk=topk,
                  burn_in=burn_in, img_size=img_size)
    mv = MajorityVote(random_state=cfg["seed"]).fit(votes).labels_
    groups: dict[str, np.ndarray] = {}
    for name in learning:
        bar = False if quiet else f"{name} ({config.epochs} epochs)"
        if name == "aum":
            res = A.aum_scores(seen, lab, progress=bar, **common)
            scores[name], groups[name] = Score(name, "task", res.scores, n_task, votes.task_ids), lab
        elif name == "aumc":
            res = A.aumc_scores(votes, seen, seed=cfg["seed"], progress=bar, **common)
            scores[name], groups[name] = Score(name, "task", res.scores, n_task, votes.task_ids), res.labels
        else:
            w = A.waum_scores(votes, seen, confusions=conf, form=waum_form,
                              progress=bar if waum_form == "stacked" else False, **common)
            scores[name], groups[name] = Score(name, "task", w.scores, n_task, votes.task_ids), mv
    return data, groups


def _write_pruned(votes: Any, keep: Any, values: Any, name: str, output: Path, folder: Path, dataset: Path,
                  data: Any) -> tuple[Any, Any]:
    """The pruned peerannot folder (+ training features or image links, truth, pruned.csv)."""
    import os

    import numpy as np
    import pandas as pd

    from .. import io
    from ..io import escape_formulas

    voted = votes.votes_per_task() > 0
    kept = keep & voted
    kept_rows = np.flatnonzero(kept)  # the compact renumbering keeps the original task order
    cleaned = votes.take(kept[votes.task], compact=True)
    io.write_peerannot(cleaned, output)
    table = pd.DataFrame({"task": escape_formulas(votes.task_ids), name: values, "kept": kept})
    with io.atomic_write(output / "pruned.csv") as f:
        table.to_csv(f, index=False, lineterminator="\n")
    if dataset.is_dir() and (folder / "ground_truth.npy").is_file():
        from ..io.truth import load_npy

        gt = load_npy(folder / "ground_truth.npy")
        if gt.shape[:1] == (votes.n_tasks,):
            io.save_npy(output / "ground_truth.npy", gt[kept_rows])
    if dataset.is_dir() and (folder / "truth.csv").is_file():
        truth = pd.read_csv(folder / "truth.csv", dtype=str, keep_default_na=False)
        kept_ids = set(map(str, votes.task_ids[kept_rows]))
        with io.atomic_write(output / "truth.csv") as f:
            truth[truth.iloc[:, 0].isin(kept_ids)].to_csv(f, index=False, lineterminator="\n")
    if data is not None and data.train.features is not None:
        io.save_npy(output / "features_train.npy", data.train.features[kept_rows])
        if data.train.has_truth:
            with io.atomic_write(output / "train_truth.txt") as f:
                f.write("".join(f"{int(t)}\n" for t in data.train.truth[kept_rows]))
    elif data is not None and data.train.paths is not None:
        for r in kept_rows:  # links to the kept training images; val/ and test/ linked whole
            src = Path(data.train.paths[r]).resolve()
            dst = output / "train" / src.parent.name / src.name
            io.make_dir(dst.parent)
            os.symlink(src, dst)
        for part in ("val", "test"):
            if (folder / part).is_dir():
                os.symlink((folder / part).resolve(), output / part, target_is_directory=True)
    return kept, cleaned
