"""The common checks (:mod:`crowdwise.testing`) on every registered strategy, one test per
(strategy, check), so that a failure names both; new strategies join automatically.

The checks themselves live in ``crowdwise.testing`` (public, so that users' strategies can
run them): renaming and reordering tasks, workers, rows and classes, determinism, one vote
per task, 10,000 votes on a task, unvoted classes and a task without a vote, scikit-learn
conventions, ``predict_proba`` on the fitted votes, sparse = dense, pickling,
``partial_fit`` and the parameter rules. Below them: what only the registry knows (a
description per name, a rule for every parameter), and ``check_strategy`` on strategies
written here, one right and a few broken.
"""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import Aggregator, Options, Real, argmax_ties, as_probas, available
# assert_same_results, make_tied_crowd, relabel and untied: other strategy tests take them from here
from crowdwise.testing import (  # noqa: F401
    CHECKS,
    assert_same_results,
    check_strategy,
    make_tied_crowd,
    relabel,
    untied,
)

# the common checks fit small crowds with default iteration limits: whether a fit reaches
# max_iter (KOS often does on them) is not their subject (tests/aggregate/test_driver.py is)
pytestmark = pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")

# every registered strategy, plus modes that run other kernels or start otherwise
STRATEGIES = [info.name for info in available()] + [
    "DS[sparse=True]", "DS[init=mv]", "GLAD[init=mv]", "OneCoinDS[init=mv]", "DSWC[init=mv]", "KOS[init=normal]"]

#: known holes, reported to whoever owns the code: the check is expected to fail (strict, so
#: that a fix is noticed and the entry removed); strategy -> reason
KNOWN_CLASS_ORDER_LEAKS: dict[str, str] = {}


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", STRATEGIES)
def test_common_check(name, check, request):
    if check.startswith("invariance:permute_classes") and name in KNOWN_CLASS_ORDER_LEAKS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_CLASS_ORDER_LEAKS[name]))
    report = check_strategy(name, [check])
    if check in report.skipped:
        pytest.skip(report.skipped[check])


@pytest.mark.parametrize("name", STRATEGIES)
def test_registered_with_description(name):
    info = [i for i in available() if i.name == name.split("[")[0]][0]
    assert info.description and "\n" not in info.description


@pytest.mark.parametrize("cls", list(dict.fromkeys(i.cls for i in available())), ids=lambda c: c.__name__)
def test_every_parameter_has_a_rule(cls):
    """Every hyper-parameter of a built-in strategy is checked by a rule (``parameter_rules``)."""
    rules = cls.all_parameter_rules()
    missing = [p for p in cls._param_names() if p not in rules]
    assert not missing, (f"{cls.__name__} declares no rule for {missing}. Fix: add them to its parameter_rules "
                         "(crowdwise.aggregate.Integer, Real, Options, Boolean, Satisfies; see Aggregator)")


# ---------------------------------------------------------------------- users' strategies
class Plurality(Aggregator):
    """A user's majority vote: it follows the contract, so it passes every check."""

    parameter_rules = {"tie": Options("random", "smallest", noun="a tie rule")}

    def __init__(self, tie: str = "smallest", random_state=None):
        self.tie = tie
        self.random_state = random_state

    def _fit(self, votes: Votes) -> None:
        counts = votes.counts()
        self.probas_ = as_probas(counts)
        self.labels_ = argmax_ties(counts, tie=self.tie, random_state=self.random_state)


class FirstVote(Plurality):
    """Broken: the label is the first vote of each task in row order."""

    def _fit(self, votes: Votes) -> None:
        first = np.full(votes.n_tasks, -1)
        first[votes.task[::-1]] = votes.label[::-1]  # the last write is the first vote
        first[first < 0] = 0
        self.labels_ = first
        self.probas_ = np.eye(votes.n_classes)[first]


class SeedsItself(Plurality):
    """Broken: fit changes a hyper-parameter (it fixes the seed it was not given)."""

    def _fit(self, votes: Votes) -> None:
        if self.random_state is None:
            self.random_state = 0
        super()._fit(votes)


class Shrunk(Plurality):
    """Broken: its rule says one thing and ``fit`` accepts anything."""

    parameter_rules = {"weight": Real(0, 1)}

    def __init__(self, weight: float = 0.5, tie: str = "smallest", random_state=None):
        super().__init__(tie, random_state)
        self.weight = weight

    def validate_params(self) -> None:  # forgets to check
        pass


def test_a_user_strategy_passes_check_strategy():
    report = check_strategy(Plurality)
    assert not report.failed
    assert report.skipped == {"sparse_equals_dense": "no dense parameter", "partial_fit": "no partial_fit"}
    assert len(report.passed) == len(CHECKS) - 2
    # an instance is checked with its parameters
    assert check_strategy(Plurality(tie="random"), ["deterministic", "pickle"]).passed == ["deterministic", "pickle"]


@pytest.mark.parametrize("cls, check, says", [
    (FirstVote, "invariance:reorder_rows:tie=random", "labels moved"),
    (SeedsItself, "sklearn_conventions", "fit must not change hyper-parameters, changed: ['random_state']"),
    (Shrunk, "parameter_rules", "fit with weight=-1 (a finite number in [0, 1] expected) did not raise an InputError"),
])
def test_a_broken_user_strategy_fails_check_strategy_with_a_clear_message(cls, check, says):
    with pytest.raises(AssertionError) as err:
        check_strategy(cls)
    msg = str(err.value)
    assert msg.startswith(f"check_strategy({cls.__name__}): check {check!r} failed: ") and says in msg, msg
    report = check_strategy(cls, raise_on_failure=False)
    assert check in [name for name, _ in report.failed]


def test_a_crash_inside_a_check_names_the_check():
    class Crashes(Plurality):
        def _fit(self, votes):
            raise ZeroDivisionError("oops")

    with pytest.raises(AssertionError, match=r"check_strategy\(Crashes\): check '.*' failed: ZeroDivisionError: oops"):
        check_strategy(Crashes)


def test_check_names_and_strategies_are_checked():
    with pytest.raises(ValueError, match="unknown check"):
        check_strategy("MV", ["nope"])
    with pytest.raises(ValueError, match="not a strategy"):
        check_strategy(42)


def test_crowdwise_testing_imports_without_pytest():
    import subprocess
    import sys

    code = ("import sys; sys.modules['pytest'] = None; import crowdwise.testing as t; "
            "r = t.check_strategy('MV', ['one_vote_per_task']); print(r.passed)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['one_vote_per_task']"
