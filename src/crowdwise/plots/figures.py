"""One function per figure; each returns a :class:`matplotlib.figure.Figure`.

The functions draw results computed by the library (``Votes`` counts, the scores of
:mod:`crowdwise.identify`, fitted confusions, the benchmark runner's summary); they never
compute a score themselves. :data:`FIGURES` names them for ``crowdwise plot`` and the
report, each with a builder that takes a :class:`~crowdwise.plots.analysis.CrowdAnalysis`.

Worker and task identifiers shown in figures are the original ids; every axes that shows
one worker or task carries that id as its ``label`` (``ax.get_label()``) as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ._mpl import new_figure

__all__ = [
    "votes_per_task_figure",
    "votes_per_worker_figure",
    "entropy_figure",
    "trace_spam_figure",
    "agreement_figure",
    "glad_ability_figure",
    "confusions_figure",
    "doubt_figure",
    "strategies_figure",
    "reliability_order",
    "FigureSpec",
    "FIGURES",
    "lorenz_curve",
    "contributions_figure",
    "user_weights_figure",
    "figure_names",
    "make_figure",
]

#: above this many distinct values, count histograms use logarithmic bins
MAX_INTEGER_BARS = 60
_BLUE, _ORANGE, _GREY = "#3b6ea8", "#d9822b", "#8a8a8a"


def _short(x: Any, n: int = 18) -> str:
    s = str(x)
    return s if len(s) <= n else s[: n - 1] + "…"


def _count_histogram(counts: np.ndarray, what: str, per: str) -> Any:
    """Bars of how many tasks (workers) have each number of votes.

    With at most :data:`MAX_INTEGER_BARS` distinct values between the minimum and the
    maximum there is one bar per number of votes (its height the number of ``per`` with
    exactly that many votes, bars only where it is positive); otherwise logarithmic bins.
    """
    counts = np.asarray(counts, dtype=np.int64)
    fig = new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    if counts.size == 0:
        ax.text(0.5, 0.5, f"no {per}", ha="center", va="center", transform=ax.transAxes)
        return fig
    lo, hi = int(counts.min()), int(counts.max())
    if hi - lo + 1 <= MAX_INTEGER_BARS:
        values, heights = np.unique(counts, return_counts=True)
        ax.bar(values, heights, width=0.85, color=_BLUE)
        if hi - lo < 15:
            ax.set_xticks(values)
    else:
        edges = np.unique(np.round(np.geomspace(max(lo, 1), hi + 1, 40)))
        if lo == 0:
            edges = np.r_[0, edges]
        ax.hist(counts, bins=edges, color=_BLUE)
        ax.set_xscale("symlog" if lo == 0 else "log")
    ax.set_xlabel(f"votes per {what}")
    ax.set_ylabel(f"number of {per}")
    ax.set_title(f"Votes per {what}: {counts.size:,} {per}, median {np.median(counts):g}, "
                 f"min {lo:,}, max {hi:,}")
    return fig


def votes_per_task_figure(votes_per_task: np.ndarray) -> Any:
    """Histogram of the number of votes per task (``votes.votes_per_task()``).

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 2], [0, 1, 2, 0, 0], [0, 1, 1, 0, 1])
    >>> fig = votes_per_task_figure(v.votes_per_task())
    >>> [(float(p.get_x() + p.get_width() / 2), int(p.get_height())) for p in fig.axes[0].patches]
    [(1.0, 2), (3.0, 1)]
    """
    return _count_histogram(votes_per_task, "task", "tasks")


def votes_per_worker_figure(votes_per_worker: np.ndarray) -> Any:
    """Histogram of the number of votes per worker (``votes.votes_per_worker()``)."""
    return _count_histogram(votes_per_worker, "worker", "workers")


def entropy_figure(entropy: np.ndarray, n_classes: int, votes_per_task: np.ndarray | None = None) -> Any:
    """Histogram of the vote entropy of the tasks (:func:`crowdwise.identify.task_entropy`).

    20 bins from 0 to :math:`\\log K` (the entropy of a task without vote); the share of
    unanimous tasks (entropy 0) is in the title. Tasks without vote are left out when
    ``votes_per_task`` is given.
    """
    h = np.asarray(entropy, dtype=float)
    if votes_per_task is not None:
        h = h[np.asarray(votes_per_task) > 0]
    top = float(np.log(max(n_classes, 2)))
    fig = new_figure(6.4, 3.6)
    ax = fig.add_subplot()
    ax.hist(np.clip(h, 0.0, top), bins=np.linspace(0.0, top, 21), color=_BLUE)
    ax.axvline(np.log(2), color=_GREY, ls=":", lw=1)
    ax.text(np.log(2), 1.0, " even split of 2", color=_GREY, fontsize=8, va="top",
            transform=ax.get_xaxis_transform())
    ax.set_xlim(0.0, top)
    ax.set_xlabel("entropy of the vote shares (nats; 0 = unanimous)")
    ax.set_ylabel("number of tasks")
    share = float(np.mean(h <= 1e-12)) if h.size else float("nan")
    ax.set_title(f"Task ambiguity: {share:.0%} of {h.size:,} voted tasks unanimous")
    return fig


def _scatter(ax: Any, x: np.ndarray, y: np.ndarray, n: np.ndarray | None = None) -> int:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    size = 14.0
    if n is not None:
        nn = np.asarray(n, dtype=float)[ok]
        size = 6.0 + 40.0 * np.sqrt(nn / max(nn.max(initial=1.0), 1.0))
    ax.scatter(x[ok], y[ok], s=size, alpha=0.55, color=_BLUE, edgecolors="none")
    return int(ok.sum())


def trace_spam_figure(trace: np.ndarray, spam: np.ndarray, n_votes: np.ndarray | None = None) -> Any:
    """Workers by DS trace / K (x) and Raykar-Yu spam score (y); dot area grows with votes.

    Spammers sit at the bottom (spam score 0, trace near 1/K); good workers top right.
    Inputs: :func:`crowdwise.identify.worker_trace_ds`, :func:`~crowdwise.identify.worker_spam_score`.
    """
    fig = new_figure(5.6, 4.2)
    ax = fig.add_subplot()
    n = _scatter(ax, trace, spam, n_votes)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("DS confusion trace / K (class-balanced accuracy)")
    ax.set_ylabel("spam score (0 = spammer, 1 = perfect)")
    ax.set_title(f"Workers: Dawid-Skene trace vs spam score ({n:,} workers)")
    return fig


def agreement_figure(agreement: np.ndarray, n_votes: np.ndarray) -> Any:
    """Workers by number of votes (x, log) and agreement with the majority vote (y).

    Inputs: :func:`crowdwise.identify.worker_agreement` (share and the votes it rests on).
    """
    fig = new_figure(5.6, 4.2)
    ax = fig.add_subplot()
    n_votes = np.asarray(n_votes, dtype=float)
    x = np.where(n_votes > 0, n_votes, np.nan)
    n = _scatter(ax, x, agreement)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("votes on labelled tasks (log scale)")
    ax.set_ylabel("agreement with the majority vote")
    ax.set_title(f"Workers: agreement vs activity ({n:,} workers)")
    return fig


def glad_ability_figure(ability: np.ndarray, n_votes: np.ndarray) -> Any:
    """Workers by number of votes (x, log) and GLAD ability α (y; 0 = random, < 0 adversarial).

    Input: :func:`crowdwise.identify.worker_ability_glad`.
    """
    fig = new_figure(5.6, 4.2)
    ax = fig.add_subplot()
    n_votes = np.asarray(n_votes, dtype=float)
    x = np.where(n_votes > 0, n_votes, np.nan)
    n = _scatter(ax, x, ability)
    ax.axhline(0.0, color=_GREY, ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("votes (log scale)")
    ax.set_ylabel("GLAD ability α")
    ax.set_title(f"Workers: GLAD ability vs activity ({n:,} workers)")
    return fig


def reliability_order(trace: np.ndarray, n_votes: np.ndarray, *, n: int = 3,
                      min_votes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``n`` most and ``n`` least reliable workers by DS trace.

    Only workers with at least ``min_votes`` votes are ranked (a trace resting on one vote
    says little); when fewer than two workers qualify, every worker with a vote is ranked.
    Most reliable: highest trace first; least reliable: lowest trace first; ties go to the
    worker with more votes, then the smaller index. The two groups never share a worker.

    Examples
    --------
    >>> import numpy as np
    >>> most, least = reliability_order(np.array([.9, .4, np.nan, .7, .95]), np.array([9, 9, 0, 9, 9]), n=1)
    >>> most.tolist(), least.tolist()
    ([4], [1])
    """
    t = np.asarray(trace, dtype=float)
    nv = np.asarray(n_votes)
    cand = np.flatnonzero(np.isfinite(t) & (nv >= min_votes))
    if cand.size < 2:
        cand = np.flatnonzero(np.isfinite(t) & (nv > 0))
    order = cand[np.lexsort((cand, -nv[cand], -t[cand]))]  # best first
    n_most = min(n, (order.size + 1) // 2)
    n_least = min(n, order.size - n_most)
    return order[:n_most], order[::-1][:n_least]


def confusions_figure(confusions: np.ndarray, trace: np.ndarray, n_votes: np.ndarray,
                      worker_ids: Sequence[Any], classes: Sequence[Any], *, n: int = 3,
                      min_votes: int = 5) -> Any:
    """Dawid-Skene confusion matrices of the most (top row) and least (bottom row)
    reliable workers, ranked by DS trace (:func:`reliability_order`).

    Cell (true c, answered k) is :math:`\\pi^{(j)}_{ck}`; the axes of each worker carry
    its id as title and label. Class names are shown up to 20 classes, values up to 8.

    Parameters
    ----------
    confusions : ndarray (n_workers, K, K)
        ``DawidSkene(...).fit(votes).confusions_``.
    trace : ndarray (n_workers,)
        :func:`crowdwise.identify.worker_trace_ds` of the same confusions.
    n_votes : ndarray (n_workers,)
    worker_ids, classes : the original ids (``votes.worker_ids``, ``votes.classes``)
    n : int
        Workers per row.
    min_votes : int
        See :func:`reliability_order`.
    """
    conf = np.asarray(confusions, dtype=float)
    most, least = reliability_order(trace, n_votes, n=n, min_votes=min_votes)
    cols = max(len(most), len(least), 1)
    k = conf.shape[-1] if conf.ndim == 3 else 0
    fig = new_figure(2.9 * cols + 0.8, 7.0)
    grid = fig.subplots(2, cols, squeeze=False)
    image = None
    for row, (group, title) in enumerate(((most, "most reliable"), (least, "least reliable"))):
        for c in range(cols):
            ax = grid[row, c]
            if c >= len(group):
                ax.set_axis_off()
                continue
            j = int(group[c])
            image = ax.imshow(conf[j], vmin=0.0, vmax=1.0, cmap="Blues", interpolation="nearest")
            ax.set_label(str(worker_ids[j]))
            ax.set_title(f"worker {_short(worker_ids[j])}\ntrace {trace[j]:.2f}, {int(n_votes[j]):,} votes", fontsize=9)
            if k <= 20:
                names = [_short(x, 10) for x in classes]
                ax.set_xticks(range(k), names, rotation=90 if k > 4 else 0, fontsize=7)
                ax.set_yticks(range(k), names, fontsize=7)
            else:
                ax.set_xticks([])
                ax.set_yticks([])
            if k <= 8:
                for a in range(k):
                    for b in range(k):
                        v = conf[j, a, b]
                        ax.text(b, a, f"{v:.2f}", ha="center", va="center", fontsize=7,
                                color="white" if v > 0.6 else "black")
            if c == 0:
                ax.set_ylabel(f"{title}\ntrue class")
            if row == 1:
                ax.set_xlabel("answered")
    if image is not None:
        fig.colorbar(image, ax=grid.ravel().tolist(), shrink=0.6, label="P(answer | true class)")
    fig.suptitle("Dawid-Skene confusion matrices of the most and least reliable workers (by trace)")
    return fig


def doubt_figure(score: np.ndarray, task_ids: Sequence[Any], *, n: int = 20) -> Any:
    """The ``n`` tasks with the highest doubt score, as horizontal bars (highest on top).

    ``score`` is :func:`crowdwise.identify.needs_another_vote` (or any per-task score,
    higher = more in doubt); ties keep the task order. Each bar's task id is a tick label.
    """
    s = np.asarray(score, dtype=float)
    ok = np.flatnonzero(np.isfinite(s))
    top = ok[np.argsort(-s[ok], kind="stable")][:n]
    fig = new_figure(6.4, 0.8 + 0.22 * max(len(top), 3))
    ax = fig.add_subplot()
    y = np.arange(len(top))[::-1]
    ax.barh(y, s[top], color=_ORANGE)
    ax.set_yticks(y, [_short(task_ids[i], 24) for i in top], fontsize=8)
    ax.set_xlabel("needs another vote: (1 − max posterior) / √(votes + 1)")
    ax.set_title(f"The {len(top)} tasks most in doubt")
    return fig


def strategies_figure(summary: pd.DataFrame) -> Any:
    """Accuracy (± sd over seeds) and fit time of strategies compared on one data set.

    ``summary`` is :func:`crowdwise.evaluate.benchmark.summary_table` of
    :func:`~crowdwise.evaluate.benchmark.run_benchmark`; strategies that could not run are
    listed in the title, those with a validity rule show their valid share.
    """
    s = summary.reset_index(drop=True)
    ran = s[s["error"].isna()] if "error" in s else s
    fig = new_figure(8.0, 0.9 + 0.38 * max(len(ran), 3))
    ax_acc, ax_t = fig.subplots(1, 2, sharey=True, width_ratios=[3, 2])
    y = np.arange(len(ran))[::-1]
    acc = ran["accuracy"].to_numpy(dtype=float)
    sd = ran["accuracy_sd"].to_numpy(dtype=float)
    ax_acc.barh(y, acc, xerr=sd, color=_BLUE)
    names = [str(x) + (f" ({v:.0%} valid)" if v < 1 - 1e-12 else "")
             for x, v in zip(ran["strategy"], ran["share_valid"].to_numpy(dtype=float))]
    ax_acc.set_yticks(y, names, fontsize=8)
    lo = float(np.nanmin(acc)) if len(acc) else 0.0
    ax_acc.set_xlim(max(0.0, lo - 0.1) if np.isfinite(lo) else 0.0, 1.0)
    for yy, a in zip(y, acc):
        ax_acc.text(a, yy, f" {a:.4f}", va="center", fontsize=7)
    ax_acc.set_xlabel("accuracy against the truth")
    t = np.maximum(ran["time_s"].to_numpy(dtype=float), 1e-4)
    ax_t.barh(y, t, color=_GREY)
    ax_t.set_xscale("log")
    from matplotlib.ticker import NullFormatter

    ax_t.xaxis.set_minor_formatter(NullFormatter())
    ax_t.set_xlim(t.min() / 3 if len(t) else 1e-4, t.max() * 30 if len(t) else 1.0)
    for yy, tt in zip(y, t):
        ax_t.text(tt, yy, f" {tt:.3g} s", va="center", fontsize=7)
    ax_t.set_xlabel("fit time (s, log scale)")
    failed = s[s["error"].notna()]["strategy"].tolist() if "error" in s else []
    fig.suptitle("Strategies compared" + (f" (could not run: {', '.join(map(str, failed))})" if failed else ""))
    return fig


def lorenz_curve(contributions: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The Lorenz curve of the workers' contributions and its Gini coefficient.

    Workers sorted by increasing contribution; ``x[k] = k / n`` the share of workers,
    ``y[k]`` the share of all votes the ``k`` smallest contributors gave (``x[0] = y[0] =
    0``); ``gini = 1 - sum_k (x_k - x_{k-1}) (y_k + y_{k-1})``: 0 when every worker gives as
    much, ``1 - 1/n`` when one worker gives everything.

    >>> x, y, g = lorenz_curve(np.array([0, 0, 0, 4]))
    >>> y.tolist(), round(g, 4)
    ([0.0, 0.0, 0.0, 0.0, 1.0], 0.75)
    """
    c = np.sort(np.asarray(contributions, dtype=float))
    n = c.size
    if n == 0 or c.sum() <= 0:
        return np.zeros(1), np.zeros(1), 0.0
    x = np.arange(n + 1) / n
    y = np.r_[0.0, np.cumsum(c) / c.sum()]
    gini = float(1.0 - np.sum(np.diff(x) * (y[1:] + y[:-1])))
    return x, y, gini


def contributions_figure(votes_per_worker: np.ndarray) -> Any:
    """The users' contribution: Lorenz curve of the votes per worker, with its Gini
    coefficient and the share of the votes given by the 10 % most active workers (Lefort's
    thesis, Fig. 4.15b)."""
    x, y, gini = lorenz_curve(votes_per_worker)
    fig = new_figure(5.0, 4.6)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color=_GREY, lw=1, ls="--", label="equal contributions")
    ax.plot(x, y, color=_BLUE, lw=2, label="workers")
    n = len(x) - 1
    top = 1.0 - float(y[n - max(1, int(np.ceil(0.1 * n)))]) if n else 0.0
    ax.set_xlabel("share of workers (least active first)")
    ax.set_ylabel("share of the votes")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(f"Contributions: Gini {gini:.2f}\nthe 10 % most active workers give {top:.0%} of the votes")
    return fig


def user_weights_figure(weights: np.ndarray) -> Any:
    """Distribution of the users' weights in Pl@ntNet's weighted vote: the empirical CDF
    (Lefort's thesis, Fig. 4.20), weights on a log scale."""
    w = np.sort(np.asarray(weights, dtype=float))
    fig = new_figure(6.0, 3.8)
    ax = fig.add_subplot()
    if w.size == 0:
        ax.text(0.5, 0.5, "no worker", ha="center", va="center", transform=ax.transAxes)
        return fig
    ax.step(w, np.arange(1, w.size + 1) / w.size, where="post", color=_BLUE)
    if w.min() > 0:
        ax.set_xscale("log")
    ax.set_xlabel("user weight (Pl@ntNet's f(n))")
    ax.set_ylabel("share of the users")
    ax.set_title(f"User weights: {w.size:,} users, median {np.median(w):.3g}, max {w.max():.3g}")
    return fig


# ---------------------------------------------------------------------- registry
@dataclass(frozen=True)
class FigureSpec:
    """A named figure: what it shows, whether it needs the truth, how to build it."""

    name: str
    description: str
    build: Callable[[Any], Any]
    needs_truth: bool = False


FIGURES: dict[str, FigureSpec] = {f.name: f for f in [
    FigureSpec("votes-per-task", "histogram of the number of votes per task",
               lambda a: votes_per_task_figure(a.votes_per_task)),
    FigureSpec("votes-per-worker", "histogram of the number of votes per worker",
               lambda a: votes_per_worker_figure(a.votes_per_worker)),
    FigureSpec("entropy", "distribution of the task vote entropy (ambiguity)",
               lambda a: entropy_figure(a.entropy, a.votes.n_classes, a.votes_per_task)),
    FigureSpec("trace-spam", "workers: Dawid-Skene trace vs Raykar-Yu spam score",
               lambda a: trace_spam_figure(a.trace, a.spam, a.votes_per_worker)),
    FigureSpec("agreement", "workers: agreement with the majority vote vs number of votes",
               lambda a: agreement_figure(a.agreement, a.agreement_n)),
    FigureSpec("glad-ability", "workers: GLAD ability vs number of votes",
               lambda a: glad_ability_figure(a.ability, a.votes_per_worker)),
    FigureSpec("confusions", "DS confusion matrices of the most and least reliable workers",
               lambda a: confusions_figure(a.ds.confusions_, a.trace, a.votes_per_worker,
                                           a.votes.worker_ids, a.votes.classes)),
    FigureSpec("doubt", "the tasks most in doubt (needs-another-vote score, DS posterior)",
               lambda a: doubt_figure(a.needs_vote, a.votes.task_ids)),
    FigureSpec("strategies", "strategies compared against the truth: accuracy and time (needs --truth)",
               lambda a: strategies_figure(a.summary), needs_truth=True),
    FigureSpec("contributions", "the users' contribution: Lorenz curve of the votes per worker, Gini coefficient",
               lambda a: contributions_figure(a.votes_per_worker)),
    FigureSpec("user-weights", "distribution (CDF) of the users' weights in Pl@ntNet's weighted vote",
               lambda a: user_weights_figure(a.plantnet_weights)),
]}


def figure_names() -> list[str]:
    """The figure names, in report order."""
    return list(FIGURES)


def make_figure(name: str, analysis: Any) -> Any:
    """Build the figure ``name`` (see :data:`FIGURES`) from a ``CrowdAnalysis``."""
    spec = FIGURES.get(name)
    if spec is None:
        raise InputError(f"unknown figure {name!r}", fix=f"use one of {', '.join(FIGURES)}")
    if spec.needs_truth and analysis.truth is None:
        raise InputError(f"figure {name!r} needs the truth", fix="give --truth FILE")
    return spec.build(analysis)
