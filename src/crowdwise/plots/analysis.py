"""The library results every figure and the report draw from, each computed once.

:class:`CrowdAnalysis` wraps a :class:`~crowdwise.Votes` (and optionally the truth) and
computes on first use, then caches, the scores of :mod:`crowdwise.identify`, one
Dawid-Skene and one GLAD fit shared by every score that needs them, and the strategy
comparison of :func:`crowdwise.evaluate.benchmark.run_benchmark`. Nothing here
re-implements a score: the figures only draw these results.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..votes import Votes
from .._constants import DEFAULT_STRATEGIES

__all__ = ["CrowdAnalysis", "DEFAULT_STRATEGIES"]



class CrowdAnalysis:
    """Scores of one crowd data set, computed lazily and cached.

    Parameters
    ----------
    votes : Votes
    truth : ndarray of int, shape (n_tasks,), optional
        True class index per task (-1 unknown), e.g. from :func:`crowdwise.io.load_truth`.
        Needed only by the strategy comparison.
    strategies : sequence of str
        Strategy specifications compared against the truth (registry names such as
        ``"MV"`` or ``"DS[prior=1]"``, and ``"ck:DawidSkene"`` for crowd-kit's).
    seeds : sequence of int
        Seeds of the strategy comparison (mean ± sd over them).
    random_state : int
        Seed of the Dawid-Skene and GLAD fits behind the worker scores.

    Attributes (computed on first access)
    -------------------------------------
    entropy : task entropy (:func:`crowdwise.identify.task_entropy`)
    ds : the fitted :class:`~crowdwise.aggregate.dawid_skene.DawidSkene`
    trace, spam : DS trace / K and Raykar-Yu spam score per worker, from ``ds.confusions_``
    ability : GLAD ability per worker (:func:`crowdwise.identify.worker_ability_glad`)
    agreement, agreement_n : :func:`crowdwise.identify.worker_agreement` (majority vote)
    needs_vote : :func:`crowdwise.identify.needs_another_vote` with the DS posterior (the
        vote shares when DS cannot run; ``needs_vote_posterior`` says which): the rule
        ``"auto"`` of :class:`~crowdwise.identify.CrowdScores`, the default of
        ``crowdwise identify`` too
    alpha : :func:`crowdwise.identify.krippendorff_alpha`
    runs, summary : :func:`~crowdwise.evaluate.benchmark.run_benchmark` and its
        :func:`~crowdwise.evaluate.benchmark.summary_table`

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records([0, 0, 1, 1], ["a", "b", "a", "b"], [0, 0, 0, 1])
    >>> a = CrowdAnalysis(v)
    >>> a.entropy.round(3).tolist(), a.votes_per_task.tolist()
    ([0.0, 0.693], [2, 2])
    """

    def __init__(self, votes: Votes, truth: Any = None, *, strategies: Sequence[str] = DEFAULT_STRATEGIES,
                 seeds: Sequence[int] = (0,), random_state: int = 0) -> None:
        if not isinstance(votes, Votes):
            raise InputError(f"CrowdAnalysis expects a crowdwise.Votes, got {type(votes).__name__}",
                             fix="read the data with crowdwise.io.load_votes")
        self.votes = votes
        if truth is not None:
            truth = np.asarray(truth)
            if truth.shape != (votes.n_tasks,) or (truth.size and truth.dtype.kind not in "iu"):
                raise InputError(f"truth must hold one class index per task ({votes.n_tasks}), got shape "
                                 f"{truth.shape} and dtype {truth.dtype}",
                                 fix="read it with crowdwise.io.load_truth(path, votes)")
        self.truth = truth
        self.strategies = list(strategies)
        self.seeds = list(seeds)
        self.random_state = random_state

    # ------------------------------------------------------------------ counts
    @cached_property
    def votes_per_task(self) -> np.ndarray:
        return self.votes.votes_per_task()

    @cached_property
    def votes_per_worker(self) -> np.ndarray:
        return self.votes.votes_per_worker()

    # ------------------------------------------------------------------ scores
    @cached_property
    def scores(self) -> Any:
        """The library's :class:`~crowdwise.identify.CrowdScores` of these votes: each score
        computed once, one dense Dawid-Skene fit (the figures draw K x K matrices) shared by
        the trace, the spam score, the confusions and the doubt posterior."""
        from ..identify import CrowdScores

        return CrowdScores(self.votes, random_state=self.random_state, dense_ds=True)

    @cached_property
    def alpha(self) -> float:
        return self.scores.get("krippendorff").values

    @cached_property
    def entropy(self) -> np.ndarray:
        return self.scores.get("entropy").values

    @property
    def ds(self) -> Any:
        # where dense confusions would not fit, DS refuses and the report says so instead of drawing them
        return self.scores.ds

    @cached_property
    def trace(self) -> np.ndarray:
        from ..identify import worker_trace_ds

        return worker_trace_ds(self.votes, confusions=self.ds.confusions_)

    @cached_property
    def spam(self) -> np.ndarray:
        from ..identify import worker_spam_score

        return worker_spam_score(self.votes, confusions=self.ds.confusions_)

    @cached_property
    def ability(self) -> np.ndarray:
        return self.scores.get("glad-ability").values

    @cached_property
    def plantnet_weights(self) -> np.ndarray:
        """Each worker's weight in Pl@ntNet's weighted vote (:class:`~crowdwise.aggregate.PlantNet`
        with its defaults: ``weights_``), for the distribution of user weights."""
        from ..aggregate import PlantNet

        return PlantNet(random_state=self.random_state).fit(self.votes).weights_

    @cached_property
    def _agreement(self) -> Any:
        return self.scores.get("agreement")

    @property
    def agreement(self) -> np.ndarray:
        return self._agreement.values

    @property
    def agreement_n(self) -> np.ndarray:
        return self._agreement.n_votes

    @cached_property
    def needs_vote(self) -> np.ndarray:
        from ..errors import CrowdwiseError
        from ..identify import needs_another_vote

        try:
            probas = self.ds.probas_
        except CrowdwiseError:  # DS refuses (memory budget at large K): the library's default posterior
            self.needs_vote_posterior = "Laplace-smoothed vote shares"
            return needs_another_vote(self.votes)
        self.needs_vote_posterior = "Dawid-Skene"
        return needs_another_vote(self.votes, probas=probas)

    # ------------------------------------------------------------------ strategies
    @cached_property
    def runs(self) -> pd.DataFrame:
        return self.run_strategies()

    def run_strategies(self, callback: Any = None) -> pd.DataFrame:
        """Run (once) the strategy comparison; ``callback(row)`` after each fit."""
        if "runs" in self.__dict__:
            return self.__dict__["runs"]
        from ..evaluate.benchmark import BenchmarkData, run_benchmark

        if self.truth is None:
            raise InputError("the strategy comparison needs the truth",
                             fix="give --truth FILE (truth.csv with task,label or ground_truth.npy)")
        data = BenchmarkData(self.votes.name or "data", self.votes, self.truth)
        runs = run_benchmark([data], self.strategies, seeds=self.seeds, callback=callback)
        self.__dict__["runs"] = runs
        return runs

    @cached_property
    def summary(self) -> pd.DataFrame:
        from ..evaluate.benchmark import summary_table

        return summary_table(self.runs)
