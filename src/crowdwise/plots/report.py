"""One self-contained HTML page about a crowd data set.

The page holds everything inline: the style sheet, and every figure as a base64 PNG
(``data:`` URL), so it can be mailed or opened offline; it references no external URL and
runs no script. Every identifier or name coming from the data (task and worker ids,
class names, the data-set name, strategy names, error messages) is HTML-escaped.

Sections: summary (tasks, workers, classes, votes, Krippendorff's alpha), votes
(histograms per task and per worker), tasks (entropy distribution, the tasks most in
doubt as a table keyed by the original task ids), workers (score scatter plots, confusion
matrices of the most and least reliable workers) and, when the truth is given, the
strategies compared (accuracy, time). A figure that cannot be made (e.g. Dawid-Skene
refusing a huge K) is replaced by a one-line note saying why.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import CrowdwiseError
from .analysis import CrowdAnalysis
from .figures import FIGURES, _short
from ._mpl import require_matplotlib, to_png

__all__ = ["build_report", "write_report", "report_steps"]

ProgressCallback = Callable[[int, int, str], None]

#: (section title, figure names) in page order; "doubt-table" is the table of doubtful tasks
SECTIONS: list[tuple[str, list[str]]] = [
    ("Votes", ["votes-per-task", "votes-per-worker"]),
    ("Tasks", ["entropy", "doubt-table"]),
    ("Workers", ["trace-spam", "agreement", "glad-ability", "confusions"]),
    ("Strategies compared", ["strategies"]),
]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:980px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f5f8}figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.88em;color:#555}.note{color:#8a4b00;background:#fff6e8;padding:.4em .7em;border-radius:4px}
.muted{color:#666;font-size:.9em}code{background:#f3f3f3;padding:0 .25em}
"""


def _e(x: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(x), quote=True)


def _num(x: float, fmt: str = ".4f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def report_steps(analysis: CrowdAnalysis) -> list[str]:
    """The steps :func:`build_report` goes through (for a progress bar of that length)."""
    steps = ["summary"]
    for _, names in SECTIONS:
        steps += [n for n in names if n != "strategies" or analysis.truth is not None]
    return steps


def _figure_html(name: str, analysis: CrowdAnalysis, dpi: float) -> str:
    spec = FIGURES[name]
    try:
        fig = spec.build(analysis)
    except CrowdwiseError as exc:
        return f'<p class="note">Figure “{_e(spec.description)}” not shown: {_e(exc)}</p>'
    data = base64.b64encode(to_png(fig, dpi=dpi)).decode("ascii")
    return (f'<figure><img data-figure="{_e(name)}" alt="{_e(spec.description)}" '
            f'src="data:image/png;base64,{data}"><figcaption>{_e(spec.description)}</figcaption></figure>')


def _summary_html(analysis: CrowdAnalysis) -> str:
    v = analysis.votes
    per_task, per_worker = analysis.votes_per_task, analysis.votes_per_worker
    alpha = analysis.alpha
    pairable = int((per_task[v.task] >= 2).sum()) if v.n_votes else 0
    rows = [
        ("tasks", f"{v.n_tasks:,}" + (f" ({int((per_task == 0).sum()):,} without vote)" if (per_task == 0).any() else "")),
        ("workers", f"{v.n_workers:,}"),
        ("classes", f"{v.n_classes:,}"),
        ("votes", f"{v.n_votes:,}"),
        ("votes per task", f"mean {per_task.mean():.2f}, min {per_task.min():,}, max {per_task.max():,}"
         if v.n_tasks else "–"),
        ("votes per worker", f"median {np.median(per_worker):g}, max {per_worker.max():,}" if v.n_workers else "–"),
        ("Krippendorff's α (nominal)",
         (f'<span id="krippendorff-alpha">{_num(alpha)}</span>' if not math.isnan(alpha)
          else "undefined (fewer than two pairable votes, or a single class voted)")
         + f' <span class="muted">on {pairable:,} votes of tasks with at least two votes; '
           "1 = perfect agreement, 0 = chance</span>"),
    ]
    if analysis.truth is not None:
        known = int((np.asarray(analysis.truth) >= 0).sum())
        rows.append(("truth", f"known for {known:,} of {v.n_tasks:,} tasks"))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{val}</td></tr>" for k, val in rows)
    shown = ", ".join(_e(_short(c, 40)) for c in v.classes[:50])
    more = f", … ({v.n_classes - 50:,} more)" if v.n_classes > 50 else ""
    return (f'<table class="summary">{body}</table>'
            f'<p class="muted">Classes: {shown}{more}</p>')


def _doubt_table_html(analysis: CrowdAnalysis, n: int) -> str:
    v = analysis.votes
    score = analysis.needs_vote
    ok = np.flatnonzero(np.isfinite(score))
    top = ok[np.argsort(-score[ok], kind="stable")][:n]
    counts = v.counts()
    entropy = analysis.entropy
    use_ds = getattr(analysis, "needs_vote_posterior", "") == "Dawid-Skene"
    head = ["#", "task", "votes", "votes by class", "entropy"]
    if use_ds:
        head += ["DS label", "DS max posterior"]
    head.append("needs-vote score")
    rows = []
    for rank, i in enumerate(top, 1):
        lo, hi = counts.indptr[i], counts.indptr[i + 1]
        cls, cnt = counts.indices[lo:hi], counts.data[lo:hi]
        order = np.lexsort((cls, -cnt))[:5]
        by_class = ", ".join(f"{_e(_short(v.classes[cls[o]], 24))}: {int(cnt[o])}" for o in order)
        if hi - lo > 5:
            by_class += ", …"
        cells = [f'<td class="num">{rank}</td>', f'<td class="task-id">{_e(v.task_ids[i])}</td>',
                 f'<td class="num">{int(analysis.votes_per_task[i])}</td>', f"<td>{by_class or '–'}</td>",
                 f'<td class="num">{entropy[i]:.3f}</td>']
        if use_ds:
            p = analysis.ds.probas_
            row = p[[i]].toarray().ravel() if hasattr(p, "toarray") else np.asarray(p[i])
            cells += [f"<td>{_e(v.classes[analysis.ds.labels_[i]])}</td>",
                      f'<td class="num">{float(row.max()):.3f}</td>']
        cells.append(f'<td class="num">{score[i]:.4f}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (f"<h3>The {len(top)} tasks most in doubt</h3>"
            f'<p class="muted">Ranked by the needs-another-vote score (1 − max posterior) / √(votes + 1) '
            f"of <code>crowdwise.identify.needs_another_vote</code>, posterior: "
            f"{_e(getattr(analysis, 'needs_vote_posterior', ''))}. Send the next votes to the top rows.</p>"
            f'<table class="doubt"><tr>{th}</tr>{"".join(rows)}</table>')


def _strategy_table_html(analysis: CrowdAnalysis) -> str:
    s = analysis.summary
    n_seeds = len(analysis.seeds)
    rows = []
    for _, r in s.iterrows():
        if isinstance(r["error"], str):
            rows.append(f"<tr><td>{_e(r['strategy'])}</td><td colspan=5>could not run: {_e(r['error'])}</td></tr>")
            continue
        acc = f"{r['accuracy']:.4f}" + (f" ± {r['accuracy_sd']:.4f}" if n_seeds > 1 else "")
        it = "" if r["n_iter"] != r["n_iter"] else f"{r['n_iter']:.0f}"
        rows.append(f"<tr><td>{_e(r['strategy'])}</td><td class=\"num\">{acc}</td>"
                    f"<td class=\"num\">{r['share_valid']:.1%}</td><td class=\"num\">{r['time_s']:.3f}</td>"
                    f"<td class=\"num\">{r['peak_mb']:.1f}</td><td class=\"num\">{it}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("strategy", "accuracy", "valid", "fit time (s)", "peak MB",
                                               "iterations"))
    return (f'<p class="muted">Each strategy fitted on the votes {n_seeds} time(s) (seeds '
            f"{_e(', '.join(map(str, analysis.seeds)))}) by <code>crowdwise.evaluate.benchmark.run_benchmark</code>; "
            "accuracy on the tasks with known truth that got a valid label.</p>"
            f'<table class="strategies"><tr>{head}</tr>{"".join(rows)}</table>')


def build_report(analysis: CrowdAnalysis, *, title: str | None = None, n_doubt: int = 20, dpi: float = 100,
                 progress: ProgressCallback | None = None) -> str:
    """The report page as an HTML string.

    Parameters
    ----------
    analysis : CrowdAnalysis
        The votes (and truth, strategies, seeds) to report on; its scores are computed
        here on first use.
    title : str, optional
        Page title; default ``"Crowd report: <data-set name>"``.
    n_doubt : int
        Rows of the table of tasks most in doubt.
    dpi : float
        Resolution of the embedded PNG figures.
    progress : callable ``(done, total, step)``, optional
        Called before each step (the names of :func:`report_steps`).

    Returns
    -------
    str
    """
    require_matplotlib()
    from .. import __version__

    steps = report_steps(analysis)
    done = 0

    def step(name: str) -> None:
        nonlocal done
        if progress is not None:
            progress(done, len(steps), name)
        done += 1

    name = analysis.votes.name or "crowd data set"
    title = title or f"Crowd report: {name}"
    step("summary")
    parts = [f"<h1>{_e(title)}</h1>", _summary_html(analysis)]
    for section, names in SECTIONS:
        names = [n for n in names if n != "strategies" or analysis.truth is not None]
        if not names:
            continue
        parts.append(f"<h2>{_e(section)}</h2>")
        for fig in names:
            step(fig)
            if fig == "doubt-table":
                try:
                    parts.append(_doubt_table_html(analysis, n_doubt))
                except CrowdwiseError as exc:
                    parts.append(f'<p class="note">Tasks most in doubt not shown: {_e(exc)}</p>')
                continue
            if fig == "strategies":
                n_fits = len(analysis.strategies) * len(analysis.seeds)
                fits = 0

                def each_fit(row: dict) -> None:
                    nonlocal fits
                    fits += 1
                    if progress is not None:
                        progress(done - 1, len(steps), f"strategies ({fits}/{n_fits}, {row['strategy']} done)")

                try:
                    analysis.run_strategies(callback=each_fit)
                    parts.append(_strategy_table_html(analysis))
                except CrowdwiseError as exc:
                    parts.append(f'<p class="note">Strategies not compared: {_e(exc)}</p>')
                    continue
            parts.append(_figure_html(fig, analysis, dpi))
    if progress is not None:
        progress(len(steps), len(steps), "done")
    parts.append(f'<p class="muted">Made by crowdwise {_e(__version__)}.</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_e(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + "\n".join(parts) + "\n</body></html>\n")


def write_report(path: str | Path, analysis: CrowdAnalysis, **kwargs: Any) -> Path:
    """Build the report (:func:`build_report` with ``kwargs``) and write it atomically.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 1, 1, 2, 2], ["a", "b"] * 3, [0, 0, 1, 1, 0, 1], name="demo")
    >>> out = write_report(pathlib.Path(tempfile.mkdtemp()) / "report.html", CrowdAnalysis(v), dpi=30)
    >>> page = out.read_text()
    >>> page.count("data:image/png;base64,") >= 5, "http" in page
    (True, False)
    """
    from ..io import atomic_write

    text = build_report(analysis, **kwargs)
    path = Path(path)
    with atomic_write(path) as f:
        f.write(text)
    return path
