"""Figures: the drawn values are the library's results (counts, identify scores, DS fits)."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from crowdwise import Votes, identify
from crowdwise.errors import InputError
from crowdwise.plots import (FIGURES, CrowdAnalysis, confusions_figure, doubt_figure, entropy_figure,
                             make_figure, reliability_order, strategies_figure, trace_spam_figure,
                             votes_per_task_figure, votes_per_worker_figure)
from crowdwise.simulate import independent_confusion


def _bars(ax) -> dict[float, float]:
    return {round(p.get_x() + p.get_width() / 2, 6): p.get_height() for p in ax.patches}


@pytest.fixture(scope="module")
def hand() -> Votes:
    # tasks t1..t5 get 1, 2, 2, 3, 5 votes; workers a..e vote 5, 4, 2, 1, 1 times
    rows = [("t1", "a", "x"),
            ("t2", "a", "x"), ("t2", "b", "y"),
            ("t3", "a", "y"), ("t3", "b", "y"),
            ("t4", "a", "x"), ("t4", "b", "x"), ("t4", "c", "y"),
            ("t5", "a", "x"), ("t5", "b", "x"), ("t5", "c", "x"), ("t5", "d", "y"), ("t5", "e", "x")]
    t, w, lab = zip(*rows)
    return Votes.from_records(t, w, lab)


@pytest.fixture(scope="module")
def crowd():
    sim = independent_confusion(240, 14, 3, feedback=5, spammer_fraction=0.3, seed=3)
    return sim, CrowdAnalysis(sim.votes, sim.truth, strategies=["MV[tie=smallest]", "DS"])


def test_vote_histograms_bar_heights_are_the_counts(hand):
    ax = votes_per_task_figure(hand.votes_per_task()).axes[0]
    assert _bars(ax) == {1.0: 1, 2.0: 2, 3.0: 1, 5.0: 1}
    ax = votes_per_worker_figure(hand.votes_per_worker()).axes[0]
    assert _bars(ax) == {1.0: 2, 2.0: 1, 4.0: 1, 5.0: 1}
    assert "5 workers" in ax.get_title() and "max 5" in ax.get_title()
    # the registry draws the same thing from an analysis
    assert _bars(make_figure("votes-per-task", CrowdAnalysis(hand)).axes[0]) == {1.0: 1, 2.0: 2, 3.0: 1, 5.0: 1}


def test_count_histogram_switches_to_log_bins_over_many_values():
    counts = np.r_[np.arange(1, 500), [5000]]
    ax = votes_per_worker_figure(counts).axes[0]
    assert ax.get_xscale() == "log"
    assert sum(p.get_height() for p in ax.patches) == counts.size


def test_entropy_histogram_counts_the_voted_tasks(hand):
    h = identify.task_entropy(hand)
    ax = entropy_figure(h, hand.n_classes, hand.votes_per_task()).axes[0]
    heights = np.array([p.get_height() for p in ax.patches])
    expected, _ = np.histogram(h, bins=np.linspace(0, np.log(2), 21))
    np.testing.assert_array_equal(heights, expected)
    assert heights.sum() == 5 and "40% of 5 voted tasks unanimous" in ax.get_title()  # t1 and t3


def test_trace_spam_scatter_shows_the_identify_scores(crowd):
    sim, a = crowd
    trace, spam = identify.worker_trace_ds(sim.votes), identify.worker_spam_score(sim.votes)
    pts = make_figure("trace-spam", a).axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(np.asarray(pts), np.c_[trace, spam], rtol=1e-9)
    # a worker without vote (NaN score) is not drawn
    fig = trace_spam_figure(np.array([0.5, np.nan]), np.array([0.2, np.nan]))
    assert len(fig.axes[0].collections[0].get_offsets()) == 1


def test_agreement_and_glad_scatter_values(crowd):
    sim, a = crowd
    share, n = identify.worker_agreement(sim.votes)
    pts = np.asarray(make_figure("agreement", a).axes[0].collections[0].get_offsets())
    np.testing.assert_allclose(pts, np.c_[n, share])
    alpha = identify.worker_ability_glad(sim.votes)
    pts = np.asarray(make_figure("glad-ability", a).axes[0].collections[0].get_offsets())
    np.testing.assert_allclose(pts[:, 1], alpha, rtol=1e-9)


def test_confusion_figure_shows_highest_and_lowest_ds_trace(crowd):
    sim, a = crowd
    trace = identify.worker_trace_ds(sim.votes)
    fig = make_figure("confusions", a)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    best, worst = int(np.nanargmax(trace)), int(np.nanargmin(trace))
    assert shown[0].get_label() == str(sim.votes.worker_ids[best])
    assert shown[3].get_label() == str(sim.votes.worker_ids[worst])
    assert f"trace {trace[best]:.2f}" in shown[0].get_title()
    np.testing.assert_allclose(shown[0].images[0].get_array(), a.ds.confusions_[best])
    # top row decreasing, bottom row increasing trace
    ids = [ax.get_label() for ax in shown]
    pos = {str(w): j for j, w in enumerate(sim.votes.worker_ids)}
    t = [trace[pos[i]] for i in ids]
    assert t[0] >= t[1] >= t[2] > t[5] >= t[4] >= t[3]


def test_reliability_order_ranks_without_overlap_and_skips_thin_workers():
    trace = np.array([0.9, 0.2, 0.99, 0.5, np.nan])
    n = np.array([10, 10, 1, 10, 0])
    most, least = reliability_order(trace, n, n=3, min_votes=5)
    assert most.tolist() == [0, 3] and least.tolist() == [1]  # worker 2 has one vote: not ranked
    most, least = reliability_order(trace, np.array([1, 1, 1, 1, 0]), n=1, min_votes=5)  # fallback: all voted
    assert most.tolist() == [2] and least.tolist() == [1]
    fig = confusions_figure(np.tile(np.eye(2), (2, 1, 1)), np.array([1.0, 0.5]), np.array([9, 9]), ["p", "q"],
                            ["c0", "c1"], n=3)
    assert [ax.get_label() for ax in fig.axes if ax.images] == ["p", "q"]


def test_doubt_figure_lists_the_top_tasks(crowd):
    sim, a = crowd
    score = identify.needs_another_vote(sim.votes, probas=a.ds.probas_)
    ax = make_figure("doubt", a).axes[0]
    top = np.argsort(-score, kind="stable")[:20]
    ticks = sorted(((t.get_position()[1], t.get_text()) for t in ax.get_yticklabels()), reverse=True)
    assert [text for _, text in ticks] == [str(sim.votes.task_ids[i]) for i in top]  # highest on top
    widths = sorted(p.get_width() for p in ax.patches)
    np.testing.assert_allclose(widths, np.sort(score[top]))
    assert len(doubt_figure(np.array([0.1, np.nan, 0.3]), ["a", "b", "c"]).axes[0].patches) == 2


def test_strategies_figure_bars_are_the_benchmark_accuracies(crowd):
    sim, a = crowd
    ax = make_figure("strategies", a).axes[0]
    s = a.summary.set_index("strategy")
    mv = np.mean(__import__("crowdwise").aggregate.MajorityVote(tie="smallest").fit(sim.votes).labels_ == sim.truth)
    assert s.loc["MV[tie=smallest]", "accuracy"] == mv
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths, s["accuracy"].to_numpy())
    summary = pd.DataFrame({"strategy": ["A", "B"], "accuracy": [0.8, np.nan], "accuracy_sd": [0.0, 0.0],
                            "share_valid": [1.0, np.nan], "time_s": [0.1, np.nan], "error": [np.nan, "too big"]})
    fig = strategies_figure(summary)
    assert "could not run: B" in fig.get_suptitle() and len(fig.axes[0].patches) == 1


def test_unknown_figure_and_missing_truth_are_input_errors(hand):
    with pytest.raises(InputError, match="unknown figure 'nope'.*votes-per-task"):
        make_figure("nope", CrowdAnalysis(hand))
    with pytest.raises(InputError, match="needs the truth"):
        make_figure("strategies", CrowdAnalysis(hand))
    assert FIGURES["strategies"].needs_truth and not FIGURES["entropy"].needs_truth


def test_missing_matplotlib_names_the_extra(hand, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(InputError, match=r'pip install "crowdwise\[report\]"'):
        make_figure("votes-per-task", CrowdAnalysis(hand))


def test_figures_leave_pyplot_alone(hand):
    fig = make_figure("entropy", CrowdAnalysis(hand))
    assert type(fig.canvas).__name__ == "FigureCanvasAgg"
    assert fig.canvas.manager is None  # not registered with pyplot: nothing to close, nothing kept


def test_bad_truth_shape_is_refused(hand):
    with pytest.raises(InputError, match="one class index per task"):
        CrowdAnalysis(hand, truth=np.zeros(3, dtype=int))
    assert Counter(hand.votes_per_task().tolist()) == {1: 1, 2: 2, 3: 1, 5: 1}
