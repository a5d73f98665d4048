"""``auto``: the default strategy of ``crowdwise aggregate`` and ``strategy="auto"``.

The rule, chosen on evidence (``docs/benchmarks/accuracy.md``, "Which strategy should I
use"): among the strategies that are never more than 0.5 point below majority vote on any
of the 16 open real data sets nor on sparse simulated crowds (many workers with 1-10
votes, Zipf-like activity, accuracies Beta(2, 2)), take the best on average over both.
That is :class:`~crowdwise.aggregate.EBDS` (Dawid-Skene with an empirical-Bayes prior).
EBDS keeps a ``K x K`` confusion per worker; when those exceed the memory budget
(hundreds of thousands of workers, thousands of classes), ``auto`` runs
:class:`~crowdwise.aggregate.WAWA` instead (O(votes)).
"""

from __future__ import annotations

from typing import Any

from ..votes import Votes
from ._base import Aggregator, Options, Real
from ._em import DEFAULT_MEMORY_BUDGET
from .registry import register

__all__ = ["Auto"]



@register("auto")
class Auto(Aggregator):
    """The default strategy: EBDS, or WAWA when EBDS's confusions do not fit in memory.

    ``fit`` picks the strategy from the size of the votes only (never from their labels),
    fits it and exposes its results: ``probas_``, ``labels_`` and every other fitted
    attribute of the chosen strategy (``confusions_``, ``priors_`` for EBDS;
    ``skills_`` for WAWA) are read through this object.

    The choice: EBDS (Dawid-Skene whose worker confusions shrink toward a population
    learnt from the pool) when its ``n_workers x K x K`` confusions and ``votes x K``
    update arrays take at most ``memory_budget`` bytes (:meth:`EBDS.memory_needed`), otherwise WAWA (worker agreement with the majority vote,
    O(votes)). Why these two is shown in ``docs/benchmarks/accuracy.md`` ("Which strategy
    should I use"): EBDS has the best mean accuracy over the open data sets and the
    sparse simulated crowds among the strategies never more than 0.5 point below
    majority vote on any of them.

    Parameters
    ----------
    tie : {"random", "smallest"}, default="random"
        Tie rule of ``labels_``: a task whose posterior is tied between classes gets one
        of them drawn with ``random_state`` (``"smallest"``: the class of smallest index,
        crowd-kit's rule). EBDS's posteriors are rarely tied (WAWA's more often); the rule
        still matters for majority vote, where it moves accuracy by a point on small
        crowds (``accuracy.md``).
    random_state : int or None
        Seed of the tie rule (and of the chosen strategy).
    memory_budget : float or None
        Bytes allowed for EBDS's confusions (default 4 GiB): above, WAWA runs.

    Attributes
    ----------
    strategy_ : Aggregator
        The fitted strategy.
    chosen_ : str
        Its registry name (``"EBDS"`` or ``"WAWA"``).
    probas_, labels_
        Those of ``strategy_``.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1], ["a", "b", "c"] * 2, [0, 0, 1, 1, 1, 0])
    >>> model = Auto(random_state=0).fit(v)
    >>> model.chosen_, model.labels_.tolist()
    ('EBDS', [0, 1])
    """

    description = ("The default: EBDS (best on average, never 0.5 point below majority vote on the open sets and "
                   "sparse crowds), WAWA when it would not fit in memory.")
    scales_to_many_classes = True
    single_vote_is_label = False

    parameter_rules = {
        "tie": Options("random", "smallest", noun="a tie rule"),
        "memory_budget": Real(0, help="the bytes allowed for EBDS's confusions (None: 4 GiB)") | None,
    }

    def __init__(self, tie: str = "random", random_state: int | None = None, memory_budget: float | None = None):
        self.tie = tie
        self.random_state = random_state
        self.memory_budget = memory_budget

    def choose(self, votes: Votes) -> Aggregator:
        """The unfitted strategy ``fit`` runs on ``votes`` (from their size only)."""
        # imported here so that ``auto`` registers first (``crowdwise agginfo`` lists it on top)
        from .ebds import EBDS
        from .wawa import WAWA

        budget = DEFAULT_MEMORY_BUDGET if self.memory_budget is None else float(self.memory_budget)
        if EBDS.memory_needed(votes) <= budget:
            return EBDS(tie=self.tie, random_state=self.random_state, memory_budget=budget)
        return WAWA(tie=self.tie, random_state=self.random_state)

    def _fit(self, votes: Votes) -> None:
        model = self.choose(votes).fit(votes)
        self.strategy_ = model
        self.chosen_ = type(model).__name__
        self.probas_ = model.probas_
        self.labels_ = model.labels_

    def _predict_proba(self, votes: Votes) -> Any:
        return self.strategy_.predict_proba(votes)

    def __getattr__(self, name: str) -> Any:
        # fitted attributes of the chosen strategy (confusions_, skills_...) read through
        if name.endswith("_") and not name.startswith("_") and "strategy_" in self.__dict__:
            return getattr(self.__dict__["strategy_"], name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
