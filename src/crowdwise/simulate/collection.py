r"""Where should the next vote go? Label collection replayed under a budget.

A collection starts with ``initial`` votes per task (one by default, from random
workers). Then, round after round, a *policy* ranks the tasks and the ``batch`` best
ranked tasks that can still get a vote receive one more, from a worker chosen at random
or the most reliable one available, until ``budget`` votes have been spent. After every
round the aggregation strategy is fitted on the votes collected so far and its labels are
scored against the truth: accuracy against the budget, per policy and per strategy
(Lefort, PhD thesis, 2024, §5.3.2-5.3.3; Sheng, Provost & Ipeirotis, KDD 2008).

The votes come from a *source*:

replay (a :class:`~crowdwise.Votes` pool)
    The votes of a real data set. A task can only get a vote that exists in the pool and
    has not been revealed yet, and no vote is revealed twice: with dense data sets
    (``zheng_sentiment``: 20 votes per task) this replays a collection that asked for the
    votes in the policy's order.
simulated (a :class:`~crowdwise.simulate.SimulationResult`)
    A simulated crowd (its confusion matrices, truth and task difficulties) answers on
    demand: a new vote of worker :math:`j` on task :math:`i` is drawn from
    :math:`\mathrm{Cat}(\pi^{(j)}_{y_i^\star,\cdot})` with the simulation engine's rules
    (spammers and "random" tasks uniform, "easy" tasks the truth). Any worker who has not
    answered task :math:`i` yet can be asked.

Policies (a higher score is served first; ties broken at random with the seed):

``random``
    Every task that can still get a vote is equally likely.
``needs-vote``
    :func:`crowdwise.identify.needs_another_vote` as ``crowdwise identify -s needs-vote``
    computes it (:class:`~crowdwise.identify.CrowdScores` default: the Dawid-Skene
    posterior, the Laplace-smoothed vote shares when DS refuses),
    :math:`s_i = (1 - \max_k \hat p_{ik}) / \sqrt{n_i + 1}`.
``uncertainty``
    Entropy of the posterior of the strategy, :math:`-\sum_k p_{ik} \log p_{ik}` with
    :math:`p = ` ``model.probas_`` (uncertainty sampling, Lewis & Gale, SIGIR 1994). The
    strategy is the one being scored unless ``score_strategy`` names another.
``disagreement``
    Entropy of the votes themselves, :func:`crowdwise.identify.task_entropy`: a task
    whose votes split 1-1 comes before a unanimous 2-0 one (vote entropy).

Worker choice:

``random``
    A uniformly random worker among those who can still answer the task.
``reliable``
    The available worker with the best current reliability
    :math:`r_j = (1 + \sum_{v \in V_j^{(2)}} p_{i_v, y_v}) / (2 + |V_j^{(2)}|)`
    (:func:`worker_reliability`): the posterior probability (of the fitted strategy) of
    the labels worker :math:`j` gave on tasks with at least two votes, averaged with a
    Beta(1, 1) prior, so that a worker never seen yet counts 1/2. For Dawid-Skene this is
    the worker's expected accuracy under the posterior, the weighted diagonal of its
    confusion matrix. Ties are broken at random with the seed.

Every round refits the strategy on all the votes collected (one fit per round and per
strategy; rounds are tens, not one per vote); choosing tasks and workers is vectorised
over the votes.

References
----------
T. Lefort, *Quantifying ambiguities in crowdsourced classification*, PhD thesis,
Université de Montpellier, 2024, §5.3.2-5.3.3. V. S. Sheng, F. Provost and P. G.
Ipeirotis, "Get another label? Improving data quality and data mining using multiple,
noisy labelers", KDD 2008. D. D. Lewis and W. A. Gale, "A sequential algorithm for
training text classifiers", SIGIR 1994.

Examples
--------
>>> from crowdwise.simulate import independent_confusion
>>> from crowdwise.simulate.collection import simulate_collection
>>> crowd = independent_confusion(200, 15, 2, concentration=0.5, seed=0)
>>> table = simulate_collection(crowd.votes, crowd.truth, policies=["random", "disagreement"],
...                             strategies=["MV"], budget=200, batch=50)
>>> table.groupby("policy")["budget_spent"].max().tolist()
[200, 200]
>>> table.loc[table["round"] == 0, "accuracy"].nunique()   # the same start for every policy
1
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from ..errors import InputError
from ..votes import Votes
from ._result import SimulationResult

__all__ = ["POLICIES", "WORKER_CHOICES", "CollectionTrace", "collect", "simulate_collection",
           "worker_reliability", "policy_scores", "default_batch", "n_rounds"]

#: the policies, in the order tables and figures list them
POLICIES = ("random", "needs-vote", "uncertainty", "disagreement")
#: how the worker of a new vote is chosen
WORKER_CHOICES = ("random", "reliable")
#: rounds by default when ``batch`` is not given
DEFAULT_ROUNDS = 20

Seed = int | np.random.Generator | None


# --------------------------------------------------------------------------- sources
class _Pool:
    """Replay: the votes of a data set, revealed one by one on request, never twice."""

    mode = "replay"

    def __init__(self, votes: Votes) -> None:
        self.votes = votes
        order = np.argsort(votes.task, kind="stable")
        self.order = order                      # pool positions sorted by task
        self.task = votes.task[order]
        self.worker = votes.worker[order]
        self.label = votes.label[order]
        self.revealed = np.zeros(votes.n_votes, dtype=bool)
        self.left = np.bincount(self.task, minlength=votes.n_tasks)

    def remaining(self) -> np.ndarray:
        return self.left

    def start(self, rng: np.random.Generator, initial: int) -> tuple[np.ndarray, ...]:
        key = rng.random(self.task.size)
        by = np.lexsort((key, self.task))       # random order within each task
        t = self.task[by]
        first = np.searchsorted(t, t, side="left")
        take = by[np.arange(t.size) - first < initial]
        return self._reveal(np.sort(take))

    def reveal(self, tasks: np.ndarray, reliability: np.ndarray | None,
               rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        chosen = np.zeros(self.votes.n_tasks, dtype=bool)
        chosen[tasks] = True
        idx = np.flatnonzero(~self.revealed & chosen[self.task])
        key = np.zeros(idx.size) if reliability is None else reliability[self.worker[idx]]
        by = idx[np.lexsort((rng.random(idx.size), -key, self.task[idx]))]
        t = self.task[by]
        first = np.concatenate([[True], t[1:] != t[:-1]]) if t.size else np.zeros(0, bool)
        return self._reveal(by[first])

    def _reveal(self, pos: np.ndarray) -> tuple[np.ndarray, ...]:
        if self.revealed[pos].any():  # pragma: no cover - guarded by construction
            raise RuntimeError("a pool vote was revealed twice")
        self.revealed[pos] = True
        self.left -= np.bincount(self.task[pos], minlength=self.left.size)
        return self.task[pos], self.worker[pos], self.label[pos], self.order[pos]


def _nth_free(groups: np.ndarray, values: np.ndarray, query_groups: np.ndarray, r: np.ndarray,
              n_groups: int) -> np.ndarray:
    """For each query ``q``, the ``r[q]``-th (0-based) integer >= 0 that is *not* among the
    ``values`` of group ``query_groups[q]``.

    ``groups, values`` are sorted by group then value, values distinct within a group. With
    the group's sorted values :math:`v_0 < v_1 < \\dots`, the count of free integers below
    :math:`v_i` is :math:`b_i = v_i - i`, non-decreasing, and the ``r``-th free integer is
    :math:`r + \\#\\{i : b_i \\le r\\}` (one searchsorted for all queries).
    """
    start = np.searchsorted(groups, np.arange(n_groups + 1))
    b = values - (np.arange(values.size) - start[groups])
    width = np.int64(max(int(values.max(initial=0)), int(r.max(initial=0))) + 2)
    keys = groups * width + b
    q = query_groups * width + r
    below = np.searchsorted(keys, q, side="right") - start[query_groups]
    return r + below


class _OnDemand:
    """Simulated: a simulated crowd that answers any (task, worker) pair not asked yet."""

    mode = "simulated"

    def __init__(self, sim: SimulationResult) -> None:
        if sim.confusions is None:
            raise InputError(f"the simulated crowd keeps no confusion matrices ({sim.n_workers:,} workers x "
                             f"{sim.n_classes} x {sim.n_classes} is above the engine's limit), so new votes "
                             "cannot be drawn on demand",
                             fix="simulate fewer workers or classes, or replay its votes (pass sim.votes)")
        self.sim = sim
        self.n_tasks, self.n_workers, self.k = sim.n_tasks, sim.n_workers, sim.n_classes
        self.cum = np.cumsum(np.asarray(sim.confusions, dtype=float), axis=2)
        wt = sim.worker_type
        self.spammer = np.zeros(self.n_workers, bool) if wt is None else (np.asarray(wt) == "spammer")
        d = sim.task_difficulty
        self.easy = np.zeros(self.n_tasks, bool) if d is None else (np.asarray(d) == "easy")
        self.random_task = np.zeros(self.n_tasks, bool) if d is None else (np.asarray(d) == "random")
        self.keys = np.zeros(0, np.int64)   # task * n_workers + worker of the votes drawn, sorted
        self.count = np.zeros(self.n_tasks, np.int64)

    def remaining(self) -> np.ndarray:
        return self.n_workers - self.count

    def start(self, rng: np.random.Generator, initial: int) -> tuple[np.ndarray, ...]:
        out = []
        for _ in range(min(initial, self.n_workers)):
            out.append(self.reveal(np.arange(self.n_tasks), None, rng))
        return tuple(np.concatenate(parts) for parts in zip(*out))

    def reveal(self, tasks: np.ndarray, reliability: np.ndarray | None,
               rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        tasks = np.sort(np.asarray(tasks, dtype=np.int64))
        g, w = self.keys // self.n_workers, self.keys % self.n_workers
        if reliability is None:  # uniform among the workers who have not answered
            r = (rng.random(tasks.size) * self.remaining()[tasks]).astype(np.int64)
            worker = _nth_free(g, w, tasks, r, self.n_tasks)
        else:  # best reliability first, ties at random; the first not used on the task
            order = np.lexsort((rng.random(self.n_workers), -reliability))
            rank = np.empty(self.n_workers, np.int64)
            rank[order] = np.arange(self.n_workers)
            rk = rank[w]
            by = np.lexsort((rk, g))
            worker = order[_nth_free(g[by], rk[by], tasks, np.zeros(tasks.size, np.int64), self.n_tasks)]
        label = self._draw(rng, tasks, worker)
        self.keys = np.sort(np.concatenate([self.keys, tasks * self.n_workers + worker]))
        self.count += np.bincount(tasks, minlength=self.n_tasks)
        return tasks, worker, label, np.full(tasks.size, -1, np.int64)

    def _draw(self, rng: np.random.Generator, task: np.ndarray, worker: np.ndarray) -> np.ndarray:
        y = self.sim.truth[task]
        u = 1.0 - rng.random(task.size)
        c = self.cum[worker, y]
        label = np.minimum((c < (u * c[:, -1])[:, None]).sum(axis=1), self.k - 1)
        uniform = self.spammer[worker] | self.random_task[task]
        label[uniform] = rng.integers(0, self.k, size=int(uniform.sum()))
        exact = ~uniform & self.easy[task]
        label[exact] = y[exact]
        return label.astype(np.int64)


# --------------------------------------------------------------------------- scores
def _row_entropy(p: Any) -> np.ndarray:
    """Entropy (natural log) of each row of a dense or CSR probability matrix."""
    if sparse.issparse(p):
        m = sparse.csr_array(p)
        d = m.data
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(d > 0, -d * np.log(d), 0.0)
        rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        out = np.bincount(rows, weights=h, minlength=m.shape[0])
        out[np.diff(m.indptr) == 0] = math.log(m.shape[1])  # an empty row stands for uniform
        return out
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.where(p > 0, -p * np.log(p), 0.0)
    return h.sum(axis=1)


def policy_scores(policy: str, votes: Votes, model: Any = None, *, random_state: int | None = 0) -> np.ndarray:
    """The score of each task under ``policy`` (higher = asked first); ``random`` gives zeros.

    ``model`` is the strategy fitted on ``votes`` (needed by ``uncertainty``).

    Examples
    --------
    Task 0 split 1-1, task 1 unanimous 2-0:

    >>> v = Votes.from_records([0, 0, 1, 1], ["a", "b", "a", "b"], [0, 1, 0, 0])
    >>> policy_scores("disagreement", v).round(3).tolist()
    [0.693, 0.0]
    """
    if policy == "random":
        return np.zeros(votes.n_tasks)
    if policy == "disagreement":
        from ..identify import task_entropy

        return task_entropy(votes)
    if policy == "needs-vote":
        from ..identify import CrowdScores

        return CrowdScores(votes, random_state=random_state).needs_vote()
    if policy == "uncertainty":
        if model is None:
            raise InputError("the uncertainty policy needs the fitted strategy", fix="pass model=")
        return _row_entropy(model.probas_)
    raise InputError(f"unknown policy {policy!r}", fix=f"use one of {', '.join(POLICIES)}")


def worker_reliability(model: Any, votes: Votes) -> np.ndarray:
    r"""Current reliability of each worker from a fitted strategy,

    .. math::

        r_j = \frac{1 + \sum_{v \in V_j^{(2)}} p_{i_v, y_v}}{2 + |V_j^{(2)}|},

    the posterior probability (``model.probas_``) of the labels the worker gave, averaged
    with a Beta(1, 1) prior over :math:`V_j^{(2)}`, the worker's votes on tasks that have
    at least two votes (1/2 for a worker without such a vote). A task's only vote is left
    out: the posterior of that task is the vote itself, so it would confirm any worker,
    spammers included, and the workers who happened to vote most would look best. For
    Dawid-Skene this is the worker's expected accuracy under the posterior, the weighted
    diagonal of its confusion matrix, on the tasks it shares.

    Examples
    --------
    >>> from crowdwise.aggregate import make_strategy
    >>> v = Votes.from_records([0, 0, 0, 1, 1, 1, 2], list("abc") * 2 + ["a"], [0, 0, 1, 1, 1, 0, 1])
    >>> worker_reliability(make_strategy("MV", random_state=0).fit(v), v).round(3).tolist()
    [0.583, 0.583, 0.417]
    """
    p = model.probas_
    if sparse.issparse(p):
        pv = np.asarray(sparse.csr_array(p)[votes.task, votes.label], dtype=float).ravel()
    else:
        pv = np.asarray(p, dtype=float)[votes.task, votes.label]
    shared = (votes.votes_per_task() >= 2)[votes.task]
    s = np.bincount(votes.worker, weights=np.where(shared, pv, 0.0), minlength=votes.n_workers)
    n = np.bincount(votes.worker, weights=shared.astype(float), minlength=votes.n_workers)
    return (s + 1.0) / (n + 2.0)


# --------------------------------------------------------------------------- one run
@dataclass(frozen=True, eq=False)
class CollectionTrace:
    """One collection: the votes in the order they were collected and the scores per round.

    Attributes
    ----------
    votes : Votes
        Every vote collected, the starting ones first, then round by round.
    round : ndarray of int, shape (n_votes,)
        Round of each vote (0 = the start).
    pool_index : ndarray of int, shape (n_votes,)
        Replay: position of each vote in the pool's votes; simulated: -1.
    history : pandas.DataFrame
        One row per round (see :func:`simulate_collection`).
    """

    votes: Votes
    round: np.ndarray
    pool_index: np.ndarray
    history: Any = field(repr=False)


def _check_choice(name: str, value: str, options: Sequence[str]) -> str:
    v = str(value).strip().lower().replace("_", "-")
    if v not in options:
        raise InputError(f"unknown {name} {value!r}", fix=f"use one of {', '.join(options)}")
    return v


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InputError(f"{name} must be an integer >= {minimum}, got {value!r}",
                         fix=f"give {name} >= {minimum}")
    return int(value)


def _source_of(source: Votes | SimulationResult, truth: Any) -> tuple[Callable[[], Any], Votes, np.ndarray]:
    """A factory of fresh sources, the ids holder, and the truth as class indices."""
    if isinstance(source, SimulationResult):
        sim = source
        _OnDemand(sim)  # refuses now when no confusions are kept
        if truth is not None:
            raise InputError("a simulated crowd carries its own truth", fix="leave truth out")
        return (lambda: _OnDemand(sim)), sim.votes, np.asarray(sim.truth, dtype=np.int64)
    if not isinstance(source, Votes):
        raise InputError(f"the votes to replay must be a crowdwise.Votes or a SimulationResult, got "
                         f"{type(source).__name__}",
                         fix="load them with crowdwise.io.load_votes(path), or pass crowdwise.simulate(...)")
    if truth is None:
        raise InputError("replaying a collection needs the truth of the tasks",
                         fix="pass truth= (class index per task, -1 unknown; crowdwise.io.load_truth reads a file)")
    t = np.asarray(truth)
    if t.shape != (source.n_tasks,) or (t.size and t.dtype.kind not in "iu"):
        raise InputError(f"truth must hold one class index per task ({source.n_tasks}), got shape {t.shape} "
                         f"and dtype {t.dtype}",
                         fix="pass crowdwise.io.load_truth(path, votes), aligned with the votes' tasks")
    t = t.astype(np.int64)
    if ((t < -1) | (t >= source.n_classes)).any():
        i = int(np.flatnonzero((t < -1) | (t >= source.n_classes))[0])
        raise InputError(f"truth {int(t[i])} is not a class index 0..{source.n_classes - 1} (or -1 unknown)",
                         position=f"task {source.task_ids[i]!r}", fix="give class indices of the votes' classes")
    if not (t >= 0).any():
        raise InputError("no task has a known truth, so accuracy cannot be measured",
                         fix="give the true class of at least some tasks")
    return (lambda: _Pool(source)), source, t


def _fit(strategy: Any, seed: int, votes: Votes) -> tuple[Any, bool]:
    """The strategy fitted on the votes of a round, and whether its fit converged: a fit that
    stops at ``max_iter`` is recorded in the ``converged`` column instead of warning once per
    round (other warnings pass)."""
    import warnings

    from ..aggregate import make_strategy
    from ..errors import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model = make_strategy(strategy, random_state=seed).fit(votes)
    converged = True
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            converged = False
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model, converged


def collect(source: Votes | SimulationResult, truth: Any = None, *, policy: str = "random",
            strategy: Any = "MV", worker_choice: str = "random", seed: int = 0, budget: int | None = None,
            batch: int | None = None, initial: int = 1, score_strategy: str | None = None,
            invalid_as_wrong: bool = False, on_round: Callable[[], None] | None = None) -> CollectionTrace:
    """Run one collection (one policy, one strategy, one seed); see :func:`simulate_collection`.

    Examples
    --------
    Two tasks; any two votes of task 0 split, task 1's agree: ``disagreement`` asks task 0.

    >>> pool = Votes.from_records([0, 0, 0, 1, 1, 1], list("abcabc"), [0, 1, 2, 1, 1, 1])
    >>> tr = collect(pool, [0, 1], policy="disagreement", initial=2, budget=1, seed=0)
    >>> tr.votes.task[tr.round == 1].tolist(), tr.history["budget_spent"].tolist()
    ([0], [0, 1])
    """
    from .._lazy import pd
    from ..aggregate import make_strategy
    from ..evaluate import evaluate_labels

    policy = _check_choice("policy", policy, POLICIES)
    worker_choice = _check_choice("worker choice", worker_choice, WORKER_CHOICES)
    initial = _check_int("initial (votes per task at the start)", initial, 1)
    factory, ids, truth_ = _source_of(source, truth)
    make_strategy(strategy)  # a bad name before any work
    if score_strategy is not None:
        make_strategy(score_strategy)
    name = strategy if isinstance(strategy, str) else type(strategy).__name__
    src = factory()
    rng = np.random.default_rng(seed)
    parts = [src.start(rng, initial)]
    rounds = [np.zeros(parts[0][0].size, np.int64)]
    capacity = int(src.remaining().sum())
    budget = capacity if budget is None else _check_int("budget", budget, 0)
    if batch is None:
        batch = default_batch(budget, ids.n_tasks)
    batch = _check_int("batch", batch, 1)
    spent, rnd, rows = 0, 0, []
    while True:
        t, w, lab = (np.concatenate([p[i] for p in parts]) for i in range(3))
        votes = Votes(task=t, worker=w, label=lab, task_ids=ids.task_ids, worker_ids=ids.worker_ids,
                      classes=ids.classes, name=ids.name)
        model, converged = _fit(strategy, seed, votes)
        r = evaluate_labels(model.labels_, truth_, getattr(model, "valid_", None), n_classes=votes.n_classes,
                            invalid_as_wrong=invalid_as_wrong)
        rows.append(dict(policy=policy, strategy=name, worker_choice=worker_choice, seed=seed, round=rnd,
                         budget_spent=spent, n_votes=votes.n_votes, votes_per_task=votes.n_votes / votes.n_tasks,
                         accuracy=r.accuracy, share_valid=r.share_valid, converged=converged))
        if on_round is not None:
            on_round()
        left = src.remaining()
        eligible = np.flatnonzero(left > 0)
        if spent >= budget or not eligible.size:
            break
        n = min(batch, budget - spent, eligible.size)
        guide = model
        if score_strategy is not None and (policy == "uncertainty" or worker_choice == "reliable"):
            guide = _fit(score_strategy, seed, votes)[0]
        score = policy_scores(policy, votes, guide, random_state=seed)[eligible]
        tie = rng.random(eligible.size)
        chosen = eligible[np.lexsort((tie, -score))[:n]]
        rel = worker_reliability(guide, votes) if worker_choice == "reliable" else None
        parts.append(src.reveal(chosen, rel, rng))
        rnd += 1
        rounds.append(np.full(n, rnd, np.int64))
        spent += n
    pool_index = np.concatenate([p[3] for p in parts])
    return CollectionTrace(votes=votes, round=np.concatenate(rounds), pool_index=pool_index,
                           history=pd.DataFrame(rows))


# --------------------------------------------------------------------------- all runs
def _as_list(value: Any, what: str) -> list[Any]:
    items = [value] if isinstance(value, str) or not isinstance(value, Iterable) else list(value)
    items = [s.strip() if isinstance(s, str) else s for s in items]
    items = [s for s in items if not isinstance(s, str) or s]
    if not items:
        raise InputError(f"no {what} given", fix=f"give at least one {what}")
    return items


def simulate_collection(source: Votes | SimulationResult, truth: Any = None, *,
                        policies: str | Iterable[str] = POLICIES, strategies: str | Iterable[str] = ("MV", "DS"),
                        budget: int | None = None, batch: int | None = None, worker_choice: str = "random",
                        seeds: int | Iterable[int] = 0, initial: int = 1, score_strategy: str | None = None,
                        invalid_as_wrong: bool = False, callback: Callable[[], None] | None = None) -> Any:
    """Accuracy against the budget of each policy and strategy, repeated over seeds.

    Parameters
    ----------
    source : Votes or SimulationResult
        The pool of votes to replay (with ``truth``), or a simulated crowd answering on
        demand (its truth is used).
    truth : array of int, shape (n_tasks,), optional
        Replay: the true class index of each task (-1 unknown: not scored).
    policies : names
        Among :data:`POLICIES`.
    strategies : strategy specifications
        Registry names (``"MV"``, ``"DS"``, ``"TwoThird"``...); each is fitted after every
        round and scored. MV ties follow the library's rule with the seed.
    budget : int, optional
        Votes to collect after the start. Default: all the pool holds (replay); required
        in practice for a simulated crowd, whose default is every worker on every task.
        A round never exceeds it: the last one is shortened so that exactly ``budget``
        votes are spent (fewer only if the pool runs out).
    batch : int, optional
        Votes per round, one per task (the ``batch`` best ranked tasks that can still get
        a vote). Default: ``ceil(budget / 20)``, at most a quarter of the tasks
        (:func:`default_batch`). A batch as large as the tasks left gives each a vote,
        whatever the policy.
    worker_choice : {"random", "reliable"}
    seeds : int or iterable of int
        One seed, or several: each gives its own starting votes (the same for every policy
        and strategy, so that they are compared on the same start), tie breaks and
        worker draws.
    initial : int, default=1
        Votes per task at the start, from random workers.
    score_strategy : str, optional
        The strategy whose posterior guides ``uncertainty`` and ``reliable``; default the
        strategy being scored.
    invalid_as_wrong : bool
        For strategies with a validity rule: a task left without a valid label counts as
        wrong (else accuracy is on the valid tasks; ``share_valid`` says how many).
    callback : callable, optional
        Called after every round (progress bars).

    Returns
    -------
    pandas.DataFrame
        One row per run and round: ``policy, strategy, worker_choice, seed, round,
        budget_spent, n_votes, votes_per_task`` (mean), ``accuracy, share_valid`` and
        ``converged`` (False when the strategy's fit of that round stopped at its
        ``max_iter``; no warning is printed for it).
    """
    from .._lazy import pd

    policies = [_check_choice("policy", p, POLICIES) for p in _as_list(policies, "policy")]
    strategies = _as_list(strategies, "strategy")
    seeds = [int(seeds)] if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seeds:
        raise InputError("no seed given", fix="give seeds=0 or seeds=range(3)")
    frames = []
    for seed in seeds:
        for strategy in strategies:
            for policy in policies:
                tr = collect(source, truth, policy=policy, strategy=strategy, worker_choice=worker_choice,
                             seed=seed, budget=budget, batch=batch, initial=initial, score_strategy=score_strategy,
                             invalid_as_wrong=invalid_as_wrong, on_round=callback)
                frames.append(tr.history)
    return pd.concat(frames, ignore_index=True)


def default_batch(budget: int, n_tasks: int) -> int:
    """The batch when none is given: ``budget / 20`` (20 rounds), but at most a quarter of
    the tasks, so that the policy always chooses (a batch as large as the tasks that can
    still get a vote gives every one of them a vote, whatever the policy)."""
    return max(1, min(math.ceil(budget / DEFAULT_ROUNDS), n_tasks // 4))


def n_rounds(source: Votes | SimulationResult, *, budget: int | None, batch: int | None, initial: int = 1) -> int:
    """Rounds of one run (for progress bars): fits per run = rounds + 1 (upper bound when
    the pool runs out first)."""
    if isinstance(source, SimulationResult):
        cap = source.n_tasks * max(source.n_workers - initial, 0)
    else:
        per = source.votes_per_task()
        cap = int(np.maximum(per - initial, 0).sum())
    b = cap if budget is None else min(budget, cap)
    size = batch if batch is not None else default_batch(b, source.n_tasks)
    return math.ceil(b / size) if b else 0
