"""Several scores of one crowd at once, by name, and the cleaning they drive.

:class:`CrowdScores` computes each score on first use and shares what scores have in
common (one Dawid-Skene fit for the DS trace and the spam score); :func:`score` is the
one-call form the ``crowdwise identify`` command uses, :func:`drop_spammers` the cleaning
of ``identify --drop-spammers``. The figures and the HTML report read the same object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from ..errors import InputError
from ..votes import Votes
from ._check import check_votes
from .workers import DENSE_CONFUSIONS_LIMIT

__all__ = ["SCORES", "NEEDS_VOTE_POSTERIORS", "Score", "CrowdScores", "score", "drop_spammers", "DroppedSpammers",
           "DENSE_CONFUSIONS_LIMIT", "check_spam_score_size"]

#: the posteriors the needs-another-vote score can read (see CrowdScores)
NEEDS_VOTE_POSTERIORS = ("auto", "ds", "shares")

#: name -> (what it scores: "task", "worker" or "dataset"; file stem and column title)
SCORES: dict[str, tuple[str, str]] = {
    "entropy": ("task", "entropy"),
    "glad-difficulty": ("task", "glad_difficulty"),
    "needs-vote": ("task", "needs_vote"),
    "trace": ("worker", "trace"),
    "spam-score": ("worker", "spam_score"),
    "glad-ability": ("worker", "glad_ability"),
    "agreement": ("worker", "agreement"),
    "krippendorff": ("dataset", "krippendorff"),
}



@dataclass(frozen=True)
class Score:
    """One score: ``values`` per task or worker (index order of the votes; NaN where it is
    undefined) with the number of votes behind each, or one number for the data set."""

    name: str
    kind: str
    values: Any
    n_votes: np.ndarray | None
    ids: np.ndarray | None

    @property
    def stem(self) -> str:
        """File stem and column title (``spam-score`` -> ``spam_score``)."""
        return SCORES[self.name][1] if self.name in SCORES else self.name.replace("-", "_")

    def to_frame(self) -> Any:
        """A DataFrame ``(task|worker, <stem>, n_votes)`` keyed by the original ids."""
        from .._lazy import pd

        if self.kind == "dataset":
            raise InputError(f"{self.name} is one number for the data set, not a table",
                             fix="read Score.values")
        return pd.DataFrame({self.kind: self.ids, self.stem: self.values,
                             "n_votes": np.asarray(self.n_votes, dtype=np.int64)})


def check_spam_score_size(votes: Votes, *, asked: Iterable[str] = ("spam-score",)) -> None:
    """InputError, before any fit, when the spam score's dense ``(n_workers, K, K)``
    confusions would exceed :data:`DENSE_CONFUSIONS_LIMIT`; the fix names the worker scores
    that can run and were not asked already."""
    k, w = votes.n_classes, votes.n_workers
    need = 8.0 * w * k * k
    if need <= DENSE_CONFUSIONS_LIMIT:
        return
    asked = list(asked)
    what = "spam-score" if "spam-score" in asked else "dropping spammers (spam scores)"
    others = [m for m in ("trace", "agreement", "glad-ability") if m not in asked]
    fix = "leave spam-score out" if "spam-score" in asked else "clean the data set another way"
    if others:
        fix += f" (scores that can run at this size: {', '.join(others)})"
    raise InputError(f"{what} needs every worker's full {k:,} x {k:,} confusion matrix: {need / 2**30:,.1f} GiB "
                     f"for {w:,} workers, above the limit of {DENSE_CONFUSIONS_LIMIT / 2**30:.0f} GiB", fix=fix)


class CrowdScores:
    """The task, worker and data-set scores of one crowd, each computed once on first use.

    Parameters
    ----------
    votes : Votes
    random_state : int, default=0
        Seed of the Dawid-Skene and GLAD fits.
    confusions : array (n_workers, K, K), optional
        Worker confusions to score instead of fitting Dawid-Skene.
    dense_ds : bool, default=False
        Fit DS in its dense mode (``sparse=False``), as the figures need every worker's
        K x K matrix; by default DS chooses its mode by size.
    needs_vote_posterior : {"auto", "ds", "shares"}, default="auto"
        The posterior of the needs-another-vote score
        (:func:`~crowdwise.identify.needs_another_vote`): the Dawid-Skene posterior
        (``"ds"``), the Laplace-smoothed vote shares (``"shares"``), or DS when it can run
        and the shares when DS refuses (memory budget at large K). ``needs_vote_source``
        tells which one was used. ``crowdwise identify`` and ``crowdwise report`` share
        this score and this default (``--needs-vote-posterior``).

    Examples
    --------
    Six tasks of classes 0, 1, 0, 1, 0, 1; workers a and b answer right, c always answers 0:

    >>> from crowdwise import Votes
    >>> v = Votes.from_records(np.repeat(range(6), 3), list("abc") * 6,
    ...                        [lab for t in range(6) for lab in (t % 2, t % 2, 0)])
    >>> s = CrowdScores(v)
    >>> s.get("agreement").values.tolist(), s.get("spam-score").values.round(3).tolist()
    ([1.0, 1.0, 0.5], [1.0, 1.0, 0.0])
    """

    def __init__(self, votes: Votes, *, random_state: int | None = 0, confusions: Any = None,
                 dense_ds: bool = False, needs_vote_posterior: str = "auto") -> None:
        self.votes = check_votes(votes, "CrowdScores")
        if needs_vote_posterior not in NEEDS_VOTE_POSTERIORS:
            raise InputError(f"unknown needs-vote posterior {needs_vote_posterior!r}",
                             fix=f"use one of {', '.join(NEEDS_VOTE_POSTERIORS)}")
        self.random_state = random_state
        self._given_confusions = confusions
        self.dense_ds = dense_ds
        self.needs_vote_posterior = needs_vote_posterior
        self.needs_vote_source: str | None = None

    def needs_vote(self) -> np.ndarray:
        """The needs-another-vote score with the posterior of ``needs_vote_posterior``
        (``needs_vote_source`` says which was used)."""
        from ..errors import CrowdwiseError
        from .tasks import needs_another_vote

        if self.needs_vote_posterior != "shares":
            try:
                probas = self.ds.probas_
            except CrowdwiseError:  # DS refuses (memory budget at large K)
                if self.needs_vote_posterior == "ds":
                    raise
            else:
                self.needs_vote_source = "Dawid-Skene"
                return needs_another_vote(self.votes, probas=probas)
        self.needs_vote_source = "Laplace-smoothed vote shares"
        return needs_another_vote(self.votes)

    @cached_property
    def ds(self) -> Any:
        """The fitted :class:`~crowdwise.aggregate.DawidSkene` the DS-based scores share."""
        from ..aggregate.dawid_skene import DawidSkene

        kw: dict[str, Any] = {"sparse": False} if self.dense_ds else {}
        return DawidSkene(random_state=self.random_state, **kw).fit(self.votes)

    @property
    def confusions(self) -> Any:
        return self._given_confusions if self._given_confusions is not None else self.ds.confusions_

    @cached_property
    def n_task(self) -> np.ndarray:
        return self.votes.votes_per_task()

    @cached_property
    def n_worker(self) -> np.ndarray:
        return self.votes.votes_per_worker()

    @cached_property
    def _agreement(self) -> tuple[np.ndarray, np.ndarray]:
        from .workers import worker_agreement

        return worker_agreement(self.votes)

    def values(self, name: str) -> Any:
        """The values of score ``name`` (see :data:`SCORES`)."""
        from . import tasks, workers
        from .dataset import krippendorff_alpha

        v = self.votes
        if name == "entropy":
            return tasks.task_entropy(v)
        if name == "glad-difficulty":
            return tasks.task_difficulty_glad(v, random_state=self.random_state)
        if name == "needs-vote":
            return self.needs_vote()
        if name == "trace":
            return workers.worker_trace_ds(v, confusions=self.confusions)
        if name == "spam-score":
            return workers.worker_spam_score(v, confusions=self.confusions)
        if name == "glad-ability":
            return workers.worker_ability_glad(v, random_state=self.random_state)
        if name == "agreement":
            return self._agreement[0]
        if name == "krippendorff":
            return krippendorff_alpha(v)
        raise InputError(f"unknown score {name!r}", fix=f"use one of {', '.join(SCORES)}")

    def get(self, name: str) -> Score:
        """Score ``name`` with its votes and ids."""
        if name not in SCORES:
            raise InputError(f"unknown score {name!r}", fix=f"use one of {', '.join(SCORES)}")
        kind = SCORES[name][0]
        values = self.values(name)
        if kind == "task":
            return Score(name, kind, values, self.n_task, self.votes.task_ids)
        if kind == "worker":
            n = self._agreement[1] if name == "agreement" else self.n_worker
            return Score(name, kind, values, n, self.votes.worker_ids)
        return Score(name, kind, values, None, None)


def score(votes: Votes, methods: Iterable[str], *, random_state: int | None = 0, confusions: Any = None,
          progress: Any = None) -> dict[str, Score]:
    """Compute the scores named in ``methods`` (see :data:`SCORES`), sharing one DS fit.

    ``progress(name)`` is called before each score (e.g. to show what runs). A spam score at
    a size it cannot run is refused before anything is computed.

    Examples
    --------
    >>> from crowdwise import Votes
    >>> v = Votes.from_records(np.repeat(range(6), 3), list("abc") * 6,
    ...                        [lab for t in range(6) for lab in (t % 2, t % 2, 0)])
    >>> s = score(v, ["agreement", "krippendorff"])
    >>> s["agreement"].to_frame().to_dict("list")
    {'worker': ['a', 'b', 'c'], 'agreement': [1.0, 1.0, 0.5], 'n_votes': [6, 6, 6]}
    """
    votes = check_votes(votes, "score")
    names = list(dict.fromkeys(methods))
    bad = [m for m in names if m not in SCORES]
    if bad:
        raise InputError(f"unknown score {', '.join(map(repr, bad))}", fix=f"use one or more of {', '.join(SCORES)}")
    if "spam-score" in names and confusions is None:
        check_spam_score_size(votes, asked=names)
    scores = CrowdScores(votes, random_state=random_state, confusions=confusions)
    out = {}
    for name in names:
        if progress is not None:
            progress(name)
        out[name] = scores.get(name)
    return out


@dataclass(frozen=True)
class DroppedSpammers:
    """The cleaned crowd of :func:`drop_spammers` and what was removed."""

    votes: Votes
    spam_scores: np.ndarray
    n_workers_dropped: int
    n_votes_dropped: int


def drop_spammers(votes: Votes, threshold: float, *, min_votes: int = 1, confusions: Any = None,
                  random_state: int | None = 0) -> DroppedSpammers:
    """The crowd without the workers whose spam score (Raykar & Yu 2012, 0 = spammer) is below
    ``threshold``.

    A worker with fewer than ``min_votes`` votes is kept whatever their score (it rests on
    too little); a worker without any vote has no score and nothing to drop. Task ids and
    classes are kept (tasks left without a vote stay declared), so a truth of the original
    tasks still matches.

    Examples
    --------
    Worker c always answers 0 (spam score 0):

    >>> from crowdwise import Votes
    >>> v = Votes.from_records(np.repeat(range(6), 3), list("abc") * 6,
    ...                        [lab for t in range(6) for lab in (t % 2, t % 2, 0)])
    >>> r = drop_spammers(v, 0.5)
    >>> r.votes.worker_ids.tolist(), r.n_votes_dropped, r.spam_scores.round(3).tolist()
    (['a', 'b'], 6, [1.0, 1.0, 0.0])
    """
    votes = check_votes(votes, "drop_spammers")
    if not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold {threshold} is outside [0, 1]",
                         fix="give a spam-score threshold between 0 (spammer) and 1 (perfect), e.g. 0.1")
    if int(min_votes) != min_votes or min_votes < 1:
        raise InputError(f"min_votes {min_votes} is below 1", fix="give a number of votes, e.g. min_votes=10")
    from .workers import worker_spam_score

    if confusions is None:
        check_spam_score_size(votes, asked=())
        confusions = CrowdScores(votes, random_state=random_state).confusions
    spam = worker_spam_score(votes, confusions=confusions)
    bad = ~(spam >= threshold)  # NaN (no vote) counts as dropped: it has no vote anyway
    n_votes = np.bincount(votes.worker, minlength=votes.n_workers)
    bad &= ~((n_votes > 0) & (n_votes < min_votes))  # too few votes to judge: kept
    keep = ~bad[votes.worker]
    kept_workers, w = np.unique(votes.worker[keep], return_inverse=True)
    cleaned = Votes(task=votes.task[keep], worker=w, label=votes.label[keep], task_ids=votes.task_ids,
                    worker_ids=votes.worker_ids[kept_workers], classes=votes.classes, name=votes.name)
    return DroppedSpammers(cleaned, spam, int(votes.n_workers - kept_workers.size), int((~keep).sum()))
