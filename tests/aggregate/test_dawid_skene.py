"""Dawid-Skene: monotone EM, parameter recovery on data from the model, gold clamping,
memory budget, predict on new votes."""

from __future__ import annotations

import numpy as np
import pytest

from crowdwise import Votes
from crowdwise.aggregate import DawidSkene, MajorityVote
from crowdwise.errors import InputError, TooLargeError


def ds_crowd(n_tasks=3000, n_workers=12, k=3, per_task=6, seed=0):
    """Votes drawn from the DS model itself, with known confusions."""
    rng = np.random.default_rng(seed)
    conf = rng.dirichlet(np.ones(k) * 0.6, size=(n_workers, k))
    # make each row diagonally dominant: add mass on the diagonal
    conf = 0.5 * conf + 0.5 * np.eye(k)[None]
    prior = np.array([0.5, 0.3, 0.2])[:k]
    truth = rng.choice(k, size=n_tasks, p=prior / prior.sum())
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.ravel()
    cdf = np.cumsum(conf[worker, truth[task]], axis=1)
    label = (rng.random(task.size)[:, None] > cdf).sum(axis=1)
    votes = Votes.from_records(task, worker, np.minimum(label, k - 1), n_classes=k)
    return votes, truth, conf


def test_log_likelihood_never_decreases():
    votes, _, _ = ds_crowd(n_tasks=800, seed=1)
    for prior in (0.0, 0.5):
        ds = DawidSkene(max_iter=200, tol=1e-12, prior=prior).fit(votes)
        ll = np.array(ds.log_likelihood_)
        assert ll.size > 3
        assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:])), np.diff(ll).min()


def test_recovers_truth_and_confusions_from_its_own_model():
    votes, truth, conf = ds_crowd()
    ds = DawidSkene(tie="smallest").fit(votes)
    mv = MajorityVote(tie="smallest").fit(votes)
    acc_ds = np.mean(ds.labels_ == truth)
    assert acc_ds >= np.mean(mv.labels_ == truth)
    assert ds.converged_
    # each worker answers ~1500 tasks, so each confusion row rests on >= 300 votes: the
    # binomial standard error is <= sqrt(.25/300) = 0.029; allow 0.06 (about 2 s.e.)
    assert np.abs(ds.confusions_ - conf).max() < 0.06
    np.testing.assert_allclose(ds.priors_, [0.5, 0.3, 0.2], atol=0.03)


@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # max_iter reached: not the subject
def test_gold_labels_are_clamped():
    votes, truth, _ = ds_crowd(n_tasks=300, seed=2)
    gold = {int(t): int((truth[i] + 1) % 3) for i, t in enumerate(votes.task_ids[:20])}  # deliberately wrong
    ds = DawidSkene(tie="smallest").fit(votes, gold=gold)
    assert ds.labels_[:20].tolist() == list(gold.values())
    np.testing.assert_allclose(ds.probas_[:20].max(axis=1), 1.0)


def test_memory_budget_refuses_with_alternatives():
    votes = Votes.from_records([0, 1], [0, 1], [0, 1], n_classes=2000)
    # smoothing needs the dense confusions: refused, naming what can run (and prior=0)
    with pytest.raises(TooLargeError, match=r"memory budget.*MV, NaiveSoft, WAWA.*prior=0"):
        DawidSkene(memory_budget=1e6, prior=0.5).fit(votes)
    with pytest.raises(TooLargeError, match=r"memory budget.*MV, NaiveSoft, WAWA"):
        DawidSkene(memory_budget=1e6, sparse=False).fit(votes)
    # without smoothing DS switches to its sparse mode (exact) instead of refusing
    ds = DawidSkene(memory_budget=1e6, tie="smallest").fit(votes)
    assert ds.sparse_mode_ and ds.labels_.tolist() == [0, 1]
    assert ds.confusions_.shape == (2 * 2000, 2000)


def test_predict_proba_on_new_votes_uses_fitted_confusions():
    votes, truth, _ = ds_crowd(n_tasks=1000, seed=3)
    ds = DawidSkene().fit(votes)
    # a new task answered by worker 0 only: posterior = prior * conf[0][:, label], normalised
    new = Votes.from_records(["new"], [votes.worker_ids[0]], [1], n_classes=3)
    expected = ds.priors_ * ds.confusions_[0][:, 1]
    np.testing.assert_allclose(ds.predict_proba(new)[0], expected / expected.sum())


@pytest.mark.parametrize("init", ["naivesoft", "mv"])
def test_sparse_mode_is_exactly_dense_em(init):
    votes, truth, _ = ds_crowd(n_tasks=600, seed=11)
    gold = {votes.task_ids[3]: 2, votes.task_ids[7]: 0}
    kw = dict(accelerate=False, tie="smallest", max_iter=300, init=init)
    dense = DawidSkene(sparse=False, **kw).fit(votes, gold=gold)
    sp = DawidSkene(sparse=True, **kw).fit(votes, gold=gold)
    assert sp.sparse_mode_ and not dense.sparse_mode_
    assert sp.n_iter_ == dense.n_iter_
    np.testing.assert_allclose(sp.log_likelihood_, dense.log_likelihood_, rtol=1e-12)
    np.testing.assert_allclose(sp.probas_.toarray(), dense.probas_, atol=1e-12)
    k = votes.n_classes
    np.testing.assert_allclose(sp.confusions_.toarray().reshape(votes.n_workers, k, k), dense.confusions_,
                               atol=1e-12)
    assert sp.labels_.tolist() == dense.labels_.tolist()
    # new votes: known and unseen workers, as the dense model
    new = Votes.from_records(["n1", "n1", "n2"], [votes.worker_ids[0], "stranger", votes.worker_ids[1]],
                             [1, 1, 0], n_classes=k)
    np.testing.assert_allclose(sp.predict_proba(new).toarray(), dense.predict_proba(new), atol=1e-12)
    with pytest.raises(Exception, match="prior=0"):
        DawidSkene(sparse=True, prior=1.0).fit(votes)
    if init == "mv":
        # the majority-vote start shares ties (6 votes, 3 classes: 3-3 and 2-2-2 ties)
        from crowdwise.aggregate._em import initial_posteriors
        start = initial_posteriors(votes, "mv")
        assert np.any((start > 0) & (start < 1))
        return
    # accelerated sparse EM: the same optimum, monotone, fewer iterations
    fast = DawidSkene(sparse=True, tie="smallest", max_iter=300, tol=1e-12).fit(votes, gold=gold)
    slow = DawidSkene(sparse=True, accelerate=False, tie="smallest", max_iter=300, tol=1e-12).fit(votes, gold=gold)
    assert fast.n_iter_ < slow.n_iter_
    assert np.all(np.diff(fast.log_likelihood_) >= -1e-9 * abs(fast.log_likelihood_[-1]))
    np.testing.assert_allclose(fast.log_likelihood_[-1], slow.log_likelihood_[-1], rtol=1e-9)
    assert fast.labels_.tolist() == slow.labels_.tolist()


@pytest.mark.parametrize("name", ["web_relevance", "zheng_relevance"])
@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # a fixed number of iterations compared
def test_sparse_mode_is_exactly_dense_em_on_real_sets(name):
    """Real crowds have workers whose votes never meet some class (n_jk = 0): both modes
    must treat that confusion row alike (the simulated crowd above has none). The loop is
    run exact (``tol=0``: no float32 shortcut) for a fixed number of plain EM steps (from
    both starts: the majority-vote one shares its ties in both modes), then the default
    fits are compared label by label."""
    from _data import require_datasets

    import crowdwise.io as cio

    folder = require_datasets() / name
    if not (folder / "votes.csv").is_file():
        pytest.skip(f"{name} not found in {folder.parent}")
    votes = cio.load_votes(folder / "votes.csv")
    k = votes.n_classes
    for init, n_iter in (("naivesoft", 1), ("naivesoft", 8), ("mv", 8)):
        kw = dict(accelerate=False, tol=0.0, max_iter=n_iter, tie="smallest", init=init)
        dense = DawidSkene(sparse=False, **kw).fit(votes)
        sp = DawidSkene(sparse=True, **kw).fit(votes)
        assert sp.sparse_mode_ and not dense.sparse_mode_ and sp.n_iter_ == dense.n_iter_ == n_iter
        np.testing.assert_allclose(sp.log_likelihood_, dense.log_likelihood_, rtol=1e-12)
        np.testing.assert_allclose(sp.probas_.toarray(), dense.probas_, atol=1e-9, rtol=0)
        # a class a worker never met: an empty row in sparse mode, a uniform one in dense
        # mode (identify reads an empty row so), both ruled out for the worker's answers
        sp_conf = sp.confusions_.toarray().reshape(votes.n_workers, k, k)
        empty = sp_conf.sum(axis=2) == 0
        np.testing.assert_array_equal(empty, dense.never_met_)
        sp_conf[empty] = 1.0 / k
        np.testing.assert_allclose(sp_conf, dense.confusions_, atol=1e-9, rtol=0)
        np.testing.assert_allclose(dense.predict_proba(votes), dense.probas_, atol=1e-9, rtol=0)
    # the rule bites on these sets: some worker has a class it never met
    assert dense.never_met_.any()
    # SQUAREM jumps alike (the sparse mode used to skip the first one: its starting
    # posterior is not stored on the frozen pattern); tol < 1e-8 keeps the loop exact
    kw = dict(tol=1e-9, max_iter=30, tie="smallest")
    dense, sp = DawidSkene(sparse=False, **kw).fit(votes), DawidSkene(sparse=True, **kw).fit(votes)
    np.testing.assert_allclose(sp.log_likelihood_, dense.log_likelihood_, rtol=1e-12)
    np.testing.assert_allclose(sp.probas_.toarray(), dense.probas_, atol=1e-9, rtol=0)
    # the defaults (float32 exp and log in the dense loop only): the same stop, the same labels
    dense = DawidSkene(sparse=False, tie="smallest").fit(votes)
    sp = DawidSkene(sparse=True, tie="smallest").fit(votes)
    assert sp.n_iter_ == dense.n_iter_
    np.testing.assert_allclose(sp.probas_.toarray(), dense.probas_, atol=1e-5, rtol=0)
    assert sp.labels_.tolist() == dense.labels_.tolist()


def test_a_class_a_worker_never_met_is_ruled_out_alike_in_both_modes():
    """n_jk = 0: worker c only answers 0, on tasks nobody labels otherwise, so classes 1
    and 2 never get posterior mass on its tasks. Both modes rule them out for c's answers
    (dense DS used to give the row 1/K, which gave task 5, c's alone, mass on 1 and 2: the
    sparse mode cannot do that without densifying)."""
    t = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5]
    w = ["a", "b", "c", "a", "b", "c", "a", "b", "d", "a", "b", "b", "d", "c"]
    lab = [0, 0, 0, 0, 0, 0, 1, 1, 2, 1, 2, 2, 2, 0]
    votes = Votes.from_records(t, w, lab, n_classes=3, worker_ids=["idle", "a", "b", "c", "d"])
    kw = dict(tie="smallest", accelerate=False, tol=0.0, max_iter=1)
    for it in (1, 30):
        kw["max_iter"] = it
        dense = DawidSkene(sparse=False, **kw).fit(votes)
        sp = DawidSkene(sparse=True, **kw).fit(votes)
        np.testing.assert_allclose(sp.log_likelihood_, dense.log_likelihood_, rtol=1e-12)
        np.testing.assert_allclose(sp.probas_.toarray(), dense.probas_, atol=1e-12)
    c = 3  # rank of worker "c"
    assert dense.never_met_[c].tolist() == [False, True, True] and not dense.never_met_[0].any()
    # reported as uniform rows (nothing known: identify's trace counts 1/K), empty in sparse mode
    np.testing.assert_array_equal(dense.confusions_[c, 1:], np.full((2, 3), 1 / 3))
    assert sp.confusions_[[c * 3 + 1, c * 3 + 2]].nnz == 0
    np.testing.assert_array_equal(dense.probas_[5], [1, 0, 0])
    np.testing.assert_allclose(dense.predict_proba(votes), dense.probas_, atol=1e-12)
    # new votes: the idle worker (uniform: says nothing) beside b; a label a never gave
    # and classes c never met (no class explains them: the class shares); c alone on 0;
    # an unseen worker (the mean, per class over the workers who met it)
    new = Votes.from_records(["n1", "n1", "n2", "n3", "n3", "n4", "n5"],
                             ["idle", "b", "a", "c", "c", "c", "stranger"], [1, 1, 2, 1, 2, 0, 2],
                             classes=votes.classes)
    p_dense, p_sp = dense.predict_proba(new), sp.predict_proba(new).toarray()
    np.testing.assert_allclose(p_sp, p_dense, atol=1e-12)
    b = 2
    alone_b = dense.priors_ * dense.confusions_[b][:, 1]
    np.testing.assert_allclose(p_dense[0], alone_b / alone_b.sum(), atol=1e-12)
    np.testing.assert_allclose(p_dense[1], dense.priors_, atol=1e-12)
    np.testing.assert_allclose(p_dense[2], dense.priors_, atol=1e-12)
    np.testing.assert_allclose(p_dense[3], [1, 0, 0], atol=1e-12)
    n = votes.votes_per_worker().astype(float)
    met = ~dense.never_met_ & (n > 0)[:, None]
    mean = np.einsum("j,jk,jkl->kl", n, met, dense.confusions_) / np.einsum("j,jk->k", n, met)[:, None]
    stranger = dense.priors_ * mean[:, 2]
    np.testing.assert_allclose(p_dense[4], stranger / stranger.sum(), atol=1e-12)


def split_votes(votes: Votes, frac: float, seed: int = 0) -> tuple[Votes, Votes]:
    """Two parts of ``votes`` (``frac`` of the rows, the rest), each with its own ids."""
    rng = np.random.default_rng(seed)
    first = rng.random(votes.n_votes) < frac
    return votes.take(first, compact=True), votes.take(~first, compact=True)


def test_partial_fit_warm_start_reaches_the_cold_optimum_faster():
    votes, truth, _ = ds_crowd(n_tasks=2000, seed=4)
    old, new = split_votes(votes, 0.9)
    # a tight tol: EM creeps near the optimum, and a loose stop leaves both runs ~1e-3 away
    # plain EM on both sides: this measures the warm start alone (acceleration: below)
    cold = DawidSkene(tol=1e-12, max_iter=500, tie="smallest", accelerate=False).fit(votes)
    warm = DawidSkene(tol=1e-12, max_iter=500, tie="smallest", accelerate=False).fit(old).partial_fit(new)
    assert warm.converged_ and cold.converged_
    assert warm.n_iter_ < 0.7 * cold.n_iter_  # 28 vs 57 here
    # the union has the same votes as the cold fit: same objective at the optimum
    np.testing.assert_allclose(warm.log_likelihood_[-1], cold.log_likelihood_[-1], rtol=1e-9)
    assert warm.votes_.n_votes == votes.n_votes
    # results keyed by ids agree (the union lists old ids first)
    pos = {t: i for i, t in enumerate(warm.task_ids_)}
    order = np.array([pos[t] for t in cold.task_ids_])
    np.testing.assert_allclose(warm.probas_[order], cold.probas_, atol=1e-3)
    wpos = {w: i for i, w in enumerate(warm.worker_ids_)}
    np.testing.assert_allclose(warm.confusions_[[wpos[w] for w in cold.worker_ids_]], cold.confusions_,
                               atol=1e-3)


def test_squarem_reaches_the_plain_em_optimum_in_fewer_iterations():
    votes, truth, _ = ds_crowd(n_tasks=2000, seed=4)
    plain = DawidSkene(tol=1e-12, max_iter=500, tie="smallest", accelerate=False).fit(votes)
    fast = DawidSkene(tol=1e-12, max_iter=500, tie="smallest").fit(votes)
    assert plain.converged_ and fast.converged_
    assert fast.n_iter_ < 0.7 * plain.n_iter_  # 28 vs 57 here
    assert np.all(np.diff(fast.log_likelihood_) >= -1e-9 * abs(fast.log_likelihood_[-1]))
    np.testing.assert_allclose(fast.log_likelihood_[-1], plain.log_likelihood_[-1], rtol=1e-9)
    np.testing.assert_allclose(fast.probas_, plain.probas_, atol=1e-4)
    np.testing.assert_allclose(fast.confusions_, plain.confusions_, atol=1e-4)


def test_squarem_point_extrapolates_a_linear_path_to_its_limit():
    from crowdwise.aggregate._driver import squarem_point as _squarem_point

    # a linear EM map x -> c + 0.5 (x - c): from s0 the S3 step lands on the fixed point c
    c = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    s0 = np.array([[0.1, 0.1, 0.8], [0.4, 0.4, 0.2]])
    s1 = c + 0.5 * (s0 - c)
    s2 = c + 0.5 * (s1 - c)
    np.testing.assert_allclose(_squarem_point(s0.copy(), s1.copy(), s2), c, atol=1e-12)
    assert _squarem_point(c.copy(), c.copy(), c) is None  # nothing moves: no jump


def test_partial_fit_before_fit_is_fit_and_keeps_gold():
    votes, truth, _ = ds_crowd(n_tasks=300, seed=5)
    a = DawidSkene(tie="smallest").partial_fit(votes)
    b = DawidSkene(tie="smallest").fit(votes)
    np.testing.assert_array_equal(a.probas_, b.probas_)
    old, new = split_votes(votes, 0.8, seed=1)
    gold = {old.task_ids[0]: 2}
    m = DawidSkene(tie="smallest").fit(old, gold=gold).partial_fit(new)
    assert m.labels_[list(m.task_ids_).index(old.task_ids[0])] == 2
    with pytest.raises(Exception, match="other classes"):
        m.partial_fit(Votes.from_records(["x"], ["y"], [0], n_classes=4))


def test_predict_proba_unknown_worker_uses_vote_weighted_mean_confusion():
    votes, _, _ = ds_crowd(n_tasks=500, seed=6)
    ds = DawidSkene().fit(votes)
    new = Votes.from_records(["new"], ["stranger"], [0], n_classes=3)
    n = votes.votes_per_worker()
    mean = np.tensordot(n / n.sum(), ds.confusions_, axes=1)
    expected = ds.priors_ * mean[:, 0]
    np.testing.assert_allclose(ds.predict_proba(new)[0], expected / expected.sum())


def test_init_from_a_worker_history_mapping_is_the_posterior_of_those_confusions():
    # hand example: K = 2, worker a flips labels, b is right 80 % of the time
    history = {"a": [[0.1, 0.9], [0.9, 0.1]], "b": [[4, 1], [1, 4]]}  # rows normalised
    v = Votes.from_records(["t1", "t1", "t2"], ["a", "b", "c"], [1, 0, 1], n_classes=2)
    ds = DawidSkene(init=history)
    ds._validate(v)
    T0 = ds._init_state(v, ds._context(v))
    # t1: a says 1 (-> class 0 w.p. .9), b says 0 (-> class 0 w.p. .8): uniform class shares
    p0, p1 = 0.9 * 0.8, 0.1 * 0.2
    np.testing.assert_allclose(T0[0], [p0 / (p0 + p1), p1 / (p0 + p1)])
    # t2: c is unknown, it gets the mean of a and b: P(answer 1 | k) = (.9 + .2) / 2, (.1 + .8) / 2
    q0, q1 = (0.9 + 0.2) / 2, (0.1 + 0.8) / 2
    np.testing.assert_allclose(T0[1], [q0 / (q0 + q1), q1 / (q0 + q1)])


def test_init_from_a_fitted_history_starts_at_its_optimum():
    votes, truth, _ = ds_crowd(n_tasks=800, seed=21)
    first = DawidSkene(tie="smallest", tol=1e-10, max_iter=1000).fit(votes)
    again = DawidSkene(init=first, tie="smallest", tol=1e-10, max_iter=1000).fit(votes)
    assert again.n_iter_ <= 3 < first.n_iter_
    np.testing.assert_allclose(again.log_likelihood_[-1], first.log_likelihood_[-1], rtol=1e-9)
    assert again.labels_.tolist() == first.labels_.tolist()
    # a history of other tasks by the same workers: a fit of new tasks, same classes
    old, new = split_votes(votes, 0.5, seed=3)
    hist = DawidSkene(tie="smallest").fit(old)
    warm = DawidSkene(init=hist, tie="smallest").fit(new)
    cold = DawidSkene(tie="smallest").fit(new)
    assert warm.converged_ and np.mean(warm.labels_ == cold.labels_) > 0.99


def test_init_history_errors():
    v = Votes.from_records(["t1", "t1"], ["a", "b"], [1, 0], n_classes=2)
    with pytest.raises(InputError, match="2 x 2"):
        DawidSkene(init={"a": np.eye(3)}).fit(v)
    with pytest.raises(InputError, match="not an initialisation"):
        DawidSkene(init=3).fit(v)
    with pytest.raises(InputError, match="dense mode"):
        DawidSkene(init={"a": np.eye(2)}, sparse=True).fit(v)
    sparse_fit = DawidSkene(sparse=True).fit(v)
    with pytest.raises(InputError, match="sparse-mode fit"):
        DawidSkene(init=sparse_fit).fit(v)


# ------------------------------------------------ speed paths: threads and the float32 exp
@pytest.mark.parametrize("n_tasks", [3000, 8000])  # 9k cells: exact exp; 24k: the float32 exp too
def test_any_number_of_threads_gives_the_same_fit_bit_for_bit(n_tasks):
    import crowdwise.aggregate._em as em

    votes, _, _ = ds_crowd(n_tasks=n_tasks, seed=7)
    # with 8000 tasks, the 2- and 3-thread blocks fall under the float32 exp's size on
    # their own: the path is chosen on the whole array, so they must take it all the same
    assert (votes.n_tasks * votes.n_classes >= em.FAST_EXP_MIN_SIZE) == (n_tasks == 8000)
    fits = [DawidSkene(n_jobs=n, tol=1e-8, random_state=0).fit(votes) for n in (1, 2, 3, -1, None)]
    ref = fits[0]
    for ds in fits[1:]:
        np.testing.assert_array_equal(ds.probas_, ref.probas_)
        np.testing.assert_array_equal(ds.confusions_, ref.confusions_)
        np.testing.assert_array_equal(ds.labels_, ref.labels_)
        assert ds.log_likelihood_ == ref.log_likelihood_ and ds.n_iter_ == ref.n_iter_


def test_fast_exp_iterations_end_on_exact_posteriors(monkeypatch):
    import crowdwise.aggregate._em as em

    votes, truth, _ = ds_crowd(n_tasks=8000, seed=8)  # 24k posterior cells: the float32 exp runs
    assert votes.n_tasks * votes.n_classes >= em.FAST_EXP_MIN_SIZE
    calls = []
    real = em.exp_nonpositive

    def spy(x, *, fast=True, min_size=None):
        calls.append(bool(fast))
        return real(x, fast=fast, min_size=min_size)

    monkeypatch.setattr(em, "exp_nonpositive", spy)
    fast = DawidSkene(max_iter=300, tol=1e-8, random_state=0).fit(votes)  # the tightest fast tol
    assert any(calls[:-1]) and calls[-1] is False  # iterations fast, the final E-step exact
    # the final posteriors are the exact E-step of the final parameters
    np.testing.assert_allclose(fast.probas_, fast.predict_proba(votes), rtol=1e-10, atol=1e-300)
    ll = np.array(fast.log_likelihood_)
    assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:])), np.diff(ll).min()

    monkeypatch.setattr(em, "FAST_EXP_MIN_SIZE", 1 << 62)  # every exp exact
    exact = DawidSkene(max_iter=300, tol=1e-8, random_state=0).fit(votes)
    np.testing.assert_array_equal(fast.labels_, exact.labels_)
    np.testing.assert_allclose(fast.confusions_, exact.confusions_, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(fast.probas_, exact.probas_, rtol=1e-5, atol=1e-7)  # both stop within tol
    assert abs(fast.log_likelihood_[-1] - exact.log_likelihood_[-1]) <= 1e-7 * abs(exact.log_likelihood_[-1])


@pytest.mark.parametrize("prior", [0.0, 0.5])
def test_fast_log_m_steps_match_the_exact_fit(monkeypatch, prior):
    import crowdwise.aggregate._em as em

    # 2000 workers x 3 labels x K = 3: ~18k per-pair cells, so the M-step's float32 log runs
    votes, _, _ = ds_crowd(n_tasks=6000, n_workers=2000, seed=9)
    calls = []
    real = em.log_nonnegative

    def spy(x, *, fast=True, min_size=None):
        calls.append((bool(fast), x.size))
        return real(x, fast=fast, min_size=min_size)

    monkeypatch.setattr(em, "log_nonnegative", spy)
    fast = DawidSkene(max_iter=300, tol=1e-8, prior=prior, random_state=0).fit(votes)
    assert calls and calls[0][1] >= em.FAST_EXP_MIN_SIZE
    if prior > 0:  # the loop's M-steps fast; _finish recomputes the smoothed log-confusions exactly
        assert all(f for f, _ in calls[:-1]) and calls[-1][0] is False
    else:  # without smoothing _finish renormalises instead: every call is the loop's, all fast
        assert all(f for f, _ in calls)
    ll = np.array(fast.log_likelihood_)
    assert np.all(np.diff(ll) >= -1e-8 * np.abs(ll[1:])), np.diff(ll).min()
    # rows are distributions to the last digits (float32 rounding left 1.0000002 cells)
    np.testing.assert_allclose(fast.confusions_.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    assert fast.confusions_.max() <= 1.0 and fast.confusions_.min() >= 0.0
    rng = np.random.default_rng(0)
    for row in fast.confusions_.reshape(-1, votes.n_classes)[:500]:
        rng.choice(votes.n_classes, p=row)  # accepted as probabilities

    monkeypatch.setattr(em, "FAST_EXP_MIN_SIZE", 1 << 62)  # every exp and log exact
    calls.clear()
    exact = DawidSkene(max_iter=300, tol=1e-8, prior=prior, random_state=0).fit(votes)
    assert calls and not any(f for f, _ in calls)
    np.testing.assert_array_equal(fast.labels_, exact.labels_)
    # cells that EM drives to 0 slowly (1e-7 and below) differ by up to 1e-6 at this tol
    np.testing.assert_allclose(fast.confusions_, exact.confusions_, rtol=1e-4, atol=2e-6)
    np.testing.assert_allclose(fast.probas_, exact.probas_, rtol=1e-4, atol=1e-7)
    assert abs(fast.log_likelihood_[-1] - exact.log_likelihood_[-1]) <= 1e-7 * abs(exact.log_likelihood_[-1])
    # the reported posteriors are still the exact E-step of the reported confusions
    np.testing.assert_allclose(fast.probas_, fast.predict_proba(votes), rtol=1e-9, atol=1e-300)


@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # stops at max_iter on purpose
def test_a_tol_below_the_float32_rounding_runs_the_loop_exact(monkeypatch):
    import crowdwise.aggregate._em as em

    # at tol=1e-10 the float32 rounding could decide the stop test (measured: a stop 18
    # iterations early, 0.002 nats short): the loop then takes the exact exp and log
    votes, _, _ = ds_crowd(n_tasks=6000, n_workers=2000, seed=9)
    seen = []
    real_log, real_exp = em.log_nonnegative, em.exp_nonpositive
    monkeypatch.setattr(em, "log_nonnegative", lambda x, *, fast=True, min_size=None: (
        seen.append(("log", fast)), real_log(x, fast=fast, min_size=min_size))[1])
    monkeypatch.setattr(em, "exp_nonpositive", lambda x, *, fast=True, min_size=None: (
        seen.append(("exp", fast)), real_exp(x, fast=fast, min_size=min_size))[1])
    DawidSkene(max_iter=50, tol=1e-10, prior=0.5, random_state=0).fit(votes)
    assert {k for k, _ in seen} == {"log", "exp"} and not any(f for _, f in seen)
    seen.clear()
    DawidSkene(max_iter=50, tol=1e-8, prior=0.5, random_state=0).fit(votes)
    assert ("log", True) in seen and ("exp", True) in seen


@pytest.mark.parametrize("bad", [0, 1.5, "two"])
def test_n_jobs_must_be_a_thread_count(bad):
    votes, _, _ = ds_crowd(n_tasks=50)
    with pytest.raises(InputError, match="n_jobs"):
        DawidSkene(n_jobs=bad).fit(votes)


def test_confusions_without_smoothing_are_the_count_ratios():
    # prior=0 keeps only log(S / n_jk): the full confusions are rebuilt from it, including a
    # class a worker never met and a declared worker without votes (uniform rows)
    votes = Votes.from_records([0, 0, 1, 1, 2], ["a", "b", "a", "b", "a"], [0, 1, 1, 1, 0],
                               n_classes=3, worker_ids=["idle", "a", "b"])  # idle first: ids != ranks
    ds = DawidSkene()
    ds._validate(votes)
    ctx = ds._context(votes)
    T = np.array([[0.7, 0.3, 0.0], [0.1, 0.9, 0.0], [1.0, 0.0, 0.0]])
    params = ds._m_step(votes, ctx, T)
    assert params.pair_sums is None
    conf = ds._dense_confusions(votes, ctx, params)
    # by hand: counts[j, k, l] = sum of T[i, k] over j's votes l on task i
    counts = np.zeros((3, 3, 3))
    for t, w, lab in zip(votes.task, votes.worker, votes.label):
        counts[w, :, lab] += T[t]
    tot = counts.sum(axis=2, keepdims=True)
    want = np.divide(counts, tot, out=np.full_like(counts, 1 / 3), where=tot > 0)
    np.testing.assert_allclose(conf, want, rtol=1e-14, atol=1e-300)
    np.testing.assert_array_equal(conf[0], np.full((3, 3), 1 / 3))  # the idle worker
    np.testing.assert_array_equal(conf[:, 2], np.full((3, 3), 1 / 3))  # class 2: never the truth
    # but the E-step does not read that uniform row: class 2 is ruled out for every
    # answer of a and b (the rule of the sparse mode, see DawidSkene's Notes)
    assert np.all(params.log_pi[:, 2] == -np.inf) and np.isfinite(params.log_pi[:, :2]).all()


def test_initial_posteriors_by_hand():
    from crowdwise.aggregate._sparse_ds import sparse_initial_posteriors
    from crowdwise.aggregate._em import initial_posteriors

    # task 0: two votes for 0, one for 2; task 1: a 1-1 tie; task 2: no vote; class 3
    # unvoted; task 3: a 1-1-1 tie
    votes = Votes.from_records([0, 0, 0, 1, 1, 3, 3, 3], ["a", "b", "c", "a", "b", "a", "b", "c"],
                               [0, 0, 2, 1, 2, 0, 1, 3], n_classes=4, task_ids=[0, 1, 2, 3])
    np.testing.assert_array_equal(initial_posteriors(votes, "naivesoft"),
                                  [[2 / 3, 0, 1 / 3, 0], [0, 0.5, 0.5, 0], [0.25] * 4, [1 / 3, 1 / 3, 0, 1 / 3]])
    # majority vote: a tie is shared by the tied classes (1/2 each on task 1, 1/3 each on
    # task 3), not given to the smallest class index (task 1 used to start as [0, 1, 0, 0])
    mv = [[1, 0, 0, 0], [0, 0.5, 0.5, 0], [0.25] * 4, [1 / 3, 1 / 3, 0, 1 / 3]]
    np.testing.assert_array_equal(initial_posteriors(votes, "mv"), mv)
    assert "_task_label_pattern" not in votes.__dict__  # nothing left cached on the votes
    # the sparse mode starts from the same bits (nothing stored off the tied top)
    for init in ("naivesoft", "mv"):
        sp = sparse_initial_posteriors(votes.counts(), votes.n_classes, init)
        np.testing.assert_array_equal(sp.toarray(), initial_posteriors(votes, init))
    assert sparse_initial_posteriors(votes.counts(), 4, "mv").nnz == 1 + 2 + 4 + 3


@pytest.mark.parametrize("sparse_mode", [False, True])
@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # one iteration on purpose
def test_mv_start_shares_a_tie_first_em_step_by_hand(sparse_mode):
    """init='mv' on t0 (a:0, b:1, a tie), t1 (a:0, b:0), t2 (a:1, b:1): the start is
    t0 [1/2, 1/2], t1 [1, 0], t2 [0, 1]. First M-step (sums of the start over the votes):
      rho = ([1/2 + 1 + 0] / 3, [1/2 + 0 + 1] / 3) = (1/2, 1/2)
      a, true 0: t0 (1/2, said 0), t1 (1, said 0)        -> pi_a[0] = [1, 0]
      a, true 1: t0 (1/2, said 0), t2 (1, said 1)        -> pi_a[1] = [1/3, 2/3]
      b, true 0: t0 (1/2, said 1), t1 (1, said 0)        -> pi_b[0] = [2/3, 1/3]
      b, true 1: t0 (1/2, said 1), t2 (1, said 1)        -> pi_b[1] = [0, 1]
    First E-step on t0: class 0 ~ 1/2 * pi_a[0,0] * pi_b[0,1] = 1/2 * 1 * 1/3 = 1/6, class
    1 ~ 1/2 * pi_a[1,0] * pi_b[1,1] = 1/2 * 1/3 * 1 = 1/6: t0 stays [1/2, 1/2], symmetric
    in the two classes (swap the classes and the workers: the same crowd). With the old
    start (t0 -> class 0, the smallest index) pi_b[0] = [1/2, 1/2], pi_a[1] = [0, 1] and t0
    got [1, 0]: the class listed first won. t1: 1/2 * 1 * 2/3 = 1/3 against 1/2 * 1/3 * 0:
    [1, 0]; t2 likewise [0, 1]."""
    votes = Votes.from_records(["t0", "t0", "t1", "t1", "t2", "t2"], ["a", "b"] * 3, [0, 1, 0, 0, 1, 1],
                               n_classes=2)
    ds = DawidSkene(init="mv", max_iter=1, accelerate=False, tie="smallest", sparse=sparse_mode).fit(votes)
    assert ds.sparse_mode_ is sparse_mode and ds.n_iter_ == 1
    np.testing.assert_allclose(ds.priors_, [0.5, 0.5], rtol=1e-12)
    conf = ds.confusions_.toarray().reshape(2, 2, 2) if sparse_mode else ds.confusions_
    np.testing.assert_allclose(conf, [[[1, 0], [1 / 3, 2 / 3]], [[2 / 3, 1 / 3], [0, 1]]], rtol=1e-12, atol=1e-300)
    P = ds.probas_.toarray() if sparse_mode else ds.probas_
    np.testing.assert_allclose(P, [[0.5, 0.5], [1, 0], [0, 1]], rtol=1e-12, atol=1e-300)
    # a tie at convergence too: neither class is favoured by its index
    full = DawidSkene(init="mv", tie="smallest", sparse=sparse_mode).fit(votes)
    P = full.probas_.toarray() if sparse_mode else full.probas_
    np.testing.assert_allclose(P[0], [0.5, 0.5], rtol=1e-9)


@pytest.mark.parametrize("spec", ["DS", "DS[init=mv]", "FastDS", "DSWC", "DSWC[init=mv]", "WDS"])
def test_declared_tasks_without_any_vote_get_uniform_posteriors(spec):
    from crowdwise.aggregate import make_strategy

    v = Votes(task=np.zeros(0, int), worker=np.zeros(0, int), label=np.zeros(0, int),
              task_ids=np.arange(3), worker_ids=[0], classes=[0, 1])
    m = make_strategy(spec, random_state=0).fit(v)
    probas = np.asarray(m.probas_.toarray() if hasattr(m.probas_, "toarray") else m.probas_)
    np.testing.assert_array_equal(probas, np.full((3, 2), 0.5))
