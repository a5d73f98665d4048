"""Figures of T. Lefort's PhD thesis that crowdwise draws from its own results.

Three figures, each a *data* function (a table, tested) and a *figure* function (that
table drawn), and :func:`thesis_figure` that does both and returns ``(figure, table)``:

=====================  ==========================================  ======================================
``accuracy-classes``   accuracy against the share of classes        :func:`accuracy_classes_points`,
                       retrieved, one point per strategy            :func:`accuracy_classes_figure`
                       (thesis Fig. 4.16)
``entropy-waum``       per-task vote entropy against WAUM           :func:`entropy_waum_points`,
                       (thesis Fig. 2.5)                            :func:`entropy_waum_figure`
``worst-waum``         the images of lowest WAUM of each class      :func:`worst_waum_images`,
                       (thesis Figs. 2.11, 2.14, 3.8)               :func:`worst_waum_figure`
=====================  ==========================================  ======================================

Nothing is re-computed here: the accuracy and the classes retrieved are those of
:func:`crowdwise.evaluate.evaluate_labels` with ``invalid_as_wrong=True`` (through the
benchmark runner), the entropy is :func:`crowdwise.identify.task_entropy`, and the WAUM
is read from the score file ``crowdwise identify -s waum`` writes
(:func:`read_task_score`), so drawing needs neither torch nor a training run.

References
----------
T. Lefort, *Crowdsourcing and learning with ambiguous labels: applications to Pl@ntNet*,
PhD thesis, Université de Montpellier, 2024. T. Lefort, B. Charlier, A. Joly, J. Salmon,
"Identify ambiguous tasks combining crowdsourced labels by weighting Areas Under the
Margin", *TMLR*, 2024. T. Lefort, A. Affouard, B. Charlier, J.-C. Lombardo, M. Chouet,
H. Goëau, J. Salmon, P. Bonnet, A. Joly, "Cooperative learning of Pl@ntNet's Artificial
Intelligence algorithm: how does it work and how can we improve it?", 2024.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._constants import DEFAULT_STRATEGIES
from .._lazy import pd
from ..errors import InputError
from ..votes import Votes
from ._mpl import new_figure

__all__ = [
    "read_task_score",
    "accuracy_classes_points",
    "accuracy_classes_figure",
    "entropy_waum_points",
    "entropy_waum_figure",
    "image_classes",
    "worst_waum_images",
    "worst_waum_figure",
    "ThesisFigureSpec",
    "THESIS_FIGURES",
    "thesis_figure",
]

_BLUE, _ORANGE, _GREY, _GREEN = "#3b6ea8", "#d9822b", "#8a8a8a", "#3a8f5c"
#: longest side, in pixels, of an image drawn in a grid (larger images are shrunk first)
GRID_IMAGE_PIXELS = 128


def _short(x: Any, n: int = 18) -> str:
    s = str(x)
    return s if len(s) <= n else s[: n - 1] + "…"


def _check_votes(votes: Any, what: str) -> Votes:
    if not isinstance(votes, Votes):
        raise InputError(f"{what} expects a crowdwise.Votes, got {type(votes).__name__}",
                         fix="read the data with crowdwise.io.load_votes")
    return votes


def _check_task_array(values: Any, votes: Votes, what: str, *, integer: bool = False) -> np.ndarray:
    arr = np.asarray(values)
    if arr.shape != (votes.n_tasks,) or (arr.size and arr.dtype.kind not in ("iu" if integer else "iuf")):
        kind = "class index (-1 unknown)" if integer else "number (NaN unknown)"
        raise InputError(f"{what} must hold one {kind} per task ({votes.n_tasks}), got shape {arr.shape} and "
                         f"dtype {arr.dtype}", fix="give one value per task, in the order of votes.task_ids")
    return arr.astype(np.int64 if integer else float)


# ---------------------------------------------------------------------- score files
def read_task_score(path: str | Path, votes: Votes, name: str = "waum") -> np.ndarray:
    """One task score per task of ``votes`` from a file ``crowdwise identify`` wrote.

    Parameters
    ----------
    path : str or Path
        - ``<stem>.csv`` / ``.tsv`` / ``.parquet`` (``identification/waum.csv``): columns
          ``task`` and ``name`` (or ``score``, ``value``), matched on the task ids; tasks
          the file does not list get NaN, and so does an empty value.
        - ``<stem>.npy`` (``identification/waum.npy``): one float per task, in the order of
          ``votes.task_ids`` (peerannot's layout).
    votes : Votes
        The votes the score was computed on.
    name : str
        The score's column (``"waum"``, ``"aum"``, ``"entropy"``...).

    Returns
    -------
    ndarray of float, shape (votes.n_tasks,)

    Raises
    ------
    InputError
        A missing or unreadable file, an ``.npy`` of another length, a table without the
        columns, a task twice or a task the votes do not have (a score of another data
        set), a value that is not a number.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> v = Votes.from_records(["a", "a", "b", "c"], [0, 1, 0, 1], [0, 0, 1, 1])
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "waum.csv"
    >>> _ = f.write_text("task,waum,n_votes\\nc,-0.5,1\\na,1.25,2\\n")
    >>> read_task_score(f, v).tolist()
    [1.25, nan, -0.5]
    """
    from ..io import check_exists, kind_of, source_name
    from ..io.truth import load_npy, read_columns, task_index

    votes = _check_votes(votes, "read_task_score")
    path = Path(path)
    source = source_name(path)
    check_exists(path)
    if kind_of(path)[0] == ".npy":
        arr = load_npy(path)
        if arr.shape != (votes.n_tasks,) or arr.dtype.kind not in "iuf":
            raise InputError(f"expected one {name} value per task, shape ({votes.n_tasks},) of numbers, got shape "
                             f"{arr.shape} and dtype {arr.dtype}", source=source,
                             fix=f"give the {name}.npy crowdwise identify wrote for these votes, or its {name}.csv")
        return arr.astype(float)
    aliases = {"task": ("task",), "score": (name.lower(), "score", "value")}
    tbl, roles = read_columns(path, aliases, text_roles=("task",))
    t_idx = task_index(tbl.column(roles["task"]), votes, source=source, locate=tbl.locate)
    raw = tbl.to_numpy(roles["score"])
    values = pd.to_numeric(pd.Series(raw, dtype=object).replace("", None), errors="coerce").to_numpy(dtype=float)
    bad = pd.isna(values) & pd.notna(pd.Series(raw, dtype=object).replace("", None)).to_numpy()
    if bad.any():
        row = int(np.argmax(bad))
        raise InputError(f"{name} value {raw[row]!r} is not a number", source=source, position=tbl.locate(row),
                         fix=f"give the {name} of each task as a number (empty when unknown)")
    if (t_idx < 0).any():
        row = int(np.argmax(t_idx < 0))
        raise InputError(f"task {tbl.to_numpy(roles['task'])[row]!r} is not a task of the votes", source=source,
                         position=tbl.locate(row),
                         fix=f"give the {name} file crowdwise identify wrote for these votes")
    dup = pd.Index(t_idx).duplicated()
    if dup.any():
        row = int(np.argmax(dup))
        raise InputError(f"task {tbl.to_numpy(roles['task'])[row]!r} appears twice", source=source,
                         position=tbl.locate(row), fix="keep one row per task")
    out = np.full(votes.n_tasks, np.nan)
    out[t_idx] = values
    return out


# ---------------------------------------------------------------------- Fig. 4.16
def accuracy_classes_points(votes: Votes, truth: Any, strategies: Sequence[str] = DEFAULT_STRATEGIES, *,
                            seeds: Sequence[int] = (0,), callback: Callable[[dict], None] | None = None
                            ) -> pd.DataFrame:
    r"""Accuracy and share of classes retrieved of each strategy (thesis Fig. 4.16).

    Each strategy is fitted by :func:`crowdwise.evaluate.benchmark.run_benchmark` and
    scored by :func:`crowdwise.evaluate.evaluate_labels` with ``invalid_as_wrong=True``
    (the Pl@ntNet study's rule): with :math:`T` the tasks of known truth
    :math:`y^\star_i` and :math:`\hat y_i` the strategy's label where it is valid,

    .. math::

        \mathrm{accuracy} = \frac{|\{i \in T: \hat y_i \text{ valid}, \hat y_i = y^\star_i\}|}{|T|},
        \qquad
        \mathrm{retrieved} = \frac{|\{k: \exists i \in T,\ y^\star_i = k,\ \hat y_i = k\}|}
                                  {|\{y^\star_i: i \in T\}|} .

    Parameters
    ----------
    votes : Votes
    truth : ndarray of int, shape (n_tasks,)
        True class index per task, -1 unknown (:func:`crowdwise.io.load_truth`).
    strategies : sequence of str
        Registry specifications (``"MV"``, ``"PlantNet"``, ``"DS[prior=1]"``...).
    seeds : sequence of int
        Each strategy runs once per seed; the table holds the means.
    callback : callable, optional
        Called with each run's row (progress).

    Returns
    -------
    DataFrame
        One row per strategy: ``strategy``, ``accuracy``, ``accuracy_sd`` (over seeds),
        ``classes_retrieved`` (share), ``n_classes_retrieved`` (that share times
        ``n_classes_truth``, the classes present in the truth), ``share_valid``,
        ``accuracy_valid``, ``error`` (why a strategy could not run, else NaN).

    Examples
    --------
    >>> v = Votes.from_records([0, 0, 1, 1, 2], ["a", "b", "a", "b", "a"], [0, 0, 1, 1, 1], n_classes=3)
    >>> p = accuracy_classes_points(v, np.array([0, 1, 2]), ["MV"])
    >>> p[["strategy", "accuracy", "n_classes_retrieved"]].values.tolist()
    [['MV', 0.6666666666666666, 2.0]]
    """
    from ..evaluate.benchmark import BenchmarkData, run_benchmark, summary_table

    votes = _check_votes(votes, "accuracy_classes_points")
    truth = _check_task_array(truth, votes, "truth", integer=True)
    if not (truth >= 0).any():
        raise InputError("the truth knows no task (every entry is -1)",
                         fix="give the true class of at least some tasks")
    strategies = list(strategies)
    if not strategies:
        raise InputError("no strategy to compare", fix="give strategies such as MV,WAWA,PlantNet,DS")
    runs = run_benchmark([BenchmarkData(votes.name or "data", votes, truth)], strategies, seeds=list(seeds),
                         callback=callback, invalid_as_wrong=True)
    s = summary_table(runs)
    n_truth_classes = int(np.unique(truth[truth >= 0]).size)
    out = pd.DataFrame({
        "strategy": s["strategy"].astype(str),
        "accuracy": s["accuracy"].astype(float),
        "accuracy_sd": s["accuracy_sd"].astype(float),
        "classes_retrieved": s["classes_retrieved"].astype(float),
        "n_classes_retrieved": s["classes_retrieved"].astype(float) * n_truth_classes,
        "n_classes_truth": n_truth_classes,
        "share_valid": s["share_valid"].astype(float),
        "accuracy_valid": s["accuracy_valid"].astype(float),
        "error": s["error"],
    })
    return out.reset_index(drop=True)


def accuracy_classes_figure(points: pd.DataFrame) -> Any:
    """Accuracy (y) against the share of classes retrieved (x), one labelled point per
    strategy (:func:`accuracy_classes_points`); strategies that could not run are named in
    the title. The labels are the ``texts`` of the axes, in the order of the points."""
    p = points.reset_index(drop=True)
    ok = p["error"].isna() & np.isfinite(p["accuracy"].to_numpy(dtype=float)) \
        & np.isfinite(p["classes_retrieved"].to_numpy(dtype=float))
    ran = p[ok]
    fig = new_figure(6.0, 4.4)
    ax = fig.add_subplot()
    x = 100.0 * ran["classes_retrieved"].to_numpy(dtype=float)
    y = ran["accuracy"].to_numpy(dtype=float)
    ax.scatter(x, y, s=40, color=_BLUE, zorder=3)
    n_truth = int(p["n_classes_truth"].iloc[0]) if len(p) else 0
    lo_x, hi_x = 0.0, 100.0
    if len(x):
        pad_x = max(5.0, 0.1 * (x.max() - x.min()))
        pad_y = max(0.02, 0.1 * (y.max() - y.min()))
        lo_x, hi_x = max(0.0, x.min() - pad_x), min(100.0 + pad_x / 2, x.max() + pad_x)
        ax.set_xlim(lo_x, hi_x)
        ax.set_ylim(max(0.0, y.min() - pad_y), min(1.0 + pad_y / 2, y.max() + pad_y))
        ax.set_xticks([t for t in ax.get_xticks() if lo_x <= t <= 100.0])
    # labels: on the right of their point (on the left near the right edge), pushed up when they would
    # overlap the label of a point just below at about the same place
    lo_y, hi_y = ax.get_ylim()
    per_point = 0.75 * 72 * fig.get_figheight() / max(hi_y - lo_y, 1e-12)  # typographic points per unit of y
    at = y * per_point + 4  # height of each label, in points
    for rank, i in enumerate(np.argsort(y, kind="stable")):  # a few strategies: the loop is over labels
        for j in np.argsort(y, kind="stable")[:rank]:
            if abs(x[j] - x[i]) < 0.15 * (hi_x - lo_x) and abs(at[i] - at[j]) < 10:
                at[i] = at[j] + 10
    names, counts = ran["strategy"].tolist(), ran["n_classes_retrieved"].to_numpy(dtype=float)
    for i in range(len(x)):
        right = x[i] > lo_x + 0.6 * (hi_x - lo_x)
        ax.annotate(f"{_short(names[i], 24)} ({counts[i]:g}/{n_truth})", (x[i], y[i]),
                    xytext=(-5 if right else 5, at[i] - y[i] * per_point), textcoords="offset points",
                    ha="right" if right else "left", fontsize=8)
    ax.grid(True, color="#dddddd", lw=0.6)
    ax.set_xlabel(f"classes retrieved (% of the {n_truth} classes of the truth)")
    ax.set_ylabel("accuracy (a task without a valid label is wrong)")
    failed = p.loc[~ok, "strategy"].tolist()
    ax.set_title("Accuracy against classes retrieved" + (f"\n(could not run: {', '.join(failed)})" if failed else ""))
    return fig


# ---------------------------------------------------------------------- Fig. 2.5
def entropy_waum_points(votes: Votes, waum: Any, truth: Any = None, *, random_state: int = 0) -> pd.DataFrame:
    r"""Vote entropy and WAUM of each task (thesis Fig. 2.5).

    ``entropy`` is :func:`crowdwise.identify.task_entropy`
    (:math:`H_i = -\sum_k p_{ik}\log p_{ik}`, :math:`p_{ik}` the share of task :math:`i`'s
    votes for class :math:`k`), ``waum`` as given (:func:`read_task_score`; computed by
    :func:`crowdwise.learn.waum_scores`). With the truth, ``mv_correct`` says whether the
    majority vote (:class:`~crowdwise.aggregate.MajorityVote`, ties broken with
    ``random_state``) is the true class (``<NA>`` where the truth is unknown).

    Returns
    -------
    DataFrame
        One row per task, in the order of ``votes.task_ids``: ``task``, ``entropy``,
        ``waum``, ``n_votes``, ``mv`` (class index) and, with the truth, ``mv_correct``.

    Examples
    --------
    >>> v = Votes.from_records([0, 0, 1, 1], ["a", "b", "a", "b"], [0, 0, 0, 1])
    >>> p = entropy_waum_points(v, [0.8, -0.2])
    >>> p["entropy"].round(4).tolist(), p["waum"].tolist()
    ([0.0, 0.6931], [0.8, -0.2])
    """
    from ..aggregate import MajorityVote
    from ..identify import task_entropy

    votes = _check_votes(votes, "entropy_waum_points")
    w = _check_task_array(waum, votes, "the WAUM")
    mv = MajorityVote(random_state=random_state).fit(votes).labels_.astype(np.int64)
    n = votes.votes_per_task()
    mv[n == 0] = -1
    out = pd.DataFrame({"task": votes.task_ids, "entropy": task_entropy(votes), "waum": w, "n_votes": n, "mv": mv})
    if truth is not None:
        t = _check_task_array(truth, votes, "truth", integer=True)
        correct = pd.array(mv == t, dtype="boolean")
        correct[(t < 0) | (mv < 0)] = pd.NA
        out["mv_correct"] = correct
    return out


def entropy_waum_figure(points: pd.DataFrame) -> Any:
    """Scatter of the tasks: WAUM (x) against vote entropy (y), from
    :func:`entropy_waum_points`; coloured by whether the majority vote is the truth when
    the table has ``mv_correct``. Tasks without vote or without WAUM are left out. Low
    WAUM and high entropy both flag ambiguous tasks; the figure shows where they differ."""
    p = points
    ok = (p["n_votes"].to_numpy() > 0) & np.isfinite(p["waum"].to_numpy(dtype=float))
    fig = new_figure(6.0, 4.4)
    ax = fig.add_subplot()
    x, y = p["waum"].to_numpy(dtype=float), p["entropy"].to_numpy(dtype=float)
    if "mv_correct" in p:
        c = p["mv_correct"].astype("boolean")
        groups = (("majority vote = truth", c.fillna(False).to_numpy(dtype=bool), _BLUE),
                  ("majority vote ≠ truth", (~c).fillna(False).to_numpy(dtype=bool), _ORANGE),
                  ("truth unknown", c.isna().to_numpy(dtype=bool), _GREY))
    else:
        groups = (("tasks", np.ones(len(p), dtype=bool), _BLUE),)
    for label, sel, colour in groups:
        sel = sel & ok
        if sel.any():
            ax.scatter(x[sel], y[sel], s=12, alpha=0.6, color=colour, edgecolors="none",
                       label=f"{label} ({int(sel.sum()):,})", rasterized=bool(ok.sum() > 5000))
    if ok.any():
        ax.legend(loc="upper right", frameon=False, fontsize=8)
    ax.set_xlabel("WAUM (low = ambiguous)")
    ax.set_ylabel("entropy of the vote shares (nats)")
    ax.set_title(f"Vote entropy against WAUM ({int(ok.sum()):,} tasks)")
    return fig


# ---------------------------------------------------------------------- Figs. 2.11, 2.14, 3.8
def image_classes(votes: Votes, data: Any = None, *, by: str = "mv", random_state: int = 0) -> np.ndarray:
    """The class of each task a grid puts it under: ``"mv"`` the majority vote (ties with
    ``random_state``; -1 for a task without vote), the grouping of ``crowdwise identify
    --per-class``; ``"folder"`` the class folder of its training image
    (``train/<class>/``, peerannot's true class), ``data`` being the
    :class:`~crowdwise.io.features.TaskData` of :func:`crowdwise.io.load_image_folder`."""
    votes = _check_votes(votes, "image_classes")
    if by == "mv":
        from ..aggregate import MajorityVote

        mv = MajorityVote(random_state=random_state).fit(votes).labels_.astype(np.int64)
        mv[votes.votes_per_task() == 0] = -1
        return mv
    if by == "folder":
        if data is None or getattr(data, "train", None) is None or len(data.train) != votes.n_tasks:
            raise InputError("the class folders need the image folder read with these votes",
                             fix="pass data=crowdwise.io.load_image_folder(folder, votes)")
        return np.asarray(data.train.truth, dtype=np.int64)
    raise InputError(f"unknown grouping {by!r}", fix="use 'mv' (majority vote) or 'folder' (train/<class>/)")


def worst_waum_images(waum: Any, classes: Any, *, n: int = 8, max_classes: int | None = None,
                      task_ids: Sequence[Any] | None = None, paths: Sequence[Any] | None = None,
                      class_names: Sequence[Any] | None = None) -> pd.DataFrame:
    """The ``n`` tasks of lowest WAUM in each class (the images of thesis Figs. 2.11, 2.14
    and 3.8).

    Tasks with a NaN WAUM or a class of -1 are left out; within a class the tasks are
    ranked by increasing WAUM, ties by task index (the natural order of the task ids).

    Parameters
    ----------
    waum : array of float, shape (n_tasks,)
    classes : array of int, shape (n_tasks,)
        The class of each task (:func:`image_classes`).
    n : int
        Images per class (at most; fewer when a class has fewer tasks).
    max_classes : int, optional
        Keep at most this many classes: those whose lowest WAUM is lowest (the most
        ambiguous images first; ties by class index), still listed by class index. None:
        every class with a task.
    task_ids, paths, class_names : optional
        Carried into the table: the task ids, the image file of each task
        (``data.train.paths``), the class names (``votes.classes``).

    Returns
    -------
    DataFrame
        One row per chosen task, by class index then rank: ``class_index``, ``class``,
        ``rank`` (0 = lowest WAUM), ``task_index``, ``task``, ``waum``, ``path``;
        ``attrs["n_classes"]`` the number of classes with a task, shown or not.

    Examples
    --------
    >>> t = worst_waum_images([0.5, -1.0, 0.2, 0.2, 3.0], [0, 0, 1, 1, 1], n=1)
    >>> t[["class_index", "task_index", "waum"]].values.tolist()
    [[0.0, 1.0, -1.0], [1.0, 2.0, 0.2]]
    >>> worst_waum_images([0.5, -1.0, 0.2, 0.2, 3.0], [0, 0, 1, 1, 1], n=1, max_classes=1)["task_index"].tolist()
    [1]
    """
    w = np.asarray(waum, dtype=float)
    c = np.asarray(classes)
    if w.ndim != 1 or c.shape != w.shape or (c.size and c.dtype.kind not in "iu"):
        raise InputError(f"waum (shape {w.shape}) and classes (shape {c.shape}, dtype {c.dtype}) must hold one "
                         "number and one class index per task", fix="give both in the order of votes.task_ids")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError(f"n (images per class) must be an integer >= 1, got {n!r}", fix="e.g. n=8")
    c = c.astype(np.int64)
    idx = np.flatnonzero(np.isfinite(w) & (c >= 0))
    order = idx[np.lexsort((idx, w[idx], c[idx]))]  # class, then WAUM, then task index
    cls = c[order]
    rank = np.arange(order.size) - np.searchsorted(cls, cls, side="left")
    keep = rank < n
    if max_classes is not None:
        if isinstance(max_classes, bool) or not isinstance(max_classes, (int, np.integer)) or max_classes < 1:
            raise InputError(f"max_classes must be an integer >= 1, got {max_classes!r}", fix="e.g. max_classes=30")
        firsts = np.flatnonzero(rank == 0)  # each class's lowest WAUM, classes in increasing order
        shown = cls[firsts[np.lexsort((cls[firsts], w[order[firsts]]))[:max_classes]]]
        keep &= np.isin(cls, shown)
    order, cls, rank = order[keep], cls[keep], rank[keep]
    ids = np.asarray(task_ids, dtype=object) if task_ids is not None else np.arange(w.size)
    names = np.asarray(class_names, dtype=object) if class_names is not None else None
    table = pd.DataFrame({
        "class_index": cls,
        "class": names[cls] if names is not None else cls,
        "rank": rank,
        "task_index": order,
        "task": ids[order] if ids.size else ids[:0],
        "waum": w[order],
        "path": [paths[i] for i in order] if paths is not None else [None] * order.size,
    })
    table.attrs["n_classes"] = int(np.unique(c[idx]).size)  # classes with a task, shown or not
    return table


def _read_image(path: Any, pixels: int) -> np.ndarray:
    """The image as an array (RGB, or grey), its longest side shrunk to ``pixels``."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("L" if img.mode in ("1", "L", "I;16", "I", "F") else "RGB")
            img.thumbnail((pixels, pixels))
            return np.asarray(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"cannot read the image ({type(exc).__name__}: {str(exc).splitlines()[0][:80]})",
                         source=str(path), fix="replace the file by a readable image, or remove it and its "
                                               "votes") from None


def worst_waum_figure(chosen: pd.DataFrame, *, n: int | None = None, pixels: int = GRID_IMAGE_PIXELS) -> Any:
    """The grid of :func:`worst_waum_images`: one row per class (its name on the left),
    the images by increasing WAUM from left to right, each titled with its task id and
    WAUM; each image's axes carries its task id as ``label``. ``n`` columns (default: the
    largest number of images of a class)."""
    t = chosen.reset_index(drop=True)
    row_classes = list(dict.fromkeys(t["class_index"].tolist()))
    rows = max(len(row_classes), 1)
    cols = int(n) if n is not None else int(t["rank"].max() + 1) if len(t) else 1
    fig = new_figure(1.35 * cols + 0.9, 1.55 * rows + 0.5)
    grid = fig.subplots(rows, cols, squeeze=False)
    for ax in grid.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        for side in ax.spines.values():
            side.set_visible(False)
    if not len(t):
        grid[0, 0].text(0.5, 0.5, "no task with a WAUM", ha="center", va="center", transform=grid[0, 0].transAxes)
    where = {k: r for r, k in enumerate(row_classes)}
    names = dict(zip(t["class_index"].tolist(), t["class"].tolist()))
    for rec in t.itertuples(index=False):  # one axes per drawn image: the figure is at most rows x cols
        r, k = where[rec.class_index], int(rec.rank)
        if k >= cols:
            continue
        ax = grid[r, k]
        if rec.path is not None:
            img = _read_image(rec.path, pixels)
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        ax.set_label(str(rec.task))
        ax.set_title(f"{_short(rec.task, 14)}\nWAUM {rec.waum:.3f}", fontsize=7)
        if k == 0:
            ax.set_ylabel(_short(names[rec.class_index], 14), fontsize=8)
    total = int(t.attrs.get("n_classes", len(row_classes)))
    shown = f" ({len(row_classes)} of {total} classes: those of lowest WAUM)" if total > len(row_classes) else ""
    fig.suptitle(f"Lowest WAUM of each class{shown}, most ambiguous first")
    return fig


# ---------------------------------------------------------------------- registry
@dataclass(frozen=True)
class ThesisFigureSpec:
    """A figure of the thesis: what it shows and what it needs besides the votes."""

    name: str
    description: str
    needs_truth: bool = False
    needs_waum: bool = False
    needs_images: bool = False


THESIS_FIGURES: dict[str, ThesisFigureSpec] = {f.name: f for f in [
    ThesisFigureSpec("accuracy-classes", "accuracy against the share of classes retrieved, one point per strategy "
                     "(thesis Fig. 4.16; needs --truth)", needs_truth=True),
    ThesisFigureSpec("entropy-waum", "tasks: vote entropy against WAUM, coloured by MV = truth when known "
                     "(thesis Fig. 2.5; needs --waum)", needs_waum=True),
    ThesisFigureSpec("worst-waum", "the images of lowest WAUM of each class, peerannot image folders "
                     "(thesis Figs. 2.11, 2.14, 3.8; needs --waum)", needs_waum=True, needs_images=True),
]}


def thesis_figure(name: str, votes: Votes, *, truth: Any = None, waum: Any = None, images: Any = None,
                  strategies: Sequence[str] = DEFAULT_STRATEGIES, seeds: Sequence[int] = (0,), n_images: int = 8,
                  max_classes: int | None = 30, group_by: str = "mv", random_state: int = 0, callback: Callable[[dict], None] | None = None
                  ) -> tuple[Any, pd.DataFrame]:
    """Compute and draw the thesis figure ``name`` (see :data:`THESIS_FIGURES`).

    Parameters
    ----------
    name : {"accuracy-classes", "entropy-waum", "worst-waum"}
    votes : Votes
    truth : ndarray of int, optional
        True class per task (-1 unknown): required by ``accuracy-classes``, colours
        ``entropy-waum``.
    waum : ndarray of float, optional
        WAUM per task (:func:`read_task_score`): required by the two WAUM figures.
    images : TaskData, optional
        :func:`crowdwise.io.load_image_folder` of the data set read with ``votes``:
        required by ``worst-waum``.
    strategies, seeds, callback
        Of ``accuracy-classes`` (:func:`accuracy_classes_points`).
    n_images, max_classes, group_by
        Of ``worst-waum``: images per class, at most that many classes (those of lowest
        WAUM, see :func:`worst_waum_images`), and ``"mv"`` or ``"folder"``
        (:func:`image_classes`).
    random_state : int
        Seed of the majority vote's ties.

    Returns
    -------
    (matplotlib.figure.Figure, DataFrame)
        The figure and the table it draws.
    """
    spec = THESIS_FIGURES.get(name)
    if spec is None:
        raise InputError(f"unknown thesis figure {name!r}", fix=f"use one of {', '.join(THESIS_FIGURES)}")
    if spec.needs_truth and truth is None:
        raise InputError(f"figure {name!r} compares strategies against the truth", fix="give the truth (--truth FILE)")
    if spec.needs_waum and waum is None:
        raise InputError(f"figure {name!r} draws the WAUM of each task",
                         fix="give the WAUM (--waum identification/waum.csv, written by crowdwise identify -s waum)")
    if name == "accuracy-classes":
        points = accuracy_classes_points(votes, truth, strategies, seeds=seeds, callback=callback)
        return accuracy_classes_figure(points), points
    if name == "entropy-waum":
        points = entropy_waum_points(votes, waum, truth, random_state=random_state)
        return entropy_waum_figure(points), points
    if images is None or getattr(images, "train", None) is None or images.train.paths is None:
        raise InputError("figure 'worst-waum' shows the training images: the data set has none",
                         fix="give a peerannot folder with train/<class>/<name>-<task>.<ext> images")
    w = _check_task_array(waum, votes, "the WAUM")
    if len(images.train) != votes.n_tasks:
        raise InputError(f"{len(images.train)} training images for the {votes.n_tasks} tasks of the votes",
                         fix="read the images with the votes: crowdwise.io.load_image_folder(folder, votes)")
    classes = image_classes(votes, images, by=group_by, random_state=random_state)
    names = images.classes if len(images.classes) == votes.n_classes else votes.classes
    chosen = worst_waum_images(w, classes, n=n_images, max_classes=max_classes, task_ids=votes.task_ids,
                               paths=images.train.paths, class_names=names)
    return worst_waum_figure(chosen, n=n_images), chosen
