"""`crowdwise identify`: score tasks, workers and the data set; drop spammers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

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


def _parse_methods(spec: Optional[str]) -> list[str]:
    from ..errors import InputError

    if spec is None:
        return []
    names = [s.strip().lower() for s in spec.split(",") if s.strip()]
    bad = [s for s in names if s not in METHODS]
    if bad or not names:
        raise InputError(f"unknown identification method {', '.join(map(repr, bad)) or repr(spec)}",
                         fix=f"use one or more of {', '.join(METHODS)}, comma-separated")
    return list(dict.fromkeys(names))


def _check_new_folder(out: Optional[Path], dataset: Path) -> Path:
    """The folder of the cleaned data set: never the input, never a non-empty folder."""
    from ..errors import InputError

    if out is None:
        raise InputError("--drop-spammers needs the folder of the cleaned data set",
                         fix="add -o NEWFOLDER (a new or empty folder)")
    src = (dataset if dataset.is_dir() else dataset.parent).resolve()
    if out.resolve() == src:
        raise InputError("the cleaned data set would overwrite the input", source=out,
                         fix="give -o a new folder; crowdwise never rewrites a data set in place")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("exists and is not an empty folder", source=out,
                         fix="give -o a new or empty folder, or remove that one first")
    return out


def command(
    dataset: Annotated[Path, typer.Argument(help="A peerannot folder (answers.json + metadata.json) or a votes "
                                                 "file: CSV/TSV/Parquet (task,worker,label) or answers.json.")],
    method: Annotated[Optional[str], typer.Option(
        "--method", "-s", help="Scores to compute, comma-separated: " + ", ".join(METHODS) + ".")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out-dir", help="Folder of the score files. Default: "
                                                    "identification/ inside the data-set folder.")] = None,
    drop_spammers: Annotated[Optional[float], typer.Option(
        "--drop-spammers", help="Write a copy of the data set without the workers whose spam score "
                                "(Raykar & Yu, in [0, 1], 0 = spammer) is below THRESHOLD; needs -o.")] = None,
    output: Annotated[Optional[Path], typer.Option(
        "--output", "-o", file_okay=False, help="New (or empty) folder of the cleaned peerannot data set "
                                                "(with --drop-spammers).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="random_state of the DS and GLAD fits.")] = 0,
    duplicates: Annotated[str, typer.Option("--duplicates", help="Repeated (task, worker) votes: keep, first, "
                                            "last or error.")] = "keep",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Score the tasks, the workers and the data set DATASET.

    Task scores: entropy (of the vote shares), glad-difficulty (GLAD beta, small = hard), needs-vote (where to send the next votes). Worker scores: trace (DS confusion trace / K), spam-score (Raykar & Yu, 0 = spammer, 1 = perfect), glad-ability (GLAD alpha), agreement (share of votes equal to the majority vote). Data set: krippendorff (alpha, nominal).

    Writes identification/<score>.npy (one value per task or worker, in index order, like peerannot) and identification/<score>.csv keyed by the original ids (with n_votes), and identification/krippendorff.json. With --drop-spammers THRESHOLD -o NEWFOLDER, also writes a peerannot folder without the workers whose spam score is below THRESHOLD.
    """  # noqa: E501 (one line per paragraph: the help formatter keeps line breaks)
    import json
    import shutil

    import numpy as np
    import pandas as pd

    from .. import identify, io
    from ..identify.workers import ds_confusions
    from ..errors import InputError
    from ..votes import Votes
    from ._common import console, progress

    methods = _parse_methods(method)
    if drop_spammers is None and output is not None:
        raise InputError("-o is the folder of the cleaned data set of --drop-spammers",
                         fix="add --drop-spammers THRESHOLD, or use --out-dir for the score files")
    if drop_spammers is not None:
        if not 0.0 <= drop_spammers <= 1.0:
            raise InputError(f"--drop-spammers {drop_spammers} is outside [0, 1]",
                             fix="give a spam-score threshold between 0 (spammer) and 1 (perfect), e.g. 0.1")
        output = _check_new_folder(output, dataset)
    if not methods and drop_spammers is None:
        raise InputError("nothing to compute", fix=f"choose scores with -s ({', '.join(METHODS)}) "
                                                   "or use --drop-spammers THRESHOLD -o NEWFOLDER")

    with progress(f"reading {dataset}", quiet=quiet):
        votes = io.load_votes(dataset, duplicates=duplicates)
    folder = dataset if dataset.is_dir() else dataset.parent
    out_dir = out_dir or folder / "identification"

    conf: Any = None

    def confusions() -> Any:
        nonlocal conf
        if conf is None:
            with progress(f"Dawid-Skene on {votes.n_votes:,} votes", quiet=quiet):
                conf = ds_confusions(votes, random_state=seed)
        return conf

    scores: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (values, n_votes)
    n_task, n_worker = votes.votes_per_task(), votes.votes_per_worker()
    alpha = None
    for name in methods:
        with progress(f"{name} on {votes.n_votes:,} votes", quiet=quiet):
            if name == "entropy":
                scores[name] = identify.task_entropy(votes), n_task
            elif name == "glad-difficulty":
                scores[name] = identify.task_difficulty_glad(votes, random_state=seed), n_task
            elif name == "needs-vote":
                scores[name] = identify.needs_another_vote(votes), n_task
            elif name == "glad-ability":
                scores[name] = identify.worker_ability_glad(votes, random_state=seed), n_worker
            elif name == "agreement":
                scores[name] = identify.worker_agreement(votes)
            elif name == "krippendorff":
                alpha = identify.krippendorff_alpha(votes)
        if name == "trace":
            scores[name] = identify.worker_trace_ds(votes, confusions=confusions()), n_worker
        elif name == "spam-score":
            scores[name] = identify.worker_spam_score(votes, confusions=confusions()), n_worker

    written: list[Path] = []
    if methods:
        out_dir.mkdir(parents=True, exist_ok=True)
    for name, (values, n) in scores.items():
        kind, stem, _, _ = METHODS[name]
        ids = votes.task_ids if kind == "task" else votes.worker_ids
        npy = out_dir / f"{stem}.npy"
        io.save_npy(npy, np.asarray(values, dtype=float))
        csv = out_dir / f"{stem}.csv"
        frame = pd.DataFrame({kind: ids, stem: values, "n_votes": np.asarray(n, dtype=np.int64)})
        with io.atomic_write(csv) as f:
            frame.to_csv(f, index=False, lineterminator="\n")
        written += [npy, csv]
    if alpha is not None:
        pairable = int((n_task[votes.task] >= 2).sum())
        js = out_dir / "krippendorff.json"
        with io.atomic_write(js) as f:
            json.dump({"krippendorff_alpha": None if np.isnan(alpha) else alpha, "level": "nominal",
                       "n_pairable_votes": pairable, "n_votes": votes.n_votes}, f, indent=2)
            f.write("\n")
        written.append(js)

    dropped = None
    if drop_spammers is not None:
        spam = identify.worker_spam_score(votes, confusions=confusions())
        bad = ~(spam >= drop_spammers)  # NaN (no vote) counts as dropped: it has no vote anyway
        keep = ~bad[votes.worker]
        kept_workers, w = np.unique(votes.worker[keep], return_inverse=True)
        cleaned = Votes(task=votes.task[keep], worker=w, label=votes.label[keep], task_ids=votes.task_ids,
                        worker_ids=votes.worker_ids[kept_workers], classes=votes.classes, name=votes.name)
        io.write_peerannot(cleaned, output)
        for truth in ("ground_truth.npy", "truth.csv"):  # task ids are kept: the truth still matches
            if (folder / truth).is_file() and dataset.is_dir():
                shutil.copyfile(folder / truth, output / truth)
        dropped = (int(votes.n_workers - kept_workers.size), int((~keep).sum()), cleaned)
        written.append(output)

    if quiet:
        return
    from rich.table import Table

    console.print(f"{votes!r}")
    if alpha is not None:
        console.print(f"Krippendorff's alpha (nominal): [bold]{alpha:.4f}[/]")
    for name, (values, n) in scores.items():
        kind, stem, highest, what = METHODS[name]
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
        console.print(f"dropped {dropped[0]:,} worker(s) with spam score < {drop_spammers} "
                      f"({dropped[1]:,} votes); kept {dropped[2]!r}")
    for p in written:
        console.print(f"wrote {p}")
