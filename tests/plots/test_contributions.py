"""The users' contribution (Lorenz curve, Gini) and the distribution of Pl@ntNet's user weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from crowdwise import Votes  # noqa: E402
from crowdwise.aggregate import PlantNet  # noqa: E402
from crowdwise.plots import FIGURES, CrowdAnalysis, make_figure  # noqa: E402
from crowdwise.plots.figures import contributions_figure, lorenz_curve  # noqa: E402


def test_lorenz_curve_by_hand():
    x, y, gini = lorenz_curve(np.array([4, 1, 3, 2]))  # sorted 1, 2, 3, 4 of 10 votes
    np.testing.assert_allclose(x, [0, .25, .5, .75, 1])
    np.testing.assert_allclose(y, [0, .1, .3, .6, 1])
    assert gini == pytest.approx(1 - (.1 + .4 + .9 + 1.6) / 4)  # 0.25
    assert lorenz_curve(np.array([3, 3, 3]))[2] == pytest.approx(0.0)
    assert lorenz_curve(np.array([0, 0, 0, 0, 5]))[2] == pytest.approx(1 - 1 / 5)


def test_contributions_figure_states_the_gini_and_the_top_decile():
    fig = contributions_figure(np.array([4, 1, 3, 2]))
    title = fig.axes[0].get_title()
    assert "Gini 0.25" in title and "give 40% of the votes" in title  # the top worker (1 of 4): 4 of 10
    line = fig.axes[0].lines[1]
    np.testing.assert_allclose(line.get_ydata(), [0, .1, .3, .6, 1])


def test_user_weights_figure_is_the_cdf_of_plantnets_weights():
    v = Votes.from_records([0, 0, 1, 1, 2, 2, 3], ["a", "b", "a", "b", "a", "c", "c"], [0, 0, 1, 1, 0, 0, 1])
    analysis = CrowdAnalysis(v)
    np.testing.assert_allclose(analysis.plantnet_weights, PlantNet().fit(v).weights_)
    fig = make_figure("user-weights", analysis)
    steps = fig.axes[0].lines[0]
    np.testing.assert_allclose(steps.get_xdata(), np.sort(analysis.plantnet_weights))
    np.testing.assert_allclose(steps.get_ydata(), [1 / 3, 2 / 3, 1])
    assert "3 users" in fig.axes[0].get_title()
    assert {"contributions", "user-weights"} <= set(FIGURES)
    assert not FIGURES["user-weights"].needs_truth
