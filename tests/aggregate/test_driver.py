"""The EM driver (crowdwise.aggregate._driver): one loop for every iterative strategy.

- per-fit state lives in the context the driver passes along: the model is not touched
  during a fit, and a fit run inside another fit of the same object (reentrancy) changes
  neither;
- restarts (``n_init``) keep the best run, the first among equals;
- a :class:`ConvergenceWarning` when the iteration limit stops a run with a stopping rule;
- progress goes through the driver (``fit_progress``, ``verbose``), restarts included;
- gold labels are refused by the strategies that cannot clamp them;
- the driver's interface is public to the package: no module of ``aggregate`` imports an
  underscore name from a sibling module.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest

import crowdwise.aggregate as agg
from crowdwise import Votes
from crowdwise.aggregate import ConvergenceWarning, EMStrategy, available, dense_probas, fit_progress, make_strategy
from crowdwise.aggregate._driver import EMContext
from crowdwise.errors import InputError

from ._crowd import make_crowd

#: every iterative strategy (registered on the driver), and modes that run other kernels
EM_STRATEGIES = sorted({info.name for info in available() if issubclass(info.cls, EMStrategy)}) + [
    "DS[sparse=True]", "DS[prior=1]", "MACE[method=em]", "KOS[init=normal]"]


def crowd_for(name: str) -> Votes:
    binary = make_strategy(name).binary_only
    return make_crowd(n_tasks=80, n_workers=12, n_classes=2 if binary else 3, seed=4)[0]


def quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*args, **kw)


def test_every_iterative_strategy_runs_on_the_driver():
    names = {info.name for info in available() if issubclass(info.cls, EMStrategy)}
    assert {"DS", "FastDS", "HybridDS", "OneCoinDS", "WDS", "DSWC", "GLAD", "MACE", "KOS"} <= names
    assert issubclass(ConvergenceWarning, UserWarning) and agg.ConvergenceWarning is ConvergenceWarning


@pytest.mark.parametrize("name", EM_STRATEGIES)
def test_the_model_is_not_touched_during_a_fit(name):
    votes = crowd_for(name)
    model = make_strategy(name, random_state=0)
    before = dict(vars(model))
    seen = []
    with fit_progress(lambda it, n, obj: seen.append(set(vars(model)))):
        quiet(model.fit, votes)
    assert seen and all(keys == set(before) for keys in seen), "an attribute was set during the fit"


@pytest.mark.parametrize("name", EM_STRATEGIES)
def test_a_fit_inside_a_fit_of_the_same_object_changes_neither(name):
    """Reentrancy: the state of a fit travels in its context, not in attributes (the old
    ``_gold``, ``_em_iterating``, ``_sparse_mode``, FastDS's ``_rng`` and ``_cl`` were
    clobbered by a nested fit)."""
    outer_votes = crowd_for(name)
    inner_votes = make_crowd(n_tasks=50, n_workers=9, n_classes=outer_votes.n_classes, seed=11)[0]
    ref_outer = quiet(make_strategy(name, random_state=0).fit, outer_votes)
    ref_inner = quiet(make_strategy(name, random_state=0).fit, inner_votes)
    model = make_strategy(name, random_state=0)
    inner_results = []

    def nested(it, n, obj):
        if not inner_results:
            inner_results.append(None)  # (the inner fit reports here too)
            quiet(model.fit, inner_votes)
            inner_results[0] = (model.probas_.copy(), model.labels_.copy(), model.n_iter_)

    with fit_progress(nested):
        quiet(model.fit, outer_votes)
    np.testing.assert_array_equal(dense_probas(inner_results[0][0]), dense_probas(ref_inner.probas_))
    np.testing.assert_array_equal(inner_results[0][1], ref_inner.labels_)
    assert inner_results[0][2] == ref_inner.n_iter_
    np.testing.assert_array_equal(dense_probas(model.probas_), dense_probas(ref_outer.probas_))
    np.testing.assert_array_equal(model.labels_, ref_outer.labels_)
    assert model.n_iter_ == ref_outer.n_iter_ and model.converged_ == ref_outer.converged_
    if hasattr(ref_outer, "log_likelihood_"):
        assert model.log_likelihood_ == ref_outer.log_likelihood_
    assert list(model.task_ids_) == list(outer_votes.task_ids) and model.votes_ is outer_votes


# ---------------------------------------------------------------- restarts
class TwoBasins(EMStrategy):
    """A toy EM on the driver: a point moves halfway to the nearer of two optima, 0
    (objective 0) and 10 (objective 1); each run starts uniformly in [0, 10) from its seed."""

    random_starts = True

    def __init__(self, n_init: int = 4, max_iter: int = 60, tol: float = 1e-12, random_state=None):
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def _validate(self, votes):
        pass

    def _init_state(self, votes, ctx):
        return float(np.random.default_rng(ctx.seed).uniform(0, 10))

    def _m_step(self, votes, ctx, x):
        return 10.0 if x >= 5 else 0.0

    def _e_step(self, votes, ctx, target, x):
        x = (x + target) / 2
        return x, (target / 10) - (x - target) ** 2

    def _finish(self, votes, ctx, target, x):
        self.optimum_ = target
        self.probas_ = np.full((votes.n_tasks, max(votes.n_classes, 1)), 1.0 / max(votes.n_classes, 1))
        self.labels_ = np.zeros(votes.n_tasks, np.int64)


def test_restarts_keep_the_first_best_run_and_record_every_history():
    votes = make_crowd(n_tasks=5, seed=1)[0]
    m = TwoBasins(n_init=6, random_state=3).fit(votes)
    starts = [np.random.default_rng(s).uniform(0, 10) for s in np.random.SeedSequence(3).spawn(6)]
    assert len(m.restart_log_likelihoods_) == 6 and m.converged_
    finals = [h[-1] for h in m.restart_log_likelihoods_]
    assert m.best_restart_ == int(np.argmax(np.round(finals, 6)))  # the first of the runs near 10
    assert starts[m.best_restart_] >= 5 and m.optimum_ == 10.0
    assert m.log_likelihood_ is m.restart_log_likelihoods_[m.best_restart_]
    assert all(starts[r] < 5 for r in range(m.best_restart_))  # the earlier runs went to 0
    # one run: no draw decides anything but its start
    one = TwoBasins(n_init=1, random_state=3).fit(votes)
    assert one.best_restart_ == 0 and one.optimum_ == (10.0 if starts[0] >= 5 else 0.0)


def test_progress_counts_the_iterations_of_every_restart():
    votes = make_crowd(n_tasks=40, seed=2)[0]
    seen = []
    with fit_progress(lambda it, n, obj: seen.append((it, n))):
        make_strategy("MACE", n_restarts=3, max_iter=5, tol=0, random_state=0).fit(votes)
    assert seen == [(it, 15) for it in range(1, 16)]


def test_verbose_prints_what_fit_progress_receives(capsys):
    votes = make_crowd(n_tasks=40, seed=2)[0]
    seen = []
    with fit_progress(lambda it, n, obj: seen.append((it, obj))):
        make_strategy("GLAD", max_iter=3, tol=0, verbose=True).fit(votes)
    lines = capsys.readouterr().err.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines] == [f"GLAD iteration {it}" for it, _ in seen] and len(seen) == 3
    assert all(f"objective {obj:.6f}" in ln for ln, (_, obj) in zip(lines, seen))


# ---------------------------------------------------------------- ConvergenceWarning
def test_a_run_stopped_by_max_iter_warns():
    votes = make_crowd(n_tasks=200, n_workers=20, seed=3)[0]
    with pytest.warns(ConvergenceWarning, match=r"DawidSkene reached max_iter=2 before its stopping rule \(tol=1e-06\)"):
        m = make_strategy("DS", max_iter=2).fit(votes)
    assert not m.converged_ and m.n_iter_ == 2
    with pytest.warns(ConvergenceWarning, match="the best of 2 runs of MACE reached max_iter=1"):
        make_strategy("MACE", n_restarts=2, max_iter=1, random_state=0).fit(votes)
    binary = make_crowd(n_tasks=200, n_workers=20, n_classes=2, seed=3)[0]
    with pytest.warns(ConvergenceWarning, match="KOS reached n_iter=1 .*patience=3"):
        make_strategy("KOS", n_iter=1).fit(binary)


def test_no_warning_when_the_run_converges_or_has_no_stopping_rule():
    votes = make_crowd(n_tasks=200, n_workers=20, seed=3)[0]
    binary = make_crowd(n_tasks=200, n_workers=20, n_classes=2, seed=3)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert make_strategy("DS").fit(votes).converged_
        m = make_strategy("DS", max_iter=3, tol=0).fit(votes)  # tol=0 asks for max_iter iterations
        assert m.n_iter_ == 3 and not m.converged_
        make_strategy("MACE", max_iter=4, tol=0, n_restarts=2, random_state=0).fit(votes)  # as the MACE tool
        make_strategy("KOS", n_iter=2, patience=None).fit(binary)  # always n_iter rounds


def test_partial_fit_warns_like_fit():
    votes = make_crowd(n_tasks=200, n_workers=20, seed=3)[0]
    m = make_strategy("GLAD").fit(votes.take(np.arange(500)))
    m.set_params(max_iter=1)
    with pytest.warns(ConvergenceWarning, match="GLAD reached max_iter=1"):
        m.partial_fit(votes.take(np.arange(500, votes.n_votes)))


# ---------------------------------------------------------------- gold
@pytest.mark.parametrize("name", ["MACE", "KOS"])
def test_gold_is_refused_where_it_cannot_be_clamped(name):
    votes = make_crowd(n_tasks=30, n_classes=2, seed=5)[0]
    with pytest.raises(InputError, match=f"{name} takes no gold labels"):
        make_strategy(name).fit(votes, gold={votes.task_ids[0]: 1})
    assert not hasattr(quiet(make_strategy(name, random_state=0).fit, votes), "gold_")


@pytest.mark.parametrize("name", ["DS", "FastDS", "OneCoinDS", "DSWC", "GLAD"])
def test_gold_keys_match_ids_as_the_other_lookups(name):
    # task ids read as numbers, gold keys as text (and class values as text): one rule
    votes = Votes.from_records([1, 1, 1, 2, 2, 2, 3, 3, 3], ["a", "b", "c"] * 3, [0, 0, 1, 1, 1, 0, 0, 1, 1],
                               n_classes=2)
    m = quiet(make_strategy(name, random_state=0).fit, votes, gold={"2": "0"})
    assert m.labels_[1] == 0 and m.gold_ == {"2": "0"}
    with pytest.raises(InputError, match="unknown task or class"):
        make_strategy(name).fit(votes, gold={"9": 0})


# ---------------------------------------------------------------- the driver's interface
def test_no_aggregate_module_imports_an_underscore_name_from_a_sibling():
    folder = Path(agg.__file__).parent
    bad = []
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                bad += [f"{path.name}: from .{node.module} import {a.name}" for a in node.names
                        if a.name.startswith("_")]
    assert not bad, bad


def test_strategy_contexts_are_em_contexts():
    for name in ("DS", "FastDS", "OneCoinDS", "DSWC", "GLAD", "MACE", "KOS"):
        votes = crowd_for(name)
        ctx = make_strategy(name)._context(votes)
        assert isinstance(ctx, EMContext) and ctx.gold_idx.size == 0 and not ctx.iterating
