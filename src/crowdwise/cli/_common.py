"""Helpers shared by the CLI verbs: console, progress bars."""

from __future__ import annotations

from pathlib import Path

from contextlib import contextmanager
from typing import Any, Iterator

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


@contextmanager
def progress(description: str, *, quiet: bool = False, total: float | None = None) -> Iterator:
    """A rich progress bar (spinner when ``total`` is None); silent when ``quiet``.

    Yields a callable ``advance(n=1)``.
    """
    if quiet:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True,
                  disable=not err_console.is_terminal) as prog:
        tid = prog.add_task(description, total=total)
        yield lambda n=1: prog.advance(tid, n)


def fit_with_progress(model, votes, description: str, *, quiet: bool = False):
    """``model.fit(votes)`` with a progress display: a bar over ``max_iter`` that shows the
    objective for iterative strategies (through :func:`crowdwise.aggregate.fit_progress`), a spinner with the
    elapsed time otherwise. Returns the fitted model."""
    if quiet:
        return model.fit(votes)
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    total = getattr(model, "max_iter", None)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                  console=err_console, transient=True, disable=not err_console.is_terminal) as prog:
        tid = prog.add_task(description, total=total, info="")

        def on_iteration(iteration: int, n: int, objective: float | None) -> None:
            info = f"iteration {iteration}" + ("" if objective is None else f", objective {objective:.6g}")
            prog.update(tid, completed=iteration, total=n, info=info)

        from ..aggregate import fit_progress

        with fit_progress(on_iteration):
            return model.fit(votes)


#: truth files looked for in a data-set folder, in this order (peerannot's, then ours)
TRUTH_FILES = ("ground_truth.npy", "truth.csv")


def resolve_dataset(dataset: Path) -> tuple[Path, Path]:
    """Where the data of a DATASET argument are, and the folder its outputs default to.

    A path is itself (outputs beside it: its folder, or the folder of a votes file). A name
    that is no path but a registered data set (`crowdwise datasets`) names the installed
    set: its data are read from the cache, its outputs default to the current folder (the
    cache is never written by a verb). A registered set that is not installed is one error
    line saying how to install it."""
    if dataset.exists() or len(dataset.parts) != 1:
        return dataset, (dataset if dataset.is_dir() else dataset.parent)
    from .. import datasets
    from ..errors import InputError

    name = str(dataset)
    registered = {info.name.lower(): info.name for info in datasets.available()}
    if name.lower() not in registered:
        return dataset, dataset.parent  # the reader says "no such file or folder"
    name = registered[name.lower()]
    if name not in datasets.installed():
        raise InputError(f"{name!r} is a registered data set that is not installed here",
                         fix=f"run `crowdwise install {name}` (or give the path of a data set)")
    return datasets.path(name), Path.cwd()


def folder_truth(dataset: Path, truth: Path | None) -> Path | None:
    """``truth`` when given, else the data-set folder's ``ground_truth.npy`` or ``truth.csv``
    (for a votes file: the files beside it), else None."""
    if truth is not None:
        return truth
    folder = dataset if dataset.is_dir() else dataset.parent
    return next((folder / f for f in TRUTH_FILES if (folder / f).is_file()), None)


#: files of a data-set folder that a verb may read (peerannot's, the vote tables, the truth)
DATASET_FILES = ("answers.json", "metadata.json", "votes.csv", "votes.tsv", "votes.parquet", "votes.csv.gz",
                 *TRUTH_FILES)


def input_files(*paths: Path | None) -> list[Path]:
    """The files a verb reads for these arguments, which none of its outputs may replace:
    a file itself (with the ``metadata.json`` of an ``answers.json``); for a data-set folder,
    its data-set files (:data:`DATASET_FILES`). None is skipped."""
    out: list[Path] = []
    for p in paths:
        if p is None:
            continue
        p = Path(p)
        if p.is_dir():
            out += [p / f for f in DATASET_FILES if (p / f).exists()]
        else:
            out.append(p)
            if p.name == "answers.json":
                out.append(p.parent / "metadata.json")
            out.append(p.parent / f"{p.stem}.metadata.json")
    return out


def peerannot_files(dataset: Path, answers_file: str | None, metadata_path: Path | None) -> tuple[Path, Path | None]:
    """The answers and metadata files named by peerannot's ``--answers-file`` and
    ``--metadata-path`` for ``dataset`` (a folder, or an answers file)."""
    folder = dataset if dataset.is_dir() else dataset.parent
    answers = dataset if not dataset.is_dir() else folder / "answers.json"
    if answers_file is not None:
        answers = Path(answers_file) if Path(answers_file).is_absolute() or not dataset.is_dir() else folder / answers_file
    if metadata_path is None and (folder / "metadata.json").is_file():
        metadata_path = folder / "metadata.json"
    return answers, metadata_path


def load_dataset_votes(dataset: Path, *, answers_file: str | None = None, metadata_path: Path | None = None,
                       columns: str | None = None, **kwargs: Any) -> Any:
    """``io.load_votes`` for a verb that needs votes: a data set without any vote (a table with
    only its header, ``{}`` in answers.json) is one clear error, not a division by zero later.
    ``answers_file`` and ``metadata_path`` (peerannot's options) read that answers file with
    that metadata; ``columns`` is the ``--columns`` text."""
    from .. import io
    from ..errors import InputError
    from ._options import parse_columns

    mapping = parse_columns(columns)
    if mapping is not None:
        kwargs["columns"] = mapping

    if answers_file is not None or metadata_path is not None:
        if mapping is not None:
            raise InputError("--columns maps the columns of a vote table; --answers-file and --metadata-path read "
                             "answers.json", fix="give one or the other")
        answers, meta = peerannot_files(dataset, answers_file, metadata_path)
        for f in (answers, meta):
            if f is not None and not f.is_file():
                raise InputError("file not found", source=f, fix="check --answers-file / --metadata-path")
        votes = io.read_answers(answers, metadata=meta, **kwargs)
    else:
        votes = io.load_votes(dataset, **kwargs)
    if votes.n_votes == 0:
        raise InputError("holds no vote", source=dataset,
                         fix="give it at least one vote (rows task,worker,label below the header of a table, "
                             "{task: {worker: label}} in answers.json), or point to the right data set")
    if kwargs.get("duplicates", "keep") == "keep":
        warn_repeated_votes(votes, dataset)
    return votes


def warn_repeated_votes(votes: Any, source: Path) -> int:
    """One ``warning:`` line when some worker voted more than once on a task (kept as separate
    votes by ``--duplicates keep``); returns how many votes repeat an earlier pair."""
    import warnings

    import numpy as np

    from ..errors import InputWarning

    key = np.sort(votes.task.astype(np.int64) * max(votes.n_workers, 1) + votes.worker)
    n = int(np.count_nonzero(key[1:] == key[:-1]))
    if n:
        warnings.warn(f"{source}: {n:,} vote(s) ({n / votes.n_votes:.1%}) repeat a (task, worker) pair already "
                      "voted; they are kept as separate votes (--duplicates keep). Use --duplicates first or last "
                      "to keep one vote per pair, or error to refuse them", InputWarning, stacklevel=2)
    return n
