"""Label collection under a budget: the replay reveals only existing votes, once; the budget
is spent exactly; each policy asks the tasks it should; the on-demand crowd follows its
model; adaptive policies beat random on a simulated crowd."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crowdwise import InputError, Votes
from crowdwise.aggregate import Aggregator, make_strategy
from crowdwise.simulate import hammer_spammer, independent_confusion
from crowdwise.simulate.collection import (
    POLICIES,
    collect,
    policy_scores,
    simulate_collection,
    worker_reliability,
)


def _random_pool(seed: int = 0, n_tasks: int = 40, n_workers: int = 12, k: int = 3):
    """Tasks with 1 to 8 votes from distinct workers, random labels, and a truth."""
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 9, size=n_tasks)
    task = np.repeat(np.arange(n_tasks), per)
    worker = np.concatenate([rng.choice(n_workers, size=m, replace=False) for m in per])
    label = rng.integers(0, k, size=task.size)
    votes = Votes(task=task, worker=worker, label=label, task_ids=np.arange(n_tasks),
                  worker_ids=np.arange(n_workers), classes=np.arange(k))
    return votes, rng.integers(0, k, size=n_tasks)


# --------------------------------------------------------------------------- replay
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("worker_choice", ["random", "reliable"])
def test_replay_reveals_only_existing_votes_and_never_twice(policy, worker_choice):
    pool, truth = _random_pool()
    tr = collect(pool, truth, policy=policy, strategy="MV", worker_choice=worker_choice, batch=7, seed=1)
    idx = tr.pool_index
    assert np.unique(idx).size == idx.size                      # never twice
    assert np.array_equal(tr.votes.task, pool.task[idx])         # the very votes of the pool
    assert np.array_equal(tr.votes.worker, pool.worker[idx])
    assert np.array_equal(tr.votes.label, pool.label[idx])
    # no budget: the whole pool, one vote per task at the start
    assert idx.size == pool.n_votes
    assert np.array_equal(np.bincount(tr.votes.task[tr.round == 0], minlength=pool.n_tasks),
                          np.ones(pool.n_tasks, int))
    # a round gives at most one vote per task
    for r in range(1, tr.round.max() + 1):
        t = tr.votes.task[tr.round == r]
        assert np.unique(t).size == t.size


def test_budget_is_spent_exactly_round_by_round():
    pool, truth = _random_pool()
    tr = collect(pool, truth, policy="needs-vote", strategy="DS", budget=37, batch=10, seed=0)
    h = tr.history
    assert h["budget_spent"].tolist() == [0, 10, 20, 30, 37]
    assert h["n_votes"].tolist() == [40, 50, 60, 70, 77] and tr.votes.n_votes == 77
    assert h["votes_per_task"].iloc[-1] == pytest.approx(77 / 40)
    # more than the pool holds: everything, then stop
    capacity = pool.n_votes - pool.n_tasks
    tr = collect(pool, truth, policy="random", budget=capacity + 50, batch=25)
    assert tr.history["budget_spent"].iloc[-1] == capacity


def test_disagreement_asks_the_split_task_before_the_unanimous_one():
    # any two votes of task 0 split 1-1 (three classes), task 1's two votes agree 2-0
    pool = Votes.from_records([0, 0, 0, 1, 1, 1], list("abcabc"), [0, 1, 2, 1, 1, 1], classes=[0, 1, 2])
    for seed in range(5):
        tr = collect(pool, [0, 1], policy="disagreement", initial=2, budget=1, seed=seed)
        assert tr.votes.task[tr.round == 1].tolist() == [0]


class _FixedPosterior(Aggregator):
    """A strategy whose posterior ignores the votes: task t has posterior ``rows[t]``."""

    def __init__(self, rows=None):
        self.rows = rows

    def _fit(self, votes):
        self.probas_ = np.asarray(self.rows, dtype=float)
        self.labels_ = self.probas_.argmax(axis=1)


def test_uncertainty_asks_the_task_of_largest_posterior_entropy():
    # unanimous votes everywhere (disagreement cannot tell them apart); the posterior can:
    # entropies 0.325, 1.099 (uniform), 0.639, 0
    rows = [[0.9, 0.05, 0.05], [1 / 3, 1 / 3, 1 / 3], [0.7, 0.3, 0.0], [1.0, 0.0, 0.0]]
    h = [-sum(p * math.log(p) for p in r if p > 0) for r in rows]
    assert np.argsort(h)[::-1].tolist() == [1, 2, 0, 3]
    pool = Votes.from_records(np.repeat(range(4), 3), list("abc") * 4, [0] * 12)
    tr = collect(pool, [0] * 4, policy="uncertainty", strategy=_FixedPosterior(rows), budget=2, batch=2)
    assert sorted(tr.votes.task[tr.round > 0].tolist()) == [1, 2]     # the two largest entropies
    tr = collect(pool, [0] * 4, policy="uncertainty", strategy=_FixedPosterior(rows), budget=3, batch=1)
    assert tr.votes.task[tr.round > 0].tolist() == [1, 1, 2]          # task 1 until its votes run out
    assert policy_scores("uncertainty", pool, _FixedPosterior(rows).fit(pool)) == pytest.approx(h)


def test_needs_vote_is_the_score_of_identify():
    from crowdwise.identify import CrowdScores

    pool, _ = _random_pool(3)
    assert np.array_equal(policy_scores("needs-vote", pool, random_state=0), CrowdScores(pool).needs_vote())


def test_reliable_choice_takes_the_best_available_worker():
    pool, truth = _random_pool(5)
    tr = collect(pool, truth, policy="random", strategy="MV", worker_choice="reliable", budget=15, batch=15,
                 seed=2)
    start = tr.round == 0
    v0 = Votes(task=tr.votes.task[start], worker=tr.votes.worker[start], label=tr.votes.label[start],
               task_ids=pool.task_ids, worker_ids=pool.worker_ids, classes=pool.classes)
    rel = worker_reliability(make_strategy("MV", random_state=2).fit(v0), v0)
    unrevealed = np.ones(pool.n_votes, bool)
    unrevealed[tr.pool_index[start]] = False
    for t, w in zip(tr.votes.task[tr.round == 1], tr.votes.worker[tr.round == 1]):
        candidates = pool.worker[(pool.task == t) & unrevealed]
        assert rel[w] == rel[candidates].max()


def test_worker_reliability_by_hand():
    # MV shares: task 0 (2/3, 1/3), task 1 (1/3, 2/3); a and b voted the majority twice, c the minority
    v = Votes.from_records([0, 0, 0, 1, 1, 1], list("abc") * 2, [0, 0, 1, 1, 1, 0])
    rel = worker_reliability(make_strategy("MV").fit(v), v)
    assert rel == pytest.approx([(1 + 4 / 3) / 4, (1 + 4 / 3) / 4, (1 + 2 / 3) / 4])


# --------------------------------------------------------------------------- simulated crowd
def test_on_demand_crowd_never_asks_a_worker_twice_and_follows_its_model():
    sim = hammer_spammer(50, 10, 3, ratio=0.3, seed=4)
    tr = collect(sim, policy="uncertainty", strategy="DS", budget=300, batch=50, seed=0)
    v = tr.votes
    key = v.task * v.n_workers + v.worker
    assert np.unique(key).size == v.n_votes == 50 + 300
    hammer = sim.worker_type[v.worker] == "hammer"
    assert (v.label[hammer] == sim.truth[v.task[hammer]]).all()
    spam = ~hammer
    assert spam.sum() > 50 and (v.label[spam] != sim.truth[v.task[spam]]).mean() > 0.4   # 2/3 expected
    # every worker on every task is the most a crowd can give
    full = collect(sim, policy="random", strategy="MV", batch=100, seed=1)
    assert full.votes.n_votes == 50 * 10


def test_reliable_choice_finds_the_hammers():
    sim = hammer_spammer(200, 10, 3, ratio=0.5, seed=0)
    out = {}
    for choice in ("random", "reliable"):
        tr = collect(sim, policy="random", strategy="DS", worker_choice=choice, budget=600, batch=100, seed=0)
        late = tr.round >= 3
        out[choice] = (sim.worker_type[tr.votes.worker[late]] == "hammer").mean()
    assert out["random"] < 0.6 and out["reliable"] > 0.9


def test_adaptive_policies_beat_random_on_a_simulated_crowd():
    # measured (crowd seed 100, seeds 0-4, final accuracy of DS after 600 votes): random 0.795,
    # uncertainty 0.835, needs-vote 0.845; other crowd seeds gave gaps of +0.03 to +0.05
    sim = independent_confusion(300, 20, 3, concentration=0.7, seed=100, feedback=1)
    df = simulate_collection(sim, policies=["random", "uncertainty", "needs-vote"], strategies=["DS"],
                             budget=600, batch=100, seeds=range(5))
    last = df[df["round"] == df["round"].max()].groupby("policy")["accuracy"].mean()
    assert last["uncertainty"] >= last["random"] + 0.02
    assert last["needs-vote"] >= last["random"] + 0.02


# --------------------------------------------------------------------------- the table
def test_same_seed_same_table_other_seed_other_table():
    pool, truth = _random_pool(7)
    kw = dict(policies=["random", "disagreement"], strategies=["MV", "DS"], budget=60, batch=20)
    a = simulate_collection(pool, truth, seeds=[0, 1], **kw)
    b = simulate_collection(pool, truth, seeds=[0, 1], **kw)
    assert a.equals(b)
    assert len(a) == 2 * 2 * 2 * 4
    assert list(a.columns) == ["policy", "strategy", "worker_choice", "seed", "round", "budget_spent", "n_votes",
                               "votes_per_task", "accuracy", "share_valid", "converged"]
    c = simulate_collection(pool, truth, seeds=[2, 3], **kw)
    assert not np.array_equal(a["accuracy"].to_numpy(), c["accuracy"].to_numpy())
    # the start is shared by every policy and strategy of a seed
    start = a[a["round"] == 0]
    assert start.groupby(["seed", "strategy"])["accuracy"].nunique().max() == 1


def test_accuracy_is_that_of_the_strategy_on_the_votes_collected():
    pool, truth = _random_pool(8)
    tr = collect(pool, truth, policy="disagreement", strategy="MV", budget=30, batch=30, seed=3)
    mv = make_strategy("MV", random_state=3).fit(tr.votes).labels_
    assert tr.history["accuracy"].iloc[-1] == pytest.approx((mv == truth).mean())


def test_share_valid_of_a_strategy_with_a_validity_rule():
    pool, truth = _random_pool(9)
    df = simulate_collection(pool, truth, policies=["random"], strategies=["TwoThird", "MV"], budget=40, batch=40)
    tt = df[df["strategy"] == "TwoThird"]
    # one vote per task: TwoThird needs two votes, so nothing is valid at the start
    assert tt["share_valid"].iloc[0] == 0.0 and 0 < tt["share_valid"].iloc[-1] < 1
    assert (df.loc[df["strategy"] == "MV", "share_valid"] == 1.0).all()


@pytest.mark.parametrize("kwargs, message", [
    (dict(policies=["nope"]), "unknown policy 'nope'"),
    (dict(worker_choice="best"), "unknown worker choice"),
    (dict(budget=-1), "budget must be an integer >= 0"),
    (dict(batch=0), "batch must be an integer >= 1"),
    (dict(strategies=["NotAStrategy"]), "unknown strategy"),
])
def test_bad_arguments_are_one_clear_error(kwargs, message):
    pool, truth = _random_pool()
    with pytest.raises(InputError, match=message):
        simulate_collection(pool, truth, **kwargs)


def test_bad_truth_is_refused():
    pool, truth = _random_pool()
    with pytest.raises(InputError, match="one class index per task"):
        simulate_collection(pool, truth[:-1])
    with pytest.raises(InputError, match="needs the truth"):
        simulate_collection(pool)
    with pytest.raises(InputError, match="no task has a known truth"):
        simulate_collection(pool, np.full(pool.n_tasks, -1))
    with pytest.raises(InputError, match="not a class index"):
        simulate_collection(pool, np.full(pool.n_tasks, 5))
