"""Figures (matplotlib) and the self-contained HTML report.

matplotlib is an optional dependency (``pip install "crowdwise[report]"``), imported only
when a figure is made, with the Agg canvas and without ``pyplot``. Every figure function
returns a :class:`matplotlib.figure.Figure` drawn from library results; none computes a
score itself.

=========================  ===============================================================
:class:`CrowdAnalysis`     the scores of one data set, computed once on first use
:data:`FIGURES`            the named figures of ``crowdwise plot`` and of the report
:func:`make_figure`        one figure by name from a ``CrowdAnalysis``
:func:`build_report`       the HTML page as a string; :func:`write_report` writes it
=========================  ===============================================================

Examples
--------
>>> from crowdwise import Votes
>>> from crowdwise.plots import CrowdAnalysis, make_figure
>>> v = Votes.from_records([0, 0, 0, 1, 1], ["a", "b", "c", "a", "b"], [0, 0, 1, 1, 1])
>>> fig = make_figure("votes-per-task", CrowdAnalysis(v))
>>> [int(p.get_height()) for p in fig.axes[0].patches]   # one task with 2 votes, one with 3
[1, 1]
"""

from .analysis import DEFAULT_STRATEGIES, CrowdAnalysis
from .figures import (
    FIGURES,
    FigureSpec,
    agreement_figure,
    confusions_figure,
    doubt_figure,
    entropy_figure,
    figure_names,
    glad_ability_figure,
    make_figure,
    reliability_order,
    strategies_figure,
    trace_spam_figure,
    votes_per_task_figure,
    votes_per_worker_figure,
)
from .report import build_report, report_steps, write_report
from ._mpl import require_matplotlib, to_png

__all__ = [
    "CrowdAnalysis",
    "DEFAULT_STRATEGIES",
    "FIGURES",
    "FigureSpec",
    "figure_names",
    "make_figure",
    "votes_per_task_figure",
    "votes_per_worker_figure",
    "entropy_figure",
    "trace_spam_figure",
    "agreement_figure",
    "glad_ability_figure",
    "confusions_figure",
    "reliability_order",
    "doubt_figure",
    "strategies_figure",
    "build_report",
    "write_report",
    "report_steps",
    "to_png",
    "require_matplotlib",
]
